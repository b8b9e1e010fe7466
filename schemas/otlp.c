/* otlp.c -- OTLP traces decoded and mapped to span events. See otlp.h.
 *
 * Protobuf is read by a hand-written wire decoder rather than protobuf-c's
 * generated unpackers: those build the whole message tree (every KeyValue and
 * AnyValue a malloc) before the first span can be mapped, while this walks the
 * bytes once and borrows from them (README "Input formats" has the figures).
 * Every length is checked against the bytes of the enclosing field, so any
 * input is safe. Both decoders fill the same raw span (ids, times, typed
 * attributes, links); one mapping turns it into a span_t. */
#include "otlp.h"
#include "buf.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* An attribute value longer than this is dropped (reported otlp_too_large):
 * no mapped field needs more, and the engine cuts strings at 4 KiB anyway. */
#define OTLP_MAX_VALUE_BYTES (64 * 1024)
/* Pass-through attributes kept per span, and the length a rendered one keeps. */
#define OTLP_MAX_PASS_ATTRS 32
#define OTLP_MAX_PASS_VALUE_BYTES 1024
/* Arrays and key-value lists nested deeper than this render as "...". */
#define OTLP_MAX_DEPTH 8
#define SCRATCH_BLOCK_BYTES (64 * 1024)

/* ---- scratch memory: strings of one span, reset after the callback ---- */

typedef struct scratch_block {
    struct scratch_block *next;
    size_t cap, used;
    char data[];
} scratch_block_t;

typedef struct scratch {
    scratch_block_t *head, *current;
} scratch_t;

static void *scratch_alloc(scratch_t *s, size_t size) {
    size = (size + 7) & ~(size_t)7;
    for (;;) {
        scratch_block_t *b = s->current;
        if (b && b->cap - b->used >= size) {
            void *p = b->data + b->used;
            b->used += size;
            return p;
        }
        if (b && b->next) {
            s->current = b->next;
            s->current->used = 0;
            continue;
        }
        size_t cap = size > SCRATCH_BLOCK_BYTES ? size : SCRATCH_BLOCK_BYTES;
        scratch_block_t *fresh = malloc(sizeof *fresh + cap);
        if (!fresh)
            return NULL;
        fresh->cap = cap;
        fresh->used = 0;
        fresh->next = NULL;
        if (b) {
            /* An oversized block goes after the current one; later blocks stay. */
            b->next = fresh;
        } else {
            s->head = fresh;
        }
        s->current = fresh;
    }
}

static void scratch_reset(scratch_t *s) {
    s->current = s->head;
    if (s->head)
        s->head->used = 0;
}

static void scratch_free(scratch_t *s) {
    scratch_block_t *b = s->head;
    while (b) {
        scratch_block_t *next = b->next;
        free(b);
        b = next;
    }
    s->head = s->current = NULL;
}

static char *scratch_strcopy(scratch_t *s, const char *text, size_t len) {
    char *copy = scratch_alloc(s, len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

/* ---- the raw span both decoders fill ---- */

typedef enum {
    AV_EMPTY = 0,
    AV_STRING,
    AV_BOOL,
    AV_INT,
    AV_DOUBLE,
    AV_ARRAY,
    AV_KVLIST,
    AV_BYTES
} av_type_t;

typedef struct otlp_attr {
    const char *key;
    size_t key_len;
    av_type_t type;
    const char *str; /* AV_STRING, AV_BYTES (proto: raw bytes; JSON: base64 text) */
    size_t str_len;
    int64_t i; /* AV_INT, AV_BOOL */
    double d;
    const uint8_t *body; /* proto AV_ARRAY / AV_KVLIST: the message body */
    size_t body_len;
    const json_t *json; /* JSON AV_ARRAY / AV_KVLIST: the values array */
} otlp_attr_t;

typedef struct attr_list {
    otlp_attr_t *items;
    size_t count, cap;
} attr_list_t;

typedef struct raw_span {
    char trace_id[33];
    char span_id[17];
    char parent_id[17];
    bool has_trace_id, has_span_id, has_parent;
    const char *name;
    size_t name_len;
    uint64_t start_ns, end_ns;
    int status_code;
    attr_list_t *attrs;
    char (*links)[17];
    size_t link_count;
} raw_span_t;

/* Attribute keys the mapping reads. */
enum {
    K_DAG_ID,
    K_DAG_NODE_ID,
    K_DAG_DEPENDS_ON,
    K_DAG_ATTEMPT,
    K_GENAI_OPERATION,
    K_GENAI_AGENT_NAME,
    K_GENAI_RESPONSE_MODEL,
    K_GENAI_REQUEST_MODEL,
    K_GENAI_PROVIDER,
    K_GENAI_SYSTEM,
    K_GENAI_INPUT_TOKENS,
    K_GENAI_OUTPUT_TOKENS,
    K_GENAI_CACHE_READ,
    K_GENAI_CACHE_CREATION,
    K_GENAI_CACHE_WRITE,
    K_GENAI_REASONING,
    K_GENAI_PROMPT_TOKENS,
    K_GENAI_COMPLETION_TOKENS,
    K_GENAI_TOOL_NAME,
    K_OI_SPAN_KIND,
    K_LLM_MODEL_NAME,
    K_LLM_RESPONSE_MODEL_NAME,
    K_LLM_REQUEST_MODEL_NAME,
    K_LLM_PROVIDER,
    K_LLM_SYSTEM,
    K_LLM_PROMPT,
    K_LLM_COMPLETION,
    K_LLM_CACHE_READ,
    K_LLM_CACHE_WRITE,
    K_LLM_REASONING,
    K_TOOL_NAME,
    K_SERVICE_NAME,
    K_COUNT
};

static const char *const known_keys[K_COUNT] = {
    [K_DAG_ID] = "dag.id",
    [K_DAG_NODE_ID] = "dag.node_id",
    [K_DAG_DEPENDS_ON] = "dag.depends_on",
    [K_DAG_ATTEMPT] = "dag.attempt",
    [K_GENAI_OPERATION] = "gen_ai.operation.name",
    [K_GENAI_AGENT_NAME] = "gen_ai.agent.name",
    [K_GENAI_RESPONSE_MODEL] = "gen_ai.response.model",
    [K_GENAI_REQUEST_MODEL] = "gen_ai.request.model",
    [K_GENAI_PROVIDER] = "gen_ai.provider.name",
    [K_GENAI_SYSTEM] = "gen_ai.system",
    [K_GENAI_INPUT_TOKENS] = "gen_ai.usage.input_tokens",
    [K_GENAI_OUTPUT_TOKENS] = "gen_ai.usage.output_tokens",
    [K_GENAI_CACHE_READ] = "gen_ai.usage.cache_read.input_tokens",
    [K_GENAI_CACHE_CREATION] = "gen_ai.usage.cache_creation.input_tokens",
    [K_GENAI_CACHE_WRITE] = "gen_ai.usage.cache_write.input_tokens",
    [K_GENAI_REASONING] = "gen_ai.usage.reasoning.output_tokens",
    [K_GENAI_PROMPT_TOKENS] = "gen_ai.usage.prompt_tokens",
    [K_GENAI_COMPLETION_TOKENS] = "gen_ai.usage.completion_tokens",
    [K_GENAI_TOOL_NAME] = "gen_ai.tool.name",
    [K_OI_SPAN_KIND] = "openinference.span.kind",
    [K_LLM_MODEL_NAME] = "llm.model_name",
    [K_LLM_RESPONSE_MODEL_NAME] = "llm.response.model_name",
    [K_LLM_REQUEST_MODEL_NAME] = "llm.request.model_name",
    [K_LLM_PROVIDER] = "llm.provider",
    [K_LLM_SYSTEM] = "llm.system",
    [K_LLM_PROMPT] = "llm.token_count.prompt",
    [K_LLM_COMPLETION] = "llm.token_count.completion",
    [K_LLM_CACHE_READ] = "llm.token_count.prompt_details.cache_read",
    [K_LLM_CACHE_WRITE] = "llm.token_count.prompt_details.cache_write",
    [K_LLM_REASONING] = "llm.token_count.completion_details.reasoning",
    [K_TOOL_NAME] = "tool.name",
    [K_SERVICE_NAME] = "service.name",
};

struct otlp_decoder {
    scratch_t scratch;
    attr_list_t span_attrs, scope_attrs, resource_attrs;
    char (*links)[17];
    size_t links_cap;
    span_attr_t *pass;
    const char **depends_on;
    size_t depends_on_cap;
    buf_t render;
    size_t known_len[K_COUNT];
    /* Per decode call. */
    otlp_span_fn on_span;
    otlp_reject_fn on_reject;
    void *opaque;
    size_t emitted;
    bool out_of_memory;
};

/* ---- names and detection ---- */

static const char *const wire_format_names[] = {"unknown", "avro", "otlp_proto", "otlp_json",
                                                "avro_bare"};

const char *wire_format_name(wire_format_t f) {
    if ((unsigned)f >= sizeof wire_format_names / sizeof wire_format_names[0])
        return "unknown";
    return wire_format_names[f];
}

int wire_format_parse(const char *name, wire_format_t *out) {
    if (!name)
        return -1;
    if (strcmp(name, "auto") == 0) {
        *out = WIRE_UNKNOWN;
        return 0;
    }
    for (size_t i = 1; i < sizeof wire_format_names / sizeof wire_format_names[0]; i++) {
        if (strcmp(name, wire_format_names[i]) == 0) {
            *out = (wire_format_t)i;
            return 0;
        }
    }
    return -1;
}

/* ---- protobuf wire primitives ---- */

typedef struct pb {
    const uint8_t *pos, *end;
} pb_t;

typedef struct pb_field {
    uint32_t number;
    uint32_t wire_type;
    uint64_t value; /* varint, fixed64, fixed32 */
    const uint8_t *data; /* length-delimited */
    size_t len;
} pb_field_t;

enum { PB_END = 0, PB_FIELD = 1, PB_TRUNCATED = -1, PB_BAD_WIRE = -2 };

static int pb_varint(pb_t *p, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p->pos >= p->end)
            return PB_TRUNCATED;
        uint8_t byte = *p->pos++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return PB_FIELD;
        }
    }
    return PB_BAD_WIRE; /* more than ten bytes */
}

