/* test_profile.c -- the engine's figures, checked against hand-computed values.
 *
 * Each trace here is small enough to work out on paper; the comments show the
 * arithmetic. Times are microseconds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "arena.h"
#include "harness_trace.h"
#include "pricing.h"
#include "profile.h"
#include "strmap.h"
#include "textfmt.h"
#include "trace.h"
#include "trace_file.h"

/* ---- building traces by hand ------------------------------------------------ */

/* A tool call `tool` in node span `parent`, with id <prefix><i>. */
static void add_tool(trace_t *t, const char *prefix, int i, const char *parent, int64_t start,
                     int64_t end, const char *tool) {
    char id[32];
    snprintf(id, sizeof(id), "%s%d", prefix, i);
    span_t s = htrace_span(id, parent, NULL, SPAN_KIND_TOOL, start, end);
    s.tool_name = tool;
    htrace_add(t, s);
}

static pricing_t *test_pricing(void) {
    pricing_t *p = pricing_new();
    char err[128];
    pricing_price_t sonnet = {3, 15, 0.3, 3.75}, opus = {15, 75, 1.5, 18.75},
                    haiku35 = {0.8, 4, 0.08, 1}, haiku45 = {1, 5, 0.1, 1.25},
                    gpt = {2.5, 10, 1.25, -1};
    ck_assert_int_eq(pricing_set(p, "claude-sonnet-4-5", &sonnet, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "claude-opus-4-1", &opus, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "claude-3-5-haiku*", &haiku35, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "claude-haiku-4-5", &haiku45, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "gpt-4o", &gpt, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set_downgrade(p, "claude-sonnet-4-5", "claude-haiku-4-5", err, sizeof(err)), 0);
    return p;
}

static profile_t *compute(const trace_t *t, const pricing_t *pricing) {
    profile_options_t o;
    profile_options_init(&o);
    o.revision = 2;
    o.profiled_at_us = 1234;
    char err[256] = "";
    profile_t *p = profile_compute(t, pricing, &o, err, sizeof(err));
    ck_assert_msg(p != NULL, "profile_compute: %s", err);
    return p;
}

static const profile_recommendation_t *rec(const profile_t *p, profile_recommendation_type_t type) {
    for (size_t i = 0; i < p->recommendation_count; i++)
        if (p->recommendations[i].type == type)
            return &p->recommendations[i];
    return NULL;
}

static const profile_bottleneck_t *bottleneck(const profile_t *p, profile_bottleneck_type_t type,
                                              const char *node_id) {
    for (size_t i = 0; i < p->bottleneck_count; i++)
        if (p->bottlenecks[i].type == type && strcmp(p->bottlenecks[i].node_id, node_id) == 0)
            return &p->bottlenecks[i];
    return NULL;
}

static trace_t *load_fixture(const char *name) {
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/%s", DAGPROF_FIXTURES, name);
    trace_t *t = trace_new();
    trace_file_handler_t h = htrace_file_handler(t);
    ck_assert_msg(trace_file_read(path, &h, err, sizeof(err)) == 0, "%s", err);
    return t;
}

/* ---- the example DAG ---------------------------------------------------------- */

/* Offsets from 1705314612000000. run 3.000 s .. 48.234 s.
 * fetch-code          3.000 .. 6.421   exec 3.421  deps -
 * analyze-complexity  6.433 .. 11.246  exec 4.813  deps fetch          ready 6.421 queued 0.012
 * check-security      6.426 .. 12.526  exec 6.100  deps fetch          ready 6.421 queued 0.005
 * review-performance 11.250 .. 15.456  exec 4.206  deps analyze (2 attempts) ready 11.246 queued 0.004
 * aggregate-results  15.756 .. 48.234  exec 32.478 deps check, review  ready 15.456 queued 0.300 */
START_TEST(example_dag_figures) {
    trace_t *t = load_fixture("code_review_dag.jsonl");
    pricing_t *pricing = test_pricing();
    profile_t *p = compute(t, pricing);
    const int64_t T0 = 1705314612000000LL;

    ck_assert_str_eq(p->trace_id, "tr-8f4a2b1c-3d5e-6f7a-8b9c");
    ck_assert_str_eq(p->dag_id, "code-review-dag");
    ck_assert_str_eq(p->profile_id, "tr-8f4a2b1c-3d5e-6f7a-8b9c#2");
    ck_assert_int_eq(p->revision, 2);
    ck_assert_int_eq(p->profiled_at_us, 1234);
    ck_assert(p->complete);

    const profile_summary_t *s = &p->summary;
    ck_assert_int_eq(s->run_start_us, T0 + 3000000);
    ck_assert_int_eq(s->wall_us, 45234000);
    ck_assert_int_eq(s->work_us, 3421000 + 4813000 + 6100000 + 4206000 + 32478000);
    ck_assert_int_eq(s->ideal_wall_us, 44918000); /* 3.421 + 4.813 + 4.206 + 32.478 */
    ck_assert_int_eq(s->critical_path_us, 44918000);
    ck_assert_double_eq_tol(s->parallelism, 51018000.0 / 45234000.0, 1e-12);
    ck_assert_double_eq_tol(s->schedule_efficiency, 44918000.0 / 45234000.0, 1e-12);
    ck_assert_int_eq(s->node_count, 5);
    ck_assert_int_eq(s->span_count, 16);
    ck_assert_int_eq(s->edges, PROFILE_EDGES_DECLARED);
    ck_assert_int_eq(s->tokens.input, 19850);
    ck_assert_int_eq(s->tokens.output, 7600);
    ck_assert_int_eq(s->tokens.cache_read, 2000);
    ck_assert_int_eq(s->tokens.cache_write, 0);
    ck_assert_int_eq(s->tokens.total, 27450);
    /* 0.0153 + 0.02145 + 0.00372 + 0.11325 + 0.05565 + 0.03915 */
    ck_assert_double_eq_tol(s->cost_usd, 0.24852, 1e-12);
    ck_assert_uint_eq(s->unpriced_model_count, 0);

    ck_assert_uint_eq(p->critical_path_count, 4);
    ck_assert_str_eq(p->critical_path[0], "fetch-code");
    ck_assert_str_eq(p->critical_path[1], "analyze-complexity");
    ck_assert_str_eq(p->critical_path[2], "review-performance");
    ck_assert_str_eq(p->critical_path[3], "aggregate-results");

    const profile_node_t *n = htrace_node(p, "fetch-code");
    ck_assert_int_eq(n->exec_us, 3421000);
    ck_assert_int_eq(n->ready_us, T0 + 3000000);
    ck_assert_int_eq(n->blocked_us, 0);
    ck_assert_int_eq(n->queued_us, 0);
    ck_assert_int_eq(n->slack_us, 0);
    ck_assert_uint_eq(n->tool_call_count, 1);
    ck_assert_str_eq(n->tool_calls[0].tool, "git_clone");
    ck_assert_int_eq(n->tool_calls[0].duration_us, 1800000);
    ck_assert(n->tool_calls[0].ok);
    ck_assert_uint_eq(n->model_count, 1);
    ck_assert_str_eq(n->models[0], "claude-3-5-haiku-20241022");
    ck_assert_double_eq_tol(n->cost_usd, 0.00372, 1e-12); /* 1900 x 0.8 + 550 x 4 */

    n = htrace_node(p, "check-security");
    ck_assert_int_eq(n->exec_us, 6100000);
    ck_assert_int_eq(n->ready_us, T0 + 6421000);
    ck_assert_int_eq(n->blocked_us, 3421000);
    ck_assert_int_eq(n->queued_us, 5000);
    ck_assert_int_eq(n->slack_us, 2919000); /* latest start 6.340 - earliest 3.421 */
    ck_assert(!n->on_critical_path);

    n = htrace_node(p, "review-performance");
    ck_assert_int_eq(n->start_us, T0 + 11250000);
    ck_assert_int_eq(n->end_us, T0 + 15456000);
    ck_assert_int_eq(n->retries, 1);
    ck_assert_int_eq(n->status, SPAN_STATUS_OK); /* the last attempt succeeded */
    ck_assert_int_eq(n->queued_us, 4000);
    ck_assert_int_eq(n->tokens.input, 6250);
    ck_assert_uint_eq(n->depends_on_count, 1);
    ck_assert_str_eq(n->depends_on[0], "analyze-complexity");

    n = htrace_node(p, "aggregate-results");
    ck_assert_int_eq(n->ready_us, T0 + 15456000);
    ck_assert_int_eq(n->blocked_us, 12456000);
    ck_assert_int_eq(n->queued_us, 300000);
    ck_assert_uint_eq(n->depends_on_count, 2);
    ck_assert_str_eq(n->depends_on[0], "check-security");
    ck_assert_str_eq(n->depends_on[1], "review-performance");
    ck_assert(n->on_critical_path);
    ck_assert_double_eq_tol(n->cost_usd, 0.11325, 1e-12);

    /* by_model sorted by name; haiku matched by its prefix key */
    ck_assert_uint_eq(p->model_count, 3);
    ck_assert_str_eq(p->by_model[0].model, "claude-3-5-haiku-20241022");
    ck_assert_str_eq(p->by_model[1].model, "claude-opus-4-1");
    ck_assert_str_eq(p->by_model[2].model, "claude-sonnet-4-5");
    ck_assert_int_eq(p->by_model[2].calls, 4);
    ck_assert_double_eq_tol(p->by_model[2].cost_usd, 0.0153 + 0.02145 + 0.05565 + 0.03915, 1e-12);

    /* aggregate-results is 71.8% of wall on the critical path: slow_node.
     * Twice as fast (16.239 s) moves the end from 48.234 to 31.995: saves 16.239 s. */
    const profile_bottleneck_t *b = bottleneck(p, BOTTLENECK_SLOW_NODE, "aggregate-results");
    ck_assert_ptr_nonnull(b);
    ck_assert_double_eq_tol(b->impact_pct, 100.0 * 16239000 / 45234000, 1e-9);
    ck_assert_int_eq(b->severity, PROFILE_LEVEL_HIGH);
    /* the tool call takes 26 s of its 32.478 s */
    ck_assert_ptr_nonnull(bottleneck(p, BOTTLENECK_TOOL_LATENCY, "aggregate-results"));

    /* parallelize: only aggregate-results waited >= 100 ms (300 ms) */
    const profile_recommendation_t *r = rec(p, RECOMMENDATION_PARALLELIZE);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->savings.time_us, 300000);
    ck_assert_uint_eq(r->node_id_count, 1);
    ck_assert_str_eq(r->node_ids[0], "aggregate-results");

    /* cache: review-performance calls sonnet twice (3100 then 3150 tokens): 3100
     * tokens at 3 - 0.3, minus writing 3100 at 3.75 - 3: 0.00837 - 0.002325 */
    r = rec(p, RECOMMENDATION_CACHE);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->node_ids[0], "review-performance");
    ck_assert_int_eq(r->savings.tokens, 3100);
    ck_assert_double_eq_tol(r->savings.cost_usd, 0.006045, 1e-12);

    /* model_downgrade to haiku-4-5 for sonnet calls with <= 500 output tokens:
     * only l4a (3100 in, 400 out): 0.0153 - (3100 x 1 + 400 x 5)/1e6 = 0.0102 */
    r = rec(p, RECOMMENDATION_MODEL_DOWNGRADE);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->node_ids[0], "review-performance");
    ck_assert_double_eq_tol(r->savings.cost_usd, 0.0102, 1e-12);
    ck_assert_int_eq(r->savings.time_us, 0);

    profile_free(p);
    pricing_free(pricing);
    trace_free(t);
}
END_TEST

