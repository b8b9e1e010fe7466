/* test_otlp_stream.c -- `dagprof run` on OpenTelemetry input, end to end.
 *
 * Real servers (redis-server, the mock Kafka broker) and real processes:
 * `dagprof loadgen --format otlp_proto|otlp_json` streams a fleet as OTLP
 * trace requests of many spans, `dagprof run` profiles it, and every run's
 * last revision must equal `dagprof profile` on the same runs written as
 * SpanEvent JSON Lines. Bad input is dead-lettered with its reason; with
 * input.repartition, unkeyed requests spread over two instances still give
 * every trace whole, once. */
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
#include "otlp_encode.h"
#include "profile_avro.h"
#include "profile_json.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"

static stream_fixture_t fx;

static void setup(void) {
    stream_fixture_start(&fx, DAGPROF_BINARY_DIR, NULL, 4, "dagprof-otlp-stream");
}

static void teardown(void) {
    stream_fixture_stop(&fx, false);
}

/* stream_profile_figures() less the trace id: OTLP trace ids are 16 bytes,
 * and loadgen's are hashed from the SpanEvent ones (otlp_encode.h). */
static json_t *otlp_figures(json_t *profile) {
    json_t *copy = stream_profile_figures(profile);
    json_object_del(copy, "trace_id");
    return copy;
}


static void produce(rd_kafka_t *rk, const char *topic, const char *key, const void *value, size_t len) {
    ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
}

static rd_kafka_t *test_producer(void) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(fx.kafka), err, sizeof(err));
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_msg(prod != NULL, "%s", err);
    return prod;
}

/* The OTLP trace id (hex) of a span_t trace id, as the decoder reports it. */
static void otlp_hex_id(const char *id, char out[33]) {
    unsigned char bytes[16];
    otlp_encode_id(id, bytes, sizeof(bytes));
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* `dagprof profile` of the fleet written as SpanEvent JSON Lines: figures by
 * OTLP trace id, added to `expected`. */
static void offline_expected(const char *seed, const char *runs, json_t *expected) {
    char *spans = stream_path_in(&fx, "spans.jsonl"), *offline = stream_path_in(&fx, "offline.jsonl"), *log = stream_path_in(&fx, "offline.log");
    const char *gen_file[] = {DAGPROF, "loadgen", "--loadgen.runs", runs, "--loadgen.seed", seed,
                              "--loadgen.output", spans, NULL};
    stream_run_to_exit(&fx, gen_file, log, 0);
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' profile --format json '%s' > '%s' 2>> '%s'", DAGPROF, spans,
                              offline, log), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    FILE *f = fopen(offline, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *p = json_loads(line, 0, &e);
        ck_assert_msg(p != NULL, "offline output: %s", e.text);
        char hex[33];
        otlp_hex_id(json_string_value(json_object_get(p, "trace_id")), hex);
        json_object_set_new(expected, hex, otlp_figures(p));
        json_decref(p);
    }
    free(line);
    fclose(f);
    free(spans);
    free(offline);
    free(log);
}

/* Read the profiles topic until every expected trace's latest revision equals
 * its offline figures; no profile twice, revisions 0, 1, ... in order. */
