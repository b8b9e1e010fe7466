/* test_properties.c -- the profile invariants on random and broken traces.
 *
 * A seeded generator makes traces of every shape the input allows and many
 * it should not: nodes outside the run span or with no run span, declared
 * edges that time contradicts, cycles, self and unknown dependencies,
 * zero-duration nodes at one instant, node spans without a node_id or with
 * "", spans reusing a span_id (identical replays and different spans),
 * invalid spans with children, llm calls under the run or under a missing
 * parent, traces of llm spans only. Every profile must hold every invariant
 * (harness_invariants.h) in its JSON, count every distinct valid span,
 * attribute every token the generator put in, warn about what was broken,
 * and give the same profile whatever order the spans arrived in. DAGPROF_PROPERTY_CASES sets the number of traces (default 4000),
 * DAGPROF_PROPERTY_SEED the first seed; a failure prints the seed and the
 * trace as JSON Lines. */
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "harness_invariants.h"
#include "pricing.h"
#include "profile.h"
#include "profile_json.h"
#include "span_codec.h"
#include "trace.h"

#define MAX_SPANS 96
#define MAX_DEPS 4

/* splitmix64: small, seeded, the same on every machine */
typedef struct rng {
    uint64_t state;
} rng_t;

static uint64_t next_u64(rng_t *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t below(rng_t *r, int64_t n) {
    return n <= 0 ? 0 : (int64_t)(next_u64(r) % (uint64_t)n);
}

static int chance(rng_t *r, int percent) {
    return below(r, 100) < percent;
}

/* A generated trace: the spans, with the strings they point to. */
typedef struct gen {
    span_t spans[MAX_SPANS];
    char ids[MAX_SPANS][16];
    char parents[MAX_SPANS][16];
    char nodes[MAX_SPANS][16];
    const char *deps[MAX_SPANS][MAX_DEPS];
    char dep_text[MAX_SPANS][MAX_DEPS][16];
    size_t count;
    /* what the generator broke, for the warnings it must cause */
    int different_duplicate, unnamed_node_span, reused_ids;
} gen_t;

static const char *const models[] = {"claude-sonnet-4-5", "claude-haiku-4-5", "mystery-model"};

static span_t *new_span(gen_t *g, span_kind_t kind, int64_t start, int64_t end) {
    if (g->count == MAX_SPANS)
        return NULL;
    size_t i = g->count++;
    span_t *s = &g->spans[i];
    memset(s, 0, sizeof(*s));
    snprintf(g->ids[i], sizeof(g->ids[i]), "s%zu", i);
    s->trace_id = "prop";
    s->span_id = g->ids[i];
    s->kind = kind;
    s->start_us = start;
    s->end_us = end;
    s->status = SPAN_STATUS_OK;
    return s;
}

static void set_parent(gen_t *g, span_t *s, const char *parent) {
    size_t i = (size_t)(s - g->spans);
    if (!parent) {
        s->parent_span_id = NULL;
        return;
    }
    char copy[16];
    snprintf(copy, sizeof(copy), "%s", parent); /* parent may be one of g's own ids */
    memcpy(g->parents[i], copy, sizeof(copy));
    s->parent_span_id = g->parents[i];
}

/* Times on a coarse grid, so that equal instants and zero durations are
 * common; sometimes in microseconds around the clock-skew tolerance. */
static int64_t some_time(rng_t *r, int fine) {
    return fine ? below(r, 4000) : 1000 * below(r, 40);
}

static void generate(rng_t *r, gen_t *g) {
    memset(g, 0, sizeof(*g));
    int fine = chance(r, 30);
    int64_t base = chance(r, 5) ? -TRACE_MAX_ABS_TIME_US / 2 : INT64_C(1700000000000000);
    int with_run = chance(r, 75), llm_only = chance(r, 10);
    size_t node_count = (size_t)below(r, 10) + (chance(r, 10) ? 0 : 1);
    char node_names[12][8];
    for (size_t k = 0; k < 12; k++)
        snprintf(node_names[k], sizeof(node_names[k]), "n%zu", k);

    if (with_run) {
        int64_t a = some_time(r, fine), b = some_time(r, fine);
        span_t *run = new_span(g, SPAN_KIND_RUN, base + (a < b ? a : b), base + (a < b ? b : a));
        snprintf(g->ids[0], sizeof(g->ids[0]), "run");
        run->dag_id = "prop-dag";
    }
    size_t first_node = g->count;
    for (size_t k = 0; k < node_count && !llm_only; k++) {
        int64_t a = some_time(r, fine), len = chance(r, 20) ? 0 : some_time(r, fine) / 3;
        span_t *s = new_span(g, SPAN_KIND_NODE, base + a, base + a + len);
        size_t i = (size_t)(s - g->spans);
        set_parent(g, s, with_run && chance(r, 85) ? "run" : chance(r, 50) ? NULL : "missing");
        /* ids collide on purpose: a node's attempts */
        snprintf(g->nodes[i], sizeof(g->nodes[i]), "%s", node_names[below(r, node_count + 1)]);
        s->node_id = g->nodes[i];
        if (chance(r, 4)) {
            s->node_id = chance(r, 50) ? NULL : "";
            g->unnamed_node_span = 1;
        }
        s->attempt = chance(r, 15) ? (int32_t)below(r, 3) : 0;
        s->status = chance(r, 10) ? SPAN_STATUS_ERROR : SPAN_STATUS_OK;
        if (chance(r, 5))
            s->end_us = s->start_us - 1 - below(r, 5); /* invalid: its children remain */
        if (chance(r, 60)) {
            size_t nd = (size_t)below(r, MAX_DEPS + 1);
            for (size_t d = 0; d < nd; d++) {
                snprintf(g->dep_text[i][d], sizeof(g->dep_text[i][d]), "%s",
                         chance(r, 5) ? "ghost" : node_names[below(r, node_count + 1)]);
                g->deps[i][d] = g->dep_text[i][d];
            }
            s->depends_on = g->deps[i];
            s->depends_on_count = nd;
        }
    }
    size_t last_node = g->count;
    /* children: llm and tool calls under nodes, under the run, anywhere */
    size_t children = (size_t)below(r, 3 * (node_count + 1));
    for (size_t c = 0; c < children; c++) {
        span_kind_t kind = chance(r, 60) ? SPAN_KIND_LLM : chance(r, 70) ? SPAN_KIND_TOOL : SPAN_KIND_OTHER;
        int64_t a = some_time(r, fine), len = some_time(r, fine) / 5;
        span_t *s = new_span(g, kind, base + a, base + a + len);
        if (!s)
            break;
        size_t i = (size_t)(s - g->spans);
        if (last_node > first_node && chance(r, 70)) {
            size_t parent = first_node + (size_t)below(r, (int64_t)(last_node - first_node));
            set_parent(g, s, g->ids[parent]);
            /* sit inside the parent, mostly */
            if (chance(r, 80) && g->spans[parent].end_us >= g->spans[parent].start_us) {
                int64_t plen = g->spans[parent].end_us - g->spans[parent].start_us;
                s->start_us = g->spans[parent].start_us + below(r, plen + 1);
                s->end_us = s->start_us + below(r, g->spans[parent].end_us - s->start_us + 1);
            }
        } else if (g->count > 1 && chance(r, 30)) {
            set_parent(g, s, g->ids[below(r, (int64_t)g->count - 1)]); /* another child, or itself */
        } else {
            set_parent(g, s, with_run && chance(r, 70) ? "run" : chance(r, 50) ? NULL : "missing");
        }
        if (llm_only && chance(r, 40)) {
            snprintf(g->nodes[i], sizeof(g->nodes[i]), "step-%zu", c % 4);
            s->name = g->nodes[i];
        }
        if (kind == SPAN_KIND_LLM) {
            s->model = models[below(r, 3)];
            s->input_tokens = below(r, 5000);
            s->output_tokens = below(r, 2000);
            s->cache_read_tokens = below(r, s->input_tokens / 2 + 1);
            s->cache_write_tokens = chance(r, 5) ? s->input_tokens : below(r, s->input_tokens / 4 + 1);
            s->reasoning_tokens = below(r, s->output_tokens + 1);
        } else if (kind == SPAN_KIND_TOOL) {
            s->tool_name = chance(r, 50) ? "search" : "fetch";
        }
    }
    /* re-deliveries: identical copies, and different spans reusing an id */
    size_t extra = (size_t)below(r, 3);
    for (size_t e = 0; e < extra && g->count > 0 && g->count < MAX_SPANS; e++) {
        size_t from = (size_t)below(r, (int64_t)g->count);
        size_t i = g->count++;
        g->spans[i] = g->spans[from];
        g->reused_ids = 1;
        if (chance(r, 50)) {
            g->spans[i].end_us += 7;
            if (g->spans[from].end_us >= g->spans[from].start_us)
                g->different_duplicate = 1; /* a valid first copy: a conflict */
        }
    }
    /* arrival order is not start order */
    for (size_t i = g->count; i > 1; i--) {
        size_t j = (size_t)below(r, (int64_t)i);
        span_t t = g->spans[i - 1];
        g->spans[i - 1] = g->spans[j];
        g->spans[j] = t;
    }
}

static int has_warning(const profile_t *p, const char *part) {
    for (size_t i = 0; i < p->warning_count; i++)
        if (strstr(p->warnings[i], part))
            return 1;
    return 0;
}

static void dump_trace(const gen_t *g, uint64_t seed) {
    fprintf(stderr, "seed %" PRIu64 ", trace:\n", seed);
    for (size_t i = 0; i < g->count; i++) {
        buf_t line = BUF_INIT;
        if (span_codec_encode_json(&g->spans[i], &line) == 0)
            fprintf(stderr, "%s\n", line.data);
        buf_free(&line);
    }
}

static pricing_t *prop_pricing(void) {
    pricing_t *p = pricing_new();
    char err[128];
    pricing_price_t sonnet = {3, 15, 0.3, 3.75}, haiku = {1, 5, 0.1, 1.25};
    ck_assert_int_eq(pricing_set(p, "claude-sonnet-4-5", &sonnet, err, sizeof(err)), 0);
    ck_assert_int_eq(pricing_set(p, "claude-haiku-4-5", &haiku, err, sizeof(err)), 0);
    return p;
}

/* Some node of the profile lies outside the trace's run span. */
static int outside_run(const trace_t *t, const profile_t *p) {
    size_t run = trace_summary(t)->run;
    if (run == SIZE_MAX)
        return 0;
    const span_t *r = trace_span(t, run);
    for (size_t k = 0; k < p->node_count; k++)
        if (p->nodes[k].start_us < r->start_us || p->nodes[k].end_us > r->end_us)
            return 1;
    return 0;
}

/* The profile of the trace's spans added in reverse order. */
static profile_t *profile_reversed(const gen_t *g, const pricing_t *pricing) {
    trace_t *t = trace_new();
    char err[256];
    for (size_t i = g->count; i-- > 0;)
        (void)trace_add_span(t, &g->spans[i], err, sizeof(err));
    profile_options_t o;
    profile_options_init(&o);
    profile_t *p = profile_compute(t, pricing, &o, err, sizeof(err));
    trace_free(t);
    return p;
}

static int string_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The JSON of p with its warnings sorted (their order follows arrival where
 * they come from the trace, which is not a figure), as a string to free. */
static char *canonical_json(const profile_t *p) {
    buf_t json = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &json), 0);
    json_t *root = json_loads(json.data, 0, NULL);
    ck_assert_ptr_nonnull(root);
    buf_free(&json);
    const char **sorted = malloc((p->warning_count + 1) * sizeof(*sorted));
    ck_assert_ptr_nonnull(sorted);
    for (size_t i = 0; i < p->warning_count; i++)
        sorted[i] = p->warnings[i];
    qsort(sorted, p->warning_count, sizeof(*sorted), string_cmp);
    json_t *warnings = json_array();
    for (size_t i = 0; i < p->warning_count; i++)
        json_array_append_new(warnings, json_string(sorted[i]));
    json_object_set_new(root, "warnings", warnings);
    free(sorted);
    char *text = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(root);
    return text;
}

