/* profile_json.c -- a profile as one JSON object, and back. See profile_json.h.
 *
 * The writer is hand-rolled rather than built on jansson so the field order,
 * the number formats and the escaping are exactly those of the contract, and so
 * a large profile is written in one pass without a tree of json_t. The reader
 * uses jansson. */
#include "profile_json.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---------------------------------------------------------------- writer */

/* Sticky error: after the first failed append every call is a no-op, so the
 * field-by-field code reads straight and the result is checked once. */
typedef struct json_writer {
    buf_t *out;
    int failed;
} json_writer_t;

static void put_raw(json_writer_t *w, const char *text, size_t len) {
    if (!w->failed && buf_append(w->out, text, len) != 0)
        w->failed = 1;
}

static void put(json_writer_t *w, const char *text) {
    put_raw(w, text, strlen(text));
}

static void put_string(json_writer_t *w, const char *text) {
    if (w->failed)
        return;
    if (!text) {
        put(w, "null");
        return;
    }
    if (utf8_json_string(w->out, text) != 0)
        w->failed = 1;
}

static void put_int(json_writer_t *w, int64_t value) {
    char text[32];
    snprintf(text, sizeof(text), "%" PRId64, value);
    put(w, text);
}

static void put_double(json_writer_t *w, double value) {
    char text[40];

    /* -0 too: a reader would take "-0" for the integer 0 anyway. */
    if (!isfinite(value) || value == 0) {
        put(w, "0");
        return;
    }
    /* Fewest digits that read back to the same double: 15 digits are exact for
     * most values, 17 always are. Formatting relies on the "C" locale, which
     * dagprof never changes. */
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, value);
        if (strtod(text, NULL) == value)
            break;
    }
    put(w, text);
}

int profile_json_double(buf_t *out, double value) {
    json_writer_t w = {out, 0};
    put_double(&w, value);
    return w.failed ? -1 : 0;
}

static void put_bool(json_writer_t *w, bool value) {
    put(w, value ? "true" : "false");
}

static void put_key(json_writer_t *w, const char *key) {
    put_string(w, key);
    put(w, ":");
}

static void put_string_array(json_writer_t *w, const char *const *items, size_t count) {
    put(w, "[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            put(w, ",");
        put_string(w, items[i]);
    }
    put(w, "]");
}

static void put_tokens(json_writer_t *w, const profile_tokens_t *tokens) {
    put(w, "{\"input\":");
    put_int(w, tokens->input);
    put(w, ",\"output\":");
    put_int(w, tokens->output);
    put(w, ",\"cache_read\":");
    put_int(w, tokens->cache_read);
    put(w, ",\"cache_write\":");
    put_int(w, tokens->cache_write);
    put(w, ",\"reasoning\":");
    put_int(w, tokens->reasoning);
    put(w, ",\"total\":");
    put_int(w, tokens->total);
    put(w, "}");
}

static void put_summary(json_writer_t *w, const profile_summary_t *summary) {
    put(w, "{\"run_start_us\":");
    put_int(w, summary->run_start_us);
    put(w, ",\"wall_us\":");
    put_int(w, summary->wall_us);
    put(w, ",\"work_us\":");
    put_int(w, summary->work_us);
    put(w, ",\"critical_path_us\":");
    put_int(w, summary->critical_path_us);
    put(w, ",\"ideal_wall_us\":");
    put_int(w, summary->ideal_wall_us);
    put(w, ",\"parallelism\":");
    put_double(w, summary->parallelism);
    put(w, ",\"schedule_efficiency\":");
    put_double(w, summary->schedule_efficiency);
    put(w, ",\"node_count\":");
    put_int(w, summary->node_count);
    put(w, ",\"span_count\":");
    put_int(w, summary->span_count);
    put(w, ",\"edges\":");
    put_string(w, profile_edges_name(summary->edges));
    put(w, ",\"tokens\":");
    put_tokens(w, &summary->tokens);
    put(w, ",\"cost_usd\":");
    put_double(w, summary->cost_usd);
    put(w, ",\"unpriced_models\":");
    put_string_array(w, summary->unpriced_models, summary->unpriced_model_count);
    /* the llm calls of no node: with the nodes they make the run's totals */
    put(w, ",\"outside_nodes\":{\"tokens\":");
    put_tokens(w, &summary->outside_tokens);
    put(w, ",\"cost_usd\":");
    put_double(w, summary->outside_cost_usd);
    put(w, ",\"calls\":");
    put_int(w, summary->outside_calls);
    put(w, "}}");
}

