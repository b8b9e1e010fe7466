/* span_codec.c -- span events to and from Avro binary and JSON. See span_codec.h.
 *
 * The Avro binary form is decoded by hand rather than through Avro-C's generic
 * values: this is the hot path of the consumer, and every length read from the
 * message is checked against the bytes that remain, so arbitrary input can
 * neither crash the decoder nor make it allocate more than the message size. */
#include "span_codec.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Keep in step with schemas/span_event.avsc (test_span_codec compares them). */
const char span_codec_schema_json[] =
    "{\"type\":\"record\",\"name\":\"SpanEvent\",\"namespace\":\"dagprof\",\"fields\":["
    "{\"name\":\"trace_id\",\"type\":\"string\"},"
    "{\"name\":\"span_id\",\"type\":\"string\"},"
    "{\"name\":\"parent_span_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"dag_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"node_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"SpanKind\","
    "\"symbols\":[\"run\",\"node\",\"llm\",\"tool\",\"other\"]}},"
    "{\"name\":\"name\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"start_us\",\"type\":\"long\"},"
    "{\"name\":\"end_us\",\"type\":\"long\"},"
    "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"SpanStatus\","
    "\"symbols\":[\"ok\",\"error\",\"unset\"]}},"
    "{\"name\":\"depends_on\",\"type\":{\"type\":\"array\",\"items\":\"string\"},\"default\":[]},"
    "{\"name\":\"attempt\",\"type\":\"int\",\"default\":0},"
    "{\"name\":\"model\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"provider\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"input_tokens\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"output_tokens\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"cache_read_tokens\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"cache_write_tokens\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"reasoning_tokens\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"tool_name\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"attributes\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{}}"
    "]}";

#define SPAN_KIND_COUNT 5
#define SPAN_STATUS_COUNT 3
#define CONFLUENT_HEADER_BYTES 5

struct span_codec {
    avro_schema_t schema;
    int64_t schema_id; /* -1: accept any Confluent schema id */
    char *strings;     /* NUL-terminated copies of the strings of an Avro message */
    size_t strings_cap;
    size_t strings_len;
    const char **depends_on;
    size_t depends_on_cap;
    span_attr_t *attributes;
    size_t attributes_cap;
    json_t *json; /* the last decoded JSON document: spans point into it */
};

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...) {
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

span_codec_t *span_codec_new(char *errstr, size_t errstr_size) {
    span_codec_t *codec = calloc(1, sizeof(*codec));
    if (!codec) {
        set_error(errstr, errstr_size, "span codec: out of memory");
        goto fail;
    }
    codec->schema_id = -1;
    if (avro_schema_from_json_length(span_codec_schema_json, strlen(span_codec_schema_json),
                                     &codec->schema) != 0) {
        set_error(errstr, errstr_size, "span codec: SpanEvent schema: %s", avro_strerror());
        codec->schema = NULL;
        goto fail;
    }
    return codec;

fail:
    span_codec_free(codec);
    return NULL;
}

void span_codec_free(span_codec_t *codec) {
    if (!codec)
        return;
    if (codec->schema)
        avro_schema_decref(codec->schema);
    if (codec->json)
        json_decref(codec->json);
    free(codec->strings);
    free(codec->depends_on);
    free(codec->attributes);
    free(codec);
}

avro_schema_t span_codec_schema(const span_codec_t *codec) {
    return codec->schema;
}

void span_codec_set_schema_id(span_codec_t *codec, int64_t schema_id) {
    codec->schema_id = schema_id < 0 ? -1 : schema_id;
}

/* Forget what the previous decode call left behind. */
static void codec_reset(span_codec_t *codec) {
    if (codec->json) {
        json_decref(codec->json);
        codec->json = NULL;
    }
    codec->strings_len = 0;
}

static int grow_array(void **items, size_t *cap, size_t need, size_t item_size) {
    if (need <= *cap)
        return 0;
    size_t new_cap = *cap ? *cap : 8;
    while (new_cap < need) {
        if (new_cap > ((size_t)-1 / 2) / item_size)
            return -1;
        new_cap *= 2;
    }
    void *grown = realloc(*items, new_cap * item_size);
    if (!grown)
        return -1;
    *items = grown;
    *cap = new_cap;
    return 0;
}

static int reserve_depends_on(span_codec_t *codec, size_t need) {
    return grow_array((void **)&codec->depends_on, &codec->depends_on_cap, need,
                      sizeof(*codec->depends_on));
}

static int reserve_attributes(span_codec_t *codec, size_t need) {
    return grow_array((void **)&codec->attributes, &codec->attributes_cap, need,
                      sizeof(*codec->attributes));
}

static void span_defaults(span_t *span) {
    memset(span, 0, sizeof(*span));
    span->kind = SPAN_KIND_OTHER;
    span->status = SPAN_STATUS_UNSET;
}

/* ---- Avro binary decoding ---------------------------------------------- */

typedef struct avro_in {
    const uint8_t *pos;
    const uint8_t *end;
    span_codec_t *codec;
    char *errstr;
    size_t errstr_size;
} avro_in_t;

/* A zigzag varint long: at most 10 bytes, the 10th carrying only bit 63. */
static int read_long(avro_in_t *in, const char *field, int64_t *out) {
    uint64_t value = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (in->pos >= in->end)
            return set_error(in->errstr, in->errstr_size, "%s: truncated message", field);
        uint8_t byte = *in->pos++;
        if (shift == 63 && byte > 1)
            return set_error(in->errstr, in->errstr_size, "%s: malformed varint", field);
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            break;
    }
    *out = (int64_t)((value >> 1) ^ (0 - (value & 1)));
    return 0;
}

