/* test_span_codec.c -- span events to and from Avro binary and JSON. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "buf.h"
#include "span_codec.h"

#define ERRSTR_BYTES 512

static span_codec_t *codec;
static char errstr[ERRSTR_BYTES];

static void setup(void) {
    codec = span_codec_new(errstr, sizeof(errstr));
    ck_assert_msg(codec != NULL, "span_codec_new: %s", errstr);
    errstr[0] = '\0';
}

static void teardown(void) {
    span_codec_free(codec);
    codec = NULL;
}

static char *read_text_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    buf_t text = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        ck_assert_int_eq(buf_append(&text, chunk, n), 0);
    fclose(fp);
    return text.data;
}

/* The JSON form of a span, owned by the caller. */
static char *span_json(const span_t *span) {
    buf_t out = BUF_INIT;
    if (span_codec_encode_json(span, &out) != 0)
        ck_abort_msg("span_codec_encode_json: out of memory");
    return out.data;
}

static const char rich_json[] =
    "{\"trace_id\":\"tr-42\",\"span_id\":\"n7\",\"parent_span_id\":\"r0\","
    "\"dag_id\":\"etl\",\"node_id\":\"summarise\",\"kind\":\"llm\",\"name\":\"chat gpt-5\","
    "\"start_us\":1705314615000000,\"end_us\":1705314618421000,\"status\":\"error\","
    "\"depends_on\":[\"fetch\",\"parse\"],\"attempt\":2,\"model\":\"gpt-5\","
    "\"provider\":\"openai\",\"input_tokens\":5200,\"output_tokens\":3030,"
    "\"cache_read_tokens\":2000,\"cache_write_tokens\":100,\"reasoning_tokens\":700,"
    "\"tool_name\":null,\"attributes\":{\"region\":\"eu-west-1\",\"user\":\"u\\u00e9\"}}";

START_TEST(test_schema_matches_avsc) {
    char *file_text = read_text_file(DAGPROF_SOURCE_DIR "/schemas/span_event.avsc");
    avro_schema_t from_file = NULL, embedded = NULL;
    ck_assert_msg(avro_schema_from_json_length(file_text, strlen(file_text), &from_file) == 0,
                  "span_event.avsc: %s", avro_strerror());
    ck_assert_int_eq(avro_schema_from_json_length(span_codec_schema_json,
                                                  strlen(span_codec_schema_json), &embedded),
                     0);
    ck_assert_int_eq(avro_schema_equal(from_file, embedded), 1);
    ck_assert_int_eq(avro_schema_equal(span_codec_schema(codec), from_file), 1);
    ck_assert_str_eq(avro_schema_name(from_file), "SpanEvent");
    ck_assert_str_eq(avro_schema_namespace(from_file), "dagprof");
    ck_assert_int_eq(avro_schema_record_size(from_file), 21);
    avro_schema_decref(from_file);
    avro_schema_decref(embedded);
    free(file_text);
}
END_TEST

START_TEST(test_decode_json_every_field) {
    span_t span;
    ck_assert_int_eq(span_codec_decode_json(codec, rich_json, strlen(rich_json), &span, errstr,
                                            sizeof(errstr)),
                     0);
    ck_assert_str_eq(span.trace_id, "tr-42");
    ck_assert_str_eq(span.span_id, "n7");
    ck_assert_str_eq(span.parent_span_id, "r0");
    ck_assert_str_eq(span.dag_id, "etl");
    ck_assert_str_eq(span.node_id, "summarise");
    ck_assert_int_eq(span.kind, SPAN_KIND_LLM);
    ck_assert_str_eq(span.name, "chat gpt-5");
    ck_assert_int_eq(span.start_us, 1705314615000000LL);
    ck_assert_int_eq(span.end_us, 1705314618421000LL);
    ck_assert_int_eq(span.status, SPAN_STATUS_ERROR);
    ck_assert_uint_eq(span.depends_on_count, 2);
    ck_assert_str_eq(span.depends_on[0], "fetch");
    ck_assert_str_eq(span.depends_on[1], "parse");
    ck_assert_int_eq(span.attempt, 2);
    ck_assert_str_eq(span.model, "gpt-5");
    ck_assert_str_eq(span.provider, "openai");
    ck_assert_int_eq(span.input_tokens, 5200);
    ck_assert_int_eq(span.output_tokens, 3030);
    ck_assert_int_eq(span.cache_read_tokens, 2000);
    ck_assert_int_eq(span.cache_write_tokens, 100);
    ck_assert_int_eq(span.reasoning_tokens, 700);
    ck_assert_ptr_null(span.tool_name);
    ck_assert_uint_eq(span.attribute_count, 2);
    ck_assert_str_eq(span.attributes[0].key, "region");
    ck_assert_str_eq(span.attributes[0].value, "eu-west-1");
    ck_assert_str_eq(span.attributes[1].key, "user");
    ck_assert_str_eq(span.attributes[1].value, "u\xc3\xa9");
}
END_TEST

