/* test_engine_cases.c -- awkward inputs the engine once profiled into
 * impossible figures, each with the exact figures it must give now; and
 * Jaeger's critical-path test cases re-expressed as dagprof traces.
 *
 * Times are microseconds; the comments show the arithmetic. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dag.h"
#include "harness_invariants.h"
#include "harness_trace.h"
#include "pricing.h"
#include "profile.h"
#include "profile_json.h"
#include "report.h"
#include "trace.h"
#include "trace_file.h"

#define MS 1000

/* ---- building traces ----------------------------------------------------------- */

/* A run span here names its DAG: the cases profile "dag". */
static span_t sp(const char *id, const char *parent, const char *node, span_kind_t kind,
                 int64_t start, int64_t end) {
    span_t s = htrace_span(id, parent, node, kind, start, end);
    if (kind == SPAN_KIND_RUN)
        s.dag_id = "dag";
    return s;
}

static span_t llm(const char *id, const char *parent, int64_t start, int64_t end,
                  int64_t input, int64_t output) {
    span_t s = sp(id, parent, NULL, SPAN_KIND_LLM, start, end);
    s.model = "claude-sonnet-4-5";
    s.input_tokens = input;
    s.output_tokens = output;
    return s;
}

static pricing_t *sonnet_pricing(void) {
    pricing_t *p = pricing_new();
    char err[128];
    pricing_price_t sonnet = {3, 15, 0.3, 3.75};
    ck_assert_int_eq(pricing_set(p, "claude-sonnet-4-5", &sonnet, err, sizeof(err)), 0);
    return p;
}

/* Profile t, and check every invariant on its JSON on the way. */
static profile_t *compute(const trace_t *t, const pricing_t *pricing) {
    profile_options_t o;
    profile_options_init(&o);
    char err[256];
    profile_t *p = profile_compute(t, pricing, &o, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    buf_t json = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &json), 0);
    char why[512];
    ck_assert_msg(invariants_check_json(json.data, json.len, o.clock_skew_us, why, sizeof(why)) == 0,
                  "%s in %s", why, json.data);
    buf_free(&json);
    return p;
}

static void assert_path(const profile_t *p, const char *const *expected, size_t count) {
    ck_assert_uint_eq(p->critical_path_count, count);
    for (size_t i = 0; i < count; i++)
        ck_assert_str_eq(p->critical_path[i], expected[i]);
}

/* ---- 1. nodes outside the run span ---------------------------------------------- */

/* run 10..20 ms; a 0..12 ms, b 12..30 ms after a. The window is 0..30 ms:
 * before, critical_path_us (30 ms) exceeded wall_us (10 ms) and efficiency
 * was 3.0. */
START_TEST(nodes_outside_the_run_span) {
    trace_t *t = trace_new();
    const char *on_a[] = {"a"};
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 10 * MS, 20 * MS));
    htrace_add_node(t, "a", 0, 12 * MS, NULL, 0);
    htrace_add_node(t, "b", 12 * MS, 30 * MS, on_a, 1);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.run_start_us, 0);
    ck_assert_int_eq(p->summary.wall_us, 30 * MS);
    ck_assert_int_eq(p->summary.critical_path_us, 30 * MS);
    ck_assert_int_eq(p->summary.ideal_wall_us, 30 * MS);
    ck_assert_double_eq_tol(p->summary.schedule_efficiency, 1.0, 1e-12);
    ck_assert_double_eq_tol(p->summary.parallelism, 1.0, 1e-12);
    ck_assert_int_eq(htrace_node(p, "a")->ready_us, 0);
    ck_assert_int_eq(htrace_node(p, "b")->ready_us, 12 * MS);
    ck_assert_int_eq(htrace_node(p, "b")->blocked_us, 12 * MS);
    ck_assert_int_eq(htrace_node(p, "b")->queued_us, 0);
    ck_assert(htrace_has_warning(p, "2 node(s) ran outside the run span, by up to 10.0 ms before its "
                             "start and 10.0 ms after its end; the profile window covers them"));
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- 2. a declared edge the timestamps contradict ------------------------------------ */

