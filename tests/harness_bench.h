/* harness_bench.h -- the traces and the clock of the benchmarks (tests/bench).
 *
 * bench_engine, bench_report and bench_output time the engine on the same
 * inputs: a layered DAG of a given size, and the synthetic fleet's runs as
 * `dagprof run` sees them. Sharing them here keeps the benchmarks comparable
 * with each other: a change to one input changes every figure alike.
 *
 * Plain C with no Check: benchmarks exit(1) when an input cannot be built. */
#ifndef DAGPROF_HARNESS_BENCH_H
#define DAGPROF_HARNESS_BENCH_H

#include <stddef.h>

#include "trace.h"

/* CLOCK_MONOTONIC, in seconds. */
double bench_seconds(void);

/* A layered DAG of `nodes` nodes (layers of 10, every node depending on two
 * nodes of the previous layer), each node with an llm call and a tool call:
 * 3 x nodes + 1 spans. */
trace_t *bench_layered_trace(int nodes);

/* Seconds per call of pass(ctx), the fastest of five rounds of about 0.2 s
 * (at least 3 calls each): on a shared machine the slower rounds measure the
 * neighbours. 0 when a call fails (returns non-zero). */
double bench_fastest(int (*pass)(void *ctx), void *ctx);

/* The first `runs` runs of the synthetic fleet (dagprof loadgen's, no late
 * spans) as traces, in the order their first span came; *out is malloc'd. */
size_t bench_fleet_traces(size_t runs, trace_t ***out);

#endif
