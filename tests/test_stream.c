/* test_stream.c -- `dagprof run` end to end, as a user runs it.
 *
 * Real servers (redis-server, the mock Kafka broker) and real processes: two
 * `dagprof run` instances in one consumer group, `dagprof loadgen` streaming a
 * fleet, and `dagprof profile` on the same spans written to a file. Every run
 * must come out exactly once per revision, and its last revision must equal
 * the offline profile figure for figure. */
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
#include "span_codec.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"

static stream_fixture_t fx;

static void setup(void) {
    stream_fixture_start(&fx, DAGPROF_BINARY_DIR, NULL, 4, "dagprof-stream");
}

static void teardown(void) {
    stream_fixture_stop(&fx, false);
}

START_TEST(two_instances_match_offline) {
    enum { RUNS = 300 };
    char *log1 = stream_path_in(&fx, "run1.log"), *log2 = stream_path_in(&fx, "run2.log"), *spans = stream_path_in(&fx, "spans.jsonl"),
         *offline = stream_path_in(&fx, "offline.jsonl"), *loadlog = stream_path_in(&fx, "loadgen.log");
    const char *run_argv[] = {DAGPROF, "run", NULL};
    pid_t run1 = harness_spawn(run_argv, stream_run_env(&fx, NULL), log1);
    pid_t run2 = harness_spawn(run_argv, stream_run_env(&fx, NULL), log2);
    ck_assert_int_gt(run1, 0);
    ck_assert_int_gt(run2, 0);
    /* both in the group, two partitions each */
    /* owned=: with cooperative rebalancing the first to join may get all 4
     * and give 2 away, never being assigned 2 at once */
    stream_wait_for_log(log1, "owned=2 strategy", 60);
    stream_wait_for_log(log2, "owned=2 strategy", 60);

    /* paced, so that late spans arrive after their run's grace period */
    const char *gen_kafka[] = {DAGPROF, "loadgen", "--loadgen.runs", "300", "--loadgen.seed", "7",
                               "--loadgen.late.fraction", "0.05", "--loadgen.rate", "1500", NULL};
    stream_run_to_exit(&fx, gen_kafka, loadlog, 0);
    const char *gen_file[] = {DAGPROF, "loadgen", "--loadgen.runs", "300", "--loadgen.seed", "7",
                              "--loadgen.late.fraction", "0.05", "--loadgen.output", spans, NULL};
    stream_run_to_exit(&fx, gen_file, loadlog, 0);

    /* the offline profiles, one JSON object per line, by trace_id */
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' profile --format json '%s' > '%s' 2>> '%s'", DAGPROF, spans,
                              offline, loadlog), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    json_t *expected = json_object();
    FILE *f = fopen(offline, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *p = json_loads(line, 0, &e);
        ck_assert_msg(p != NULL, "offline output: %s", e.text);
        json_object_set_new(expected, json_string_value(json_object_get(p, "trace_id")), stream_profile_figures(p));
        json_decref(p);
    }
    free(line);
    fclose(f);
    ck_assert_uint_eq(json_object_size(expected), RUNS);

    /* read the profiles topic until every run's latest revision matches */
    char err[512];
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_ptr_nonnull(avro);
    rd_kafka_t *rk = stream_test_consumer(&fx, "dag-profiles");
    json_t *latest = json_object();    /* trace_id -> figures of the highest revision */
    json_t *revisions = json_object(); /* trace_id -> array of revisions seen */
    json_t *ids = json_object();       /* profile_id -> true */
    size_t matched = 0, messages = 0, duplicates = 0;
    time_t deadline = time(NULL) + 180;
    while (matched < RUNS && time(NULL) < deadline) {
        profile_t *p = NULL;
        json_t *got = stream_poll_profile(rk, avro, 500, &p);
        if (!got)
            continue;
        messages++;
        if (json_object_get(ids, p->profile_id))
            duplicates++;
        json_object_set_new(ids, p->profile_id, json_true());
        json_t *revs = json_object_get(revisions, p->trace_id);
        if (!revs) {
            revs = json_array();
            json_object_set_new(revisions, p->trace_id, revs);
        }
        json_array_append_new(revs, json_integer(p->revision));
        json_t *prev = json_object_get(latest, p->trace_id);
        json_t *want = json_object_get(expected, p->trace_id);
        ck_assert_msg(want != NULL, "profile of an unknown trace %s", p->trace_id);
        int prev_matched = prev && json_equal(prev, want);
        json_t *fig = stream_profile_figures(got);
        json_object_set_new(latest, p->trace_id, fig);
        int now_matched = json_equal(fig, want);
        matched += (size_t)(now_matched - prev_matched);
        json_decref(got);
        profile_free(p);
    }
    stream_close_consumer(rk);
    if (matched < RUNS) {
        const char *key;
        json_t *want;
        json_object_foreach(expected, key, want) {
            json_t *got = json_object_get(latest, key);
            if (!got || !json_equal(got, want)) {
                char *a = got ? json_dumps(got, JSON_SORT_KEYS) : strdup("(none)");
                char *b = json_dumps(want, JSON_SORT_KEYS);
                ck_abort_msg("%zu of %d runs match offline after %zu profiles; %s:\nstream  %s\noffline %s",
                             matched, RUNS, messages, key, a, b);
            }
        }
    }
    ck_assert_uint_eq(duplicates, 0);
    /* revisions of each trace are 0, 1, ... in order, none repeated or skipped */
    const char *key;
    json_t *revs;
    size_t revised = 0;
    json_object_foreach(revisions, key, revs) {
        for (size_t i = 0; i < json_array_size(revs); i++)
            ck_assert_int_eq(json_integer_value(json_array_get(revs, i)), (json_int_t)i);
        revised += json_array_size(revs) > 1;
    }
    /* the late spans of 5% of the runs arrive after their run was profiled */
    ck_assert_msg(revised > 0, "no run was revised by a late span");

    /* both instances shut down cleanly on SIGTERM */
    harness_kill(run1, SIGTERM);
    harness_kill(run2, SIGTERM);
    int status = -1;
    ck_assert_int_eq(harness_wait(run1, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(harness_wait(run2, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    ck_assert(harness_file_count(log1, "event=stopped clean=1"));
    ck_assert(harness_file_count(log2, "event=stopped clean=1"));

    profile_avro_free(avro);
    json_decref(expected);
    json_decref(latest);
    json_decref(revisions);
    json_decref(ids);
    free(log1);
    free(log2);
    free(spans);
    free(offline);
    free(loadlog);
}
END_TEST

static void produce(rd_kafka_t *rk, const char *topic, const char *key, const void *value, size_t len) {
    ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
}

static span_t test_span(const char *trace, const char *id, span_kind_t kind, int64_t start, int64_t end) {
    span_t s;
    memset(&s, 0, sizeof(s));
    s.trace_id = trace;
    s.span_id = id;
    s.kind = kind;
    s.start_us = start;
    s.end_us = end;
    s.node_id = kind == SPAN_KIND_RUN ? NULL : "work";
    s.dag_id = "bad-input";
    return s;
}

/* Malformed events go to the dead-letter topic with the reason; the good spans
 * around them are still profiled, and nothing is lost. */
START_TEST(bad_input_dead_lettered) {
    char *log = stream_path_in(&fx, "run.log");
    const char *run_argv[] = {DAGPROF, "run", "--input.schema.id", "42", NULL};
    pid_t run = harness_spawn(run_argv, stream_run_env(&fx, NULL), log);
    ck_assert_int_gt(run, 0);
    stream_wait_for_log(log, "partitions_assigned", 60);

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(fx.kafka), err, sizeof(err));
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_ptr_nonnull(prod);
    span_codec_t *codec = span_codec_new(err, sizeof(err));
    ck_assert_ptr_nonnull(codec);
    buf_t b = BUF_INIT;
    const int64_t T = 1735689600000000LL;
    span_t good_run = test_span("tr-good", "r", SPAN_KIND_RUN, T, T + 1000000);
    span_t good_node = test_span("tr-good", "n", SPAN_KIND_NODE, T, T + 500000);
    good_node.parent_span_id = "r";
    span_t backwards = test_span("tr-good", "bad", SPAN_KIND_NODE, T + 10, T);
    span_t ancient = test_span("tr-good", "old", SPAN_KIND_NODE, 5, 10);
    ck_assert_int_eq(span_codec_encode_avro(codec, &good_node, &b, err, sizeof(err)), 0);
    produce(prod, "dag-spans", "tr-good", b.data, b.len);
    produce(prod, "dag-spans", "tr-good", "\x02garbage", 8);
    buf_reset(&b);
    ck_assert_int_eq(span_codec_encode_avro(codec, &backwards, &b, err, sizeof(err)), 0);
    produce(prod, "dag-spans", "tr-good", b.data, b.len);
    buf_reset(&b);
    ck_assert_int_eq(span_codec_encode_avro(codec, &ancient, &b, err, sizeof(err)), 0);
    produce(prod, "dag-spans", "tr-good", b.data, b.len);
    /* a span framed with another schema id */
    buf_reset(&b);
    buf_append(&b, "\0\0\0\0\x07", 5);
    span_t other_schema = test_span("tr-good", "other", SPAN_KIND_NODE, T, T + 10);
    ck_assert_int_eq(span_codec_encode_avro(codec, &other_schema, &b, err, sizeof(err)), 0);
    produce(prod, "dag-spans", "tr-good", b.data, b.len);
    /* the run span in the Confluent wire format: magic 0 + schema id 42 */
    buf_reset(&b);
    buf_append(&b, "\0\0\0\0\x2a", 5);
    ck_assert_int_eq(span_codec_encode_avro(codec, &good_run, &b, err, sizeof(err)), 0);
    produce(prod, "dag-spans", "tr-good", b.data, b.len);
    ck_assert_int_eq(rd_kafka_flush(prod, 30000), 0);

    /* four dead letters, each with its reason */
    rd_kafka_t *dl = stream_test_consumer(&fx, "dag-deadletter");
    int dead = 0, seen_kinds = 0;
    time_t deadline = time(NULL) + 60;
    while (dead < 4 && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(dl, 500);
        if (!m)
            continue;
        if (!m->err) {
            rd_kafka_headers_t *h = NULL;
            const void *v;
            size_t vlen;
            ck_assert_int_eq(rd_kafka_message_headers(m, &h), 0);
            ck_assert_int_eq(rd_kafka_header_get_last(h, "dagprof.error.kind", &v, &vlen), 0);
            if (vlen == 4 && memcmp(v, "avro", 4) == 0)
                seen_kinds |= 1;
            if (vlen == 16 && memcmp(v, "end_before_start", 16) == 0)
                seen_kinds |= 2;
            if (vlen == 11 && memcmp(v, "absurd_time", 11) == 0)
                seen_kinds |= 4;
            if (vlen == 9 && memcmp(v, "schema_id", 9) == 0)
                seen_kinds |= 8;
            ck_assert_int_eq(rd_kafka_header_get_last(h, "dagprof.error", &v, &vlen), 0);
            ck_assert_uint_gt(vlen, 0);
            dead++;
        }
        rd_kafka_message_destroy(m);
    }
    stream_close_consumer(dl);
    ck_assert_int_eq(dead, 4);
    ck_assert_int_eq(seen_kinds, 15);

    /* the good spans are profiled: one node, complete */
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    rd_kafka_t *rk = stream_test_consumer(&fx, "dag-profiles");
    profile_t *p = NULL;
    deadline = time(NULL) + 60;
    while (!p && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (m && !m->err)
            ck_assert_int_eq(profile_avro_decode(avro, m->payload, m->len, &p, err, sizeof(err)), 0);
        if (m)
            rd_kafka_message_destroy(m);
    }
    stream_close_consumer(rk);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->trace_id, "tr-good");
    ck_assert(p->complete);
    ck_assert_int_eq(p->summary.span_count, 2);
    ck_assert_int_eq(p->summary.wall_us, 1000000);
    ck_assert_uint_eq(p->node_count, 1);
    ck_assert_int_eq(p->nodes[0].exec_us, 500000);
    ck_assert(harness_file_count(log, "event=span_rejected kind=avro"));
    profile_free(p);
    profile_avro_free(avro);
    harness_kill(run, SIGTERM);
    int status = -1;
    ck_assert_int_eq(harness_wait(run, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    buf_free(&b);
    span_codec_free(codec);
    rd_kafka_destroy(prod);
    free(log);
}
END_TEST

/* Fail fast: no Redis, no broker -> a clear message and a non-zero exit. */
START_TEST(fail_fast_without_servers) {
    char *log = stream_path_in(&fx, "nofail.log");
    char port_env[64], bs_env[128];
    snprintf(port_env, sizeof(port_env), "DAGPROF_REDIS_PORT=%d", harness_free_port());
    const char *env[] = {fx.env_bootstrap, port_env, "DAGPROF_METRICS_PORT=0", NULL};
    const char *argv[] = {DAGPROF, "run", NULL};
    pid_t pid = harness_spawn(argv, env, log);
    int status = -1;
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 1);
    ck_assert(harness_file_count(log, "cannot connect"));

    snprintf(bs_env, sizeof(bs_env), "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%d", harness_free_port());
    const char *env2[] = {bs_env, fx.env_redis, "DAGPROF_METRICS_PORT=0", NULL};
    char *log2 = stream_path_in(&fx, "nokafka.log");
    pid = harness_spawn(argv, env2, log2);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 1);
    ck_assert(harness_file_count(log2, "cannot reach the brokers"));

    const char *env3[] = {"DAGPROF_REDIS_PORT=70000", NULL};
    char *log3 = stream_path_in(&fx, "badconfig.log");
    pid = harness_spawn(argv, env3, log3);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 2);
    ck_assert(harness_file_count(log3, "redis.port"));
    free(log);
    free(log2);
    free(log3);
}
END_TEST

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("end_to_end");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, two_instances_match_offline);
    tcase_add_test(tc, bad_input_dead_lettered);
    tcase_add_test(tc, fail_fast_without_servers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
