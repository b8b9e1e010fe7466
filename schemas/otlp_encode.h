/* otlp_encode.h -- span events as OpenTelemetry OTLP trace requests.
 *
 * The load generator and the tests write what the OpenTelemetry Collector's
 * kafka exporter writes: one ExportTraceServiceRequest per Kafka message, as
 * OTLP protobuf (otlp_proto) or OTLP/JSON (otlp_json), holding many spans of
 * many traces under one resource and one instrumentation scope.
 *
 * Each span_t becomes an OTLP span by the inverse of the README's mapping
 * table (the decoder's contract), so decoding what this writes gives back the
 * same span_t fields:
 *
 *   run   root span: dag.id, gen_ai.operation.name = invoke_workflow
 *   node  dag.node_id, dag.depends_on (string array), dag.attempt,
 *         gen_ai.operation.name = invoke_agent, gen_ai.agent.name = node id
 *   llm   gen_ai.operation.name = chat, gen_ai.request.model and
 *         gen_ai.response.model, gen_ai.provider.name, gen_ai.usage.input_tokens,
 *         output_tokens, cache_read.input_tokens, cache_creation.input_tokens,
 *         reasoning.output_tokens (those above 0)
 *   tool  gen_ai.operation.name = execute_tool, gen_ai.tool.name
 *   other its attributes only
 *
 * dag.node_id is also written on any other span that names a node, and the
 * span's own attributes follow as string attributes. Status ok/error/unset
 * become STATUS_CODE_OK/ERROR/UNSET; microseconds become nanoseconds.
 *
 * Ids: OTLP trace ids are 16 bytes and span ids 8. A trace id of 32 hex
 * digits (a span id of 16) is written as those bytes, so it decodes to the
 * same text; any other id is replaced by a 128-bit (64-bit) hash of it, the
 * same for the same id, so a trace stays one trace and parents still match.
 *
 * An encoder is not thread-safe: use one per thread. */
#ifndef DAGPROF_OTLP_ENCODE_H
#define DAGPROF_OTLP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"

typedef enum otlp_encoding {
    OTLP_ENCODING_PROTO = 0, /* ExportTraceServiceRequest, protobuf binary */
    OTLP_ENCODING_JSON       /* the same as OTLP/JSON (hex ids, lowerCamelCase) */
} otlp_encoding_t;

typedef struct otlp_encoder otlp_encoder_t;

/* A new encoder writing requests whose resource has service.name =
 * `service_name` (copied; NULL: "dagprof"). NULL with errstr when out of
 * memory. Free with otlp_encoder_free(). */
otlp_encoder_t *otlp_encoder_new(otlp_encoding_t encoding, const char *service_name,
                                 char *errstr, size_t errstr_size);
void otlp_encoder_free(otlp_encoder_t *encoder);

/* Add one span to the request being built; its strings are copied into the
 * encoded form at once. Refuses (-1, errstr) a span without trace_id or
 * span_id, with end before start, or out of memory; the request is then
 * unchanged. */
int otlp_encoder_add(otlp_encoder_t *encoder, const span_t *span, char *errstr,
                     size_t errstr_size);

/* Spans and encoded bytes added since the last finish. */
size_t otlp_encoder_span_count(const otlp_encoder_t *encoder);
size_t otlp_encoder_pending_bytes(const otlp_encoder_t *encoder);

/* Append the request holding every span added since the last finish to
 * `out` and start an empty one. A request with no span is valid (an empty
 * ExportTraceServiceRequest). 0, or -1 when out of memory (`out` unchanged,
 * the spans kept). */
int otlp_encoder_finish(otlp_encoder_t *encoder, buf_t *out);

/* The OTLP id bytes of a span_t id: `out_len` is 16 for trace ids, 8 for span
 * ids (see Ids above). */
void otlp_encode_id(const char *id, unsigned char *out, size_t out_len);

#endif
