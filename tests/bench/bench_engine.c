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

#include "harness_bench.h"
#include "pricing.h"
#include "pricing_file.h"
#include "profile.h"
#include "trace.h"

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
    return bench_fastest(profile_all, &w);
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
        trace_t *t = bench_layered_trace(sizes[k]);
        size_t spans = trace_span_count(t);
        double per = time_profiles(&t, 1, pricing, &o);
        if (per <= 0)
            return 1;
        printf("%-8d %8zu %12.1f %12.3f %14.3f\n", sizes[k], spans, 1.0 / per, per * 1e3,
               per * 1e6 / (double)spans);
        if (sizes[k] == 1000)
            build_1k = bench_fastest(build_copy, t);
        trace_free(t);
    }
    if (build_1k > 0)
        printf("building the 1000-node trace (trace_add_span): %.3f ms, %.3f us/span\n",
               build_1k * 1e3, build_1k * 1e6 / 3001.0);
    if (argc <= 1) {
        trace_t **fleet;
        size_t runs = bench_fleet_traces(2000, &fleet), spans = 0;
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
