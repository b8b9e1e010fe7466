/* baseline.c -- per-run records, fleet baselines, the regression rule and the
 * comparison of two sets of runs. See baseline.h. */
#include "baseline.h"

#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "sketch.h"
#include "strmap.h"

#define US_PER_HOUR INT64_C(3600000000)
#define US_PER_DAY INT64_C(86400000000)

static void set_err(char *errstr, size_t errstr_size, const char *text) {
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", text);
}

/* ---- Version ----------------------------------------------------------- */

static const char *span_attribute(const span_t *span, const char *key) {
    for (size_t i = 0; i < span->attribute_count; i++)
        if (span->attributes[i].key && strcmp(span->attributes[i].key, key) == 0)
            return span->attributes[i].value ? span->attributes[i].value : "";
    return NULL;
}

const char *baseline_trace_version(const trace_t *trace) {
    const trace_summary_t *summary = trace_summary(trace);
    size_t index = summary->run != SIZE_MAX ? summary->run : summary->dag_source;
    if (index == SIZE_MAX || index >= trace_span_count(trace))
        return "";
    const span_t *span = trace_span(trace, index);
    const char *version = span_attribute(span, "dag.version");
    if (!version)
        version = span_attribute(span, "version");
    return version ? version : "";
}

/* ---- Run records --------------------------------------------------------
 *
 * A record is one malloc block: the struct, its node and model arrays, then
 * its strings. A baseline of a week of a busy DAG holds a hundred thousand of
 * them; one block each keeps that to one malloc and one free per run. */

static size_t align_up(size_t n) {
    return (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
}

static size_t text_size(const char *text) {
    return (text ? strlen(text) : 0) + 1;
}

static char *pack_text(char **cursor, const char *text) {
    size_t len = text ? strlen(text) : 0;
    char *out = *cursor;
    if (len)
        memcpy(out, text, len);
    out[len] = '\0';
    *cursor += len + 1;
    return out;
}

/* A packed copy of `src`, whose strings may live anywhere. NULL on OOM. */
static baseline_run_t *run_pack(const baseline_run_t *src) {
    size_t nodes_bytes = align_up(src->node_count * sizeof(baseline_node_run_t));
    size_t models_bytes = align_up(src->model_count * sizeof(baseline_model_run_t));
    size_t size = align_up(sizeof(baseline_run_t)) + nodes_bytes + models_bytes;
    size += text_size(src->trace_id) + text_size(src->dag_id) + text_size(src->version);
    for (size_t i = 0; i < src->node_count; i++)
        size += text_size(src->nodes[i].node_id);
    for (size_t i = 0; i < src->model_count; i++)
        size += text_size(src->models[i].model);
    char *block = malloc(size);
    if (!block)
        return NULL;
    baseline_run_t *run = (baseline_run_t *)block;
    *run = *src;
    char *cursor = block + align_up(sizeof(baseline_run_t));
    run->nodes = src->node_count ? (baseline_node_run_t *)cursor : NULL;
    cursor += nodes_bytes;
    run->models = src->model_count ? (baseline_model_run_t *)cursor : NULL;
    cursor += models_bytes;
    run->trace_id = pack_text(&cursor, src->trace_id);
    run->dag_id = pack_text(&cursor, src->dag_id);
    run->version = pack_text(&cursor, src->version);
    for (size_t i = 0; i < src->node_count; i++) {
        run->nodes[i] = src->nodes[i];
        run->nodes[i].node_id = pack_text(&cursor, src->nodes[i].node_id);
    }
    for (size_t i = 0; i < src->model_count; i++) {
        run->models[i] = src->models[i];
        run->models[i].model = pack_text(&cursor, src->models[i].model);
    }
    return run;
}

baseline_run_t *baseline_run_from_profile(const profile_t *profile, const char *version,
                                          char *errstr, size_t errstr_size) {
    baseline_run_t src;
    memset(&src, 0, sizeof(src));
    baseline_node_run_t *nodes = NULL;
    baseline_model_run_t *models = NULL;
    baseline_run_t *run = NULL;
    if (profile->node_count) {
        nodes = calloc(profile->node_count, sizeof(*nodes));
        if (!nodes)
            goto fail;
    }
    if (profile->model_count) {
        models = calloc(profile->model_count, sizeof(*models));
        if (!models)
            goto fail;
    }
    src.trace_id = profile->trace_id;
    src.dag_id = profile->dag_id;
    src.version = version ? version : "";
    src.revision = profile->revision;
    src.complete = profile->complete;
    src.run_start_us = profile->summary.run_start_us;
    src.wall_us = profile->summary.wall_us;
    src.work_us = profile->summary.work_us;
    src.cost_usd = profile->summary.cost_usd;
    src.tokens = profile->summary.tokens.total;
    src.schedule_efficiency = profile->summary.schedule_efficiency;
    src.unpriced_models = (int64_t)profile->summary.unpriced_model_count;
    for (size_t i = 0; i < profile->node_count; i++) {
        const profile_node_t *node = &profile->nodes[i];
        nodes[i].node_id = node->node_id;
        nodes[i].exec_us = node->exec_us;
        nodes[i].blocked_us = node->blocked_us;
        nodes[i].on_critical_path = node->on_critical_path;
        nodes[i].error = node->status == SPAN_STATUS_ERROR;
        nodes[i].retries = node->retries;
        nodes[i].cost_usd = node->cost_usd;
    }
    for (size_t i = 0; i < profile->model_count; i++) {
        const profile_model_usage_t *usage = &profile->by_model[i];
        models[i].model = usage->model;
        models[i].calls = usage->calls;
        models[i].tokens = usage->tokens.total;
        models[i].cost_usd = usage->cost_usd;
    }
    src.nodes = nodes;
    src.node_count = profile->node_count;
    src.models = models;
    src.model_count = profile->model_count;
    run = run_pack(&src);
    if (!run)
        goto fail;
    free(nodes);
    free(models);
    return run;
fail:
    set_err(errstr, errstr_size, "out of memory building a run record");
    free(nodes);
    free(models);
    return NULL;
}

baseline_run_t *baseline_run_copy(const baseline_run_t *run) {
    return run_pack(run);
}

void baseline_run_free(baseline_run_t *run) {
    free(run);
}

/* ---- Encoding ---------------------------------------------------------- */

typedef struct run_writer {
    uint8_t *bytes;
    size_t len;
    size_t cap;
    int failed;
} run_writer_t;

static void put_bytes(run_writer_t *w, const void *data, size_t len) {
    if (w->failed)
        return;
    if (w->cap - w->len < len) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < len)
            cap *= 2;
        uint8_t *bytes = realloc(w->bytes, cap);
        if (!bytes) {
            w->failed = 1;
            return;
        }
        w->bytes = bytes;
        w->cap = cap;
    }
    memcpy(w->bytes + w->len, data, len);
    w->len += len;
}

