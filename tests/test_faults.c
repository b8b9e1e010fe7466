/* test_faults.c -- `dagprof run` under faults: crashes, rebalances, Redis and
 * broker outages, shutdowns.
 *
 * Real servers (redis-server, the mock Kafka broker) and real processes, as in
 * test_stream.c: `dagprof loadgen` streams a fleet with a fixed seed while a
 * fault is injected, and a plain consumer reads dag-profiles. Whatever the
 * fault, every run must come out, and its latest revision must equal the
 * offline `dagprof profile --format json` of the same spans figure for figure
 * (span_count included, so no span is lost or counted twice). After a crash a
 * profile may be delivered twice (at-least-once), but a repeated profile_id
 * must carry identical figures; without a crash no profile may repeat.
 *
 * The moments of the kills are random; the seed is printed, and FAULTS_SEED
 * replays a schedule. A failed test leaves its temp dir (logs, spans, offline
 * profiles) behind; FAULTS_KEEP_TMP=1 keeps those of passing tests too.
 * Deadlines are minutes long because a killed instance's leases (30 s) must
 * run out before its traces are taken up again, and the machines these run on
 * are slow and busy; a deadline only matters when something is broken. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "harness.h"
#include "harness_stream.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "span_codec.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"

/* The longest wait for every run to be profiled after the load ended: a
 * killed instance's leases (STREAM_LEASE_MS, 30 s) come first. */
#define FAULTS_SETTLE_S 240
/* The longest wait for a process to start, join or stop. */
#define FAULTS_PROCESS_S 90
/* Grace after the run span: short, so that most runs are profiled during the
 * load, and late spans make revisions. */
#define GRACE_MS 200

static stream_fixture_t fx;
static int64_t started_ms;

/* ---- servers and processes ------------------------------------------------------ */

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void servers_start(bool persistence) {
    started_ms = mono_ms();
    harness_redis_options_t opts = {.persistence = persistence, .password = NULL};
    stream_fixture_start(&fx, DAGPROF_BINARY_DIR, &opts, 4, "dagprof-faults");
}

static void setup(void) {
    servers_start(false);
}

/* Redis writes every change to its append-only file before answering, so a
 * restart keeps everything the processor was told is stored. */
static void setup_persistent(void) {
    servers_start(true);
}

static void teardown(void) {
    fprintf(stderr, "faults: passed in %lld s\n", (long long)((mono_ms() - started_ms) / 1000));
    bool keep = getenv("FAULTS_KEEP_TMP") != NULL;
    if (keep)
        fprintf(stderr, "faults: kept %s\n", fx.dir);
    stream_fixture_stop(&fx, keep);
}

