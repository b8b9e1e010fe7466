/* fuzz_span_avro.c -- libFuzzer target: span_codec_decode_avro on arbitrary bytes.
 *
 * Each input is decoded as it is (bare, or Confluent-framed when it starts
 * with byte 0) and again behind a Confluent header, so both framings see every
 * body. A span that decodes must survive encode -> decode with every field
 * equal, and its encoding must be stable (encode -> decode -> encode gives the
 * same bytes); any difference aborts, because it is a codec bug: a consumer
 * that re-encodes a span (dead letters, the trace store) would change it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "span.h"
#include "span_codec.h"

#define CONFLUENT_HEADER_BYTES 5

/* Two codecs: a decoded span points into its codec's memory, so the second
 * decode of a round trip must not reuse the first's. Created once; the
 * process exits when fuzzing ends. */
static span_codec_t *first_codec;
static span_codec_t *second_codec;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_span_avro: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static bool string_equal(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The name of the first field that differs, or NULL when the spans are equal. */
static const char *span_difference(const span_t *a, const span_t *b) {
    if (!string_equal(a->trace_id, b->trace_id))
        return "trace_id";
    if (!string_equal(a->span_id, b->span_id))
        return "span_id";
    if (!string_equal(a->parent_span_id, b->parent_span_id))
        return "parent_span_id";
    if (!string_equal(a->dag_id, b->dag_id))
        return "dag_id";
    if (!string_equal(a->node_id, b->node_id))
        return "node_id";
    if (a->kind != b->kind)
        return "kind";
    if (!string_equal(a->name, b->name))
        return "name";
    if (a->start_us != b->start_us)
        return "start_us";
    if (a->end_us != b->end_us)
        return "end_us";
    if (a->status != b->status)
        return "status";
    if (a->depends_on_count != b->depends_on_count)
        return "depends_on (count)";
    for (size_t i = 0; i < a->depends_on_count; i++)
        if (!string_equal(a->depends_on[i], b->depends_on[i]))
            return "depends_on (item)";
    if (a->attempt != b->attempt)
        return "attempt";
    if (!string_equal(a->model, b->model))
        return "model";
    if (!string_equal(a->provider, b->provider))
        return "provider";
    if (a->input_tokens != b->input_tokens)
        return "input_tokens";
    if (a->output_tokens != b->output_tokens)
        return "output_tokens";
    if (a->cache_read_tokens != b->cache_read_tokens)
        return "cache_read_tokens";
    if (a->cache_write_tokens != b->cache_write_tokens)
        return "cache_write_tokens";
    if (a->reasoning_tokens != b->reasoning_tokens)
        return "reasoning_tokens";
    if (!string_equal(a->tool_name, b->tool_name))
        return "tool_name";
    if (a->attribute_count != b->attribute_count)
        return "attributes (count)";
    for (size_t i = 0; i < a->attribute_count; i++)
        if (!string_equal(a->attributes[i].key, b->attributes[i].key) ||
            !string_equal(a->attributes[i].value, b->attributes[i].value))
            return "attributes (entry)";
    return NULL;
}

/* Decode `data`; when it is a span, check the round trip. */
static void check_message(const uint8_t *data, size_t size) {
    char err[512] = "";
    span_t span, again;
    buf_t encoded = BUF_INIT, reencoded = BUF_INIT;

    if (span_codec_decode_avro(first_codec, data, size, &span, err, sizeof(err)) != 0) {
        if (!err[0])
            fail("decode failed without a reason", NULL);
        return;
    }
    if (span_codec_encode_avro(first_codec, &span, &encoded, err, sizeof(err)) != 0)
        fail("a decoded span does not encode", err);
    if (span_codec_decode_avro(second_codec, encoded.data, encoded.len, &again, err,
                               sizeof(err)) != 0)
        fail("the encoding of a decoded span does not decode", err);
    const char *field = span_difference(&span, &again);
    if (field)
        fail("encode -> decode changed a field", field);
    if (span_codec_encode_avro(second_codec, &again, &reencoded, err, sizeof(err)) != 0)
        fail("a re-decoded span does not encode", err);
    if (reencoded.len != encoded.len || memcmp(reencoded.data, encoded.data, encoded.len) != 0)
        fail("encode -> decode -> encode changed the bytes", NULL);
    buf_free(&encoded);
    buf_free(&reencoded);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[512];
    (void)argc;
    (void)argv;
    first_codec = span_codec_new(err, sizeof(err));
    second_codec = span_codec_new(err, sizeof(err));
    if (!first_codec || !second_codec)
        fail("span_codec_new", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_message(data, size);
    /* The same body behind a Confluent header (schema id 1: any id is
     * accepted), in a buffer of exactly that size so AddressSanitizer sees
     * any read past its end. */
    uint8_t *framed = malloc(CONFLUENT_HEADER_BYTES + size);
    if (!framed)
        fail("out of memory", NULL);
    memset(framed, 0, CONFLUENT_HEADER_BYTES);
    framed[CONFLUENT_HEADER_BYTES - 1] = 1;
    if (size)
        memcpy(framed + CONFLUENT_HEADER_BYTES, data, size);
    check_message(framed, CONFLUENT_HEADER_BYTES + size);
    free(framed);
    return 0;
}
