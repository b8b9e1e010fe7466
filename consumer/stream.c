/* stream.c -- the stream processor. See stream.h for the flow and the
 * guarantees.
 *
 * Two threads, each with its own Redis connection: the ingest thread (the
 * caller of stream_run) polls, decodes, stores and marks offsets; the profiler
 * thread scans the due schedules, loads, profiles, publishes and finishes. One
 * thread computes while Redis serves the other: with one thread doing both,
 * each waited for Redis in turn and the machine sat 40% idle at full load
 * (bench_e2e). The threads share the owned partitions and the health state
 * (under `lock`), the metrics (which lock themselves) and nothing else: each
 * has its own producer, codec and store. */
#include "stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fleet_view.h"
#include "log.h"
#include "metrics.h"
#include "output_format.h"
#include "otlp_input.h"
#include "profile_avro.h"
#include "span_codec.h"
#include "trace.h"

/* A trace is leased for this long while it is profiled and published. */
#define STREAM_LEASE_MS 30000
/* A profile is published only while its lease has at least this long to
 * run: a process that was stopped (SIGSTOP, a frozen VM) past its lease wakes
 * up with traces another owner may have taken up and published meanwhile. */
#define STREAM_LEASE_MARGIN_MS 5000
/* At most this many traces are loaded per due scan. */
#define STREAM_DUE_BATCH 256
/* Timestamps outside [2000-01-01, now + 1 year] are rejected as absurd. */
#define STREAM_MIN_TIME_US 946684800000000LL
#define STREAM_MAX_AHEAD_US (366LL * 24 * 3600 * 1000000)
/* Spans consumed from the repartition topic are stored under their partition
 * number plus this, so that they never share a schedule with an input
 * partition of the same number owned by another instance. */
#define STREAM_REPARTITION_BASE 100000

/* One profile being published: finished when all its records are delivered. */
typedef struct publication {
    struct publication *next;
    int32_t partition;
    char *trace_id;
    int64_t gen;
    int64_t revision;
    int pending;  /* records not yet acknowledged */
    int failed;   /* a record could not be delivered */
    int64_t due_ms; /* when the trace became due, for the latency figure */
    int64_t lease_until_ms; /* after it, the trace may be someone else's: no finish */
} publication_t;

typedef struct stream stream_t;

/* The profiler thread's own state. */
typedef struct profiler {
    stream_t *s;
    trace_store_t *store; /* its own connection */
    span_codec_t *codec;
    profile_avro_t *avro;
    output_format_t *output; /* how records are written: format and headers */
    publication_t *done;  /* delivered or failed, to finish in Redis */
    size_t in_flight;
    buf_t scratch;
    int64_t last_due_ms;
    int backlog;          /* the last scan found a full batch: scan again at once */
    int32_t *owned;       /* a copy of the owned partitions, taken per scan */
    size_t owned_count, owned_cap;
    fleet_view_t *fleet;  /* live baselines (fleet.enabled); NULL when off */
} profiler_t;

struct stream {
    const stream_options_t *opt;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue;
    rd_kafka_t *producer;    /* profiles and recommendations: the profiler's */
    rd_kafka_t *dl_producer; /* dead letters: the ingest thread's */
    trace_store_t *store;    /* the ingest thread's connection */
    span_codec_t *codec;
    metrics_t *metrics;
    ui_t *ui; /* the last profiles published, for GET /ui */
    int paused;           /* consumption paused while Redis is unavailable */
    volatile int fatal;   /* stop: a message could not be kept */
    volatile int brokers_down; /* every broker unreachable: do not wait to leave the group */
    rd_kafka_message_t **held; /* fetched while Redis was down, not yet stored */
    size_t held_count, held_cap;

    /* OpenTelemetry input */
    wire_format_t input_format; /* WIRE_UNKNOWN: detect each message */
    otlp_input_t *otlp;
    rd_kafka_t *rp_producer;    /* input.repartition: re-published spans */
    volatile int64_t rp_failed; /* re-published spans the broker did not take */
    int unkeyed_warned;

    pthread_mutex_t lock; /* guards what follows */
    int32_t *owned;       /* assigned partitions of the input topic */
    size_t owned_count, owned_cap;
    int ingest_redis_failing;
    int profile_redis_failing;
    uint64_t ingest_round_trips, ingest_commands;
};

static int64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* For durations only. */
static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- partition ownership ------------------------------------------------------- */

/* Add (assigned) or remove (revoked) the input topic's partitions of `parts`
 * to the owned set the profiler scans. Per partition, so that an incremental
 * (cooperative) revoke leaves the partitions that stay with us alone; NULL
 * parts with add = 0 clears the set (eager revoke, lost assignment). */
static void stream_update_owned(stream_t *s, const rd_kafka_topic_partition_list_t *parts, int add) {
    pthread_mutex_lock(&s->lock);
    if (!parts && !add)
        s->owned_count = 0;
    for (int i = 0; parts && i < parts->cnt; i++) {
        int32_t partition = parts->elems[i].partition;
        if (s->opt->repartition && strcmp(parts->elems[i].topic, s->opt->repartition_topic) == 0)
            partition += STREAM_REPARTITION_BASE; /* re-published spans: a schedule of their own */
        else if (strcmp(parts->elems[i].topic, s->opt->topic_spans) != 0)
            continue;
        size_t at = 0;
        while (at < s->owned_count && s->owned[at] != partition)
            at++;
        if (!add && at < s->owned_count) {
            s->owned[at] = s->owned[--s->owned_count];
        } else if (add && at == s->owned_count) {
            if (s->owned_count == s->owned_cap) {
                size_t cap = s->owned_cap ? s->owned_cap * 2 : 16;
                int32_t *grown = realloc(s->owned, cap * sizeof(*grown));
                if (!grown) {
                    /* its traces wait for the next owner: logged, not lost */
                    log_event(LOG_ERROR, "out_of_memory", "what=owned_partition partition=%d",
                              (int)partition);
                    continue;
                }
                s->owned = grown;
                s->owned_cap = cap;
            }
            s->owned[s->owned_count++] = partition;
        }
    }
    metrics_set_partitions(s->metrics, s->owned, s->owned_count);
    metrics_set_assigned(s->metrics, s->owned_count);
    pthread_mutex_unlock(&s->lock);
}

/* Messages held back during a Redis outage from partitions we no longer own
 * are dropped: their offsets were never stored, so the next owner consumes
 * them from the committed offset. NULL parts: all of them. */
static void stream_drop_held(stream_t *s, const rd_kafka_topic_partition_list_t *parts) {
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < s->held_count; i++) {
        rd_kafka_message_t *m = s->held[i];
        if (!parts || rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt), m->partition)) {
            rd_kafka_message_destroy(m);
            dropped++;
        } else {
            s->held[kept++] = m;
        }
    }
    s->held_count = kept;
    if (dropped)
        log_event(LOG_INFO, "held_dropped", "messages=%zu reason=\"partitions revoked\"", dropped);
}

/* "0,3,5" of the input topic's partitions in parts, for the log. */
static const char *stream_partition_text(const stream_t *s, const rd_kafka_topic_partition_list_t *parts,
                                         char *text, size_t size) {
    size_t len = 0;
    text[0] = '\0';
    for (int i = 0; parts && i < parts->cnt && len + 12 < size; i++)
        if (strcmp(parts->elems[i].topic, s->opt->topic_spans) == 0)
            len += (size_t)snprintf(text + len, size - len, "%s%d", len ? "," : "", (int)parts->elems[i].partition);
    return text;
}

/* Health is degraded while either thread's Redis calls fail or every broker
 * is down. `flag` is the caller's failing flag; err says why when failing. */
static void stream_set_redis_failing(stream_t *s, int *flag, int failing, const char *err) {
    pthread_mutex_lock(&s->lock);
    *flag = failing;
    if (failing)
        metrics_set_health(s->metrics, 0, err);
    else if (!s->ingest_redis_failing && !s->profile_redis_failing && !s->brokers_down)
        metrics_set_health(s->metrics, 1, NULL);
    pthread_mutex_unlock(&s->lock);
}

