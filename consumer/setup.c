/* setup.c -- configuration to module options. See setup.h. */
#include "setup.h"

#include <stdio.h>
#include <string.h>

#include "pricing_file.h"

void setup_thresholds(const config_t *c, profile_thresholds_t *t) {
    t->slow_node_pct = config_get_double(c, "threshold.slow_node.pct");
    t->high_token_share = config_get_double(c, "threshold.high_token.share");
    t->high_token_min = config_get_int(c, "threshold.high_token.min");
    t->excessive_retries = (int32_t)config_get_int(c, "threshold.retries");
    t->tool_latency_share = config_get_double(c, "threshold.tool_latency.share");
    t->dependency_wait_pct = config_get_double(c, "threshold.dependency_wait.pct");
    t->sequential_parallelism = config_get_double(c, "threshold.sequential.parallelism");
    t->sequential_min_nodes = (int32_t)config_get_int(c, "threshold.sequential.min_nodes");
    t->scheduling_delay_pct = config_get_double(c, "threshold.scheduling_delay.pct");
    t->scheduling_delay_min_us = config_get_int(c, "threshold.scheduling_delay.min_us");
    t->downgrade_max_output_tokens = config_get_int(c, "threshold.downgrade.max_output");
    t->reduce_context_min_input = config_get_int(c, "threshold.reduce_context.min_input");
    t->reduce_context_factor = config_get_double(c, "threshold.reduce_context.factor");
    t->batch_min_calls = (int32_t)config_get_int(c, "threshold.batch.min_calls");
}

pricing_t *setup_pricing(const config_t *c, char *errstr, size_t errstr_size) {
    const char *path = config_get(c, "pricing");
    if (path && path[0])
        return pricing_file_load(path, errstr, errstr_size);
    return pricing_file_default(errstr, errstr_size);
}

typedef struct kafka_apply {
    rd_kafka_conf_t *conf;
    char *errstr;
    size_t errstr_size;
    const char *const *defaults;
} kafka_apply_t;

static int kafka_apply_one(void *opaque, const char *key, const char *value) {
    kafka_apply_t *a = opaque;
    char err[512];
    if (rd_kafka_conf_set(a->conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(a->errstr, a->errstr_size, "kafka.%s: %s", key, err);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *setup_kafka_conf(const config_t *c, const char *const *defaults, char *errstr,
                                  size_t errstr_size) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    kafka_apply_t a = {conf, errstr, errstr_size, defaults};
    char err[512];
    /* our defaults first; the user's kafka.* settings override them */
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "kafka %s: %s", defaults[i], err);
            goto fail;
        }
    if (config_foreach_kafka(c, kafka_apply_one, &a) != 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

void setup_store_options(const config_t *c, trace_store_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->host = config_get(c, "redis.host");
    o->port = (int)config_get_int(c, "redis.port");
    o->user = config_get(c, "redis.user");
    o->password = config_get(c, "redis.password");
    o->db = (int)config_get_int(c, "redis.db");
    o->timeout_ms = (int)config_get_int(c, "redis.timeout.ms");
    o->prefix = config_get(c, "redis.prefix");
    o->topic = config_get(c, "topic.spans");
    o->grace_ms = config_get_int(c, "grace.ms");
    o->idle_timeout_ms = config_get_int(c, "idle.timeout.ms");
    o->ttl_s = config_get_int(c, "trace.ttl.s");
    o->max_spans_per_trace = config_get_int(c, "limit.spans.per.trace");
    o->max_bytes_per_trace = config_get_int(c, "limit.bytes.per.trace");
    o->max_open_traces = config_get_int(c, "limit.open.traces");
    o->cluster = config_get_bool(c, "redis.cluster");
    o->nodes = config_get(c, "redis.nodes");
}

int setup_fleet_options(const config_t *config, fleet_view_options_t *options) {
    memset(options, 0, sizeof(*options));
    options->refresh_ms = config_get_int(config, "fleet.refresh.ms");
    baseline_rule_init(&options->rule);
    options->rule.min_runs = config_get_int(config, "regression.min.runs");
    options->rule.factor = config_get_double(config, "regression.factor");
    options->rule.node_factor = config_get_double(config, "regression.node.factor");
    options->trend_interval_s = config_get_int(config, "fleet.trend.interval.s");
    options->metrics_top = (size_t)config_get_int(config, "fleet.metrics.top");
    options->trends_topic = config_get(config, "output.trends.topic");
    return config_get_bool(config, "fleet.enabled");
}