/* The next field of a message body. A length-delimited field longer than
 * what remains is PB_TRUNCATED, with data/len clamped to what is there. */
static int pb_next(pb_t *p, pb_field_t *f) {
    uint64_t tag;
    /* A field cut short anywhere has an empty body, never a stale one. */
    f->data = p->end;
    f->len = 0;
    if (p->pos >= p->end)
        return PB_END;
    int rc = pb_varint(p, &tag);
    if (rc != PB_FIELD)
        return rc;
    f->number = (uint32_t)(tag >> 3);
    f->wire_type = (uint32_t)(tag & 7);
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return PB_BAD_WIRE;
    switch (f->wire_type) {
    case 0:
        return pb_varint(p, &f->value);
    case 1:
        if (p->end - p->pos < 8)
            return PB_TRUNCATED;
        f->value = 0;
        for (int i = 7; i >= 0; i--)
            f->value = f->value << 8 | p->pos[i];
        p->pos += 8;
        return PB_FIELD;
    case 5:
        if (p->end - p->pos < 4)
            return PB_TRUNCATED;
        f->value = (uint32_t)p->pos[0] | (uint32_t)p->pos[1] << 8 | (uint32_t)p->pos[2] << 16 |
                   (uint32_t)p->pos[3] << 24;
        p->pos += 4;
        return PB_FIELD;
    case 2: {
        uint64_t len;
        rc = pb_varint(p, &len);
        if (rc != PB_FIELD)
            return rc;
        size_t remaining = (size_t)(p->end - p->pos);
        f->data = p->pos;
        if (len > remaining) {
            f->len = remaining;
            p->pos = p->end;
            return PB_TRUNCATED;
        }
        f->len = (size_t)len;
        p->pos += len;
        return PB_FIELD;
    }
    default:
        return PB_BAD_WIRE; /* groups (3, 4) are not used by OTLP; 6, 7 do not exist */
    }
}

/* Whether a body parses as whole protobuf fields, with `wt2_fields` (a bit
 * per field number below 32) length-delimited. */
static bool pb_tiles(const uint8_t *data, size_t len, uint32_t wt2_fields) {
    pb_t p = {data, data + len};
    pb_field_t f;
    int rc;
    while ((rc = pb_next(&p, &f)) == PB_FIELD) {
        if (f.number < 32 && (wt2_fields >> f.number & 1) && f.wire_type != 2)
            return false;
    }
    return rc == PB_END;
}

/* ---- bare Avro SpanEvent: a structural walk, no allocation ---- */

typedef struct avro_walk {
    const uint8_t *pos, *end;
} avro_walk_t;

static bool av_long(avro_walk_t *w, int64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (w->pos >= w->end)
            return false;
        uint8_t byte = *w->pos++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
            return true;
        }
    }
    return false;
}

static bool av_string(avro_walk_t *w, bool non_empty) {
    int64_t len;
    if (!av_long(w, &len) || len < (non_empty ? 1 : 0) || len > w->end - w->pos)
        return false;
    w->pos += len;
    return true;
}

static bool av_opt_string(avro_walk_t *w) {
    int64_t branch;
    if (!av_long(w, &branch))
        return false;
    return branch == 0 || (branch == 1 && av_string(w, false));
}

static bool av_enum(avro_walk_t *w, int64_t count) {
    int64_t index;
    return av_long(w, &index) && index >= 0 && index < count;
}

/* An array of strings (pairs = 1) or a map of strings (pairs = 2). */
static bool av_blocks(avro_walk_t *w, int pairs) {
    for (;;) {
        int64_t count, block_bytes;
        if (!av_long(w, &count))
            return false;
        if (count == 0)
            return true;
        if (count < 0) {
            if (count == INT64_MIN || !av_long(w, &block_bytes) || block_bytes < 0)
                return false;
            count = -count;
        }
        if (count > w->end - w->pos)
            return false;
        for (int64_t i = 0; i < count * pairs; i++)
            if (!av_string(w, false))
                return false;
    }
}

static bool looks_like_bare_avro(const uint8_t *data, size_t len) {
    avro_walk_t w = {data, data + len};
    int64_t number;
    if (!av_string(&w, true) || !av_string(&w, true))
        return false;
    for (int i = 0; i < 3; i++)
        if (!av_opt_string(&w))
            return false;
    if (!av_enum(&w, 5) || !av_opt_string(&w) || !av_long(&w, &number) || !av_long(&w, &number))
        return false;
    if (!av_enum(&w, 3) || !av_blocks(&w, 1) || !av_long(&w, &number))
        return false;
    if (!av_opt_string(&w) || !av_opt_string(&w))
        return false;
    for (int i = 0; i < 5; i++)
        if (!av_long(&w, &number))
            return false;
    if (!av_opt_string(&w) || !av_blocks(&w, 2))
        return false;
    return w.pos == w.end;
}

static bool looks_like_otlp_proto(const uint8_t *data, size_t len) {
    pb_t p = {data, data + len};
    pb_field_t f;
    if (len == 0 || data[0] != 0x0a)
        return false;
    if (pb_next(&p, &f) != PB_FIELD)
        return false;
    /* ResourceSpans: resource (1), scope_spans (2), schema_url (3). */
    return pb_tiles(f.data, f.len, 1u << 1 | 1u << 2 | 1u << 3);
}

