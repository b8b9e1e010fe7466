/* loadgen.c -- `dagprof loadgen`: the synthetic fleet, to Kafka or to a file.
 *
 * One loop: fleet_next -> encode -> produce (or write) -> pace. Kafka output
 * counts what the broker acknowledged in the delivery report callback, so the
 * summary says what really arrived; file output counts lines written. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "loadgen.h"
#include "log.h"
#include "otlp_encode.h"
/* The codec lives with the consumer; both libraries link into every binary
 * that runs loadgen. */
#include "span_codec.h"

#define LOADGEN_FLUSH_TIMEOUT_MS 60000
#define LOADGEN_POLL_SLICE_MS 100
#define LOADGEN_ERR_MAX 512

/* Delivery counters, written by the delivery report callback (which runs in
 * rd_kafka_poll/flush, on this thread). */
typedef struct loadgen_kafka {
    int64_t delivered;
    int64_t failed;
    char first_error[LOADGEN_ERR_MAX + 64]; /* "what: reason"; empty until a span fails */
} loadgen_kafka_t;

static int64_t loadgen_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool loadgen_stopped(const loadgen_options_t *options) {
    return options->stop != NULL && *options->stop;
}

static void loadgen_note_failure(loadgen_kafka_t *state, const char *what, const char *reason) {
    state->failed++;
    if (state->first_error[0] == '\0')
        snprintf(state->first_error, sizeof(state->first_error), "%s: %s", what, reason);
}

static void loadgen_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    loadgen_kafka_t *state = opaque;

    (void)rk;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        state->delivered++;
    else
        loadgen_note_failure(state, "delivery failed", rd_kafka_err2str(msg->err));
}

/* Transient broker errors are retried by librdkafka; log them (rate-limited)
 * so a stalled run says why. A fatal error is picked up by the main loop. */
static void loadgen_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    char quoted[LOADGEN_ERR_MAX];

    (void)rk;
    (void)opaque;
    log_event(LOG_WARN, "kafka_error", "code=%s error=\"%s\"",
              rd_kafka_err2name((rd_kafka_resp_err_t)err),
              log_quote(reason, quoted, sizeof(quoted)));
}

/* Wait until span number `produced` is due at the requested rate, serving
 * delivery reports meanwhile. Sleeps in short slices so a stop is seen. */
static void loadgen_pace(const loadgen_options_t *options, rd_kafka_t *rk, int64_t start_us,
                         int64_t produced) {
    if (options->rate_spans_per_s <= 0)
        return;
    int64_t due_us = start_us + (int64_t)((double)produced * 1e6 / options->rate_spans_per_s);
    for (;;) {
        int64_t wait_us = due_us - loadgen_now_us();
        if (wait_us <= 0 || loadgen_stopped(options))
            return;
        if (wait_us > LOADGEN_POLL_SLICE_MS * 1000)
            wait_us = LOADGEN_POLL_SLICE_MS * 1000;
        if (rk != NULL && wait_us >= 1000) {
            rd_kafka_poll(rk, (int)(wait_us / 1000));
        } else {
            struct timespec ts = {0, (long)(wait_us * 1000)};
            nanosleep(&ts, NULL);
        }
    }
}

/* Produce one message, waiting for room while the local queue is full.
 * Returns 0 when queued, -1 when it failed (counted as failed), 1 when a stop
 * came first (not produced, not counted). */
static int loadgen_produce(const loadgen_options_t *options, rd_kafka_t *rk,
                           rd_kafka_topic_t *rkt, loadgen_kafka_t *state, const span_t *span,
                           const buf_t *value) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(span->trace_id, strlen(span->trace_id)),
            RD_KAFKA_V_VALUE(value->data, value->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            loadgen_note_failure(state, "produce failed", rd_kafka_err2str(err));
            return -1;
        }
        if (loadgen_stopped(options))
            return 1;
        rd_kafka_poll(rk, LOADGEN_POLL_SLICE_MS);
    }
}

/* Flush for up to LOADGEN_FLUSH_TIMEOUT_MS. A stop requested during the flush
 * cuts it short; one that ended production early does not, since the header
 * promises to flush what was produced. Whatever is left is purged, and its
 * delivery reports count it as failed. */
