/* bench_e2e.c -- `dagprof run` end to end: throughput against the floor of a
 * plain Kafka consumer, CPU, memory, Redis cost, and the latency from a run
 * becoming due to its profile being on the output topic.
 *
 *   build/bench/bench_e2e [--runs N] [--concurrency N] [--partitions N] [--grace-ms N]
 *                         [--load-fraction F | --latency-rate SPANS_PER_S]
 *                         [--no-latency] [--backlog N] [--timeout S]
 *                         [--set DAGPROF_NAME=VALUE]... [--build-dir DIR]
 *                         [--redis-cluster]
 *
 * --redis-cluster: the trace store on a 3-master Redis Cluster (no replicas)
 * started on loopback (tests/harness_cluster.h), dagprof given its seeds;
 * Redis CPU and memory are then the sum over its nodes.
 *
 * Each phase starts its own redis-server and mock broker (tests/harness.h),
 * one `dagprof run` and a watcher of dag-profiles, then streams a fixed fleet
 * with `dagprof loadgen`:
 *
 * 1. Maximum throughput: loadgen unlimited. The mock broker keeps only about
 *    5 MB per partition, so loadgen is held (SIGSTOP/SIGCONT) whenever more
 *    than --backlog spans wait unread: dagprof never runs dry and retention
 *    drops nothing. Then the floor: a plain librdkafka consumer reads the same
 *    topic from the beginning, with dagprof stopped.
 * 2. Latency at part load: loadgen paced at --load-fraction (default 0.5) of
 *    the spans/s of phase 1. First a probe times the Kafka path alone (a
 *    producer set up like dagprof's publisher, a consumer like the watcher),
 *    so what dagprof adds can be told apart.
 *
 * Latency is receive time minus the profile's "dagprof.due.ms" header, split
 * at the record's profiled_at_us into dagprof's scheduling and publishing.
 * A phase ends when every run's latest profile holds all of its spans (the
 * fleet is regenerated in-process to know how many each run has), when
 * nothing moves for BENCH_QUIET_MS, or at --timeout. Exits 0 when every phase
 * completed without losing a span, 1 otherwise, 2 on bad usage. Figures
 * depend on the machine and on whatever else runs on it. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "harness_cluster.h"

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "fleet.h"
#include "harness.h"
#include "otlp_encode.h"
#include "profile.h"
#include "profile_avro.h"

#define BENCH_MAX_ENV 32
#define BENCH_TOPIC_SPANS "dag-spans"
#define BENCH_TOPIC_PROFILES "dag-profiles"
#define BENCH_DUE_HEADER "dagprof.due.ms"
/* Latency samples this long after the first profile count as steady state:
 * dagprof's publisher holds its first profiles while it looks the output
 * topic up, a start-up cost worth seeing apart from the rest. */
#define BENCH_STEADY_AFTER_MS 2000
/* Profiles fully decoded to check the fast prefix reader against the product's decoder. */
#define BENCH_CROSS_CHECKS 50
/* A phase with nothing new for this long after loadgen ended is over. */
#define BENCH_QUIET_MS 15000
/* dagprof refreshes its Redis round-trip gauge once a second. */
#define BENCH_SETTLE_MS 1100

typedef struct bench_options {
    const char *build_dir;
    uint64_t runs;
    uint64_t seed;
    unsigned concurrency; /* loadgen runs in flight; 0: its default */
    int partitions;
    int grace_ms;
    double load_fraction;  /* phase 2 rate as a share of phase 1 spans/s */
    double latency_rate;   /* explicit phase 2 rate; 0: from load_fraction */
    bool skip_latency;
    int64_t backlog_max;   /* unread spans above which loadgen is held */
    int timeout_s;         /* per phase */
    const char *extra_env[BENCH_MAX_ENV + 1]; /* NAME=VALUE for dagprof run */
    size_t extra_env_count;
    bool json;             /* stdout: one JSON object of the headline figures */
    const char *format;    /* loadgen.format: avro, otlp_proto, otlp_json */
    bool redis_cluster;    /* the store on a 3-master Redis Cluster */
} bench_options_t;



/* ---- clocks ---- */

static double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void bench_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the fleet: how many spans each run has ---- */

typedef struct bench_trace {
    char *trace_id;      /* NULL: free slot */
    int64_t expected;    /* spans loadgen sends for this run */
    int64_t best;        /* most spans in one of its profiles so far */
} bench_trace_t;

typedef struct bench_fleet {
    bench_trace_t *slots; /* open addressing, cap a power of two */
    size_t cap;
    size_t count;
    int64_t spans;
    fleet_options_t options;
} bench_fleet_t;

static uint64_t bench_hash(const char *text, size_t len) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bench_trace_t *bench_fleet_find(bench_fleet_t *fleet, const char *id, size_t len) {
    size_t i = (size_t)bench_hash(id, len) & (fleet->cap - 1);
    while (fleet->slots[i].trace_id) {
        const char *have = fleet->slots[i].trace_id;
        if (strlen(have) == len && memcmp(have, id, len) == 0)
            return &fleet->slots[i];
        i = (i + 1) & (fleet->cap - 1);
    }
    return &fleet->slots[i];
}

static void bench_fleet_free(bench_fleet_t *fleet) {
    for (size_t i = 0; i < fleet->cap; i++)
        free(fleet->slots[i].trace_id);
    free(fleet->slots);
    memset(fleet, 0, sizeof(*fleet));
}

/* Generate the same stream loadgen will send and count spans per run. */
static int bench_fleet_build(bench_fleet_t *out, const bench_options_t *opt, char *errstr,
                             size_t errstr_size) {
    fleet_t *gen = NULL;
    memset(out, 0, sizeof(*out));
    fleet_options_init(&out->options);
    out->options.runs = opt->runs;
    out->options.seed = opt->seed;
    if (opt->concurrency)
        out->options.concurrency = opt->concurrency;
    out->cap = 64;
    while (out->cap < opt->runs * 2)
        out->cap *= 2;
    out->slots = calloc(out->cap, sizeof(*out->slots));
    if (!out->slots) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    char err[256];
    gen = fleet_new(&out->options, err, sizeof(err));
    if (!gen) {
        snprintf(errstr, errstr_size, "fleet: %s", err);
        goto fail;
    }
    for (;;) {
        span_t span;
        int got = fleet_next(gen, &span);
        if (got == 0)
            break;
        if (got < 0) {
            snprintf(errstr, errstr_size, "fleet: out of memory");
            goto fail;
        }
        /* OTLP fleets carry loadgen's trace ids as OTLP ids (otlp_encode.h) */
        char otlp_id[33];
        if (strcmp(opt->format, "avro") != 0) {
            unsigned char bytes[16];
            otlp_encode_id(span.trace_id, bytes, sizeof(bytes));
            for (size_t j = 0; j < sizeof(bytes); j++)
                snprintf(otlp_id + 2 * j, 3, "%02x", bytes[j]);
            span.trace_id = otlp_id;
        }
        size_t len = strlen(span.trace_id);
        bench_trace_t *t = bench_fleet_find(out, span.trace_id, len);
        if (!t->trace_id) {
            if (out->count * 2 >= out->cap) {
                snprintf(errstr, errstr_size, "fleet has more runs than the %" PRIu64 " asked for",
                         opt->runs);
                goto fail;
            }
            t->trace_id = strdup(span.trace_id);
            if (!t->trace_id) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
            }
            out->count++;
        }
        t->expected++;
        out->spans++;
    }
    fleet_free(gen);
    return 0;
fail:
    fleet_free(gen);
    bench_fleet_free(out);
    return -1;
}

static void bench_fleet_reset(bench_fleet_t *fleet) {
    for (size_t i = 0; i < fleet->cap; i++)
        fleet->slots[i].best = 0;
}

/* ---- /proc and Redis figures ---- */