static void put_uvarint(run_writer_t *w, uint64_t value) {
    uint8_t tmp[10];
    size_t n = 0;
    while (value >= 0x80) {
        tmp[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    tmp[n++] = (uint8_t)value;
    put_bytes(w, tmp, n);
}

static void put_varint(run_writer_t *w, int64_t value) {
    put_uvarint(w, ((uint64_t)value << 1) ^ (uint64_t)(value >> 63));
}

static void put_double(run_writer_t *w, double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    uint8_t tmp[8];
    for (int i = 0; i < 8; i++)
        tmp[i] = (uint8_t)(bits >> (8 * i));
    put_bytes(w, tmp, 8);
}

static void put_u8(run_writer_t *w, uint8_t value) {
    put_bytes(w, &value, 1);
}

static void put_text(run_writer_t *w, const char *text) {
    size_t len = text ? strlen(text) : 0;
    put_uvarint(w, len);
    put_bytes(w, text, len);
}

int baseline_run_encode(const baseline_run_t *run, uint8_t **out, size_t *out_len,
                        char *errstr, size_t errstr_size) {
    run_writer_t w = {0};
    put_u8(&w, BASELINE_RUN_FORMAT);
    put_text(&w, run->trace_id);
    put_text(&w, run->dag_id);
    put_text(&w, run->version);
    put_varint(&w, run->revision);
    put_u8(&w, run->complete ? 1 : 0);
    put_varint(&w, run->run_start_us);
    put_varint(&w, run->wall_us);
    put_varint(&w, run->work_us);
    put_double(&w, run->cost_usd);
    put_varint(&w, run->tokens);
    put_double(&w, run->schedule_efficiency);
    put_varint(&w, run->unpriced_models);
    put_uvarint(&w, run->node_count);
    for (size_t i = 0; i < run->node_count; i++) {
        const baseline_node_run_t *node = &run->nodes[i];
        put_text(&w, node->node_id);
        put_varint(&w, node->exec_us);
        put_varint(&w, node->blocked_us);
        put_u8(&w, (uint8_t)((node->on_critical_path ? 1 : 0) | (node->error ? 2 : 0)));
        put_varint(&w, node->retries);
        put_double(&w, node->cost_usd);
    }
    put_uvarint(&w, run->model_count);
    for (size_t i = 0; i < run->model_count; i++) {
        const baseline_model_run_t *model = &run->models[i];
        put_text(&w, model->model);
        put_varint(&w, model->calls);
        put_varint(&w, model->tokens);
        put_double(&w, model->cost_usd);
    }
    if (w.failed) {
        free(w.bytes);
        set_err(errstr, errstr_size, "out of memory encoding a run record");
        return -1;
    }
    *out = w.bytes;
    *out_len = w.len;
    return 0;
}

typedef struct run_reader {
    const uint8_t *p;
    const uint8_t *end;
    char *scratch; /* NUL-terminated copies of the strings read */
    size_t scratch_used;
    const char *error; /* the first problem met */
} run_reader_t;

static void read_fail(run_reader_t *r, const char *error) {
    if (!r->error)
        r->error = error;
    r->p = r->end;
}

static uint64_t get_uvarint(run_reader_t *r) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            read_fail(r, "run record truncated");
            return 0;
        }
        uint8_t byte = *r->p++;
        if (shift == 63 && byte > 1) {
            read_fail(r, "run record has a varint out of range");
            return 0;
        }
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return value;
    }
    read_fail(r, "run record has a varint out of range");
    return 0;
}