/* The group protocol moves partitions. COOPERATIVE (cooperative-sticky, the
 * default): the lists are what is added or taken away, and every other
 * partition keeps being consumed, stored and profiled meanwhile. EAGER (range,
 * roundrobin): a revoke takes everything and the assign gives the new whole.
 * Offsets stored so far cover spans already in Redis: they are committed
 * before partitions move so the next owner replays little -- unless the
 * assignment was lost (session timed out, e.g. a stopped process): those
 * partitions have another owner already, and its offsets are not ours to
 * overwrite. Leases protect the traces themselves (SPEC 3). */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    stream_t *s = opaque;
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    int cooperative = protocol && strcmp(protocol, "COOPERATIVE") == 0;
    const char *strategy = cooperative ? "cooperative" : "eager";
    char list[512];
    stream_partition_text(s, parts, list, sizeof(list));
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_resp_err_t rc;
        stream_update_owned(s, parts, 1);
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                log_event(LOG_ERROR, "assign_failed", "error=\"%s\"", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            } else if (s->paused && (rc = rd_kafka_pause_partitions(rk, parts))) {
                log_event(LOG_WARN, "pause_failed", "error=\"%s\"", rd_kafka_err2str(rc));
            }
        } else {
            rc = rd_kafka_assign(rk, parts);
            if (rc)
                log_event(LOG_ERROR, "assign_failed", "error=\"%s\"", rd_kafka_err2str(rc));
            else if (s->paused && (rc = rd_kafka_pause_partitions(rk, parts)))
                log_event(LOG_WARN, "pause_failed", "error=\"%s\"", rd_kafka_err2str(rc));
        }
        pthread_mutex_lock(&s->lock);
        size_t owned = s->owned_count;
        pthread_mutex_unlock(&s->lock);
        metrics_count_rebalance(s->metrics, 1);
        log_event(LOG_INFO, "partitions_assigned", "count=%d owned=%zu strategy=%s partitions=%s",
                  parts->cnt, owned, strategy, list);
        return;
    }
    int lost = rd_kafka_assignment_lost(rk);
    if (!lost) {
        rd_kafka_resp_err_t crc = rd_kafka_commit(rk, NULL, 0);
        if (crc && crc != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_event(LOG_WARN, "commit_failed", "error=\"%s\"", rd_kafka_err2str(crc));
    }
    if (cooperative) {
        stream_update_owned(s, parts, 0);
        stream_drop_held(s, parts);
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            log_event(LOG_ERROR, "assign_failed", "error=\"%s\"", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        stream_update_owned(s, NULL, 0);
        stream_drop_held(s, NULL);
        rd_kafka_resp_err_t rc = rd_kafka_assign(rk, NULL);
        if (rc)
            log_event(LOG_ERROR, "assign_failed", "error=\"%s\"", rd_kafka_err2str(rc));
    }
    pthread_mutex_lock(&s->lock);
    size_t owned = s->owned_count;
    pthread_mutex_unlock(&s->lock);
    metrics_count_rebalance(s->metrics, 0);
    log_event(lost ? LOG_WARN : LOG_INFO, "partitions_revoked",
              "count=%d left=%zu strategy=%s partitions=%s lost=%d", parts->cnt, owned, strategy,
              list, lost);
}

static void stream_pause(stream_t *s, int pause) {
    if (s->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(s->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        rd_kafka_resp_err_t rc = pause ? rd_kafka_pause_partitions(s->consumer, parts)
                                       : rd_kafka_resume_partitions(s->consumer, parts);
        if (rc)
            log_event(LOG_WARN, pause ? "pause_failed" : "resume_failed", "error=\"%s\"",
                      rd_kafka_err2str(rc));
        rd_kafka_topic_partition_list_destroy(parts);
    }
    s->paused = pause;
}

/* ---- publishing ----------------------------------------------------------------- */

/* Runs in the thread polling the producer: the profiler for profiles and
 * recommendations; dead letters carry no publication. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    profiler_t *p = opaque;
    publication_t *pub = m->_private;
    if (!pub || !p)
        return;
    if (m->err) {
        pub->failed = 1;
        log_event(LOG_WARN, "publish_failed", "topic=%s error=\"%s\"", rd_kafka_topic_name(m->rkt),
                  rd_kafka_err2str(m->err));
    }
    if (--pub->pending == 0) {
        pub->next = p->done;
        p->done = pub;
    }
}

static int stream_produce(stream_t *s, const char *topic, const char *key, const void *value,
                          size_t len, publication_t *pub, rd_kafka_headers_t *headers) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(pub), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(s->producer, 50); /* let deliveries drain the queue */
            continue;
        }
        if (err && headers)
            rd_kafka_headers_destroy(headers);
        return err ? -1 : 0;
    }
}

