/* span_codec.h -- span events to and from their wire forms (SPEC §1).
 *
 * Decoding turns one Kafka message value (Avro binary of SpanEvent, bare or in
 * the Confluent wire format), one JSON object (a line of a JSON Lines trace),
 * or one generic Avro value (a record of an Avro container file) into a
 * span_t. Encoding writes the bare Avro binary or the JSON object of a span.
 *
 * A codec is not thread-safe: use one per thread. The span a decode call fills
 * points into memory owned by the codec, valid until the next call on that
 * codec or span_codec_free(); trace_add_span() copies what it keeps. */
#ifndef DAGPROF_SPAN_CODEC_H
#define DAGPROF_SPAN_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "buf.h"
#include "span.h"

typedef struct span_codec span_codec_t;

/* The SpanEvent schema as JSON text; identical in meaning to
 * schemas/span_event.avsc (a test holds them together). */
extern const char span_codec_schema_json[];

/* Returns a new codec, or NULL with errstr set. Free with span_codec_free(). */
span_codec_t *span_codec_new(char *errstr, size_t errstr_size);
void span_codec_free(span_codec_t *codec);

/* The parsed SpanEvent schema; borrowed, lives as long as the codec. */
avro_schema_t span_codec_schema(const span_codec_t *codec);

/* Schema id a Confluent-framed message must carry; a message with another id
 * is rejected. -1 (the default) accepts any id. */
void span_codec_set_schema_id(span_codec_t *codec, int64_t schema_id);

/* Decode one Avro message: bare SpanEvent binary, or magic byte 0 + 4-byte
 * big-endian schema id + SpanEvent binary. Safe on arbitrary bytes. Returns 0,
 * or -1 with errstr naming the field and the problem (truncated, invalid enum
 * index, negative length, trailing bytes, empty trace_id, negative tokens...). */
int span_codec_decode_avro(span_codec_t *codec, const void *buf, size_t len, span_t *out,
                           char *errstr, size_t errstr_size);

/* The bytes a bare SpanEvent body (no Confluent header) spends on its first
 * two fields, trace_id and span_id: what a store keyed by trace and span
 * leaves out of each record (trace_store.h). 0 when they are malformed or
 * empty. */
size_t span_codec_avro_ids_size(const void *body, size_t len);

/* Decode the rest of a bare SpanEvent body, the fields after span_id, with
 * its trace_id (borrowed: it must outlive the span) and span_id (copied; not
 * NUL-terminated) given apart. Checks as span_codec_decode_avro. */
int span_codec_decode_avro_rest(span_codec_t *codec, const char *trace_id, const char *span_id,
                                size_t span_id_len, const void *rest, size_t len, span_t *out,
                                char *errstr, size_t errstr_size);

/* Decode one JSON object. Missing optional fields take their SPEC §1
 * defaults (null, 0, [], {}); a missing kind is "other" and a missing status
 * "unset". trace_id, span_id, start_us and end_us are required. Unknown fields
 * are ignored. Returns 0, or -1 with errstr naming the field and the problem. */
int span_codec_decode_json(span_codec_t *codec, const char *text, size_t len, span_t *out,
                           char *errstr, size_t errstr_size);

/* Decode a generic Avro record read with any writer schema whose fields
 * carry the SpanEvent names (e.g. from an Avro container file): fields are
 * matched by name, enums by symbol, missing optional fields take defaults.
 * The span may point into `value`: keep it unchanged while using the span.
 * Returns 0, or -1 with errstr set. */
int span_codec_decode_value(span_codec_t *codec, avro_value_t *value, span_t *out,
                            char *errstr, size_t errstr_size);

/* Append the bare Avro binary of `span` to `out`. Refuses (-1, errstr) what
 * the decoder would reject: missing or empty trace_id/span_id, an unknown
 * kind or status, negative attempt or token counts, NULL strings in
 * depends_on or attributes; also out of memory. `out` is unchanged on error. */
int span_codec_encode_avro(span_codec_t *codec, const span_t *span, buf_t *out,
                           char *errstr, size_t errstr_size);

/* Append one JSON object (no newline) with every SPEC §1 field; NULL strings
 * become null, invalid UTF-8 becomes U+FFFD. Returns 0, or -1 when out of
 * memory (then `out` is unchanged). */
int span_codec_encode_json(const span_t *span, buf_t *out);

#endif
