/* fuzz_otlp.c -- libFuzzer target: the OTLP decoders and wire_detect on
 * arbitrary bytes.
 *
 * Each input is decoded as OTLP protobuf and as OTLP/JSON, from a copy that
 * is not NUL-terminated so AddressSanitizer catches a read past the length.
 * Every mapped span must be one the rest of dagprof accepts: ids of 32 and 16
 * lowercase hex digits, end >= start, and it must encode as SpanEvent Avro
 * (how the stream stores it) and read back to the same JSON. A failed decode
 * gives a reason and has emitted nothing; every rejection has a kind and a
 * reason. Anything else aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "otlp.h"
#include "span_codec.h"

static otlp_decoder_t *decoder;
static span_codec_t *encode_codec;
static span_codec_t *decode_codec;
static size_t spans_seen;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_otlp: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static int is_lower_hex(const char *text, size_t digits) {
    if (!text || strlen(text) != digits)
        return 0;
    for (size_t i = 0; i < digits; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    return 1;
}

static int check_span(void *opaque, const span_t *span) {
    char err[512] = "";
    buf_t json = BUF_INIT, avro = BUF_INIT, again = BUF_INIT;
    span_t back;
    (void)opaque;
    spans_seen++;
    if (!is_lower_hex(span->trace_id, 32) || !is_lower_hex(span->span_id, 16))
        fail("a span with a malformed id", span->span_id);
    if (span->parent_span_id && !is_lower_hex(span->parent_span_id, 16))
        fail("a span with a malformed parent id", span->parent_span_id);
    if (span->end_us < span->start_us)
        fail("a span that ends before it starts", span->span_id);
    if (span_codec_encode_json(span, &json) != 0)
        fail("span_codec_encode_json", "out of memory");
    if (span_codec_encode_avro(encode_codec, span, &avro, err, sizeof(err)) != 0)
        fail("a mapped span does not encode as Avro", err);
    if (span_codec_decode_avro(decode_codec, avro.data, avro.len, &back, err, sizeof(err)) != 0)
        fail("the Avro of a mapped span does not decode", err);
    if (span_codec_encode_json(&back, &again) != 0)
        fail("span_codec_encode_json", "out of memory");
    if (json.len != again.len || memcmp(json.data, again.data, json.len) != 0) {
        fprintf(stderr, "fuzz_otlp: expected %s\nfuzz_otlp: got      %s\n", json.data, again.data);
        fail("span -> Avro -> span", "the span changed");
    }
    buf_free(&json);
    buf_free(&avro);
    buf_free(&again);
    return 0;
}

static void check_reject(void *opaque, const char *kind, const char *reason) {
    (void)opaque;
    if (!kind || !*kind || !reason || !*reason)
        fail("a rejection without a kind or a reason", kind);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[512] = "";
    (void)argc;
    (void)argv;
    decoder = otlp_decoder_new(err, sizeof(err));
    encode_codec = span_codec_new(err, sizeof(err));
    decode_codec = span_codec_new(err, sizeof(err));
    if (!decoder || !encode_codec || !decode_codec)
        fail("setup", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        fail("malloc", NULL);
    memcpy(copy, data, size);
    wire_format_t format = wire_detect(copy, size);
    if (strcmp(wire_format_name(format), "unknown") == 0 && format != WIRE_UNKNOWN)
        fail("wire_format_name", "an unnamed format");

    err[0] = '\0';
    spans_seen = 0;
    int rc = otlp_decode_proto(decoder, copy, size, check_span, check_reject, NULL, err,
                               sizeof(err));
    if (rc == -1 && (!err[0] || spans_seen))
        fail("otlp_decode_proto failed without a reason or after emitting spans", err);
    if (rc != 0 && rc != -1)
        fail("otlp_decode_proto returned a value no callback gave", NULL);

    err[0] = '\0';
    spans_seen = 0;
    rc = otlp_decode_json(decoder, (const char *)copy, size, check_span, check_reject, NULL, err,
                          sizeof(err));
    if (rc == -1 && (!err[0] || spans_seen))
        fail("otlp_decode_json failed without a reason or after emitting spans", err);
    if (rc != 0 && rc != -1)
        fail("otlp_decode_json returned a value no callback gave", NULL);
    free(copy);
    return 0;
}
