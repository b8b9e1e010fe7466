/* test_loadgen.c -- `dagprof loadgen` (producer/loadgen.h) and `dagprof tail`
 * (consumer/tail.h).
 *
 * loadgen is checked against a second fleet with the same options: the file
 * or the topic must hold exactly that stream, span for span. Kafka tests run
 * on the mock broker through the shared harness; their deadlines are generous
 * because they only matter when something is broken. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "fleet.h"
#include "harness.h"
#include "loadgen.h"
#include "profile.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "span_codec.h"
#include "tail.h"

#define DEADLINE_MS 60000
#define TEST_RUNS 20
#define TEST_SEED 4242
#define SPANS_TOPIC "dag-spans"
#define PROFILES_TOPIC "dag-profiles"

static char errstr[1024];

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The stream loadgen should produce, as "trace_id/span_id" keys in order. */
typedef struct expected {
    char **keys;
    size_t count;
} expected_t;

static void fleet_test_options(fleet_options_t *options) {
    fleet_options_init(options);
    options->runs = TEST_RUNS;
    options->seed = TEST_SEED;
    options->concurrency = 5;
}

static char *span_key(const char *trace_id, const char *span_id) {
    size_t len = strlen(trace_id) + strlen(span_id) + 2;
    char *key = malloc(len);
    ck_assert_ptr_nonnull(key);
    snprintf(key, len, "%s/%s", trace_id, span_id);
    return key;
}

static void expected_collect(expected_t *expected) {
    fleet_options_t options;
    fleet_test_options(&options);
    fleet_t *fleet = fleet_new(&options, errstr, sizeof(errstr));
    ck_assert_msg(fleet != NULL, "%s", errstr);
    size_t cap = 0;
    span_t span;
    int got;
    expected->keys = NULL;
    expected->count = 0;
    while ((got = fleet_next(fleet, &span)) == 1) {
        if (expected->count == cap) {
            cap = cap ? cap * 2 : 256;
            expected->keys = realloc(expected->keys, cap * sizeof(*expected->keys));
            ck_assert_ptr_nonnull(expected->keys);
        }
        expected->keys[expected->count++] = span_key(span.trace_id, span.span_id);
    }
    ck_assert_int_eq(got, 0);
    ck_assert_uint_eq(fleet_run_total(fleet), TEST_RUNS);
    fleet_free(fleet);
    /* 20 runs of at least a run span and three node spans each */
    ck_assert_uint_gt(expected->count, 4 * TEST_RUNS);
}

static void expected_free(expected_t *expected) {
    for (size_t i = 0; i < expected->count; i++)
        free(expected->keys[i]);
    free(expected->keys);
}

