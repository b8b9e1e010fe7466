/* report_html.c -- the visual report of a profile. See report_html.h.
 *
 * The page is written top to bottom into the caller's buffer with a sticky
 * failure flag, like the text report. Every trace string goes through
 * html_escape()/html_label(); nothing from the trace is ever written raw, and
 * the page carries no script at all (a Content-Security-Policy forbids one),
 * so a hostile name can at worst look odd. */
#include "report_html.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Geometry of the SVG charts, in CSS pixels. */
#define GANTT_LABEL_W 230
#define GANTT_CHART_W 720
#define GANTT_STATUS_W 90
#define GANTT_ROW_H 20
#define DAG_COL_W 210
#define DAG_BOX_W 170
#define DAG_ROW_H 30
#define MAX_ATTEMPTS_DRAWN 20 /* retry bars per node; more are counted in the tooltip */
#define MAX_REC_NODES 20      /* node ids listed per recommendation */

typedef struct html {
    const profile_t *profile;
    const trace_t *trace;
    buf_t *out;
    int failed;
    size_t max_rows;
    bool *shown;        /* per node */
    size_t shown_count;
    size_t *order;      /* shown nodes by start time */
    int64_t *layer;     /* per node: longest-path layer */
    int64_t *crit_pos;  /* per node: index on the critical path, or -1 */
    size_t *attempt_first; /* with a trace: per node, its first entry in attempt_span */
    size_t *attempt_span;  /* span indexes of the shown nodes' node spans */
} html_t;

/* ---------------------------------------------------------------- output */

static void put(html_t *h, const char *text) {
    if (!h->failed && buf_puts(h->out, text) != 0)
        h->failed = 1;
}

static void putf(html_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(html_t *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!h->failed && buf_vprintf(h->out, fmt, ap) != 0)
        h->failed = 1;
    va_end(ap);
}

static void esc(html_t *h, const char *text) {
    if (!h->failed && report_html_escape(h->out, text, REPORT_HTML_TEXT_BYTES) != 0)
        h->failed = 1;
}

static void label(html_t *h, const char *text, int columns) {
    if (!h->failed && report_html_label(h->out, text, columns) != 0)
        h->failed = 1;
}

/* ---------------------------------------------------------------- text */

/* Columns a code point takes: the text report's rough, locale-free wcwidth(),
 * with the transport and newer emoji blocks also wide, as browsers draw them. */
static int codepoint_columns(uint32_t cp) {
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F680 && cp <= 0x1F6FF) || (cp >= 0x1F900 && cp <= 0x1F9FF) ||
        (cp >= 0x1FA70 && cp <= 0x1FAFF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

/* One character of `s`: its length in bytes (0 at the end), and whether it is
 * replaced by U+FFFD (ill-formed, or a control HTML must not carry). */
static size_t next_char(const unsigned char *s, uint32_t *cp, bool *replaced) {
    if (!*s)
        return 0;
    size_t bad_len = 1;
    size_t n = utf8_sequence(s, SIZE_MAX, &bad_len);
    if (n == 0) {
        *cp = 0xFFFD;
        *replaced = true;
        return bad_len;
    }
    *cp = utf8_decode(s, n);
    *replaced = (*cp < 0x20 && *cp != '\t' && *cp != '\n') || *cp == '\r' ||
                (*cp >= 0x7F && *cp <= 0x9F);
    if (*replaced)
        *cp = 0xFFFD;
    return n;
}

static int put_char(buf_t *out, const unsigned char *s, size_t n, uint32_t cp, bool replaced) {
    if (replaced)
        return buf_puts(out, "\xEF\xBF\xBD");
    switch (cp) {
    case '&': return buf_puts(out, "&amp;");
    case '<': return buf_puts(out, "&lt;");
    case '>': return buf_puts(out, "&gt;");
    case '"': return buf_puts(out, "&quot;");
    case '\'': return buf_puts(out, "&#39;");
    default: return buf_append(out, s, n);
    }
}

int report_html_escape(buf_t *out, const char *text, size_t max_bytes) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t used = 0, start_len = out->len;
    uint32_t cp;
    bool replaced;
    size_t n;
    while ((n = next_char(s, &cp, &replaced)) > 0) {
        if (max_bytes && used + n > max_bytes) {
            if (buf_puts(out, "\xE2\x80\xA6") != 0)
                goto fail;
            break;
        }
        if (put_char(out, s, n, cp, replaced) != 0)
            goto fail;
        s += n;
        used += n;
    }
    return 0;
fail:
    buf_truncate(out, start_len);
    return -1;
}

int report_html_label(buf_t *out, const char *text, int max_columns) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    uint32_t cp;
    bool replaced;
    size_t n, start_len = out->len;
    int total = 0;
    for (const unsigned char *p = s; (n = next_char(p, &cp, &replaced)) > 0; p += n)
        total += codepoint_columns(cp);
    int budget = total <= max_columns ? total : max_columns - 1; /* room for the ellipsis */
    int columns = 0;
    while ((n = next_char(s, &cp, &replaced)) > 0) {
        int w = codepoint_columns(cp);
        if (columns + w > budget)
            break;
        if (put_char(out, s, n, cp, replaced) != 0)
            goto fail;
        columns += w;
        s += n;
    }
    if (total > max_columns && buf_puts(out, "\xE2\x80\xA6") != 0)
        goto fail;
    return 0;
