/* fuzz_profile.c -- libFuzzer target: the engine and every encoder of its output.
 *
 * The input is a trace as JSON Lines span events, as `dagprof profile` reads
 * it: each line is decoded with span_codec_decode_json and added to one
 * trace (a line that does not decode becomes a warning; a span of another
 * trace is rejected by the engine, as it is online). The trace is profiled
 * with the default pricing table, and the profile goes through every output
 * path: profile_json_write, report_write_text, profile_avro_encode (and each
 * recommendation record), then profile_avro_decode of that encoding.
 *
 * Besides sanitizer reports, the harness aborts when a profile breaks one of
 * the engine's invariants (tests/harness_invariants.h, on its JSON), or an
 * output breaks what its header promises: JSON write -> read -> write gives the same bytes, an Avro
 * encoding decodes back to the same profile, a report is valid UTF-8 whose
 * lines end with '\n' and carry no trailing spaces or control characters. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_checks.h"
#include "harness_invariants.h"
#include "pricing.h"
#include "pricing_file.h"
#include "profile.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "report.h"
#include "span.h"
#include "span_codec.h"
#include "trace.h"

#define PROFILED_AT_US INT64_C(1705314700000000)

/* Created once and reused like the stream processor reuses them; the process
 * exits when fuzzing ends. */
static span_codec_t *codec;
static pricing_t *pricing;
static profile_avro_t *avro;

/* ---- the target ------------------------------------------------------------ */

static bool blank(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

/* Add the spans of the JSON Lines in `data` to `trace`, as trace_file.c and
 * offline.c do: a bad line is a warning, the rest goes on. */
static void load_trace(trace_t *trace, const char *data, size_t size) {
    size_t line_number = 0;
    const char *pos = data, *end = data + size;

    while (pos < end) {
        const char *newline = memchr(pos, '\n', (size_t)(end - pos));
        size_t len = newline ? (size_t)(newline - pos) : (size_t)(end - pos);
        char err[512] = "";
        span_t span;

        line_number++;
        if (!blank(pos, len)) {
            if (span_codec_decode_json(codec, pos, len, &span, err, sizeof(err)) == 0) {
                /* The result is in the trace's warnings: that is what is fuzzed. */
                (void)trace_add_span(trace, &span, err, sizeof(err));
            } else {
                char warning[600];
                snprintf(warning, sizeof(warning), "input record %zu skipped: %s", line_number,
                         err);
                trace_add_warning(trace, warning);
            }
        }
        pos += len + (newline ? 1 : 0);
    }
}

/* Avro-C packs the fields of a generic record without alignment, so the
 * pointers to the strings a reused profile_avro_t holds between inputs sit at
 * unaligned addresses; LeakSanitizer only follows aligned pointers by default
 * and would report those strings as leaked. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) {
    return "use_unaligned=1";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[512] = "";
    (void)argc;
    (void)argv;
    codec = span_codec_new(err, sizeof(err));
    if (!codec)
        fuzz_fail("span_codec_new", err);
    pricing = pricing_file_default(err, sizeof(err));
    if (!pricing)
        fuzz_fail("pricing_file_default", err);
    avro = profile_avro_new(err, sizeof(err));
    if (!avro)
        fuzz_fail("profile_avro_new", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    profile_options_t options;
    buf_t json = BUF_INIT;

    trace_t *trace = trace_new();
    if (!trace)
        fuzz_fail("trace_new", "out of memory");
    load_trace(trace, (const char *)data, size);

    profile_options_init(&options);
    options.profiled_at_us = PROFILED_AT_US;
    profile_t *profile = profile_compute(trace, pricing, &options, err, sizeof(err));
    if (!profile) {
        /* Only a trace without a valid span may fail. */
        if (trace_span_count(trace) != 0)
            fuzz_fail("profile_compute failed on a trace with valid spans", err);
        trace_free(trace);
        return 0;
    }
    fuzz_check_json(profile, &json);
    /* every figure possible, nothing unattributed, whatever the input */
    char why[512] = "";
    if (invariants_check_json(json.data, json.len, options.clock_skew_us, why, sizeof(why)) != 0)
        fuzz_fail("profile breaks an invariant", why);
    fuzz_check_reports(profile);
    fuzz_check_avro(avro, profile, &json);

    buf_free(&json);
    profile_free(profile);
    trace_free(trace);
    return 0;
}
