/* report.c -- the human report of a profile. See report.h.
 *
 * The report is written line by line into the caller's buffer. Text from the
 * trace goes through sanitize() before it is measured or printed, and every
 * column is padded by display width (code points, wide East Asian characters
 * counting two), so tables line up whatever the node ids hold. */
#include "report.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"
#define ANSI_RED "\033[31m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_CYAN "\033[36m"

/* A node id column narrower than this (or than the longest id) hides
 * optional table columns instead. */
#define NAME_MIN_COLUMNS 12

/* Columns of the node table after the node id. */
enum { COL_START, COL_EXEC, COL_BLOCKED, COL_QUEUED, COL_SLACK, COL_CRITICAL, COL_STATUS,
       COL_RETRIES, COL_TOKENS, COL_COST, COL_COUNT };

typedef struct report {
    const profile_t *profile;
    buf_t *out;
    size_t line_start; /* offset in out of the line being written */
    int failed;        /* sticky: set by the first failed append */
    int width;
    bool ascii;
    bool color;
    size_t max_rows;
    buf_t scratch; /* sanitised text of the cell being written */
    const profile_node_t **by_start; /* nodes in timeline order */
    struct chart_row *rows;          /* the bar chart being drawn */
    int node_columns;                /* width of the node id column */
    bool column_hidden[COL_COUNT];   /* node table columns left out to fit the width */
    size_t start_len;                /* a writer's (report.h): where a failure cuts back to */
} report_t;

/* ---------------------------------------------------------------- output */

static void put_raw(report_t *r, const char *text, size_t len) {
    if (!r->failed && buf_append(r->out, text, len) != 0)
        r->failed = 1;
}

static void put(report_t *r, const char *text) {
    put_raw(r, text, strlen(text));
}

static void putf(report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(report_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!r->failed && buf_vprintf(r->out, fmt, ap) != 0)
        r->failed = 1;
    va_end(ap);
}

static void put_repeat(report_t *r, const char *text, int count) {
    for (int i = 0; i < count; i++)
        put(r, text);
}

static void spaces(report_t *r, int count) {
    put_repeat(r, " ", count);
}

/* End the line, dropping the spaces that padding left at its end. */
static void newline(report_t *r) {
    if (r->failed)
        return;
    while (r->out->len > r->line_start && r->out->data[r->out->len - 1] == ' ')
        r->out->len--;
    put(r, "\n");
    r->line_start = r->out->len;
}

static void style(report_t *r, const char *ansi) {
    if (r->color)
        put(r, ansi);
}

/* ---------------------------------------------------------------- text */

/* Columns a code point takes in a terminal (utf8.h), not one per code point. */
static int codepoint_columns(uint32_t cp) {
    return utf8_columns(cp);
}

/* Append `text` to `dst` made safe for a terminal: tabs and line breaks become
 * spaces, other C0/C1 controls and DEL become '?', ill-formed UTF-8 becomes
 * U+FFFD, and in ascii mode every non-ASCII character becomes '?'. */
static void sanitize(report_t *r, const char *text, buf_t *dst) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");

    while (*s && !r->failed) {
        size_t bad_len = 1;
        size_t n = utf8_sequence(s, SIZE_MAX, &bad_len);
        int rc;
        if (n == 0) {
            rc = r->ascii ? buf_putc(dst, '?') : buf_puts(dst, "\xEF\xBF\xBD");
            s += bad_len;
            if (rc != 0)
                r->failed = 1;
            continue;
        }
        uint32_t cp = utf8_decode(s, n);
        if (cp == '\t' || cp == '\n' || cp == '\r')
            rc = buf_putc(dst, ' ');
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (r->ascii && cp >= 0x80))
            rc = buf_putc(dst, '?');
        else
            rc = buf_append(dst, s, n);
        s += n;
        if (rc != 0)
            r->failed = 1;
    }
}

/* Display columns of sanitised text. */
static int text_columns(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    int columns = 0;
    size_t i = 0;
    while (i < len) {
        size_t bad_len = 1;
        size_t n = utf8_sequence(s + i, len - i, &bad_len);
        if (n == 0)
            n = bad_len; /* cannot happen after sanitize(); be safe anyway */
        columns += codepoint_columns(utf8_decode(s + i, n));
        i += n;
    }
    return columns;
}

static int string_columns(report_t *r, const char *text) {
    buf_reset(&r->scratch);
    sanitize(r, text, &r->scratch);
    return r->failed ? 0 : text_columns(r->scratch.data ? r->scratch.data : "", r->scratch.len);
}

/* Write `text` in exactly `columns` columns: sanitised, cut with an ellipsis
 * when too long, padded on the left (align_right) or the right. */
static void put_cell(report_t *r, const char *text, int columns, bool align_right) {
    const char *ellipsis = r->ascii ? "~" : "\xE2\x80\xA6";
    int used = string_columns(r, text);

    if (r->failed || columns < 1)
        return;
    const char *s = r->scratch.data ? r->scratch.data : "";
    if (used <= columns) {
        if (align_right)
            spaces(r, columns - used);
        put_raw(r, s, r->scratch.len);
        if (!align_right)
            spaces(r, columns - used);
        return;
    }
    /* Keep whole characters that fit before the ellipsis. */
    int kept = 0;
    size_t i = 0;
    while (i < r->scratch.len) {
        size_t bad_len = 1;
        size_t n = utf8_sequence((const unsigned char *)s + i, r->scratch.len - i, &bad_len);
        if (n == 0)
            n = bad_len;
        int w = codepoint_columns(utf8_decode((const unsigned char *)s + i, n));
        if (kept + w > columns - 1)
            break;
        kept += w;
        i += n;
    }
    put_raw(r, s, i);
    put(r, ellipsis);
    spaces(r, columns - 1 - kept);
}

