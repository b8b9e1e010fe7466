/* otlp_input.h -- one OTLP Kafka message in, the stored form of its spans out.
 *
 * `dagprof run` keeps every span in Redis as bare Avro SpanEvent, whatever it
 * arrived as. This module turns one OTLP message (an ExportTraceServiceRequest,
 * protobuf or JSON; schemas/otlp.h decodes and maps it) into that form: each
 * mapped span is checked as an Avro span is (times), encoded with
 * span_codec_encode_avro and handed to the caller; a span that cannot be kept
 * is handed to the reject callback with its kind and reason, and the rest of
 * the message goes on.
 *
 * It also says whether the message was keyed by the trace id of its spans
 * (the Collector's kafka exporter with partition_traces_by_id sets the key to
 * the trace id, as hex text; raw 16-byte keys are accepted too). Unkeyed or
 * otherwise keyed messages spread one trace over several partitions.
 *
 * Not thread-safe: one per thread. */
#ifndef DAGPROF_OTLP_INPUT_H
#define DAGPROF_OTLP_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "otlp.h"
#include "span_codec.h"

typedef struct otlp_input otlp_input_t;

/* One span as the store takes it; everything is valid during the callback only. */
typedef struct otlp_input_span {
    const char *trace_id;
    const char *span_id;
    int is_run;
    const void *body; /* bare Avro SpanEvent */
    size_t body_len;
} otlp_input_span_t;

/* span: return 0 to go on, -1 to stop (out of memory). reject: a span (or a
 * part of the request) that is not kept; kind is a short word for metrics. */
typedef struct otlp_input_sink {
    int (*span)(void *opaque, const otlp_input_span_t *span);
    void (*reject)(void *opaque, const char *kind, const char *reason);
    void *opaque;
} otlp_input_sink_t;

typedef struct otlp_input_result {
    size_t spans;       /* handed to sink->span */
    size_t rejected;    /* handed to sink->reject */
    int keyed_by_trace; /* 1: the key is the trace id of every span */
} otlp_input_result_t;

/* Times outside [min_us, max_us] are rejected as absurd (as Avro spans are). */
typedef struct otlp_input_limits {
    int64_t min_us;
    int64_t max_us;
} otlp_input_limits_t;

/* `codec` is borrowed and must outlive the input. NULL with errstr when out
 * of memory. Free with otlp_input_free(). */
otlp_input_t *otlp_input_new(span_codec_t *codec, char *errstr, size_t errstr_size);
void otlp_input_free(otlp_input_t *input);

/* Decode one message of `format` (WIRE_OTLP_PROTO or WIRE_OTLP_JSON). Returns
 * 0; -1 with errstr when the message is not a readable request (the spans
 * handed over before the fault are kept: the caller stores them and
 * dead-letters the message with the reason); -2 when the sink stopped or
 * memory ran out. `result` is filled in every case. */
int otlp_input_decode(otlp_input_t *input, wire_format_t format, const void *buf, size_t len,
                      const void *key, size_t key_len, const otlp_input_limits_t *limits,
                      const otlp_input_sink_t *sink, otlp_input_result_t *result, char *errstr,
                      size_t errstr_size);

#endif
