/* test_fleet_stream.c -- the live fleet view end to end: `dagprof run`
 * instances put every run in the baseline store, and `dagprof trends` reads
 * the same figures as the runs' trace files give offline; replays, late
 * spans and kill -9 change nothing but what they must; a planted regression
 * is flagged by the first run where the rule holds, and goes to dag-trends.
 *
 * Real servers and processes (tests/harness_stream.h). The offline figures
 * are the engine's baselines over `dagprof profile --format json` of the
 * trace files, computed with the same windows (each DAG's window ends at its
 * latest run end). */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"
#include "baseline_store.h"
#include "buf.h"
#include "harness.h"
#include "harness_stream.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "span_codec.h"
#include "trend_avro.h"
#include "trend_record.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"
/* How long a figure may take to settle: generous, for a slow, busy machine;
 * FLEET_SETTLE_S shortens it when checking that the tests fail on broken code. */
#define SETTLE_S settle_s()
static int settle_s(void) {
    const char *v = getenv("FLEET_SETTLE_S");
    return v && atoi(v) > 0 ? atoi(v) : 420;
}

static stream_fixture_t fx;

static void setup(void) {
    stream_fixture_start(&fx, DAGPROF_BINARY_DIR, NULL, 4, "dagprof-fleet");
}

static void teardown(void) {
    stream_fixture_stop(&fx, getenv("FLEET_KEEP") != NULL); /* FLEET_KEEP=1: keep the logs */
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- processes --------------------------------------------------------------------- */

typedef struct instance {
    pid_t pid;
    char *log;
    int metrics_port;
    char env_metrics[64];
} instance_t;

static void instance_start(instance_t *in, const char *name) {
    char file[64];
    snprintf(file, sizeof(file), "%s.log", name);
    in->log = stream_path_in(&fx, file);
    in->metrics_port = harness_free_port();
    ck_assert_int_gt(in->metrics_port, 0);
    snprintf(in->env_metrics, sizeof(in->env_metrics), "DAGPROF_METRICS_PORT=%d", in->metrics_port);
    const char *extra[] = {in->env_metrics, "DAGPROF_FLEET_ENABLED=true", "DAGPROF_FLEET_REFRESH_MS=100",
                           "DAGPROF_FLEET_TREND_INTERVAL_S=3600", NULL};
    const char *argv[] = {DAGPROF, "run", NULL};
    in->pid = harness_spawn(argv, stream_run_env(&fx, extra), in->log);
    ck_assert_int_gt(in->pid, 0);
}

static void instance_stop(instance_t *in) {
    int status = -1;
    ck_assert_int_eq(harness_kill(in->pid, SIGTERM), 0);
    ck_assert_int_eq(harness_wait(in->pid, 120000, &status), 0);
    ck_assert_int_eq(status, 0);
    free(in->log);
    in->log = NULL;
}

static void instance_kill9(instance_t *in) {
    int status = -1;
    ck_assert_int_eq(harness_kill(in->pid, SIGKILL), 0);
    ck_assert_int_eq(harness_wait(in->pid, 120000, &status), 0);
    ck_assert_int_eq(status, 128 + SIGKILL);
    free(in->log);
    in->log = NULL;
}

static void run_to_exit(const char *const argv[], const char *name) {
    char *log = stream_path_in(&fx, name);
    stream_run_to_exit(&fx, argv, log, 0);
    free(log);
}

static void loadgen_kafka(int runs, int seed, const char *rate) {
    char runs_text[16], seed_text[16];
    snprintf(runs_text, sizeof(runs_text), "%d", runs);
    snprintf(seed_text, sizeof(seed_text), "%d", seed);
    const char *argv[] = {DAGPROF, "loadgen", "--loadgen.runs", runs_text, "--loadgen.seed", seed_text,
                          "--loadgen.late.fraction", "0.02", "--loadgen.rate", rate, NULL};
    run_to_exit(argv, "loadgen.log");
}

static char *loadgen_file(int runs, int seed) {
    char runs_text[16], seed_text[16];
    snprintf(runs_text, sizeof(runs_text), "%d", runs);
    snprintf(seed_text, sizeof(seed_text), "%d", seed);
    char *spans = stream_path_in(&fx, "spans.jsonl");
    const char *argv[] = {DAGPROF, "loadgen", "--loadgen.runs", runs_text, "--loadgen.seed", seed_text,
                          "--loadgen.late.fraction", "0.02", "--loadgen.output", spans, NULL};
    run_to_exit(argv, "loadgen-file.log");
    return spans;
}

/* ---- HTTP, for /metrics -------------------------------------------------------------- */

static long long metric_value(int port, const char *name) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long long value = -1;
    buf_t raw = BUF_INIT;
    const char request[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(request) - 1)) {
        char chunk[4096];
        ssize_t n;
        while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
            buf_append(&raw, chunk, (size_t)n);
        size_t len = strlen(name);
        for (const char *line = raw.data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (strncmp(line, name, len) == 0 && line[len] == ' ')
                value = strtoll(line + len + 1, NULL, 10);
    }
    buf_free(&raw);
    close(fd);
    return value;
}

