/* trends_live.c -- `dagprof trends` from Redis. See trends_live.h. */
#include "trends_live.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_store.h"
#include "fleet_view.h"
#include "trend_record.h"

#define BAR_WIDTH 30

static void bar(FILE *out, double share) {
    int n = (int)(share * BAR_WIDTH + 0.5);
    if (n < 0)
        n = 0;
    if (n > BAR_WIDTH)
        n = BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++)
        fputs(i < n ? "#" : ".", out);
}

static void text_stat(FILE *out, const char *name, const baseline_stat_t *s, double scale, const char *unit) {
    fprintf(out, "  %-20s %12.3f %12.3f %12.3f %12.3f  %s\n", name, s->mean / scale, s->p50 / scale, s->p95 / scale,
            s->p99 / scale, unit);
}

static void text_figures(FILE *out, const baseline_figures_t *f) {
    fprintf(out, "%s%s%s  window %s  runs %lld  (%.1f per day)\n", f->dag_id, f->version[0] ? " @" : "", f->version,
            baseline_window_name(f->window), (long long)f->runs, f->runs_per_day);
    fprintf(out, "  %-20s %12s %12s %12s %12s\n", "", "mean", "p50", "p95", "p99");
    text_stat(out, "wall", &f->wall_us, 1e6, "s");
    text_stat(out, "cost", &f->cost_usd, 1, "USD");
    text_stat(out, "tokens", &f->tokens, 1, "");
    text_stat(out, "schedule efficiency", &f->schedule_efficiency, 1, "");
    fprintf(out, "  nodes %-18s %10s %10s %10s  critical path\n", "", "exec p50", "exec p95", "cost");
    for (size_t i = 0; i < f->node_count; i++) {
        const baseline_node_figures_t *n = &f->nodes[i];
        fprintf(out, "  %-24s %9.3fs %9.3fs %9.1f%%  ", n->node_id, n->exec_us.p50 / 1e6, n->exec_us.p95 / 1e6,
                100 * n->cost_share);
        bar(out, n->critical_path_share);
        fprintf(out, " %5.1f%%\n", 100 * n->critical_path_share);
    }
    fprintf(out, "  cost by model\n");
    for (size_t i = 0; i < f->model_count; i++) {
        const baseline_model_figures_t *m = &f->models[i];
        fprintf(out, "  %-24s ", m->model);
        bar(out, m->cost_share);
        fprintf(out, " %5.1f%%  %lld calls\n", 100 * m->cost_share, (long long)m->calls);
    }
    fprintf(out, "  projected cost: %.2f USD per day, %.2f USD per month\n\n", f->projected_cost_day_usd,
            f->projected_cost_month_usd);
}

static void free_runs(baseline_run_t **runs, size_t n) {
    for (size_t i = 0; i < n; i++)
        baseline_run_free(runs[i]);
    free(runs);
}