/* a 0..50 ms; b 48.8..80 ms declares a (started 1.2 ms before a ended: beyond
 * the 1 ms tolerance, not used); c 49.5..60 ms declares a (0.5 ms: skew, used,
 * ready at its start). Ideal: a then c overlapping 0.5 ms = 60 ms. */
START_TEST(edge_contradicted_by_time) {
    trace_t *t = trace_new();
    const char *on_a[] = {"a"};
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 0, 100 * MS));
    htrace_add_node(t, "a", 0, 50 * MS, NULL, 0);
    htrace_add_node(t, "b", 48800, 80 * MS, on_a, 1);
    htrace_add_node(t, "c", 49500, 60 * MS, on_a, 1);
    profile_t *p = compute(t, NULL);
    ck_assert(htrace_has_warning(p, "b depends on a but started 1.2 ms before a ended; that dependency "
                             "is not used for timing"));
    ck_assert(!htrace_has_warning(p, "c depends on a"));
    const profile_node_t *b = htrace_node(p, "b"), *c = htrace_node(p, "c");
    ck_assert_uint_eq(b->depends_on_count, 0);
    ck_assert_int_eq(b->ready_us, 0);
    ck_assert_int_eq(b->blocked_us, 0);
    ck_assert_int_eq(b->queued_us, 48800); /* before: blocked 50 ms in a 31.2 ms life */
    ck_assert_uint_eq(c->depends_on_count, 1);
    ck_assert_int_eq(c->ready_us, 49500);
    ck_assert_int_eq(c->blocked_us, 49500);
    ck_assert_int_eq(c->queued_us, 0);
    ck_assert_int_eq(p->summary.ideal_wall_us, 60 * MS);
    ck_assert_int_eq(p->summary.wall_us, 100 * MS);
    ck_assert_double_eq_tol(p->summary.schedule_efficiency, 0.6, 1e-12);
    static const char *const path[] = {"b"}; /* latest end, and no dependency used */
    assert_path(p, path, 1);
    ck_assert_int_eq(p->summary.critical_path_us, 31200);
    ck_assert_int_eq(c->slack_us, 0);
    ck_assert_int_eq(b->slack_us, 60 * MS - 31200);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- 3. cycles ------------------------------------------------------------------------ */

/* x 0..10, y 10..20 after x, z 20..30 after y, and x declares z: the edge that
 * contradicts time goes (before, the DFS kept it and dropped y's). p and q
 * took no time at 40 ms and declare each other: time cannot choose, the
 * depth-first rule does (from p, in id order: q's dependency on p goes). */
