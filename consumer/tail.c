/* tail.c -- `dagprof tail`: print profiles from the output topic.
 *
 * The idiomatic librdkafka poll loop (examples/consumer.c): subscribe, poll,
 * decode, print, until a stop, a count or a quiet period. A record that does
 * not decode is reported with its partition and offset and skipped, so one bad
 * producer cannot stop the view of everyone else's profiles. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "report.h"
#include "report_html.h"
#include "tail.h"

#define TAIL_POLL_SLICE_MS 200
#define TAIL_ERR_MAX 512
#define TAIL_SEEN_ERRORS_MAX 32

/* Broker errors already printed: the same one repeats every few seconds while
 * a broker is down or a topic missing, and once is enough to explain it. */
typedef struct tail_seen_errors {
    rd_kafka_resp_err_t codes[TAIL_SEEN_ERRORS_MAX];
    size_t count;
} tail_seen_errors_t;

static int64_t tail_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool tail_stopped(const tail_options_t *options) {
    return options->stop != NULL && *options->stop;
}

/* Print a broker error the first time its code turns up. Everything that
 * reaches here is retried by librdkafka: a missing topic may yet be created,
 * a broker may come back. */
static void tail_report_error(tail_seen_errors_t *seen, rd_kafka_resp_err_t code,
                              const char *reason) {
    for (size_t i = 0; i < seen->count; i++)
        if (seen->codes[i] == code)
            return;
    if (seen->count < TAIL_SEEN_ERRORS_MAX)
        seen->codes[seen->count++] = code;
    fprintf(stderr, "tail: %s: %s (continuing)\n", rd_kafka_err2name(code), reason);
}

/* Client-level errors (all brokers down, authentication...) come here rather
 * than as messages; served by rd_kafka_consumer_poll on this thread. */
static void tail_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    if (err != RD_KAFKA_RESP_ERR__FATAL) /* the poll loop stops on it */
        tail_report_error(opaque, (rd_kafka_resp_err_t)err, reason);
}

/* Render one profile into `out` (reset first). 0, or -1 when memory ran out. */
static int tail_render(const tail_options_t *options, const profile_t *profile, buf_t *out) {
    buf_reset(out);
    if (options->html) {
        report_html_options_t html;
        report_html_options_init(&html);
        html.max_rows = options->html_max_rows;
        return report_write_html(profile, &html, out);
    }
    if (options->json)
        return profile_json_write(profile, out) == 0 && buf_putc(out, '\n') == 0 ? 0 : -1;
    report_options_t report;
    report_options_init(&report);
    report.color = options->color;
    return report_write_text(profile, &report, out) == 0 && buf_putc(out, '\n') == 0 ? 0 : -1;
}

/* Decode one record in whichever output format wrote it: the dagprof.format
 * header says so; without one (a record from an older dagprof or another
 * producer), a value starting with '{' is JSON and anything else Avro, bare
 * or Confluent-framed (profile_avro_decode tells those apart). */
static int tail_decode(profile_avro_t *avro, const rd_kafka_message_t *msg, profile_t **profile,
                       char *err, size_t err_size) {
    const void *format = NULL;
    size_t format_len = 0;
    rd_kafka_headers_t *headers = NULL;
    int json = ((const char *)msg->payload)[0] == '{';
    if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, "dagprof.format", &format, &format_len) ==
            RD_KAFKA_RESP_ERR_NO_ERROR && format)
        json = format_len == 4 && memcmp(format, "json", 4) == 0;
    if (json)
        return profile_json_read(msg->payload, msg->len, profile, err, err_size);
    return profile_avro_decode(avro, msg->payload, msg->len, profile, err, err_size);
}

