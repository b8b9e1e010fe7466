/* metrics.c -- counters and the /metrics, /healthz endpoints. See metrics.h. */
#include "metrics.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define METRICS_MAX_DEAD_KINDS 16
#define METRICS_MAX_PARTITIONS 1024
#define METRICS_MAX_REDIS_NODES 64
/* Upper bounds (s) of the profile delay buckets: tens of ms when healthy, up
 * to the session timeout plus a lease (~40 s) after a crash. */
static const double delay_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120};
#define METRICS_DELAY_BUCKETS (sizeof(delay_bounds) / sizeof(delay_bounds[0]))

static const char *const counter_names[METRIC_COUNTER_COUNT][2] = {
    {"dagprof_spans_consumed_total", "Span messages read from the input topic"},
    {"dagprof_spans_decoded_total", "Span messages decoded and valid"},
    {"dagprof_spans_stored_total", "Spans written to Redis (replays included: found at load)"},
    {"dagprof_spans_duplicate_total", "Replayed or duplicate spans, dropped when their trace is loaded"},
    {"dagprof_spans_over_limit_total", "Spans refused by limit.spans.per.trace or limit.bytes.per.trace"},
    {"dagprof_traces_profiled_complete_total", "Profiles of traces with a run span"},
    {"dagprof_traces_profiled_incomplete_total", "Profiles after the idle timeout, without a run span"},
    {"dagprof_traces_revisions_total", "Profiles that revise an earlier one (late spans)"},
    {"dagprof_profiles_published_total", "Profiles whose records were all delivered"},
    {"dagprof_profiles_failed_total", "Profiles whose delivery failed (retried later)"},
    /* OpenTelemetry input */
    {"dagprof_otlp_messages_total", "OTLP trace requests read from the input topic"},
    {"dagprof_otlp_spans_total", "Spans decoded and mapped from OTLP requests"},
    {"dagprof_otlp_unkeyed_messages_total",
     "OTLP messages not keyed by the trace id of their spans (traces may be split across partitions)"},
    {"dagprof_spans_repartitioned_total",
     "OTLP spans re-published keyed by trace id to input.repartition.topic and acknowledged"},
};

typedef struct summary {
    uint64_t count;
    double sum;
} summary_t;

struct metrics {
    pthread_mutex_t lock;
    struct MHD_Daemon *daemon;
    uint64_t counters[METRIC_COUNTER_COUNT];
    double gauges[METRIC_GAUGE_COUNT];
    struct {
        char kind[48];
        uint64_t count;
    } dead[METRICS_MAX_DEAD_KINDS];
    size_t dead_count;
    summary_t batch, redis, engine;
    uint64_t redis_round_trips, redis_commands;
    int32_t partitions[METRICS_MAX_PARTITIONS];
    int64_t lag[METRICS_MAX_PARTITIONS]; /* -1: unknown */
    size_t partition_count;
    int healthy;
    char reason[256];
    /* group membership and recovery */
    uint64_t rebalances_assign, rebalances_revoke;
    size_t owned;
    double unassigned_s;       /* time without partitions, up to unassigned_since */
    double unassigned_since;   /* monotonic s when the last stretch began; 0: assigned */
    uint64_t delay_buckets[METRICS_DELAY_BUCKETS];
    summary_t delay;
    ui_t *ui; /* GET /ui, when set: not owned */
    struct metrics_fleet *fleet; /* fleet view figures, NULL until set */
    /* Redis nodes, as each store last gave them; a needed slot without master */
    redis_route_node_stats_t redis_nodes[METRICS_REDIS_SOURCES][METRICS_MAX_REDIS_NODES];
    size_t redis_node_count[METRICS_REDIS_SOURCES];
    int redis_slots_bad;
    char redis_slots_reason[256];
};

static int metrics_render_recovery(metrics_t *m, buf_t *out);
static int metrics_render_fleet(metrics_t *m, buf_t *out);
static void metrics_fleet_free(struct metrics_fleet *fleet);
static int metrics_render_redis_nodes(metrics_t *m, buf_t *out);

