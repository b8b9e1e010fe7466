/* bench_output.c -- what each output.format and output.compression costs:
 * CPU per profile (encoding, producing, compressing) and bytes per profile on
 * the wire to the broker.
 *
 * The profiles of the synthetic fleet (dagprof loadgen's runs) are computed
 * once; then, for each format and compression, a producer configured as
 * `dagprof run`'s (idempotent, linger.ms=5) writes every profile and its
 * recommendations, as stream.c does, to librdkafka's in-process mock cluster.
 * CPU is the process's CPU time over encode + produce + flush (the mock
 * broker's share included: it stores batches as they come, so it is about the
 * same for every codec); bytes are what the producer sent to the broker
 * (statistics txbytes: record batches plus request headers) divided by the
 * number of profiles. Fastest of three rounds.
 *
 *   bench_output [RUNS [FORMAT CODEC]]   default 5000, every format and codec
 * BENCH_COMPRESSION_LEVEL=N sets librdkafka's compression.level. */
#include <librdkafka/rdkafka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fleet.h"
#include "harness_bench.h"
#include "output_format.h"
#include "pricing_file.h"
#include "profile.h"
#include "trace.h"

typedef struct stats {
    int64_t txbytes;
    int seen;
} stats_t;

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    stats_t *st = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers");
    const char *name;
    json_t *b;
    int64_t total = 0;
    json_object_foreach(brokers, name, b) {
        total += json_integer_value(json_object_get(b, "txbytes"));
    }
    st->txbytes = total;
    st->seen++;
    json_decref(root);
    return 0;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The fleet's runs, profiled. */
static size_t build_profiles(size_t runs, profile_t ***out) {
    char err[256];
    pricing_t *pricing = pricing_file_default(err, sizeof(err));
    if (!pricing) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    trace_t **traces;
    size_t count = bench_fleet_traces(runs, &traces);
    profile_t **profiles = calloc(runs, sizeof(*profiles));
    if (!profiles) {
        fprintf(stderr, "setup: out of memory\n");
        exit(1);
    }
    profile_options_t po;
    profile_options_init(&po);
    po.complete = 1;
    po.profiled_at_us = FLEET_DEFAULT_START_US;
    for (size_t i = 0; i < count; i++) {
        profiles[i] = profile_compute(traces[i], pricing, &po, err, sizeof(err));
        if (!profiles[i]) {
            fprintf(stderr, "profile: %s\n", err);
            exit(1);
        }
        trace_free(traces[i]);
    }
    free(traces);
    pricing_free(pricing);
    *out = profiles;
    return count;
}

/* One round: returns CPU seconds, sets *bytes and *records. */
static double round_once(profile_t **profiles, size_t count, output_format_kind_t kind,
                         const char *compression, int64_t *bytes, size_t *records) {
    char err[512];
    stats_t st = {0, 0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *settings[][2] = {{"test.mock.num.brokers", "1"}, {"enable.idempotence", "true"},
                                 {"linger.ms", "5"}, {"compression.type", compression},
                                 {"statistics.interval.ms", "100"}, {"log_level", "4"}};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: %s\n", settings[i][0], err);
            exit(1);
        }
    /* BENCH_COMPRESSION_LEVEL: librdkafka's compression.level, to price a
     * cheaper gzip (kafka.compression.level in dagprof) */
    const char *level = getenv("BENCH_COMPRESSION_LEVEL");
    if (level && rd_kafka_conf_set(conf, "compression.level", level, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "compression.level: %s\n", err);
        exit(1);
    }
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    output_format_t *f = output_format_new(kind, 1, 2, err, sizeof(err));
    if (!rk || !f) {
        fprintf(stderr, "setup: %s\n", err);
        exit(1);
    }
    /* warm up: topic metadata, producer id */
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("warmup"), RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 10000);
    while (st.seen < 1)
        rd_kafka_poll(rk, 50);
    int64_t base = st.txbytes;
    buf_t b = BUF_INIT;
    *records = 0;
    double c0 = cpu_s();
    for (size_t i = 0; i < count; i++) {
        const profile_t *p = profiles[i];
        for (size_t r = 0; r < p->recommendation_count; r++) {
            buf_reset(&b);
            rd_kafka_headers_t *h = rd_kafka_headers_new(3);
            if (output_format_recommendation(f, p, r, &b, err, sizeof(err)) != 0 ||
                output_format_headers(f, OUTPUT_RECORD_RECOMMENDATION, h) != 0)
                exit(1);
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("dag-recommendations"),
                                     RD_KAFKA_V_KEY(p->dag_id, strlen(p->dag_id)),
                                     RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 10);
            (*records)++;
        }
        buf_reset(&b);
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);
        if (output_format_profile(f, p, &b, err, sizeof(err)) != 0 ||
            output_format_headers(f, OUTPUT_RECORD_PROFILE, h) != 0)
            exit(1);
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("dag-profiles"),
                                 RD_KAFKA_V_KEY(p->dag_id, strlen(p->dag_id)),
                                 RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        (*records)++;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    double cpu = cpu_s() - c0;
    int seen = st.seen;
    while (st.seen < seen + 2) /* a statistics report taken after the flush */
        rd_kafka_poll(rk, 50);
    *bytes = st.txbytes - base;
    buf_free(&b);
    output_format_free(f);
    rd_kafka_destroy(rk);
    return cpu;
}

int main(int argc, char **argv) {
    size_t runs = argc > 1 ? (size_t)atol(argv[1]) : 5000;
    profile_t **profiles = NULL;
    size_t count = build_profiles(runs, &profiles);
    static const char *const compressions[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    static const output_format_kind_t kinds[] = {OUTPUT_FORMAT_AVRO, OUTPUT_FORMAT_CONFLUENT,
                                                 OUTPUT_FORMAT_JSON};
    printf("%zu profiles of the synthetic fleet, with their recommendations\n", count);
    printf("%-10s %-7s %10s %14s %16s\n", "format", "codec", "records", "CPU us/profile",
           "bytes/profile");
    for (size_t k = 0; k < 3; k++)
        for (size_t c = 0; c < 5; c++) {
            if (argc > 3 && (strcmp(argv[2], output_format_name(kinds[k])) != 0 ||
                             strcmp(argv[3], compressions[c]) != 0))
                continue;
            double best = 1e30;
            int64_t bytes = 0;
            size_t records = 0;
            for (int r = 0; r < 3; r++) {
                double cpu = round_once(profiles, count, kinds[k], compressions[c], &bytes, &records);
                if (cpu < best)
                    best = cpu;
            }
            printf("%-10s %-7s %10zu %14.1f %16.0f\n", output_format_name(kinds[k]), compressions[c],
                   records, best * 1e6 / (double)count, (double)bytes / (double)count);
            fflush(stdout);
        }
    for (size_t i = 0; i < count; i++)
        profile_free(profiles[i]);
    free(profiles);
    return 0;
}
