/* test_trace_store.c -- the Redis trace store against a real redis-server.
 *
 * Time is passed in explicitly (now_ms), so due times are exact and nothing
 * here waits on the clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"
#include "trace_store.h"

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

static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static trace_store_options_t options(void) {
    trace_store_options_t o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = harness_redis_port(redis);
    o.timeout_ms = 5000;
    o.prefix = "t";
    o.topic = "spans";
    o.grace_ms = 2000;
    o.idle_timeout_ms = 60000;
    o.ttl_s = 3600;
    o.max_spans_per_trace = 1000;
    o.max_bytes_per_trace = 1 << 20;
    o.max_open_traces = 1000;
    return o;
}

static trace_store_t *open_store(const trace_store_options_t *o) {
    char err[256];
    trace_store_t *s = trace_store_new(o, err, sizeof(err));
    ck_assert_msg(s != NULL, "trace_store_new: %s", err);
    return s;
}

static trace_store_span_t span(int32_t partition, const char *trace, const char *id, int is_run,
                               const char *blob) {
    return (trace_store_span_t){partition, trace, id, is_run, blob, strlen(blob)};
}

static void append(trace_store_t *s, const trace_store_span_t *spans, size_t n, int64_t now,
                   trace_store_outcome_t *out) {
    char err[256];
    ck_assert_msg(trace_store_append(s, spans, n, now, out, err, sizeof(err)) == 0, "append: %s", err);
}

static size_t due(trace_store_t *s, int32_t partition, int64_t now, trace_store_ref_t **refs) {
    char err[256];
    size_t n = 0;
    ck_assert_msg(trace_store_due(s, &partition, 1, now, 100, refs, &n, err, sizeof(err)) == 0, "due: %s", err);
    return n;
}

START_TEST(append_dedup_due_load_finish) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t batch[3] = {span(3, "A", "s1", 0, "one"), span(3, "A", "run", 1, "two"),
                                   span(3, "B", "s1", 0, "three")};
    trace_store_outcome_t out[3];
    append(s, batch, 3, 1000, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[1], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[2], TRACE_STORE_ADDED);
    append(s, batch, 3, 1000, out); /* a replay: stored again, found at load */
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[1], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[2], TRACE_STORE_ADDED);

    /* A has its run span: due at 1000 + grace; B waits for the idle timeout */
    trace_store_ref_t *refs;
    ck_assert_uint_eq(due(s, 3, 2999, &refs), 0);
    trace_store_refs_free(refs, 0);
    ck_assert_uint_eq(due(s, 3, 3000, &refs), 1);
    ck_assert_str_eq(refs[0].trace_id, "A");
    ck_assert_int_eq(refs[0].partition, 3);
    trace_store_refs_free(refs, 1);
    ck_assert_uint_eq(due(s, 3, 61000, &refs), 2);
    trace_store_refs_free(refs, 2);
    ck_assert_uint_eq(due(s, 4, 99999999, &refs), 0); /* another partition's schedule */
    trace_store_refs_free(refs, 0);

    int64_t open = 0;
    char err[256];
    ck_assert_int_eq(trace_store_open_count(s, 3, &open, err, sizeof(err)), 0);
    ck_assert_int_eq(open, 2);

    /* load A, leased until 10000: not due meanwhile */
    trace_store_ref_t ref = {3, "A", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 10000, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    ck_assert_int_eq(t[0].duplicates, 2); /* A's two replays, dropped */
    ck_assert_int_eq(t[0].revision, 0);
    ck_assert(t[0].has_run);
    ck_assert_uint_eq(t[0].span_count, 2);
    int seen = 0;
    for (size_t i = 0; i < 2; i++) {
        if (t[0].blob_lens[i] == 3 && memcmp(t[0].blobs[i], "one", 3) == 0)
            seen |= 1;
        if (t[0].blob_lens[i] == 3 && memcmp(t[0].blobs[i], "two", 3) == 0)
            seen |= 2;
    }
    ck_assert_int_eq(seen, 3);
    ck_assert_uint_eq(due(s, 3, 9999, &refs), 0); /* A leased, B not idle long enough */
    trace_store_refs_free(refs, 0);

    /* published: A leaves the schedule, next revision is 1 */
    trace_store_done_t done = {3, "A", t[0].gen, t[0].revision, 1};
    ck_assert_int_eq(trace_store_finish(s, &done, 1, 4000, err, sizeof(err)), 0);
    trace_store_traces_free(t, 1);
    ck_assert_uint_eq(due(s, 3, 59999, &refs), 0);
    trace_store_refs_free(refs, 0);

    /* a late span: due again after the grace period, as revision 1 with all spans */
    trace_store_span_t late = span(3, "A", "late", 0, "four");
    append(s, &late, 1, 5000, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ck_assert_uint_eq(due(s, 3, 7000, &refs), 1);
    trace_store_refs_free(refs, 1);
    int64_t lease = wall_ms() + 600000; /* leases are held against the wall clock */
    ck_assert_int_eq(trace_store_load(s, &ref, 1, lease, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 1);
    ck_assert_int_eq(t[0].duplicates, 0); /* counted by the first load already */
    ck_assert_uint_eq(t[0].span_count, 3);

    /* a span arrives while revision 1 is being published: it is due after
     * the grace period, but a load while the lease holds leaves the trace to
     * its holder, due again when the lease ends; finishing makes it due after
     * the grace period */
    trace_store_span_t later = span(3, "A", "later", 0, "five");
    append(s, &later, 1, 8000, out);
    ck_assert_uint_eq(due(s, 3, 19999, &refs), 1);
    trace_store_refs_free(refs, 1);
    trace_store_trace_t *held;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, lease + 1, &held, err, sizeof(err)), 0);
    ck_assert(!held[0].exists);
    trace_store_traces_free(held, 1);
    ck_assert_uint_eq(due(s, 3, lease - 1, &refs), 1); /* B only, idle long enough by then */
    ck_assert_str_eq(refs[0].trace_id, "B");
    trace_store_refs_free(refs, 1);
    ck_assert_uint_eq(due(s, 3, lease, &refs), 2);
    trace_store_refs_free(refs, 2);
    done = (trace_store_done_t){3, "A", t[0].gen, t[0].revision, 1};
    ck_assert_int_eq(trace_store_finish(s, &done, 1, 9000, err, sizeof(err)), 0);
    trace_store_traces_free(t, 1);
    ck_assert_uint_eq(due(s, 3, 10999, &refs), 0);
    trace_store_refs_free(refs, 0);
    ck_assert_uint_eq(due(s, 3, 11000, &refs), 1);
    trace_store_refs_free(refs, 1);

    /* a publication that failed: due again after the retry delay, same revision */
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 50000, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 2);
    done = (trace_store_done_t){3, "A", t[0].gen, t[0].revision, 0};
    ck_assert_int_eq(trace_store_finish(s, &done, 1, 12000, err, sizeof(err)), 0);
    trace_store_traces_free(t, 1);
    ck_assert_uint_eq(due(s, 3, 12000 + TRACE_STORE_RETRY_MS - 1, &refs), 0);
    trace_store_refs_free(refs, 0);
    ck_assert_uint_eq(due(s, 3, 12000 + TRACE_STORE_RETRY_MS, &refs), 1);
    trace_store_refs_free(refs, 1);
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 50000, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 2);
    trace_store_traces_free(t, 1);
    trace_store_free(s);
}
END_TEST