static void expect_profiles(json_t *expected) {
    char err[512];
    size_t want_count = json_object_size(expected);
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_ptr_nonnull(avro);
    rd_kafka_t *rk = stream_test_consumer(&fx, "dag-profiles");
    json_t *latest = json_object(), *revisions = json_object(), *ids = json_object();
    size_t matched = 0, messages = 0, duplicates = 0;
    time_t deadline = time(NULL) + 240;
    while (matched < want_count && time(NULL) < deadline) {
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
        json_t *want = json_object_get(expected, p->trace_id);
        ck_assert_msg(want != NULL, "profile of an unknown trace %s", p->trace_id);
        json_t *prev = json_object_get(latest, p->trace_id);
        int prev_matched = prev && json_equal(prev, want);
        json_t *fig = otlp_figures(got);
        json_object_set_new(latest, p->trace_id, fig);
        matched += (size_t)(json_equal(fig, want) - prev_matched);
        json_decref(got);
        profile_free(p);
    }
    stream_close_consumer(rk);
    if (matched < want_count) {
        const char *key;
        json_t *want;
        json_object_foreach(expected, key, want) {
            json_t *got = json_object_get(latest, key);
            if (!got || !json_equal(got, want)) {
                char *a = got ? json_dumps(got, JSON_SORT_KEYS) : strdup("(none)");
                char *b = json_dumps(want, JSON_SORT_KEYS);
                /* the profiles are longer than a Check message may be */
                fprintf(stderr, "trace %s:\nstream  %s\noffline %s\n", key, a, b);
                ck_abort_msg("%zu of %zu runs match offline after %zu profiles; first mismatch %s (both on stderr)",
                             matched, want_count, messages, key);
            }
        }
    }
    ck_assert_uint_eq(duplicates, 0);
    const char *key;
    json_t *revs;
    json_object_foreach(revisions, key, revs) {
        for (size_t i = 0; i < json_array_size(revs); i++)
            ck_assert_int_eq(json_integer_value(json_array_get(revs, i)), (json_int_t)i);
    }
    profile_avro_free(avro);
    json_decref(latest);
    json_decref(revisions);
    json_decref(ids);
}

static void stop_clean(pid_t pid, const char *log) {
    harness_kill(pid, SIGTERM);
    int status = -1;
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    ck_assert(harness_file_count(log, "event=stopped clean=1"));
}

/* OTLP protobuf and OTLP/JSON requests of many spans (keyed by trace id, as
 * the Collector's exporter with partition_traces_by_id writes them) give the
 * profiles `dagprof profile` gives on the same runs as SpanEvent JSON. */
START_TEST(otlp_proto_and_json_match_offline) {
    char *log = stream_path_in(&fx, "run.log"), *genlog = stream_path_in(&fx, "loadgen.log");
    const char *run_argv[] = {DAGPROF, "run", NULL};
    pid_t run = harness_spawn(run_argv, stream_run_env(&fx, NULL), log);
    ck_assert_int_gt(run, 0);
    stream_wait_for_log(log, "partitions_assigned count=4", 60);

    const char *proto[] = {DAGPROF, "loadgen", "--format", "otlp_proto", "--loadgen.runs", "60",
                           "--loadgen.seed", "7", "--loadgen.otlp.key_by_trace", "true",
                           "--loadgen.otlp.batch", "50", NULL};
    stream_run_to_exit(&fx, proto, genlog, 0);
    const char *json[] = {DAGPROF, "loadgen", "--format=otlp_json", "--loadgen.runs", "60",
                          "--loadgen.seed", "8", "--loadgen.otlp.key_by_trace", "true", NULL};
    stream_run_to_exit(&fx, json, genlog, 0);

    json_t *expected = json_object();
    offline_expected("7", "60", expected);
    offline_expected("8", "60", expected);
    ck_assert_uint_eq(json_object_size(expected), 120);
    expect_profiles(expected);
    json_decref(expected);
    /* keyed by trace id: no warning about split traces */
    ck_assert_uint_eq(harness_file_count(log, "event=otlp_unkeyed"), 0);
    stop_clean(run, log);
    free(log);
    free(genlog);
}
END_TEST

/* A message that is no input format is dead-lettered with its reason; a
 * rejected span of an OTLP request is counted and its request dead-lettered
 * once, while the rest of the request is profiled. */
