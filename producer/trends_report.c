/* trends_report.c -- the fleet view as text and JSON. See trends_report.h. */
#include "trends_report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_json.h"
#include "utf8.h"

/* ---------------------------------------------------------------- JSON */

typedef struct json_out {
    buf_t *out;
    int failed;
} json_out_t;

static void jput(json_out_t *j, const char *text) {
    if (!j->failed && buf_puts(j->out, text) != 0)
        j->failed = 1;
}

static void jstring(json_out_t *j, const char *text) {
    if (j->failed)
        return;
    if (!text) {
        jput(j, "null");
        return;
    }
    if (utf8_json_string(j->out, text) != 0)
        j->failed = 1;
}

static void jkey(json_out_t *j, const char *key) {
    jstring(j, key);
    jput(j, ":");
}

static void jdouble(json_out_t *j, double value) {
    if (!j->failed && profile_json_double(j->out, value) != 0)
        j->failed = 1;
}

static void jint(json_out_t *j, int64_t value) {
    if (!j->failed && buf_printf(j->out, "%" PRId64, value) != 0)
        j->failed = 1;
}

/* A quantile of whole units (µs, tokens): rounded, and clamped to int64. */
static void jwhole(json_out_t *j, double value) {
    if (!isfinite(value))
        value = 0;
    if (value >= 9.2e18)
        jint(j, INT64_MAX);
    else if (value <= -9.2e18)
        jint(j, INT64_MIN);
    else
        jint(j, (int64_t)llround(value));
}

static void jstat(json_out_t *j, const char *key, const baseline_stat_t *stat, int whole) {
    jkey(j, key);
    jput(j, "{\"mean\":");
    jdouble(j, stat->mean);
    const char *names[] = {",\"p50\":", ",\"p95\":", ",\"p99\":"};
    double values[] = {stat->p50, stat->p95, stat->p99};
    for (int i = 0; i < 3; i++) {
        jput(j, names[i]);
        if (whole)
            jwhole(j, values[i]);
        else
            jdouble(j, values[i]);
    }
    jput(j, "}");
}

static void jquantiles(json_out_t *j, const char *key, const baseline_quantiles_t *q) {
    jkey(j, key);
    jput(j, "{\"p50\":");
    jwhole(j, q->p50);
    jput(j, ",\"p95\":");
    jwhole(j, q->p95);
    jput(j, "}");
}