/* ---- shapes -------------------------------------------------------------------- */

/* Diamond: a 0..10, b 10..40, c 12..20, d 40..50 (b, c -> d). run 0..50.
 * ideal: a 10 + b 30 + d 10 = 50; c: ES 10, LS 40 - 8 = 32 -> slack 22. */
START_TEST(diamond) {
    trace_t *t = trace_new();
    const char *a[] = {"a"}, *bc[] = {"b", "c"};
    span_t run = htrace_span("run", NULL, NULL, SPAN_KIND_RUN, 0, 50);
    run.dag_id = "diamond";
    htrace_add(t, run);
    htrace_add_node(t, "d", 40, 50, bc, 2);
    htrace_add_node(t, "c", 12, 20, a, 1);
    htrace_add_node(t, "b", 10, 40, a, 1);
    htrace_add_node(t, "a", 0, 10, NULL, 0);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.wall_us, 50);
    ck_assert_int_eq(p->summary.work_us, 58);
    ck_assert_int_eq(p->summary.ideal_wall_us, 50);
    ck_assert_int_eq(p->summary.critical_path_us, 50);
    ck_assert_int_eq(htrace_node(p, "c")->slack_us, 22);
    ck_assert_int_eq(htrace_node(p, "c")->queued_us, 2);
    ck_assert_int_eq(htrace_node(p, "b")->slack_us, 0);
    ck_assert_int_eq(htrace_node(p, "d")->ready_us, 40);
    ck_assert_uint_eq(p->critical_path_count, 3);
    ck_assert_str_eq(p->critical_path[0], "a");
    ck_assert_str_eq(p->critical_path[1], "b");
    ck_assert_str_eq(p->critical_path[2], "d");
    ck_assert_str_eq(p->nodes[0].node_id, "a"); /* nodes sorted by id */
    ck_assert_str_eq(p->nodes[3].node_id, "d");
    profile_free(p);
    trace_free(t);
}
END_TEST

