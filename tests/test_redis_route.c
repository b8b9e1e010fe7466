/* test_redis_route.c -- the Redis transport against a real 3-master,
 * 3-replica Redis Cluster (tests/harness_cluster.h): the slot function, the
 * routing, MOVED and ASK during a slot migration done by hand, a master's
 * failover, and the trace store's whole cycle across the cluster. Each test
 * starts its own cluster, as some break theirs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "buf.h"
#include "harness_cluster.h"
#include "metrics.h"
#include "redis_route.h"
#include "trace_store.h"

static harness_cluster_t *cluster;

static void setup(void) {
    char err[512];
    cluster = harness_cluster_start(3, 1, err, sizeof(err));
    ck_assert_msg(cluster != NULL, "cluster: %s", err);
}

static void teardown(void) {
    harness_cluster_free(cluster);
    cluster = NULL;
}

static redis_route_t *open_route(int timeout_ms) {
    char err[512];
    redis_route_options_t o = {.nodes = harness_cluster_seeds(cluster), .timeout_ms = timeout_ms};
    redis_route_t *r = redis_route_new(&o, err, sizeof(err));
    ck_assert_msg(r != NULL, "redis_route_new: %s", err);
    return r;
}

static const redis_route_node_stats_t *stats_of(redis_route_t *r, int node,
                                                redis_route_node_stats_t *all, size_t max) {
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", harness_cluster_port(cluster, node));
    size_t n = redis_route_stats(r, all, max);
    for (size_t i = 0; i < n && i < max; i++)
        if (strcmp(all[i].addr, addr) == 0)
            return &all[i];
    return NULL;
}

static uint64_t moved_of(redis_route_t *r, int node) {
    redis_route_node_stats_t all[32];
    const redis_route_node_stats_t *s = stats_of(r, node, all, 32);
    return s ? s->moved : 0;
}

static uint64_t ask_of(redis_route_t *r, int node) {
    redis_route_node_stats_t all[32];
    const redis_route_node_stats_t *s = stats_of(r, node, all, 32);
    return s ? s->ask : 0;
}

/* The key's value as its master holds it, asked directly (no routing). */
static char *value_on(int node, const char *key) {
    char err[256];
    redisContext *ctx = harness_cluster_connect(cluster, node, err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    /* ASKING: an importing node answers for keys it already holds */
    redisReply *asking = redisCommand(ctx, "ASKING");
    ck_assert_ptr_nonnull(asking);
    freeReplyObject(asking);
    redisReply *r = redisCommand(ctx, "GET %s", key);
    ck_assert_msg(r != NULL, "GET: %s", ctx->errstr);
    char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str)
              : r->type == REDIS_REPLY_ERROR ? strdup(r->str) : strdup("(nil)");
    freeReplyObject(r);
    redisFree(ctx);
    return v;
}

static void route_set(redis_route_t *r, const char *key, const char *value) {
    char err[512];
    redisReply *reply = redis_route_command(r, key, err, sizeof(err), "SET %s %s", key, value);
    ck_assert_msg(reply != NULL, "SET %s: %s", key, err);
    ck_assert_msg(reply->type == REDIS_REPLY_STATUS, "SET %s: %s", key, reply->str);
    freeReplyObject(reply);
}

static char *route_get(redis_route_t *r, const char *key) {
    char err[512];
    redisReply *reply = redis_route_command(r, key, err, sizeof(err), "GET %s", key);
    ck_assert_msg(reply != NULL, "GET %s: %s", key, err);
    ck_assert_msg(reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_NIL,
                  "GET %s: %s", key, reply->type == REDIS_REPLY_ERROR ? reply->str : "?");
    char *v = strdup(reply->type == REDIS_REPLY_STRING ? reply->str : "(nil)");
    freeReplyObject(reply);
    return v;
}

/* ---- the slot function ---- */