/* A span of a trace that was profiled and whose spans expired is refused,
 * instead of starting a trace of one span with a revision already used. */
/* One call with many spans, with replays inside the batch and against what
 * is stored: the first copy wins, each later one is a duplicate, found at load. */
START_TEST(large_batch_in_chunks) {
    trace_store_options_t o = options();
    o.max_spans_per_trace = 10000;
    trace_store_t *s = open_store(&o);
    enum { N = 2500 };
    static char ids[N + 10][16], blobs[N + 10][16];
    static trace_store_span_t batch[N + 10];
    static trace_store_outcome_t out[N + 10];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "s%d", i);
        snprintf(blobs[i], sizeof(blobs[i]), "b%d", i);
        batch[i] = span(0, "big", ids[i], i == 7, blobs[i]);
    }
    batch[N] = span(0, "big", "s1234", 0, "second copy"); /* a duplicate in the same batch */
    append(s, batch, N + 1, 1000, out);
    for (int i = 0; i < N; i++)
        ck_assert_msg(out[i] == TRACE_STORE_ADDED, "span %d: %d", i, out[i]);
    ck_assert_int_eq(out[N], TRACE_STORE_ADDED);

    /* again, with ten new spans among the old ones */
    for (int i = 0; i < 10; i++) {
        snprintf(ids[N + i], sizeof(ids[N + i]), "new%d", i);
        snprintf(blobs[N + i], sizeof(blobs[N + i]), "n%d", i);
        batch[N + i] = span(0, "big", ids[N + i], 0, blobs[N + i]);
    }
    append(s, batch, N + 10, 2000, out);
    for (int i = 0; i < N + 10; i++)
        ck_assert_msg(out[i] == TRACE_STORE_ADDED, "span %d: %d", i, out[i]);

    char err[256];
    trace_store_ref_t ref = {0, "big", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 10000, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    ck_assert(t[0].has_run);
    ck_assert_int_eq(t[0].duplicates, N + 1);
    ck_assert_uint_eq(t[0].span_count, N + 10);
    for (size_t i = 0; i < t[0].span_count; i++) /* the first copy of s1234 was kept */
        ck_assert(t[0].blob_lens[i] != strlen("second copy") ||
                  memcmp(t[0].blobs[i], "second copy", t[0].blob_lens[i]) != 0);
    trace_store_traces_free(t, 1);
    trace_store_free(s);
}
END_TEST