START_TEST(otlp_bad_input_dead_lettered) {
    char *log = stream_path_in(&fx, "run.log");
    const char *run_argv[] = {DAGPROF, "run", NULL};
    pid_t run = harness_spawn(run_argv, stream_run_env(&fx, NULL), log);
    ck_assert_int_gt(run, 0);
    stream_wait_for_log(log, "partitions_assigned count=4", 60);

    char err[512];
    rd_kafka_t *prod = test_producer();
    /* protobuf field 1, length-delimited, with a length far beyond the message */
    produce(prod, "dag-spans", NULL, "\x0a\xff\xff\xff\x0f\x01\x02", 7);
    /* one request: a run span, a node, and a node that ends before it starts */
    const char *trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const int64_t T = 1735689600000000LL;
    span_t spans[3];
    memset(spans, 0, sizeof(spans));
    spans[0] = (span_t){.trace_id = trace, .span_id = "00f067aa0ba902b7", .dag_id = "otlp-bad",
                        .kind = SPAN_KIND_RUN, .name = "otlp-bad", .start_us = T, .end_us = T + 1000000,
                        .status = SPAN_STATUS_OK};
    spans[1] = (span_t){.trace_id = trace, .span_id = "00f067aa0ba902b8", .parent_span_id = "00f067aa0ba902b7",
                        .node_id = "work", .kind = SPAN_KIND_NODE, .name = "work", .start_us = T,
                        .end_us = T + 500000, .status = SPAN_STATUS_OK};
    spans[2] = (span_t){.trace_id = trace, .span_id = "00f067aa0ba902b9", .parent_span_id = "00f067aa0ba902b7",
                        .node_id = "backwards", .kind = SPAN_KIND_NODE, .name = "backwards",
                        .start_us = T + 10, .end_us = T, .status = SPAN_STATUS_OK};
    /* the encoder refuses a span that ends before it starts: write its JSON by hand */
    otlp_encoder_t *enc = otlp_encoder_new(OTLP_ENCODING_JSON, "bad", err, sizeof(err));
    ck_assert_int_eq(otlp_encoder_add(enc, &spans[0], err, sizeof(err)), 0);
    ck_assert_int_eq(otlp_encoder_add(enc, &spans[1], err, sizeof(err)), 0);
    spans[2].end_us = spans[2].start_us;
    ck_assert_int_eq(otlp_encoder_add(enc, &spans[2], err, sizeof(err)), 0);
    buf_t b = BUF_INIT;
    ck_assert_int_eq(otlp_encoder_finish(enc, &b), 0);
    /* the third span's end (its start in ns, ...010000) becomes its start minus 10 us */
    char *end = strstr(b.data, "\"endTimeUnixNano\":\"1735689600000010000\"");
    ck_assert_ptr_nonnull(end);
    memcpy(end + strlen("\"endTimeUnixNano\":\""), "1735689600000000000", 19);
    produce(prod, "dag-spans", trace, b.data, b.len);
    ck_assert_int_eq(rd_kafka_flush(prod, 30000), 0);

    rd_kafka_t *dl = stream_test_consumer(&fx, "dag-deadletter");
    int seen = 0, dead = 0;
    time_t deadline = time(NULL) + 60;
    while (dead < 2 && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(dl, 500);
        if (!m)
            continue;
        if (!m->err) {
            rd_kafka_headers_t *h = NULL;
            const void *kind, *reason;
            size_t kind_len, reason_len;
            ck_assert_int_eq(rd_kafka_message_headers(m, &h), 0);
            ck_assert_int_eq(rd_kafka_header_get_last(h, "dagprof.error.kind", &kind, &kind_len), 0);
            ck_assert_int_eq(rd_kafka_header_get_last(h, "dagprof.error", &reason, &reason_len), 0);
            char text[512];
            snprintf(text, sizeof(text), "%.*s: %.*s", (int)kind_len, (const char *)kind, (int)reason_len,
                     (const char *)reason);
            if (strcmp(text, "unknown_format: the message is neither Avro SpanEvent nor an OTLP trace request") == 0) {
                ck_assert_uint_eq(m->len, 7);
                seen |= 1;
            } else if (strncmp(text, "otlp_time: 1 span(s) of the request rejected; first: ", 53) == 0 &&
                       strstr(text, "00f067aa0ba902b9")) {
                /* the decoder's reason names the span; the record is the whole request */
                ck_assert_uint_eq(m->len, b.len);
                seen |= 2;
            } else {
                ck_abort_msg("unexpected dead letter %s", text);
            }
            dead++;
        }
        rd_kafka_message_destroy(m);
    }
    stream_close_consumer(dl);
    ck_assert_int_eq(seen, 3);

    /* the rest of the request is profiled: the run and its one good node */
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
    ck_assert_str_eq(p->trace_id, trace);
    ck_assert_str_eq(p->dag_id, "otlp-bad");
    ck_assert(p->complete);
    ck_assert_int_eq(p->summary.span_count, 2);
    ck_assert_int_eq(p->summary.wall_us, 1000000);
    ck_assert_uint_eq(p->node_count, 1);
    ck_assert_str_eq(p->nodes[0].node_id, "work");
    ck_assert_int_eq(p->nodes[0].exec_us, 500000);
    /* the request was keyed by its trace id: not reported as split */
    ck_assert_uint_eq(harness_file_count(log, "event=otlp_unkeyed"), 0);
    profile_free(p);
    profile_avro_free(avro);
    stop_clean(run, log);
    otlp_encoder_free(enc);
    buf_free(&b);
    rd_kafka_destroy(prod);
    free(log);
}
END_TEST

