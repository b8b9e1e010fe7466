/* test_schema_registry.c -- registering the output schemas with a Schema
 * Registry, against a real HTTP server that speaks the registry's REST API
 * (tests/registry_server.py): the ids it returns, its rejections, its
 * absence; and `dagprof run` framing its records with those ids, or refusing
 * to start. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "profile.h"
#include "profile_avro.h"
#include "schema_registry.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"
#define SERVER DAGPROF_SOURCE_DIR "/tests/registry_server.py"

static char *dir;
static pid_t server = -1;
static int server_port;
static char url[128], server_log[1024];

/* Start the registry with `extra` arguments; ids start at 100. */
static void start_registry(const char *const extra[]) {
    char port_text[16];
    server_port = harness_free_port();
    snprintf(port_text, sizeof(port_text), "%d", server_port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", server_port);
    snprintf(server_log, sizeof(server_log), "%s/registry-%d.log", dir, server_port);
    const char *argv[16] = {"/usr/bin/python3", SERVER, port_text, "--first-id", "100"};
    size_t n = 5;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    server = harness_spawn(argv, NULL, server_log);
    ck_assert_int_gt(server, 0);
    time_t deadline = time(NULL) + 60;
    while (!harness_file_count(server_log, "listening") && time(NULL) < deadline)
        usleep(20000);
    ck_assert_msg(harness_file_count(server_log, "listening"), "the registry did not start");
}

static void setup(void) {
    dir = harness_tempdir("dagprof-registry");
}

static void teardown(void) {
    if (server > 0) {
        int status;
        harness_kill(server, SIGTERM);
        harness_wait(server, 10000, &status);
        server = -1;
    }
    harness_rmtree(dir);
    free(dir);
}

START_TEST(test_register_returns_ids) {
    start_registry(NULL);
    char err[512] = "";
    int64_t id = -1;
    ck_assert_msg(schema_registry_register(url, "dag-profiles-value", profile_avro_profile_schema_json(),
                                           10000, &id, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(id, 100);
    ck_assert_msg(schema_registry_register(url, "dag-recommendations-value",
                                           profile_avro_recommendation_schema_json(), 10000, &id,
                                           err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(id, 101);
    /* again: now checked against the latest version, and the same id back */
    char slash_url[160];
    snprintf(slash_url, sizeof(slash_url), "%s/", url);
    ck_assert_msg(schema_registry_register(slash_url, "dag-profiles-value",
                                           profile_avro_profile_schema_json(), 10000, &id, err,
                                           sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(id, 100);
    ck_assert_uint_eq(harness_file_count(server_log,
        "POST /compatibility/subjects/dag-profiles-value/versions/latest -> 404"), 1);
    ck_assert_uint_eq(harness_file_count(server_log,
        "POST /compatibility/subjects/dag-profiles-value/versions/latest -> 200 {\"is_compatible\": true}"), 1);
    ck_assert_uint_eq(harness_file_count(server_log,
        "POST /subjects/dag-profiles-value/versions -> 200 {\"id\": 100}"), 2);
}
END_TEST

START_TEST(test_rejections_are_errors) {
    const char *extra[] = {"--reject-register", "bad-value", "--incompatible", "old-value", NULL};
    start_registry(extra);
    char err[512] = "";
    int64_t id = -1;
    ck_assert_int_eq(schema_registry_register(url, "bad-value", profile_avro_profile_schema_json(),
                                              10000, &id, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "schema registry rejected the registration of subject bad-value: "
                          "HTTP 422: Invalid schema");
    ck_assert_int_eq(schema_registry_register(url, "old-value", profile_avro_profile_schema_json(),
                                              10000, &id, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "schema registry: the schema is not compatible with the latest version "
                          "of subject old-value under its compatibility mode");
    ck_assert_int_eq(id, -1);
}
END_TEST

START_TEST(test_unreachable_is_an_error) {
    char err[512] = "", bad_url[128], want[400];
    int64_t id = -1;
    snprintf(bad_url, sizeof(bad_url), "http://127.0.0.1:%d", harness_free_port());
    ck_assert_int_eq(schema_registry_register(bad_url, "dag-profiles-value",
                                              profile_avro_profile_schema_json(), 10000, &id, err,
                                              sizeof(err)), -1);
    snprintf(want, sizeof(want), "schema registry %s/compatibility/subjects/dag-profiles-value/"
                                 "versions/latest unreachable: ", bad_url);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

/* `dagprof run` refuses to start without a usable registry: exit 2, and the
 * reason in its log. No Kafka or Redis is needed to get that far. */
START_TEST(test_run_refuses_to_start) {
    const char *extra[] = {"--reject-register", "dag-recommendations-value", NULL};
    start_registry(extra);
    char url_env[200], log[1200];
    snprintf(url_env, sizeof(url_env), "DAGPROF_OUTPUT_SCHEMA_REGISTRY_URL=%s", url);
    snprintf(log, sizeof(log), "%s/run-rejected.log", dir);
    const char *env[] = {url_env, "DAGPROF_OUTPUT_FORMAT=confluent", "DAGPROF_METRICS_PORT=0", NULL};
    const char *argv[] = {DAGPROF, "run", NULL};
    int status = -1;
    pid_t pid = harness_spawn(argv, env, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 2);
    ck_assert_uint_eq(harness_file_count(log, "schema registry rejected the registration of "
                                              "subject dag-recommendations-value: HTTP 422: Invalid schema"), 1);

    char bad_env[200];
    snprintf(bad_env, sizeof(bad_env), "DAGPROF_OUTPUT_SCHEMA_REGISTRY_URL=http://127.0.0.1:%d",
             harness_free_port());
    snprintf(log, sizeof(log), "%s/run-unreachable.log", dir);
    const char *env2[] = {bad_env, "DAGPROF_OUTPUT_FORMAT=confluent", "DAGPROF_METRICS_PORT=0", NULL};
    pid = harness_spawn(argv, env2, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 2);
    ck_assert_uint_eq(harness_file_count(log, "unreachable"), 1);

    /* confluent without a registry or ids is a configuration error too */
    snprintf(log, sizeof(log), "%s/run-noids.log", dir);
    const char *env3[] = {"DAGPROF_OUTPUT_FORMAT=confluent", "DAGPROF_METRICS_PORT=0",
                          "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1", NULL};
    pid = harness_spawn(argv, env3, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 2);
    ck_assert_uint_eq(harness_file_count(log, "output.format confluent needs output.schema.id.profile"), 1);
}
END_TEST

/* Every record `dagprof run` writes is framed with the id the registry gave
 * its subject, and decodes. */
START_TEST(test_run_frames_with_registry_ids) {
    enum { RUNS = 20 };
    char err[512];
    start_registry(NULL);
    harness_redis_t *redis = harness_redis_start(NULL, err, sizeof(err));
    ck_assert_msg(redis != NULL, "%s", err);
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 2, err, sizeof(err));
    ck_assert_msg(kafka != NULL, "%s", err);
    char bs_env[512], redis_env[64], url_env[200], log[1200], loadlog[1200];
    snprintf(bs_env, sizeof(bs_env), "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=%s", harness_kafka_bootstrap(kafka));
    snprintf(redis_env, sizeof(redis_env), "DAGPROF_REDIS_PORT=%d", harness_redis_port(redis));
    snprintf(url_env, sizeof(url_env), "DAGPROF_OUTPUT_SCHEMA_REGISTRY_URL=%s", url);
    snprintf(log, sizeof(log), "%s/run.log", dir);
    snprintf(loadlog, sizeof(loadlog), "%s/loadgen.log", dir);
    const char *env[] = {bs_env, redis_env, url_env, "DAGPROF_OUTPUT_FORMAT=confluent",
                         "DAGPROF_GRACE_MS=100", "DAGPROF_DUE_POLL_MS=50", "DAGPROF_METRICS_PORT=0", NULL};
    const char *run_argv[] = {DAGPROF, "run", NULL};
    pid_t run = harness_spawn(run_argv, env, log);
    ck_assert_int_gt(run, 0);
    const char *gen[] = {DAGPROF, "loadgen", "--loadgen.runs", "20", "--loadgen.seed", "3", NULL};
    int status = -1;
    pid_t gen_pid = harness_spawn(gen, env, loadlog);
    ck_assert_int_eq(harness_wait(gen_pid, 120000, &status), 0);
    ck_assert_int_eq(status, 0);

    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_ptr_nonnull(avro);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[64];
    snprintf(group, sizeof(group), "test-registry-%d", (int)getpid());
    rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(kafka), err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "%s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, "dag-profiles", RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, "dag-recommendations", RD_KAFKA_PARTITION_UA);
    ck_assert_int_eq(rd_kafka_subscribe(rk, topics), 0);
    rd_kafka_topic_partition_list_destroy(topics);
    size_t profiles = 0, recommendations = 0, expected_recommendations = 0;
    time_t deadline = time(NULL) + 180;
    while ((profiles < RUNS || recommendations < expected_recommendations) && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        const unsigned char *v = m->payload;
        int is_profile = strcmp(rd_kafka_topic_name(m->rkt), "dag-profiles") == 0;
        ck_assert_uint_gt(m->len, 5);
        const unsigned char want[5] = {0, 0, 0, 0, (unsigned char)(is_profile ? 100 : 101)};
        ck_assert_msg(memcmp(v, want, 5) == 0, "%s record framed with %u %u %u %u %u",
                      rd_kafka_topic_name(m->rkt), v[0], v[1], v[2], v[3], v[4]);
        rd_kafka_headers_t *h = NULL;
        const void *format = NULL;
        size_t format_len = 0;
        ck_assert_int_eq(rd_kafka_message_headers(m, &h), 0);
        ck_assert_int_eq(rd_kafka_header_get_last(h, "dagprof.format", &format, &format_len), 0);
        ck_assert_int_eq(format_len, 9);
        ck_assert_int_eq(memcmp(format, "confluent", 9), 0);
        if (is_profile) {
            profile_t *p = NULL;
            ck_assert_msg(profile_avro_decode(avro, m->payload, m->len, &p, err, sizeof(err)) == 0, "%s", err);
            if (p->revision == 0) {
                profiles++;
                expected_recommendations += p->recommendation_count;
            }
            profile_free(p);
        } else {
            recommendations++;
        }
        rd_kafka_message_destroy(m);
    }
    ck_assert_uint_eq(profiles, RUNS);
    ck_assert_uint_ge(recommendations, expected_recommendations);
    char *run_log = harness_slurp(log);
    char want_log[300];
    snprintf(want_log, sizeof(want_log), "event=schemas_registered registry=%s "
             "dag-profiles-value=100 dag-recommendations-value=101", url);
    ck_assert_msg(strstr(run_log, want_log), "%s", run_log);
    free(run_log);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    profile_avro_free(avro);
    harness_kill(run, SIGTERM);
    ck_assert_int_eq(harness_wait(run, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    harness_kafka_free(kafka);
    harness_redis_free(redis);
}
END_TEST

int main(void) {
    Suite *s = suite_create("schema_registry");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_register_returns_ids);
    tcase_add_test(tc, test_rejections_are_errors);
    tcase_add_test(tc, test_unreachable_is_an_error);
    tcase_add_test(tc, test_run_refuses_to_start);
    tcase_add_test(tc, test_run_frames_with_registry_ids);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