static int64_t get_varint(run_reader_t *r) {
    uint64_t zz = get_uvarint(r);
    return (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
}

static uint8_t get_u8(run_reader_t *r) {
    if (r->p >= r->end) {
        read_fail(r, "run record truncated");
        return 0;
    }
    return *r->p++;
}

static double get_double(run_reader_t *r) {
    if (r->end - r->p < 8) {
        read_fail(r, "run record truncated");
        return 0.0;
    }
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    double value;
    memcpy(&value, &bits, sizeof(value));
    if (!isfinite(value)) {
        read_fail(r, "run record has a number that is not finite");
        return 0.0;
    }
    return value;
}

static const char *get_text(run_reader_t *r) {
    uint64_t len = get_uvarint(r);
    if (r->error)
        return "";
    if (len > (uint64_t)(r->end - r->p)) {
        read_fail(r, "run record truncated in a string");
        return "";
    }
    if (memchr(r->p, '\0', (size_t)len)) {
        read_fail(r, "run record has a string holding a NUL byte");
        return "";
    }
    char *out = r->scratch + r->scratch_used;
    memcpy(out, r->p, (size_t)len);
    out[len] = '\0';
    r->scratch_used += (size_t)len + 1;
    r->p += len;
    return out;
}

/* A count of entries that each take at least min_bytes: no more than the
 * bytes left could hold, so garbage cannot ask for a huge allocation. */
static size_t get_count(run_reader_t *r, size_t min_bytes) {
    uint64_t count = get_uvarint(r);
    if (r->error)
        return 0;
    if (count > (uint64_t)(r->end - r->p) / min_bytes) {
        read_fail(r, "run record has a count larger than its bytes");
        return 0;
    }
    return (size_t)count;
}

baseline_run_t *baseline_run_decode(const uint8_t *data, size_t len,
                                    char *errstr, size_t errstr_size) {
    run_reader_t r = {data, data + len, NULL, 0, NULL};
    baseline_run_t src;
    memset(&src, 0, sizeof(src));
    baseline_node_run_t *nodes = NULL;
    baseline_model_run_t *models = NULL;
    baseline_run_t *run = NULL;
    const char *error = NULL;
    if (len == 0) {
        error = "run record is empty";
        goto fail;
    }
    if (data[0] != BASELINE_RUN_FORMAT) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "run record has format %u, this build reads %d",
                     (unsigned)data[0], BASELINE_RUN_FORMAT);
        return NULL;
    }
    r.p++;
    /* Every string is at most the bytes left, plus its terminator. */
    r.scratch = malloc(2 * len + 1);
    if (!r.scratch) {
        error = "out of memory decoding a run record";
        goto fail;
    }
    src.trace_id = get_text(&r);
    src.dag_id = get_text(&r);
    src.version = get_text(&r);
    src.revision = get_varint(&r);
    uint8_t complete = get_u8(&r);
    if (complete > 1)
        read_fail(&r, "run record has a bad complete flag");
    src.complete = complete == 1;
    src.run_start_us = get_varint(&r);
    src.wall_us = get_varint(&r);
    src.work_us = get_varint(&r);
    src.cost_usd = get_double(&r);
    src.tokens = get_varint(&r);
    src.schedule_efficiency = get_double(&r);
    src.unpriced_models = get_varint(&r);
    /* a node takes at least 1 + 1 + 1 + 1 + 1 + 8 bytes, a model 1 + 1 + 1 + 8 */
    src.node_count = get_count(&r, 13);
    if (src.node_count) {
        nodes = calloc(src.node_count, sizeof(*nodes));
        if (!nodes) {
            error = "out of memory decoding a run record";
            goto fail;
        }
    }
    for (size_t i = 0; i < src.node_count && !r.error; i++) {
        nodes[i].node_id = get_text(&r);
        nodes[i].exec_us = get_varint(&r);
        nodes[i].blocked_us = get_varint(&r);
        uint8_t flags = get_u8(&r);
        if (flags > 3)
            read_fail(&r, "run record has bad node flags");
        nodes[i].on_critical_path = (flags & 1) != 0;
        nodes[i].error = (flags & 2) != 0;
        int64_t retries = get_varint(&r);
        if (retries < INT32_MIN || retries > INT32_MAX)
            read_fail(&r, "run record has a retry count out of range");
        nodes[i].retries = (int32_t)retries;
        nodes[i].cost_usd = get_double(&r);
    }
    src.model_count = get_count(&r, 11);
    if (src.model_count) {
        models = calloc(src.model_count, sizeof(*models));
        if (!models) {
            error = "out of memory decoding a run record";
            goto fail;
        }
    }
    for (size_t i = 0; i < src.model_count && !r.error; i++) {
        models[i].model = get_text(&r);
        models[i].calls = get_varint(&r);
        models[i].tokens = get_varint(&r);
        models[i].cost_usd = get_double(&r);
    }
    if (!r.error && r.p != r.end)
        read_fail(&r, "run record has trailing bytes");
    if (r.error) {
        error = r.error;
        goto fail;
    }
    src.nodes = nodes;
    src.models = models;
    run = run_pack(&src);
    if (!run) {
        error = "out of memory decoding a run record";
        goto fail;
    }
    free(nodes);
    free(models);
    free(r.scratch);
    return run;
fail:
    set_err(errstr, errstr_size, error);
    free(nodes);
    free(models);
    free(r.scratch);
    return NULL;
}

/* ---- Windows ----------------------------------------------------------- */

static const char *const window_names[BASELINE_WINDOW_COUNT] = {"1h", "24h", "7d"};

const char *baseline_window_name(baseline_window_t window) {
    return (unsigned)window < BASELINE_WINDOW_COUNT ? window_names[window] : "?";
}

int baseline_window_parse(const char *name, baseline_window_t *out) {
    for (int i = 0; i < BASELINE_WINDOW_COUNT; i++)
        if (name && strcmp(name, window_names[i]) == 0) {
            *out = (baseline_window_t)i;
            return 0;
        }
    return -1;
}

int64_t baseline_window_us(baseline_window_t window) {
    switch (window) {
    case BASELINE_WINDOW_1H:
        return US_PER_HOUR;
    case BASELINE_WINDOW_24H:
        return US_PER_DAY;
    case BASELINE_WINDOW_7D:
        return 7 * US_PER_DAY;
    }
    return US_PER_DAY;
}

/* ---- Baseline ---------------------------------------------------------- */

struct baseline {
    char *dag_id;
    char *version;
    baseline_window_t window;
    int64_t window_start_us;
    int64_t window_end_us;
    baseline_run_t **runs; /* owned copies */
    size_t run_count;
    size_t run_cap;
    strmap_t by_trace; /* trace_id (the run's own copy) -> index in runs */
};

static char *dup_text(const char *text) {
    size_t len = text ? strlen(text) : 0;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    if (len)
        memcpy(out, text, len);
    out[len] = '\0';
    return out;
}

baseline_t *baseline_new(const char *dag_id, const char *version, baseline_window_t window,
                         int64_t window_end_us) {
    baseline_t *baseline = calloc(1, sizeof(*baseline));
    if (!baseline)
        return NULL;
    baseline->dag_id = dup_text(dag_id);
    baseline->version = dup_text(version);
    if (!baseline->dag_id || !baseline->version || strmap_init(&baseline->by_trace, 64) < 0) {
        free(baseline->dag_id);
        free(baseline->version);
        free(baseline);
        return NULL;
    }
    baseline->window = window;
    baseline->window_end_us = window_end_us;
    int64_t length = baseline_window_us(window);
    baseline->window_start_us = window_end_us < INT64_MIN + length ? INT64_MIN : window_end_us - length;
    return baseline;
}

void baseline_free(baseline_t *baseline) {
    if (!baseline)
        return;
    for (size_t i = 0; i < baseline->run_count; i++)
        baseline_run_free(baseline->runs[i]);
    free(baseline->runs);
    strmap_free(&baseline->by_trace);
    free(baseline->dag_id);
    free(baseline->version);
    free(baseline);
}

size_t baseline_run_count(const baseline_t *baseline) {
    return baseline->run_count;
}