int tail_run(const tail_options_t *options, rd_kafka_conf_t *conf, FILE *out, char *errstr,
             size_t errstr_size) {
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    profile_avro_t *avro = NULL;
    profile_t *profile = NULL;
    buf_t text = BUF_INIT;
    tail_seen_errors_t seen;
    char err[TAIL_ERR_MAX];
    int64_t printed = 0;
    int64_t last_profile_ms;
    rd_kafka_resp_err_t kerr;
    int rc = -1;

    memset(&seen, 0, sizeof(seen));
    if (conf == NULL) {
        snprintf(errstr, errstr_size, "no Kafka configuration");
        goto fail;
    }
    if (options->topic == NULL || options->topic[0] == '\0') {
        snprintf(errstr, errstr_size, "no topic to read");
        goto fail;
    }
    avro = profile_avro_new(err, sizeof(err));
    if (avro == NULL) {
        snprintf(errstr, errstr_size, "profile schema: %s", err);
        goto fail;
    }
    /* Without it the caller's auto.offset.reset decides (latest by default). */
    if (options->from_beginning &&
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "auto.offset.reset: %s", err);
        goto fail;
    }
    rd_kafka_conf_set_error_cb(conf, tail_on_error);
    rd_kafka_conf_set_opaque(conf, &seen);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        snprintf(errstr, errstr_size, "cannot create the Kafka consumer: %s", err);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    kerr = rd_kafka_poll_set_consumer(rk);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "consumer queue: %s", rd_kafka_err2str(kerr));
        goto fail;
    }
    topics = rd_kafka_topic_partition_list_new(1);
    if (topics == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    rd_kafka_topic_partition_list_add(topics, options->topic, RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(rk, topics);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "cannot subscribe to %s: %s", options->topic,
                 rd_kafka_err2str(kerr));
        goto fail;
    }

    last_profile_ms = tail_now_ms();
    while (!tail_stopped(options)) {
        if (options->max_profiles > 0 && printed >= options->max_profiles)
            break;
        int64_t wait_ms = TAIL_POLL_SLICE_MS;
        if (options->timeout_ms > 0) {
            int64_t left_ms = last_profile_ms + options->timeout_ms - tail_now_ms();
            if (left_ms <= 0)
                break;
            if (left_ms < wait_ms)
                wait_ms = left_ms;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, (int)wait_ms);
        if (rd_kafka_fatal_error(rk, err, sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(errstr, errstr_size, "Kafka consumer failed: %s", err);
            if (msg != NULL)
                rd_kafka_message_destroy(msg);
            goto fail;
        }
        if (msg == NULL)
            continue;
        if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                tail_report_error(&seen, msg->err, rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        int decoded = -1;
        if (msg->payload == NULL || msg->len == 0)
            snprintf(err, sizeof(err), "empty value");
        else
            decoded = tail_decode(avro, msg, &profile, err, sizeof(err));
        if (decoded != 0) {
            fprintf(stderr, "tail: cannot decode the record at %s [%" PRId32 "] offset %" PRId64
                            ": %s (skipped)\n",
                    rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset, err);
            rd_kafka_message_destroy(msg);
            continue;
        }
        rd_kafka_message_destroy(msg);
        if (tail_render(options, profile, &text) != 0) {
            snprintf(errstr, errstr_size, "out of memory rendering profile %s",
                     profile->profile_id ? profile->profile_id : "?");
            goto fail;
        }
        profile_free(profile);
        profile = NULL;
        if (fwrite(text.data, 1, text.len, out) != text.len || fflush(out) != 0) {
            snprintf(errstr, errstr_size, "cannot write the output: %s", strerror(errno));
            goto fail;
        }
        printed++;
        last_profile_ms = tail_now_ms();
    }
    rc = 0;
fail:
    if (rk != NULL) {
        /* Leave the group now rather than when the session times out. */
        kerr = rd_kafka_consumer_close(rk);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            fprintf(stderr, "tail: closing the consumer: %s\n", rd_kafka_err2str(kerr));
        rd_kafka_destroy(rk);
    }
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (topics != NULL)
        rd_kafka_topic_partition_list_destroy(topics);
    profile_free(profile);
    profile_avro_free(avro);
    buf_free(&text);
    return rc;
}
