/* test_baseline_store.c -- the fleet view's Redis store against a real
 * redis-server: revisions replace, replays and old revisions change nothing,
 * old runs are trimmed, windows read back in order, one claim per interval. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_store.h"
#include "harness.h"

static harness_redis_t *redis;

static void setup(void) {
    char err[256];
    redis = harness_redis_start(NULL, err, sizeof(err));
    ck_assert_msg(redis != NULL, "redis: %s", err);
}

static void teardown(void) {
    harness_redis_free(redis);
    redis = NULL;
}

static trace_store_options_t options(void) {
    trace_store_options_t o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = harness_redis_port(redis);
    o.timeout_ms = 5000;
    o.prefix = "t";
    return o;
}

static baseline_store_t *open_store(void) {
    char err[256];
    trace_store_options_t o = options();
    baseline_store_t *s = baseline_store_new(&o, err, sizeof(err));
    ck_assert_msg(s != NULL, "baseline_store_new: %s", err);
    return s;
}

static baseline_store_put_t put_of(const char *dag, const char *version, const char *trace, int64_t start_ms,
                                   int64_t revision, const char *record) {
    return (baseline_store_put_t){dag, version, trace, start_ms, revision, record, strlen(record)};
}

static void put(baseline_store_t *s, const baseline_store_put_t *puts, size_t n, baseline_store_outcome_t *out) {
    char err[256];
    ck_assert_msg(baseline_store_put(s, puts, n, out, err, sizeof(err)) == 0, "put: %s", err);
}

/* What a read saw, as "trace_id=revision:record;" in order. */
typedef struct seen {
    char text[4096];
    size_t count;
} seen_t;

static int collect(void *opaque, const char *trace_id, int64_t revision, const void *record, size_t len) {
    seen_t *seen = opaque;
    size_t used = strlen(seen->text);
    snprintf(seen->text + used, sizeof(seen->text) - used, "%s=%lld:%.*s;", trace_id, (long long)revision,
             (int)len, (const char *)record);
    seen->count++;
    return 0;
}

static void read_window(baseline_store_t *s, const char *dag, const char *version, int64_t from, int64_t to,
                        seen_t *seen) {
    char err[256];
    memset(seen, 0, sizeof(*seen));
    ck_assert_msg(baseline_store_read(s, dag, version, from, to, collect, seen, err, sizeof(err)) == 0, "read: %s",
                  err);
}

START_TEST(revisions_replace_replays_do_not) {
    baseline_store_t *s = open_store();
    baseline_store_outcome_t out[4];
    baseline_store_put_t first[] = {put_of("d", "v1", "a", 1000, 0, "A0"), put_of("d", "v1", "b", 2000, 0, "B0")};
    put(s, first, 2, out);
    ck_assert_int_eq(out[0], BASELINE_STORE_ADDED);
    ck_assert_int_eq(out[1], BASELINE_STORE_ADDED);
    /* the same profile again (a replay), then a later revision of a, then an
     * old revision of b arriving late */
    baseline_store_put_t again[] = {put_of("d", "v1", "a", 1000, 0, "A0"), put_of("d", "v1", "a", 1000, 1, "A1"),
                                    put_of("d", "v1", "b", 2000, 0, "B0")};
    put(s, again, 3, out);
    ck_assert_int_eq(out[0], BASELINE_STORE_UNCHANGED);
    ck_assert_int_eq(out[1], BASELINE_STORE_REPLACED);
    ck_assert_int_eq(out[2], BASELINE_STORE_UNCHANGED);
    baseline_store_put_t late[] = {put_of("d", "v1", "a", 1000, 0, "A0"), put_of("d", "v1", "b", 2000, 2, "B2"),
                                   put_of("d", "v1", "b", 2000, 1, "B1")};
    put(s, late, 3, out);
    ck_assert_int_eq(out[0], BASELINE_STORE_UNCHANGED); /* revision 0 after 1: the old one stays out */
    ck_assert_int_eq(out[1], BASELINE_STORE_REPLACED);
    ck_assert_int_eq(out[2], BASELINE_STORE_UNCHANGED);
    seen_t seen;
    read_window(s, "d", "v1", 0, 10000, &seen);
    ck_assert_str_eq(seen.text, "a=1:A1;b=2:B2;");
    /* revisions above 255 compare as numbers, not as their last byte */
    baseline_store_put_t big[] = {put_of("d", "v1", "a", 1000, 256, "A256"), put_of("d", "v1", "a", 1000, 255, "A255")};
    put(s, big, 2, out);
    ck_assert_int_eq(out[0], BASELINE_STORE_REPLACED);
    ck_assert_int_eq(out[1], BASELINE_STORE_UNCHANGED);
    read_window(s, "d", "v1", 0, 10000, &seen);
    ck_assert_str_eq(seen.text, "a=256:A256;b=2:B2;");
    baseline_store_free(s);
}
END_TEST