int baseline_add(baseline_t *baseline, const baseline_run_t *run,
                 char *errstr, size_t errstr_size) {
    const char *version = run->version ? run->version : "";
    if (strcmp(run->dag_id ? run->dag_id : "", baseline->dag_id) != 0 ||
        strcmp(version, baseline->version) != 0)
        return 0;
    if (run->run_start_us < baseline->window_start_us || run->run_start_us > baseline->window_end_us)
        return 0;
    const char *trace_id = run->trace_id ? run->trace_id : "";
    uint32_t hash = strmap_key_hash(trace_id);
    size_t index;
    if (strmap_get_hashed(&baseline->by_trace, trace_id, hash, &index)) {
        baseline_run_t *old = baseline->runs[index];
        if (run->revision <= old->revision)
            return 0;
        baseline_run_t *copy = baseline_run_copy(run);
        if (!copy)
            goto oom;
        /* The map's key is the old record's string: point it at the new one. */
        strmap_slot_t *slot = strmap_find_slot(&baseline->by_trace, trace_id, hash);
        if (!slot || !slot->key) {
            baseline_run_free(copy);
            goto oom;
        }
        slot->key = copy->trace_id;
        baseline->runs[index] = copy;
        baseline_run_free(old);
        return 1;
    }
    if (baseline->run_count == baseline->run_cap) {
        size_t cap = baseline->run_cap ? baseline->run_cap * 2 : 64;
        baseline_run_t **runs = realloc(baseline->runs, cap * sizeof(*runs));
        if (!runs)
            goto oom;
        baseline->runs = runs;
        baseline->run_cap = cap;
    }
    baseline_run_t *copy = baseline_run_copy(run);
    if (!copy)
        goto oom;
    if (strmap_put_hashed(&baseline->by_trace, copy->trace_id, hash, baseline->run_count, NULL) < 0) {
        baseline_run_free(copy);
        goto oom;
    }
    baseline->runs[baseline->run_count++] = copy;
    return 1;
oom:
    set_err(errstr, errstr_size, "out of memory adding a run to a baseline");
    return -1;
}

/* What the figures of one node are made of, while the runs are read. */
typedef struct node_acc {
    const char *node_id; /* a run record's */
    int64_t runs;
    int64_t critical_runs;
    int64_t error_runs;
    int64_t retry_runs;
    double cost_usd;
    sketch_t *exec_us;
    sketch_t *blocked_us;
} node_acc_t;

typedef struct model_acc {
    const char *model;
    int64_t calls;
    int64_t tokens;
    double cost_usd;
} model_acc_t;

/* The figures and the arena their strings and arrays live in. */
typedef struct figures_block {
    baseline_figures_t figures; /* first: a baseline_figures_t * is the block's */
    arena_t *arena;
} figures_block_t;

static baseline_stat_t stat_of(const sketch_t *sketch) {
    baseline_stat_t stat;
    stat.mean = sketch_mean(sketch);
    stat.p50 = sketch_quantile(sketch, 0.50);
    stat.p95 = sketch_quantile(sketch, 0.95);
    stat.p99 = sketch_quantile(sketch, 0.99);
    return stat;
}

static int node_figures_cmp(const void *a, const void *b) {
    const baseline_node_figures_t *x = a, *y = b;
    if (x->critical_path_share != y->critical_path_share)
        return x->critical_path_share > y->critical_path_share ? -1 : 1;
    return strcmp(x->node_id, y->node_id);
}

static int model_figures_cmp(const void *a, const void *b) {
    const baseline_model_figures_t *x = a, *y = b;
    if (x->cost_usd != y->cost_usd)
        return x->cost_usd > y->cost_usd ? -1 : 1;
    return strcmp(x->model, y->model);
}

