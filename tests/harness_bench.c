/* harness_bench.c -- benchmark inputs and timing. See harness_bench.h. */
#include "harness_bench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"

double bench_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

trace_t *bench_layered_trace(int nodes) {
    trace_t *t = trace_new();
    char err[256], id[64], node[32], dep1[32], dep2[32], parent[64];
    span_t run;
    memset(&run, 0, sizeof(run));
    run.trace_id = "bench";
    run.span_id = "run";
    run.kind = SPAN_KIND_RUN;
    run.dag_id = "bench";
    run.start_us = 0;
    run.end_us = (int64_t)(nodes / 10 + 1) * 1000000;
    trace_add_span(t, &run, err, sizeof(err));
    for (int i = 0; i < nodes; i++) {
        int layer = i / 10, col = i % 10;
        int64_t start = (int64_t)layer * 1000000 + col * 1000, end = start + 900000 - col * 5000;
        snprintf(node, sizeof(node), "n%07d", i);
        const char *deps[2] = {dep1, dep2};
        snprintf(dep1, sizeof(dep1), "n%07d", (layer - 1) * 10 + col);
        snprintf(dep2, sizeof(dep2), "n%07d", (layer - 1) * 10 + (col + 3) % 10);
        span_t s;
        memset(&s, 0, sizeof(s));
        s.trace_id = "bench";
        s.span_id = node;
        s.parent_span_id = "run";
        s.node_id = node;
        s.kind = SPAN_KIND_NODE;
        s.start_us = start;
        s.end_us = end;
        s.depends_on = layer ? deps : NULL;
        s.depends_on_count = layer ? 2 : 0;
        trace_add_span(t, &s, err, sizeof(err));
        snprintf(parent, sizeof(parent), "%s", node);
        memset(&s, 0, sizeof(s));
        snprintf(id, sizeof(id), "%s-llm", node);
        s.trace_id = "bench";
        s.span_id = id;
        s.parent_span_id = parent;
        s.kind = SPAN_KIND_LLM;
        s.start_us = start + 1000;
        s.end_us = start + 500000;
        s.model = i % 3 ? "claude-sonnet-4-5" : "gpt-4o-mini";
        s.input_tokens = 1000 + i % 5000;
        s.output_tokens = 200 + i % 700;
        s.cache_read_tokens = i % 2 ? 500 : 0;
        trace_add_span(t, &s, err, sizeof(err));
        snprintf(id, sizeof(id), "%s-tool", node);
        s.kind = SPAN_KIND_TOOL;
        s.model = NULL;
        s.tool_name = "web_search";
        s.start_us = start + 500000;
        s.end_us = end;
        trace_add_span(t, &s, err, sizeof(err));
    }
    return t;
}

double bench_fastest(int (*pass)(void *ctx), void *ctx) {
    double best = 0;
    for (int round = 0; round < 5; round++) {
        int reps = 0;
        double t0 = bench_seconds(), elapsed = 0;
        while (reps < 3 || elapsed < 0.2) {
            if (pass(ctx) != 0)
                return 0;
            reps++;
            elapsed = bench_seconds() - t0;
        }
        if (round == 0 || elapsed / reps < best)
            best = elapsed / reps;
    }
    return best;
}

size_t bench_fleet_traces(size_t runs, trace_t ***out) {
    fleet_options_t fo;
    fleet_options_init(&fo);
    fo.runs = runs;
    fo.late_fraction = 0;
    char err[256];
    fleet_t *fleet = fleet_new(&fo, err, sizeof(err));
    trace_t **traces = calloc(runs, sizeof(*traces));
    char **ids = calloc(runs, sizeof(*ids));
    size_t count = 0;
    span_t s;
    if (!fleet || !traces || !ids) {
        fprintf(stderr, "fleet: %s\n", fleet ? "out of memory" : err);
        exit(1);
    }
    while (fleet_next(fleet, &s) == 1) {
        /* the runs in flight are the last few created: search from the end */
        size_t i = count;
        while (i > 0 && strcmp(ids[i - 1], s.trace_id) != 0)
            i--;
        if (i == 0) {
            if (count == runs)
                continue;
            ids[count] = strdup(s.trace_id);
            traces[count++] = trace_new();
            i = count;
        }
        trace_add_span(traces[i - 1], &s, err, sizeof(err));
    }
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
    fleet_free(fleet);
    *out = traces;
    return count;
}