/* Replays that come after a trace was published give no revision: the load
 * finds nothing new, counts them once, and ends the lease itself. */
START_TEST(replays_after_publication) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t spans[2] = {span(5, "R", "r", 1, "run"), span(5, "R", "a", 0, "call")};
    trace_store_outcome_t out[2];
    append(s, spans, 2, 0, out);
    char err[256];
    trace_store_ref_t ref = {5, "R", 0}, *refs;
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100000, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    trace_store_done_t done = {5, "R", t[0].gen, t[0].revision, 1};
    ck_assert_int_eq(trace_store_finish(s, &done, 1, 3000, err, sizeof(err)), 0);
    trace_store_traces_free(t, 1);

    append(s, spans, 2, 4000, out); /* the whole trace replayed */
    ck_assert_uint_eq(due(s, 5, 4000 + o.grace_ms, &refs), 1);
    ref.due_ms = refs[0].due_ms;
    trace_store_refs_free(refs, 1);
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100000, &t, err, sizeof(err)), 0);
    ck_assert(!t[0].exists);
    ck_assert_int_eq(t[0].duplicates, 2);
    trace_store_traces_free(t, 1);
    ck_assert_uint_eq(due(s, 5, 99999999, &refs), 0); /* the lease ended, nothing left to do */
    trace_store_refs_free(refs, 0);

    /* a new span after the replays: revision 1, the replays not counted again */
    trace_store_span_t late = span(5, "R", "late", 0, "late");
    append(s, &late, 1, 9000, out);
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100000, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    ck_assert_int_eq(t[0].revision, 1);
    ck_assert_int_eq(t[0].duplicates, 0);
    ck_assert_uint_eq(t[0].span_count, 3);
    trace_store_traces_free(t, 1);
    trace_store_free(s);
}
END_TEST

/* Hex span ids are stored packed and come back as the same text; an id that
 * is not lowercase hex is kept as it is, even when its bytes are what a
 * packed id's are; replays of either are found. */
START_TEST(span_ids_round_trip) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    static const char *const ids[] = {"0123456789abcdef", "6162636465666768", "abcdefgh",
                                      "ABCDEF0123456789", "abc", "f"};
    enum { N = sizeof(ids) / sizeof(ids[0]) };
    trace_store_span_t batch[N + 2];
    for (size_t i = 0; i < N; i++)
        batch[i] = span(4, "H", ids[i], i == 0, ids[i]);
    batch[N] = span(4, "H", ids[1], 0, "replay");
    batch[N + 1] = span(4, "H", ids[2], 0, "replay");
    trace_store_outcome_t out[N + 2];
    append(s, batch, N + 2, 0, out);
    char err[256];
    trace_store_ref_t ref = {4, "H", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    ck_assert_uint_eq(t[0].span_count, N);
    ck_assert_int_eq(t[0].duplicates, 2);
    for (size_t i = 0; i < N; i++) {
        /* each id once, with its own blob (the first copy) */
        ck_assert_uint_eq(t[0].span_id_lens[i], strlen(ids[i]));
        ck_assert_int_eq(memcmp(t[0].span_ids[i], ids[i], strlen(ids[i])), 0);
        ck_assert_uint_eq(t[0].blob_lens[i], strlen(ids[i]));
        ck_assert_int_eq(memcmp(t[0].blobs[i], ids[i], strlen(ids[i])), 0);
    }
    trace_store_traces_free(t, 1);
    /* the packed id takes half its text: 1 + 8 + 1 + 16 bytes */
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "HGET t:v4:{spans:4}:m:H b");
    ck_assert_ptr_nonnull(r);
    long long expect = 0;
    for (size_t i = 0; i < N + 2; i++) {
        const char *id = batch[i].span_id;
        int packed = strcmp(id, "abcdefgh") != 0 && strcmp(id, "ABCDEF0123456789") != 0 &&
                     strcmp(id, "abc") != 0 && strcmp(id, "f") != 0;
        expect += 1 + (long long)(packed ? strlen(id) / 2 : strlen(id)) + 1 + (long long)batch[i].blob_len;
    }
    ck_assert_int_eq(atoll(r->str), expect);
    freeReplyObject(r);
    redisFree(c);
    trace_store_free(s);
}
END_TEST

