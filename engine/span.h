/* span.h -- one span event: the unit of input to the profiling engine.
 *
 * A span is plain data. Its strings are borrowed: whoever fills a span_t keeps
 * them alive until trace_add_span() has copied them. Field meanings are those of
 * SPEC §1 (trace_id, span_id, parent_span_id, dag_id, node_id, kind, ...). */
#ifndef DAGPROF_SPAN_H
#define DAGPROF_SPAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum span_kind {
    SPAN_KIND_RUN = 0, /* the whole execution, at most one per trace */
    SPAN_KIND_NODE,
    SPAN_KIND_LLM,
    SPAN_KIND_TOOL,
    SPAN_KIND_OTHER
} span_kind_t;

typedef enum span_status {
    SPAN_STATUS_OK = 0,
    SPAN_STATUS_ERROR,
    SPAN_STATUS_UNSET
} span_status_t;

typedef struct span_attr {
    const char *key;
    const char *value;
} span_attr_t;

typedef struct span {
    const char *trace_id;       /* required */
    const char *span_id;        /* required, unique within the trace */
    const char *parent_span_id; /* NULL when none */
    const char *dag_id;         /* NULL: inherited from the run span */
    const char *node_id;        /* NULL: the nearest ancestor's node */
    span_kind_t kind;
    const char *name;
    int64_t start_us;
    int64_t end_us;
    span_status_t status;
    const char *const *depends_on; /* node ids, on node spans */
    size_t depends_on_count;
    int32_t attempt;               /* 0 = first try; >= 1 = a retry */
    const char *model;             /* llm spans */
    const char *provider;
    int64_t input_tokens;       /* all prompt tokens, cached included */
    int64_t output_tokens;      /* all completion tokens, reasoning included */
    int64_t cache_read_tokens;  /* part of input_tokens */
    int64_t cache_write_tokens; /* part of input_tokens */
    int64_t reasoning_tokens;   /* part of output_tokens */
    const char *tool_name;      /* tool spans */
    const span_attr_t *attributes;
    size_t attribute_count;
} span_t;

/* Names as they appear in the Avro enum and in JSON ("run", "node", ...). */
const char *span_kind_name(span_kind_t kind);
const char *span_status_name(span_status_t status);

/* Parse a name; return 0 and set *out, or -1 for an unknown name. */
int span_kind_parse(const char *name, span_kind_t *out);
int span_status_parse(const char *name, span_status_t *out);

#endif
