/* test_otlp.c -- OTLP protobuf and OTLP/JSON decoded and mapped to span events. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "offline.h"
#include "otlp.h"
#include "otlp_pb.h"
#include "pricing.h"
#include "profile.h"
#include "profile_json.h"
#include "span_codec.h"
#include "trace.h"

#define ERRSTR_BYTES 512

static otlp_decoder_t *decoder;
static char errstr[ERRSTR_BYTES];

/* What a decode produced: each span as its SpanEvent JSON, each rejection. */
typedef struct collected {
    json_t *spans;   /* array of span objects */
    json_t *rejects; /* array of {"kind", "reason"} */
    trace_t *trace;  /* every span added, for profiling */
    int stop_after;  /* >0: return 7 from the callback after this many spans */
    long count;
} collected_t;

static int on_span(void *opaque, const span_t *span) {
    collected_t *c = opaque;
    c->count++;
    if (c->spans) {
        buf_t out = BUF_INIT;
        ck_assert_int_eq(span_codec_encode_json(span, &out), 0);
        json_t *obj = json_loadb(out.data, out.len, 0, NULL);
        ck_assert_ptr_nonnull(obj);
        json_array_append_new(c->spans, obj);
        buf_free(&out);
    }
    if (c->trace) {
        char err[256];
        ck_assert_int_eq(trace_add_span(c->trace, span, err, sizeof err), TRACE_ADD_OK);
    }
    if (c->stop_after > 0 && c->count == c->stop_after)
        return 7;
    return 0;
}

static void on_reject(void *opaque, const char *kind, const char *reason) {
    collected_t *c = opaque;
    json_array_append_new(c->rejects, json_pack("{ssss}", "kind", kind, "reason", reason));
}

static void collected_init(collected_t *c) {
    memset(c, 0, sizeof *c);
    c->spans = json_array();
    c->rejects = json_array();
    c->trace = trace_new();
}

static void collected_free(collected_t *c) {
    json_decref(c->spans);
    json_decref(c->rejects);
    trace_free(c->trace);
}

static void setup(void) {
    decoder = otlp_decoder_new(errstr, sizeof errstr);
    ck_assert_msg(decoder != NULL, "otlp_decoder_new: %s", errstr);
    errstr[0] = '\0';
}

static void teardown(void) {
    otlp_decoder_free(decoder);
    decoder = NULL;
}

static char *read_fixture(const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", DAGPROF_FIXTURES, name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    buf_t text = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        ck_assert_int_eq(buf_append(&text, chunk, n), 0);
    fclose(fp);
    *len = text.len;
    return text.data;
}

static const json_t *span_by_id(const collected_t *c, const char *span_id) {
    for (size_t i = 0; i < json_array_size(c->spans); i++) {
        const json_t *s = json_array_get(c->spans, i);
        if (strcmp(json_string_value(json_object_get(s, "span_id")), span_id) == 0)
            return s;
    }
    ck_abort_msg("span %s not decoded", span_id);
    return NULL;
}

