/* test_kafkajs_consumer.c -- the example consumer (examples/kafkajs-consumer,
 * kafkajs + avsc, no extra codec) reads everything `dagprof run` publishes,
 * in every output format, and every profile equals `dagprof profile` of the
 * same spans.
 *
 * The spans come from an outside producer too: kafkajs + avsc writing
 * Confluent-framed SpanEvent records (tests/js/produce_spans.js). Then, per
 * case (format, compression, registry or not), one `dagprof run` with topics
 * and a Redis prefix of its own reads them all and the example consumer reads
 * its output topics, until every run's latest revision equals the offline
 * profile and every recommendation of it has arrived as its own record. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "harness.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"
#define NODE_PATH "NODE_PATH=" DAGPROF_SOURCE_DIR "/tests/js/node_modules"
#define CONSUMER DAGPROF_SOURCE_DIR "/examples/kafkajs-consumer/consumer.js"
#define PRODUCER DAGPROF_SOURCE_DIR "/tests/js/produce_spans.js"
#define RUNS 300

static harness_redis_t *redis;
static harness_kafka_t *kafka;
static pid_t registry = -1;
static char *dir;
static char registry_url[128];
static json_t *expected; /* trace_id -> offline profile figures */

/* What legitimately differs between a stream revision and the offline run. */
static json_t *figures(json_t *profile) {
    json_t *copy = json_deep_copy(profile);
    json_object_del(copy, "profile_id");
    json_object_del(copy, "revision");
    json_object_del(copy, "profiled_at_us");
    return copy;
}

static void run_to_exit(const char *const argv[], const char *const env[], const char *log) {
    int status = -1;
    pid_t pid = harness_spawn(argv, env, log);
    ck_assert_int_gt(pid, 0);
    ck_assert_msg(harness_wait(pid, 300000, &status) == 0, "%s did not finish", argv[1]);
    if (status != 0) {
        char *text = harness_slurp(log);
        ck_abort_msg("%s %s exited %d:\n%s", argv[0], argv[1], status, text);
    }
}

static void setup(void) {
    char err[512];
    dir = harness_tempdir("dagprof-kafkajs");
    redis = harness_redis_start(NULL, err, sizeof(err));
    ck_assert_msg(redis != NULL, "%s", err);
    kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 4, err, sizeof(err));
    ck_assert_msg(kafka != NULL, "%s", err);

    char port_text[16], log[1200];
    int port = harness_free_port();
    snprintf(port_text, sizeof(port_text), "%d", port);
    snprintf(registry_url, sizeof(registry_url), "http://127.0.0.1:%d", port);
    snprintf(log, sizeof(log), "%s/registry.log", dir);
    const char *reg_argv[] = {"/usr/bin/python3", DAGPROF_SOURCE_DIR "/tests/registry_server.py",
                              port_text, "--first-id", "21", NULL};
    registry = harness_spawn(reg_argv, NULL, log);
    ck_assert_int_gt(registry, 0);
    time_t deadline = time(NULL) + 60;
    while (!harness_file_count(log, "listening") && time(NULL) < deadline)
        usleep(20000);
    ck_assert(harness_file_count(log, "listening"));

    /* the spans, as JSON Lines and then through kafkajs as Confluent-framed Avro */
    char spans[1200], loadlog[1200], offline[1200];
    snprintf(spans, sizeof(spans), "%s/spans.jsonl", dir);
    snprintf(loadlog, sizeof(loadlog), "%s/loadgen.log", dir);
    snprintf(offline, sizeof(offline), "%s/offline.jsonl", dir);
    const char *gen[] = {DAGPROF, "loadgen", "--loadgen.runs", "300", "--loadgen.seed", "21",
                         "--loadgen.output", spans, NULL};
    run_to_exit(gen, NULL, loadlog);
    const char *produce[] = {"node", PRODUCER, harness_kafka_bootstrap(kafka), "dag-spans",
                             DAGPROF_SOURCE_DIR "/schemas/span_event.avsc", "5", spans, NULL};
    const char *node_env[] = {NODE_PATH, NULL};
    snprintf(log, sizeof(log), "%s/produce.log", dir);
    run_to_exit(produce, node_env, log);
    ck_assert_uint_eq(harness_file_count(log, "produced "), 1);

    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' profile --format json '%s' > '%s' 2>> '%s'", DAGPROF,
                              spans, offline, loadlog), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    expected = json_object();
    FILE *f = fopen(offline, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *p = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(p);
        json_object_set_new(expected, json_string_value(json_object_get(p, "trace_id")), figures(p));
        json_decref(p);
    }
    free(line);
    fclose(f);
    ck_assert_uint_eq(json_object_size(expected), RUNS);
}

