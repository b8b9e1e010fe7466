/* bench_otlp.c -- OTLP decode speed: spans/s per core decoded and mapped to
 * span events, for the hand-written protobuf decoder, for protobuf-c's
 * generated unpacker (unpack, hex ids, one attribute scan: less than a full
 * mapping, so a lower bound of its cost), and for OTLP/JSON.
 *
 * The message is the GenAI fixture's 9 spans (agents, llm calls with token
 * attributes, tools) repeated as 100 resources: 900 spans, as the Collector
 * batches them. CPU time of this process, fastest of five rounds; run it on an
 * idle machine: build/bench/bench_otlp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "otlp.h"
#include "otlp_pb.h"

#define COPIES 100
#define ROUNDS 5

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_span(void *opaque, const span_t *span) {
    long *count = opaque;
    *count += span->span_id[0] != '\0';
    return 0;
}

/* The fixture's resources repeated, each copy with its own span ids. */
static char *build_request(const char *fixture) {
    json_t *root = json_load_file(fixture, 0, NULL);
    if (!root)
        return NULL;
    json_t *resources = json_object_get(root, "resourceSpans");
    json_t *all = json_array();
    for (int copy = 0; copy < COPIES; copy++) {
        for (size_t r = 0; r < json_array_size(resources); r++) {
            json_t *rs = json_deep_copy(json_array_get(resources, r));
            json_t *scopes = json_object_get(rs, "scopeSpans");
            for (size_t s = 0; s < json_array_size(scopes); s++) {
                json_t *spans = json_object_get(json_array_get(scopes, s), "spans");
                for (size_t i = 0; i < json_array_size(spans); i++) {
                    json_t *span = json_array_get(spans, i);
                    char id[17];
                    snprintf(id, sizeof id, "%.12s%04x",
                             json_string_value(json_object_get(span, "spanId")), copy);
                    json_object_set_new(span, "spanId", json_string(id));
                }
            }
            json_array_append_new(all, rs);
        }
    }
    json_t *request = json_pack("{so}", "resourceSpans", all);
    char *text = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    json_decref(root);
    return text;
}

typedef long (*decode_fn)(otlp_decoder_t *d, const char *data, size_t len);

static long run_hand(otlp_decoder_t *d, const char *data, size_t len) {
    long count = 0;
    char err[256];
    if (otlp_decode_proto(d, data, len, count_span, NULL, &count, err, sizeof err) != 0)
        return -1;
    return count;
}

static long run_protobuf_c(otlp_decoder_t *d, const char *data, size_t len) {
    (void)d;
    return otlp_pb_unpack_count(data, len);
}

static long run_json(otlp_decoder_t *d, const char *data, size_t len) {
    long count = 0;
    char err[256];
    if (otlp_decode_json(d, data, len, count_span, NULL, &count, err, sizeof err) != 0)
        return -1;
    return count;
}

static void measure(const char *label, decode_fn fn, otlp_decoder_t *d, const char *data,
                    size_t len, long messages) {
    double best = 1e30;
    long spans = 0;
    for (int round = 0; round < ROUNDS; round++) {
        double start = cpu_seconds();
        spans = 0;
        for (long m = 0; m < messages; m++) {
            long n = fn(d, data, len);
            if (n < 0) {
                fprintf(stderr, "%s: decode failed\n", label);
                exit(1);
            }
            spans += n;
        }
        double elapsed = cpu_seconds() - start;
        if (elapsed < best)
            best = elapsed;
    }
    printf("%-28s %8.0f ns/span %10.0f spans/s per core (%ld spans, %zu-byte messages)\n", label,
           best * 1e9 / (double)spans, (double)spans / best, spans, len);
}

int main(int argc, char **argv) {
    const char *fixture = argc > 1 ? argv[1] : DAGPROF_SOURCE_DIR "/tests/fixtures/otlp_genai.json";
    char err[256];
    char *json = build_request(fixture);
    if (!json) {
        fprintf(stderr, "%s: cannot read\n", fixture);
        return 1;
    }
    buf_t proto = BUF_INIT;
    if (otlp_pb_from_json(json, strlen(json), &proto) != 0) {
        fprintf(stderr, "protobuf-c: cannot encode\n");
        return 1;
    }
    otlp_decoder_t *d = otlp_decoder_new(err, sizeof err);
    if (!d) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    measure("otlp_proto hand-written", run_hand, d, proto.data, proto.len, 2000);
    measure("otlp_proto protobuf-c", run_protobuf_c, d, proto.data, proto.len, 2000);
    measure("otlp_json jansson", run_json, d, json, strlen(json), 200);
    otlp_decoder_free(d);
    buf_free(&proto);
    free(json);
    return 0;
}