static void put_node(json_writer_t *w, const profile_node_t *node) {
    put(w, "{\"node_id\":");
    put_string(w, node->node_id);
    put(w, ",\"start_us\":");
    put_int(w, node->start_us);
    put(w, ",\"end_us\":");
    put_int(w, node->end_us);
    put(w, ",\"exec_us\":");
    put_int(w, node->exec_us);
    put(w, ",\"ready_us\":");
    put_int(w, node->ready_us);
    put(w, ",\"blocked_us\":");
    put_int(w, node->blocked_us);
    put(w, ",\"queued_us\":");
    put_int(w, node->queued_us);
    put(w, ",\"slack_us\":");
    put_int(w, node->slack_us);
    put(w, ",\"on_critical_path\":");
    put_bool(w, node->on_critical_path);
    put(w, ",\"status\":");
    put_string(w, span_status_name(node->status));
    put(w, ",\"retries\":");
    put_int(w, node->retries);
    put(w, ",\"depends_on\":");
    put_string_array(w, node->depends_on, node->depends_on_count);
    put(w, ",\"tokens\":");
    put_tokens(w, &node->tokens);
    put(w, ",\"cost_usd\":");
    put_double(w, node->cost_usd);
    put(w, ",\"models\":");
    put_string_array(w, node->models, node->model_count);
    put(w, ",\"tool_calls\":[");
    for (size_t i = 0; i < node->tool_call_count; i++) {
        const profile_tool_call_t *call = &node->tool_calls[i];
        put(w, i ? ",{\"tool\":" : "{\"tool\":");
        put_string(w, call->tool);
        put(w, ",\"duration_us\":");
        put_int(w, call->duration_us);
        put(w, ",\"ok\":");
        put_bool(w, call->ok);
        put(w, "}");
    }
    put(w, "]}");
}

/* The recommendation's own fields, without braces: shared by the profile's
 * list and the stand-alone Recommendation record. */
static void put_recommendation_fields(json_writer_t *w, const profile_recommendation_t *rec) {
    put(w, "\"type\":");
    put_string(w, profile_recommendation_type_name(rec->type));
    put(w, ",\"priority\":");
    put_string(w, profile_level_name(rec->priority));
    put(w, ",\"node_ids\":");
    put_string_array(w, rec->node_ids, rec->node_id_count);
    put(w, ",\"savings\":{\"time_us\":");
    put_int(w, rec->savings.time_us);
    put(w, ",\"tokens\":");
    put_int(w, rec->savings.tokens);
    put(w, ",\"cost_usd\":");
    put_double(w, rec->savings.cost_usd);
    put(w, "},\"description\":");
    put_string(w, rec->description);
    put(w, ",\"action\":");
    put_string(w, rec->action);
}

static void put_recommendation(json_writer_t *w, const profile_recommendation_t *rec) {
    put(w, "{");
    put_recommendation_fields(w, rec);
    put(w, "}");
}