wire_format_t wire_detect(const void *buf, size_t len) {
    const uint8_t *bytes = buf;
    if (!buf || len == 0)
        return WIRE_UNKNOWN;
    if (bytes[0] == 0)
        return len >= 5 ? WIRE_AVRO_CONFLUENT : WIRE_UNKNOWN;
    size_t i = 0;
    while (i < len && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\r' || bytes[i] == '\n'))
        i++;
    if (i < len && bytes[i] == '{') {
        /* A protobuf request can start "\n{" (a 123-byte ResourceSpans). */
        if (!(bytes[0] == 0x0a && looks_like_otlp_proto(bytes, len)))
            return WIRE_OTLP_JSON;
    }
    if (looks_like_otlp_proto(bytes, len))
        return WIRE_OTLP_PROTO;
    if (looks_like_bare_avro(bytes, len))
        return WIRE_AVRO_BARE;
    return WIRE_UNKNOWN;
}

/* ---- decoder ---- */

otlp_decoder_t *otlp_decoder_new(char *errstr, size_t errstr_size) {
    otlp_decoder_t *d = calloc(1, sizeof *d);
    if (!d)
        goto fail;
    d->pass = malloc(OTLP_MAX_PASS_ATTRS * sizeof *d->pass);
    if (!d->pass)
        goto fail;
    buf_init(&d->render);
    for (int k = 0; k < K_COUNT; k++)
        d->known_len[k] = strlen(known_keys[k]);
    return d;
fail:
    if (d)
        free(d->pass);
    free(d);
    snprintf(errstr, errstr_size, "otlp decoder: out of memory");
    return NULL;
}

void otlp_decoder_free(otlp_decoder_t *d) {
    if (!d)
        return;
    scratch_free(&d->scratch);
    free(d->span_attrs.items);
    free(d->scope_attrs.items);
    free(d->resource_attrs.items);
    free(d->links);
    free(d->pass);
    free(d->depends_on);
    buf_free(&d->render);
    free(d);
}

static void reject(otlp_decoder_t *d, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(otlp_decoder_t *d, const char *kind, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    if (!d->on_reject)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    d->on_reject(d->opaque, kind, reason);
}

static otlp_attr_t *attr_push(otlp_decoder_t *d, attr_list_t *list) {
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 32;
        otlp_attr_t *grown = realloc(list->items, cap * sizeof *grown);
        if (!grown) {
            d->out_of_memory = true;
            return NULL;
        }
        list->items = grown;
        list->cap = cap;
    }
    otlp_attr_t *a = &list->items[list->count++];
    memset(a, 0, sizeof *a);
    return a;
}

static void hex_encode(const uint8_t *bytes, size_t len, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Case-insensitive hex of exactly `bytes` bytes to lowercase hex in out. */
static bool hex_normalise(const char *text, size_t len, size_t bytes, char *out) {
    if (len != 2 * bytes)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = hex_value(text[i]);
        if (v < 0)
            return false;
        out[i] = "0123456789abcdef"[v];
    }
    out[len] = '\0';
    return true;
}

static bool all_zero(const char *hex) {
    for (; *hex; hex++)
        if (*hex != '0')
            return false;
    return true;
}

/* ---- rendering attribute values as text ---- */

static int render_proto_any(buf_t *out, const uint8_t *data, size_t len, int depth);
static int render_json_any(buf_t *out, const json_t *value, int depth);

static const char base64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int render_base64(buf_t *out, const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        char chunk[4] = {base64_chars[v >> 18 & 63], base64_chars[v >> 12 & 63],
                         i + 1 < len ? base64_chars[v >> 6 & 63] : '=',
                         i + 2 < len ? base64_chars[v & 63] : '='};
        if (buf_append(out, chunk, 4) != 0)
            return -1;
    }
    return 0;
}

static int render_double(buf_t *out, double value) {
    return buf_printf(out, "%.17g", value);
}

/* A string inside an array or list is quoted; a top-level one is not. */
static int render_string(buf_t *out, const char *text, size_t len, bool quoted) {
    if (!quoted)
        return buf_append(out, text, len);
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = utf8_json_string(out, copy);
    free(copy);
    return rc;
}

/* AnyValue body; at depth > 0 strings are quoted. */
static int render_proto_any(buf_t *out, const uint8_t *data, size_t len, int depth) {
    pb_t p = {data, data + len};
    pb_field_t f;
    int rc;
    while ((rc = pb_next(&p, &f)) == PB_FIELD) {
        if (f.number == 1 && f.wire_type == 2)
            return render_string(out, (const char *)f.data, f.len, depth > 0);
        if (f.number == 2 && f.wire_type == 0)
            return buf_puts(out, f.value ? "true" : "false");
        if (f.number == 3 && f.wire_type == 0)
            return buf_printf(out, "%" PRId64, (int64_t)f.value);
        if (f.number == 4 && f.wire_type == 1) {
            double v;
            memcpy(&v, &f.value, sizeof v);
            return render_double(out, v);
        }
        if (f.number == 7 && f.wire_type == 2) {
            if (depth > 0 && buf_putc(out, '"') != 0)
                return -1;
            if (render_base64(out, f.data, f.len) != 0)
                return -1;
            return depth > 0 ? buf_putc(out, '"') : 0;
        }
        if ((f.number == 5 || f.number == 6) && f.wire_type == 2) {
            bool list = f.number == 6;
            if (depth >= OTLP_MAX_DEPTH)
                return buf_puts(out, "...");
            if (buf_putc(out, list ? '{' : '[') != 0)
                return -1;
            pb_t items = {f.data, f.data + f.len};
            pb_field_t item;
            bool first = true;
            while (pb_next(&items, &item) == PB_FIELD) {
                if (item.number != 1 || item.wire_type != 2)
                    continue;
                if (!first && buf_putc(out, ',') != 0)
                    return -1;
                first = false;
                if (!list) {
                    if (render_proto_any(out, item.data, item.len, depth + 1) != 0)
                        return -1;
                    continue;
                }
                /* KeyValue: key (1), value (2). */
                pb_t kv = {item.data, item.data + item.len};
                pb_field_t part;
                const uint8_t *key = (const uint8_t *)"", *value = NULL;
                size_t key_len = 0, value_len = 0;
                while (pb_next(&kv, &part) == PB_FIELD) {
                    if (part.number == 1 && part.wire_type == 2)
                        key = part.data, key_len = part.len;
                    else if (part.number == 2 && part.wire_type == 2)
                        value = part.data, value_len = part.len;
                }
                if (render_string(out, (const char *)key, key_len, true) != 0 ||
                    buf_putc(out, ':') != 0)
                    return -1;
                if (value ? render_proto_any(out, value, value_len, depth + 1)
                          : buf_puts(out, "null"))
                    return -1;
            }
            return buf_putc(out, list ? '}' : ']');
        }
    }
    return depth > 0 ? buf_puts(out, "null") : 0;
}

static bool json_int64(const json_t *value, int64_t *out) {
    if (json_is_integer(value)) {
        *out = (int64_t)json_integer_value(value);
        return true;
    }
    if (json_is_real(value)) {
        double v = json_real_value(value);
        if (v != v || v < -9.2e18 || v > 9.2e18)
            return false;
        *out = (int64_t)v;
        return true;
    }
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        char *end;
        if (!*text)
            return false;
        long long v = strtoll(text, &end, 10);
        if (*end)
            return false;
        *out = v;
        return true;
    }
    return false;
}

static int render_json_any(buf_t *out, const json_t *value, int depth) {
    const json_t *v;
    if (!json_is_object(value))
        return depth > 0 ? buf_puts(out, "null") : 0;
    if ((v = json_object_get(value, "stringValue")) && json_is_string(v))
        return render_string(out, json_string_value(v), json_string_length(v), depth > 0);
    if ((v = json_object_get(value, "boolValue")) && json_is_boolean(v))
        return buf_puts(out, json_is_true(v) ? "true" : "false");
    if ((v = json_object_get(value, "intValue"))) {
        int64_t i;
        if (json_int64(v, &i))
            return buf_printf(out, "%" PRId64, i);
    }
    if ((v = json_object_get(value, "doubleValue")) && json_is_number(v))
        return render_double(out, json_number_value(v));
    if ((v = json_object_get(value, "bytesValue")) && json_is_string(v))
        return render_string(out, json_string_value(v), json_string_length(v), depth > 0);
    const json_t *array = json_object_get(value, "arrayValue");
    const json_t *list = json_object_get(value, "kvlistValue");
    if (array || list) {
        bool is_list = list != NULL;
        const json_t *values = json_object_get(is_list ? list : array, "values");
        if (depth >= OTLP_MAX_DEPTH)
            return buf_puts(out, "...");
        if (buf_putc(out, is_list ? '{' : '[') != 0)
            return -1;
        size_t n = json_is_array(values) ? json_array_size(values) : 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *item = json_array_get(values, i);
            if (i && buf_putc(out, ',') != 0)
                return -1;
            if (!is_list) {
                if (render_json_any(out, item, depth + 1) != 0)
                    return -1;
                continue;
            }
            const json_t *key = json_object_get(item, "key");
            const char *key_text = json_is_string(key) ? json_string_value(key) : "";
            if (utf8_json_string(out, key_text) != 0 || buf_putc(out, ':') != 0)
                return -1;
            const json_t *inner = json_object_get(item, "value");
            if (inner ? render_json_any(out, inner, depth + 1) : buf_puts(out, "null"))
                return -1;
        }
        return buf_putc(out, is_list ? '}' : ']');
    }
    return depth > 0 ? buf_puts(out, "null") : 0;
}

