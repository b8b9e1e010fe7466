/* bench_baseline.c -- the cost of fleet baselines: a 7 d window of 100k runs
 * of one DAG (8 nodes, 2 models each: the shape of a busy agent pipeline),
 * baseline_add of every run and then its figures, the regression check of one
 * run against them, and the binary encode and decode of a run record (what
 * the live side stores per profile). Times are the fastest of five rounds
 * (harness_bench.h). Run it on an idle machine:
 * build-release/bench/bench_baseline [RUNS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "harness_bench.h"

#define NODES 8
#define MODELS 2
#define T0 INT64_C(1765000000000000)

typedef struct bench {
    baseline_run_t **runs;
    size_t count;
    baseline_figures_t *figures;
    uint8_t *bytes;
    size_t len;
    int64_t window_end_us;
} bench_t;

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static baseline_run_t *make_run(size_t i, int64_t span_us, size_t runs) {
    static const char *const node_ids[NODES] = {"plan", "retrieve", "rank", "draft", "critique",
                                                "revise", "format", "publish"};
    static const char *const model_ids[MODELS] = {"claude-sonnet-4-5", "gpt-4o-mini"};
    baseline_node_run_t nodes[NODES];
    baseline_model_run_t models[MODELS];
    char trace_id[32];
    snprintf(trace_id, sizeof(trace_id), "bench-%zu", i);
    int64_t wall = 0;
    double cost = 0;
    for (int n = 0; n < NODES; n++) {
        int64_t exec = 50000 + (int64_t)(next() % 2000000);
        nodes[n] = (baseline_node_run_t){node_ids[n], exec, wall, next() % 3 != 0, next() % 50 == 0,
                                         (int32_t)(next() % 20 == 0), 0.0001 * (double)(next() % 100)};
        wall += exec / 2;
        cost += nodes[n].cost_usd;
    }
    for (int m = 0; m < MODELS; m++)
        models[m] = (baseline_model_run_t){model_ids[m], 3, (int64_t)(next() % 20000), cost / MODELS};
    baseline_run_t run = {trace_id, "pipeline", "v3", 0, true,
                          T0 + (int64_t)((double)i / (double)runs * (double)span_us), wall, 2 * wall,
                          cost, 30000, 0.8, 0, nodes, NODES, models, MODELS};
    return baseline_run_copy(&run);
}

static int add_and_figure(void *ctx) {
    bench_t *b = ctx;
    char err[256];
    baseline_t *baseline = baseline_new("pipeline", "v3", BASELINE_WINDOW_7D, b->window_end_us);
    if (!baseline)
        return -1;
    for (size_t i = 0; i < b->count; i++)
        if (baseline_add(baseline, b->runs[i], err, sizeof(err)) != 1)
            return -1;
    baseline_figures_t *f = baseline_figures(baseline, err, sizeof(err));
    baseline_free(baseline);
    if (!f)
        return -1;
    baseline_figures_free(f);
    return 0;
}

static int check_one(void *ctx) {
    bench_t *b = ctx;
    char err[256];
    baseline_regressions_t out;
    if (baseline_check(b->figures, b->runs[b->count / 2], NULL, &out, err, sizeof(err)) != 0)
        return -1;
    baseline_regressions_free(&out);
    return 0;
}

static int encode_one(void *ctx) {
    bench_t *b = ctx;
    char err[256];
    uint8_t *bytes;
    size_t len;
    if (baseline_run_encode(b->runs[b->count / 3], &bytes, &len, err, sizeof(err)) != 0)
        return -1;
    free(bytes);
    return 0;
}

static int decode_one(void *ctx) {
    bench_t *b = ctx;
    char err[256];
    baseline_run_t *run = baseline_run_decode(b->bytes, b->len, err, sizeof(err));
    if (!run)
        return -1;
    baseline_run_free(run);
    return 0;
}

int main(int argc, char **argv) {
    bench_t b;
    memset(&b, 0, sizeof(b));
    b.count = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    if (b.count < 2)
        b.count = 2;
    int64_t span_us = 7 * INT64_C(86400000000) - INT64_C(3600000000); /* inside the 7 d window */
    b.runs = calloc(b.count, sizeof(*b.runs));
    for (size_t i = 0; i < b.count; i++)
        if (!(b.runs[i] = make_run(i, span_us, b.count))) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
    b.window_end_us = T0 + span_us + INT64_C(60000000);
    char err[256];
    baseline_t *baseline = baseline_new("pipeline", "v3", BASELINE_WINDOW_7D, b.window_end_us);
    for (size_t i = 0; i < b.count; i++)
        baseline_add(baseline, b.runs[i], err, sizeof(err));
    b.figures = baseline_figures(baseline, err, sizeof(err));
    baseline_free(baseline);
    if (!b.figures || baseline_run_encode(b.runs[0], &b.bytes, &b.len, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    double add = bench_fastest(add_and_figure, &b);
    double check = bench_fastest(check_one, &b);
    double encode = bench_fastest(encode_one, &b);
    double decode = bench_fastest(decode_one, &b);
    if (add == 0 || check == 0 || encode == 0 || decode == 0) {
        fprintf(stderr, "a pass failed\n");
        return 1;
    }
    printf("baseline of %zu runs (7d window, %d nodes, %d models a run)\n", b.count, NODES, MODELS);
    printf("  add every run + figures  %9.1f ms   %10.0f runs/s   %6.2f us/run\n", add * 1e3,
           (double)b.count / add, add / (double)b.count * 1e6);
    printf("  check one run            %9.2f us\n", check * 1e6);
    printf("  run record               %9zu bytes\n", b.len);
    printf("  encode one run           %9.2f us\n", encode * 1e6);
    printf("  decode one run           %9.2f us\n", decode * 1e6);
    baseline_figures_free(b.figures);
    free(b.bytes);
    for (size_t i = 0; i < b.count; i++)
        baseline_run_free(b.runs[i]);
    free(b.runs);
    return 0;
}