/* utime + stime of a process, in seconds; -1 when it cannot be read. */
static double bench_proc_cpu_s(pid_t pid) {
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    /* the command name may hold spaces: fields are counted after its ')' */
    char *p = strrchr(text, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of the children reaped so far. */
static double bench_children_cpu_s(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* A "Name:   value kB" line of /proc/<pid>/status, or /proc/meminfo when pid is 0. */
static long long bench_proc_kb(pid_t pid, const char *name) {
    char path[64], line[256];
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/meminfo");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long kb = -1;
    size_t name_len = strlen(name);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
            kb = strtoll(line + name_len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* INFO memory's used_memory, in bytes; -1 on failure. */
static long long bench_redis_used_memory(redisContext *redis) {
    redisReply *reply = redisCommand(redis, "INFO memory");
    long long used = -1;
    if (reply && reply->type == REDIS_REPLY_STRING) {
        const char *p = strstr(reply->str, "used_memory:");
        if (p)
            used = strtoll(p + strlen("used_memory:"), NULL, 10);
    }
    if (reply)
        freeReplyObject(reply);
    return used;
}

/* ---- dagprof's /metrics ---- */

typedef struct bench_metrics {
    double messages, consumed, stored, duplicate, dead_lettered, round_trips, commands, published,
        failed, traces_open, in_flight;
} bench_metrics_t;

/* GET /metrics over a plain socket (HTTP/1.0: the server closes when done). */
/* --redis-cluster: used_memory summed over the nodes, -1 when one fails. */
static long long bench_cluster_used_memory(const harness_cluster_t *cluster) {
    long long sum = 0;
    for (int i = 0; i < harness_cluster_count(cluster); i++) {
        char err[256];
        redisContext *ctx = harness_cluster_connect(cluster, i, err, sizeof(err));
        long long used = ctx ? bench_redis_used_memory(ctx) : -1;
        if (ctx)
            redisFree(ctx);
        if (used < 0)
            return -1;
        sum += used;
    }
    return sum;
}

static int bench_http_get(int port, const char *path, buf_t *out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = -1;
    char request[256];
    int len = snprintf(request, sizeof(request), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        send(fd, request, (size_t)len, MSG_NOSIGNAL) != len)
        goto done;
    buf_reset(out);
    char chunk[8192];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        if (buf_append(out, chunk, (size_t)n) != 0)
            goto done;
    if (n < 0 || !out->data || strncmp(out->data, "HTTP/1.", 7) != 0 || !strstr(out->data, " 200 "))
        goto done;
    rc = 0;
done:
    close(fd);
    return rc;
}

/* Sum of every sample of `name` (all label sets); 0 when absent. */
static double bench_metric(const char *text, const char *name) {
    double sum = 0;
    size_t len = strlen(name);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, name, len) != 0 || (line[len] != ' ' && line[len] != '{'))
            continue;
        const char *value = strchr(line + len, ' ');
        const char *eol = strchr(line, '\n');
        if (value && (!eol || value < eol))
            sum += strtod(value + 1, NULL);
    }
    return sum;
}

static int bench_scrape(int port, buf_t *scratch, bench_metrics_t *m) {
    if (bench_http_get(port, "/metrics", scratch) != 0)
        return -1;
    const char *t = scratch->data;
    /* spans: an OTLP message counts as consumed once and holds many spans */
    m->messages = bench_metric(t, "dagprof_spans_consumed_total");
    m->consumed = m->messages - bench_metric(t, "dagprof_otlp_messages_total") +
                  bench_metric(t, "dagprof_otlp_spans_total");
    m->stored = bench_metric(t, "dagprof_spans_stored_total");
    m->duplicate = bench_metric(t, "dagprof_spans_duplicate_total");
    m->dead_lettered = bench_metric(t, "dagprof_spans_dead_lettered_total");
    m->round_trips = bench_metric(t, "dagprof_redis_round_trips_total");
    m->commands = bench_metric(t, "dagprof_redis_commands_total");
    m->published = bench_metric(t, "dagprof_profiles_published_total");
    m->failed = bench_metric(t, "dagprof_profiles_failed_total");
    m->traces_open = bench_metric(t, "dagprof_traces_open");
    m->in_flight = bench_metric(t, "dagprof_profiles_in_flight");
    return 0;
}

/* ---- the profile watcher: a consumer of dag-profiles ---- */

typedef struct bench_reader {
    const unsigned char *p, *end;
    bool bad;
} bench_reader_t;

static int64_t bench_read_long(bench_reader_t *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    }
    r->bad = true;
    return 0;
}

static const char *bench_read_string(bench_reader_t *r, size_t *len) {
    int64_t n = bench_read_long(r);
    if (r->bad || n < 0 || n > r->end - r->p) {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n;
    *len = (size_t)n;
    return s;
}

static void bench_skip(bench_reader_t *r, size_t n) {
    if ((size_t)(r->end - r->p) < n)
        r->bad = true;
    else
        r->p += n;
}

typedef struct bench_profile_head {
    const char *trace_id; /* points into the message */
    size_t trace_id_len;
    int64_t revision;
    bool complete;
    int64_t profiled_at_us;
    int64_t span_count;
} bench_profile_head_t;

/* The fields a Profile record starts with (schemas/profile.avsc, SPEC §4),
 * read without decoding the rest: decoding every profile in full would take
 * CPU from the process being measured. Checked against profile_avro_decode()
 * on the first BENCH_CROSS_CHECKS records. */
static int bench_profile_head(const void *data, size_t len, bench_profile_head_t *out) {
    bench_reader_t r = {data, (const unsigned char *)data + len, false};
    size_t n;
    memset(out, 0, sizeof(*out));
    bench_read_string(&r, &n); /* profile_id */
    out->trace_id = bench_read_string(&r, &out->trace_id_len);
    int64_t branch = bench_read_long(&r); /* dag_id: ["null", "string"] */
    if (branch == 1)
        bench_read_string(&r, &n);
    else if (branch != 0)
        r.bad = true;
    out->revision = bench_read_long(&r);
    if (r.p < r.end)
        out->complete = *r.p != 0;
    bench_skip(&r, 1);
    out->profiled_at_us = bench_read_long(&r);
    for (int i = 0; i < 5; i++) /* run_start, wall, work, critical_path, ideal_wall */
        bench_read_long(&r);
    bench_skip(&r, 16); /* parallelism, schedule_efficiency */
    bench_read_long(&r); /* node_count */
    out->span_count = bench_read_long(&r);
    return r.bad ? -1 : 0;
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double bench_percentile(const double *sorted, size_t n, double p) {
    if (n == 0)
        return NAN;
    size_t rank = (size_t)ceil(p * (double)n);
    return sorted[rank == 0 ? 0 : rank - 1];
}

typedef struct bench_series {
    double *values;
    size_t count, cap;
} bench_series_t;

static void bench_series_add(bench_series_t *s, double value) {
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        double *grown = realloc(s->values, cap * sizeof(*grown));
        if (!grown)
            return; /* a sample fewer: the percentiles stay meaningful */
        s->values = grown;
        s->cap = cap;
    }
    s->values[s->count++] = value;
}

static void bench_series_free(bench_series_t *s) {
    free(s->values);
    memset(s, 0, sizeof(*s));
}

typedef struct bench_watch {
    rd_kafka_t *rk;
    bench_fleet_t *fleet;
    profile_avro_t *avro;
    /* per profile: receive - due (total), profiled_at - due (dagprof's scheduling
     * and profiling), receive - profiled_at (encoding, Kafka, the watcher) */
    bench_series_t total_ms, sched_ms, publish_ms;
    bench_series_t steady_ms; /* total_ms after BENCH_STEADY_AFTER_MS */
    double first_profile_ms;
    int64_t profiles, revisions, incomplete, unknown_traces, no_header, undecodable, mismatches;
    int checked;
    size_t traces_done;   /* runs whose profile holds all their spans */
    double done_ms;       /* when the last run got there */
    double last_profile_ms;
    char error[512];      /* first inconsistency, for the report */
} bench_watch_t;

/* A consumer reading every partition of `topic` from the beginning, for
 * latency measurements. Assigned, not subscribed: no group join to wait for.
 * NULL with errstr on failure; the caller closes and destroys it. */
static rd_kafka_t *bench_latency_consumer(const char *bootstrap, const char *topic, int partitions,
                                          char *errstr, size_t errstr_size) {
    char err[256], group[64];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "bench-%s-%d", topic, (int)getpid());
    /* The mock broker answers an empty fetch only after fetch.wait.max.ms,
     * even when data arrives meanwhile (a real broker answers at once), and
     * a partition idle for a few seconds is fetched again only after
     * fetch.error.backoff.ms (up to a second late, measured): keep both short
     * so they add little to what is measured. */
    const char *settings[][2] = {{"bootstrap.servers", bootstrap}, {"group.id", group},
                                 {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "10"},
                                 {"fetch.error.backoff.ms", "10"}, {"enable.partition.eof", "true"}};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "consumer of %s: %s", topic, err);
            goto fail;
        }
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        snprintf(errstr, errstr_size, "consumer of %s: %s", topic, err);
        goto fail;
    }
    conf = NULL;
    rd_kafka_resp_err_t rc = rd_kafka_poll_set_consumer(rk);
    parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (!rc)
        rc = rd_kafka_assign(rk, parts);
    if (rc) {
        snprintf(errstr, errstr_size, "consumer of %s: %s", topic, rd_kafka_err2str(rc));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
fail:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (rk)
        rd_kafka_destroy(rk);
    return NULL;
}

/* Wait until the consumer reached the end of every partition once: its
 * fetchers run, so what is produced from now on is not held up by start-up
 * (about a second against the mock broker). Messages read meanwhile are
 * dropped: call it before anything that counts is produced. */
static int bench_latency_consumer_ready(rd_kafka_t *rk, int partitions, char *errstr,
                                        size_t errstr_size) {
    bool *at_end = calloc((size_t)partitions, sizeof(*at_end));
    int ends = 0;
    double deadline = bench_now_ms() + 30000;
    if (!at_end) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    while (ends < partitions && bench_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->partition >= 0 &&
            m->partition < partitions && !at_end[m->partition]) {
            at_end[m->partition] = true;
            ends++;
        }
        rd_kafka_message_destroy(m);
    }
    free(at_end);
    if (ends < partitions) {
        snprintf(errstr, errstr_size, "consumer reached %d of %d partitions in 30 s", ends, partitions);
        return -1;
    }
    return 0;
}

static int bench_watch_open(bench_watch_t *w, const char *bootstrap, int partitions,
                            bench_fleet_t *fleet, char *errstr, size_t errstr_size) {
    char err[256];
    memset(w, 0, sizeof(w[0]));
    w->fleet = fleet;
    w->avro = profile_avro_new(err, sizeof(err));
    if (!w->avro) {
        snprintf(errstr, errstr_size, "watcher: %s", err);
        return -1;
    }
    w->rk = bench_latency_consumer(bootstrap, BENCH_TOPIC_PROFILES, partitions, errstr, errstr_size);
    if (!w->rk || bench_latency_consumer_ready(w->rk, partitions, errstr, errstr_size) != 0) {
        if (w->rk)
            rd_kafka_destroy(w->rk);
        w->rk = NULL;
        profile_avro_free(w->avro);
        w->avro = NULL;
        return -1;
    }
    return 0;
}

