/* fleet_view.c -- live baselines of `dagprof run`: queue each run's record,
 * check it against the cached baseline of its DAG and version, put the queue
 * in one round trip, publish trend records. See fleet_view.h. */
#include "fleet_view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "trend_publish.h"

/* Runs are read from this long before the newest run start minus the window,
 * so that a run that started earlier and ended later (a long run) still sets
 * the window's end as offline, where the end is the latest run end. */
#define FLEET_VIEW_READ_MARGIN_MS (3600LL * 1000)

/* One queued put: the run's record, encoded. */
typedef struct fv_put {
    char *dag_id, *version, *trace_id;
    int64_t run_start_ms, revision;
    uint8_t *record;
    size_t record_len;
} fv_put_t;

/* A DAG and version this instance has profiled: its cached 24 h figures. */
typedef struct fv_entry {
    char *dag_id, *version;
    baseline_figures_t *figures; /* NULL until first read */
    int64_t refreshed_ms;        /* 0: never */
    int64_t trend_interval;      /* the last periodic interval handled */
} fv_entry_t;

struct fleet_view {
    fleet_view_options_t opt;
    char *trends_topic;
    baseline_store_t *store;
    fv_put_t *queue;
    size_t queue_count, queue_cap;
    fv_entry_t *entries;
    size_t entry_count, entry_cap;
    trend_publish_t *trends; /* the trend record encoder */
    buf_t scratch;
};

fleet_view_t *fleet_view_new(const fleet_view_options_t *options, char *errstr, size_t errstr_size) {
    fleet_view_t *view = calloc(1, sizeof(*view));
    if (!view) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    view->opt = *options;
    view->trends_topic = strdup(options->trends_topic ? options->trends_topic : "dag-trends");
    if (!view->trends_topic) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    view->opt.trends_topic = view->trends_topic;
    view->store = baseline_store_new(&options->store, errstr, errstr_size);
    if (!view->store)
        goto fail;
    view->trends = trend_publish_new(options->output_format, errstr, errstr_size);
    if (!view->trends)
        goto fail;
    return view;
fail:
    fleet_view_free(view);
    return NULL;
}

static void fv_put_free(fv_put_t *p) {
    free(p->dag_id);
    free(p->version);
    free(p->trace_id);
    free(p->record);
}

void fleet_view_free(fleet_view_t *view) {
    if (!view)
        return;
    for (size_t i = 0; i < view->queue_count; i++)
        fv_put_free(&view->queue[i]);
    free(view->queue);
    for (size_t i = 0; i < view->entry_count; i++) {
        free(view->entries[i].dag_id);
        free(view->entries[i].version);
        baseline_figures_free(view->entries[i].figures);
    }
    free(view->entries);
    baseline_store_free(view->store);
    trend_publish_free(view->trends);
    buf_free(&view->scratch);
    free(view->trends_topic);
    free(view);
}

size_t fleet_view_pending(const fleet_view_t *view) {
    return view->queue_count;
}

uint64_t fleet_view_round_trips(const fleet_view_t *view) {
    return baseline_store_round_trips(view->store);
}

uint64_t fleet_view_commands(const fleet_view_t *view) {
    return baseline_store_commands(view->store);
}

/* ---- reading a window ------------------------------------------------- */

typedef struct fv_reader {
    baseline_run_t **runs;
    size_t count, cap;
    size_t skipped;
    int oom;
} fv_reader_t;

static int fv_collect(void *opaque, const char *trace_id, int64_t revision, const void *record, size_t len) {
    fv_reader_t *r = opaque;
    (void)revision;
    char err[256];
    baseline_run_t *run = baseline_run_decode(record, len, err, sizeof(err));
    if (!run) {
        /* a record this version cannot read: said once per read, never counted */
        if (r->skipped++ == 0)
            log_event(LOG_WARN, "baseline_record_unreadable", "trace_id=%s error=\"%s\"", trace_id, err);
        return 0;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        baseline_run_t **grown = realloc(r->runs, cap * sizeof(*grown));
        if (!grown) {
            baseline_run_free(run);
            r->oom = 1;
            return 1;
        }
        r->runs = grown;
        r->cap = cap;
    }
    r->runs[r->count++] = run;
    return 0;
}

