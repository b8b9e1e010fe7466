/* baseline.h -- fleet baselines: what a DAG's runs usually look like.
 *
 * One profile says how one run went; a fleet asks whether today's runs are
 * slower, which node is usually on the critical path and what the DAG will
 * cost this month. This module answers from per-run records:
 *
 *   profile --baseline_run_from_profile--> baseline_run_t --encode--> bytes
 *   bytes --decode--> baseline_run_t --baseline_add--> baseline_t
 *   baseline_t --baseline_figures--> baseline_figures_t --baseline_check(run)--> regressions
 *   runs A, runs B --baseline_compare--> baseline_comparison_t
 *
 * The run record is small and self-contained, so the live side (records kept
 * in Redis, one per trace) and the offline side (`dagprof profile --trends`
 * over trace files) compute their figures with the same code from the same
 * records. A baseline holds the runs of one dag_id and version within one
 * window; a run added twice (a replay) counts once and a later revision of a
 * trace replaces the earlier one, so adding is idempotent.
 *
 * Pure: no I/O, no clock (the caller gives the window's end), no globals. All
 * times are microseconds, costs USD. */
#ifndef DAGPROF_BASELINE_H
#define DAGPROF_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "trace.h"

/* ---- Per-run record ---------------------------------------------------- */

typedef struct baseline_node_run {
    const char *node_id;
    int64_t exec_us;
    int64_t blocked_us;
    bool on_critical_path;
    bool error;      /* the node's last attempt had status error */
    int32_t retries; /* as profile_node_t.retries */
    double cost_usd;
} baseline_node_run_t;

typedef struct baseline_model_run {
    const char *model;
    int64_t calls;
    int64_t tokens; /* total: input + output */
    double cost_usd;
} baseline_model_run_t;

typedef struct baseline_run {
    const char *trace_id;
    const char *dag_id;
    const char *version;  /* "" when the run is unversioned */
    int64_t revision;     /* of the profile it came from */
    bool complete;        /* the profile's: false when profiled after an idle timeout */
    int64_t run_start_us;
    int64_t wall_us;
    int64_t work_us;
    double cost_usd;
    int64_t tokens; /* total */
    double schedule_efficiency;
    int64_t unpriced_models; /* distinct models without a price */
    baseline_node_run_t *nodes; /* sorted by node_id */
    size_t node_count;
    baseline_model_run_t *models; /* sorted by model */
    size_t model_count;
} baseline_run_t;

/* The run's version, from the trace's run span (else the first span that
 * carries the dag_id): its attribute "dag.version", else "version", else ""
 * (unversioned). The string belongs to the trace. */
const char *baseline_trace_version(const trace_t *trace);

/* The record of one profiled run; `version` as baseline_trace_version() gives
 * it (NULL means ""). Everything is copied: the record owns its strings and
 * outlives the profile. NULL with errstr set when memory ran out. Free with
 * baseline_run_free(). */
baseline_run_t *baseline_run_from_profile(const profile_t *profile, const char *version,
                                          char *errstr, size_t errstr_size);

/* A deep copy, or NULL when out of memory. */
baseline_run_t *baseline_run_copy(const baseline_run_t *run);
void baseline_run_free(baseline_run_t *run);

/* Compact binary form: first byte BASELINE_RUN_FORMAT, then varints (zigzag
 * for signed values), IEEE doubles little-endian and length-prefixed strings.
 * The same record always gives the same bytes. */
#define BASELINE_RUN_FORMAT 1

/* 0 with *out (malloc'd, the caller frees it) and *out_len set, or -1 with
 * errstr set (out of memory; a string too long). */
int baseline_run_encode(const baseline_run_t *run, uint8_t **out, size_t *out_len,
                        char *errstr, size_t errstr_size);

/* The record those bytes hold, or NULL with errstr set: unknown format byte,
 * truncated or trailing bytes, a count larger than the bytes could hold, a
 * string holding a NUL, a non-finite number, out of memory (strings are
 * bytes as the trace gave them: encode never makes what decode refuses). Any input is safe to decode. Free with baseline_run_free(). */
baseline_run_t *baseline_run_decode(const uint8_t *data, size_t len,
                                    char *errstr, size_t errstr_size);

/* ---- Windows ----------------------------------------------------------- */

typedef enum baseline_window {
    BASELINE_WINDOW_1H = 0,
    BASELINE_WINDOW_24H,
    BASELINE_WINDOW_7D
} baseline_window_t;

#define BASELINE_WINDOW_COUNT 3