static int compare(baseline_store_t *store, const trends_live_options_t *o, FILE *out, char *errstr,
                   size_t errstr_size) {
    int rc = -1;
    baseline_figures_t *fa = NULL, *fb = NULL;
    baseline_run_t **ra = NULL, **rb = NULL;
    size_t na = 0, nb = 0;
    baseline_comparison_t *c = NULL;
    if (fleet_view_load(store, o->dag_id, o->compare_a, o->window, &fa, &ra, &na, NULL, errstr, errstr_size) != 0 ||
        fleet_view_load(store, o->dag_id, o->compare_b, o->window, &fb, &rb, &nb, NULL, errstr, errstr_size) != 0)
        goto done;
    if (na == 0 || nb == 0) {
        snprintf(errstr, errstr_size, "no runs of DAG \"%s\" version \"%s\" in Redis (window %s)", o->dag_id,
                 na == 0 ? o->compare_a : o->compare_b, baseline_window_name(o->window));
        rc = 1;
        goto done;
    }
    c = baseline_compare((const baseline_run_t *const *)ra, na, (const baseline_run_t *const *)rb, nb, errstr,
                         errstr_size);
    if (!c)
        goto done;
    if (o->json) {
        json_t *nodes = json_array();
        for (size_t i = 0; i < c->node_count; i++)
            json_array_append_new(nodes, json_pack("{s:s,s:I,s:I,s:f,s:f,s:f}", "node_id", c->nodes[i].node_id,
                                                   "runs_a", (json_int_t)c->nodes[i].runs_a, "runs_b",
                                                   (json_int_t)c->nodes[i].runs_b, "exec_p50_a_us",
                                                   c->nodes[i].exec_p50_a_us, "exec_p50_b_us",
                                                   c->nodes[i].exec_p50_b_us, "rel_diff", c->nodes[i].rel_diff));
        json_t *side[2];
        const baseline_side_t *sides[2] = {&c->a, &c->b};
        for (int i = 0; i < 2; i++)
            side[i] = json_pack("{s:s,s:I,s:{s:f,s:f},s:{s:f,s:f}}", "version", i ? o->compare_b : o->compare_a,
                                "runs", (json_int_t)sides[i]->runs, "wall_us", "p50", sides[i]->wall_p50_us, "p95",
                                sides[i]->wall_p95_us, "cost_usd", "p50", sides[i]->cost_p50_usd, "p95",
                                sides[i]->cost_p95_usd);
        json_t *j = json_pack("{s:s,s:s,s:o,s:o,s:{s:f,s:f,s:f},s:{s:f,s:f,s:f},s:o,s:s}", "dag_id", o->dag_id,
                              "window", baseline_window_name(o->window), "a", side[0], "b", side[1], "wall",
                              "p50_rel", c->wall_p50_rel, "p95_rel", c->wall_p95_rel, "p_value", c->wall_test.p_value,
                              "cost", "p50_rel", c->cost_p50_rel, "p95_rel", c->cost_p95_rel, "p_value",
                              c->cost_test.p_value, "nodes", nodes, "summary", c->summary);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text) {
            snprintf(errstr, errstr_size, "out of memory");
            goto done;
        }
        fprintf(out, "%s\n", text);
        free(text);
    } else {
        fprintf(out, "%s: A = version \"%s\" (%lld runs), B = version \"%s\" (%lld runs), window %s\n", o->dag_id,
                o->compare_a, (long long)c->a.runs, o->compare_b, (long long)c->b.runs,
                baseline_window_name(o->window));
        fprintf(out, "  %-12s %12s %12s %12s %12s\n", "", "A p50", "B p50", "A p95", "B p95");
        fprintf(out, "  %-12s %11.3fs %11.3fs %11.3fs %11.3fs\n", "wall", c->a.wall_p50_us / 1e6,
                c->b.wall_p50_us / 1e6, c->a.wall_p95_us / 1e6, c->b.wall_p95_us / 1e6);
        fprintf(out, "  %-12s %12.4f %12.4f %12.4f %12.4f  USD\n", "cost", c->a.cost_p50_usd, c->b.cost_p50_usd,
                c->a.cost_p95_usd, c->b.cost_p95_usd);
        fprintf(out, "  per node (exec p50)\n");
        for (size_t i = 0; i < c->node_count; i++)
            fprintf(out, "  %-24s %10.3fs %10.3fs %+7.1f%%\n", c->nodes[i].node_id, c->nodes[i].exec_p50_a_us / 1e6,
                    c->nodes[i].exec_p50_b_us / 1e6, 100 * c->nodes[i].rel_diff);
        fprintf(out, "  %s\n", c->summary);
    }
    rc = 0;
done:
    baseline_comparison_free(c);
    baseline_figures_free(fa);
    baseline_figures_free(fb);
    free_runs(ra, na);
    free_runs(rb, nb);
    return rc;
}

int trends_live_run(const trends_live_options_t *o, FILE *out, char *errstr, size_t errstr_size) {
    int rc = -1;
    baseline_store_dag_t *dags = NULL;
    size_t count = 0;
    json_t *list = NULL;
    const char *only = o->dag_id && o->dag_id[0] ? o->dag_id : NULL;
    if (o->compare_a && o->compare_b && !only) {
        snprintf(errstr, errstr_size, "--compare of two versions needs --dag ID");
        return 1;
    }
    baseline_store_t *store = baseline_store_new(&o->store, errstr, errstr_size);
    if (!store)
        return -1;
    if (o->compare_a && o->compare_b) {
        rc = compare(store, o, out, errstr, errstr_size);
        goto done;
    }
    if (baseline_store_dags(store, &dags, &count, errstr, errstr_size) != 0)
        goto done;
    list = json_array();
    size_t shown = 0;
    for (size_t i = 0; i < count; i++) {
        if (only && strcmp(dags[i].dag_id, only) != 0)
            continue;
        baseline_figures_t *f = NULL;
        size_t skipped = 0;
        if (fleet_view_load(store, dags[i].dag_id, dags[i].version, o->window, &f, NULL, NULL, &skipped, errstr,
                            errstr_size) != 0)
            goto done;
        if (skipped)
            fprintf(stderr, "dagprof trends: %s: %zu stored run record(s) could not be read and were left out\n",
                    dags[i].dag_id, skipped);
        if (f->runs > 0) {
            shown++;
            if (o->json)
                json_array_append_new(list, trend_record_json(f, NULL));
            else
                text_figures(out, f);
        }
        baseline_figures_free(f);
    }
    if (only && shown == 0) {
        snprintf(errstr, errstr_size, "no runs of DAG \"%s\" in Redis", only);
        rc = 1;
        goto done;
    }
    if (o->json) {
        json_t *root = json_pack("{s:O}", "dags", list);
        char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (!text) {
            snprintf(errstr, errstr_size, "out of memory");
            goto done;
        }
        fprintf(out, "%s\n", text);
        free(text);
    } else if (shown == 0) {
        fprintf(out, "no DAG runs in Redis yet\n");
    }
    rc = 0;
done:
    json_decref(list);
    baseline_store_dags_free(dags, count);
    baseline_store_free(store);
    return rc;
}