static void bench_watch_close(bench_watch_t *w) {
    if (w->rk) {
        rd_kafka_resp_err_t rc = rd_kafka_consumer_close(w->rk);
        if (rc)
            fprintf(stderr, "bench: watcher close: %s\n", rd_kafka_err2str(rc));
        rd_kafka_destroy(w->rk);
    }
    profile_avro_free(w->avro);
    bench_series_free(&w->total_ms);
    bench_series_free(&w->sched_ms);
    bench_series_free(&w->publish_ms);
    bench_series_free(&w->steady_ms);
    memset(w, 0, sizeof(*w));
}

static void bench_watch_note(bench_watch_t *w, const char *fmt, const char *detail) {
    if (w->error[0] == '\0')
        snprintf(w->error, sizeof(w->error), fmt, detail);
}

/* The product's decoder must read the same fields as bench_profile_head. */
static void bench_watch_cross_check(bench_watch_t *w, const rd_kafka_message_t *m,
                                    const bench_profile_head_t *head) {
    profile_t *full = NULL;
    char err[256];
    w->checked++;
    if (profile_avro_decode(w->avro, m->payload, m->len, &full, err, sizeof(err)) != 0) {
        w->mismatches++;
        bench_watch_note(w, "profile_avro_decode failed: %s", err);
        return;
    }
    if (strlen(full->trace_id) != head->trace_id_len ||
        memcmp(full->trace_id, head->trace_id, head->trace_id_len) != 0 ||
        full->revision != head->revision || full->complete != head->complete ||
        full->profiled_at_us != head->profiled_at_us || full->summary.span_count != head->span_count) {
        w->mismatches++;
        bench_watch_note(w, "the Profile schema changed: fix bench_profile_head (trace %s)",
                         full->trace_id);
    }
    profile_free(full);
}

static void bench_watch_message(bench_watch_t *w, const rd_kafka_message_t *m, double received_ms) {
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            bench_watch_note(w, "watcher: %s", rd_kafka_message_errstr(m));
        return;
    }
    if (w->profiles++ == 0)
        w->first_profile_ms = received_ms;
    w->last_profile_ms = received_ms;
    bench_profile_head_t head;
    if (!m->payload || bench_profile_head(m->payload, m->len, &head) != 0) {
        w->undecodable++;
        bench_watch_note(w, "%s", "a profile record could not be read");
        return;
    }
    double profiled_ms = (double)head.profiled_at_us / 1000.0;
    rd_kafka_headers_t *headers = NULL;
    const void *value = NULL;
    size_t size = 0;
    char text[32];
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, BENCH_DUE_HEADER, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        value && size > 0 && size < sizeof(text)) {
        memcpy(text, value, size);
        text[size] = '\0';
        double due_ms = strtod(text, NULL);
        bench_series_add(&w->total_ms, received_ms - due_ms);
        if (received_ms - w->first_profile_ms >= BENCH_STEADY_AFTER_MS)
            bench_series_add(&w->steady_ms, received_ms - due_ms);
        bench_series_add(&w->sched_ms, profiled_ms - due_ms);
    } else {
        w->no_header++;
    }
    bench_series_add(&w->publish_ms, received_ms - profiled_ms);
    if (w->checked < BENCH_CROSS_CHECKS)
        bench_watch_cross_check(w, m, &head);
    if (head.revision > 0)
        w->revisions++;
    if (!head.complete)
        w->incomplete++;
    bench_trace_t *t = bench_fleet_find(w->fleet, head.trace_id, head.trace_id_len);
    if (!t->trace_id) {
        w->unknown_traces++;
        return;
    }
    if (head.span_count > t->best) {
        bool was_done = t->best == t->expected;
        t->best = head.span_count;
        if (t->best == t->expected && !was_done && ++w->traces_done == w->fleet->count)
            w->done_ms = received_ms;
    }
}

/* Handle what has arrived, waiting up to wait_ms for the first message. */
static void bench_watch_poll(bench_watch_t *w, int wait_ms) {
    for (int i = 0; i < 10000; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, i == 0 ? wait_ms : 0);
        if (!m)
            return;
        bench_watch_message(w, m, bench_now_ms());
        rd_kafka_message_destroy(m);
    }
}

/* Messages in the input topic (sum of high watermarks); -1 on failure. */
static int64_t bench_topic_end(rd_kafka_t *rk, int partitions) {
    int64_t total = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t low = 0, high = 0;
        if (rd_kafka_query_watermark_offsets(rk, BENCH_TOPIC_SPANS, p, &low, &high, 2000))
            return -1;
        total += high;
    }
    return total;
}

/* The input topic's end, read on its own thread and Kafka handle: a query
 * takes tens of milliseconds against the mock broker, and the watcher must
 * keep polling meanwhile or its receive times would come late. */
typedef struct bench_gauge {
    rd_kafka_t *rk;
    int partitions;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int_fast64_t end; /* -1 until the first answer */
} bench_gauge_t;

static void *bench_gauge_main(void *arg) {
    bench_gauge_t *g = arg;
    while (!atomic_load(&g->stop)) {
        int64_t end = bench_topic_end(g->rk, g->partitions);
        if (end >= 0)
            atomic_store(&g->end, end);
        bench_sleep_ms(50);
    }
    return NULL;
}

static int bench_gauge_start(bench_gauge_t *g, const char *bootstrap, int partitions, char *errstr,
                             size_t errstr_size) {
    char err[256];
    memset(g, 0, sizeof(*g));
    g->partitions = partitions;
    atomic_init(&g->stop, false);
    atomic_init(&g->end, -1);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "gauge: %s", err);
        return -1;
    }
    /* a producer handle: it only asks for offsets, and needs no group */
    g->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!g->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "gauge: %s", err);
        return -1;
    }
    int rc = pthread_create(&g->thread, NULL, bench_gauge_main, g);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "gauge thread: %s", strerror(rc));
        rd_kafka_destroy(g->rk);
        g->rk = NULL;
        return -1;
    }
    g->started = true;
    return 0;
}

/* Stop the thread (the handle stays, for a last query). */
static void bench_gauge_stop(bench_gauge_t *g) {
    if (!g->started)
        return;
    atomic_store(&g->stop, true);
    pthread_join(g->thread, NULL);
    g->started = false;
}

static void bench_gauge_free(bench_gauge_t *g) {
    bench_gauge_stop(g);
    if (g->rk)
        rd_kafka_destroy(g->rk);
    g->rk = NULL;
}

/* ---- Kafka alone: the part of the latency that is not dagprof's ---- */

#define BENCH_PROBE_TOPIC "bench-probe"
#define BENCH_PROBE_SAMPLES 1000
#define BENCH_PROBE_INTERVAL_MS 5

/* A producer set up like dagprof's publisher sends timestamped records to a
 * topic of their own, one every BENCH_PROBE_INTERVAL_MS, round robin over the
 * partitions; a consumer set up like the watcher reads them. p50/p99 of
 * send -> receive, once both are warm. */
static int bench_probe_kafka(harness_kafka_t *kafka, int partitions, double *p50, double *p99,
                             char *errstr, size_t errstr_size) {
    char err[256], command[128];
    rd_kafka_t *producer = NULL, *consumer = NULL;
    rd_kafka_conf_t *conf = NULL;
    bench_series_t samples;
    int rc = -1;
    memset(&samples, 0, sizeof(samples));
    snprintf(command, sizeof(command), "topic-create %s %d", BENCH_PROBE_TOPIC, partitions);
    if (harness_kafka_command(kafka, command, err, sizeof(err)) != 0) {
        snprintf(errstr, errstr_size, "probe topic: %s", err);
        goto done;
    }
    conf = rd_kafka_conf_new();
    /* dagprof run's publisher defaults (consumer/main.c) */
    const char *settings[][2] = {{"bootstrap.servers", harness_kafka_bootstrap(kafka)},
                                 {"enable.idempotence", "true"}, {"linger.ms", "5"},
                                 {"compression.type", "lz4"}};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "probe: %s", err);
            goto done;
        }
    }
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!producer) {
        snprintf(errstr, errstr_size, "probe: %s", err);
        goto done;
    }
    conf = NULL;
    consumer = bench_latency_consumer(harness_kafka_bootstrap(kafka), BENCH_PROBE_TOPIC, partitions,
                                      errstr, errstr_size);
    if (!consumer)
        goto done;
    /* warm: one delivered record per partition, and the consumer past them */
    for (int p = 0; p < partitions; p++) {
        rd_kafka_resp_err_t kerr = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(BENCH_PROBE_TOPIC), RD_KAFKA_V_PARTITION(p),
            RD_KAFKA_V_VALUE("warm-up", 7), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (kerr) {
            snprintf(errstr, errstr_size, "probe: produce: %s", rd_kafka_err2str(kerr));
            goto done;
        }
    }
    if (rd_kafka_flush(producer, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "probe: warm-up records not delivered in 30 s");
        goto done;
    }
    if (bench_latency_consumer_ready(consumer, partitions, errstr, errstr_size) != 0)
        goto done;
    int sent = 0, received = 0, total = BENCH_PROBE_SAMPLES;
    double next_send = bench_now_ms(), deadline = next_send + 60000;
    while (received < total) {
        double now = bench_now_ms();
        if (now > deadline) {
            snprintf(errstr, errstr_size, "probe: %d of %d records back after 60 s", received, total);
            goto done;
        }
        if (sent < total && now >= next_send) {
            char value[32];
            snprintf(value, sizeof(value), "%.3f", now);
            rd_kafka_resp_err_t kerr = rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(BENCH_PROBE_TOPIC), RD_KAFKA_V_PARTITION(sent % partitions),
                RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (kerr) {
                snprintf(errstr, errstr_size, "probe: produce: %s", rd_kafka_err2str(kerr));
                goto done;
            }
            sent++;
            next_send += BENCH_PROBE_INTERVAL_MS;
        }
        rd_kafka_poll(producer, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 2);
        if (!m)
            continue;
        if (!m->err && m->payload && m->len < 32 && m->len != 7) { /* not a warm-up record */
            char value[32];
            memcpy(value, m->payload, m->len);
            value[m->len] = '\0';
            received++;
            bench_series_add(&samples, bench_now_ms() - strtod(value, NULL));
        }
        rd_kafka_message_destroy(m);
    }
    qsort(samples.values, samples.count, sizeof(double), bench_cmp_double);
    *p50 = bench_percentile(samples.values, samples.count, 0.50);
    *p99 = bench_percentile(samples.values, samples.count, 0.99);
    rc = 0;
