/* otlp_encode.c -- span_t to OTLP ExportTraceServiceRequest, protobuf or JSON.
 *
 * A hand-written protobuf writer: the request has a fixed shape (one resource,
 * one scope, many spans), so each span is written once into `spans` as a
 * complete ScopeSpans.spans field, and finishing only prefixes the envelope,
 * whose lengths are known by then. The JSON form follows the OTLP/JSON rules:
 * hex ids, lowerCamelCase names, 64-bit integers as strings, enums as numbers. */
#include "otlp_encode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* protobuf wire types */
#define PB_VARINT 0
#define PB_I64 1
#define PB_LEN 2
#define PB_I32 5

/* OTLP field numbers (opentelemetry/proto/trace/v1/trace.proto,
 * common/v1/common.proto, collector/trace/v1/trace_service.proto) */
#define F_REQ_RESOURCE_SPANS 1
#define F_RS_RESOURCE 1
#define F_RS_SCOPE_SPANS 2
#define F_RESOURCE_ATTRIBUTES 1
#define F_SS_SCOPE 1
#define F_SS_SPANS 2
#define F_SCOPE_NAME 1
#define F_SPAN_TRACE_ID 1
#define F_SPAN_SPAN_ID 2
#define F_SPAN_PARENT 4
#define F_SPAN_NAME 5
#define F_SPAN_KIND 6
#define F_SPAN_START 7
#define F_SPAN_END 8
#define F_SPAN_ATTRIBUTES 9
#define F_SPAN_STATUS 15
#define F_STATUS_CODE 3
#define F_KV_KEY 1
#define F_KV_VALUE 2
#define F_ANY_STRING 1
#define F_ANY_INT 3
#define F_ANY_ARRAY 5
#define F_ARRAY_VALUES 1

#define OTLP_SPAN_KIND_INTERNAL 1
#define OTLP_STATUS_UNSET 0
#define OTLP_STATUS_OK 1
#define OTLP_STATUS_ERROR 2

#define OTLP_SCOPE_NAME "dagprof"

struct otlp_encoder {
    otlp_encoding_t encoding;
    char *service_name;
    buf_t spans;   /* proto: ScopeSpans.spans fields; JSON: span objects, comma separated */
    buf_t scratch; /* proto: one span's body */
    buf_t value;   /* proto: one attribute's body */
    size_t count;
};

/* ---- ids -------------------------------------------------------------------- */

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static uint64_t fnv1a(const char *text, uint64_t hash) {
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        hash ^= *p;
        hash *= UINT64_C(0x100000001b3);
    }
    /* a final mix, so ids differing in their last byte differ everywhere */
    hash ^= hash >> 33;
    hash *= UINT64_C(0xff51afd7ed558ccd);
    hash ^= hash >> 33;
    return hash;
}

void otlp_encode_id(const char *id, unsigned char *out, size_t out_len) {
    size_t len = strlen(id);
    int hex = len == out_len * 2;
    for (size_t i = 0; hex && i < len; i++)
        hex = hex_digit(id[i]) >= 0;
    if (hex) {
        for (size_t i = 0; i < out_len; i++)
            out[i] = (unsigned char)(hex_digit(id[2 * i]) << 4 | hex_digit(id[2 * i + 1]));
        return;
    }
    uint64_t h[2] = {fnv1a(id, UINT64_C(0xcbf29ce484222325)), fnv1a(id, UINT64_C(0x84222325cbf29ce4))};
    for (size_t i = 0; i < out_len; i++)
        out[i] = (unsigned char)(h[i / 8] >> (8 * (7 - i % 8)));
}

/* ---- protobuf ---------------------------------------------------------------- */

static size_t pb_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static int pb_varint(buf_t *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    return buf_append(b, tmp, n);
}