/* Records are read back from outside (Redis): their counts may be anything. */
static int64_t sat_add(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static double share(double part, double whole) {
    return whole > 0 ? part / whole : 0.0;
}

baseline_figures_t *baseline_figures(const baseline_t *baseline, char *errstr, size_t errstr_size) {
    enum { STAT_WALL, STAT_WORK, STAT_COST, STAT_TOKENS, STAT_EFFICIENCY, STAT_COUNT };
    sketch_t *stats[STAT_COUNT] = {0};
    node_acc_t *nodes = NULL;
    size_t node_count = 0, node_cap = 0;
    model_acc_t *models = NULL;
    size_t model_count = 0, model_cap = 0;
    strmap_t node_map = {0}, model_map = {0};
    figures_block_t *block = NULL;
    int maps = 0;

    for (int i = 0; i < STAT_COUNT; i++)
        if (!(stats[i] = sketch_new()))
            goto fail;
    if (strmap_init(&node_map, 64) < 0)
        goto fail;
    maps = 1;
    if (strmap_init(&model_map, 16) < 0)
        goto fail;
    maps = 2;

    int64_t unpriced_runs = 0;
    int64_t first_start = 0;
    double total_cost = 0, total_cost_comp = 0;
    for (size_t r = 0; r < baseline->run_count; r++) {
        const baseline_run_t *run = baseline->runs[r];
        if (r == 0 || run->run_start_us < first_start)
            first_start = run->run_start_us;
        if (run->unpriced_models > 0)
            unpriced_runs++;
        if (sketch_add(stats[STAT_WALL], (double)run->wall_us) < 0 ||
            sketch_add(stats[STAT_WORK], (double)run->work_us) < 0 ||
            sketch_add(stats[STAT_COST], run->cost_usd) < 0 ||
            sketch_add(stats[STAT_TOKENS], (double)run->tokens) < 0 ||
            sketch_add(stats[STAT_EFFICIENCY], run->schedule_efficiency) < 0)
            goto fail;
        /* Neumaier, as the sketch sums: shares of a week of cents add up. */
        double t = total_cost + run->cost_usd;
        if (fabs(total_cost) >= fabs(run->cost_usd))
            total_cost_comp += (total_cost - t) + run->cost_usd;
        else
            total_cost_comp += (run->cost_usd - t) + total_cost;
        total_cost = t;
        for (size_t i = 0; i < run->node_count; i++) {
            const baseline_node_run_t *node = &run->nodes[i];
            size_t index;
            if (!strmap_get(&node_map, node->node_id, &index)) {
                if (node_count == node_cap) {
                    size_t cap = node_cap ? node_cap * 2 : 16;
                    node_acc_t *grown = realloc(nodes, cap * sizeof(*grown));
                    if (!grown)
                        goto fail;
                    nodes = grown;
                    node_cap = cap;
                }
                node_acc_t *acc = &nodes[node_count];
                memset(acc, 0, sizeof(*acc));
                acc->node_id = node->node_id;
                acc->exec_us = sketch_new();
                acc->blocked_us = sketch_new();
                node_count++; /* counted before the check: the cleanup frees its sketches */
                if (!acc->exec_us || !acc->blocked_us)
                    goto fail;
                index = node_count - 1;
                if (strmap_put(&node_map, acc->node_id, index, NULL) < 0)
                    goto fail;
            }
            node_acc_t *acc = &nodes[index];
            acc->runs++;
            acc->critical_runs += node->on_critical_path;
            acc->error_runs += node->error;
            acc->retry_runs += node->retries > 0;
            acc->cost_usd += node->cost_usd;
            if (sketch_add(acc->exec_us, (double)node->exec_us) < 0 ||
                sketch_add(acc->blocked_us, (double)node->blocked_us) < 0)
                goto fail;
        }
        for (size_t i = 0; i < run->model_count; i++) {
            const baseline_model_run_t *model = &run->models[i];
            size_t index;
            if (!strmap_get(&model_map, model->model, &index)) {
                if (model_count == model_cap) {
                    size_t cap = model_cap ? model_cap * 2 : 8;
                    model_acc_t *grown = realloc(models, cap * sizeof(*grown));
                    if (!grown)
                        goto fail;
                    models = grown;
                    model_cap = cap;
                }
                index = model_count;
                memset(&models[index], 0, sizeof(models[index]));
                models[index].model = model->model;
                model_count++;
                if (strmap_put(&model_map, model->model, index, NULL) < 0)
                    goto fail;
            }
            models[index].calls = sat_add(models[index].calls, model->calls);
            models[index].tokens = sat_add(models[index].tokens, model->tokens);
            models[index].cost_usd += model->cost_usd;
        }
    }
    total_cost += total_cost_comp;

    block = calloc(1, sizeof(*block));
    if (!block || !(block->arena = arena_new()))
        goto fail;
    baseline_figures_t *f = &block->figures;
    f->dag_id = arena_strdup(block->arena, baseline->dag_id);
    f->version = arena_strdup(block->arena, baseline->version);
    if (!f->dag_id || !f->version)
        goto fail;
    f->window = baseline->window;
    f->window_start_us = baseline->window_start_us;
    f->window_end_us = baseline->window_end_us;
    f->runs = (int64_t)baseline->run_count;
    f->unpriced_runs = unpriced_runs;
    f->first_run_start_us = baseline->run_count ? first_start : 0;
    if (baseline->run_count) {
        double span_us = (double)baseline->window_end_us - (double)first_start;
        if (span_us < (double)US_PER_HOUR)
            span_us = (double)US_PER_HOUR;
        f->runs_per_day = (double)baseline->run_count * (double)US_PER_DAY / span_us;
    }
    f->wall_us = stat_of(stats[STAT_WALL]);
    f->work_us = stat_of(stats[STAT_WORK]);
    f->cost_usd = stat_of(stats[STAT_COST]);
    f->tokens = stat_of(stats[STAT_TOKENS]);
    f->schedule_efficiency = stat_of(stats[STAT_EFFICIENCY]);
    f->total_cost_usd = total_cost;
    if (node_count) {
        f->nodes = arena_alloc(block->arena, node_count * sizeof(*f->nodes));
        if (!f->nodes)
            goto fail;
    }
    for (size_t i = 0; i < node_count; i++) {
        baseline_node_figures_t *out = &f->nodes[i];
        const node_acc_t *acc = &nodes[i];
        out->node_id = arena_strdup(block->arena, acc->node_id);
        if (!out->node_id)
            goto fail;
        out->runs = acc->runs;
        out->exec_us.p50 = sketch_quantile(acc->exec_us, 0.50);
        out->exec_us.p95 = sketch_quantile(acc->exec_us, 0.95);
        out->blocked_us.p50 = sketch_quantile(acc->blocked_us, 0.50);
        out->blocked_us.p95 = sketch_quantile(acc->blocked_us, 0.95);
        out->critical_path_share = share((double)acc->critical_runs, (double)baseline->run_count);
        out->error_rate = share((double)acc->error_runs, (double)acc->runs);
        out->retry_rate = share((double)acc->retry_runs, (double)acc->runs);
        out->cost_usd = acc->cost_usd;
        out->cost_share = share(acc->cost_usd, total_cost);
    }
    f->node_count = node_count;
    if (f->node_count > 1)
        qsort(f->nodes, f->node_count, sizeof(*f->nodes), node_figures_cmp);
    if (model_count) {
        f->models = arena_alloc(block->arena, model_count * sizeof(*f->models));
        if (!f->models)
            goto fail;
    }
    for (size_t i = 0; i < model_count; i++) {
        baseline_model_figures_t *out = &f->models[i];
        out->model = arena_strdup(block->arena, models[i].model);
        if (!out->model)
            goto fail;
        out->calls = models[i].calls;
        out->tokens = models[i].tokens;
        out->cost_usd = models[i].cost_usd;
        out->cost_share = share(models[i].cost_usd, total_cost);
    }
    f->model_count = model_count;
    if (f->model_count > 1)
        qsort(f->models, f->model_count, sizeof(*f->models), model_figures_cmp);
    f->projected_cost_day_usd = f->cost_usd.mean * f->runs_per_day;
    f->projected_cost_month_usd = f->projected_cost_day_usd * 30.0;

    for (int i = 0; i < STAT_COUNT; i++)
        sketch_free(stats[i]);
    for (size_t i = 0; i < node_count; i++) {
        sketch_free(nodes[i].exec_us);
        sketch_free(nodes[i].blocked_us);
    }
    free(nodes);
    free(models);
    strmap_free(&node_map);
    strmap_free(&model_map);
    return f;
fail:
    set_err(errstr, errstr_size, "out of memory computing baseline figures");
    for (int i = 0; i < STAT_COUNT; i++)
        sketch_free(stats[i]);
    for (size_t i = 0; i < node_count; i++) {
        sketch_free(nodes[i].exec_us);
        sketch_free(nodes[i].blocked_us);
    }
    free(nodes);
    free(models);
    if (maps >= 1)
        strmap_free(&node_map);
    if (maps >= 2)
        strmap_free(&model_map);
    if (block) {
        arena_free(block->arena);
        free(block);
    }
    return NULL;
}

void baseline_figures_free(baseline_figures_t *figures) {
    if (!figures)
        return;
    figures_block_t *block = (figures_block_t *)figures;
    arena_free(block->arena);
    free(block);
}

baseline_figures_t *baseline_figures_new(size_t node_count, size_t model_count) {
    figures_block_t *block = calloc(1, sizeof(*block));
    if (!block || !(block->arena = arena_new()))
        goto fail;
    baseline_figures_t *f = &block->figures;
    f->dag_id = "";
    f->version = "";
    if (node_count && (node_count > SIZE_MAX / sizeof(*f->nodes) ||
                       !(f->nodes = arena_alloc(block->arena, node_count * sizeof(*f->nodes)))))
        goto fail;
    if (model_count && (model_count > SIZE_MAX / sizeof(*f->models) ||
                        !(f->models = arena_alloc(block->arena, model_count * sizeof(*f->models)))))
        goto fail;
    f->node_count = node_count;
    f->model_count = model_count;
    return f;
fail:
    if (block)
        arena_free(block->arena);
    free(block);
    return NULL;
}

char *baseline_figures_strdup(baseline_figures_t *figures, const char *text, size_t len) {
    return arena_strcopy(((figures_block_t *)figures)->arena, text, len);
}

void *baseline_figures_alloc(baseline_figures_t *figures, size_t size) {
    return arena_alloc(((figures_block_t *)figures)->arena, size);
}

const baseline_node_figures_t *baseline_figures_node(const baseline_figures_t *figures,
                                                     const char *node_id) {
    for (size_t i = 0; i < figures->node_count; i++)
        if (strcmp(figures->nodes[i].node_id, node_id) == 0)
            return &figures->nodes[i];
    return NULL;
}

/* ---- Regression rule --------------------------------------------------- */

void baseline_rule_init(baseline_rule_t *rule) {
    rule->factor = 1.5;
    rule->min_runs = 30;
    rule->node_factor = 2.0;
}

static const char *const what_names[] = {"wall_us", "cost_usd", "node_exec_us"};

const char *baseline_regression_what_name(baseline_regression_what_t what) {
    return (unsigned)what <= BASELINE_REGRESSION_NODE_EXEC ? what_names[what] : "?";
}

int baseline_regression_what_parse(const char *name, baseline_regression_what_t *out) {
    for (int i = 0; i <= BASELINE_REGRESSION_NODE_EXEC; i++)
        if (name && strcmp(name, what_names[i]) == 0) {
            *out = (baseline_regression_what_t)i;
            return 0;
        }
    return -1;
}

/* "850 ms", "3.10 s": the look of the text report. */
static void format_duration(double us, char *out, size_t size) {
    if (fabs(us) < 1e6)
        snprintf(out, size, "%.0f ms", us / 1e3);
    else
        snprintf(out, size, "%.2f s", us / 1e6);
}

static int regression_push(baseline_regressions_t *out, size_t *cap, baseline_regression_what_t what,
                           const char *node_id, double value, double p95, int64_t runs,
                           baseline_window_t window) {
    if (out->count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 4;
        baseline_regression_t *grown = realloc(out->items, grown_cap * sizeof(*grown));
        if (!grown)
            return -1;
        out->items = grown;
        *cap = grown_cap;
    }
    baseline_regression_t *item = &out->items[out->count];
    memset(item, 0, sizeof(*item));
    item->what = what;
    item->value = value;
    item->baseline_p95 = p95;
    item->ratio = value / p95;
    char value_text[32], p95_text[32], details[512];
    if (what == BASELINE_REGRESSION_COST) {
        snprintf(value_text, sizeof(value_text), "$%.4f", value);
        snprintf(p95_text, sizeof(p95_text), "$%.4f", p95);
    } else {
        format_duration(value, value_text, sizeof(value_text));
        format_duration(p95, p95_text, sizeof(p95_text));
    }
    if (what == BASELINE_REGRESSION_NODE_EXEC)
        snprintf(details, sizeof(details), "node %s exec %s is %.1fx its p95 of %s over %lld runs (%s)",
                 node_id, value_text, item->ratio, p95_text, (long long)runs,
                 baseline_window_name(window));
    else
        snprintf(details, sizeof(details), "%s %s is %.1fx the p95 of %s over %lld runs (%s)",
                 what == BASELINE_REGRESSION_WALL ? "wall" : "cost", value_text, item->ratio,
                 p95_text, (long long)runs, baseline_window_name(window));
    item->details = dup_text(details);
    if (node_id)
        item->node_id = dup_text(node_id);
    if (!item->details || (node_id && !item->node_id)) {
        free((char *)item->details);
        free((char *)item->node_id);
        return -1;
    }
    out->count++;
    return 0;
}

static int regression_ratio_cmp(const void *a, const void *b) {
    const baseline_regression_t *x = a, *y = b;
    if (x->ratio != y->ratio)
        return x->ratio > y->ratio ? -1 : 1;
    return strcmp(x->node_id ? x->node_id : "", y->node_id ? y->node_id : "");
}

int baseline_check(const baseline_figures_t *figures, const baseline_run_t *run,
                   const baseline_rule_t *rule, baseline_regressions_t *out,
                   char *errstr, size_t errstr_size) {
    baseline_rule_t defaults;
    if (!rule) {
        baseline_rule_init(&defaults);
        rule = &defaults;
    }
    out->items = NULL;
    out->count = 0;
    size_t cap = 0;
    if (figures->runs >= rule->min_runs) {
        if (figures->wall_us.p95 > 0 && (double)run->wall_us > rule->factor * figures->wall_us.p95 &&
            regression_push(out, &cap, BASELINE_REGRESSION_WALL, NULL, (double)run->wall_us,
                            figures->wall_us.p95, figures->runs, figures->window) < 0)
            goto fail;
        if (figures->cost_usd.p95 > 0 && run->cost_usd > rule->factor * figures->cost_usd.p95 &&
            regression_push(out, &cap, BASELINE_REGRESSION_COST, NULL, run->cost_usd,
                            figures->cost_usd.p95, figures->runs, figures->window) < 0)
            goto fail;
    }
    size_t first_node = out->count;
    for (size_t i = 0; i < run->node_count; i++) {
        const baseline_node_run_t *node = &run->nodes[i];
        const baseline_node_figures_t *base = baseline_figures_node(figures, node->node_id);
        if (!base || base->runs < rule->min_runs || !(base->exec_us.p95 > 0))
            continue;
        if ((double)node->exec_us > rule->node_factor * base->exec_us.p95 &&
            regression_push(out, &cap, BASELINE_REGRESSION_NODE_EXEC, node->node_id,
                            (double)node->exec_us, base->exec_us.p95, base->runs,
                            figures->window) < 0)
            goto fail;
    }
    if (out->count - first_node > 1)
        qsort(out->items + first_node, out->count - first_node, sizeof(*out->items),
              regression_ratio_cmp);
    return 0;
fail:
    set_err(errstr, errstr_size, "out of memory checking a run against its baseline");
    baseline_regressions_free(out);
    return -1;
}

void baseline_regressions_free(baseline_regressions_t *regressions) {
    if (!regressions)
        return;
    for (size_t i = 0; i < regressions->count; i++) {
        free((char *)regressions->items[i].details);
        free((char *)regressions->items[i].node_id);
    }
    free(regressions->items);
    regressions->items = NULL;
    regressions->count = 0;
}

/* ---- Comparison -------------------------------------------------------- */

static int double_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's default (linear) quantile of sorted values. */
static double sorted_quantile(const double *values, size_t n, double q) {
    if (n == 0)
        return 0.0;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return values[lo] + (values[hi] - values[lo]) * frac;
}

static double rel_diff(double a, double b) {
    return a != 0 ? (b - a) / a : 0.0;
}

typedef struct ranked {
    double value;
    int side; /* 0: A, 1: B */
} ranked_t;

static int ranked_cmp(const void *a, const void *b) {
    return double_cmp(&((const ranked_t *)a)->value, &((const ranked_t *)b)->value);
}

/* Mann-Whitney U of B against A, as scipy.stats.mannwhitneyu(b, a,
 * method="asymptotic", use_continuity=True). -1 on OOM. */
static int rank_test(const double *a, size_t n_a, const double *b, size_t n_b,
                     baseline_rank_test_t *out) {
    out->u = 0;
    out->z = 0;
    out->p_value = 1.0;
    if (n_a == 0 || n_b == 0)
        return 0;
    size_t n = n_a + n_b;
    ranked_t *all = malloc(n * sizeof(*all));
    if (!all)
        return -1;
    for (size_t i = 0; i < n_a; i++)
        all[i] = (ranked_t){a[i], 0};
    for (size_t i = 0; i < n_b; i++)
        all[n_a + i] = (ranked_t){b[i], 1};
    qsort(all, n, sizeof(*all), ranked_cmp);
    double rank_sum_b = 0, tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j].value == all[i].value)
            j++;
        double t = (double)(j - i);
        double avg_rank = ((double)i + 1 + (double)j) / 2.0; /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (all[k].side == 1)
                rank_sum_b += avg_rank;
        tie_term += t * t * t - t;
        i = j;
    }
    free(all);
    double na = (double)n_a, nb = (double)n_b, nn = (double)n;
    double u_b = rank_sum_b - nb * (nb + 1) / 2.0;
    double mu = na * nb / 2.0;
    double var = na * nb / 12.0 * ((nn + 1) - tie_term / (nn * (nn - 1)));
    out->u = u_b;
    if (!(var > 0))
        return 0;
    double s = sqrt(var);
    out->z = (u_b - mu) / s;
    double u_max = u_b > na * nb - u_b ? u_b : na * nb - u_b;
    double z = (u_max - mu - 0.5) / s;
    double p = erfc(z / sqrt(2.0));
    out->p_value = p > 1.0 ? 1.0 : p;
    return 0;
}