static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    metrics_t *m = cls;
    buf_t body = BUF_INIT;
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        buf_puts(&body, "GET only\n");
    } else if (strcmp(url, "/metrics") == 0) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        metrics_render(m, &body);
    } else if (strcmp(url, "/healthz") == 0) {
        char reason[256];
        if (metrics_healthy(m, reason, sizeof(reason))) {
            buf_puts(&body, "ok\n");
        } else {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            buf_printf(&body, "degraded: %s\n", reason);
        }
    } else if (ui_handles(url)) {
        pthread_mutex_lock(&m->lock);
        ui_t *ui = m->ui;
        pthread_mutex_unlock(&m->lock);
        ui_answer(ui, url, &body, &type, &status);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        buf_puts(&body, "not found: try /metrics or /healthz\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(body.len, body.data ? body.data : "",
                                                                MHD_RESPMEM_MUST_COPY);
    buf_free(&body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

metrics_t *metrics_new(const char *bind_address, int port, char *errstr, size_t errstr_size) {
    metrics_t *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->healthy = 0;
    snprintf(m->reason, sizeof(m->reason), "starting");
    if (port > 0) {
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, bind_address && bind_address[0] ? bind_address : "127.0.0.1",
                      &addr.sin_addr) != 1) {
            snprintf(errstr, errstr_size, "metrics.bind \"%s\" is not an IPv4 address", bind_address);
            goto fail;
        }
        m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                     (uint16_t)port, NULL, NULL, metrics_answer, m,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                     MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
        if (!m->daemon) {
            snprintf(errstr, errstr_size, "cannot listen on %s:%d (in use? set metrics.port)",
                     bind_address, port);
            goto fail;
        }
    }
    return m;
fail:
    pthread_mutex_destroy(&m->lock);
    free(m);
    return NULL;
}

void metrics_set_ui(metrics_t *m, ui_t *ui) {
    pthread_mutex_lock(&m->lock);
    m->ui = ui;
    pthread_mutex_unlock(&m->lock);
}

void metrics_free(metrics_t *m) {
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    metrics_fleet_free(m->fleet);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_count(metrics_t *m, metric_counter_t c, uint64_t n) {
    pthread_mutex_lock(&m->lock);
    m->counters[c] += n;
    pthread_mutex_unlock(&m->lock);
}

uint64_t metrics_count_dead_letter(metrics_t *m, const char *kind) {
    uint64_t count = 0;
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < m->dead_count && strcmp(m->dead[i].kind, kind) != 0)
        i++;
    if (i == m->dead_count && m->dead_count < METRICS_MAX_DEAD_KINDS)
        snprintf(m->dead[m->dead_count++].kind, sizeof(m->dead[0].kind), "%s", kind);
    if (i < m->dead_count)
        count = ++m->dead[i].count;
    pthread_mutex_unlock(&m->lock);
    return count;
}

void metrics_set_gauge(metrics_t *m, metric_gauge_t g, double value) {
    pthread_mutex_lock(&m->lock);
    m->gauges[g] = value;
    pthread_mutex_unlock(&m->lock);
}