/* Write `text` wrapped at the report width; the first line continues the
 * current one at column `first_column`, later lines start at `indent`. */
static void put_wrapped(report_t *r, const char *text, int first_column, int indent) {
    int column = first_column;
    int line_columns = r->width;
    bool line_empty = true;

    buf_reset(&r->scratch);
    sanitize(r, text, &r->scratch);
    if (r->failed || !r->scratch.data)
        return;
    /* Only put_cell() and string_columns() reuse the scratch buffer, and
     * neither is called below. */
    const unsigned char *s = (const unsigned char *)r->scratch.data;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        const unsigned char *word = s;
        int word_columns = 0;
        while (*s && *s != ' ') {
            size_t bad_len = 1;
            size_t n = utf8_sequence(s, SIZE_MAX, &bad_len);
            if (n == 0)
                n = bad_len;
            word_columns += codepoint_columns(utf8_decode(s, n));
            s += n;
        }
        int gap = line_empty ? 0 : 1;
        if (!line_empty && column + gap + word_columns > line_columns) {
            newline(r);
            spaces(r, indent);
            column = indent;
            gap = 0;
        }
        spaces(r, gap);
        column += gap;
        /* A word longer than a whole line is broken where the line ends. */
        const unsigned char *p = word;
        while (p < s) {
            size_t bad_len = 1;
            size_t n = utf8_sequence(p, SIZE_MAX, &bad_len);
            if (n == 0)
                n = bad_len;
            int w = codepoint_columns(utf8_decode(p, n));
            if (column + w > line_columns && column > indent) {
                newline(r);
                spaces(r, indent);
                column = indent;
            }
            put_raw(r, (const char *)p, n);
            column += w;
            p += n;
        }
        line_empty = false;
    }
}

/* ---------------------------------------------------------------- numbers */

static uint64_t magnitude(int64_t value) {
    return value < 0 ? (uint64_t)(-(value + 1)) + 1 : (uint64_t)value;
}

/* 0, 850 µs, 12.3 ms, 4.5 s, 2.5 min, 1.2 h. The unit is chosen after
 * rounding, so 999.96 ms reads 1.0 s rather than 1000.0 ms. */
static void format_duration(const report_t *r, int64_t us, char *text, size_t size) {
    const char *sign = us < 0 ? "-" : "";
    uint64_t mag = magnitude(us);
    double value = (double)mag;

    if (mag == 0)
        snprintf(text, size, "0");
    else if (mag < 1000)
        snprintf(text, size, "%s%" PRIu64 " %s", sign, mag, r->ascii ? "us" : "\xC2\xB5s");
    else if (mag < 999950)
        snprintf(text, size, "%s%.1f ms", sign, value / 1e3);
    else if (mag < 59950000)
        snprintf(text, size, "%s%.1f s", sign, value / 1e6);
    else if (mag < 3597000000)
        snprintf(text, size, "%s%.1f min", sign, value / 6e7);
    else
        snprintf(text, size, "%s%.1f h", sign, value / 3.6e9);
}

static void format_cost(double usd, char *text, size_t size) {
    if (!isfinite(usd))
        usd = 0;
    if (usd < 0)
        snprintf(text, size, "-$%.4f", -usd);
    else
        snprintf(text, size, "$%.4f", usd);
}

/* 1,234,567 */
static void format_count(int64_t value, char *text, size_t size) {
    char digits[32];
    char grouped[48];
    size_t n = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, magnitude(value));
    size_t out = 0;

    if (value < 0)
        grouped[out++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            grouped[out++] = ',';
        grouped[out++] = digits[i];
    }
    grouped[out] = '\0';
    snprintf(text, size, "%s", grouped);
}

/* 9,999 exact, then 12.3k, 4.5M, 1.2G: fits the 7-column tokens cell. */
static void format_count_short(int64_t value, char *text, size_t size) {
    uint64_t mag = magnitude(value);
    const char *sign = value < 0 ? "-" : "";

    if (mag < 10000)
        format_count(value, text, size);
    else if (mag < 999950)
        snprintf(text, size, "%s%.1fk", sign, (double)mag / 1e3);
    else if (mag < 999950000)
        snprintf(text, size, "%s%.1fM", sign, (double)mag / 1e6);
    else
        snprintf(text, size, "%s%.1fG", sign, (double)mag / 1e9);
}

static void format_percent(double value, char *text, size_t size) {
    snprintf(text, size, "%.1f%%", isfinite(value) ? value : 0.0);
}