void baseline_format_p(double p_value, char *out, size_t size) {
    if (p_value < 0.001)
        snprintf(out, size, "p < 0.001");
    else if (p_value < 0.01)
        snprintf(out, size, "p < 0.01");
    else if (p_value < 0.05)
        snprintf(out, size, "p < 0.05");
    else
        snprintf(out, size, "p = %.2f", p_value);
}

typedef struct node_side_values {
    const char *node_id;
    double *exec[2];
    size_t count[2];
    size_t cap[2];
} node_side_values_t;

static int node_values_cmp(const void *a, const void *b) {
    return strcmp(((const node_side_values_t *)a)->node_id, ((const node_side_values_t *)b)->node_id);
}

static void side_of(const double *wall, const double *cost, size_t n, baseline_side_t *out) {
    out->runs = (int64_t)n;
    out->wall_p50_us = sorted_quantile(wall, n, 0.50);
    out->wall_p95_us = sorted_quantile(wall, n, 0.95);
    out->cost_p50_usd = sorted_quantile(cost, n, 0.50);
    out->cost_p95_usd = sorted_quantile(cost, n, 0.95);
}

/* "18% faster", "as fast", "4% more expensive": the wording of one difference. */
static void word_diff(double rel, const char *less, const char *more, const char *same,
                      char *out, size_t size) {
    double pct = fabs(rel) * 100.0;
    if (pct < 0.5)
        snprintf(out, size, "%s", same);
    else
        snprintf(out, size, "%.0f%% %s", pct, rel < 0 ? less : more);
}

