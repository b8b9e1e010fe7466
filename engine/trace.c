/* trace.c -- collecting and checking the spans of one run. See trace.h. */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "strmap.h"

/* Warnings are kept to a readable number; the rest are only counted. */
#define TRACE_MAX_WARNINGS 100

#define RECENT_COPIES 4

typedef struct recent_copies {
    const char *copy[RECENT_COPIES];
    size_t len[RECENT_COPIES];
    unsigned next; /* the slot the next new copy takes */
} recent_copies_t;

struct trace {
    arena_t *arena;
    span_t *spans;
    size_t span_count;
    size_t span_cap;
    strmap_t by_span_id;
    trace_summary_t summary;
    const char *trace_id; /* of the first span; later spans must match */
    /* recent copies of fields that repeat from span to span, shared by the
     * spans that repeat them: fewer copies, a trace that fits the cache, and
     * equal names the engine can compare by pointer */
    recent_copies_t dag_ids, models, providers, tool_names;
    const char **warnings;
    size_t warning_count;
    size_t warning_cap;
    size_t warnings_dropped;
    int cut_strings_reported;
    size_t max_string;
};

trace_t *trace_new(void) {
    trace_t *trace = calloc(1, sizeof(*trace));
    if (!trace)
        return NULL;
    trace->max_string = TRACE_MAX_STRING_BYTES;
    trace->summary.run = SIZE_MAX;
    trace->summary.dag_source = SIZE_MAX;
    trace->summary.min_start_us = INT64_MAX;
    trace->summary.max_end_us = INT64_MIN;
    trace->arena = arena_new();
    if (!trace->arena || strmap_init(&trace->by_span_id, 64) != 0)
        goto fail;
    return trace;
fail:
    trace_free(trace);
    return NULL;
}

void trace_free(trace_t *trace) {
    if (!trace)
        return;
    strmap_free(&trace->by_span_id);
    arena_free(trace->arena);
    free(trace->spans);
    free(trace->warnings);
    free(trace);
}

void trace_add_warning(trace_t *trace, const char *warning) {
    if (trace->warning_count >= TRACE_MAX_WARNINGS) {
        trace->warnings_dropped++;
        return;
    }
    if (trace->warning_count == trace->warning_cap) {
        size_t cap = trace->warning_cap ? trace->warning_cap * 2 : 8;
        const char **grown = realloc(trace->warnings, cap * sizeof(*grown));
        if (!grown)
            return;
        trace->warnings = grown;
        trace->warning_cap = cap;
    }
    size_t len = strlen(warning);
    const char *copy = arena_strcopy(trace->arena, warning,
                                     len < TRACE_MAX_STRING_BYTES ? len : TRACE_MAX_STRING_BYTES);
    if (copy)
        trace->warnings[trace->warning_count++] = copy;
}

/* Copy a string field, cutting it at the trace's limit. */
static const char *trace_copy_string(trace_t *trace, const char *text, int *failed) {
    if (!text)
        return NULL;
    size_t len = strnlen(text, trace->max_string + 1);
    if (len > trace->max_string) {
        len = trace->max_string;
        if (!trace->cut_strings_reported) {
            trace->cut_strings_reported = 1;
            char warning[128];
            snprintf(warning, sizeof(warning), "strings longer than %zu bytes were cut",
                     trace->max_string);
            trace_add_warning(trace, warning);
        }
    }
    const char *copy = arena_strcopy(trace->arena, text, len);
    if (!copy)
        *failed = 1;
    return copy;
}

/* A copy of text, or a recent copy of the same text for this field: a run
 * calls a few models and tools, over and over. */
static const char *trace_copy_repeated(trace_t *trace, const char *text, recent_copies_t *recent,
                                       int *failed) {
    if (!text)
        return NULL;
    size_t len = strnlen(text, trace->max_string + 1);
    if (len <= trace->max_string)
        for (unsigned i = 0; i < RECENT_COPIES; i++)
            if (recent->copy[i] && recent->len[i] == len && memcmp(recent->copy[i], text, len) == 0)
                return recent->copy[i];
    const char *copy = trace_copy_string(trace, text, failed);
    if (copy) {
        recent->copy[recent->next] = copy;
        recent->len[recent->next] = strlen(copy);
        recent->next = (recent->next + 1) % RECENT_COPIES;
    }
    return copy;
}