static char *path_in(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_in(const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", fx.dir, name), 0);
    return p;
}



/* One `dagprof run`. */
typedef struct instance {
    pid_t pid;
    char *log;        /* owned */
    int metrics_port; /* /metrics and /healthz */
} instance_t;

/* extra: one more environment setting, or NULL. */
static void instance_start_env(instance_t *in, const char *name, int grace_ms, const char *extra1,
                               const char *extra2) {
    char env_metrics[64], env_grace[64];
    in->log = path_in("%s.log", name);
    in->metrics_port = harness_free_port();
    ck_assert_int_gt(in->metrics_port, 0);
    snprintf(env_metrics, sizeof(env_metrics), "DAGPROF_METRICS_PORT=%d", in->metrics_port);
    snprintf(env_grace, sizeof(env_grace), "DAGPROF_GRACE_MS=%d", grace_ms);
    const char *env[] = {fx.env_bootstrap, fx.env_redis, env_grace, "DAGPROF_DUE_POLL_MS=50", env_metrics,
                         extra1, extra2, NULL};
    if (!extra1) /* keep what follows */
        env[5] = extra2, env[6] = NULL;
    const char *argv[] = {DAGPROF, "run", NULL};
    in->pid = harness_spawn(argv, env, in->log);
    ck_assert_msg(in->pid > 0, "cannot start %s: %s", DAGPROF, strerror(errno));
}

/* session_ms 0: dagprof's defaults. */
static void instance_start_with(instance_t *in, const char *name, int grace_ms, int session_ms) {
    char env_session[64];
    snprintf(env_session, sizeof(env_session), "DAGPROF_KAFKA_SESSION_TIMEOUT_MS=%d", session_ms);
    instance_start_env(in, name, grace_ms, session_ms ? env_session : NULL,
                       session_ms ? "DAGPROF_KAFKA_HEARTBEAT_INTERVAL_MS=1000" : NULL);
}

/* Short grace; the group settings are dagprof's defaults, as users run it. */
static void instance_start(instance_t *in, const char *name) {
    instance_start_with(in, name, GRACE_MS, 0);
}

static void instance_release(instance_t *in) {
    free(in->log);
    in->log = NULL;
    in->pid = -1;
}

static void fail_with_log(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_with_log(const char *log, const char *fmt, ...) {
    char what[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* Check carries a failure message of a few KB at most: the log goes to
     * stderr, the message names it */
    char *text = harness_slurp(log);
    size_t len = strlen(text);
    fprintf(stderr, "---- %s (last %d bytes)\n%s\n----\n", log, len > 12000 ? 12000 : (int)len,
            len > 12000 ? text + len - 12000 : text);
    free(text);
    ck_abort_msg("%s; see %s above", what, log);
}

/* SIGTERM; the process must finish its batch, commit and say so. */
static void instance_stop(instance_t *in) {
    int status = -1;
    ck_assert_int_eq(harness_kill(in->pid, SIGTERM), 0);
    if (harness_wait(in->pid, FAULTS_PROCESS_S * 1000, &status) != 0)
        fail_with_log(in->log, "dagprof run did not stop within %d s of SIGTERM", FAULTS_PROCESS_S);
    if (status != 0)
        fail_with_log(in->log, "dagprof run exited %d after SIGTERM, expected 0", status);
    if (harness_file_count(in->log, "event=stopped clean=1") != 1)
        fail_with_log(in->log, "no \"event=stopped clean=1\" after SIGTERM");
}

static void instance_kill9(instance_t *in) {
    int status = -1;
    ck_assert_int_eq(harness_kill(in->pid, SIGKILL), 0);
    ck_assert_int_eq(harness_wait(in->pid, FAULTS_PROCESS_S * 1000, &status), 0);
    ck_assert_int_eq(status, 128 + SIGKILL);
}

static void instance_assert_running(const instance_t *in) {
    int status = -1;
    if (harness_wait(in->pid, 0, &status) == 0)
        fail_with_log(in->log, "dagprof run exited by itself with status %d", status);
}

/* `dagprof loadgen` to Kafka, in the background. */
typedef struct loadgen {
    pid_t pid;
    bool exited;
    int status;
    char *log; /* borrowed */
} loadgen_t;

static void loadgen_start(loadgen_t *g, int runs, int seed, double late, double rate, char *log) {
    char runs_text[16], seed_text[16], late_text[16], rate_text[32];
    snprintf(runs_text, sizeof(runs_text), "%d", runs);
    snprintf(seed_text, sizeof(seed_text), "%d", seed);
    snprintf(late_text, sizeof(late_text), "%.3f", late);
    snprintf(rate_text, sizeof(rate_text), "%.0f", rate);
    const char *argv[] = {DAGPROF, "loadgen", "--loadgen.runs", runs_text, "--loadgen.seed", seed_text,
                          "--loadgen.late.fraction", late_text, "--loadgen.rate", rate_text, NULL};
    const char *env[] = {fx.env_bootstrap, NULL};
    memset(g, 0, sizeof(*g));
    g->log = log;
    g->pid = harness_spawn(argv, env, log);
    ck_assert_int_gt(g->pid, 0);
}

/* Still producing? Reaps it when it has exited. */
static bool loadgen_running(loadgen_t *g) {
    if (!g->exited && harness_wait(g->pid, 0, &g->status) == 0)
        g->exited = true;
    return !g->exited;
}

/* Every span must have been delivered. */
static void loadgen_finish(loadgen_t *g) {
    if (!g->exited && harness_wait(g->pid, FAULTS_SETTLE_S * 1000, &g->status) != 0)
        fail_with_log(g->log, "dagprof loadgen did not finish");
    g->exited = true;
    if (g->status != 0)
        fail_with_log(g->log, "dagprof loadgen exited %d, expected 0", g->status);
}

/* ---- what every run must come out as -------------------------------------------- */

/* `dagprof profile --format json` of a JSON Lines file of `runs` runs, added
 * to `expected` (trace_id -> figures). */
static void expect_file(json_t *expected, const char *spans, size_t runs) {
    char *offline = NULL;
    ck_assert_int_ge(asprintf(&offline, "%s.profiles", spans), 0);
    const char *argv[] = {DAGPROF, "profile", "--format", "json", spans, NULL};
    int status = -1;
    pid_t pid = harness_spawn(argv, NULL, offline);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(harness_wait(pid, FAULTS_PROCESS_S * 1000, &status), 0);
    ck_assert_int_eq(status, 0);

    size_t before = json_object_size(expected);
    FILE *f = fopen(offline, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *p = json_loads(line, 0, &e);
        ck_assert_msg(p != NULL, "offline output: %s", e.text);
        const char *trace_id = json_string_value(json_object_get(p, "trace_id"));
        ck_assert_ptr_nonnull(trace_id);
        json_object_set_new(expected, trace_id, stream_profile_figures(p));
        json_decref(p);
    }
    free(line);
    fclose(f);
    ck_assert_uint_eq(json_object_size(expected) - before, runs);
    free(offline);
}

/* The fleet `dagprof loadgen` streams with these options, written to a file
 * instead and profiled offline. The trace ids carry the seed, so fleets of
 * several seeds go into one object. */
static void expect_fleet(json_t *expected, int runs, int seed, double late) {
    char *spans = path_in("spans-%d.jsonl", seed), *log = path_in("offline-%d.log", seed);
    char runs_text[16], seed_text[16], late_text[16];
    snprintf(runs_text, sizeof(runs_text), "%d", runs);
    snprintf(seed_text, sizeof(seed_text), "%d", seed);
    snprintf(late_text, sizeof(late_text), "%.3f", late);
    const char *gen[] = {DAGPROF, "loadgen", "--loadgen.runs", runs_text, "--loadgen.seed", seed_text,
                         "--loadgen.late.fraction", late_text, "--loadgen.output", spans, NULL};
    pid_t pid = harness_spawn(gen, NULL, log);
    int status = -1;
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(harness_wait(pid, FAULTS_PROCESS_S * 1000, &status), 0);
    ck_assert_int_eq(status, 0);
    expect_file(expected, spans, (size_t)runs);
    free(spans);
    free(log);
}

/* ---- reading dag-profiles --------------------------------------------------------- */

typedef struct collector {
    rd_kafka_t *rk;
    profile_avro_t *avro;
    const json_t *expected; /* borrowed: trace_id -> figures */
    json_t *latest;         /* trace_id -> {"revision", "figures"} of the highest revision */
    json_t *seen;           /* profile_id -> figures */
    json_t *revisions;      /* trace_id -> revisions in order of arrival */
    size_t matched;         /* traces whose latest revision equals the offline profile */
    size_t messages;
    size_t repeats;         /* profiles whose profile_id came before */
} collector_t;

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)err;
    (void)reason;
    (void)opaque;
}

static void collector_init(collector_t *c, const json_t *expected) {
    char err[512], group[64];
    memset(c, 0, sizeof(*c));
    c->expected = expected;
    c->latest = json_object();
    c->seen = json_object();
    c->revisions = json_object();
    c->avro = profile_avro_new(err, sizeof(err));
    ck_assert_msg(c->avro != NULL, "%s", err);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "faults-%d-%ld", (int)getpid(), (long)random());
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(fx.kafka), err, sizeof(err)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)), RD_KAFKA_CONF_OK);
    /* connection errors are what the broker faults are for: not news */
    ck_assert_int_eq(rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err)), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    ck_assert_msg(c->rk != NULL, "%s", err);
    rd_kafka_poll_set_consumer(c->rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, "dag-profiles", RD_KAFKA_PARTITION_UA);
    ck_assert_int_eq(rd_kafka_subscribe(c->rk, t), 0);
    rd_kafka_topic_partition_list_destroy(t);
}

static void collector_free(collector_t *c) {
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    profile_avro_free(c->avro);
    json_decref(c->latest);
    json_decref(c->seen);
    json_decref(c->revisions);
}