/* Ties: two dependencies end at the same time; the smallest id is followed. */
START_TEST(critical_path_ties) {
    trace_t *t = trace_new();
    const char *xy[] = {"y", "x"};
    htrace_add_node(t, "y", 0, 10, NULL, 0);
    htrace_add_node(t, "x", 0, 10, NULL, 0);
    htrace_add_node(t, "z", 10, 20, xy, 2);
    htrace_add_node(t, "w", 5, 20, NULL, 0); /* ends with z: z < w? no, "w" < "z" */
    profile_t *p = compute(t, NULL);
    /* latest end 20 shared by w and z: smallest id is w, which has no deps */
    ck_assert_uint_eq(p->critical_path_count, 1);
    ck_assert_str_eq(p->critical_path[0], "w");
    profile_free(p);

    trace_t *t2 = trace_new();
    htrace_add_node(t2, "y", 0, 10, NULL, 0);
    htrace_add_node(t2, "x", 0, 10, NULL, 0);
    htrace_add_node(t2, "z", 10, 20, xy, 2);
    p = compute(t2, NULL);
    ck_assert_uint_eq(p->critical_path_count, 2);
    ck_assert_str_eq(p->critical_path[0], "x");
    ck_assert_str_eq(p->critical_path[1], "z");
    /* no run span: run start/end from all spans */
    ck_assert_int_eq(p->summary.run_start_us, 0);
    ck_assert_int_eq(p->summary.wall_us, 20);
    ck_assert_str_eq(p->dag_id, "unknown");
    profile_free(p);
    trace_free(t);
    trace_free(t2);
}
END_TEST

/* Chain without depends_on: edges inferred from timing.
 * a 0..10, b 12..20, c 20..30; b ended at c's start, so c depends on b. */
START_TEST(chain_inferred) {
    trace_t *t = trace_new();
    htrace_add_node(t, "c", 20, 30, NULL, 0);
    htrace_add_node(t, "a", 0, 10, NULL, 0);
    htrace_add_node(t, "b", 12, 20, NULL, 0);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.edges, PROFILE_EDGES_INFERRED);
    ck_assert_uint_eq(htrace_node(p, "a")->depends_on_count, 0);
    ck_assert_str_eq(htrace_node(p, "b")->depends_on[0], "a");
    ck_assert_str_eq(htrace_node(p, "c")->depends_on[0], "b");
    ck_assert_int_eq(htrace_node(p, "b")->queued_us, 2);
    ck_assert_int_eq(p->summary.ideal_wall_us, 28);
    ck_assert_int_eq(p->summary.wall_us, 30);
    ck_assert_uint_eq(p->critical_path_count, 3);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* Inference ties: p and q both end at 10, r starts at 10: r depends on p. */
START_TEST(inferred_ties) {
    trace_t *t = trace_new();
    htrace_add_node(t, "q", 0, 10, NULL, 0);
    htrace_add_node(t, "p", 5, 10, NULL, 0);
    htrace_add_node(t, "r", 10, 15, NULL, 0);
    htrace_add_node(t, "z", 3, 3, NULL, 0); /* zero length: depends on nothing before 3 */
    profile_t *p = compute(t, NULL);
    ck_assert_uint_eq(htrace_node(p, "r")->depends_on_count, 1);
    ck_assert_str_eq(htrace_node(p, "r")->depends_on[0], "p");
    ck_assert_uint_eq(htrace_node(p, "z")->depends_on_count, 0);
    ck_assert_uint_eq(htrace_node(p, "p")->depends_on_count, 1); /* z ended at 3 <= 5 */
    ck_assert_str_eq(htrace_node(p, "p")->depends_on[0], "z");
    profile_free(p);
    trace_free(t);
}
END_TEST

/* Fan-out of 100: root 0..10, leaves i = 0..99 run 10..(20 + i), sink after all. */
START_TEST(fan_out_100) {
    trace_t *t = trace_new();
    const char *root[] = {"root"};
    htrace_add_node(t, "root", 0, 10, NULL, 0);
    static char names[100][16];
    static const char *leaf_names[100];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "leaf%03d", i);
        leaf_names[i] = names[i];
        htrace_add_node(t, names[i], 10, 20 + i, root, 1);
    }
    htrace_add_node(t, "sink", 119, 129, leaf_names, 100);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.node_count, 102);
    /* work = 10 + sum(10 + i) + 10 = 20 + 1000 + 4950 */
    ck_assert_int_eq(p->summary.work_us, 5970);
    ck_assert_int_eq(p->summary.wall_us, 129);
    ck_assert_int_eq(p->summary.ideal_wall_us, 129);
    ck_assert_double_eq_tol(p->summary.parallelism, 5970.0 / 129.0, 1e-12);
    ck_assert_int_eq(htrace_node(p, "leaf000")->slack_us, 99);
    ck_assert_int_eq(htrace_node(p, "leaf099")->slack_us, 0);
    ck_assert_str_eq(p->critical_path[1], "leaf099");
    profile_free(p);
    trace_free(t);
}
END_TEST

/* Retries: attempts 0 and 1 fail, 2 succeeds. Node 0..30, last attempt 20..30.
 * Removing the failed attempts shortens the node to 10: the run ends 20 sooner. */
START_TEST(retries) {
    trace_t *t = trace_new();
    span_t run = htrace_span("run", NULL, NULL, SPAN_KIND_RUN, 0, 40);
    htrace_add(t, run);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "w%d", i);
        span_t s = htrace_span(strdup(id), "run", "work", SPAN_KIND_NODE, i * 10, i * 10 + (i == 2 ? 10 : 8));
        s.attempt = i;
        s.status = i < 2 ? SPAN_STATUS_ERROR : SPAN_STATUS_OK;
        htrace_add(t, s);
        free((void *)s.span_id);
    }
    const char *dep[] = {"work"};
    htrace_add_node(t, "next", 30, 40, dep, 1);
    profile_t *p = compute(t, NULL);
    const profile_node_t *n = htrace_node(p, "work");
    ck_assert_int_eq(n->retries, 2);
    ck_assert_int_eq(n->status, SPAN_STATUS_OK);
    ck_assert_int_eq(n->exec_us, 30);
    const profile_bottleneck_t *b = bottleneck(p, BOTTLENECK_EXCESSIVE_RETRIES, "work");
    ck_assert_ptr_nonnull(b);
    ck_assert_double_eq_tol(b->impact_pct, 50.0, 1e-9); /* 20 of 40 */
    ck_assert_ptr_null(bottleneck(p, BOTTLENECK_ERROR_NODE, "work"));
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- cost ------------------------------------------------------------------------ */