int profile_json_write(const profile_t *profile, buf_t *out) {
    json_writer_t w = {out, 0};
    size_t start_len = out->len;

    put(&w, "{\"profile_id\":");
    put_string(&w, profile->profile_id);
    put(&w, ",\"trace_id\":");
    put_string(&w, profile->trace_id);
    put(&w, ",\"dag_id\":");
    put_string(&w, profile->dag_id);
    put(&w, ",\"revision\":");
    put_int(&w, profile->revision);
    put(&w, ",\"complete\":");
    put_bool(&w, profile->complete);
    put(&w, ",\"profiled_at_us\":");
    put_int(&w, profile->profiled_at_us);
    put(&w, ",\"summary\":");
    put_summary(&w, &profile->summary);

    put(&w, ",\"by_model\":{");
    for (size_t i = 0; i < profile->model_count; i++) {
        const profile_model_usage_t *usage = &profile->by_model[i];
        if (i)
            put(&w, ",");
        /* An object key cannot be null; the engine never leaves a model unnamed. */
        put_key(&w, usage->model ? usage->model : "");
        put(&w, "{\"tokens\":");
        put_tokens(&w, &usage->tokens);
        put(&w, ",\"cost_usd\":");
        put_double(&w, usage->cost_usd);
        put(&w, ",\"calls\":");
        put_int(&w, usage->calls);
        put(&w, "}");
    }
    put(&w, "}");

    put(&w, ",\"nodes\":[");
    for (size_t i = 0; i < profile->node_count; i++) {
        if (i)
            put(&w, ",");
        put_node(&w, &profile->nodes[i]);
    }
    put(&w, "]");

    put(&w, ",\"critical_path\":");
    put_string_array(&w, profile->critical_path, profile->critical_path_count);

    put(&w, ",\"bottlenecks\":[");
    for (size_t i = 0; i < profile->bottleneck_count; i++) {
        const profile_bottleneck_t *bottleneck = &profile->bottlenecks[i];
        put(&w, i ? ",{\"type\":" : "{\"type\":");
        put_string(&w, profile_bottleneck_type_name(bottleneck->type));
        put(&w, ",\"node_id\":");
        put_string(&w, bottleneck->node_id);
        put(&w, ",\"severity\":");
        put_string(&w, profile_level_name(bottleneck->severity));
        put(&w, ",\"impact_pct\":");
        put_double(&w, bottleneck->impact_pct);
        put(&w, ",\"details\":");
        put_string(&w, bottleneck->details);
        put(&w, "}");
    }
    put(&w, "]");

    put(&w, ",\"recommendations\":[");
    for (size_t i = 0; i < profile->recommendation_count; i++) {
        if (i)
            put(&w, ",");
        put_recommendation(&w, &profile->recommendations[i]);
    }
    put(&w, "]");

    put(&w, ",\"warnings\":");
    put_string_array(&w, profile->warnings, profile->warning_count);
    put(&w, "}");

    if (w.failed) {
        buf_truncate(out, start_len);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- reader */

typedef struct json_reader {
    profile_t *profile;
    char *errstr;
    size_t errstr_size;
} json_reader_t;

static int read_fail(json_reader_t *r, const char *where, const char *key, const char *problem) {
    snprintf(r->errstr, r->errstr_size, "profile JSON: %s%s%s %s", where,
             *where ? "." : "", key, problem);
    return -1;
}

static int read_oom(json_reader_t *r) {
    snprintf(r->errstr, r->errstr_size, "profile JSON: out of memory");
    return -1;
}

/* The member `key` of `object`, which must exist; NULL with errstr set. */
static json_t *member(json_reader_t *r, json_t *object, const char *where, const char *key) {
    json_t *value = json_object_get(object, key);
    if (!value)
        read_fail(r, where, key, "is missing");
    return value;
}

static int read_int(json_reader_t *r, json_t *object, const char *where, const char *key,
                    int64_t *out) {
    json_t *value = member(r, object, where, key);
    if (!value)
        return -1;
    if (!json_is_integer(value))
        return read_fail(r, where, key, "is not an integer");
    *out = (int64_t)json_integer_value(value);
    return 0;
}

static int read_int32(json_reader_t *r, json_t *object, const char *where, const char *key,
                      int32_t *out) {
    int64_t value;
    if (read_int(r, object, where, key, &value) != 0)
        return -1;
    if (value < INT32_MIN || value > INT32_MAX)
        return read_fail(r, where, key, "is out of range");
    *out = (int32_t)value;
    return 0;
}

static int read_double(json_reader_t *r, json_t *object, const char *where, const char *key,
                       double *out) {
    json_t *value = member(r, object, where, key);
    if (!value)
        return -1;
    if (!json_is_number(value))
        return read_fail(r, where, key, "is not a number");
    *out = json_number_value(value);
    return 0;
}

static int read_bool(json_reader_t *r, json_t *object, const char *where, const char *key,
                     bool *out) {
    json_t *value = member(r, object, where, key);
    if (!value)
        return -1;
    if (!json_is_boolean(value))
        return read_fail(r, where, key, "is not a boolean");
    *out = json_is_true(value);
    return 0;
}

static int copy_string(json_reader_t *r, json_t *value, const char **out) {
    if (json_is_null(value)) {
        *out = NULL;
        return 0;
    }
    *out = profile_strdup(r->profile, json_string_value(value));
    return *out ? 0 : read_oom(r);
}

/* A string or null, copied into the profile. */
static int read_string(json_reader_t *r, json_t *object, const char *where, const char *key,
                       const char **out) {
    json_t *value = member(r, object, where, key);
    if (!value)
        return -1;
    if (!json_is_string(value) && !json_is_null(value))
        return read_fail(r, where, key, "is not a string");
    return copy_string(r, value, out);
}

/* The name of an enum member; the caller parses it with the matching *_parse. */
static int read_name(json_reader_t *r, json_t *object, const char *where, const char *key,
                     const char **name) {
    json_t *value = member(r, object, where, key);
    if (!value)
        return -1;
    if (!json_is_string(value))
        return read_fail(r, where, key, "is not a string");
    *name = json_string_value(value);
    return 0;
}

/* Space for `count` items in the profile; a zero count leaves NULL. */
static int alloc_items(json_reader_t *r, size_t count, size_t item_size, void **out) {
    *out = NULL;
    if (count == 0)
        return 0;
    if (count > SIZE_MAX / item_size)
        return read_oom(r);
    *out = profile_alloc(r->profile, count * item_size);
    return *out ? 0 : read_oom(r);
}

static int read_array(json_reader_t *r, json_t *object, const char *where, const char *key,
                      json_t **out) {
    *out = member(r, object, where, key);
    if (!*out)
        return -1;
    if (!json_is_array(*out))
        return read_fail(r, where, key, "is not an array");
    return 0;
}

static int read_object(json_reader_t *r, json_t *object, const char *where, const char *key,
                       json_t **out) {
    *out = member(r, object, where, key);
    if (!*out)
        return -1;
    if (!json_is_object(*out))
        return read_fail(r, where, key, "is not an object");
    return 0;
}

static int read_string_array(json_reader_t *r, json_t *object, const char *where,
                             const char *key, const char ***items, size_t *count) {
    json_t *array;
    void *memory;

    if (read_array(r, object, where, key, &array) != 0)
        return -1;
    *count = json_array_size(array);
    if (alloc_items(r, *count, sizeof(char *), &memory) != 0)
        return -1;
    *items = memory;
    for (size_t i = 0; i < *count; i++) {
        json_t *item = json_array_get(array, i);
        if (!json_is_string(item) && !json_is_null(item))
            return read_fail(r, where, key, "has an item that is not a string");
        if (copy_string(r, item, &(*items)[i]) != 0)
            return -1;
    }
    return 0;
}

static int read_tokens(json_reader_t *r, json_t *object, const char *where,
                       profile_tokens_t *tokens) {
    json_t *t;
    if (read_object(r, object, where, "tokens", &t) != 0)
        return -1;
    if (read_int(r, t, "tokens", "input", &tokens->input) != 0 ||
        read_int(r, t, "tokens", "output", &tokens->output) != 0 ||
        read_int(r, t, "tokens", "cache_read", &tokens->cache_read) != 0 ||
        read_int(r, t, "tokens", "cache_write", &tokens->cache_write) != 0 ||
        read_int(r, t, "tokens", "reasoning", &tokens->reasoning) != 0 ||
        read_int(r, t, "tokens", "total", &tokens->total) != 0)
        return -1;
    return 0;
}

static int read_summary(json_reader_t *r, json_t *root) {
    profile_summary_t *s = &r->profile->summary;
    const char *name;
    json_t *o;

    if (read_object(r, root, "", "summary", &o) != 0)
        return -1;
    if (read_int(r, o, "summary", "run_start_us", &s->run_start_us) != 0 ||
        read_int(r, o, "summary", "wall_us", &s->wall_us) != 0 ||
        read_int(r, o, "summary", "work_us", &s->work_us) != 0 ||
        read_int(r, o, "summary", "critical_path_us", &s->critical_path_us) != 0 ||
        read_int(r, o, "summary", "ideal_wall_us", &s->ideal_wall_us) != 0 ||
        read_double(r, o, "summary", "parallelism", &s->parallelism) != 0 ||
        read_double(r, o, "summary", "schedule_efficiency", &s->schedule_efficiency) != 0 ||
        read_int(r, o, "summary", "node_count", &s->node_count) != 0 ||
        read_int(r, o, "summary", "span_count", &s->span_count) != 0)
        return -1;
    if (read_name(r, o, "summary", "edges", &name) != 0)
        return -1;
    if (profile_edges_parse(name, &s->edges) != 0)
        return read_fail(r, "summary", "edges", "is not a known name");
    if (read_tokens(r, o, "summary", &s->tokens) != 0 ||
        read_double(r, o, "summary", "cost_usd", &s->cost_usd) != 0 ||
        read_string_array(r, o, "summary", "unpriced_models", &s->unpriced_models,
                          &s->unpriced_model_count) != 0)
        return -1;
    /* added later: a profile written before has none, and nothing outside */
    if (json_object_get(o, "outside_nodes")) {
        json_t *outside;
        if (read_object(r, o, "summary", "outside_nodes", &outside) != 0 ||
            read_tokens(r, outside, "outside_nodes", &s->outside_tokens) != 0 ||
            read_double(r, outside, "outside_nodes", "cost_usd", &s->outside_cost_usd) != 0 ||
            read_int(r, outside, "outside_nodes", "calls", &s->outside_calls) != 0)
            return -1;
    }
    return 0;
}

static int read_by_model(json_reader_t *r, json_t *root) {
    profile_t *p = r->profile;
    json_t *o, *usage_json;
    const char *model;
    void *memory;
    size_t i = 0;

    if (read_object(r, root, "", "by_model", &o) != 0)
        return -1;
    p->model_count = json_object_size(o);
    if (alloc_items(r, p->model_count, sizeof(profile_model_usage_t), &memory) != 0)
        return -1;
    p->by_model = memory;
    /* jansson keeps members in document order, so the order of by_model (and
     * with it the bytes of a rewrite) survives the round trip. */
    json_object_foreach(o, model, usage_json) {
        profile_model_usage_t *usage = &p->by_model[i++];
        if (!json_is_object(usage_json))
            return read_fail(r, "by_model", model, "is not an object");
        usage->model = profile_strdup(p, model);
        if (!usage->model)
            return read_oom(r);
        if (read_tokens(r, usage_json, "by_model", &usage->tokens) != 0 ||
            read_double(r, usage_json, "by_model", "cost_usd", &usage->cost_usd) != 0 ||
            read_int(r, usage_json, "by_model", "calls", &usage->calls) != 0)
            return -1;
    }
    return 0;
}

static int read_tool_calls(json_reader_t *r, json_t *node_json, profile_node_t *node) {
    json_t *array;
    void *memory;

    if (read_array(r, node_json, "nodes[]", "tool_calls", &array) != 0)
        return -1;
    node->tool_call_count = json_array_size(array);
    if (alloc_items(r, node->tool_call_count, sizeof(profile_tool_call_t), &memory) != 0)
        return -1;
    node->tool_calls = memory;
    for (size_t i = 0; i < node->tool_call_count; i++) {
        json_t *call_json = json_array_get(array, i);
        profile_tool_call_t *call = &node->tool_calls[i];
        if (!json_is_object(call_json))
            return read_fail(r, "nodes[]", "tool_calls", "has an item that is not an object");
        if (read_string(r, call_json, "tool_calls[]", "tool", &call->tool) != 0 ||
            read_int(r, call_json, "tool_calls[]", "duration_us", &call->duration_us) != 0 ||
            read_bool(r, call_json, "tool_calls[]", "ok", &call->ok) != 0)
            return -1;
    }
    return 0;
}

static int read_node(json_reader_t *r, json_t *o, profile_node_t *node) {
    static const char where[] = "nodes[]";
    const char *name;

    if (!json_is_object(o))
        return read_fail(r, "", "nodes", "has an item that is not an object");
    if (read_string(r, o, where, "node_id", &node->node_id) != 0 ||
        read_int(r, o, where, "start_us", &node->start_us) != 0 ||
        read_int(r, o, where, "end_us", &node->end_us) != 0 ||
        read_int(r, o, where, "exec_us", &node->exec_us) != 0 ||
        read_int(r, o, where, "ready_us", &node->ready_us) != 0 ||
        read_int(r, o, where, "blocked_us", &node->blocked_us) != 0 ||
        read_int(r, o, where, "queued_us", &node->queued_us) != 0 ||
        read_int(r, o, where, "slack_us", &node->slack_us) != 0 ||
        read_bool(r, o, where, "on_critical_path", &node->on_critical_path) != 0)
        return -1;
    if (read_name(r, o, where, "status", &name) != 0)
        return -1;
    if (span_status_parse(name, &node->status) != 0)
        return read_fail(r, where, "status", "is not a known name");
    if (read_int32(r, o, where, "retries", &node->retries) != 0 ||
        read_string_array(r, o, where, "depends_on", &node->depends_on,
                          &node->depends_on_count) != 0 ||
        read_tokens(r, o, where, &node->tokens) != 0 ||
        read_double(r, o, where, "cost_usd", &node->cost_usd) != 0 ||
        read_string_array(r, o, where, "models", &node->models, &node->model_count) != 0 ||
        read_tool_calls(r, o, node) != 0)
        return -1;
    return 0;
}

static int read_nodes(json_reader_t *r, json_t *root) {
    profile_t *p = r->profile;
    json_t *array;
    void *memory;

    if (read_array(r, root, "", "nodes", &array) != 0)
        return -1;
    p->node_count = json_array_size(array);
    if (alloc_items(r, p->node_count, sizeof(profile_node_t), &memory) != 0)
        return -1;
    p->nodes = memory;
    for (size_t i = 0; i < p->node_count; i++)
        if (read_node(r, json_array_get(array, i), &p->nodes[i]) != 0)
            return -1;
    return 0;
}

static int read_bottleneck(json_reader_t *r, json_t *o, profile_bottleneck_t *bottleneck) {
    static const char where[] = "bottlenecks[]";
    const char *name;

    if (!json_is_object(o))
        return read_fail(r, "", "bottlenecks", "has an item that is not an object");
    if (read_name(r, o, where, "type", &name) != 0)
        return -1;
    if (profile_bottleneck_type_parse(name, &bottleneck->type) != 0)
        return read_fail(r, where, "type", "is not a known name");
    if (read_string(r, o, where, "node_id", &bottleneck->node_id) != 0)
        return -1;
    if (read_name(r, o, where, "severity", &name) != 0)
        return -1;
    if (profile_level_parse(name, &bottleneck->severity) != 0)
        return read_fail(r, where, "severity", "is not a known name");
    if (read_double(r, o, where, "impact_pct", &bottleneck->impact_pct) != 0 ||
        read_string(r, o, where, "details", &bottleneck->details) != 0)
        return -1;
    return 0;
}

static int read_bottlenecks(json_reader_t *r, json_t *root) {
    profile_t *p = r->profile;
    json_t *array;
    void *memory;

    if (read_array(r, root, "", "bottlenecks", &array) != 0)
        return -1;
    p->bottleneck_count = json_array_size(array);
    if (alloc_items(r, p->bottleneck_count, sizeof(profile_bottleneck_t), &memory) != 0)
        return -1;
    p->bottlenecks = memory;
    for (size_t i = 0; i < p->bottleneck_count; i++)
        if (read_bottleneck(r, json_array_get(array, i), &p->bottlenecks[i]) != 0)
            return -1;
    return 0;
}

static int read_recommendation(json_reader_t *r, json_t *o, profile_recommendation_t *rec) {
    static const char where[] = "recommendations[]";
    const char *name;
    json_t *savings;

    if (!json_is_object(o))
        return read_fail(r, "", "recommendations", "has an item that is not an object");
    if (read_name(r, o, where, "type", &name) != 0)
        return -1;
    if (profile_recommendation_type_parse(name, &rec->type) != 0)
        return read_fail(r, where, "type", "is not a known name");
    if (read_name(r, o, where, "priority", &name) != 0)
        return -1;
    if (profile_level_parse(name, &rec->priority) != 0)
        return read_fail(r, where, "priority", "is not a known name");
    if (read_string_array(r, o, where, "node_ids", &rec->node_ids, &rec->node_id_count) != 0 ||
        read_object(r, o, where, "savings", &savings) != 0 ||
        read_int(r, savings, "savings", "time_us", &rec->savings.time_us) != 0 ||
        read_int(r, savings, "savings", "tokens", &rec->savings.tokens) != 0 ||
        read_double(r, savings, "savings", "cost_usd", &rec->savings.cost_usd) != 0 ||
        read_string(r, o, where, "description", &rec->description) != 0 ||
        read_string(r, o, where, "action", &rec->action) != 0)
        return -1;
    return 0;
}

static int read_recommendations(json_reader_t *r, json_t *root) {
    profile_t *p = r->profile;
    json_t *array;
    void *memory;

    if (read_array(r, root, "", "recommendations", &array) != 0)
        return -1;
    p->recommendation_count = json_array_size(array);
    if (alloc_items(r, p->recommendation_count, sizeof(profile_recommendation_t), &memory) != 0)
        return -1;
    p->recommendations = memory;
    for (size_t i = 0; i < p->recommendation_count; i++)
        if (read_recommendation(r, json_array_get(array, i), &p->recommendations[i]) != 0)
            return -1;
    return 0;
}

static int read_profile(json_reader_t *r, json_t *root) {
    profile_t *p = r->profile;

    if (read_string(r, root, "", "profile_id", &p->profile_id) != 0 ||
        read_string(r, root, "", "trace_id", &p->trace_id) != 0 ||
        read_string(r, root, "", "dag_id", &p->dag_id) != 0 ||
        read_int(r, root, "", "revision", &p->revision) != 0 ||
        read_bool(r, root, "", "complete", &p->complete) != 0 ||
        read_int(r, root, "", "profiled_at_us", &p->profiled_at_us) != 0 ||
        read_summary(r, root) != 0 || read_by_model(r, root) != 0 ||
        read_nodes(r, root) != 0 ||
        read_string_array(r, root, "", "critical_path", &p->critical_path,
                          &p->critical_path_count) != 0 ||
        read_bottlenecks(r, root) != 0 || read_recommendations(r, root) != 0 ||
        read_string_array(r, root, "", "warnings", &p->warnings, &p->warning_count) != 0)
        return -1;
    return 0;
}

int profile_json_read(const char *text, size_t len, profile_t **out,
                      char *errstr, size_t errstr_size) {
    json_reader_t r = {NULL, errstr, errstr_size};
    json_error_t error;
    json_t *root = NULL;

    *out = NULL;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf(errstr, errstr_size, "profile JSON: %s at line %d column %d", error.text,
                 error.line, error.column);
        goto fail;
    }
    if (!json_is_object(root)) {
        snprintf(errstr, errstr_size, "profile JSON: not an object");
        goto fail;
    }
    r.profile = profile_new_empty();
    if (!r.profile) {
        read_oom(&r);
        goto fail;
    }
    if (read_profile(&r, root) != 0)
        goto fail;
    json_decref(root);
    *out = r.profile;
    return 0;

fail:
    if (r.profile)
        profile_free(r.profile);
    json_decref(root);
    return -1;
}

/* ------------------------------------------------- recommendation record */

int profile_json_write_recommendation(const profile_t *profile, size_t index, buf_t *out) {
    json_writer_t w = {out, 0};
    size_t start_len = out->len;

    if (index >= profile->recommendation_count)
        return -1;
    put(&w, "{\"profile_id\":");
    put_string(&w, profile->profile_id);
    put(&w, ",\"trace_id\":");
    put_string(&w, profile->trace_id);
    put(&w, ",\"dag_id\":");
    put_string(&w, profile->dag_id);
    put(&w, ",\"revision\":");
    put_int(&w, profile->revision);
    put(&w, ",\"profiled_at_us\":");
    put_int(&w, profile->profiled_at_us);
    put(&w, ",");
    put_recommendation_fields(&w, &profile->recommendations[index]);
    put(&w, "}");
    if (w.failed) {
        buf_truncate(out, start_len);
        return -1;
    }
    return 0;
}