static void jdag(json_out_t *j, const trends_dag_t *dag) {
    const baseline_figures_t *f = dag->figures;
    jput(j, "{");
    jkey(j, "dag_id");
    jstring(j, f->dag_id);
    jput(j, ",");
    jkey(j, "version");
    jstring(j, f->version);
    jput(j, ",");
    jkey(j, "window");
    jstring(j, baseline_window_name(f->window));
    jput(j, ",");
    jkey(j, "window_end_us");
    jint(j, f->window_end_us);
    jput(j, ",");
    jkey(j, "runs");
    jint(j, f->runs);
    jput(j, ",");
    jkey(j, "runs_per_day");
    jdouble(j, f->runs_per_day);
    jput(j, ",");
    jstat(j, "wall_us", &f->wall_us, 1);
    jput(j, ",");
    jstat(j, "work_us", &f->work_us, 1);
    jput(j, ",");
    jstat(j, "cost_usd", &f->cost_usd, 0);
    jput(j, ",");
    jstat(j, "tokens", &f->tokens, 1);
    jput(j, ",");
    jstat(j, "schedule_efficiency", &f->schedule_efficiency, 0);
    jput(j, ",");
    jkey(j, "unpriced_runs");
    jint(j, f->unpriced_runs);
    jput(j, ",");
    jkey(j, "nodes");
    jput(j, "[");
    for (size_t i = 0; i < f->node_count; i++) {
        const baseline_node_figures_t *n = &f->nodes[i];
        jput(j, i ? ",{" : "{");
        jkey(j, "node_id");
        jstring(j, n->node_id);
        jput(j, ",");
        jkey(j, "runs");
        jint(j, n->runs);
        jput(j, ",");
        jquantiles(j, "exec_us", &n->exec_us);
        jput(j, ",");
        jquantiles(j, "blocked_us", &n->blocked_us);
        jput(j, ",");
        jkey(j, "critical_path_share");
        jdouble(j, n->critical_path_share);
        jput(j, ",");
        jkey(j, "error_rate");
        jdouble(j, n->error_rate);
        jput(j, ",");
        jkey(j, "retry_rate");
        jdouble(j, n->retry_rate);
        jput(j, ",");
        jkey(j, "cost_share");
        jdouble(j, n->cost_share);
        jput(j, "}");
    }
    jput(j, "],");
    jkey(j, "models");
    jput(j, "[");
    for (size_t i = 0; i < f->model_count; i++) {
        const baseline_model_figures_t *m = &f->models[i];
        jput(j, i ? ",{" : "{");
        jkey(j, "model");
        jstring(j, m->model);
        jput(j, ",");
        jkey(j, "calls");
        jint(j, m->calls);
        jput(j, ",");
        jkey(j, "tokens");
        jint(j, m->tokens);
        jput(j, ",");
        jkey(j, "cost_share");
        jdouble(j, m->cost_share);
        jput(j, "}");
    }
    jput(j, "],");
    jkey(j, "projected_cost_usd");
    jput(j, "{\"day\":");
    jdouble(j, f->projected_cost_day_usd);
    jput(j, ",\"month\":");
    jdouble(j, f->projected_cost_month_usd);
    jput(j, "},");
    jkey(j, "regressions");
    jput(j, "[");
    for (size_t i = 0; i < dag->regression_count; i++) {
        const trends_regression_t *r = &dag->regressions[i];
        jput(j, i ? ",{" : "{");
        jkey(j, "what");
        jstring(j, baseline_regression_what_name(r->regression.what));
        jput(j, ",");
        jkey(j, "node_id");
        jstring(j, r->regression.node_id);
        jput(j, ",");
        jkey(j, "trace_id");
        jstring(j, r->trace_id);
        jput(j, ",");
        jkey(j, "runs");
        jint(j, r->runs);
        jput(j, ",");
        jkey(j, "value");
        jdouble(j, r->regression.value);
        jput(j, ",");
        jkey(j, "baseline_p95");
        jdouble(j, r->regression.baseline_p95);
        jput(j, ",");
        jkey(j, "ratio");
        jdouble(j, r->regression.ratio);
        jput(j, ",");
        jkey(j, "details");
        jstring(j, r->regression.details);
        jput(j, "}");
    }
    jput(j, "]}");
}

int trends_report_json(const trends_dag_t *dags, size_t count, buf_t *out) {
    size_t start = out->len;
    json_out_t j = {out, 0};
    jput(&j, "{\"dags\":[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            jput(&j, ",");
        jdag(&j, &dags[i]);
    }
    jput(&j, "]}\n");
    if (j.failed) {
        buf_truncate(out, start);
        return -1;
    }
    return 0;
}

static void jside(json_out_t *j, const char *key, const char *label, const baseline_side_t *side) {
    jkey(j, key);
    jput(j, "{");
    jkey(j, "label");
    jstring(j, label);
    jput(j, ",");
    jkey(j, "runs");
    jint(j, side->runs);
    jput(j, ",\"wall_us\":{\"p50\":");
    jdouble(j, side->wall_p50_us);
    jput(j, ",\"p95\":");
    jdouble(j, side->wall_p95_us);
    jput(j, "},\"cost_usd\":{\"p50\":");
    jdouble(j, side->cost_p50_usd);
    jput(j, ",\"p95\":");
    jdouble(j, side->cost_p95_usd);
    jput(j, "}}");
}