/* The value as a NUL-terminated string in scratch memory, cut at max_len. */
static const char *attr_text(otlp_decoder_t *d, const otlp_attr_t *a, size_t max_len) {
    if (a->type == AV_STRING)
        return scratch_strcopy(&d->scratch, a->str, a->str_len < max_len ? a->str_len : max_len);
    buf_reset(&d->render);
    int rc = 0;
    switch (a->type) {
    case AV_BOOL:
        rc = buf_puts(&d->render, a->i ? "true" : "false");
        break;
    case AV_INT:
        rc = buf_printf(&d->render, "%" PRId64, a->i);
        break;
    case AV_DOUBLE:
        rc = render_double(&d->render, a->d);
        break;
    case AV_BYTES:
        rc = a->json ? buf_append(&d->render, a->str, a->str_len)
                     : render_base64(&d->render, (const uint8_t *)a->str, a->str_len);
        break;
    case AV_ARRAY:
    case AV_KVLIST:
        if (a->json) {
            /* The renderer reads a whole AnyValue: {"arrayValue": {"values": [...]}}. */
            json_t *wrapper = json_pack("{s{sO}}", a->type == AV_ARRAY ? "arrayValue" : "kvlistValue",
                                        "values", (json_t *)a->json);
            if (!wrapper)
                return NULL;
            rc = render_json_any(&d->render, wrapper, 0);
            json_decref(wrapper);
        } else {
            /* Rebuild the AnyValue field around the body for the renderer. */
            buf_t any = BUF_INIT;
            uint8_t header[11];
            size_t n = 0;
            header[n++] = a->type == AV_ARRAY ? 0x2a : 0x32;
            uint64_t len = a->body_len;
            do {
                header[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
                len >>= 7;
            } while (len);
            rc = buf_append(&any, header, n);
            if (rc == 0 && a->body_len)
                rc = buf_append(&any, a->body, a->body_len);
            if (rc == 0)
                rc = render_proto_any(&d->render, (const uint8_t *)any.data, any.len, 0);
            buf_free(&any);
        }
        break;
    default:
        break;
    }
    if (rc != 0)
        return NULL;
    size_t len = d->render.len < max_len ? d->render.len : max_len;
    return scratch_strcopy(&d->scratch, d->render.data ? d->render.data : "", len);
}

static bool attr_int(const otlp_attr_t *a, int64_t *out) {
    if (a->type == AV_INT) {
        *out = a->i;
        return true;
    }
    if (a->type == AV_DOUBLE) {
        if (a->d != a->d || a->d < -9.2e18 || a->d > 9.2e18)
            return false;
        *out = (int64_t)a->d;
        return true;
    }
    if (a->type == AV_STRING && a->str_len > 0 && a->str_len < 24) {
        char text[24], *end;
        memcpy(text, a->str, a->str_len);
        text[a->str_len] = '\0';
        long long v = strtoll(text, &end, 10);
        if (*end)
            return false;
        *out = v;
        return true;
    }
    return false;
}

static bool attr_is(const otlp_attr_t *a, const char *text) {
    size_t len = strlen(text);
    return a && a->type == AV_STRING && a->str_len == len && memcmp(a->str, text, len) == 0;
}

static int known_key(const otlp_decoder_t *d, const char *key, size_t len) {
    /* Every mapped key starts with one of these letters. */
    if (len < 6 || !(key[0] == 'd' || key[0] == 'g' || key[0] == 'o' || key[0] == 'l' ||
                     key[0] == 't' || key[0] == 's'))
        return -1;
    for (int k = 0; k < K_COUNT; k++)
        if (d->known_len[k] == len && memcmp(known_keys[k], key, len) == 0)
            return k;
    return -1;
}

/* ---- the mapping (README "OTLP mapping"; SPEC §1) ---- */

static const otlp_attr_t *lookup_in(const otlp_decoder_t *d, const attr_list_t *list, int k) {
    for (size_t i = 0; i < list->count; i++) {
        const otlp_attr_t *a = &list->items[i];
        if (a->key_len == d->known_len[k] && memcmp(a->key, known_keys[k], a->key_len) == 0)
            return a;
    }
    return NULL;
}

static const char *first_text(otlp_decoder_t *d, const otlp_attr_t *const *found,
                              const int *keys, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const otlp_attr_t *a = found[keys[i]];
        if (a && a->type != AV_EMPTY && !(a->type == AV_STRING && a->str_len == 0))
            return attr_text(d, a, OTLP_MAX_PASS_VALUE_BYTES);
    }
    return NULL;
}

static int64_t first_int(const otlp_attr_t *const *found, const int *keys, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        if (found[keys[i]] && attr_int(found[keys[i]], &v) && v >= 0)
            return v;
    }
    return 0;
}

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int add_depends_on(otlp_decoder_t *d, size_t *count, const char *text, size_t len) {
    while (len && (*text == ' ' || *text == '\t'))
        text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;
    if (*count == d->depends_on_cap) {
        size_t cap = d->depends_on_cap ? d->depends_on_cap * 2 : 16;
        const char **grown = realloc(d->depends_on, cap * sizeof *grown);
        if (!grown)
            return -1;
        d->depends_on = grown;
        d->depends_on_cap = cap;
    }
    const char *copy = scratch_strcopy(&d->scratch, text, len);
    if (!copy)
        return -1;
    d->depends_on[(*count)++] = copy;
    return 0;
}

static int map_depends_on(otlp_decoder_t *d, const otlp_attr_t *a, size_t *count) {
    if (a->type == AV_STRING) {
        const char *text = a->str;
        size_t len = a->str_len;
        while (len) {
            const char *comma = memchr(text, ',', len);
            size_t part = comma ? (size_t)(comma - text) : len;
            if (add_depends_on(d, count, text, part) != 0)
                return -1;
            if (!comma)
                break;
            text += part + 1;
            len -= part + 1;
        }
        return 0;
    }
    if (a->type != AV_ARRAY)
        return 0;
    if (a->json) {
        for (size_t i = 0; i < json_array_size(a->json); i++) {
            const json_t *s = json_object_get(json_array_get(a->json, i), "stringValue");
            if (json_is_string(s) &&
                add_depends_on(d, count, json_string_value(s), json_string_length(s)) != 0)
                return -1;
        }
        return 0;
    }
    pb_t items = {a->body, a->body + a->body_len};
    pb_field_t item;
    while (pb_next(&items, &item) == PB_FIELD) {
        if (item.number != 1 || item.wire_type != 2)
            continue;
        pb_t any = {item.data, item.data + item.len};
        pb_field_t f;
        while (pb_next(&any, &f) == PB_FIELD)
            if (f.number == 1 && f.wire_type == 2 && utf8_valid((const char *)f.data, f.len) &&
                add_depends_on(d, count, (const char *)f.data, f.len) != 0)
                return -1;
    }
    return 0;
}

