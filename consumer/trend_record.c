/* trend_record.c -- trend records in the output format. See trend_record.h. */
#include "trend_record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static json_t *stat_json(const baseline_stat_t *s) {
    return json_pack("{s:f,s:f,s:f,s:f}", "mean", s->mean, "p50", s->p50, "p95", s->p95, "p99", s->p99);
}

static json_t *quantiles_json(const baseline_quantiles_t *q) {
    return json_pack("{s:f,s:f}", "p50", q->p50, "p95", q->p95);
}

/* The JSON shape of `dagprof trends --format json`, one DAG. */
static json_t *figures_json(const baseline_figures_t *f, const baseline_regressions_t *regs) {
    json_t *nodes = json_array(), *models = json_array(), *regressions = json_array();
    for (size_t i = 0; i < f->node_count; i++) {
        const baseline_node_figures_t *n = &f->nodes[i];
        json_array_append_new(nodes, json_pack("{s:s,s:o,s:o,s:f,s:f,s:f,s:f}", "node_id", n->node_id, "exec_us",
                                               quantiles_json(&n->exec_us), "blocked_us", quantiles_json(&n->blocked_us),
                                               "critical_path_share", n->critical_path_share, "error_rate",
                                               n->error_rate, "retry_rate", n->retry_rate, "cost_share", n->cost_share));
    }
    for (size_t i = 0; i < f->model_count; i++) {
        const baseline_model_figures_t *m = &f->models[i];
        json_array_append_new(models, json_pack("{s:s,s:I,s:I,s:f}", "model", m->model, "calls", (json_int_t)m->calls,
                                                "tokens", (json_int_t)m->tokens, "cost_share", m->cost_share));
    }
    for (size_t i = 0; regs && i < regs->count; i++) {
        const baseline_regression_t *r = &regs->items[i];
        json_array_append_new(regressions,
                              json_pack("{s:s,s:o,s:f,s:f,s:f,s:s}", "type", baseline_regression_what_name(r->what),
                                        "node_id", r->node_id ? json_string(r->node_id) : json_null(), "value", r->value,
                                        "baseline_p95", r->baseline_p95, "ratio", r->ratio, "details",
                                        r->details ? r->details : ""));
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:f,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:f,s:f},s:o}", "dag_id", f->dag_id, "version",
                     f->version, "window", baseline_window_name(f->window), "runs", (json_int_t)f->runs,
                     "runs_per_day", f->runs_per_day, "wall_us", stat_json(&f->wall_us), "cost_usd",
                     stat_json(&f->cost_usd), "tokens", stat_json(&f->tokens), "schedule_efficiency",
                     stat_json(&f->schedule_efficiency), "nodes", nodes, "models", models, "projected_cost_usd", "day",
                     f->projected_cost_day_usd, "month", f->projected_cost_month_usd, "regressions", regressions);
}

json_t *trend_record_json(const baseline_figures_t *figures, const baseline_regressions_t *regressions) {
    return figures_json(figures, regressions);
}