START_TEST(cycles_lose_the_edge_time_contradicts) {
    trace_t *t = trace_new();
    const char *on_x[] = {"x"}, *on_y[] = {"y"}, *on_z[] = {"z"}, *on_p[] = {"p"}, *on_q[] = {"q"};
    htrace_add_node(t, "x", 0, 10 * MS, on_z, 1);
    htrace_add_node(t, "y", 10 * MS, 20 * MS, on_x, 1);
    htrace_add_node(t, "z", 20 * MS, 30 * MS, on_y, 1);
    htrace_add_node(t, "p", 40 * MS, 40 * MS, on_q, 1);
    htrace_add_node(t, "q", 40 * MS, 40 * MS, on_p, 1);
    profile_t *p = compute(t, NULL);
    ck_assert(htrace_has_warning(p, "x depends on z but started 30.0 ms before z ended"));
    ck_assert(htrace_has_warning(p, "dependency cycle: q depends on p, which depends on it in turn; "
                             "that dependency is not used"));
    ck_assert_uint_eq(p->warning_count, 2);
    ck_assert_uint_eq(htrace_node(p, "x")->depends_on_count, 0);
    ck_assert_str_eq(htrace_node(p, "y")->depends_on[0], "x");
    ck_assert_str_eq(htrace_node(p, "z")->depends_on[0], "y");
    ck_assert_str_eq(htrace_node(p, "p")->depends_on[0], "q");
    ck_assert_uint_eq(htrace_node(p, "q")->depends_on_count, 0);
    static const char *const path[] = {"q", "p"}; /* p ends last (40 ms, before q by id) */
    assert_path(p, path, 2);
    ck_assert_int_eq(p->summary.critical_path_us, 0);
    ck_assert_int_eq(p->summary.ideal_wall_us, 30 * MS); /* x, y, z */
    ck_assert_int_eq(p->summary.wall_us, 40 * MS);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- 4. inferred edges never form cycles ------------------------------------------------ */

/* a and b took no time at 0; c ran 0..10; d 10..20. No declared edges. a and
 * b did not start before each other: no edge (before, each depended on the
 * other). d depends on c, which ended at its start and started before it. */
START_TEST(inferred_edges_are_acyclic) {
    trace_t *t = trace_new();
    htrace_add_node(t, "a", 0, 0, NULL, 0);
    htrace_add_node(t, "b", 0, 0, NULL, 0);
    htrace_add_node(t, "c", 0, 10 * MS, NULL, 0);
    htrace_add_node(t, "d", 10 * MS, 20 * MS, NULL, 0);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.edges, PROFILE_EDGES_INFERRED);
    ck_assert_uint_eq(p->warning_count, 0);
    ck_assert_uint_eq(htrace_node(p, "a")->depends_on_count, 0);
    ck_assert_uint_eq(htrace_node(p, "b")->depends_on_count, 0);
    ck_assert_uint_eq(htrace_node(p, "c")->depends_on_count, 0);
    ck_assert_str_eq(htrace_node(p, "d")->depends_on[0], "c");
    static const char *const path[] = {"c", "d"};
    assert_path(p, path, 2);
    ck_assert_int_eq(p->summary.critical_path_us, 20 * MS);
    ck_assert_int_eq(p->summary.ideal_wall_us, 20 * MS);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* 20,000 nodes that took no time, all at one instant: no edge, no warning. */
START_TEST(many_zero_duration_nodes_at_one_instant) {
    trace_t *t = trace_new();
    char id[32];
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 0, 5 * MS));
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "n%05d", i);
        htrace_add(t, sp(id, "run", id, SPAN_KIND_NODE, 2 * MS, 2 * MS));
    }
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.node_count, 20000);
    ck_assert_msg(p->warning_count == 0, "%s", p->warnings[0]);
    for (size_t k = 0; k < p->node_count; k++)
        ck_assert_uint_eq(p->nodes[k].depends_on_count, 0);
    ck_assert_uint_eq(p->critical_path_count, 1);
    ck_assert_str_eq(p->critical_path[0], "n00000");
    ck_assert_int_eq(p->summary.critical_path_us, 0);
    ck_assert_int_eq(p->summary.ideal_wall_us, 0);
    ck_assert_double_eq_tol(p->summary.schedule_efficiency, 1.0, 1e-12); /* no work to schedule */
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- 5. spans dropped silently ------------------------------------------------------------ */