/* The dead-letter record: the original bytes, the reason and origin in headers. */
static void stream_dead_letter_send(stream_t *s, const rd_kafka_message_t *m, const char *kind,
                                    const char *reason) {
    char text[64];
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "dagprof.error", -1, reason, -1);
    rd_kafka_header_add(h, "dagprof.error.kind", -1, kind, -1);
    rd_kafka_header_add(h, "dagprof.source.topic", -1, rd_kafka_topic_name(m->rkt), -1);
    snprintf(text, sizeof(text), "%d/%lld", (int)m->partition, (long long)m->offset);
    rd_kafka_header_add(h, "dagprof.source.offset", -1, text, -1);
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(s->dl_producer, RD_KAFKA_V_TOPIC(s->opt->topic_deadletter),
                                RD_KAFKA_V_KEY(m->key, m->key_len),
                                RD_KAFKA_V_VALUE(m->payload, m->len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                                RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(s->dl_producer, 50);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    if (err) {
        rd_kafka_headers_destroy(h);
        log_event(LOG_ERROR, "dead_letter_failed", "error=\"%s\"", rd_kafka_err2str(err));
    }
}

static void stream_dead_letter(stream_t *s, const rd_kafka_message_t *m, const char *kind,
                               const char *reason) {
    stream_dead_letter_send(s, m, kind, reason);
    /* logged once per kind at warn level, later ones at debug: the counter
     * dagprof_spans_dead_lettered_total{reason} has the numbers */
    char quoted[512];
    uint64_t seen = metrics_count_dead_letter(s->metrics, kind);
    log_event(seen == 1 ? LOG_WARN : LOG_DEBUG, "span_rejected",
              "kind=%s partition=%d offset=%lld reason=\"%s\" first_of_kind=%d", kind,
              (int)m->partition, (long long)m->offset, log_quote(reason, quoted, sizeof(quoted)),
              seen == 1);
}

/* ---- one batch of spans: decode, store, store offsets ------------------------------ */

typedef struct decoded {
    rd_kafka_message_t *msg;
    const void *body; /* the Avro body after trace_id and span_id: what the store keeps */
    size_t body_len;
    char *trace_id, *span_id;
    int is_run;
    void *owned_body;        /* an OTLP span's Avro body, freed with the batch */
    int32_t partition_base;  /* STREAM_REPARTITION_BASE for the repartition topic */
} decoded_t;

/* Validate and decode one message; on failure it is dead-lettered and the
 * function returns -1. */
static int stream_decode(stream_t *s, rd_kafka_message_t *m, decoded_t *out) {
    char err[512];
    span_t span;
    if (!m->payload || m->len == 0) {
        stream_dead_letter(s, m, "empty", "empty message value");
        return -1;
    }
    if (span_codec_decode_avro(s->codec, m->payload, m->len, &span, err, sizeof(err)) != 0) {
        stream_dead_letter(s, m, strstr(err, "schema id") ? "schema_id" : "avro", err);
        return -1;
    }
    int64_t limit = (int64_t)now_ms() * 1000 + STREAM_MAX_AHEAD_US;
    if (span.end_us < span.start_us) {
        stream_dead_letter(s, m, "end_before_start", "end_us < start_us");
        return -1;
    }
    if (span.start_us < STREAM_MIN_TIME_US || span.end_us > limit) {
        stream_dead_letter(s, m, "absurd_time", "timestamp before 2000 or more than a year ahead");
        return -1;
    }
    const unsigned char *p = m->payload;
    size_t skip = p[0] == 0 ? 5 : 0; /* the bare Avro body */
    /* the store keys records by trace and span: the ids are not stored twice */
    skip += span_codec_avro_ids_size(p + skip, m->len - skip);
    out->msg = m;
    out->body = p + skip;
    out->body_len = m->len - skip;
    out->trace_id = strdup(span.trace_id);
    out->span_id = strdup(span.span_id);
    out->is_run = span.kind == SPAN_KIND_RUN;
    if (!out->trace_id || !out->span_id) {
        free(out->trace_id);
        free(out->span_id);
        return -2;
    }
    return 0;
}

/* Keep a message fetched before the pause took effect: the fetch position is
 * past it, so it must be stored with the next batch, not dropped. */
static void stream_hold(stream_t *s, rd_kafka_message_t *m) {
    if (s->held_count == s->held_cap) {
        size_t cap = s->held_cap ? s->held_cap * 2 : 256;
        rd_kafka_message_t **grown = realloc(s->held, cap * sizeof(*grown));
        if (!grown) {
            /* cannot keep it: stop without storing its offset, so it is
             * consumed again after the restart rather than lost */
            log_event(LOG_ERROR, "out_of_memory", "what=held_message");
            rd_kafka_message_destroy(m);
            s->fatal = 1;
            return;
        }
        s->held = grown;
        s->held_cap = cap;
    }
    s->held[s->held_count++] = m;
}

/* The store's per Redis node figures into the metrics (source 0: ingest, 1:
 * profiler): each thread gives its own store's, the metrics sum them. */
static void stream_redis_nodes(metrics_t *metrics, int source, const trace_store_t *store) {
    redis_route_node_stats_t nodes[64];
    size_t n = trace_store_redis_nodes(store, nodes, 64);
    metrics_set_redis_nodes(metrics, source, nodes, n < 64 ? n : 64);
}

/* Count and act on what the store did with each span of a batch. */
static void stream_outcomes(stream_t *s, const decoded_t *d, size_t n,
                            const trace_store_outcome_t *outcomes) {
    pthread_mutex_lock(&s->lock);
    s->ingest_round_trips = trace_store_round_trips(s->store);
    s->ingest_commands = trace_store_commands(s->store);
    pthread_mutex_unlock(&s->lock);
    stream_redis_nodes(s->metrics, 0, s->store);
    for (size_t i = 0; i < n; i++) {
        switch (outcomes[i]) {
        case TRACE_STORE_ADDED:
            metrics_count(s->metrics, METRIC_SPANS_STORED, 1);
            break;
        case TRACE_STORE_DUPLICATE:
            metrics_count(s->metrics, METRIC_SPANS_DUPLICATE, 1);
            break;
        case TRACE_STORE_OVER_LIMIT:
            metrics_count(s->metrics, METRIC_SPANS_OVER_LIMIT, 1);
            log_event(LOG_WARN, "trace_over_limit", "trace_id=%s", d[i].trace_id);
            break;
        case TRACE_STORE_TOO_MANY_OPEN:
            stream_dead_letter(s, d[i].msg, "too_many_open_traces",
                               "the partition has limit.open.traces open traces");
            break;
        case TRACE_STORE_EXPIRED:
            stream_dead_letter(s, d[i].msg, "trace_expired",
                               "the trace was profiled and its spans expired (trace.ttl.s)");
            break;
        }
    }
}

/* A polled batch on its way through decode, store and offsets. Its append is
 * sent to Redis and the next batch is polled and decoded while Redis works on
 * it: waiting for each append in turn left the ingest thread and Redis taking
 * turns (bench_e2e). Offsets are stored only once Redis has answered. */
typedef struct batch {
    rd_kafka_message_t **msgs;
    ssize_t n;
    decoded_t *dec;
    size_t nd, dec_cap; /* an OTLP message adds many spans */
    int dead; /* a message went to the dead-letter topic */
    size_t repartitioned; /* spans re-published, to be acknowledged before the offsets */
    trace_store_span_t *spans;
    trace_store_outcome_t *outcomes;
    trace_store_pending_t *pending; /* sent, replies not read; NULL: store at finish */
    double send_s; /* spent sending the append */
} batch_t;

/* The batch's spans as the store takes them, and room for their outcomes;
 * built once, for the overlapped send or the store with retries. 0, or -1
 * when out of memory. */
static int stream_batch_spans(batch_t *b) {
    if (b->spans)
        return 0;
    b->spans = calloc(b->nd, sizeof(*b->spans));
    b->outcomes = calloc(b->nd, sizeof(*b->outcomes));
    if (!b->spans || !b->outcomes) {
        free(b->spans);
        free(b->outcomes);
        b->spans = NULL;
        b->outcomes = NULL;
        return -1;
    }
    for (size_t i = 0; i < b->nd; i++) {
        const decoded_t *d = &b->dec[i];
        b->spans[i] = (trace_store_span_t){d->msg->partition + d->partition_base, d->trace_id,
                                           d->span_id, d->is_run, d->body, d->body_len};
    }
    return 0;
}

/* Store a batch in Redis, retrying with backoff (consumption paused) until
 * it succeeds or a stop is requested. 0 when stored. */
static int stream_store(stream_t *s, batch_t *b) {
    if (b->nd == 0)
        return 0;
    if (stream_batch_spans(b) != 0)
        return -1;
    int backoff_ms = 100;
    char err[512];
    for (;;) {
        double t0 = mono_s();
        if (trace_store_append(s->store, b->spans, b->nd, now_ms(), b->outcomes, err, sizeof(err)) == 0) {
            metrics_observe_redis(s->metrics, mono_s() - t0);
            break;
        }
        stream_set_redis_failing(s, &s->ingest_redis_failing, 1, err);
        log_event(LOG_WARN, "redis_unavailable", "error=\"%s\" retry_ms=%d", err, backoff_ms);
        stream_pause(s, 1);
        /* keep serving the group protocol while waiting; messages fetched
         * before the pause are held back and stored later */
        for (int waited = 0; waited < backoff_ms && !*s->opt->stop && !s->fatal; waited += 100) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->consumer, 100);
            if (m)
                stream_hold(s, m);
        }
        if (*s->opt->stop || s->fatal)
            return -1;
        backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
    }
    if (s->paused) {
        log_event(LOG_INFO, "redis_available", "consumption=resumed");
        stream_set_redis_failing(s, &s->ingest_redis_failing, 0, NULL);
        stream_pause(s, 0);
    }
    stream_outcomes(s, b->dec, b->nd, b->outcomes);
    return 0;
}

static void stream_batch_free(stream_t *s, batch_t *b) {
    if (!b)
        return;
    if (b->pending) { /* its replies must be read, or the next append would get them */
        char err[512];
        trace_store_append_recv(s->store, b->pending, b->outcomes, err, sizeof(err));
    }
    for (size_t i = 0; i < b->nd; i++) {
        free(b->dec[i].trace_id);
        free(b->dec[i].span_id);
        free(b->dec[i].owned_body);
    }
    for (ssize_t i = 0; i < b->n; i++)
        rd_kafka_message_destroy(b->msgs[i]);
    free(b->msgs);
    free(b->dec);
    free(b->spans);
    free(b->outcomes);
    free(b);
}

/* Up to `size` messages, waiting at most timeout_ms in all for the batch to
 * fill, as rd_kafka_consume_batch_queue() does -- which is not used: in
 * librdkafka 2.0.2 (its "Known Issues") a rebalance served during a batch
 * call can lose messages, and with cooperative rebalancing the partitions
 * that stay are consumed right through rebalances: the fault suite saw spans
 * of a retained partition skipped (committed, never returned). One message
 * per call has no such window and costs a queue lock per message. */
static ssize_t stream_consume(stream_t *s, rd_kafka_message_t **msgs, size_t size, int timeout_ms) {
    double deadline = mono_s() + timeout_ms / 1000.0;
    size_t n = 0;
    while (n < size) {
        /* what is queued first, without a clock read per message (both
         * clocks, ours and librdkafka's for a timeout, showed in perf) */
        rd_kafka_message_t *m = rd_kafka_consume_queue(s->queue, 0);
        if (!m) {
            int left_ms = (int)((deadline - mono_s()) * 1000.0);
            if (left_ms <= 0 || !(m = rd_kafka_consume_queue(s->queue, left_ms)))
                break;
        }
        msgs[n++] = m;
    }
    return (ssize_t)n;
}

/* ---- OpenTelemetry input: many spans per message ---------------------------------- */