/* Unkeyed OTLP messages spread each trace over the partitions, and so over
 * two instances. With input.repartition both re-publish the spans keyed by
 * trace id and profile from the internal topic: every trace whole, once per
 * revision, equal to the offline profile. */
START_TEST(repartition_two_instances) {
    char err[512];
    ck_assert_msg(harness_kafka_command(fx.kafka, "topic-create dag-spans-by-trace 4", err, sizeof(err)) == 0,
                  "%s", err);
    char *log1 = stream_path_in(&fx, "run1.log"), *log2 = stream_path_in(&fx, "run2.log"), *genlog = stream_path_in(&fx, "loadgen.log");
    const char *run_argv[] = {DAGPROF, "run", "--input.repartition", "true", NULL};
    pid_t run1 = harness_spawn(run_argv, stream_run_env(&fx, NULL), log1);
    pid_t run2 = harness_spawn(run_argv, stream_run_env(&fx, NULL), log2);
    ck_assert_int_gt(run1, 0);
    ck_assert_int_gt(run2, 0);
    /* two of the input partitions and two of the internal topic's each */
    stream_wait_for_log(log1, "partitions_assigned count=4", 60);
    stream_wait_for_log(log2, "partitions_assigned count=4", 60);

    /* small batches, unkeyed: a run's spans land on several partitions */
    const char *gen[] = {DAGPROF, "loadgen", "--format", "otlp_proto", "--loadgen.runs", "150",
                         "--loadgen.seed", "11", "--loadgen.otlp.batch", "7", "--loadgen.rate", "3000", NULL};
    stream_run_to_exit(&fx, gen, genlog, 0);
    json_t *expected = json_object();
    offline_expected("11", "150", expected);
    ck_assert_uint_eq(json_object_size(expected), 150);
    expect_profiles(expected);
    json_decref(expected);
    ck_assert_uint_eq(harness_file_count(log1, "event=otlp_unkeyed") + harness_file_count(log2, "event=otlp_unkeyed"), 2);
    stop_clean(run1, log1);
    stop_clean(run2, log2);
    free(log1);
    free(log2);
    free(genlog);
}
END_TEST

/* Bad settings are refused at start with the option named. */
START_TEST(bad_settings_refused) {
    char *log = stream_path_in(&fx, "bad.log");
    const char *format_argv[] = {DAGPROF, "run", "--input-format", "otlp", NULL};
    stream_run_to_exit(&fx, format_argv, log, 2);
    ck_assert(harness_file_count(log, "input.format"));
    const char *topic_argv[] = {DAGPROF, "run", "--input.repartition", "true", "--input.repartition.topic",
                                "dag-spans", NULL};
    stream_run_to_exit(&fx, topic_argv, log, 1);
    ck_assert(harness_file_count(log, "input.repartition.topic must name a topic other than topic.spans"));
    const char *gen_argv[] = {DAGPROF, "loadgen", "--format", "protobuf", NULL};
    stream_run_to_exit(&fx, gen_argv, log, 2);
    ck_assert(harness_file_count(log, "loadgen.format"));
    free(log);
}
END_TEST

int main(void) {
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    Suite *s = suite_create("otlp_stream");
    TCase *tc = tcase_create("end_to_end");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, otlp_proto_and_json_match_offline);
    tcase_add_test(tc, otlp_bad_input_dead_lettered);
    tcase_add_test(tc, repartition_two_instances);
    tcase_add_test(tc, bad_settings_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