START_TEST(no_span_dropped_without_a_word) {
    trace_t *t = trace_new();
    char err[256];
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 0, 30 * MS));
    span_t unnamed = sp("s1", "run", NULL, SPAN_KIND_NODE, 0, 10 * MS);
    unnamed.name = "summarize";
    htrace_add(t, unnamed);
    htrace_add(t, sp("s2", "run", "", SPAN_KIND_NODE, 10 * MS, 20 * MS)); /* no name either */
    span_t first = sp("s3", "run", "keep", SPAN_KIND_NODE, 20 * MS, 30 * MS);
    htrace_add(t, first);
    /* the same span again: a replay */
    ck_assert_int_eq(trace_add_span(t, &first, err, sizeof(err)), TRACE_ADD_DUPLICATE);
    ck_assert_str_eq(err, "span s3: replayed, first copy kept");
    /* a different span with the same id: the first one stays, with a warning */
    span_t other = sp("s3", "run", "lost", SPAN_KIND_NODE, 0, 5 * MS);
    ck_assert_int_eq(trace_add_span(t, &other, err, sizeof(err)), TRACE_ADD_DUPLICATE);
    ck_assert_uint_eq(trace_replay_count(t), 1);
    profile_t *p = compute(t, NULL);
    ck_assert_int_eq(p->summary.span_count, 4);
    ck_assert_int_eq(p->summary.node_count, 3);
    ck_assert_int_eq(htrace_node(p, "summarize")->exec_us, 10 * MS);
    ck_assert_int_eq(htrace_node(p, "s2")->exec_us, 10 * MS);
    ck_assert_int_eq(htrace_node(p, "keep")->exec_us, 10 * MS);
    ck_assert(htrace_has_warning(p, "node span s1 has no node_id: profiled as node summarize"));
    ck_assert(htrace_has_warning(p, "node span s2 has no node_id: profiled as node s2"));
    ck_assert(htrace_has_warning(p, "span s3: a different span reuses this span_id; the first one to "
                             "arrive is kept"));
    ck_assert_uint_eq(p->warning_count, 3); /* the replay is counted, not warned */
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- 6. a node whose every span is invalid ------------------------------------------------ */

/* Node "bad"'s span ends before it starts; its llm call l1 (10..20 ms, 1,000
 * in, 100 out: $0.003 + $0.0015) still belongs to it, and "next" still
 * depends on it. Node "gone" has nothing valid: "later" depends on it. An
 * llm call lx directly under the run is outside any node. */
START_TEST(node_with_every_span_invalid) {
    trace_t *t = trace_new();
    char err[256];
    const char *on_bad[] = {"bad"}, *on_gone[] = {"gone"};
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 0, 50 * MS));
    span_t bad = sp("nb", "run", "bad", SPAN_KIND_NODE, 30 * MS, 5 * MS);
    ck_assert_int_eq(trace_add_span(t, &bad, err, sizeof(err)), TRACE_ADD_INVALID);
    span_t gone = sp("ng", "run", "gone", SPAN_KIND_NODE, 9 * MS, 1 * MS);
    ck_assert_int_eq(trace_add_span(t, &gone, err, sizeof(err)), TRACE_ADD_INVALID);
    htrace_add(t, llm("l1", "nb", 10 * MS, 20 * MS, 1000, 100));
    htrace_add_node(t, "next", 20 * MS, 30 * MS, on_bad, 1);
    htrace_add_node(t, "later", 30 * MS, 40 * MS, on_gone, 1);
    htrace_add(t, llm("lx", "run", 40 * MS, 50 * MS, 2000, 200));
    pricing_t *pricing = sonnet_pricing();
    profile_t *p = compute(t, pricing);
    ck_assert(htrace_has_warning(p, "span nb: end_us < start_us, ignored"));
    ck_assert(htrace_has_warning(p, "1 span(s) under a span that was invalid count in that span's node "
                             "(e.g. l1 in node bad)"));
    ck_assert(htrace_has_warning(p, "node later depends on gone, whose every span was invalid "
                             "(dependency ignored)"));
    ck_assert(htrace_has_warning(p, "1 span(s) belong to no node (e.g. lx); their 1 llm call(s) are "
                             "counted outside any node"));
    ck_assert(!htrace_has_warning(p, "unknown node"));
    ck_assert(!htrace_has_warning(p, "not in the trace"));
    const profile_node_t *b = htrace_node(p, "bad");
    ck_assert_int_eq(b->start_us, 10 * MS);
    ck_assert_int_eq(b->exec_us, 10 * MS);
    ck_assert_int_eq(b->tokens.total, 1100);
    ck_assert_double_eq_tol(b->cost_usd, 0.0045, 1e-12);
    ck_assert_str_eq(htrace_node(p, "next")->depends_on[0], "bad");
    ck_assert_int_eq(htrace_node(p, "next")->ready_us, 20 * MS);
    ck_assert_uint_eq(htrace_node(p, "later")->depends_on_count, 0);
    /* every token and cent: nodes 1,100 + outside 2,200 = 3,300 */
    ck_assert_int_eq(p->summary.tokens.total, 3300);
    ck_assert_int_eq(p->summary.outside_tokens.total, 2200);
    ck_assert_int_eq(p->summary.outside_tokens.input, 2000);
    ck_assert_int_eq(p->summary.outside_calls, 1);
    ck_assert_double_eq_tol(p->summary.outside_cost_usd, 0.009, 1e-12); /* 0.006 + 0.003 */
    ck_assert_double_eq_tol(p->summary.cost_usd, 0.0135, 1e-12);
    /* the text report has the line that makes the node rows add up */
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_write_text(p, NULL, &out), 0);
    ck_assert_msg(strstr(out.data, "\n  outside any node     $0.0090        1 llm call of no node, "
                                   "2,200 tokens\n") != NULL, "%s", out.data);
    buf_free(&out);
    profile_free(p);
    pricing_free(pricing);
    trace_free(t);
}
END_TEST