START_TEST(windows_read_in_start_order) {
    baseline_store_t *s = open_store();
    baseline_store_put_t puts[] = {put_of("d", "", "c", 3000, 0, "C"), put_of("d", "", "a", 1000, 0, "A"),
                                   put_of("d", "", "b2", 2000, 0, "B2"), put_of("d", "", "b1", 2000, 0, "B1"),
                                   put_of("other", "", "x", 2000, 0, "X")};
    put(s, puts, 5, NULL);
    seen_t seen;
    read_window(s, "d", "", 2000, 3000, &seen);
    ck_assert_str_eq(seen.text, "b1=0:B1;b2=0:B2;c=0:C;");
    read_window(s, "d", "", 0, 1999, &seen);
    ck_assert_str_eq(seen.text, "a=0:A;");
    read_window(s, "d", "v2", 0, 9999, &seen); /* another version: nothing */
    ck_assert_uint_eq(seen.count, 0);
    int64_t newest = 0;
    int found = 0;
    char err[256];
    ck_assert_int_eq(baseline_store_newest(s, "d", "", &newest, &found, err, sizeof(err)), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(newest, 3000);
    ck_assert_int_eq(baseline_store_newest(s, "none", "", &newest, &found, err, sizeof(err)), 0);
    ck_assert_int_eq(found, 0);
    baseline_store_free(s);
}
END_TEST

/* Checks that a read's runs come in the order r00000, r00001, ... */
typedef struct ordered {
    int next;
    int bad;
} ordered_t;

static int check_order(void *opaque, const char *trace_id, int64_t revision, const void *record, size_t len) {
    ordered_t *o = opaque;
    char want[16];
    snprintf(want, sizeof(want), "r%05d", o->next);
    if (strcmp(trace_id, want) != 0 || revision != 0 || (size_t)snprintf(want, sizeof(want), "%d", o->next) != len ||
        memcmp(record, want, len) != 0)
        o->bad++;
    o->next++;
    return 0;
}

/* More runs than one HMGET chunk come back complete and in order. */
START_TEST(large_window_reads_in_chunks) {
    enum { N = BASELINE_STORE_READ_CHUNK * 2 + 7 };
    baseline_store_t *s = open_store();
    static char ids[N][16], recs[N][16];
    baseline_store_put_t *puts = calloc(N, sizeof(*puts));
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "r%05d", i);
        snprintf(recs[i], sizeof(recs[i]), "%d", i);
        puts[i] = put_of("big", "", ids[i], 1000 + i, 0, recs[i]);
    }
    put(s, puts, N, NULL);
    ordered_t o = {0, 0};
    char err[256];
    uint64_t trips = baseline_store_round_trips(s);
    ck_assert_int_eq(baseline_store_read(s, "big", "", 0, 1000000, check_order, &o, err, sizeof(err)), 0);
    ck_assert_int_eq(o.next, N);
    ck_assert_int_eq(o.bad, 0);
    ck_assert_uint_eq(baseline_store_round_trips(s) - trips, 1 + 3); /* the ids, then 3 chunks */
    free(puts);
    baseline_store_free(s);
}
END_TEST

START_TEST(old_runs_are_trimmed) {
    baseline_store_t *s = open_store();
    const int64_t day = 24LL * 3600 * 1000;
    baseline_store_put_t old[] = {put_of("d", "", "old1", 0, 0, "O1"), put_of("d", "", "old2", day, 0, "O2"),
                                  put_of("d", "", "mid", 2 * day, 0, "M")};
    put(s, old, 3, NULL);
    /* a run 8 days + 1 ms after old1's start: old1 is past the 7 d + 1 h retention */
    baseline_store_put_t now[] = {put_of("d", "", "new", BASELINE_STORE_RETENTION_MS + 1, 0, "N")};
    put(s, now, 1, NULL);
    seen_t seen;
    read_window(s, "d", "", 0, 100 * day, &seen);
    ck_assert_str_eq(seen.text, "old2=0:O2;mid=0:M;new=0:N;");
    char err[256];
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "HLEN t:b1:{dag:d}:rec:");
    ck_assert_int_eq(r->integer, 3); /* the record went with the zset entry */
    freeReplyObject(r);
    redisFree(c);
    baseline_store_free(s);
}
END_TEST

