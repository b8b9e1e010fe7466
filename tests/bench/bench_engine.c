/* bench_engine.c -- engine speed: profiles/s and microseconds per span for
 * traces of 10, 1k, 10k and 100k nodes, and peak memory.
 *
 * Each trace is a layered DAG (layers of 10 nodes, every node depending on two
 * nodes of the previous layer) where each node has an llm call and a tool call,
 * so spans = 3 x nodes + 1. Then the traces `dagprof run` sees: 2,000 runs of
 * the synthetic fleet (dagprof loadgen's, about 24 spans each), profiled one
 * after another. Prints one line per size, the fastest of five rounds, and
 * the time to build the 1k-node trace span by span; run it on an idle
 * machine: build-release/bench/bench_engine */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fleet.h"
#include "pricing.h"
#include "pricing_file.h"
#include "profile.h"
#include "trace.h"

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static trace_t *build(int nodes) {
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

/* Seconds per call of pass(ctx), the fastest of five rounds of about 0.2 s
 * (at least 3 calls each): on a shared machine the slower rounds measure the
 * neighbours. 0 when a call fails (returns non-zero). */
static double fastest(int (*pass)(void *ctx), void *ctx) {
    double best = 0;
    for (int round = 0; round < 5; round++) {
        int reps = 0;
        double t0 = seconds(), elapsed = 0;
        while (reps < 3 || elapsed < 0.2) {
            if (pass(ctx) != 0)
                return 0;
            reps++;
            elapsed = seconds() - t0;
        }
        if (round == 0 || elapsed / reps < best)
            best = elapsed / reps;
    }
    return best;
}

typedef struct profiling {
    trace_t *const *traces;
    size_t count;
    const pricing_t *pricing;
    const profile_options_t *options;
} profiling_t;

/* A profile of every trace. */
static int profile_all(void *ctx) {
    const profiling_t *w = ctx;
    char err[256];
    for (size_t i = 0; i < w->count; i++) {
        profile_t *p = profile_compute(w->traces[i], w->pricing, w->options, err, sizeof(err));
        if (!p) {
            fprintf(stderr, "profile: %s\n", err);
            return -1;
        }
        profile_free(p);
    }
    return 0;
}

/* Seconds per pass over traces[0..count); 0 when a profile fails. */
static double time_profiles(trace_t *const *traces, size_t count, const pricing_t *pricing,
                            const profile_options_t *o) {
    profiling_t w = {traces, count, pricing, o};
    return fastest(profile_all, &w);
}

/* A copy of the trace, built span by span (trace_add_span: checks, copies,
 * the span-id map): what a stream pays before each profile, besides decoding. */
static int build_copy(void *ctx) {
    const trace_t *t = ctx;
    char err[256];
    trace_t *copy = trace_new();
    if (!copy)
        return -1;
    for (size_t i = 0; i < trace_span_count(t); i++)
        trace_add_span(copy, trace_span(t, i), err, sizeof(err));
    trace_free(copy);
    return 0;
}

/* The fleet's runs as traces, in the order their first span came. */
static size_t build_fleet(size_t runs, trace_t ***out) {
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

int main(int argc, char **argv) {
    char err[256];
    /* as dagprof itself does: keep freed memory for the next profile instead of
     * returning it to the kernel and faulting it in again */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    pricing_t *pricing = pricing_file_default(err, sizeof(err));
    if (!pricing) {
        fprintf(stderr, "pricing: %s\n", err);
        return 1;
    }
    profile_options_t o;
    profile_options_init(&o);
    int sizes[16] = {10, 1000, 10000, 100000};
    size_t size_count = 4;
    if (argc > 1) { /* bench_engine [NODES...]: other sizes */
        size_count = 0;
        for (int i = 1; i < argc && size_count < 16; i++)
            sizes[size_count++] = atoi(argv[i]);
    }
    printf("%-8s %8s %12s %12s %14s\n", "nodes", "spans", "profiles/s", "ms/profile", "us/span");
    double build_1k = 0;
    for (size_t k = 0; k < size_count; k++) {
        trace_t *t = build(sizes[k]);
        size_t spans = trace_span_count(t);
        double per = time_profiles(&t, 1, pricing, &o);
        if (per <= 0)
            return 1;
        printf("%-8d %8zu %12.1f %12.3f %14.3f\n", sizes[k], spans, 1.0 / per, per * 1e3,
               per * 1e6 / (double)spans);
        if (sizes[k] == 1000)
            build_1k = fastest(build_copy, t);
        trace_free(t);
    }
    if (build_1k > 0)
        printf("building the 1000-node trace (trace_add_span): %.3f ms, %.3f us/span\n",
               build_1k * 1e3, build_1k * 1e6 / 3001.0);
    if (argc <= 1) {
        trace_t **fleet;
        size_t runs = build_fleet(2000, &fleet), spans = 0;
        for (size_t i = 0; i < runs; i++)
            spans += trace_span_count(fleet[i]);
        double per = time_profiles(fleet, runs, pricing, &o);
        if (per <= 0)
            return 1;
        printf("fleet: %zu runs, %zu spans: %.0f profiles/s, %.1f us/profile, %.3f us/span\n",
               runs, spans, (double)runs / per, per * 1e6 / (double)runs, per * 1e6 / (double)spans);
        for (size_t i = 0; i < runs; i++)
            trace_free(fleet[i]);
        free(fleet);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    pricing_free(pricing);
    return 0;
}
