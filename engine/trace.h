/* trace.h -- the spans of one run, collected before profiling.
 *
 * A trace owns copies of everything added to it. Adding checks each span: an
 * invalid span (end_us < start_us, missing id) is rejected with a reason, a
 * duplicate span_id keeps the first copy, oversized strings are cut. None of
 * this stops the trace from being profiled; each event becomes a warning that
 * the profile carries. */
#ifndef DAGPROF_TRACE_H
#define DAGPROF_TRACE_H

#include "span.h"

typedef struct trace trace_t;

/* Longest string kept from a span field by default; longer ones are cut with a
 * warning. trace_set_max_string_bytes() changes it for one trace. */
#define TRACE_MAX_STRING_BYTES 4096

/* Timestamps beyond +-this are refused, so that time differences never overflow. */
#define TRACE_MAX_ABS_TIME_US (INT64_C(1) << 62)

typedef enum trace_add_result {
    TRACE_ADD_OK = 0,
    TRACE_ADD_DUPLICATE = 1, /* same span_id seen before: ignored */
    TRACE_ADD_INVALID = -1   /* rejected: reason in errstr and in the warnings */
} trace_add_result_t;

/* Returns a new empty trace, or NULL when out of memory. Free with trace_free(). */
trace_t *trace_new(void);
void trace_free(trace_t *trace);

/* Cut string fields of spans added from now on at `bytes` (at least 16). */
void trace_set_max_string_bytes(trace_t *trace, size_t bytes);

/* Copy `span` into the trace. */
trace_add_result_t trace_add_span(trace_t *trace, const span_t *span,
                                  char *errstr, size_t errstr_size);

/* Record a warning about the trace from outside the engine (e.g. a decoder
 * that skipped a malformed line). The text is copied. */
void trace_add_warning(trace_t *trace, const char *warning);

/* Spans accepted so far, in the order they were added. Valid until the next add. */
size_t trace_span_count(const trace_t *trace);
const span_t *trace_span(const trace_t *trace, size_t index);

/* 1 and *index set when the trace holds a span with this id, else 0. */
int trace_find_span(const trace_t *trace, const char *span_id, size_t *index);
/* The same for an id that is one of the trace's own strings (a span's
 * parent_span_id, say): its copies are padded, and found faster (strmap.h). */
int trace_find_own_span(const trace_t *trace, const char *span_id, size_t *index);

/* For the engine: what profiling needs before it reads the spans, kept as
 * they are added (the span at hand is in the cache then; a pass over all of
 * them to count was a thirtieth of a profile). */
typedef struct trace_summary {
    size_t spans_of_kind[SPAN_KIND_OTHER + 1];
    size_t named_spans;    /* with a node_id */
    size_t declared_edges; /* depends_on entries of node spans */
    size_t run;            /* the earliest run span (ties: smallest span_id); SIZE_MAX: none */
    size_t dag_source;     /* the earliest span with a dag_id, the same way */
    int64_t min_start_us;  /* of all spans */
    int64_t max_end_us;
} trace_summary_t;
const trace_summary_t *trace_summary(const trace_t *trace);

size_t trace_warning_count(const trace_t *trace);
const char *trace_warning(const trace_t *trace, size_t index);
/* Warnings past the first 100 are only counted. */
size_t trace_warnings_dropped(const trace_t *trace);

/* Dependencies named by span id rather than node id (OpenTelemetry span
 * links, carried by the OTLP mapping in the attribute `attribute` as a comma
 * list of span ids): for each node span, each listed span of the trace that
 * belongs to another node adds that node to the span's depends_on, once.
 * Call it after the last span was added and before profiling; calling it
 * again adds nothing twice. Returns the number of edges added. */
size_t trace_resolve_span_dependencies(trace_t *trace, const char *attribute);

/* Retries known only by repetition: node spans carrying `attribute` (the
 * OTLP mapping marks those without an explicit attempt) that share a node id
 * and a parent are attempts 0, 1, 2... in order of start (ties: span_id).
 * Call it where trace_resolve_span_dependencies() is called. Returns the
 * number of spans whose attempt changed. */
size_t trace_number_repeated_nodes(trace_t *trace, const char *attribute);

#endif