fail:
    buf_truncate(out, start_len);
    return -1;
}

/* Durations as the text report shows them: µs, ms, s, min, h. */
static const char *duration(char *dst, size_t size, int64_t us) {
    double a = fabs((double)us);
    if (us == 0)
        snprintf(dst, size, "0");
    else if (a < 1000)
        snprintf(dst, size, "%" PRId64 " µs", us);
    else if (a < 1e6)
        snprintf(dst, size, "%.1f ms", (double)us / 1e3);
    else if (a < 60e6)
        snprintf(dst, size, "%.1f s", (double)us / 1e6);
    else if (a < 3600e6)
        snprintf(dst, size, "%.1f min", (double)us / 60e6);
    else
        snprintf(dst, size, "%.1f h", (double)us / 3600e6);
    return dst;
}

/* 27450 -> "27,450". */
static const char *thousands(char *dst, size_t size, int64_t value) {
    char digits[32];
    snprintf(digits, sizeof(digits), "%" PRId64, value);
    size_t len = strlen(digits), o = 0, first = digits[0] == '-' ? 1 : 0;
    for (size_t i = 0; i < len && o + 2 < size; i++) {
        if (i > first && (len - i) % 3 == 0)
            dst[o++] = ',';
        dst[o++] = digits[i];
    }
    dst[o] = '\0';
    return dst;
}

/* ---------------------------------------------------------------- selection */

typedef struct sort_ctx {
    const profile_t *profile;
    int key; /* 0 exec desc, 1 start asc, 2 cost desc, 3 tokens desc */
} sort_ctx_t;

static int compare_nodes(const void *a, const void *b, void *arg) {
    const sort_ctx_t *ctx = arg;
    const profile_node_t *x = &ctx->profile->nodes[*(const size_t *)a];
    const profile_node_t *y = &ctx->profile->nodes[*(const size_t *)b];
    switch (ctx->key) {
    case 0:
        if (x->exec_us != y->exec_us)
            return x->exec_us > y->exec_us ? -1 : 1;
        break;
    case 1:
        if (x->start_us != y->start_us)
            return x->start_us < y->start_us ? -1 : 1;
        break;
    case 2:
        if (x->cost_usd != y->cost_usd)
            return x->cost_usd > y->cost_usd ? -1 : 1;
        break;
    default:
        if (x->tokens.total != y->tokens.total)
            return x->tokens.total > y->tokens.total ? -1 : 1;
        break;
    }
    return strcmp(x->node_id, y->node_id);
}

static size_t *sorted_nodes(const profile_t *p, int key) {
    size_t *idx = malloc((p->node_count ? p->node_count : 1) * sizeof(*idx));
    if (!idx)
        return NULL;
    for (size_t i = 0; i < p->node_count; i++)
        idx[i] = i;
    sort_ctx_t ctx = {p, key};
    qsort_r(idx, p->node_count, sizeof(*idx), compare_nodes, &ctx);
    return idx;
}

static int compare_id(const void *key, const void *node) {
    return strcmp(key, ((const profile_node_t *)node)->node_id);
}

/* Index of node `id` (nodes are sorted by node_id), or -1. */
static ptrdiff_t node_index(const profile_t *p, const char *id) {
    const profile_node_t *n = bsearch(id, p->nodes, p->node_count, sizeof(*p->nodes), compare_id);
    return n ? n - p->nodes : -1;
}

size_t report_html_select(const profile_t *profile, size_t max_rows, bool *shown) {
    size_t count = 0;
    memset(shown, 0, profile->node_count * sizeof(*shown));
    for (size_t i = 0; i < profile->critical_path_count && count < max_rows; i++) {
        ptrdiff_t k = node_index(profile, profile->critical_path[i]);
        if (k >= 0 && !shown[k]) {
            shown[k] = true;
            count++;
        }
    }
    if (count >= max_rows || count == profile->node_count)
        return count;
    size_t *by_exec = sorted_nodes(profile, 0);
    for (size_t i = 0; i < profile->node_count && count < max_rows; i++) {
        /* without memory, fall back to id order: still max_rows nodes */
        size_t k = by_exec ? by_exec[i] : i;
        if (!shown[k]) {
            shown[k] = true;
            count++;
        }
    }
    free(by_exec);
    return count;
}

/* Longest-path layers (Kahn's order over depends_on): a node sits one layer
 * right of its deepest input, so every edge points right. */
static int compute_layers(html_t *h) {
    const profile_t *p = h->profile;
    size_t n = p->node_count, edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += p->nodes[i].depends_on_count;
    size_t *indeg = calloc(n + 1, sizeof(*indeg));
    size_t *first = calloc(n + 1, sizeof(*first)); /* children of i: child[first[i]..first[i+1]) */
    size_t *child = malloc((edges ? edges : 1) * sizeof(*child));
    size_t *fill = calloc(n + 1, sizeof(*fill));
    size_t *queue = malloc((n ? n : 1) * sizeof(*queue));
    int rc = -1;
    if (!indeg || !first || !child || !fill || !queue)
        goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < p->nodes[i].depends_on_count; d++) {
            ptrdiff_t k = node_index(p, p->nodes[i].depends_on[d]);
            if (k >= 0) {
                first[k + 1]++;
                indeg[i]++;
            }
        }
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < p->nodes[i].depends_on_count; d++) {
            ptrdiff_t k = node_index(p, p->nodes[i].depends_on[d]);
            if (k >= 0)
                child[first[k] + fill[k]++] = i;
        }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        h->layer[i] = 0;
        if (indeg[i] == 0)
            queue[tail++] = i;
    }
    while (head < tail) {
        size_t u = queue[head++];
        for (size_t c = first[u]; c < first[u + 1]; c++) {
            size_t v = child[c];
            if (h->layer[v] < h->layer[u] + 1)
                h->layer[v] = h->layer[u] + 1;
            if (--indeg[v] == 0)
                queue[tail++] = v;
        }
    }
    rc = 0;
