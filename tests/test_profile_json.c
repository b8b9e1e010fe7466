/* test_profile_json.c -- the JSON form of a profile (SPEC §4), byte for byte.
 *
 * The small profile below is built by hand (not by profile_compute()), so the
 * expected text in tests/fixtures/enc_profile_small.json depends on the encoder
 * alone. It is a four-node research DAG: plan -> {search, fetch_docs} ->
 * write_report, run start 2024-05-01 12:00:00 UTC, wall 10 s. The same fixture
 * is the input of test_profile_avro and test_report. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "profile.h"
#include "profile_json.h"

#define RUN_START_US INT64_C(1714564800000000)

/* ---- building profiles by hand ---------------------------------------------- */

static const char **strings(profile_t *p, const char *const *items, size_t count) {
    const char **out = profile_alloc(p, count * sizeof(char *));
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < count; i++)
        out[i] = items[i] ? profile_strdup(p, items[i]) : NULL;
    return out;
}

#define STRINGS(p, ...)                                                                   \
    strings((p), (const char *const[]){__VA_ARGS__},                                     \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static profile_tokens_t tokens(int64_t input, int64_t output, int64_t cache_read,
                               int64_t cache_write, int64_t reasoning) {
    profile_tokens_t t = {input, output, cache_read, cache_write, reasoning, input + output};
    return t;
}

static void set_node(profile_t *p, profile_node_t *n, const char *id, int64_t start_off,
                     int64_t end_off, int64_t ready_off, int64_t slack, bool critical) {
    n->node_id = profile_strdup(p, id);
    n->start_us = RUN_START_US + start_off;
    n->end_us = RUN_START_US + end_off;
    n->exec_us = end_off - start_off;
    n->ready_us = RUN_START_US + ready_off;
    n->blocked_us = ready_off;
    n->queued_us = start_off > ready_off ? start_off - ready_off : 0;
    n->slack_us = slack;
    n->on_critical_path = critical;
    n->status = SPAN_STATUS_OK;
}

static profile_t *small_profile(void) {
    profile_t *p = profile_new_empty();
    ck_assert_ptr_nonnull(p);

    p->profile_id = profile_strdup(p, "trace-7f3a#2");
    p->trace_id = profile_strdup(p, "trace-7f3a");
    p->dag_id = profile_strdup(p, "research-agent");
    p->revision = 2;
    p->complete = true;
    p->profiled_at_us = RUN_START_US + 12500000;

    profile_summary_t *s = &p->summary;
    s->run_start_us = RUN_START_US;
    s->wall_us = 10000000;
    s->work_us = 12299150;         /* 1.2 + 2.79915 + 5.0 + 3.3 s */
    s->critical_path_us = 9500000; /* plan + search + write_report */
    s->ideal_wall_us = 9500000;
    s->parallelism = 1.229915;
    s->schedule_efficiency = 0.95;
    s->node_count = 4;
    s->span_count = 12;
    s->edges = PROFILE_EDGES_DECLARED;
    s->tokens = tokens(30200, 3600, 15000, 1000, 200);
    s->cost_usd = 0.06735;
    s->unpriced_models = STRINGS(p, "mystery-model-x");
    s->unpriced_model_count = 1;

    p->model_count = 2;
    p->by_model = profile_alloc(p, 2 * sizeof(profile_model_usage_t));
    p->by_model[0].model = profile_strdup(p, "claude-sonnet-4-5");
    p->by_model[0].tokens = tokens(25200, 2100, 15000, 1000, 200);
    p->by_model[0].cost_usd = 0.06735;
    p->by_model[0].calls = 3;
    p->by_model[1].model = profile_strdup(p, "mystery-model-x");
    p->by_model[1].tokens = tokens(5000, 1500, 0, 0, 0);
    p->by_model[1].cost_usd = 0;
    p->by_model[1].calls = 1;

    /* Sorted by node_id, as the engine keeps them. */
    p->node_count = 4;
    p->nodes = profile_alloc(p, 4 * sizeof(profile_node_t));
    profile_node_t *fetch = &p->nodes[0], *plan = &p->nodes[1], *search = &p->nodes[2],
                   *write = &p->nodes[3];

    set_node(p, fetch, "fetch_docs", 1200850, 4000000, 1200000, 2200000, false);
    fetch->status = SPAN_STATUS_ERROR;
    fetch->depends_on = STRINGS(p, "plan");
    fetch->depends_on_count = 1;
    fetch->tool_call_count = 2;
    fetch->tool_calls = profile_alloc(p, 2 * sizeof(profile_tool_call_t));
    fetch->tool_calls[0] = (profile_tool_call_t){profile_strdup(p, "http_get"), 2500000, true};
    fetch->tool_calls[1] = (profile_tool_call_t){profile_strdup(p, "http_get"), 200000, false};

    set_node(p, plan, "plan", 0, 1200000, 0, 0, true);
    plan->tokens = tokens(1200, 300, 0, 0, 0);
    plan->cost_usd = 0.0081;
    plan->models = STRINGS(p, "claude-sonnet-4-5");
    plan->model_count = 1;

    set_node(p, search, "search", 1500000, 6500000, 1200000, 0, true);
    search->depends_on = STRINGS(p, "plan");
    search->depends_on_count = 1;
    search->tokens = tokens(20000, 800, 15000, 0, 200);
    search->cost_usd = 0.0315;
    search->models = STRINGS(p, "claude-sonnet-4-5");
    search->model_count = 1;
    search->tool_call_count = 2;
    search->tool_calls = profile_alloc(p, 2 * sizeof(profile_tool_call_t));
    search->tool_calls[0] = (profile_tool_call_t){profile_strdup(p, "web_search"), 1800000, true};
    search->tool_calls[1] = (profile_tool_call_t){profile_strdup(p, "web_search"), 2100000, true};

    set_node(p, write, "write_report", 6500000, 9800000, 6500000, 0, true);
    write->retries = 1;
    write->depends_on = STRINGS(p, "fetch_docs", "search");
    write->depends_on_count = 2;
    write->tokens = tokens(9000, 2500, 0, 1000, 0);
    write->cost_usd = 0.02775;
    write->models = STRINGS(p, "claude-sonnet-4-5", "mystery-model-x");
    write->model_count = 2;

    p->critical_path = STRINGS(p, "plan", "search", "write_report");
    p->critical_path_count = 3;

    p->bottleneck_count = 3;
    p->bottlenecks = profile_alloc(p, 3 * sizeof(profile_bottleneck_t));
    p->bottlenecks[0] = (profile_bottleneck_t){
        BOTTLENECK_SLOW_NODE, profile_strdup(p, "search"), PROFILE_LEVEL_HIGH, 50,
        profile_strdup(p, "search ran 5.0 s on the critical path, 50% of the wall time")};
    p->bottlenecks[1] = (profile_bottleneck_t){
        BOTTLENECK_ERROR_NODE, profile_strdup(p, "fetch_docs"), PROFILE_LEVEL_MEDIUM, 27.9915,
        profile_strdup(p, "fetch_docs ended with status error (1 failed http_get call)")};
    p->bottlenecks[2] = (profile_bottleneck_t){BOTTLENECK_SEQUENTIAL_BOTTLENECK, NULL,
                                               PROFILE_LEVEL_LOW, 12.5, NULL};

    p->recommendation_count = 2;
    p->recommendations = profile_alloc(p, 2 * sizeof(profile_recommendation_t));
    profile_recommendation_t *cache = &p->recommendations[0];
    cache->type = RECOMMENDATION_CACHE;
    cache->priority = PROFILE_LEVEL_HIGH;
    cache->node_ids = STRINGS(p, "search");
    cache->node_id_count = 1;
    cache->savings = (profile_savings_t){1800000, 15000, 0.0045};
    cache->description = profile_strdup(
        p, "search repeats the same web_search call on every run; caching its result "
           "skips 1.8 s of tool time on the critical path.");
    cache->action = profile_strdup(p, "Cache web_search results keyed by query for 24 h.");
    profile_recommendation_t *downgrade = &p->recommendations[1];
    downgrade->type = RECOMMENDATION_MODEL_DOWNGRADE;
    downgrade->priority = PROFILE_LEVEL_MEDIUM;
    downgrade->node_ids = STRINGS(p, "plan");
    downgrade->node_id_count = 1;
    downgrade->savings = (profile_savings_t){0, 0, 0.0054};
    downgrade->description = profile_strdup(
        p, "plan's claude-sonnet-4-5 call writes 300 output tokens; claude-haiku-4-5 "
           "would cost $0.0027 instead of $0.0081.");
    downgrade->action = NULL;

    p->warnings = STRINGS(p, "span \"s13\" rejected: end_us < start_us");
    p->warning_count = 1;
    return p;
}

/* ---- helpers ---------------------------------------------------------------- */

static char *read_fixture(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", DAGPROF_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    buf_t text = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ck_assert_int_eq(buf_append(&text, chunk, n), 0);
    fclose(f);
    /* Editors end files with a newline; the JSON itself has none. */
    if (text.len > 0 && text.data[text.len - 1] == '\n')
        text.data[--text.len] = '\0';
    *len = text.len;
    return text.data;
}

static char *to_json(const profile_t *p) {
    buf_t out = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &out), 0);
    ck_assert_ptr_nonnull(out.data);
    return out.data;
}

