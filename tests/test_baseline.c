/* test_baseline.c -- fleet baselines (engine/baseline.h).
 *
 * Run records from a profile and back through their binary form; every way a
 * record's bytes can be bad; the figures of a fleet built by hand, with the
 * figures worked out on paper; the windows; replays and revisions; the
 * regression rule at and around its thresholds; and the comparison of two
 * sets of runs, whose rank test is checked against scipy. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baseline.h"
#include "harness_trace.h"
#include "pricing.h"
#include "sketch.h"

#define MS INT64_C(1000)
#define SECONDS INT64_C(1000000)
#define HOUR (3600 * SECONDS)
#define T0 INT64_C(1765000000000000) /* a December 2025 instant */

/* Within the sketch's bound of an exact value. */
#define ck_assert_sketch(got, exact)                                                           \
    ck_assert_msg(fabs((got) - (exact)) <= SKETCH_RELATIVE_ERROR * fabs(exact) * (1 + 1e-9),    \
                  "%s = %.9g, exact %.9g", #got, (double)(got), (double)(exact))

/* ---- Version and records ----------------------------------------------- */

START_TEST(test_trace_version) {
    span_attr_t both[] = {{"version", "old"}, {"dag.version", "v2"}};
    span_attr_t plain[] = {{"team", "x"}, {"version", "7"}};
    span_attr_t none[] = {{"team", "x"}};
    const span_attr_t *sets[] = {both, plain, none, NULL};
    size_t counts[] = {2, 2, 1, 0};
    const char *expected[] = {"v2", "7", "", ""};
    for (int i = 0; i < 4; i++) {
        trace_t *t = trace_new();
        span_t run = htrace_span("run", NULL, NULL, SPAN_KIND_RUN, 0, 10);
        run.dag_id = "d";
        run.attributes = sets[i];
        run.attribute_count = counts[i];
        htrace_add(t, run);
        /* a node span's attribute is not the run's version */
        span_attr_t node_attr[] = {{"dag.version", "wrong"}};
        span_t node = htrace_span("n", "run", "n", SPAN_KIND_NODE, 0, 10);
        node.attributes = node_attr;
        node.attribute_count = 1;
        htrace_add(t, node);
        ck_assert_str_eq(baseline_trace_version(t), expected[i]);
        trace_free(t);
    }
    /* no run span: the span that carries the dag_id */
    trace_t *t = trace_new();
    span_attr_t attr[] = {{"dag.version", "v9"}};
    span_t node = htrace_span("n", NULL, "n", SPAN_KIND_NODE, 0, 10);
    node.dag_id = "d";
    node.attributes = attr;
    node.attribute_count = 1;
    htrace_add(t, node);
    ck_assert_str_eq(baseline_trace_version(t), "v9");
    trace_free(t);
}
END_TEST

/* A run of d1: node a (0..400 ms) calls gpt-x and an unpriced model; node b
 * (400..1000 ms) depends on a, is a retry and ends in error. */
static profile_t *small_profile(pricing_t **pricing_out) {
    pricing_t *pricing = pricing_new();
    pricing_price_t price = {1.0, 2.0, -1, -1};
    char err[256];
    ck_assert_int_eq(pricing_set(pricing, "gpt-x", &price, err, sizeof(err)), 0);
    trace_t *t = trace_new();
    span_t run = htrace_span("run", NULL, NULL, SPAN_KIND_RUN, T0, T0 + 1000 * MS);
    run.dag_id = "d1";
    htrace_add(t, run);
    htrace_add_node(t, "a", T0, T0 + 400 * MS, NULL, 0);
    const char *deps[] = {"a"};
    span_t b = htrace_span("b", "run", "b", SPAN_KIND_NODE, T0 + 400 * MS, T0 + 1000 * MS);
    b.depends_on = deps;
    b.depends_on_count = 1;
    b.attempt = 1;
    b.status = SPAN_STATUS_ERROR;
    htrace_add(t, b);
    span_t llm = htrace_span("l1", "a", NULL, SPAN_KIND_LLM, T0 + 10 * MS, T0 + 300 * MS);
    llm.model = "gpt-x";
    llm.input_tokens = 1000;
    llm.output_tokens = 500;
    htrace_add(t, llm);
    span_t llm2 = htrace_span("l2", "a", NULL, SPAN_KIND_LLM, T0 + 300 * MS, T0 + 390 * MS);
    llm2.model = "mystery";
    llm2.input_tokens = 10;
    llm2.output_tokens = 5;
    htrace_add(t, llm2);
    profile_options_t options;
    profile_options_init(&options);
    profile_t *p = profile_compute(t, pricing, &options, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    trace_free(t);
    *pricing_out = pricing;
    return p;
}

static void assert_runs_equal(const baseline_run_t *x, const baseline_run_t *y) {
    ck_assert_str_eq(x->trace_id, y->trace_id);
    ck_assert_str_eq(x->dag_id, y->dag_id);
    ck_assert_str_eq(x->version, y->version);
    ck_assert_int_eq(x->revision, y->revision);
    ck_assert_int_eq(x->complete, y->complete);
    ck_assert_int_eq(x->run_start_us, y->run_start_us);
    ck_assert_int_eq(x->wall_us, y->wall_us);
    ck_assert_int_eq(x->work_us, y->work_us);
    ck_assert(x->cost_usd == y->cost_usd);
    ck_assert_int_eq(x->tokens, y->tokens);
    ck_assert(x->schedule_efficiency == y->schedule_efficiency);
    ck_assert_int_eq(x->unpriced_models, y->unpriced_models);
    ck_assert_uint_eq(x->node_count, y->node_count);
    for (size_t i = 0; i < x->node_count; i++) {
        ck_assert_str_eq(x->nodes[i].node_id, y->nodes[i].node_id);
        ck_assert_int_eq(x->nodes[i].exec_us, y->nodes[i].exec_us);
        ck_assert_int_eq(x->nodes[i].blocked_us, y->nodes[i].blocked_us);
        ck_assert_int_eq(x->nodes[i].on_critical_path, y->nodes[i].on_critical_path);
        ck_assert_int_eq(x->nodes[i].error, y->nodes[i].error);
        ck_assert_int_eq(x->nodes[i].retries, y->nodes[i].retries);
        ck_assert(x->nodes[i].cost_usd == y->nodes[i].cost_usd);
    }
    ck_assert_uint_eq(x->model_count, y->model_count);
    for (size_t i = 0; i < x->model_count; i++) {
        ck_assert_str_eq(x->models[i].model, y->models[i].model);
        ck_assert_int_eq(x->models[i].calls, y->models[i].calls);
        ck_assert_int_eq(x->models[i].tokens, y->models[i].tokens);
        ck_assert(x->models[i].cost_usd == y->models[i].cost_usd);
    }
}

START_TEST(test_run_from_profile_round_trip) {
    pricing_t *pricing;
    profile_t *p = small_profile(&pricing);
    char err[256];
    baseline_run_t *run = baseline_run_from_profile(p, "v2", err, sizeof(err));
    ck_assert_msg(run != NULL, "%s", err);
    profile_free(p); /* the record owns its strings */
    pricing_free(pricing);
    ck_assert_str_eq(run->trace_id, "t1");
    ck_assert_str_eq(run->dag_id, "d1");
    ck_assert_str_eq(run->version, "v2");
    ck_assert_int_eq(run->revision, 0);
    ck_assert(run->complete);
    ck_assert_int_eq(run->run_start_us, T0);
    ck_assert_int_eq(run->wall_us, 1000 * MS);
    ck_assert_int_eq(run->work_us, 1000 * MS);
    /* 1000 in x $1 + 500 out x $2 per M tokens */
    ck_assert_double_eq_tol(run->cost_usd, 0.002, 1e-15);
    ck_assert_int_eq(run->tokens, 1515);
    ck_assert(run->schedule_efficiency == 1.0);
    ck_assert_int_eq(run->unpriced_models, 1);
    ck_assert_uint_eq(run->node_count, 2);
    ck_assert_str_eq(run->nodes[0].node_id, "a");
    ck_assert_int_eq(run->nodes[0].exec_us, 400 * MS);
    ck_assert_int_eq(run->nodes[0].blocked_us, 0);
    ck_assert(run->nodes[0].on_critical_path);
    ck_assert(!run->nodes[0].error);
    ck_assert_int_eq(run->nodes[0].retries, 0);
    ck_assert_double_eq_tol(run->nodes[0].cost_usd, 0.002, 1e-15);
    ck_assert_str_eq(run->nodes[1].node_id, "b");
    ck_assert_int_eq(run->nodes[1].exec_us, 600 * MS);
    ck_assert_int_eq(run->nodes[1].blocked_us, 400 * MS);
    ck_assert(run->nodes[1].on_critical_path);
    ck_assert(run->nodes[1].error);
    ck_assert_int_eq(run->nodes[1].retries, 1);
    ck_assert(run->nodes[1].cost_usd == 0.0);
    ck_assert_uint_eq(run->model_count, 2);
    ck_assert_str_eq(run->models[0].model, "gpt-x");
    ck_assert_int_eq(run->models[0].calls, 1);
    ck_assert_int_eq(run->models[0].tokens, 1500);
    ck_assert_str_eq(run->models[1].model, "mystery");
    ck_assert_int_eq(run->models[1].tokens, 15);
    ck_assert(run->models[1].cost_usd == 0.0);

    uint8_t *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(baseline_run_encode(run, &bytes, &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(bytes[0], BASELINE_RUN_FORMAT);
    baseline_run_t *back = baseline_run_decode(bytes, len, err, sizeof(err));
    ck_assert_msg(back != NULL, "%s", err);
    assert_runs_equal(run, back);
    /* the same record gives the same bytes */
    uint8_t *again = NULL;
    size_t again_len = 0;
    ck_assert_int_eq(baseline_run_encode(back, &again, &again_len, err, sizeof(err)), 0);
    ck_assert_uint_eq(again_len, len);
    ck_assert_int_eq(memcmp(bytes, again, len), 0);
    baseline_run_t *copy = baseline_run_copy(back);
    assert_runs_equal(run, copy);
    free(again);
    free(bytes);
    baseline_run_free(copy);
    baseline_run_free(back);
    baseline_run_free(run);
}
END_TEST

/* A record with extremes: negative and huge integers, no nodes, no models. */
START_TEST(test_run_extremes_round_trip) {
    baseline_run_t run = {0};
    run.trace_id = "";
    run.dag_id = "d\xc3\xa9";
    run.version = NULL; /* taken as "" */
    run.revision = INT64_MAX;
    run.run_start_us = INT64_MIN;
    run.wall_us = -1;
    run.work_us = INT64_MAX;
    run.cost_usd = -0.0;
    run.tokens = INT64_MIN;
    run.schedule_efficiency = 1e-300;
    char err[256];
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(baseline_run_encode(&run, &bytes, &len, err, sizeof(err)), 0);
    baseline_run_t *back = baseline_run_decode(bytes, len, err, sizeof(err));
    ck_assert_msg(back != NULL, "%s", err);
    ck_assert_str_eq(back->version, "");
    ck_assert_str_eq(back->dag_id, "d\xc3\xa9");
    ck_assert_int_eq(back->revision, INT64_MAX);
    ck_assert_int_eq(back->run_start_us, INT64_MIN);
    ck_assert_int_eq(back->wall_us, -1);
    ck_assert_int_eq(back->work_us, INT64_MAX);
    ck_assert_int_eq(back->tokens, INT64_MIN);
    ck_assert(back->schedule_efficiency == 1e-300);
    ck_assert_uint_eq(back->node_count, 0);
    ck_assert_ptr_null(back->nodes);
    ck_assert_uint_eq(back->model_count, 0);
    baseline_run_free(back);
    free(bytes);
}
END_TEST

static baseline_run_t *decode_expect_error(const uint8_t *bytes, size_t len, const char *error) {
    char err[256] = "";
    baseline_run_t *run = baseline_run_decode(bytes, len, err, sizeof(err));
    ck_assert_msg(run == NULL, "decoded bad bytes (len %zu), expected \"%s\"", len, error);
    ck_assert_msg(strstr(err, error) != NULL, "error \"%s\", expected \"%s\"", err, error);
    return run;
}

START_TEST(test_decode_errors) {
    pricing_t *pricing;
    profile_t *p = small_profile(&pricing);
    char err[256];
    baseline_run_t *run = baseline_run_from_profile(p, "v2", err, sizeof(err));
    profile_free(p);
    pricing_free(pricing);
    uint8_t *bytes;
    size_t len;
    ck_assert_int_eq(baseline_run_encode(run, &bytes, &len, err, sizeof(err)), 0);
    uint8_t *bad = malloc(len + 16);

    decode_expect_error(bytes, 0, "run record is empty");
    memcpy(bad, bytes, len);
    bad[0] = 2;
    decode_expect_error(bad, len, "run record has format 2, this build reads 1");
    /* every prefix is refused: truncated, or a count its bytes cannot hold */
    for (size_t cut = 1; cut < len; cut++) {
        err[0] = '\0';
        ck_assert_ptr_null(baseline_run_decode(bytes, cut, err, sizeof(err)));
        ck_assert_msg(strstr(err, "truncated") || strstr(err, "count larger than its bytes"),
                      "cut at %zu: %s", cut, err);
    }
    memcpy(bad, bytes, len);
    bad[len] = 0;
    decode_expect_error(bad, len + 1, "run record has trailing bytes");
    /* a NUL inside trace_id "t1" (byte 2 is 't') */
    memcpy(bad, bytes, len);
    bad[2] = 0;
    decode_expect_error(bad, len, "string holding a NUL byte");
    /* a string longer than the record */
    memcpy(bad, bytes, len);
    bad[1] = 0x7f;
    decode_expect_error(bad, len, "truncated in a string");
    /* complete flag: after 3 strings ("t1", "d1", "v2": 3 bytes each) and revision (1 byte) */
    memcpy(bad, bytes, len);
    ck_assert_uint_eq(bad[11], 1);
    bad[11] = 2;
    decode_expect_error(bad, len, "bad complete flag");
    /* a varint of eleven bytes */
    uint8_t long_varint[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    decode_expect_error(long_varint, sizeof(long_varint), "varint out of range");
    /* a NaN cost: the double after the three times */
    {
        baseline_run_t nan_run = *run;
        nan_run.cost_usd = 12345.0;
        uint8_t *nb;
        size_t nlen;
        ck_assert_int_eq(baseline_run_encode(&nan_run, &nb, &nlen, err, sizeof(err)), 0);
        double marker = 12345.0;
        uint8_t marker_bytes[8];
        memcpy(marker_bytes, &marker, 8);
        uint8_t *at = memmem(nb, nlen, marker_bytes, 8);
        ck_assert_ptr_nonnull(at);
        double nan_value = NAN;
        memcpy(at, &nan_value, 8);
        decode_expect_error(nb, nlen, "not finite");
        free(nb);
    }
    /* a node count larger than the bytes: a record with no nodes, count patched */
    {
        baseline_run_t bare = {0};
        bare.trace_id = "t";
        bare.dag_id = "d";
        bare.version = "";
        uint8_t *bb;
        size_t blen;
        ck_assert_int_eq(baseline_run_encode(&bare, &bb, &blen, err, sizeof(err)), 0);
        /* the last two bytes are the node count (0) and the model count (0) */
        ck_assert_uint_eq(bb[blen - 2], 0);
        uint8_t *big = malloc(blen + 8);
        memcpy(big, bb, blen - 2);
        size_t at = blen - 2;
        big[at++] = 0xff; /* 2^35 - 1 nodes */
        big[at++] = 0xff;
        big[at++] = 0xff;
        big[at++] = 0xff;
        big[at++] = 0x7f;
        big[at++] = 0;
        decode_expect_error(big, at, "count larger than its bytes");
        /* bad node flags: one node "n" with flags 4 */
        baseline_node_run_t node = {"n", 1, 0, false, false, 0, 0.0};
        bare.nodes = &node;
        bare.node_count = 1;
        uint8_t *nb;
        size_t nlen;
        ck_assert_int_eq(baseline_run_encode(&bare, &nb, &nlen, err, sizeof(err)), 0);
        /* ... count 1, "n" (2 bytes), exec 1 (1), blocked 0 (1), flags */
        size_t flags_at = blen - 2 + 1 + 2 + 1 + 1;
        ck_assert_uint_eq(nb[flags_at], 0);
        nb[flags_at] = 4;
        decode_expect_error(nb, nlen, "bad node flags");
        free(nb);
        free(big);
        free(bb);
    }
    /* garbage of every length decodes to an error, never a crash (ASan build) */
    uint64_t state = 99;
    for (size_t n = 1; n < 200; n++) {
        uint8_t garbage[200];
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            garbage[i] = (uint8_t)(state >> 56);
        }
        garbage[0] = BASELINE_RUN_FORMAT;
        baseline_run_t *g = baseline_run_decode(garbage, n, err, sizeof(err));
        baseline_run_free(g);
    }
    free(bad);
    free(bytes);
    baseline_run_free(run);
}
END_TEST

/* ---- Figures ------------------------------------------------------------ */

typedef struct hand_run {
    baseline_run_t run;
    baseline_node_run_t nodes[3];
    baseline_model_run_t models[2];
    char trace_id[32];
} hand_run_t;

/* Run i of the hand-built fleet (all times from T0 + i x 10 min):
 *   wall (i + 1) s, work 2 (i + 1) s, tokens 1000 (i + 1), efficiency 0.5 for
 *   even i and 1 for odd i;
 *   node a: every run, on the critical path, exec 500 ms, blocked 0, $0.01;
 *   node b: every run, on the critical path in odd runs, exec 100 (i + 1) ms,
 *     blocked 500 ms, an error in run 0, retries in runs 1 and 2, $0.02;
 *   node c: even runs only, never critical, exec 50 ms, $0.005;
 *   models: gpt-x 2 calls, 900 tokens, $0.03 every run; "mystery" 1 call, 100
 *   tokens, unpriced, in even runs. */
static void hand_run(hand_run_t *h, int i, const char *dag, const char *version) {
    memset(h, 0, sizeof(*h));
    snprintf(h->trace_id, sizeof(h->trace_id), "run-%d", i);
    baseline_run_t *r = &h->run;
    r->trace_id = h->trace_id;
    r->dag_id = dag;
    r->version = version;
    r->complete = true;
    r->run_start_us = T0 + i * 600 * SECONDS;
    r->wall_us = (i + 1) * SECONDS;
    r->work_us = 2 * (i + 1) * SECONDS;
    r->tokens = 1000 * (i + 1);
    r->schedule_efficiency = i % 2 ? 1.0 : 0.5;
    h->nodes[0] = (baseline_node_run_t){"a", 500 * MS, 0, true, false, 0, 0.01};
    h->nodes[1] = (baseline_node_run_t){"b", 100 * MS * (i + 1), 500 * MS, i % 2 == 1, i == 0,
                                        (i == 1 || i == 2) ? 2 : 0, 0.02};
    h->nodes[2] = (baseline_node_run_t){"c", 50 * MS, 0, false, false, 0, 0.005};
    r->nodes = h->nodes;
    r->node_count = i % 2 ? 2 : 3;
    h->models[0] = (baseline_model_run_t){"gpt-x", 2, 900, 0.03};
    h->models[1] = (baseline_model_run_t){"mystery", 1, 100, 0.0};
    r->models = h->models;
    r->model_count = i % 2 ? 1 : 2;
    r->unpriced_models = i % 2 ? 0 : 1;
    r->cost_usd = i % 2 ? 0.03 : 0.035;
}

START_TEST(test_figures_hand_built_fleet) {
    char err[256];
    /* 4 runs: the latest ends at T0 + 1800 s + 4 s */
    int64_t end = T0 + 1804 * SECONDS;
    baseline_t *b = baseline_new("d1", "v1", BASELINE_WINDOW_24H, end);
    ck_assert_ptr_nonnull(b);
    hand_run_t h;
    for (int i = 0; i < 4; i++) {
        hand_run(&h, i, "d1", "v1");
        ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 1);
    }
    /* not counted: another DAG, another version, a replay, a start outside */
    hand_run(&h, 7, "d2", "v1");
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0);
    hand_run(&h, 7, "d1", "v2");
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0);
    hand_run(&h, 7, "d1", "");
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0);
    hand_run(&h, 2, "d1", "v1");
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0);
    hand_run(&h, 9, "d1", "v1");
    h.run.run_start_us = end - 24 * HOUR - 1;
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0);
    h.run.run_start_us = end + 1;
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0);
    ck_assert_uint_eq(baseline_run_count(b), 4);

    baseline_figures_t *f = baseline_figures(b, err, sizeof(err));
    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_str_eq(f->dag_id, "d1");
    ck_assert_str_eq(f->version, "v1");
    ck_assert_int_eq(f->window, BASELINE_WINDOW_24H);
    ck_assert_int_eq(f->window_end_us, end);
    ck_assert_int_eq(f->window_start_us, end - 24 * HOUR);
    ck_assert_int_eq(f->runs, 4);
    ck_assert_int_eq(f->unpriced_runs, 2);
    ck_assert_int_eq(f->first_run_start_us, T0);
    /* observed span 1804 s, floored at 1 h: 4 runs an hour */
    ck_assert(f->runs_per_day == 96.0);
    /* wall 1, 2, 3, 4 s: mean 2.5 s; p50 rank 1 (2 s), p95 and p99 rank 2 (3 s) */
    ck_assert(f->wall_us.mean == 2.5e6);
    ck_assert_sketch(f->wall_us.p50, 2e6);
    ck_assert_sketch(f->wall_us.p95, 3e6);
    ck_assert_sketch(f->wall_us.p99, 3e6);
    ck_assert(f->work_us.mean == 5e6);
    ck_assert_sketch(f->work_us.p50, 4e6);
    ck_assert(f->tokens.mean == 2500.0);
    ck_assert_sketch(f->tokens.p95, 3000.0);
    /* efficiency 0.5, 1, 0.5, 1 */
    ck_assert(f->schedule_efficiency.mean == 0.75);
    ck_assert_sketch(f->schedule_efficiency.p50, 0.5);
    ck_assert_sketch(f->schedule_efficiency.p95, 1.0);
    /* cost 0.035, 0.03, 0.035, 0.03 */
    ck_assert_double_eq_tol(f->total_cost_usd, 0.13, 1e-15);
    ck_assert_double_eq_tol(f->cost_usd.mean, 0.0325, 1e-15);
    ck_assert_sketch(f->cost_usd.p50, 0.03);
    ck_assert_sketch(f->cost_usd.p95, 0.035);
    ck_assert_double_eq_tol(f->projected_cost_day_usd, 0.0325 * 96, 1e-12);
    ck_assert_double_eq_tol(f->projected_cost_month_usd, 0.0325 * 96 * 30, 1e-10);

    ck_assert_uint_eq(f->node_count, 3);
    /* by critical-path share: a (4/4), b (2/4), c (0/4) */
    const baseline_node_figures_t *a = &f->nodes[0], *nb = &f->nodes[1], *c = &f->nodes[2];
    ck_assert_str_eq(a->node_id, "a");
    ck_assert_str_eq(nb->node_id, "b");
    ck_assert_str_eq(c->node_id, "c");
    ck_assert_int_eq(a->runs, 4);
    ck_assert(a->critical_path_share == 1.0);
    ck_assert(a->exec_us.p50 == 500e3); /* one value: exact */
    ck_assert(a->exec_us.p95 == 500e3);
    ck_assert(a->blocked_us.p50 == 0.0);
    ck_assert(a->error_rate == 0.0);
    ck_assert(a->retry_rate == 0.0);
    ck_assert_double_eq_tol(a->cost_share, 0.04 / 0.13, 1e-12);
    ck_assert_int_eq(nb->runs, 4);
    ck_assert(nb->critical_path_share == 0.5);
    ck_assert(nb->error_rate == 0.25);
    ck_assert(nb->retry_rate == 0.5);
    ck_assert_sketch(nb->exec_us.p50, 200e3);
    ck_assert_sketch(nb->exec_us.p95, 300e3);
    ck_assert(nb->blocked_us.p95 == 500e3);
    ck_assert_double_eq_tol(nb->cost_share, 0.08 / 0.13, 1e-12);
    ck_assert_int_eq(c->runs, 2);
    ck_assert(c->critical_path_share == 0.0);
    ck_assert(c->exec_us.p95 == 50e3);
    ck_assert_double_eq_tol(c->cost_share, 0.01 / 0.13, 1e-12);
    ck_assert_ptr_eq(baseline_figures_node(f, "c"), c);
    ck_assert_ptr_null(baseline_figures_node(f, "zz"));

    ck_assert_uint_eq(f->model_count, 2);
    ck_assert_str_eq(f->models[0].model, "gpt-x");
    ck_assert_int_eq(f->models[0].calls, 8);
    ck_assert_int_eq(f->models[0].tokens, 3600);
    ck_assert_double_eq_tol(f->models[0].cost_share, 0.12 / 0.13, 1e-12);
    ck_assert_str_eq(f->models[1].model, "mystery");
    ck_assert_int_eq(f->models[1].calls, 2);
    ck_assert_int_eq(f->models[1].tokens, 200);
    ck_assert(f->models[1].cost_share == 0.0);
    baseline_figures_free(f);

    /* a later revision of run-3 replaces it: wall 10 s, only node a */
    hand_run(&h, 3, "d1", "v1");
    h.run.revision = 1;
    h.run.wall_us = 10 * SECONDS;
    h.run.node_count = 1;
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 1);
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0); /* replayed */
    h.run.revision = 0;
    h.run.wall_us = 4 * SECONDS;
    ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 0); /* older: ignored */
    ck_assert_uint_eq(baseline_run_count(b), 4);
    f = baseline_figures(b, err, sizeof(err));
    ck_assert(f->wall_us.mean == 4e6); /* (1 + 2 + 3 + 10) / 4 */
    ck_assert_sketch(f->wall_us.p99, 3e6);
    ck_assert_int_eq(baseline_figures_node(f, "b")->runs, 3);
    ck_assert(baseline_figures_node(f, "b")->critical_path_share == 0.25);
    baseline_figures_free(f);
    baseline_free(b);
}
END_TEST