int fleet_view_load(baseline_store_t *store, const char *dag_id, const char *version, baseline_window_t window,
                    baseline_figures_t **figures_out, baseline_run_t ***runs_out, size_t *runs_count,
                    size_t *skipped, char *errstr, size_t errstr_size) {
    int rc = -1;
    fv_reader_t r = {0};
    baseline_t *baseline = NULL;
    *figures_out = NULL;
    if (runs_out) {
        *runs_out = NULL;
        *runs_count = 0;
    }
    int64_t newest_ms = 0;
    int found = 0;
    if (baseline_store_newest(store, dag_id, version, &newest_ms, &found, errstr, errstr_size) != 0)
        return -1;
    int64_t window_ms = baseline_window_us(window) / 1000;
    if (found) {
        int st = baseline_store_read(store, dag_id, version, newest_ms - window_ms - FLEET_VIEW_READ_MARGIN_MS,
                                     INT64_MAX, fv_collect, &r, errstr, errstr_size);
        if (st != 0 || r.oom) {
            if (r.oom)
                snprintf(errstr, errstr_size, "out of memory reading the runs of %s", dag_id);
            goto done;
        }
    }
    /* the window ends at the latest run end, as offline */
    int64_t end_us = 0;
    for (size_t i = 0; i < r.count; i++)
        if (r.runs[i]->run_start_us + r.runs[i]->wall_us > end_us)
            end_us = r.runs[i]->run_start_us + r.runs[i]->wall_us;
    baseline = baseline_new(dag_id, version, window, end_us);
    if (!baseline) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    size_t kept = 0;
    for (size_t i = 0; i < r.count; i++) {
        int added = baseline_add(baseline, r.runs[i], errstr, errstr_size);
        if (added < 0)
            goto done;
        if (added && runs_out)
            r.runs[kept++] = r.runs[i];
        else
            baseline_run_free(r.runs[i]);
        r.runs[i] = NULL;
    }
    r.count = kept;
    *figures_out = baseline_figures(baseline, errstr, errstr_size);
    if (!*figures_out)
        goto done;
    if (runs_out) {
        *runs_out = r.runs;
        *runs_count = r.count;
        r.runs = NULL;
        r.count = 0;
    }
    if (skipped)
        *skipped = r.skipped;
    rc = 0;
done:
    for (size_t i = 0; i < r.count; i++)
        baseline_run_free(r.runs[i]);
    free(r.runs);
    baseline_free(baseline);
    return rc;
}

/* ---- the cache of baselines -------------------------------------------- */