START_TEST(cached_token_pricing) {
    trace_t *t = trace_new();
    htrace_add_node(t, "n", 0, 100, NULL, 0);
    span_t l = htrace_span("l1", "n", NULL, SPAN_KIND_LLM, 0, 50);
    l.model = "claude-sonnet-4-5";
    l.input_tokens = 10000;
    l.cache_read_tokens = 6000;
    l.cache_write_tokens = 1000;
    l.output_tokens = 2000;
    l.reasoning_tokens = 500;
    htrace_add(t, l);
    /* (10000 - 6000 - 1000) x 3 + 6000 x 0.3 + 1000 x 3.75 + 2000 x 15
     * = 9000 + 1800 + 3750 + 30000 = 44550 -> $0.04455 */
    span_t g = htrace_span("l2", "n", NULL, SPAN_KIND_LLM, 50, 60);
    g.model = "openai/GPT-4o"; /* provider segment dropped, case ignored */
    g.input_tokens = 1000;
    g.cache_read_tokens = 400;
    g.output_tokens = 100;
    htrace_add(t, g);
    /* 600 x 2.5 + 400 x 1.25 + 100 x 10 = 1500 + 500 + 1000 -> $0.003 */
    span_t u = htrace_span("l3", "n", NULL, SPAN_KIND_LLM, 60, 70);
    u.model = "mystery-model";
    u.input_tokens = 5;
    htrace_add(t, u);
    span_t h = htrace_span("l4", "n", NULL, SPAN_KIND_LLM, 70, 80);
    h.model = "claude-3-5-haiku-20241022"; /* prefix key */
    h.input_tokens = 1000000;
    htrace_add(t, h);
    span_t cw = htrace_span("l5", "n", NULL, SPAN_KIND_LLM, 80, 90);
    cw.model = "gpt-4o"; /* no cache_write price: falls back to input */
    cw.input_tokens = 1000;
    cw.cache_write_tokens = 1000;
    htrace_add(t, cw);
    pricing_t *pricing = test_pricing();
    profile_t *p = compute(t, pricing);
    ck_assert_double_eq_tol(p->summary.cost_usd, 0.04455 + 0.003 + 0 + 0.8 + 0.0025, 1e-12);
    ck_assert_uint_eq(p->summary.unpriced_model_count, 1);
    ck_assert_str_eq(p->summary.unpriced_models[0], "mystery-model");
    ck_assert_int_eq(p->summary.tokens.reasoning, 500);
    ck_assert_int_eq(p->summary.tokens.total, 10000 + 2000 + 1000 + 100 + 5 + 1000000 + 1000);
    ck_assert_uint_eq(p->model_count, 5);
    profile_free(p);
    pricing_free(pricing);
    trace_free(t);
}
END_TEST

START_TEST(pricing_rules) {
    pricing_t *p = pricing_new();
    char err[128];
    pricing_price_t a = {1, 2, -1, -1}, b = {3, 4, 0.5, 5}, c = {7, 8, -1, -1}, out;
    ck_assert_int_eq(pricing_set(p, "gpt-4*", &a, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "gpt-4o*", &b, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "GPT-4o-Mini", &c, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_lookup(p, "gpt-4o-mini", &out), 0); /* exact wins */
    ck_assert_double_eq(out.input_usd_per_mtok, 7);
    ck_assert_double_eq(out.cache_read_usd_per_mtok, 7); /* falls back to input */
    ck_assert_int_eq(pricing_lookup(p, "gpt-4o-2024-08-06", &out), 0); /* longest prefix */
    ck_assert_double_eq(out.input_usd_per_mtok, 3);
    ck_assert_int_eq(pricing_lookup(p, "gpt-4-turbo", &out), 0);
    ck_assert_double_eq(out.input_usd_per_mtok, 1);
    ck_assert_int_eq(pricing_lookup(p, "azure/gpt-4o-mini", &out), 0);
    ck_assert_double_eq(out.input_usd_per_mtok, 7);
    ck_assert_int_eq(pricing_lookup(p, "gpt-3.5", &out), -1); /* never priced as another */
    ck_assert_int_eq(pricing_lookup(p, NULL, &out), -1);
    pricing_price_t neg = {-1, 0, 0, 0};
    ck_assert_int_eq(pricing_set(p, "x", &neg, err, sizeof(err)), -1);
    pricing_free(p);
}
END_TEST

/* ---- robustness ---------------------------------------------------------------------- */

START_TEST(invalid_and_duplicate_spans) {
    trace_t *t = trace_new();
    char err[256];
    span_t bad = htrace_span("bad", NULL, "n", SPAN_KIND_NODE, 10, 5);
    ck_assert_int_eq(trace_add_span(t, &bad, err, sizeof(err)), TRACE_ADD_INVALID);
    ck_assert_ptr_nonnull(strstr(err, "end_us < start_us"));
    span_t good = htrace_span("a", NULL, "n", SPAN_KIND_NODE, 0, 5);
    ck_assert_int_eq(trace_add_span(t, &good, err, sizeof(err)), TRACE_ADD_OK);
    span_t dup = htrace_span("a", NULL, "n", SPAN_KIND_NODE, 0, 500);
    ck_assert_int_eq(trace_add_span(t, &dup, err, sizeof(err)), TRACE_ADD_DUPLICATE);
    span_t other = htrace_span("b", NULL, "n", SPAN_KIND_NODE, 0, 5);
    other.trace_id = "t2";
    ck_assert_int_eq(trace_add_span(t, &other, err, sizeof(err)), TRACE_ADD_INVALID);
    span_t huge = htrace_span("huge", NULL, "n", SPAN_KIND_NODE, -5, INT64_MAX);
    ck_assert_int_eq(trace_add_span(t, &huge, err, sizeof(err)), TRACE_ADD_INVALID);
    ck_assert_str_eq(err, "span huge: timestamp out of range, ignored");
    span_t noid = htrace_span("", NULL, "n", SPAN_KIND_NODE, 0, 5);
    ck_assert_int_eq(trace_add_span(t, &noid, err, sizeof(err)), TRACE_ADD_INVALID);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.span_count, 1);
    ck_assert_int_eq(p->nodes[0].exec_us, 5); /* the first copy was kept */
    ck_assert(htrace_has_warning(p, "span bad: end_us < start_us"));
    ck_assert(htrace_has_warning(p, "belongs to trace t2"));
    profile_free(p);
    trace_free(t);
}
END_TEST