done:
    if (consumer) {
        rd_kafka_resp_err_t kerr = rd_kafka_consumer_close(consumer);
        if (kerr)
            fprintf(stderr, "bench: probe close: %s\n", rd_kafka_err2str(kerr));
        rd_kafka_destroy(consumer);
    }
    if (producer) {
        if (rd_kafka_flush(producer, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            fprintf(stderr, "bench: probe: records left undelivered\n");
        rd_kafka_destroy(producer);
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    bench_series_free(&samples);
    return rc;
}

/* ---- the floor: a plain consumer of the same topic ---- */

typedef struct bench_floor {
    int64_t messages;
    int64_t bytes;
    double seconds; /* first to last message */
    double per_s;
    double cpu_s; /* this process's CPU while reading: the reader's cost */
} bench_floor_t;

static int bench_floor_run(const char *bootstrap, int partitions, int timeout_s, bench_floor_t *out,
                           char *errstr, size_t errstr_size) {
    char err[256], group[64];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    bool *at_end = calloc((size_t)partitions, sizeof(*at_end));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = -1;
    memset(out, 0, sizeof(*out));
    snprintf(group, sizeof(group), "bench-floor-%d-%ld", (int)getpid(), (long)time(NULL));
    const char *settings[][2] = {{"bootstrap.servers", bootstrap}, {"group.id", group},
                                 {"auto.offset.reset", "earliest"}, {"enable.partition.eof", "true"}};
    if (!at_end) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "floor: %s", err);
            goto done;
        }
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        snprintf(errstr, errstr_size, "floor: %s", err);
        goto done;
    }
    conf = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_poll_set_consumer(rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, BENCH_TOPIC_SPANS, RD_KAFKA_PARTITION_UA);
    if (!kerr)
        kerr = rd_kafka_subscribe(rk, topics);
    if (kerr) {
        snprintf(errstr, errstr_size, "floor: subscribe: %s", rd_kafka_err2str(kerr));
        goto done;
    }
    double deadline = bench_now_ms() + timeout_s * 1000.0, first = 0, last = 0;
    int ends = 0;
    /* dagprof is stopped and the watcher closed by now: the process's CPU is
     * the reader's, librdkafka's threads included */
    struct timespec cpu_start, cpu_end;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_start);
    while (ends < partitions) {
        if (bench_now_ms() > deadline) {
            snprintf(errstr, errstr_size, "floor: not at the end of %s after %d s", BENCH_TOPIC_SPANS,
                     timeout_s);
            goto done;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < partitions && !at_end[m->partition]) {
                at_end[m->partition] = true;
                ends++;
            }
        } else if (m->err) {
            fprintf(stderr, "bench: floor consumer: %s\n", rd_kafka_message_errstr(m));
        } else {
            last = bench_now_ms();
            if (out->messages == 0)
                first = last;
            out->messages++;
            out->bytes += (int64_t)m->len;
        }
        rd_kafka_message_destroy(m);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu_end);
    out->cpu_s = (double)(cpu_end.tv_sec - cpu_start.tv_sec) + (cpu_end.tv_nsec - cpu_start.tv_nsec) / 1e9;
    out->seconds = (last - first) / 1000.0;
    out->per_s = out->seconds > 0 ? (double)(out->messages - 1) / out->seconds : 0;
    rc = 0;
done:
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    if (rk) {
        kerr = rd_kafka_consumer_close(rk);
        if (kerr)
            fprintf(stderr, "bench: floor close: %s\n", rd_kafka_err2str(kerr));
        rd_kafka_destroy(rk);
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(at_end);
    return rc;
}

/* ---- one phase ---- */

typedef struct bench_phase {
    /* input */
    const char *name;
    double rate;          /* loadgen.rate, spans/s; 0 = unlimited */
    bool measure_floor;
    /* results */
    bool completed;       /* every run's profile holds all its spans */
    bool lost_spans;      /* consumed fewer than produced */
    char problem[768];
    int64_t produced;     /* spans in the input topic */
    int loadgen_holds;
    bench_metrics_t metrics;
    double first_consumed_ms, last_consumed_ms, done_ms;
    double seconds;       /* first span consumed -> last run profiled */
    double ingest_seconds; /* first span consumed -> last span consumed */
    double cpu_s, redis_cpu_s;
    double loadgen_cpu_s, broker_cpu_s; /* -1: not measured */
    long long rss_peak_kb;
    double open_peak;     /* dagprof_traces_open, the highest scraped */
    long long redis_before, redis_after;
    int64_t profiles, revisions, incomplete;
    size_t traces_done;
    double lat_p50, lat_p99, lat_max;
    size_t lat_count;
    double sched_p50, sched_p99, publish_p50, publish_p99;
    double probe_p50, probe_p99; /* Kafka alone */
    double steady_p50, steady_p99;
    int dagprof_exit;
    bench_floor_t floor;
} bench_phase_t;

static bool bench_file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void bench_print_log_tail(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char lines[10][512];
    size_t n = 0;
    while (fgets(lines[n % 10], sizeof(lines[0]), f))
        n++;
    fclose(f);
    fprintf(stderr, "--- last lines of %s\n", path);
    for (size_t i = n > 10 ? n - 10 : 0; i < n; i++)
        fputs(lines[i % 10], stderr);
}

/* Stop a child that may be held by SIGSTOP: release it, SIGTERM, wait. */
static int bench_stop_child(pid_t pid, bool held, int timeout_ms) {
    int status = -1;
    if (pid <= 0)
        return -1;
    if (held)
        harness_kill(pid, SIGCONT);
    harness_kill(pid, SIGTERM);
    if (harness_wait(pid, timeout_ms, &status) != 0) {
        harness_kill(pid, SIGKILL);
        harness_wait(pid, 10000, &status);
    }
    return status;
}

