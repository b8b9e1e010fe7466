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

#include "fleet_view.h"
#include "pricing.h"
#include "profile.h"
#include "trace_store.h"
#include "ui.h"

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
    /* output records (output_format.h): format and Confluent schema ids */
    int output_format;     /* output_format_kind_t */
    int64_t output_schema_id_profile;
    int64_t output_schema_id_recommendation;
    ui_options_t ui;       /* GET /ui on the metrics server: the last profiles published */
    volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT: finish the batch, commit, leave */
    /* fleet view: live baselines, regressions, trend records (fleet_view.h);
     * its store, output format, producer and metrics are filled in by stream_run */
    int fleet_enabled;
    fleet_view_options_t fleet;
} stream_options_t;

/* Consumer group settings for a real-time profiler, as key, value pairs for
 * the consumer's librdkafka configuration (the user's kafka.* override them;
 * README "Crash recovery and rebalancing" has the measurements):
 * - cooperative-sticky: a rebalance moves only the partitions that change
 *   owner; the others keep being consumed and profiled throughout.
 * - session.timeout.ms 6000 (Kafka's group.min.session.timeout.ms): a killed
 *   instance's partitions move within seconds, not librdkafka's 45 s. The mock
 *   broker also waits session.timeout.ms - 1 s for members to rejoin whenever
 *   one joins or leaves, so on the local stack this is the length of a
 *   rebalance.
 * - heartbeat.interval.ms 1000: a member learns of a rebalance within a second.
 * - max.poll.interval.ms 30000: the ingest loop polls every batch.timeout.ms;
 *   one stuck for 30 s (wedged, not merely waiting on Redis, which keeps
 *   polling) gives its partitions away instead of holding them 5 minutes. */
#define STREAM_GROUP_DEFAULTS                                                  \
    "partition.assignment.strategy", "cooperative-sticky",                   \
    "session.timeout.ms", "6000",                                            \
    "heartbeat.interval.ms", "1000",                                         \
    "max.poll.interval.ms", "30000"

/* Runs until *stop. Takes over both librdkafka configurations. Returns 0 after
 * a clean shutdown, -1 with errstr when Redis or Kafka cannot be reached at
 * start (fail fast) or a fatal error occurs. */
int stream_run(const stream_options_t *options, rd_kafka_conf_t *consumer_conf,
               rd_kafka_conf_t *producer_conf, char *errstr, size_t errstr_size);

#endif