START_TEST(unknown_dependency_and_cycle) {
    trace_t *t = trace_new();
    const char *dep_ghost[] = {"ghost", "c"}, *dep_a[] = {"a"}, *dep_b[] = {"b"}, *dep_self[] = {"s"};
    htrace_add_node(t, "a", 0, 10, dep_ghost, 2); /* a -> c -> b -> a */
    htrace_add_node(t, "b", 10, 20, dep_a, 1);
    htrace_add_node(t, "c", 20, 30, dep_b, 1);
    htrace_add_node(t, "s", 30, 40, dep_self, 1);
    profile_t *p = compute(t, NULL);
    ck_assert(htrace_has_warning(p, "node a depends on unknown node ghost"));
    ck_assert(htrace_has_warning(p, "node s depends on itself"));
    /* a started 30 us before c ended: within the 1 ms clock-skew tolerance,
     * so the edge stays. DFS from a: a -> c -> b -> a closes the cycle; the
     * dependency of b on a is dropped */
    ck_assert(htrace_has_warning(p, "dependency cycle: b depends on a, which depends on it in turn; "
                             "that dependency is not used"));
    ck_assert_uint_eq(htrace_node(p, "b")->depends_on_count, 0);
    ck_assert_str_eq(htrace_node(p, "a")->depends_on[0], "c");
    /* b, c = 10 + 10; a overlaps c by 30 us, more than a ran, so it adds
     * nothing to the path (a path never outlasts the time its nodes spanned) */
    ck_assert_int_eq(p->summary.ideal_wall_us, 20);
    ck_assert_int_eq(htrace_node(p, "a")->ready_us, 0); /* c ended after a started: a had it at its start */
    profile_free(p);
    trace_free(t);
}
END_TEST

START_TEST(orphans_and_parent_cycles) {
    trace_t *t = trace_new();
    htrace_add_node(t, "n", 0, 10, NULL, 0);
    htrace_add(t, htrace_span("child", "n", NULL, SPAN_KIND_TOOL, 2, 30)); /* extends n to 30 */
    htrace_add(t, htrace_span("grandchild", "child", NULL, SPAN_KIND_OTHER, 3, 4));
    htrace_add(t, htrace_span("orphan", "never-arrived", NULL, SPAN_KIND_LLM, 0, 50));
    htrace_add(t, htrace_span("loop1", "loop2", NULL, SPAN_KIND_OTHER, 0, 1));
    htrace_add(t, htrace_span("loop2", "loop1", NULL, SPAN_KIND_OTHER, 0, 1));
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.node_count, 1);
    ck_assert_int_eq(htrace_node(p, "n")->end_us, 30);
    ck_assert_uint_eq(htrace_node(p, "n")->tool_call_count, 1);
    ck_assert_int_eq(p->summary.wall_us, 50); /* the orphan still counts for the run */
    ck_assert(htrace_has_warning(p, "name a parent that is not in the trace"));
    ck_assert(htrace_has_warning(p, "cycle(s) in parent_span_id"));
    profile_free(p);
    trace_free(t);
}
END_TEST

START_TEST(single_span_and_empty) {
    trace_t *t = trace_new();
    char err[128] = "";
    profile_options_t o;
    profile_options_init(&o);
    ck_assert_ptr_null(profile_compute(t, NULL, &o, err, sizeof(err)));
    ck_assert_str_eq(err, "the trace has no valid span");
    htrace_add(t, htrace_span("only", NULL, NULL, SPAN_KIND_RUN, 5, 5));
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.node_count, 0);
    ck_assert_int_eq(p->summary.wall_us, 0);
    ck_assert_double_eq(p->summary.parallelism, 0);
    ck_assert_double_eq(p->summary.schedule_efficiency, 1);
    ck_assert_uint_eq(p->critical_path_count, 0);
    profile_free(p);
    trace_free(t);
}
END_TEST

START_TEST(strange_strings) {
    trace_t *t = trace_new();
    char *huge = malloc(100000);
    memset(huge, 'x', 99999);
    huge[99999] = '\0';
    span_t s = htrace_span("s\xff\xfe", NULL, "n\xc3", SPAN_KIND_NODE, 0, 1);
    s.name = huge;
    htrace_add(t, s);
    profile_t *p = compute(t, NULL);
    ck_assert_str_eq(p->nodes[0].node_id, "n\xc3");
    ck_assert(htrace_has_warning(p, "strings longer than 4096 bytes were cut"));
    ck_assert_uint_eq(strlen(trace_span(t, 0)->name), TRACE_MAX_STRING_BYTES);
    profile_free(p);
    trace_free(t);
    free(huge);
}
END_TEST

/* Node ids come out in strcmp order whatever they look like: long shared
 * prefixes (sorted 8 bytes at a time), ids that are prefixes of others, bytes
 * above 0x7f, runs short and long, added in a shuffled order. */
START_TEST(node_ids_in_strcmp_order) {
    enum { N = 3000 };
    static char names[N][48];
    static const char *shuffled[N];
    for (int i = 0; i < N; i++) {
        switch (i % 6) {
        case 0: snprintf(names[i], sizeof(names[i]), "summarize_chunk_%05d", i); break;
        case 1: snprintf(names[i], sizeof(names[i]), "summarize_chunk_%d", i * 7919 % 100000); break;
        case 2: snprintf(names[i], sizeof(names[i]), "%.*s", 1 + i % 40, "abcdefghijklmnopqrstuvwxyz0123456789ABCD"); break;
        case 3: snprintf(names[i], sizeof(names[i]), "\xe9t\xe9_%d", i); break;
        case 4: snprintf(names[i], sizeof(names[i]), "n%d", i); break;
        default: snprintf(names[i], sizeof(names[i]), "node-with-a-long-common-name-%08x", (unsigned)i * 2654435761u); break;
        }
        shuffled[i] = names[i];
    }
    uint64_t r = 42;
    for (int i = N - 1; i > 0; i--) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        int j = (int)((r >> 33) % (uint64_t)(i + 1));
        const char *tmp = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = tmp;
    }
    trace_t *t = trace_new();
    size_t distinct = 0;
    for (int i = 0; i < N; i++) {
        span_t s = htrace_span(shuffled[i], NULL, shuffled[i], SPAN_KIND_NODE, i, i + 1);
        char err[256];
        distinct += trace_add_span(t, &s, err, sizeof(err)) == TRACE_ADD_OK;
    }
    profile_t *p = compute(t, NULL);
    ck_assert_uint_eq(p->node_count, distinct);
    ck_assert_uint_gt(distinct, N / 2);
    for (size_t k = 1; k < p->node_count; k++)
        ck_assert_msg(strcmp(p->nodes[k - 1].node_id, p->nodes[k].node_id) < 0,
                      "%s before %s", p->nodes[k - 1].node_id, p->nodes[k].node_id);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* A trace keeps one copy of a model or tool name for the nearby spans that
 * repeat it; the names and the per-model figures stay exact, with models
 * cycling within what it remembers (3) and beyond it (6). */