static int read_string(avro_in_t *in, const char *field, const char **out) {
    int64_t len;
    if (read_long(in, field, &len) != 0)
        return -1;
    if (len < 0)
        return set_error(in->errstr, in->errstr_size, "%s: negative length %" PRId64, field,
                         len);
    if ((uint64_t)len > (uint64_t)(in->end - in->pos))
        return set_error(in->errstr, in->errstr_size,
                         "%s: truncated message (string of %" PRId64 " bytes)", field, len);
    if (memchr(in->pos, '\0', (size_t)len))
        return set_error(in->errstr, in->errstr_size, "%s: string contains a NUL byte", field);
    /* Avro strings are UTF-8; ill-formed bytes would reach the profile as
     * U+FFFD, and two names differing only there would come out as one. */
    if (!utf8_valid((const char *)in->pos, (size_t)len))
        return set_error(in->errstr, in->errstr_size, "%s: string is not UTF-8", field);
    /* Sized in span_codec_decode_avro: every string costs at least one byte
     * of length prefix, so copies plus terminators never exceed the message. */
    span_codec_t *codec = in->codec;
    char *copy = codec->strings + codec->strings_len;
    memcpy(copy, in->pos, (size_t)len);
    copy[len] = '\0';
    codec->strings_len += (size_t)len + 1;
    in->pos += len;
    *out = copy;
    return 0;
}

static int read_optional_string(avro_in_t *in, const char *field, const char **out) {
    int64_t branch;
    if (read_long(in, field, &branch) != 0)
        return -1;
    if (branch == 0) {
        *out = NULL;
        return 0;
    }
    if (branch != 1)
        return set_error(in->errstr, in->errstr_size, "%s: invalid union index %" PRId64, field,
                         branch);
    return read_string(in, field, out);
}

static int read_enum(avro_in_t *in, const char *field, int64_t count, int *out) {
    int64_t index;
    if (read_long(in, field, &index) != 0)
        return -1;
    if (index < 0 || index >= count)
        return set_error(in->errstr, in->errstr_size, "%s: invalid enum index %" PRId64, field,
                         index);
    *out = (int)index;
    return 0;
}

static int read_count(avro_in_t *in, const char *field, int64_t *out) {
    if (read_long(in, field, out) != 0)
        return -1;
    if (*out < 0) {
        /* A negative block count is followed by the block's size in bytes. */
        int64_t block_bytes;
        if (*out == INT64_MIN)
            return set_error(in->errstr, in->errstr_size, "%s: invalid block count", field);
        *out = -*out;
        if (read_long(in, field, &block_bytes) != 0)
            return -1;
        if (block_bytes < 0)
            return set_error(in->errstr, in->errstr_size, "%s: negative block size", field);
    }
    /* Every item takes at least one byte: larger counts are garbage. */
    if ((uint64_t)*out > (uint64_t)(in->end - in->pos))
        return set_error(in->errstr, in->errstr_size,
                         "%s: truncated message (%" PRId64 " items)", field, *out);
    return 0;
}

static int read_depends_on(avro_in_t *in, span_t *span) {
    span_codec_t *codec = in->codec;
    size_t count = 0;
    for (;;) {
        int64_t block;
        if (read_count(in, "depends_on", &block) != 0)
            return -1;
        if (block == 0)
            break;
        if (reserve_depends_on(codec, count + (size_t)block) != 0)
            return set_error(in->errstr, in->errstr_size, "depends_on: out of memory");
        for (int64_t i = 0; i < block; i++)
            if (read_string(in, "depends_on", &codec->depends_on[count++]) != 0)
                return -1;
    }
    span->depends_on = count ? codec->depends_on : NULL;
    span->depends_on_count = count;
    return 0;
}

static int read_attributes(avro_in_t *in, span_t *span) {
    span_codec_t *codec = in->codec;
    size_t count = 0;
    for (;;) {
        int64_t block;
        if (read_count(in, "attributes", &block) != 0)
            return -1;
        if (block == 0)
            break;
        if (reserve_attributes(codec, count + (size_t)block) != 0)
            return set_error(in->errstr, in->errstr_size, "attributes: out of memory");
        for (int64_t i = 0; i < block; i++, count++) {
            if (read_string(in, "attributes", &codec->attributes[count].key) != 0 ||
                read_string(in, "attributes", &codec->attributes[count].value) != 0)
                return -1;
        }
    }
    span->attributes = count ? codec->attributes : NULL;
    span->attribute_count = count;
    return 0;
}

static int read_tokens(avro_in_t *in, const char *field, int64_t *out) {
    if (read_long(in, field, out) != 0)
        return -1;
    if (*out < 0)
        return set_error(in->errstr, in->errstr_size, "%s: negative token count %" PRId64,
                         field, *out);
    return 0;
}