static const char *str_of(const json_t *s, const char *field) {
    const json_t *v = json_object_get(s, field);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long int_of(const json_t *s, const char *field) {
    return (long long)json_integer_value(json_object_get(s, field));
}

static const char *attr_of(const json_t *s, const char *key) {
    return str_of(json_object_get(s, "attributes"), key);
}

static void assert_str(const json_t *s, const char *field, const char *want) {
    const char *got = str_of(s, field);
    if (!want) {
        ck_assert_msg(got == NULL, "%s: %s, expected null", field, got);
        return;
    }
    ck_assert_msg(got && strcmp(got, want) == 0, "%s: %s, expected %s", field,
                  got ? got : "null", want);
}

static void decode_json_fixture(const char *name, collected_t *c) {
    size_t len;
    char *text = read_fixture(name, &len);
    int rc = otlp_decode_json(decoder, text, len, on_span, on_reject, c, errstr, sizeof errstr);
    ck_assert_msg(rc == 0, "%s: %s", name, errstr);
    free(text);
}

START_TEST(test_genai_mapping) {
    collected_t c;
    collected_init(&c);
    decode_json_fixture("otlp_genai.json", &c);
    ck_assert_int_eq(json_array_size(c.spans), 9);
    ck_assert_int_eq(json_array_size(c.rejects), 0);

    const json_t *run = span_by_id(&c, "a000000000000001");
    assert_str(run, "trace_id", "0af7651916cd43dd8448eb211c80319c");
    assert_str(run, "kind", "run");
    assert_str(run, "dag_id", "research");
    assert_str(run, "parent_span_id", NULL);
    assert_str(run, "status", "ok");
    ck_assert_int_eq(int_of(run, "start_us"), 1700000000000000LL);
    ck_assert_int_eq(int_of(run, "end_us"), 1700000010000000LL);

    const json_t *planner = span_by_id(&c, "b000000000000002");
    assert_str(planner, "kind", "node");
    assert_str(planner, "node_id", "planner");
    assert_str(planner, "parent_span_id", "a000000000000001");

    const json_t *llm = span_by_id(&c, "c000000000000003");
    assert_str(llm, "kind", "llm");
    assert_str(llm, "model", "claude-sonnet-4-5-20250929");
    assert_str(llm, "provider", "anthropic");
    assert_str(llm, "node_id", NULL);
    assert_str(llm, "status", "unset");
    ck_assert_int_eq(int_of(llm, "input_tokens"), 1200);
    ck_assert_int_eq(int_of(llm, "output_tokens"), 300);
    ck_assert_int_eq(int_of(llm, "cache_read_tokens"), 200);
    ck_assert_int_eq(int_of(llm, "cache_write_tokens"), 100);
    ck_assert_int_eq(int_of(llm, "reasoning_tokens"), 50);
    ck_assert_int_eq(int_of(llm, "start_us"), 1700000000100000LL);

    const json_t *searcher = span_by_id(&c, "d000000000000004");
    assert_str(searcher, "kind", "node");
    assert_str(searcher, "node_id", "searcher");
    assert_str(searcher, OTLP_LINKS_ATTRIBUTE, NULL);
    ck_assert_str_eq(attr_of(searcher, OTLP_LINKS_ATTRIBUTE), "b000000000000002");

    const json_t *tool = span_by_id(&c, "e000000000000005");
    assert_str(tool, "kind", "tool");
    assert_str(tool, "tool_name", "web_search");
    assert_str(tool, "status", "error");

    /* Older token names; provider from gen_ai.system; request model only. */
    const json_t *older = span_by_id(&c, "f000000000000006");
    assert_str(older, "kind", "llm");
    assert_str(older, "model", "gpt-4o");
    assert_str(older, "provider", "openai");
    ck_assert_int_eq(int_of(older, "input_tokens"), 500);
    ck_assert_int_eq(int_of(older, "output_tokens"), 100);
    ck_assert_int_eq(int_of(older, "cache_read_tokens"), 0);

    const json_t *writer = span_by_id(&c, "1000000000000007");
    assert_str(writer, "kind", "node");
    assert_str(writer, "node_id", "writer");
    assert_str(writer, "status", "error");
    ck_assert_int_eq(int_of(writer, "attempt"), 0);
    const json_t *deps = json_object_get(writer, "depends_on");
    ck_assert_int_eq(json_array_size(deps), 2);
    ck_assert_str_eq(json_string_value(json_array_get(deps, 0)), "searcher");
    ck_assert_str_eq(json_string_value(json_array_get(deps, 1)), "planner");
    ck_assert_int_eq(int_of(span_by_id(&c, "2000000000000008"), "attempt"), 1);

    /* Everything else: other, its attributes kept, rendered as text. */
    const json_t *other = span_by_id(&c, "3000000000000009");
    assert_str(other, "kind", "other");
    assert_str(other, "name", "db.query");
    ck_assert_str_eq(attr_of(other, "db.system"), "postgresql");
    ck_assert_str_eq(attr_of(other, "db.rows"), "42");
    ck_assert_str_eq(attr_of(other, "cache.hit"), "true");
    ck_assert_str_eq(attr_of(other, "score"), "0.5");
    ck_assert_str_eq(attr_of(other, "tags"), "[\"a\",\"b\"]");
    ck_assert_int_eq(json_object_size(json_object_get(other, "attributes")), 5);
    collected_free(&c);
}
END_TEST

START_TEST(test_openinference_mapping) {
    collected_t c;
    collected_init(&c);
    decode_json_fixture("otlp_openinference.json", &c);
    ck_assert_int_eq(json_array_size(c.spans), 6);
    ck_assert_int_eq(json_array_size(c.rejects), 0);

    /* No dag.id, no agent name: the root's name is the dag. */
    const json_t *run = span_by_id(&c, "0100000000000001");
    assert_str(run, "kind", "run");
    assert_str(run, "dag_id", "qa_pipeline");

    const json_t *retriever = span_by_id(&c, "0200000000000002");
    assert_str(retriever, "kind", "node");
    assert_str(retriever, "node_id", "retriever");

    const json_t *tool = span_by_id(&c, "0300000000000003");
    assert_str(tool, "kind", "tool");
    assert_str(tool, "tool_name", "vector_search");

    const json_t *embed = span_by_id(&c, "0400000000000004");
    assert_str(embed, "kind", "llm");
    assert_str(embed, "model", "text-embedding-3-small");
    assert_str(embed, "provider", "openai");
    ck_assert_int_eq(int_of(embed, "input_tokens"), 64);

    const json_t *answerer = span_by_id(&c, "0500000000000005");
    assert_str(answerer, "node_id", "answerer");
    const json_t *deps = json_object_get(answerer, "depends_on");
    ck_assert_int_eq(json_array_size(deps), 1);
    ck_assert_str_eq(json_string_value(json_array_get(deps, 0)), "retriever");

    const json_t *llm = span_by_id(&c, "0600000000000006");
    assert_str(llm, "kind", "llm");
    assert_str(llm, "model", "gpt-4o-mini");
    assert_str(llm, "status", "ok");
    ck_assert_int_eq(int_of(llm, "input_tokens"), 800);
    ck_assert_int_eq(int_of(llm, "output_tokens"), 120);
    ck_assert_int_eq(int_of(llm, "cache_read_tokens"), 300);
    ck_assert_int_eq(int_of(llm, "cache_write_tokens"), 40);
    ck_assert_int_eq(int_of(llm, "reasoning_tokens"), 20);
    collected_free(&c);
}
END_TEST

static char *profile_text(const trace_t *trace) {
    profile_options_t options;
    profile_options_init(&options);
    options.profiled_at_us = 1;
    char err[256];
    profile_t *profile = profile_compute(trace, NULL, &options, err, sizeof err);
    ck_assert_msg(profile != NULL, "profile_compute: %s", err);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(profile_json_write(profile, &out), 0);
    profile_free(profile);
    return out.data;
}

static void assert_proto_equals_json(const char *fixture, size_t spans) {
    size_t len;
    char *text = read_fixture(fixture, &len);
    buf_t proto = BUF_INIT;
    ck_assert_int_eq(otlp_pb_from_json(text, len, &proto), 0);
    ck_assert_int_eq(wire_detect(proto.data, proto.len), WIRE_OTLP_PROTO);
    ck_assert_int_eq(wire_detect(text, len), WIRE_OTLP_JSON);

    collected_t from_json, from_proto;
    collected_init(&from_json);
    collected_init(&from_proto);
    ck_assert_int_eq(otlp_decode_json(decoder, text, len, on_span, on_reject, &from_json, errstr,
                                      sizeof errstr),
                     0);
    ck_assert_int_eq(otlp_decode_proto(decoder, proto.data, proto.len, on_span, on_reject,
                                       &from_proto, errstr, sizeof errstr),
                     0);
    ck_assert_int_eq(json_array_size(from_json.spans), spans);
    ck_assert_msg(json_equal(from_json.spans, from_proto.spans), "%s: spans differ", fixture);
    char *a = profile_text(from_json.trace), *b = profile_text(from_proto.trace);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    collected_free(&from_json);
    collected_free(&from_proto);
    buf_free(&proto);
    free(text);
}

START_TEST(test_json_and_proto_identical) {
    assert_proto_equals_json("otlp_genai.json", 9);
    assert_proto_equals_json("otlp_openinference.json", 6);
}
END_TEST

START_TEST(test_genai_profile_figures) {
    collected_t c;
    collected_init(&c);
    decode_json_fixture("otlp_genai.json", &c);
    char *text = profile_text(c.trace);
    json_t *profile = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(profile);
    const json_t *summary = json_object_get(profile, "summary");
    ck_assert_str_eq(json_string_value(json_object_get(profile, "dag_id")), "research");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "wall_us")), 10000000);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "node_count")), 3);
    const json_t *tokens = json_object_get(summary, "tokens");
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "input")), 1700);
    ck_assert_int_eq(json_integer_value(json_object_get(tokens, "output")), 400);
    /* Before the span link is resolved, searcher depends on nothing. */
    const json_t *path = json_object_get(profile, "critical_path");
    ck_assert_int_eq(json_array_size(path), 2);
    ck_assert_str_eq(json_string_value(json_array_get(path, 0)), "searcher");
    ck_assert_str_eq(json_string_value(json_array_get(path, 1)), "writer");
    json_decref(profile);
    free(text);

    /* searcher's link to planner's span makes planner one of its inputs. */
    ck_assert_int_eq(trace_resolve_span_dependencies(c.trace, OTLP_LINKS_ATTRIBUTE), 1);
    ck_assert_int_eq(trace_resolve_span_dependencies(c.trace, OTLP_LINKS_ATTRIBUTE), 0);
    text = profile_text(c.trace);
    profile = json_loads(text, 0, NULL);
    path = json_object_get(profile, "critical_path");
    ck_assert_int_eq(json_array_size(path), 3);
    ck_assert_str_eq(json_string_value(json_array_get(path, 0)), "planner");
    ck_assert_str_eq(json_string_value(json_array_get(path, 1)), "searcher");
    ck_assert_str_eq(json_string_value(json_array_get(path, 2)), "writer");
    const json_t *nodes = json_object_get(profile, "nodes");
    int checked = 0;
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const json_t *node = json_array_get(nodes, i);
        if (strcmp(json_string_value(json_object_get(node, "node_id")), "searcher") != 0)
            continue;
        const json_t *deps = json_object_get(node, "depends_on");
        ck_assert_int_eq(json_array_size(deps), 1);
        ck_assert_str_eq(json_string_value(json_array_get(deps, 0)), "planner");
        ck_assert_int_eq(json_integer_value(json_object_get(node, "ready_us")), 1700000002000000LL);
        checked = 1;
    }
    ck_assert_int_eq(checked, 1);
    const json_t *summary2 = json_object_get(profile, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(summary2, "ideal_wall_us")), 9500000);
    ck_assert_int_eq(json_integer_value(json_object_get(summary2, "critical_path_us")), 9500000);
    json_decref(profile);
    free(text);
    collected_free(&c);
}
END_TEST