START_TEST(repeated_names_shared) {
    static const char *const models[] = {"m-a", "m-b", "m-c", "m-d", "m-e", "m-f"};
    for (int cycle = 3; cycle <= 6; cycle += 3) {
        trace_t *t = trace_new();
        htrace_add_node(t, "n", 0, 100, NULL, 0);
        for (int i = 0; i < 60; i++) {
            char id[16], model[16];
            snprintf(id, sizeof(id), "l%d", i);
            snprintf(model, sizeof(model), "%s", models[i % cycle]); /* a fresh buffer each time */
            span_t s = htrace_span(id, "n", NULL, SPAN_KIND_LLM, i, i + 1);
            s.model = model;
            s.input_tokens = 10 + i % cycle;
            htrace_add(t, s);
        }
        for (int i = 0; i < 60; i++)
            ck_assert_str_eq(trace_span(t, 1 + i)->model, models[i % cycle]);
        if (cycle == 3)
            ck_assert_ptr_eq(trace_span(t, 1)->model, trace_span(t, 1 + 3 * 19)->model);
        profile_t *p = compute(t, NULL);
        ck_assert_uint_eq(p->model_count, (size_t)cycle);
        for (int m = 0; m < cycle; m++) {
            ck_assert_str_eq(p->by_model[m].model, models[m]);
            ck_assert_int_eq(p->by_model[m].calls, 60 / cycle);
            ck_assert_int_eq(p->by_model[m].tokens.input, (int64_t)(60 / cycle) * (10 + m));
        }
        profile_free(p);
        trace_free(t);
    }
}
END_TEST

/* Padded keys (the engine's arena copies, read 8 bytes at a time) hash as
 * strmap_key_hash() does and compare as strcmp does, at every length and
 * with bytes above 0x7f; a map finds them either way. */
START_TEST(strmap_padded_keys) {
    arena_t *arena = arena_new();
    char text[64];
    const char *copies[41];
    for (size_t len = 0; len <= 40; len++) {
        for (size_t i = 0; i < len; i++)
            text[i] = (char)(i % 3 == 2 ? 0xe9 : 'a' + (int)((len + i) % 26));
        text[len] = '\0';
        const char *copy = arena_strcopy(arena, text, len);
        copies[len] = copy;
        for (size_t i = len; i < (len + 16) / 16 * 16; i++) /* zero-filled to 16 */
            ck_assert_int_eq(copy[i], 0);
        ck_assert_uint_eq(strmap_padded_key_hash(copy), strmap_key_hash(text));
        size_t measured = 999;
        ck_assert_uint_eq(strmap_padded_key_hash_len(copy, &measured), strmap_key_hash(text));
        ck_assert_uint_eq(measured, len);
        ck_assert(strmap_padded_equal(copy, arena_strcopy(arena, text, len)));
        for (size_t i = 0; i < len; i++) { /* one byte different */
            char other[64];
            memcpy(other, text, len + 1);
            other[i] = other[i] == 'x' ? 'y' : 'x';
            ck_assert(!strmap_padded_equal(copy, arena_strcopy(arena, other, len)));
        }
    }
    for (size_t len = 1; len <= 40; len++) { /* a prefix is not equal */
        const char *prefix = arena_strcopy(arena, copies[len], len - 1);
        ck_assert(!strmap_padded_equal(prefix, copies[len]));
        ck_assert(!strmap_padded_equal(copies[len], prefix));
    }
    strmap_t map;
    ck_assert_int_eq(strmap_init(&map, 4), 0);
    for (size_t len = 0; len <= 40; len++)
        ck_assert_int_eq(strmap_put(&map, copies[len], len, NULL), 1);
    for (size_t len = 0; len <= 40; len++) {
        size_t value = 999;
        ck_assert(strmap_get_padded(&map, copies[len], strmap_padded_key_hash(copies[len]), &value));
        ck_assert_uint_eq(value, len);
    }
    const char *absent = arena_strcopy(arena, "not-a-key", 9);
    size_t value;
    ck_assert(!strmap_get_padded(&map, absent, strmap_padded_key_hash(absent), &value));
    strmap_free(&map);
    arena_free(arena);
}
END_TEST

/* The run span is the earliest (ties: smallest span_id) and the dag_id is
 * its own, whatever order the spans came in; with no run span the dag_id is
 * the earliest span's that has one and the run spans all the spans. */
START_TEST(run_span_and_dag_id_chosen_in_any_order) {
    static const int orders[3][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}};
    for (int o = 0; o < 3; o++) {
        span_t runs[3] = {htrace_span("r0", NULL, NULL, SPAN_KIND_RUN, 10, 50),
                          htrace_span("r2", NULL, NULL, SPAN_KIND_RUN, 5, 40),
                          htrace_span("r1", NULL, NULL, SPAN_KIND_RUN, 5, 30)};
        runs[0].dag_id = "dag-r0";
        runs[1].dag_id = "dag-r2";
        runs[2].dag_id = "dag-r1";
        trace_t *t = trace_new();
        for (int i = 0; i < 3; i++)
            htrace_add(t, runs[orders[o][i]]);
        htrace_add_node(t, "n", 6, 20, NULL, 0);
        profile_t *p = compute(t, NULL);
        ck_assert_str_eq(p->dag_id, "dag-r1");
        ck_assert_int_eq(p->summary.run_start_us, 5);
        ck_assert_int_eq(p->summary.wall_us, 25);
        ck_assert(htrace_has_warning(p, "3 run spans; the earliest (r1) is the run"));
        profile_free(p);
        trace_free(t);

        /* no run span: the first span with a dag_id names the DAG */
        span_t spans[3] = {htrace_span("b", NULL, "n1", SPAN_KIND_NODE, 7, 9),
                           htrace_span("a", NULL, "n2", SPAN_KIND_NODE, 7, 30),
                           htrace_span("c", NULL, "n3", SPAN_KIND_NODE, 3, 8)};
        spans[0].dag_id = "dag-b";
        spans[1].dag_id = "dag-a";
        t = trace_new();
        for (int i = 0; i < 3; i++)
            htrace_add(t, spans[orders[o][i]]);
        p = compute(t, NULL);
        ck_assert_str_eq(p->dag_id, "dag-a");
        ck_assert_int_eq(p->summary.run_start_us, 3);
        ck_assert_int_eq(p->summary.wall_us, 27);
        profile_free(p);
        trace_free(t);
    }
}
END_TEST

/* Node a ran (0..50 ms) before the run span starts (100 ms): the profile
 * window starts with a, so wall is 200 ms. b waited 100 ms after its input;
 * starting b at once saves those 100 ms, 50% of wall. */