static int bench_phase_run(const bench_options_t *opt, bench_fleet_t *fleet, bench_phase_t *ph,
                           char *errstr, size_t errstr_size) {
    char err[512];
    int rc = -1;
    harness_redis_t *redis = NULL;
    harness_kafka_t *kafka = NULL;
    harness_cluster_t *cluster = NULL; /* --redis-cluster */
    redisContext *rc_redis = NULL;
    char *dir = NULL, *run_log = NULL, *gen_log = NULL;
    pid_t run_pid = -1, gen_pid = -1;
    bool gen_held = false, gen_running = false, keep_logs = false;
    bench_watch_t watch;
    bench_gauge_t gauge;
    buf_t scratch = BUF_INIT;
    memset(&watch, 0, sizeof(watch));
    memset(&gauge, 0, sizeof(gauge));
    bench_fleet_reset(fleet);

    dir = harness_tempdir("dagprof-bench");
    if (!dir || asprintf(&run_log, "%s/run.log", dir) < 0 || asprintf(&gen_log, "%s/loadgen.log", dir) < 0) {
        snprintf(errstr, errstr_size, "temp dir: %s", strerror(errno));
        goto fail;
    }
    redis = harness_redis_start(NULL, err, sizeof(err));
    if (!redis) {
        snprintf(errstr, errstr_size, "redis: %s", err);
        goto fail;
    }
    kafka = harness_kafka_start(opt->build_dir, 1, opt->partitions, err, sizeof(err));
    if (!kafka) {
        snprintf(errstr, errstr_size, "kafka: %s", err);
        goto fail;
    }
    rc_redis = harness_redis_connect(redis, err, sizeof(err));
    if (!rc_redis) {
        snprintf(errstr, errstr_size, "redis: %s", err);
        goto fail;
    }

    /* dagprof run: the wiring, then the user's --set settings */
    int metrics_port = harness_free_port();
    if (metrics_port < 0) {
        snprintf(errstr, errstr_size, "no free port for /metrics");
        goto fail;
    }
    char env_bootstrap[512], env_redis[64], env_metrics[64], env_grace[64];
    snprintf(env_bootstrap, sizeof(env_bootstrap), "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=%s",
             harness_kafka_bootstrap(kafka));
    snprintf(env_redis, sizeof(env_redis), "DAGPROF_REDIS_PORT=%d", harness_redis_port(redis));
    snprintf(env_metrics, sizeof(env_metrics), "DAGPROF_METRICS_PORT=%d", metrics_port);
    snprintf(env_grace, sizeof(env_grace), "DAGPROF_GRACE_MS=%d", opt->grace_ms);
    static char env_nodes[512];
    if (opt->redis_cluster) {
        cluster = harness_cluster_start(3, 0, err, sizeof(err));
        if (!cluster) {
            snprintf(errstr, errstr_size, "redis cluster: %s", err);
            goto fail;
        }
        snprintf(env_nodes, sizeof(env_nodes), "DAGPROF_REDIS_NODES=%s", harness_cluster_seeds(cluster));
    }
    const char *env[BENCH_MAX_ENV + 8];
    size_t env_count = 0;
    env[env_count++] = env_bootstrap;
    env[env_count++] = env_redis;
    env[env_count++] = env_metrics;
    env[env_count++] = env_grace;
    if (cluster)
        env[env_count++] = env_nodes;
    for (size_t i = 0; i < opt->extra_env_count; i++)
        env[env_count++] = opt->extra_env[i];
    env[env_count] = NULL;
    char dagprof[PATH_MAX];
    snprintf(dagprof, sizeof(dagprof), "%s/dagprof", opt->build_dir);
    const char *run_argv[] = {dagprof, "run", NULL};
    run_pid = harness_spawn(run_argv, env, run_log);
    if (run_pid < 0) {
        snprintf(errstr, errstr_size, "cannot start dagprof run: %s", strerror(errno));
        goto fail;
    }
    /* ready: in the group with its partitions, and serving /metrics */
    double deadline = bench_now_ms() + 60000;
    while (!bench_file_contains(run_log, "event=partitions_assigned") ||
           bench_scrape(metrics_port, &scratch, &ph->metrics) != 0) {
        int status;
        if (harness_wait(run_pid, 0, &status) == 0) {
            run_pid = -1;
            keep_logs = true;
            snprintf(errstr, errstr_size, "dagprof run exited with status %d at start (log %s)", status, run_log);
            goto fail;
        }
        if (bench_now_ms() > deadline) {
            keep_logs = true;
            snprintf(errstr, errstr_size, "dagprof run not ready after 60 s (log %s)", run_log);
            goto fail;
        }
        bench_sleep_ms(50);
    }
    if (bench_watch_open(&watch, harness_kafka_bootstrap(kafka), opt->partitions, fleet, errstr,
                         errstr_size) != 0)
        goto fail;
    if (bench_gauge_start(&gauge, harness_kafka_bootstrap(kafka), opt->partitions, errstr,
                          errstr_size) != 0)
        goto fail;
    ph->probe_p50 = ph->probe_p99 = NAN;
    if (ph->rate > 0 && bench_probe_kafka(kafka, opt->partitions, &ph->probe_p50, &ph->probe_p99, err,
                                          sizeof(err)) != 0)
        fprintf(stderr, "bench: %s\n", err);
    ph->redis_before = cluster ? bench_cluster_used_memory(cluster) : bench_redis_used_memory(rc_redis);

    char runs_text[32], seed_text[32], conc_text[32], late_text[32], rate_text[32];
    snprintf(runs_text, sizeof(runs_text), "%" PRIu64, fleet->options.runs);
    snprintf(seed_text, sizeof(seed_text), "%" PRIu64, fleet->options.seed);
    snprintf(conc_text, sizeof(conc_text), "%u", fleet->options.concurrency);
    snprintf(late_text, sizeof(late_text), "%.17g", fleet->options.late_fraction);
    snprintf(rate_text, sizeof(rate_text), "%.0f", ph->rate);
    const char *gen_argv[] = {dagprof, "loadgen", "--loadgen.runs", runs_text, "--loadgen.seed",
                              seed_text, "--loadgen.concurrency", conc_text,
                              "--loadgen.late.fraction", late_text, "--loadgen.rate", rate_text,
                              "--loadgen.format", opt->format,
                              /* OTLP as the README recommends: partition_traces_by_id */
                              "--loadgen.otlp.key_by_trace", "true", NULL};
    const char *gen_env[] = {env_bootstrap, NULL};
    double children_cpu_before = bench_children_cpu_s();
    ph->loadgen_cpu_s = -1;
    gen_pid = harness_spawn(gen_argv, gen_env, gen_log);
    if (gen_pid < 0) {
        snprintf(errstr, errstr_size, "cannot start loadgen: %s", strerror(errno));
        goto fail;
    }
    gen_running = true;

    double start_ms = bench_now_ms(), next_scrape = 0, next_throttle = 0, last_progress = start_ms;
    double phase_deadline = start_ms + opt->timeout_s * 1000.0, last_consumed = -1;
    int64_t last_profiles = 0;
    for (;;) {
        bench_watch_poll(&watch, 5);
        double now = bench_now_ms();
        if (watch.traces_done == fleet->count && !gen_running)
            break;
        if (now > phase_deadline) {
            snprintf(ph->problem, sizeof(ph->problem), "timed out after %d s", opt->timeout_s);
            break;
        }
        if (now >= next_scrape) {
            /* fine-grained until the first span is consumed: that starts the clock */
            next_scrape = now + (ph->first_consumed_ms > 0 ? 50 : 10);
            if (bench_scrape(metrics_port, &scratch, &ph->metrics) == 0) {
                if (ph->metrics.traces_open > ph->open_peak)
                    ph->open_peak = ph->metrics.traces_open;
                if (ph->metrics.consumed > 0 && ph->first_consumed_ms == 0)
                    ph->first_consumed_ms = now;
                if (ph->metrics.consumed != last_consumed) {
                    last_consumed = ph->metrics.consumed;
                    ph->last_consumed_ms = now;
                    last_progress = now;
                }
            }
            int status;
            if (harness_wait(run_pid, 0, &status) == 0) {
                run_pid = -1;
                keep_logs = true;
                snprintf(errstr, errstr_size, "dagprof run exited with status %d (log %s)", status, run_log);
                goto fail;
            }
        }
        if (gen_running && now >= next_throttle) {
            next_throttle = now + 50;
            int status;
            if (!gen_held && harness_wait(gen_pid, 0, &status) == 0) {
                gen_running = false;
                gen_pid = -1;
                /* loadgen is the only child reaped while the phase runs */
                ph->loadgen_cpu_s = bench_children_cpu_s() - children_cpu_before;
                if (status != 0) {
                    keep_logs = true;
                    snprintf(errstr, errstr_size, "loadgen exited with status %d (log %s)", status, gen_log);
                    goto fail;
                }
            } else {
                int64_t end = atomic_load(&gauge.end);
                /* in messages (the topic's end offset); an OTLP message holds as many
                 * spans as those consumed so far did on average */
                double per_message = ph->metrics.messages > 0 ? ph->metrics.consumed / ph->metrics.messages : 1;
                double backlog = ((double)end - ph->metrics.messages) * per_message;
                if (end >= 0 && !gen_held && backlog > (double)opt->backlog_max) {
                    if (harness_kill(gen_pid, SIGSTOP) == 0) {
                        gen_held = true;
                        ph->loadgen_holds++;
                    }
                } else if (end >= 0 && gen_held && backlog < (double)opt->backlog_max / 2) {
                    if (harness_kill(gen_pid, SIGCONT) == 0)
                        gen_held = false;
                }
            }
        }
        if (watch.profiles != last_profiles) {
            last_profiles = watch.profiles;
            last_progress = now;
        }
        if (!gen_running && now - last_progress > BENCH_QUIET_MS) {
            snprintf(ph->problem, sizeof(ph->problem),
                     "nothing moved for %d s: %zu of %zu runs fully profiled", BENCH_QUIET_MS / 1000,
                     watch.traces_done, fleet->count);
            break;
        }
    }
    ph->done_ms = watch.traces_done == fleet->count ? watch.done_ms : watch.last_profile_ms;
    if (ph->first_consumed_ms == 0 && !ph->problem[0])
        snprintf(ph->problem, sizeof(ph->problem), "dagprof never consumed a span");
    ph->completed = watch.traces_done == fleet->count;

    /* let the once-a-second gauges catch up, then read everything */
    double settle_end = bench_now_ms() + BENCH_SETTLE_MS;
    while (bench_now_ms() < settle_end)
        bench_watch_poll(&watch, 20);
    if (bench_scrape(metrics_port, &scratch, &ph->metrics) != 0)
        snprintf(ph->problem, sizeof(ph->problem), "could not read /metrics at the end");
    ph->cpu_s = bench_proc_cpu_s(run_pid);
    ph->rss_peak_kb = bench_proc_kb(run_pid, "VmHWM");
    ph->redis_cpu_s = bench_proc_cpu_s(harness_redis_pid(redis));
    for (int i = 0; cluster && i < harness_cluster_count(cluster); i++)
        ph->redis_cpu_s += bench_proc_cpu_s(harness_cluster_pid(cluster, i));
    ph->broker_cpu_s = bench_proc_cpu_s(harness_kafka_pid(kafka));
    ph->redis_after = cluster ? bench_cluster_used_memory(cluster) : bench_redis_used_memory(rc_redis);
    if (getenv("BENCH_REDIS_COMMANDSTATS")) {
        /* where redis-server's CPU went, by command (scripts' inner calls included) */
        redisReply *stats = redisCommand(rc_redis, "INFO commandstats");
        if (stats && stats->type == REDIS_REPLY_STRING)
            fprintf(stderr, "bench: %s redis-server commandstats:\n%s\n", ph->name, stats->str);
        if (stats)
            freeReplyObject(stats);
    }
    bench_gauge_stop(&gauge);
    ph->produced = bench_topic_end(gauge.rk, opt->partitions);
    /* the topic holds OTLP messages of many spans; loadgen exited 0, so every span arrived */
    if (strcmp(opt->format, "avro") != 0 && ph->produced > 0)
        ph->produced = fleet->spans;
    ph->lost_spans = ph->metrics.consumed < (double)ph->produced;
    if (ph->produced != fleet->spans && !ph->problem[0])
        snprintf(ph->problem, sizeof(ph->problem), "%" PRId64 " spans in the topic, the fleet has %" PRId64,
                 ph->produced, fleet->spans);
    if (ph->lost_spans && !ph->problem[0])
        snprintf(ph->problem, sizeof(ph->problem),
                 "dagprof consumed %.0f of %" PRId64 " spans: the broker dropped the rest (lower --backlog)",
                 ph->metrics.consumed, ph->produced);
    if (watch.error[0] && !ph->problem[0])
        snprintf(ph->problem, sizeof(ph->problem), "%s", watch.error);
    if ((watch.mismatches || watch.undecodable || watch.unknown_traces) && !ph->problem[0])
        snprintf(ph->problem, sizeof(ph->problem), "%" PRId64 " unreadable and %" PRId64 " unknown profiles",
                 watch.undecodable + watch.mismatches, watch.unknown_traces);
    ph->seconds = (ph->done_ms - ph->first_consumed_ms) / 1000.0;
    ph->ingest_seconds = (ph->last_consumed_ms - ph->first_consumed_ms) / 1000.0;
    ph->profiles = watch.profiles;
    ph->revisions = watch.revisions;
    ph->incomplete = watch.incomplete;
    ph->traces_done = watch.traces_done;
    bench_series_t *series[] = {&watch.total_ms, &watch.sched_ms, &watch.publish_ms, &watch.steady_ms};
    for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++)
        qsort(series[i]->values, series[i]->count, sizeof(double), bench_cmp_double);
    ph->lat_count = watch.total_ms.count;
    ph->lat_p50 = bench_percentile(watch.total_ms.values, watch.total_ms.count, 0.50);
    ph->lat_p99 = bench_percentile(watch.total_ms.values, watch.total_ms.count, 0.99);
    ph->lat_max = watch.total_ms.count ? watch.total_ms.values[watch.total_ms.count - 1] : NAN;
    ph->sched_p50 = bench_percentile(watch.sched_ms.values, watch.sched_ms.count, 0.50);
    ph->sched_p99 = bench_percentile(watch.sched_ms.values, watch.sched_ms.count, 0.99);
    ph->publish_p50 = bench_percentile(watch.publish_ms.values, watch.publish_ms.count, 0.50);
    ph->publish_p99 = bench_percentile(watch.publish_ms.values, watch.publish_ms.count, 0.99);
    ph->steady_p50 = bench_percentile(watch.steady_ms.values, watch.steady_ms.count, 0.50);
    ph->steady_p99 = bench_percentile(watch.steady_ms.values, watch.steady_ms.count, 0.99);
    bench_watch_close(&watch);

    ph->dagprof_exit = bench_stop_child(run_pid, false, 30000);
    run_pid = -1;
    if (ph->dagprof_exit != 0 && !ph->problem[0]) {
        keep_logs = true;
        snprintf(ph->problem, sizeof(ph->problem), "dagprof run exited with status %d on SIGTERM (log %s)",
                 ph->dagprof_exit, run_log);
    }
    if (ph->measure_floor &&
        bench_floor_run(harness_kafka_bootstrap(kafka), opt->partitions, 120, &ph->floor, err,
                        sizeof(err)) != 0 && !ph->problem[0])
        snprintf(ph->problem, sizeof(ph->problem), "%s", err);
    if (ph->problem[0] || !ph->completed)
        keep_logs = true;
    rc = 0;