/* s comes before the span at index `than` (SIZE_MAX: none): earlier start,
 * then smaller span_id, so the choice does not depend on arrival order. */
static int earlier_span(const trace_t *trace, const span_t *s, size_t than) {
    if (than == SIZE_MAX)
        return 1;
    const span_t *t = &trace->spans[than];
    return s->start_us < t->start_us ||
           (s->start_us == t->start_us && strcmp(s->span_id, t->span_id) < 0);
}

static void trace_summarize(trace_t *trace, const span_t *s, size_t index) {
    trace_summary_t *sum = &trace->summary;
    if ((unsigned)s->kind <= SPAN_KIND_OTHER)
        sum->spans_of_kind[s->kind]++;
    sum->named_spans += s->node_id != NULL;
    if (s->kind == SPAN_KIND_NODE)
        sum->declared_edges += s->depends_on_count;
    if (s->kind == SPAN_KIND_RUN && earlier_span(trace, s, sum->run))
        sum->run = index;
    if (s->dag_id && s->dag_id[0] && earlier_span(trace, s, sum->dag_source))
        sum->dag_source = index;
    if (s->start_us < sum->min_start_us)
        sum->min_start_us = s->start_us;
    if (s->end_us > sum->max_end_us)
        sum->max_end_us = s->end_us;
}

static trace_add_result_t trace_reject(trace_t *trace, char *errstr, size_t errstr_size,
                                       const char *fmt, const char *a, const char *b) {
    char reason[512];
    snprintf(reason, sizeof(reason), fmt, a ? a : "", b ? b : "");
    if (errstr_size)
        snprintf(errstr, errstr_size, "%s", reason);
    trace_add_warning(trace, reason);
    return TRACE_ADD_INVALID;
}

