/* metrics.h -- what the stream processor counts, served as Prometheus text.
 *
 * GET /metrics: counters, gauges and summaries (dagprof_* names, listed in the
 * README); GET /healthz: "ok", or 503 "degraded: <reason>" while Redis or
 * Kafka is failing. Served by libmicrohttpd on its own thread; every update
 * takes a mutex, which costs far less than the work it counts. */
#ifndef DAGPROF_METRICS_H
#define DAGPROF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "redis_route.h"
#include "ui.h"

typedef struct metrics metrics_t;

typedef enum metric_counter {
    METRIC_SPANS_CONSUMED = 0,
    METRIC_SPANS_DECODED,
    METRIC_SPANS_STORED,
    METRIC_SPANS_DUPLICATE,
    METRIC_SPANS_OVER_LIMIT,
    METRIC_TRACES_COMPLETE,
    METRIC_TRACES_INCOMPLETE,
    METRIC_TRACES_REVISIONS,
    METRIC_PROFILES_PUBLISHED,
    METRIC_PROFILES_FAILED,
    /* OpenTelemetry input */
    METRIC_OTLP_MESSAGES,
    METRIC_OTLP_SPANS,
    METRIC_OTLP_UNKEYED_MESSAGES,
    METRIC_SPANS_REPARTITIONED,
    METRIC_COUNTER_COUNT
} metric_counter_t;

typedef enum metric_gauge {
    METRIC_TRACES_OPEN = 0,
    METRIC_IN_FLIGHT,
    METRIC_GAUGE_COUNT
} metric_gauge_t;

/* port 0: nothing is served, the figures are still kept (metrics_render).
 * NULL with errstr when the port cannot be bound. Free with metrics_free(). */
metrics_t *metrics_new(const char *bind_address, int port, char *errstr, size_t errstr_size);
void metrics_free(metrics_t *metrics);

void metrics_count(metrics_t *m, metric_counter_t counter, uint64_t n);
/* Returns how many of this kind there have been, this one included. */
uint64_t metrics_count_dead_letter(metrics_t *m, const char *kind);
void metrics_set_gauge(metrics_t *m, metric_gauge_t gauge, double value);
void metrics_observe_batch(metrics_t *m, size_t messages);
void metrics_observe_redis(metrics_t *m, double seconds);
void metrics_observe_engine(metrics_t *m, double seconds);
void metrics_set_redis_round_trips(metrics_t *m, uint64_t round_trips, uint64_t commands);
void metrics_set_partitions(metrics_t *m, const int32_t *partitions, size_t count);
/* ok = 0: degraded, with the reason shown by /healthz */
void metrics_set_health(metrics_t *m, int ok, const char *reason);
/* librdkafka statistics JSON: consumer lag per partition is taken from it. */
void metrics_kafka_stats(metrics_t *m, const char *json, size_t len);

/* Group membership and recovery: rebalances (assign = 1: partitions came,
 * 0: partitions went), the partitions owned now (time with none is counted),
 * and how long due traces waited to be published, as a histogram, so a stall
 * after a crash shows in the tail buckets. */
void metrics_count_rebalance(metrics_t *m, int assign);
void metrics_set_assigned(metrics_t *m, size_t owned);
void metrics_observe_profile_delay(metrics_t *m, double seconds);
/* Serve GET /ui from `ui` (ui.h; NULL: /ui answers 404). The ui must outlive
 * the metrics server: free it after metrics_free(). */
void metrics_set_ui(metrics_t *m, ui_t *ui);

/* ---- fleet view (fleet_view.h) ----
 * Baseline gauges for the `top` DAGs and versions with the most runs in their
 * 24 h baseline (the rest are left out, so label cardinality stays bounded
 * by fleet.metrics.top x 3 quantiles); rows are copied. */
typedef struct metrics_baseline {
    const char *dag_id;
    const char *version;
    int64_t runs;
    double wall_s[3];   /* p50, p95, p99 */
    double cost_usd[3]; /* p50, p95, p99 */
} metrics_baseline_t;
void metrics_set_baselines(metrics_t *m, const metrics_baseline_t *rows, size_t count, size_t top);
/* Both accept m = NULL (no metrics). */
void metrics_count_baseline_puts(metrics_t *m, uint64_t n);
void metrics_count_regression(metrics_t *m, const char *type); /* wall_us, cost_usd, node_exec_us */
/* Redis nodes (redis_route.h): each store (source 0: ingest, 1: profiler)
 * gives its per node figures, rendered summed by node address; and whether
 * every slot the instance needs has a reachable master (ok = 0: /healthz
 * degraded with the reason, until ok again). */
#define METRICS_REDIS_SOURCES 2
void metrics_set_redis_nodes(metrics_t *m, int source, const redis_route_node_stats_t *nodes,
                             size_t count);
void metrics_set_redis_slots(metrics_t *m, int ok, const char *reason);

/* The /metrics text; and the /healthz state. */
int metrics_render(metrics_t *m, buf_t *out);
int metrics_healthy(metrics_t *m, char *reason, size_t reason_size);

#endif
