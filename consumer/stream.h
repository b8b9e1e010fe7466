/* stream.h -- `dagprof run`: the stream processor.
 *
 * The data flow, one function call per arrow, in stream_run's loop:
 *
 *   poll (Kafka batch) -> decode (span_codec) -> store (trace_store_append)
 *   -> commit (offsets stored after the store succeeded)
 *   -> due (trace_store_due, the owned partitions' schedules) -> load
 *   -> profile (engine) -> encode (profile_avro) -> publish (idempotent
 *   producer) -> finish (trace_store_finish, once every record is delivered)
 *
 * Guarantees: at-least-once in (offsets are stored only after the spans are in
 * Redis; a replay is deduplicated by span_id), at-least-once out with stable
 * profile ids ("<trace_id>#<revision>"), nothing dropped silently (malformed
 * events go to the dead-letter topic with the reason in a header). */
#ifndef DAGPROF_STREAM_H
#define DAGPROF_STREAM_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>

#include "pricing.h"
#include "profile.h"
#include "trace_store.h"

typedef struct stream_options {
    const char *topic_spans;
    const char *topic_profiles;
    const char *topic_recommendations;
    const char *topic_deadletter;
    int64_t input_schema_id; /* Confluent schema id spans must carry; -1: any */
    const char *input_format; /* "auto", "avro", "otlp_proto", "otlp_json"; NULL: auto */
    int repartition;          /* re-publish decoded spans keyed by trace id, profile from there */
    const char *repartition_topic; /* the internal topic; also consumed */
    int batch_size;        /* messages per poll */
    int batch_timeout_ms;  /* longest wait for a batch */
    int due_poll_ms;       /* how often the due schedules are read */
    int64_t max_string_bytes;
    trace_store_options_t store;
    const pricing_t *pricing;
    profile_thresholds_t thresholds;
    int metrics_port;      /* 0: no HTTP endpoint */
    const char *metrics_bind;
    volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT: finish the batch, commit, leave */
} stream_options_t;

/* Runs until *stop. Takes over both librdkafka configurations. Returns 0 after
 * a clean shutdown, -1 with errstr when Redis or Kafka cannot be reached at
 * start (fail fast) or a fatal error occurs. */
int stream_run(const stream_options_t *options, rd_kafka_conf_t *consumer_conf,
               rd_kafka_conf_t *producer_conf, char *errstr, size_t errstr_size);

#endif
