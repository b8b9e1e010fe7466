/* test_harness.c -- the test harness against real redis-server and mock broker.
 *
 * Every other integration test trusts these helpers to start servers that
 * really work, to inject faults that really happen, and to leave nothing
 * running; this suite checks each of those through real clients. */
#include "harness.h"

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define DEADLINE_MS 60000

static char errstr[512];

static long long now_ms(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_file(const char *path) {
    static char content[4096];
    FILE *fp = fopen(path, "r");
    size_t n;

    if (fp == NULL)
        return NULL;
    n = fread(content, 1, sizeof(content) - 1, fp);
    content[n] = '\0';
    fclose(fp);
    return content;
}

/* ---- Redis ---- */

static redisReply *command_ok(redisContext *ctx, const char *format, const char *a,
                              const char *b) {
    redisReply *reply = b != NULL ? redisCommand(ctx, format, a, b) : redisCommand(ctx, format, a);

    ck_assert_msg(reply != NULL, "redis: %s", ctx->errstr);
    return reply;
}

static void assert_get(redisContext *ctx, const char *key, const char *expected) {
    redisReply *reply = command_ok(ctx, "GET %s", key, NULL);

    if (expected == NULL) {
        ck_assert_int_eq(reply->type, REDIS_REPLY_NIL);
    } else {
        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        ck_assert_str_eq(reply->str, expected);
    }
    freeReplyObject(reply);
}

static void set_key(redisContext *ctx, const char *key, const char *value) {
    redisReply *reply = command_ok(ctx, "SET %s %s", key, value);

    ck_assert_int_eq(reply->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(reply->str, "OK");
    freeReplyObject(reply);
}

START_TEST(test_redis_set_get) {
    harness_redis_t *redis = harness_redis_start(NULL, errstr, sizeof(errstr));
    redisContext *ctx;
    redisContext *after;
    int port;

    ck_assert_msg(redis != NULL, "%s", errstr);
    port = harness_redis_port(redis);
    ck_assert_int_gt(port, 0);
    ck_assert_int_gt(harness_redis_pid(redis), 0);

    ctx = harness_redis_connect(redis, errstr, sizeof(errstr));
    ck_assert_msg(ctx != NULL, "%s", errstr);
    set_key(ctx, "trace:abc", "spans");
    assert_get(ctx, "trace:abc", "spans");
    assert_get(ctx, "trace:missing", NULL);
    redisFree(ctx);

    ck_assert_int_eq(harness_redis_stop(redis), 0);
    ck_assert_int_eq(harness_redis_pid(redis), -1);
    /* Stopped means nobody listens on the port any more. */
    after = redisConnect("127.0.0.1", port);
    ck_assert_ptr_nonnull(after);
    ck_assert_int_ne(after->err, 0);
    redisFree(after);
    ck_assert_int_eq(harness_redis_stop(redis), 0); /* stopping twice is fine */
    harness_redis_free(redis);
}
END_TEST

START_TEST(test_redis_password) {
    harness_redis_options_t opts = {.persistence = false, .password = "s3cret"};
    harness_redis_t *redis = harness_redis_start(&opts, errstr, sizeof(errstr));
    redisContext *anonymous;
    redisContext *ctx;
    redisReply *reply;

    ck_assert_msg(redis != NULL, "%s", errstr);
    anonymous = redisConnect("127.0.0.1", harness_redis_port(redis));
    ck_assert_ptr_nonnull(anonymous);
    ck_assert_int_eq(anonymous->err, 0);
    reply = redisCommand(anonymous, "GET k");
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->type, REDIS_REPLY_ERROR);
    ck_assert_msg(strncmp(reply->str, "NOAUTH", 6) == 0, "got %s", reply->str);
    freeReplyObject(reply);
    redisFree(anonymous);

    ctx = harness_redis_connect(redis, errstr, sizeof(errstr));
    ck_assert_msg(ctx != NULL, "%s", errstr);
    set_key(ctx, "k", "v");
    assert_get(ctx, "k", "v");
    redisFree(ctx);
    harness_redis_free(redis);
}
END_TEST

/* Restart keeps the port and the data dir; only persistence keeps the data. */
static void check_restart(bool persistence) {
    harness_redis_options_t opts = {.persistence = persistence, .password = NULL};
    harness_redis_t *redis = harness_redis_start(&opts, errstr, sizeof(errstr));
    redisContext *ctx;
    pid_t first_pid;
    int port;

    ck_assert_msg(redis != NULL, "%s", errstr);
    port = harness_redis_port(redis);
    first_pid = harness_redis_pid(redis);
    ctx = harness_redis_connect(redis, errstr, sizeof(errstr));
    ck_assert_msg(ctx != NULL, "%s", errstr);
    set_key(ctx, "profile:run-1", "revision-3");
    redisFree(ctx);

    ck_assert_msg(harness_redis_restart(redis, 200, errstr, sizeof(errstr)) == 0, "%s", errstr);
    ck_assert_int_eq(harness_redis_port(redis), port);
    ck_assert_int_ne(harness_redis_pid(redis), first_pid);

    ctx = harness_redis_connect(redis, errstr, sizeof(errstr));
    ck_assert_msg(ctx != NULL, "%s", errstr);
    assert_get(ctx, "profile:run-1", persistence ? "revision-3" : NULL);
    redisFree(ctx);
    harness_redis_free(redis);
}

START_TEST(test_redis_restart_with_persistence_keeps_data) {
    check_restart(true);
}
END_TEST

START_TEST(test_redis_restart_without_persistence_loses_data) {
    check_restart(false);
}
END_TEST

/* What a fault test does: kill -9, then bring it back. With appendfsync
 * always, every acknowledged write survives the crash. */
START_TEST(test_redis_crash_then_restart) {
    harness_redis_options_t opts = {.persistence = true, .password = NULL};
    harness_redis_t *redis = harness_redis_start(&opts, errstr, sizeof(errstr));
    redisContext *ctx;

    ck_assert_msg(redis != NULL, "%s", errstr);
    ctx = harness_redis_connect(redis, errstr, sizeof(errstr));
    ck_assert_msg(ctx != NULL, "%s", errstr);
    set_key(ctx, "acked", "yes");
    redisFree(ctx);

    ck_assert_int_eq(harness_kill(harness_redis_pid(redis), SIGKILL), 0);
    ck_assert_int_eq(harness_redis_stop(redis), -1); /* it did not exit cleanly */
    ck_assert_msg(harness_redis_restart(redis, 0, errstr, sizeof(errstr)) == 0, "%s", errstr);
    ctx = harness_redis_connect(redis, errstr, sizeof(errstr));
    ck_assert_msg(ctx != NULL, "%s", errstr);
    assert_get(ctx, "acked", "yes");
    redisFree(ctx);
    harness_redis_free(redis);
}
END_TEST

START_TEST(test_redis_free_removes_data_dir) {
    harness_redis_options_t opts = {.persistence = true, .password = NULL};
    harness_redis_t *redis = harness_redis_start(&opts, errstr, sizeof(errstr));
    char dir[512];
    struct stat st;

    ck_assert_msg(redis != NULL, "%s", errstr);
    snprintf(dir, sizeof(dir), "%s", harness_redis_dir(redis));
    ck_assert_int_eq(stat(dir, &st), 0);
    harness_redis_free(redis);
    ck_assert_int_eq(stat(dir, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ---- Kafka ---- */

typedef struct delivery {
    bool done;
    rd_kafka_resp_err_t err;
    int32_t partition;
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    delivery_t *delivery = msg->_private;

    (void)rk;
    (void)opaque;
    delivery->done = true;
    delivery->err = msg->err;
    delivery->partition = msg->partition;
}

/* Producer with one request per message, so injected errors hit exactly the
 * message that follows them. extra is NULL-terminated key, value pairs. */
static rd_kafka_t *new_producer(const char *bootstrap, const char *const *extra) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    size_t i;

    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    for (i = 0; extra != NULL && extra[i] != NULL; i += 2)
        ck_assert_msg(rd_kafka_conf_set(conf, extra[i], extra[i + 1], errstr, sizeof(errstr)) ==
                          RD_KAFKA_CONF_OK,
                      "%s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "%s", errstr);
    return rk;
}

/* Produce one message and wait for its delivery report. */
static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk, const char *topic, int32_t partition,
                                       const char *key, const char *value) {
    delivery_t delivery = {false, RD_KAFKA_RESP_ERR_NO_ERROR, -1};
    long long deadline = now_ms() + DEADLINE_MS;
    rd_kafka_resp_err_t err;

    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_KEY(key, strlen(key)),
                            RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_OPAQUE(&delivery), RD_KAFKA_V_END);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "producev: %s", rd_kafka_err2str(err));
    while (!delivery.done && now_ms() < deadline)
        rd_kafka_poll(rk, 100);
    ck_assert_msg(delivery.done, "no delivery report within %d ms", DEADLINE_MS);
    return delivery.err;
}

/* Keep producing until one message gets through: reconnect backoff after a
 * fault is not something a test should guess. */
static void produce_until_delivered(rd_kafka_t *rk, const char *topic, int32_t partition,
                                    const char *value) {
    long long deadline = now_ms() + DEADLINE_MS;
    rd_kafka_resp_err_t err;

    do {
        err = produce_one(rk, topic, partition, "key", value);
    } while (err != RD_KAFKA_RESP_ERR_NO_ERROR && now_ms() < deadline);
    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "still failing: %s", rd_kafka_err2str(err));
}

