/* otlp.c -- OTLP traces decoded and mapped to span events. See otlp.h. */
#include "otlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct otlp_decoder {
    int unused;
};

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

wire_format_t wire_detect(const void *buf, size_t len) {
    (void)buf;
    (void)len;
    return WIRE_UNKNOWN;
}

otlp_decoder_t *otlp_decoder_new(char *errstr, size_t errstr_size) {
    otlp_decoder_t *d = calloc(1, sizeof *d);
    if (!d)
        snprintf(errstr, errstr_size, "otlp decoder: out of memory");
    return d;
}

void otlp_decoder_free(otlp_decoder_t *d) {
    free(d);
}

int otlp_decode_proto(otlp_decoder_t *d, const void *buf, size_t len, otlp_span_fn on_span,
                      otlp_reject_fn on_reject, void *opaque, char *errstr, size_t errstr_size) {
    (void)d, (void)buf, (void)len, (void)on_span, (void)on_reject, (void)opaque;
    snprintf(errstr, errstr_size, "otlp_proto: decoder not built yet");
    return -1;
}

int otlp_decode_json(otlp_decoder_t *d, const char *text, size_t len, otlp_span_fn on_span,
                     otlp_reject_fn on_reject, void *opaque, char *errstr, size_t errstr_size) {
    (void)d, (void)text, (void)len, (void)on_span, (void)on_reject, (void)opaque;
    snprintf(errstr, errstr_size, "otlp_json: decoder not built yet");
    return -1;
}