trace_add_result_t trace_add_span(trace_t *trace, const span_t *in, char *errstr,
                                  size_t errstr_size) {
    if (!in->trace_id || !in->trace_id[0])
        return trace_reject(trace, errstr, errstr_size, "span %s%s: no trace_id, ignored",
                            in->span_id ? in->span_id : "?", NULL);
    if (!in->span_id || !in->span_id[0])
        return trace_reject(trace, errstr, errstr_size, "span without span_id in trace %s%s, ignored",
                            in->trace_id, NULL);
    if (trace->trace_id && strncmp(trace->trace_id, in->trace_id, trace->max_string) != 0)
        return trace_reject(trace, errstr, errstr_size, "span %s belongs to trace %s, ignored",
                            in->span_id, in->trace_id);
    if (in->end_us < in->start_us)
        return trace_reject(trace, errstr, errstr_size, "span %s: end_us < start_us, ignored",
                            in->span_id, NULL);
    /* Within +-2^62 us (146,000 years) every difference of two times fits in
     * an int64; beyond, nothing real is being described. */
    if (in->start_us < -TRACE_MAX_ABS_TIME_US || in->end_us > TRACE_MAX_ABS_TIME_US)
        return trace_reject(trace, errstr, errstr_size,
                            "span %s: timestamp out of range, ignored", in->span_id, NULL);
    /* hashed once for the duplicate check and the insert */
    size_t existing;
    uint32_t id_hash;
    int duplicate;
    if (strnlen(in->span_id, trace->max_string + 1) > trace->max_string) {
        /* the id is stored cut: look it up cut */
        char *probe = strndup(in->span_id, trace->max_string);
        if (!probe)
            goto oom;
        id_hash = strmap_key_hash(probe);
        duplicate = strmap_get_hashed(&trace->by_span_id, probe, id_hash, &existing);
        free(probe);
    } else {
        id_hash = strmap_key_hash(in->span_id);
        duplicate = strmap_get_hashed(&trace->by_span_id, in->span_id, id_hash, &existing);
    }
    if (duplicate) {
        if (errstr_size)
            snprintf(errstr, errstr_size, "span %.200s: duplicate, first copy kept", in->span_id);
        return TRACE_ADD_DUPLICATE;
    }

    if (trace->span_count == trace->span_cap) {
        size_t cap = trace->span_cap ? trace->span_cap * 2 : 16;
        span_t *grown = realloc(trace->spans, cap * sizeof(*grown));
        if (!grown)
            goto oom;
        trace->spans = grown;
        trace->span_cap = cap;
    }

    int failed = 0;
    span_t copy = *in;
    /* every span has the trace's id: checked equal above */
    copy.trace_id = trace->trace_id ? trace->trace_id : trace_copy_string(trace, in->trace_id, &failed);
    copy.span_id = trace_copy_string(trace, in->span_id, &failed);
    copy.parent_span_id = trace_copy_string(trace, in->parent_span_id, &failed);
    copy.dag_id = trace_copy_repeated(trace, in->dag_id, &trace->dag_ids, &failed);
    copy.node_id = trace_copy_string(trace, in->node_id, &failed);
    copy.name = trace_copy_string(trace, in->name, &failed);
    copy.model = trace_copy_repeated(trace, in->model, &trace->models, &failed);
    copy.provider = trace_copy_repeated(trace, in->provider, &trace->providers, &failed);
    copy.tool_name = trace_copy_repeated(trace, in->tool_name, &trace->tool_names, &failed);
    copy.depends_on = NULL;
    copy.attributes = NULL;
    if (in->depends_on_count) {
        const char **deps = arena_alloc(trace->arena, in->depends_on_count * sizeof(*deps));
        if (!deps)
            goto oom;
        for (size_t i = 0; i < in->depends_on_count; i++)
            deps[i] = trace_copy_string(trace, in->depends_on[i] ? in->depends_on[i] : "", &failed);
        copy.depends_on = deps;
    }
    if (in->attribute_count) {
        span_attr_t *attrs = arena_alloc(trace->arena, in->attribute_count * sizeof(*attrs));
        if (!attrs)
            goto oom;
        for (size_t i = 0; i < in->attribute_count; i++) {
            attrs[i].key = trace_copy_string(trace, in->attributes[i].key ? in->attributes[i].key : "", &failed);
            attrs[i].value = trace_copy_string(trace, in->attributes[i].value ? in->attributes[i].value : "", &failed);
        }
        copy.attributes = attrs;
    }
    if (failed)
        goto oom;
    if (strmap_put_hashed(&trace->by_span_id, copy.span_id, id_hash, trace->span_count, NULL) < 0)
        goto oom;
    if (!trace->trace_id)
        trace->trace_id = copy.trace_id;
    trace_summarize(trace, &copy, trace->span_count);
    trace->spans[trace->span_count++] = copy;
    return TRACE_ADD_OK;
oom:
    if (errstr_size)
        snprintf(errstr, errstr_size, "out of memory adding span %s", in->span_id);
    return TRACE_ADD_INVALID;
}

void trace_set_max_string_bytes(trace_t *trace, size_t bytes) {
    trace->max_string = bytes < 16 ? 16 : bytes;
}

size_t trace_span_count(const trace_t *trace) {
    return trace->span_count;
}

const span_t *trace_span(const trace_t *trace, size_t index) {
    return index < trace->span_count ? &trace->spans[index] : NULL;
}

int trace_find_span(const trace_t *trace, const char *span_id, size_t *index) {
    return strmap_get(&trace->by_span_id, span_id, index);
}

int trace_find_own_span(const trace_t *trace, const char *span_id, size_t *index) {
    return strmap_get_padded(&trace->by_span_id, span_id, strmap_padded_key_hash(span_id), index);
}

const trace_summary_t *trace_summary(const trace_t *trace) {
    return &trace->summary;
}

size_t trace_warning_count(const trace_t *trace) {
    return trace->warning_count;
}

const char *trace_warning(const trace_t *trace, size_t index) {
    return index < trace->warning_count ? trace->warnings[index] : NULL;
}

size_t trace_warnings_dropped(const trace_t *trace) {
    return trace->warnings_dropped;
}

/* ---- dependencies named by span id (OpenTelemetry span links) ---- */

static int depends_on_has(const span_t *s, const char *node_id) {
    for (size_t i = 0; i < s->depends_on_count; i++)
        if (strcmp(s->depends_on[i], node_id) == 0)
            return 1;
    return 0;
}

