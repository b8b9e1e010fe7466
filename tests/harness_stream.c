/* harness_stream.c -- scaffolding of the `dagprof run` suites. See harness_stream.h. */
#include "harness_stream.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "profile_json.h"

void stream_fixture_start(stream_fixture_t *fx, const char *bin_dir,
                          const harness_redis_options_t *redis_opts, int partitions,
                          const char *dir_prefix) {
    char err[256];
    fx->redis = harness_redis_start(redis_opts, err, sizeof(err));
    ck_assert_msg(fx->redis != NULL, "redis: %s", err);
    fx->kafka = harness_kafka_start(bin_dir, 1, partitions, err, sizeof(err));
    ck_assert_msg(fx->kafka != NULL, "kafka: %s", err);
    fx->dir = harness_tempdir(dir_prefix);
    ck_assert_ptr_nonnull(fx->dir);
    snprintf(fx->env_bootstrap, sizeof(fx->env_bootstrap), "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=%s",
             harness_kafka_bootstrap(fx->kafka));
    snprintf(fx->env_redis, sizeof(fx->env_redis), "DAGPROF_REDIS_PORT=%d",
             harness_redis_port(fx->redis));
}

void stream_fixture_stop(stream_fixture_t *fx, bool keep_dir) {
    harness_kafka_free(fx->kafka);
    harness_redis_free(fx->redis);
    if (!keep_dir)
        harness_rmtree(fx->dir);
    free(fx->dir);
    fx->kafka = NULL;
    fx->redis = NULL;
    fx->dir = NULL;
}

char *stream_path_in(const stream_fixture_t *fx, const char *name) {
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", fx->dir, name), 0);
    return p;
}

const char *const *stream_run_env(const stream_fixture_t *fx, const char *const *extra) {
    enum { BASE = 6 };
    static const char *env[BASE + STREAM_ENV_EXTRA_MAX + 1];
    env[0] = fx->env_bootstrap;
    env[1] = fx->env_redis;
    env[2] = "DAGPROF_GRACE_MS=100";
    env[3] = "DAGPROF_DUE_POLL_MS=50";
    env[4] = "DAGPROF_METRICS_PORT=0";
    env[5] = "DAGPROF_KAFKA_SESSION_TIMEOUT_MS=6000";
    int n = BASE;
    for (; extra && extra[n - BASE]; n++) {
        ck_assert_int_lt(n - BASE, STREAM_ENV_EXTRA_MAX);
        env[n] = extra[n - BASE];
    }
    env[n] = NULL;
    return env;
}

void stream_wait_for_log(const char *path, const char *needle, int timeout_s) {
    for (int i = 0; i < timeout_s * 10; i++) {
        if (harness_file_count(path, needle))
            return;
        usleep(100000);
    }
    char *text = harness_slurp(path);
    ck_abort_msg("%s never logged \"%s\"; log:\n%s", path, needle, text);
}

void stream_run_to_exit(const stream_fixture_t *fx, const char *const argv[], const char *log,
                        int expected_status) {
    pid_t pid = harness_spawn(argv, stream_run_env(fx, NULL), log);
    ck_assert_int_gt(pid, 0);
    int status = -1;
    ck_assert_msg(harness_wait(pid, 120000, &status) == 0, "%s did not finish", argv[1]);
    if (status != expected_status) {
        char *text = harness_slurp(log);
        ck_abort_msg("%s %s exited %d, expected %d; log:\n%s", argv[0], argv[1], status,
                     expected_status, text);
    }
}

rd_kafka_t *stream_test_consumer(const stream_fixture_t *fx, const char *topic) {
    char err[512], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* A group of its own, so that it reads the whole topic whatever ran before. */
    snprintf(group, sizeof(group), "test-%d-%ld", (int)getpid(), (long)random());
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(fx->kafka),
                                       err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "%s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    ck_assert_int_eq(rd_kafka_subscribe(rk, t), 0);
    rd_kafka_topic_partition_list_destroy(t);
    return rk;
}

void stream_close_consumer(rd_kafka_t *rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

json_t *stream_poll_profile(rd_kafka_t *rk, profile_avro_t *avro, int timeout_ms, profile_t **out) {
    char err[512];
    *out = NULL;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout_ms);
    if (!m)
        return NULL;
    if (m->err) {
        rd_kafka_message_destroy(m);
        return NULL;
    }
    profile_t *p = NULL;
    ck_assert_msg(profile_avro_decode(avro, m->payload, m->len, &p, err, sizeof(err)) == 0, "%s", err);
    rd_kafka_message_destroy(m);
    buf_t b = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &b), 0);
    json_error_t e;
    json_t *got = json_loads(b.data, 0, &e);
    ck_assert_ptr_nonnull(got);
    buf_free(&b);
    *out = p;
    return got;
}

json_t *stream_profile_figures(const json_t *profile) {
    json_t *copy = json_deep_copy(profile);
    json_object_del(copy, "profile_id");
    json_object_del(copy, "revision");
    json_object_del(copy, "profiled_at_us");
    return copy;
}