/* ---- hand-built protobuf, for the faults protobuf-c will not write ---- */

static void pb_varint(buf_t *b, uint64_t v) {
    do {
        uint8_t byte = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        ck_assert_int_eq(buf_append(b, &byte, 1), 0);
        v >>= 7;
    } while (v);
}

static void pb_bytes(buf_t *b, uint32_t field, const void *data, size_t len) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, len);
    ck_assert_int_eq(buf_append(b, data, len), 0);
}

static void pb_fixed64(buf_t *b, uint32_t field, uint64_t v) {
    pb_varint(b, (uint64_t)field << 3 | 1);
    for (int i = 0; i < 8; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        ck_assert_int_eq(buf_append(b, &byte, 1), 0);
    }
}

static void pb_string_attr(buf_t *span, const char *key, const char *value, size_t value_len) {
    buf_t any = BUF_INIT, kv = BUF_INIT;
    pb_bytes(&any, 1, value, value_len);
    pb_bytes(&kv, 1, key, strlen(key));
    pb_bytes(&kv, 2, any.data, any.len);
    pb_bytes(span, 9, kv.data, kv.len);
    buf_free(&any);
    buf_free(&kv);
}

static const uint8_t trace16[16] = {0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* A span of `trace16` with span id 8 bytes of `n`, parent none. */
static void pb_span(buf_t *span, uint8_t n, const char *name) {
    uint8_t id[8];
    memset(id, n, sizeof id);
    pb_bytes(span, 1, trace16, 16);
    pb_bytes(span, 2, id, 8);
    pb_bytes(span, 5, name, strlen(name));
    pb_fixed64(span, 7, 1000000);
    pb_fixed64(span, 8, 3000000);
}

/* ExportTraceServiceRequest { resource_spans { scope_spans { spans... } } } */
static void pb_request(buf_t *out, const buf_t *spans, size_t count) {
    buf_t scope = BUF_INIT, resource = BUF_INIT;
    for (size_t i = 0; i < count; i++)
        pb_bytes(&scope, 2, spans[i].data, spans[i].len);
    pb_bytes(&resource, 2, scope.data, scope.len);
    pb_bytes(out, 1, resource.data, resource.len);
    buf_free(&scope);
    buf_free(&resource);
}

static const char *reject_kind(const collected_t *c, size_t i) {
    return json_string_value(json_object_get(json_array_get(c->rejects, i), "kind"));
}

static const char *reject_reason(const collected_t *c, size_t i) {
    return json_string_value(json_object_get(json_array_get(c->rejects, i), "reason"));
}

static void decode_proto(const buf_t *msg, collected_t *c, int want_rc) {
    int rc = otlp_decode_proto(decoder, msg->data, msg->len, on_span, on_reject, c, errstr,
                               sizeof errstr);
    ck_assert_msg(rc == want_rc, "rc %d (%s), expected %d", rc, errstr, want_rc);
}

START_TEST(test_truncated_proto) {
    size_t len;
    char *text = read_fixture("otlp_genai.json", &len);
    buf_t proto = BUF_INIT;
    ck_assert_int_eq(otlp_pb_from_json(text, len, &proto), 0);
    /* Cut inside the last span (db.query, the last 4 of its 9 spans sit in
     * the second resource). */
    proto.len -= 10;
    ck_assert_int_eq(wire_detect(proto.data, proto.len), WIRE_OTLP_PROTO);
    collected_t c;
    collected_init(&c);
    decode_proto(&proto, &c, 0);
    ck_assert_int_eq(json_array_size(c.spans), 8);
    ck_assert_int_eq(json_array_size(c.rejects), 1);
    ck_assert_str_eq(reject_kind(&c, 0), "otlp_truncated");
    ck_assert_str_eq(reject_reason(&c, 0),
                     "span 3000000000000009 of trace 0af7651916cd43dd8448eb211c80319c: the "
                     "message ends inside the span; span dropped");
    collected_free(&c);

    /* Cut inside the first span: nothing to decode is still not an error of
     * the message as a whole, the span is reported. */
    collected_init(&c);
    proto.len = 12;
    decode_proto(&proto, &c, 0);
    ck_assert_int_eq(json_array_size(c.spans), 0);
    ck_assert_int_eq(json_array_size(c.rejects), 1);
    ck_assert_str_eq(reject_kind(&c, 0), "otlp_truncated");
    collected_free(&c);
    buf_free(&proto);
    free(text);
}
END_TEST

START_TEST(test_wrong_wire_type) {
    buf_t spans[3] = {BUF_INIT, BUF_INIT, BUF_INIT}, msg = BUF_INIT;
    pb_span(&spans[0], 1, "good1");
    pb_span(&spans[1], 2, "bad");
    pb_bytes(&spans[1], 7, "xx", 2); /* start_time_unix_nano as bytes */
    pb_span(&spans[2], 3, "good2");
    pb_request(&msg, spans, 3);
    collected_t c;
    collected_init(&c);
    decode_proto(&msg, &c, 0);
    ck_assert_int_eq(json_array_size(c.spans), 2);
    assert_str(json_array_get(c.spans, 0), "name", "good1");
    assert_str(json_array_get(c.spans, 1), "name", "good2");
    ck_assert_int_eq(json_array_size(c.rejects), 1);
    ck_assert_str_eq(reject_kind(&c, 0), "otlp_wire_type");
    ck_assert_str_eq(reject_reason(&c, 0),
                     "span 0202020202020202 of trace ab0102030405060708090a0b0c0d0e0f: "
                     "start_time_unix_nano (field 7) has wire type 2, expected 1; span dropped");
    collected_free(&c);
    for (int i = 0; i < 3; i++)
        buf_free(&spans[i]);
    buf_free(&msg);
}
END_TEST

START_TEST(test_large_attribute) {
    buf_t spans[2] = {BUF_INIT, BUF_INIT}, msg = BUF_INIT;
    size_t big = 10 * 1024 * 1024;
    char *value = malloc(big);
    ck_assert_ptr_nonnull(value);
    memset(value, 'x', big);
    pb_span(&spans[0], 1, "big");
    pb_string_attr(&spans[0], "prompt", value, big);
    pb_string_attr(&spans[0], "kept", "yes", 3);
    pb_span(&spans[1], 2, "next");
    pb_request(&msg, spans, 2);
    collected_t c;
    collected_init(&c);
    decode_proto(&msg, &c, 0);
    ck_assert_int_eq(json_array_size(c.spans), 2);
    const json_t *first = json_array_get(c.spans, 0);
    ck_assert_ptr_null(attr_of(first, "prompt"));
    ck_assert_str_eq(attr_of(first, "kept"), "yes");
    ck_assert_int_eq(json_array_size(c.rejects), 1);
    ck_assert_str_eq(reject_kind(&c, 0), "otlp_too_large");
    ck_assert_str_eq(reject_reason(&c, 0),
                     "span 0101010101010101 of trace ab0102030405060708090a0b0c0d0e0f: attribute "
                     "prompt holds 10485760 bytes, more than 65536; attribute dropped");
    collected_free(&c);
    free(value);
    buf_free(&spans[0]);
    buf_free(&spans[1]);
    buf_free(&msg);
}
END_TEST

START_TEST(test_million_spans) {
    buf_t span = BUF_INIT, scope = BUF_INIT, resource = BUF_INIT, msg = BUF_INIT;
    const long total = 1000000;
    for (long i = 0; i < total; i++) {
        uint8_t id[8];
        buf_reset(&span);
        memcpy(id, &i, sizeof id);
        id[7] = 0x80; /* never all zero */
        pb_bytes(&span, 1, trace16, 16);
        pb_bytes(&span, 2, id, 8);
        pb_fixed64(&span, 7, 1000);
        pb_fixed64(&span, 8, 2000);
        pb_bytes(&scope, 2, span.data, span.len);
    }
    pb_bytes(&resource, 2, scope.data, scope.len);
    pb_bytes(&msg, 1, resource.data, resource.len);
    buf_free(&scope);
    buf_free(&resource);
    collected_t c;
    memset(&c, 0, sizeof c);
    c.rejects = json_array();
    decode_proto(&msg, &c, 0);
    ck_assert_int_eq(c.count, total);
    ck_assert_int_eq(json_array_size(c.rejects), 0);
    json_decref(c.rejects);
    buf_free(&span);
    buf_free(&msg);
}
END_TEST

START_TEST(test_invalid_utf8) {
    buf_t spans[2] = {BUF_INIT, BUF_INIT}, msg = BUF_INIT;
    pb_span(&spans[0], 1, "\xc0\xaf");
    pb_string_attr(&spans[0], "user", "bad \xff value", 11);
    pb_string_attr(&spans[0], "ok", "fine", 4);
    pb_span(&spans[1], 2, "next");
    pb_request(&msg, spans, 2);
    collected_t c;
    collected_init(&c);
    decode_proto(&msg, &c, 0);
    ck_assert_int_eq(json_array_size(c.spans), 2);
    const json_t *first = json_array_get(c.spans, 0);
    assert_str(first, "name", NULL);
    ck_assert_ptr_null(attr_of(first, "user"));
    ck_assert_str_eq(attr_of(first, "ok"), "fine");
    ck_assert_int_eq(json_array_size(c.rejects), 2);
    ck_assert_str_eq(reject_kind(&c, 0), "otlp_utf8");
    ck_assert_str_eq(reject_kind(&c, 1), "otlp_utf8");
    ck_assert_str_eq(reject_reason(&c, 1),
                     "span 0101010101010101 of trace ab0102030405060708090a0b0c0d0e0f: attribute "
                     "user is not valid UTF-8; attribute dropped");
    collected_free(&c);
    buf_free(&spans[0]);
    buf_free(&spans[1]);
    buf_free(&msg);
}
END_TEST

START_TEST(test_id_lengths) {
    buf_t spans[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT}, msg = BUF_INIT;
    uint8_t id[9] = {5, 5, 5, 5, 5, 5, 5, 5, 5};
    pb_bytes(&spans[0], 1, trace16, 15); /* short trace id */
    pb_bytes(&spans[0], 2, id, 8);
    pb_bytes(&spans[1], 1, trace16, 16);
    pb_bytes(&spans[1], 2, id, 9); /* long span id */
    pb_span(&spans[2], 3, "orphan");
    pb_bytes(&spans[2], 4, id, 4); /* short parent */
    pb_span(&spans[3], 4, "good");
    pb_request(&msg, spans, 4);
    collected_t c;
    collected_init(&c);
    decode_proto(&msg, &c, 0);
    ck_assert_int_eq(json_array_size(c.spans), 1);
    assert_str(json_array_get(c.spans, 0), "name", "good");
    ck_assert_int_eq(json_array_size(c.rejects), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(reject_kind(&c, i), "otlp_id_length");
    ck_assert_str_eq(reject_reason(&c, 0),
                     "span 0505050505050505: trace_id of 15 bytes, expected 16; span dropped");
    ck_assert_str_eq(reject_reason(&c, 1), "a span of trace ab0102030405060708090a0b0c0d0e0f: "
                                           "span_id of 9 bytes, expected 8; span dropped");
    ck_assert_str_eq(reject_reason(&c, 2),
                     "span 0303030303030303 of trace ab0102030405060708090a0b0c0d0e0f: "
                     "parent_span_id of 4 bytes, expected 8; span dropped");
    collected_free(&c);
    for (int i = 0; i < 4; i++)
        buf_free(&spans[i]);
    buf_free(&msg);

    /* JSON: hex ids of the wrong length. */
    const char *json = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
                       "{\"traceId\":\"abc\",\"spanId\":\"0101010101010101\"},"
                       "{\"traceId\":\"ab0102030405060708090a0b0c0d0e0f\",\"spanId\":\"01\"},"
                       "{\"traceId\":\"ab0102030405060708090a0b0c0d0e0f\","
                       "\"spanId\":\"010101010101010101\"},"
                       "{\"traceId\":\"ab0102030405060708090a0b0c0d0e0f\","
                       "\"spanId\":\"0202020202020202\",\"name\":\"good\","
                       "\"startTimeUnixNano\":1000,\"endTimeUnixNano\":\"2000\"}]}]}]}";
    collected_init(&c);
    ck_assert_int_eq(
        otlp_decode_json(decoder, json, strlen(json), on_span, on_reject, &c, errstr, sizeof errstr),
        0);
    ck_assert_int_eq(json_array_size(c.spans), 1);
    ck_assert_int_eq(json_array_size(c.rejects), 3);
    ck_assert_str_eq(reject_kind(&c, 0), "otlp_id_length");
    ck_assert_str_eq(reject_reason(&c, 0),
                     "span 0101010101010101: traceId \"abc\" is not 32 hex digits; span dropped");
    ck_assert_str_eq(reject_kind(&c, 1), "otlp_id_length");
    ck_assert_str_eq(reject_kind(&c, 2), "otlp_id_length");
    ck_assert_str_eq(reject_reason(&c, 2), "a span of trace ab0102030405060708090a0b0c0d0e0f: "
                                           "spanId \"010101010101010101\" is not 16 hex digits; "
                                           "span dropped");
    collected_free(&c);
}
END_TEST

START_TEST(test_not_a_request) {
    collected_t c;
    collected_init(&c);
    ck_assert_int_eq(otlp_decode_proto(decoder, "\x07garbage", 8, on_span, on_reject, &c, errstr,
                                       sizeof errstr),
                     -1);
    ck_assert_str_eq(errstr, "otlp_proto: not an ExportTraceServiceRequest (malformed field at byte 1)");
    /* Field 1 whose length is cut off: nothing to walk. */
    ck_assert_int_eq(otlp_decode_proto(decoder, "\x0a", 1, on_span, on_reject, &c, errstr,
                                       sizeof errstr),
                     -1);
    ck_assert_str_eq(errstr, "otlp_proto: truncated before the first resource");
    ck_assert_int_eq(otlp_decode_json(decoder, "[1,2]", 5, on_span, on_reject, &c, errstr,
                                      sizeof errstr),
                     -1);
    ck_assert_str_eq(errstr, "otlp_json: not an ExportTraceServiceRequest (no resourceSpans array)");
    ck_assert_int_eq(otlp_decode_json(decoder, "{\"resourceSpans\":", 17, on_span, on_reject, &c,
                                      errstr, sizeof errstr),
                     -1);
    ck_assert_int_eq(strncmp(errstr, "otlp_json: line 1", 17), 0);
    ck_assert_int_eq(json_array_size(c.spans), 0);
    collected_free(&c);
}
END_TEST

START_TEST(test_callback_stops) {
    collected_t c;
    collected_init(&c);
    c.stop_after = 3;
    size_t len;
    char *text = read_fixture("otlp_genai.json", &len);
    ck_assert_int_eq(otlp_decode_json(decoder, text, len, on_span, on_reject, &c, errstr,
                                      sizeof errstr),
                     7);
    ck_assert_int_eq(c.count, 3);
    free(text);
    collected_free(&c);
}
END_TEST

START_TEST(test_detect) {
    size_t len;
    char *text = read_fixture("otlp_openinference.json", &len);
    ck_assert_int_eq(wire_detect(text, len), WIRE_OTLP_JSON);
    ck_assert_int_eq(wire_detect(" \n\t{}", 5), WIRE_OTLP_JSON);
    free(text);

    span_codec_t *codec = span_codec_new(errstr, sizeof errstr);
    ck_assert_ptr_nonnull(codec);
    span_t span;
    memset(&span, 0, sizeof span);
    span.trace_id = "t1";
    span.span_id = "s1";
    span.kind = SPAN_KIND_LLM;
    span.status = SPAN_STATUS_OK;
    span.end_us = 5;
    buf_t avro = BUF_INIT;
    ck_assert_int_eq(span_codec_encode_avro(codec, &span, &avro, errstr, sizeof errstr), 0);
    ck_assert_int_eq(wire_detect(avro.data, avro.len), WIRE_AVRO_BARE);
    /* One byte fewer does not decode as a SpanEvent. */
    ck_assert_int_eq(wire_detect(avro.data, avro.len - 1), WIRE_UNKNOWN);
    buf_t framed = BUF_INIT;
    ck_assert_int_eq(buf_append(&framed, "\0\0\0\0\1", 5), 0);
    ck_assert_int_eq(buf_append(&framed, avro.data, avro.len), 0);
    ck_assert_int_eq(wire_detect(framed.data, framed.len), WIRE_AVRO_CONFLUENT);
    span_codec_free(codec);
    buf_free(&avro);
    buf_free(&framed);

    ck_assert_int_eq(wire_detect("", 0), WIRE_UNKNOWN);
    ck_assert_int_eq(wire_detect("\xff\xff\xff", 3), WIRE_UNKNOWN);
    /* Field 1 length-delimited, but longer than the message. */
    ck_assert_int_eq(wire_detect("\x0a\x10\x0a\x00", 4), WIRE_UNKNOWN);

    wire_format_t f = WIRE_AVRO_BARE;
    ck_assert_int_eq(wire_format_parse("auto", &f), 0);
    ck_assert_int_eq(f, WIRE_UNKNOWN);
    ck_assert_int_eq(wire_format_parse("otlp_proto", &f), 0);
    ck_assert_int_eq(f, WIRE_OTLP_PROTO);
    ck_assert_int_eq(wire_format_parse("otlp_json", &f), 0);
    ck_assert_int_eq(f, WIRE_OTLP_JSON);
    ck_assert_int_eq(wire_format_parse("avro", &f), 0);
    ck_assert_int_eq(f, WIRE_AVRO_CONFLUENT);
    ck_assert_int_eq(wire_format_parse("protobuf", &f), -1);
    ck_assert_int_eq(f, WIRE_AVRO_CONFLUENT);
    ck_assert_str_eq(wire_format_name(WIRE_OTLP_PROTO), "otlp_proto");
    ck_assert_str_eq(wire_format_name(WIRE_OTLP_JSON), "otlp_json");
}
END_TEST

/* ---- dagprof profile on OTLP files ---- */

static char *profile_file(const char *path, const char *format, offline_result_t *result,
                          int want_rc) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(out);
    offline_options_t options;
    memset(&options, 0, sizeof options);
    options.json = true;
    options.now_us = 1;
    options.input_format = format;
    int rc = offline_profile_file(path, &options, out, result, errstr, sizeof errstr);
    fclose(out);
    ck_assert_msg(rc == want_rc, "%s: rc %d (%s)", path, rc, errstr);
    return text;
}

START_TEST(test_offline_formats) {
    offline_result_t result;
    char *from_json = profile_file(DAGPROF_FIXTURES "/otlp_genai.json", NULL, &result, 0);
    ck_assert_int_eq(result.traces, 1);
    ck_assert_int_eq(result.bad_records, 0);
    char *from_lines = profile_file(DAGPROF_FIXTURES "/otlp_genai.jsonl", NULL, &result, 0);
    ck_assert_int_eq(result.traces, 1);
    char *from_proto = profile_file(DAGPROF_FIXTURES "/otlp_genai.pb", NULL, &result, 0);
    ck_assert_int_eq(result.traces, 1);
    char *forced = profile_file(DAGPROF_FIXTURES "/otlp_genai.pb", "otlp_proto", &result, 0);
    ck_assert_str_eq(from_json, from_lines);
    ck_assert_str_eq(from_json, from_proto);
    ck_assert_str_eq(from_json, forced);
    json_t *profile = json_loads(from_json, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(profile, "dag_id")), "research");
    json_decref(profile);
    free(from_json);
    free(from_lines);
    free(from_proto);
    free(forced);

    /* Forced to the wrong format: the protobuf file is not OTLP/JSON. */
    free(profile_file(DAGPROF_FIXTURES "/otlp_genai.pb", "otlp_json", &result, -1));
    ck_assert_msg(strncmp(errstr, DAGPROF_FIXTURES "/otlp_genai.pb: otlp_json: line 2 column 0:",
                          strlen(DAGPROF_FIXTURES) + 42) == 0,
                  "%s", errstr);
    free(profile_file(DAGPROF_FIXTURES "/otlp_genai.json", "yaml", &result, -1));
    ck_assert_str_eq(errstr, "input format yaml: expected auto, avro, otlp_proto or otlp_json");
}
END_TEST