static int emit(otlp_decoder_t *d, const raw_span_t *raw) {
    const otlp_attr_t *found[K_COUNT] = {0};
    const attr_list_t *attrs = raw->attrs;
    span_t span;
    size_t pass_count = 0, dropped = 0, depends_count = 0;
    int rc = 0;

    memset(&span, 0, sizeof span);
    for (size_t i = 0; i < attrs->count; i++) {
        const otlp_attr_t *a = &attrs->items[i];
        int k = known_key(d, a->key, a->key_len);
        if (k >= 0) {
            if (!found[k])
                found[k] = a;
            continue;
        }
        if (pass_count == OTLP_MAX_PASS_ATTRS) {
            dropped++;
            continue;
        }
        const char *key = scratch_strcopy(&d->scratch, a->key, a->key_len);
        const char *value = attr_text(d, a, OTLP_MAX_PASS_VALUE_BYTES);
        if (!key || !value)
            goto oom;
        d->pass[pass_count].key = key;
        d->pass[pass_count].value = value;
        pass_count++;
    }
    /* Values (not the keys that decide a span's kind) may come from the
     * instrumentation scope or the resource. */
    static const int inherited[] = {K_DAG_ID,       K_GENAI_PROVIDER, K_GENAI_SYSTEM,
                                    K_LLM_PROVIDER, K_LLM_SYSTEM,     K_SERVICE_NAME,
                                    K_GENAI_REQUEST_MODEL, K_LLM_MODEL_NAME};
    const otlp_attr_t *dag_id_attr = found[K_DAG_ID];
    for (size_t i = 0; i < COUNT_OF(inherited); i++) {
        int k = inherited[i];
        if (!found[k])
            found[k] = lookup_in(d, &d->scope_attrs, k);
        if (!found[k])
            found[k] = lookup_in(d, &d->resource_attrs, k);
    }

    span.trace_id = raw->trace_id;
    span.span_id = raw->span_id;
    span.parent_span_id = raw->has_parent ? raw->parent_id : NULL;
    span.name = raw->name ? scratch_strcopy(&d->scratch, raw->name, raw->name_len) : NULL;
    span.start_us = (int64_t)(raw->start_ns / 1000);
    span.end_us = (int64_t)(raw->end_ns / 1000);
    span.status = raw->status_code == 2   ? SPAN_STATUS_ERROR
                  : raw->status_code == 1 ? SPAN_STATUS_OK
                                          : SPAN_STATUS_UNSET;

    const otlp_attr_t *op = found[K_GENAI_OPERATION], *oi = found[K_OI_SPAN_KIND];
    bool is_llm = attr_is(op, "chat") || attr_is(op, "text_completion") ||
                  attr_is(op, "generate_content") || attr_is(op, "embeddings") ||
                  attr_is(oi, "LLM") || attr_is(oi, "EMBEDDING");
    bool is_tool = attr_is(op, "execute_tool") || attr_is(oi, "TOOL");
    bool is_agent = attr_is(op, "invoke_agent") || attr_is(op, "invoke_workflow") ||
                    attr_is(oi, "AGENT") || attr_is(oi, "CHAIN");
    if (dag_id_attr || !raw->has_parent)
        span.kind = SPAN_KIND_RUN;
    else if (is_llm)
        span.kind = SPAN_KIND_LLM;
    else if (is_tool)
        span.kind = SPAN_KIND_TOOL;
    else if (found[K_DAG_NODE_ID] || is_agent)
        span.kind = SPAN_KIND_NODE;
    else
        span.kind = SPAN_KIND_OTHER;

    if (found[K_DAG_NODE_ID]) {
        static const int keys[] = {K_DAG_NODE_ID};
        span.node_id = first_text(d, found, keys, 1);
    } else if (span.kind == SPAN_KIND_NODE) {
        static const int keys[] = {K_GENAI_AGENT_NAME};
        span.node_id = first_text(d, found, keys, COUNT_OF(keys));
        if (!span.node_id)
            span.node_id = span.name;
    }

    if (span.kind == SPAN_KIND_RUN) {
        static const int keys[] = {K_DAG_ID, K_GENAI_AGENT_NAME};
        span.dag_id = first_text(d, found, keys, COUNT_OF(keys));
        if (!span.dag_id && span.name && *span.name)
            span.dag_id = span.name;
        if (!span.dag_id) {
            static const int service[] = {K_SERVICE_NAME};
            span.dag_id = first_text(d, found, service, 1);
        }
    }

    if (span.kind == SPAN_KIND_NODE) {
        int64_t attempt = 0;
        if (found[K_DAG_DEPENDS_ON] && map_depends_on(d, found[K_DAG_DEPENDS_ON], &depends_count))
            goto oom;
        span.depends_on = d->depends_on;
        span.depends_on_count = depends_count;
        if (found[K_DAG_ATTEMPT] && attr_int(found[K_DAG_ATTEMPT], &attempt)) {
            if (attempt > 0)
                span.attempt = attempt > INT32_MAX ? INT32_MAX : (int32_t)attempt;
        } else if (pass_count < OTLP_MAX_PASS_ATTRS) {
            d->pass[pass_count].key = OTLP_ATTEMPT_BY_NAME_ATTRIBUTE;
            d->pass[pass_count].value = "1";
            pass_count++;
        }
    }

    if (span.kind == SPAN_KIND_LLM) {
        static const int model[] = {K_GENAI_RESPONSE_MODEL, K_GENAI_REQUEST_MODEL,
                                    K_LLM_RESPONSE_MODEL_NAME, K_LLM_MODEL_NAME,
                                    K_LLM_REQUEST_MODEL_NAME};
        static const int provider[] = {K_GENAI_PROVIDER, K_GENAI_SYSTEM, K_LLM_PROVIDER,
                                       K_LLM_SYSTEM};
        static const int input[] = {K_GENAI_INPUT_TOKENS, K_GENAI_PROMPT_TOKENS, K_LLM_PROMPT};
        static const int output[] = {K_GENAI_OUTPUT_TOKENS, K_GENAI_COMPLETION_TOKENS,
                                     K_LLM_COMPLETION};
        static const int cache_read[] = {K_GENAI_CACHE_READ, K_LLM_CACHE_READ};
        static const int cache_write[] = {K_GENAI_CACHE_CREATION, K_GENAI_CACHE_WRITE,
                                          K_LLM_CACHE_WRITE};
        static const int reasoning[] = {K_GENAI_REASONING, K_LLM_REASONING};
        span.model = first_text(d, found, model, COUNT_OF(model));
        span.provider = first_text(d, found, provider, COUNT_OF(provider));
        span.input_tokens = first_int(found, input, COUNT_OF(input));
        span.output_tokens = first_int(found, output, COUNT_OF(output));
        span.cache_read_tokens = first_int(found, cache_read, COUNT_OF(cache_read));
        span.cache_write_tokens = first_int(found, cache_write, COUNT_OF(cache_write));
        span.reasoning_tokens = first_int(found, reasoning, COUNT_OF(reasoning));
    }

    if (span.kind == SPAN_KIND_TOOL) {
        static const int tool[] = {K_GENAI_TOOL_NAME, K_TOOL_NAME};
        span.tool_name = first_text(d, found, tool, COUNT_OF(tool));
        if (!span.tool_name)
            span.tool_name = span.name;
    }

    /* Links name span ids; the trace resolves those of node spans to node ids
     * (trace_resolve_links), since the linked span may come in another message. */
    if (raw->link_count && span.kind == SPAN_KIND_NODE && pass_count < OTLP_MAX_PASS_ATTRS) {
        char *list = scratch_alloc(&d->scratch, raw->link_count * 17);
        if (!list)
            goto oom;
        size_t pos = 0;
        for (size_t i = 0; i < raw->link_count; i++) {
            if (i)
                list[pos++] = ',';
            memcpy(list + pos, raw->links[i], 16);
            pos += 16;
        }
        list[pos] = '\0';
        d->pass[pass_count].key = OTLP_LINKS_ATTRIBUTE;
        d->pass[pass_count].value = list;
        pass_count++;
    }
    if (dropped && pass_count < OTLP_MAX_PASS_ATTRS + 1) {
        char *text = scratch_alloc(&d->scratch, 24);
        if (!text)
            goto oom;
        snprintf(text, 24, "%zu", dropped);
        if (pass_count == OTLP_MAX_PASS_ATTRS)
            pass_count--; /* the count of what was dropped matters more than one value */
        d->pass[pass_count].key = "otlp.dropped_attributes";
        d->pass[pass_count].value = text;
        pass_count++;
    }
    span.attributes = d->pass;
    span.attribute_count = pass_count;

    rc = d->on_span(d->opaque, &span);
    d->emitted++;
    scratch_reset(&d->scratch);
    return rc;
oom:
    scratch_reset(&d->scratch);
    d->out_of_memory = true;
    return -1;
}

/* ---- protobuf walk ---- */

static const char *wire_field_name(uint32_t number) {
    switch (number) {
    case 1:
        return "trace_id";
    case 2:
        return "span_id";
    case 4:
        return "parent_span_id";
    case 5:
        return "name";
    case 7:
        return "start_time_unix_nano";
    case 8:
        return "end_time_unix_nano";
    case 9:
        return "attributes";
    case 13:
        return "links";
    case 15:
        return "status";
    default:
        return "field";
    }
}

/* One KeyValue into `list`. 0, or -1 (wire type / truncation: the enclosing
 * message is broken), -2 dropped (reported). `where` names the span. */