/* The fields after trace_id and span_id. */
static int read_span_rest(avro_in_t *in, span_t *span) {
    int kind = 0, status = 0;
    int64_t attempt;

    if (read_optional_string(in, "parent_span_id", &span->parent_span_id) != 0 ||
        read_optional_string(in, "dag_id", &span->dag_id) != 0 ||
        read_optional_string(in, "node_id", &span->node_id) != 0 ||
        read_enum(in, "kind", SPAN_KIND_COUNT, &kind) != 0 ||
        read_optional_string(in, "name", &span->name) != 0 ||
        read_long(in, "start_us", &span->start_us) != 0 ||
        read_long(in, "end_us", &span->end_us) != 0 ||
        read_enum(in, "status", SPAN_STATUS_COUNT, &status) != 0 ||
        read_depends_on(in, span) != 0 || read_long(in, "attempt", &attempt) != 0)
        return -1;
    if (attempt < 0 || attempt > INT32_MAX)
        return set_error(in->errstr, in->errstr_size, "attempt: out of range (%" PRId64 ")",
                         attempt);
    span->kind = (span_kind_t)kind;
    span->status = (span_status_t)status;
    span->attempt = (int32_t)attempt;
    if (read_optional_string(in, "model", &span->model) != 0 ||
        read_optional_string(in, "provider", &span->provider) != 0 ||
        read_tokens(in, "input_tokens", &span->input_tokens) != 0 ||
        read_tokens(in, "output_tokens", &span->output_tokens) != 0 ||
        read_tokens(in, "cache_read_tokens", &span->cache_read_tokens) != 0 ||
        read_tokens(in, "cache_write_tokens", &span->cache_write_tokens) != 0 ||
        read_tokens(in, "reasoning_tokens", &span->reasoning_tokens) != 0 ||
        read_optional_string(in, "tool_name", &span->tool_name) != 0 ||
        read_attributes(in, span) != 0)
        return -1;
    if (in->pos != in->end)
        return set_error(in->errstr, in->errstr_size,
                         "record: %zu trailing bytes after the SpanEvent",
                         (size_t)(in->end - in->pos));
    return 0;
}

static int read_span(avro_in_t *in, span_t *span) {
    if (read_string(in, "trace_id", &span->trace_id) != 0)
        return -1;
    if (!span->trace_id[0])
        return set_error(in->errstr, in->errstr_size, "trace_id: empty");
    if (read_string(in, "span_id", &span->span_id) != 0)
        return -1;
    if (!span->span_id[0])
        return set_error(in->errstr, in->errstr_size, "span_id: empty");
    return read_span_rest(in, span);
}

/* Room in codec->strings for the copies of a message of len bytes and extra
 * bytes more; -1 when out of memory. */
static int reserve_strings(span_codec_t *codec, size_t len, size_t extra) {
    if (len > SIZE_MAX / 4 || extra > SIZE_MAX / 4)
        return -1;
    if (len + extra + 1 > codec->strings_cap) {
        size_t cap = codec->strings_cap ? codec->strings_cap : 256;
        while (cap < len + extra + 1)
            cap *= 2;
        char *grown = realloc(codec->strings, cap);
        if (!grown)
            return -1;
        codec->strings = grown;
        codec->strings_cap = cap;
    }
    return 0;
}

size_t span_codec_avro_ids_size(const void *body, size_t len) {
    char err[8];
    const uint8_t *bytes = body;
    avro_in_t in = {bytes, bytes + len, NULL, err, sizeof(err)};
    for (int field = 0; field < 2; field++) {
        int64_t n;
        if (read_long(&in, "id", &n) != 0 || n <= 0 || (uint64_t)n > (uint64_t)(in.end - in.pos))
            return 0;
        in.pos += n;
    }
    return (size_t)(in.pos - bytes);
}

int span_codec_decode_avro_rest(span_codec_t *codec, const char *trace_id, const char *span_id,
                                size_t span_id_len, const void *rest, size_t len, span_t *out,
                                char *errstr, size_t errstr_size) {
    codec_reset(codec);
    span_defaults(out);
    if (!trace_id || !trace_id[0])
        return set_error(errstr, errstr_size, "trace_id: empty");
    if (span_id_len == 0)
        return set_error(errstr, errstr_size, "span_id: empty");
    if (memchr(span_id, '\0', span_id_len) || !utf8_valid(span_id, span_id_len))
        return set_error(errstr, errstr_size, "span_id: not a UTF-8 string without NUL bytes");
    if (reserve_strings(codec, len, span_id_len + 1) != 0)
        return set_error(errstr, errstr_size, "record: out of memory");
    char *id = codec->strings;
    memcpy(id, span_id, span_id_len);
    id[span_id_len] = '\0';
    codec->strings_len = span_id_len + 1;
    out->trace_id = trace_id;
    out->span_id = id;
    const uint8_t *bytes = rest ? rest : (const uint8_t *)"";
    avro_in_t in = {bytes, bytes + len, codec, errstr, errstr_size};
    if (read_span_rest(&in, out) != 0) {
        span_defaults(out);
        return -1;
    }
    return 0;
}

int span_codec_decode_avro(span_codec_t *codec, const void *buf, size_t len, span_t *out,
                           char *errstr, size_t errstr_size) {
    const uint8_t *bytes = buf;
    codec_reset(codec);
    span_defaults(out);
    if (len == 0 || !buf)
        return set_error(errstr, errstr_size, "record: empty message");
    if (bytes[0] == 0) {
        /* Bare SpanEvent binary starts with trace_id's non-zero length. */
        if (len < CONFLUENT_HEADER_BYTES)
            return set_error(errstr, errstr_size,
                             "schema id: truncated Confluent header (%zu bytes)", len);
        int64_t schema_id = (int64_t)((uint32_t)bytes[1] << 24 | (uint32_t)bytes[2] << 16 |
                                      (uint32_t)bytes[3] << 8 | (uint32_t)bytes[4]);
        if (codec->schema_id >= 0 && schema_id != codec->schema_id)
            return set_error(errstr, errstr_size, "schema id %" PRId64 ", expected %" PRId64,
                             schema_id, codec->schema_id);
        bytes += CONFLUENT_HEADER_BYTES;
        len -= CONFLUENT_HEADER_BYTES;
    }
    if (len > SIZE_MAX / 4)
        return set_error(errstr, errstr_size, "record: message of %zu bytes is too large", len);
    if (reserve_strings(codec, len, 0) != 0)
        return set_error(errstr, errstr_size, "trace_id: out of memory");
    avro_in_t in = {bytes, bytes + len, codec, errstr, errstr_size};
    if (read_span(&in, out) != 0) {
        span_defaults(out);
        return -1;
    }
    return 0;
}