START_TEST(dags_are_listed) {
    baseline_store_t *s = open_store();
    baseline_store_put_t puts[] = {put_of("zeta", "", "1", 1, 0, "x"), put_of("alpha", "v2", "2", 1, 0, "x"),
                                   put_of("alpha", "v1", "3", 1, 0, "x"), put_of("a:b", "1:c", "4", 1, 0, "x"),
                                   put_of("alpha", "v1", "5", 1, 0, "x")};
    put(s, puts, 5, NULL);
    baseline_store_dag_t *dags = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(baseline_store_dags(s, &dags, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(dags[0].dag_id, "a:b");
    ck_assert_str_eq(dags[0].version, "1:c");
    ck_assert_str_eq(dags[1].dag_id, "alpha");
    ck_assert_str_eq(dags[1].version, "v1");
    ck_assert_str_eq(dags[2].version, "v2");
    ck_assert_str_eq(dags[3].dag_id, "zeta");
    ck_assert_str_eq(dags[3].version, "");
    baseline_store_dags_free(dags, n);
    /* the SADD goes once per pair and process: 5 puts + 4 SADDs, one trip */
    ck_assert_uint_eq(baseline_store_commands(s), 1 + 5 + 4 + 1);
    baseline_store_free(s);
}
END_TEST

START_TEST(one_claim_per_interval) {
    baseline_store_t *a = open_store(), *b = open_store();
    char err[256];
    int won_a = -1, won_b = -1;
    ck_assert_int_eq(baseline_store_claim_trend(a, "d", "", 7, 60, &won_a, err, sizeof(err)), 0);
    ck_assert_int_eq(baseline_store_claim_trend(b, "d", "", 7, 60, &won_b, err, sizeof(err)), 0);
    ck_assert_int_eq(won_a, 1);
    ck_assert_int_eq(won_b, 0);
    ck_assert_int_eq(baseline_store_claim_trend(b, "d", "", 8, 60, &won_b, err, sizeof(err)), 0);
    ck_assert_int_eq(won_b, 1);
    ck_assert_int_eq(baseline_store_claim_trend(a, "e", "", 7, 60, &won_a, err, sizeof(err)), 0);
    ck_assert_int_eq(won_a, 1);
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    redisReply *r = redisCommand(c, "TTL t:b1:{dag:d}:trend::7");
    ck_assert_int_gt(r->integer, 60);
    ck_assert_int_le(r->integer, 120);
    freeReplyObject(r);
    redisFree(c);
    baseline_store_free(a);
    baseline_store_free(b);
}
END_TEST

/* Redis gone: a clear error, and the same batch put again once it is back
 * stores everything (and a script flushed meanwhile is reloaded). */
START_TEST(redis_down_is_an_error_and_retry_stores) {
    baseline_store_t *s = open_store();
    char err[256];
    ck_assert_int_eq(harness_redis_stop(redis), 0);
    baseline_store_put_t puts[] = {put_of("d", "", "a", 1, 0, "A")};
    ck_assert_int_eq(baseline_store_put(s, puts, 1, NULL, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "redis 127.0.0.1:") != NULL, "error: %s", err);
    ck_assert_int_eq(harness_redis_restart(redis, 0, err, sizeof(err)), 0);
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
    redisFree(c);
    baseline_store_outcome_t out[1];
    put(s, puts, 1, out);
    ck_assert_int_eq(out[0], BASELINE_STORE_ADDED);
    seen_t seen;
    read_window(s, "d", "", 0, 10, &seen);
    ck_assert_str_eq(seen.text, "a=0:A;");
    /* unreachable at start: fail fast with the address */
    trace_store_options_t o = options();
    ck_assert_int_eq(harness_redis_stop(redis), 0);
    ck_assert_ptr_null(baseline_store_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "cannot connect") != NULL, "error: %s", err);
    baseline_store_free(s);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("baseline_store");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, revisions_replace_replays_do_not);
    tcase_add_test(tc, windows_read_in_start_order);
    tcase_add_test(tc, large_window_reads_in_chunks);
    tcase_add_test(tc, old_runs_are_trimmed);
    tcase_add_test(tc, dags_are_listed);
    tcase_add_test(tc, one_claim_per_interval);
    tcase_add_test(tc, redis_down_is_an_error_and_retry_stores);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