/* write -> read -> write must give the same bytes. */
static void assert_round_trip(const char *json) {
    char err[256] = "";
    profile_t *back = NULL;
    ck_assert_msg(profile_json_read(json, strlen(json), &back, err, sizeof(err)) == 0, "%s",
                  err);
    char *again = to_json(back);
    ck_assert_str_eq(again, json);
    free(again);
    profile_free(back);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_small_profile_matches_fixture) {
    profile_t *p = small_profile();
    size_t len;
    char *expected = read_fixture("enc_profile_small.json", &len);
    char *json = to_json(p);

    ck_assert_str_eq(json, expected);
    ck_assert_uint_eq(strlen(json), len);
    assert_round_trip(json);
    free(json);
    free(expected);
    profile_free(p);
}
END_TEST

/* The fixture's keys, in order, are exactly SPEC §4's (checked independently of
 * the writer with jansson, which keeps document order). */
START_TEST(test_field_order_is_spec_order) {
    size_t len;
    char *text = read_fixture("enc_profile_small.json", &len);
    json_error_t error;
    json_t *root = json_loadb(text, len, 0, &error);
    ck_assert_msg(root != NULL, "%s", error.text);

    static const char *const top[] = {"profile_id", "trace_id", "dag_id", "revision",
                                      "complete", "profiled_at_us", "summary", "by_model",
                                      "nodes", "critical_path", "bottlenecks",
                                      "recommendations", "warnings"};
    static const char *const summary[] = {
        "run_start_us", "wall_us", "work_us", "critical_path_us", "ideal_wall_us",
        "parallelism", "schedule_efficiency", "node_count", "span_count", "edges", "tokens",
        "cost_usd", "unpriced_models", "outside_nodes"};
    static const char *const node[] = {
        "node_id", "start_us", "end_us", "exec_us", "ready_us", "blocked_us", "queued_us",
        "slack_us", "on_critical_path", "status", "retries", "depends_on", "tokens",
        "cost_usd", "models", "tool_calls"};
    static const char *const tokens_keys[] = {"input", "output", "cache_read", "cache_write",
                                              "reasoning", "total"};
    static const char *const rec[] = {"type", "priority", "node_ids", "savings",
                                      "description", "action"};
    struct {
        json_t *object;
        const char *const *keys;
        size_t count;
    } checks[] = {
        {root, top, 13},
        {json_object_get(root, "summary"), summary, 14},
        {json_array_get(json_object_get(root, "nodes"), 0), node, 16},
        {json_object_get(json_object_get(root, "summary"), "tokens"), tokens_keys, 6},
        {json_array_get(json_object_get(root, "recommendations"), 0), rec, 6},
    };
    for (size_t c = 0; c < sizeof(checks) / sizeof(checks[0]); c++) {
        const char *key;
        json_t *value;
        size_t i = 0;
        ck_assert_uint_eq(json_object_size(checks[c].object), checks[c].count);
        json_object_foreach(checks[c].object, key, value) {
            (void)value;
            ck_assert_str_eq(key, checks[c].keys[i]);
            i++;
        }
    }
    json_decref(root);
    free(text);
}
END_TEST