static int pb_tag(buf_t *b, int field, int wire) {
    return pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static int pb_bytes(buf_t *b, int field, const void *data, size_t len) {
    if (pb_tag(b, field, PB_LEN) || pb_varint(b, len))
        return -1;
    return buf_append(b, data, len);
}

static int pb_string(buf_t *b, int field, const char *text) {
    return pb_bytes(b, field, text, strlen(text));
}

static int pb_fixed64(buf_t *b, int field, uint64_t v) {
    unsigned char tmp[8];
    for (int i = 0; i < 8; i++)
        tmp[i] = (unsigned char)(v >> (8 * i));
    if (pb_tag(b, field, PB_I64))
        return -1;
    return buf_append(b, tmp, 8);
}

/* KeyValue{key, AnyValue{...}} as field `field` of the enclosing message;
 * `any` is the AnyValue body already written. */
static int pb_key_value(buf_t *b, int field, const char *key, const buf_t *any) {
    size_t key_len = strlen(key);
    size_t kv_len = 1 + pb_varint_len(key_len) + key_len + 1 + pb_varint_len(any->len) + any->len;
    if (pb_tag(b, field, PB_LEN) || pb_varint(b, kv_len) || pb_string(b, F_KV_KEY, key) ||
        pb_tag(b, F_KV_VALUE, PB_LEN) || pb_varint(b, any->len))
        return -1;
    return buf_append(b, any->data, any->len);
}

/* ---- attribute writers: the mapping is written once, for both forms ------------ */

typedef struct attr_sink {
    otlp_encoder_t *e;
    buf_t *out;
    int first; /* JSON: no comma before the first attribute */
} attr_sink_t;

static int json_any_string(buf_t *b, const char *text) {
    return buf_puts(b, "{\"stringValue\":") || utf8_json_string(b, text) || buf_putc(b, '}');
}

static int json_key(attr_sink_t *s, const char *key) {
    buf_t *b = s->out;
    if (!s->first && buf_putc(b, ','))
        return -1;
    s->first = 0;
    return buf_puts(b, "{\"key\":") || utf8_json_string(b, key) || buf_puts(b, ",\"value\":");
}

static int attr_string(attr_sink_t *s, const char *key, const char *text) {
    if (!text)
        return 0;
    if (s->e->encoding == OTLP_ENCODING_JSON)
        return json_key(s, key) || json_any_string(s->out, text) || buf_putc(s->out, '}');
    buf_t *any = &s->e->value;
    buf_reset(any);
    return pb_string(any, F_ANY_STRING, text) || pb_key_value(s->out, F_SPAN_ATTRIBUTES, key, any);
}

static int attr_int(attr_sink_t *s, const char *key, int64_t v) {
    if (s->e->encoding == OTLP_ENCODING_JSON)
        return json_key(s, key) || buf_printf(s->out, "{\"intValue\":\"%" PRId64 "\"}}", v);
    buf_t *any = &s->e->value;
    buf_reset(any);
    return pb_tag(any, F_ANY_INT, PB_VARINT) || pb_varint(any, (uint64_t)v) ||
           pb_key_value(s->out, F_SPAN_ATTRIBUTES, key, any);
}

static int attr_string_array(attr_sink_t *s, const char *key, const char *const *items, size_t n) {
    if (s->e->encoding == OTLP_ENCODING_JSON) {
        if (json_key(s, key) || buf_puts(s->out, "{\"arrayValue\":{\"values\":["))
            return -1;
        for (size_t i = 0; i < n; i++)
            if ((i && buf_putc(s->out, ',')) || json_any_string(s->out, items[i]))
                return -1;
        return buf_puts(s->out, "]}}}");
    }
    /* ArrayValue{values: AnyValue{string_value}} inside AnyValue.array_value */
    size_t array_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(items[i]);
        size_t any_len = 1 + pb_varint_len(sl) + sl;
        array_len += 1 + pb_varint_len(any_len) + any_len;
    }
    buf_t *any = &s->e->value;
    buf_reset(any);
    if (pb_tag(any, F_ANY_ARRAY, PB_LEN) || pb_varint(any, array_len))
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(items[i]);
        if (pb_tag(any, F_ARRAY_VALUES, PB_LEN) || pb_varint(any, 1 + pb_varint_len(sl) + sl) ||
            pb_string(any, F_ANY_STRING, items[i]))
            return -1;
    }
    return pb_key_value(s->out, F_SPAN_ATTRIBUTES, key, any);
}