static int compare_keys(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void loadgen_test_options(loadgen_options_t *options, const char *output) {
    memset(options, 0, sizeof(*options));
    fleet_test_options(&options->fleet);
    options->output = output;
    options->topic = SPANS_TOPIC;
}

static char *read_file(FILE *f, size_t *len) {
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    char *text = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    *len = (size_t)size;
    return text;
}

/* ---- JSON Lines output ---- */

START_TEST(test_file_output) {
    expected_t expected;
    expected_collect(&expected);
    char *dir = harness_tempdir("loadgen");
    ck_assert_ptr_nonnull(dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/spans.jsonl", dir);

    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, path);
    ck_assert_msg(loadgen_run(&options, NULL, &result, errstr, sizeof(errstr)) == 0, "%s", errstr);
    ck_assert_int_eq(result.spans, (int64_t)expected.count);
    ck_assert_int_eq(result.runs, TEST_RUNS);
    ck_assert_int_eq(result.failed, 0);
    ck_assert(result.seconds >= 0);

    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    span_codec_t *codec = span_codec_new(errstr, sizeof(errstr));
    ck_assert_msg(codec != NULL, "%s", errstr);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    size_t lines = 0;
    while ((len = getline(&line, &line_cap, f)) != -1) {
        ck_assert_int_gt(len, 1);
        ck_assert_int_eq(line[len - 1], '\n');
        span_t span;
        ck_assert_msg(span_codec_decode_json(codec, line, (size_t)len - 1, &span, errstr,
                                             sizeof(errstr)) == 0,
                      "line %zu: %s", lines + 1, errstr);
        ck_assert_uint_lt(lines, expected.count);
        char *key = span_key(span.trace_id, span.span_id);
        /* same spans, same production order */
        ck_assert_str_eq(key, expected.keys[lines]);
        free(key);
        lines++;
    }
    ck_assert_uint_eq(lines, expected.count);
    free(line);
    span_codec_free(codec);
    fclose(f);

    ck_assert_int_eq(harness_rmtree(dir), 0);
    free(dir);
    expected_free(&expected);
}
END_TEST

START_TEST(test_file_missing_directory) {
    char *dir = harness_tempdir("loadgen");
    ck_assert_ptr_nonnull(dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/missing/spans.jsonl", dir);

    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, path);
    ck_assert_int_eq(loadgen_run(&options, NULL, &result, errstr, sizeof(errstr)), -1);
    ck_assert_msg(strstr(errstr, path) != NULL, "error does not name the path: %s", errstr);
    ck_assert_msg(strstr(errstr, strerror(ENOENT)) != NULL, "error lacks the cause: %s", errstr);
    ck_assert_int_eq(result.spans, 0);

    ck_assert_int_eq(harness_rmtree(dir), 0);
    free(dir);
}
END_TEST

/* /dev/full accepts the open and fails every write with ENOSPC; stdio buffers
 * the lines, so the failure surfaces on a later fwrite or on the flush. */
START_TEST(test_file_disk_full) {
    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, "/dev/full");
    ck_assert_int_eq(loadgen_run(&options, NULL, &result, errstr, sizeof(errstr)), -1);
    ck_assert_msg(strstr(errstr, "cannot write /dev/full") != NULL, "%s", errstr);
    ck_assert_msg(strstr(errstr, strerror(ENOSPC)) != NULL, "%s", errstr);
    ck_assert_int_eq(result.failed, 1);
}
END_TEST

START_TEST(test_stop_before_start) {
    char *dir = harness_tempdir("loadgen");
    ck_assert_ptr_nonnull(dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/spans.jsonl", dir);
    volatile sig_atomic_t stop = 1;

    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, path);
    options.stop = &stop;
    ck_assert_msg(loadgen_run(&options, NULL, &result, errstr, sizeof(errstr)) == 0, "%s", errstr);
    ck_assert_int_eq(result.spans, 0);
    ck_assert_int_eq(result.runs, 0);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fgetc(f), EOF);
    fclose(f);

    ck_assert_int_eq(harness_rmtree(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_kafka_without_conf) {
    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, "kafka");
    ck_assert_int_eq(loadgen_run(&options, NULL, &result, errstr, sizeof(errstr)), -1);
    ck_assert_str_eq(errstr, "output kafka needs a Kafka configuration");
}
END_TEST

/* ---- Kafka ---- */

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    ck_assert_msg(rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK,
                  "%s: %s", key, errstr);
}

/* A consumer of `topic` from the earliest offset. The mock keeps a group whose
 * last member left in "Joining" for session.timeout.ms - 1 s, so every
 * consumer gets its own group and a short session. */
static rd_kafka_conf_t *consumer_conf(const harness_kafka_t *kafka, const char *group) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(kafka));
    conf_set(conf, "group.id", group);
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "session.timeout.ms", "6000");
    return conf;
}