START_TEST(test_zero_nodes_exact) {
    profile_t *p = profile_new_empty();
    ck_assert_ptr_nonnull(p);
    p->profile_id = profile_strdup(p, "t0#0");
    p->trace_id = profile_strdup(p, "t0");
    /* dag_id stays NULL: written as null. */
    p->complete = false;
    p->profiled_at_us = -5;
    p->summary.schedule_efficiency = 1;
    p->summary.edges = PROFILE_EDGES_INFERRED;

    char *json = to_json(p);
    ck_assert_str_eq(
        json,
        "{\"profile_id\":\"t0#0\",\"trace_id\":\"t0\",\"dag_id\":null,\"revision\":0,"
        "\"complete\":false,\"profiled_at_us\":-5,\"summary\":{\"run_start_us\":0,"
        "\"wall_us\":0,\"work_us\":0,\"critical_path_us\":0,\"ideal_wall_us\":0,"
        "\"parallelism\":0,\"schedule_efficiency\":1,\"node_count\":0,\"span_count\":0,"
        "\"edges\":\"inferred\",\"tokens\":{\"input\":0,\"output\":0,\"cache_read\":0,"
        "\"cache_write\":0,\"reasoning\":0,\"total\":0},\"cost_usd\":0,"
        "\"unpriced_models\":[],\"outside_nodes\":{\"tokens\":{\"input\":0,\"output\":0,"
        "\"cache_read\":0,\"cache_write\":0,\"reasoning\":0,\"total\":0},"
        "\"cost_usd\":0,\"calls\":0}},\"by_model\":{},\"nodes\":[],\"critical_path\":[],"
        "\"bottlenecks\":[],\"recommendations\":[],\"warnings\":[]}");
    assert_round_trip(json);
    free(json);
    profile_free(p);
}
END_TEST