START_TEST(test_decode_json_defaults) {
    static const char text[] =
        "{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":5,\"end_us\":7,\"extra\":[1,{}]}";
    span_t span;
    ck_assert_int_eq(
        span_codec_decode_json(codec, text, strlen(text), &span, errstr, sizeof(errstr)), 0);
    ck_assert_str_eq(span.trace_id, "t");
    ck_assert_str_eq(span.span_id, "s");
    ck_assert_ptr_null(span.parent_span_id);
    ck_assert_ptr_null(span.dag_id);
    ck_assert_ptr_null(span.node_id);
    ck_assert_int_eq(span.kind, SPAN_KIND_OTHER);
    ck_assert_ptr_null(span.name);
    ck_assert_int_eq(span.start_us, 5);
    ck_assert_int_eq(span.end_us, 7);
    ck_assert_int_eq(span.status, SPAN_STATUS_UNSET);
    ck_assert_uint_eq(span.depends_on_count, 0);
    ck_assert_int_eq(span.attempt, 0);
    ck_assert_ptr_null(span.model);
    ck_assert_ptr_null(span.provider);
    ck_assert_int_eq(span.input_tokens, 0);
    ck_assert_int_eq(span.output_tokens, 0);
    ck_assert_int_eq(span.cache_read_tokens, 0);
    ck_assert_int_eq(span.cache_write_tokens, 0);
    ck_assert_int_eq(span.reasoning_tokens, 0);
    ck_assert_ptr_null(span.tool_name);
    ck_assert_uint_eq(span.attribute_count, 0);

    /* Explicit nulls where the schema allows them. */
    static const char nulls[] = "{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":5,"
                                "\"end_us\":7,\"parent_span_id\":null,\"model\":null}";
    ck_assert_int_eq(
        span_codec_decode_json(codec, nulls, strlen(nulls), &span, errstr, sizeof(errstr)), 0);
    ck_assert_ptr_null(span.parent_span_id);
    ck_assert_ptr_null(span.model);
}
END_TEST

static const struct {
    const char *json;
    const char *expected; /* the exact error message */
} json_errors[] = {
    {"[1]", "not a JSON object: got an array"},
    {"{\"trace_id\":", NULL}, /* not JSON: jansson's words */
    {"{\"span_id\":\"s\",\"start_us\":1,\"end_us\":2}", "trace_id: missing"},
    {"{\"trace_id\":\"\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2}", "trace_id: empty"},
    {"{\"trace_id\":7,\"span_id\":\"s\",\"start_us\":1,\"end_us\":2}",
     "trace_id: expected a string, got an integer"},
    {"{\"trace_id\":\"t\",\"start_us\":1,\"end_us\":2}", "span_id: missing"},
    {"{\"trace_id\":\"t\",\"span_id\":\"\",\"start_us\":1,\"end_us\":2}", "span_id: empty"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"parent_span_id\":1,\"start_us\":1,\"end_us\":2}",
     "parent_span_id: expected a string or null, got an integer"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"dag_id\":true,\"start_us\":1,\"end_us\":2}",
     "dag_id: expected a string or null, got a boolean"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"node_id\":[],\"start_us\":1,\"end_us\":2}",
     "node_id: expected a string or null, got an array"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"kind\":\"job\",\"start_us\":1,\"end_us\":2}",
     "kind: unknown value \"job\""},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"kind\":null,\"start_us\":1,\"end_us\":2}",
     "kind: expected a string, got null"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"name\":{},\"start_us\":1,\"end_us\":2}",
     "name: expected a string or null, got an object"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"end_us\":2}", "start_us: missing"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1.5,\"end_us\":2}",
     "start_us: expected an integer, got a real number"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":\"2\"}",
     "end_us: expected an integer, got a string"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"status\":\"fine\"}",
     "status: unknown value \"fine\""},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"depends_on\":\"a\"}",
     "depends_on: expected an array, got a string"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"depends_on\":[\"a\",3]}",
     "depends_on: item 1: expected a string, got an integer"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"attempt\":-1}",
     "attempt: negative (-1)"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"attempt\":2147483648}",
     "attempt: 2147483648 is out of range"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"attempt\":1.0}",
     "attempt: expected an integer, got a real number"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"model\":5}",
     "model: expected a string or null, got an integer"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"provider\":false}",
     "provider: expected a string or null, got a boolean"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"input_tokens\":-5}",
     "input_tokens: negative (-5)"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"output_tokens\":\"9\"}",
     "output_tokens: expected an integer, got a string"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,"
     "\"cache_read_tokens\":-1}",
     "cache_read_tokens: negative (-1)"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,"
     "\"cache_write_tokens\":null}",
     "cache_write_tokens: expected an integer, got null"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,"
     "\"reasoning_tokens\":-2}",
     "reasoning_tokens: negative (-2)"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"tool_name\":1}",
     "tool_name: expected a string or null, got an integer"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,\"attributes\":[]}",
     "attributes: expected an object, got an array"},
    {"{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,\"end_us\":2,"
     "\"attributes\":{\"k\":1}}",
     "attributes: \"k\": expected a string, got an integer"},
};

START_TEST(test_decode_json_errors) {
    span_t span;
    const char *json = json_errors[_i].json;
    errstr[0] = '\0';
    ck_assert_int_eq(
        span_codec_decode_json(codec, json, strlen(json), &span, errstr, sizeof(errstr)), -1);
    if (json_errors[_i].expected)
        ck_assert_str_eq(errstr, json_errors[_i].expected);
    else
        ck_assert_msg(strncmp(errstr, "not JSON: ", 10) == 0, "got: %s", errstr);
    /* A failed decode leaves no dangling pointers behind. */
    ck_assert_ptr_null(span.trace_id);
    ck_assert_ptr_null(span.span_id);
}
END_TEST