/* ---- 7. a trace of llm spans only --------------------------------------------------------- */

/* Three calls in a row under the run, no node spans: each is a node, named
 * by name, else span_id; edges inferred from timing. */
START_TEST(trace_of_llm_spans_only) {
    trace_t *t = trace_new();
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 0, 30 * MS));
    span_t plan = llm("l1", "run", 0, 10 * MS, 1000, 100);
    plan.name = "plan";
    htrace_add(t, plan);
    span_t act = llm("l2", "run", 10 * MS, 20 * MS, 2000, 200);
    act.name = "act";
    htrace_add(t, act);
    htrace_add(t, llm("l3", "run", 20 * MS, 30 * MS, 3000, 300));
    htrace_add(t, llm("l3a", "l3", 21 * MS, 22 * MS, 10, 1)); /* a call inside l3: part of it */
    pricing_t *pricing = sonnet_pricing();
    profile_t *p = compute(t, pricing);
    ck_assert(htrace_has_warning(p, "the trace has no node spans: its 3 top-level span(s) under the run "
                             "are profiled as nodes, named by node_id, else name, else span_id"));
    ck_assert_int_eq(p->summary.node_count, 3);
    ck_assert_int_eq(p->summary.edges, PROFILE_EDGES_INFERRED);
    static const char *const path[] = {"plan", "act", "l3"};
    assert_path(p, path, 3);
    ck_assert_int_eq(p->summary.critical_path_us, 30 * MS);
    ck_assert_int_eq(htrace_node(p, "plan")->tokens.total, 1100);
    ck_assert_int_eq(htrace_node(p, "act")->tokens.total, 2200);
    ck_assert_int_eq(htrace_node(p, "l3")->tokens.total, 3311);
    ck_assert_int_eq(p->summary.outside_calls, 0);
    ck_assert_int_eq(p->summary.tokens.total, 6611);
    profile_free(p);
    pricing_free(pricing);
    trace_free(t);
}
END_TEST

/* ---- 8. the text report pads by display width ------------------------------------------------ */

/* Columns of spaces (and the one-column critical marker '*') after `name`
 * at the start of a report line ("  <name>  ..."). */
static int spaces_after(const char *report, const char *name, const char *after) {
    const char *from = strstr(report, after);
    ck_assert_ptr_nonnull(from);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "\n  %s", name);
    const char *at = strstr(from, prefix);
    ck_assert_msg(at != NULL, "no row for %s", name);
    at += strlen(prefix);
    int n = 0;
    while (at[n] == ' ' || at[n] == '*')
        n++;
    return n;
}

