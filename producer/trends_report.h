/* trends_report.h -- the fleet view as text and JSON.
 *
 * What `dagprof profile --trends` and `dagprof trends` print: for each DAG and
 * version, the baseline figures of one window (engine/baseline.h), and the
 * regressions found in its runs; for `--compare`, two sets of runs side by
 * side. The text has the look of the profile report (producer/report.h: its
 * sections, cells, bars and humanised figures); the JSON is one object:
 *
 *   {"dags": [{"dag_id", "version", "window", "window_end_us", "runs",
 *     "runs_per_day", "wall_us": {"mean", "p50", "p95", "p99"}, "work_us",
 *     "cost_usd", "tokens", "schedule_efficiency" (each {mean, p50, p95, p99}),
 *     "unpriced_runs", "nodes": [{"node_id", "runs", "exec_us": {"p50", "p95"},
 *     "blocked_us": {"p50", "p95"}, "critical_path_share", "error_rate",
 *     "retry_rate", "cost_share"}], "models": [{"model", "calls", "tokens",
 *     "cost_share"}], "projected_cost_usd": {"day", "month"},
 *     "regressions": [{"what", "node_id", "trace_id", "runs", "value",
 *     "baseline_p95", "ratio", "details"}]}]}
 *
 * Quantiles of microseconds and tokens are written as whole numbers (the
 * sketch's 1% makes fractions meaningless); means, costs, shares and rates as
 * doubles. Every writer appends one line ending in '\n' (JSON) or whole lines
 * (text) and returns 0, or -1 when memory ran out with `out` as it was. */
#ifndef DAGPROF_TRENDS_REPORT_H
#define DAGPROF_TRENDS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "buf.h"
#include "report.h"
#include "trend_avro.h"

/* One regression as the fleet view reports it: the rule that held (of the
 * first run where it held, in start order), that run's trace_id and how many
 * runs it held for; the same as a Trend record carries. */
typedef trend_regression_t trends_regression_t;

typedef struct trends_dag {
    const baseline_figures_t *figures;
    const trends_regression_t *regressions;
    size_t regression_count;
} trends_dag_t;

int trends_report_json(const trends_dag_t *dags, size_t count, buf_t *out);
int trends_report_text(const trends_dag_t *dags, size_t count, const report_options_t *options,
                       buf_t *out);

/* A comparison of runs A (`label_a`: a path or a version) with runs B. JSON:
 *   {"a": {"label", "runs", "wall_us": {"p50", "p95"}, "cost_usd": {"p50", "p95"}},
 *    "b": {...}, "wall_us": {"p50_rel", "p95_rel", "u", "z", "p_value"},
 *    "cost_usd": {...same...}, "nodes": [{"node_id", "runs_a", "runs_b",
 *    "exec_p50_a_us", "exec_p50_b_us", "rel_diff"}], "summary"} */
int trends_report_compare_json(const baseline_comparison_t *comparison, const char *label_a,
                               const char *label_b, buf_t *out);
int trends_report_compare_text(const baseline_comparison_t *comparison, const char *label_a,
                               const char *label_b, const report_options_t *options, buf_t *out);

#endif