static int proto_attr(otlp_decoder_t *d, attr_list_t *list, const uint8_t *data, size_t len,
                      const char *where) {
    pb_t p = {data, data + len};
    pb_field_t f;
    int rc;
    const uint8_t *key = NULL, *value = NULL;
    size_t key_len = 0, value_len = 0;
    while ((rc = pb_next(&p, &f)) == PB_FIELD) {
        if (f.number == 1) {
            if (f.wire_type != 2)
                return -1;
            key = f.data, key_len = f.len;
        } else if (f.number == 2) {
            if (f.wire_type != 2)
                return -1;
            value = f.data, value_len = f.len;
        }
    }
    if (rc != PB_END)
        return -1;
    if (!key)
        return -2;
    if (!utf8_valid((const char *)key, key_len)) {
        reject(d, "otlp_utf8", "%s: an attribute key is not valid UTF-8; attribute dropped", where);
        return -2;
    }
    otlp_attr_t tmp = {0};
    tmp.key = (const char *)key;
    tmp.key_len = key_len;
    if (value) {
        pb_t v = {value, value + value_len};
        while ((rc = pb_next(&v, &f)) == PB_FIELD) {
            switch (f.number) {
            case 1:
            case 7:
                if (f.wire_type != 2)
                    return -1;
                tmp.type = f.number == 1 ? AV_STRING : AV_BYTES;
                tmp.str = (const char *)f.data, tmp.str_len = f.len;
                break;
            case 2:
            case 3:
                if (f.wire_type != 0)
                    return -1;
                tmp.type = f.number == 2 ? AV_BOOL : AV_INT;
                tmp.i = f.number == 2 ? (f.value != 0) : (int64_t)f.value;
                break;
            case 4:
                if (f.wire_type != 1)
                    return -1;
                tmp.type = AV_DOUBLE;
                memcpy(&tmp.d, &f.value, sizeof tmp.d);
                break;
            case 5:
            case 6:
                if (f.wire_type != 2)
                    return -1;
                tmp.type = f.number == 5 ? AV_ARRAY : AV_KVLIST;
                tmp.body = f.data, tmp.body_len = f.len;
                break;
            default:
                break;
            }
        }
        if (rc != PB_END)
            return -1;
    }
    size_t size = tmp.type == AV_ARRAY || tmp.type == AV_KVLIST ? tmp.body_len : tmp.str_len;
    if (size > OTLP_MAX_VALUE_BYTES) {
        reject(d, "otlp_too_large",
               "%s: attribute %.*s holds %zu bytes, more than %d; attribute dropped", where,
               (int)(key_len > 128 ? 128 : key_len), (const char *)key, size,
               OTLP_MAX_VALUE_BYTES);
        return -2;
    }
    if (tmp.type == AV_STRING && !utf8_valid(tmp.str, tmp.str_len)) {
        reject(d, "otlp_utf8", "%s: attribute %.*s is not valid UTF-8; attribute dropped", where,
               (int)(key_len > 128 ? 128 : key_len), (const char *)key);
        return -2;
    }
    otlp_attr_t *a = attr_push(d, list);
    if (!a)
        return -3;
    *a = tmp;
    return 0;
}

static int proto_attrs_of(otlp_decoder_t *d, attr_list_t *list, const uint8_t *data, size_t len,
                          uint32_t attr_field, const char *where) {
    pb_t p = {data, data + len};
    pb_field_t f;
    int rc;
    while ((rc = pb_next(&p, &f)) == PB_FIELD) {
        if (f.number == attr_field && f.wire_type == 2) {
            int arc = proto_attr(d, list, f.data, f.len, where);
            if (arc == -3)
                return -1;
            if (arc == -1)
                reject(d, "otlp_wire_type", "%s: a malformed attribute skipped", where);
        }
    }
    if (rc != PB_END)
        reject(d, rc == PB_TRUNCATED ? "otlp_truncated" : "otlp_wire_type",
               "%s: attributes cut short by a %s", where,
               rc == PB_TRUNCATED ? "truncated field" : "malformed field");
    return 0;
}

static void span_where(const raw_span_t *raw, char *out, size_t size) {
    if (raw->has_span_id && raw->has_trace_id)
        snprintf(out, size, "span %s of trace %s", raw->span_id, raw->trace_id);
    else if (raw->has_span_id)
        snprintf(out, size, "span %s", raw->span_id);
    else if (raw->has_trace_id)
        snprintf(out, size, "a span of trace %s", raw->trace_id);
    else
        snprintf(out, size, "a span");
}

static int proto_id(const pb_field_t *f, size_t bytes, char *out) {
    if (f->len != bytes)
        return -1;
    hex_encode(f->data, bytes, out);
    return 0;
}

/* One Span. Returns the callback's value, 0 when it was rejected, -1 on out of memory. */
static int proto_span(otlp_decoder_t *d, const uint8_t *data, size_t len, bool truncated) {
    raw_span_t raw;
    pb_t p = {data, data + len};
    pb_field_t f;
    int rc;
    char where[128];
    const uint8_t *status = NULL;
    size_t status_len = 0;

    memset(&raw, 0, sizeof raw);
    d->span_attrs.count = 0;
    raw.attrs = &d->span_attrs;
    /* Ids first: every message about the span names them. */
    while ((rc = pb_next(&p, &f)) == PB_FIELD) {
        if (f.wire_type != 2 || (f.number != 1 && f.number != 2))
            continue;
        if (f.number == 1 && f.len == 16) {
            hex_encode(f.data, 16, raw.trace_id);
            raw.has_trace_id = true;
        } else if (f.number == 2 && f.len == 8) {
            hex_encode(f.data, 8, raw.span_id);
            raw.has_span_id = true;
        }
    }
    span_where(&raw, where, sizeof where);
    if (truncated || rc == PB_TRUNCATED) {
        reject(d, "otlp_truncated", "%s: the message ends inside the span; span dropped", where);
        return 0;
    }
    raw.has_trace_id = raw.has_span_id = false;
    p.pos = data;
    while ((rc = pb_next(&p, &f)) == PB_FIELD) {
        uint32_t want;
        switch (f.number) {
        case 1:
        case 2:
        case 4:
        case 5:
        case 9:
        case 13:
        case 15:
            want = 2;
            break;
        case 6:
            want = 0;
            break;
        case 7:
        case 8:
            want = 1;
            break;
        default:
            continue; /* unknown or unused: trace_state, flags, events, counts */
        }
        if (f.wire_type != want) {
            reject(d, "otlp_wire_type", "%s: %s (field %u) has wire type %u, expected %u; span dropped",
                   where, wire_field_name(f.number), f.number, f.wire_type, want);
            return 0;
        }
        switch (f.number) {
        case 1:
            if (proto_id(&f, 16, raw.trace_id) != 0) {
                reject(d, "otlp_id_length", "%s: trace_id of %zu bytes, expected 16; span dropped",
                       where, f.len);
                return 0;
            }
            raw.has_trace_id = true;
            break;
        case 2:
            if (proto_id(&f, 8, raw.span_id) != 0) {
                reject(d, "otlp_id_length", "%s: span_id of %zu bytes, expected 8; span dropped",
                       where, f.len);
                return 0;
            }
            raw.has_span_id = true;
            break;
        case 4:
            if (f.len == 0)
                break;
            if (proto_id(&f, 8, raw.parent_id) != 0) {
                reject(d, "otlp_id_length",
                       "%s: parent_span_id of %zu bytes, expected 8; span dropped", where, f.len);
                return 0;
            }
            raw.has_parent = !all_zero(raw.parent_id);
            break;
        case 5:
            if (!utf8_valid((const char *)f.data, f.len)) {
                reject(d, "otlp_utf8", "%s: the name is not valid UTF-8; name dropped", where);
                raw.name = NULL;
                break;
            }
            if (f.len > OTLP_MAX_VALUE_BYTES) {
                reject(d, "otlp_too_large", "%s: a name of %zu bytes; name dropped", where, f.len);
                break;
            }
            raw.name = (const char *)f.data;
            raw.name_len = f.len;
            break;
        case 7:
            raw.start_ns = f.value;
            break;
        case 8:
            raw.end_ns = f.value;
            break;
        case 9: {
            int arc = proto_attr(d, &d->span_attrs, f.data, f.len, where);
            if (arc == -3)
                return -1;
            if (arc == -1) {
                reject(d, "otlp_wire_type", "%s: a malformed attribute; span dropped", where);
                return 0;
            }
            break;
        }
        case 13: {
            pb_t link = {f.data, f.data + f.len};
            pb_field_t lf;
            while (pb_next(&link, &lf) == PB_FIELD) {
                if (lf.number != 2 || lf.wire_type != 2)
                    continue;
                if (lf.len != 8) {
                    reject(d, "otlp_id_length", "%s: a link's span_id of %zu bytes; link ignored",
                           where, lf.len);
                    continue;
                }
                if (raw.link_count == d->links_cap) {
                    size_t cap = d->links_cap ? d->links_cap * 2 : 8;
                    char(*grown)[17] = realloc(d->links, cap * sizeof *grown);
                    if (!grown)
                        return -1;
                    d->links = grown;
                    d->links_cap = cap;
                }
                raw.links = d->links;
                hex_encode(lf.data, 8, d->links[raw.link_count++]);
            }
            break;
        }
        case 15:
            status = f.data;
            status_len = f.len;
            break;
        default:
            break;
        }
    }
    if (rc != PB_END) {
        reject(d, rc == PB_TRUNCATED ? "otlp_truncated" : "otlp_wire_type",
               "%s: a malformed field; span dropped", where);
        return 0;
    }
    if (status) {
        pb_t s = {status, status + status_len};
        while (pb_next(&s, &f) == PB_FIELD)
            if (f.number == 3 && f.wire_type == 0)
                raw.status_code = (int)(f.value & 0xff);
    }
    if (!raw.has_trace_id || !raw.has_span_id) {
        reject(d, "otlp_id_length", "%s: %s missing; span dropped", where,
               raw.has_trace_id ? "span_id" : "trace_id");
        return 0;
    }
    if (all_zero(raw.trace_id) || all_zero(raw.span_id)) {
        reject(d, "otlp_id_invalid", "%s: an all-zero id; span dropped", where);
        return 0;
    }
    if (raw.end_ns < raw.start_ns) {
        reject(d, "otlp_time", "%s: ends before it starts; span dropped", where);
        return 0;
    }
    return emit(d, &raw);
}

