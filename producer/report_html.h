/* report_html.h -- the visual report of a profile: one self-contained HTML page.
 *
 * What `dagprof profile --format html` and `dagprof tail --format html` write:
 * the summary figures, a Gantt timeline (blocked / queued / exec segments,
 * retries as separate bars when the trace is at hand, slack as whiskers, the
 * critical path marked), the dependency DAG in longest-path layers, cost and
 * tokens by node and by model as bars, bottlenecks, recommendations and
 * warnings. Inline SVG and CSS only: no script, no font, no request, so the
 * file opens anywhere and hover details are SVG <title> tooltips.
 *
 * Every string from the trace is escaped for HTML text and attributes (which
 * also covers SVG inside HTML), controls and ill-formed UTF-8 become U+FFFD,
 * and labels are cut by display width (wide East Asian characters and emoji
 * count two). Large profiles stay small: the timeline, the DAG and the charts
 * show at most max_rows nodes (critical-path nodes first, then the longest),
 * the rest is one aggregated row; lists stop after max_rows entries. The page
 * is at most REPORT_HTML_BOUND(max_rows) bytes whatever the trace holds. */
#ifndef DAGPROF_REPORT_HTML_H
#define DAGPROF_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "profile.h"
#include "trace.h"

#define REPORT_HTML_DEFAULT_MAX_ROWS 200
#define REPORT_HTML_MAX_ROWS_LIMIT 5000 /* larger requests are lowered to this */
#define REPORT_HTML_LABEL_COLUMNS 28    /* display columns of a node label */
#define REPORT_HTML_TEXT_BYTES 512      /* longest trace string written in full (tooltips, texts) */

/* Upper bound of the page's size in bytes for `rows` shown rows: a fixed part
 * (style, summary, headings) and a part per row. Every list (nodes, models,
 * bottlenecks, recommendations, warnings) shows at most `rows` entries, each
 * trace string at most REPORT_HTML_TEXT_BYTES of input (6 bytes each once
 * escaped), labels 28 columns, 20 node ids per recommendation, 20 retry bars
 * per node, 4 edges per row besides the critical ones. The worst page
 * test_report_html builds (ids of 4,000 quotes, 100k findings of 4 KB) takes
 * 20 KB a row; an ordinary page about 1.2 KB a row. */
#define REPORT_HTML_BOUND(rows) ((size_t)65536 + (size_t)(rows) * 32768)

typedef struct report_html_options {
    size_t max_rows;      /* nodes shown; 0 = REPORT_HTML_DEFAULT_MAX_ROWS */
    const trace_t *trace; /* the profiled trace, or NULL: retries then show as a count */
} report_html_options_t;

/* Defaults: 200 rows, no trace. */
void report_html_options_init(report_html_options_t *options);

/* Append the page of `profile` to `out`; `options` may be NULL for the
 * defaults. Returns 0, or -1 when memory ran out, `out` then left as it was. */
int report_write_html(const profile_t *profile, const report_html_options_t *options, buf_t *out);

/* Append `text` escaped for HTML text and quoted attribute values (& < > " '),
 * with controls (tab, newline excepted) and ill-formed UTF-8 as U+FFFD, at
 * most `max_bytes` bytes of the input (0 = all), cut on a character boundary
 * with "…" when cut. 0, or -1 when out of memory. */
int report_html_escape(buf_t *out, const char *text, size_t max_bytes);

/* As report_html_escape, but cut to at most `max_columns` display columns
 * (an ellipsis included when cut). */
int report_html_label(buf_t *out, const char *text, int max_columns);

/* Which nodes a page shows: fills `shown` (profile->node_count entries) with
 * true for at most max_rows nodes (critical-path nodes first, then by exec
 * time, longest first, ties by node id) and returns how many. When the
 * critical path alone is longer than max_rows, its first max_rows nodes. */
size_t report_html_select(const profile_t *profile, size_t max_rows, bool *shown);

#endif