static void observe(metrics_t *m, summary_t *s, double value) {
    pthread_mutex_lock(&m->lock);
    s->count++;
    s->sum += value;
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_batch(metrics_t *m, size_t n) { observe(m, &m->batch, (double)n); }
void metrics_observe_redis(metrics_t *m, double seconds) { observe(m, &m->redis, seconds); }
void metrics_observe_engine(metrics_t *m, double seconds) { observe(m, &m->engine, seconds); }

void metrics_set_redis_round_trips(metrics_t *m, uint64_t round_trips, uint64_t commands) {
    pthread_mutex_lock(&m->lock);
    m->redis_round_trips = round_trips;
    m->redis_commands = commands;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_partitions(metrics_t *m, const int32_t *partitions, size_t count) {
    pthread_mutex_lock(&m->lock);
    m->partition_count = count < METRICS_MAX_PARTITIONS ? count : METRICS_MAX_PARTITIONS;
    for (size_t i = 0; i < m->partition_count; i++) {
        m->partitions[i] = partitions[i];
        m->lag[i] = -1;
    }
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_health(metrics_t *m, int ok, const char *reason) {
    pthread_mutex_lock(&m->lock);
    m->healthy = ok;
    snprintf(m->reason, sizeof(m->reason), "%s", ok ? "" : reason ? reason : "unknown");
    pthread_mutex_unlock(&m->lock);
}

int metrics_healthy(metrics_t *m, char *reason, size_t reason_size) {
    pthread_mutex_lock(&m->lock);
    int ok = m->healthy;
    snprintf(reason, reason_size, "%s", m->reason);
    if (ok && m->redis_slots_bad) {
        ok = 0;
        snprintf(reason, reason_size, "%s", m->redis_slots_reason);
    }
    pthread_mutex_unlock(&m->lock);
    return ok;
}

void metrics_kafka_stats(metrics_t *m, const char *json, size_t len) {
    json_error_t error;
    json_t *root = json_loadb(json, len, 0, &error);
    if (!root)
        return;
    json_t *topics = json_object_get(root, "topics");
    const char *topic_name;
    json_t *topic;
    pthread_mutex_lock(&m->lock);
    json_object_foreach(topics, topic_name, topic) {
        json_t *parts = json_object_get(topic, "partitions");
        const char *pname;
        json_t *p;
        json_object_foreach(parts, pname, p) {
            int32_t id = (int32_t)atoi(pname);
            json_t *lag = json_object_get(p, "consumer_lag");
            for (size_t i = 0; i < m->partition_count; i++)
                if (m->partitions[i] == id && json_is_integer(lag))
                    m->lag[i] = json_integer_value(lag);
        }
    }
    pthread_mutex_unlock(&m->lock);
    json_decref(root);
}

int metrics_render(metrics_t *m, buf_t *out) {
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < METRIC_COUNTER_COUNT; i++)
        rc |= buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_names[i][0],
                         counter_names[i][1], counter_names[i][0], counter_names[i][0],
                         (unsigned long long)m->counters[i]);
    rc |= buf_puts(out, "# HELP dagprof_spans_dead_lettered_total Span messages sent to the dead-letter topic, by reason\n"
                        "# TYPE dagprof_spans_dead_lettered_total counter\n");
    for (size_t i = 0; i < m->dead_count; i++)
        rc |= buf_printf(out, "dagprof_spans_dead_lettered_total{reason=\"%s\"} %llu\n", m->dead[i].kind,
                         (unsigned long long)m->dead[i].count);
    rc |= buf_printf(out, "# HELP dagprof_traces_open Traces stored and not yet profiled, in owned partitions\n"
                          "# TYPE dagprof_traces_open gauge\ndagprof_traces_open %.0f\n",
                     m->gauges[METRIC_TRACES_OPEN]);
    rc |= buf_printf(out, "# HELP dagprof_profiles_in_flight Profiles being published\n"
                          "# TYPE dagprof_profiles_in_flight gauge\ndagprof_profiles_in_flight %.0f\n",
                     m->gauges[METRIC_IN_FLIGHT]);
    rc |= buf_printf(out, "# HELP dagprof_redis_round_trips_total Pipelined round trips to Redis\n"
                          "# TYPE dagprof_redis_round_trips_total counter\ndagprof_redis_round_trips_total %llu\n"
                          "# HELP dagprof_redis_commands_total Commands sent to Redis\n"
                          "# TYPE dagprof_redis_commands_total counter\ndagprof_redis_commands_total %llu\n",
                     (unsigned long long)m->redis_round_trips, (unsigned long long)m->redis_commands);
    const struct {
        const char *name, *help;
        summary_t *s;
    } sums[] = {{"dagprof_batch_messages", "Messages per consumed batch", &m->batch},
                {"dagprof_redis_append_seconds", "Time the ingest thread waited on Redis to store one batch", &m->redis},
                {"dagprof_engine_seconds", "Engine time per profile", &m->engine}};
    for (size_t i = 0; i < 3; i++)
        rc |= buf_printf(out, "# HELP %s %s\n# TYPE %s summary\n%s_sum %.9g\n%s_count %llu\n", sums[i].name,
                         sums[i].help, sums[i].name, sums[i].name, sums[i].s->sum, sums[i].name,
                         (unsigned long long)sums[i].s->count);
    rc |= buf_puts(out, "# HELP dagprof_consumer_lag Messages behind the end of each owned partition\n"
                        "# TYPE dagprof_consumer_lag gauge\n");
    for (size_t i = 0; i < m->partition_count; i++)
        if (m->lag[i] >= 0)
            rc |= buf_printf(out, "dagprof_consumer_lag{partition=\"%d\"} %lld\n", (int)m->partitions[i],
                             (long long)m->lag[i]);
    rc |= metrics_render_recovery(m, out);
    rc |= metrics_render_fleet(m, out);
    rc |= metrics_render_redis_nodes(m, out);
    rc |= buf_printf(out, "# HELP dagprof_up 1 when healthy, 0 when degraded\n# TYPE dagprof_up gauge\ndagprof_up %d\n",
                     m->healthy && !m->redis_slots_bad);
    pthread_mutex_unlock(&m->lock);
    return rc ? -1 : 0;
}

/* ---- Redis nodes ---------------------------------------------------------------- */

void metrics_set_redis_nodes(metrics_t *m, int source, const redis_route_node_stats_t *nodes,
                             size_t count) {
    if (source < 0 || source >= METRICS_REDIS_SOURCES)
        return;
    if (count > METRICS_MAX_REDIS_NODES)
        count = METRICS_MAX_REDIS_NODES;
    pthread_mutex_lock(&m->lock);
    memcpy(m->redis_nodes[source], nodes, count * sizeof(*nodes));
    m->redis_node_count[source] = count;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_redis_slots(metrics_t *m, int ok, const char *reason) {
    pthread_mutex_lock(&m->lock);
    m->redis_slots_bad = !ok;
    snprintf(m->redis_slots_reason, sizeof(m->redis_slots_reason), "%s", ok ? "" : reason ? reason : "?");
    pthread_mutex_unlock(&m->lock);
}

/* One series per node address, the stores' figures summed; called locked. */
static int metrics_render_redis_nodes(metrics_t *m, buf_t *out) {
    static const struct {
        const char *name, *type, *help;
    } series[] = {
        {"dagprof_redis_node_round_trips_total", "counter", "Pipelined round trips to one Redis node"},
        {"dagprof_redis_node_redirects_total", "counter", "MOVED and ASK redirects answered by one Redis node"},
        {"dagprof_redis_node_errors_total", "counter", "Failed connections, lost replies and retryable errors of one Redis node"},
        {"dagprof_redis_node_reconnects_total", "counter", "Connections made again to one Redis node"},
        {"dagprof_redis_node_connected", "gauge", "1 while a store is connected to the Redis node"},
    };
    int rc = 0;
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
        rc |= buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", series[k].name, series[k].help, series[k].name,
                         series[k].type);
        for (int src = 0; src < METRICS_REDIS_SOURCES; src++)
            for (size_t i = 0; i < m->redis_node_count[src]; i++) {
                const char *addr = m->redis_nodes[src][i].addr;
                int seen = 0; /* summed at its first appearance */
                for (int s2 = 0; s2 <= src && !seen; s2++)
                    for (size_t j = 0; j < (s2 == src ? i : m->redis_node_count[s2]) && !seen; j++)
                        seen = strcmp(m->redis_nodes[s2][j].addr, addr) == 0;
                if (seen)
                    continue;
                redis_route_node_stats_t sum = {{0}, 0, 0, 0, 0, 0, 0};
                for (int s2 = 0; s2 < METRICS_REDIS_SOURCES; s2++)
                    for (size_t j = 0; j < m->redis_node_count[s2]; j++) {
                        const redis_route_node_stats_t *n = &m->redis_nodes[s2][j];
                        if (strcmp(n->addr, addr) != 0)
                            continue;
                        sum.round_trips += n->round_trips;
                        sum.moved += n->moved;
                        sum.ask += n->ask;
                        sum.errors += n->errors;
                        sum.reconnects += n->reconnects;
                        sum.connected |= n->connected;
                    }
                if (k == 0)
                    rc |= buf_printf(out, "%s{node=\"%s\"} %llu\n", series[k].name, addr,
                                     (unsigned long long)sum.round_trips);
                else if (k == 1)
                    rc |= buf_printf(out, "%s{node=\"%s\",type=\"moved\"} %llu\n%s{node=\"%s\",type=\"ask\"} %llu\n",
                                     series[k].name, addr, (unsigned long long)sum.moved, series[k].name, addr,
                                     (unsigned long long)sum.ask);
                else
                    rc |= buf_printf(out, "%s{node=\"%s\"} %llu\n", series[k].name, addr,
                                     (unsigned long long)(k == 2 ? sum.errors : k == 3 ? sum.reconnects
                                                                                        : (uint64_t)sum.connected));
            }
    }
    rc |= buf_printf(out, "# HELP dagprof_redis_slots_ok 1 when every slot of the owned partitions has a reachable master\n"
                          "# TYPE dagprof_redis_slots_ok gauge\ndagprof_redis_slots_ok %d\n",
                     !m->redis_slots_bad);
    return rc;
}