size_t trace_resolve_span_dependencies(trace_t *trace, const char *attribute) {
    size_t added_total = 0;
    for (size_t i = 0; i < trace->span_count; i++) {
        span_t *s = &trace->spans[i];
        const char *list = NULL;
        if (s->kind != SPAN_KIND_NODE || !s->node_id)
            continue;
        for (size_t a = 0; a < s->attribute_count && !list; a++)
            if (strcmp(s->attributes[a].key, attribute) == 0)
                list = s->attributes[a].value;
        if (!list || !*list)
            continue;
        /* At most one new edge per listed id: count the commas for room. */
        size_t room = s->depends_on_count + 1;
        for (const char *p = list; *p; p++)
            room += *p == ',';
        const char **deps = arena_alloc(trace->arena, room * sizeof(*deps));
        if (!deps)
            return added_total;
        if (s->depends_on_count)
            memcpy(deps, s->depends_on, s->depends_on_count * sizeof(*deps));
        span_t grown = *s;
        grown.depends_on = deps;
        for (const char *p = list; *p;) {
            size_t len = strcspn(p, ",");
            char id[64];
            size_t index;
            if (len > 0 && len < sizeof(id)) {
                memcpy(id, p, len);
                id[len] = '\0';
                const char *target = trace_find_span(trace, id, &index)
                                         ? trace->spans[index].node_id : NULL;
                /* Only links to other nodes are edges; a span not (yet) in
                 * the trace is resolved when the trace is profiled again. */
                if (target && strcmp(target, s->node_id) != 0 && !depends_on_has(&grown, target))
                    deps[grown.depends_on_count++] = target;
            }
            p += len;
            if (*p == ',')
                p++;
        }
        size_t added = grown.depends_on_count - s->depends_on_count;
        if (added) {
            trace->summary.declared_edges += added;
            s->depends_on = grown.depends_on;
            s->depends_on_count = grown.depends_on_count;
            added_total += added;
        }
    }
    return added_total;
}

/* ---- retries known only by a repeated node name under one parent ---- */

typedef struct retry_key {
    const span_t *span;
    size_t index;
} retry_key_t;

static int compare_retry_keys(const void *a, const void *b) {
    const span_t *x = ((const retry_key_t *)a)->span, *y = ((const retry_key_t *)b)->span;
    int c = strcmp(x->parent_span_id ? x->parent_span_id : "", y->parent_span_id ? y->parent_span_id : "");
    if (c == 0)
        c = strcmp(x->node_id, y->node_id);
    if (c == 0)
        c = x->start_us < y->start_us ? -1 : x->start_us > y->start_us;
    if (c == 0)
        c = strcmp(x->span_id, y->span_id);
    return c;
}

static int has_attribute(const span_t *s, const char *attribute) {
    for (size_t a = 0; a < s->attribute_count; a++)
        if (strcmp(s->attributes[a].key, attribute) == 0)
            return 1;
    return 0;
}

size_t trace_number_repeated_nodes(trace_t *trace, const char *attribute) {
    size_t count = 0, renumbered = 0;
    for (size_t i = 0; i < trace->span_count; i++) {
        const span_t *s = &trace->spans[i];
        count += s->kind == SPAN_KIND_NODE && s->node_id && has_attribute(s, attribute);
    }
    if (count < 2)
        return 0;
    retry_key_t *keys = malloc(count * sizeof(*keys));
    if (!keys)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < trace->span_count; i++) {
        const span_t *s = &trace->spans[i];
        if (s->kind == SPAN_KIND_NODE && s->node_id && has_attribute(s, attribute))
            keys[n++] = (retry_key_t){s, i};
    }
    qsort(keys, n, sizeof(*keys), compare_retry_keys);
    int32_t attempt = 0;
    for (size_t k = 0; k < n; k++) {
        const span_t *s = keys[k].span, *prev = k ? keys[k - 1].span : NULL;
        int same = prev && strcmp(prev->node_id, s->node_id) == 0 &&
                   strcmp(prev->parent_span_id ? prev->parent_span_id : "",
                          s->parent_span_id ? s->parent_span_id : "") == 0;
        attempt = same ? attempt + 1 : 0;
        if (trace->spans[keys[k].index].attempt != attempt) {
            trace->spans[keys[k].index].attempt = attempt;
            renumbered++;
        }
    }
    free(keys);
    return renumbered;
}
