/* profile.h -- what a profile of one DAG run is, and how it is computed.
 *
 * profile_compute() turns a trace (the spans of one run) into a profile: the
 * run's timing, each node's timing, the critical path, slack, parallelism,
 * tokens and cost by model and node, bottlenecks, and recommendations whose
 * savings are computed from the trace. Every figure means exactly what SPEC §2
 * says; all times are microseconds.
 *
 * A profile is plain data: read its fields directly. Everything it points to
 * belongs to the profile and lives until profile_free(). The engine keeps no
 * state between calls and reads no clock: the caller passes the envelope
 * (revision, completeness, time of profiling) in the options. */
#ifndef DAGPROF_PROFILE_H
#define DAGPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pricing.h"
#include "span.h"
#include "trace.h"

typedef struct profile_tokens {
    int64_t input;       /* all prompt tokens, cached included */
    int64_t output;      /* all completion tokens, reasoning included */
    int64_t cache_read;  /* part of input */
    int64_t cache_write; /* part of input */
    int64_t reasoning;   /* part of output */
    int64_t total;       /* input + output */
} profile_tokens_t;

typedef struct profile_tool_call {
    const char *tool; /* tool_name, else the span's name, else "unknown" */
    int64_t duration_us;
    bool ok; /* status is not error */
} profile_tool_call_t;

typedef struct profile_node {
    const char *node_id;
    int64_t start_us; /* earliest start of the node's spans */
    int64_t end_us;   /* latest end */
    int64_t exec_us;  /* end - start */
    int64_t ready_us; /* latest end of its dependencies (at most its start), or the run start */
    int64_t blocked_us; /* ready - run start: waiting on inputs */
    int64_t queued_us;  /* max(0, start - ready): scheduling delay */
    int64_t slack_us;   /* CPM latest start - earliest start */
    bool on_critical_path; /* on the observed critical path */
    span_status_t status;  /* of the last attempt */
    int32_t retries;       /* node spans with attempt >= 1 */
    const char **depends_on; /* node ids, sorted: the edges used for timing (unknown ids,
                              * edges the timestamps contradict and cycle edges removed) */
    size_t depends_on_count;
    profile_tokens_t tokens;
    double cost_usd;
    const char **models; /* distinct models called, sorted */
    size_t model_count;
    profile_tool_call_t *tool_calls; /* in start order */
    size_t tool_call_count;
} profile_node_t;

typedef struct profile_model_usage {
    const char *model;
    profile_tokens_t tokens;
    double cost_usd;
    int64_t calls;
} profile_model_usage_t;

typedef enum profile_edges {
    PROFILE_EDGES_DECLARED = 0, /* from depends_on */
    PROFILE_EDGES_INFERRED      /* the trace declared none: inferred from timing */
} profile_edges_t;

typedef struct profile_summary {
    int64_t run_start_us;     /* the profile window: the run span and every node */
    int64_t wall_us;          /* run end - run start */
    int64_t work_us;          /* sum of node exec_us */
    int64_t critical_path_us; /* time covered by the nodes of the observed critical path */
    int64_t ideal_wall_us;    /* longest dependency path weighted by exec_us (less clock skew) */
    double parallelism;         /* work / wall; 0 when wall is 0 */
    double schedule_efficiency; /* ideal_wall / wall; 1 when the run did no work */
    int64_t node_count;
    int64_t span_count; /* distinct valid spans, run span included */
    profile_edges_t edges;
    profile_tokens_t tokens;
    double cost_usd;
    const char **unpriced_models; /* sorted, distinct */
    size_t unpriced_model_count;
    /* llm calls that belong to no node: with the nodes' figures they make the
     * run's, token for token and cent for cent */
    profile_tokens_t outside_tokens;
    double outside_cost_usd;
    int64_t outside_calls;
} profile_summary_t;

typedef enum profile_bottleneck_type {
    BOTTLENECK_SLOW_NODE = 0,
    BOTTLENECK_HIGH_TOKEN_USAGE,
    BOTTLENECK_EXCESSIVE_RETRIES,
    BOTTLENECK_TOOL_LATENCY,
    BOTTLENECK_DEPENDENCY_WAIT,
    BOTTLENECK_SEQUENTIAL_BOTTLENECK,
    BOTTLENECK_SCHEDULING_DELAY,
    BOTTLENECK_ERROR_NODE,
    /* a run or node far above its DAG's baseline: added by the fleet view
     * (consumer/fleet_view.h), never by profile_compute */
    BOTTLENECK_REGRESSION
} profile_bottleneck_type_t;

typedef enum profile_level {
    PROFILE_LEVEL_LOW = 0,
    PROFILE_LEVEL_MEDIUM,
    PROFILE_LEVEL_HIGH
} profile_level_t;

typedef struct profile_bottleneck {
    profile_bottleneck_type_t type;
    const char *node_id;
    profile_level_t severity;
    double impact_pct; /* share of wall time at stake, 0..100 */
    const char *details;
} profile_bottleneck_t;