static void loadgen_flush(const loadgen_options_t *options, rd_kafka_t *rk) {
    bool stopped_before = loadgen_stopped(options);
    int64_t deadline_us = loadgen_now_us() + (int64_t)LOADGEN_FLUSH_TIMEOUT_MS * 1000;

    while (rd_kafka_outq_len(rk) > 0 && loadgen_now_us() < deadline_us) {
        if (!stopped_before && loadgen_stopped(options))
            break;
        if (rd_kafka_flush(rk, 500) == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
    }
    if (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_resp_err_t err =
            rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_event(LOG_WARN, "kafka_purge_failed", "error=\"%s\"", rd_kafka_err2str(err));
        /* serve the purge reports */
        rd_kafka_poll(rk, 0);
    }
}

/* ---- OTLP: many spans per message ------------------------------------------------ */

#define LOADGEN_OTLP_DEFAULT_BATCH 100
#define LOADGEN_OTLP_MAX_TRACES_PER_BATCH 4096

int loadgen_format_parse(const char *name, loadgen_format_t *out) {
    static const char *const names[] = {"avro", "otlp_proto", "otlp_json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (loadgen_format_t)i;
            return 0;
        }
    return -1;
}

/* A batch of spans on its way to OTLP requests: one encoder, or one per
 * trace when keyed by trace id (the exporter's partition_traces_by_id
 * splits each batch it is handed the same way). */
typedef struct loadgen_otlp {
    otlp_encoding_t encoding;
    int keyed;
    int batch_spans;
    int pending_spans;
    size_t n;               /* encoders in use */
    otlp_encoder_t **enc;   /* LOADGEN_OTLP_MAX_TRACES_PER_BATCH when keyed, else 1 */
    char **trace_ids;       /* keyed: the trace of each encoder */
    buf_t value;
} loadgen_otlp_t;

static void loadgen_otlp_free(loadgen_otlp_t *o) {
    size_t cap = o->keyed ? LOADGEN_OTLP_MAX_TRACES_PER_BATCH : 1;
    for (size_t i = 0; o->enc && i < cap; i++)
        otlp_encoder_free(o->enc[i]);
    for (size_t i = 0; o->trace_ids && i < cap; i++)
        free(o->trace_ids[i]);
    free(o->enc);
    free(o->trace_ids);
    buf_free(&o->value);
}

static int loadgen_otlp_init(loadgen_otlp_t *o, const loadgen_options_t *options, char *errstr,
                             size_t errstr_size) {
    memset(o, 0, sizeof(*o));
    o->encoding = options->format == LOADGEN_FORMAT_OTLP_JSON ? OTLP_ENCODING_JSON : OTLP_ENCODING_PROTO;
    o->keyed = options->otlp_key_by_trace;
    o->batch_spans = options->otlp_batch_spans > 0 ? options->otlp_batch_spans : LOADGEN_OTLP_DEFAULT_BATCH;
    size_t cap = o->keyed ? LOADGEN_OTLP_MAX_TRACES_PER_BATCH : 1;
    o->enc = calloc(cap, sizeof(*o->enc));
    o->trace_ids = calloc(cap, sizeof(*o->trace_ids));
    if (!o->enc || !o->trace_ids) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

/* The encoder for the span's trace; NULL when out of memory or when a keyed
 * batch already holds the most traces (the caller flushes and asks again). */
static otlp_encoder_t *loadgen_otlp_encoder(loadgen_otlp_t *o, const span_t *span) {
    char err[LOADGEN_ERR_MAX];
    size_t slot = 0;
    if (o->keyed) {
        for (slot = 0; slot < o->n; slot++)
            if (strcmp(o->trace_ids[slot], span->trace_id) == 0)
                return o->enc[slot];
        if (slot == LOADGEN_OTLP_MAX_TRACES_PER_BATCH)
            return NULL;
        free(o->trace_ids[slot]);
        if (!(o->trace_ids[slot] = strdup(span->trace_id)))
            return NULL;
    }
    if (!o->enc[slot] && !(o->enc[slot] = otlp_encoder_new(o->encoding, "dagprof-loadgen", err, sizeof(err))))
        return NULL;
    if (slot >= o->n)
        o->n = slot + 1;
    return o->enc[slot];
}

/* Produce (or write) every request of the batch; 0, -1 on failure (counted),
 * 1 when a stop came first. The message's opaque carries its span count, so
 * the delivery report counts spans. */
static int loadgen_otlp_flush(const loadgen_options_t *options, loadgen_otlp_t *o, rd_kafka_t *rk,
                              rd_kafka_topic_t *rkt, loadgen_kafka_t *state, FILE *out) {
    int rc = 0;
    for (size_t i = 0; i < o->n && rc == 0; i++) {
        size_t spans = otlp_encoder_span_count(o->enc[i]);
        if (spans == 0)
            continue;
        buf_reset(&o->value);
        if (otlp_encoder_finish(o->enc[i], &o->value) != 0) {
            if (state)
                loadgen_note_failure(state, "encode failed", "out of memory");
            return -1;
        }
        if (out) {
            if (buf_putc(&o->value, '\n') != 0 || fwrite(o->value.data, 1, o->value.len, out) != o->value.len)
                return -1;
            continue;
        }
        /* the exporter's key: the OTLP trace id as hex text */
        char key_hex[33];
        const char *key = NULL;
        if (o->keyed) {
            unsigned char id[16];
            otlp_encode_id(o->trace_ids[i], id, sizeof(id));
            for (size_t j = 0; j < sizeof(id); j++)
                snprintf(key_hex + 2 * j, 3, "%02x", id[j]);
            key = key_hex;
        }
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                RD_KAFKA_V_VALUE(o->value.data, o->value.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)spans), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                loadgen_note_failure(state, "produce failed", rd_kafka_err2str(err));
                state->failed += (int64_t)spans - 1;
                rc = -1;
                break;
            }
            if (loadgen_stopped(options))
                return 1;
            rd_kafka_poll(rk, LOADGEN_POLL_SLICE_MS);
        }
    }
    o->n = 0;
    o->pending_spans = 0;
    return rc;
}