START_TEST(test_decode_json_rejects_trailing_and_nul) {
    span_t span;
    static const char trailing[] = "{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,"
                                   "\"end_us\":2} {}";
    ck_assert_int_eq(span_codec_decode_json(codec, trailing, strlen(trailing), &span, errstr,
                                            sizeof(errstr)),
                     -1);
    ck_assert_msg(strncmp(errstr, "not JSON: ", 10) == 0, "got: %s", errstr);
    static const char nul[] = "{\"trace_id\":\"t\\u0000x\",\"span_id\":\"s\",\"start_us\":1,"
                              "\"end_us\":2}";
    ck_assert_int_eq(
        span_codec_decode_json(codec, nul, strlen(nul), &span, errstr, sizeof(errstr)), -1);
    static const char duplicate[] = "{\"trace_id\":\"t\",\"trace_id\":\"u\",\"span_id\":\"s\","
                                    "\"start_us\":1,\"end_us\":2}";
    ck_assert_int_eq(span_codec_decode_json(codec, duplicate, strlen(duplicate), &span, errstr,
                                            sizeof(errstr)),
                     -1);
    ck_assert_ptr_nonnull(strstr(errstr, "duplicate"));
}
END_TEST

/* json -> span -> avro -> span -> json gives the same JSON. */
static void assert_round_trip(const char *line, size_t len) {
    span_t span;
    buf_t avro = BUF_INIT;
    ck_assert_msg(span_codec_decode_json(codec, line, len, &span, errstr, sizeof(errstr)) == 0,
                  "%s", errstr);
    char *first = span_json(&span);
    ck_assert_int_eq(span_codec_encode_avro(codec, &span, &avro, errstr, sizeof(errstr)), 0);
    ck_assert_int_eq(span_codec_decode_avro(codec, avro.data, avro.len, &span, errstr,
                                            sizeof(errstr)),
                     0);
    char *second = span_json(&span);
    ck_assert_str_eq(first, second);
    /* The JSON output reads back to the same span. */
    ck_assert_int_eq(
        span_codec_decode_json(codec, first, strlen(first), &span, errstr, sizeof(errstr)), 0);
    char *third = span_json(&span);
    ck_assert_str_eq(first, third);
    free(first);
    free(second);
    free(third);
    buf_free(&avro);
}

/* The rich span decoded into *span and encoded into *avro; its JSON, to free. */
static char *rich_avro(span_t *span, buf_t *avro) {
    ck_assert_int_eq(span_codec_decode_json(codec, rich_json, strlen(rich_json), span, errstr,
                                            sizeof(errstr)),
                     0);
    char *json = span_json(span);
    ck_assert_int_eq(span_codec_encode_avro(codec, span, avro, errstr, sizeof(errstr)), 0);
    return json;
}

/* The store keeps a span without its ids: the rest, decoded with the ids
 * given apart, is the same span; malformed ids have no size. */
START_TEST(test_decode_avro_rest) {
    span_t span;
    buf_t avro = BUF_INIT;
    char *whole = rich_avro(&span, &avro);
    size_t ids = span_codec_avro_ids_size(avro.data, avro.len);
    ck_assert_uint_eq(ids, 1 + strlen("tr-42") + 1 + strlen("n7"));
    ck_assert_int_eq(span_codec_decode_avro_rest(codec, "tr-42", "n7xx", 2,
                                                 (const char *)avro.data + ids, avro.len - ids,
                                                 &span, errstr, sizeof(errstr)),
                     0);
    char *rest = span_json(&span);
    ck_assert_str_eq(whole, rest);
    /* a rest cut short, an empty span_id and a NUL in it are refused */
    ck_assert_int_eq(span_codec_decode_avro_rest(codec, "tr-42", "n7", 2,
                                                 (const char *)avro.data + ids,
                                                 avro.len - ids - 1, &span, errstr, sizeof(errstr)),
                     -1);
    ck_assert_int_eq(span_codec_decode_avro_rest(codec, "tr-42", "", 0,
                                                 (const char *)avro.data + ids, avro.len - ids,
                                                 &span, errstr, sizeof(errstr)),
                     -1);
    ck_assert_int_eq(span_codec_decode_avro_rest(codec, "tr-42", "n\0", 2,
                                                 (const char *)avro.data + ids, avro.len - ids,
                                                 &span, errstr, sizeof(errstr)),
                     -1);
    ck_assert_uint_eq(span_codec_avro_ids_size(avro.data, ids - 1), 0);
    static const unsigned char empty_id[] = {2, 't', 0, 0};
    ck_assert_uint_eq(span_codec_avro_ids_size(empty_id, sizeof(empty_id)), 0);
    free(whole);
    free(rest);
    buf_free(&avro);
}
END_TEST