/* "1h", "24h", "7d"; parse returns 0 and *out, or -1 for another name. */
const char *baseline_window_name(baseline_window_t window);
int baseline_window_parse(const char *name, baseline_window_t *out);
int64_t baseline_window_us(baseline_window_t window);

/* ---- Baseline ---------------------------------------------------------- */

typedef struct baseline baseline_t;

/* The runs of `dag_id` and `version` (NULL means "") whose run_start_us lies
 * in [window_end_us - length of `window`, window_end_us]. Offline the end is
 * the latest run end (run_start_us + wall_us) among the inputs; live it is
 * now. The strings are copied. NULL when out of memory. */
baseline_t *baseline_new(const char *dag_id, const char *version, baseline_window_t window,
                         int64_t window_end_us);
void baseline_free(baseline_t *baseline);

/* Count `run` (it is copied). Returns 1 when counted (replacing an earlier
 * revision of the same trace_id), 0 when not: another dag_id or version, a
 * start outside the window, or a trace already counted with this revision or
 * a later one (so replays count once). -1 with errstr set on OOM. */
int baseline_add(baseline_t *baseline, const baseline_run_t *run,
                 char *errstr, size_t errstr_size);

/* Runs counted so far. */
size_t baseline_run_count(const baseline_t *baseline);

typedef struct baseline_stat {
    double mean; /* exact */
    double p50;  /* from the sketch: within SKETCH_RELATIVE_ERROR (sketch.h) */
    double p95;
    double p99;
} baseline_stat_t;

typedef struct baseline_quantiles {
    double p50;
    double p95;
} baseline_quantiles_t;

typedef struct baseline_node_figures {
    const char *node_id;
    int64_t runs; /* runs in which the node ran */
    baseline_quantiles_t exec_us;
    baseline_quantiles_t blocked_us;
    double critical_path_share; /* runs with the node on the critical path / all runs */
    double error_rate;          /* runs where the node ended in error / runs with the node */
    double retry_rate;          /* runs where the node retried / runs with the node */
    double cost_share;          /* the node's cost / the runs' cost; 0 when that is 0 */
    double cost_usd;            /* the node's cost over all runs */
} baseline_node_figures_t;

typedef struct baseline_model_figures {
    const char *model;
    int64_t calls;  /* over all runs */
    int64_t tokens; /* over all runs */
    double cost_usd;
    double cost_share; /* the model's cost / the runs' cost; 0 when that is 0 */
} baseline_model_figures_t;

typedef struct baseline_figures {
    const char *dag_id;
    const char *version; /* "" unversioned */
    baseline_window_t window;
    int64_t window_start_us;
    int64_t window_end_us;
    int64_t runs;
    int64_t unpriced_runs;      /* runs that called a model without a price */
    int64_t first_run_start_us; /* earliest run_start_us counted; 0 when no run */
    /* At the observed rate: runs / (window_end_us - first_run_start_us), the
     * span floored at 1 h so that a burst of runs does not project to an
     * absurd daily rate; in runs per 24 h. 0 when no run. */
    double runs_per_day;
    baseline_stat_t wall_us;
    baseline_stat_t work_us;
    baseline_stat_t cost_usd;
    baseline_stat_t tokens;
    baseline_stat_t schedule_efficiency;
    double total_cost_usd; /* over all runs */
    /* by critical_path_share, largest first, then node_id */
    baseline_node_figures_t *nodes;
    size_t node_count;
    /* by cost_usd, largest first, then model */
    baseline_model_figures_t *models;
    size_t model_count;
    double projected_cost_day_usd;   /* mean cost_usd x runs_per_day */
    double projected_cost_month_usd; /* day x 30 */
} baseline_figures_t;

/* The figures of the runs counted so far. The result owns its strings; free
 * it with baseline_figures_free(). NULL with errstr set on OOM. */
baseline_figures_t *baseline_figures(const baseline_t *baseline, char *errstr, size_t errstr_size);
void baseline_figures_free(baseline_figures_t *figures);

/* For decoders that rebuild figures from a record (schemas/trend_avro.h):
 * zeroed figures with room for the nodes and models (counts set), freed by
 * baseline_figures_free(), and strings and memory that live as long as they
 * do. NULL on OOM. */
baseline_figures_t *baseline_figures_new(size_t node_count, size_t model_count);
char *baseline_figures_strdup(baseline_figures_t *figures, const char *text, size_t len);
void *baseline_figures_alloc(baseline_figures_t *figures, size_t size); /* zeroed */

/* A node of the figures by id, or NULL. */
const baseline_node_figures_t *baseline_figures_node(const baseline_figures_t *figures,
                                                     const char *node_id);