static int stream_batch_grow(batch_t *b) {
    size_t cap = b->dec_cap ? b->dec_cap * 2 : 64;
    decoded_t *grown = realloc(b->dec, cap * sizeof(*grown));
    if (!grown)
        return -1;
    memset(grown + b->dec_cap, 0, (cap - b->dec_cap) * sizeof(*grown));
    b->dec = grown;
    b->dec_cap = cap;
    return 0;
}

static int stream_from_repartition(const stream_t *s, const rd_kafka_message_t *m) {
    return strcmp(rd_kafka_topic_name(m->rkt), s->opt->repartition_topic) == 0;
}

/* What the message holds. The detector (wire_detect) is asked only about a
 * message whose first byte can start OTLP: '{' or white space (OTLP/JSON) or
 * 0x0a (protobuf field 1, length-delimited). Anything else is Confluent-framed
 * Avro (magic byte 0) or a bare Avro candidate, read by the Avro decoder
 * directly, which dead-letters it with its reason when it is not a SpanEvent:
 * the Avro path pays one byte comparison for OTLP input, not a second decode.
 * An empty message takes the Avro path, which dead-letters it as empty. */
static wire_format_t stream_message_format(const stream_t *s, const rd_kafka_message_t *m) {
    if (s->input_format != WIRE_UNKNOWN)
        return s->input_format;
    if (!m->payload || m->len == 0)
        return WIRE_AVRO_CONFLUENT;
    unsigned char first = ((const unsigned char *)m->payload)[0];
    if (first != '{' && first != 0x0a && first != ' ' && first != '\t' && first != '\r' && first != '\n')
        return first == 0 ? WIRE_AVRO_CONFLUENT : WIRE_AVRO_BARE;
    if (s->opt->repartition && stream_from_repartition(s, m))
        return WIRE_AVRO_BARE; /* our own re-published spans */
    return wire_detect(m->payload, m->len);
}

/* One OTLP message's decode: where its spans go and what was rejected. */
typedef struct otlp_message {
    stream_t *s;
    batch_t *b;
    rd_kafka_message_t *m;
    int repartition;       /* re-publish rather than store */
    size_t rejected;
    char first_kind[64];
    char first_reason[400];
} otlp_message_t;

static void stream_otlp_reject(void *opaque, const char *kind, const char *reason) {
    otlp_message_t *om = opaque;
    stream_t *s = om->s;
    if (om->rejected++ == 0) {
        snprintf(om->first_kind, sizeof(om->first_kind), "%s", kind);
        snprintf(om->first_reason, sizeof(om->first_reason), "%s", reason);
    }
    /* each rejected span is counted; the message is dead-lettered once */
    char quoted[512];
    uint64_t seen = metrics_count_dead_letter(s->metrics, kind);
    log_event(seen == 1 ? LOG_WARN : LOG_DEBUG, "span_rejected",
              "kind=%s partition=%d offset=%lld reason=\"%s\" first_of_kind=%d", kind,
              (int)om->m->partition, (long long)om->m->offset,
              log_quote(reason, quoted, sizeof(quoted)), seen == 1);
}

static int stream_otlp_span(void *opaque, const otlp_input_span_t *span) {
    otlp_message_t *om = opaque;
    stream_t *s = om->s;
    batch_t *b = om->b;
    metrics_count(s->metrics, METRIC_OTLP_SPANS, 1);
    if (om->repartition) {
        /* keyed by trace id: the partitioner puts a trace on one partition */
        rd_kafka_resp_err_t err;
        do {
            err = rd_kafka_producev(s->rp_producer, RD_KAFKA_V_TOPIC(s->opt->repartition_topic),
                                    RD_KAFKA_V_KEY(span->trace_id, strlen(span->trace_id)),
                                    RD_KAFKA_V_VALUE((void *)span->body, span->body_len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(s->rp_producer, 50);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !*s->opt->stop);
        if (err) {
            log_event(LOG_ERROR, "repartition_failed", "error=\"%s\"", rd_kafka_err2str(err));
            s->rp_failed++;
        }
        b->repartitioned++;
        return 0;
    }
    if (b->nd == b->dec_cap && stream_batch_grow(b) != 0)
        return -1;
    decoded_t *d = &b->dec[b->nd];
    memset(d, 0, sizeof(*d));
    d->msg = om->m;
    size_t ids = span_codec_avro_ids_size(span->body, span->body_len);
    d->owned_body = malloc(span->body_len - ids + 1);
    d->trace_id = strdup(span->trace_id);
    d->span_id = strdup(span->span_id);
    if (!d->owned_body || !d->trace_id || !d->span_id) {
        free(d->owned_body);
        free(d->trace_id);
        free(d->span_id);
        memset(d, 0, sizeof(*d));
        return -1;
    }
    memcpy(d->owned_body, (const char *)span->body + ids, span->body_len - ids);
    d->body = d->owned_body;
    d->body_len = span->body_len - ids;
    d->is_run = span->is_run;
    if (s->opt->repartition && stream_from_repartition(s, om->m))
        d->partition_base = STREAM_REPARTITION_BASE;
    b->nd++;
    metrics_count(s->metrics, METRIC_SPANS_DECODED, 1);
    return 0;
}

/* Decode one OTLP message into the batch (or re-publish its spans). A message
 * that cannot be read is dead-lettered with the reason, after the spans read
 * before the fault; rejected spans are counted by kind and the message is
 * dead-lettered once, naming how many and the first reason. */
static void stream_decode_otlp(stream_t *s, batch_t *b, rd_kafka_message_t *m, wire_format_t format) {
    char err[512];
    otlp_message_t om;
    memset(&om, 0, sizeof(om));
    om.s = s;
    om.b = b;
    om.m = m;
    om.repartition = s->opt->repartition && !stream_from_repartition(s, m);
    metrics_count(s->metrics, METRIC_OTLP_MESSAGES, 1);
    otlp_input_limits_t limits = {STREAM_MIN_TIME_US, (int64_t)now_ms() * 1000 + STREAM_MAX_AHEAD_US};
    otlp_input_sink_t sink = {stream_otlp_span, stream_otlp_reject, &om};
    otlp_input_result_t result;
    int rc = otlp_input_decode(s->otlp, format, m->payload, m->len, m->key, m->key_len, &limits,
                               &sink, &result, err, sizeof(err));
    if (rc == -2) {
        /* cannot keep its spans: stop before its offset is stored */
        log_event(LOG_ERROR, "out_of_memory", "what=otlp_message");
        s->fatal = 1;
        return;
    }
    if (rc == -1) {
        stream_dead_letter(s, m, format == WIRE_OTLP_JSON ? "otlp_json" : "otlp_proto", err);
        b->dead = 1;
    }
    if (om.rejected) {
        char reason[600];
        snprintf(reason, sizeof(reason), "%zu span(s) of the request rejected; first: %s", om.rejected,
                 om.first_reason);
        stream_dead_letter_send(s, m, om.first_kind, reason);
        b->dead = 1;
    }
    if (result.spans > 0 && !result.keyed_by_trace && !stream_from_repartition(s, m)) {
        metrics_count(s->metrics, METRIC_OTLP_UNKEYED_MESSAGES, 1);
        if (!s->unkeyed_warned) {
            s->unkeyed_warned = 1;
            log_event(LOG_WARN, "otlp_unkeyed",
                      "topic=%s partition=%d repartition=%d hint=\"messages are not keyed by trace id: "
                      "a trace's spans may reach several partitions and instances; set the exporter's "
                      "partition_traces_by_id, or input.repartition = true\"",
                      rd_kafka_topic_name(m->rkt), (int)m->partition, s->opt->repartition);
        }
    }
}

static void on_repartition_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    stream_t *s = opaque;
    if (m->err) {
        s->rp_failed++;
        log_event(LOG_ERROR, "repartition_failed", "error=\"%s\"", rd_kafka_err2str(m->err));
    } else {
        metrics_count(s->metrics, METRIC_SPANS_REPARTITIONED, 1);
    }
}

/* The batch's offsets may be stored only once the broker has every span it
 * re-published. The idempotent producer retries for message.timeout.ms; a
 * span it still could not deliver stops dagprof without storing the offsets,
 * so its message is consumed again after the restart (the store drops the
 * spans that did arrive as duplicates). -1: no offsets. */
static int stream_repartition_wait(stream_t *s, batch_t *b) {
    (void)b;
    while (rd_kafka_outq_len(s->rp_producer) > 0 && !*s->opt->stop)
        rd_kafka_flush(s->rp_producer, 100);
    if (rd_kafka_outq_len(s->rp_producer) > 0)
        return -1;
    if (s->rp_failed) {
        log_event(LOG_ERROR, "repartition_failed", "spans=%lld action=stop reason=\"re-published spans "
                  "were not acknowledged; their messages are consumed again after a restart\"",
                  (long long)s->rp_failed);
        s->fatal = 1;
        return -1;
    }
    return 0;
}

/* Poll a batch (messages held back during a Redis outage first) and decode
 * it; malformed messages go to the dead-letter topic. NULL when nothing came. */
static batch_t *stream_poll_batch(stream_t *s) {
    batch_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->msgs = calloc((size_t)s->opt->batch_size, sizeof(*b->msgs));
    b->dec = calloc((size_t)s->opt->batch_size, sizeof(*b->dec));
    if (!b->msgs || !b->dec)
        goto empty;
    b->dec_cap = (size_t)s->opt->batch_size;
    size_t from_held = s->held_count < (size_t)s->opt->batch_size ? s->held_count : (size_t)s->opt->batch_size;
    if (from_held) {
        memcpy(b->msgs, s->held, from_held * sizeof(*b->msgs));
        memmove(s->held, s->held + from_held, (s->held_count - from_held) * sizeof(*b->msgs));
        s->held_count -= from_held;
        b->n = (ssize_t)from_held;
    } else {
        b->n = stream_consume(s, b->msgs, (size_t)s->opt->batch_size, s->opt->batch_timeout_ms);
        if (b->n <= 0) {
            b->n = 0;
            goto empty;
        }
    }
    metrics_observe_batch(s->metrics, (size_t)b->n);
    if (s->brokers_down && !from_held) {
        s->brokers_down = 0;
        if (!s->paused)
            stream_set_redis_failing(s, &s->ingest_redis_failing, 0, NULL);
    }
    for (ssize_t i = 0; i < b->n; i++) {
        rd_kafka_message_t *m = b->msgs[i];
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_event(LOG_WARN, "consumer_error", "error=\"%s\"", rd_kafka_message_errstr(m));
            continue;
        }
        metrics_count(s->metrics, METRIC_SPANS_CONSUMED, 1);
        if (b->nd == b->dec_cap && stream_batch_grow(b) != 0) {
            /* cannot keep it: stop before its offset is stored */
            log_event(LOG_ERROR, "out_of_memory", "what=batch");
            s->fatal = 1;
            break;
        }
        wire_format_t format = stream_message_format(s, m);
        if (format == WIRE_OTLP_PROTO || format == WIRE_OTLP_JSON) {
            stream_decode_otlp(s, b, m, format);
        } else if (format == WIRE_UNKNOWN) {
            stream_dead_letter(s, m, "unknown_format",
                               "the message is neither Avro SpanEvent nor an OTLP trace request");
            b->dead = 1;
        } else if (stream_decode(s, m, &b->dec[b->nd]) == 0) {
            if (s->opt->repartition && stream_from_repartition(s, m))
                b->dec[b->nd].partition_base = STREAM_REPARTITION_BASE;
            b->nd++;
            metrics_count(s->metrics, METRIC_SPANS_DECODED, 1);
        } else {
            b->dead = 1;
        }
    }
    return b;
empty:
    stream_batch_free(s, b);
    return NULL;
}

