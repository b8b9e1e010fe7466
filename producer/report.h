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

/* ---- The report's look for other texts ----------------------------------
 *
 * Other views (the fleet view, producer/trends_report.c) write with the same
 * sections, cells, bars and humanised figures, sanitised the same way, so
 * that every text dagprof prints reads alike. A writer appends to `out`;
 * failures are sticky and reported by report_writer_finish(). */
typedef struct report report_writer_t;

/* NULL when out of memory. `options` NULL: the defaults. */
report_writer_t *report_writer_new(buf_t *out, const report_options_t *options);
/* Free the writer; 0, or -1 when memory ran out on the way (`out` is then cut
 * back to where the writer started). */
int report_writer_finish(report_writer_t *w);

int report_writer_width(const report_writer_t *w);
size_t report_writer_max_rows(const report_writer_t *w);
bool report_writer_ascii(const report_writer_t *w);
void report_writer_put(report_writer_t *w, const char *text);   /* as is: no sanitising */
void report_writer_spaces(report_writer_t *w, int count);
void report_writer_newline(report_writer_t *w);                 /* trailing spaces dropped */
void report_writer_bold(report_writer_t *w, bool on);           /* with options->color */
void report_writer_section(report_writer_t *w, const char *title); /* "Title ────" */
/* `text` (sanitised) in exactly `columns` columns, cut with an ellipsis. */
void report_writer_cell(report_writer_t *w, const char *text, int columns, bool align_right);
/* Display columns of `text` once sanitised. */
int report_writer_columns(report_writer_t *w, const char *text);
/* Wrapped at the width; the first line starts at first_column, later ones at indent. */
void report_writer_wrapped(report_writer_t *w, const char *text, int first_column, int indent);
/* "  ... N more <what>" when count > max_rows. */
void report_writer_more(report_writer_t *w, size_t count, const char *what);
/* A bar chart as the report's "Cost by node": a section titled `title`, rows
 * largest first with bars scaled to the largest and each value's share of the
 * total; `empty` when no value is above 0. money: values are USD, else µs. */
int report_writer_bar_chart(report_writer_t *w, const char *title, const char *empty,
                            const char *what, bool money, const char *const *labels,
                            const double *values, size_t count);

void report_writer_duration(const report_writer_t *w, int64_t us, char *text, size_t size);
void report_format_cost(double usd, char *text, size_t size);   /* $0.0123 */
void report_format_count(int64_t value, char *text, size_t size); /* 1,234,567 */
void report_format_percent(double value, char *text, size_t size); /* 12.3% */
void report_format_time(int64_t epoch_us, char *text, size_t size); /* 2024-05-01 12:00:00 UTC */

#endif