/* Records that are cut short (a corrupted or foreign value under the key) end
 * the decoding; the spans before them are kept. */
START_TEST(malformed_records) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t one = span(6, "M", "a", 1, "good");
    trace_store_outcome_t out[1];
    append(s, &one, 1, 0, out);
    char err[256];
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    /* a record announcing a span_id of 5 bytes, then 1 */
    freeReplyObject(redisCommand(c, "RPUSH t:v4:{spans:6}:d:M %b", "\5z", (size_t)2));
    redisFree(c);
    trace_store_ref_t ref = {6, "M", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    ck_assert_uint_eq(t[0].span_count, 1);
    ck_assert_uint_eq(t[0].blob_lens[0], 4);
    ck_assert_int_eq(memcmp(t[0].blobs[0], "good", 4), 0);
    ck_assert_uint_eq(t[0].span_id_lens[0], 1);
    ck_assert_int_eq(t[0].span_ids[0][0], 'a');
    trace_store_traces_free(t, 1);
    trace_store_free(s);
}
END_TEST

START_TEST(expired_trace) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t run = span(2, "E", "r", 1, "x");
    trace_store_outcome_t out[1];
    append(s, &run, 1, 0, out);
    char err[256];
    trace_store_ref_t ref = {2, "E", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    trace_store_done_t done = {2, "E", t[0].gen, t[0].revision, 1};
    ck_assert_int_eq(trace_store_finish(s, &done, 1, 50, err, sizeof(err)), 0);
    trace_store_traces_free(t, 1);
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    freeReplyObject(redisCommand(c, "DEL t:v4:{spans:2}:d:E")); /* the spans' TTL ran out */
    redisFree(c);
    trace_store_span_t late = span(2, "E", "late", 0, "y");
    append(s, &late, 1, 10000, out);
    ck_assert_int_eq(out[0], TRACE_STORE_EXPIRED);
    trace_store_ref_t *refs;
    ck_assert_uint_eq(due(s, 2, 99999999, &refs), 0);
    trace_store_refs_free(refs, 0);
    trace_store_free(s);
}
END_TEST

/* A holder that crashed after publishing, before finishing: when spans came
 * since, the next load takes the next revision; when none did, the same one
 * (an identical duplicate, which at-least-once allows). */
START_TEST(crashed_lease) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t run = span(1, "C", "r", 1, "x");
    trace_store_outcome_t out[1];
    append(s, &run, 1, 0, out);
    char err[256];
    trace_store_ref_t ref = {1, "C", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 1000, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 0);
    trace_store_traces_free(t, 1);
    /* the holder dies; its lease runs out; nothing new: same revision */
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 2000, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 0);
    trace_store_traces_free(t, 1);
    /* dies again; a span arrives; the next load is revision 1 */
    trace_store_span_t late = span(1, "C", "late", 0, "y");
    append(s, &late, 1, 2500, out);
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 9000, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 1);
    ck_assert_uint_eq(t[0].span_count, 2);
    trace_store_done_t done = {1, "C", t[0].gen, t[0].revision, 1};
    ck_assert_int_eq(trace_store_finish(s, &done, 1, 3000, err, sizeof(err)), 0);
    trace_store_traces_free(t, 1);
    /* finished cleanly: the next revision is 2, no skip */
    append(s, &(trace_store_span_t){1, "C", "later", 0, "z", 1}, 1, 4000, out);
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 9000, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].revision, 2);
    trace_store_traces_free(t, 1);
    trace_store_free(s);
}
END_TEST