static void jdiff(json_out_t *j, const char *key, double p50_rel, double p95_rel,
                  const baseline_rank_test_t *test) {
    jkey(j, key);
    jput(j, "{\"p50_rel\":");
    jdouble(j, p50_rel);
    jput(j, ",\"p95_rel\":");
    jdouble(j, p95_rel);
    jput(j, ",\"u\":");
    jdouble(j, test->u);
    jput(j, ",\"z\":");
    jdouble(j, test->z);
    jput(j, ",\"p_value\":");
    jdouble(j, test->p_value);
    jput(j, "}");
}

int trends_report_compare_json(const baseline_comparison_t *c, const char *label_a,
                               const char *label_b, buf_t *out) {
    size_t start = out->len;
    json_out_t j = {out, 0};
    jput(&j, "{");
    jside(&j, "a", label_a, &c->a);
    jput(&j, ",");
    jside(&j, "b", label_b, &c->b);
    jput(&j, ",");
    jdiff(&j, "wall_us", c->wall_p50_rel, c->wall_p95_rel, &c->wall_test);
    jput(&j, ",");
    jdiff(&j, "cost_usd", c->cost_p50_rel, c->cost_p95_rel, &c->cost_test);
    jput(&j, ",\"nodes\":[");
    for (size_t i = 0; i < c->node_count; i++) {
        const baseline_node_diff_t *n = &c->nodes[i];
        jput(&j, i ? ",{" : "{");
        jkey(&j, "node_id");
        jstring(&j, n->node_id);
        jput(&j, ",\"runs_a\":");
        jint(&j, n->runs_a);
        jput(&j, ",\"runs_b\":");
        jint(&j, n->runs_b);
        jput(&j, ",\"exec_p50_a_us\":");
        jdouble(&j, n->exec_p50_a_us);
        jput(&j, ",\"exec_p50_b_us\":");
        jdouble(&j, n->exec_p50_b_us);
        jput(&j, ",\"rel_diff\":");
        jdouble(&j, n->rel_diff);
        jput(&j, "}");
    }
    jput(&j, "],");
    jkey(&j, "summary");
    jstring(&j, c->summary);
    jput(&j, "}\n");
    if (j.failed) {
        buf_truncate(out, start);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- text */

static int64_t whole(double value) {
    if (!isfinite(value))
        return 0;
    if (value >= 9.2e18)
        return INT64_MAX;
    if (value <= -9.2e18)
        return INT64_MIN;
    return (int64_t)llround(value);
}

#define FIGURE_COLUMNS 21
#define STAT_COLUMNS 10

static void stat_row_duration(report_writer_t *w, const char *label, const baseline_stat_t *s) {
    char text[64];
    double values[] = {s->mean, s->p50, s->p95, s->p99};
    report_writer_spaces(w, 2);
    report_writer_cell(w, label, FIGURE_COLUMNS, false);
    for (int i = 0; i < 4; i++) {
        report_writer_duration(w, whole(values[i]), text, sizeof(text));
        report_writer_spaces(w, 1);
        report_writer_cell(w, text, STAT_COLUMNS, true);
    }
    report_writer_newline(w);
}

static void stat_row_cost(report_writer_t *w, const char *label, const baseline_stat_t *s) {
    char text[64];
    double values[] = {s->mean, s->p50, s->p95, s->p99};
    report_writer_spaces(w, 2);
    report_writer_cell(w, label, FIGURE_COLUMNS, false);
    for (int i = 0; i < 4; i++) {
        report_format_cost(values[i], text, sizeof(text));
        report_writer_spaces(w, 1);
        report_writer_cell(w, text, STAT_COLUMNS, true);
    }
    report_writer_newline(w);
}

static void stat_row_count(report_writer_t *w, const char *label, const baseline_stat_t *s) {
    char text[64];
    double values[] = {s->mean, s->p50, s->p95, s->p99};
    report_writer_spaces(w, 2);
    report_writer_cell(w, label, FIGURE_COLUMNS, false);
    for (int i = 0; i < 4; i++) {
        report_format_count(whole(values[i]), text, sizeof(text));
        report_writer_spaces(w, 1);
        report_writer_cell(w, text, STAT_COLUMNS, true);
    }
    report_writer_newline(w);
}

static void stat_row_percent(report_writer_t *w, const char *label, const baseline_stat_t *s) {
    char text[64];
    double values[] = {s->mean, s->p50, s->p95, s->p99};
    report_writer_spaces(w, 2);
    report_writer_cell(w, label, FIGURE_COLUMNS, false);
    for (int i = 0; i < 4; i++) {
        report_format_percent(values[i] * 100.0, text, sizeof(text));
        report_writer_spaces(w, 1);
        report_writer_cell(w, text, STAT_COLUMNS, true);
    }
    report_writer_newline(w);
}

static void text_line(report_writer_t *w, const char *label, const char *value) {
    report_writer_spaces(w, 2);
    report_writer_cell(w, label, FIGURE_COLUMNS, false);
    report_writer_spaces(w, 1);
    report_writer_cell(w, value, report_writer_columns(w, value), false);
    report_writer_newline(w);
}

/* Node table columns after the id: runs, exec p50/p95, blocked p50/p95,
 * critical-path share, error and retry rates, cost share. */
static const struct {
    const char *title;
    int columns;
} node_columns[] = {{"runs", 7},  {"exec p50", 9},  {"exec p95", 9}, {"blk p50", 9}, {"blk p95", 9},
                    {"critical", 8}, {"errors", 7}, {"retries", 7}, {"cost", 6}};
#define NODE_COLUMN_COUNT (sizeof(node_columns) / sizeof(node_columns[0]))

static void node_table(report_writer_t *w, const baseline_figures_t *f) {
    char text[64];
    snprintf(text, sizeof(text), "Nodes (%zu) by critical-path frequency", f->node_count);
    report_writer_section(w, text);
    if (f->node_count == 0) {
        report_writer_put(w, "  no nodes");
        report_writer_newline(w);
        return;
    }
    size_t shown = f->node_count < report_writer_max_rows(w) ? f->node_count : report_writer_max_rows(w);
    int others = 2;
    for (size_t c = 0; c < NODE_COLUMN_COUNT; c++)
        others += 1 + node_columns[c].columns;
    int name = 4;
    for (size_t i = 0; i < shown; i++) {
        int cols = report_writer_columns(w, f->nodes[i].node_id);
        if (cols > name)
            name = cols;
    }
    int room = report_writer_width(w) - others;
    if (name > room)
        name = room > 8 ? room : 8;
    report_writer_spaces(w, 2);
    report_writer_cell(w, "node", name, false);
    for (size_t c = 0; c < NODE_COLUMN_COUNT; c++) {
        report_writer_spaces(w, 1);
        report_writer_cell(w, node_columns[c].title, node_columns[c].columns, true);
    }
    report_writer_newline(w);
    for (size_t i = 0; i < shown; i++) {
        const baseline_node_figures_t *n = &f->nodes[i];
        char cells[NODE_COLUMN_COUNT][64];
        report_format_count(n->runs, cells[0], sizeof(cells[0]));
        report_writer_duration(w, whole(n->exec_us.p50), cells[1], sizeof(cells[1]));
        report_writer_duration(w, whole(n->exec_us.p95), cells[2], sizeof(cells[2]));
        report_writer_duration(w, whole(n->blocked_us.p50), cells[3], sizeof(cells[3]));
        report_writer_duration(w, whole(n->blocked_us.p95), cells[4], sizeof(cells[4]));
        report_format_percent(n->critical_path_share * 100.0, cells[5], sizeof(cells[5]));
        report_format_percent(n->error_rate * 100.0, cells[6], sizeof(cells[6]));
        report_format_percent(n->retry_rate * 100.0, cells[7], sizeof(cells[7]));
        report_format_percent(n->cost_share * 100.0, cells[8], sizeof(cells[8]));
        report_writer_spaces(w, 2);
        report_writer_cell(w, n->node_id, name, false);
        for (size_t c = 0; c < NODE_COLUMN_COUNT; c++) {
            report_writer_spaces(w, 1);
            report_writer_cell(w, cells[c], node_columns[c].columns, true);
        }
        report_writer_newline(w);
    }
    report_writer_more(w, f->node_count, "nodes");
    report_writer_spaces(w, 2);
    report_writer_wrapped(w,
                          "critical: share of runs with the node on the critical path; errors and "
                          "retries: share of the runs with the node; cost: share of the runs' cost. "
                          "blk: blocked, waiting on inputs.",
                          2, 2);
    report_writer_newline(w);
}

static int charts(report_writer_t *w, const baseline_figures_t *f) {
    size_t n = f->node_count > f->model_count ? f->node_count : f->model_count;
    const char **labels = calloc(n ? n : 1, sizeof(*labels));
    double *values = calloc(n ? n : 1, sizeof(*values));
    int rc = -1;
    if (!labels || !values)
        goto done;
    /* Critical-path frequency is a share without a chart unit: the node
     * table, sorted by it, carries it. */
    for (size_t i = 0; i < f->node_count; i++) {
        labels[i] = f->nodes[i].node_id;
        values[i] = f->nodes[i].cost_usd;
    }
    if (report_writer_bar_chart(w, "Cost by node", "no cost recorded", "nodes", true, labels, values,
                                f->node_count) != 0)
        goto done;
    for (size_t i = 0; i < f->node_count; i++)
        values[i] = f->nodes[i].exec_us.p50;
    if (report_writer_bar_chart(w, "Time by node (exec p50)", "no execution time recorded", "nodes",
                                false, labels, values, f->node_count) != 0)
        goto done;
    for (size_t i = 0; i < f->model_count; i++) {
        labels[i] = f->models[i].model;
        values[i] = f->models[i].cost_usd;
    }
    if (report_writer_bar_chart(w, "Cost by model", "no cost recorded", "models", true, labels, values,
                                f->model_count) != 0)
        goto done;
    rc = 0;
done:
    free(labels);
    free(values);
    return rc;
}

static void regressions(report_writer_t *w, const trends_dag_t *dag) {
    char text[64];
    snprintf(text, sizeof(text), "Regressions (%zu)", dag->regression_count);
    report_writer_section(w, text);
    if (dag->regression_count == 0) {
        report_writer_put(w, "  none");
        report_writer_newline(w);
        return;
    }
    for (size_t i = 0; i < dag->regression_count; i++) {
        const trends_regression_t *r = &dag->regressions[i];
        buf_t line = BUF_INIT;
        int rc = buf_printf(&line, "%s: %s; first in trace %s, %" PRId64 " run%s",
                            baseline_regression_what_name(r->regression.what),
                            r->regression.details ? r->regression.details : "",
                            r->trace_id ? r->trace_id : "?", r->runs, r->runs == 1 ? "" : "s");
        report_writer_spaces(w, 2);
        if (rc == 0)
            report_writer_wrapped(w, line.data, 2, 4);
        report_writer_newline(w);
        buf_free(&line);
    }
}

static int dag_text(report_writer_t *w, const trends_dag_t *dag) {
    const baseline_figures_t *f = dag->figures;
    bool ascii = report_writer_ascii(w);
    const char *sep = ascii ? " | " : " \xC2\xB7 ";
    char text[256], when[64], a[64], b[64];

    report_writer_bold(w, true);
    report_writer_put(w, "DAG ");
    report_writer_cell(w, f->dag_id, report_writer_columns(w, f->dag_id) < report_writer_width(w) / 2
                                         ? report_writer_columns(w, f->dag_id)
                                         : report_writer_width(w) / 2,
                       false);
    report_writer_bold(w, false);
    report_writer_newline(w);
    report_format_time(f->window_end_us, when, sizeof(when));
    report_format_count(f->runs, a, sizeof(a));
    buf_t line = BUF_INIT;
    int rc = buf_printf(&line, "version %s%swindow %s ending %s%s%s run%s%s%.1f runs/day",
                        f->version[0] ? f->version : "(none)", sep, baseline_window_name(f->window),
                        when, sep, a, f->runs == 1 ? "" : "s", sep, f->runs_per_day);
    if (rc == 0)
        report_writer_wrapped(w, line.data, 0, 0);
    report_writer_newline(w);
    buf_free(&line);

    report_writer_section(w, "Summary");
    report_writer_spaces(w, 2);
    report_writer_cell(w, "", FIGURE_COLUMNS, false);
    const char *heads[] = {"mean", "p50", "p95", "p99"};
    for (int i = 0; i < 4; i++) {
        report_writer_spaces(w, 1);
        report_writer_cell(w, heads[i], STAT_COLUMNS, true);
    }
    report_writer_newline(w);
    stat_row_duration(w, "wall", &f->wall_us);
    stat_row_duration(w, "work", &f->work_us);
    stat_row_cost(w, "cost", &f->cost_usd);
    stat_row_count(w, "tokens", &f->tokens);
    stat_row_percent(w, "schedule efficiency", &f->schedule_efficiency);
    report_format_cost(f->projected_cost_day_usd, a, sizeof(a));
    report_format_cost(f->projected_cost_month_usd, b, sizeof(b));
    snprintf(text, sizeof(text), "%s a day%s%s a month, at %.1f runs/day", a, sep, b, f->runs_per_day);
    text_line(w, "projected cost", text);
    report_format_cost(f->total_cost_usd, a, sizeof(a));
    text_line(w, "cost of the runs", a);
    report_format_count(f->unpriced_runs, a, sizeof(a));
    snprintf(text, sizeof(text), "%s%s", a,
             f->unpriced_runs ? " (a model without a price: their cost is too low)" : "");
    text_line(w, "unpriced runs", text);

    node_table(w, f);
    if (charts(w, f) != 0)
        return -1;
    regressions(w, dag);
    return 0;
}

int trends_report_text(const trends_dag_t *dags, size_t count, const report_options_t *options,
                       buf_t *out) {
    report_writer_t *w = report_writer_new(out, options);
    if (!w)
        return -1;
    if (count == 0) {
        report_writer_put(w, "no runs");
        report_writer_newline(w);
    }
    for (size_t i = 0; i < count; i++) {
        if (i)
            report_writer_newline(w);
        if (dag_text(w, &dags[i]) != 0)
            break;
    }
    return report_writer_finish(w);
}

static void format_rel(double rel, char *text, size_t size) {
    snprintf(text, size, "%+.1f%%", isfinite(rel) ? rel * 100.0 : 0.0);
}

int trends_report_compare_text(const baseline_comparison_t *c, const char *label_a,
                               const char *label_b, const report_options_t *options, buf_t *out) {
    report_writer_t *w = report_writer_new(out, options);
    if (!w)
        return -1;
    char text[64];
    buf_t line = BUF_INIT;

    report_writer_bold(w, true);
    report_writer_put(w, "Comparison");
    report_writer_bold(w, false);
    report_writer_newline(w);
    if (buf_printf(&line, "A: %s (%" PRId64 " runs)", label_a, c->a.runs) == 0)
        report_writer_wrapped(w, line.data, 0, 2);
    report_writer_newline(w);
    buf_reset(&line);
    if (buf_printf(&line, "B: %s (%" PRId64 " runs)", label_b, c->b.runs) == 0)
        report_writer_wrapped(w, line.data, 0, 2);
    report_writer_newline(w);

    report_writer_section(w, "Wall and cost");
    const char *heads[] = {"A p50", "B p50", "diff", "A p95", "B p95", "diff", "rank test"};
    report_writer_spaces(w, 2);
    report_writer_cell(w, "", 6, false);
    for (int i = 0; i < 7; i++) {
        report_writer_spaces(w, 1);
        report_writer_cell(w, heads[i], i == 6 ? 10 : 9, true);
    }
    report_writer_newline(w);
    for (int row = 0; row < 2; row++) {
        char cells[7][64];
        if (row == 0) {
            report_writer_duration(w, whole(c->a.wall_p50_us), cells[0], sizeof(cells[0]));
            report_writer_duration(w, whole(c->b.wall_p50_us), cells[1], sizeof(cells[1]));
            format_rel(c->wall_p50_rel, cells[2], sizeof(cells[2]));
            report_writer_duration(w, whole(c->a.wall_p95_us), cells[3], sizeof(cells[3]));
            report_writer_duration(w, whole(c->b.wall_p95_us), cells[4], sizeof(cells[4]));
            format_rel(c->wall_p95_rel, cells[5], sizeof(cells[5]));
            baseline_format_p(c->wall_test.p_value, cells[6], sizeof(cells[6]));
        } else {
            report_format_cost(c->a.cost_p50_usd, cells[0], sizeof(cells[0]));
            report_format_cost(c->b.cost_p50_usd, cells[1], sizeof(cells[1]));
            format_rel(c->cost_p50_rel, cells[2], sizeof(cells[2]));
            report_format_cost(c->a.cost_p95_usd, cells[3], sizeof(cells[3]));
            report_format_cost(c->b.cost_p95_usd, cells[4], sizeof(cells[4]));
            format_rel(c->cost_p95_rel, cells[5], sizeof(cells[5]));
            baseline_format_p(c->cost_test.p_value, cells[6], sizeof(cells[6]));
        }
        report_writer_spaces(w, 2);
        report_writer_cell(w, row == 0 ? "wall" : "cost", 6, false);
        for (int i = 0; i < 7; i++) {
            report_writer_spaces(w, 1);
            report_writer_cell(w, cells[i], i == 6 ? 10 : 9, true);
        }
        report_writer_newline(w);
    }
    report_writer_spaces(w, 2);
    report_writer_wrapped(w, c->summary, 2, 2);
    report_writer_newline(w);
    report_writer_spaces(w, 2);
    report_writer_wrapped(w,
                          "diff: (B - A) / A. rank test: two-sided Mann-Whitney U, normal "
                          "approximation with tie correction.",
                          2, 2);
    report_writer_newline(w);

    snprintf(text, sizeof(text), "Nodes (%zu): exec p50", c->node_count);
    report_writer_section(w, text);
    int name = 4;
    size_t shown = c->node_count < report_writer_max_rows(w) ? c->node_count : report_writer_max_rows(w);
    for (size_t i = 0; i < shown; i++) {
        int cols = report_writer_columns(w, c->nodes[i].node_id);
        if (cols > name)
            name = cols;
    }
    if (name > report_writer_width(w) / 3)
        name = report_writer_width(w) / 3;
    const char *node_heads[] = {"A runs", "B runs", "A p50", "B p50", "diff"};
    report_writer_spaces(w, 2);
    report_writer_cell(w, "node", name, false);
    for (int i = 0; i < 5; i++) {
        report_writer_spaces(w, 1);
        report_writer_cell(w, node_heads[i], 9, true);
    }
    report_writer_newline(w);
    for (size_t i = 0; i < shown; i++) {
        const baseline_node_diff_t *n = &c->nodes[i];
        char cells[5][64];
        report_format_count(n->runs_a, cells[0], sizeof(cells[0]));
        report_format_count(n->runs_b, cells[1], sizeof(cells[1]));
        report_writer_duration(w, whole(n->exec_p50_a_us), cells[2], sizeof(cells[2]));
        report_writer_duration(w, whole(n->exec_p50_b_us), cells[3], sizeof(cells[3]));
        if (n->runs_a && n->runs_b)
            format_rel(n->rel_diff, cells[4], sizeof(cells[4]));
        else
            snprintf(cells[4], sizeof(cells[4]), "%s", n->runs_a ? "only A" : "only B");
        report_writer_spaces(w, 2);
        report_writer_cell(w, n->node_id, name, false);
        for (int k = 0; k < 5; k++) {
            report_writer_spaces(w, 1);
            report_writer_cell(w, cells[k], 9, true);
        }
        report_writer_newline(w);
    }
    report_writer_more(w, c->node_count, "nodes");
    buf_free(&line);
    return report_writer_finish(w);
}