static void teardown(void) {
    int status;
    if (registry > 0) {
        harness_kill(registry, SIGTERM);
        harness_wait(registry, 10000, &status);
    }
    json_decref(expected);
    harness_kafka_free(kafka);
    harness_redis_free(redis);
    harness_rmtree(dir);
    free(dir);
}

typedef struct outcome {
    size_t profiles_matched;        /* runs whose latest revision equals the offline profile */
    size_t recommendations_matched; /* of those runs' recommendations, arrived as records */
    size_t recommendations_wanted;
    size_t records;                 /* lines the consumer printed */
    size_t profile_records;         /* of which profiles, all revisions */
    size_t wrong_format;            /* records not in the format asked for */
} outcome_t;

/* Read the consumer's output so far and compare it with the offline profiles. */
static void compare(const char *output, const char *format, outcome_t *out) {
    memset(out, 0, sizeof(*out));
    json_t *latest = json_object(); /* trace_id -> profile (highest revision) */
    json_t *recs = json_object();   /* profile_id -> {json text of rec -> true} */
    FILE *f = fopen(output, "r");
    if (!f)
        goto done;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* still being written */
        json_t *rec = json_loads(line, 0, NULL);
        ck_assert_msg(rec != NULL, "the consumer printed: %s", line);
        out->records++;
        if (strcmp(json_string_value(json_object_get(rec, "format")), format) != 0)
            out->wrong_format++;
        const char *topic = json_string_value(json_object_get(rec, "topic"));
        json_t *value = json_object_get(rec, "value");
        if (strncmp(topic, "p-", 2) == 0) {
            out->profile_records++;
            const char *trace = json_string_value(json_object_get(value, "trace_id"));
            json_t *old = json_object_get(latest, trace);
            if (!old || json_integer_value(json_object_get(old, "revision")) <
                            json_integer_value(json_object_get(value, "revision")))
                json_object_set(latest, trace, value);
        } else {
            const char *id = json_string_value(json_object_get(value, "profile_id"));
            json_t *set = json_object_get(recs, id);
            if (!set) {
                set = json_object();
                json_object_set_new(recs, id, set);
            }
            char *text = json_dumps(value, JSON_SORT_KEYS | JSON_COMPACT);
            json_object_set_new(set, text, json_true());
            free(text);
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    const char *trace;
    json_t *profile;
    json_object_foreach(latest, trace, profile) {
        json_t *want = json_object_get(expected, trace);
        json_t *got = figures(profile);
        int equal = want && json_equal(got, want);
        json_decref(got);
        if (!equal)
            continue;
        out->profiles_matched++;
        /* each of its recommendations, as a record with the profile's ids */
        json_t *set = json_object_get(recs, json_string_value(json_object_get(profile, "profile_id")));
        json_t *list = json_object_get(profile, "recommendations");
        size_t i;
        json_t *r;
        json_array_foreach(list, i, r) {
            out->recommendations_wanted++;
            json_t *full = json_deep_copy(r);
            static const char *const ids[] = {"profile_id", "trace_id", "dag_id", "revision",
                                              "profiled_at_us"};
            for (size_t k = 0; k < 5; k++)
                json_object_set(full, ids[k], json_object_get(profile, ids[k]));
            char *text = json_dumps(full, JSON_SORT_KEYS | JSON_COMPACT);
            if (set && json_object_get(set, text))
                out->recommendations_matched++;
            free(text);
            json_decref(full);
        }
    }
done:
    json_decref(latest);
    json_decref(recs);
}

/* One case: `dagprof run` with `env_case` on topics p-NAME / r-NAME, and the
 * example consumer reading them. */
static void run_case(const char *name, const char *format, const char *const env_case[],
                     int use_registry) {
    char err[512], cmd[256], topic_p[64], topic_r[64];
    snprintf(topic_p, sizeof(topic_p), "p-%s", name);
    snprintf(topic_r, sizeof(topic_r), "r-%s", name);
    snprintf(cmd, sizeof(cmd), "topic-create %s 4", topic_p);
    ck_assert_msg(harness_kafka_command(kafka, cmd, err, sizeof(err)) == 0, "%s", err);
    snprintf(cmd, sizeof(cmd), "topic-create %s 4", topic_r);
    ck_assert_msg(harness_kafka_command(kafka, cmd, err, sizeof(err)) == 0, "%s", err);

    char env_store[8][256];
    const char *env[24];
    size_t n = 0;
    snprintf(env_store[0], 256, "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=%s", harness_kafka_bootstrap(kafka));
    snprintf(env_store[1], 256, "DAGPROF_REDIS_PORT=%d", harness_redis_port(redis));
    snprintf(env_store[2], 256, "DAGPROF_REDIS_PREFIX=dagprof-%s", name);
    snprintf(env_store[3], 256, "DAGPROF_GROUP_ID=dagprof-%s", name);
    snprintf(env_store[4], 256, "DAGPROF_TOPIC_PROFILES=%s", topic_p);
    snprintf(env_store[5], 256, "DAGPROF_TOPIC_RECOMMENDATIONS=%s", topic_r);
    snprintf(env_store[6], 256, "DAGPROF_OUTPUT_SCHEMA_REGISTRY_URL=%s", use_registry ? registry_url : "");
    for (size_t i = 0; i < 7; i++)
        env[n++] = env_store[i];
    env[n++] = "DAGPROF_GRACE_MS=300";
    env[n++] = "DAGPROF_DUE_POLL_MS=50";
    env[n++] = "DAGPROF_METRICS_PORT=0";
    for (size_t i = 0; env_case[i]; i++)
        env[n++] = env_case[i];
    env[n] = NULL;

    char run_log[1200], out_path[1200], consumer_log[1200], topics[160];
    snprintf(run_log, sizeof(run_log), "%s/run-%s.log", dir, name);
    snprintf(out_path, sizeof(out_path), "%s/consumer-%s.jsonl", dir, name);
    snprintf(consumer_log, sizeof(consumer_log), "%s/consumer-%s.err", dir, name);
    snprintf(topics, sizeof(topics), "%s,%s", topic_p, topic_r);
    const char *run_argv[] = {DAGPROF, "run", NULL};
    pid_t run = harness_spawn(run_argv, env, run_log);
    ck_assert_int_gt(run, 0);

    /* the consumer's stdout is the records; its stderr goes to its own log */
    char *shell = NULL;
    ck_assert_int_ge(asprintf(&shell, "exec node '%s' --brokers '%s' --topics '%s' --from-beginning %s%s "
                                      "> '%s' 2> '%s'",
                              CONSUMER, harness_kafka_bootstrap(kafka), topics,
                              use_registry ? "--registry " : "", use_registry ? registry_url : "",
                              out_path, consumer_log), 0);
    const char *consumer_argv[] = {"/bin/sh", "-c", shell, NULL};
    const char *node_env[] = {NODE_PATH, NULL};
    pid_t consumer = harness_spawn(consumer_argv, node_env, "/dev/null");
    ck_assert_int_gt(consumer, 0);

    outcome_t o;
    time_t deadline = time(NULL) + 300;
    do {
        usleep(500000);
        compare(out_path, format, &o);
    } while ((o.profiles_matched < RUNS || o.recommendations_matched < o.recommendations_wanted) &&
             time(NULL) < deadline);
    int status = -1;
    harness_kill(consumer, SIGTERM);
    ck_assert_int_eq(harness_wait(consumer, 60000, &status), 0);
    harness_kill(run, SIGTERM);
    ck_assert_int_eq(harness_wait(run, 60000, &status), 0);
    char *errors = harness_slurp(consumer_log);
    ck_assert_msg(o.profiles_matched == RUNS, "%s: %zu of %d profiles equal the offline ones; consumer: %s",
                  name, o.profiles_matched, RUNS, errors);
    ck_assert_msg(o.recommendations_matched == o.recommendations_wanted,
                  "%s: %zu of %zu recommendations", name, o.recommendations_matched,
                  o.recommendations_wanted);
    ck_assert_uint_gt(o.recommendations_wanted, RUNS); /* the fleet has recommendations */
    ck_assert_uint_eq(o.wrong_format, 0);
    ck_assert_msg(errors[0] == '\0', "%s: the consumer reported: %s", name, errors);
    /* dagprof tail reads the same topic, in this format, record for record */
    char tail_out[1200], tail_err[1200];
    snprintf(tail_out, sizeof(tail_out), "%s/tail-%s.jsonl", dir, name);
    snprintf(tail_err, sizeof(tail_err), "%s/tail-%s.err", dir, name);
    char *tail_cmd = NULL;
    ck_assert_int_ge(asprintf(&tail_cmd, "exec '%s' tail --kafka.bootstrap.servers '%s' --topic.profiles '%s' "
                                         "--tail.from.beginning --format json --tail.max %zu > '%s' 2> '%s'",
                              DAGPROF, harness_kafka_bootstrap(kafka), topic_p, o.profile_records,
                              tail_out, tail_err), 0);
    const char *tail_argv[] = {"/bin/sh", "-c", tail_cmd, NULL};
    pid_t tail = harness_spawn(tail_argv, NULL, "/dev/null");
    ck_assert_int_eq(harness_wait(tail, 120000, &status), 0);
    ck_assert_msg(status == 0, "dagprof tail exited %d", status);
    ck_assert_uint_eq(harness_file_count(tail_out, "\"profile_id\":"), o.profile_records);
    ck_assert_uint_eq(harness_file_count(tail_err, "cannot decode"), 0);
    free(tail_cmd);
    printf("%s: %zu profiles, %zu recommendations, %zu records read by kafkajs\n", name,
           o.profiles_matched, o.recommendations_matched, o.records);
    free(errors);
    free(shell);
}

/* The defaults: bare Avro, uncompressed. */
START_TEST(test_defaults) {
    const char *env[] = {NULL};
    run_case("default", "avro", env, 0);
}
END_TEST

/* Confluent framing with the ids a Schema Registry gave, which the consumer
 * uses to fetch the schemas (GET /schemas/ids/<id>). */
START_TEST(test_confluent_registry) {
    const char *env[] = {"DAGPROF_OUTPUT_FORMAT=confluent", NULL};
    run_case("confluent", "confluent", env, 1);
}
END_TEST

START_TEST(test_json_gzip) {
    const char *env[] = {"DAGPROF_OUTPUT_FORMAT=json", "DAGPROF_OUTPUT_COMPRESSION=gzip", NULL};
    run_case("json", "json", env, 0);
}
END_TEST

START_TEST(test_confluent_ids_uncompressed) {
    const char *env[] = {"DAGPROF_OUTPUT_FORMAT=confluent", "DAGPROF_OUTPUT_COMPRESSION=none",
                         "DAGPROF_OUTPUT_SCHEMA_ID_PROFILE=7",
                         "DAGPROF_OUTPUT_SCHEMA_ID_RECOMMENDATION=8", NULL};
    run_case("confluent-none", "confluent", env, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kafkajs_consumer");
    TCase *tc = tcase_create("end_to_end");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_confluent_registry);
    tcase_add_test(tc, test_json_gzip);
    tcase_add_test(tc, test_confluent_ids_uncompressed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