/* Send the batch's append without waiting. When it cannot be sent, the
 * batch is stored at finish, with retries. */
static void stream_batch_send(stream_t *s, batch_t *b) {
    if (b->nd == 0 || stream_batch_spans(b) != 0)
        return;
    char err[512];
    double t0 = mono_s();
    if (trace_store_append_send(s->store, b->spans, b->nd, now_ms(), &b->pending, err,
                                sizeof(err)) != 0)
        b->pending = NULL;
    b->send_s = mono_s() - t0;
}

/* Take the batch's store to its end (the replies of its append, or a store
 * with retries), then mark its offsets as safe to commit. -1 when stopping
 * before it could be stored: no offsets, the batch is replayed by whoever
 * consumes the partition next. */
static int stream_batch_finish(stream_t *s, batch_t *b) {
    int stored = 0;
    if (b->pending) {
        char err[512];
        trace_store_pending_t *pd = b->pending;
        b->pending = NULL;
        double t0 = mono_s();
        if (trace_store_append_recv(s->store, pd, b->outcomes, err, sizeof(err)) == 0) {
            /* the wait, not the time polling overlapped */
            metrics_observe_redis(s->metrics, b->send_s + mono_s() - t0);
            stream_outcomes(s, b->dec, b->nd, b->outcomes);
            stored = 1;
        }
    }
    if (!stored && stream_store(s, b) != 0)
        return -1;
    if (b->dead) {
        /* a dead-lettered message's offset is stored only once its record is on
         * the dead-letter topic, so a crash cannot lose it */
        rd_kafka_flush(s->dl_producer, 10000);
    }
    if (b->repartitioned && stream_repartition_wait(s, b) != 0)
        return -1;
    /* one offset per partition: the batch is in order within each partition */
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (ssize_t i = 0; i < b->n; i++) {
        rd_kafka_message_t *m = b->msgs[i];
        if (m->err)
            continue;
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(offsets, topic, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(offsets, topic, m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    if (offsets->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(s->consumer, offsets);
        if (err && err != RD_KAFKA_RESP_ERR__STATE) /* _STATE: a partition is no longer ours */
            log_event(LOG_WARN, "offset_store_failed", "error=\"%s\"", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    return 0;
}

/* ---- due traces: load, profile, publish ----------------------------------------------- */

/* Has this process held on to a lease so long that another may have it? */
static int stream_lease_lost(int64_t lease_until_ms, int64_t margin_ms, const char *trace_id,
                             const char *step) {
    int64_t left = lease_until_ms - now_ms();
    if (left >= margin_ms)
        return 0;
    log_event(LOG_WARN, "lease_expired", "trace_id=%s step=%s left_ms=%lld", trace_id, step,
              (long long)left);
    return 1;
}

/* ---- the fleet view (fleet_view.h) -------------------------------------------------- */

/* Trend records go out through the profiler's producer, tracked by no publication. */
static int stream_fleet_produce(void *opaque, const char *topic, const char *key, const void *value, size_t len) {
    return stream_produce(opaque, topic, key, value, len, NULL, NULL);
}

/* The run's record is queued and the profile gets its regressions. A run
 * that cannot be recorded is still published: the baseline misses one run. */
static void stream_fleet_observe(profiler_t *pr, const trace_t *trace, profile_t *profile) {
    char err[512];
    if (pr->fleet && fleet_view_observe(pr->fleet, trace, profile, now_ms(), err, sizeof(err)) < 0)
        log_event(LOG_WARN, "baseline_record_failed", "trace_id=%s error=\"%s\"", profile->trace_id, err);
}

/* The queued runs go to Redis before any trace is finished: -1 while they
 * cannot, and then no trace may be finished (a crash would lose their runs). */
static int stream_fleet_flush(profiler_t *pr) {
    char err[512];
    if (!pr->fleet || fleet_view_flush(pr->fleet, now_ms(), err, sizeof(err)) == 0)
        return 0;
    log_event(LOG_WARN, "redis_unavailable", "step=baseline_put runs=%zu error=\"%s\"",
              fleet_view_pending(pr->fleet), err);
    return -1;
}

/* 0: queued for publishing; 1: nothing to publish (finish as published); 2:
 * the lease ran out (leave the trace to whoever holds it now); -1: failed. */
static int stream_profile_one(profiler_t *pr, const trace_store_trace_t *t, int64_t due_ms,
                              int64_t lease_until_ms) {
    stream_t *s = pr->s;
    char err[512];
    int rc = -1;
    trace_t *trace = trace_new();
    profile_t *profile = NULL;
    publication_t *pub = NULL;
    if (!trace)
        goto done;
    trace_set_max_string_bytes(trace, (size_t)s->opt->max_string_bytes);
    for (size_t i = 0; i < t->span_count; i++) {
        span_t span;
        if (span_codec_decode_avro_rest(pr->codec, t->trace_id, t->span_ids[i], t->span_id_lens[i],
                                        t->blobs[i], t->blob_lens[i], &span, err, sizeof(err)) != 0) {
            trace_add_warning(trace, "a stored span could not be decoded and was skipped");
            continue;
        }
        trace_add_span(trace, &span, err, sizeof(err));
    }
    if (t->dropped > 0) {
        char warning[160];
        snprintf(warning, sizeof(warning),
                 "%lld span(s) over the trace limits were not stored: the profile is truncated",
                 (long long)t->dropped);
        trace_add_warning(trace, warning);
    }
    /* OTLP span links and repeated node names, resolved on the whole trace
     * (its spans may have come in many messages), as `dagprof profile` does */
    trace_resolve_span_dependencies(trace, OTLP_LINKS_ATTRIBUTE);
    trace_number_repeated_nodes(trace, OTLP_ATTEMPT_BY_NAME_ATTRIBUTE);
    profile_options_t popt;
    profile_options_init(&popt);
    popt.thresholds = s->opt->thresholds;
    popt.revision = t->revision;
    popt.complete = t->has_run;
    popt.profiled_at_us = now_ms() * 1000;
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    profile = profile_compute(trace, s->opt->pricing, &popt, err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &c1);
    if (!profile) {
        log_event(LOG_WARN, "trace_unprofilable", "trace_id=%s error=\"%s\"", t->trace_id, err);
        rc = 1; /* nothing to publish: finish the lease as published */
        goto done;
    }
    metrics_observe_engine(s->metrics, (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9);
    stream_fleet_observe(pr, trace, profile);

    pub = calloc(1, sizeof(*pub));
    if (!pub || !(pub->trace_id = strdup(t->trace_id)))
        goto done;
    pub->partition = t->partition;
    pub->gen = t->gen;
    pub->revision = t->revision;
    pub->pending = 1 + (int)profile->recommendation_count;
    pub->due_ms = due_ms;
    pub->lease_until_ms = lease_until_ms;
    if (stream_lease_lost(lease_until_ms, STREAM_LEASE_MARGIN_MS, t->trace_id, "publish")) {
        rc = 2;
        goto done;
    }
    buf_reset(&pr->scratch);
    if (output_format_profile(pr->output, profile, &pr->scratch, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "encode_failed", "trace_id=%s error=\"%s\"", t->trace_id, err);
        goto done;
    }
    ui_record(s->ui, profile, pr->scratch.data, pr->scratch.len);
    /* recommendations first: the profile, last, is what a reader waits for */
    int produced = 0;
    buf_t rec = BUF_INIT;
    for (size_t i = 0; i < profile->recommendation_count; i++) {
        buf_reset(&rec);
        rd_kafka_headers_t *rec_headers = rd_kafka_headers_new(3);
        int encoded = output_format_recommendation(pr->output, profile, i, &rec, err, sizeof(err)) == 0 &&
                      output_format_headers(pr->output, OUTPUT_RECORD_RECOMMENDATION, rec_headers) == 0;
        if (!encoded)
            rd_kafka_headers_destroy(rec_headers);
        if (!encoded ||
            stream_produce(s, s->opt->topic_recommendations, profile->dag_id, rec.data, rec.len, pub, rec_headers) != 0) {
            pub->failed = 1;
            pub->pending--;
            continue;
        }
        produced++;
    }
    buf_free(&rec);
    /* when the trace became due, for end-to-end latency measurements */
    rd_kafka_headers_t *headers = rd_kafka_headers_new(4);
    char due_text[32];
    snprintf(due_text, sizeof(due_text), "%lld", (long long)due_ms);
    rd_kafka_header_add(headers, "dagprof.due.ms", -1, due_text, -1);
    if (output_format_headers(pr->output, OUTPUT_RECORD_PROFILE, headers) != 0)
        log_event(LOG_WARN, "headers_failed", "trace_id=%s", t->trace_id);
    if (stream_produce(s, s->opt->topic_profiles, profile->dag_id, pr->scratch.data, pr->scratch.len, pub, headers) != 0) {
        pub->failed = 1;
        pub->pending--;
    }
    metrics_count(s->metrics, profile->complete ? METRIC_TRACES_COMPLETE : METRIC_TRACES_INCOMPLETE, 1);
    if (profile->revision > 0)
        metrics_count(s->metrics, METRIC_TRACES_REVISIONS, 1);
    (void)produced;
    pr->in_flight++;
    if (pub->pending == 0) { /* nothing could be queued: finish (as failed) now */
        pub->next = pr->done;
        pr->done = pub;
    }
    pub = NULL;
    rc = 0;
done:
    if (pub) {
        free(pub->trace_id);
        free(pub);
    }
    profile_free(profile);
    trace_free(trace);
    return rc;
}

/* End the leases of every publication whose records were all acknowledged. */
static void stream_finish_done(profiler_t *pr) {
    stream_t *s = pr->s;
    rd_kafka_poll(s->producer, 0);
    if (stream_fleet_flush(pr) != 0)
        return;
    if (!pr->done)
        return;
    size_t n = 0;
    for (publication_t *p = pr->done; p; p = p->next)
        n++;
    trace_store_done_t *done = calloc(n, sizeof(*done));
    if (!done)
        return;
    size_t i = 0;
    int64_t now = now_ms();
    for (publication_t *p = pr->done; p; p = p->next) {
        metrics_count(s->metrics, p->failed ? METRIC_PROFILES_FAILED : METRIC_PROFILES_PUBLISHED, 1);
        if (!p->failed)
            metrics_observe_profile_delay(s->metrics, (double)(now - p->due_ms) / 1000.0);
        /* ending a lease that ran out could end the next holder's */
        if (p->lease_until_ms && stream_lease_lost(p->lease_until_ms, 0, p->trace_id, "finish"))
            continue;
        done[i++] = (trace_store_done_t){p->partition, p->trace_id, p->gen, p->revision, !p->failed};
    }
    n = i;
    char err[512];
    if (n && trace_store_finish(pr->store, done, n, now_ms(), err, sizeof(err)) != 0) {
        /* the leases will run out and the traces be profiled again: at-least-once */
        log_event(LOG_WARN, "finish_failed", "error=\"%s\" traces=%zu", err, n);
    }
    free(done);
    while (pr->done) {
        publication_t *p = pr->done;
        pr->done = p->next;
        free(p->trace_id);
        free(p);
        pr->in_flight--;
    }
}

static void stream_process_due(profiler_t *pr) {
    stream_t *s = pr->s;
    int64_t now = now_ms();
    if (!pr->backlog && now - pr->last_due_ms < s->opt->due_poll_ms)
        return;
    pr->last_due_ms = now;
    pr->backlog = 0;
    /* the owned partitions change in the ingest thread's rebalance callback */
    pthread_mutex_lock(&s->lock);
    size_t owned = s->owned_count;
    if (owned > pr->owned_cap) {
        int32_t *grown = realloc(pr->owned, owned * sizeof(*grown));
        if (grown) {
            pr->owned = grown;
            pr->owned_cap = owned;
        } else {
            owned = pr->owned_cap;
        }
    }
    if (owned)
        memcpy(pr->owned, s->owned, owned * sizeof(*pr->owned));
    pr->owned_count = owned;
    pthread_mutex_unlock(&s->lock);
    if (owned == 0)
        return;
    char err[512];
    trace_store_ref_t *refs = NULL;
    size_t count = 0;
    if (trace_store_due(pr->store, pr->owned, owned, now, STREAM_DUE_BATCH, &refs, &count,
                        err, sizeof(err)) != 0) {
        log_event(LOG_WARN, "redis_unavailable", "step=due error=\"%s\"", err);
        stream_set_redis_failing(s, &s->profile_redis_failing, 1, err);
        return;
    }
    /* only this thread writes profile_redis_failing: reading it needs no lock */
    if (s->profile_redis_failing) {
        /* Redis answers again (the due scan is the steady probe, also when no
         * spans arrive) */
        log_event(LOG_INFO, "redis_available", "step=due");
        stream_set_redis_failing(s, &s->profile_redis_failing, 0, NULL);
    }
    if (count == 0) {
        trace_store_refs_free(refs, count);
        return;
    }
    pr->backlog = count == STREAM_DUE_BATCH;
    trace_store_trace_t *traces = NULL;
    int64_t lease_until_ms = now + STREAM_LEASE_MS;
    if (trace_store_load(pr->store, refs, count, lease_until_ms, &traces, err, sizeof(err)) != 0) {
        log_event(LOG_WARN, "redis_unavailable", "step=load error=\"%s\"", err);
        stream_set_redis_failing(s, &s->profile_redis_failing, 1, err);
        pr->backlog = 0;
        trace_store_refs_free(refs, count);
        return;
    }
    trace_store_done_t *nothing = calloc(count, sizeof(*nothing));
    size_t n_nothing = 0;
    for (size_t i = 0; i < count; i++) {
        /* the store finds at-least-once replays at load, each counted once */
        if (traces[i].duplicates > 0)
            metrics_count(s->metrics, METRIC_SPANS_DUPLICATE, (uint64_t)traces[i].duplicates);
        if (!traces[i].exists)
            continue;
        int rc = stream_profile_one(pr, &traces[i], refs[i].due_ms, lease_until_ms);
        if (rc != 0 && rc != 2 && nothing)
            nothing[n_nothing++] = (trace_store_done_t){traces[i].partition, traces[i].trace_id,
                                                        traces[i].gen, traces[i].revision, rc == 1};
    }
    if (n_nothing && trace_store_finish(pr->store, nothing, n_nothing, now_ms(), err, sizeof(err)) != 0)
        log_event(LOG_WARN, "finish_failed", "error=\"%s\"", err);
    free(nothing);
    trace_store_traces_free(traces, count);
    trace_store_refs_free(refs, count);
}

static void stream_metrics_poll(profiler_t *pr) {
    stream_t *s = pr->s;
    int64_t open_total = 0;
    for (size_t i = 0; i < pr->owned_count; i++) {
        int64_t open = 0;
        char err[256];
        if (trace_store_open_count(pr->store, pr->owned[i], &open, err, sizeof(err)) == 0)
            open_total += open;
    }
    metrics_set_gauge(s->metrics, METRIC_TRACES_OPEN, (double)open_total);
    metrics_set_gauge(s->metrics, METRIC_IN_FLIGHT, (double)pr->in_flight);
    pthread_mutex_lock(&s->lock);
    uint64_t round_trips = s->ingest_round_trips, commands = s->ingest_commands;
    pthread_mutex_unlock(&s->lock);
    if (pr->fleet) { /* the fleet view's puts and reads are Redis traffic too */
        round_trips += fleet_view_round_trips(pr->fleet);
        commands += fleet_view_commands(pr->fleet);
    }
    metrics_set_redis_round_trips(s->metrics, round_trips + trace_store_round_trips(pr->store),
                                  commands + trace_store_commands(pr->store));
    /* on a Redis Cluster: unhealthy while a slot of an owned partition has
     * no reachable master */
    char slots_err[256];
    int slots_ok = trace_store_check_partitions(pr->store, pr->owned, pr->owned_count, slots_err,
                                                sizeof(slots_err)) == 0;
    metrics_set_redis_slots(s->metrics, slots_ok, slots_ok ? NULL : slots_err);
    stream_redis_nodes(s->metrics, 1, pr->store);
}

/* The profiler thread: due scans every due.poll.ms (at once while a backlog
 * lasts), serving delivery reports in between; on stop, publish what is in
 * flight and end its leases. */
static void *stream_profiler(void *arg) {
    profiler_t *pr = arg;
    pthread_setname_np(pthread_self(), "dagprof-profile"); /* top -H, perf: apart from ingest */
    stream_t *s = pr->s;
    int64_t last_metrics = 0;
    while (!*s->opt->stop && !s->fatal) {
        stream_finish_done(pr);
        stream_process_due(pr);
        stream_finish_done(pr);
        if (now_ms() - last_metrics >= 1000) {
            last_metrics = now_ms();
            stream_metrics_poll(pr);
        }
        int64_t wait = pr->backlog ? 0 : pr->last_due_ms + s->opt->due_poll_ms - now_ms();
        if (wait > 0)
            rd_kafka_poll(s->producer, wait > 100 ? 100 : (int)wait);
    }
    log_event(LOG_INFO, "stopping", "in_flight=%zu", pr->in_flight);
    rd_kafka_flush(s->producer, s->brokers_down ? 2000 : 30000);
    stream_finish_done(pr);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------- */

/* Fail fast: the brokers must answer a metadata request at start. */
static int stream_check_kafka(rd_kafka_t *rk, char *errstr, size_t errstr_size) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 10000);
    if (err) {
        snprintf(errstr, errstr_size, "kafka: cannot reach the brokers: %s", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    stream_t *s = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        s->brokers_down = 1;
        metrics_set_health(s->metrics, 0, "all Kafka brokers are down");
    }
    char quoted[512];
    log_event(LOG_WARN, "kafka_error", "error=\"%s\"", log_quote(reason, quoted, sizeof(quoted)));
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    stream_t *s = opaque;
    metrics_kafka_stats(s->metrics, json, len);
    return 0; /* librdkafka frees json */
}

/* ---- OpenTelemetry input: setup -------------------------------------------------------- */

static int stream_setup_input(stream_t *s, const stream_options_t *opt, char *errstr, size_t errstr_size) {
    const char *name = opt->input_format ? opt->input_format : "auto";
    if (strcmp(name, "auto") == 0)
        s->input_format = WIRE_UNKNOWN;
    else if (strcmp(name, "avro") == 0)
        s->input_format = WIRE_AVRO_CONFLUENT; /* the Avro decoder takes bare bodies too */
    else if (strcmp(name, "otlp_proto") == 0)
        s->input_format = WIRE_OTLP_PROTO;
    else if (strcmp(name, "otlp_json") == 0)
        s->input_format = WIRE_OTLP_JSON;
    else {
        snprintf(errstr, errstr_size, "input.format: \"%s\" is not auto, avro, otlp_proto or otlp_json", name);
        return -1;
    }
    if (opt->repartition && (!opt->repartition_topic || !opt->repartition_topic[0] ||
                             strcmp(opt->repartition_topic, opt->topic_spans) == 0)) {
        snprintf(errstr, errstr_size, "input.repartition.topic must name a topic other than topic.spans");
        return -1;
    }
    char err[512];
    s->otlp = otlp_input_new(s->codec, err, sizeof(err));
    if (!s->otlp) {
        snprintf(errstr, errstr_size, "otlp: %s", err);
        return -1;
    }
    return 0;
}

/* The repartition producer: like the output producer (idempotent), with
 * delivery reports of its own so the ingest thread knows what was acknowledged. */
static int stream_setup_repartition(stream_t *s, rd_kafka_conf_t *pconf, char *errstr, size_t errstr_size) {
    char err[512];
    rd_kafka_conf_t *rpconf = rd_kafka_conf_dup(pconf);
    rd_kafka_conf_set_dr_msg_cb(rpconf, on_repartition_delivery);
    rd_kafka_conf_set_opaque(rpconf, s);
    s->rp_producer = rd_kafka_new(RD_KAFKA_PRODUCER, rpconf, err, sizeof(err));
    if (!s->rp_producer) {
        rd_kafka_conf_destroy(rpconf);
        snprintf(errstr, errstr_size, "kafka repartition producer: %s", err);
        return -1;
    }
    log_event(LOG_INFO, "repartition", "topic=%s", s->opt->repartition_topic);
    return 0;
}

int stream_run(const stream_options_t *opt, rd_kafka_conf_t *cconf, rd_kafka_conf_t *pconf,
               char *errstr, size_t errstr_size) {
    int rc = -1;
    stream_t s;
    memset(&s, 0, sizeof(s));
    s.opt = opt;
    pthread_mutex_init(&s.lock, NULL);
    profiler_t pr;
    memset(&pr, 0, sizeof(pr));
    pr.s = &s;
    pthread_t profiler_thread;
    char err[512];

    s.metrics = metrics_new(opt->metrics_bind, opt->metrics_port, err, sizeof(err));
    if (!s.metrics) {
        snprintf(errstr, errstr_size, "metrics: %s", err);
        goto fail;
    }
    if (opt->ui.capacity && !(s.ui = ui_new(&opt->ui, err, sizeof(err)))) {
        snprintf(errstr, errstr_size, "ui: %s", err);
        goto fail;
    }
    metrics_set_ui(s.metrics, s.ui);
    s.codec = span_codec_new(err, sizeof(err));
    pr.codec = s.codec ? span_codec_new(err, sizeof(err)) : NULL;
    if (s.codec)
        span_codec_set_schema_id(s.codec, opt->input_schema_id);
    pr.avro = pr.codec ? profile_avro_new(err, sizeof(err)) : NULL;
    if (!s.codec || !pr.codec || !pr.avro) {
        snprintf(errstr, errstr_size, "avro: %s", err);
        goto fail;
    }
    pr.output = output_format_new((output_format_kind_t)opt->output_format,
                                  opt->output_schema_id_profile,
                                  opt->output_schema_id_recommendation, errstr, errstr_size);
    if (!pr.output)
        goto fail;
    if (stream_setup_input(&s, opt, errstr, errstr_size) != 0)
        goto fail;
    log_event(LOG_INFO, "starting", "topic=%s profiles=%s recommendations=%s deadletter=%s redis=%s:%d",
              opt->topic_spans, opt->topic_profiles, opt->topic_recommendations,
              opt->topic_deadletter, opt->store.host, opt->store.port);
    s.store = trace_store_new(&opt->store, errstr, errstr_size);
    if (!s.store || !(pr.store = trace_store_new(&opt->store, errstr, errstr_size)))
        goto fail;
    if (opt->fleet_enabled) {
        fleet_view_options_t fopt = opt->fleet;
        fopt.store = opt->store;
        fopt.output_format = opt->output_format;
        fopt.produce = stream_fleet_produce;
        fopt.produce_opaque = &s;
        fopt.metrics = s.metrics;
        if (!(pr.fleet = fleet_view_new(&fopt, errstr, errstr_size)))
            goto fail;
    }

    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_conf_t *dlconf = rd_kafka_conf_dup(pconf);
    rd_kafka_conf_set_opaque(dlconf, NULL);
    s.dl_producer = rd_kafka_new(RD_KAFKA_PRODUCER, dlconf, err, sizeof(err));
    if (!s.dl_producer) {
        rd_kafka_conf_destroy(dlconf);
        snprintf(errstr, errstr_size, "kafka producer: %s", err);
        goto fail;
    }
    if (opt->repartition && stream_setup_repartition(&s, pconf, errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(pconf, &pr);
    s.producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
    if (!s.producer) {
        snprintf(errstr, errstr_size, "kafka producer: %s", err);
        goto fail;
    }
    pconf = NULL;
    rd_kafka_conf_set_opaque(cconf, &s);
    rd_kafka_conf_set_rebalance_cb(cconf, on_rebalance);
    rd_kafka_conf_set_stats_cb(cconf, on_stats);
    rd_kafka_conf_set_error_cb(cconf, on_kafka_error);
    char interval[32];
    size_t isz = sizeof(interval);
    if (rd_kafka_conf_get(cconf, "statistics.interval.ms", interval, &isz) == RD_KAFKA_CONF_OK &&
        strcmp(interval, "0") == 0 && opt->metrics_port > 0)
        rd_kafka_conf_set(cconf, "statistics.interval.ms", "5000", err, sizeof(err));
    s.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
    if (!s.consumer) {
        snprintf(errstr, errstr_size, "kafka consumer: %s", err);
        goto fail;
    }
    cconf = NULL;
    if (stream_check_kafka(s.consumer, errstr, errstr_size) != 0)
        goto fail;
    /* Look up the output topics now: otherwise the first profiles wait for
     * the producer to fetch their metadata on first use. */
    const char *outputs[] = {opt->topic_profiles, opt->topic_recommendations, opt->topic_deadletter};
    for (size_t i = 0; i < 3; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s.producer, outputs[i], NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (rkt && rd_kafka_metadata(s.producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        else
            log_event(LOG_WARN, "topic_metadata_failed", "topic=%s", outputs[i]);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_poll_set_consumer(s.consumer);
    s.queue = rd_kafka_queue_get_consumer(s.consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, opt->topic_spans, RD_KAFKA_PARTITION_UA);
    if (opt->repartition) /* the re-published spans come back through the same group */
        rd_kafka_topic_partition_list_add(topics, opt->repartition_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(s.consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (serr) {
        snprintf(errstr, errstr_size, "kafka: cannot subscribe to %s: %s", opt->topic_spans,
                 rd_kafka_err2str(serr));
        goto fail;
    }
    metrics_set_assigned(s.metrics, 0); /* until the group assigns partitions */
    metrics_set_health(s.metrics, 1, NULL);
    log_event(LOG_INFO, "running", "metrics_port=%d", opt->metrics_port);

    if (pthread_create(&profiler_thread, NULL, stream_profiler, &pr) != 0) {
        snprintf(errstr, errstr_size, "cannot start the profiler thread");
        goto fail;
    }
    /* one batch in Redis while the next is polled and decoded */
    batch_t *in_flight = NULL;
    while (!*opt->stop && !s.fatal) {
        batch_t *next = stream_poll_batch(&s);
        if (in_flight) {
            stream_batch_finish(&s, in_flight);
            stream_batch_free(&s, in_flight);
        }
        in_flight = next;
        if (in_flight)
            stream_batch_send(&s, in_flight);
    }
    if (in_flight) {
        if (!s.fatal)
            stream_batch_finish(&s, in_flight);
        stream_batch_free(&s, in_flight);
    }

    /* shutdown: the profiler publishes what is in flight and ends its leases;
     * then the dead letters are flushed, the offsets committed, the group left */
    pthread_join(profiler_thread, NULL);
    rd_kafka_flush(s.dl_producer, s.brokers_down ? 2000 : 30000);
    if (!s.brokers_down) {
        rd_kafka_resp_err_t cerr = rd_kafka_commit(s.consumer, NULL, 0);
        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_event(LOG_WARN, "commit_failed", "error=\"%s\"", rd_kafka_err2str(cerr));
    }
    rc = 0;
    if (s.fatal) {
        snprintf(errstr, errstr_size, "%s",
                 s.rp_failed ? "spans re-published to input.repartition.topic were not acknowledged; "
                               "their messages are consumed again after a restart"
                             : "out of memory holding messages during a Redis outage");
        rc = -1;
    }
fail:
    if (s.queue)
        rd_kafka_queue_destroy(s.queue);
    if (s.consumer) {
        if (s.brokers_down) {
            /* Leaving the group needs a broker; without one, close would wait
             * for timeouts. Spans stored since the last commit are replayed
             * by the next owner and deduplicated. */
            log_event(LOG_WARN, "leaving_without_close", "reason=\"all brokers down\"");
            rd_kafka_destroy_flags(s.consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        } else {
            rd_kafka_resp_err_t cerr = rd_kafka_consumer_close(s.consumer);
            if (cerr)
                log_event(LOG_WARN, "close_failed", "error=\"%s\"", rd_kafka_err2str(cerr));
            rd_kafka_destroy(s.consumer);
        }
    }
    if (s.producer) {
        rd_kafka_flush(s.producer, 5000);
        rd_kafka_destroy(s.producer);
    }
    if (s.dl_producer) {
        rd_kafka_flush(s.dl_producer, 5000);
        rd_kafka_destroy(s.dl_producer);
    }
    if (s.rp_producer) {
        rd_kafka_flush(s.rp_producer, 5000);
        rd_kafka_destroy(s.rp_producer);
    }
    otlp_input_free(s.otlp);
    for (size_t i = 0; i < s.held_count; i++)
        rd_kafka_message_destroy(s.held[i]);
    free(s.held);
    while (pr.done) {
        publication_t *p = pr.done;
        pr.done = p->next;
        free(p->trace_id);
        free(p);
    }
    if (cconf)
        rd_kafka_conf_destroy(cconf);
    if (pconf)
        rd_kafka_conf_destroy(pconf);
    trace_store_free(s.store);
    trace_store_free(pr.store);
    fleet_view_free(pr.fleet);
    profile_avro_free(pr.avro);
    output_format_free(pr.output);
    span_codec_free(s.codec);
    span_codec_free(pr.codec);
    metrics_free(s.metrics);
    ui_free(s.ui); /* after the server that reads it */
    buf_free(&pr.scratch);
    free(pr.owned);
    free(s.owned);
    pthread_mutex_destroy(&s.lock);
    if (rc == 0)
        log_event(LOG_INFO, "stopped", "clean=1");
    return rc;
}