/* 2024-05-01 12:00:00 UTC */
static void format_time(int64_t epoch_us, char *text, size_t size) {
    time_t seconds = (time_t)(epoch_us / 1000000);
    struct tm tm;
    if (epoch_us < 0 || !gmtime_r(&seconds, &tm) ||
        strftime(text, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(text, size, "%" PRId64 " us", epoch_us);
}

/* ---------------------------------------------------------------- sections */

static void section(report_t *r, const char *title) {
    newline(r);
    style(r, ANSI_BOLD);
    put(r, title);
    style(r, ANSI_RESET);
    put(r, " ");
    put_repeat(r, r->ascii ? "-" : "\xE2\x94\x80", r->width - (int)strlen(title) - 1);
    newline(r);
}

/* Text from the trace on a line of its own making, cut at half the width. */
static void put_text(report_t *r, const char *text) {
    int columns = string_columns(r, text);
    put_cell(r, text, columns < r->width / 2 ? columns : r->width / 2, false);
}

static void header(report_t *r) {
    const profile_t *p = r->profile;
    const char *separator = r->ascii ? " | " : " \xC2\xB7 ";
    char when[64];
    buf_t line = BUF_INIT;
    int rc = 0;

    style(r, ANSI_BOLD);
    put(r, "DAG ");
    put_text(r, p->dag_id ? p->dag_id : "unknown");
    style(r, ANSI_RESET);
    newline(r);

    rc |= buf_puts(&line, "trace ");
    rc |= buf_puts(&line, p->trace_id ? p->trace_id : "unknown");
    rc |= buf_printf(&line, "%srevision %" PRId64 "%s%s", separator, p->revision, separator,
                     p->complete ? "complete"
                                 : "incomplete: no run span arrived, profiled after the idle "
                                   "timeout, late spans may be missing");
    if (rc != 0)
        r->failed = 1;
    if (!r->failed)
        put_wrapped(r, line.data, 0, 0);
    newline(r);

    buf_reset(&line);
    format_time(p->summary.run_start_us, when, sizeof(when));
    rc |= buf_printf(&line, "run started %s", when);
    format_time(p->profiled_at_us, when, sizeof(when));
    rc |= buf_printf(&line, "%sprofiled %s", separator, when);
    if (rc != 0)
        r->failed = 1;
    if (!r->failed)
        put_wrapped(r, line.data, 0, 0);
    newline(r);
    buf_free(&line);
}

#define SUMMARY_LABEL_COLUMNS 21
#define SUMMARY_VALUE_COLUMNS 15
#define SUMMARY_NOTE_COLUMN (2 + SUMMARY_LABEL_COLUMNS + SUMMARY_VALUE_COLUMNS)

/* One "label  value  note" line of the summary; the note wraps under itself. */
static void summary_line(report_t *r, const char *label, const char *value, const char *note) {
    spaces(r, 2);
    put_cell(r, label, SUMMARY_LABEL_COLUMNS, false);
    put_cell(r, value, SUMMARY_VALUE_COLUMNS - 1, false);
    if (note && *note) {
        spaces(r, 1);
        put_wrapped(r, note, SUMMARY_NOTE_COLUMN, SUMMARY_NOTE_COLUMN);
    }
    newline(r);
}

static void summary(report_t *r) {
    const profile_summary_t *s = &r->profile->summary;
    char value[64], note[256], a[32], b[32], c[32], d[32], e[32];

    section(r, "Summary");
    format_duration(r, s->wall_us, value, sizeof(value));
    summary_line(r, "wall time", value, "run start to run end");
    format_duration(r, s->work_us, value, sizeof(value));
    summary_line(r, "work", value, "sum of node execution times");
    format_duration(r, s->ideal_wall_us, value, sizeof(value));
    summary_line(r, "ideal wall time", value,
                 "longest dependency path (unlimited workers, no delay)");
    format_duration(r, s->critical_path_us, value, sizeof(value));
    snprintf(note, sizeof(note), "%zu node%s on the observed critical path",
             r->profile->critical_path_count, r->profile->critical_path_count == 1 ? "" : "s");
    summary_line(r, "critical path", value, note);
    snprintf(value, sizeof(value), "%.2f", isfinite(s->parallelism) ? s->parallelism : 0.0);
    summary_line(r, "parallelism", value, "average number of nodes running");
    format_percent(s->schedule_efficiency * 100.0, value, sizeof(value));
    summary_line(r, "schedule efficiency", value, "ideal wall time / wall time");
    snprintf(value, sizeof(value), "%" PRId64, s->node_count);
    summary_line(r, "nodes", value, NULL);
    snprintf(value, sizeof(value), "%" PRId64, s->span_count);
    summary_line(r, "spans", value, NULL);
    summary_line(r, "edges", profile_edges_name(s->edges),
                 s->edges == PROFILE_EDGES_INFERRED ? "none declared: inferred from timing"
                                                    : "from depends_on");
    format_count(s->tokens.total, value, sizeof(value));
    format_count(s->tokens.input, a, sizeof(a));
    format_count(s->tokens.cache_read, b, sizeof(b));
    format_count(s->tokens.cache_write, c, sizeof(c));
    format_count(s->tokens.output, d, sizeof(d));
    format_count(s->tokens.reasoning, e, sizeof(e));
    snprintf(note, sizeof(note),
             "input %s (cache read %s, cache write %s), output %s (reasoning %s)", a, b, c, d,
             e);
    summary_line(r, "tokens", value, note);
    format_cost(s->cost_usd, value, sizeof(value));
    summary_line(r, "cost", value, NULL);
    if (s->outside_calls > 0) {
        /* what no node accounts for, so the node rows add up to the totals */
        format_cost(s->outside_cost_usd, value, sizeof(value));
        format_count(s->outside_tokens.total, a, sizeof(a));
        snprintf(note, sizeof(note), "%" PRId64 " llm call%s of no node, %s tokens",
                 s->outside_calls, s->outside_calls == 1 ? "" : "s", a);
        summary_line(r, "outside any node", value, note);
    }
    if (s->unpriced_model_count > 0) {
        buf_t models = BUF_INIT;
        int rc = 0;
        for (size_t i = 0; i < s->unpriced_model_count && rc == 0; i++) {
            if (i)
                rc |= buf_puts(&models, ", ");
            if (i == r->max_rows) {
                rc |= buf_printf(&models, "... %zu more", s->unpriced_model_count - i);
                break;
            }
            rc |= buf_puts(&models, s->unpriced_models[i] ? s->unpriced_models[i] : "?");
        }
        rc |= buf_puts(&models, " (not in the pricing table: counted as $0)");
        if (rc != 0)
            r->failed = 1;
        spaces(r, 2);
        put_cell(r, "unpriced models", SUMMARY_LABEL_COLUMNS, false);
        if (!r->failed)
            put_wrapped(r, models.data, 2 + SUMMARY_LABEL_COLUMNS, 2 + SUMMARY_LABEL_COLUMNS);
        newline(r);
        buf_free(&models);
    }
}

static int compare_by_start(const void *a, const void *b) {
    const profile_node_t *x = *(const profile_node_t *const *)a;
    const profile_node_t *y = *(const profile_node_t *const *)b;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    return strcmp(x->node_id ? x->node_id : "", y->node_id ? y->node_id : "");
}

static size_t shown_rows(const report_t *r, size_t count) {
    return count < r->max_rows ? count : r->max_rows;
}

/* "... 3 more nodes" under a list cut at max_rows; `what` is the plural. */
static void more_rows(report_t *r, size_t count, const char *what) {
    if (count <= r->max_rows)
        return;
    size_t more = count - r->max_rows;
    if (more == 1)
        putf(r, "  ... 1 more %.*s", (int)strlen(what) - 1, what);
    else
        putf(r, "  ... %zu more %s", more, what);
    newline(r);
}

/* The node table's columns after the node id, in COL_* order; each has one
 * space before it. On a narrow terminal optional columns are hidden, lowest
 * `hide_order` first (0: always shown). */
static const struct {
    const char *title;
    int columns;
    int hide_order;
} node_table_columns[COL_COUNT] = {
    {"start", 9, 6}, {"exec", 8, 0},   {"blocked", 8, 4}, {"queued", 8, 2}, {"slack", 8, 3},
    {"", 1, 0},      {"status", 6, 0}, {"retry", 5, 1},   {"tokens", 7, 5}, {"cost", 9, 0}};

static void table_cell(report_t *r, int column, const char *text) {
    if (r->column_hidden[column])
        return;
    spaces(r, 1);
    put_cell(r, text, node_table_columns[column].columns, true);
}

static void node_table(report_t *r) {
    const profile_t *p = r->profile;
    char text[64];

    snprintf(text, sizeof(text), "Nodes (%zu)", p->node_count);
    section(r, text);
    if (p->node_count == 0) {
        put(r, "  no nodes");
        newline(r);
        return;
    }
    spaces(r, 2);
    put_cell(r, "node", r->node_columns, false);
    for (int c = 0; c < COL_COUNT; c++)
        table_cell(r, c, node_table_columns[c].title);
    newline(r);
    for (size_t i = 0; i < shown_rows(r, p->node_count); i++) {
        const profile_node_t *node = r->by_start[i];
        spaces(r, 2);
        put_cell(r, node->node_id, r->node_columns, false);
        format_duration(r, node->start_us - p->summary.run_start_us, text, sizeof(text));
        table_cell(r, COL_START, text);
        format_duration(r, node->exec_us, text, sizeof(text));
        table_cell(r, COL_EXEC, text);
        format_duration(r, node->blocked_us, text, sizeof(text));
        table_cell(r, COL_BLOCKED, text);
        format_duration(r, node->queued_us, text, sizeof(text));
        table_cell(r, COL_QUEUED, text);
        format_duration(r, node->slack_us, text, sizeof(text));
        table_cell(r, COL_SLACK, text);
        spaces(r, 1);
        if (node->on_critical_path) {
            style(r, ANSI_RED);
            put(r, "*");
            style(r, ANSI_RESET);
        } else {
            spaces(r, 1);
        }
        spaces(r, 1);
        if (node->status == SPAN_STATUS_ERROR)
            style(r, ANSI_RED);
        put_cell(r, span_status_name(node->status), node_table_columns[COL_STATUS].columns,
                 true);
        if (node->status == SPAN_STATUS_ERROR)
            style(r, ANSI_RESET);
        snprintf(text, sizeof(text), "%" PRId32, node->retries);
        table_cell(r, COL_RETRIES, text);
        format_count_short(node->tokens.total, text, sizeof(text));
        table_cell(r, COL_TOKENS, text);
        format_cost(node->cost_usd, text, sizeof(text));
        table_cell(r, COL_COST, text);
        newline(r);
    }
    more_rows(r, p->node_count, "nodes");
    buf_t legend = BUF_INIT;
    int rc = buf_puts(&legend,
                      "* on the critical path. start: offset from the run start; blocked: "
                      "waiting on inputs (ready = run start + blocked); queued: inputs ready "
                      "but not started; slack: delay possible without lengthening the ideal "
                      "wall time.");
    const char *separator = " Hidden to fit the width: ";
    for (int c = 0; c < COL_COUNT && rc == 0; c++) {
        if (r->column_hidden[c]) {
            rc |= buf_puts(&legend, separator);
            rc |= buf_puts(&legend, node_table_columns[c].title);
            separator = ", ";
        }
    }
    if (rc != 0)
        r->failed = 1;
    spaces(r, 2);
    if (!r->failed)
        put_wrapped(r, legend.data, 2, 2);
    newline(r);
    buf_free(&legend);
}

static void critical_path(report_t *r) {
    const profile_t *p = r->profile;
    const char *arrow = r->ascii ? " -> " : " \xE2\x86\x92 ";
    size_t count = p->critical_path_count;
    char text[64], more[96];

    section(r, "Critical path");
    if (count == 0) {
        put(r, "  none");
        newline(r);
        return;
    }
    /* A long path keeps its first nodes and its last one. */
    size_t head = count <= r->max_rows ? count : r->max_rows - 1;
    buf_t path = BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < head && rc == 0; i++) {
        if (i)
            rc |= buf_puts(&path, arrow);
        rc |= buf_puts(&path, p->critical_path[i] ? p->critical_path[i] : "?");
    }
    if (head < count) {
        snprintf(more, sizeof(more), "%s(%zu more)%s", head ? arrow : "", count - head - 1,
                 arrow);
        rc |= buf_puts(&path, more);
        rc |= buf_puts(&path, p->critical_path[count - 1] ? p->critical_path[count - 1] : "?");
    }
    format_duration(r, p->summary.critical_path_us, text, sizeof(text));
    snprintf(more, sizeof(more), " (%s)", text);
    rc |= buf_puts(&path, more);
    if (rc != 0)
        r->failed = 1;
    spaces(r, 2);
    if (!r->failed)
        put_wrapped(r, path.data, 2, 4);
    newline(r);
    buf_free(&path);
}

/* A decoded profile may hold any int64: time arithmetic saturates instead of
 * overflowing. */
static int64_t sat_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* The column of time `t` on a timeline of `columns` cells over [origin, origin + extent). */
static int timeline_column(int64_t t, int64_t origin, int64_t extent, int columns) {
    if (t <= origin)
        return 0;
    double column = ((double)t - (double)origin) * columns / (double)extent;
    return column >= columns ? columns : (int)column;
}

static void timeline(report_t *r) {
    const profile_t *p = r->profile;
    const char *critical_cell = r->ascii ? "#" : "\xE2\x96\x88";
    const char *other_cell = r->ascii ? "=" : "\xE2\x96\x92";
    const char *queued_cell = r->ascii ? "." : "\xC2\xB7";
    int name = r->node_columns;
    int columns = r->width - 2 - name - 3;
    char text[128];

    section(r, "Timeline");
    if (p->node_count == 0) {
        put(r, "  no nodes");
        newline(r);
        return;
    }
    /* Span the run and every node, so bad timestamps still fit on the chart. */
    int64_t origin = p->summary.run_start_us;
    int64_t finish = sat_add(p->summary.run_start_us, p->summary.wall_us > 0 ? p->summary.wall_us : 0);
    for (size_t i = 0; i < p->node_count; i++) {
        if (p->nodes[i].start_us < origin)
            origin = p->nodes[i].start_us;
        if (p->nodes[i].end_us > finish)
            finish = p->nodes[i].end_us;
    }
    int64_t extent = finish > origin ? sat_sub(finish, origin) : 1;

    spaces(r, 2 + name + 3);
    format_duration(r, sat_sub(origin, p->summary.run_start_us), text, sizeof(text));
    put(r, text);
    int used = string_columns(r, text);
    format_duration(r, sat_sub(finish, p->summary.run_start_us), text, sizeof(text));
    int right = string_columns(r, text);
    spaces(r, columns - used - right);
    put(r, text);
    newline(r);

    for (size_t i = 0; i < shown_rows(r, p->node_count); i++) {
        const profile_node_t *node = r->by_start[i];
        int from = timeline_column(node->start_us, origin, extent, columns);
        int to = timeline_column(node->end_us, origin, extent, columns);
        int ready = timeline_column(node->ready_us, origin, extent, columns);
        /* Every node gets at least one cell, even an instant one at the end. */
        if (from >= columns)
            from = columns - 1;
        if (to <= from)
            to = from + 1;
        if (ready > from || node->queued_us <= 0)
            ready = from;

        spaces(r, 2);
        put_cell(r, node->node_id, name, false);
        put(r, node->on_critical_path ? " * " : "   ");
        spaces(r, ready);
        put_repeat(r, queued_cell, from - ready);
        style(r, node->on_critical_path ? ANSI_RED : ANSI_CYAN);
        put_repeat(r, node->on_critical_path ? critical_cell : other_cell, to - from);
        style(r, ANSI_RESET);
        newline(r);
    }
    more_rows(r, p->node_count, "nodes");
    snprintf(text, sizeof(text), "%s critical path, %s other nodes, %s%s%s queued (inputs "
             "ready, not started)", critical_cell, other_cell, queued_cell, queued_cell,
             queued_cell);
    spaces(r, 2);
    put_wrapped(r, text, 2, 2);
    newline(r);
}

/* ---------------------------------------------------------------- bar charts */

typedef struct chart_row {
    const char *label;
    double value; /* > 0 */
} chart_row_t;

typedef struct chart {
    const char *title;
    const char *empty; /* printed when no value is above 0 */
    const char *what;  /* "nodes", "models": for the "... N more" line */
    bool money;        /* values are USD, else microseconds */
} chart_t;

static int compare_chart_rows(const void *a, const void *b) {
    const chart_row_t *x = a, *y = b;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return strcmp(x->label ? x->label : "", y->label ? y->label : "");
}

/* Add a row when `value` is worth drawing (above 0, finite). */
static void chart_add(report_t *r, size_t *count, const char *label, double value) {
    if (isfinite(value) && value > 0) {
        r->rows[*count].label = label;
        r->rows[*count].value = value;
        (*count)++;
    }
}

static void format_chart_value(const report_t *r, const chart_t *chart, double value,
                               char *text, size_t size) {
    if (chart->money)
        format_cost(value, text, size);
    else /* (double)INT64_MAX rounds up to 2^63, past what int64 holds */
        format_duration(r, value >= 9.2e18 ? INT64_MAX : value <= -9.2e18 ? INT64_MIN : (int64_t)value,
                        text, size);
}

/* A horizontal bar of value/max of `columns` cells, in eighths of a cell
 * with Unicode blocks. A value above 0 always shows. */
static void put_bar(report_t *r, double value, double max, int columns) {
    static const char *const eighths[] = {"", "\xE2\x96\x8F", "\xE2\x96\x8E", "\xE2\x96\x8D",
                                          "\xE2\x96\x8C", "\xE2\x96\x8B", "\xE2\x96\x8A",
                                          "\xE2\x96\x89"};
    int used;

    style(r, ANSI_CYAN);
    if (r->ascii) {
        used = (int)lround(value / max * columns);
        if (used < 1)
            used = 1;
        put_repeat(r, "#", used);
    } else {
        long units = lround(value / max * columns * 8);
        if (units < 1)
            units = 1;
        put_repeat(r, "\xE2\x96\x88", (int)(units / 8));
        put(r, eighths[units % 8]);
        used = (int)((units + 7) / 8);
    }
    style(r, ANSI_RESET);
    spaces(r, columns - used);
}

/* Draw the `count` rows in r->rows, largest first, bars scaled to the largest. */
static void bar_chart(report_t *r, const chart_t *chart, size_t count) {
    char text[64];
    double total = 0;

    section(r, chart->title);
    if (count == 0) {
        putf(r, "  %s", chart->empty);
        newline(r);
        return;
    }
    qsort(r->rows, count, sizeof(*r->rows), compare_chart_rows);
    for (size_t i = 0; i < count; i++)
        total += r->rows[i].value;

    size_t shown = shown_rows(r, count);
    int label = 4;
    int value_columns = 1;
    for (size_t i = 0; i < shown; i++) {
        int w = string_columns(r, r->rows[i].label);
        if (w > label)
            label = w;
        format_chart_value(r, chart, r->rows[i].value, text, sizeof(text));
        w = string_columns(r, text);
        if (w > value_columns)
            value_columns = w;
    }
    if (label > r->width / 3)
        label = r->width / 3;
    /* "  label bar value (100.0%)" */
    int bar = r->width - 2 - label - 1 - 1 - value_columns - 1 - 8;
    if (bar < 1)
        bar = 1;

    for (size_t i = 0; i < shown; i++) {
        const chart_row_t *row = &r->rows[i];
        spaces(r, 2);
        put_cell(r, row->label, label, false);
        spaces(r, 1);
        put_bar(r, row->value, r->rows[0].value, bar);
        spaces(r, 1);
        format_chart_value(r, chart, row->value, text, sizeof(text));
        put_cell(r, text, value_columns, true);
        spaces(r, 1);
        snprintf(text, sizeof(text), "(%.1f%%)", row->value / total * 100.0);
        put_cell(r, text, 8, true);
        newline(r);
    }
    more_rows(r, count, chart->what);
}

static void charts(report_t *r) {
    const profile_t *p = r->profile;
    static const chart_t cost_by_node = {"Cost by node", "no cost recorded", "nodes", true};
    static const chart_t time_by_node = {"Time by node (exec)", "no execution time recorded",
                                         "nodes", false};
    static const chart_t cost_by_model = {"Cost by model", "no cost recorded", "models", true};
    size_t count = 0;

    for (size_t i = 0; i < p->node_count; i++)
        chart_add(r, &count, p->nodes[i].node_id, p->nodes[i].cost_usd);
    bar_chart(r, &cost_by_node, count);
    count = 0;
    for (size_t i = 0; i < p->node_count; i++)
        chart_add(r, &count, p->nodes[i].node_id, (double)p->nodes[i].exec_us);
    bar_chart(r, &time_by_node, count);
    count = 0;
    for (size_t i = 0; i < p->model_count; i++)
        chart_add(r, &count, p->by_model[i].model, p->by_model[i].cost_usd);
    bar_chart(r, &cost_by_model, count);
}

/* ---------------------------------------------------------------- findings */

static const char *level_style(profile_level_t level) {
    if (level == PROFILE_LEVEL_HIGH)
        return ANSI_RED;
    return level == PROFILE_LEVEL_MEDIUM ? ANSI_YELLOW : "";
}

static void bottlenecks(report_t *r) {
    const profile_t *p = r->profile;
    int name = r->node_columns;
    char text[32];

    section(r, "Bottlenecks");
    if (p->bottleneck_count == 0) {
        put(r, "  none");
        newline(r);
        return;
    }
    spaces(r, 2);
    put_cell(r, "severity", 8, false);
    put(r, " ");
    put_cell(r, "type", 21, false);
    put(r, " ");
    put_cell(r, "node", name, false);
    put(r, "  impact");
    newline(r);
    for (size_t i = 0; i < shown_rows(r, p->bottleneck_count); i++) {
        const profile_bottleneck_t *b = &p->bottlenecks[i];
        spaces(r, 2);
        style(r, level_style(b->severity));
        put_cell(r, profile_level_name(b->severity), 8, false);
        style(r, ANSI_RESET);
        put(r, " ");
        put_cell(r, profile_bottleneck_type_name(b->type), 21, false);
        put(r, " ");
        put_cell(r, b->node_id ? b->node_id : "(run)", name, false);
        put(r, " ");
        format_percent(b->impact_pct, text, sizeof(text));
        put_cell(r, text, 7, true);
        newline(r);
        if (b->details && *b->details) {
            spaces(r, 4);
            put_wrapped(r, b->details, 4, 4);
            newline(r);
        }
    }
    more_rows(r, p->bottleneck_count, "bottlenecks");
}

static void recommendations(report_t *r) {
    const profile_t *p = r->profile;
    char number[32], time_text[32], tokens[32], cost[32];

    section(r, "Recommendations");
    if (p->recommendation_count == 0) {
        put(r, "  none");
        newline(r);
        return;
    }
    for (size_t i = 0; i < shown_rows(r, p->recommendation_count); i++) {
        const profile_recommendation_t *rec = &p->recommendations[i];
        int prefix = snprintf(number, sizeof(number), "  %zu. ", i + 1);
        put(r, number);
        put(r, profile_recommendation_type_name(rec->type));
        put(r, " (");
        style(r, level_style(rec->priority));
        put(r, profile_level_name(rec->priority));
        style(r, ANSI_RESET);
        put(r, " priority)");
        newline(r);

        if (rec->node_id_count > 0) {
            buf_t nodes = BUF_INIT;
            int rc = buf_puts(&nodes, "nodes: ");
            for (size_t n = 0; n < rec->node_id_count && rc == 0; n++) {
                if (n)
                    rc |= buf_puts(&nodes, ", ");
                if (n == r->max_rows) {
                    rc |= buf_printf(&nodes, "... %zu more", rec->node_id_count - n);
                    break;
                }
                rc |= buf_puts(&nodes, rec->node_ids[n] ? rec->node_ids[n] : "?");
            }
            if (rc != 0)
                r->failed = 1;
            spaces(r, prefix);
            if (!r->failed)
                put_wrapped(r, nodes.data, prefix, prefix + 7);
            newline(r);
            buf_free(&nodes);
        }
        format_duration(r, rec->savings.time_us, time_text, sizeof(time_text));
        format_count(rec->savings.tokens, tokens, sizeof(tokens));
        format_cost(rec->savings.cost_usd, cost, sizeof(cost));
        spaces(r, prefix);
        putf(r, "saves: time %s, tokens %s, cost %s", time_text, tokens, cost);
        newline(r);
        if (rec->description && *rec->description) {
            spaces(r, prefix);
            put_wrapped(r, rec->description, prefix, prefix);
            newline(r);
        }
        if (rec->action && *rec->action) {
            spaces(r, prefix);
            put(r, "action: ");
            put_wrapped(r, rec->action, prefix + 8, prefix + 8);
            newline(r);
        }
    }
    more_rows(r, p->recommendation_count, "recommendations");
}

static void warnings(report_t *r) {
    const profile_t *p = r->profile;

    section(r, "Warnings");
    if (p->warning_count == 0) {
        put(r, "  none");
        newline(r);
        return;
    }
    for (size_t i = 0; i < shown_rows(r, p->warning_count); i++) {
        put(r, "  - ");
        put_wrapped(r, p->warnings[i], 4, 4);
        newline(r);
    }
    more_rows(r, p->warning_count, "warnings");
}

/* ---------------------------------------------------------------- entry */

void report_options_init(report_options_t *options) {
    options->width = REPORT_DEFAULT_WIDTH;
    options->ascii = false;
    options->color = false;
    options->max_rows = REPORT_DEFAULT_MAX_ROWS;
}

/* Lay out the node table: the node id column as wide as the longest id shown
 * when that fits; when even NAME_MIN_COLUMNS does not, optional columns are
 * hidden one by one. */
static void plan_node_table(report_t *r) {
    const profile_t *p = r->profile;
    int longest = 4;
    int others = 2; /* indent */

    for (size_t i = 0; i < shown_rows(r, p->node_count); i++) {
        int w = string_columns(r, r->by_start[i]->node_id);
        if (w > longest)
            longest = w;
    }
    for (int c = 0; c < COL_COUNT; c++)
        others += 1 + node_table_columns[c].columns;
    int wanted = longest < NAME_MIN_COLUMNS ? longest : NAME_MIN_COLUMNS;
    for (int order = 1; others + wanted > r->width; order++) {
        bool hid = false;
        for (int c = 0; c < COL_COUNT; c++) {
            if (node_table_columns[c].hide_order == order) {
                r->column_hidden[c] = true;
                others -= 1 + node_table_columns[c].columns;
                hid = true;
            }
        }
        if (!hid)
            break; /* nothing left to hide: the table is wider than asked */
    }
    int room = r->width - others;
    r->node_columns = longest < room ? longest : room > wanted ? room : wanted;
}

int report_write_text(const profile_t *profile, const report_options_t *options, buf_t *out) {
    report_options_t defaults;
    report_t r;
    size_t start_len = out->len;

    if (!options) {
        report_options_init(&defaults);
        options = &defaults;
    }
    memset(&r, 0, sizeof(r));
    r.profile = profile;
    r.out = out;
    r.line_start = out->len;
    r.width = options->width > 0 ? options->width : REPORT_DEFAULT_WIDTH;
    if (r.width < REPORT_MIN_WIDTH)
        r.width = REPORT_MIN_WIDTH;
    if (r.width > REPORT_MAX_WIDTH)
        r.width = REPORT_MAX_WIDTH;
    r.ascii = options->ascii;
    r.color = options->color;
    r.max_rows = options->max_rows > 0 ? options->max_rows : REPORT_DEFAULT_MAX_ROWS;
    buf_init(&r.scratch);

    size_t slots = profile->node_count > profile->model_count ? profile->node_count
                                                               : profile->model_count;
    if (slots > 0) {
        r.by_start = calloc(profile->node_count ? profile->node_count : 1, sizeof(*r.by_start));
        r.rows = calloc(slots, sizeof(*r.rows));
        if (!r.by_start || !r.rows)
            goto fail;
    }
    for (size_t i = 0; i < profile->node_count; i++)
        r.by_start[i] = &profile->nodes[i];
    if (profile->node_count > 1)
        qsort(r.by_start, profile->node_count, sizeof(*r.by_start), compare_by_start);
    plan_node_table(&r);

    header(&r);
    summary(&r);
    node_table(&r);
    critical_path(&r);
    timeline(&r);
    charts(&r);
    bottlenecks(&r);
    recommendations(&r);
    warnings(&r);
    if (r.failed)
        goto fail;

    free(r.by_start);
    free(r.rows);
    buf_free(&r.scratch);
    return 0;

fail:
    buf_truncate(out, start_len);
    free(r.by_start);
    free(r.rows);
    buf_free(&r.scratch);
    return -1;
}

/* ---------------------------------------------------------------- writer
 *
 * The helpers above, for views other than a profile's (report.h). A writer is
 * a report_t without a profile. */

report_writer_t *report_writer_new(buf_t *out, const report_options_t *options) {
    report_options_t defaults;
    if (!options) {
        report_options_init(&defaults);
        options = &defaults;
    }
    report_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->out = out;
    r->line_start = out->len;
    r->width = options->width > 0 ? options->width : REPORT_DEFAULT_WIDTH;
    if (r->width < REPORT_MIN_WIDTH)
        r->width = REPORT_MIN_WIDTH;
    if (r->width > REPORT_MAX_WIDTH)
        r->width = REPORT_MAX_WIDTH;
    r->ascii = options->ascii;
    r->color = options->color;
    r->max_rows = options->max_rows > 0 ? options->max_rows : REPORT_DEFAULT_MAX_ROWS;
    buf_init(&r->scratch);
    r->start_len = out->len;
    return r;
}

int report_writer_finish(report_writer_t *w) {
    int failed = w->failed;
    if (failed)
        buf_truncate(w->out, w->start_len);
    buf_free(&w->scratch);
    free(w->rows);
    free(w);
    return failed ? -1 : 0;
}

int report_writer_width(const report_writer_t *w) {
    return w->width;
}

size_t report_writer_max_rows(const report_writer_t *w) {
    return w->max_rows;
}

bool report_writer_ascii(const report_writer_t *w) {
    return w->ascii;
}

void report_writer_put(report_writer_t *w, const char *text) {
    put(w, text);
}

void report_writer_spaces(report_writer_t *w, int count) {
    spaces(w, count);
}

void report_writer_newline(report_writer_t *w) {
    newline(w);
}

void report_writer_bold(report_writer_t *w, bool on) {
    style(w, on ? ANSI_BOLD : ANSI_RESET);
}

void report_writer_section(report_writer_t *w, const char *title) {
    section(w, title);
}

void report_writer_cell(report_writer_t *w, const char *text, int columns, bool align_right) {
    put_cell(w, text, columns, align_right);
}

int report_writer_columns(report_writer_t *w, const char *text) {
    return string_columns(w, text);
}

void report_writer_wrapped(report_writer_t *w, const char *text, int first_column, int indent) {
    put_wrapped(w, text, first_column, indent);
}

void report_writer_more(report_writer_t *w, size_t count, const char *what) {
    more_rows(w, count, what);
}

int report_writer_bar_chart(report_writer_t *w, const char *title, const char *empty,
                            const char *what, bool money, const char *const *labels,
                            const double *values, size_t count) {
    chart_t chart = {title, empty, what, money};
    free(w->rows);
    w->rows = calloc(count ? count : 1, sizeof(*w->rows));
    if (!w->rows) {
        w->failed = 1;
        return -1;
    }
    size_t rows = 0;
    for (size_t i = 0; i < count; i++)
        chart_add(w, &rows, labels[i], values[i]);
    bar_chart(w, &chart, rows);
    return w->failed ? -1 : 0;
}

void report_writer_duration(const report_writer_t *w, int64_t us, char *text, size_t size) {
    format_duration(w, us, text, size);
}

void report_format_cost(double usd, char *text, size_t size) {
    format_cost(usd, text, size);
}

void report_format_count(int64_t value, char *text, size_t size) {
    format_count(value, text, size);
}

void report_format_percent(double value, char *text, size_t size) {
    format_percent(value, text, size);
}

void report_format_time(int64_t epoch_us, char *text, size_t size) {
    format_time(epoch_us, text, size);
}