START_TEST(replay_with_inputs_before_the_run) {
    trace_t *t = trace_new();
    const char *on_a[] = {"a"};
    htrace_add(t, htrace_span("run", NULL, NULL, SPAN_KIND_RUN, 100000, 200000));
    htrace_add_node(t, "a", 0, 50000, NULL, 0);
    htrace_add_node(t, "b", 150000, 200000, on_a, 1);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(htrace_node(p, "b")->queued_us, 100000);
    const profile_bottleneck_t *b = bottleneck(p, BOTTLENECK_SCHEDULING_DELAY, "b");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(p->summary.run_start_us, 0);
    ck_assert_int_eq(p->summary.wall_us, 200000);
    ck_assert(htrace_has_warning(p, "1 node(s) ran outside the run span, by up to 100.0 ms before its "
                             "start; the profile window covers them"));
    ck_assert_double_eq_tol(b->impact_pct, 50.0, 1e-9);
    ck_assert_msg(strstr(b->details, "finishes the run 100.0 ms sooner") != NULL, "%s", b->details);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* 100,000 nodes in a chain: linear passes only, or this would never finish. */
START_TEST(large_chain) {
    trace_t *t = trace_new();
    enum { N = 100000 };
    char (*names)[16] = malloc(sizeof(char[16]) * N);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "n%06d", i);
        const char *dep[1] = {i ? names[i - 1] : NULL};
        htrace_add_node(t, names[i], (int64_t)i * 10, (int64_t)i * 10 + 9, dep, i ? 1 : 0);
    }
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.node_count, N);
    ck_assert_int_eq(p->summary.ideal_wall_us, (int64_t)N * 9);
    ck_assert_int_eq(p->summary.wall_us, (int64_t)N * 10 - 1);
    ck_assert_uint_eq(p->critical_path_count, N);
    ck_assert_int_eq(htrace_node(p, "n050000")->queued_us, 1);
    profile_free(p);
    trace_free(t);
    free(names);
}
END_TEST

/* ---- savings are computed, not guessed ------------------------------------------------- */

/* a 0..10 and b 10..20 are independent but ran one after the other (b queued
 * 10); c needs both, 20..30. Started at once, b ends at 10 and c at 20: saves 10. */
START_TEST(parallelize_saving) {
    trace_t *t = trace_new();
    const char *ab[] = {"a", "b"};
    htrace_add_node(t, "a", 0, 1000000, NULL, 0);
    htrace_add_node(t, "b", 1000000, 2000000, NULL, 0);
    htrace_add_node(t, "c", 2000000, 3000000, ab, 2);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(htrace_node(p, "b")->queued_us, 1000000);
    const profile_recommendation_t *r = rec(p, RECOMMENDATION_PARALLELIZE);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->savings.time_us, 1000000);
    ck_assert_int_eq(r->priority, PROFILE_LEVEL_HIGH);
    ck_assert_ptr_nonnull(bottleneck(p, BOTTLENECK_SCHEDULING_DELAY, "b"));
    ck_assert_double_eq_tol(p->summary.schedule_efficiency, 2.0 / 3.0, 1e-12);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* A chain a -> b -> c -> d where c is long; without the edge b -> c, c has no
 * input left and starts with the run: the saving is a's and b's time, 300. */
START_TEST(restructure_saving) {
    trace_t *t = trace_new();
    const char *a[] = {"a"}, *b[] = {"b"}, *c[] = {"c"};
    htrace_add_node(t, "a", 0, 100, NULL, 0);
    htrace_add_node(t, "b", 100, 300, a, 1);
    htrace_add_node(t, "c", 300, 1300, b, 1);
    htrace_add_node(t, "d", 1300, 1400, c, 1);
    profile_t *p = compute(t, NULL);
    ck_assert_ptr_nonnull(bottleneck(p, BOTTLENECK_SEQUENTIAL_BOTTLENECK, "c"));
    const profile_recommendation_t *r = rec(p, RECOMMENDATION_RESTRUCTURE_DAG);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->node_ids[0], "b");
    ck_assert_str_eq(r->node_ids[1], "c");
    ck_assert_int_eq(r->savings.time_us, 300);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* Three sequential web_search calls of 100, 200, 300 ms in one node: batched,
 * the node takes 300 instead of 600, and the run ends 300 ms sooner. */
START_TEST(batch_saving) {
    trace_t *t = trace_new();
    htrace_add_node(t, "n", 0, 600000, NULL, 0);
    int64_t at = 0, d[3] = {100000, 200000, 300000};
    for (int i = 0; i < 3; i++) {
        add_tool(t, "t", i, "n", at, at + d[i], "web_search");
        at += d[i];
    }
    profile_t *p = compute(t, NULL);
    const profile_recommendation_t *r = rec(p, RECOMMENDATION_BATCH_OPERATIONS);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->savings.time_us, 300000);
    profile_free(p);
    trace_free(t);

    /* a, a, b, a, a: another tool between them breaks the run, so no run
     * reaches three calls; a, a, a, b: the three a calls batch */
    static const char *const calls[2][5] = {{"a", "a", "b", "a", "a"}, {"a", "a", "a", "b", NULL}};
    for (int c = 0; c < 2; c++) {
        t = trace_new();
        htrace_add_node(t, "m", 0, 500000, NULL, 0);
        for (int i = 0; i < 5 && calls[c][i]; i++)
            add_tool(t, "m", i, "m", i * 100000, (i + 1) * 100000, calls[c][i]);
        p = compute(t, NULL);
        r = rec(p, RECOMMENDATION_BATCH_OPERATIONS);
        if (c == 0) {
            ck_assert_ptr_null(r);
        } else {
            ck_assert_ptr_nonnull(r);
            ck_assert_int_eq(r->savings.time_us, 200000); /* 3 x 100 ms as one 100 ms call */
        }
        profile_free(p);
        trace_free(t);
    }
}
END_TEST

/* reduce_context: prompts of 1000, 1000, 1000 and 40000 tokens; the median is
 * 1000; the big one is 40x it: 39000 tokens at $3 = $0.117. */
/* The run's median prompt, over prompts that rise twice during the run (the
 * pattern that once made the median quadratic): 1000..5999 twice, then one of
 * 60000. Sorted, position 10001 / 2 = 5000 holds 3500, so trimming the big one
 * to the median saves 56500 tokens. */
START_TEST(reduce_context_median_of_rising_prompts) {
    trace_t *t = trace_new();
    htrace_add_node(t, "n", 0, 20000, NULL, 0);
    htrace_add_node(t, "m", 0, 20000, NULL, 0);
    for (int i = 0; i <= 10000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "l%d", i);
        span_t s = htrace_span(id, i == 10000 ? "m" : "n", NULL, SPAN_KIND_LLM, i, i + 1);
        s.model = "claude-sonnet-4-5";
        s.input_tokens = i == 10000 ? 60000 : 1000 + i % 5000;
        s.output_tokens = 600;
        htrace_add(t, s);
    }
    pricing_t *pricing = test_pricing();
    profile_t *p = compute(t, pricing);
    const profile_recommendation_t *r = rec(p, RECOMMENDATION_REDUCE_CONTEXT);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->node_ids[0], "m");
    ck_assert_int_eq(r->savings.tokens, 56500);
    ck_assert_msg(strstr(r->description, "median of 3500 tokens") != NULL, "%s", r->description);
    profile_free(p);
    pricing_free(pricing);
    trace_free(t);
}
END_TEST