START_TEST(test_round_trip_rich) {
    assert_round_trip(rich_json, strlen(rich_json));
    span_t span;
    ck_assert_int_eq(span_codec_decode_json(codec, rich_json, strlen(rich_json), &span, errstr,
                                            sizeof(errstr)),
                     0);
    char *json = span_json(&span);
    ck_assert_str_eq(
        json,
        "{\"trace_id\":\"tr-42\",\"span_id\":\"n7\",\"parent_span_id\":\"r0\","
        "\"dag_id\":\"etl\",\"node_id\":\"summarise\",\"kind\":\"llm\","
        "\"name\":\"chat gpt-5\",\"start_us\":1705314615000000,\"end_us\":1705314618421000,"
        "\"status\":\"error\",\"depends_on\":[\"fetch\",\"parse\"],\"attempt\":2,"
        "\"model\":\"gpt-5\",\"provider\":\"openai\",\"input_tokens\":5200,"
        "\"output_tokens\":3030,\"cache_read_tokens\":2000,\"cache_write_tokens\":100,"
        "\"reasoning_tokens\":700,\"tool_name\":null,"
        "\"attributes\":{\"region\":\"eu-west-1\",\"user\":\"u\xc3\xa9\"}}");
    free(json);
}
END_TEST

START_TEST(test_round_trip_example_trace) {
    char *text = read_text_file(DAGPROF_FIXTURES "/code_review_dag.jsonl");
    int lines = 0;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len) {
            assert_round_trip(line, len);
            lines++;
        }
        line += len + (end ? 1 : 0);
    }
    ck_assert_int_eq(lines, 16);
    free(text);
}
END_TEST

/* The smallest span: trace "t", span "s", kind run, start 1, end 2, status ok. */
static const uint8_t minimal_avro[] = {
    0x02, 't',  0x02, 's',  /* trace_id, span_id */
    0x00, 0x00, 0x00,       /* parent_span_id, dag_id, node_id: null */
    0x00,                   /* kind: run */
    0x00,                   /* name: null */
    0x02, 0x04,             /* start_us 1, end_us 2 */
    0x00,                   /* status: ok */
    0x00,                   /* depends_on: [] */
    0x00,                   /* attempt 0 */
    0x00, 0x00,             /* model, provider: null */
    0x00, 0x00, 0x00, 0x00, 0x00, /* tokens */
    0x00,                   /* tool_name: null */
    0x00,                   /* attributes: {} */
};
enum {
    OFF_TRACE_LEN = 0,
    OFF_PARENT = 4,
    OFF_KIND = 7,
    OFF_START = 9,
    OFF_STATUS = 11,
    OFF_DEPENDS = 12,
    OFF_ATTEMPT = 13,
    OFF_INPUT = 16,
    OFF_REASONING = 20,
    OFF_ATTRIBUTES = 22,
};

START_TEST(test_encode_avro_exact_bytes) {
    span_t span = {.trace_id = "t", .span_id = "s", .kind = SPAN_KIND_RUN, .start_us = 1,
                   .end_us = 2, .status = SPAN_STATUS_OK};
    buf_t out = BUF_INIT;
    ck_assert_int_eq(buf_puts(&out, "xy"), 0);
    ck_assert_int_eq(span_codec_encode_avro(codec, &span, &out, errstr, sizeof(errstr)), 0);
    ck_assert_uint_eq(out.len, 2 + sizeof(minimal_avro));
    ck_assert_int_eq(memcmp(out.data, "xy", 2), 0); /* appended, not replaced */
    ck_assert_int_eq(memcmp(out.data + 2, minimal_avro, sizeof(minimal_avro)), 0);
    buf_free(&out);
}
END_TEST