/* ResourceSpans and ScopeSpans have one shape: field 1 is the message whose
 * attributes every span below inherits, field 2 repeats the level below. */
typedef int (*proto_child_fn)(otlp_decoder_t *d, const uint8_t *data, size_t len,
                              bool truncated);

typedef struct proto_level {
    const char *name;     /* "scope spans", in every message */
    const char *holder;   /* "scope": what field 1 is */
    const char *children; /* "spans": what field 2 is */
    const char *attrs_of; /* "the instrumentation scope": whose attributes */
    uint32_t attrs_field; /* the attributes' field number inside field 1 */
    proto_child_fn child;
} proto_level_t;

static int proto_level(otlp_decoder_t *d, const proto_level_t *level, attr_list_t *attrs,
                       const uint8_t *data, size_t len, bool truncated) {
    pb_t p = {data, data + len};
    pb_field_t f;
    int rc;
    attrs->count = 0;
    while ((rc = pb_next(&p, &f)) == PB_FIELD)
        if (f.number == 1 && f.wire_type == 2 &&
            proto_attrs_of(d, attrs, f.data, f.len, level->attrs_field, level->attrs_of) != 0)
            return -1;
    p.pos = data;
    while ((rc = pb_next(&p, &f)) != PB_END) {
        if (rc == PB_BAD_WIRE) {
            reject(d, "otlp_wire_type", "%s: a malformed field; the rest of the %s skipped",
                   level->name, level->holder);
            return 0;
        }
        if (rc == PB_TRUNCATED && (f.number != 2 || f.wire_type != 2)) {
            reject(d, "otlp_truncated", "%s: the message ends inside the %s", level->name,
                   level->holder);
            return 0;
        }
        if (f.number != 2)
            continue;
        if (f.wire_type != 2) {
            reject(d, "otlp_wire_type", "%s: %s (field 2) has wire type %u, expected 2",
                   level->name, level->children, f.wire_type);
            continue;
        }
        int src = level->child(d, f.data, f.len, truncated && rc == PB_TRUNCATED);
        if (src != 0)
            return src;
        if (rc == PB_TRUNCATED)
            break;
    }
    return 0;
}

static int proto_scope_spans(otlp_decoder_t *d, const uint8_t *data, size_t len, bool truncated) {
    static const proto_level_t level = {"scope spans", "scope", "spans",
                                        "the instrumentation scope", 3, proto_span};
    return proto_level(d, &level, &d->scope_attrs, data, len, truncated);
}

static int proto_resource_spans(otlp_decoder_t *d, const uint8_t *data, size_t len,
                                bool truncated) {
    static const proto_level_t level = {"resource spans", "resource", "scope_spans",
                                        "the resource", 1, proto_scope_spans};
    return proto_level(d, &level, &d->resource_attrs, data, len, truncated);
}

static void begin(otlp_decoder_t *d, otlp_span_fn on_span, otlp_reject_fn on_reject,
                  void *opaque) {
    d->on_span = on_span;
    d->on_reject = on_reject;
    d->opaque = opaque;
    d->emitted = 0;
    d->out_of_memory = false;
    scratch_reset(&d->scratch);
}

int otlp_decode_proto(otlp_decoder_t *d, const void *buf, size_t len, otlp_span_fn on_span,
                      otlp_reject_fn on_reject, void *opaque, char *errstr, size_t errstr_size) {
    pb_t p = {buf, (const uint8_t *)buf + len};
    pb_field_t f;
    int rc;
    size_t resources = 0;
    begin(d, on_span, on_reject, opaque);
    if (!buf || len == 0) {
        snprintf(errstr, errstr_size, "otlp_proto: empty message");
        return -1;
    }
    while ((rc = pb_next(&p, &f)) != PB_END) {
        if (rc == PB_BAD_WIRE) {
            if (resources == 0) {
                snprintf(errstr, errstr_size,
                         "otlp_proto: not an ExportTraceServiceRequest (malformed field at byte %zu)",
                         (size_t)(p.pos - (const uint8_t *)buf));
                return -1;
            }
            reject(d, "otlp_wire_type", "request: a malformed field after %zu resources; the rest skipped",
                   resources);
            break;
        }
        if (rc == PB_TRUNCATED && (f.number != 1 || f.wire_type != 2 || f.len == 0)) {
            if (resources == 0) {
                snprintf(errstr, errstr_size, "otlp_proto: truncated before the first resource");
                return -1;
            }
            reject(d, "otlp_truncated", "request: the message ends after %zu resources", resources);
            break;
        }
        if (f.number != 1)
            continue;
        if (f.wire_type != 2) {
            if (resources == 0 && p.pos >= p.end) {
                snprintf(errstr, errstr_size,
                         "otlp_proto: resource_spans (field 1) has wire type %u, expected 2",
                         f.wire_type);
                return -1;
            }
            reject(d, "otlp_wire_type",
                   "request: resource_spans (field 1) has wire type %u, expected 2", f.wire_type);
            continue;
        }
        resources++;
        int src = proto_resource_spans(d, f.data, f.len, rc == PB_TRUNCATED);
        if (d->out_of_memory) {
            snprintf(errstr, errstr_size, "otlp_proto: out of memory");
            return -1;
        }
        if (src != 0)
            return src;
        if (rc == PB_TRUNCATED)
            break;
    }
    return 0;
}

/* ---- OTLP/JSON walk ---- */

static const json_t *jget(const json_t *obj, const char *camel, const char *snake) {
    const json_t *v = json_object_get(obj, camel);
    /* The spec asks for lowerCamelCase; protobuf's JSON parsers accept both. */
    return v ? v : snake ? json_object_get(obj, snake) : NULL;
}

static int json_attrs(otlp_decoder_t *d, attr_list_t *list, const json_t *array,
                      const char *where) {
    if (!json_is_array(array))
        return 0;
    for (size_t i = 0; i < json_array_size(array); i++) {
        const json_t *kv = json_array_get(array, i);
        const json_t *key = json_object_get(kv, "key");
        const json_t *value = json_object_get(kv, "value");
        if (!json_is_string(key)) {
            reject(d, "otlp_json_field", "%s: an attribute without a string key skipped", where);
            continue;
        }
        otlp_attr_t tmp = {0};
        tmp.key = json_string_value(key);
        tmp.key_len = json_string_length(key);
        const json_t *v;
        size_t size = 0;
        if (!json_is_object(value)) {
            tmp.type = AV_EMPTY;
        } else if ((v = json_object_get(value, "stringValue")) && json_is_string(v)) {
            tmp.type = AV_STRING;
            tmp.str = json_string_value(v), tmp.str_len = json_string_length(v);
            size = tmp.str_len;
        } else if ((v = json_object_get(value, "boolValue")) && json_is_boolean(v)) {
            tmp.type = AV_BOOL;
            tmp.i = json_is_true(v);
        } else if ((v = jget(value, "intValue", "int_value")) && json_int64(v, &tmp.i)) {
            tmp.type = AV_INT;
        } else if ((v = json_object_get(value, "doubleValue")) && json_is_number(v)) {
            tmp.type = AV_DOUBLE;
            tmp.d = json_number_value(v);
        } else if ((v = json_object_get(value, "bytesValue")) && json_is_string(v)) {
            tmp.type = AV_BYTES;
            tmp.str = json_string_value(v), tmp.str_len = json_string_length(v);
            tmp.json = v;
            size = tmp.str_len;
        } else if ((v = json_object_get(value, "arrayValue")) ||
                   (v = json_object_get(value, "kvlistValue"))) {
            tmp.type = json_object_get(value, "arrayValue") ? AV_ARRAY : AV_KVLIST;
            tmp.json = json_object_get(v, "values");
            if (!json_is_array(tmp.json))
                tmp.json = NULL, tmp.type = AV_EMPTY;
        }
        if (size > OTLP_MAX_VALUE_BYTES) {
            reject(d, "otlp_too_large",
                   "%s: attribute %.128s holds %zu bytes, more than %d; attribute dropped", where,
                   tmp.key, size, OTLP_MAX_VALUE_BYTES);
            continue;
        }
        otlp_attr_t *a = attr_push(d, list);
        if (!a)
            return -1;
        *a = tmp;
    }
    return 0;
}