static fv_entry_t *fv_entry(fleet_view_t *view, const char *dag_id, const char *version) {
    for (size_t i = 0; i < view->entry_count; i++)
        if (strcmp(view->entries[i].dag_id, dag_id) == 0 && strcmp(view->entries[i].version, version) == 0)
            return &view->entries[i];
    if (view->entry_count == view->entry_cap) {
        size_t cap = view->entry_cap ? 2 * view->entry_cap : 16;
        fv_entry_t *grown = realloc(view->entries, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        view->entries = grown;
        view->entry_cap = cap;
    }
    fv_entry_t *e = &view->entries[view->entry_count];
    memset(e, 0, sizeof(*e));
    e->dag_id = strdup(dag_id);
    e->version = strdup(version);
    if (!e->dag_id || !e->version) {
        free(e->dag_id);
        free(e->version);
        return NULL;
    }
    view->entry_count++;
    return e;
}

/* Read the entry's 24 h figures again; on failure the old ones stay. */
static void fv_refresh(fleet_view_t *view, fv_entry_t *e, int64_t now_ms) {
    char err[512];
    baseline_figures_t *figures = NULL;
    e->refreshed_ms = now_ms; /* also on failure: not again at once */
    if (fleet_view_load(view->store, e->dag_id, e->version, BASELINE_WINDOW_24H, &figures, NULL, NULL, NULL, err,
                        sizeof(err)) != 0) {
        log_event(LOG_WARN, "baseline_refresh_failed", "dag_id=%s version=%s error=\"%s\"", e->dag_id, e->version,
                  err);
        return;
    }
    baseline_figures_free(e->figures);
    e->figures = figures;
}

static int fv_stale(const fleet_view_t *view, const fv_entry_t *e, int64_t now_ms) {
    return e->refreshed_ms == 0 || now_ms - e->refreshed_ms >= view->opt.refresh_ms;
}

/* ---- trend records ------------------------------------------------------ */

/* In output.format's encoding: Avro of schemas/trend.avsc, or its JSON. */
static void fv_publish_trend(fleet_view_t *view, const baseline_figures_t *figures,
                             const baseline_regressions_t *regressions, const char *trace_id,
                             int64_t now_ms) {
    char err[512];
    buf_reset(&view->scratch);
    if (trend_publish_encode(view->trends, figures, now_ms * 1000, regressions, trace_id,
                             &view->scratch, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "trend_encode_failed", "dag_id=%s error=\"%s\"", figures->dag_id, err);
        return;
    }
    if (!view->opt.produce ||
        view->opt.produce(view->opt.produce_opaque, view->trends_topic, figures->dag_id, view->scratch.data,
                          view->scratch.len) != 0)
        log_event(LOG_WARN, "trend_publish_failed", "dag_id=%s", figures->dag_id);
}

/* ---- observe and flush -------------------------------------------------- */

/* Severity of a regression by how far above the p95 it is. */
static profile_level_t fv_severity(double ratio) {
    return ratio >= 3 ? PROFILE_LEVEL_HIGH : ratio >= 2 ? PROFILE_LEVEL_MEDIUM : PROFILE_LEVEL_LOW;
}

/* Share of the run at stake: the part above the baseline's p95, of the wall
 * time (of the cost, for a cost regression), 0..100. */
static double fv_impact(const profile_t *profile, const baseline_regression_t *reg) {
    double whole = reg->what == BASELINE_REGRESSION_COST ? profile->summary.cost_usd : (double)profile->summary.wall_us;
    if (whole <= 0)
        return 0;
    double pct = 100.0 * (reg->value - reg->baseline_p95) / whole;
    return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

/* Add the regressions to the profile's bottlenecks, keeping them by impact,
 * largest first. 0, or -1 on OOM (the profile is unchanged then). */
static int fv_add_bottlenecks(profile_t *profile, const baseline_regressions_t *regs) {
    size_t n = profile->bottleneck_count + regs->count;
    profile_bottleneck_t *all = profile_alloc(profile, n * sizeof(*all));
    if (!all)
        return -1;
    memcpy(all, profile->bottlenecks, profile->bottleneck_count * sizeof(*all));
    size_t count = profile->bottleneck_count;
    for (size_t i = 0; i < regs->count; i++) {
        const baseline_regression_t *reg = &regs->items[i];
        profile_bottleneck_t b = {BOTTLENECK_REGRESSION, NULL, fv_severity(reg->ratio), fv_impact(profile, reg), NULL};
        if ((reg->node_id && !(b.node_id = profile_strdup(profile, reg->node_id))) ||
            (reg->details && !(b.details = profile_strdup(profile, reg->details))))
            return -1;
        size_t at = count;
        while (at > 0 && all[at - 1].impact_pct < b.impact_pct)
            at--;
        memmove(&all[at + 1], &all[at], (count - at) * sizeof(*all));
        all[at] = b;
        count++;
    }
    profile->bottlenecks = all;
    profile->bottleneck_count = count;
    return 0;
}

static int fv_queue(fleet_view_t *view, const baseline_run_t *run, char *errstr, size_t errstr_size) {
    if (view->queue_count == view->queue_cap) {
        size_t cap = view->queue_cap ? 2 * view->queue_cap : 64;
        fv_put_t *grown = realloc(view->queue, cap * sizeof(*grown));
        if (!grown) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        view->queue = grown;
        view->queue_cap = cap;
    }
    fv_put_t p = {0};
    p.dag_id = strdup(run->dag_id);
    p.version = strdup(run->version ? run->version : "");
    p.trace_id = strdup(run->trace_id);
    p.run_start_ms = run->run_start_us / 1000;
    p.revision = run->revision;
    if (!p.dag_id || !p.version || !p.trace_id) {
        snprintf(errstr, errstr_size, "out of memory");
        fv_put_free(&p);
        return -1;
    }
    if (baseline_run_encode(run, &p.record, &p.record_len, errstr, errstr_size) != 0) {
        fv_put_free(&p);
        return -1;
    }
    view->queue[view->queue_count++] = p;
    return 0;
}

int fleet_view_observe(fleet_view_t *view, const trace_t *trace, profile_t *profile, int64_t now_ms,
                       char *errstr, size_t errstr_size) {
    int rc = -1;
    baseline_regressions_t regs = {0};
    baseline_run_t *run = baseline_run_from_profile(profile, baseline_trace_version(trace), errstr, errstr_size);
    if (!run)
        return -1;
    fv_entry_t *e = fv_entry(view, run->dag_id, run->version ? run->version : "");
    if (!e) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    if (fv_stale(view, e, now_ms))
        fv_refresh(view, e, now_ms);
    if (e->figures) {
        if (baseline_check(e->figures, run, &view->opt.rule, &regs, errstr, errstr_size) != 0)
            goto done;
        if (regs.count > 0) {
            if (fv_add_bottlenecks(profile, &regs) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
            }
            for (size_t i = 0; i < regs.count; i++) {
                metrics_count_regression(view->opt.metrics, baseline_regression_what_name(regs.items[i].what));
                log_event(LOG_INFO, "regression", "dag_id=%s version=%s trace_id=%s what=%s node_id=%s ratio=%.2f",
                          run->dag_id, run->version, run->trace_id, baseline_regression_what_name(regs.items[i].what),
                          regs.items[i].node_id ? regs.items[i].node_id : "", regs.items[i].ratio);
            }
            fv_publish_trend(view, e->figures, &regs, run->trace_id, now_ms);
        }
    }
    if (fv_queue(view, run, errstr, errstr_size) != 0)
        goto done;
    rc = (int)regs.count;
done:
    baseline_regressions_free(&regs);
    baseline_run_free(run);
    return rc;
}

/* Baseline gauges of the metrics_top DAGs with the most runs. */
static void fv_metrics(fleet_view_t *view) {
    if (!view->opt.metrics)
        return;
    size_t n = 0;
    metrics_baseline_t *rows = calloc(view->entry_count ? view->entry_count : 1, sizeof(*rows));
    if (!rows)
        return;
    for (size_t i = 0; i < view->entry_count; i++) {
        const baseline_figures_t *f = view->entries[i].figures;
        if (!f || f->runs == 0)
            continue;
        rows[n++] = (metrics_baseline_t){f->dag_id,
                                         f->version,
                                         f->runs,
                                         {f->wall_us.p50 / 1e6, f->wall_us.p95 / 1e6, f->wall_us.p99 / 1e6},
                                         {f->cost_usd.p50, f->cost_usd.p95, f->cost_usd.p99}};
    }
    metrics_set_baselines(view->opt.metrics, rows, n, view->opt.metrics_top);
    free(rows);
}

int fleet_view_flush(fleet_view_t *view, int64_t now_ms, char *errstr, size_t errstr_size) {
    if (view->queue_count) {
        baseline_store_put_t *puts = calloc(view->queue_count, sizeof(*puts));
        if (!puts) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < view->queue_count; i++) {
            const fv_put_t *p = &view->queue[i];
            puts[i] = (baseline_store_put_t){p->dag_id, p->version, p->trace_id, p->run_start_ms,
                                             p->revision, p->record, p->record_len};
        }
        int rc = baseline_store_put(view->store, puts, view->queue_count, NULL, errstr, errstr_size);
        free(puts);
        if (rc != 0)
            return -1;
        metrics_count_baseline_puts(view->opt.metrics, view->queue_count);
        for (size_t i = 0; i < view->queue_count; i++)
            fv_put_free(&view->queue[i]);
        view->queue_count = 0;
    }
    int refreshed = 0;
    int64_t interval_ms = view->opt.trend_interval_s * 1000;
    for (size_t i = 0; i < view->entry_count; i++) {
        fv_entry_t *e = &view->entries[i];
        if (fv_stale(view, e, now_ms)) {
            fv_refresh(view, e, now_ms);
            refreshed = 1;
        }
        if (interval_ms <= 0)
            continue;
        int64_t interval = now_ms / interval_ms;
        if (e->trend_interval >= interval)
            continue;
        e->trend_interval = interval;
        /* with several instances, the first to claim the interval publishes */
        int won = 0;
        char err[512];
        if (baseline_store_claim_trend(view->store, e->dag_id, e->version, interval, view->opt.trend_interval_s,
                                       &won, err, sizeof(err)) != 0) {
            log_event(LOG_WARN, "trend_claim_failed", "dag_id=%s error=\"%s\"", e->dag_id, err);
            continue;
        }
        if (!won)
            continue;
        if (e->refreshed_ms != now_ms) /* the record says what the baseline is now */
            fv_refresh(view, e, now_ms);
        if (e->figures && e->figures->runs > 0)
            fv_publish_trend(view, e->figures, NULL, NULL, now_ms);
    }
    if (refreshed)
        fv_metrics(view);
    return 0;
}