START_TEST(limits) {
    trace_store_options_t o = options();
    o.max_spans_per_trace = 2;
    o.max_open_traces = 1;
    trace_store_t *s = open_store(&o);
    trace_store_span_t batch[4] = {span(0, "A", "a", 0, "x"), span(0, "A", "b", 0, "x"),
                                   span(0, "A", "c", 0, "x"), span(0, "B", "a", 0, "x")};
    trace_store_outcome_t out[4];
    append(s, batch, 4, 0, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[1], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[2], TRACE_STORE_OVER_LIMIT);
    ck_assert_int_eq(out[3], TRACE_STORE_TOO_MANY_OPEN);
    trace_store_ref_t ref = {0, "A", 0};
    trace_store_trace_t *t;
    char err[256];
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].dropped, 1);
    ck_assert_uint_eq(t[0].span_count, 2);
    trace_store_traces_free(t, 1);
    trace_store_free(s);

    o = options();
    o.max_bytes_per_trace = 20; /* a record here is 1 + 1 + 1 + 6 = 9 bytes */
    s = open_store(&o);
    trace_store_span_t big[3] = {span(1, "C", "a", 0, "123456"), span(1, "C", "b", 0, "123456"),
                                 span(1, "C", "c", 0, "123456")};
    append(s, big, 3, 0, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[1], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[2], TRACE_STORE_OVER_LIMIT);
    append(s, big, 1, 0, out); /* a replay counts towards the limit too */
    ck_assert_int_eq(out[0], TRACE_STORE_OVER_LIMIT);
    ref = (trace_store_ref_t){1, "C", 0};
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t[0].dropped, 2);
    ck_assert_uint_eq(t[0].span_count, 2);
    ck_assert_uint_eq(t[0].blob_lens[1], 6);
    ck_assert_int_eq(memcmp(t[0].blobs[1], "123456", 6), 0);
    trace_store_traces_free(t, 1);

    /* a new trace whose first span alone is over the limit leaves no records,
     * and a span that fits is still taken after it */
    trace_store_span_t huge = span(1, "D", "h", 0, "0123456789012345678901234567890");
    append(s, &huge, 1, 0, out);
    ck_assert_int_eq(out[0], TRACE_STORE_OVER_LIMIT);
    trace_store_span_t small = span(1, "D", "s", 0, "ok");
    append(s, &small, 1, 0, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ref = (trace_store_ref_t){1, "D", 0};
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    ck_assert(t[0].exists);
    ck_assert_int_eq(t[0].dropped, 1);
    ck_assert_uint_eq(t[0].span_count, 1);
    ck_assert_int_eq(memcmp(t[0].blobs[0], "ok", 2), 0);
    trace_store_traces_free(t, 1);
    trace_store_free(s);
}
END_TEST

/* Keys expire, and live under one hash tag per partition (Redis Cluster). */
START_TEST(ttl_and_key_layout) {
    trace_store_options_t o = options();
    o.ttl_s = 120;
    trace_store_t *s = open_store(&o);
    trace_store_span_t one = span(7, "T", "a", 0, "x");
    trace_store_outcome_t out[1];
    append(s, &one, 1, 0, out);
    char err[256];
    redisContext *c = harness_redis_connect(redis, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "TTL t:v4:{spans:7}:d:T");
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    ck_assert(r->integer > 100 && r->integer <= 120);
    freeReplyObject(r);
    r = redisCommand(c, "TTL t:v4:{spans:7}:m:T"); /* bookkeeping outlives the spans */
    ck_assert(r->integer > 220 && r->integer <= 240);
    freeReplyObject(r);
    r = redisCommand(c, "ZSCORE t:v4:{spans:7}:due T");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "60000");
    freeReplyObject(r);
    /* every append renews both TTLs */
    freeReplyObject(redisCommand(c, "EXPIRE t:v4:{spans:7}:d:T 10"));
    freeReplyObject(redisCommand(c, "EXPIRE t:v4:{spans:7}:m:T 10"));
    trace_store_span_t two = span(7, "T", "b", 0, "y");
    append(s, &two, 1, 20000, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    r = redisCommand(c, "TTL t:v4:{spans:7}:d:T");
    ck_assert(r->integer > 100 && r->integer <= 120);
    freeReplyObject(r);
    r = redisCommand(c, "TTL t:v4:{spans:7}:m:T");
    ck_assert(r->integer > 220 && r->integer <= 240);
    freeReplyObject(r);
    /* the spans expired: loading drops the trace from the schedule */
    freeReplyObject(redisCommand(c, "DEL t:v4:{spans:7}:d:T t:v4:{spans:7}:m:T"));
    trace_store_ref_t ref = {7, "T", 0};
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)), 0);
    ck_assert(!t[0].exists);
    trace_store_traces_free(t, 1);
    r = redisCommand(c, "ZCARD t:v4:{spans:7}:due");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    trace_store_free(s);
}
END_TEST