/* Decode `bytes` and check the exact error. */
static void assert_avro_error(const uint8_t *bytes, size_t len, const char *expected) {
    span_t span;
    errstr[0] = '\0';
    ck_assert_int_eq(span_codec_decode_avro(codec, bytes, len, &span, errstr, sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, expected);
    ck_assert_ptr_null(span.trace_id);
}

static void assert_patched_error(size_t offset, uint8_t value, const char *expected) {
    uint8_t bytes[sizeof(minimal_avro)];
    memcpy(bytes, minimal_avro, sizeof(bytes));
    bytes[offset] = value;
    assert_avro_error(bytes, sizeof(bytes), expected);
}

START_TEST(test_decode_avro_minimal) {
    span_t span;
    ck_assert_int_eq(span_codec_decode_avro(codec, minimal_avro, sizeof(minimal_avro), &span,
                                            errstr, sizeof(errstr)),
                     0);
    char *json = span_json(&span);
    ck_assert_str_eq(json, "{\"trace_id\":\"t\",\"span_id\":\"s\",\"parent_span_id\":null,"
                           "\"dag_id\":null,\"node_id\":null,\"kind\":\"run\",\"name\":null,"
                           "\"start_us\":1,\"end_us\":2,\"status\":\"ok\",\"depends_on\":[],"
                           "\"attempt\":0,\"model\":null,\"provider\":null,"
                           "\"input_tokens\":0,\"output_tokens\":0,\"cache_read_tokens\":0,"
                           "\"cache_write_tokens\":0,\"reasoning_tokens\":0,"
                           "\"tool_name\":null,\"attributes\":{}}");
    free(json);
}
END_TEST

START_TEST(test_decode_avro_errors) {
    assert_avro_error(minimal_avro, 0, "record: empty message");
    assert_patched_error(OFF_KIND, 0x0a, "kind: invalid enum index 5");
    assert_patched_error(OFF_KIND, 0x01, "kind: invalid enum index -1");
    assert_patched_error(OFF_STATUS, 0x06, "status: invalid enum index 3");
    assert_patched_error(OFF_TRACE_LEN, 0x01, "trace_id: negative length -1");
    assert_patched_error(OFF_TRACE_LEN, 0x7e, "trace_id: truncated message (string of 63 bytes)");
    assert_patched_error(OFF_PARENT, 0x04, "parent_span_id: invalid union index 2");
    assert_patched_error(OFF_ATTEMPT, 0x01, "attempt: out of range (-1)");
    assert_patched_error(OFF_INPUT, 0x03, "input_tokens: negative token count -2");
    assert_patched_error(OFF_REASONING, 0x01, "reasoning_tokens: negative token count -1");
    assert_patched_error(OFF_DEPENDS, 0x7e, "depends_on: truncated message (63 items)");
    assert_patched_error(OFF_ATTRIBUTES, 0x02, "attributes: truncated message (1 items)");
    assert_patched_error(3, 0x00, "span_id: string contains a NUL byte");
    assert_patched_error(3, 0xff, "span_id: string is not UTF-8");
    assert_patched_error(3, 0xc3, "span_id: string is not UTF-8"); /* a lead byte, no tail */

    uint8_t trailing[sizeof(minimal_avro) + 2];
    memcpy(trailing, minimal_avro, sizeof(minimal_avro));
    trailing[sizeof(minimal_avro)] = 0x00;
    trailing[sizeof(minimal_avro) + 1] = 0x00;
    assert_avro_error(trailing, sizeof(trailing), "record: 2 trailing bytes after the SpanEvent");

    /* attempt above INT32_MAX: zigzag(2^31) = 2^32 = 80 80 80 80 10. */
    uint8_t big_attempt[sizeof(minimal_avro) + 4];
    memcpy(big_attempt, minimal_avro, OFF_ATTEMPT);
    memcpy(big_attempt + OFF_ATTEMPT, "\x80\x80\x80\x80\x10", 5);
    memcpy(big_attempt + OFF_ATTEMPT + 5, minimal_avro + OFF_ATTEMPT + 1,
           sizeof(minimal_avro) - OFF_ATTEMPT - 1);
    assert_avro_error(big_attempt, sizeof(big_attempt), "attempt: out of range (2147483648)");

    /* A start_us varint running past 10 bytes. */
    uint8_t overlong[OFF_START + 11];
    memcpy(overlong, minimal_avro, OFF_START);
    memset(overlong + OFF_START, 0xff, 11);
    assert_avro_error(overlong, sizeof(overlong), "start_us: malformed varint");
    /* Ten bytes whose last one carries more than bit 63. */
    memset(overlong + OFF_START, 0xff, 9);
    overlong[OFF_START + 9] = 0x02;
    assert_avro_error(overlong, OFF_START + 10, "start_us: malformed varint");
    /* The largest long, 2^63 - 1, is zigzag 2^64 - 2: nine 0xfe/0xff bytes and 0x01. */
    uint8_t max_start[sizeof(minimal_avro) + 9];
    memcpy(max_start, minimal_avro, OFF_START);
    memcpy(max_start + OFF_START, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    memcpy(max_start + OFF_START + 10, minimal_avro + OFF_START + 1,
           sizeof(minimal_avro) - OFF_START - 1);
    span_t span;
    ck_assert_int_eq(span_codec_decode_avro(codec, max_start, sizeof(max_start), &span, errstr,
                                            sizeof(errstr)),
                     0);
    ck_assert_int_eq(span.start_us, INT64_MAX);

    /* Empty span_id: the second string has length 0. */
    static const uint8_t empty_span[] = {0x02, 't', 0x00};
    assert_avro_error(empty_span, sizeof(empty_span), "span_id: empty");
}
END_TEST

START_TEST(test_decode_avro_every_truncation) {
    span_t span;
    buf_t avro = BUF_INIT;
    ck_assert_int_eq(span_codec_decode_json(codec, rich_json, strlen(rich_json), &span, errstr,
                                            sizeof(errstr)),
                     0);
    ck_assert_int_eq(span_codec_encode_avro(codec, &span, &avro, errstr, sizeof(errstr)), 0);
    for (size_t len = 0; len < avro.len; len++) {
        /* Copy to an exact-size heap block so a read past the end is caught
         * by valgrind or AddressSanitizer. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, avro.data, len);
        ck_assert_msg(span_codec_decode_avro(codec, copy, len, &span, errstr,
                                             sizeof(errstr)) == -1,
                      "prefix of %zu bytes decoded", len);
        free(copy);
    }
    ck_assert_int_eq(span_codec_decode_avro(codec, avro.data, avro.len, &span, errstr,
                                            sizeof(errstr)),
                     0);
    buf_free(&avro);
}
END_TEST

START_TEST(test_decode_avro_negative_block_count) {
    /* depends_on as one block of -2 items with its byte size (Avro allows it). */
    uint8_t bytes[sizeof(minimal_avro) + 6];
    static const uint8_t block[] = {0x03, 0x08, 0x02, 'a', 0x02, 'b', 0x00};
    memcpy(bytes, minimal_avro, OFF_DEPENDS);
    memcpy(bytes + OFF_DEPENDS, block, sizeof(block));
    memcpy(bytes + OFF_DEPENDS + sizeof(block), minimal_avro + OFF_DEPENDS + 1,
           sizeof(minimal_avro) - OFF_DEPENDS - 1);
    span_t span;
    ck_assert_int_eq(
        span_codec_decode_avro(codec, bytes, sizeof(bytes), &span, errstr, sizeof(errstr)), 0);
    ck_assert_uint_eq(span.depends_on_count, 2);
    ck_assert_str_eq(span.depends_on[0], "a");
    ck_assert_str_eq(span.depends_on[1], "b");
}
END_TEST

static size_t confluent_frame(uint8_t *dest, uint32_t schema_id, const uint8_t *body,
                              size_t len) {
    dest[0] = 0;
    dest[1] = (uint8_t)(schema_id >> 24);
    dest[2] = (uint8_t)(schema_id >> 16);
    dest[3] = (uint8_t)(schema_id >> 8);
    dest[4] = (uint8_t)schema_id;
    memcpy(dest + 5, body, len);
    return len + 5;
}

START_TEST(test_decode_avro_confluent) {
    uint8_t framed[5 + sizeof(minimal_avro)];
    span_t span;
    size_t len = confluent_frame(framed, 7, minimal_avro, sizeof(minimal_avro));

    ck_assert_int_eq(span_codec_decode_avro(codec, framed, len, &span, errstr, sizeof(errstr)),
                     0);
    ck_assert_str_eq(span.trace_id, "t");
    ck_assert_str_eq(span.span_id, "s");
    ck_assert_int_eq(span.end_us, 2);

    span_codec_set_schema_id(codec, 7);
    ck_assert_int_eq(span_codec_decode_avro(codec, framed, len, &span, errstr, sizeof(errstr)),
                     0);
    span_codec_set_schema_id(codec, 3);
    ck_assert_int_eq(span_codec_decode_avro(codec, framed, len, &span, errstr, sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, "schema id 7, expected 3");
    /* Bare messages carry no id and are still accepted. */
    ck_assert_int_eq(span_codec_decode_avro(codec, minimal_avro, sizeof(minimal_avro), &span,
                                            errstr, sizeof(errstr)),
                     0);
    span_codec_set_schema_id(codec, -1);

    /* The id is big-endian and unsigned. */
    len = confluent_frame(framed, 0x80000102u, minimal_avro, sizeof(minimal_avro));
    span_codec_set_schema_id(codec, 0x80000102LL);
    ck_assert_int_eq(span_codec_decode_avro(codec, framed, len, &span, errstr, sizeof(errstr)),
                     0);
    span_codec_set_schema_id(codec, 258);
    ck_assert_int_eq(span_codec_decode_avro(codec, framed, len, &span, errstr, sizeof(errstr)),
                     -1);
    ck_assert_str_eq(errstr, "schema id 2147483906, expected 258");
    span_codec_set_schema_id(codec, -1);

    assert_avro_error(framed, 3, "schema id: truncated Confluent header (3 bytes)");
    assert_avro_error(framed, 5, "trace_id: truncated message");
    /* A Confluent body that is cut short. */
    assert_avro_error(framed, 5 + OFF_START, "start_us: truncated message");
}
END_TEST

/* Avro-C reads our bytes into a generic value and writes back the same bytes:
 * the hand-written codec and the reference implementation agree. */
START_TEST(test_avro_c_agrees) {
    span_t span;
    buf_t ours = BUF_INIT;
    char *expected_json = rich_avro(&span, &ours);

    avro_value_iface_t *iface = avro_generic_class_from_schema(span_codec_schema(codec));
    ck_assert_ptr_nonnull(iface);
    avro_value_t value;
    ck_assert_int_eq(avro_generic_value_new(iface, &value), 0);
    avro_reader_t reader = avro_reader_memory(ours.data, (int64_t)ours.len);
    ck_assert_msg(avro_value_read(reader, &value) == 0, "%s", avro_strerror());

    size_t size = 0;
    ck_assert_int_eq(avro_value_sizeof(&value, &size), 0);
    ck_assert_uint_eq(size, ours.len);
    char *theirs = malloc(size);
    avro_writer_t writer = avro_writer_memory(theirs, (int64_t)size);
    ck_assert_int_eq(avro_value_write(writer, &value), 0);
    ck_assert_int_eq(memcmp(theirs, ours.data, size), 0);

    /* And the generic value converts to the same span. */
    ck_assert_int_eq(span_codec_decode_value(codec, &value, &span, errstr, sizeof(errstr)), 0);
    char *value_json = span_json(&span);
    ck_assert_str_eq(value_json, expected_json);

    free(value_json);
    free(expected_json);
    free(theirs);
    avro_writer_free(writer);
    avro_reader_free(reader);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    buf_free(&ours);
}
END_TEST

/* A writer schema with other field order, enum symbol order, int tokens and
 * no optional fields still decodes by name. */
START_TEST(test_decode_value_other_writer_schema) {
    static const char schema_json[] =
        "{\"type\":\"record\",\"name\":\"Span\",\"fields\":["
        "{\"name\":\"end_us\",\"type\":\"long\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"K\","
        "\"symbols\":[\"tool\",\"llm\"]}},"
        "{\"name\":\"span_id\",\"type\":\"string\"},"
        "{\"name\":\"start_us\",\"type\":\"int\"},"
        "{\"name\":\"input_tokens\",\"type\":[\"null\",\"int\"]},"
        "{\"name\":\"trace_id\",\"type\":\"string\"}]}";
    avro_schema_t schema;
    ck_assert_int_eq(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value, field, branch;
    ck_assert_int_eq(avro_generic_value_new(iface, &value), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "end_us", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_long(&field, 90), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "kind", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_enum(&field, 1), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "span_id", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_string(&field, "s9"), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "start_us", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_int(&field, 40), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "input_tokens", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_branch(&field, 1, &branch), 0);
    ck_assert_int_eq(avro_value_set_int(&branch, 12), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "trace_id", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_string(&field, "t9"), 0);

    span_t span;
    ck_assert_int_eq(span_codec_decode_value(codec, &value, &span, errstr, sizeof(errstr)), 0);
    ck_assert_str_eq(span.trace_id, "t9");
    ck_assert_str_eq(span.span_id, "s9");
    ck_assert_int_eq(span.kind, SPAN_KIND_LLM);
    ck_assert_int_eq(span.start_us, 40);
    ck_assert_int_eq(span.end_us, 90);
    ck_assert_int_eq(span.input_tokens, 12);
    ck_assert_int_eq(span.status, SPAN_STATUS_UNSET);
    ck_assert_ptr_null(span.model);

    /* A negative count is refused here too. */
    ck_assert_int_eq(avro_value_set_int(&branch, -3), 0);
    ck_assert_int_eq(span_codec_decode_value(codec, &value, &span, errstr, sizeof(errstr)), -1);
    ck_assert_str_eq(errstr, "input_tokens: negative (-3)");
    ck_assert_int_eq(avro_value_get_by_name(&value, "trace_id", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_string(&field, ""), 0);
    ck_assert_int_eq(span_codec_decode_value(codec, &value, &span, errstr, sizeof(errstr)), -1);
    ck_assert_str_eq(errstr, "trace_id: empty");

    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}
END_TEST

START_TEST(test_encode_avro_refuses) {
    span_t good = {.trace_id = "t", .span_id = "s", .kind = SPAN_KIND_RUN, .start_us = 1,
                   .end_us = 2, .status = SPAN_STATUS_OK};
    static const char *const deps_with_null[] = {"a", NULL};
    static const span_attr_t attr_with_null[] = {{"k", NULL}};
    struct {
        span_t span;
        const char *expected;
    } cases[] = {
        {good, NULL},
        {good, "trace_id: missing or empty"},
        {good, "span_id: missing or empty"},
        {good, "kind: invalid value 9"},
        {good, "status: invalid value 4"},
        {good, "attempt: negative (-1)"},
        {good, "cache_write_tokens: negative token count -7"},
        {good, "depends_on: item 1 is NULL"},
        {good, "attributes: item 0 has a NULL key or value"},
    };
    cases[1].span.trace_id = "";
    cases[2].span.span_id = NULL;
    cases[3].span.kind = (span_kind_t)9;
    cases[4].span.status = (span_status_t)4;
    cases[5].span.attempt = -1;
    cases[6].span.cache_write_tokens = -7;
    cases[7].span.depends_on = deps_with_null;
    cases[7].span.depends_on_count = 2;
    cases[8].span.attributes = attr_with_null;
    cases[8].span.attribute_count = 1;

    buf_t out = BUF_INIT;
    ck_assert_int_eq(buf_puts(&out, "keep"), 0);
    ck_assert_int_eq(span_codec_encode_avro(codec, &cases[0].span, &out, errstr, sizeof(errstr)),
                     0);
    size_t good_len = out.len;
    for (size_t i = 1; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(
            span_codec_encode_avro(codec, &cases[i].span, &out, errstr, sizeof(errstr)), -1);
        ck_assert_str_eq(errstr, cases[i].expected);
        ck_assert_uint_eq(out.len, good_len);
    }
    buf_free(&out);
}
END_TEST

START_TEST(test_encode_json_escaping) {
    /* Quotes, backslash, control bytes, valid multi-byte UTF-8 (é, €, 😀),
     * a lone continuation byte, a cut 3-byte sequence, an overlong '/', a
     * UTF-16 surrogate, a code point above U+10FFFF and a bare 0xff. */
    static const char name[] = "q\"b\\s\n\r\t\b\f\x01\x1f\x7f "
                               "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
                               "\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xff";
    span_t span = {.trace_id = "t", .span_id = "s", .name = name, .start_us = 1, .end_us = 2};
    char *json = span_json(&span);
    const char *expected =
        "\"name\":\"q\\\"b\\\\s\\n\\r\\t\\b\\f\\u0001\\u001f\x7f "
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "
        "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
        "\xef\xbf\xbd\",";
    ck_assert_msg(strstr(json, expected) != NULL, "got %s", json);
    /* The result is valid JSON (jansson insists on valid UTF-8). */
    json_error_t error;
    json_t *parsed = json_loads(json, 0, &error);
    ck_assert_msg(parsed != NULL, "%s", error.text);
    json_decref(parsed);
    free(json);
}
END_TEST

START_TEST(test_long_strings_and_many_items) {
    /* A 100 kB attribute and 1000 dependencies survive both forms. */
    buf_t line = BUF_INIT;
    ck_assert_int_eq(buf_puts(&line, "{\"trace_id\":\"t\",\"span_id\":\"s\",\"start_us\":1,"
                                     "\"end_us\":2,\"depends_on\":["),
                     0);
    int rc = 0;
    for (int i = 0; i < 1000; i++)
        rc |= buf_printf(&line, "%s\"node-%d\"", i ? "," : "", i);
    rc |= buf_puts(&line, "],\"attributes\":{\"big\":\"");
    for (int i = 0; i < 100000; i++)
        rc |= buf_putc(&line, (char)('a' + i % 26));
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(buf_puts(&line, "\"}}"), 0);
    assert_round_trip(line.data, line.len);

    span_t span;
    ck_assert_int_eq(
        span_codec_decode_json(codec, line.data, line.len, &span, errstr, sizeof(errstr)), 0);
    ck_assert_uint_eq(span.depends_on_count, 1000);
    ck_assert_str_eq(span.depends_on[999], "node-999");
    ck_assert_uint_eq(strlen(span.attributes[0].value), 100000);
    buf_free(&line);
}
END_TEST

/* Deterministic xorshift, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* When garbage does decode, what came out must be a valid span that encodes
 * and decodes to itself. Checks fail explicitly rather than through
 * ck_assert so that 200k iterations stay cheap. */
static void check_garbage(const uint8_t *bytes, size_t len, span_codec_t *other,
                          long *decoded) {
    span_t span;
    if (span_codec_decode_avro(codec, bytes, len, &span, errstr, sizeof(errstr)) != 0) {
        if (errstr[0] == '\0')
            ck_abort_msg("error without a message");
        return;
    }
    (*decoded)++;
    if (!span.trace_id || !span.span_id || !span.trace_id[0] || !span.span_id[0] ||
        span.input_tokens < 0 || span.attempt < 0)
        ck_abort_msg("decoded an invalid span");
    char *first = span_json(&span);
    buf_t again = BUF_INIT;
    if (span_codec_encode_avro(codec, &span, &again, errstr, sizeof(errstr)) != 0)
        ck_abort_msg("re-encoding failed: %s", errstr);
    if (span_codec_decode_avro(other, again.data, again.len, &span, errstr, sizeof(errstr)) != 0)
        ck_abort_msg("decoding the re-encoded span failed: %s", errstr);
    char *second = span_json(&span);
    if (strcmp(first, second) != 0)
        ck_abort_msg("round trip differs: %s vs %s", first, second);
    free(first);
    free(second);
    buf_free(&again);
}

START_TEST(test_random_garbage_never_crashes) {
    span_codec_t *other = span_codec_new(errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(other);
    long decoded = 0;

    for (int i = 0; i < 100000; i++) {
        size_t len = (size_t)(rng_next() % 96);
        uint8_t *exact = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++)
            exact[j] = (uint8_t)rng_next();
        check_garbage(exact, len, other, &decoded);
        free(exact);
    }

    /* Mutations of a valid message reach much deeper into the decoder. */
    span_t span;
    buf_t valid = BUF_INIT;
    ck_assert_int_eq(span_codec_decode_json(codec, rich_json, strlen(rich_json), &span, errstr,
                                            sizeof(errstr)),
                     0);
    ck_assert_int_eq(span_codec_encode_avro(codec, &span, &valid, errstr, sizeof(errstr)), 0);
    long mutated_ok = 0;
    for (int i = 0; i < 100000; i++) {
        uint8_t *copy = malloc(valid.len);
        memcpy(copy, valid.data, valid.len);
        int flips = 1 + (int)(rng_next() % 3);
        for (int f = 0; f < flips; f++)
            copy[rng_next() % valid.len] = (uint8_t)rng_next();
        size_t len = valid.len - (size_t)(rng_next() % 4);
        check_garbage(copy, len, other, &mutated_ok);
        free(copy);
    }
    /* Some mutations only touch string bytes or numbers, so they decode. */
    ck_assert_int_gt(mutated_ok, 1000);
    buf_free(&valid);
    span_codec_free(other);
}
END_TEST

static Suite *span_codec_suite(void) {
    Suite *suite = suite_create("span_codec");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_schema_matches_avsc);
    tcase_add_test(tc, test_decode_json_every_field);
    tcase_add_test(tc, test_decode_json_defaults);
    tcase_add_loop_test(tc, test_decode_json_errors, 0,
                        (int)(sizeof(json_errors) / sizeof(json_errors[0])));
    tcase_add_test(tc, test_decode_json_rejects_trailing_and_nul);
    tcase_add_test(tc, test_round_trip_rich);
    tcase_add_test(tc, test_decode_avro_rest);
    tcase_add_test(tc, test_round_trip_example_trace);
    tcase_add_test(tc, test_encode_avro_exact_bytes);
    tcase_add_test(tc, test_decode_avro_minimal);
    tcase_add_test(tc, test_decode_avro_errors);
    tcase_add_test(tc, test_decode_avro_every_truncation);
    tcase_add_test(tc, test_decode_avro_negative_block_count);
    tcase_add_test(tc, test_decode_avro_confluent);
    tcase_add_test(tc, test_avro_c_agrees);
    tcase_add_test(tc, test_decode_value_other_writer_schema);
    tcase_add_test(tc, test_encode_avro_refuses);
    tcase_add_test(tc, test_encode_json_escaping);
    tcase_add_test(tc, test_long_strings_and_many_items);
    tcase_add_test(tc, test_random_garbage_never_crashes);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(span_codec_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