done:
    free(indeg);
    free(first);
    free(child);
    free(fill);
    free(queue);
    return rc;
}

/* ---------------------------------------------------------------- sections */

static const char STYLE[] =
    "<style>\n"
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;padding:1.5em 2em;"
    "color:#1d2330;background:#fafbfc}\n"
    "h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em;"
    "border-bottom:1px solid #d5dae1;padding-bottom:.2em}\n"
    ".meta{color:#5b6573}.mono{font-family:ui-monospace,Menlo,Consolas,monospace}\n"
    "table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}\n"
    "th{font-weight:600;color:#5b6573}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".summary td:first-child{color:#5b6573;padding-right:1.5em}\n"
    "svg text{font:12px system-ui,sans-serif;fill:#1d2330}\n"
    ".blocked{fill:#dde2e9}.queued{fill:#f3c969}.exec{fill:#6f8fb8}\n"
    ".crit .exec{fill:#d9534f}.attempt.failed{fill:#b9c3d1}.crit .attempt.failed{fill:#eba3a1}\n"
    ".error .exec{stroke:#8b0000;stroke-width:1.5}\n"
    ".slack{stroke:#2f7d4a;stroke-width:1.5}.axis{stroke:#c7ced8}\n"
    ".gantt-row:hover rect,.dag-node:hover rect{opacity:.75}\n"
    ".crit text.label{font-weight:700}.aggregate text{fill:#5b6573;font-style:italic}\n"
    ".status-error{fill:#b02a2a}.status-ok{fill:#2f7d4a}.status-unset{fill:#5b6573}\n"
    ".edge{fill:none;stroke:#9aa6b6;stroke-width:1}.edge.crit{stroke:#d9534f;stroke-width:2.5}\n"
    ".dag-node rect{fill:#fff;stroke:#6f8fb8}.dag-node.crit rect{stroke:#d9534f;stroke-width:2.5;"
    "fill:#fdf0ef}\n"
    ".bars td.bar{width:420px}.bars div{background:#6f8fb8;height:12px;min-width:1px}\n"
    ".bars tr.crit div{background:#d9534f}.bars tr.aggregate td{color:#5b6573;font-style:italic}\n"
    ".level-high{color:#b02a2a;font-weight:600}.level-medium{color:#a86b00}.level-low{color:#5b6573}\n"
    ".legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:12px;"
    "height:12px;margin-right:4px;vertical-align:-1px}\n"
    ".scroll{overflow-x:auto}footer{margin-top:2em;color:#8a93a0;font-size:12px}\n"
    "</style>\n";

static void section_head(html_t *h) {
    const profile_t *p = h->profile;
    put(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'\">\n"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>dagprof · ");
    esc(h, p->dag_id);
    put(h, " · ");
    esc(h, p->trace_id);
    put(h, "</title>\n");
    put(h, STYLE);
    put(h, "</head>\n<body>\n<header>\n<h1>DAG <span class=\"mono\">");
    esc(h, p->dag_id);
    put(h, "</span></h1>\n<div class=\"meta\">trace <span class=\"mono\">");
    esc(h, p->trace_id);
    putf(h, "</span> · revision %" PRId64 " · %s · profile <span class=\"mono\">", p->revision,
         p->complete ? "complete" : "incomplete (no run span; profiled after an idle timeout)");
    esc(h, p->profile_id);
    put(h, "</span></div>\n</header>\n");
}

static void summary_row(html_t *h, const char *name, const char *value, const char *note) {
    putf(h, "<tr><td>%s</td><td class=\"num\" data-figure=\"%s\">%s</td><td class=\"meta\">%s</td></tr>\n",
         name, name, value, note);
}

static void section_summary(html_t *h) {
    const profile_summary_t *s = &h->profile->summary;
    char v[64], note[256], a[32], b[32], c[32], d[32];
    put(h, "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n");
    summary_row(h, "wall time", duration(v, sizeof(v), s->wall_us), "run start to run end");
    summary_row(h, "work", duration(v, sizeof(v), s->work_us), "sum of node execution times");
    summary_row(h, "ideal wall time", duration(v, sizeof(v), s->ideal_wall_us),
                "longest dependency path (unlimited workers, no delay)");
    snprintf(note, sizeof(note), "%zu nodes on the observed critical path", h->profile->critical_path_count);
    summary_row(h, "critical path", duration(v, sizeof(v), s->critical_path_us), note);
    snprintf(v, sizeof(v), "%.2f", s->parallelism);
    summary_row(h, "parallelism", v, "average number of nodes running");
    snprintf(v, sizeof(v), "%.1f%%", s->schedule_efficiency * 100.0);
    summary_row(h, "schedule efficiency", v, "ideal wall time / wall time");
    snprintf(note, sizeof(note), "%s spans · dependencies %s", thousands(a, sizeof(a), s->span_count),
             s->edges == PROFILE_EDGES_INFERRED ? "inferred from timing" : "declared");
    summary_row(h, "nodes", thousands(v, sizeof(v), s->node_count), note);
    snprintf(note, sizeof(note), "input %s (cache read %s, cache write %s), output %s",
             thousands(a, sizeof(a), s->tokens.input), thousands(b, sizeof(b), s->tokens.cache_read),
             thousands(c, sizeof(c), s->tokens.cache_write), thousands(d, sizeof(d), s->tokens.output));
    summary_row(h, "tokens", thousands(v, sizeof(v), s->tokens.total), note);
    snprintf(v, sizeof(v), "$%.4f", s->cost_usd);
    summary_row(h, "cost", v, s->unpriced_model_count ? "unpriced models count as $0" : "");
    if (s->unpriced_model_count) {
        put(h, "<tr><td>unpriced models</td><td colspan=\"2\" class=\"mono\">");
        for (size_t i = 0; i < s->unpriced_model_count && i < h->max_rows; i++) {
            if (i)
                put(h, ", ");
            label(h, s->unpriced_models[i], REPORT_HTML_LABEL_COLUMNS);
        }
        if (s->unpriced_model_count > h->max_rows)
            putf(h, " … %zu more", s->unpriced_model_count - h->max_rows);
        put(h, "</td></tr>\n");
    }
    put(h, "</table>\n</section>\n");
}

static double x_of(html_t *h, int64_t t_us) {
    const profile_summary_t *s = &h->profile->summary;
    double wall = s->wall_us > 0 ? (double)s->wall_us : 1.0;
    double x = (double)(t_us - s->run_start_us) / wall * GANTT_CHART_W;
    if (x < 0)
        x = 0;
    if (x > GANTT_CHART_W)
        x = GANTT_CHART_W;
    return GANTT_LABEL_W + x;
}

static void rect(html_t *h, const char *cls, double x0, double x1, double y, const char *extra) {
    double w = x1 - x0;
    if (w < 0.5)
        w = 0.5; /* a zero-length segment still shows */
    putf(h, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"%s/>", cls, x0, y, w,
         GANTT_ROW_H - 6, extra ? extra : "");
}

/* The node's attempts, from the trace: its node spans (attempt 0, 1, ...),
 * indexed once per page (attempt_first/attempt_span) so a row costs only its
 * own spans. */
static size_t draw_attempts(html_t *h, size_t index, double y) {
    if (!h->attempt_first)
        return 0;
    size_t drawn = 0, seen = h->attempt_first[index + 1] - h->attempt_first[index];
    for (size_t a = h->attempt_first[index]; a < h->attempt_first[index + 1] && drawn < MAX_ATTEMPTS_DRAWN; a++) {
        const span_t *s = trace_span(h->trace, h->attempt_span[a]);
        char extra[64];
        snprintf(extra, sizeof(extra), " data-attempt=\"%d\"", (int)s->attempt);
        rect(h, s->status == SPAN_STATUS_ERROR ? "exec attempt failed" : "exec attempt",
             x_of(h, s->start_us), x_of(h, s->end_us), y, extra);
        drawn++;
    }
    return seen;
}

/* The node spans of the shown nodes, grouped by node: attempt_span[
 * attempt_first[i] .. attempt_first[i + 1]) in trace order. */
static int index_attempts(html_t *h) {
    const profile_t *p = h->profile;
    size_t spans = trace_span_count(h->trace), total = 0;
    h->attempt_first = calloc(p->node_count + 1, sizeof(*h->attempt_first));
    size_t *owner = malloc((spans ? spans : 1) * sizeof(*owner));
    size_t *fill = calloc(p->node_count + 1, sizeof(*fill));
    int rc = -1;
    if (!h->attempt_first || !owner || !fill)
        goto done;
    for (size_t i = 0; i < spans; i++) {
        const span_t *s = trace_span(h->trace, i);
        owner[i] = SIZE_MAX;
        if (s->kind != SPAN_KIND_NODE || !s->node_id)
            continue;
        ptrdiff_t k = node_index(p, s->node_id);
        if (k < 0 || !h->shown[k])
            continue;
        owner[i] = (size_t)k;
        h->attempt_first[k + 1]++;
        total++;
    }
    for (size_t i = 0; i < p->node_count; i++)
        h->attempt_first[i + 1] += h->attempt_first[i];
    h->attempt_span = malloc((total ? total : 1) * sizeof(*h->attempt_span));
    if (!h->attempt_span)
        goto done;
    for (size_t i = 0; i < spans; i++)
        if (owner[i] != SIZE_MAX)
            h->attempt_span[h->attempt_first[owner[i]] + fill[owner[i]]++] = i;
    rc = 0;
done:
    free(owner);
    free(fill);
    return rc;
}

static const char *status_name(span_status_t status) {
    return status == SPAN_STATUS_ERROR ? "error" : status == SPAN_STATUS_OK ? "ok" : "unset";
}

static void gantt_row(html_t *h, size_t index, size_t row) {
    const profile_node_t *n = &h->profile->nodes[index];
    double y = 28 + (double)row * GANTT_ROW_H;
    char a[32], b[32], c[32], d[32], e[32];
    putf(h, "<g class=\"gantt-row%s%s\" data-critical=\"%s\" data-status=\"%s\" data-retries=\"%d\">",
         n->on_critical_path ? " crit" : "", n->status == SPAN_STATUS_ERROR ? " error" : "",
         n->on_critical_path ? "true" : "false", status_name(n->status), (int)n->retries);
    put(h, "<title>");
    esc(h, n->node_id);
    putf(h, "\nstart %s · exec %s · blocked %s · queued %s · slack %s\nstatus %s · retries %d · "
            "tokens %s · cost $%.4f%s</title>",
         duration(a, sizeof(a), n->start_us - h->profile->summary.run_start_us),
         duration(b, sizeof(b), n->exec_us), duration(c, sizeof(c), n->blocked_us),
         duration(d, sizeof(d), n->queued_us), duration(e, sizeof(e), n->slack_us),
         status_name(n->status), (int)n->retries, thousands(a, sizeof(a), n->tokens.total), n->cost_usd,
         n->on_critical_path ? " · on the critical path" : "");
    putf(h, "<text class=\"label\" x=\"4\" y=\"%.1f\">", y + 11);
    label(h, n->node_id, REPORT_HTML_LABEL_COLUMNS);
    put(h, "</text>");
    int64_t run_start = h->profile->summary.run_start_us;
    rect(h, "blocked", x_of(h, run_start), x_of(h, n->ready_us), y, NULL);
    if (n->queued_us > 0)
        rect(h, "queued", x_of(h, n->ready_us), x_of(h, n->start_us), y, NULL);
    if (draw_attempts(h, index, y) == 0)
        rect(h, "exec", x_of(h, n->start_us), x_of(h, n->end_us), y, NULL);
    if (n->slack_us > 0) {
        double x0 = x_of(h, n->end_us), x1 = x_of(h, n->end_us + n->slack_us), ym = y + (GANTT_ROW_H - 6) / 2.0;
        putf(h, "<path class=\"slack\" d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1f\"/>", x0, ym, x1, x1, ym - 4, ym + 4);
    }
    putf(h, "<text class=\"status-%s\" x=\"%d\" y=\"%.1f\">%s%s", status_name(n->status),
         GANTT_LABEL_W + GANTT_CHART_W + 8, y + 11, n->status == SPAN_STATUS_ERROR ? "✗ " : "",
         status_name(n->status));
    if (n->retries > 0)
        putf(h, " ↻%d", (int)n->retries);
    put(h, "</text></g>\n");
}

static void section_gantt(html_t *h) {
    const profile_t *p = h->profile;
    size_t rows = h->shown_count + (h->shown_count < p->node_count ? 1 : 0);
    int height = 28 + (int)rows * GANTT_ROW_H + 10;
    int width = GANTT_LABEL_W + GANTT_CHART_W + GANTT_STATUS_W;
    char a[32];
    put(h, "<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"legend meta\">"
           "<span><i class=\"legend-blocked\" style=\"background:#dde2e9\"></i>blocked (waiting on inputs)</span>"
           "<span><i style=\"background:#f3c969\"></i>queued (scheduling delay)</span>"
           "<span><i style=\"background:#6f8fb8\"></i>exec</span>"
           "<span><i style=\"background:#d9534f\"></i>exec, critical path</span>"
           "<span><i style=\"background:#2f7d4a;height:2px;vertical-align:3px\"></i>slack</span></div>\n");
    putf(h, "<div class=\"scroll\"><svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n", width, height, width, height);
    for (int q = 0; q <= 4; q++) {
        double x = GANTT_LABEL_W + GANTT_CHART_W * q / 4.0;
        putf(h, "<line class=\"axis\" x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%d\"/>"
                "<text x=\"%.1f\" y=\"14\" text-anchor=\"%s\">%s</text>\n",
             x, x, height - 8, x, q == 0 ? "start" : q == 4 ? "end" : "middle",
             duration(a, sizeof(a), p->summary.wall_us * q / 4));
    }
    for (size_t r = 0; r < h->shown_count; r++)
        gantt_row(h, h->order[r], r);
    if (h->shown_count < p->node_count) {
        size_t hidden = p->node_count - h->shown_count;
        int64_t first = INT64_MAX, last = INT64_MIN, exec = 0, tokens = 0;
        double cost = 0;
        for (size_t i = 0; i < p->node_count; i++) {
            if (h->shown[i])
                continue;
            const profile_node_t *n = &p->nodes[i];
            if (n->start_us < first)
                first = n->start_us;
            if (n->end_us > last)
                last = n->end_us;
            exec += n->exec_us;
            tokens += n->tokens.total;
            cost += n->cost_usd;
        }
        double y = 28 + (double)h->shown_count * GANTT_ROW_H;
        char b[32], c[32];
        putf(h, "<g class=\"gantt-row aggregate\" data-count=\"%zu\"><title>%zu more nodes, none on the "
                "critical path: exec %s in all, tokens %s, cost $%.4f</title>"
                "<text x=\"4\" y=\"%.1f\">%zu more nodes</text>", hidden, hidden,
             duration(b, sizeof(b), exec), thousands(c, sizeof(c), tokens), cost, y + 11, hidden);
        rect(h, "blocked", x_of(h, first), x_of(h, last), y, NULL);
        put(h, "</g>\n");
    }
    put(h, "</svg></div>\n");
    if (h->shown_count < p->node_count)
        putf(h, "<p class=\"meta\">%zu of %zu nodes shown: the critical path first, then the longest "
                "(--html.max.rows).</p>\n", h->shown_count, p->node_count);
    put(h, "</section>\n");
}

static int compare_layer(const void *a, const void *b, void *arg) {
    const html_t *h = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (h->layer[x] != h->layer[y])
        return h->layer[x] < h->layer[y] ? -1 : 1;
    const profile_node_t *nx = &h->profile->nodes[x], *ny = &h->profile->nodes[y];
    if (nx->start_us != ny->start_us)
        return nx->start_us < ny->start_us ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void section_dag(html_t *h) {
    const profile_t *p = h->profile;
    /* the shown nodes' layers, renumbered densely, and each node's row within its layer */
    size_t n = p->node_count;
    int64_t *col = malloc((n ? n : 1) * sizeof(*col));
    int64_t *row = malloc((n ? n : 1) * sizeof(*row));
    size_t *by_layer = malloc((h->shown_count ? h->shown_count : 1) * sizeof(*by_layer));
    if (!col || !row || !by_layer) {
        h->failed = 1;
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (h->shown[i])
            by_layer[m++] = i;
    /* order by layer, then start time: a stable, readable column order */
    qsort_r(by_layer, m, sizeof(*by_layer), compare_layer, h);
    int64_t cols = 0, max_rows_in_col = 0, cur = 0;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && h->layer[by_layer[i]] != h->layer[by_layer[i - 1]]) {
            cols++;
            cur = 0;
        }
        col[by_layer[i]] = cols;
        row[by_layer[i]] = cur++;
        if (cur > max_rows_in_col)
            max_rows_in_col = cur;
    }
    if (m)
        cols++;
    int width = (int)(cols * DAG_COL_W) + 20, svg_h = (int)(max_rows_in_col * DAG_ROW_H) + 20;
    put(h, "<section id=\"dag\">\n<h2>Dependency DAG</h2>\n<p class=\"meta\">Layered by longest path "
           "from the first nodes; the critical path in red");
    if (m < n)
        putf(h, "; %zu of %zu nodes shown", m, n);
    put(h, ".</p>\n");
    putf(h, "<div class=\"scroll\"><svg class=\"dag\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n", width, svg_h, width, svg_h);
    /* edges first so boxes cover their ends; critical ones always, others up to 4 per shown node */
    size_t edge_budget = 4 * h->max_rows, edges_left_out = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < m; i++) {
            size_t v = by_layer[i];
            const profile_node_t *node = &p->nodes[v];
            for (size_t d = 0; d < node->depends_on_count; d++) {
                ptrdiff_t u = node_index(p, node->depends_on[d]);
                if (u < 0 || !h->shown[u])
                    continue;
                bool crit = h->crit_pos[u] >= 0 && h->crit_pos[u] + 1 == h->crit_pos[v];
                if (crit != (pass == 0))
                    continue;
                if (!crit && edge_budget == 0) {
                    edges_left_out++;
                    continue;
                }
                if (!crit)
                    edge_budget--;
                double x1 = 10 + col[u] * DAG_COL_W + DAG_BOX_W, y1 = 10 + row[u] * DAG_ROW_H + 11;
                double x2 = 10 + col[v] * DAG_COL_W, y2 = 10 + row[v] * DAG_ROW_H + 11;
                double dx = (x2 - x1) / 2;
                putf(h, "<path class=\"edge%s\" d=\"M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f\"/>\n",
                     crit ? " crit" : "", x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2);
            }
        }
    for (size_t i = 0; i < m; i++) {
        size_t v = by_layer[i];
        const profile_node_t *node = &p->nodes[v];
        double x = 10 + col[v] * DAG_COL_W, y = 10 + row[v] * DAG_ROW_H;
        size_t hidden_inputs = 0;
        for (size_t d = 0; d < node->depends_on_count; d++) {
            ptrdiff_t u = node_index(p, node->depends_on[d]);
            if (u >= 0 && !h->shown[u])
                hidden_inputs++;
        }
        putf(h, "<g class=\"dag-node%s\" data-critical=\"%s\" data-layer=\"%" PRId64 "\"><title>",
             node->on_critical_path ? " crit" : "", node->on_critical_path ? "true" : "false", h->layer[v]);
        esc(h, node->node_id);
        putf(h, "\nlayer %" PRId64 " · %zu inputs", h->layer[v], node->depends_on_count);
        if (hidden_inputs)
            putf(h, " (%zu not shown)", hidden_inputs);
        putf(h, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"22\" rx=\"4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">", x, y, DAG_BOX_W, x + 6, y + 15);
        label(h, node->node_id, 24);
        put(h, "</text></g>\n");
    }
    put(h, "</svg></div>\n");
    if (edges_left_out)
        putf(h, "<p class=\"meta\">%zu edges between shown nodes not drawn.</p>\n", edges_left_out);
    put(h, "</section>\n");
done:
    free(col);
    free(row);
    free(by_layer);
}

static void bar_row(html_t *h, const char *name, bool crit, double value, double max, const char *text) {
    double pct = max > 0 ? value / max * 100.0 : 0;
    putf(h, "<tr%s><td class=\"mono\">", crit ? " class=\"crit\"" : "");
    label(h, name, REPORT_HTML_LABEL_COLUMNS);
    putf(h, "</td><td class=\"bar\"><div style=\"width:%.1f%%\"></div></td><td class=\"num\">%s</td></tr>\n",
         pct, text);
}

static void node_bars(html_t *h, const char *title, int key) {
    const profile_t *p = h->profile;
    size_t *idx = sorted_nodes(p, key);
    if (!idx) {
        h->failed = 1;
        return;
    }
    double max = 0, rest = 0;
    char text[64];
    for (size_t i = 0; i < p->node_count; i++) {
        const profile_node_t *n = &p->nodes[idx[i]];
        double v = key == 2 ? n->cost_usd : (double)n->tokens.total;
        if (i == 0)
            max = v;
        if (i >= h->max_rows)
            rest += v;
    }
    putf(h, "<h3>%s</h3>\n<table class=\"bars\" data-chart=\"%s\">\n", title, key == 2 ? "cost-node" : "tokens-node");
    for (size_t i = 0; i < p->node_count && i < h->max_rows; i++) {
        const profile_node_t *n = &p->nodes[idx[i]];
        if (key == 2)
            snprintf(text, sizeof(text), "$%.4f", n->cost_usd);
        else
            thousands(text, sizeof(text), n->tokens.total);
        bar_row(h, n->node_id, n->on_critical_path, key == 2 ? n->cost_usd : (double)n->tokens.total, max, text);
    }
    if (p->node_count > h->max_rows) {
        char t[32];
        if (key == 2)
            snprintf(text, sizeof(text), "$%.4f", rest);
        else
            snprintf(text, sizeof(text), "%s", thousands(t, sizeof(t), (int64_t)rest));
        putf(h, "<tr class=\"aggregate\"><td>%zu more nodes</td><td></td><td class=\"num\">%s</td></tr>\n",
             p->node_count - h->max_rows, text);
    }
    put(h, "</table>\n");
    free(idx);
}

static void section_usage(html_t *h) {
    const profile_t *p = h->profile;
    put(h, "<section id=\"usage\">\n<h2>Cost and tokens</h2>\n");
    if (p->node_count) {
        node_bars(h, "Cost by node", 2);
        node_bars(h, "Tokens by node", 3);
    }
    if (p->model_count) {
        double max_cost = 0, max_tokens = 0;
        for (size_t i = 0; i < p->model_count; i++) {
            if (p->by_model[i].cost_usd > max_cost)
                max_cost = p->by_model[i].cost_usd;
            if ((double)p->by_model[i].tokens.total > max_tokens)
                max_tokens = (double)p->by_model[i].tokens.total;
        }
        for (int pass = 0; pass < 2; pass++) {
            putf(h, "<h3>%s by model</h3>\n<table class=\"bars\" data-chart=\"%s\">\n",
                 pass ? "Tokens" : "Cost", pass ? "tokens-model" : "cost-model");
            for (size_t i = 0; i < p->model_count && i < h->max_rows; i++) {
                const profile_model_usage_t *u = &p->by_model[i];
                char text[96], t[32];
                if (pass)
                    snprintf(text, sizeof(text), "%s · %" PRId64 " calls", thousands(t, sizeof(t), u->tokens.total),
                             u->calls);
                else
                    snprintf(text, sizeof(text), "$%.4f", u->cost_usd);
                bar_row(h, u->model, false, pass ? (double)u->tokens.total : u->cost_usd,
                        pass ? max_tokens : max_cost, text);
            }
            if (p->model_count > h->max_rows)
                putf(h, "<tr class=\"aggregate\"><td>%zu more models</td><td></td><td></td></tr>\n",
                     p->model_count - h->max_rows);
            put(h, "</table>\n");
        }
    }
    put(h, "</section>\n");
}

static void section_findings(html_t *h) {
    const profile_t *p = h->profile;
    char a[32], t[32];
    put(h, "<section id=\"bottlenecks\">\n<h2>Bottlenecks</h2>\n");
    if (!p->bottleneck_count)
        put(h, "<p class=\"meta\">None.</p>\n");
    else
        put(h, "<table><tr><th>type</th><th>node</th><th>severity</th><th>impact</th><th>details</th></tr>\n");
    for (size_t i = 0; i < p->bottleneck_count && i < h->max_rows; i++) {
        const profile_bottleneck_t *b = &p->bottlenecks[i];
        const char *level = profile_level_name(b->severity);
        putf(h, "<tr class=\"bottleneck\"><td>%s</td><td class=\"mono\">", profile_bottleneck_type_name(b->type));
        label(h, b->node_id, REPORT_HTML_LABEL_COLUMNS);
        putf(h, "</td><td class=\"level-%s\">%s</td><td class=\"num\">%.1f%%</td><td>", level, level, b->impact_pct);
        esc(h, b->details);
        put(h, "</td></tr>\n");
    }
    if (p->bottleneck_count)
        put(h, "</table>\n");
    if (p->bottleneck_count > h->max_rows)
        putf(h, "<p class=\"meta\">… %zu more bottlenecks.</p>\n", p->bottleneck_count - h->max_rows);
    put(h, "</section>\n<section id=\"recommendations\">\n<h2>Recommendations</h2>\n");
    if (!p->recommendation_count)
        put(h, "<p class=\"meta\">None.</p>\n");
    else
        put(h, "<ol>\n");
    for (size_t i = 0; i < p->recommendation_count && i < h->max_rows; i++) {
        const profile_recommendation_t *r = &p->recommendations[i];
        const char *level = profile_level_name(r->priority);
        putf(h, "<li class=\"recommendation\"><strong>%s</strong> <span class=\"level-%s\">(%s priority)</span>"
                "<br><span class=\"meta\">nodes:</span> <span class=\"mono\">",
             profile_recommendation_type_name(r->type), level, level);
        for (size_t k = 0; k < r->node_id_count && k < MAX_REC_NODES; k++) {
            if (k)
                put(h, ", ");
            label(h, r->node_ids[k], REPORT_HTML_LABEL_COLUMNS);
        }
        if (r->node_id_count > MAX_REC_NODES)
            putf(h, " … %zu more", r->node_id_count - MAX_REC_NODES);
        putf(h, "</span><br><span class=\"meta\">saves:</span> <span class=\"savings\">time %s, tokens %s, "
                "cost $%.4f</span><br>",
             duration(a, sizeof(a), r->savings.time_us), thousands(t, sizeof(t), r->savings.tokens),
             r->savings.cost_usd);
        esc(h, r->description);
        if (r->action && *r->action) {
            put(h, "<br><span class=\"meta\">action:</span> ");
            esc(h, r->action);
        }
        put(h, "</li>\n");
    }
    if (p->recommendation_count)
        put(h, "</ol>\n");
    if (p->recommendation_count > h->max_rows)
        putf(h, "<p class=\"meta\">… %zu more recommendations.</p>\n", p->recommendation_count - h->max_rows);
    put(h, "</section>\n<section id=\"warnings\">\n<h2>Warnings</h2>\n");
    if (!p->warning_count)
        put(h, "<p class=\"meta\">None.</p>\n");
    else
        put(h, "<ul>\n");
    for (size_t i = 0; i < p->warning_count && i < h->max_rows; i++) {
        put(h, "<li class=\"warning\">");
        esc(h, p->warnings[i]);
        put(h, "</li>\n");
    }
    if (p->warning_count)
        put(h, "</ul>\n");
    if (p->warning_count > h->max_rows)
        putf(h, "<p class=\"meta\">… %zu more warnings.</p>\n", p->warning_count - h->max_rows);
    put(h, "</section>\n<footer>dagprof · self-contained report: no script, no network.</footer>\n"
           "</body>\n</html>\n");
}

/* ---------------------------------------------------------------- entry */

void report_html_options_init(report_html_options_t *options) {
    memset(options, 0, sizeof(*options));
    options->max_rows = REPORT_HTML_DEFAULT_MAX_ROWS;
}

int report_write_html(const profile_t *profile, const report_html_options_t *options, buf_t *out) {
    report_html_options_t defaults;
    if (!options) {
        report_html_options_init(&defaults);
        options = &defaults;
    }
    html_t h;
    memset(&h, 0, sizeof(h));
    h.profile = profile;
    h.trace = options->trace;
    h.out = out;
    h.max_rows = options->max_rows ? options->max_rows : REPORT_HTML_DEFAULT_MAX_ROWS;
    if (h.max_rows > REPORT_HTML_MAX_ROWS_LIMIT)
        h.max_rows = REPORT_HTML_MAX_ROWS_LIMIT;
    size_t start_len = out->len, n = profile->node_count ? profile->node_count : 1;
    h.shown = calloc(n, sizeof(*h.shown));
    h.layer = calloc(n, sizeof(*h.layer));
    h.crit_pos = malloc(n * sizeof(*h.crit_pos));
    size_t *by_start = NULL;
    if (!h.shown || !h.layer || !h.crit_pos || compute_layers(&h) != 0)
        goto fail;
    for (size_t i = 0; i < profile->node_count; i++)
        h.crit_pos[i] = -1;
    for (size_t i = 0; i < profile->critical_path_count; i++) {
        ptrdiff_t k = node_index(profile, profile->critical_path[i]);
        if (k >= 0)
            h.crit_pos[k] = (int64_t)i;
    }
    h.shown_count = report_html_select(profile, h.max_rows, h.shown);
    by_start = sorted_nodes(profile, 1);
    h.order = malloc(n * sizeof(*h.order));
    if (!by_start || !h.order || (h.trace && index_attempts(&h) != 0))
        goto fail;
    size_t r = 0;
    for (size_t i = 0; i < profile->node_count; i++)
        if (h.shown[by_start[i]])
            h.order[r++] = by_start[i];

    section_head(&h);
    section_summary(&h);
    if (profile->node_count) {
        section_gantt(&h);
        section_dag(&h);
    }
    section_usage(&h);
    section_findings(&h);
    if (h.failed)
        goto fail;
    free(by_start);
    free(h.order);
    free(h.shown);
    free(h.layer);
    free(h.crit_pos);
    free(h.attempt_first);
    free(h.attempt_span);
    return 0;
fail:
    buf_truncate(out, start_len);
    free(by_start);
    free(h.order);
    free(h.shown);
    free(h.layer);
    free(h.crit_pos);
    free(h.attempt_first);
    free(h.attempt_span);
    return -1;
}