/* Two pipelined round trips per batch, whatever its size. */
START_TEST(round_trips_per_batch) {
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    enum { N = 1000 };
    static trace_store_span_t spans[N];
    static char ids[N][16], traces[N][16];
    static trace_store_outcome_t out[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 16, "s%d", i);
        snprintf(traces[i], 16, "t%d", i % 50);
        spans[i] = span((i % 50) % 4, traces[i], ids[i], 0, "blob");
    }
    uint64_t before = trace_store_round_trips(s);
    append(s, spans, N, 0, out);
    /* the appends, then the schedule */
    ck_assert_uint_eq(trace_store_round_trips(s) - before, 2);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(out[i], TRACE_STORE_ADDED);
    int32_t parts[4] = {0, 1, 2, 3};
    trace_store_ref_t *refs;
    size_t n;
    char err[256];
    before = trace_store_round_trips(s);
    ck_assert_int_eq(trace_store_due(s, parts, 4, 1000000, 1000, &refs, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 50);
    trace_store_trace_t *t;
    ck_assert_int_eq(trace_store_load(s, refs, n, 2000000, &t, err, sizeof(err)), 0);
    ck_assert_uint_eq(trace_store_round_trips(s) - before, 2);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += t[i].span_count;
    ck_assert_uint_eq(total, N);
    trace_store_traces_free(t, n);
    trace_store_refs_free(refs, n);
    trace_store_free(s);
}
END_TEST

/* A redis-server that keeps its data across a restart (append-only file),
 * in place of the suite's. */
static void restart_redis_persistent(void) {
    char err[256];
    harness_redis_options_t ho = {true, NULL};
    harness_redis_free(redis);
    redis = harness_redis_start(&ho, err, sizeof(err));
    ck_assert_msg(redis != NULL, "%s", err);
}

/* A restarted Redis has lost our scripts: the store reconnects and reloads them. */
START_TEST(redis_restart_and_unreachable) {
    char err[256];
    restart_redis_persistent();
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t one = span(0, "A", "a", 1, "x");
    trace_store_outcome_t out[1];
    append(s, &one, 1, 0, out);
    ck_assert_int_eq(harness_redis_restart(redis, 100, err, sizeof(err)), 0);
    /* the first call after the restart may see the dropped connection; the
     * store reconnects, reloads its scripts, and the retry succeeds */
    int rc = trace_store_append(s, &one, 1, 0, out, err, sizeof(err));
    if (rc != 0)
        rc = trace_store_append(s, &one, 1, 0, out, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    /* persisted across the restart: the replay is found at load */
    trace_store_ref_t ref = {0, "A", 0};
    trace_store_trace_t *t;
    ck_assert_msg(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)) == 0, "%s", err);
    ck_assert(t[0].exists);
    ck_assert_uint_eq(t[0].span_count, 1);
    ck_assert_int_eq(t[0].duplicates, 1);
    trace_store_traces_free(t, 1);
    harness_redis_stop(redis);
    ck_assert_int_eq(trace_store_append(s, &one, 1, 0, out, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "redis 127.0.0.1:") != NULL, "%s", err);
    trace_store_free(s);

    o.port = harness_free_port();
    ck_assert_ptr_null(trace_store_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "cannot connect") != NULL, "%s", err);
}
END_TEST

/* The two halves of an append, as `dagprof run` overlaps them with polling:
 * the replies are the batch's own, and Redis going away between the halves
 * fails the second one without leaving stale replies behind. */
