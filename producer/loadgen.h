/* loadgen.h -- `dagprof loadgen`: stream a synthetic fleet of DAG runs.
 *
 * Spans come from the fleet generator (fleet.h) in production order and go to
 * the input topic as bare Avro SpanEvent values keyed by trace_id, through an
 * idempotent producer, at a steady rate or as fast as the broker takes them;
 * or to a file / standard output as JSON Lines. */
#ifndef DAGPROF_LOADGEN_H
#define DAGPROF_LOADGEN_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>

#include "fleet.h"

/* The message values loadgen writes: one bare Avro SpanEvent per message
 * keyed by trace_id, or OTLP ExportTraceServiceRequests of many spans as the
 * OpenTelemetry Collector's kafka exporter writes them. */
typedef enum loadgen_format {
    LOADGEN_FORMAT_AVRO = 0,
    LOADGEN_FORMAT_OTLP_PROTO,
    LOADGEN_FORMAT_OTLP_JSON
} loadgen_format_t;

/* "avro", "otlp_proto", "otlp_json": 0 and *out set, or -1. */
int loadgen_format_parse(const char *name, loadgen_format_t *out);

typedef struct loadgen_options {
    fleet_options_t fleet;
    double rate_spans_per_s;        /* 0: as fast as possible */
    const char *topic;              /* Kafka topic, when output is "kafka" */
    const char *output;             /* "kafka", a file path, or "-" for stdout (JSON Lines) */
    loadgen_format_t format;        /* what a message value is; default LOADGEN_FORMAT_AVRO */
    int otlp_batch_spans;           /* OTLP: spans per request, as the Collector's batch
                                     * processor sends them; <= 0: 100 */
    int otlp_key_by_trace;          /* OTLP: split each batch into one message per trace,
                                     * keyed by trace id (the kafka exporter's
                                     * partition_traces_by_id); else unkeyed */
    volatile sig_atomic_t *stop;    /* set by a signal: stop early, flush what was produced */
} loadgen_options_t;

typedef struct loadgen_result {
    int64_t spans;      /* produced and acknowledged (or written) */
    int64_t runs;
    int64_t failed;     /* delivery failures */
    double seconds;
} loadgen_result_t;

/* OTLP to a file: otlp_json writes one request per line (as the Collector's
 * file exporter does); otlp_proto to a file is refused.
 *
 * `conf` is taken over (NULL when output is not "kafka"). Returns 0 when every
 * span was delivered or written, -1 with errstr otherwise. Prints a summary
 * line to stderr at the end (spans, runs, spans/s). */
int loadgen_run(const loadgen_options_t *options, rd_kafka_conf_t *conf,
                loadgen_result_t *result, char *errstr, size_t errstr_size);

#endif