static bool json_uint64(const json_t *value, uint64_t *out) {
    if (json_is_integer(value) && json_integer_value(value) >= 0) {
        *out = (uint64_t)json_integer_value(value);
        return true;
    }
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        char *end;
        if (!*text || *text == '-')
            return false;
        unsigned long long v = strtoull(text, &end, 10);
        if (*end)
            return false;
        *out = v;
        return true;
    }
    if (json_is_real(value) && json_real_value(value) >= 0 && json_real_value(value) < 1.8e19) {
        *out = (uint64_t)json_real_value(value);
        return true;
    }
    return false;
}

static int json_span(otlp_decoder_t *d, const json_t *obj) {
    raw_span_t raw;
    char where[128];
    const json_t *v;
    memset(&raw, 0, sizeof raw);
    d->span_attrs.count = 0;
    raw.attrs = &d->span_attrs;
    const json_t *trace_id = jget(obj, "traceId", "trace_id");
    const json_t *span_id = jget(obj, "spanId", "span_id");
    raw.has_trace_id = json_is_string(trace_id) &&
                       hex_normalise(json_string_value(trace_id), json_string_length(trace_id),
                                     16, raw.trace_id);
    raw.has_span_id = json_is_string(span_id) &&
                      hex_normalise(json_string_value(span_id), json_string_length(span_id), 8,
                                    raw.span_id);
    span_where(&raw, where, sizeof where);
    if (!raw.has_trace_id || !raw.has_span_id) {
        const json_t *bad = raw.has_trace_id ? span_id : trace_id;
        reject(d, "otlp_id_length", "%s: %s %s%s%s is not %d hex digits; span dropped", where,
               raw.has_trace_id ? "spanId" : "traceId", json_is_string(bad) ? "\"" : "",
               json_is_string(bad) ? json_string_value(bad) : "missing",
               json_is_string(bad) ? "\"" : "", raw.has_trace_id ? 16 : 32);
        return 0;
    }
    if (all_zero(raw.trace_id) || all_zero(raw.span_id)) {
        reject(d, "otlp_id_invalid", "%s: an all-zero id; span dropped", where);
        return 0;
    }
    const json_t *parent = jget(obj, "parentSpanId", "parent_span_id");
    if (json_is_string(parent) && json_string_length(parent) > 0) {
        if (!hex_normalise(json_string_value(parent), json_string_length(parent), 8,
                           raw.parent_id)) {
            reject(d, "otlp_id_length", "%s: parentSpanId \"%.40s\" is not 16 hex digits; span dropped",
                   where, json_string_value(parent));
            return 0;
        }
        raw.has_parent = !all_zero(raw.parent_id);
    }
    if ((v = json_object_get(obj, "name")) && json_is_string(v)) {
        raw.name = json_string_value(v);
        raw.name_len = json_string_length(v);
        if (raw.name_len > OTLP_MAX_VALUE_BYTES) {
            reject(d, "otlp_too_large", "%s: a name of %zu bytes; name dropped", where,
                   raw.name_len);
            raw.name = NULL;
        }
    }
    const json_t *start = jget(obj, "startTimeUnixNano", "start_time_unix_nano");
    const json_t *end = jget(obj, "endTimeUnixNano", "end_time_unix_nano");
    if ((start && !json_uint64(start, &raw.start_ns)) || (end && !json_uint64(end, &raw.end_ns))) {
        reject(d, "otlp_json_field", "%s: a time is not an unsigned integer; span dropped", where);
        return 0;
    }
    if (raw.end_ns < raw.start_ns) {
        reject(d, "otlp_time", "%s: ends before it starts; span dropped", where);
        return 0;
    }
    const json_t *status = json_object_get(obj, "status");
    if (json_is_object(status) && (v = json_object_get(status, "code"))) {
        int64_t code;
        if (json_int64(v, &code))
            raw.status_code = (int)code;
    }
    if (json_attrs(d, &d->span_attrs, json_object_get(obj, "attributes"), where) != 0)
        return -1;
    const json_t *links = json_object_get(obj, "links");
    for (size_t i = 0; json_is_array(links) && i < json_array_size(links); i++) {
        const json_t *link_span = jget(json_array_get(links, i), "spanId", "span_id");
        char id[17];
        if (!json_is_string(link_span) ||
            !hex_normalise(json_string_value(link_span), json_string_length(link_span), 8, id)) {
            reject(d, "otlp_id_length", "%s: a link's spanId is not 16 hex digits; link ignored",
                   where);
            continue;
        }
        if (raw.link_count == d->links_cap) {
            size_t cap = d->links_cap ? d->links_cap * 2 : 8;
            char(*grown)[17] = realloc(d->links, cap * sizeof *grown);
            if (!grown)
                return -1;
            d->links = grown;
            d->links_cap = cap;
        }
        raw.links = d->links;
        memcpy(d->links[raw.link_count++], id, 17);
    }
    return emit(d, &raw);
}

static int json_request(otlp_decoder_t *d, const json_t *root) {
    const json_t *resources = jget(root, "resourceSpans", "resource_spans");
    for (size_t r = 0; json_is_array(resources) && r < json_array_size(resources); r++) {
        const json_t *rs = json_array_get(resources, r);
        d->resource_attrs.count = 0;
        if (json_attrs(d, &d->resource_attrs,
                       json_object_get(json_object_get(rs, "resource"), "attributes"),
                       "the resource") != 0)
            return -1;
        const json_t *scopes = jget(rs, "scopeSpans", "scope_spans");
        for (size_t s = 0; json_is_array(scopes) && s < json_array_size(scopes); s++) {
            const json_t *ss = json_array_get(scopes, s);
            d->scope_attrs.count = 0;
            if (json_attrs(d, &d->scope_attrs,
                           json_object_get(json_object_get(ss, "scope"), "attributes"),
                           "the instrumentation scope") != 0)
                return -1;
            const json_t *spans = json_object_get(ss, "spans");
            for (size_t i = 0; json_is_array(spans) && i < json_array_size(spans); i++) {
                const json_t *span = json_array_get(spans, i);
                if (!json_is_object(span)) {
                    reject(d, "otlp_json_field", "scope spans: span %zu is not an object; skipped",
                           i);
                    continue;
                }
                int rc = json_span(d, span);
                if (rc != 0)
                    return rc;
            }
        }
    }
    return 0;
}

int otlp_decode_json(otlp_decoder_t *d, const char *text, size_t len, otlp_span_fn on_span,
                     otlp_reject_fn on_reject, void *opaque, char *errstr, size_t errstr_size) {
    json_error_t error;
    begin(d, on_span, on_reject, opaque);
    if (!text || len == 0) {
        snprintf(errstr, errstr_size, "otlp_json: empty message");
        return -1;
    }
    json_t *root = json_loadb(text, len, 0, &error);
    if (!root) {
        snprintf(errstr, errstr_size, "otlp_json: line %d column %d: %s", error.line,
                 error.column, error.text);
        return -1;
    }
    if (!json_is_object(root) || !json_is_array(jget(root, "resourceSpans", "resource_spans"))) {
        json_decref(root);
        snprintf(errstr, errstr_size,
                 "otlp_json: not an ExportTraceServiceRequest (no resourceSpans array)");
        return -1;
    }
    int rc = json_request(d, root);
    json_decref(root);
    if (d->out_of_memory) {
        snprintf(errstr, errstr_size, "otlp_json: out of memory");
        return -1;
    }
    return rc;
}
