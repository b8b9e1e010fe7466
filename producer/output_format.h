/* output_format.h -- the bytes and headers of an output record.
 *
 * `output.format` decides how profiles and recommendations are written:
 *   avro       bare Avro binary of schemas/profile.avsc, recommendation.avsc
 *   confluent  the Schema Registry wire format: byte 0, the schema id as 4
 *              bytes big-endian, then the Avro body
 *   json       one JSON object per record: a profile exactly as
 *              `dagprof profile --format json` prints it, a recommendation
 *              with the fields of recommendation.avsc
 * Every record carries headers `dagprof.schema` (`<full name>;crc64-avro=
 * <hex>`, see schema_fingerprint.h), `dagprof.format` (the format's name)
 * and `dagprof.version`. An output_format_t holds Avro values reused between
 * calls: one per thread. */
#ifndef DAGPROF_OUTPUT_FORMAT_H
#define DAGPROF_OUTPUT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "profile.h"

typedef enum output_format_kind {
    OUTPUT_FORMAT_AVRO,
    OUTPUT_FORMAT_CONFLUENT,
    OUTPUT_FORMAT_JSON
} output_format_kind_t;

typedef enum output_record {
    OUTPUT_RECORD_PROFILE,
    OUTPUT_RECORD_RECOMMENDATION
} output_record_t;

typedef struct output_format output_format_t;

/* "avro", "confluent" or "json" into *out: 0, or -1 for another name. */
int output_format_parse(const char *name, output_format_kind_t *out);
const char *output_format_name(output_format_kind_t kind);

/* A writer of `kind`. For confluent, both schema ids must be in
 * 0..2147483647 (the registry's ids); they are ignored otherwise. Returns a
 * handle to free with output_format_free(), or NULL with errstr set. */
output_format_t *output_format_new(output_format_kind_t kind, int64_t profile_schema_id,
                                   int64_t recommendation_schema_id, char *errstr,
                                   size_t errstr_size);
void output_format_free(output_format_t *format);

/* Append the profile record, or recommendation `index`, to `out`. Returns 0,
 * or -1 with errstr set; `out` is then left as it was. */
int output_format_profile(output_format_t *format, const profile_t *profile, buf_t *out,
                          char *errstr, size_t errstr_size);
int output_format_recommendation(output_format_t *format, const profile_t *profile,
                                 size_t index, buf_t *out, char *errstr, size_t errstr_size);

/* Add the record's headers to `headers`. Returns 0, or -1 when librdkafka
 * refuses one. */
int output_format_headers(const output_format_t *format, output_record_t record,
                          rd_kafka_headers_t *headers);

/* The header value naming the schema of `record` (static to the handle). */
const char *output_format_schema_header(const output_format_t *format, output_record_t record);

#endif