static void collector_take(collector_t *c, const rd_kafka_message_t *m) {
    char err[512];
    profile_t *p = NULL;
    ck_assert_msg(profile_avro_decode(c->avro, m->payload, m->len, &p, err, sizeof(err)) == 0, "%s", err);
    buf_t b = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &b), 0);
    json_error_t e;
    json_t *got = json_loads(b.data, 0, &e);
    ck_assert_msg(got != NULL, "profile JSON: %s", e.text);
    buf_free(&b);
    json_t *fig = stream_profile_figures(got);
    json_decref(got);
    c->messages++;

    json_t *want = json_object_get(c->expected, p->trace_id);
    ck_assert_msg(want != NULL, "profile of an unknown trace %s", p->trace_id);
    json_t *before = json_object_get(c->seen, p->profile_id);
    if (before) {
        /* at-least-once: a repeat must be the same profile, not another one
         * under the same id */
        if (!json_equal(before, fig)) {
            char *a = json_dumps(before, JSON_SORT_KEYS), *z = json_dumps(fig, JSON_SORT_KEYS);
            fprintf(stderr, "---- %s, first:\n%s\n---- then:\n%s\n----\n", p->profile_id, a, z);
            ck_abort_msg("profile %s delivered twice with different figures (span_count %lld, then %lld); "
                         "both above",
                         p->profile_id,
                         (long long)json_integer_value(json_object_get(json_object_get(before, "summary"), "span_count")),
                         (long long)p->summary.span_count);
        }
        c->repeats++;
    } else {
        json_object_set(c->seen, p->profile_id, fig);
    }
    json_t *revs = json_object_get(c->revisions, p->trace_id);
    if (!revs) {
        revs = json_array();
        json_object_set_new(c->revisions, p->trace_id, revs);
    }
    json_array_append_new(revs, json_integer(p->revision));

    json_t *prev = json_object_get(c->latest, p->trace_id);
    if (!prev || p->revision >= json_integer_value(json_object_get(prev, "revision"))) {
        int prev_matched = prev && json_equal(json_object_get(prev, "figures"), want);
        int now_matched = json_equal(fig, want);
        json_object_set_new(c->latest, p->trace_id,
                            json_pack("{s:I, s:O}", "revision", (json_int_t)p->revision, "figures", fig));
        c->matched = c->matched + (size_t)now_matched - (size_t)prev_matched;
    }
    json_decref(fig);
    profile_free(p);
}

/* Read profiles for ms milliseconds. */
static void collector_poll(collector_t *c, int ms) {
    int64_t until = mono_ms() + ms;
    do {
        int64_t left = until - mono_ms();
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, left > 200 ? 200 : left > 0 ? (int)left : 0);
        if (!m)
            continue;
        if (!m->err)
            collector_take(c, m);
        rd_kafka_message_destroy(m);
    } while (mono_ms() < until);
}

static bool collector_done(const collector_t *c) {
    return c->matched == json_object_size(c->expected);
}

/* Read until every run's latest revision equals its offline profile; else fail
 * with the first run that does not, and the tail of the log that explains. */
static void collector_wait_all(collector_t *c, int timeout_s, const char *log) {
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    while (!collector_done(c) && mono_ms() < deadline)
        collector_poll(c, 500);
    if (collector_done(c))
        return;
    size_t missing = 0;
    const char *key, *first = NULL;
    json_t *want;
    json_object_foreach((json_t *)c->expected, key, want) {
        json_t *got = json_object_get(c->latest, key);
        if (!got || !json_equal(json_object_get(got, "figures"), want)) {
            missing++;
            if (!first)
                first = key;
        }
    }
    json_t *got = json_object_get(c->latest, first);
    char *a = got ? json_dumps(json_object_get(got, "figures"), JSON_SORT_KEYS) : strdup("(none)");
    char *z = json_dumps(json_object_get(c->expected, first), JSON_SORT_KEYS);
    fprintf(stderr, "---- %s, stream:\n%s\n---- offline:\n%s\n----\n", first, a, z);
    fail_with_log(log, "%zu of %zu runs do not match offline after %zu profiles (%zu repeated); %s above",
                  missing, json_object_size(c->expected), c->messages, c->repeats, first);
}

/* Revisions of each run: without a crash exactly 0, 1, ... in order. After
 * a crash a revision may come again, or be skipped (a holder that died
 * before publishing), but they never go back. */
static void collector_check_revisions(const collector_t *c, bool exact) {
    const char *key;
    json_t *revs;
    json_object_foreach(c->revisions, key, revs) {
        for (size_t i = 0; i < json_array_size(revs); i++) {
            json_int_t rev = json_integer_value(json_array_get(revs, i));
            if (exact)
                ck_assert_msg(rev == (json_int_t)i, "%s: revision %lld came as profile %zu", key,
                              (long long)rev, i);
            else if (i > 0)
                ck_assert_msg(rev >= json_integer_value(json_array_get(revs, i - 1)),
                              "%s: revision %lld came after %lld", key, (long long)rev,
                              (long long)json_integer_value(json_array_get(revs, i - 1)));
        }
    }
}

/* ---- producing by hand ------------------------------------------------------------ */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

/* A plain producer; with retries = false a request that fails is not sent
 * again, so its delivery report shows the broker's error. */
static rd_kafka_t *producer_new(bool retries) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", harness_kafka_bootstrap(fx.kafka), err, sizeof(err)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err)), RD_KAFKA_CONF_OK);
    if (!retries)
        ck_assert_int_eq(rd_kafka_conf_set(conf, "message.send.max.retries", "0", err, sizeof(err)), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "%s", err);
    return rk;
}