typedef enum profile_recommendation_type {
    RECOMMENDATION_PARALLELIZE = 0,
    RECOMMENDATION_CACHE,
    RECOMMENDATION_MODEL_DOWNGRADE,
    RECOMMENDATION_BATCH_OPERATIONS,
    RECOMMENDATION_REDUCE_CONTEXT,
    RECOMMENDATION_RESTRUCTURE_DAG
} profile_recommendation_type_t;

typedef struct profile_savings {
    int64_t time_us; /* wall time saved, by replaying the DAG with the change */
    int64_t tokens;
    double cost_usd;
} profile_savings_t;

typedef struct profile_recommendation {
    profile_recommendation_type_t type;
    profile_level_t priority;
    const char **node_ids;
    size_t node_id_count;
    profile_savings_t savings;
    const char *description;
    const char *action;
} profile_recommendation_t;

/* When a node or run counts as a bottleneck. Percentages are of wall time. */
typedef struct profile_thresholds {
    double slow_node_pct;           /* critical node's exec >= this % of wall */
    double high_token_share;        /* node's share of run tokens >= this (0..1) */
    int64_t high_token_min;         /* ... and at least this many tokens */
    int32_t excessive_retries;      /* retries >= this */
    double tool_latency_share;      /* tool time >= this share of the node's exec (0..1) */
    double dependency_wait_pct;     /* straggler input held the node >= this % of wall */
    double sequential_parallelism;  /* run parallelism below this ... */
    int32_t sequential_min_nodes;   /* ... on a critical path of at least this many nodes */
    double scheduling_delay_pct;    /* queued >= this % of wall ... */
    int64_t scheduling_delay_min_us;/* ... and at least this long */
    int64_t downgrade_max_output_tokens; /* llm calls this small may use a cheaper model */
    int64_t reduce_context_min_input;    /* llm calls with at least this many input tokens */
    double reduce_context_factor;        /* ... and this many times the run's median call */
    int32_t batch_min_calls;             /* sequential calls of one tool in a node */
} profile_thresholds_t;

typedef struct profile_options {
    int64_t revision;      /* 0 for the first profile of a trace */
    bool complete;         /* false: profiled after an idle timeout, no run span */
    int64_t profiled_at_us;
    profile_thresholds_t thresholds;
    /* A declared dependency whose node started at most this long before its
     * input ended is taken as clock skew between hosts: used, with the node's
     * inputs ready at its start. Beyond it, the edge is reported and not used
     * for timing. Default 1000 (1 ms); 0 allows no overlap. */
    int64_t clock_skew_us;
} profile_options_t;

typedef struct profile {
    const char *profile_id; /* "<trace_id>#<revision>": stable, so consumers can deduplicate */
    const char *trace_id;
    const char *dag_id;     /* the run span's, else inherited; "unknown" when none */
    int64_t revision;
    bool complete;
    int64_t profiled_at_us;
    profile_summary_t summary;
    profile_model_usage_t *by_model; /* sorted by model */
    size_t model_count;
    profile_node_t *nodes; /* sorted by node_id */
    size_t node_count;
    const char **critical_path; /* node ids, from the first node to the last */
    size_t critical_path_count;
    profile_bottleneck_t *bottlenecks; /* by impact, largest first */
    size_t bottleneck_count;
    profile_recommendation_t *recommendations; /* by priority, then time saved */
    size_t recommendation_count;
    const char **warnings; /* what was wrong with the input, and what was done */
    size_t warning_count;
} profile_t;

/* Fill `options` with the defaults (revision 0, complete, default thresholds). */
void profile_options_init(profile_options_t *options);

/* Profile `trace`. `pricing` may be NULL (every model unpriced).
 * Returns a profile to free with profile_free(), or NULL with errstr set when
 * the trace has no valid span or memory ran out. */
profile_t *profile_compute(const trace_t *trace, const pricing_t *pricing,
                           const profile_options_t *options,
                           char *errstr, size_t errstr_size);
void profile_free(profile_t *profile);

/* For decoders that rebuild a profile from a record (e.g. Avro read back from
 * the output topic): an all-zero profile whose memory is released by
 * profile_free(), and allocations that live as long as it. NULL on OOM. */
profile_t *profile_new_empty(void);
void *profile_alloc(profile_t *profile, size_t size); /* zeroed */
char *profile_strdup(profile_t *profile, const char *text);

/* Reverse of the *_name functions; 0 and *out set, or -1 for an unknown name. */
int profile_bottleneck_type_parse(const char *name, profile_bottleneck_type_t *out);
int profile_recommendation_type_parse(const char *name, profile_recommendation_type_t *out);
int profile_level_parse(const char *name, profile_level_t *out);
int profile_edges_parse(const char *name, profile_edges_t *out);

const char *profile_bottleneck_type_name(profile_bottleneck_type_t type);
const char *profile_recommendation_type_name(profile_recommendation_type_t type);
const char *profile_level_name(profile_level_t level);
const char *profile_edges_name(profile_edges_t edges);

#endif
