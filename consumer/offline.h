/* offline.h -- `dagprof profile`: profile the traces in a file.
 *
 * Reads JSON Lines span events, an Avro container file, or OpenTelemetry
 * (OTLP/JSON or protobuf; see trace_file.h), groups the spans by
 * trace_id (a file may hold several runs), profiles each run in the order its
 * first span appeared, and writes a text report or one JSON object per line.
 * A malformed line is reported on stderr naming the line, becomes a warning of
 * every profile from the file, and the rest is still profiled. */
#ifndef DAGPROF_OFFLINE_H
#define DAGPROF_OFFLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pricing.h"
#include "profile.h"
#include "trace.h"

typedef struct offline_options {
    const pricing_t *pricing;
    profile_thresholds_t thresholds;
    bool json;           /* else the text report */
    int64_t now_us;      /* profiled_at_us */
    bool ascii;          /* text report without Unicode */
    bool color;
    size_t max_string_bytes; /* 0: the engine's default */
    const char *input_format; /* NULL or "auto": detected; "avro", "otlp_proto", "otlp_json" */
    bool html;               /* the HTML report (report_html.h); else text or json */
    size_t html_max_rows;    /* 0: REPORT_HTML_DEFAULT_MAX_ROWS */
} offline_options_t;

typedef struct offline_result {
    size_t traces;       /* profiles written */
    size_t bad_records;  /* malformed lines or records skipped */
    size_t rejected;     /* spans the engine refused (end < start, ...) */
} offline_result_t;

/* Returns 0, or -1 with errstr when the file cannot be read or holds no valid
 * span at all. `path` "-" is standard input. */
int offline_profile_file(const char *path, const offline_options_t *options, FILE *out,
                         offline_result_t *result, char *errstr, size_t errstr_size);

/* ---- Profiles of a file, one at a time (the fleet view, consumer/trends.h) */

/* Called with each profile of the file and the trace it came from; both are
 * freed after the call. A non-zero return stops reading and is returned. */
typedef int (*offline_profile_cb)(void *opaque, const profile_t *profile, const trace_t *trace);

/* Read `path` as offline_profile_file() does and hand each profile to `cb`
 * instead of writing it (options->json, ascii, color and html are not used).
 * A trace that cannot be profiled is reported on stderr and skipped. Returns
 * 0, the callback's non-zero value, or -1 with errstr when the file cannot be
 * read or holds no valid span. */
int offline_profile_each(const char *path, const offline_options_t *options,
                         offline_profile_cb cb, void *opaque, offline_result_t *result,
                         char *errstr, size_t errstr_size);

#endif