START_TEST(test_offline_bad_line) {
    /* The Collector's file export with one line cut short and one span with a
     * bad id: both reported, the rest profiled with warnings. */
    size_t len;
    char *lines = read_fixture("otlp_genai.jsonl", &len);
    char path[] = "/tmp/dagprof_otlp_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *fp = fdopen(fd, "w");
    char *second = strchr(lines, '\n') + 1;
    fwrite(lines, 1, (size_t)(second - lines), fp);
    fputs("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0af7\"\n", fp);
    fputs("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
          "\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"12\"}]}]}]}\n", fp);
    fputs(second, fp);
    fclose(fp);
    offline_result_t result;
    char *text = profile_file(path, NULL, &result, 0);
    unlink(path);
    ck_assert_int_eq(result.traces, 1);
    ck_assert_int_eq(result.bad_records, 2);
    json_t *profile = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(profile);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(profile, "summary"),
                                                        "span_count")),
                     9);
    const json_t *warnings = json_object_get(profile, "warnings");
    int found_id = 0, found_cut = 0;
    for (size_t i = 0; i < json_array_size(warnings); i++) {
        const char *w = json_string_value(json_array_get(warnings, i));
        if (strstr(w, "line 3: a span of trace 0af7651916cd43dd8448eb211c80319c: spanId \"12\" is "
                      "not 16 hex digits"))
            found_id = 1;
        if (strstr(w, "line 2: otlp_json: line 1"))
            found_cut = 1;
    }
    ck_assert_int_eq(found_id, 1);
    ck_assert_int_eq(found_cut, 1);
    json_decref(profile);
    free(text);
    free(lines);
}
END_TEST