/* ---- Regression rule --------------------------------------------------- */

typedef struct baseline_rule {
    double factor;      /* run wall or cost above factor x baseline p95; default 1.5 */
    int64_t min_runs;   /* baseline runs (for a node: runs with the node) needed; default 30 */
    double node_factor; /* node exec above node_factor x the node's p95; default 2.0 */
} baseline_rule_t;

void baseline_rule_init(baseline_rule_t *rule);

typedef enum baseline_regression_what {
    BASELINE_REGRESSION_WALL = 0, /* "wall_us" */
    BASELINE_REGRESSION_COST,     /* "cost_usd" */
    BASELINE_REGRESSION_NODE_EXEC /* "node_exec_us" */
} baseline_regression_what_t;

const char *baseline_regression_what_name(baseline_regression_what_t what);
int baseline_regression_what_parse(const char *name, baseline_regression_what_t *out);

typedef struct baseline_regression {
    baseline_regression_what_t what;
    const char *node_id; /* node_exec_us only; NULL otherwise */
    double value;        /* the run's */
    double baseline_p95;
    double ratio; /* value / baseline_p95 */
    /* one line for a bottleneck's details, e.g. "node summarize exec 3.10 s is
     * 3.1x its p95 of 1.00 s over 180 runs (24h)" */
    const char *details;
} baseline_regression_t;

typedef struct baseline_regressions {
    baseline_regression_t *items; /* wall, then cost, then nodes by ratio, largest first */
    size_t count;
} baseline_regressions_t;

/* Check `run` against `figures` (which should not include the run itself):
 * wall_us or cost_usd > rule->factor x the baseline's p95 (baseline runs >=
 * min_runs), or a node's exec_us > rule->node_factor x that node's p95 (the
 * node seen in >= min_runs runs). A p95 of 0 is no reference and never
 * triggers. `rule` NULL means the defaults. Returns 0 with *out filled
 * (count 0 when none; free with baseline_regressions_free()), or -1 with
 * errstr set on OOM. */
int baseline_check(const baseline_figures_t *figures, const baseline_run_t *run,
                   const baseline_rule_t *rule, baseline_regressions_t *out,
                   char *errstr, size_t errstr_size);
void baseline_regressions_free(baseline_regressions_t *regressions);

/* ---- Comparison of two sets of runs ------------------------------------- */

/* Exact order statistics of one side (linear interpolation between the two
 * nearest ranks, as numpy's default: the p50 of an even count is the mean of
 * the middle two). */
typedef struct baseline_side {
    int64_t runs;
    double wall_p50_us, wall_p95_us;
    double cost_p50_usd, cost_p95_usd;
} baseline_side_t;

/* Mann-Whitney U test of B against A: normal approximation with tie and
 * continuity correction, two-sided (scipy.stats.mannwhitneyu(b, a,
 * method="asymptotic")). u is U of B; p_value 1 when either side is empty or
 * every value is the same. */
typedef struct baseline_rank_test {
    double u;
    double z;
    double p_value;
} baseline_rank_test_t;

typedef struct baseline_node_diff {
    const char *node_id;
    int64_t runs_a, runs_b;           /* runs in which the node ran */
    double exec_p50_a_us, exec_p50_b_us; /* 0 on a side without the node */
    double rel_diff; /* (b - a) / a; 0 when a is 0 */
} baseline_node_diff_t;

typedef struct baseline_comparison {
    baseline_side_t a, b;
    /* (b - a) / a, 0 when a is 0: negative is faster / cheaper */
    double wall_p50_rel, wall_p95_rel;
    double cost_p50_rel, cost_p95_rel;
    baseline_rank_test_t wall_test, cost_test;
    baseline_node_diff_t *nodes; /* by node_id */
    size_t node_count;
    /* "B is 18% faster at p50 (p < 0.01), 4% more expensive (p = 0.31)" */
    const char *summary;
} baseline_comparison_t;

/* Compare runs A with runs B (any DAGs or versions: the caller chooses).
 * NULL with errstr set on OOM. Free with baseline_comparison_free(). */
baseline_comparison_t *baseline_compare(const baseline_run_t *const *runs_a, size_t n_a,
                                        const baseline_run_t *const *runs_b, size_t n_b,
                                        char *errstr, size_t errstr_size);
void baseline_comparison_free(baseline_comparison_t *comparison);

/* The wording of a p-value in summaries: "p < 0.001", "p < 0.01", "p < 0.05",
 * else "p = 0.23" (two decimals). Writes at most size - 1 bytes and a NUL. */
void baseline_format_p(double p_value, char *out, size_t size);

#endif