START_TEST(test_windows_and_rate) {
    char err[256];
    baseline_window_t w;
    ck_assert_int_eq(baseline_window_parse("1h", &w), 0);
    ck_assert_int_eq(w, BASELINE_WINDOW_1H);
    ck_assert_int_eq(baseline_window_parse("24h", &w), 0);
    ck_assert_int_eq(w, BASELINE_WINDOW_24H);
    ck_assert_int_eq(baseline_window_parse("7d", &w), 0);
    ck_assert_int_eq(w, BASELINE_WINDOW_7D);
    ck_assert_int_eq(baseline_window_parse("2h", &w), -1);
    ck_assert_int_eq(baseline_window_parse("", &w), -1);
    ck_assert_str_eq(baseline_window_name(BASELINE_WINDOW_7D), "7d");
    ck_assert_int_eq(baseline_window_us(BASELINE_WINDOW_1H), HOUR);
    ck_assert_int_eq(baseline_window_us(BASELINE_WINDOW_7D), 168 * HOUR);

    /* 72 runs, one an hour for three days, each 1 s; the window ends at the last run's end */
    int64_t end = T0 + 71 * HOUR + SECONDS;
    baseline_t *windows[3];
    for (int k = 0; k < 3; k++)
        windows[k] = baseline_new("d", "", (baseline_window_t)k, end);
    for (int i = 0; i < 72; i++) {
        hand_run_t h;
        hand_run(&h, i, "d", NULL);
        h.run.run_start_us = T0 + i * HOUR;
        for (int k = 0; k < 3; k++)
            ck_assert_int_ge(baseline_add(windows[k], &h.run, err, sizeof(err)), 0);
    }
    /* 1h: runs starting in [end - 1 h, end]: run 71 only (run 70 started 1 h 1 s before) */
    ck_assert_uint_eq(baseline_run_count(windows[0]), 1);
    /* 24h: runs 48..71 */
    ck_assert_uint_eq(baseline_run_count(windows[1]), 24);
    ck_assert_uint_eq(baseline_run_count(windows[2]), 72);
    baseline_figures_t *f1 = baseline_figures(windows[0], err, sizeof(err));
    baseline_figures_t *f24 = baseline_figures(windows[1], err, sizeof(err));
    baseline_figures_t *f7 = baseline_figures(windows[2], err, sizeof(err));
    /* 1 run over 1 s, floored at 1 h: 24 a day */
    ck_assert(f1->runs_per_day == 24.0);
    /* 24 runs over 23 h 1 s */
    ck_assert_double_eq_tol(f24->runs_per_day, 24.0 * 86400.0 / (23 * 3600 + 1), 1e-9);
    /* 72 runs over 71 h 1 s */
    ck_assert_double_eq_tol(f7->runs_per_day, 72.0 * 86400.0 / (71 * 3600 + 1), 1e-9);
    ck_assert_str_eq(f7->version, "");
    baseline_figures_free(f1);
    baseline_figures_free(f24);
    baseline_figures_free(f7);
    for (int k = 0; k < 3; k++)
        baseline_free(windows[k]);

    /* an empty baseline has zero figures */
    baseline_t *empty = baseline_new("d", "v", BASELINE_WINDOW_7D, end);
    baseline_figures_t *fe = baseline_figures(empty, err, sizeof(err));
    ck_assert_int_eq(fe->runs, 0);
    ck_assert(fe->runs_per_day == 0.0);
    ck_assert(fe->wall_us.p95 == 0.0);
    ck_assert(fe->projected_cost_month_usd == 0.0);
    ck_assert_uint_eq(fe->node_count, 0);
    baseline_figures_free(fe);
    baseline_free(empty);
}
END_TEST