fail:
    if (rc != 0 && watch.rk)
        bench_watch_close(&watch);
    bench_gauge_free(&gauge);
    if (gen_pid > 0)
        bench_stop_child(gen_pid, gen_held, 10000);
    if (run_pid > 0)
        bench_stop_child(run_pid, false, 30000);
    if (keep_logs && dir) {
        bench_print_log_tail(run_log);
        bench_print_log_tail(gen_log);
        fprintf(stderr, "bench: logs kept in %s\n", dir);
    } else if (dir) {
        harness_rmtree(dir);
    }
    if (rc_redis)
        redisFree(rc_redis);
    harness_kafka_free(kafka);
    harness_redis_free(redis);
    harness_cluster_free(cluster);
    buf_free(&scratch);
    free(run_log);
    free(gen_log);
    free(dir);
    return rc;
}

/* ---- the report ---- */

static void bench_print_machine(int argc, char **argv) {
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof(model), "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    double load[3] = {0, 0, 0};
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = 0;
        fclose(f);
    }
    printf("command  :");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\nmachine  : %ld CPUs (%s), %.1f GiB RAM, load average %.2f %.2f %.2f at start\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, (double)bench_proc_kb(0, "MemTotal") / 1048576.0,
           load[0], load[1], load[2]);
}

static void bench_row(const char *label, const char *fmt, const bench_phase_t *phases, size_t n,
                      double (*get)(const bench_phase_t *)) {
    printf("  %-40s", label);
    for (size_t i = 0; i < n; i++) {
        double v = get(&phases[i]);
        char cell[64];
        if (isnan(v))
            snprintf(cell, sizeof(cell), "-");
        else
            snprintf(cell, sizeof(cell), fmt, v);
        printf(" %16s", cell);
    }
    printf("\n");
}

static double f_rate(const bench_phase_t *p) { return p->rate; }
static double f_produced(const bench_phase_t *p) { return (double)p->produced; }
static double f_holds(const bench_phase_t *p) { return p->loadgen_holds; }
static double f_consumed(const bench_phase_t *p) { return p->metrics.consumed; }
static double f_stored(const bench_phase_t *p) { return p->metrics.stored; }
static double f_dead(const bench_phase_t *p) { return p->metrics.dead_lettered; }
static double f_runs_done(const bench_phase_t *p) { return (double)p->traces_done; }
static double f_profiles(const bench_phase_t *p) { return (double)p->profiles; }
static double f_revisions(const bench_phase_t *p) { return (double)p->revisions; }
static double f_seconds(const bench_phase_t *p) { return p->seconds; }
static double f_spans_s(const bench_phase_t *p) {
    return p->seconds > 0 ? (double)p->produced / p->seconds : NAN;
}
static double f_ingest_s(const bench_phase_t *p) {
    return p->ingest_seconds > 0 ? p->metrics.consumed / p->ingest_seconds : NAN;
}
static double f_runs_s(const bench_phase_t *p) {
    return p->seconds > 0 ? (double)p->traces_done / p->seconds : NAN;
}
static double f_cpu(const bench_phase_t *p) { return p->cpu_s; }
static double cpu_per_m(const bench_phase_t *p, double cpu_s) {
    return cpu_s >= 0 && p->produced > 0 ? cpu_s * 1e6 / (double)p->produced : NAN;
}
static double f_cpu_per_m(const bench_phase_t *p) { return cpu_per_m(p, p->cpu_s); }
static double f_redis_cpu_per_m(const bench_phase_t *p) { return cpu_per_m(p, p->redis_cpu_s); }
static double f_loadgen_cpu_per_m(const bench_phase_t *p) { return cpu_per_m(p, p->loadgen_cpu_s); }
static double f_broker_cpu_per_m(const bench_phase_t *p) { return cpu_per_m(p, p->broker_cpu_s); }
/* all four processes: what a span costs the machine end to end */
static double f_total_cpu_per_m(const bench_phase_t *p) {
    if (p->cpu_s < 0 || p->redis_cpu_s < 0 || p->loadgen_cpu_s < 0 || p->broker_cpu_s < 0)
        return NAN;
    return cpu_per_m(p, p->cpu_s + p->redis_cpu_s + p->loadgen_cpu_s + p->broker_cpu_s);
}
static double f_open_peak(const bench_phase_t *p) { return p->open_peak; }
static double f_rss(const bench_phase_t *p) {
    return p->rss_peak_kb >= 0 ? (double)p->rss_peak_kb / 1024.0 : NAN;
}
static double f_redis_mb(const bench_phase_t *p) {
    return p->redis_after >= 0 ? (double)p->redis_after / 1048576.0 : NAN;
}
static double f_bytes_span(const bench_phase_t *p) {
    return p->metrics.stored > 0 && p->redis_after >= 0 && p->redis_before >= 0
               ? (double)(p->redis_after - p->redis_before) / p->metrics.stored
               : NAN;
}
static double f_rt_span(const bench_phase_t *p) {
    return p->metrics.stored > 0 ? p->metrics.round_trips / p->metrics.stored : NAN;
}
static double f_cmd_span(const bench_phase_t *p) {
    return p->metrics.stored > 0 ? p->metrics.commands / p->metrics.stored : NAN;
}
static double f_p50(const bench_phase_t *p) { return p->lat_p50; }
static double f_p99(const bench_phase_t *p) { return p->lat_p99; }
static double f_max(const bench_phase_t *p) { return p->lat_max; }
static double f_sched_p50(const bench_phase_t *p) { return p->sched_p50; }
static double f_sched_p99(const bench_phase_t *p) { return p->sched_p99; }
static double f_publish_p50(const bench_phase_t *p) { return p->publish_p50; }
static double f_publish_p99(const bench_phase_t *p) { return p->publish_p99; }
static double f_probe_p50(const bench_phase_t *p) { return p->probe_p50; }
static double f_steady_p50(const bench_phase_t *p) { return p->steady_p50; }
static double f_steady_p99(const bench_phase_t *p) { return p->steady_p99; }
static double f_probe_p99(const bench_phase_t *p) { return p->probe_p99; }

/* ---- the headline figures: CPU per span against a consume-only reader ---- */

typedef struct bench_headline {
    double spans_per_s;
    double dagprof_us, redis_us, loadgen_us, reader_us; /* CPU µs per span */
    double cpu_ratio; /* (dagprof + redis) over the reader */
    double redis_bytes_per_span;
    double span_bytes; /* the average encoded span, as the reader got it */
    double dagprof_rss_mb;
    double open_traces_peak;
    double p99_due_to_profile_ms; /* at part load; NAN without phase 2 */
    const char *input_format;
} bench_headline_t;