/* Produce one message and wait for its delivery report; returns its error. */
static rd_kafka_resp_err_t produce_sync(rd_kafka_t *rk, const char *topic, const char *key, const void *value,
                                        size_t len) {
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_OPAQUE(&result),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(rd_kafka_flush(rk, FAULTS_PROCESS_S * 1000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return result;
}

/* One span to the input topic, keyed by trace_id, as `dagprof loadgen` sends it. */
static void produce_span(rd_kafka_t *rk, span_codec_t *codec, const span_t *span) {
    char err[512];
    buf_t b = BUF_INIT;
    ck_assert_msg(span_codec_encode_avro(codec, span, &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(produce_sync(rk, "dag-spans", span->trace_id, b.data, b.len), RD_KAFKA_RESP_ERR_NO_ERROR);
    buf_free(&b);
}

/* One span as a line of a JSON Lines trace file, for the offline profile. */
static void append_span(const char *path, const span_t *span) {
    buf_t b = BUF_INIT;
    ck_assert_int_eq(span_codec_encode_json(span, &b), 0);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fprintf(f, "%s\n", b.data), 0);
    ck_assert_int_eq(fclose(f), 0);
    buf_free(&b);
}

static span_t test_span(const char *id, const char *parent, span_kind_t kind, const char *node_id,
                        int64_t start_us, int64_t end_us) {
    span_t s;
    memset(&s, 0, sizeof(s));
    s.trace_id = "tr-lease"; /* the warm-up run's spans are copies under another id */
    s.span_id = id;
    s.parent_span_id = parent;
    s.kind = kind;
    s.node_id = node_id;
    s.start_us = start_us;
    s.end_us = end_us;
    s.status = SPAN_STATUS_OK;
    return s;
}

/* ---- HTTP, by hand ---------------------------------------------------------------- */

/* GET path from 127.0.0.1:port; returns the status code with the body in
 * `body`, or -1 when nothing answered. */
static int http_get(int port, const char *path, buf_t *body) {
    buf_reset(body);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    buf_t raw = BUF_INIT;
    char request[256];
    int len = snprintf(request, sizeof(request),
                       "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        send(fd, request, (size_t)len, MSG_NOSIGNAL) != len)
        goto done;
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        buf_append(&raw, chunk, (size_t)n);
    if (n < 0 || !raw.data || sscanf(raw.data, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
        goto done;
    }
    const char *start = strstr(raw.data, "\r\n\r\n");
    if (start)
        buf_puts(body, start + 4);
done:
    buf_free(&raw);
    close(fd);
    return status;
}

/* Poll /healthz until it answers `want_status` with a body that starts with
 * `want_body`. */
static void wait_for_health(const instance_t *in, int want_status, const char *want_body, int timeout_s) {
    buf_t body = BUF_INIT;
    int status = -1;
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    for (;;) {
        status = http_get(in->metrics_port, "/healthz", &body);
        if (status == want_status && body.data && strncmp(body.data, want_body, strlen(want_body)) == 0)
            break;
        if (mono_ms() >= deadline)
            fail_with_log(in->log, "/healthz answered %d \"%s\" for %d s, expected %d \"%s...\"", status,
                          body.data ? body.data : "", timeout_s, want_status, want_body);
        usleep(100000);
    }
    buf_free(&body);
}

/* A counter from /metrics, or -1 when it cannot be read. */
static long long metric_value(const instance_t *in, const char *name) {
    buf_t body = BUF_INIT;
    long long value = -1;
    if (http_get(in->metrics_port, "/metrics", &body) == 200 && body.data) {
        size_t len = strlen(name);
        for (const char *line = body.data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (strncmp(line, name, len) == 0 && line[len] == ' ')
                value = strtoll(line + len + 1, NULL, 10);
    }
    buf_free(&body);
    return value;
}

/* What most tests start with: the offline figures of the fleet loadgen is
 * about to stream (into `expected`), a collector expecting them, and the path
 * of loadgen's log; fleet_end() frees all three. */
static char *fleet_begin(collector_t *c, json_t *expected, int runs, int seed, double late) {
    expect_fleet(expected, runs, seed, late);
    collector_init(c, expected);
    return path_in("loadgen.log");
}

static void fleet_end(collector_t *c, json_t *expected, char *loadlog) {
    collector_free(c);
    json_decref(expected);
    free(loadlog);
}

/* Wait until the log holds `count` lines with needle, reading profiles meanwhile. */
static void wait_for_log(collector_t *c, const char *log, const char *needle, size_t count, int timeout_s) {
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
    while (harness_file_count(log, needle) < count) {
        if (mono_ms() >= deadline)
            fail_with_log(log, "never logged \"%s\" %zu time(s) in %d s", needle, count, timeout_s);
        collector_poll(c, 200);
    }
}

static int random_ms(int lo, int hi) {
    return lo + (int)(random() % (long)(hi - lo + 1));
}

/* ---- 1. kill -9 ------------------------------------------------------------------- */

/* Instances are killed with SIGKILL at random moments of the load and a new one
 * started each time. Spans stored but not committed are consumed again and
 * must be deduplicated; traces leased by a killed instance are taken up when
 * the lease runs out. */
START_TEST(kill9_during_load) {
    enum { RUNS = 220, SEED = 101, KILLS = 3 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t in;
    instance_start(&in, "run-0");
    wait_for_log(&c, in.log, "event=partitions_assigned", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 110, loadlog);
    long long duplicates = 0;
    for (int k = 1; k <= KILLS; k++) {
        /* into the load; the first kill comes soon after the assignment,
         * when stored spans are surely not all committed yet (auto-commit
         * runs every 5 s), later ones anywhere */
        collector_poll(&c, k == 1 ? random_ms(1000, 3500) : random_ms(1000, 7000));
        long long d = metric_value(&in, "dagprof_spans_duplicate_total");
        duplicates += d > 0 ? d : 0;
        instance_kill9(&in);
        instance_release(&in);
        char name[16];
        snprintf(name, sizeof(name), "run-%d", k);
        instance_start(&in, name);
        wait_for_log(&c, in.log, "event=partitions_assigned", 1, FAULTS_PROCESS_S);
    }
    bool load_outlasted_kills = loadgen_running(&gen);
    loadgen_finish(&gen);
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    collector_check_revisions(&c, false);
    long long d = metric_value(&in, "dagprof_spans_duplicate_total");
    duplicates += d > 0 ? d : 0;
    /* the replays did happen, and were not counted (the figures say so) */
    ck_assert_msg(duplicates > 0, "no replayed span after %d kills", KILLS);
    fprintf(stderr, "kill9_during_load: %zu profiles, %zu repeated, %lld spans replayed%s\n", c.messages,
            c.repeats, duplicates, load_outlasted_kills ? "" : " (the load ended before the last kill)");
    instance_stop(&in);
    instance_release(&in);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* The killed instance had published a profile but not yet ended its lease
 * when a span of the run arrived. The profile is republished after the lease,
 * now with that span: it must not come under the profile_id already used for
 * the figures without it (a consumer deduplicating by profile_id would keep
 * the old figures and never see the span). Made deterministic with a slow
 * broker: the record is on the topic at once, its acknowledgement comes
 * seconds later, and the instance is killed in between. */
START_TEST(kill9_between_publish_and_finish) {
    /* the session outlasts the slow heartbeats; the same for both instances,
     * because the mock group gets stuck on a dead member whose session
     * timeout differs from the newcomer's */
    enum { LATE_GRACE_MS = 5000, SLOW_MS = 8000, SESSION_MS = 12000 };
    const int64_t T = 1735689600000000LL;
    char err[256];
    char *early_path = path_in("lease-early.jsonl"), *full_path = path_in("lease-full.jsonl");
    span_t run = test_span("r", NULL, SPAN_KIND_RUN, NULL, T, T + 10000000);
    run.dag_id = "lease-dag";
    run.name = "lease-dag";
    span_t fetch = test_span("a", "r", SPAN_KIND_NODE, "fetch", T + 100000, T + 4000000);
    const char *const deps[] = {"fetch"};
    span_t answer = test_span("b", "r", SPAN_KIND_NODE, "answer", T + 4100000, T + 9000000);
    answer.depends_on = deps;
    answer.depends_on_count = 1;
    span_t llm = test_span("m", "b", SPAN_KIND_LLM, NULL, T + 5000000, T + 8000000);
    llm.model = "claude-sonnet-4-5";
    llm.provider = "anthropic";
    llm.input_tokens = 12000;
    llm.cache_read_tokens = 4000;
    llm.output_tokens = 800;
    span_t late = test_span("t", "a", SPAN_KIND_TOOL, NULL, T + 1000000, T + 3500000);
    late.tool_name = "web_search";
    const span_t *first[] = {&fetch, &answer, &llm, &run};
    /* a run of the same shape first, so that the instance has the output
     * topics' metadata before the broker slows down */
    span_t warm[4];
    for (size_t i = 0; i < 4; i++) {
        append_span(early_path, first[i]);
        append_span(full_path, first[i]);
        warm[i] = *first[i];
        warm[i].trace_id = "tr-warm";
        append_span(full_path, &warm[i]);
    }
    append_span(full_path, &late);
    json_t *early = json_object(), *full = json_object();
    expect_file(early, early_path, 1);
    expect_file(full, full_path, 2);
    collector_t c;
    collector_init(&c, full);
    span_codec_t *codec = span_codec_new(err, sizeof(err));
    ck_assert_msg(codec != NULL, "%s", err);
    rd_kafka_t *prod = producer_new(true);

    instance_t in;
    instance_start_with(&in, "run-0", LATE_GRACE_MS, SESSION_MS);
    wait_for_log(&c, in.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    for (size_t i = 0; i < 4; i++)
        produce_span(prod, codec, &warm[i]);
    int64_t deadline = mono_ms() + FAULTS_PROCESS_S * 1000LL;
    while (!json_object_get(c.latest, "tr-warm")) {
        if (mono_ms() >= deadline)
            fail_with_log(in.log, "the warm-up run was not profiled");
        collector_poll(&c, 200);
    }
    for (size_t i = 0; i < 4; i++)
        produce_span(prod, codec, first[i]);
    /* stored; the grace period has seconds to go when the broker slows down */
    while (metric_value(&in, "dagprof_spans_stored_total") < 8) {
        if (mono_ms() >= deadline)
            fail_with_log(in.log, "the spans were not stored");
        usleep(50000);
    }
    /* the warm-up's records acknowledged, and the in-flight gauge (refreshed
     * once a second) no longer counting them: what is in flight below is this
     * run, not the warm-up seen a moment late */
    while (metric_value(&in, "dagprof_profiles_published_total") < 1 ||
           metric_value(&in, "dagprof_profiles_in_flight") > 0) {
        if (mono_ms() >= deadline)
            fail_with_log(in.log, "the warm-up run's records were never acknowledged");
        usleep(50000);
    }
    char slow[64];
    snprintf(slow, sizeof(slow), "broker rtt 1 %d", SLOW_MS);
    ck_assert_msg(harness_kafka_command(fx.kafka, slow, err, sizeof(err)) == 0, "%s", err);
    while (metric_value(&in, "dagprof_profiles_in_flight") < 1) {
        if (mono_ms() >= deadline)
            fail_with_log(in.log, "the profile was never published");
        usleep(50000);
    }
    usleep(1000 * 1000); /* the request reaches the broker; its answer is seconds away */
    instance_kill9(&in);
    instance_release(&in);
    ck_assert_msg(harness_kafka_command(fx.kafka, "broker rtt 1 0", err, sizeof(err)) == 0, "%s", err);

    produce_span(prod, codec, &late);
    instance_start_with(&in, "run-1", GRACE_MS, SESSION_MS);
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    /* the fault happened as meant: the killed instance's profile, without
     * the late span, is on the topic */
    json_t *killed = json_object_get(c.seen, "tr-lease#0");
    ck_assert_msg(killed != NULL, "the killed instance's profile never reached the topic");
    ck_assert(json_equal(killed, json_object_get(early, "tr-lease")));
    instance_stop(&in);
    instance_release(&in);
    rd_kafka_destroy(prod);
    span_codec_free(codec);
    collector_free(&c);
    json_decref(early);
    json_decref(full);
    free(early_path);
    free(full_path);
}
END_TEST

/* ---- 1b. recovery with the defaults ------------------------------------------------ */

/* The longest wait, after the last fault, for every run to be profiled. With
 * librdkafka's 45 s session timeout the mock group never settled after two
 * kills in a row (2237 of 3000 runs after 120 s; 132 s in
 * tests/bench/recovery.sh); with dagprof's defaults it takes 13-21 s (README
 * "Crash recovery and rebalancing"). */
#define FAULTS_RECOVERY_S 90

/* Wait for every run, at most FAULTS_RECOVERY_S after the last fault. */
static void recovery_wait_all(collector_t *c, loadgen_t *gen, int64_t fault_ms, const char *log) {
    loadgen_finish(gen);
    int64_t left_s = (fault_ms + FAULTS_RECOVERY_S * 1000LL - mono_ms()) / 1000;
    collector_wait_all(c, left_s > 1 ? (int)left_s : 1, log);
}

/* The scenario, scaled: two instances, one killed under load, its
 * replacement killed again within 3 s, a third started. The partitions that
 * did not move stay with the survivor throughout (cooperative rebalancing:
 * none of its revocations leaves it with nothing). */
START_TEST(kill9_twice_within_3s) {
    enum { RUNS = 300, SEED = 111 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t a, b, r;
    instance_start(&a, "run-a");
    instance_start(&b, "run-b");
    wait_for_log(&c, a.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    wait_for_log(&c, b.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 800, loadlog);
    collector_poll(&c, random_ms(1500, 3000));
    instance_kill9(&a);
    long long survivor_before = metric_value(&b, "dagprof_profiles_published_total");
    instance_start(&r, "run-r1");
    collector_poll(&c, random_ms(1000, 3000));
    instance_kill9(&r);
    instance_release(&r);
    int64_t last_kill_ms = mono_ms();
    instance_start(&r, "run-r2");
    bool under_load = loadgen_running(&gen);
    wait_for_log(&c, r.log, "event=partitions_assigned", 1, FAULTS_RECOVERY_S);
    long long survivor_after = metric_value(&b, "dagprof_profiles_published_total");
    recovery_wait_all(&c, &gen, last_kill_ms, r.log);
    fprintf(stderr, "kill9_twice_within_3s: all runs %lld s after the last kill; %zu profiles, %zu repeated; "
            "the survivor published %lld while the others recovered%s\n",
            (long long)((mono_ms() - last_kill_ms) / 1000), c.messages, c.repeats,
            survivor_after - survivor_before, under_load ? "" : " (the load ended before the last kill)");
    collector_check_revisions(&c, false);
    /* the group settles with every partition owned once, and every delivered
     * profile is in the delay histogram once */
    int64_t settle = mono_ms() + FAULTS_PROCESS_S * 1000LL;
    while (metric_value(&b, "dagprof_partitions_owned") + metric_value(&r, "dagprof_partitions_owned") != 4 ||
           metric_value(&b, "dagprof_profile_delay_seconds_count") !=
               metric_value(&b, "dagprof_profiles_published_total") ||
           metric_value(&r, "dagprof_profile_delay_seconds_count") !=
               metric_value(&r, "dagprof_profiles_published_total")) {
        if (mono_ms() >= settle)
            fail_with_log(r.log, "owned %lld + %lld partitions; delays %lld / %lld for %lld / %lld published",
                          metric_value(&b, "dagprof_partitions_owned"), metric_value(&r, "dagprof_partitions_owned"),
                          metric_value(&b, "dagprof_profile_delay_seconds_count"),
                          metric_value(&r, "dagprof_profile_delay_seconds_count"),
                          metric_value(&b, "dagprof_profiles_published_total"),
                          metric_value(&r, "dagprof_profiles_published_total"));
        collector_poll(&c, 200);
    }
    /* the replacement's assignment is counted */
    ck_assert_int_gt(metric_value(&r, "dagprof_rebalances_total{type=\"assign\"}"), 0);
    if (harness_file_count(b.log, "left=0 strategy") != 0)
        fail_with_log(b.log, "the survivor gave up all its partitions in a rebalance");
    if (under_load)
        ck_assert_int_gt(survivor_after, survivor_before);
    instance_stop(&b);
    instance_stop(&r);
    instance_release(&a);
    instance_release(&b);
    instance_release(&r);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* A newcomer is killed while the group moves partitions to it: the first
 * instance has just revoked some, the newcomer has not yet consumed them. */
START_TEST(kill9_during_rebalance) {
    enum { RUNS = 250, SEED = 112 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t a, b;
    instance_start(&a, "run-a");
    wait_for_log(&c, a.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 600, loadlog);
    collector_poll(&c, random_ms(500, 2000));
    instance_start(&b, "run-b");
    wait_for_log(&c, a.log, "event=partitions_revoked", 1, FAULTS_PROCESS_S);
    instance_kill9(&b);
    instance_release(&b);
    int64_t kill_ms = mono_ms();
    bool under_load = loadgen_running(&gen);
    instance_start(&b, "run-b2");
    recovery_wait_all(&c, &gen, kill_ms, b.log);
    fprintf(stderr, "kill9_during_rebalance: all runs %lld s after the kill; %zu profiles, %zu repeated%s\n",
            (long long)((mono_ms() - kill_ms) / 1000), c.messages, c.repeats,
            under_load ? "" : " (the load ended before the kill)");
    collector_check_revisions(&c, false);
    instance_stop(&a);
    instance_stop(&b);
    instance_release(&a);
    instance_release(&b);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* An instance is stopped (SIGSTOP) past both its session timeout and its
 * leases, then continued: a zombie. Meanwhile the other took its partitions
 * and its leased traces. Woken, it finds its assignment lost: it must not
 * commit offsets of partitions it no longer owns (the broker would refuse
 * them: commit_failed), and it must not publish or end a lease it no longer
 * holds (a repeated profile_id would need other figures for the collector to
 * notice; the log says what it skipped). */
START_TEST(sigstop_past_session_then_sigcont) {
    enum { RUNS = 250, SEED = 113, STOPPED_MS = 36000 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t a, b;
    instance_start(&a, "run-a");
    instance_start(&b, "run-b");
    wait_for_log(&c, a.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    wait_for_log(&c, b.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 600, loadlog);
    collector_poll(&c, random_ms(1500, 3500));
    ck_assert_int_eq(harness_kill(a.pid, SIGSTOP), 0);
    int64_t stopped_ms = mono_ms();
    /* the other instance takes everything while the zombie sleeps */
    wait_for_log(&c, b.log, "owned=4 strategy", 1, FAULTS_RECOVERY_S);
    int64_t until = stopped_ms + STOPPED_MS;
    while (mono_ms() < until)
        collector_poll(&c, 500);
    ck_assert_int_eq(harness_kill(a.pid, SIGCONT), 0);
    int64_t cont_ms = mono_ms();
    wait_for_log(&c, a.log, "lost=1", 1, FAULTS_PROCESS_S);
    recovery_wait_all(&c, &gen, cont_ms, b.log);
    /* both settle in the group again: the zombie rejoined as a new member */
    instance_assert_running(&a);
    fprintf(stderr, "sigstop_past_session_then_sigcont: %zu profiles, %zu repeated; the zombie skipped %zu "
            "expired lease(s)\n", c.messages, c.repeats, harness_file_count(a.log, "event=lease_expired"));
    collector_check_revisions(&c, false);
    if (harness_file_count(a.log, "event=commit_failed") != 0)
        fail_with_log(a.log, "the zombie tried to commit offsets of partitions it had lost");
    instance_stop(&a);
    instance_stop(&b);
    instance_release(&a);
    instance_release(&b);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* Static membership (group.instance.id, the StatefulSet pod name): a killed
 * instance restarted under the same id. librdkafka 2.0.2's mock broker keeps
 * the id but finds members by member id only, so there the restart joins as
 * a new member and the dead one times out (README); what must hold anywhere:
 * every run profiled, equal to offline. */
START_TEST(kill9_restart_same_instance_id) {
    enum { RUNS = 250, SEED = 114 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t a, b;
    instance_start_env(&a, "run-a", GRACE_MS, "DAGPROF_KAFKA_GROUP_INSTANCE_ID=dagprof-0", NULL);
    instance_start_env(&b, "run-b", GRACE_MS, "DAGPROF_KAFKA_GROUP_INSTANCE_ID=dagprof-1", NULL);
    wait_for_log(&c, a.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    wait_for_log(&c, b.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 600, loadlog);
    collector_poll(&c, random_ms(1500, 3500));
    instance_kill9(&a);
    instance_release(&a);
    int64_t kill_ms = mono_ms();
    instance_start_env(&a, "run-a2", GRACE_MS, "DAGPROF_KAFKA_GROUP_INSTANCE_ID=dagprof-0", NULL);
    wait_for_log(&c, a.log, "event=partitions_assigned", 1, FAULTS_RECOVERY_S);
    recovery_wait_all(&c, &gen, kill_ms, a.log);
    fprintf(stderr, "kill9_restart_same_instance_id: all runs %lld s after the kill; %zu profiles, %zu repeated\n",
            (long long)((mono_ms() - kill_ms) / 1000), c.messages, c.repeats);
    collector_check_revisions(&c, false);
    instance_stop(&a);
    instance_stop(&b);
    instance_release(&a);
    instance_release(&b);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* ---- 2. rebalance ----------------------------------------------------------------- */

/* One instance, a second joins, the first leaves with SIGTERM: partitions
 * move under load, and the new owner finishes the traces pending in them.
 * Nothing crashed, so no profile may come twice. */
static void rebalance_under_load_run(const char *strategy) {
    enum { RUNS = 250, SEED = 202 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t a, b;
    instance_start(&a, "run-a");
    wait_for_log(&c, a.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 220, loadlog);
    collector_poll(&c, 4000);

    instance_start(&b, "run-b");
    wait_for_log(&c, b.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    wait_for_log(&c, a.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    collector_poll(&c, 4000);

    bool under_load = loadgen_running(&gen);
    instance_stop(&a);
    size_t matched_when_left = c.matched;
    wait_for_log(&c, b.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    loadgen_finish(&gen);
    collector_wait_all(&c, FAULTS_SETTLE_S, b.log);
    fprintf(stderr, "rebalance_under_load: %zu of %d runs done when the first instance left%s; %zu profiles\n",
            matched_when_left, RUNS, under_load ? "" : " (after the load)", c.messages);
    /* the second instance took over: it published, and it is the one left */
    ck_assert_int_gt(metric_value(&b, "dagprof_profiles_published_total"), 0);
    ck_assert_uint_eq(c.repeats, 0);
    collector_check_revisions(&c, true);
    /* the strategy configured is the one used */
    ck_assert_uint_gt(harness_file_count(b.log, strategy), 0);
    instance_stop(&b);
    instance_release(&a);
    instance_release(&b);
    fleet_end(&c, expected, loadlog);
}
START_TEST(rebalance_under_load) {
    rebalance_under_load_run("strategy=cooperative");
}
END_TEST

/* Eager strategies still work when configured: every rebalance revokes all
 * and assigns the new whole. */
START_TEST(rebalance_under_load_eager) {
    /* the instances inherit the test's environment */
    ck_assert_int_eq(setenv("DAGPROF_KAFKA_PARTITION_ASSIGNMENT_STRATEGY", "range", 1), 0);
    rebalance_under_load_run("strategy=eager");
}
END_TEST

/* ---- 3. Redis ---------------------------------------------------------------------- */

/* Redis restarts (persisted), then is down for about 5 s, under load. The
 * processor pauses, reports itself degraded, and resumes by itself, the same
 * process throughout. Profiles whose leases could not be ended while Redis
 * was down are published again after the lease: identical repeats allowed. */
START_TEST(redis_restart_and_outage) {
    enum { RUNS = 220, SEED = 303, DOWN_MS = 5000 };
    char err[256];
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t in;
    instance_start(&in, "run");
    wait_for_log(&c, in.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    wait_for_health(&in, 200, "ok\n", FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 220, loadlog);
    collector_poll(&c, 3000);

    ck_assert_msg(harness_redis_restart(fx.redis, 500, err, sizeof(err)) == 0, "redis restart: %s", err);
    wait_for_health(&in, 200, "ok\n", FAULTS_PROCESS_S);
    collector_poll(&c, 3000);

    ck_assert_int_eq(harness_redis_stop(fx.redis), 0);
    int64_t down_at = mono_ms();
    wait_for_health(&in, 503, "degraded: ", FAULTS_PROCESS_S);
    int64_t rest = DOWN_MS - (mono_ms() - down_at);
    if (rest > 0)
        collector_poll(&c, (int)rest);
    bool under_load = loadgen_running(&gen);
    ck_assert_msg(harness_redis_restart(fx.redis, 0, err, sizeof(err)) == 0, "redis start: %s", err);
    wait_for_health(&in, 200, "ok\n", FAULTS_PROCESS_S);
    instance_assert_running(&in);

    loadgen_finish(&gen);
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    collector_check_revisions(&c, false);
    /* it did pause for Redis and resume, in this same process */
    ck_assert_uint_ge(harness_file_count(in.log, "event=redis_unavailable"), 1);
    ck_assert_uint_ge(harness_file_count(in.log, "event=redis_available consumption=resumed"), 1);
    ck_assert_uint_eq(harness_file_count(in.log, "event=starting"), 1);
    fprintf(stderr, "redis_restart_and_outage: %zu profiles, %zu repeated%s\n", c.messages, c.repeats,
            under_load ? "" : " (the load ended during the outage)");
    instance_stop(&in);
    instance_release(&in);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* Redis goes down under load with two instances consuming. One is stopped
 * (SIGTERM: it commits on the way out), the other takes over its partitions
 * while paused and is killed after the auto-commit interval (5 s): had either
 * committed an offset of a span it could not store, the span would be lost
 * when a third instance starts after Redis is back. */
START_TEST(redis_down_then_stop_and_kill9_loses_nothing) {
    enum { RUNS = 150, SEED = 404 };
    char err[256];
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t a, b;
    instance_start(&a, "run-a");
    instance_start(&b, "run-b");
    wait_for_log(&c, a.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    wait_for_log(&c, b.log, "owned=2 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 250, loadlog);
    collector_poll(&c, 3000);

    ck_assert_int_eq(harness_redis_stop(fx.redis), 0);
    wait_for_health(&a, 503, "degraded: ", FAULTS_PROCESS_S);
    wait_for_health(&b, 503, "degraded: ", FAULTS_PROCESS_S);
    wait_for_log(&c, a.log, "event=redis_unavailable", 1, FAULTS_PROCESS_S);
    bool under_load = loadgen_running(&gen);
    instance_stop(&a);
    wait_for_log(&c, b.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    collector_poll(&c, 6500);
    instance_kill9(&b);
    ck_assert_msg(harness_redis_restart(fx.redis, 0, err, sizeof(err)) == 0, "redis start: %s", err);

    instance_t in;
    instance_start(&in, "run-c");
    loadgen_finish(&gen);
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    collector_check_revisions(&c, false);
    fprintf(stderr, "redis_down_then_stop_and_kill9_loses_nothing: %zu profiles, %zu repeated%s\n", c.messages,
            c.repeats, under_load ? "" : " (the load ended before the outage)");
    instance_stop(&in);
    instance_release(&in);
    instance_release(&a);
    instance_release(&b);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* Redis goes down while nothing is being consumed: only the due scans see it.
 * /healthz must say so, and say "ok" again once Redis is back. */
START_TEST(redis_outage_when_idle_health_recovers) {
    enum { RUNS = 20, SEED = 505 };
    char err[256];
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0);
    instance_t in;
    instance_start(&in, "run");
    wait_for_log(&c, in.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0, 0, loadlog);
    loadgen_finish(&gen);
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    wait_for_health(&in, 200, "ok\n", FAULTS_PROCESS_S);

    ck_assert_int_eq(harness_redis_stop(fx.redis), 0);
    wait_for_health(&in, 503, "degraded: ", FAULTS_PROCESS_S);
    ck_assert_msg(harness_redis_restart(fx.redis, 0, err, sizeof(err)) == 0, "redis start: %s", err);
    wait_for_health(&in, 200, "ok\n", 60);
    instance_stop(&in);
    instance_release(&in);
    fleet_end(&c, expected, loadlog);
}
END_TEST

/* ---- 4. the broker ------------------------------------------------------------------- */

/* The broker goes down for a few seconds under load; later the produce
 * requests of the processor alone fail with retriable errors (the spans are
 * already in the topic when it starts, so no other client produces then).
 * No profile is lost; the producer retries, so none may come twice either. */
START_TEST(broker_down_and_produce_errors) {
    enum { RUNS_A = 200, SEED_A = 606, RUNS_B = 80, SEED_B = 607 };
    char err[256];
    json_t *expected = json_object();
    expect_fleet(expected, RUNS_A, SEED_A, 0.05);
    json_t *expected_a = json_deep_copy(expected);
    expect_fleet(expected, RUNS_B, SEED_B, 0.05);
    collector_t c;
    collector_init(&c, expected);
    char *loadlog = path_in("loadgen.log");
    instance_t in;
    instance_start(&in, "run-0");
    wait_for_log(&c, in.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS_A, SEED_A, 0.05, 300, loadlog);
    collector_poll(&c, 4000);

    ck_assert_msg(harness_kafka_command(fx.kafka, "broker down 1", err, sizeof(err)) == 0, "%s", err);
    usleep(4000 * 1000);
    ck_assert_msg(harness_kafka_command(fx.kafka, "broker up 1", err, sizeof(err)) == 0, "%s", err);
    bool under_load = loadgen_running(&gen);
    loadgen_finish(&gen);
    /* all of the first fleet, before the next step */
    size_t matched_a = 0;
    int64_t deadline = mono_ms() + FAULTS_SETTLE_S * 1000LL;
    for (;;) {
        const char *key;
        json_t *want;
        matched_a = 0;
        json_object_foreach(expected_a, key, want) {
            json_t *got = json_object_get(c.latest, key);
            matched_a += got && json_equal(json_object_get(got, "figures"), want);
        }
        if (matched_a == RUNS_A || mono_ms() >= deadline)
            break;
        collector_poll(&c, 500);
    }
    if (matched_a != RUNS_A)
        fail_with_log(in.log, "%zu of %d runs profiled after the broker came back", matched_a, RUNS_A);
    instance_stop(&in);
    instance_release(&in);

    loadgen_start(&gen, RUNS_B, SEED_B, 0.05, 0, loadlog);
    loadgen_finish(&gen);
    /* 6 NOT_LEADER_OR_FOLLOWER, 7 REQUEST_TIMED_OUT: both retriable */
    ck_assert_msg(harness_kafka_command(fx.kafka, "push-errors 0 6 6 7 6 7 6 7", err, sizeof(err)) == 0, "%s",
                  err);
    instance_start(&in, "run-1");
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    fprintf(stderr, "broker_down_and_produce_errors: %zu profiles, %zu repeated%s\n", c.messages, c.repeats,
            under_load ? "" : " (the load ended during the outage)");
    ck_assert_uint_eq(c.repeats, 0);
    collector_check_revisions(&c, true);
    instance_stop(&in);
    instance_release(&in);
    /* the fault happened as meant: dagprof run's requests took every pushed
     * error, so a producer that does not retry now gets through */
    ck_assert_msg(harness_kafka_command(fx.kafka, "topic-create faults-probe 1", err, sizeof(err)) == 0, "%s", err);
    rd_kafka_t *probe = producer_new(false);
    rd_kafka_resp_err_t probe_err = produce_sync(probe, "faults-probe", "probe", "x", 1);
    ck_assert_msg(probe_err == RD_KAFKA_RESP_ERR_NO_ERROR, "a pushed produce error was left: %s",
                  rd_kafka_err2str(probe_err));
    rd_kafka_destroy(probe);
    collector_free(&c);
    json_decref(expected_a);
    json_decref(expected);
    free(loadlog);
}
END_TEST

/* ---- 5. SIGTERM ---------------------------------------------------------------------- */

/* SIGTERM under load: a clean stop (exit 0, "event=stopped clean=1"), and a
 * restarted instance profiles everything, each profile once. */
START_TEST(sigterm_during_load) {
    enum { RUNS = 200, SEED = 707 };
    json_t *expected = json_object();
    collector_t c;
    char *loadlog = fleet_begin(&c, expected, RUNS, SEED, 0.05);
    instance_t in;
    instance_start(&in, "run-0");
    wait_for_log(&c, in.log, "owned=4 strategy", 1, FAULTS_PROCESS_S);
    loadgen_t gen;
    loadgen_start(&gen, RUNS, SEED, 0.05, 300, loadlog);
    collector_poll(&c, random_ms(3000, 6000));
    bool under_load = loadgen_running(&gen);
    instance_stop(&in);
    instance_release(&in);
    collector_poll(&c, 2000); /* the load goes on with nobody consuming */

    instance_start(&in, "run-1");
    loadgen_finish(&gen);
    collector_wait_all(&c, FAULTS_SETTLE_S, in.log);
    fprintf(stderr, "sigterm_during_load: %zu profiles, %zu repeated%s\n", c.messages, c.repeats,
            under_load ? "" : " (the load ended before the stop)");
    ck_assert_uint_eq(c.repeats, 0);
    collector_check_revisions(&c, true);
    instance_stop(&in);
    instance_release(&in);
    fleet_end(&c, expected, loadlog);
}
END_TEST

int main(void) {
    const char *seed_text = getenv("FAULTS_SEED");
    unsigned schedule_seed = seed_text ? (unsigned)strtoul(seed_text, NULL, 10)
                              : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "faults: FAULTS_SEED=%u\n", schedule_seed);
    srandom(schedule_seed);
    Suite *s = suite_create("faults");

    const struct {
        const char *name;
        void (*setup)(void);
        const TTest *tests[3];
    } cases[] = {
        {"kill9", setup, {kill9_during_load, kill9_between_publish_and_finish, NULL}},
        {"recovery", setup, {kill9_twice_within_3s, kill9_during_rebalance, NULL}},
        {"zombie", setup, {sigstop_past_session_then_sigcont, kill9_restart_same_instance_id, NULL}},
        {"rebalance", setup, {rebalance_under_load, rebalance_under_load_eager, NULL}},
        {"redis", setup_persistent,
         {redis_restart_and_outage, redis_down_then_stop_and_kill9_loses_nothing,
          redis_outage_when_idle_health_recovers}},
        {"broker", setup, {broker_down_and_produce_errors, NULL}},
        {"sigterm", setup, {sigterm_during_load, NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, cases[i].setup, teardown);
        /* each test stays well below this; it only stops a hung one */
        tcase_set_timeout(tc, 480);
        for (size_t k = 0; k < 3 && cases[i].tests[k]; k++)
            tcase_add_test(tc, cases[i].tests[k]);
        suite_add_tcase(s, tc);
    }

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
