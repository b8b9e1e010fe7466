/* fleet_view.h -- the live fleet view of `dagprof run`: every profile's run
 * record goes to the baseline store (baseline_store.h), each run is checked
 * against its DAG's cached 24 h baseline, and trend records go to dag-trends.
 *
 * In the profiler thread's flow:
 *
 *   profile -> fleet_view_observe (regression check against the cached
 *   baseline, a `regression` bottleneck added to the profile, the run's put
 *   queued) -> encode -> publish -> fleet_view_flush (the queued puts, one
 *   round trip; cached baselines refreshed; periodic trend records) -> finish
 *
 * The put is flushed before any trace is finished in the trace store, so a
 * crash between publishing and finishing replays the put, which the store
 * makes idempotent. Windows end at the DAG's latest run end (event time), as
 * offline (`dagprof profile --trends`): a replay of old data or a backfill
 * gives the same figures as the same runs profiled from files.
 *
 * One fleet view per thread: it owns a Redis connection. */
#ifndef DAGPROF_FLEET_VIEW_H
#define DAGPROF_FLEET_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "baseline_store.h"
#include "buf.h"
#include "metrics.h"
#include "profile.h"
#include "trace.h"
#include "trace_store.h"

/* How a trend record leaves: the stream gives its producer. Returns 0 when
 * queued. value is borrowed for the call. */
typedef int (*fleet_view_produce_cb)(void *opaque, const char *topic, const char *key, const void *value,
                                     size_t value_len);

typedef struct fleet_view_options {
    trace_store_options_t store; /* Redis connection and key prefix */
    int64_t refresh_ms;          /* cached baselines older than this are read again */
    baseline_rule_t rule;
    int64_t trend_interval_s;    /* periodic trend records; 0: none */
    size_t metrics_top;          /* DAGs with baseline gauges */
    const char *trends_topic;
    int output_format;           /* output_format_kind_t of trend records */
    fleet_view_produce_cb produce;
    void *produce_opaque;
    metrics_t *metrics;          /* may be NULL */
} fleet_view_options_t;

typedef struct fleet_view fleet_view_t;

/* NULL with errstr when Redis cannot be reached. Free with fleet_view_free()
 * after the last flush. */
fleet_view_t *fleet_view_new(const fleet_view_options_t *options, char *errstr, size_t errstr_size);
void fleet_view_free(fleet_view_t *view);

/* Before the profile is published: check the run against its DAG's cached
 * baseline (read from Redis when older than refresh_ms), add a `regression`
 * bottleneck to the profile per regression found (and publish a trend record
 * with them), and queue the run's put. Returns the number of regressions, or
 * -1 with errstr when the run could not be recorded (the profile is then
 * still good to publish; the put is lost only if no later flush succeeds,
 * which the caller's finish ordering prevents). */
int fleet_view_observe(fleet_view_t *view, const trace_t *trace, profile_t *profile, int64_t now_ms,
                       char *errstr, size_t errstr_size);

/* Put every queued run (one round trip), then refresh stale cached baselines
 * and publish the periodic trend records that are due. Returns 0 when no put
 * is left queued (traces may be finished), -1 with errstr when Redis failed:
 * the puts stay queued for the next call. */
int fleet_view_flush(fleet_view_t *view, int64_t now_ms, char *errstr, size_t errstr_size);

/* Runs queued and not yet put. */
size_t fleet_view_pending(const fleet_view_t *view);

/* Redis round trips and commands of the fleet view so far. */
uint64_t fleet_view_round_trips(const fleet_view_t *view);
uint64_t fleet_view_commands(const fleet_view_t *view);

/* ---- reading baselines (dagprof trends) ------------------------------- */

/* The figures of one DAG and version over `window`, ending at its latest run
 * end, as the runs stored now give them. With runs_out, the runs counted are
 * also returned (array of *runs_count records; free each with
 * baseline_run_free() and the array with free()). Records that do not decode
 * are skipped and counted in *skipped (may be NULL). 0, or -1 with errstr. */
int fleet_view_load(baseline_store_t *store, const char *dag_id, const char *version, baseline_window_t window,
                    baseline_figures_t **figures_out, baseline_run_t ***runs_out, size_t *runs_count,
                    size_t *skipped, char *errstr, size_t errstr_size);

#endif
