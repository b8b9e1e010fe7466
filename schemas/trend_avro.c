/* trend_avro.c -- Trend records as Avro binary. See trend_avro.h.
 *
 * Written by hand in schema order (avro_bin.h, the profile encoder's
 * writers); read back with Avro-C's generic values by field name, after the
 * bytes were checked against the schema. */
#include "trend_avro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "avro_bin.h"
#include "utf8.h"

/* schemas/trend.avsc, verbatim (test_trend_avro checks they stay equal). */
static const char trend_schema_json[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"Trend\",\n"
    "  \"namespace\": \"dagprof\",\n"
    "  \"doc\": \"The baseline of one DAG and version over one window (topic dag-trends, key dag_id). Times are microseconds, costs USD; quantiles come from a sketch with 1% relative error.\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"dag_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"version\", \"type\": \"string\", \"doc\": \"empty: unversioned\"},\n"
    "    {\"name\": \"window\", \"type\": \"string\", \"doc\": \"1h, 24h or 7d\"},\n"
    "    {\"name\": \"profiled_at_us\", \"type\": \"long\", \"doc\": \"when the record was made\"},\n"
    "    {\"name\": \"window_end_us\", \"type\": \"long\"},\n"
    "    {\"name\": \"runs\", \"type\": \"long\"},\n"
    "    {\"name\": \"runs_per_day\", \"type\": \"double\"},\n"
    "    {\"name\": \"wall_us\", \"type\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Stat\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"mean\", \"type\": \"double\"},\n"
    "        {\"name\": \"p50\", \"type\": \"double\"},\n"
    "        {\"name\": \"p95\", \"type\": \"double\"},\n"
    "        {\"name\": \"p99\", \"type\": \"double\"}\n"
    "      ]}},\n"
    "    {\"name\": \"work_us\", \"type\": \"Stat\"},\n"
    "    {\"name\": \"cost_usd\", \"type\": \"Stat\"},\n"
    "    {\"name\": \"tokens\", \"type\": \"Stat\"},\n"
    "    {\"name\": \"schedule_efficiency\", \"type\": \"Stat\"},\n"
    "    {\"name\": \"unpriced_runs\", \"type\": \"long\"},\n"
    "    {\"name\": \"nodes\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"NodeTrend\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"node_id\", \"type\": \"string\"},\n"
    "        {\"name\": \"runs\", \"type\": \"long\"},\n"
    "        {\"name\": \"exec_us\", \"type\": {\n"
    "          \"type\": \"record\",\n"
    "          \"name\": \"Quantiles\",\n"
    "          \"fields\": [\n"
    "            {\"name\": \"p50\", \"type\": \"double\"},\n"
    "            {\"name\": \"p95\", \"type\": \"double\"}\n"
    "          ]}},\n"
    "        {\"name\": \"blocked_us\", \"type\": \"Quantiles\"},\n"
    "        {\"name\": \"critical_path_share\", \"type\": \"double\"},\n"
    "        {\"name\": \"error_rate\", \"type\": \"double\"},\n"
    "        {\"name\": \"retry_rate\", \"type\": \"double\"},\n"
    "        {\"name\": \"cost_share\", \"type\": \"double\"}\n"
    "      ]}}},\n"
    "    {\"name\": \"models\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"ModelTrend\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"model\", \"type\": \"string\"},\n"
    "        {\"name\": \"calls\", \"type\": \"long\"},\n"
    "        {\"name\": \"tokens\", \"type\": \"long\"},\n"
    "        {\"name\": \"cost_share\", \"type\": \"double\"}\n"
    "      ]}}},\n"
    "    {\"name\": \"projected_cost_usd\", \"type\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Projection\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"day\", \"type\": \"double\"},\n"
    "        {\"name\": \"month\", \"type\": \"double\"}\n"
    "      ]}},\n"
    "    {\"name\": \"regressions\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Regression\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"what\", \"type\": {\"type\": \"enum\", \"name\": \"RegressionWhat\",\n"
    "                                  \"symbols\": [\"wall_us\", \"cost_usd\", \"node_exec_us\"]}},\n"
    "        {\"name\": \"node_id\", \"type\": [\"null\", \"string\"], \"doc\": \"node_exec_us only\"},\n"
    "        {\"name\": \"trace_id\", \"type\": [\"null\", \"string\"], \"doc\": \"the first run where the rule held\"},\n"
    "        {\"name\": \"runs\", \"type\": \"long\", \"doc\": \"runs where the rule held\"},\n"
    "        {\"name\": \"value\", \"type\": \"double\"},\n"
    "        {\"name\": \"baseline_p95\", \"type\": \"double\"},\n"
    "        {\"name\": \"ratio\", \"type\": \"double\"},\n"
    "        {\"name\": \"details\", \"type\": \"string\"}\n"
    "      ]}}}\n"
    "  ]\n"
    "}\n";

struct trend_avro {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    int have_value;
};

/* The record and the arrays a decode builds. */
typedef struct trend_block {
    trend_record_t record; /* first: a trend_record_t * is the block's */
    baseline_figures_t *figures;
    trend_regression_t *regressions;
} trend_block_t;

const char *trend_avro_schema_json(void) {
    return trend_schema_json;
}

void trend_avro_free(trend_avro_t *avro) {
    if (!avro)
        return;
    if (avro->have_value)
        avro_value_decref(&avro->value);
    if (avro->iface)
        avro_value_iface_decref(avro->iface);
    if (avro->schema)
        avro_schema_decref(avro->schema);
    free(avro);
}

trend_avro_t *trend_avro_new(char *errstr, size_t errstr_size) {
    trend_avro_t *avro = calloc(1, sizeof(*avro));
    if (!avro) {
        snprintf(errstr, errstr_size, "trend_avro: out of memory");
        return NULL;
    }
    if (avro_schema_from_json_length(trend_schema_json, strlen(trend_schema_json), &avro->schema) != 0) {
        snprintf(errstr, errstr_size, "trend_avro: Trend schema: %s", avro_strerror());
        goto fail;
    }
    avro->iface = avro_generic_class_from_schema(avro->schema);
    if (!avro->iface || avro_generic_value_new(avro->iface, &avro->value) != 0) {
        snprintf(errstr, errstr_size, "trend_avro: %s", avro_strerror());
        goto fail;
    }
    avro->have_value = 1;
    return avro;
fail:
    trend_avro_free(avro);
    return NULL;
}

/* ---------------------------------------------------------------- encoding */

static void put_stat(avro_bin_t *w, const baseline_stat_t *s) {
    avro_bin_double(w, s->mean);
    avro_bin_double(w, s->p50);
    avro_bin_double(w, s->p95);
    avro_bin_double(w, s->p99);
}

int trend_avro_encode(trend_avro_t *avro, const trend_record_t *record, buf_t *out,
                      char *errstr, size_t errstr_size) {
    (void)avro;
    const baseline_figures_t *f = record->figures;
    size_t start = out->len;
    avro_bin_t w = {out, errstr, errstr_size, 0};
    avro_bin_string(&w, "dag_id", f->dag_id);
    avro_bin_string(&w, "version", f->version);
    avro_bin_string(&w, "window", baseline_window_name(f->window));
    avro_bin_long(&w, record->profiled_at_us);
    avro_bin_long(&w, f->window_end_us);
    avro_bin_long(&w, f->runs);
    avro_bin_double(&w, f->runs_per_day);
    put_stat(&w, &f->wall_us);
    put_stat(&w, &f->work_us);
    put_stat(&w, &f->cost_usd);
    put_stat(&w, &f->tokens);
    put_stat(&w, &f->schedule_efficiency);
    avro_bin_long(&w, f->unpriced_runs);
    avro_bin_block(&w, f->node_count);
    for (size_t i = 0; i < f->node_count; i++) {
        const baseline_node_figures_t *n = &f->nodes[i];
        avro_bin_string(&w, "nodes.node_id", n->node_id);
        avro_bin_long(&w, n->runs);
        avro_bin_double(&w, n->exec_us.p50);
        avro_bin_double(&w, n->exec_us.p95);
        avro_bin_double(&w, n->blocked_us.p50);
        avro_bin_double(&w, n->blocked_us.p95);
        avro_bin_double(&w, n->critical_path_share);
        avro_bin_double(&w, n->error_rate);
        avro_bin_double(&w, n->retry_rate);
        avro_bin_double(&w, n->cost_share);
    }
    avro_bin_long(&w, 0);
    avro_bin_block(&w, f->model_count);
    for (size_t i = 0; i < f->model_count; i++) {
        const baseline_model_figures_t *m = &f->models[i];
        avro_bin_string(&w, "models.model", m->model);
        avro_bin_long(&w, m->calls);
        avro_bin_long(&w, m->tokens);
        avro_bin_double(&w, m->cost_share);
    }
    avro_bin_long(&w, 0);
    avro_bin_double(&w, f->projected_cost_day_usd);
    avro_bin_double(&w, f->projected_cost_month_usd);
    avro_bin_block(&w, record->regression_count);
    for (size_t i = 0; i < record->regression_count; i++) {
        const trend_regression_t *r = &record->regressions[i];
        if ((unsigned)r->regression.what > BASELINE_REGRESSION_NODE_EXEC && !w.failed) {
            snprintf(errstr, errstr_size, "trend_avro: regressions.what: no symbol for this value");
            w.failed = 1;
        }
        avro_bin_long(&w, (int64_t)r->regression.what);
        avro_bin_nullable_string(&w, "regressions.node_id", r->regression.node_id);
        avro_bin_nullable_string(&w, "regressions.trace_id", r->trace_id);
        avro_bin_long(&w, r->runs);
        avro_bin_double(&w, r->regression.value);
        avro_bin_double(&w, r->regression.baseline_p95);
        avro_bin_double(&w, r->regression.ratio);
        avro_bin_string(&w, "regressions.details", r->regression.details ? r->regression.details : "");
    }
    avro_bin_long(&w, 0);
    if (w.failed) {
        buf_truncate(out, start);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- decoding */

typedef struct decoder {
    char *errstr;
    size_t errstr_size;
    baseline_figures_t *figures;
    int failed;
} decoder_t;

static void dec_fail(decoder_t *d, const char *what, const char *problem) {
    if (!d->failed)
        snprintf(d->errstr, d->errstr_size, "trend_avro: %s: %s", what, problem);
    d->failed = 1;
}

static avro_value_t child(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t out;
    memset(&out, 0, sizeof(out));
    if (!d->failed && avro_value_get_by_name(record, name, &out, NULL) != 0)
        dec_fail(d, name, avro_strerror());
    return out;
}

static int64_t get_long(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t v = child(d, record, name);
    int64_t out = 0;
    if (!d->failed && avro_value_get_long(&v, &out) != 0)
        dec_fail(d, name, avro_strerror());
    return out;
}

static double get_double(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t v = child(d, record, name);
    double out = 0;
    if (!d->failed && avro_value_get_double(&v, &out) != 0)
        dec_fail(d, name, avro_strerror());
    return out;
}

static const char *string_of(decoder_t *d, avro_value_t *v, const char *name) {
    const char *text = NULL;
    size_t size = 0;
    if (d->failed)
        return "";
    if (avro_value_get_string(v, &text, &size) != 0) {
        dec_fail(d, name, avro_strerror());
        return "";
    }
    size_t len = size ? size - 1 : 0; /* Avro-C counts the terminator */
    if (memchr(text, '\0', len) || !utf8_valid(text, len)) {
        dec_fail(d, name, "not UTF-8 text without NUL");
        return "";
    }
    char *copy = baseline_figures_strdup(d->figures, text, len);
    if (!copy)
        dec_fail(d, name, "out of memory");
    return copy ? copy : "";
}

static const char *get_string(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t v = child(d, record, name);
    return string_of(d, &v, name);
}

static const char *get_nullable_string(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t u = child(d, record, name), branch;
    int discriminant = 0;
    if (d->failed)
        return NULL;
    if (avro_value_get_discriminant(&u, &discriminant) != 0 ||
        avro_value_get_current_branch(&u, &branch) != 0) {
        dec_fail(d, name, avro_strerror());
        return NULL;
    }
    return discriminant == 0 ? NULL : string_of(d, &branch, name);
}

static baseline_stat_t get_stat(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t v = child(d, record, name);
    baseline_stat_t s = {0, 0, 0, 0};
    if (d->failed)
        return s;
    s.mean = get_double(d, &v, "mean");
    s.p50 = get_double(d, &v, "p50");
    s.p95 = get_double(d, &v, "p95");
    s.p99 = get_double(d, &v, "p99");
    return s;
}

static baseline_quantiles_t get_quantiles(decoder_t *d, avro_value_t *record, const char *name) {
    avro_value_t v = child(d, record, name);
    baseline_quantiles_t q = {0, 0};
    if (d->failed)
        return q;
    q.p50 = get_double(d, &v, "p50");
    q.p95 = get_double(d, &v, "p95");
    return q;
}

static size_t array_size(decoder_t *d, avro_value_t *array, const char *name) {
    size_t n = 0;
    if (!d->failed && avro_value_get_size(array, &n) != 0)
        dec_fail(d, name, avro_strerror());
    return n;
}

static avro_value_t element(decoder_t *d, avro_value_t *array, size_t i, const char *name) {
    avro_value_t out;
    memset(&out, 0, sizeof(out));
    if (!d->failed && avro_value_get_by_index(array, i, &out, NULL) != 0)
        dec_fail(d, name, avro_strerror());
    return out;
}

int trend_avro_decode(trend_avro_t *avro, const void *data, size_t len, trend_record_t **out,
                      char *errstr, size_t errstr_size) {
    const char *problem = NULL;
    avro_reader_t reader = NULL;
    trend_block_t *block = NULL;
    decoder_t d = {errstr, errstr_size, NULL, 0};
    *out = NULL;
    if (len > INT64_MAX || !avro_bin_scan(avro->schema, data, len, &problem)) {
        snprintf(errstr, errstr_size, "trend_avro: not a Trend record: %s",
                 problem ? problem : "too large");
        return -1;
    }
    avro_value_t *root = &avro->value;
    if (avro_value_reset(root) != 0 || !(reader = avro_reader_memory(data, (int64_t)len)) ||
        avro_value_read(reader, root) != 0) {
        snprintf(errstr, errstr_size, "trend_avro: reading the record: %s", avro_strerror());
        goto fail;
    }
    avro_value_t nodes = child(&d, root, "nodes"), models = child(&d, root, "models"),
                 regs = child(&d, root, "regressions");
    size_t node_count = array_size(&d, &nodes, "nodes");
    size_t model_count = array_size(&d, &models, "models");
    size_t reg_count = array_size(&d, &regs, "regressions");
    if (d.failed)
        goto fail;
    block = calloc(1, sizeof(*block));
    if (!block || !(block->figures = d.figures = baseline_figures_new(node_count, model_count))) {
        snprintf(errstr, errstr_size, "trend_avro: out of memory");
        goto fail;
    }
    if (reg_count && !(block->regressions = baseline_figures_alloc(block->figures,
                                                                   reg_count * sizeof(*block->regressions)))) {
        snprintf(errstr, errstr_size, "trend_avro: out of memory");
        goto fail;
    }
    baseline_figures_t *f = block->figures;
    f->dag_id = get_string(&d, root, "dag_id");
    f->version = get_string(&d, root, "version");
    const char *window = get_string(&d, root, "window");
    if (!d.failed && baseline_window_parse(window, &f->window) != 0)
        dec_fail(&d, "window", "not 1h, 24h or 7d");
    block->record.profiled_at_us = get_long(&d, root, "profiled_at_us");
    f->window_end_us = get_long(&d, root, "window_end_us");
    f->window_start_us = f->window_end_us - baseline_window_us(f->window);
    f->runs = get_long(&d, root, "runs");
    f->runs_per_day = get_double(&d, root, "runs_per_day");
    f->wall_us = get_stat(&d, root, "wall_us");
    f->work_us = get_stat(&d, root, "work_us");
    f->cost_usd = get_stat(&d, root, "cost_usd");
    f->tokens = get_stat(&d, root, "tokens");
    f->schedule_efficiency = get_stat(&d, root, "schedule_efficiency");
    f->unpriced_runs = get_long(&d, root, "unpriced_runs");
    for (size_t i = 0; i < node_count && !d.failed; i++) {
        avro_value_t v = element(&d, &nodes, i, "nodes");
        baseline_node_figures_t *n = &f->nodes[i];
        n->node_id = get_string(&d, &v, "node_id");
        n->runs = get_long(&d, &v, "runs");
        n->exec_us = get_quantiles(&d, &v, "exec_us");
        n->blocked_us = get_quantiles(&d, &v, "blocked_us");
        n->critical_path_share = get_double(&d, &v, "critical_path_share");
        n->error_rate = get_double(&d, &v, "error_rate");
        n->retry_rate = get_double(&d, &v, "retry_rate");
        n->cost_share = get_double(&d, &v, "cost_share");
    }
    for (size_t i = 0; i < model_count && !d.failed; i++) {
        avro_value_t v = element(&d, &models, i, "models");
        baseline_model_figures_t *m = &f->models[i];
        m->model = get_string(&d, &v, "model");
        m->calls = get_long(&d, &v, "calls");
        m->tokens = get_long(&d, &v, "tokens");
        m->cost_share = get_double(&d, &v, "cost_share");
    }
    avro_value_t projection = child(&d, root, "projected_cost_usd");
    if (!d.failed) {
        f->projected_cost_day_usd = get_double(&d, &projection, "day");
        f->projected_cost_month_usd = get_double(&d, &projection, "month");
    }
    for (size_t i = 0; i < reg_count && !d.failed; i++) {
        avro_value_t v = element(&d, &regs, i, "regressions");
        trend_regression_t *r = &block->regressions[i];
        avro_value_t what = child(&d, &v, "what");
        int symbol = 0;
        if (!d.failed && avro_value_get_enum(&what, &symbol) != 0)
            dec_fail(&d, "regressions.what", avro_strerror());
        r->regression.what = (baseline_regression_what_t)symbol;
        r->regression.node_id = get_nullable_string(&d, &v, "node_id");
        r->trace_id = get_nullable_string(&d, &v, "trace_id");
        r->runs = get_long(&d, &v, "runs");
        r->regression.value = get_double(&d, &v, "value");
        r->regression.baseline_p95 = get_double(&d, &v, "baseline_p95");
        r->regression.ratio = get_double(&d, &v, "ratio");
        r->regression.details = get_string(&d, &v, "details");
    }
    if (d.failed)
        goto fail;
    avro_reader_free(reader);
    block->record.figures = block->figures;
    block->record.regressions = block->regressions;
    block->record.regression_count = reg_count;
    *out = &block->record;
    return 0;
fail:
    if (reader)
        avro_reader_free(reader);
    if (block) {
        baseline_figures_free(block->figures);
        free(block);
    }
    return -1;
}

void trend_avro_record_free(trend_record_t *record) {
    if (!record)
        return;
    trend_block_t *block = (trend_block_t *)record;
    baseline_figures_free(block->figures);
    free(block);
}