/* ---- the figures, offline and live ----------------------------------------------------- */

/* The fields of a DAG's baseline both commands must agree on: all but where
 * the window ends (offline: the latest run of all the files; live: of the
 * DAG) and the regressions, which `profile --trends` finds run by run and the
 * live listing does not carry (the stream puts them in the profiles). */
static json_t *by_dag_id(json_t *root) {
    json_t *byid = json_object();
    size_t i;
    json_t *dag;
    json_array_foreach(json_object_get(root, "dags"), i, dag) {
        json_t *copy = json_deep_copy(dag);
        json_object_del(copy, "window_start_us");
        json_object_del(copy, "window_end_us");
        json_object_del(copy, "regressions");
        json_object_set_new(byid, json_string_value(json_object_get(dag, "dag_id")), copy);
    }
    return byid;
}

/* dag_id -> its figures from `dagprof profile --trends --format json` over
 * the trace files: what a user gets offline. */
static json_t *offline_figures(const char *spans, size_t want_runs) {
    char *out = NULL;
    ck_assert_int_ge(asprintf(&out, "%s.trends", spans), 0);
    unlink(out);
    const char *argv[] = {DAGPROF, "profile", "--trends", "--window", "24h", "--format", "json",
                          spans, NULL};
    int status = -1;
    pid_t pid = harness_spawn(argv, NULL, out);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(harness_wait(pid, 300000, &status), 0);
    ck_assert_int_eq(status, 0);
    json_error_t e;
    json_t *root = json_load_file(out, 0, &e);
    ck_assert_msg(root != NULL, "dagprof profile --trends output: %s", e.text);
    json_t *byid = by_dag_id(root);
    json_decref(root);
    long long runs = 0;
    const char *key;
    json_t *dag;
    json_object_foreach(byid, key, dag) {
        runs += json_integer_value(json_object_get(dag, "runs"));
    }
    ck_assert_msg(runs == (long long)want_runs, "%lld runs offline in %s, expected %zu; %zu run spans in it",
                  runs, spans, want_runs, harness_file_count(spans, "\"kind\":\"run\""));
    free(out);
    return byid;
}

/* dag_id -> figures, as `dagprof trends --format json` reads them from Redis. */
static json_t *live_figures(void) {
    char *out = stream_path_in(&fx, "trends.json");
    unlink(out); /* the log is appended to */
    const char *argv[] = {DAGPROF, "trends", "--format", "json", "--window", "24h", NULL};
    int status = -1;
    pid_t pid = harness_spawn(argv, stream_run_env(&fx, NULL), out);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(harness_wait(pid, 120000, &status), 0);
    ck_assert_int_eq(status, 0);
    json_error_t e;
    json_t *root = json_load_file(out, 0, &e);
    ck_assert_msg(root != NULL, "dagprof trends output: %s", e.text);
    json_t *byid = by_dag_id(root);
    json_decref(root);
    free(out);
    return byid;
}