START_TEST(report_pads_by_display_width) {
    /* display columns, counted by hand: CJK 2 each, the rocket 2, a
     * combining accent 0 */
    static const struct {
        const char *name;
        int columns;
    } names[] = {{"\xe6\x95\xb0\xe6\x8d\xae\xe8\x8e\xb7\xe5\x8f\x96", 8}, /* 数据获取 */
                 {"\xf0\x9f\x9a\x80launch", 8},                           /* 🚀launch */
                 {"e\xcc\x81tape", 5},                                     /* étape, e + U+0301 */
                 {"plain-ascii", 11}};
    trace_t *t = trace_new();
    htrace_add(t, sp("run", NULL, NULL, SPAN_KIND_RUN, 0, 10 * MS));
    char id[8];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "n%d", i);
        /* in parallel: every row is the same but for the name */
        htrace_add(t, sp(id, "run", names[i].name, SPAN_KIND_NODE, 0, 10 * MS));
    }
    profile_t *p = compute(t, NULL);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_write_text(p, NULL, &out), 0);
    const char *sections[] = {"\nNodes (4)", "\nTimeline"};
    for (int s = 0; s < 2; s++) {
        int ascii_gap = spaces_after(out.data, "plain-ascii", sections[s]);
        for (int i = 0; i < 3; i++) {
            int gap = spaces_after(out.data, names[i].name, sections[s]);
            if (gap != ascii_gap + 11 - names[i].columns)
                fprintf(stderr, "%s", out.data);
            ck_assert_msg(gap == ascii_gap + 11 - names[i].columns, "%s in %s: %d spaces, %d",
                          names[i].name, sections[s], gap, ascii_gap + 11 - names[i].columns);
        }
    }
    buf_free(&out);
    profile_free(p);
    trace_free(t);
}
END_TEST

/* ---- Jaeger's critical-path cases ------------------------------------------------------------ */

/* jaeger-ui's CriticalPath testCases 1-9 (packages/jaeger-ui/src/components/
 * TracePage/CriticalPath/testCases), written as dagprof traces: the root span
 * is the run, its children are nodes (node_id = the operation), deeper spans
 * belong to their ancestor's node, no declared edges. Jaeger walks the parent
 * blocked on its children and trims children that overflow their parent;
 * dagprof keeps every node, widens the window to cover them and says so. */

static const struct {
    const char *path[2];
    size_t path_count;
    int64_t run_start_us, wall_us, critical_path_us; /* offsets from 1700000000000000 */
    const char *warning;                             /* NULL: none */
} jaeger[] = {
    /* 1: C 1..101 calls D 20..40, then E 50..60: E waited for D */
    {{"D", "E"}, 2, 1, 100, 30, NULL},
    /* 2: X 1..101 calls A 10..50 and C 20..60 at once: C ends last, alone */
    {{"C"}, 1, 1, 100, 40, NULL},
    /* 3: send 100..140; its async task 200..500 outlives it (Jaeger drops it) */
    {{"async-task-1"}, 1, 100, 400, 300, "by up to 360 us after its end"},
    /* 4: A 1..31; B 40..80 starts after A ended (Jaeger drops it), its child c inside */
    {{"B"}, 1, 1, 79, 40, "by up to 49 us after its end"},
    /* 5: B follows from A (Jaeger leaves it off the path); C inside B */
    {{"B"}, 1, 1, 30, 10, NULL},
    /* 6: B 15..35 overflows A 1..30; B's child C starts at 10, before B */
    {{"B"}, 1, 1, 34, 25, "by up to 5 us after its end"},
    /* 7: B 15..35 and its child C 20..40 overflow A 1..30 */
    {{"B"}, 1, 1, 39, 25, "by up to 10 us after its end"},
    /* 8: B 5..35 is wider than A 10..30 on both sides */
    {{"B"}, 1, 5, 30, 30, "by up to 5 us before its start and 5 us after its end"},
    /* 9: B 1..5 ran entirely before A 10..30 (Jaeger drops it) */
    {{"B"}, 1, 1, 29, 4, "by up to 9 us before its start"},
};