START_TEST(append_send_then_recv) {
    char err[256];
    restart_redis_persistent();
    trace_store_options_t o = options();
    trace_store_t *s = open_store(&o);
    trace_store_span_t first[] = {span(0, "A", "a1", 0, "x"), span(1, "B", "b1", 1, "y")};
    trace_store_outcome_t out[3];
    append(s, first, 2, 0, out);

    /* a duplicate, a new span and a span of a new trace, sent before the
     * replies are wanted */
    trace_store_span_t batch[] = {span(0, "A", "a1", 0, "x"), span(0, "A", "a2", 0, "xx"),
                                  span(2, "C", "c1", 1, "z")};
    trace_store_pending_t *pd = NULL;
    ck_assert_msg(trace_store_append_send(s, batch, 3, 10, &pd, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(pd);
    ck_assert_msg(trace_store_append_recv(s, pd, out, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[1], TRACE_STORE_ADDED);
    ck_assert_int_eq(out[2], TRACE_STORE_ADDED);
    trace_store_ref_t *refs;
    ck_assert_uint_eq(due(s, 2, 10 + o.grace_ms, &refs), 1); /* scheduled by the split append */
    trace_store_refs_free(refs, 1);

    /* Redis restarts between the halves: the receive fails, the next append
     * works and finds what the first half stored */
    trace_store_span_t late = span(0, "A", "a3", 0, "xxx");
    ck_assert_msg(trace_store_append_send(s, &late, 1, 20, &pd, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(harness_redis_restart(redis, 100, err, sizeof(err)), 0);
    int rc = trace_store_append_recv(s, pd, out, err, sizeof(err));
    /* as after any restart, the first call may still meet the dropped
     * connection; the store reconnects and the retry succeeds */
    int again = trace_store_append(s, &late, 1, 20, out, err, sizeof(err));
    if (again != 0)
        again = trace_store_append(s, &late, 1, 20, out, err, sizeof(err));
    ck_assert_msg(again == 0, "%s", err);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    trace_store_span_t check = span(0, "A", "a3", 0, "xxx");
    append(s, &check, 1, 30, out);
    ck_assert_int_eq(out[0], TRACE_STORE_ADDED);
    /* a1, a2, a3 once each; a1 replayed once, a3 stored by the retry and the
     * check, and by the first half when its replies came (AOF) */
    trace_store_ref_t ref = {0, "A", 0};
    trace_store_trace_t *t;
    ck_assert_msg(trace_store_load(s, &ref, 1, 100, &t, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(t[0].span_count, 3);
    if (rc == 0)
        ck_assert_int_eq(t[0].duplicates, 3);
    ck_assert_msg(t[0].duplicates == 2 || t[0].duplicates == 3, "%lld", (long long)t[0].duplicates);
    trace_store_traces_free(t, 1);

    /* nothing to send is fine */
    ck_assert_int_eq(trace_store_append_send(s, batch, 0, 40, &pd, err, sizeof(err)), 0);
    ck_assert_int_eq(trace_store_append_recv(s, pd, out, err, sizeof(err)), 0);
    trace_store_free(s);
}
END_TEST

START_TEST(password) {
    char err[256];
    harness_redis_options_t ho = {false, "s3cret"};
    harness_redis_free(redis);
    redis = harness_redis_start(&ho, err, sizeof(err));
    ck_assert_msg(redis != NULL, "%s", err);
    trace_store_options_t o = options();
    ck_assert_ptr_null(trace_store_new(&o, err, sizeof(err)));
    ck_assert_msg(strstr(err, "NOAUTH") != NULL, "%s", err);
    o.password = "wrong";
    ck_assert_ptr_null(trace_store_new(&o, err, sizeof(err)));
    o.password = "s3cret";
    trace_store_t *s = open_store(&o);
    trace_store_free(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("trace_store");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, append_dedup_due_load_finish);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, large_batch_in_chunks);
    tcase_add_test(tc, expired_trace);
    tcase_add_test(tc, replays_after_publication);
    tcase_add_test(tc, malformed_records);
    tcase_add_test(tc, span_ids_round_trip);
    tcase_add_test(tc, crashed_lease);
    tcase_add_test(tc, ttl_and_key_layout);
    tcase_add_test(tc, round_trips_per_batch);
    tcase_add_test(tc, redis_restart_and_unreachable);
    tcase_add_test(tc, append_send_then_recv);
    tcase_add_test(tc, password);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
