/* otlp.h -- OpenTelemetry traces in: OTLP protobuf and OTLP/JSON decoded and
 * mapped to span events (SPEC §1; the mapping table is in the README).
 *
 * One Kafka message value (or one line of a Collector file export) is one
 * ExportTraceServiceRequest: resource_spans -> scope_spans -> spans, so one
 * message holds many spans of many traces. The decoder walks it once and
 * hands each mapped span to a callback; what it cannot map is reported to a
 * second callback with a metric label and a sentence, and the walk goes on.
 *
 * A decoder is not thread-safe: use one per thread. */
#ifndef DAGPROF_OTLP_H
#define DAGPROF_OTLP_H

#include <stddef.h>

#include "span.h"

typedef enum {
    WIRE_UNKNOWN = 0,
    WIRE_AVRO_CONFLUENT,
    WIRE_OTLP_PROTO,
    WIRE_OTLP_JSON,
    WIRE_AVRO_BARE
} wire_format_t;

/* "unknown", "avro" (Confluent framing), "otlp_proto", "otlp_json",
 * "avro_bare". Never NULL. */
const char *wire_format_name(wire_format_t f);

/* "auto" -> WIRE_UNKNOWN (detect per message); "avro", "otlp_proto",
 * "otlp_json", "avro_bare". 0, or -1 on an unknown name (*out unchanged). */
int wire_format_parse(const char *name, wire_format_t *out);

/* Detection rule (documented in README): Confluent magic 0 + id; '{' or
 * whitespace+'{' -> OTLP JSON; a valid ExportTraceServiceRequest protobuf
 * prefix (field 1, wire type 2, length fits) -> OTLP proto; else bare Avro if
 * it decodes; else unknown. Safe on arbitrary bytes. */
wire_format_t wire_detect(const void *buf, size_t len);

/* Attribute a mapped node span carries for its OTLP span links: the linked
 * span ids, lowercase hex, comma-separated. The trace resolves them to the
 * node ids of those spans (they may arrive in another message). */
#define OTLP_LINKS_ATTRIBUTE "otlp.link_span_ids"

/* Attribute (value "1") a mapped node span carries when it has no
 * dag.attempt: the trace numbers such spans of one node under one parent as
 * attempts in order of start (trace_number_repeated_nodes). */
#define OTLP_ATTEMPT_BY_NAME_ATTRIBUTE "otlp.attempt_by_name"

typedef struct otlp_decoder otlp_decoder_t;

/* Returns a new decoder, or NULL with errstr set. Free with otlp_decoder_free(). */
otlp_decoder_t *otlp_decoder_new(char *errstr, size_t errstr_size);
void otlp_decoder_free(otlp_decoder_t *d);

/* Called once per mapped span; the span points into decoder memory valid
 * until the callback returns. Return 0 to go on, non-zero to stop (the decode
 * returns that value). */
typedef int (*otlp_span_fn)(void *opaque, const span_t *span);

/* Called once per span (or part of the message) that is rejected: kind is a
 * short metric label ("otlp_truncated", "otlp_wire_type", "otlp_id_length",
 * "otlp_utf8", "otlp_too_large", ...), reason a readable sentence naming
 * trace/span ids when known. */
typedef void (*otlp_reject_fn)(void *opaque, const char *kind, const char *reason);

/* Decode one Kafka message value = one ExportTraceServiceRequest (protobuf or
 * OTLP/JSON). Returns 0 when the message was walked (some spans may have been
 * rejected through on_reject), -1 with errstr when nothing could be decoded at
 * all (then no span was emitted), or the non-zero value a callback returned.
 * Spans decoded before a truncation point are still emitted. on_reject may be
 * NULL. */
int otlp_decode_proto(otlp_decoder_t *d, const void *buf, size_t len, otlp_span_fn on_span,
                      otlp_reject_fn on_reject, void *opaque, char *errstr, size_t errstr_size);
int otlp_decode_json(otlp_decoder_t *d, const char *text, size_t len, otlp_span_fn on_span,
                     otlp_reject_fn on_reject, void *opaque, char *errstr, size_t errstr_size);

#endif