/* ---- Regression rule ---------------------------------------------------- */

/* A baseline of `runs` runs: wall 1 s, cost $0.01, node n exec 200 ms in all
 * runs and node m exec 100 ms in the first `m_runs`. */
static baseline_figures_t *steady_figures(int runs, int m_runs, double cost) {
    char err[256];
    baseline_t *b = baseline_new("d", "v", BASELINE_WINDOW_24H, T0 + 24 * HOUR);
    for (int i = 0; i < runs; i++) {
        hand_run_t h;
        hand_run(&h, i, "d", "v");
        h.run.wall_us = SECONDS;
        h.run.cost_usd = cost;
        h.nodes[0] = (baseline_node_run_t){"m", 100 * MS, 0, false, false, 0, 0};
        h.nodes[1] = (baseline_node_run_t){"n", 200 * MS, 0, true, false, 0, cost};
        h.run.node_count = 2;
        if (i >= m_runs) {
            h.nodes[0] = h.nodes[1];
            h.run.node_count = 1;
        }
        ck_assert_int_eq(baseline_add(b, &h.run, err, sizeof(err)), 1);
    }
    baseline_figures_t *f = baseline_figures(b, err, sizeof(err));
    baseline_free(b);
    return f;
}

static baseline_run_t *probe_run(hand_run_t *h, int64_t wall_us, double cost, int64_t n_exec_us,
                                 int64_t m_exec_us) {
    hand_run(h, 1000, "d", "v");
    h->run.wall_us = wall_us;
    h->run.cost_usd = cost;
    h->nodes[0] = (baseline_node_run_t){"m", m_exec_us, 0, false, false, 0, 0};
    h->nodes[1] = (baseline_node_run_t){"n", n_exec_us, 0, true, false, 0, cost};
    h->run.node_count = 2;
    return &h->run;
}