/* The inverse of the README's mapping table. */
static int write_attributes(attr_sink_t *s, const span_t *span) {
    int rc = 0;
    switch (span->kind) {
    case SPAN_KIND_RUN:
        rc = attr_string(s, "gen_ai.operation.name", "invoke_workflow") ||
             attr_string(s, "dag.id", span->dag_id);
        break;
    case SPAN_KIND_NODE:
        rc = attr_string(s, "gen_ai.operation.name", "invoke_agent") ||
             attr_string(s, "gen_ai.agent.name", span->node_id) ||
             (span->depends_on_count &&
              attr_string_array(s, "dag.depends_on", span->depends_on, span->depends_on_count)) ||
             attr_int(s, "dag.attempt", span->attempt);
        break;
    case SPAN_KIND_LLM:
        rc = attr_string(s, "gen_ai.operation.name", "chat") ||
             attr_string(s, "gen_ai.request.model", span->model) ||
             attr_string(s, "gen_ai.response.model", span->model) ||
             attr_string(s, "gen_ai.provider.name", span->provider) ||
             attr_int(s, "gen_ai.usage.input_tokens", span->input_tokens) ||
             attr_int(s, "gen_ai.usage.output_tokens", span->output_tokens) ||
             (span->cache_read_tokens &&
              attr_int(s, "gen_ai.usage.cache_read.input_tokens", span->cache_read_tokens)) ||
             (span->cache_write_tokens &&
              attr_int(s, "gen_ai.usage.cache_creation.input_tokens", span->cache_write_tokens)) ||
             (span->reasoning_tokens &&
              attr_int(s, "gen_ai.usage.reasoning.output_tokens", span->reasoning_tokens));
        break;
    case SPAN_KIND_TOOL:
        rc = attr_string(s, "gen_ai.operation.name", "execute_tool") ||
             attr_string(s, "gen_ai.tool.name", span->tool_name);
        break;
    case SPAN_KIND_OTHER:
        break;
    }
    if (rc)
        return -1;
    /* the run span names no node; every other span that has one says so */
    if (span->kind != SPAN_KIND_RUN && attr_string(s, "dag.node_id", span->node_id))
        return -1;
    for (size_t i = 0; i < span->attribute_count; i++)
        if (span->attributes[i].key && attr_string(s, span->attributes[i].key, span->attributes[i].value))
            return -1;
    return 0;
}

static int status_code(span_status_t status) {
    return status == SPAN_STATUS_OK ? OTLP_STATUS_OK
           : status == SPAN_STATUS_ERROR ? OTLP_STATUS_ERROR
                                         : OTLP_STATUS_UNSET;
}

/* ---- one span ------------------------------------------------------------------- */