/* Equal, numbers within a relative 1e-9 (JSON printing of sums of doubles). */
static int json_near(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return fabs(x - y) <= 1e-9 * fmax(1.0, fmax(fabs(x), fabs(y)));
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)a, key, value) {
            json_t *other = json_object_get(b, key);
            if (!other || !json_near(value, other))
                return 0;
        }
        return 1;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_near(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal(a, b);
}

static long long total_runs(const json_t *byid) {
    long long runs = 0;
    const char *key;
    json_t *dag;
    json_object_foreach((json_t *)byid, key, dag) {
        runs += json_integer_value(json_object_get(dag, "runs"));
    }
    return runs;
}

/* Poll `dagprof trends` until its figures equal `expected`; fail with both
 * when they never do. */
static void wait_live_equals(const json_t *expected, int timeout_s) {
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    json_t *live = NULL;
    for (;;) {
        json_decref(live);
        live = live_figures();
        if (json_near(live, expected))
            break;
        if (mono_ms() > deadline) {
            char *a = json_dumps(expected, JSON_SORT_KEYS | JSON_COMPACT), *b = json_dumps(live, JSON_SORT_KEYS | JSON_COMPACT);
            fprintf(stderr, "expected (%lld runs): %.3000s\nlive (%lld runs): %.3000s\n", total_runs(expected), a,
                    total_runs(live), b);
            free(a);
            free(b);
            ck_abort_msg("the live baselines never matched the offline figures");
        }
        sleep(1);
    }
    json_decref(live);
}

/* trace_id -> revision of every stored run record. */
static int collect_revision(void *opaque, const char *trace_id, int64_t revision, const void *record, size_t len) {
    (void)record;
    (void)len;
    json_object_set_new(opaque, trace_id, json_integer(revision));
    return 0;
}

static json_t *stored_revisions(void) {
    char err[512];
    trace_store_options_t o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = harness_redis_port(fx.redis);
    o.prefix = "dagprof";
    baseline_store_t *s = baseline_store_new(&o, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    baseline_store_dag_t *dags = NULL;
    size_t n = 0;
    ck_assert_int_eq(baseline_store_dags(s, &dags, &n, err, sizeof(err)), 0);
    json_t *revs = json_object();
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(baseline_store_read(s, dags[i].dag_id, dags[i].version, INT64_MIN / 2, INT64_MAX,
                                             collect_revision, revs, err, sizeof(err)),
                         0);
    baseline_store_dags_free(dags, n);
    baseline_store_free(s);
    return revs;
}

/* The Redis memory the baseline keys take per run, printed for the README. */
static void print_memory_per_run(long long runs) {
    char err[256];
    redisContext *c = harness_redis_connect(fx.redis, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    long long bytes = 0, record_bytes = 0, cursor = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %lld MATCH dagprof:b1:* COUNT 1000", cursor);
        ck_assert_ptr_nonnull(r);
        cursor = strtoll(r->element[0]->str, NULL, 10);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            redisReply *m = redisCommand(c, "MEMORY USAGE %s SAMPLES 0", key);
            if (m && m->type == REDIS_REPLY_INTEGER)
                bytes += m->integer;
            freeReplyObject(m);
            if (strstr(key, ":rec:")) {
                redisReply *v = redisCommand(c, "HVALS %s", key);
                for (size_t j = 0; v && j < v->elements; j++)
                    record_bytes += (long long)v->element[j]->len;
                freeReplyObject(v);
            }
        }
        freeReplyObject(r);
    } while (cursor != 0);
    redisFree(c);
    fprintf(stderr, "fleet view: %lld runs take %lld bytes of Redis memory, %.0f per run (records %.0f bytes each)\n",
            runs, bytes, (double)bytes / (double)runs, (double)record_bytes / (double)runs);
}

/* ---- producing by hand ------------------------------------------------------------------- */

static rd_kafka_t *producer_new(void) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(fx.kafka), err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "%s", err);
    return rk;
}

