/* test_otel_sdk.c -- end to end with a real OpenTelemetry SDK, not our encoder.
 *
 * tests/otel/agent_dag.js builds a small agent DAG with the OpenTelemetry JS
 * SDK (tests/js/node_modules, pinned in tests/js/package-lock.json), in a
 * GenAI and an OpenInference variant, serialises it with
 * @opentelemetry/otlp-transformer as the Collector's kafka exporter writes
 * OTLP protobuf and JSON, and produces it with kafkajs to the mock broker;
 * `dagprof run` must publish, for each trace, the profile `dagprof profile`
 * computes from the same DAG written as SpanEvent JSON: the same critical
 * path, tokens and cost, figure for figure. Skipped (exit 77) only when node
 * is not installed. */
#include <check.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "harness.h"
#include "harness_stream.h"
#include "profile_avro.h"
#include "profile_json.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"

static stream_fixture_t fx;

static void setup(void) {
    stream_fixture_start(&fx, DAGPROF_BINARY_DIR, NULL, 4, "dagprof-otel-sdk");
}

static void teardown(void) {
    stream_fixture_stop(&fx, false);
}


static int node_available(void) {
    return system("command -v node > /dev/null 2>&1") == 0;
}

/* One variant: the script traces the DAG with the SDK, produces it to the
 * input topic and writes the same DAG as SpanEvent JSON; returns the expected
 * profile (`dagprof profile --format json`) of that file. */
static json_t *produce_variant(const char *variant, const char *encoding) {
    char *out = NULL, *log = stream_path_in(&fx, "node.log"), *offline = NULL;
    ck_assert_int_ge(asprintf(&out, "%s/%s-%s.jsonl", fx.dir, variant, encoding), 0);
    ck_assert_int_ge(asprintf(&offline, "%s/%s-%s.profile.json", fx.dir, variant, encoding), 0);
    const char *argv[] = {"node", DAGPROF_SOURCE_DIR "/tests/otel/agent_dag.js", "--bootstrap",
                          harness_kafka_bootstrap(fx.kafka), "--topic", "dag-spans", "--variant", variant,
                          "--encoding", encoding, "--out", out, NULL};
    stream_run_to_exit(&fx, argv, log, 0);
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' profile --format json '%s' > '%s' 2>> '%s'", DAGPROF, out, offline, log), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *text = harness_slurp(offline);
    json_error_t e;
    json_t *p = json_loads(text, 0, &e);
    ck_assert_msg(p != NULL, "offline profile: %s", e.text);
    free(text);
    free(out);
    free(offline);
    free(log);
    return p;
}

/* What the test is about, asserted on the offline profile so that the
 * comparison below cannot pass on an empty or wrong DAG. */
static void check_expected(json_t *p) {
    json_t *summary = json_object_get(p, "summary");
    ck_assert_str_eq(json_string_value(json_object_get(p, "dag_id")), "research-dag");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "span_count")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "node_count")), 4);
    ck_assert_str_eq(json_string_value(json_object_get(summary, "edges")), "declared");
    json_t *tokens = json_object_get(summary, "tokens");
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "input")), 18400);
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "output")), 4170);
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "cache_read")), 3800);
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "cache_write")), 3000);
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "reasoning")), 400);
    ck_assert(json_real_value(json_object_get(summary, "cost_usd")) > 0.08);
    json_t *cp = json_object_get(p, "critical_path");
    ck_assert_uint_eq(json_array_size(cp), 3);
    ck_assert_str_eq(json_string_value(json_array_get(cp, 0)), "plan");
    ck_assert_str_eq(json_string_value(json_array_get(cp, 1)), "analyze");
    ck_assert_str_eq(json_string_value(json_array_get(cp, 2)), "write");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "critical_path_us")), 8895000);
}

/* The OpenTelemetry JS SDK's spans, serialised as the Collector's kafka
 * exporter writes them (OTLP protobuf and OTLP/JSON), with GenAI or
 * OpenInference attributes: `dagprof run` profiles each trace exactly as
 * `dagprof profile` does the same DAG as SpanEvent JSON. */
START_TEST(sdk_traces_match_offline) {
    if (!node_available()) {
        fprintf(stderr, "SKIP: node is not on PATH; the OpenTelemetry SDK test needs it\n");
        exit(77);
    }
    char *log = stream_path_in(&fx, "run.log");
    const char *run_argv[] = {DAGPROF, "run", NULL};
    pid_t run = harness_spawn(run_argv, stream_run_env(&fx, NULL), log);
    ck_assert_int_gt(run, 0);
    stream_wait_for_log(log, "partitions_assigned count=4", 60);

    static const char *const variants[][2] = {{"genai", "otlp_proto"}, {"genai", "otlp_json"},
                                              {"openinference", "otlp_proto"}, {"openinference", "otlp_json"}};
    json_t *expected = json_object();
    for (size_t i = 0; i < 4; i++) {
        json_t *p = produce_variant(variants[i][0], variants[i][1]);
        check_expected(p);
        json_object_set_new(expected, json_string_value(json_object_get(p, "trace_id")), stream_profile_figures(p));
        json_decref(p);
    }
    ck_assert_uint_eq(json_object_size(expected), 4);

    char err[512];
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    rd_kafka_t *rk = stream_test_consumer(&fx, "dag-profiles");
    json_t *got_all = json_object();
    size_t matched = 0;
    time_t deadline = time(NULL) + 120;
    while (matched < 4 && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (!m->err) {
            profile_t *p = NULL;
            ck_assert_msg(profile_avro_decode(avro, m->payload, m->len, &p, err, sizeof(err)) == 0, "%s", err);
            buf_t b = BUF_INIT;
            ck_assert_int_eq(profile_json_write(p, &b), 0);
            json_error_t e;
            json_t *got = json_loads(b.data, 0, &e);
            buf_free(&b);
            json_t *want = json_object_get(expected, p->trace_id);
            ck_assert_msg(want != NULL, "profile of an unknown trace %s", p->trace_id);
            json_t *fig = stream_profile_figures(got);
            if (json_equal(fig, want))
                matched++;
            json_object_set_new(got_all, p->trace_id, fig);
            json_decref(got);
            profile_free(p);
        }
        rd_kafka_message_destroy(m);
    }
    stream_close_consumer(rk);
    if (matched < 4) {
        const char *key;
        json_t *want;
        json_object_foreach(expected, key, want) {
            json_t *got = json_object_get(got_all, key);
            if (!got || !json_equal(got, want)) {
                char *a = got ? json_dumps(got, JSON_SORT_KEYS) : strdup("(none)");
                char *b = json_dumps(want, JSON_SORT_KEYS);
                /* the profiles are longer than a Check message may be */
                fprintf(stderr, "trace %s:\nstream  %s\noffline %s\n", key, a, b);
                ck_abort_msg("%zu of 4 SDK traces match offline; first mismatch %s (both on stderr)", matched, key);
            }
        }
    }
    profile_avro_free(avro);
    json_decref(expected);
    json_decref(got_all);
    harness_kill(run, SIGTERM);
    int status = -1;
    ck_assert_int_eq(harness_wait(run, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    free(log);
}
END_TEST

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (!node_available()) {
        printf("SKIP: node is not on PATH; the OpenTelemetry SDK end-to-end test needs it\n");
        return 77;
    }
    Suite *s = suite_create("otel_sdk");
    TCase *tc = tcase_create("end_to_end");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, sdk_traces_match_offline);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