START_TEST(test_kafka_output) {
    expected_t expected;
    expected_collect(&expected);
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 3, errstr, sizeof(errstr));
    ck_assert_msg(kafka != NULL, "%s", errstr);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(kafka));
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "linger.ms", "5");
    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, "kafka");
    ck_assert_msg(loadgen_run(&options, conf, &result, errstr, sizeof(errstr)) == 0, "%s", errstr);
    ck_assert_int_eq(result.spans, (int64_t)expected.count);
    ck_assert_int_eq(result.runs, TEST_RUNS);
    ck_assert_int_eq(result.failed, 0);

    /* Read everything back. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, consumer_conf(kafka, "loadgen-check"), errstr,
                                  sizeof(errstr));
    ck_assert_msg(rk != NULL, "%s", errstr);
    ck_assert_int_eq(rd_kafka_poll_set_consumer(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, SPANS_TOPIC, RD_KAFKA_PARTITION_UA);
    ck_assert_int_eq(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);

    span_codec_t *codec = span_codec_new(errstr, sizeof(errstr));
    ck_assert_msg(codec != NULL, "%s", errstr);
    char **got = calloc(expected.count, sizeof(*got));
    int32_t *partition_of = calloc(expected.count, sizeof(*partition_of));
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_nonnull(partition_of);
    size_t received = 0;
    long long deadline = now_ms() + DEADLINE_MS;
    while (received < expected.count && now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (msg == NULL)
            continue;
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        span_t span;
        ck_assert_msg(span_codec_decode_avro(codec, msg->payload, msg->len, &span, errstr,
                                             sizeof(errstr)) == 0,
                      "offset %" PRId64 ": %s", msg->offset, errstr);
        /* keyed by trace_id, so a run stays on one partition */
        ck_assert_uint_eq(msg->key_len, strlen(span.trace_id));
        ck_assert_int_eq(memcmp(msg->key, span.trace_id, msg->key_len), 0);
        got[received] = span_key(span.trace_id, span.span_id);
        partition_of[received] = msg->partition;
        received++;
        rd_kafka_message_destroy(msg);
    }
    ck_assert_uint_eq(received, expected.count);

    /* Exactly that many: the partitions' end offsets add up to it. */
    int64_t total = 0;
    for (int32_t partition = 0; partition < 3; partition++) {
        int64_t low = -1, high = -1;
        ck_assert_int_eq(rd_kafka_query_watermark_offsets(rk, SPANS_TOPIC, partition, &low, &high,
                                                          DEADLINE_MS),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        ck_assert_int_eq(low, 0);
        total += high;
    }
    ck_assert_int_eq(total, (int64_t)expected.count);

    /* Each span of each run once, and every run on one partition. */
    for (size_t i = 0; i < received; i++)
        for (size_t j = i + 1; j < received; j++) {
            const char *slash_i = strchr(got[i], '/');
            const char *slash_j = strchr(got[j], '/');
            if (slash_i - got[i] == slash_j - got[j] &&
                strncmp(got[i], got[j], (size_t)(slash_i - got[i])) == 0)
                ck_assert_int_eq(partition_of[i], partition_of[j]);
        }
    qsort(got, received, sizeof(*got), compare_keys);
    qsort(expected.keys, expected.count, sizeof(*expected.keys), compare_keys);
    for (size_t i = 0; i < received; i++)
        ck_assert_str_eq(got[i], expected.keys[i]);

    for (size_t i = 0; i < received; i++)
        free(got[i]);
    free(got);
    free(partition_of);
    span_codec_free(codec);
    ck_assert_int_eq(rd_kafka_consumer_close(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
    expected_free(&expected);
}
END_TEST

/* A broker that refuses the connection: every span fails, the count says so,
 * and loadgen gives up after its flush timeout with an error. Kept small with
 * message.timeout.ms so the test does not wait the full minute. */
START_TEST(test_kafka_undeliverable) {
    int port = harness_free_port();
    ck_assert_int_gt(port, 0);
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", port);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "message.timeout.ms", "1000");
    conf_set(conf, "log_level", "0");
    loadgen_options_t options;
    loadgen_result_t result;
    loadgen_test_options(&options, "kafka");
    options.fleet.runs = 2;
    ck_assert_int_eq(loadgen_run(&options, conf, &result, errstr, sizeof(errstr)), -1);
    ck_assert_int_eq(result.spans, 0);
    ck_assert_int_gt(result.failed, 0);
    ck_assert_int_eq(result.runs, 2);
    ck_assert_msg(strstr(errstr, "spans not delivered to " SPANS_TOPIC "; first: delivery failed: ") !=
                      NULL,
                  "%s", errstr);
}
END_TEST

/* ---- tail ---- */

static profile_t *hand_profile(const char *trace_id, const char *dag_id, int64_t revision) {
    profile_t *profile = profile_new_empty();
    ck_assert_ptr_nonnull(profile);
    char id[128];
    snprintf(id, sizeof(id), "%s#%" PRId64, trace_id, revision);
    profile->profile_id = profile_strdup(profile, id);
    profile->trace_id = profile_strdup(profile, trace_id);
    profile->dag_id = profile_strdup(profile, dag_id);
    ck_assert_ptr_nonnull(profile->profile_id);
    ck_assert_ptr_nonnull(profile->trace_id);
    ck_assert_ptr_nonnull(profile->dag_id);
    profile->revision = revision;
    profile->complete = true;
    profile->profiled_at_us = INT64_C(1735689600000000);
    profile->summary.wall_us = 1500000;
    profile->summary.work_us = 1200000;
    profile->summary.node_count = 0;
    profile->summary.span_count = 1;
    profile->summary.schedule_efficiency = 1.0;
    return profile;
}

static void produce_to_partition0(rd_kafka_t *rk, const char *key, const void *value, size_t len) {
    ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(PROFILES_TOPIC), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Two profiles on one partition, behind a record that is not a profile. */
static void produce_profiles(const harness_kafka_t *kafka) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(kafka));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "%s", errstr);
    profile_avro_t *avro = profile_avro_new(errstr, sizeof(errstr));
    ck_assert_msg(avro != NULL, "%s", errstr);

    /* A negative string length: no profile decodes from it. */
    static const unsigned char garbage[] = {0x01, 0xff, 0xff};
    produce_to_partition0(rk, "garbage", garbage, sizeof(garbage));
    profile_t *first = hand_profile("run-a", "chain-3", 0);
    profile_t *second = hand_profile("run-b", "diamond", 1);
    buf_t value = BUF_INIT;
    ck_assert_msg(profile_avro_encode(avro, first, &value, errstr, sizeof(errstr)) == 0, "%s",
                  errstr);
    produce_to_partition0(rk, first->dag_id, value.data, value.len);
    buf_reset(&value);
    ck_assert_msg(profile_avro_encode(avro, second, &value, errstr, sizeof(errstr)) == 0, "%s",
                  errstr);
    produce_to_partition0(rk, second->dag_id, value.data, value.len);
    ck_assert_int_eq(rd_kafka_flush(rk, DEADLINE_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(rd_kafka_outq_len(rk), 0);

    buf_free(&value);
    profile_free(first);
    profile_free(second);
    profile_avro_free(avro);
    rd_kafka_destroy(rk);
}

static void tail_test_options(tail_options_t *options, volatile sig_atomic_t *stop) {
    memset(options, 0, sizeof(*options));
    options->topic = PROFILES_TOPIC;
    options->from_beginning = true;
    options->timeout_ms = DEADLINE_MS;
    options->stop = stop;
}

START_TEST(test_tail) {
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 3, errstr, sizeof(errstr));
    ck_assert_msg(kafka != NULL, "%s", errstr);
    produce_profiles(kafka);
    volatile sig_atomic_t stop = 0;
    tail_options_t options;

    /* JSON: one object per line, in partition order, the bad record skipped. */
    tail_test_options(&options, &stop);
    options.json = true;
    options.max_profiles = 2;
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(tail_run(&options, consumer_conf(kafka, "tail-json"), out, errstr,
                           sizeof(errstr)) == 0,
                  "%s", errstr);
    size_t len;
    char *text = read_file(out, &len);
    fclose(out);
    char *newline = strchr(text, '\n');
    ck_assert_ptr_nonnull(newline);
    char *last_newline = strchr(newline + 1, '\n');
    ck_assert_ptr_nonnull(last_newline);
    ck_assert_uint_eq((size_t)(last_newline - text), len - 1); /* exactly two lines */
    profile_t *profile = NULL;
    ck_assert_msg(profile_json_read(text, (size_t)(newline - text), &profile, errstr,
                                    sizeof(errstr)) == 0,
                  "%s", errstr);
    ck_assert_str_eq(profile->profile_id, "run-a#0");
    ck_assert_str_eq(profile->dag_id, "chain-3");
    ck_assert_int_eq(profile->summary.wall_us, 1500000);
    profile_free(profile);
    ck_assert_msg(profile_json_read(newline + 1, len - 1 - (size_t)(newline + 1 - text), &profile,
                                    errstr, sizeof(errstr)) == 0,
                  "%s", errstr);
    ck_assert_str_eq(profile->profile_id, "run-b#1");
    ck_assert_str_eq(profile->trace_id, "run-b");
    ck_assert_int_eq(profile->revision, 1);
    profile_free(profile);
    free(text);

    /* Text: the report, then a blank line. */
    tail_test_options(&options, &stop);
    options.max_profiles = 1;
    out = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(tail_run(&options, consumer_conf(kafka, "tail-text"), out, errstr,
                           sizeof(errstr)) == 0,
                  "%s", errstr);
    text = read_file(out, &len);
    fclose(out);
    ck_assert_msg(strncmp(text, "DAG chain-3\ntrace run-a ", 24) == 0, "%s", text);
    ck_assert_ptr_null(strstr(text, "run-b"));
    ck_assert_uint_ge(len, 2);
    ck_assert_str_eq(text + len - 2, "\n\n");
    ck_assert_ptr_null(strstr(text, "\n\n\n"));
    free(text);

    /* HTML: each profile a whole page of the HTML report, one after the other. */
    tail_test_options(&options, &stop);
    options.html = true;
    options.max_profiles = 2;
    out = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(tail_run(&options, consumer_conf(kafka, "tail-html"), out, errstr,
                           sizeof(errstr)) == 0,
                  "%s", errstr);
    text = read_file(out, &len);
    fclose(out);
    ck_assert_int_eq(strncmp(text, "<!DOCTYPE html>\n", 16), 0);
    char *second = strstr(text + 1, "<!DOCTYPE html>\n");
    ck_assert_ptr_nonnull(second);
    ck_assert_ptr_null(strstr(second + 1, "<!DOCTYPE html>"));
    ck_assert_ptr_nonnull(strstr(text, "profile <span class=\"mono\">run-a#0</span>"));
    ck_assert_ptr_nonnull(strstr(second, "profile <span class=\"mono\">run-b#1</span>"));
    ck_assert_str_eq(text + len - 8, "</html>\n");
    free(text);

    harness_kafka_free(kafka);
}
END_TEST

/* Normal stops that print nothing: a stop already requested, and a quiet
 * topic (which does not exist yet: not fatal). */
START_TEST(test_tail_quiet_stops) {
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 1, errstr, sizeof(errstr));
    ck_assert_msg(kafka != NULL, "%s", errstr);
    volatile sig_atomic_t stop = 1;
    tail_options_t options;
    size_t len;

    tail_test_options(&options, &stop);
    FILE *out = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(tail_run(&options, consumer_conf(kafka, "tail-stopped"), out, errstr,
                           sizeof(errstr)) == 0,
                  "%s", errstr);
    char *text = read_file(out, &len);
    ck_assert_uint_eq(len, 0);
    free(text);
    fclose(out);

    stop = 0;
    tail_test_options(&options, &stop);
    options.topic = "no-such-topic";
    options.timeout_ms = 1500;
    out = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(tail_run(&options, consumer_conf(kafka, "tail-quiet"), out, errstr,
                           sizeof(errstr)) == 0,
                  "%s", errstr);
    text = read_file(out, &len);
    ck_assert_uint_eq(len, 0);
    free(text);
    fclose(out);

    harness_kafka_free(kafka);
}
END_TEST

static Suite *loadgen_suite(void) {
    Suite *suite = suite_create("loadgen");
    TCase *files = tcase_create("files");
    tcase_add_test(files, test_file_output);
    tcase_add_test(files, test_file_missing_directory);
    tcase_add_test(files, test_file_disk_full);
    tcase_add_test(files, test_stop_before_start);
    tcase_add_test(files, test_kafka_without_conf);
    suite_add_tcase(suite, files);
    TCase *kafka = tcase_create("kafka");
    tcase_add_test(kafka, test_kafka_output);
    tcase_add_test(kafka, test_kafka_undeliverable);
    tcase_add_test(kafka, test_tail);
    tcase_add_test(kafka, test_tail_quiet_stops);
    suite_add_tcase(suite, kafka);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(loadgen_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