static int add_proto(otlp_encoder_t *e, const span_t *span) {
    buf_t *b = &e->scratch;
    unsigned char trace_id[16], span_id[8], parent[8];
    buf_reset(b);
    otlp_encode_id(span->trace_id, trace_id, sizeof(trace_id));
    otlp_encode_id(span->span_id, span_id, sizeof(span_id));
    if (pb_bytes(b, F_SPAN_TRACE_ID, trace_id, sizeof(trace_id)) ||
        pb_bytes(b, F_SPAN_SPAN_ID, span_id, sizeof(span_id)))
        return -1;
    if (span->parent_span_id && span->parent_span_id[0]) {
        otlp_encode_id(span->parent_span_id, parent, sizeof(parent));
        if (pb_bytes(b, F_SPAN_PARENT, parent, sizeof(parent)))
            return -1;
    }
    const char *name = span->name ? span->name : span_kind_name(span->kind);
    if (pb_string(b, F_SPAN_NAME, name) || pb_tag(b, F_SPAN_KIND, PB_VARINT) ||
        pb_varint(b, OTLP_SPAN_KIND_INTERNAL) ||
        pb_fixed64(b, F_SPAN_START, (uint64_t)span->start_us * 1000) ||
        pb_fixed64(b, F_SPAN_END, (uint64_t)span->end_us * 1000))
        return -1;
    attr_sink_t sink = {e, b, 1};
    if (write_attributes(&sink, span))
        return -1;
    int code = status_code(span->status);
    if (code != OTLP_STATUS_UNSET) {
        /* Status{code}: 2 bytes of body */
        if (pb_tag(b, F_SPAN_STATUS, PB_LEN) || pb_varint(b, 2) ||
            pb_tag(b, F_STATUS_CODE, PB_VARINT) || pb_varint(b, (uint64_t)code))
            return -1;
    } else if (pb_tag(b, F_SPAN_STATUS, PB_LEN) || pb_varint(b, 0)) {
        return -1;
    }
    return pb_bytes(&e->spans, F_SS_SPANS, b->data, b->len);
}

static int json_hex(buf_t *b, const unsigned char *bytes, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char text[33];
    for (size_t i = 0; i < n; i++) {
        text[2 * i] = digits[bytes[i] >> 4];
        text[2 * i + 1] = digits[bytes[i] & 15];
    }
    text[2 * n] = '\0';
    return buf_putc(b, '"') || buf_puts(b, text) || buf_putc(b, '"');
}

static int add_json(otlp_encoder_t *e, const span_t *span) {
    buf_t *b = &e->spans;
    unsigned char trace_id[16], span_id[8], parent[8];
    otlp_encode_id(span->trace_id, trace_id, sizeof(trace_id));
    otlp_encode_id(span->span_id, span_id, sizeof(span_id));
    if ((e->count && buf_putc(b, ',')) || buf_puts(b, "{\"traceId\":") ||
        json_hex(b, trace_id, sizeof(trace_id)) || buf_puts(b, ",\"spanId\":") ||
        json_hex(b, span_id, sizeof(span_id)))
        return -1;
    if (span->parent_span_id && span->parent_span_id[0]) {
        otlp_encode_id(span->parent_span_id, parent, sizeof(parent));
        if (buf_puts(b, ",\"parentSpanId\":") || json_hex(b, parent, sizeof(parent)))
            return -1;
    }
    const char *name = span->name ? span->name : span_kind_name(span->kind);
    if (buf_puts(b, ",\"name\":") || utf8_json_string(b, name) ||
        buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64
                      "\",\"attributes\":[",
                   OTLP_SPAN_KIND_INTERNAL, (uint64_t)span->start_us * 1000,
                   (uint64_t)span->end_us * 1000))
        return -1;
    attr_sink_t sink = {e, b, 1};
    if (write_attributes(&sink, span))
        return -1;
    int code = status_code(span->status);
    if (code != OTLP_STATUS_UNSET)
        return buf_printf(b, "],\"status\":{\"code\":%d}}", code);
    return buf_puts(b, "],\"status\":{}}");
}

/* ---- the request ---------------------------------------------------------------- */

otlp_encoder_t *otlp_encoder_new(otlp_encoding_t encoding, const char *service_name,
                                 char *errstr, size_t errstr_size) {
    otlp_encoder_t *e = calloc(1, sizeof(*e));
    if (!e)
        goto fail;
    e->encoding = encoding;
    e->service_name = strdup(service_name ? service_name : "dagprof");
    if (!e->service_name)
        goto fail;
    return e;
fail:
    snprintf(errstr, errstr_size, "otlp encoder: out of memory");
    otlp_encoder_free(e);
    return NULL;
}

void otlp_encoder_free(otlp_encoder_t *e) {
    if (!e)
        return;
    free(e->service_name);
    buf_free(&e->spans);
    buf_free(&e->scratch);
    buf_free(&e->value);
    free(e);
}

