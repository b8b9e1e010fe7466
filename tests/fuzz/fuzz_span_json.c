/* fuzz_span_json.c -- libFuzzer target: span_codec_decode_json on arbitrary bytes.
 *
 * The input is one JSON Lines record, not NUL-terminated, so AddressSanitizer
 * catches a decoder that reads past the given length. A span that decodes is
 * then written back with span_codec_encode_json and, separately, through
 * span_codec_encode_avro and span_codec_decode_avro; both must read back to
 * the same JSON bytes. A difference aborts: the two wire forms of SPEC §1
 * would disagree about the same span. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "span.h"
#include "span_codec.h"

/* A decoded span points into its codec's memory, so each step of the round
 * trips decodes with its own codec. Created once; the process exits when
 * fuzzing ends. */
static span_codec_t *input_codec;
static span_codec_t *json_codec;
static span_codec_t *avro_codec;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_span_json: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void expect_same(const buf_t *expected, const buf_t *actual, const char *what) {
    if (expected->len != actual->len || memcmp(expected->data, actual->data, actual->len) != 0) {
        fprintf(stderr, "fuzz_span_json: expected %s\nfuzz_span_json: got      %s\n",
                expected->data, actual->data);
        fail(what, "the span changed");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[512] = "";
    (void)argc;
    (void)argv;
    input_codec = span_codec_new(err, sizeof(err));
    json_codec = span_codec_new(err, sizeof(err));
    avro_codec = span_codec_new(err, sizeof(err));
    if (!input_codec || !json_codec || !avro_codec)
        fail("span_codec_new", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    span_t span, from_json, from_avro;
    buf_t json = BUF_INIT, json_again = BUF_INIT, avro = BUF_INIT, avro_json = BUF_INIT;

    if (span_codec_decode_json(input_codec, (const char *)data, size, &span, err,
                               sizeof(err)) != 0) {
        if (!err[0])
            fail("decode failed without a reason", NULL);
        return 0;
    }
    if (span_codec_encode_json(&span, &json) != 0)
        fail("span_codec_encode_json", "out of memory");

    if (span_codec_decode_json(json_codec, json.data, json.len, &from_json, err,
                               sizeof(err)) != 0)
        fail("the JSON written for a decoded span does not decode", err);
    if (span_codec_encode_json(&from_json, &json_again) != 0)
        fail("span_codec_encode_json", "out of memory");
    expect_same(&json, &json_again, "JSON -> span -> JSON -> span");

    if (span_codec_encode_avro(input_codec, &span, &avro, err, sizeof(err)) != 0)
        fail("a span decoded from JSON does not encode as Avro", err);
    if (span_codec_decode_avro(avro_codec, avro.data, avro.len, &from_avro, err,
                               sizeof(err)) != 0)
        fail("the Avro written for a span decoded from JSON does not decode", err);
    if (span_codec_encode_json(&from_avro, &avro_json) != 0)
        fail("span_codec_encode_json", "out of memory");
    expect_same(&json, &avro_json, "JSON -> span -> Avro -> span");

    buf_free(&json);
    buf_free(&json_again);
    buf_free(&avro);
    buf_free(&avro_json);
    return 0;
}