static bench_headline_t bench_headline(const bench_options_t *opt, const bench_phase_t *phases, size_t n) {
    const bench_phase_t *max = &phases[0];
    bench_headline_t h;
    h.spans_per_s = f_spans_s(max);
    h.dagprof_us = f_cpu_per_m(max);
    h.redis_us = f_redis_cpu_per_m(max);
    h.loadgen_us = f_loadgen_cpu_per_m(max);
    h.reader_us = max->measure_floor && max->floor.messages > 0
                      ? max->floor.cpu_s * 1e6 / (double)max->floor.messages
                      : NAN;
    h.cpu_ratio = h.reader_us > 0 ? (h.dagprof_us + h.redis_us) / h.reader_us : NAN;
    h.redis_bytes_per_span = f_bytes_span(max);
    h.span_bytes = max->measure_floor && max->floor.messages > 0
                       ? (double)max->floor.bytes / (double)max->floor.messages
                       : NAN;
    h.dagprof_rss_mb = f_rss(max);
    h.open_traces_peak = f_open_peak(max);
    h.p99_due_to_profile_ms = n > 1 ? phases[1].lat_p99 : NAN;
    h.input_format = opt->format;
    return h;
}

static void bench_json_number(const char *name, double v, const char *sep) {
    if (isnan(v) || isinf(v))
        printf("\"%s\":null%s", name, sep);
    else
        printf("\"%s\":%.6g%s", name, v, sep);
}

static void bench_print_json(const bench_headline_t *h) {
    printf("{");
    bench_json_number("spans_per_s", h->spans_per_s, ",");
    bench_json_number("dagprof_cpu_us_per_span", h->dagprof_us, ",");
    bench_json_number("redis_cpu_us_per_span", h->redis_us, ",");
    bench_json_number("loadgen_cpu_us_per_span", h->loadgen_us, ",");
    bench_json_number("reader_cpu_us_per_span", h->reader_us, ",");
    bench_json_number("cpu_ratio", h->cpu_ratio, ",");
    bench_json_number("redis_bytes_per_span", h->redis_bytes_per_span, ",");
    bench_json_number("span_bytes", h->span_bytes, ",");
    bench_json_number("dagprof_rss_mb", h->dagprof_rss_mb, ",");
    bench_json_number("open_traces_peak", h->open_traces_peak, ",");
    bench_json_number("p99_due_to_profile_ms", h->p99_due_to_profile_ms, ",");
    printf("\"input_format\":\"%s\"}\n", h->input_format);
}

static void bench_print_headline(const bench_headline_t *h) {
    printf("\nheadline (max load; latency at part load)\n");
    printf("  %-40s %16.0f\n", "spans_per_s", h->spans_per_s);
    printf("  %-40s %16.2f\n", "dagprof_cpu_us_per_span", h->dagprof_us);
    printf("  %-40s %16.2f\n", "redis_cpu_us_per_span", h->redis_us);
    printf("  %-40s %16.2f\n", "loadgen_cpu_us_per_span", h->loadgen_us);
    printf("  %-40s %16.2f\n", "reader_cpu_us_per_span", h->reader_us);
    printf("  %-40s %16.2f\n", "cpu_ratio (dagprof+redis)/reader", h->cpu_ratio);
    printf("  %-40s %16.0f\n", "redis_bytes_per_span", h->redis_bytes_per_span);
    printf("  %-40s %16.0f\n", "span_bytes (encoded, average)", h->span_bytes);
    printf("  %-40s %16.1f\n", "dagprof_rss_mb", h->dagprof_rss_mb);
    printf("  %-40s %16.0f\n", "open_traces_peak", h->open_traces_peak);
    printf("  %-40s %16.1f\n", "p99_due_to_profile_ms", h->p99_due_to_profile_ms);
    printf("  %-40s %16s\n", "input_format", h->input_format);
}

static void bench_report(const bench_options_t *opt, const bench_fleet_t *fleet,
                         const bench_phase_t *phases, size_t n) {
    printf("fleet    : %zu runs, %" PRId64 " spans (seed %" PRIu64 "), %d partitions, grace %d ms",
           fleet->count, fleet->spans, opt->seed, opt->partitions, opt->grace_ms);
    for (size_t i = 0; i < opt->extra_env_count; i++)
        printf(", %s", opt->extra_env[i]);
    printf("\n\n");
    const bench_phase_t *floor = &phases[0];
    if (floor->measure_floor && floor->floor.messages > 0) {
        printf("floor: a plain librdkafka consumer reading %s from the beginning, alone\n",
               BENCH_TOPIC_SPANS);
        printf("  %-40s %16" PRId64 "\n", "messages read (what the broker kept)", floor->floor.messages);
        printf("  %-40s %16.0f\n", "messages/s", floor->floor.per_s);
        printf("  %-40s %16.1f\n", "MB/s", (double)floor->floor.bytes / 1048576.0 / floor->floor.seconds);
        printf("  %-40s %16.2f\n", "CPU s per million messages", floor->floor.cpu_s * 1e6 / (double)floor->floor.messages);
        printf("\n");
    }
    printf("dagprof run\n  %-40s", "");
    for (size_t i = 0; i < n; i++)
        printf(" %16s", phases[i].name);
    printf("\n");
    bench_row("loadgen rate (spans/s, 0 = unlimited)", "%.0f", phases, n, f_rate);
    bench_row("loadgen held for backlog (times)", "%.0f", phases, n, f_holds);
    bench_row("spans produced", "%.0f", phases, n, f_produced);
    bench_row("spans consumed", "%.0f", phases, n, f_consumed);
    bench_row("spans stored", "%.0f", phases, n, f_stored);
    bench_row("spans dead-lettered", "%.0f", phases, n, f_dead);
    bench_row("runs fully profiled", "%.0f", phases, n, f_runs_done);
    bench_row("profiles received (revisions)", "%.0f", phases, n, f_profiles);
    bench_row("  of which revisions", "%.0f", phases, n, f_revisions);
    bench_row("first span consumed -> last profile (s)", "%.2f", phases, n, f_seconds);
    bench_row("spans/s (end to end)", "%.0f", phases, n, f_spans_s);
    bench_row("runs profiled/s", "%.0f", phases, n, f_runs_s);
    bench_row("spans/s consumed (ingest only)", "%.0f", phases, n, f_ingest_s);
    bench_row("CPU of dagprof run (s)", "%.2f", phases, n, f_cpu);
    bench_row("CPU s per million spans, dagprof", "%.2f", phases, n, f_cpu_per_m);
    bench_row("CPU s per million spans, redis-server", "%.2f", phases, n, f_redis_cpu_per_m);
    bench_row("CPU s per million spans, loadgen", "%.2f", phases, n, f_loadgen_cpu_per_m);
    bench_row("CPU s per million spans, mock broker", "%.2f", phases, n, f_broker_cpu_per_m);
    bench_row("CPU s per million spans, all four", "%.2f", phases, n, f_total_cpu_per_m);
    bench_row("peak RSS of dagprof run (MB)", "%.1f", phases, n, f_rss);
    bench_row("open traces, peak (dagprof_traces_open)", "%.0f", phases, n, f_open_peak);
    bench_row("Redis used_memory at the end (MB)", "%.1f", phases, n, f_redis_mb);
    bench_row("Redis bytes per stored span", "%.0f", phases, n, f_bytes_span);
    bench_row("Redis round trips per span", "%.4f", phases, n, f_rt_span);
    bench_row("Redis commands per span", "%.3f", phases, n, f_cmd_span);
    bench_row("due -> profile received, p50 (ms)", "%.1f", phases, n, f_p50);
    bench_row("due -> profile received, p99 (ms)", "%.1f", phases, n, f_p99);
    bench_row("due -> profile received, max (ms)", "%.1f", phases, n, f_max);
    bench_row("  due -> profiled_at, p50 (ms)", "%.1f", phases, n, f_sched_p50);
    bench_row("  due -> profiled_at, p99 (ms)", "%.1f", phases, n, f_sched_p99);
    bench_row("  profiled_at -> received, p50 (ms)", "%.1f", phases, n, f_publish_p50);
    bench_row("  profiled_at -> received, p99 (ms)", "%.1f", phases, n, f_publish_p99);
    bench_row("due -> received after the first 2 s, p50", "%.1f", phases, n, f_steady_p50);
    bench_row("due -> received after the first 2 s, p99", "%.1f", phases, n, f_steady_p99);
    bench_row("Kafka alone, produce -> received p50 (ms)", "%.1f", phases, n, f_probe_p50);
    bench_row("Kafka alone, produce -> received p99 (ms)", "%.1f", phases, n, f_probe_p99);
    printf("\n");
    double spans_s = f_spans_s(&phases[0]);
    if (floor->measure_floor && floor->floor.per_s > 0 && !isnan(spans_s))
        printf("dagprof end to end = %.1f%% of the floor (%.0f of %.0f messages/s); ingest alone %.1f%%\n",
               100.0 * spans_s / floor->floor.per_s, spans_s, floor->floor.per_s,
               100.0 * f_ingest_s(&phases[0]) / floor->floor.per_s);
    double total = f_total_cpu_per_m(&phases[0]), loadgen = f_loadgen_cpu_per_m(&phases[0]),
           broker = f_broker_cpu_per_m(&phases[0]);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (floor->measure_floor && floor->floor.per_s > 0 && !isnan(total) && cpus > 0)
        printf("with all four on %ld CPUs at %.2f CPU s per million spans, the machine could carry at\n"
               "most %.0f spans/s (%.1f%% of the floor); loadgen and the broker alone, %.0f (%.1f%%)\n",
               cpus, total, cpus * 1e6 / total, 100.0 * cpus * 1e6 / total / floor->floor.per_s,
               cpus * 1e6 / (loadgen + broker), 100.0 * cpus * 1e6 / (loadgen + broker) / floor->floor.per_s);
    for (size_t i = 0; i < n; i++) {
        if (phases[i].rate > 0 && phases[i].lat_count > 0)
            printf("p99 due -> profile at %s: %.1f ms, %.1f ms after the first 2 s (target <= 100 ms): %s\n",
                   phases[i].name, phases[i].lat_p99, phases[i].steady_p99,
                   phases[i].lat_p99 <= 100.0 ? "met" : "NOT met");
    }
    for (size_t i = 0; i < n; i++) {
        if (phases[i].problem[0])
            printf("PROBLEM in %s: %s\n", phases[i].name, phases[i].problem);
        else if (!phases[i].completed)
            printf("PROBLEM in %s: not every run was fully profiled\n", phases[i].name);
    }
    printf("\nnotes: the floor reads what the broker kept (about 5 MB per partition) with dagprof\n"
           "stopped. dagprof's spans/s run from its first consumed span to the profile that\n"
           "completed the last run, grace period included; CPU and Redis round trips include\n"
           "start-up and idle due scans. Latency = receive time on %s minus the header\n"
           "%s, over every profile; the watcher polls with fetch.wait.max.ms=10, which\n"
           "the Kafka-alone probe includes.\n",
           BENCH_TOPIC_PROFILES, BENCH_DUE_HEADER);
}