int otlp_encoder_add(otlp_encoder_t *e, const span_t *span, char *errstr, size_t errstr_size) {
    if (!span->trace_id || !span->trace_id[0] || !span->span_id || !span->span_id[0]) {
        snprintf(errstr, errstr_size, "span without trace_id or span_id");
        return -1;
    }
    if (span->end_us < span->start_us || span->start_us < 0) {
        snprintf(errstr, errstr_size, "span %s: end_us before start_us, or a negative time",
                 span->span_id);
        return -1;
    }
    size_t before = e->spans.len;
    int rc = e->encoding == OTLP_ENCODING_JSON ? add_json(e, span) : add_proto(e, span);
    if (rc) {
        e->spans.len = before; /* the request as it was */
        if (e->spans.data)
            e->spans.data[before] = '\0';
        snprintf(errstr, errstr_size, "otlp encoder: out of memory");
        return -1;
    }
    e->count++;
    return 0;
}

size_t otlp_encoder_span_count(const otlp_encoder_t *e) {
    return e->count;
}

size_t otlp_encoder_pending_bytes(const otlp_encoder_t *e) {
    return e->spans.len;
}

static int finish_proto(otlp_encoder_t *e, buf_t *out) {
    /* Resource{attributes: KeyValue{service.name, AnyValue{string}}} */
    buf_t resource = BUF_INIT, any = BUF_INIT;
    int rc = -1;
    if (pb_string(&any, F_ANY_STRING, e->service_name) ||
        pb_key_value(&resource, F_RESOURCE_ATTRIBUTES, "service.name", &any))
        goto fail;
    size_t scope_len = 1 + pb_varint_len(strlen(OTLP_SCOPE_NAME)) + strlen(OTLP_SCOPE_NAME);
    size_t ss_len = 1 + pb_varint_len(scope_len) + scope_len + e->spans.len;
    size_t rs_len = 1 + pb_varint_len(resource.len) + resource.len + 1 + pb_varint_len(ss_len) + ss_len;
    if (e->count == 0) {
        rc = 0; /* an empty request: no resource_spans at all */
        goto fail;
    }
    if (buf_reserve(out, 1 + pb_varint_len(rs_len) + rs_len) != 0)
        goto fail;
    /* cannot fail now: the room is reserved */
    pb_tag(out, F_REQ_RESOURCE_SPANS, PB_LEN);
    pb_varint(out, rs_len);
    pb_bytes(out, F_RS_RESOURCE, resource.data, resource.len);
    pb_tag(out, F_RS_SCOPE_SPANS, PB_LEN);
    pb_varint(out, ss_len);
    pb_tag(out, F_SS_SCOPE, PB_LEN);
    pb_varint(out, scope_len);
    pb_string(out, F_SCOPE_NAME, OTLP_SCOPE_NAME);
    buf_append(out, e->spans.data, e->spans.len);
    rc = 0;
fail:
    buf_free(&resource);
    buf_free(&any);
    return rc;
}

static int finish_json(otlp_encoder_t *e, buf_t *out) {
    size_t before = out->len;
    if (e->count == 0)
        return buf_puts(out, "{\"resourceSpans\":[]}");
    if (buf_puts(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":") ||
        json_any_string(out, e->service_name) ||
        buf_puts(out, "}]},\"scopeSpans\":[{\"scope\":{\"name\":\"" OTLP_SCOPE_NAME "\"},\"spans\":[") ||
        buf_append(out, e->spans.data, e->spans.len) || buf_puts(out, "]}]}]}")) {
        out->len = before;
        if (out->data)
            out->data[before] = '\0';
        return -1;
    }
    return 0;
}

int otlp_encoder_finish(otlp_encoder_t *e, buf_t *out) {
    int rc = e->encoding == OTLP_ENCODING_JSON ? finish_json(e, out) : finish_proto(e, out);
    if (rc)
        return -1;
    buf_reset(&e->spans);
    e->count = 0;
    return 0;
}