START_TEST(reduce_context_saving) {
    trace_t *t = trace_new();
    htrace_add_node(t, "n", 0, 100, NULL, 0);
    htrace_add_node(t, "m", 0, 100, NULL, 0);
    int64_t inputs[4] = {1000, 1000, 1000, 40000};
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "l%d", i);
        span_t s = htrace_span(strdup(id), i == 3 ? "m" : "n", NULL, SPAN_KIND_LLM, i, i + 1);
        s.model = "claude-sonnet-4-5";
        s.input_tokens = inputs[i];
        s.output_tokens = 600;
        htrace_add(t, s);
        free((void *)s.span_id);
    }
    pricing_t *pricing = test_pricing();
    profile_t *p = compute(t, pricing);
    const profile_recommendation_t *r = rec(p, RECOMMENDATION_REDUCE_CONTEXT);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->node_ids[0], "m");
    ck_assert_int_eq(r->savings.tokens, 39000);
    ck_assert_double_eq_tol(r->savings.cost_usd, 0.117, 1e-12);
    profile_free(p);
    pricing_free(pricing);
    trace_free(t);
}
END_TEST

/* The same spans in any order give the same profile. */
START_TEST(order_independent) {
    trace_t *t1 = load_fixture("code_review_dag.jsonl");
    trace_t *t2 = trace_new();
    char err[128];
    for (size_t i = trace_span_count(t1); i-- > 0;)
        ck_assert_int_eq(trace_add_span(t2, trace_span(t1, i), err, sizeof(err)), TRACE_ADD_OK);
    pricing_t *pricing = test_pricing();
    profile_t *a = compute(t1, pricing), *b = compute(t2, pricing);
    ck_assert_int_eq(a->summary.ideal_wall_us, b->summary.ideal_wall_us);
    ck_assert_double_eq(a->summary.cost_usd, b->summary.cost_usd);
    ck_assert_uint_eq(a->recommendation_count, b->recommendation_count);
    for (size_t i = 0; i < a->node_count; i++) {
        ck_assert_str_eq(a->nodes[i].node_id, b->nodes[i].node_id);
        ck_assert_int_eq(a->nodes[i].slack_us, b->nodes[i].slack_us);
        ck_assert_int_eq(a->nodes[i].status, b->nodes[i].status);
    }
    for (size_t i = 0; i < a->recommendation_count; i++) {
        ck_assert_int_eq(a->recommendations[i].type, b->recommendations[i].type);
        ck_assert_double_eq(a->recommendations[i].savings.cost_usd, b->recommendations[i].savings.cost_usd);
    }
    profile_free(a);
    profile_free(b);
    pricing_free(pricing);
    trace_free(t1);
    trace_free(t2);
}
END_TEST

/* The hand formatter of profile texts must write what printf writes, ties,
 * signs, huge, tiny and non-finite values included. */
static void same_as_printf(const char *fmt, double v) {
    char want[600], got[600];
    snprintf(want, sizeof(want), fmt, v);
    int n = text_format(got, sizeof(got), fmt, v);
    ck_assert_msg(strcmp(want, got) == 0, "%s of %.17g: printf %s, text_format %s", fmt, v, want, got);
    ck_assert_int_eq(n, (int)strlen(want));
}

START_TEST(text_format_matches_printf) {
    static const char *const fmts[] = {"%.0f", "%.1f", "%.2f", "%.4f", "%.9f", "x%.1fx%%"};
    static const double fixed[] = {0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 2.675, 1.005,
                                   0.045, 9.995, 99.95, -0.04, -0.004, 1e-300, 123456789.125,
                                   4503599627370495.5, 1e15, 1e22, 1e300, DBL_MAX, DBL_MIN,
                                   INFINITY, -INFINITY, NAN};
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            same_as_printf(fmts[f], fixed[i]);
        uint64_t x = 88172645463325252ULL; /* xorshift: the same values every run */
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            double scale = pow(10.0, (double)(x % 13) - 4.0);
            double v = (double)(x >> 11) / 9007199254740992.0 * scale;
            if (x & 1)
                v = -v;
            if (i % 3 == 0) /* values on a decimal grid: the ties and near-ties */
                v = round(v * 1000.0) / 1000.0 + (i % 2 ? 0.0005 : 0.005);
            same_as_printf(fmts[f], v);
        }
    }
    char got[64], want[64];
    text_format(got, sizeof(got), "%s|%d|%lld|%zu|%%|%s", "a", INT_MIN, LLONG_MIN, (size_t)SIZE_MAX, "z");
    snprintf(want, sizeof(want), "%s|%d|%lld|%zu|%%|%s", "a", INT_MIN, LLONG_MIN, (size_t)SIZE_MAX, "z");
    ck_assert_str_eq(got, want);
    /* cut like snprintf, and the whole length returned */
    ck_assert_int_eq(text_format(got, 8, "%s and %.2f", "abcdef", 1.0), 15);
    ck_assert_str_eq(got, "abcdef ");
    /* a conversion it does not do itself goes to vsnprintf */
    text_format(got, sizeof(got), "%5.1f|%x|%s", 2.25, 255u, "ok");
    ck_assert_str_eq(got, "  2.2|ff|ok");
}
END_TEST


static Suite *profile_suite(void) {
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("figures");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, example_dag_figures);
    tcase_add_test(tc, diamond);
    tcase_add_test(tc, critical_path_ties);
    tcase_add_test(tc, chain_inferred);
    tcase_add_test(tc, inferred_ties);
    tcase_add_test(tc, fan_out_100);
    tcase_add_test(tc, retries);
    tcase_add_test(tc, cached_token_pricing);
    tcase_add_test(tc, pricing_rules);
    tcase_add_test(tc, invalid_and_duplicate_spans);
    tcase_add_test(tc, unknown_dependency_and_cycle);
    tcase_add_test(tc, orphans_and_parent_cycles);
    tcase_add_test(tc, single_span_and_empty);
    tcase_add_test(tc, strange_strings);
    tcase_add_test(tc, large_chain);
    tcase_add_test(tc, replay_with_inputs_before_the_run);
    tcase_add_test(tc, run_span_and_dag_id_chosen_in_any_order);
    tcase_add_test(tc, strmap_padded_keys);
    tcase_add_test(tc, repeated_names_shared);
    tcase_add_test(tc, reduce_context_median_of_rising_prompts);
    tcase_add_test(tc, node_ids_in_strcmp_order);
    tcase_add_test(tc, parallelize_saving);
    tcase_add_test(tc, restructure_saving);
    tcase_add_test(tc, batch_saving);
    tcase_add_test(tc, reduce_context_saving);
    tcase_add_test(tc, order_independent);
    tcase_add_test(tc, text_format_matches_printf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(profile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
