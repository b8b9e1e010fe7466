/* test_cluster.c -- `dagprof run` on a Redis Cluster, end to end.
 *
 * A real 3-master, 3-replica cluster (tests/harness_cluster.h), the mock
 * Kafka broker with 16 partitions, 4 `dagprof run` instances in one group
 * given the cluster's seeds, `dagprof loadgen` streaming a fleet, and
 * `dagprof profile` on the same spans. Every run's last revision must equal
 * its offline profile, none missing, no profile published twice, revisions
 * 0, 1, ... in order -- on a quiet cluster, across a master's failover and
 * across a busy partition's slot moved to another master mid-stream. */
#include <check.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_cluster.h"
#include "harness_stream.h"
#include "profile_avro.h"
#include "redis_route.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"
#define PARTITIONS 16
#define INSTANCES 4
#define RUNS 300

static stream_fixture_t fx;
static harness_cluster_t *cluster;
static char env_nodes[512];

static void setup(void) {
    char err[512];
    stream_fixture_start(&fx, DAGPROF_BINARY_DIR, NULL, PARTITIONS, "dagprof-cluster-run");
    cluster = harness_cluster_start(3, 1, err, sizeof(err));
    ck_assert_msg(cluster != NULL, "cluster: %s", err);
    snprintf(env_nodes, sizeof(env_nodes), "DAGPROF_REDIS_NODES=%s", harness_cluster_seeds(cluster));
}

static void teardown(void) {
    harness_cluster_free(cluster);
    cluster = NULL;
    stream_fixture_stop(&fx, false);
}

typedef enum disturbance { QUIET, FAILOVER, RESHARD } disturbance_t;

/* The master serving partition p's keys. */
static int master_of_partition(int p) {
    char tag[32], err[512];
    snprintf(tag, sizeof(tag), "dag-spans:%d", p);
    int m = harness_cluster_master_of(cluster, redis_route_slot(tag, strlen(tag)), err, sizeof(err));
    ck_assert_msg(m >= 0, "%s", err);
    return m;
}

/* Until partition p has open traces in the store: spans are streaming. */
static void wait_for_open_traces(int p) {
    char key[64], err[512];
    snprintf(key, sizeof(key), "dagprof:v4:{dag-spans:%d}:due", p);
    time_t deadline = time(NULL) + 120;
    while (time(NULL) < deadline) {
        redisContext *ctx = harness_cluster_connect(cluster, master_of_partition(p), err, sizeof(err));
        ck_assert_msg(ctx != NULL, "%s", err);
        redisReply *r = redisCommand(ctx, "ZCARD %s", key);
        long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        if (r)
            freeReplyObject(r);
        redisFree(ctx);
        if (n > 0)
            return;
        usleep(20000);
    }
    ck_abort_msg("partition %d never had open traces", p);
}

static void failover(int p) {
    char err[512];
    int master = master_of_partition(p);
    int replica = harness_cluster_replica_of(cluster, master, err, sizeof(err));
    ck_assert_msg(replica >= 0, "%s", err);
    /* a manual failover: the replica catches up with its master first, so no
     * acknowledged write is lost (kill -9 could lose the last ones: README) */
    redisContext *ctx = harness_cluster_connect(cluster, replica, err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    redisReply *r = redisCommand(ctx, "CLUSTER FAILOVER");
    ck_assert_msg(r && r->type == REDIS_REPLY_STATUS, "CLUSTER FAILOVER: %s", r ? r->str : ctx->errstr);
    freeReplyObject(r);
    redisFree(ctx);
    time_t deadline = time(NULL) + 120;
    while (master_of_partition(p) != replica && time(NULL) < deadline)
        usleep(50000);
    ck_assert_int_eq(master_of_partition(p), replica);
}

static void reshard(int p) {
    char err[512], tag[32];
    snprintf(tag, sizeof(tag), "dag-spans:%d", p);
    int from = master_of_partition(p), to = -1;
    for (int q = 0; q < PARTITIONS && to < 0; q++)
        if (master_of_partition(q) != from)
            to = master_of_partition(q);
    ck_assert_int_ge(to, 0);
    ck_assert_msg(harness_cluster_move_slot(cluster, redis_route_slot(tag, strlen(tag)), to, NULL, NULL,
                                            err, sizeof(err)) == 0, "move: %s", err);
    ck_assert_int_eq(master_of_partition(p), to);
}

static json_t *offline_profiles(const char *spans, const char *offline, const char *log) {
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "'%s' profile --format json '%s' > '%s' 2>> '%s'", DAGPROF, spans,
                              offline, log), 0);
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
        json_object_set_new(expected, json_string_value(json_object_get(p, "trace_id")),
                            stream_profile_figures(p));
        json_decref(p);
    }
    free(line);
    fclose(f);
    return expected;
}