/* Join a consumer group, read until `expected` messages arrived, commit.
 * The mock keeps a group whose last member left in "Joining" for
 * session.timeout.ms - 1 s, so a short session keeps later joins fast. */
static int consume_values(const char *bootstrap, const char *group, const char *topic,
                          int expected, char values[][64], int64_t *committed_total) {
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_topic_partition_list_t *assignment = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    long long deadline = now_ms() + DEADLINE_MS * 2;
    rd_kafka_resp_err_t err;
    rd_kafka_t *rk;
    int received = 0;
    int i;

    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "session.timeout.ms", "6000", errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "%s", errstr);
    ck_assert_int_eq(rd_kafka_poll_set_consumer(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    ck_assert_int_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);

    while (received < expected && now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);

        if (msg == NULL)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(values[received], 64, "%.*s", (int)msg->len, (const char *)msg->payload);
            received++;
        }
        rd_kafka_message_destroy(msg);
    }

    *committed_total = 0;
    if (received > 0) {
        ck_assert_int_eq(rd_kafka_commit(rk, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
        ck_assert_int_eq(rd_kafka_assignment(rk, &assignment), RD_KAFKA_RESP_ERR_NO_ERROR);
        ck_assert_int_eq(rd_kafka_committed(rk, assignment, DEADLINE_MS),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        for (i = 0; i < assignment->cnt; i++) {
            if (assignment->elems[i].offset > 0)
                *committed_total += assignment->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(assignment);
    }
    ck_assert_int_eq(rd_kafka_consumer_close(rk), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    return received;
}

static int compare_values(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static const rd_kafka_metadata_topic_t *find_topic(const rd_kafka_metadata_t *md,
                                                   const char *name) {
    int i;

    for (i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    }
    return NULL;
}

static const rd_kafka_metadata_t *fetch_metadata(rd_kafka_t *rk) {
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, DEADLINE_MS);

    ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "metadata: %s", rd_kafka_err2str(err));
    return md;
}

START_TEST(test_kafka_default_topics) {
    static const char *const names[] = {"dag-spans", "dag-profiles", "dag-recommendations",
                                        "dag-deadletter"};
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 3, errstr, sizeof(errstr));
    const rd_kafka_metadata_t *md;
    rd_kafka_t *rk;
    size_t i;

    ck_assert_msg(kafka != NULL, "%s", errstr);
    ck_assert_msg(strncmp(harness_kafka_bootstrap(kafka), "127.0.0.1:", 10) == 0, "%s",
                  harness_kafka_bootstrap(kafka));
    ck_assert_ptr_null(strchr(harness_kafka_bootstrap(kafka), ','));
    rk = new_producer(harness_kafka_bootstrap(kafka), NULL);
    md = fetch_metadata(rk);
    ck_assert_int_eq(md->broker_cnt, 1);
    ck_assert_int_eq(md->brokers[0].id, 1);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const rd_kafka_metadata_topic_t *topic = find_topic(md, names[i]);

        ck_assert_msg(topic != NULL, "topic %s missing", names[i]);
        ck_assert_int_eq(topic->partition_cnt, 3);
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
}
END_TEST

START_TEST(test_kafka_produce_consume_group) {
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 6, errstr, sizeof(errstr));
    char values[8][64];
    int64_t committed_total = -1;
    rd_kafka_t *rk;
    int i;

    ck_assert_msg(kafka != NULL, "%s", errstr);
    /* One key, so one partition and a known order. */
    rk = new_producer(harness_kafka_bootstrap(kafka), NULL);
    produce_until_delivered(rk, "dag-spans", RD_KAFKA_PARTITION_UA, "span-0");
    for (i = 1; i < 5; i++) {
        char value[32];

        snprintf(value, sizeof(value), "span-%d", i);
        ck_assert_int_eq(produce_one(rk, "dag-spans", RD_KAFKA_PARTITION_UA, "key", value),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }

    ck_assert_int_eq(consume_values(harness_kafka_bootstrap(kafka), "harness-group", "dag-spans", 5,
                                    values, &committed_total),
                     5);
    for (i = 0; i < 5; i++) {
        char expected[32];

        snprintf(expected, sizeof(expected), "span-%d", i);
        ck_assert_str_eq(values[i], expected);
    }
    ck_assert_int_eq(committed_total, 5);

    /* A new member of the group resumes at the committed offset, not at the
     * start: the first message it sees is the one produced after the commit. */
    ck_assert_int_eq(produce_one(rk, "dag-spans", RD_KAFKA_PARTITION_UA, "key", "span-5"),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(consume_values(harness_kafka_bootstrap(kafka), "harness-group", "dag-spans", 1,
                                    values, &committed_total),
                     1);
    ck_assert_str_eq(values[0], "span-5");
    ck_assert_int_eq(committed_total, 6);
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
}
END_TEST

START_TEST(test_kafka_broker_down_then_up) {
    /* log_level 2: the refused connections are the point, not news. */
    static const char *const fast_fail[] = {"message.timeout.ms", "5000",
                                            "reconnect.backoff.ms", "100",
                                            "reconnect.backoff.max.ms", "500",
                                            "log_level", "2",
                                            NULL};
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 6, errstr, sizeof(errstr));
    rd_kafka_t *rk;

    ck_assert_msg(kafka != NULL, "%s", errstr);
    rk = new_producer(harness_kafka_bootstrap(kafka), fast_fail);
    produce_until_delivered(rk, "dag-spans", 0, "before");

    ck_assert_msg(harness_kafka_command(kafka, "broker down 1", errstr, sizeof(errstr)) == 0, "%s",
                  errstr);
    ck_assert_int_eq(produce_one(rk, "dag-spans", 0, "key", "while-down"),
                     RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);

    ck_assert_msg(harness_kafka_command(kafka, "broker up 1", errstr, sizeof(errstr)) == 0, "%s",
                  errstr);
    produce_until_delivered(rk, "dag-spans", 0, "after");
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
}
END_TEST

START_TEST(test_kafka_push_errors) {
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 6, errstr, sizeof(errstr));
    rd_kafka_t *rk;

    ck_assert_msg(kafka != NULL, "%s", errstr);
    rk = new_producer(harness_kafka_bootstrap(kafka), NULL);
    produce_until_delivered(rk, "dag-spans", 1, "first");

    /* ApiKey 0 is Produce; a permanent error reaches the delivery report. */
    ck_assert_msg(harness_kafka_command(kafka, "push-errors 0 1 MSG_SIZE_TOO_LARGE", errstr,
                                        sizeof(errstr)) == 0,
                  "%s", errstr);
    ck_assert_int_eq(produce_one(rk, "dag-spans", 1, "key", "rejected"),
                     RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    ck_assert_int_eq(produce_one(rk, "dag-spans", 1, "key", "accepted"),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
}
END_TEST

START_TEST(test_kafka_two_brokers) {
    /* log_level 2: the refused connections are the point, not news. */
    static const char *const fast_fail[] = {"message.timeout.ms", "5000",
                                            "reconnect.backoff.ms", "100",
                                            "reconnect.backoff.max.ms", "500",
                                            "log_level", "2",
                                            NULL};
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 2, 6, errstr, sizeof(errstr));
    const rd_kafka_metadata_topic_t *topic;
    const rd_kafka_metadata_t *md;
    char values[8][64];
    char command[64];
    int64_t committed_total = -1;
    int32_t leader_of[6];
    int32_t survivor;
    int32_t victim;
    rd_kafka_t *rk;
    int i;

    ck_assert_msg(kafka != NULL, "%s", errstr);
    ck_assert_ptr_nonnull(strchr(harness_kafka_bootstrap(kafka), ','));
    rk = new_producer(harness_kafka_bootstrap(kafka), fast_fail);
    md = fetch_metadata(rk);
    ck_assert_int_eq(md->broker_cnt, 2);
    ck_assert_int_eq(md->brokers[0].id + md->brokers[1].id, 3);
    topic = find_topic(md, "dag-spans");
    ck_assert_ptr_nonnull(topic);
    ck_assert_int_eq(topic->partition_cnt, 6);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(topic->partitions[i].id, i);
        leader_of[i] = topic->partitions[i].leader;
        ck_assert_msg(leader_of[i] == 1 || leader_of[i] == 2, "leader %d", leader_of[i]);
    }
    rd_kafka_metadata_destroy(md);

    for (i = 0; i < 6; i++) {
        char value[32];

        snprintf(value, sizeof(value), "p%d", i);
        produce_until_delivered(rk, "dag-spans", i, value);
    }
    ck_assert_int_eq(consume_values(harness_kafka_bootstrap(kafka), "two-brokers", "dag-spans", 6,
                                    values, &committed_total),
                     6);
    qsort(values, 6, sizeof(values[0]), compare_values);
    for (i = 0; i < 6; i++) {
        char expected[32];

        snprintf(expected, sizeof(expected), "p%d", i);
        ck_assert_str_eq(values[i], expected);
    }
    ck_assert_int_eq(committed_total, 6);

    /* Taking one broker down stops only the partitions it leads. */
    survivor = leader_of[0];
    victim = survivor == 1 ? 2 : 1;
    snprintf(command, sizeof(command), "broker down %d", (int)victim);
    ck_assert_msg(harness_kafka_command(kafka, command, errstr, sizeof(errstr)) == 0, "%s", errstr);
    ck_assert_int_eq(produce_one(rk, "dag-spans", 0, "key", "survivor"), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (i = 1; i < 6; i++) {
        if (leader_of[i] == victim) {
            ck_assert_int_eq(produce_one(rk, "dag-spans", i, "key", "victim"),
                             RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
            break;
        }
    }
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
}
END_TEST

START_TEST(test_kafka_commands) {
    harness_kafka_t *kafka = harness_kafka_start(DAGPROF_BINARY_DIR, 1, 2, errstr, sizeof(errstr));
    const rd_kafka_metadata_topic_t *topic;
    const rd_kafka_metadata_t *md;
    rd_kafka_t *rk;

    ck_assert_msg(kafka != NULL, "%s", errstr);
    ck_assert_int_eq(harness_kafka_command(kafka, "ping", errstr, sizeof(errstr)), 0);
    ck_assert_int_eq(harness_kafka_command(kafka, "topic-create extra-topic 5", errstr,
                                           sizeof(errstr)),
                     0);

    ck_assert_int_eq(harness_kafka_command(kafka, "topic-create extra-topic 5", errstr,
                                           sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, "topic extra-topic: Broker: Topic already exists");
    ck_assert_int_eq(harness_kafka_command(kafka, "broker down 2", errstr, sizeof(errstr)), -1);
    ck_assert_str_eq(errstr, "broker id must be 1..1 or -1 (all), not '2'");
    ck_assert_int_eq(harness_kafka_command(kafka, "push-errors 0 2 6 7 8", errstr, sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, "want 1 or 2 error codes, got 3");
    ck_assert_int_eq(harness_kafka_command(kafka, "push-errors 0 1 NO_SUCH_ERROR", errstr,
                                           sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, "unknown error code 'NO_SUCH_ERROR'");
    ck_assert_int_eq(harness_kafka_command(kafka, "reboot", errstr, sizeof(errstr)), -1);
    ck_assert_str_eq(errstr, "unknown command 'reboot'");
    ck_assert_int_eq(harness_kafka_command(kafka, "two\nlines", errstr, sizeof(errstr)), -1);
    /* Errors leave the control channel in step: the next answer is its own. */
    ck_assert_int_eq(harness_kafka_command(kafka, "ping", errstr, sizeof(errstr)), 0);

    rk = new_producer(harness_kafka_bootstrap(kafka), NULL);
    md = fetch_metadata(rk);
    topic = find_topic(md, "extra-topic");
    ck_assert_ptr_nonnull(topic);
    ck_assert_int_eq(topic->partition_cnt, 5);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    harness_kafka_free(kafka);
}
END_TEST

START_TEST(test_kafka_missing_binary) {
    harness_kafka_t *kafka = harness_kafka_start("/nonexistent-dir", 1, 1, errstr, sizeof(errstr));

    ck_assert_ptr_null(kafka);
    ck_assert_str_eq(errstr, "/nonexistent-dir/dagprof-mockbroker: No such file or directory "
                             "(build the dagprof-mockbroker target)");
}
END_TEST

/* The standalone mode the local stack uses: no control channel, a fixed
 * bootstrap port relayed to the broker, the servers in a file, SIGTERM stops. */
START_TEST(test_mockbroker_fixed_port_and_bootstrap_file) {
    char *dir = harness_tempdir("harness-mockbroker");
    char bootstrap_path[512];
    char log_path[512];
    char port_text[16];
    char fixed[64];
    char expected_log[4160];
    char servers[4096];
    const char *argv[10];
    const rd_kafka_metadata_topic_t *topic;
    const rd_kafka_metadata_t *md;
    long long deadline;
    struct stat st;
    char *content;
    rd_kafka_t *rk;
    int status = -1;
    int port;
    pid_t pid;

    ck_assert_ptr_nonnull(dir);
    port = harness_free_port();
    ck_assert_int_gt(port, 0);
    snprintf(port_text, sizeof(port_text), "%d", port);
    snprintf(bootstrap_path, sizeof(bootstrap_path), "%s/bootstrap", dir);
    snprintf(log_path, sizeof(log_path), "%s/broker.log", dir);
    argv[0] = DAGPROF_BINARY_DIR "/dagprof-mockbroker";
    argv[1] = "--port";
    argv[2] = port_text;
    argv[3] = "--bootstrap-file";
    argv[4] = bootstrap_path;
    argv[5] = "--partitions";
    argv[6] = "2";
    argv[7] = NULL;
    pid = harness_spawn(argv, NULL, log_path);
    ck_assert_int_gt(pid, 0);

    deadline = now_ms() + DEADLINE_MS;
    while (stat(bootstrap_path, &st) != 0 && now_ms() < deadline)
        usleep(20000);
    content = read_file(bootstrap_path);
    ck_assert_ptr_nonnull(content);
    snprintf(servers, sizeof(servers), "%s", content);
    snprintf(fixed, sizeof(fixed), "127.0.0.1:%d,127.0.0.1:", port);
    ck_assert_msg(strncmp(servers, fixed, strlen(fixed)) == 0, "bootstrap file: %s", servers);
    ck_assert_ptr_null(strchr(servers + strlen(fixed), ','));
    ck_assert(servers[strlen(servers) - 1] == '\n');
    snprintf(expected_log, sizeof(expected_log), "bootstrap=%s", servers);
    ck_assert_str_eq(read_file(log_path), expected_log);

    /* Only the fixed port is given: the relay must carry the bootstrap. */
    snprintf(fixed, sizeof(fixed), "127.0.0.1:%d", port);
    rk = new_producer(fixed, NULL);
    md = fetch_metadata(rk);
    ck_assert_int_eq(md->broker_cnt, 1);
    topic = find_topic(md, "dag-deadletter");
    ck_assert_ptr_nonnull(topic);
    ck_assert_int_eq(topic->partition_cnt, 2);
    rd_kafka_metadata_destroy(md);
    produce_until_delivered(rk, "dag-deadletter", 1, "relayed");
    rd_kafka_destroy(rk);

    ck_assert_int_eq(harness_kill(pid, SIGTERM), 0);
    ck_assert_int_eq(harness_wait(pid, DEADLINE_MS, &status), 0);
    ck_assert_int_eq(status, 0);
    /* A stale file would send clients to a port nobody listens on. */
    ck_assert_int_eq(stat(bootstrap_path, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(harness_rmtree(dir), 0);
    free(dir);
}
END_TEST

/* ---- processes and files ---- */

START_TEST(test_spawn_env_log_and_exit_code) {
    static const char *const argv[] = {
        "sh", "-c", "echo \"$GREETING $INHERITED $OVERRIDDEN\"; echo oops >&2; exit 3", NULL};
    static const char *const env[] = {"GREETING=hello", "OVERRIDDEN=new", NULL};
    char *dir = harness_tempdir("harness-spawn");
    char log_path[512];
    int status = -1;
    pid_t pid;

    ck_assert_ptr_nonnull(dir);
    ck_assert_int_eq(setenv("INHERITED", "kept", 1), 0);
    ck_assert_int_eq(setenv("OVERRIDDEN", "old", 1), 0);
    snprintf(log_path, sizeof(log_path), "%s/out.log", dir);
    pid = harness_spawn(argv, env, log_path);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(harness_wait(pid, DEADLINE_MS, &status), 0);
    ck_assert_int_eq(status, 3);
    ck_assert_str_eq(read_file(log_path), "hello kept new\noops\n");
    /* Reaped: waiting again is an error, not a hang. */
    ck_assert_int_eq(harness_wait(pid, 0, &status), -2);
    ck_assert_int_eq(errno, ECHILD);
    ck_assert_int_eq(harness_rmtree(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_spawn_missing_program) {
    static const char *const argv[] = {"dagprof-no-such-program", NULL};

    errno = 0;
    ck_assert_int_eq(harness_spawn(argv, NULL, NULL), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_wait_timeout_then_kill) {
    static const char *const argv[] = {"sleep", "600", NULL};
    int status = -1;
    pid_t pid = harness_spawn(argv, NULL, NULL);

    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(harness_wait(pid, 50, &status), -1);
    ck_assert_int_eq(status, -1);
    ck_assert_int_eq(harness_kill(pid, SIGTERM), 0);
    ck_assert_int_eq(harness_wait(pid, DEADLINE_MS, &status), 0);
    ck_assert_int_eq(status, 128 + SIGTERM);
}
END_TEST

START_TEST(test_tempdir_and_rmtree) {
    char *dir = harness_tempdir("harness-tree");
    char path[512];
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    FILE *fp;

    ck_assert_ptr_nonnull(dir);
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    ck_assert_msg(strncmp(dir, tmp, strlen(tmp)) == 0, "%s not under %s", dir, tmp);
    ck_assert_ptr_nonnull(strstr(dir, "/harness-tree-"));
    snprintf(path, sizeof(path), "%s/a", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/a/b", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/a/b/file", dir);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("x", fp);
    fclose(fp);
    /* A symlink out of the tree must be removed, not followed. */
    snprintf(path, sizeof(path), "%s/a/link", dir);
    ck_assert_int_eq(symlink("/tmp", path), 0);

    ck_assert_int_eq(harness_rmtree(dir), 0);
    ck_assert_int_eq(stat(dir, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(stat("/tmp", &st), 0);
    ck_assert_int_eq(harness_rmtree(dir), 0); /* already gone is fine */
    free(dir);
}
END_TEST

START_TEST(test_free_port_is_bindable) {
    struct sockaddr_in addr;
    int port = harness_free_port();
    int fd;

    ck_assert_int_gt(port, 0);
    ck_assert_int_lt(port, 65536);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
}
END_TEST

/* Dead means gone or a zombie waiting for init to reap it. */
static bool process_dead(pid_t pid) {
    char path[64];
    char *stat_line;
    char *paren;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    stat_line = read_file(path);
    if (stat_line == NULL)
        return true;
    paren = strrchr(stat_line, ')');
    return paren != NULL && (paren[2] == 'Z' || paren[2] == 'X');
}

/* A child process starts Redis, reports its pid and dir, then ends the way
 * `how` says; the server must not outlive it. */
static void check_server_dies_with_owner(bool crash) {
    struct {
        pid_t pid;
        char dir[256];
    } report;
    int fds[2];
    int status = -1;
    pid_t owner;
    long long deadline;
    struct stat st;

    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL); /* or the child's exit() would print our buffers again */
    owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        harness_redis_t *redis = harness_redis_start(NULL, errstr, sizeof(errstr));

        memset(&report, 0, sizeof(report));
        if (redis != NULL) {
            report.pid = harness_redis_pid(redis);
            snprintf(report.dir, sizeof(report.dir), "%s", harness_redis_dir(redis));
        }
        if (write(fds[1], &report, sizeof(report)) != (ssize_t)sizeof(report))
            _exit(2);
        if (crash)
            raise(SIGKILL);
        exit(0); /* without freeing: the atexit handler must clean up */
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &report, sizeof(report)), (ssize_t)sizeof(report));
    close(fds[0]);
    ck_assert_msg(report.pid > 0, "the child could not start redis");
    ck_assert_int_eq(waitpid(owner, &status, 0), owner);

    if (crash) {
        ck_assert(WIFSIGNALED(status));
        deadline = now_ms() + DEADLINE_MS;
        while (!process_dead(report.pid) && now_ms() < deadline)
            usleep(20000);
        ck_assert_msg(process_dead(report.pid), "redis %ld outlived its owner", (long)report.pid);
        /* No atexit ran, so the data dir is left behind: ours to remove. */
        ck_assert_int_eq(stat(report.dir, &st), 0);
        ck_assert_int_eq(harness_rmtree(report.dir), 0);
    } else {
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        /* atexit killed and reaped it before the owner was gone. */
        ck_assert(process_dead(report.pid));
        ck_assert_int_eq(stat(report.dir, &st), -1);
        ck_assert_int_eq(errno, ENOENT);
    }
}

START_TEST(test_exit_stops_servers) {
    check_server_dies_with_owner(false);
}
END_TEST

START_TEST(test_crash_kills_servers) {
    check_server_dies_with_owner(true);
}
END_TEST

static Suite *harness_suite(void) {
    Suite *suite = suite_create("harness");
    TCase *redis = tcase_create("redis");
    TCase *kafka = tcase_create("kafka");
    TCase *process = tcase_create("process");

    tcase_set_timeout(redis, 300);
    tcase_set_timeout(kafka, 600);
    tcase_set_timeout(process, 300);

    tcase_add_test(redis, test_redis_set_get);
    tcase_add_test(redis, test_redis_password);
    tcase_add_test(redis, test_redis_restart_with_persistence_keeps_data);
    tcase_add_test(redis, test_redis_restart_without_persistence_loses_data);
    tcase_add_test(redis, test_redis_crash_then_restart);
    tcase_add_test(redis, test_redis_free_removes_data_dir);

    tcase_add_test(kafka, test_kafka_default_topics);
    tcase_add_test(kafka, test_kafka_produce_consume_group);
    tcase_add_test(kafka, test_kafka_broker_down_then_up);
    tcase_add_test(kafka, test_kafka_push_errors);
    tcase_add_test(kafka, test_kafka_two_brokers);
    tcase_add_test(kafka, test_kafka_commands);
    tcase_add_test(kafka, test_kafka_missing_binary);
    tcase_add_test(kafka, test_mockbroker_fixed_port_and_bootstrap_file);

    tcase_add_test(process, test_spawn_env_log_and_exit_code);
    tcase_add_test(process, test_spawn_missing_program);
    tcase_add_test(process, test_wait_timeout_then_kill);
    tcase_add_test(process, test_tempdir_and_rmtree);
    tcase_add_test(process, test_free_port_is_bindable);
    tcase_add_test(process, test_exit_stops_servers);
    tcase_add_test(process, test_crash_kills_servers);

    suite_add_tcase(suite, redis);
    suite_add_tcase(suite, kafka);
    suite_add_tcase(suite, process);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(harness_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