/* ---- JSON decoding ----------------------------------------------------- */

static const char *json_type_name(const json_t *value) {
    switch (json_typeof(value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static int json_required_id(json_t *object, const char *field, const char **out, char *errstr,
                            size_t errstr_size) {
    json_t *value = json_object_get(object, field);
    if (!value)
        return set_error(errstr, errstr_size, "%s: missing", field);
    if (!json_is_string(value))
        return set_error(errstr, errstr_size, "%s: expected a string, got %s", field,
                         json_type_name(value));
    if (json_string_length(value) == 0)
        return set_error(errstr, errstr_size, "%s: empty", field);
    *out = json_string_value(value);
    return 0;
}

static int json_optional_string(json_t *object, const char *field, const char **out,
                                char *errstr, size_t errstr_size) {
    json_t *value = json_object_get(object, field);
    *out = NULL;
    if (!value || json_is_null(value))
        return 0;
    if (!json_is_string(value))
        return set_error(errstr, errstr_size, "%s: expected a string or null, got %s", field,
                         json_type_name(value));
    *out = json_string_value(value);
    return 0;
}

/* An integer field; `required` decides whether absence is an error, and
 * [min, max] bounds it. */
static int json_integer_field(json_t *object, const char *field, bool required, int64_t min,
                              int64_t max, int64_t *out, char *errstr, size_t errstr_size) {
    json_t *value = json_object_get(object, field);
    if (!value) {
        if (required)
            return set_error(errstr, errstr_size, "%s: missing", field);
        *out = 0;
        return 0;
    }
    if (!json_is_integer(value))
        return set_error(errstr, errstr_size, "%s: expected an integer, got %s", field,
                         json_type_name(value));
    json_int_t number = json_integer_value(value);
    if (number < 0 && min == 0)
        return set_error(errstr, errstr_size, "%s: negative (%" JSON_INTEGER_FORMAT ")", field,
                         number);
    if (number < min || number > max)
        return set_error(errstr, errstr_size, "%s: %" JSON_INTEGER_FORMAT " is out of range",
                         field, number);
    *out = (int64_t)number;
    return 0;
}

static int json_enum_field(json_t *object, const char *field,
                           int (*parse)(const char *, int *), int fallback, int *out,
                           char *errstr, size_t errstr_size) {
    json_t *value = json_object_get(object, field);
    if (!value) {
        *out = fallback;
        return 0;
    }
    if (!json_is_string(value))
        return set_error(errstr, errstr_size, "%s: expected a string, got %s", field,
                         json_type_name(value));
    if (parse(json_string_value(value), out) != 0)
        return set_error(errstr, errstr_size, "%s: unknown value \"%.64s\"", field,
                         json_string_value(value));
    return 0;
}

static int parse_kind(const char *name, int *out) {
    span_kind_t kind;
    if (span_kind_parse(name, &kind) != 0)
        return -1;
    *out = (int)kind;
    return 0;
}

static int parse_status(const char *name, int *out) {
    span_status_t status;
    if (span_status_parse(name, &status) != 0)
        return -1;
    *out = (int)status;
    return 0;
}

static int json_depends_on(span_codec_t *codec, json_t *object, span_t *span, char *errstr,
                           size_t errstr_size) {
    json_t *array = json_object_get(object, "depends_on");
    if (!array)
        return 0;
    if (!json_is_array(array))
        return set_error(errstr, errstr_size, "depends_on: expected an array, got %s",
                         json_type_name(array));
    size_t count = json_array_size(array);
    if (reserve_depends_on(codec, count) != 0)
        return set_error(errstr, errstr_size, "depends_on: out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(array, i);
        if (!json_is_string(item))
            return set_error(errstr, errstr_size,
                             "depends_on: item %zu: expected a string, got %s", i,
                             json_type_name(item));
        codec->depends_on[i] = json_string_value(item);
    }
    span->depends_on = count ? codec->depends_on : NULL;
    span->depends_on_count = count;
    return 0;
}

static int json_attributes(span_codec_t *codec, json_t *object, span_t *span, char *errstr,
                           size_t errstr_size) {
    json_t *map = json_object_get(object, "attributes");
    if (!map)
        return 0;
    if (!json_is_object(map))
        return set_error(errstr, errstr_size, "attributes: expected an object, got %s",
                         json_type_name(map));
    if (reserve_attributes(codec, json_object_size(map)) != 0)
        return set_error(errstr, errstr_size, "attributes: out of memory");
    size_t count = 0;
    const char *key;
    json_t *value;
    json_object_foreach(map, key, value) {
        if (!json_is_string(value))
            return set_error(errstr, errstr_size,
                             "attributes: \"%.64s\": expected a string, got %s", key,
                             json_type_name(value));
        codec->attributes[count].key = key;
        codec->attributes[count].value = json_string_value(value);
        count++;
    }
    span->attributes = count ? codec->attributes : NULL;
    span->attribute_count = count;
    return 0;
}

static int json_to_span(span_codec_t *codec, json_t *object, span_t *span, char *errstr,
                        size_t errstr_size) {
    int kind = 0, status = 0;
    int64_t attempt;
    if (json_required_id(object, "trace_id", &span->trace_id, errstr, errstr_size) != 0 ||
        json_required_id(object, "span_id", &span->span_id, errstr, errstr_size) != 0 ||
        json_optional_string(object, "parent_span_id", &span->parent_span_id, errstr,
                             errstr_size) != 0 ||
        json_optional_string(object, "dag_id", &span->dag_id, errstr, errstr_size) != 0 ||
        json_optional_string(object, "node_id", &span->node_id, errstr, errstr_size) != 0 ||
        json_enum_field(object, "kind", parse_kind, SPAN_KIND_OTHER, &kind, errstr,
                        errstr_size) != 0 ||
        json_optional_string(object, "name", &span->name, errstr, errstr_size) != 0 ||
        json_integer_field(object, "start_us", true, INT64_MIN, INT64_MAX, &span->start_us,
                           errstr, errstr_size) != 0 ||
        json_integer_field(object, "end_us", true, INT64_MIN, INT64_MAX, &span->end_us,
                           errstr, errstr_size) != 0 ||
        json_enum_field(object, "status", parse_status, SPAN_STATUS_UNSET, &status, errstr,
                        errstr_size) != 0 ||
        json_depends_on(codec, object, span, errstr, errstr_size) != 0 ||
        json_integer_field(object, "attempt", false, 0, INT32_MAX, &attempt, errstr,
                           errstr_size) != 0 ||
        json_optional_string(object, "model", &span->model, errstr, errstr_size) != 0 ||
        json_optional_string(object, "provider", &span->provider, errstr, errstr_size) != 0 ||
        json_integer_field(object, "input_tokens", false, 0, INT64_MAX, &span->input_tokens,
                           errstr, errstr_size) != 0 ||
        json_integer_field(object, "output_tokens", false, 0, INT64_MAX, &span->output_tokens,
                           errstr, errstr_size) != 0 ||
        json_integer_field(object, "cache_read_tokens", false, 0, INT64_MAX,
                           &span->cache_read_tokens, errstr, errstr_size) != 0 ||
        json_integer_field(object, "cache_write_tokens", false, 0, INT64_MAX,
                           &span->cache_write_tokens, errstr, errstr_size) != 0 ||
        json_integer_field(object, "reasoning_tokens", false, 0, INT64_MAX,
                           &span->reasoning_tokens, errstr, errstr_size) != 0 ||
        json_optional_string(object, "tool_name", &span->tool_name, errstr, errstr_size) != 0 ||
        json_attributes(codec, object, span, errstr, errstr_size) != 0)
        return -1;
    span->kind = (span_kind_t)kind;
    span->status = (span_status_t)status;
    span->attempt = (int32_t)attempt;
    return 0;
}

int span_codec_decode_json(span_codec_t *codec, const char *text, size_t len, span_t *out,
                           char *errstr, size_t errstr_size) {
    json_error_t error;
    codec_reset(codec);
    span_defaults(out);
    codec->json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!codec->json)
        return set_error(errstr, errstr_size, "not JSON: %s (column %d)", error.text,
                         error.column);
    if (!json_is_object(codec->json))
        return set_error(errstr, errstr_size, "not a JSON object: got %s",
                         json_type_name(codec->json));
    if (json_to_span(codec, codec->json, out, errstr, errstr_size) != 0) {
        span_defaults(out);
        return -1;
    }
    return 0;
}

/* ---- generic Avro values (container files) ----------------------------- */

/* Unwrap a union to its current branch; other values pass through. */
static int value_unwrap(avro_value_t *value, avro_value_t *out) {
    if (avro_value_get_type(value) != AVRO_UNION) {
        *out = *value;
        return 0;
    }
    return avro_value_get_current_branch(value, out);
}

/* Look up `field`: returns 1 when present (unions unwrapped, null counts as
 * absent), 0 when absent, -1 on an Avro-C error. */
static int value_field(avro_value_t *record, const char *field, avro_value_t *out,
                       char *errstr, size_t errstr_size) {
    avro_value_t raw;
    if (avro_value_get_by_name(record, field, &raw, NULL) != 0)
        return 0;
    if (value_unwrap(&raw, out) != 0)
        return set_error(errstr, errstr_size, "%s: %s", field, avro_strerror());
    return avro_value_get_type(out) == AVRO_NULL ? 0 : 1;
}

static int value_string(avro_value_t *value, const char *field, const char **out,
                        char *errstr, size_t errstr_size) {
    const char *text;
    size_t size; /* includes the terminator */
    if (avro_value_get_type(value) != AVRO_STRING)
        return set_error(errstr, errstr_size, "%s: expected a string", field);
    if (avro_value_get_string(value, &text, &size) != 0)
        return set_error(errstr, errstr_size, "%s: %s", field, avro_strerror());
    if (size == 0 || strlen(text) != size - 1)
        return set_error(errstr, errstr_size, "%s: string contains a NUL byte", field);
    if (!utf8_valid(text, size - 1))
        return set_error(errstr, errstr_size, "%s: string is not UTF-8", field);
    *out = text;
    return 0;
}

static int value_optional_string(avro_value_t *record, const char *field, const char **out,
                                 char *errstr, size_t errstr_size) {
    avro_value_t value;
    int found = value_field(record, field, &value, errstr, errstr_size);
    *out = NULL;
    if (found <= 0)
        return found;
    return value_string(&value, field, out, errstr, errstr_size);
}

static int value_required_id(avro_value_t *record, const char *field, const char **out,
                             char *errstr, size_t errstr_size) {
    avro_value_t value;
    int found = value_field(record, field, &value, errstr, errstr_size);
    if (found < 0)
        return -1;
    if (found == 0)
        return set_error(errstr, errstr_size, "%s: missing", field);
    if (value_string(&value, field, out, errstr, errstr_size) != 0)
        return -1;
    if (!**out)
        return set_error(errstr, errstr_size, "%s: empty", field);
    return 0;
}

static int value_integer(avro_value_t *record, const char *field, bool required, int64_t min,
                         int64_t max, int64_t *out, char *errstr, size_t errstr_size) {
    avro_value_t value;
    int found = value_field(record, field, &value, errstr, errstr_size);
    *out = 0;
    if (found < 0)
        return -1;
    if (found == 0)
        return required ? set_error(errstr, errstr_size, "%s: missing", field) : 0;
    if (avro_value_get_type(&value) == AVRO_INT64) {
        if (avro_value_get_long(&value, out) != 0)
            return set_error(errstr, errstr_size, "%s: %s", field, avro_strerror());
    } else if (avro_value_get_type(&value) == AVRO_INT32) {
        int32_t narrow;
        if (avro_value_get_int(&value, &narrow) != 0)
            return set_error(errstr, errstr_size, "%s: %s", field, avro_strerror());
        *out = narrow;
    } else {
        return set_error(errstr, errstr_size, "%s: expected an int or long", field);
    }
    if (*out < 0 && min == 0)
        return set_error(errstr, errstr_size, "%s: negative (%" PRId64 ")", field, *out);
    if (*out < min || *out > max)
        return set_error(errstr, errstr_size, "%s: %" PRId64 " is out of range", field, *out);
    return 0;
}

/* Enums by symbol, so a writer may order the symbols differently. */
static int value_enum(avro_value_t *record, const char *field,
                      int (*parse)(const char *, int *), int fallback, int *out, char *errstr,
                      size_t errstr_size) {
    avro_value_t value;
    const char *symbol = NULL;
    int found = value_field(record, field, &value, errstr, errstr_size);
    *out = fallback;
    if (found <= 0)
        return found;
    if (avro_value_get_type(&value) == AVRO_ENUM) {
        int index;
        if (avro_value_get_enum(&value, &index) != 0)
            return set_error(errstr, errstr_size, "%s: %s", field, avro_strerror());
        symbol = avro_schema_enum_get(avro_value_get_schema(&value), index);
    } else if (avro_value_get_type(&value) == AVRO_STRING) {
        if (value_string(&value, field, &symbol, errstr, errstr_size) != 0)
            return -1;
    } else {
        return set_error(errstr, errstr_size, "%s: expected an enum", field);
    }
    if (!symbol || parse(symbol, out) != 0)
        return set_error(errstr, errstr_size, "%s: unknown value \"%.64s\"", field,
                         symbol ? symbol : "?");
    return 0;
}

static int value_depends_on(span_codec_t *codec, avro_value_t *record, span_t *span,
                            char *errstr, size_t errstr_size) {
    avro_value_t array;
    size_t count;
    int found = value_field(record, "depends_on", &array, errstr, errstr_size);
    if (found <= 0)
        return found;
    if (avro_value_get_type(&array) != AVRO_ARRAY)
        return set_error(errstr, errstr_size, "depends_on: expected an array");
    if (avro_value_get_size(&array, &count) != 0)
        return set_error(errstr, errstr_size, "depends_on: %s", avro_strerror());
    if (reserve_depends_on(codec, count) != 0)
        return set_error(errstr, errstr_size, "depends_on: out of memory");
    for (size_t i = 0; i < count; i++) {
        avro_value_t item;
        if (avro_value_get_by_index(&array, i, &item, NULL) != 0)
            return set_error(errstr, errstr_size, "depends_on: %s", avro_strerror());
        if (value_string(&item, "depends_on", &codec->depends_on[i], errstr, errstr_size) != 0)
            return -1;
    }
    span->depends_on = count ? codec->depends_on : NULL;
    span->depends_on_count = count;
    return 0;
}

static int value_attributes(span_codec_t *codec, avro_value_t *record, span_t *span,
                            char *errstr, size_t errstr_size) {
    avro_value_t map;
    size_t count;
    int found = value_field(record, "attributes", &map, errstr, errstr_size);
    if (found <= 0)
        return found;
    if (avro_value_get_type(&map) != AVRO_MAP)
        return set_error(errstr, errstr_size, "attributes: expected a map");
    if (avro_value_get_size(&map, &count) != 0)
        return set_error(errstr, errstr_size, "attributes: %s", avro_strerror());
    if (reserve_attributes(codec, count) != 0)
        return set_error(errstr, errstr_size, "attributes: out of memory");
    for (size_t i = 0; i < count; i++) {
        avro_value_t item;
        const char *key;
        if (avro_value_get_by_index(&map, i, &item, &key) != 0)
            return set_error(errstr, errstr_size, "attributes: %s", avro_strerror());
        codec->attributes[i].key = key;
        if (value_string(&item, "attributes", &codec->attributes[i].value, errstr,
                         errstr_size) != 0)
            return -1;
    }
    span->attributes = count ? codec->attributes : NULL;
    span->attribute_count = count;
    return 0;
}

static int value_to_span(span_codec_t *codec, avro_value_t *record, span_t *span,
                         char *errstr, size_t errstr_size) {
    int kind = 0, status = 0;
    int64_t attempt;
    if (value_required_id(record, "trace_id", &span->trace_id, errstr, errstr_size) != 0 ||
        value_required_id(record, "span_id", &span->span_id, errstr, errstr_size) != 0 ||
        value_optional_string(record, "parent_span_id", &span->parent_span_id, errstr,
                              errstr_size) != 0 ||
        value_optional_string(record, "dag_id", &span->dag_id, errstr, errstr_size) != 0 ||
        value_optional_string(record, "node_id", &span->node_id, errstr, errstr_size) != 0 ||
        value_enum(record, "kind", parse_kind, SPAN_KIND_OTHER, &kind, errstr,
                   errstr_size) != 0 ||
        value_optional_string(record, "name", &span->name, errstr, errstr_size) != 0 ||
        value_integer(record, "start_us", true, INT64_MIN, INT64_MAX, &span->start_us, errstr,
                      errstr_size) != 0 ||
        value_integer(record, "end_us", true, INT64_MIN, INT64_MAX, &span->end_us, errstr,
                      errstr_size) != 0 ||
        value_enum(record, "status", parse_status, SPAN_STATUS_UNSET, &status, errstr,
                   errstr_size) != 0 ||
        value_depends_on(codec, record, span, errstr, errstr_size) != 0 ||
        value_integer(record, "attempt", false, 0, INT32_MAX, &attempt, errstr,
                      errstr_size) != 0 ||
        value_optional_string(record, "model", &span->model, errstr, errstr_size) != 0 ||
        value_optional_string(record, "provider", &span->provider, errstr, errstr_size) != 0 ||
        value_integer(record, "input_tokens", false, 0, INT64_MAX, &span->input_tokens, errstr,
                      errstr_size) != 0 ||
        value_integer(record, "output_tokens", false, 0, INT64_MAX, &span->output_tokens,
                      errstr, errstr_size) != 0 ||
        value_integer(record, "cache_read_tokens", false, 0, INT64_MAX,
                      &span->cache_read_tokens, errstr, errstr_size) != 0 ||
        value_integer(record, "cache_write_tokens", false, 0, INT64_MAX,
                      &span->cache_write_tokens, errstr, errstr_size) != 0 ||
        value_integer(record, "reasoning_tokens", false, 0, INT64_MAX,
                      &span->reasoning_tokens, errstr, errstr_size) != 0 ||
        value_optional_string(record, "tool_name", &span->tool_name, errstr,
                              errstr_size) != 0 ||
        value_attributes(codec, record, span, errstr, errstr_size) != 0)
        return -1;
    span->kind = (span_kind_t)kind;
    span->status = (span_status_t)status;
    span->attempt = (int32_t)attempt;
    return 0;
}

int span_codec_decode_value(span_codec_t *codec, avro_value_t *value, span_t *out,
                            char *errstr, size_t errstr_size) {
    codec_reset(codec);
    span_defaults(out);
    if (avro_value_get_type(value) != AVRO_RECORD)
        return set_error(errstr, errstr_size, "trace_id: not a record");
    if (value_to_span(codec, value, out, errstr, errstr_size) != 0) {
        span_defaults(out);
        return -1;
    }
    return 0;
}

/* ---- Avro binary encoding ---------------------------------------------- */

#define VARINT_MAX_BYTES 10

static size_t put_long(char *dest, int64_t value) {
    uint64_t zigzag = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    size_t n = 0;
    while (zigzag >= 0x80) {
        dest[n++] = (char)(zigzag | 0x80);
        zigzag >>= 7;
    }
    dest[n++] = (char)zigzag;
    return n;
}

typedef struct avro_out {
    char *pos;
} avro_out_t;

static void write_long(avro_out_t *out, int64_t value) {
    out->pos += put_long(out->pos, value);
}

static void write_string(avro_out_t *out, const char *text) {
    size_t len = strlen(text);
    write_long(out, (int64_t)len);
    memcpy(out->pos, text, len);
    out->pos += len;
}

static void write_optional_string(avro_out_t *out, const char *text) {
    write_long(out, text ? 1 : 0);
    if (text)
        write_string(out, text);
}

/* Upper bound of the encoded size, also checking what the decoder would
 * refuse. Returns 0 or -1 with errstr set. */
static int encoded_bound(const span_t *span, size_t *bound, char *errstr, size_t errstr_size) {
    const char *optional[] = {span->parent_span_id, span->dag_id,   span->node_id,
                              span->name,           span->model,    span->provider,
                              span->tool_name};
    const struct {
        const char *field;
        int64_t value;
    } tokens[] = {{"input_tokens", span->input_tokens},
                  {"output_tokens", span->output_tokens},
                  {"cache_read_tokens", span->cache_read_tokens},
                  {"cache_write_tokens", span->cache_write_tokens},
                  {"reasoning_tokens", span->reasoning_tokens}};
    size_t total = 32 * VARINT_MAX_BYTES; /* every fixed field, union index and block count */

    if (!span->trace_id || !span->trace_id[0])
        return set_error(errstr, errstr_size, "trace_id: missing or empty");
    if (!span->span_id || !span->span_id[0])
        return set_error(errstr, errstr_size, "span_id: missing or empty");
    if ((unsigned)span->kind >= SPAN_KIND_COUNT)
        return set_error(errstr, errstr_size, "kind: invalid value %d", (int)span->kind);
    if ((unsigned)span->status >= SPAN_STATUS_COUNT)
        return set_error(errstr, errstr_size, "status: invalid value %d", (int)span->status);
    if (span->attempt < 0)
        return set_error(errstr, errstr_size, "attempt: negative (%" PRId32 ")", span->attempt);
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        if (tokens[i].value < 0)
            return set_error(errstr, errstr_size, "%s: negative token count %" PRId64,
                             tokens[i].field, tokens[i].value);
    if ((span->depends_on_count && !span->depends_on) ||
        (span->attribute_count && !span->attributes))
        return set_error(errstr, errstr_size, "depends_on/attributes: count without items");

    total += strlen(span->trace_id) + strlen(span->span_id);
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
        if (optional[i])
            total += strlen(optional[i]);
    for (size_t i = 0; i < span->depends_on_count; i++) {
        if (!span->depends_on[i])
            return set_error(errstr, errstr_size, "depends_on: item %zu is NULL", i);
        total += VARINT_MAX_BYTES + strlen(span->depends_on[i]);
    }
    for (size_t i = 0; i < span->attribute_count; i++) {
        if (!span->attributes[i].key || !span->attributes[i].value)
            return set_error(errstr, errstr_size, "attributes: item %zu has a NULL key or value",
                             i);
        total += 2 * VARINT_MAX_BYTES + strlen(span->attributes[i].key) +
                 strlen(span->attributes[i].value);
    }
    *bound = total;
    return 0;
}

int span_codec_encode_avro(span_codec_t *codec, const span_t *span, buf_t *out, char *errstr,
                           size_t errstr_size) {
    size_t bound = 0;
    (void)codec;
    if (encoded_bound(span, &bound, errstr, errstr_size) != 0)
        return -1;
    if (buf_reserve(out, bound) != 0)
        return set_error(errstr, errstr_size, "span %s: out of memory", span->span_id);

    avro_out_t w = {out->data + out->len};
    write_string(&w, span->trace_id);
    write_string(&w, span->span_id);
    write_optional_string(&w, span->parent_span_id);
    write_optional_string(&w, span->dag_id);
    write_optional_string(&w, span->node_id);
    write_long(&w, (int64_t)span->kind);
    write_optional_string(&w, span->name);
    write_long(&w, span->start_us);
    write_long(&w, span->end_us);
    write_long(&w, (int64_t)span->status);
    if (span->depends_on_count) {
        write_long(&w, (int64_t)span->depends_on_count);
        for (size_t i = 0; i < span->depends_on_count; i++)
            write_string(&w, span->depends_on[i]);
    }
    write_long(&w, 0);
    write_long(&w, span->attempt);
    write_optional_string(&w, span->model);
    write_optional_string(&w, span->provider);
    write_long(&w, span->input_tokens);
    write_long(&w, span->output_tokens);
    write_long(&w, span->cache_read_tokens);
    write_long(&w, span->cache_write_tokens);
    write_long(&w, span->reasoning_tokens);
    write_optional_string(&w, span->tool_name);
    if (span->attribute_count) {
        write_long(&w, (int64_t)span->attribute_count);
        for (size_t i = 0; i < span->attribute_count; i++) {
            write_string(&w, span->attributes[i].key);
            write_string(&w, span->attributes[i].value);
        }
    }
    write_long(&w, 0);

    out->len = (size_t)(w.pos - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* ---- JSON encoding ----------------------------------------------------- */

static int json_put_field_string(buf_t *out, const char *field, const char *text) {
    if (buf_printf(out, ",\"%s\":", field) != 0)
        return -1;
    return text ? utf8_json_string(out, text) : buf_puts(out, "null");
}

static int json_put_field_long(buf_t *out, const char *field, int64_t value) {
    return buf_printf(out, ",\"%s\":%" PRId64, field, value);
}

static int json_put_span(const span_t *span, buf_t *out) {
    if (buf_puts(out, "{\"trace_id\":") != 0 ||
        (span->trace_id ? utf8_json_string(out, span->trace_id) : buf_puts(out, "null")) != 0 ||
        json_put_field_string(out, "span_id", span->span_id) != 0 ||
        json_put_field_string(out, "parent_span_id", span->parent_span_id) != 0 ||
        json_put_field_string(out, "dag_id", span->dag_id) != 0 ||
        json_put_field_string(out, "node_id", span->node_id) != 0 ||
        json_put_field_string(out, "kind", span_kind_name(span->kind)) != 0 ||
        json_put_field_string(out, "name", span->name) != 0 ||
        json_put_field_long(out, "start_us", span->start_us) != 0 ||
        json_put_field_long(out, "end_us", span->end_us) != 0 ||
        json_put_field_string(out, "status", span_status_name(span->status)) != 0 ||
        buf_puts(out, ",\"depends_on\":[") != 0)
        return -1;
    for (size_t i = 0; i < span->depends_on_count; i++) {
        if ((i && buf_putc(out, ',') != 0) ||
            (span->depends_on[i] ? utf8_json_string(out, span->depends_on[i])
                                 : buf_puts(out, "null")) != 0)
            return -1;
    }
    if (buf_putc(out, ']') != 0 || json_put_field_long(out, "attempt", span->attempt) != 0 ||
        json_put_field_string(out, "model", span->model) != 0 ||
        json_put_field_string(out, "provider", span->provider) != 0 ||
        json_put_field_long(out, "input_tokens", span->input_tokens) != 0 ||
        json_put_field_long(out, "output_tokens", span->output_tokens) != 0 ||
        json_put_field_long(out, "cache_read_tokens", span->cache_read_tokens) != 0 ||
        json_put_field_long(out, "cache_write_tokens", span->cache_write_tokens) != 0 ||
        json_put_field_long(out, "reasoning_tokens", span->reasoning_tokens) != 0 ||
        json_put_field_string(out, "tool_name", span->tool_name) != 0 ||
        buf_puts(out, ",\"attributes\":{") != 0)
        return -1;
    for (size_t i = 0; i < span->attribute_count; i++) {
        const span_attr_t *attr = &span->attributes[i];
        if ((i && buf_putc(out, ',') != 0) ||
            utf8_json_string(out, attr->key ? attr->key : "") != 0 || buf_putc(out, ':') != 0 ||
            (attr->value ? utf8_json_string(out, attr->value) : buf_puts(out, "null")) != 0)
            return -1;
    }
    return buf_puts(out, "}}");
}

int span_codec_encode_json(const span_t *span, buf_t *out) {
    size_t start = out->len;
    if (json_put_span(span, out) != 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}
