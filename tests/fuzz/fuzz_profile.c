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
 * Besides sanitizer reports, the harness aborts when an output breaks what its
 * header promises: JSON write -> read -> write gives the same bytes, an Avro
 * encoding decodes back to the same profile, a report is valid UTF-8 whose
 * lines end with '\n' and carry no trailing spaces or control characters. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
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
#define CONFLUENT_HEADER_BYTES 5

/* Created once and reused like the stream processor reuses them; the process
 * exits when fuzzing ends. */
static span_codec_t *codec;
static pricing_t *pricing;
static profile_avro_t *avro;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_profile: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* ---- output checks (the same in fuzz_profile_avro.c) ---------------------- */

/* True when `text` is strict UTF-8: no overlong forms, surrogates or code points
 * past U+10FFFF. */
static bool utf8_valid(const unsigned char *text, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char lead = text[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (lead < 0x80) {
            i++;
            continue;
        }
        if (lead >= 0xc2 && lead <= 0xdf)
            need = 1;
        else if (lead >= 0xe0 && lead <= 0xef) {
            need = 2;
            if (lead == 0xe0)
                lo = 0xa0;
            else if (lead == 0xed)
                hi = 0x9f;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            need = 3;
            if (lead == 0xf0)
                lo = 0x90;
            else if (lead == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if (len - i - 1 < need)
            return false;
        if (text[i + 1] < lo || text[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (text[i + k] < 0x80 || text[i + k] > 0xbf)
                return false;
        i += need + 1;
    }
    return true;
}

static void check_json(const profile_t *profile, buf_t *json) {
    char err[512] = "";
    profile_t *back = NULL;
    buf_t again = BUF_INIT;

    if (profile_json_write(profile, json) != 0)
        fail("profile_json_write", "out of memory");
    if (!utf8_valid((const unsigned char *)json->data, json->len))
        fail("profile_json_write", "output is not valid UTF-8");
    if (memchr(json->data, '\n', json->len))
        fail("profile_json_write", "output spans more than one line");
    if (profile_json_read(json->data, json->len, &back, err, sizeof(err)) != 0)
        fail("profile_json_read of profile_json_write's output", err);
    if (profile_json_write(back, &again) != 0)
        fail("profile_json_write", "out of memory");
    if (again.len != json->len || memcmp(again.data, json->data, json->len) != 0) {
        fprintf(stderr, "first:  %s\nsecond: %s\n", json->data, again.data);
        fail("profile JSON write -> read -> write", "the bytes changed");
    }
    profile_free(back);
    buf_free(&again);
}

static void check_report(const profile_t *profile, const report_options_t *options) {
    buf_t text = BUF_INIT;
    const unsigned char *bytes;

    if (report_write_text(profile, options, &text) != 0)
        fail("report_write_text", "out of memory");
    bytes = (const unsigned char *)text.data;
    if (text.len && bytes[text.len - 1] != '\n')
        fail("report_write_text", "the last line does not end with a newline");
    if (!utf8_valid(bytes, text.len))
        fail("report_write_text", "output is not valid UTF-8");
    for (size_t i = 0; i < text.len; i++) {
        if (options->ascii && bytes[i] >= 0x80)
            fail("report_write_text", "a non-ASCII byte in ascii mode");
        /* Colour codes are the report's own; without them nothing from the
         * trace may reach the terminal as a control character. */
        if (!options->color && ((bytes[i] < 0x20 && bytes[i] != '\n') || bytes[i] == 0x7f))
            fail("report_write_text", "a control character without colour");
        if (!options->color && bytes[i] == '\n' && i > 0 && bytes[i - 1] == ' ')
            fail("report_write_text", "a line with trailing spaces");
    }
    buf_free(&text);
}

static void check_reports(const profile_t *profile) {
    report_options_t options;

    /* What `dagprof profile` prints. */
    report_options_init(&options);
    check_report(profile, &options);
    /* The other branches: ASCII, colour, narrowest layout, tables cut after
     * two rows. */
    report_options_init(&options);
    options.ascii = true;
    options.color = true;
    options.width = 1;
    options.max_rows = 2;
    check_report(profile, &options);
}

/* Encode, decode (bare and Confluent-framed) and compare through the JSON
 * form, which carries every field. */
static void check_avro(const profile_t *profile, const buf_t *json) {
    char err[512] = "";
    buf_t encoded = BUF_INIT, framed = BUF_INIT, back_json = BUF_INIT, reencoded = BUF_INIT;
    profile_t *back = NULL;
    static const char header[CONFLUENT_HEADER_BYTES] = {0, 0, 0, 0, 7};

    if (profile_avro_encode(avro, profile, &encoded, err, sizeof(err)) != 0)
        fail("profile_avro_encode", err);
    if (profile_avro_decode(avro, encoded.data, encoded.len, &back, err, sizeof(err)) != 0)
        fail("profile_avro_decode of profile_avro_encode's output", err);
    if (profile_json_write(back, &back_json) != 0)
        fail("profile_json_write", "out of memory");
    if (back_json.len != json->len || memcmp(back_json.data, json->data, json->len) != 0) {
        fprintf(stderr, "before: %s\nafter:  %s\n", json->data, back_json.data);
        fail("profile Avro encode -> decode", "the profile changed");
    }
    if (profile_avro_encode(avro, back, &reencoded, err, sizeof(err)) != 0)
        fail("profile_avro_encode of a decoded profile", err);
    if (reencoded.len != encoded.len || memcmp(reencoded.data, encoded.data, encoded.len) != 0)
        fail("profile Avro encode -> decode -> encode", "the bytes changed");
    profile_free(back);
    back = NULL;

    if (buf_append(&framed, header, sizeof(header)) != 0 ||
        buf_append(&framed, encoded.data, encoded.len) != 0)
        fail("buf_append", "out of memory");
    if (profile_avro_decode(avro, framed.data, framed.len, &back, err, sizeof(err)) != 0)
        fail("profile_avro_decode of a Confluent-framed record", err);
    buf_reset(&back_json);
    if (profile_json_write(back, &back_json) != 0)
        fail("profile_json_write", "out of memory");
    if (back_json.len != json->len || memcmp(back_json.data, json->data, json->len) != 0)
        fail("profile Avro encode -> frame -> decode", "the profile changed");
    profile_free(back);

    for (size_t i = 0; i < profile->recommendation_count; i++) {
        buf_reset(&encoded);
        if (profile_avro_encode_recommendation(avro, profile, i, &encoded, err, sizeof(err)) != 0)
            fail("profile_avro_encode_recommendation", err);
        if (encoded.len == 0)
            fail("profile_avro_encode_recommendation", "empty record");
    }
    buf_reset(&encoded);
    if (profile_avro_encode_recommendation(avro, profile, profile->recommendation_count,
                                           &encoded, err, sizeof(err)) == 0)
        fail("profile_avro_encode_recommendation", "accepted an index past the end");
    if (encoded.len != 0)
        fail("profile_avro_encode_recommendation", "wrote output on error");

    buf_free(&encoded);
    buf_free(&framed);
    buf_free(&back_json);
    buf_free(&reencoded);
}

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
        fail("span_codec_new", err);
    pricing = pricing_file_default(err, sizeof(err));
    if (!pricing)
        fail("pricing_file_default", err);
    avro = profile_avro_new(err, sizeof(err));
    if (!avro)
        fail("profile_avro_new", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    profile_options_t options;
    buf_t json = BUF_INIT;

    trace_t *trace = trace_new();
    if (!trace)
        fail("trace_new", "out of memory");
    load_trace(trace, (const char *)data, size);

    profile_options_init(&options);
    options.profiled_at_us = PROFILED_AT_US;
    profile_t *profile = profile_compute(trace, pricing, &options, err, sizeof(err));
    if (!profile) {
        /* Only a trace without a valid span may fail. */
        if (trace_span_count(trace) != 0)
            fail("profile_compute failed on a trace with valid spans", err);
        trace_free(trace);
        return 0;
    }
    check_json(profile, &json);
    check_reports(profile);
    check_avro(profile, &json);

    buf_free(&json);
    profile_free(profile);
    trace_free(trace);
    return 0;
}