START_TEST(test_retry_by_repeated_name) {
    /* Two invoke_agent spans "fetch" under the root, no dag.attempt: the
     * later one is a retry, whatever the order the spans arrive in. */
    const char *json =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"11111111111111111111111111111111\",\"spanId\":\"0000000000000001\","
        "\"name\":\"wf\",\"startTimeUnixNano\":\"0\",\"endTimeUnixNano\":\"9000000\"},"
        "{\"traceId\":\"11111111111111111111111111111111\",\"spanId\":\"0000000000000003\","
        "\"parentSpanId\":\"0000000000000001\",\"name\":\"fetch\","
        "\"startTimeUnixNano\":\"3000000\",\"endTimeUnixNano\":\"5000000\",\"attributes\":["
        "{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"invoke_agent\"}}]},"
        "{\"traceId\":\"11111111111111111111111111111111\",\"spanId\":\"0000000000000002\","
        "\"parentSpanId\":\"0000000000000001\",\"name\":\"fetch\","
        "\"startTimeUnixNano\":\"1000000\",\"endTimeUnixNano\":\"2000000\",\"status\":{\"code\":2},"
        "\"attributes\":["
        "{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"invoke_agent\"}}]}"
        "]}]}]}";
    collected_t c;
    collected_init(&c);
    ck_assert_int_eq(
        otlp_decode_json(decoder, json, strlen(json), on_span, on_reject, &c, errstr, sizeof errstr),
        0);
    ck_assert_int_eq(json_array_size(c.spans), 3);
    ck_assert_int_eq(trace_number_repeated_nodes(c.trace, OTLP_ATTEMPT_BY_NAME_ATTRIBUTE), 1);
    ck_assert_int_eq(trace_number_repeated_nodes(c.trace, OTLP_ATTEMPT_BY_NAME_ATTRIBUTE), 0);
    size_t index;
    ck_assert_int_eq(trace_find_span(c.trace, "0000000000000003", &index), 1);
    ck_assert_int_eq(trace_span(c.trace, index)->attempt, 1);
    ck_assert_int_eq(trace_find_span(c.trace, "0000000000000002", &index), 1);
    ck_assert_int_eq(trace_span(c.trace, index)->attempt, 0);
    char *text = profile_text(c.trace);
    json_t *profile = json_loads(text, 0, NULL);
    const json_t *node = json_array_get(json_object_get(profile, "nodes"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(node, "node_id")), "fetch");
    ck_assert_int_eq(json_integer_value(json_object_get(node, "retries")), 1);
    json_decref(profile);
    free(text);
    collected_free(&c);
}
END_TEST

static Suite *otlp_suite(void) {
    Suite *suite = suite_create("otlp");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_genai_mapping);
    tcase_add_test(tc, test_openinference_mapping);
    tcase_add_test(tc, test_json_and_proto_identical);
    tcase_add_test(tc, test_genai_profile_figures);
    tcase_add_test(tc, test_truncated_proto);
    tcase_add_test(tc, test_wrong_wire_type);
    tcase_add_test(tc, test_large_attribute);
    tcase_add_test(tc, test_million_spans);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_id_lengths);
    tcase_add_test(tc, test_not_a_request);
    tcase_add_test(tc, test_callback_stops);
    tcase_add_test(tc, test_detect);
    tcase_add_test(tc, test_offline_formats);
    tcase_add_test(tc, test_retry_by_repeated_name);
    tcase_add_test(tc, test_offline_bad_line);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(otlp_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