START_TEST(jaeger_critical_path_cases) {
    for (size_t i = 0; i < sizeof(jaeger) / sizeof(jaeger[0]); i++) {
        char path[512], err[256];
        snprintf(path, sizeof(path), "%s/jaeger_critical_path_%zu.jsonl", DAGPROF_FIXTURES, i + 1);
        trace_t *t = trace_new();
        trace_file_handler_t h = htrace_file_handler(t);
        ck_assert_msg(trace_file_read(path, &h, err, sizeof(err)) == 0, "%s", err);
        profile_t *p = compute(t, NULL);
        ck_assert_msg(p->critical_path_count == jaeger[i].path_count, "case %zu", i + 1);
        for (size_t k = 0; k < jaeger[i].path_count; k++)
            ck_assert_str_eq(p->critical_path[k], jaeger[i].path[k]);
        ck_assert_int_eq(p->summary.run_start_us - INT64_C(1700000000000000), jaeger[i].run_start_us);
        ck_assert_int_eq(p->summary.wall_us, jaeger[i].wall_us);
        ck_assert_int_eq(p->summary.critical_path_us, jaeger[i].critical_path_us);
        if (jaeger[i].warning) {
            ck_assert_uint_eq(p->warning_count, 1);
            ck_assert_msg(strstr(p->warnings[0], jaeger[i].warning) != NULL, "case %zu: %s",
                          i + 1, p->warnings[0]);
        } else {
            ck_assert_msg(p->warning_count == 0, "case %zu: %s", i + 1, p->warnings[0]);
        }
        profile_free(p);
        trace_free(t);
    }
}
END_TEST

/* dag.c alone, without profiling: a graph by hand. a (0) and b (1) feed c
 * (2); b waits 5 after its start (lag). Replay: a ends 10, b 5 + 20 = 25, c
 * 25 + 1 + 4 = 30; without c's dependency on b, c ends 10 + 1 + 4 = 15. */
START_TEST(dag_replay_alone) {
    size_t dep_off[] = {0, 0, 0, 2}, deps[] = {0, 1}, topo[] = {0, 1, 2};
    dag_t dag;
    memset(&dag, 0, sizeof(dag));
    dag.node_count = 3;
    dag.dep_off = dep_off;
    dag.deps = deps;
    dag.topo = topo;
    int64_t exec_us[] = {10, 20, 4}, lag_us[] = {0, 5, 1}, scratch[3];
    ck_assert_int_eq(dag_replay(&dag, exec_us, lag_us, SIZE_MAX, SIZE_MAX, scratch), 30);
    ck_assert_int_eq(scratch[1], 25);
    ck_assert_int_eq(dag_replay(&dag, exec_us, lag_us, 2, 1, scratch), 25); /* b still ends last */
    ck_assert_int_eq(scratch[2], 15);
}
END_TEST

int main(void) {
    Suite *s = suite_create("engine_cases");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, nodes_outside_the_run_span);
    tcase_add_test(tc, edge_contradicted_by_time);
    tcase_add_test(tc, cycles_lose_the_edge_time_contradicts);
    tcase_add_test(tc, inferred_edges_are_acyclic);
    tcase_add_test(tc, many_zero_duration_nodes_at_one_instant);
    tcase_add_test(tc, no_span_dropped_without_a_word);
    tcase_add_test(tc, node_with_every_span_invalid);
    tcase_add_test(tc, trace_of_llm_spans_only);
    tcase_add_test(tc, report_pads_by_display_width);
    tcase_add_test(tc, jaeger_critical_path_cases);
    tcase_add_test(tc, dag_replay_alone);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