START_TEST(test_all_null_profile) {
    /* profile_new_empty() as it comes: every string NULL. Still valid JSON. */
    profile_t *p = profile_new_empty();
    char *json = to_json(p);
    ck_assert_ptr_nonnull(strstr(json, "{\"profile_id\":null,\"trace_id\":null,\"dag_id\":null,"));
    assert_round_trip(json);
    free(json);
    profile_free(p);
}
END_TEST

START_TEST(test_escaping) {
    profile_t *p = profile_new_empty();
    p->profile_id =
        profile_strdup(p, "quote\" backslash\\ slash/ nl\n tab\t cr\r bell\x07 esc\x1b del\x7f");
    p->trace_id = profile_strdup(p, "bad\xff" "byte \xc3( trunc\xe2\x82");
    p->dag_id = profile_strdup(p, "overlong\xc0\xaf surrogate\xed\xa0\x80 big\xf4\x90\x80\x80 end");
    p->warnings = STRINGS(p, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad", "\x01");
    p->warning_count = 2;

    char *json = to_json(p);
    /* \n \t \r short, other control characters as \u00XX, quote and backslash escaped, '/' and DEL as they are. */
    ck_assert_ptr_nonnull(strstr(
        json, "\"profile_id\":\"quote\\\" backslash\\\\ slash/ nl\\n tab\\t cr\\r "
              "bell\\u0007 esc\\u001b del\x7f\""));
    /* One U+FFFD per maximal ill-formed subpart: \xff; \xc3 (the '(' is kept);
     * the truncated \xe2\x82 as one. */
    ck_assert_ptr_nonnull(strstr(
        json, "\"trace_id\":\"bad\xef\xbf\xbd" "byte \xef\xbf\xbd( trunc\xef\xbf\xbd\""));
    /* Overlong and surrogate and > U+10FFFF sequences: every byte is its own subpart. */
    ck_assert_ptr_nonnull(strstr(
        json, "\"dag_id\":\"overlong\xef\xbf\xbd\xef\xbf\xbd surrogate\xef\xbf\xbd\xef\xbf\xbd"
              "\xef\xbf\xbd big\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end\""));
    /* Valid UTF-8 passes through untouched. */
    ck_assert_ptr_nonnull(strstr(
        json, "\"warnings\":[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad\","
              "\"\\u0001\"]"));

    /* An independent parser agrees on what the strings say. */
    json_error_t error;
    json_t *root = json_loads(json, 0, &error);
    ck_assert_msg(root != NULL, "%s", error.text);
    ck_assert_str_eq(json_string_value(json_object_get(root, "profile_id")),
                     "quote\" backslash\\ slash/ nl\n tab\t cr\r bell\x07 esc\x1b del\x7f");
    ck_assert_str_eq(json_string_value(json_object_get(root, "trace_id")),
                     "bad\xef\xbf\xbd" "byte \xef\xbf\xbd( trunc\xef\xbf\xbd");
    json_decref(root);

    assert_round_trip(json);
    free(json);
    profile_free(p);
}
END_TEST

START_TEST(test_doubles) {
    profile_t *p = profile_new_empty();
    p->summary.parallelism = 0.1 + 0.2;      /* needs 17 digits */
    p->summary.schedule_efficiency = 1e300;  /* exponent form */
    p->summary.cost_usd = 5e-324;            /* smallest subnormal */
    p->summary.tokens.input = INT64_MAX;     /* integers exact */
    p->summary.tokens.output = INT64_MIN;
    p->model_count = 3;
    p->by_model = profile_alloc(p, 3 * sizeof(profile_model_usage_t));
    p->by_model[0].model = "nan";
    p->by_model[0].cost_usd = NAN;
    p->by_model[1].model = "inf";
    p->by_model[1].cost_usd = -INFINITY;
    p->by_model[2].model = "negative zero";
    p->by_model[2].cost_usd = -0.0;

    char *json = to_json(p);
    ck_assert_ptr_nonnull(strstr(json, "\"parallelism\":0.30000000000000004,"));
    ck_assert_ptr_nonnull(strstr(json, "\"schedule_efficiency\":1e+300,"));
    ck_assert_ptr_nonnull(strstr(json, "\"cost_usd\":4.94065645841247e-324,"));
    ck_assert_ptr_nonnull(strstr(json, "\"input\":9223372036854775807,"));
    ck_assert_ptr_nonnull(strstr(json, "\"output\":-9223372036854775808,"));
    /* NaN and infinities have no JSON form: written as 0. */
    ck_assert_ptr_nonnull(strstr(json, "\"nan\":{\"tokens\":{\"input\":0,\"output\":0,"
                                       "\"cache_read\":0,\"cache_write\":0,\"reasoning\":0,"
                                       "\"total\":0},\"cost_usd\":0,\"calls\":0}"));
    ck_assert_ptr_nonnull(strstr(json, "\"inf\":{\"tokens\":{\"input\":0,\"output\":0,"
                                       "\"cache_read\":0,\"cache_write\":0,\"reasoning\":0,"
                                       "\"total\":0},\"cost_usd\":0,"));
    ck_assert_ptr_nonnull(strstr(json, "\"negative zero\":{\"tokens\":{\"input\":0,\"output\":0,"
                                       "\"cache_read\":0,\"cache_write\":0,\"reasoning\":0,"
                                       "\"total\":0},\"cost_usd\":0,"));
    ck_assert_ptr_null(strstr(json, "nan,"));
    assert_round_trip(json);

    /* Shortest round-tripping form: plain decimals stay short. */
    profile_free(p);
    p = profile_new_empty();
    p->summary.parallelism = 1.23;
    p->summary.cost_usd = 0.06735;
    free(json);
    json = to_json(p);
    ck_assert_ptr_nonnull(strstr(json, "\"parallelism\":1.23,"));
    ck_assert_ptr_nonnull(strstr(json, "\"cost_usd\":0.06735,"));
    free(json);
    profile_free(p);
}
END_TEST

START_TEST(test_doubles_read_back_exactly) {
    /* Many doubles of every magnitude survive write -> read bit for bit. */
    profile_t *p = profile_new_empty();
    uint64_t state = 0x9E3779B97F4A7C15u;
    char err[256];

    for (int i = 0; i < 2000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double value;
        uint64_t bits = state & ~(UINT64_C(0x7FF) << 52); /* finite: clear the exponent... */
        bits |= (uint64_t)(i % 2046 + 1) << 52;          /* ...and set a normal one */
        memcpy(&value, &bits, sizeof(value));
        p->summary.parallelism = value;

        buf_t out = BUF_INIT;
        ck_assert_int_eq(profile_json_write(p, &out), 0);
        profile_t *back = NULL;
        ck_assert_msg(profile_json_read(out.data, out.len, &back, err, sizeof(err)) == 0, "%s",
                      err);
        ck_assert_msg(memcmp(&back->summary.parallelism, &value, sizeof(value)) == 0,
                      "%.17g came back as %.17g", value, back->summary.parallelism);
        profile_free(back);
        buf_free(&out);
    }
    profile_free(p);
}
END_TEST

START_TEST(test_appends_to_buffer) {
    profile_t *p = profile_new_empty();
    buf_t out = BUF_INIT;
    ck_assert_int_eq(buf_puts(&out, "key\t"), 0);
    ck_assert_int_eq(profile_json_write(p, &out), 0);
    ck_assert_int_eq(strncmp(out.data, "key\t{\"profile_id\":null,", 23), 0);
    ck_assert_int_eq(out.data[out.len - 1], '}');
    ck_assert_uint_eq(strlen(out.data), out.len);
    buf_free(&out);
    profile_free(p);
}
END_TEST

/* Parse `json`, expect failure with `message` in errstr and no profile. */
static void assert_read_error(const char *json, const char *message) {
    char err[256] = "";
    profile_t *out = (profile_t *)&out; /* must be reset to NULL */
    ck_assert_int_eq(profile_json_read(json, strlen(json), &out, err, sizeof(err)), -1);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err, message) != NULL, "errstr \"%s\" lacks \"%s\"", err, message);
}

