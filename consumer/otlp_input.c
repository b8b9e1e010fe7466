/* otlp_input.c -- an OTLP message's spans as the store keeps them. See
 * otlp_input.h. The decoder calls back once per mapped span; each is checked,
 * encoded into one reused buffer and handed on, so a message of a million
 * spans needs one span's memory here, not a million. */
#include "otlp_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct otlp_input {
    otlp_decoder_t *decoder;
    span_codec_t *codec; /* borrowed */
    buf_t body;
};

/* One decode call's state, for the decoder's callbacks. */
typedef struct decode_ctx {
    otlp_input_t *in;
    const otlp_input_limits_t *limits;
    const otlp_input_sink_t *sink;
    otlp_input_result_t *result;
    const unsigned char *key;
    size_t key_len;
    int stopped;
} decode_ctx_t;

otlp_input_t *otlp_input_new(span_codec_t *codec, char *errstr, size_t errstr_size) {
    otlp_input_t *in = calloc(1, sizeof(*in));
    if (!in) {
        snprintf(errstr, errstr_size, "otlp input: out of memory");
        return NULL;
    }
    in->codec = codec;
    in->decoder = otlp_decoder_new(errstr, errstr_size);
    if (!in->decoder) {
        free(in);
        return NULL;
    }
    return in;
}

void otlp_input_free(otlp_input_t *in) {
    if (!in)
        return;
    otlp_decoder_free(in->decoder);
    buf_free(&in->body);
    free(in);
}

/* The key names the span's trace: its hex text (any case), or its 16 bytes. */
static int key_is_trace(const unsigned char *key, size_t key_len, const char *trace_id) {
    size_t id_len = strlen(trace_id);
    if (key_len == id_len) {
        for (size_t i = 0; i < key_len; i++) {
            char a = (char)key[i], b = trace_id[i];
            if (a >= 'A' && a <= 'F')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'F')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                return 0;
        }
        return 1;
    }
    if (key_len * 2 == id_len) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < key_len; i++) {
            char hi = trace_id[2 * i], lo = trace_id[2 * i + 1];
            if (hi >= 'A' && hi <= 'F')
                hi = (char)(hi - 'A' + 'a');
            if (lo >= 'A' && lo <= 'F')
                lo = (char)(lo - 'A' + 'a');
            if (hi != digits[key[i] >> 4] || lo != digits[key[i] & 15])
                return 0;
        }
        return 1;
    }
    return 0;
}

static void on_reject(void *opaque, const char *kind, const char *reason) {
    decode_ctx_t *c = opaque;
    c->result->rejected++;
    c->sink->reject(c->sink->opaque, kind, reason);
}

static int on_span(void *opaque, const span_t *span) {
    decode_ctx_t *c = opaque;
    char err[512];
    if (c->stopped)
        return -1;
    if (span->end_us < span->start_us) {
        on_reject(c, "end_before_start", "end_us < start_us");
        return 0;
    }
    if (span->start_us < c->limits->min_us || span->end_us > c->limits->max_us) {
        on_reject(c, "absurd_time", "timestamp before 2000 or more than a year ahead");
        return 0;
    }
    buf_reset(&c->in->body);
    if (span_codec_encode_avro(c->in->codec, span, &c->in->body, err, sizeof(err)) != 0) {
        on_reject(c, "otlp_unencodable", err);
        return 0;
    }
    if (c->result->keyed_by_trace && !key_is_trace(c->key, c->key_len, span->trace_id))
        c->result->keyed_by_trace = 0;
    otlp_input_span_t out = {span->trace_id, span->span_id, span->kind == SPAN_KIND_RUN,
                             c->in->body.data, c->in->body.len};
    if (c->sink->span(c->sink->opaque, &out) != 0) {
        c->stopped = 1;
        return -1;
    }
    c->result->spans++;
    return 0;
}

int otlp_input_decode(otlp_input_t *in, wire_format_t format, const void *buf, size_t len,
                      const void *key, size_t key_len, const otlp_input_limits_t *limits,
                      const otlp_input_sink_t *sink, otlp_input_result_t *result, char *errstr,
                      size_t errstr_size) {
    memset(result, 0, sizeof(*result));
    result->keyed_by_trace = key != NULL && key_len > 0;
    decode_ctx_t c = {in, limits, sink, result, key, key_len, 0};
    int rc;
    if (format == WIRE_OTLP_JSON)
        rc = otlp_decode_json(in->decoder, buf, len, on_span, on_reject, &c, errstr, errstr_size);
    else
        rc = otlp_decode_proto(in->decoder, buf, len, on_span, on_reject, &c, errstr, errstr_size);
    if (c.stopped) {
        snprintf(errstr, errstr_size, "out of memory");
        return -2;
    }
    if (result->spans == 0)
        result->keyed_by_trace = 0;
    return rc == 0 ? 0 : -1;
}
