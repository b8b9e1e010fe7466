/* output_format.c -- encoding and headers of output records. See
 * output_format.h. */
#include "output_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_avro.h"
#include "profile_json.h"
#include "schema_fingerprint.h"

#ifndef DAGPROF_VERSION
#define DAGPROF_VERSION "0.0.0"
#endif

#define OUTPUT_SCHEMA_HEADER_MAX 160

struct output_format {
    output_format_kind_t kind;
    profile_avro_t *avro; /* NULL for json */
    uint32_t schema_id[2];
    char schema_header[2][OUTPUT_SCHEMA_HEADER_MAX];
};

static const char *const format_names[] = {"avro", "confluent", "json"};

int output_format_parse(const char *name, output_format_kind_t *out) {
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (name && strcmp(name, format_names[i]) == 0) {
            *out = (output_format_kind_t)i;
            return 0;
        }
    return -1;
}

const char *output_format_name(output_format_kind_t kind) {
    return (unsigned)kind < 3 ? format_names[kind] : "?";
}

output_format_t *output_format_new(output_format_kind_t kind, int64_t profile_schema_id,
                                   int64_t recommendation_schema_id, char *errstr,
                                   size_t errstr_size) {
    char err[512];
    output_format_t *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    f->kind = kind;
    if (kind == OUTPUT_FORMAT_CONFLUENT) {
        const int64_t ids[2] = {profile_schema_id, recommendation_schema_id};
        static const char *const names[2] = {"output.schema.id.profile",
                                              "output.schema.id.recommendation"};
        for (int i = 0; i < 2; i++) {
            if (ids[i] < 0 || ids[i] > 2147483647) {
                snprintf(errstr, errstr_size,
                         "output.format confluent needs %s (or output.schema.registry.url)",
                         names[i]);
                goto fail;
            }
            f->schema_id[i] = (uint32_t)ids[i];
        }
    }
    if (kind != OUTPUT_FORMAT_JSON && !(f->avro = profile_avro_new(err, sizeof(err)))) {
        snprintf(errstr, errstr_size, "avro: %s", err);
        goto fail;
    }
    const char *schemas[2] = {profile_avro_profile_schema_json(),
                              profile_avro_recommendation_schema_json()};
    for (int i = 0; i < 2; i++)
        if (schema_header_value(schemas[i], f->schema_header[i], OUTPUT_SCHEMA_HEADER_MAX, err,
                                sizeof(err)) != 0) {
            snprintf(errstr, errstr_size, "schema fingerprint: %s", err);
            goto fail;
        }
    return f;
fail:
    output_format_free(f);
    return NULL;
}

void output_format_free(output_format_t *format) {
    if (!format)
        return;
    profile_avro_free(format->avro);
    free(format);
}

/* The Confluent header: magic byte 0, then the id big-endian. */
static int put_confluent_header(buf_t *out, uint32_t id) {
    unsigned char header[5] = {0, (unsigned char)(id >> 24), (unsigned char)(id >> 16),
                               (unsigned char)(id >> 8), (unsigned char)id};
    return buf_append(out, header, sizeof(header));
}

static int output_format_encode(output_format_t *f, const profile_t *profile, int record,
                                size_t index, buf_t *out, char *errstr, size_t errstr_size) {
    size_t start_len = out->len;
    if (f->kind == OUTPUT_FORMAT_JSON) {
        int rc = record == OUTPUT_RECORD_PROFILE
                     ? profile_json_write(profile, out)
                     : profile_json_write_recommendation(profile, index, out);
        if (rc != 0)
            snprintf(errstr, errstr_size, record == OUTPUT_RECORD_PROFILE
                                              ? "out of memory writing the profile as JSON"
                                              : "no such recommendation, or out of memory");
        return rc;
    }
    if (f->kind == OUTPUT_FORMAT_CONFLUENT && put_confluent_header(out, f->schema_id[record]) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    int rc = record == OUTPUT_RECORD_PROFILE
                 ? profile_avro_encode(f->avro, profile, out, errstr, errstr_size)
                 : profile_avro_encode_recommendation(f->avro, profile, index, out, errstr,
                                                      errstr_size);
    if (rc != 0) {
        buf_truncate(out, start_len);
    }
    return rc;
}

int output_format_profile(output_format_t *format, const profile_t *profile, buf_t *out,
                          char *errstr, size_t errstr_size) {
    return output_format_encode(format, profile, OUTPUT_RECORD_PROFILE, 0, out, errstr,
                                errstr_size);
}

int output_format_recommendation(output_format_t *format, const profile_t *profile,
                                 size_t index, buf_t *out, char *errstr, size_t errstr_size) {
    return output_format_encode(format, profile, OUTPUT_RECORD_RECOMMENDATION, index, out,
                                errstr, errstr_size);
}

int output_format_headers(const output_format_t *format, output_record_t record,
                          rd_kafka_headers_t *headers) {
    if (rd_kafka_header_add(headers, "dagprof.schema", -1, format->schema_header[record], -1) ||
        rd_kafka_header_add(headers, "dagprof.format", -1, output_format_name(format->kind), -1) ||
        rd_kafka_header_add(headers, "dagprof.version", -1, DAGPROF_VERSION, -1))
        return -1;
    return 0;
}

const char *output_format_schema_header(const output_format_t *format, output_record_t record) {
    return format->schema_header[record];
}