/* The small profile's JSON with the first `from` replaced by `to`. */
static char *edited_small(const char *from, const char *to) {
    profile_t *p = small_profile();
    char *json = to_json(p);
    profile_free(p);
    char *at = strstr(json, from);
    ck_assert_msg(at != NULL, "\"%s\" not in the small profile", from);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(buf_append(&out, json, (size_t)(at - json)), 0);
    ck_assert_int_eq(buf_puts(&out, to), 0);
    ck_assert_int_eq(buf_puts(&out, at + strlen(from)), 0);
    free(json);
    return out.data;
}

START_TEST(test_read_errors) {
    assert_read_error("", "profile JSON:");
    assert_read_error("{\"profile_id\":", "profile JSON:");
    assert_read_error("[1,2]", "not an object");
    assert_read_error("{\"profile_id\":\"x\"}", "trace_id is missing");

    struct {
        const char *from, *to, *message;
    } cases[] = {
        {"\"revision\":2", "\"revision\":\"2\"", "revision is not an integer"},
        {"\"revision\":2", "\"revision\":2.5", "revision is not an integer"},
        {"\"complete\":true", "\"complete\":1", "complete is not a boolean"},
        {"\"edges\":\"declared\"", "\"edges\":\"guessed\"", "summary.edges is not a known name"},
        {"\"status\":\"error\"", "\"status\":\"failed\"", "nodes[].status is not a known name"},
        {"\"type\":\"slow_node\"", "\"type\":\"slow\"", "bottlenecks[].type is not a known name"},
        {"\"priority\":\"high\"", "\"priority\":\"urgent\"",
         "recommendations[].priority is not a known name"},
        {"\"retries\":1", "\"retries\":4294967296", "nodes[].retries is out of range"},
        {"\"parallelism\":1.229915", "\"parallelism\":\"fast\"",
         "summary.parallelism is not a number"},
        {"\"critical_path\":[\"plan\"", "\"critical_path\":[7",
         "critical_path has an item that is not a string"},
        {"\"nodes\":[", "\"nodes\":{\"a\":1},\"x\":[", "nodes is not an array"},
        {"\"node_id\":\"fetch_docs\",", "", "nodes[].node_id is missing"},
        {"\"tokens\":{\"input\":30200,", "\"tokens\":{", "tokens.input is missing"},
        {"\"trace_id\":\"trace-7f3a\"", "\"trace_id\":\"trace-7f3a\",\"trace_id\":\"again\"",
         "duplicate object key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited_small(cases[i].from, cases[i].to);
        assert_read_error(json, cases[i].message);
        free(json);
    }
}
END_TEST

START_TEST(test_read_ignores_unknown_fields) {
    char *json = edited_small("\"revision\":2,", "\"revision\":2,\"future_field\":{\"x\":[1]},");
    char err[256];
    profile_t *p = NULL;
    ck_assert_msg(profile_json_read(json, strlen(json), &p, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(p->revision, 2);
    ck_assert_str_eq(p->nodes[2].node_id, "search");
    ck_assert_int_eq(p->nodes[2].exec_us, 5000000);
    ck_assert_str_eq(p->nodes[0].tool_calls[1].tool, "http_get");
    ck_assert(!p->nodes[0].tool_calls[1].ok);
    ck_assert_ptr_null(p->bottlenecks[2].node_id);
    ck_assert_ptr_null(p->recommendations[1].action);
    ck_assert_str_eq(p->by_model[1].model, "mystery-model-x");
    profile_free(p);
    free(json);
}
END_TEST

static Suite *profile_json_suite(void) {
    Suite *s = suite_create("profile_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_small_profile_matches_fixture);
    tcase_add_test(tc, test_field_order_is_spec_order);
    tcase_add_test(tc, test_zero_nodes_exact);
    tcase_add_test(tc, test_all_null_profile);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_doubles);
    tcase_add_test(tc, test_doubles_read_back_exactly);
    tcase_add_test(tc, test_appends_to_buffer);
    tcase_add_test(tc, test_read_errors);
    tcase_add_test(tc, test_read_ignores_unknown_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *runner = srunner_create(profile_json_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