typedef struct comparison_block {
    baseline_comparison_t comparison; /* first, as figures_block_t */
    arena_t *arena;
} comparison_block_t;

baseline_comparison_t *baseline_compare(const baseline_run_t *const *runs_a, size_t n_a,
                                        const baseline_run_t *const *runs_b, size_t n_b,
                                        char *errstr, size_t errstr_size) {
    double *wall[2] = {NULL, NULL}, *cost[2] = {NULL, NULL};
    const baseline_run_t *const *runs[2] = {runs_a, runs_b};
    size_t counts[2] = {n_a, n_b};
    node_side_values_t *nodes = NULL;
    size_t node_count = 0, node_cap = 0;
    strmap_t node_map = {0};
    int map_ready = 0;
    comparison_block_t *block = NULL;

    for (int s = 0; s < 2; s++) {
        wall[s] = malloc((counts[s] ? counts[s] : 1) * sizeof(double));
        cost[s] = malloc((counts[s] ? counts[s] : 1) * sizeof(double));
        if (!wall[s] || !cost[s])
            goto fail;
    }
    if (strmap_init(&node_map, 64) < 0)
        goto fail;
    map_ready = 1;
    for (int s = 0; s < 2; s++) {
        for (size_t r = 0; r < counts[s]; r++) {
            const baseline_run_t *run = runs[s][r];
            wall[s][r] = (double)run->wall_us;
            cost[s][r] = run->cost_usd;
            for (size_t i = 0; i < run->node_count; i++) {
                const baseline_node_run_t *node = &run->nodes[i];
                size_t index;
                if (!strmap_get(&node_map, node->node_id, &index)) {
                    if (node_count == node_cap) {
                        size_t cap = node_cap ? node_cap * 2 : 16;
                        node_side_values_t *grown = realloc(nodes, cap * sizeof(*grown));
                        if (!grown)
                            goto fail;
                        nodes = grown;
                        node_cap = cap;
                    }
                    index = node_count++;
                    memset(&nodes[index], 0, sizeof(nodes[index]));
                    nodes[index].node_id = node->node_id;
                    if (strmap_put(&node_map, node->node_id, index, NULL) < 0)
                        goto fail;
                }
                node_side_values_t *values = &nodes[index];
                if (values->count[s] == values->cap[s]) {
                    size_t cap = values->cap[s] ? values->cap[s] * 2 : 16;
                    double *grown = realloc(values->exec[s], cap * sizeof(double));
                    if (!grown)
                        goto fail;
                    values->exec[s] = grown;
                    values->cap[s] = cap;
                }
                values->exec[s][values->count[s]++] = (double)node->exec_us;
            }
        }
    }

    block = calloc(1, sizeof(*block));
    if (!block || !(block->arena = arena_new()))
        goto fail;
    baseline_comparison_t *c = &block->comparison;
    /* The rank test does not need sorted input; the quantiles do, and sorting
     * first costs the test nothing. */
    for (int s = 0; s < 2; s++) {
        qsort(wall[s], counts[s], sizeof(double), double_cmp);
        qsort(cost[s], counts[s], sizeof(double), double_cmp);
    }
    side_of(wall[0], cost[0], n_a, &c->a);
    side_of(wall[1], cost[1], n_b, &c->b);
    c->wall_p50_rel = rel_diff(c->a.wall_p50_us, c->b.wall_p50_us);
    c->wall_p95_rel = rel_diff(c->a.wall_p95_us, c->b.wall_p95_us);
    c->cost_p50_rel = rel_diff(c->a.cost_p50_usd, c->b.cost_p50_usd);
    c->cost_p95_rel = rel_diff(c->a.cost_p95_usd, c->b.cost_p95_usd);
    if (rank_test(wall[0], n_a, wall[1], n_b, &c->wall_test) < 0 ||
        rank_test(cost[0], n_a, cost[1], n_b, &c->cost_test) < 0)
        goto fail;

    if (node_count > 1)
        qsort(nodes, node_count, sizeof(*nodes), node_values_cmp);
    if (node_count) {
        c->nodes = arena_alloc(block->arena, node_count * sizeof(*c->nodes));
        if (!c->nodes)
            goto fail;
    }
    for (size_t i = 0; i < node_count; i++) {
        baseline_node_diff_t *diff = &c->nodes[i];
        diff->node_id = arena_strdup(block->arena, nodes[i].node_id);
        if (!diff->node_id)
            goto fail;
        double p50[2];
        for (int s = 0; s < 2; s++) {
            if (nodes[i].count[s] > 1)
                qsort(nodes[i].exec[s], nodes[i].count[s], sizeof(double), double_cmp);
            p50[s] = sorted_quantile(nodes[i].exec[s], nodes[i].count[s], 0.50);
        }
        diff->runs_a = (int64_t)nodes[i].count[0];
        diff->runs_b = (int64_t)nodes[i].count[1];
        diff->exec_p50_a_us = p50[0];
        diff->exec_p50_b_us = p50[1];
        diff->rel_diff = rel_diff(p50[0], p50[1]);
    }
    c->node_count = node_count;

    char summary[256];
    if (n_a == 0 || n_b == 0) {
        snprintf(summary, sizeof(summary), "%s has no runs: nothing to compare",
                 n_a == 0 ? "A" : "B");
    } else {
        char wall_words[64], cost_words[64], wall_p[32], cost_p[32];
        word_diff(c->wall_p50_rel, "faster", "slower", "as fast as A", wall_words, sizeof(wall_words));
        word_diff(c->cost_p50_rel, "cheaper", "more expensive", "as expensive as A", cost_words,
                  sizeof(cost_words));
        baseline_format_p(c->wall_test.p_value, wall_p, sizeof(wall_p));
        baseline_format_p(c->cost_test.p_value, cost_p, sizeof(cost_p));
        snprintf(summary, sizeof(summary), "B is %s at p50 (%s), %s (%s)", wall_words, wall_p,
                 cost_words, cost_p);
    }
    c->summary = arena_strdup(block->arena, summary);
    if (!c->summary)
        goto fail;

    for (int s = 0; s < 2; s++) {
        free(wall[s]);
        free(cost[s]);
    }
    for (size_t i = 0; i < node_count; i++) {
        free(nodes[i].exec[0]);
        free(nodes[i].exec[1]);
    }
    free(nodes);
    strmap_free(&node_map);
    return c;
fail:
    set_err(errstr, errstr_size, "out of memory comparing runs");
    for (int s = 0; s < 2; s++) {
        free(wall[s]);
        free(cost[s]);
    }
    for (size_t i = 0; i < node_count; i++) {
        free(nodes[i].exec[0]);
        free(nodes[i].exec[1]);
    }
    free(nodes);
    if (map_ready)
        strmap_free(&node_map);
    if (block) {
        arena_free(block->arena);
        free(block);
    }
    return NULL;
}

void baseline_comparison_free(baseline_comparison_t *comparison) {
    if (!comparison)
        return;
    comparison_block_t *block = (comparison_block_t *)comparison;
    arena_free(block->arena);
    free(block);
}