START_TEST(test_check_rule) {
    char err[256];
    baseline_rule_t rule;
    baseline_rule_init(&rule);
    ck_assert(rule.factor == 1.5);
    ck_assert_int_eq(rule.min_runs, 30);
    ck_assert(rule.node_factor == 2.0);
    ck_assert_str_eq(baseline_regression_what_name(BASELINE_REGRESSION_NODE_EXEC), "node_exec_us");
    baseline_regression_what_t what;
    ck_assert_int_eq(baseline_regression_what_parse("cost_usd", &what), 0);
    ck_assert_int_eq(what, BASELINE_REGRESSION_COST);
    ck_assert_int_eq(baseline_regression_what_parse("cost", &what), -1);

    baseline_figures_t *f = steady_figures(30, 29, 0.01);
    ck_assert(f->wall_us.p95 == 1e6);
    ck_assert(f->cost_usd.p95 == 0.01);
    hand_run_t h;
    baseline_regressions_t out;
    /* exactly at the thresholds: nothing */
    ck_assert_int_eq(baseline_check(f, probe_run(&h, 1500 * MS, 0.015, 400 * MS, 1000 * MS), NULL,
                                    &out, err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 0);
    baseline_regressions_free(&out);
    /* just above each: wall, cost, then node n (m is in 29 runs only: below min_runs) */
    ck_assert_int_eq(baseline_check(f, probe_run(&h, 1600 * MS, 0.016, 401 * MS, 1000 * MS), &rule,
                                    &out, err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 3);
    ck_assert_int_eq(out.items[0].what, BASELINE_REGRESSION_WALL);
    ck_assert_ptr_null(out.items[0].node_id);
    ck_assert(out.items[0].value == 1.6e6);
    ck_assert(out.items[0].baseline_p95 == 1e6);
    ck_assert_double_eq_tol(out.items[0].ratio, 1.6, 1e-12);
    ck_assert_str_eq(out.items[0].details, "wall 1.60 s is 1.6x the p95 of 1.00 s over 30 runs (24h)");
    ck_assert_int_eq(out.items[1].what, BASELINE_REGRESSION_COST);
    ck_assert_str_eq(out.items[1].details, "cost $0.0160 is 1.6x the p95 of $0.0100 over 30 runs (24h)");
    ck_assert_int_eq(out.items[2].what, BASELINE_REGRESSION_NODE_EXEC);
    ck_assert_str_eq(out.items[2].node_id, "n");
    ck_assert(out.items[2].value == 401e3);
    ck_assert(out.items[2].baseline_p95 == 200e3);
    ck_assert_str_eq(out.items[2].details, "node n exec 401 ms is 2.0x its p95 of 200 ms over 30 runs (24h)");
    baseline_regressions_free(&out);
    ck_assert_uint_eq(out.count, 0);
    /* a lower min_runs lets node m count: nodes by ratio, largest first */
    rule.min_runs = 29;
    ck_assert_int_eq(baseline_check(f, probe_run(&h, SECONDS, 0.01, 500 * MS, 1000 * MS), &rule,
                                    &out, err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 2);
    ck_assert_str_eq(out.items[0].node_id, "m");
    ck_assert_double_eq_tol(out.items[0].ratio, 10.0, 1e-12);
    ck_assert_str_eq(out.items[0].details, "node m exec 1.00 s is 10.0x its p95 of 100 ms over 29 runs (24h)");
    ck_assert_str_eq(out.items[1].node_id, "n");
    baseline_regressions_free(&out);
    /* a custom factor */
    rule.factor = 3.0;
    rule.node_factor = 10.0;
    ck_assert_int_eq(baseline_check(f, probe_run(&h, 2900 * MS, 0.01, 500 * MS, 1000 * MS), &rule,
                                    &out, err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 0);
    baseline_regressions_free(&out);
    /* a node the baseline never saw is not checked */
    ck_assert_int_eq(baseline_check(f, probe_run(&h, SECONDS, 0.01, 200 * MS, 1000 * MS), NULL,
                                    &out, err, sizeof(err)), 0);
    h.nodes[1].node_id = "new";
    ck_assert_int_eq(baseline_check(f, &h.run, NULL, &out, err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 0);
    baseline_free(NULL);
    baseline_figures_free(f);

    /* 29 runs: below min_runs, nothing is checked however slow the run */
    f = steady_figures(29, 29, 0.01);
    ck_assert_int_eq(baseline_check(f, probe_run(&h, 100 * SECONDS, 1.0, 100 * SECONDS, 100 * SECONDS),
                                    NULL, &out, err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 0);
    baseline_figures_free(f);

    /* a baseline that cost nothing is no reference for cost */
    f = steady_figures(40, 40, 0.0);
    ck_assert_int_eq(baseline_check(f, probe_run(&h, SECONDS, 5.0, 200 * MS, 100 * MS), NULL, &out,
                                    err, sizeof(err)), 0);
    ck_assert_uint_eq(out.count, 0);
    baseline_figures_free(f);
}
END_TEST

/* ---- Comparison --------------------------------------------------------- */

/* scipy's two-sided asymptotic Mann-Whitney p-value of B against A, and U of B. */
static void scipy_mwu(const double *a, size_t n_a, const double *b, size_t n_b, double *u, double *p) {
    char path[] = "/tmp/dagprof_mwu_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < n_a; i++)
        fprintf(f, "%s%.17g", i ? " " : "", a[i]);
    fprintf(f, "\n");
    for (size_t i = 0; i < n_b; i++)
        fprintf(f, "%s%.17g", i ? " " : "", b[i]);
    fprintf(f, "\n");
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import sys; from scipy.stats import mannwhitneyu; "
             "l = open(sys.argv[1]).read().split(\"\\n\"); a = [float(x) for x in l[0].split()]; "
             "b = [float(x) for x in l[1].split()]; r = mannwhitneyu(b, a, method=\"asymptotic\"); "
             "print(\"%%.17g %%.17g\" %% (r.statistic, r.pvalue))' %s",
             path);
    FILE *pipe = popen(cmd, "r");
    ck_assert_ptr_nonnull(pipe);
    int got = fscanf(pipe, "%lf %lf", u, p);
    int status = pclose(pipe);
    unlink(path);
    ck_assert_msg(got == 2 && status == 0,
                  "this test needs python3-scipy (Debian: apt-get install python3-scipy) to check "
                  "the rank test with an independent implementation");
}

static baseline_run_t *compare_run(int i, double wall_us, double cost, double node_exec_us) {
    hand_run_t h;
    hand_run(&h, i, "d", "v");
    h.run.wall_us = (int64_t)wall_us;
    h.run.cost_usd = cost;
    h.nodes[0] = (baseline_node_run_t){"a", (int64_t)node_exec_us, 0, true, false, 0, cost};
    h.nodes[1] = (baseline_node_run_t){"z", 1000, 0, false, false, 0, 0};
    h.run.node_count = 2;
    return baseline_run_copy(&h.run);
}

START_TEST(test_compare_against_scipy) {
    char err[256];
    enum { NA = 50, NB = 40 };
    baseline_run_t *a[NA], *b[NB];
    double wall_a[NA], wall_b[NB], cost_a[NA], cost_b[NB];
    /* A: wall 1000..1049 ms; B: the same shape 18% faster (B has 40 runs: 820..860.98 ms).
     * Cost: A $0.0100..0.0149, B 4% dearer with ties (every value twice). */
    for (int i = 0; i < NA; i++) {
        wall_a[i] = (1000.0 + i) * 1000.0;
        cost_a[i] = 0.01 + i * 1e-4;
        a[i] = compare_run(i, wall_a[i], cost_a[i], 500e3 + i * 1e3);
    }
    for (int i = 0; i < NB; i++) {
        wall_b[i] = (double)(int64_t)(0.82 * (1000.0 + 5 + i) * 1000.0 + 0.5);
        cost_b[i] = 1.04 * (0.01 + (5 + i / 2 * 2) * 1e-4);
        b[i] = compare_run(100 + i, wall_b[i], cost_b[i], 250e3);
    }
    baseline_comparison_t *c = baseline_compare((const baseline_run_t *const *)a, NA,
                                                (const baseline_run_t *const *)b, NB, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->a.runs, NA);
    ck_assert_int_eq(c->b.runs, NB);
    /* A's median is the mean of 1024 and 1025 ms; p95 at rank 46.55 */
    ck_assert(c->a.wall_p50_us == 1024.5e3);
    ck_assert_double_eq_tol(c->a.wall_p95_us, 1046.55e3, 1e-6);
    /* B's median: the mean of ranks 19 and 20: 0.82 x 1024.5 ms */
    ck_assert_double_eq_tol(c->b.wall_p50_us, 840090.0, 1.0);
    ck_assert_double_eq_tol(c->wall_p50_rel, 840090.0 / 1024500.0 - 1, 1e-6);
    double u, p;
    scipy_mwu(wall_a, NA, wall_b, NB, &u, &p);
    ck_assert_double_eq_tol(c->wall_test.u, u, 1e-9);
    ck_assert_msg(fabs(c->wall_test.p_value - p) <= 1e-9 * p + 1e-300, "wall p %.17g, scipy %.17g",
                  c->wall_test.p_value, p);
    ck_assert(c->wall_test.z < 0); /* B lower */
    scipy_mwu(cost_a, NA, cost_b, NB, &u, &p);
    ck_assert_double_eq_tol(c->cost_test.u, u, 1e-9);
    ck_assert_msg(fabs(c->cost_test.p_value - p) <= 1e-9 * p, "cost p %.17g, scipy %.17g",
                  c->cost_test.p_value, p);
    char cost_p[32], expected[256];
    baseline_format_p(p, cost_p, sizeof(cost_p));
    double cost_pct = 100.0 * fabs(c->cost_p50_rel);
    snprintf(expected, sizeof(expected), "B is 18%% faster at p50 (p < 0.001), %.0f%% more expensive (%s)",
             cost_pct, cost_p);
    ck_assert_str_eq(c->summary, expected);
    /* nodes by id: a (median 524.5 ms vs 250 ms), z (the same) */
    ck_assert_uint_eq(c->node_count, 2);
    ck_assert_str_eq(c->nodes[0].node_id, "a");
    ck_assert_int_eq(c->nodes[0].runs_a, NA);
    ck_assert_int_eq(c->nodes[0].runs_b, NB);
    ck_assert(c->nodes[0].exec_p50_a_us == 524.5e3);
    ck_assert(c->nodes[0].exec_p50_b_us == 250e3);
    ck_assert_double_eq_tol(c->nodes[0].rel_diff, 250.0 / 524.5 - 1, 1e-12);
    ck_assert_str_eq(c->nodes[1].node_id, "z");
    ck_assert(c->nodes[1].rel_diff == 0.0);
    baseline_comparison_free(c);
    for (int i = 0; i < NA; i++)
        baseline_run_free(a[i]);
    for (int i = 0; i < NB; i++)
        baseline_run_free(b[i]);
}
END_TEST

/* Hand-computed: A = {1, 2, 3}, B = {4, 5} s. Ranks of B 4 + 5 = 9, U_B = 6,
 * mu 3, var = 6/12 x 6 = 3; z = (6 - 3 - 0.5) / sqrt 3 = 1.4434; p = 0.14891. */
START_TEST(test_compare_hand_computed) {
    char err[256];
    baseline_run_t *a[3], *b[2];
    for (int i = 0; i < 3; i++)
        a[i] = compare_run(i, (i + 1) * 1e6, 0.01, 1e5);
    for (int i = 0; i < 2; i++)
        b[i] = compare_run(10 + i, (i + 4) * 1e6, 0.0099, 1e5);
    baseline_comparison_t *c = baseline_compare((const baseline_run_t *const *)a, 3,
                                                (const baseline_run_t *const *)b, 2, err, sizeof(err));
    ck_assert(c->wall_test.u == 6.0);
    ck_assert_double_eq_tol(c->wall_test.z, 3.0 / sqrt(3.0), 1e-12);
    ck_assert_double_eq_tol(c->wall_test.p_value, erfc(2.5 / sqrt(3.0) / sqrt(2.0)), 1e-12);
    ck_assert_double_eq_tol(c->wall_test.p_value, 0.14891, 1e-5);
    ck_assert(c->a.wall_p50_us == 2e6);
    ck_assert(c->b.wall_p50_us == 4.5e6);
    ck_assert_double_eq_tol(c->wall_p50_rel, 1.25, 1e-12);
    /* costs: A all 0.01, B all 0.0099: ranks of B 1, 2 -> U_B 0; ties within A
     * (t = 3: 24) and B (t = 2: 6): var = 6/12 x (6 - 30/20) = 2.25 */
    ck_assert(c->cost_test.u == 0.0);
    ck_assert_double_eq_tol(c->cost_test.p_value, erfc((6 - 3 - 0.5) / 1.5 / sqrt(2.0)), 1e-12);
    ck_assert_str_eq(c->summary, "B is 125% slower at p50 (p = 0.15), 1% cheaper (p = 0.10)");
    baseline_comparison_free(c);

    /* the same runs on both sides */
    c = baseline_compare((const baseline_run_t *const *)a, 3, (const baseline_run_t *const *)a, 3,
                         err, sizeof(err));
    ck_assert_str_eq(c->summary, "B is as fast as A at p50 (p = 1.00), as expensive as A (p = 1.00)");
    ck_assert(c->cost_test.p_value == 1.0); /* every cost the same: no variance */
    baseline_comparison_free(c);
    /* an empty side */
    c = baseline_compare((const baseline_run_t *const *)a, 3, NULL, 0, err, sizeof(err));
    ck_assert_str_eq(c->summary, "B has no runs: nothing to compare");
    ck_assert(c->wall_test.p_value == 1.0);
    ck_assert_int_eq(c->b.runs, 0);
    ck_assert(c->b.wall_p50_us == 0.0);
    ck_assert(c->wall_p50_rel == -1.0);
    baseline_comparison_free(c);
    c = baseline_compare(NULL, 0, (const baseline_run_t *const *)b, 2, err, sizeof(err));
    ck_assert_str_eq(c->summary, "A has no runs: nothing to compare");
    ck_assert(c->wall_p50_rel == 0.0);
    baseline_comparison_free(c);

    char text[32];
    baseline_format_p(0.0009, text, sizeof(text));
    ck_assert_str_eq(text, "p < 0.001");
    baseline_format_p(0.001, text, sizeof(text));
    ck_assert_str_eq(text, "p < 0.01");
    baseline_format_p(0.0499, text, sizeof(text));
    ck_assert_str_eq(text, "p < 0.05");
    baseline_format_p(0.05, text, sizeof(text));
    ck_assert_str_eq(text, "p = 0.05");
    baseline_format_p(0.234, text, sizeof(text));
    ck_assert_str_eq(text, "p = 0.23");
    for (int i = 0; i < 3; i++)
        baseline_run_free(a[i]);
    for (int i = 0; i < 2; i++)
        baseline_run_free(b[i]);
}
END_TEST

/* A planted regression: node "summarize" 3x slower in the last 200 of 1000
 * runs. The baseline of the first 800 runs, checked against each of the last
 * 200, names that node and nothing else; no earlier run triggers. */
START_TEST(test_planted_regression) {
    char err[256];
    enum { RUNS = 1000, SLOW_FROM = 800 };
    baseline_run_t *runs[RUNS];
    uint64_t state = 7;
    for (int i = 0; i < RUNS; i++) {
        hand_run_t h;
        hand_run(&h, i, "d", "v");
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        double jitter = (double)(state >> 40) / (double)(1 << 24); /* [0, 1) */
        int64_t summarize = (int64_t)((400 + 100 * jitter) * MS);
        if (i >= SLOW_FROM)
            summarize *= 3;
        h.nodes[0] = (baseline_node_run_t){"fetch", (int64_t)((300 + 50 * jitter) * MS), 0, true, false, 0, 0.001};
        h.nodes[1] = (baseline_node_run_t){"summarize", summarize, 300 * MS, true, false, 0, 0.01};
        h.run.node_count = 2;
        /* the run's wall is both nodes in sequence plus a fixed tail: long enough
         * that a 3x summarize does not push it over 1.5x the wall p95 */
        h.run.wall_us = h.nodes[0].exec_us + summarize + 4000 * MS;
        h.run.run_start_us = T0 + i * 60 * SECONDS;
        h.run.cost_usd = 0.011;
        runs[i] = baseline_run_copy(&h.run);
    }
    baseline_t *b = baseline_new("d", "v", BASELINE_WINDOW_7D,
                                 runs[SLOW_FROM - 1]->run_start_us + runs[SLOW_FROM - 1]->wall_us);
    for (int i = 0; i < SLOW_FROM; i++)
        ck_assert_int_eq(baseline_add(b, runs[i], err, sizeof(err)), 1);
    baseline_figures_t *f = baseline_figures(b, err, sizeof(err));
    int earlier = 0, found = 0;
    for (int i = 0; i < RUNS; i++) {
        baseline_regressions_t out;
        ck_assert_int_eq(baseline_check(f, runs[i], NULL, &out, err, sizeof(err)), 0);
        if (i < SLOW_FROM) {
            earlier += out.count > 0;
        } else {
            ck_assert_uint_eq(out.count, 1);
            ck_assert_int_eq(out.items[0].what, BASELINE_REGRESSION_NODE_EXEC);
            ck_assert_str_eq(out.items[0].node_id, "summarize");
            ck_assert(out.items[0].ratio > 2.0);
            found++;
        }
        baseline_regressions_free(&out);
    }
    ck_assert_int_eq(earlier, 0);
    ck_assert_int_eq(found, RUNS - SLOW_FROM);
    baseline_figures_free(f);
    baseline_free(b);
    for (int i = 0; i < RUNS; i++)
        baseline_run_free(runs[i]);
}
END_TEST

static Suite *baseline_suite(void) {
    Suite *suite = suite_create("baseline");
    TCase *tc = tcase_create("baseline");
    tcase_add_test(tc, test_trace_version);
    tcase_add_test(tc, test_run_from_profile_round_trip);
    tcase_add_test(tc, test_run_extremes_round_trip);
    tcase_add_test(tc, test_decode_errors);
    tcase_add_test(tc, test_figures_hand_built_fleet);
    tcase_add_test(tc, test_windows_and_rate);
    tcase_add_test(tc, test_check_rule);
    tcase_add_test(tc, test_compare_against_scipy);
    tcase_add_test(tc, test_compare_hand_computed);
    tcase_add_test(tc, test_planted_regression);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(baseline_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
