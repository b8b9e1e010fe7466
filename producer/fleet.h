/* fleet.h -- a synthetic fleet of DAG runs, as a stream of span events.
 *
 * Feeds `dagprof loadgen`, tests and benchmarks. Pure logic: no I/O, no clock,
 * no globals. The same options (seed included) give the same stream, byte for
 * byte, on every machine.
 *
 * What a consumer of the stream can rely on:
 *
 * - Exactly `runs` runs. Every run has exactly one `run` span (parent NULL,
 *   dag_id set, name = dag_id, status ok) whose times cover every span of the run.
 * - Trace ids are "<trace_id_prefix><8 hex digits from the seed>-<run number,
 *   6+ digits>", unique within a fleet. Span ids are 16 hex digits, unique
 *   within their trace.
 * - Shapes and dag_ids (the same dag_id always has the same nodes and edges):
 *     FLEET_SHAPE_CHAIN    "chain-N", N = 3..8: step-1 -> step-2 -> ... -> step-N
 *     FLEET_SHAPE_FAN      "fanout-N", N = 3..10: split -> worker-1..worker-N -> merge
 *     FLEET_SHAPE_DIAMOND  "diamond": plan -> research, analyze -> synthesize
 *     FLEET_SHAPE_WIDE     "code-review": fetch -> 6 review-* nodes -> aggregate
 *   Each run draws its shape uniformly among the enabled ones.
 * - `node` spans: parent = the run span, node_id and dag_id set, depends_on
 *   lists nodes of the same run. A retried node (retry_fraction of nodes) has
 *   an attempt 0 span with status error, then an attempt 1 span with status ok
 *   that starts after it ended; every other node has one attempt 0 span, ok.
 * - `llm` and `tool` spans: parent = a node span, node_id and dag_id NULL (they
 *   belong to their parent's node, SPEC §1), times inside the parent's.
 *   llm: model from the default pricing table names, provider "anthropic",
 *   "openai" or "google", input 500..30000 tokens, output 50..2000,
 *   cache_read + cache_write <= input, reasoning <= output, 300 ms..20 s.
 *   tool: tool_name set, status ok or error, 10 ms..3 s.
 * - Timing: end_us >= start_us everywhere; a node starts after the latest end
 *   of its dependencies (or after the run start) plus a scheduling delay of a
 *   few ms, sometimes seconds.
 * - Order: runs are merged by export time (span end plus an exporter delay of
 *   at most 5 s), so the spans of up to `concurrency` runs interleave and,
 *   within a run, children sometimes follow their parents. The run span is
 *   usually the last span of its run, not always. Late spans aside, no span
 *   ends more than 5.005 s before the latest end already emitted.
 * - Late spans: late_fraction of the runs hold back one llm or tool span. It is
 *   emitted only after late_after_runs run spans of other runs have been
 *   emitted since the rest of its run was (or at the end of the stream when
 *   fewer follow), so a consumer has profiled the run by then and must issue a
 *   new revision.
 *
 * Memory: about 7 KB per slot (min(runs, concurrency) slots), sized once by
 * fleet_new(); afterwards only the late-span queue may grow, so steady-state
 * generation allocates nothing. */
#ifndef DAGPROF_FLEET_H
#define DAGPROF_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "span.h"

typedef struct fleet fleet_t;

enum {
    FLEET_SHAPE_CHAIN = 1 << 0,
    FLEET_SHAPE_FAN = 1 << 1,
    FLEET_SHAPE_DIAMOND = 1 << 2,
    FLEET_SHAPE_WIDE = 1 << 3,
    FLEET_SHAPE_ALL = 0xf
};

/* 2025-01-01T00:00:00Z: a fixed start, so the default stream is reproducible. */
#define FLEET_DEFAULT_START_US INT64_C(1735689600000000)
#define FLEET_MAX_CONCURRENCY 10000
#define FLEET_MAX_PREFIX_BYTES 64

typedef struct fleet_options {
    uint64_t seed;               /* default 1 */
    uint64_t runs;               /* number of DAG runs; default 1000 */
    int64_t start_us;            /* event time of the first run */
    unsigned concurrency;        /* runs in flight at once, 1..FLEET_MAX_CONCURRENCY; default 50 */
    unsigned shapes;             /* FLEET_SHAPE_* bits; default FLEET_SHAPE_ALL */
    double late_fraction;        /* share of runs with one late span, 0..1; default 0.02 */
    unsigned late_after_runs;    /* run spans of other runs before a late span; default 20 */
    double retry_fraction;       /* share of nodes failing once then retried, 0..1; default 0.05 */
    const char *trace_id_prefix; /* borrowed; fleet_new copies it; default "run-" */
} fleet_options_t;

/* Fill `options` with the defaults above. */
void fleet_options_init(fleet_options_t *options);

/* Returns a new fleet, or NULL with errstr set (bad option, out of memory).
 * Free with fleet_free(). */
fleet_t *fleet_new(const fleet_options_t *options, char *errstr, size_t errstr_size);
void fleet_free(fleet_t *fleet);

/* Next span event in production order. Returns 1 and fills *out, 0 when the
 * fleet is exhausted, -1 when out of memory (nothing consumed: call again).
 * The strings in *out are owned by the fleet and valid until the next call. */
int fleet_next(fleet_t *fleet, span_t *out);

/* 1 when the span last returned by fleet_next() was a late span, else 0. */
int fleet_last_is_late(const fleet_t *fleet);

/* Spans emitted so far, late ones included. */
uint64_t fleet_span_total(const fleet_t *fleet);

/* Distinct runs (trace ids) emitted so far; `runs` once exhausted. */
uint64_t fleet_run_total(const fleet_t *fleet);

/* Late spans emitted so far. */
uint64_t fleet_late_total(const fleet_t *fleet);

#endif