static void loadgen_on_otlp_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    loadgen_kafka_t *state = opaque;
    int64_t spans = (int64_t)(intptr_t)msg->_private;

    (void)rk;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        state->delivered += spans;
    } else {
        loadgen_note_failure(state, "delivery failed", rd_kafka_err2str(msg->err));
        state->failed += spans - 1;
    }
}

/* The OTLP loop: fleet_next -> add to the batch -> at batch_spans, encode and
 * produce its requests -> pace. Kafka (rk set) or a file (out set). */
static int loadgen_otlp_loop(const loadgen_options_t *options, fleet_t *fleet, rd_kafka_t *rk,
                             rd_kafka_topic_t *rkt, loadgen_kafka_t *state, FILE *out,
                             int64_t start_us, int64_t *produced, char *errstr, size_t errstr_size) {
    loadgen_otlp_t o;
    char err[LOADGEN_ERR_MAX];
    int rc = -1;
    if (loadgen_otlp_init(&o, options, errstr, errstr_size) != 0)
        goto fail;
    while (!loadgen_stopped(options)) {
        span_t span;
        int got = fleet_next(fleet, &span);
        if (got == 0)
            break;
        if (got < 0) {
            snprintf(errstr, errstr_size, "fleet: out of memory");
            goto fail;
        }
        if (rk && rd_kafka_fatal_error(rk, err, sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errstr, errstr_size, "Kafka producer failed: %s", err);
            goto fail;
        }
        loadgen_pace(options, rk, start_us, *produced);
        otlp_encoder_t *enc = loadgen_otlp_encoder(&o, &span);
        if (!enc) {
            int frc = loadgen_otlp_flush(options, &o, rk, rkt, state, out);
            if (frc == 1)
                break;
            if (frc < 0 && out) {
                snprintf(errstr, errstr_size, "cannot write %s: %s", options->output, strerror(errno));
                goto fail;
            }
            if (!(enc = loadgen_otlp_encoder(&o, &span))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
            }
        }
        (*produced)++;
        if (otlp_encoder_add(enc, &span, err, sizeof(err)) != 0) {
            if (!state) {
                snprintf(errstr, errstr_size, "encode failed: %s", err);
                goto fail;
            }
            loadgen_note_failure(state, "encode failed", err);
            continue;
        }
        if (++o.pending_spans >= o.batch_spans) {
            int frc = loadgen_otlp_flush(options, &o, rk, rkt, state, out);
            if (frc == 1)
                break;
            if (frc < 0 && out) {
                snprintf(errstr, errstr_size, "cannot write %s: %s", options->output, strerror(errno));
                goto fail;
            }
        }
        if (rk)
            rd_kafka_poll(rk, 0);
    }
    if (loadgen_otlp_flush(options, &o, rk, rkt, state, out) < 0 && out) {
        snprintf(errstr, errstr_size, "cannot write %s: %s", options->output, strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    loadgen_otlp_free(&o);
    return rc;
}

static int loadgen_run_kafka(const loadgen_options_t *options, rd_kafka_conf_t *conf,
                             fleet_t *fleet, loadgen_result_t *result, int64_t start_us,
                             char *errstr, size_t errstr_size) {
    loadgen_kafka_t state;
    span_codec_t *codec = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    buf_t value = BUF_INIT;
    char err[LOADGEN_ERR_MAX];
    int64_t produced = 0; /* spans handed to Kafka or failed on the way */
    int rc = -1;

    memset(&state, 0, sizeof(state));
    if (options->topic == NULL || options->topic[0] == '\0') {
        snprintf(errstr, errstr_size, "no topic to produce to");
        goto fail;
    }
    codec = span_codec_new(err, sizeof(err));
    if (codec == NULL) {
        snprintf(errstr, errstr_size, "span codec: %s", err);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, options->format == LOADGEN_FORMAT_AVRO ? loadgen_on_delivery
                                                                             : loadgen_on_otlp_delivery);
    rd_kafka_conf_set_error_cb(conf, loadgen_on_error);
    rd_kafka_conf_set_opaque(conf, &state);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        snprintf(errstr, errstr_size, "cannot create the Kafka producer: %s", err);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    rkt = rd_kafka_topic_new(rk, options->topic, NULL);
    if (rkt == NULL) {
        snprintf(errstr, errstr_size, "topic %s: %s", options->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }

    if (options->format != LOADGEN_FORMAT_AVRO &&
        loadgen_otlp_loop(options, fleet, rk, rkt, &state, NULL, start_us, &produced, errstr,
                          errstr_size) != 0)
        goto fail;
    while (options->format == LOADGEN_FORMAT_AVRO && !loadgen_stopped(options)) {
        span_t span;
        int got = fleet_next(fleet, &span);
        if (got == 0)
            break;
        if (got < 0) {
            snprintf(errstr, errstr_size, "fleet: out of memory");
            goto fail;
        }
        if (rd_kafka_fatal_error(rk, err, sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errstr, errstr_size, "Kafka producer failed: %s", err);
            goto fail;
        }
        loadgen_pace(options, rk, start_us, produced);
        buf_reset(&value);
        if (span_codec_encode_avro(codec, &span, &value, err, sizeof(err)) != 0) {
            loadgen_note_failure(&state, "encode failed", err);
            produced++;
            continue;
        }
        if (loadgen_produce(options, rk, rkt, &state, &span, &value) == 1)
            break;
        produced++;
        rd_kafka_poll(rk, 0);
    }
    loadgen_flush(options, rk);
    /* A message without any report (should not happen after a purge) is lost. */
    if (state.delivered + state.failed < produced)
        state.failed = produced - state.delivered;
    rc = 0;
    if (rd_kafka_fatal_error(rk, err, sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "Kafka producer failed: %s", err);
        rc = -1;
    } else if (state.failed > 0) {
        snprintf(errstr, errstr_size, "%" PRId64 " of %" PRId64 " spans not delivered to %s; first: %s",
                 state.failed, produced, options->topic, state.first_error);
        rc = -1;
    }
fail:
    result->spans = state.delivered;
    result->failed = state.failed;
    result->runs = (int64_t)fleet_run_total(fleet);
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    span_codec_free(codec);
    buf_free(&value);
    return rc;
}

static int loadgen_run_file(const loadgen_options_t *options, fleet_t *fleet,
                            loadgen_result_t *result, int64_t start_us, char *errstr,
                            size_t errstr_size) {
    bool to_stdout = strcmp(options->output, "-") == 0;
    const char *name = to_stdout ? "standard output" : options->output;
    FILE *out = NULL;
    buf_t line = BUF_INIT;
    int64_t written = 0;
    int rc = -1;

    out = to_stdout ? stdout : fopen(options->output, "w");
    if (out == NULL) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", name, strerror(errno));
        goto fail;
    }
    if (options->format != LOADGEN_FORMAT_AVRO) {
        int64_t produced = 0;
        if (loadgen_otlp_loop(options, fleet, NULL, NULL, NULL, out, start_us, &produced, errstr,
                              errstr_size) != 0) {
            result->failed = 1;
            goto fail;
        }
        written = produced;
    }
    while (options->format == LOADGEN_FORMAT_AVRO && !loadgen_stopped(options)) {
        span_t span;
        int got = fleet_next(fleet, &span);
        if (got == 0)
            break;
        if (got < 0) {
            snprintf(errstr, errstr_size, "fleet: out of memory");
            goto fail;
        }
        loadgen_pace(options, NULL, start_us, written);
        buf_reset(&line);
        if (span_codec_encode_json(&span, &line) != 0 || buf_putc(&line, '\n') != 0) {
            snprintf(errstr, errstr_size, "out of memory encoding a span");
            goto fail;
        }
        if (fwrite(line.data, 1, line.len, out) != line.len) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", name, strerror(errno));
            result->failed = 1;
            goto fail;
        }
        written++;
    }
    /* Buffered lines reach the disk only now: ENOSPC often shows up here. */
    if (fflush(out) != 0) {
        snprintf(errstr, errstr_size, "cannot write %s: %s", name, strerror(errno));
        result->failed = 1;
        goto fail;
    }
    if (!to_stdout) {
        FILE *closing = out;
        out = NULL;
        if (fclose(closing) != 0) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", name, strerror(errno));
            result->failed = 1;
            goto fail;
        }
    }
    rc = 0;
fail:
    if (out != NULL && !to_stdout)
        fclose(out); /* already failing: its own error adds nothing */
    result->spans = written;
    result->runs = (int64_t)fleet_run_total(fleet);
    buf_free(&line);
    return rc;
}