static void run_fleet(disturbance_t what) {
    char *logs[INSTANCES], *spans = stream_path_in(&fx, "spans.jsonl"),
         *offline = stream_path_in(&fx, "offline.jsonl"), *loadlog = stream_path_in(&fx, "loadgen.log");
    const char *run_argv[] = {DAGPROF, "run", NULL};
    const char *extra[] = {env_nodes, NULL};
    pid_t runs[INSTANCES];
    for (int i = 0; i < INSTANCES; i++) {
        char name[32];
        snprintf(name, sizeof(name), "run%d.log", i);
        logs[i] = stream_path_in(&fx, name);
        runs[i] = harness_spawn(run_argv, stream_run_env(&fx, extra), logs[i]);
        ck_assert_int_gt(runs[i], 0);
    }
    for (int i = 0; i < INSTANCES; i++)
        stream_wait_for_log(logs[i], "owned=4 strategy", 120);

    const char *gen_kafka[] = {DAGPROF, "loadgen", "--loadgen.runs", "300", "--loadgen.seed", "11",
                               "--loadgen.late.fraction", "0.05", "--loadgen.rate", "1500", NULL};
    pid_t gen = harness_spawn(gen_kafka, stream_run_env(&fx, NULL), loadlog);
    ck_assert_int_gt(gen, 0);
    if (what != QUIET) {
        wait_for_open_traces(5);
        if (what == FAILOVER)
            failover(5);
        else
            reshard(5);
        /* it came mid-stream: spans were still being sent */
        ck_assert_msg(harness_wait(gen, 0, NULL) == -1, "the stream ended before the %s was over",
                      what == FAILOVER ? "failover" : "resharding");
    }
    int status = -1;
    ck_assert_msg(harness_wait(gen, 300000, &status) == 0 && status == 0, "loadgen failed");
    const char *gen_file[] = {DAGPROF, "loadgen", "--loadgen.runs", "300", "--loadgen.seed", "11",
                              "--loadgen.late.fraction", "0.05", "--loadgen.output", spans, NULL};
    stream_run_to_exit(&fx, gen_file, loadlog, 0);
    json_t *expected = offline_profiles(spans, offline, loadlog);
    ck_assert_uint_eq(json_object_size(expected), RUNS);

    char err[512];
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_ptr_nonnull(avro);
    rd_kafka_t *rk = stream_test_consumer(&fx, "dag-profiles");
    json_t *latest = json_object(), *revisions = json_object(), *ids = json_object();
    size_t matched = 0, messages = 0, duplicates = 0;
    time_t deadline = time(NULL) + 300;
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
        matched += (size_t)(json_equal(fig, want) - prev_matched);
        json_decref(got);
        profile_free(p);
    }
    /* a moment more: a profile published twice would come now */
    for (int i = 0; i < 4; i++) {
        profile_t *p = NULL;
        json_t *got = stream_poll_profile(rk, avro, 500, &p);
        if (!got)
            continue;
        messages++;
        if (json_object_get(ids, p->profile_id))
            duplicates++;
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
    ck_assert_uint_eq(matched, RUNS);
    ck_assert_uint_eq(duplicates, 0);
    const char *key;
    json_t *revs;
    json_object_foreach(revisions, key, revs) {
        for (size_t i = 0; i < json_array_size(revs); i++)
            ck_assert_int_eq(json_integer_value(json_array_get(revs, i)), (json_int_t)i);
    }
    /* every instance is still up (it recovered by itself) and stops cleanly */
    for (int i = 0; i < INSTANCES; i++) {
        ck_assert_int_eq(harness_wait(runs[i], 0, &status), -1);
        harness_kill(runs[i], SIGTERM);
    }
    for (int i = 0; i < INSTANCES; i++) {
        ck_assert_int_eq(harness_wait(runs[i], 60000, &status), 0);
        ck_assert_int_eq(status, 0);
        ck_assert(harness_file_count(logs[i], "event=stopped clean=1"));
        free(logs[i]);
    }
    profile_avro_free(avro);
    json_decref(expected);
    json_decref(latest);
    json_decref(revisions);
    json_decref(ids);
    free(spans);
    free(offline);
    free(loadlog);
}

START_TEST(four_instances_match_offline) {
    run_fleet(QUIET);
}
END_TEST

START_TEST(failover_under_load) {
    run_fleet(FAILOVER);
}
END_TEST

START_TEST(reshard_under_load) {
    run_fleet(RESHARD);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("dagprof_run");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, four_instances_match_offline);
    tcase_add_test(tc, failover_under_load);
    tcase_add_test(tc, reshard_under_load);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
