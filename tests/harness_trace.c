/* harness_trace.c -- hand-built traces for the engine suites. See harness_trace.h. */
#include "harness_trace.h"

#include <check.h>
#include <string.h>

span_t htrace_span(const char *id, const char *parent, const char *node, span_kind_t kind,
                   int64_t start, int64_t end) {
    span_t s;
    memset(&s, 0, sizeof(s));
    s.trace_id = "t1";
    s.span_id = id;
    s.parent_span_id = parent;
    s.node_id = node;
    s.kind = kind;
    s.start_us = start;
    s.end_us = end;
    s.status = SPAN_STATUS_OK;
    return s;
}

void htrace_add(trace_t *t, span_t s) {
    char err[256];
    ck_assert_int_eq(trace_add_span(t, &s, err, sizeof(err)), TRACE_ADD_OK);
}

void htrace_add_node(trace_t *t, const char *id, int64_t start, int64_t end,
                     const char *const *deps, size_t ndeps) {
    span_t s = htrace_span(id, "run", id, SPAN_KIND_NODE, start, end);
    s.depends_on = deps;
    s.depends_on_count = ndeps;
    htrace_add(t, s);
}

const profile_node_t *htrace_node(const profile_t *p, const char *id) {
    for (size_t i = 0; i < p->node_count; i++)
        if (strcmp(p->nodes[i].node_id, id) == 0)
            return &p->nodes[i];
    ck_abort_msg("no node %s", id);
    return NULL;
}

int htrace_has_warning(const profile_t *p, const char *text) {
    for (size_t i = 0; i < p->warning_count; i++)
        if (strstr(p->warnings[i], text))
            return 1;
    return 0;
}

static int htrace_on_span(void *opaque, const span_t *s) {
    char err[256];
    trace_add_span(opaque, s, err, sizeof(err));
    return 0;
}

static void htrace_on_error(void *opaque, long record, const char *reason) {
    (void)opaque;
    ck_abort_msg("fixture record %ld: %s", record, reason);
}

trace_file_handler_t htrace_file_handler(trace_t *t) {
    trace_file_handler_t h = {htrace_on_span, htrace_on_error, t};
    return h;
}