int loadgen_run(const loadgen_options_t *options, rd_kafka_conf_t *conf,
                loadgen_result_t *result, char *errstr, size_t errstr_size) {
    fleet_t *fleet = NULL;
    char err[LOADGEN_ERR_MAX];
    int64_t start_us = loadgen_now_us();
    bool to_kafka = options->output != NULL && strcmp(options->output, "kafka") == 0;
    int rc = -1;

    memset(result, 0, sizeof(*result));
    if (options->output == NULL || options->output[0] == '\0') {
        snprintf(errstr, errstr_size, "no output: name kafka, a file, or -");
        goto fail;
    }
    if (!to_kafka && options->format == LOADGEN_FORMAT_OTLP_PROTO) {
        snprintf(errstr, errstr_size,
                 "otlp_proto is written to Kafka only; use otlp_json for a file (one request per line)");
        goto fail;
    }
    if (to_kafka && conf == NULL) {
        snprintf(errstr, errstr_size, "output kafka needs a Kafka configuration");
        goto fail;
    }
    fleet = fleet_new(&options->fleet, err, sizeof(err));
    if (fleet == NULL) {
        snprintf(errstr, errstr_size, "fleet: %s", err);
        goto fail;
    }
    if (to_kafka) {
        rc = loadgen_run_kafka(options, conf, fleet, result, start_us, errstr, errstr_size);
        conf = NULL; /* taken over, whatever happened */
    } else {
        rc = loadgen_run_file(options, fleet, result, start_us, errstr, errstr_size);
    }
    result->seconds = (double)(loadgen_now_us() - start_us) / 1e6;
    fprintf(stderr, "loadgen: spans=%" PRId64 " runs=%" PRId64 " seconds=%.3f rate=%.1f spans/s failed=%" PRId64 "\n",
            result->spans, result->runs, result->seconds,
            result->seconds > 0 ? (double)result->spans / result->seconds : 0.0, result->failed);
fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    fleet_free(fleet);
    return rc;
}