/* ---- group membership and recovery ----------------------------------------------- */

static double metrics_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void metrics_count_rebalance(metrics_t *m, int assign) {
    pthread_mutex_lock(&m->lock);
    if (assign)
        m->rebalances_assign++;
    else
        m->rebalances_revoke++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_assigned(metrics_t *m, size_t owned) {
    double now = metrics_mono_s();
    pthread_mutex_lock(&m->lock);
    if (owned == 0 && m->unassigned_since == 0)
        m->unassigned_since = now;
    else if (owned > 0 && m->unassigned_since != 0) {
        m->unassigned_s += now - m->unassigned_since;
        m->unassigned_since = 0;
    }
    m->owned = owned;
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_profile_delay(metrics_t *m, double seconds) {
    if (seconds < 0)
        seconds = 0; /* the due time is another host's clock after a move */
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < METRICS_DELAY_BUCKETS; i++)
        if (seconds <= delay_bounds[i])
            m->delay_buckets[i]++;
    m->delay.count++;
    m->delay.sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

/* Called with the lock held. */
static int metrics_render_recovery(metrics_t *m, buf_t *out) {
    int rc = 0;
    double unassigned = m->unassigned_s + (m->unassigned_since ? metrics_mono_s() - m->unassigned_since : 0);
    rc |= buf_printf(out, "# HELP dagprof_rebalances_total Partition assignments and revocations by the group\n"
                          "# TYPE dagprof_rebalances_total counter\n"
                          "dagprof_rebalances_total{type=\"assign\"} %llu\n"
                          "dagprof_rebalances_total{type=\"revoke\"} %llu\n",
                     (unsigned long long)m->rebalances_assign, (unsigned long long)m->rebalances_revoke);
    rc |= buf_printf(out, "# HELP dagprof_unassigned_seconds_total Time spent owning no partition of the input topic\n"
                          "# TYPE dagprof_unassigned_seconds_total counter\n"
                          "dagprof_unassigned_seconds_total %.3f\n",
                     unassigned);
    rc |= buf_printf(out, "# HELP dagprof_partitions_owned Partitions of the input topic owned now\n"
                          "# TYPE dagprof_partitions_owned gauge\ndagprof_partitions_owned %zu\n",
                     m->owned);
    rc |= buf_puts(out, "# HELP dagprof_profile_delay_seconds Time from a trace becoming due to its profile being delivered\n"
                        "# TYPE dagprof_profile_delay_seconds histogram\n");
    for (size_t i = 0; i < METRICS_DELAY_BUCKETS; i++)
        rc |= buf_printf(out, "dagprof_profile_delay_seconds_bucket{le=\"%g\"} %llu\n", delay_bounds[i],
                         (unsigned long long)m->delay_buckets[i]);
    rc |= buf_printf(out, "dagprof_profile_delay_seconds_bucket{le=\"+Inf\"} %llu\n"
                          "dagprof_profile_delay_seconds_sum %.6f\ndagprof_profile_delay_seconds_count %llu\n",
                     (unsigned long long)m->delay.count, m->delay.sum, (unsigned long long)m->delay.count);
    return rc;
}

/* ---- fleet view -------------------------------------------------------------------- */

static const char *const regression_types[] = {"wall_us", "cost_usd", "node_exec_us"};
#define METRICS_REGRESSION_TYPES (sizeof(regression_types) / sizeof(regression_types[0]))

struct metrics_fleet {
    uint64_t puts;
    uint64_t regressions[METRICS_REGRESSION_TYPES];
    struct {
        char *dag_id, *version;
        int64_t runs;
        double wall_s[3], cost_usd[3];
    } *rows;
    size_t row_count;
};

static void metrics_fleet_rows_free(struct metrics_fleet *f) {
    for (size_t i = 0; i < f->row_count; i++) {
        free(f->rows[i].dag_id);
        free(f->rows[i].version);
    }
    free(f->rows);
    f->rows = NULL;
    f->row_count = 0;
}

static void metrics_fleet_free(struct metrics_fleet *fleet) {
    if (!fleet)
        return;
    metrics_fleet_rows_free(fleet);
    free(fleet);
}

/* Called with the lock held: the fleet block, made on first use. */
static struct metrics_fleet *metrics_fleet(metrics_t *m) {
    if (!m->fleet)
        m->fleet = calloc(1, sizeof(*m->fleet));
    return m->fleet;
}

void metrics_count_baseline_puts(metrics_t *m, uint64_t n) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct metrics_fleet *f = metrics_fleet(m);
    if (f)
        f->puts += n;
    pthread_mutex_unlock(&m->lock);
}

void metrics_count_regression(metrics_t *m, const char *type) {
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    struct metrics_fleet *f = metrics_fleet(m);
    for (size_t i = 0; f && i < METRICS_REGRESSION_TYPES; i++)
        if (strcmp(type, regression_types[i]) == 0)
            f->regressions[i]++;
    pthread_mutex_unlock(&m->lock);
}

static int baseline_row_cmp(const void *a, const void *b) {
    const metrics_baseline_t *x = a, *y = b;
    if (x->runs != y->runs)
        return x->runs > y->runs ? -1 : 1;
    int c = strcmp(x->dag_id, y->dag_id);
    return c ? c : strcmp(x->version, y->version);
}

void metrics_set_baselines(metrics_t *m, const metrics_baseline_t *rows, size_t count, size_t top) {
    if (!m)
        return;
    metrics_baseline_t *sorted = malloc((count ? count : 1) * sizeof(*sorted));
    if (!sorted)
        return;
    memcpy(sorted, rows, count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), baseline_row_cmp);
    if (count > top)
        count = top;
    pthread_mutex_lock(&m->lock);
    struct metrics_fleet *f = metrics_fleet(m);
    if (f) {
        metrics_fleet_rows_free(f);
        f->rows = calloc(count ? count : 1, sizeof(*f->rows));
        for (size_t i = 0; f->rows && i < count; i++) {
            f->rows[i].dag_id = strdup(sorted[i].dag_id);
            f->rows[i].version = strdup(sorted[i].version);
            if (!f->rows[i].dag_id || !f->rows[i].version) {
                free(f->rows[i].dag_id);
                free(f->rows[i].version);
                break;
            }
            f->rows[i].runs = sorted[i].runs;
            memcpy(f->rows[i].wall_s, sorted[i].wall_s, sizeof(sorted[i].wall_s));
            memcpy(f->rows[i].cost_usd, sorted[i].cost_usd, sizeof(sorted[i].cost_usd));
            f->row_count++;
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(sorted);
}

/* A label value as Prometheus' text format escapes it. */
static int metrics_label(buf_t *out, const char *value) {
    int rc = 0;
    for (const char *p = value; *p; p++)
        rc |= *p == '\\' ? buf_puts(out, "\\\\") : *p == '"' ? buf_puts(out, "\\\"")
              : *p == '\n' ? buf_puts(out, "\\n") : buf_putc(out, *p);
    return rc;
}

static int metrics_baseline_labels(buf_t *out, const struct metrics_fleet *f, size_t i, const char *quantile) {
    int rc = buf_puts(out, "{dag_id=\"");
    rc |= metrics_label(out, f->rows[i].dag_id);
    rc |= buf_puts(out, "\",version=\"");
    rc |= metrics_label(out, f->rows[i].version);
    if (quantile)
        rc |= buf_printf(out, "\",quantile=\"%s", quantile);
    rc |= buf_puts(out, "\"}");
    return rc;
}

/* Called with the lock held. */
static int metrics_render_fleet(metrics_t *m, buf_t *out) {
    const struct metrics_fleet *f = m->fleet;
    static const struct metrics_fleet none;
    if (!f)
        f = &none;
    static const char *const quantiles[3] = {"0.5", "0.95", "0.99"};
    int rc = 0;
    rc |= buf_printf(out, "# HELP dagprof_baseline_puts_total Run records put in the fleet baselines (replays included)\n"
                          "# TYPE dagprof_baseline_puts_total counter\ndagprof_baseline_puts_total %llu\n",
                     (unsigned long long)f->puts);
    rc |= buf_puts(out, "# HELP dagprof_regressions_total Runs above their baseline, by what regressed\n"
                        "# TYPE dagprof_regressions_total counter\n");
    for (size_t i = 0; i < METRICS_REGRESSION_TYPES; i++)
        rc |= buf_printf(out, "dagprof_regressions_total{type=\"%s\"} %llu\n", regression_types[i],
                         (unsigned long long)f->regressions[i]);
    rc |= buf_puts(out, "# HELP dagprof_baseline_runs Runs in the 24h baseline, for the fleet.metrics.top DAGs with the most\n"
                        "# TYPE dagprof_baseline_runs gauge\n");
    for (size_t i = 0; i < f->row_count; i++) {
        rc |= buf_puts(out, "dagprof_baseline_runs");
        rc |= metrics_baseline_labels(out, f, i, NULL);
        rc |= buf_printf(out, " %lld\n", (long long)f->rows[i].runs);
    }
    rc |= buf_puts(out, "# HELP dagprof_baseline_wall_seconds Wall time quantiles of the 24h baseline\n"
                        "# TYPE dagprof_baseline_wall_seconds gauge\n");
    for (size_t i = 0; i < f->row_count; i++)
        for (int q = 0; q < 3; q++) {
            rc |= buf_puts(out, "dagprof_baseline_wall_seconds");
            rc |= metrics_baseline_labels(out, f, i, quantiles[q]);
            rc |= buf_printf(out, " %.6f\n", f->rows[i].wall_s[q]);
        }
    rc |= buf_puts(out, "# HELP dagprof_baseline_cost_usd Cost quantiles of the 24h baseline\n"
                        "# TYPE dagprof_baseline_cost_usd gauge\n");
    for (size_t i = 0; i < f->row_count; i++)
        for (int q = 0; q < 3; q++) {
            rc |= buf_puts(out, "dagprof_baseline_cost_usd");
            rc |= metrics_baseline_labels(out, f, i, quantiles[q]);
            rc |= buf_printf(out, " %.8f\n", f->rows[i].cost_usd[q]);
        }
    return rc;
}