/* ---- options ---- */

static void bench_usage(FILE *out) {
    fputs("usage: bench_e2e [options]\n"
          "  --runs N             DAG runs in the fleet (default 20000)\n"
          "  --seed N             fleet seed (default 1)\n"
          "  --concurrency N      runs in flight in the load generator (default 50):\n"
          "                       the open traces grow with it and with --grace-ms\n"
          "  --partitions N       input topic partitions (default 4)\n"
          "  --grace-ms N         dagprof grace.ms (default 500)\n"
          "  --load-fraction F    second phase at F x the measured spans/s (default 0.5)\n"
          "  --latency-rate R     second phase at R spans/s instead\n"
          "  --no-latency         skip the second phase\n"
          "  --json               print only one JSON object of the headline figures\n"
          "                       (the text report goes to stderr)\n"
          "  --backlog N          hold loadgen above N unread spans (default 50000)\n"
          "  --timeout S          per phase (default 900)\n"
          "  --format F           loadgen.format: avro (default), otlp_proto, otlp_json\n"
          "                       (OTLP: batches of 100 spans, one message per trace\n"
          "                       keyed by trace id, as partition_traces_by_id)\n"
          "  --set NAME=VALUE     extra environment for dagprof run, e.g.\n"
          "                       --set DAGPROF_DUE_POLL_MS=20 (repeatable; not the\n"
          "                       bootstrap, Redis port, metrics port or grace)\n"
          "  --redis-cluster      the store on a 3-master Redis Cluster on loopback\n"
          "  --build-dir DIR      where dagprof and dagprof-mockbroker are (default:\n"
          "                       $DAGPROF_BINARY_DIR, else the parent of this binary's dir)\n",
          out);
}

static int bench_parse_number(const char *text, double min, double max, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

/* Settings the bench makes itself: a second value in the environment would
 * make the outcome depend on which one dagprof reads last. */
static bool bench_is_wiring(const char *assignment) {
    static const char *const names[] = {"DAGPROF_KAFKA_BOOTSTRAP_SERVERS=", "DAGPROF_REDIS_PORT=", "DAGPROF_REDIS_NODES=",
                                        "DAGPROF_METRICS_PORT=", "DAGPROF_GRACE_MS="};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(assignment, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static int bench_parse(int argc, char **argv, bench_options_t *opt, char *build_dir,
                       size_t build_dir_size) {
    memset(opt, 0, sizeof(*opt));
    opt->runs = 20000;
    opt->seed = 1;
    opt->partitions = 4;
    opt->grace_ms = 500;
    opt->load_fraction = 0.5;
    opt->backlog_max = 50000;
    opt->timeout_s = 900;
    opt->format = "avro";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage(stdout);
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            opt->json = true;
            continue;
        }
        if (strcmp(a, "--redis-cluster") == 0) {
            opt->redis_cluster = true;
            continue;
        }
        if (strcmp(a, "--no-latency") == 0) {
            opt->skip_latency = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_e2e: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--runs") == 0 && bench_parse_number(v, 1, 10000000, &x) == 0)
            opt->runs = (uint64_t)x;
        else if (strcmp(a, "--seed") == 0 && bench_parse_number(v, 0, 1e15, &x) == 0)
            opt->seed = (uint64_t)x;
        else if (strcmp(a, "--concurrency") == 0 && bench_parse_number(v, 1, 10000, &x) == 0)
            opt->concurrency = (unsigned)x;
        else if (strcmp(a, "--partitions") == 0 && bench_parse_number(v, 1, 256, &x) == 0)
            opt->partitions = (int)x;
        else if (strcmp(a, "--grace-ms") == 0 && bench_parse_number(v, 0, 3600000, &x) == 0)
            opt->grace_ms = (int)x;
        else if (strcmp(a, "--load-fraction") == 0 && bench_parse_number(v, 0.01, 10, &x) == 0)
            opt->load_fraction = x;
        else if (strcmp(a, "--latency-rate") == 0 && bench_parse_number(v, 1, 1e9, &x) == 0)
            opt->latency_rate = x;
        else if (strcmp(a, "--backlog") == 0 && bench_parse_number(v, 1000, 1e9, &x) == 0)
            opt->backlog_max = (int64_t)x;
        else if (strcmp(a, "--timeout") == 0 && bench_parse_number(v, 10, 86400, &x) == 0)
            opt->timeout_s = (int)x;
        else if (strcmp(a, "--format") == 0 && (strcmp(v, "avro") == 0 || strcmp(v, "otlp_proto") == 0 ||
                                                 strcmp(v, "otlp_json") == 0))
            opt->format = v;
        else if (strcmp(a, "--build-dir") == 0)
            opt->build_dir = v;
        else if (strcmp(a, "--set") == 0 && strncmp(v, "DAGPROF_", 8) == 0 && strchr(v, '=') &&
                 opt->extra_env_count < BENCH_MAX_ENV && !bench_is_wiring(v))
            opt->extra_env[opt->extra_env_count++] = v;
        else {
            fprintf(stderr, "bench_e2e: bad option %s %s\n", a, v);
            bench_usage(stderr);
            return -1;
        }
    }
    if (!opt->build_dir)
        opt->build_dir = getenv("DAGPROF_BINARY_DIR");
    if (!opt->build_dir) {
        /* build/bench/bench_e2e -> build */
        ssize_t n = readlink("/proc/self/exe", build_dir, build_dir_size - 1);
        if (n <= 0) {
            fprintf(stderr, "bench_e2e: name the build directory with --build-dir\n");
            return -1;
        }
        build_dir[n] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(build_dir, '/');
            if (slash)
                *slash = '\0';
        }
        opt->build_dir = build_dir;
    }
    return 0;
}

int main(int argc, char **argv) {
    bench_options_t opt;
    char build_dir[PATH_MAX], err[1024];
    int parsed = bench_parse(argc, argv, &opt, build_dir, sizeof(build_dir));
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;
    /* the children read every DAGPROF_* variable as an option: this one is not */
    static char build_dir_copy[PATH_MAX];
    snprintf(build_dir_copy, sizeof(build_dir_copy), "%s", opt.build_dir);
    opt.build_dir = build_dir_copy;
    unsetenv("DAGPROF_BINARY_DIR");
    signal(SIGPIPE, SIG_IGN);

    if (opt.json) {
        /* nothing but the JSON object goes to stdout */
        int saved = dup(STDOUT_FILENO);
        if (saved >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0) {
            bench_print_machine(argc, argv);
            fflush(stdout);
            dup2(saved, STDOUT_FILENO);
        }
        if (saved >= 0)
            close(saved);
    } else {
        bench_print_machine(argc, argv);
    }
    fflush(stdout);
    bench_fleet_t fleet;
    if (bench_fleet_build(&fleet, &opt, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_e2e: %s\n", err);
        return 1;
    }
    bench_phase_t phases[2];
    size_t n = 0;
    memset(phases, 0, sizeof(phases));
    int rc = 0;

    phases[0].name = "max load";
    phases[0].measure_floor = true;
    fprintf(stderr, "bench: phase 1, maximum throughput (%zu runs)\n", fleet.count);
    if (bench_phase_run(&opt, &fleet, &phases[0], err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_e2e: %s\n", err);
        rc = 1;
        goto done;
    }
    n = 1;
    double max_rate = f_spans_s(&phases[0]);
    if (!opt.skip_latency && (opt.latency_rate > 0 || !isnan(max_rate))) {
        bench_phase_t *ph = &phases[1];
        ph->rate = opt.latency_rate > 0 ? opt.latency_rate : floor(max_rate * opt.load_fraction);
        static char name[32];
        if (opt.latency_rate > 0)
            snprintf(name, sizeof(name), "%.0f spans/s", ph->rate);
        else
            snprintf(name, sizeof(name), "%.0f%% load", opt.load_fraction * 100);
        ph->name = name;
        fprintf(stderr, "bench: phase 2, latency at %.0f spans/s\n", ph->rate);
        if (bench_phase_run(&opt, &fleet, ph, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_e2e: %s\n", err);
            rc = 1;
        } else {
            n = 2;
        }
    }
    bench_headline_t headline = bench_headline(&opt, phases, n);
    if (opt.json) {
        /* the text report to stderr, so stdout is the JSON object alone */
        fflush(stdout);
        int saved = dup(STDOUT_FILENO);
        if (saved >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) >= 0) {
            bench_report(&opt, &fleet, phases, n);
            bench_print_headline(&headline);
            fflush(stdout);
            dup2(saved, STDOUT_FILENO);
        }
        if (saved >= 0)
            close(saved);
        bench_print_json(&headline);
    } else {
        bench_report(&opt, &fleet, phases, n);
        bench_print_headline(&headline);
    }
    for (size_t i = 0; i < n; i++)
        if (phases[i].problem[0] || !phases[i].completed || phases[i].lost_spans)
            rc = 1;
done:
    bench_fleet_free(&fleet);
    return rc;
}
