/* trends_live.h -- `dagprof trends` on the live baselines in Redis.
 *
 *   dagprof trends [--dag ID] [--window 1h|24h|7d] [--format text|json]
 *   dagprof trends --dag ID --compare A B     versions A and B of one DAG
 *
 * Reads what `dagprof run` put in the baseline store (baseline_store.h), with
 * the same redis.* options, and computes the figures with the engine's
 * baseline code, as `dagprof profile --trends` does over files: each window
 * ends at the DAG's latest run end. */
#ifndef DAGPROF_TRENDS_LIVE_H
#define DAGPROF_TRENDS_LIVE_H

#include <stdbool.h>
#include <stdio.h>

#include "baseline.h"
#include "trace_store.h"

typedef struct trends_live_options {
    trace_store_options_t store; /* connection and prefix */
    const char *dag_id;          /* NULL or "": every DAG */
    baseline_window_t window;
    bool json;
    const char *compare_a;       /* both set: compare these versions of dag_id */
    const char *compare_b;
} trends_live_options_t;

/* Writes the view to out. 0; 1 when the DAG or a compared version has no
 * runs (said in errstr); -1 with errstr when Redis failed. */
int trends_live_run(const trends_live_options_t *options, FILE *out, char *errstr, size_t errstr_size);

#endif