/* One trace: profile it and check everything; 0 when all holds. */
static int check_case(uint64_t seed, const pricing_t *pricing) {
    rng_t r = {seed};
    static gen_t g; /* large: not on the stack */
    generate(&r, &g);
    trace_t *t = trace_new();
    ck_assert_ptr_nonnull(t);
    int64_t tokens = 0;
    size_t accepted = 0;
    int unnamed_accepted = 0;
    for (size_t i = 0; i < g.count; i++) {
        char err[256];
        trace_add_result_t rc = trace_add_span(t, &g.spans[i], err, sizeof(err));
        if (rc == TRACE_ADD_OK) {
            accepted++;
            if (g.spans[i].kind == SPAN_KIND_NODE && (!g.spans[i].node_id || !g.spans[i].node_id[0]))
                unnamed_accepted = 1;
            if (g.spans[i].kind == SPAN_KIND_LLM)
                tokens += g.spans[i].input_tokens + g.spans[i].output_tokens;
        }
    }
    char why[512] = "";
    int failed = 0;
    profile_options_t o;
    profile_options_init(&o);
    profile_t *p = profile_compute(t, pricing, &o, why, sizeof(why));
    if (!p) {
        if (accepted != 0) {
            snprintf(why + strlen(why), sizeof(why) - strlen(why), " (with %zu valid spans)", accepted);
            failed = 1;
        }
        goto done;
    }
    buf_t json = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &json), 0);
    if (invariants_check_json(json.data, json.len, o.clock_skew_us, why, sizeof(why)) != 0) {
        failed = 1;
    } else if (p->summary.span_count != (int64_t)accepted) {
        snprintf(why, sizeof(why), "span_count %" PRId64 ", %zu valid spans", p->summary.span_count,
                 accepted);
        failed = 1;
    } else if (p->summary.tokens.total != tokens) {
        snprintf(why, sizeof(why), "tokens %" PRId64 ", the spans carry %" PRId64,
                 p->summary.tokens.total, tokens);
        failed = 1;
    } else if (g.different_duplicate && !has_warning(p, "a different span reuses this span_id")) {
        snprintf(why, sizeof(why), "a reused span_id without a warning");
        failed = 1;
    } else if (unnamed_accepted && !has_warning(p, "has no node_id: profiled as node")) {
        snprintf(why, sizeof(why), "a node span without node_id and no warning");
        failed = 1;
    } else if (outside_run(t, p) && !has_warning(p, "ran outside the run span")) {
        snprintf(why, sizeof(why), "nodes outside the run span without a warning");
        failed = 1;
    } else if (trace_summary(t)->spans_of_kind[SPAN_KIND_NODE] == 0 && p->node_count == 0 &&
               accepted > trace_summary(t)->spans_of_kind[SPAN_KIND_RUN]) {
        snprintf(why, sizeof(why), "spans but no nodes");
        failed = 1;
    }
    if (!failed && !g.reused_ids) {
        /* the figures do not depend on the order the spans arrived in */
        profile_t *back = profile_reversed(&g, pricing);
        ck_assert_ptr_nonnull(back);
        char *a = canonical_json(p), *b = canonical_json(back);
        if (strcmp(a, b) != 0) {
            snprintf(why, sizeof(why), "the reversed arrival order gives another profile:\n%s", b);
            failed = 1;
        }
        free(a);
        free(b);
        profile_free(back);
    }
    if (failed)
        fprintf(stderr, "%s\n", json.data);
    buf_free(&json);
    profile_free(p);