static void produce_span(rd_kafka_t *rk, span_codec_t *codec, const span_t *span) {
    char err[512];
    buf_t b = BUF_INIT;
    ck_assert_msg(span_codec_encode_avro(codec, span, &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("dag-spans"),
                                       RD_KAFKA_V_KEY(span->trace_id, strlen(span->trace_id)),
                                       RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    buf_free(&b);
}

static void append_span(const char *path, const span_t *span) {
    buf_t b = BUF_INIT;
    ck_assert_int_eq(span_codec_encode_json(span, &b), 0);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fprintf(f, "%s\n", b.data), 0);
    ck_assert_int_eq(fclose(f), 0);
    buf_free(&b);
}

/* ---- the tests ----------------------------------------------------------------------------- */

/* The spans of the file as JSON, for picking node spans to add late spans under. */
static json_t *first_node_span(const char *spans, const char *trace_id) {
    FILE *f = fopen(spans, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    json_t *found = NULL;
    while (!found && getline(&line, &cap, f) > 0) {
        json_t *s = json_loads(line, 0, NULL);
        if (s && strcmp(json_string_value(json_object_get(s, "trace_id")), trace_id) == 0 &&
            json_is_string(json_object_get(s, "kind")) &&
            strcmp(json_string_value(json_object_get(s, "kind")), "node") == 0)
            found = json_incref(s);
        json_decref(s);
    }
    free(line);
    fclose(f);
    ck_assert_msg(found != NULL, "no node span of %s", trace_id);
    return found;
}

START_TEST(two_instances_replays_and_late_spans_match_offline) {
    enum { RUNS = 2000, SEED = 11 };
    instance_t a, b;
    instance_start(&a, "run1");
    instance_start(&b, "run2");
    stream_wait_for_log(a.log, "owned=2 strategy", 120);
    stream_wait_for_log(b.log, "owned=2 strategy", 120);

    char *spans = loadgen_file(RUNS, SEED);
    loadgen_kafka(RUNS, SEED, "4000");
    json_t *expected = offline_figures(spans, RUNS);
    ck_assert_uint_gt(json_object_size(expected), 4);
    wait_live_equals(expected, SETTLE_S);
    json_t *before = stored_revisions();
    ck_assert_uint_eq(json_object_size(before), RUNS);
    print_memory_per_run(RUNS);

    /* the whole input topic twice more, then a late llm span for three runs */
    long long consumed = metric_value(a.metrics_port, "dagprof_spans_consumed_total") +
                         metric_value(b.metrics_port, "dagprof_spans_consumed_total");
    loadgen_kafka(RUNS, SEED, "0");
    loadgen_kafka(RUNS, SEED, "0");
    const char *late_traces[3];
    char err[512];
    span_codec_t *codec = span_codec_new(err, sizeof(err));
    rd_kafka_t *rk = producer_new();
    const char *key;
    json_t *value;
    size_t picked = 0;
    json_object_foreach(before, key, value) {
        if (picked == 3)
            break;
        late_traces[picked++] = key;
    }
    for (size_t i = 0; i < 3; i++) {
        json_t *node = first_node_span(spans, late_traces[i]);
        span_t s;
        memset(&s, 0, sizeof(s));
        char span_id[32];
        snprintf(span_id, sizeof(span_id), "late%012zu", i);
        s.trace_id = late_traces[i];
        s.span_id = span_id;
        s.parent_span_id = json_string_value(json_object_get(node, "span_id"));
        s.kind = SPAN_KIND_LLM;
        s.start_us = json_integer_value(json_object_get(node, "start_us"));
        s.end_us = s.start_us + 1000;
        s.status = SPAN_STATUS_OK;
        s.model = "claude-sonnet-4-5";
        s.provider = "anthropic";
        s.input_tokens = 100000;
        s.output_tokens = 1000;
        produce_span(rk, codec, &s);
        append_span(spans, &s);
        json_decref(node);
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    span_codec_free(codec);

    /* every replayed span and the late ones consumed */
    long long spans_in_file = (long long)harness_file_count(spans, "\"trace_id\"");
    long long want = consumed + 2 * (spans_in_file - 3) + 3;
    int64_t deadline = mono_ms() + SETTLE_S * 1000LL;
    while (metric_value(a.metrics_port, "dagprof_spans_consumed_total") +
               metric_value(b.metrics_port, "dagprof_spans_consumed_total") <
           want) {
        ck_assert_msg(mono_ms() < deadline, "the replays were never all consumed");
        sleep(1);
    }
    json_t *expected_late = offline_figures(spans, RUNS);
    ck_assert(!json_near(expected_late, expected)); /* the late spans cost something */
    wait_live_equals(expected_late, SETTLE_S);
    /* nothing but the late traces' revisions changed */
    json_t *after = stored_revisions();
    ck_assert_uint_eq(json_object_size(after), RUNS);
    json_object_foreach(before, key, value) {
        int late = 0;
        for (size_t i = 0; i < 3; i++)
            late |= strcmp(key, late_traces[i]) == 0;
        long long was = json_integer_value(value), now = json_integer_value(json_object_get(after, key));
        if (late)
            ck_assert_msg(now == was + 1, "%s: revision %lld after a late span, was %lld", key, now, was);
        else
            ck_assert_msg(now == was, "%s: revision %lld after replays, was %lld", key, now, was);
    }
    ck_assert_int_ge(metric_value(a.metrics_port, "dagprof_baseline_puts_total") +
                         metric_value(b.metrics_port, "dagprof_baseline_puts_total"),
                     RUNS + 3);
    json_decref(after);
    json_decref(before);
    json_decref(expected_late);
    json_decref(expected);
    instance_stop(&a);
    instance_stop(&b);
    free(spans);
}
END_TEST

START_TEST(kill9_during_updates_loses_and_doubles_nothing) {
    enum { RUNS = 800, SEED = 23 };
    instance_t a, b, c;
    instance_start(&a, "run1");
    instance_start(&b, "run2");
    stream_wait_for_log(a.log, "owned=2 strategy", 120);
    stream_wait_for_log(b.log, "owned=2 strategy", 120);
    char *spans = loadgen_file(RUNS, SEED);
    json_t *expected = offline_figures(spans, RUNS);

    char runs_text[16], seed_text[16];
    snprintf(runs_text, sizeof(runs_text), "%d", RUNS);
    snprintf(seed_text, sizeof(seed_text), "%d", SEED);
    const char *gen[] = {DAGPROF, "loadgen", "--loadgen.runs", runs_text, "--loadgen.seed", seed_text,
                         "--loadgen.late.fraction", "0.02", "--loadgen.rate", "1500", NULL};
    char *genlog = stream_path_in(&fx, "loadgen.log");
    pid_t g = harness_spawn(gen, stream_run_env(&fx, NULL), genlog);
    ck_assert_int_gt(g, 0);
    /* kill -9 once the instance has put runs, in the middle of the stream */
    int64_t deadline = mono_ms() + SETTLE_S * 1000LL;
    while (metric_value(a.metrics_port, "dagprof_baseline_puts_total") < 100) {
        ck_assert_msg(mono_ms() < deadline, "instance 1 never put 100 runs");
        usleep(100000);
    }
    instance_kill9(&a);
    instance_start(&c, "run3");
    int status = -1;
    ck_assert_int_eq(harness_wait(g, SETTLE_S * 1000, &status), 0);
    ck_assert_int_eq(status, 0);
    wait_live_equals(expected, SETTLE_S);
    json_t *revs = stored_revisions();
    ck_assert_uint_eq(json_object_size(revs), RUNS);
    json_decref(revs);
    json_decref(expected);
    instance_stop(&b);
    instance_stop(&c);
    free(genlog);
    free(spans);
}
END_TEST

/* One run of the planted DAG a -> b -> c; b takes b_ms. */
static void planted_run(rd_kafka_t *rk, span_codec_t *codec, const char *trace_id, int64_t start_us, int64_t b_ms) {
    const int64_t ms = 1000;
    int64_t a_end = start_us + 500 * ms, b_end = a_end + b_ms * ms, c_end = b_end + 500 * ms;
    const char *deps_b[] = {"a"}, *deps_c[] = {"b"};
    span_t spans[4];
    memset(spans, 0, sizeof(spans));
    const char *ids[4] = {"r000000000000000", "a000000000000000", "b000000000000000", "c000000000000000"};
    for (int i = 0; i < 4; i++) {
        spans[i].trace_id = trace_id;
        spans[i].span_id = ids[i];
        spans[i].dag_id = "planted";
        spans[i].status = SPAN_STATUS_OK;
        spans[i].kind = i == 0 ? SPAN_KIND_RUN : SPAN_KIND_NODE;
        spans[i].parent_span_id = i == 0 ? NULL : ids[0];
    }
    spans[0].name = "planted";
    spans[0].start_us = start_us, spans[0].end_us = c_end;
    spans[1].node_id = "a", spans[1].start_us = start_us, spans[1].end_us = a_end;
    spans[2].node_id = "b", spans[2].start_us = a_end, spans[2].end_us = b_end;
    spans[2].depends_on = deps_b, spans[2].depends_on_count = 1;
    spans[3].node_id = "c", spans[3].start_us = b_end, spans[3].end_us = c_end;
    spans[3].depends_on = deps_c, spans[3].depends_on_count = 1;
    for (int i = 3; i >= 0; i--) /* the run span last, as usual */
        produce_span(rk, codec, &spans[i]);
}

static int has_regression(const profile_t *p, const char *node_id) {
    for (size_t i = 0; i < p->bottleneck_count; i++)
        if (p->bottlenecks[i].type == BOTTLENECK_REGRESSION &&
            (node_id ? p->bottlenecks[i].node_id && strcmp(p->bottlenecks[i].node_id, node_id) == 0
                     : !p->bottlenecks[i].node_id))
            return 1;
    return 0;
}

START_TEST(planted_regression_is_flagged_by_the_first_slow_run) {
    enum { NORMAL = 120, SLOW = 200 };
    instance_t a;
    instance_start(&a, "run1");
    stream_wait_for_log(a.log, "owned=4 strategy", 120);
    char err[512];
    span_codec_t *codec = span_codec_new(err, sizeof(err));
    rd_kafka_t *rk = producer_new();
    const int64_t base_us = 1735689600000000LL;
    char trace_id[32];
    for (int i = 0; i < NORMAL; i++) {
        snprintf(trace_id, sizeof(trace_id), "normal-%03d", i);
        planted_run(rk, codec, trace_id, base_us + (int64_t)i * 10000000, 1000 + (i % 10) * 10);
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* the baseline holds the normal runs before the slow ones come */
    int64_t deadline = mono_ms() + SETTLE_S * 1000LL;
    for (;;) {
        json_t *live = live_figures();
        long long runs = total_runs(live);
        json_decref(live);
        if (runs == NORMAL)
            break;
        ck_assert_msg(mono_ms() < deadline, "the normal runs never all reached the baseline (%lld)", runs);
        sleep(1);
    }
    for (int i = 0; i < SLOW; i++) {
        snprintf(trace_id, sizeof(trace_id), "slow-%03d", i);
        planted_run(rk, codec, trace_id, base_us + (int64_t)(NORMAL + i) * 10000000, 3000 + (i % 10) * 30);
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    span_codec_free(codec);

    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    rd_kafka_t *profiles = stream_test_consumer(&fx, "dag-profiles");
    size_t seen = 0, normal_flagged = 0;
    int first_slow_flagged = -1;
    deadline = mono_ms() + SETTLE_S * 1000LL;
    while (seen < NORMAL + SLOW && mono_ms() < deadline) {
        profile_t *p = NULL;
        json_t *got = stream_poll_profile(profiles, avro, 500, &p);
        if (!got)
            continue;
        seen++;
        if (strncmp(p->trace_id, "normal-", 7) == 0)
            normal_flagged += (size_t)has_regression(p, "b");
        if (strcmp(p->trace_id, "slow-000") == 0) {
            first_slow_flagged = has_regression(p, "b");
            char *text = json_dumps(json_object_get(got, "bottlenecks"), JSON_COMPACT);
            ck_assert_msg(has_regression(p, NULL), "the slow run's wall regression is missing: %s", text);
            free(text);
            for (size_t i = 0; i < p->bottleneck_count; i++)
                if (p->bottlenecks[i].type == BOTTLENECK_REGRESSION && p->bottlenecks[i].node_id)
                    ck_assert_msg(strstr(p->bottlenecks[i].details, "over 120 runs (24h)") != NULL, "details: %s",
                                  p->bottlenecks[i].details);
        }
        json_decref(got);
        profile_free(p);
    }
    stream_close_consumer(profiles);
    profile_avro_free(avro);
    ck_assert_uint_eq(seen, NORMAL + SLOW);
    ck_assert_uint_eq(normal_flagged, 0);
    ck_assert_int_eq(first_slow_flagged, 1);

    /* and a trend record naming node b on dag-trends */
    rd_kafka_t *trends = stream_test_consumer(&fx, "dag-trends");
    char avro_err[256] = "";
    trend_avro_t *trend_avro = trend_avro_new(avro_err, sizeof(avro_err));
    ck_assert_msg(trend_avro != NULL, "%s", avro_err);
    int found = 0;
    deadline = mono_ms() + 120000;
    while (!found && mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(trends, 500);
        if (!m)
            continue;
        if (!m->err) {
            /* output.format avro (the default): a Trend record of schemas/trend.avsc */
            trend_record_t *t = NULL;
            char terr[256] = "";
            ck_assert_msg(trend_avro_decode(trend_avro, m->payload, m->len, &t, terr,
                                            sizeof(terr)) == 0,
                          "a trend record that is not a Trend: %s", terr);
            for (size_t i = 0; i < t->regression_count; i++) {
                const baseline_regression_t *r = &t->regressions[i].regression;
                if (r->what == BASELINE_REGRESSION_NODE_EXEC && r->node_id &&
                    strcmp(r->node_id, "b") == 0)
                    found = 1;
            }
            ck_assert_str_eq(t->figures->dag_id, "planted");
            ck_assert_int_eq(m->key_len, 7);
            trend_avro_record_free(t);
        }
        rd_kafka_message_destroy(m);
    }
    stream_close_consumer(trends);
    trend_avro_free(trend_avro);
    ck_assert_msg(found, "no trend record with node b's regression on dag-trends");
    instance_stop(&a);
}
END_TEST

/* Bad input to `dagprof trends`: clear errors, exit codes. */
START_TEST(trends_bad_input) {
    char *log = stream_path_in(&fx, "bad.log");
    const char *window[] = {DAGPROF, "trends", "--window", "2h", NULL};
    stream_run_to_exit(&fx, window, log, 2);
    ck_assert_uint_eq(harness_file_count(log, "is not one of 1h, 24h, 7d"), 1);
    const char *nodag[] = {DAGPROF, "trends", "--compare", "v1", "v2", NULL};
    stream_run_to_exit(&fx, nodag, log, 2);
    ck_assert_uint_eq(harness_file_count(log, "name the DAG whose versions they are with --dag ID"), 1);
    const char *unknown[] = {DAGPROF, "trends", "--dag", "nothing-here", NULL};
    stream_run_to_exit(&fx, unknown, log, 1);
    ck_assert_uint_eq(harness_file_count(log, "no runs of DAG \"nothing-here\" in Redis"), 1);
    const char *noredis[] = {DAGPROF, "trends", "--redis.port", "1", NULL};
    stream_run_to_exit(&fx, noredis, log, 1);
    ck_assert_uint_eq(harness_file_count(log, "cannot connect"), 1);
    free(log);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("fleet_stream");
    TCase *tc = tcase_create("fleet");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, trends_bad_input);
    tcase_add_test(tc, planted_regression_is_flagged_by_the_first_slow_run);
    if (!getenv("FLEET_QUICK")) { /* FLEET_QUICK=1: skip the long ones while developing */
        tcase_add_test(tc, kill9_during_updates_loses_and_doubles_nothing);
        tcase_add_test(tc, two_instances_replays_and_late_spans_match_offline);
    }
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