static void check_slot(redisContext *ctx, const char *key, size_t len) {
    const char *argv[] = {"CLUSTER", "KEYSLOT", key};
    size_t lens[] = {7, 7, len};
    redisReply *r = redisCommandArgv(ctx, 3, argv, lens);
    ck_assert_msg(r && r->type == REDIS_REPLY_INTEGER, "KEYSLOT failed");
    ck_assert_msg(redis_route_slot(key, len) == (unsigned)r->integer,
                  "key \"%.*s\" (%zu bytes): ours %u, Redis %lld", (int)len, key, len,
                  redis_route_slot(key, len), r->integer);
    freeReplyObject(r);
}

START_TEST(slot_matches_cluster_keyslot) {
    char err[256];
    redisContext *ctx = harness_cluster_connect(cluster, 0, err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    static const char *const edge[] = {
        "", "{", "}", "{}", "}{", "{}{a}", "{a}{b}", "a{b}c", "{a}", "a{", "a}", "a{}b",
        "a{b", "tag at end {x}", "{{a}}", "{a{b}}", "}{a}", "{ }", "dagprof:v2:{dag-spans:0}:due",
        "dagprof:v2:{dag-spans:15}:m:abc", "foo", "123456789"};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
        check_slot(ctx, edge[i], strlen(edge[i]));
    /* the CRC16 check value of the XMODEM variant Redis uses */
    ck_assert_uint_eq(redis_route_slot("123456789", 9), 0x31C3 & 16383);
    /* random keys, binary bytes (NUL included) and braces mixed in */
    unsigned seed = 17;
    for (int k = 0; k < 3000; k++) {
        char key[40];
        size_t len = (size_t)(rand_r(&seed) % 40);
        for (size_t i = 0; i < len; i++) {
            int pick = rand_r(&seed) % 8;
            key[i] = pick == 0 ? '{' : pick == 1 ? '}' : (char)(rand_r(&seed) % 256);
        }
        check_slot(ctx, key, len);
    }
    redisFree(ctx);
}
END_TEST

/* ---- routing ---- */

START_TEST(pipeline_lands_on_owners_in_order) {
    redis_route_t *r = open_route(20000);
    char err[512];
    enum { N = 300 };
    char keys[N][32], *cmds[N];
    int lens[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        lens[i] = redisFormatCommand(&cmds[i], "SET %s v%d", keys[i], i);
        ck_assert_int_eq(redis_route_append(r, redis_route_slot(keys[i], strlen(keys[i])), cmds[i],
                                            (size_t)lens[i], err, sizeof(err)), 0);
    }
    ck_assert_msg(redis_route_flush(r, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < N; i++) {
        redisReply *reply;
        ck_assert_msg(redis_route_get_reply(r, &reply, err, sizeof(err)) == 0, "%s", err);
        ck_assert_int_eq(reply->type, REDIS_REPLY_STATUS);
        freeReplyObject(reply);
        redisFreeCommand(cmds[i]);
    }
    /* GETs in one pipeline: replies in the order appended, whichever node */
    for (int i = 0; i < N; i++) {
        lens[i] = redisFormatCommand(&cmds[i], "GET %s", keys[i]);
        ck_assert_int_eq(redis_route_append(r, redis_route_slot(keys[i], strlen(keys[i])), cmds[i],
                                            (size_t)lens[i], err, sizeof(err)), 0);
    }
    ck_assert_msg(redis_route_flush(r, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < N; i++) {
        redisReply *reply;
        ck_assert_msg(redis_route_get_reply(r, &reply, err, sizeof(err)) == 0, "%s", err);
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
        ck_assert_str_eq(reply->str, want);
        freeReplyObject(reply);
        redisFreeCommand(cmds[i]);
    }
    /* each key is on the master of its slot, and no command was redirected */
    int per_master[16] = {0};
    for (int i = 0; i < N; i++) {
        int owner = harness_cluster_master_of(cluster, redis_route_slot(keys[i], strlen(keys[i])), err,
                                              sizeof(err));
        ck_assert_msg(owner >= 0, "%s", err);
        per_master[owner]++;
        char *v = value_on(owner, keys[i]);
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        ck_assert_str_eq(v, want);
        free(v);
    }
    int masters = 0;
    for (int i = 0; i < harness_cluster_count(cluster); i++) {
        masters += per_master[i] > 0;
        ck_assert_uint_eq(moved_of(r, i), 0);
        ck_assert_uint_eq(ask_of(r, i), 0);
    }
    ck_assert_int_eq(masters, 3);
    redis_route_free(r);
}
END_TEST

/* ---- MOVED and ASK while a slot migrates ---- */

typedef struct migration {
    redis_route_t *route;
    int from, to;
    uint64_t ask_after_new_key, ask_after_moved_key;
} migration_t;

static void during_migration(void *opaque, int step) {
    migration_t *m = opaque;
    if (step == 1) {
        /* migrating, nothing moved yet: an existing key is still served by
         * the old owner, a new key is created on the new one through ASK */
        char *v = route_get(m->route, "{mig}:0");
        ck_assert_str_eq(v, "0");
        free(v);
        ck_assert_uint_eq(ask_of(m->route, m->from), 0);
        route_set(m->route, "{mig}:new", "fresh");
        m->ask_after_new_key = ask_of(m->route, m->from);
        v = value_on(m->to, "{mig}:new");
        ck_assert_str_eq(v, "fresh"); /* landed on the importing node */
        free(v);
    } else if (step == 2) {
        /* the first batch of keys moved: reading one follows ASK again */
        uint64_t before = ask_of(m->route, m->from);
        char *v = route_get(m->route, "{mig}:new");
        ck_assert_str_eq(v, "fresh");
        free(v);
        m->ask_after_moved_key = ask_of(m->route, m->from) - before;
    }
}

START_TEST(moved_and_ask_followed) {
    char err[512];
    redis_route_t *r = open_route(20000);
    for (int i = 0; i < 120; i++) {
        char key[32], value[16];
        snprintf(key, sizeof(key), "{mig}:%d", i);
        snprintf(value, sizeof(value), "%d", i);
        route_set(r, key, value);
    }
    unsigned slot = redis_route_slot("{mig}", 5);
    migration_t m = {.route = r};
    m.from = harness_cluster_master_of(cluster, slot, err, sizeof(err));
    ck_assert_msg(m.from >= 0, "%s", err);
    for (int i = 0; i < harness_cluster_count(cluster); i++) {
        int owner = -1;
        /* another master: one that owns some other slot and is not a replica */
        for (unsigned s = 0; s < 16384 && owner != i; s += 1000)
            owner = harness_cluster_master_of(cluster, s, err, sizeof(err)) == i ? i : -1;
        if (owner == i && i != m.from) {
            m.to = i;
            break;
        }
    }
    ck_assert_int_ne(m.to, m.from);
    ck_assert_msg(harness_cluster_move_slot(cluster, slot, m.to, during_migration, &m, err, sizeof(err)) == 0,
                  "move: %s", err);
    ck_assert_uint_eq(m.ask_after_new_key, 1);
    ck_assert_uint_eq(m.ask_after_moved_key, 1);
    ck_assert_uint_eq(moved_of(r, m.from), 0);
    /* migrated: the old owner answers MOVED once, the map is updated */
    char *v = route_get(r, "{mig}:7");
    ck_assert_str_eq(v, "7");
    free(v);
    ck_assert_uint_eq(moved_of(r, m.from), 1);
    v = route_get(r, "{mig}:8");
    ck_assert_str_eq(v, "8");
    free(v);
    ck_assert_uint_eq(moved_of(r, m.from), 1);
    for (int i = 0; i < 120; i++) {
        char key[32], value[16];
        snprintf(key, sizeof(key), "{mig}:%d", i);
        snprintf(value, sizeof(value), "%d", i);
        v = value_on(m.to, key);
        ck_assert_str_eq(v, value);
        free(v);
    }
    redis_route_free(r);
}
END_TEST

/* ---- a master dies, its replica is promoted ---- */

START_TEST(failover_reconnects) {
    char err[512];
    redis_route_t *r = open_route(60000);
    route_set(r, "{fo}:a", "before");
    unsigned slot = redis_route_slot("{fo}", 4);
    int master = harness_cluster_master_of(cluster, slot, err, sizeof(err));
    ck_assert_msg(master >= 0, "%s", err);
    int replica = harness_cluster_replica_of(cluster, master, err, sizeof(err));
    ck_assert_msg(replica >= 0, "%s", err);
    /* the write is on the replica before the master dies */
    redisReply *w = redis_route_command(r, "{fo}:a", err, sizeof(err), "WAIT 1 10000");
    ck_assert_msg(w && w->type == REDIS_REPLY_INTEGER && w->integer == 1, "WAIT: %s", err);
    freeReplyObject(w);
    ck_assert_int_eq(harness_cluster_kill(cluster, master), 0);
    /* the route retries, with backoff, until the replica took over */
    char *v = route_get(r, "{fo}:a");
    ck_assert_str_eq(v, "before");
    free(v);
    route_set(r, "{fo}:b", "after");
    ck_assert_int_eq(harness_cluster_master_of(cluster, slot, err, sizeof(err)), replica);
    v = value_on(replica, "{fo}:b");
    ck_assert_str_eq(v, "after");
    free(v);
    redis_route_node_stats_t all[32];
    const redis_route_node_stats_t *dead = stats_of(r, master, all, 32);
    ck_assert_ptr_nonnull(dead);
    ck_assert_uint_ge(dead->errors, 1);
    ck_assert_int_eq(dead->connected, 0);
    /* the health check: every slot served again */
    unsigned needed[] = {slot, 0, 16383};
    ck_assert_msg(redis_route_check_slots(r, needed, 3, err, sizeof(err)) == 0, "%s", err);
    redis_route_free(r);
}
END_TEST

/* ---- health and metrics: a slot whose master and replica are both gone ---- */

START_TEST(slot_without_master_unhealthy) {
    char err[512];
    redis_route_t *r = open_route(3000);
    route_set(r, "{gone}:a", "1");
    route_set(r, "{kept}:a", "2");
    unsigned gone = redis_route_slot("{gone}", 6), kept = redis_route_slot("{kept}", 6);
    int master = harness_cluster_master_of(cluster, gone, err, sizeof(err));
    int replica = harness_cluster_replica_of(cluster, master, err, sizeof(err));
    ck_assert_int_ge(replica, 0);
    int other = harness_cluster_master_of(cluster, kept, err, sizeof(err));
    if (other == master) { /* the two tags on one master: pick a slot elsewhere */
        for (unsigned s = 0; s < 16384; s += 512)
            if (harness_cluster_master_of(cluster, s, err, sizeof(err)) != master) {
                kept = s;
                break;
            }
    }
    ck_assert_msg(redis_route_check_slots(r, &gone, 1, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(harness_cluster_kill(cluster, master), 0);
    ck_assert_int_eq(harness_cluster_kill(cluster, replica), 0);
    ck_assert_int_eq(redis_route_check_slots(r, &gone, 1, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", harness_cluster_port(cluster, master));
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    ck_assert_msg(redis_route_check_slots(r, &kept, 1, err, sizeof(err)) == 0, "%s", err);
    /* a command to the lost slot fails with errstr once the timeout is spent */
    ck_assert_ptr_null(redis_route_command(r, "{gone}:a", err, sizeof(err), "GET {gone}:a"));
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);

    /* the figures as /metrics shows them, and /healthz degraded */
    metrics_t *m = metrics_new("127.0.0.1", 0, err, sizeof(err));
    ck_assert_ptr_nonnull(m);
    metrics_set_health(m, 1, NULL);
    redis_route_node_stats_t all[32];
    size_t n = redis_route_stats(r, all, 32);
    metrics_set_redis_nodes(m, 0, all, n);
    metrics_set_redis_nodes(m, 1, all, n); /* the second store's: summed */
    char reason[256];
    ck_assert_int_eq(metrics_healthy(m, reason, sizeof(reason)), 1);
    ck_assert_int_eq(redis_route_check_slots(r, &gone, 1, err, sizeof(err)), -1);
    metrics_set_redis_slots(m, 0, err);
    ck_assert_int_eq(metrics_healthy(m, reason, sizeof(reason)), 0);
    ck_assert_str_eq(reason, err);
    buf_t text = BUF_INIT;
    ck_assert_int_eq(metrics_render(m, &text), 0);
    const redis_route_node_stats_t *dead = NULL; /* in the snapshot given to the metrics */
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].addr, want) == 0)
            dead = &all[i];
    ck_assert_ptr_nonnull(dead);
    char line[256];
    snprintf(line, sizeof(line), "dagprof_redis_node_errors_total{node=\"%s\"} %llu\n", want,
             (unsigned long long)(2 * dead->errors));
    if (!(dead->errors >= 1 && strstr(text.data, line)))
        fprintf(stderr, "%s", text.data);
    ck_assert_msg(dead->errors >= 1 && strstr(text.data, line), "no \"%s\" in /metrics", line);
    snprintf(line, sizeof(line), "dagprof_redis_node_round_trips_total{node=\"%s\"} %llu\n", want,
             (unsigned long long)(2 * dead->round_trips));
    ck_assert_msg(strstr(text.data, line), "no \"%s\"", line);
    ck_assert_ptr_nonnull(strstr(text.data, "dagprof_redis_slots_ok 0\n"));
    ck_assert_ptr_nonnull(strstr(text.data, "dagprof_up 0\n"));
    metrics_set_redis_slots(m, 1, NULL);
    ck_assert_int_eq(metrics_healthy(m, reason, sizeof(reason)), 1);
    buf_free(&text);
    metrics_free(m);
    redis_route_free(r);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_options) {
    char err[512];
    ck_assert_int_eq(redis_route_check_nodes("127.0.0.1:7000,127.0.0.1:7001", err, sizeof(err)), 0);
    static const char *const bad[] = {"", "host", "host:", ":7000", "h:0", "h:65536", "h:70x",
                                      "a:1,,b:2", "a:1,b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(redis_route_check_nodes(bad[i], err, sizeof(err)) == -1, "%s accepted", bad[i]);
        ck_assert_msg(strstr(err, "is not host:port") != NULL, "%s: %s", bad[i], err);
    }
    redis_route_options_t o = {.nodes = harness_cluster_seeds(cluster), .db = 2, .timeout_ms = 2000};
    ck_assert_ptr_null(redis_route_new(&o, err, sizeof(err)));
    ck_assert_str_eq(err, "redis.db must be 0 on a Redis Cluster (it has only db 0), not 2");
    int port = harness_free_port();
    char seeds[64];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", port);
    redis_route_options_t none = {.nodes = seeds, .timeout_ms = 2000};
    ck_assert_ptr_null(redis_route_new(&none, err, sizeof(err)));
    ck_assert_msg(strstr(err, "no seed gave a slot map") != NULL, "%s", err);
}
END_TEST

/* ---- the trace store across the cluster ---- */

START_TEST(trace_store_cycle_on_cluster) {
    char err[512];
    trace_store_options_t o;
    memset(&o, 0, sizeof(o));
    o.nodes = harness_cluster_seeds(cluster);
    o.timeout_ms = 20000;
    o.prefix = "t";
    o.topic = "spans";
    o.grace_ms = 2000;
    o.idle_timeout_ms = 60000;
    o.ttl_s = 3600;
    o.max_spans_per_trace = 1000;
    o.max_bytes_per_trace = 1 << 20;
    o.max_open_traces = 1000;
    trace_store_t *s = trace_store_new(&o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    enum { PARTS = 16 };
    trace_store_span_t spans[2 * PARTS];
    char ids[PARTS][16];
    for (int p = 0; p < PARTS; p++) {
        snprintf(ids[p], sizeof(ids[p]), "T%d", p);
        spans[2 * p] = (trace_store_span_t){p, ids[p], "s1", 0, "child", 5};
        spans[2 * p + 1] = (trace_store_span_t){p, ids[p], "run", 1, "runspan", 7};
    }
    trace_store_outcome_t out[2 * PARTS];
    ck_assert_msg(trace_store_append(s, spans, 2 * PARTS, 1000, out, err, sizeof(err)) == 0, "%s", err);
    for (int i = 0; i < 2 * PARTS; i++)
        ck_assert_int_eq(out[i], TRACE_STORE_ADDED);
    /* each partition's due set is on the master of its tag's slot */
    int masters_used[16] = {0};
    for (int p = 0; p < PARTS; p++) {
        char key[64], tag[32];
        snprintf(tag, sizeof(tag), "spans:%d", p);
        snprintf(key, sizeof(key), "t:" TRACE_STORE_LAYOUT ":{%s}:due", tag);
        int owner = harness_cluster_master_of(cluster, redis_route_slot(tag, strlen(tag)), err, sizeof(err));
        ck_assert_int_ge(owner, 0);
        masters_used[owner] = 1;
        redisContext *ctx = harness_cluster_connect(cluster, owner, err, sizeof(err));
        redisReply *r = redisCommand(ctx, "ZCARD %s", key);
        ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
        ck_assert_int_eq(r->integer, 1);
        freeReplyObject(r);
        redisFree(ctx);
    }
    int used = 0;
    for (int i = 0; i < 16; i++)
        used += masters_used[i];
    ck_assert_int_eq(used, 3);
    int32_t parts[PARTS];
    for (int p = 0; p < PARTS; p++)
        parts[p] = p;
    trace_store_ref_t *refs;
    size_t n = 0;
    ck_assert_msg(trace_store_due(s, parts, PARTS, 3000, 1000, &refs, &n, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(n, PARTS);
    trace_store_trace_t *t;
    ck_assert_msg(trace_store_load(s, refs, n, 10000, &t, err, sizeof(err)) == 0, "%s", err);
    trace_store_done_t done[PARTS];
    for (size_t i = 0; i < n; i++) {
        ck_assert(t[i].exists);
        ck_assert_uint_eq(t[i].span_count, 2);
        ck_assert(t[i].has_run);
        ck_assert_int_eq(t[i].partition, refs[i].partition);
        done[i] = (trace_store_done_t){t[i].partition, t[i].trace_id, t[i].gen, t[i].revision, 1};
    }
    ck_assert_msg(trace_store_finish(s, done, n, 4000, err, sizeof(err)) == 0, "%s", err);
    trace_store_traces_free(t, n);
    trace_store_refs_free(refs, n);
    ck_assert_msg(trace_store_due(s, parts, PARTS, 999999, 1000, &refs, &n, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(n, 0);
    trace_store_refs_free(refs, n);
    trace_store_free(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("redis_route");
    TCase *tc = tcase_create("cluster");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, slot_matches_cluster_keyslot);
    tcase_add_test(tc, pipeline_lands_on_owners_in_order);
    tcase_add_test(tc, moved_and_ask_followed);
    tcase_add_test(tc, failover_reconnects);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, slot_without_master_unhealthy);
    tcase_add_test(tc, trace_store_cycle_on_cluster);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
