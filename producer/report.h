/* report.h -- the human report of a profile, for a terminal.
 *
 * What `dagprof profile --format text` and `dagprof tail` print: a header, the
 * summary figures, a table of nodes, the critical path, a Gantt-style timeline,
 * bar charts of cost and time by node and cost by model, then bottlenecks,
 * recommendations and warnings. Durations are humanised (µs, ms, s, min, h),
 * costs shown as $0.0123; the JSON form keeps the exact figures.
 *
 * Every string that came from the trace is made safe to print: control
 * characters (ESC included, so a node id cannot drive the terminal) become '?',
 * invalid UTF-8 becomes U+FFFD, and in ascii mode anything outside ASCII
 * becomes '?'. Long names are cut with an ellipsis so columns stay aligned, and
 * long tables and charts stop after max_rows rows with "... N more". */
#ifndef DAGPROF_REPORT_H
#define DAGPROF_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "profile.h"

#define REPORT_DEFAULT_WIDTH 100
#define REPORT_MIN_WIDTH 60  /* narrower requests are widened to this */
#define REPORT_MAX_WIDTH 400 /* wider requests are narrowed to this */
#define REPORT_DEFAULT_MAX_ROWS 50

typedef struct report_options {
    int width;       /* columns; 0 = REPORT_DEFAULT_WIDTH */
    bool ascii;      /* ASCII only: '#' bars, "->", "us"; else Unicode blocks */
    bool color;      /* ANSI colours (headings, critical nodes, severities) */
    size_t max_rows; /* rows per table, timeline and chart; 0 = REPORT_DEFAULT_MAX_ROWS */
} report_options_t;

/* Defaults: 100 columns, Unicode, no colour, 50 rows. */
void report_options_init(report_options_t *options);

/* Append the report of `profile` to `out`; `options` may be NULL for the
 * defaults. Every line ends with '\n' and has no trailing spaces. Returns 0, or
 * -1 when memory ran out, in which case `out` is left as it was. */
int report_write_text(const profile_t *profile, const report_options_t *options, buf_t *out);

#endif