done:
    if (failed) {
        fprintf(stderr, "property broken: %s\n", why);
        dump_trace(&g, seed);
    }
    trace_free(t);
    return failed;
}

static uint64_t env_u64(const char *name, uint64_t fallback) {
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : fallback;
}

START_TEST(random_and_broken_traces) {
    uint64_t cases = env_u64("DAGPROF_PROPERTY_CASES", 4000);
    uint64_t first = env_u64("DAGPROF_PROPERTY_SEED", 1);
    pricing_t *pricing = prop_pricing();
    uint64_t failures = 0;
    for (uint64_t c = 0; c < cases && failures < 5; c++)
        failures += (uint64_t)check_case(first + c, pricing);
    pricing_free(pricing);
    ck_assert_msg(failures == 0, "%" PRIu64 " trace(s) broke a property (seeds above)", failures);
}
END_TEST

/* The checker itself must reject a broken profile, or the test above could
 * not fail: each edit breaks one invariant of a good profile's JSON. */
START_TEST(checker_rejects_broken_profiles) {
    static const char good[] =
        "{\"summary\":{\"run_start_us\":0,\"wall_us\":10,\"work_us\":10,\"critical_path_us\":10,"
        "\"ideal_wall_us\":10,\"parallelism\":1,\"schedule_efficiency\":1,\"node_count\":2,"
        "\"edges\":\"declared\",\"tokens\":{\"input\":5,\"output\":1,\"cache_read\":0,"
        "\"cache_write\":0,\"reasoning\":0,\"total\":6},\"cost_usd\":0.5,"
        "\"outside_nodes\":{\"tokens\":{\"input\":1,\"output\":0,\"cache_read\":0,"
        "\"cache_write\":0,\"reasoning\":0,\"total\":1},\"cost_usd\":0.25,\"calls\":1}},"
        "\"by_model\":{\"m\":{\"tokens\":{\"input\":5,\"output\":1,\"cache_read\":0,"
        "\"cache_write\":0,\"reasoning\":0,\"total\":6},\"cost_usd\":0.5,\"calls\":2}},"
        "\"nodes\":[{\"node_id\":\"a\",\"start_us\":0,\"end_us\":4,\"exec_us\":4,\"ready_us\":0,"
        "\"blocked_us\":0,\"queued_us\":0,\"slack_us\":0,\"on_critical_path\":true,"
        "\"depends_on\":[],\"tokens\":{\"input\":4,\"output\":1,\"cache_read\":0,"
        "\"cache_write\":0,\"reasoning\":0,\"total\":5},\"cost_usd\":0.25},"
        "{\"node_id\":\"b\",\"start_us\":4,\"end_us\":10,\"exec_us\":6,\"ready_us\":4,"
        "\"blocked_us\":4,\"queued_us\":0,\"slack_us\":0,\"on_critical_path\":true,"
        "\"depends_on\":[\"a\"],\"tokens\":{\"input\":0,\"output\":0,\"cache_read\":0,"
        "\"cache_write\":0,\"reasoning\":0,\"total\":0},\"cost_usd\":0}],"
        "\"critical_path\":[\"a\",\"b\"]}";
    char why[512];
    ck_assert_msg(invariants_check_json(good, strlen(good), 0, why, sizeof(why)) == 0, "%s", why);
    static const struct {
        const char *from, *to, *why;
    } edits[] = {
        {"\"critical_path_us\":10", "\"critical_path_us\":11", "critical_path_us 11"},
        {"\"ideal_wall_us\":10", "\"ideal_wall_us\":12", "ideal_wall_us 12"},
        {"\"schedule_efficiency\":1", "\"schedule_efficiency\":1.5", "schedule_efficiency 1.5"},
        {"\"parallelism\":1,", "\"parallelism\":0.5,", "parallelism 0.5"},
        {"\"ready_us\":4,\"blocked_us\":4", "\"ready_us\":5,\"blocked_us\":5", "ready_us 5"},
        {"\"queued_us\":0,\"slack_us\":0,\"on_critical_path\":true,\"depends_on\":[\"a\"]",
         "\"queued_us\":1,\"slack_us\":0,\"on_critical_path\":true,\"depends_on\":[\"a\"]",
         "node b blocked 4 + queued 1"},
        {"\"slack_us\":0,\"on_critical_path\":true,\"depends_on\":[]",
         "\"slack_us\":-1,\"on_critical_path\":true,\"depends_on\":[]", "slack_us -1"},
        {"\"depends_on\":[]", "\"depends_on\":[\"b\"]", "contradicts time"},
        {"\"end_us\":10,\"exec_us\":6", "\"end_us\":11,\"exec_us\":7", "outside the window"},
        {"\"total\":5},\"cost_usd\":0.25}", "\"total\":5},\"cost_usd\":0.5}", "cost: nodes"},
        {"\"calls\":1}}", "\"calls\":1},\"tokens\":{}}", "input is not an integer"},
        {"\"critical_path\":[\"a\",\"b\"]", "\"critical_path\":[\"b\",\"a\"]", "has dependencies"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char broken[sizeof(good) + 64];
        const char *at = strstr(good, edits[i].from);
        ck_assert_msg(at != NULL, "edit %zu", i);
        snprintf(broken, sizeof(broken), "%.*s%s%s", (int)(at - good), good, edits[i].to,
                 at + strlen(edits[i].from));
        why[0] = 0;
        ck_assert_msg(invariants_check_json(broken, strlen(broken), 0, why, sizeof(why)) == -1,
                      "edit %zu accepted", i);
        ck_assert_msg(strstr(why, edits[i].why) != NULL, "edit %zu: %s", i, why);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("properties");
    TCase *tc = tcase_create("invariants");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, checker_rejects_broken_profiles);
    tcase_add_test(tc, random_and_broken_traces);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
