/* dag.h -- the state profiling hands to advice. profile.c builds the node
 * graph and its figures into a dag_t; advise.c then reads the finished
 * figures and finds bottlenecks and what each recommendation would save.
 * dag.c holds what both use (warnings, the replay); the direction is one way:
 * profile.c -> advise.c -> dag.c, never back. Internal to the engine. */
#ifndef DAGPROF_DAG_H
#define DAGPROF_DAG_H

#include "arena.h"
#include "profile.h"

/* An llm call with the span fields the advice reads, copied while the span is
 * being read anyway: following span pointers from advice (calls in node
 * order, not trace order) was most of recommend_model_costs (bench_engine). */
typedef struct dag_llm_call {
    const span_t *span; /* for its span_id, the last tie-break of call order */
    int64_t start_us;
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
    int32_t node;   /* its node, -1 when none */
    uint32_t model; /* index into dag.models; 64 bytes a call, one cache line */
} dag_llm_call_t;

/* A tool span of a node, for batch_operations; the same copying. */
typedef struct dag_tool {
    int64_t start_us, end_us;
    const char *tool_name;     /* "" when the span has none */
    int same_tool_as_previous; /* the node's previous tool span has this tool_name */
} dag_tool_t;

/* A distinct model name of the trace, priced once. */
typedef struct dag_model {
    const char *name;
    int priced;
    pricing_price_t price;
    const char *cheaper;         /* downgrade target, when it is priced too */
    pricing_price_t cheaper_price;
} dag_model_t;

typedef struct dag {
    profile_t *profile;    /* being filled */
    arena_t *arena;        /* the profile's memory */
    arena_t *scratch;      /* freed when profiling ends */
    const pricing_t *pricing;
    const profile_thresholds_t *thresholds;

    size_t node_count;     /* nodes sorted by node_id; index = position */
    /* Dependency edges after unknown ids and cycle edges are dropped, as CSR:
     * the dependencies of node k are deps[dep_off[k] .. dep_off[k + 1]). */
    size_t *dep_off, *deps;
    size_t *rdep_off, *rdeps; /* the reverse: dependents of each node */
    size_t *topo;             /* every node after its dependencies */

    int64_t run_start_us;
    int64_t run_end_us;
    int64_t *lag_us;            /* start - ready, may be negative when a node overlapped its inputs */
    int64_t *final_attempt_start_us; /* start of the node span with the highest attempt */
    /* The replay of the run as observed ends where the trace does (the latest
     * node end, relative to the run start) unless some node's inputs were
     * ready before the run started; then only a replay tells. */
    int replay_is_trace;
    int64_t trace_end_us;

    /* llm calls per node, in start order: calls[call_off[k] .. call_off[k + 1]) */
    size_t *call_off;
    dag_llm_call_t *calls;
    dag_model_t *models;
    size_t model_count;
    size_t call_count;          /* all llm calls of the trace, in node or not */
    dag_llm_call_t *all_calls;  /* every llm call of the trace */

    /* tool spans per node, in start order: tools[tool_off[k] .. tool_off[k + 1]) */
    size_t *tool_off;
    dag_tool_t *tools;

    /* Warnings produced while profiling, appended with dag_warn(). */
    const char **warnings;
    size_t warning_count, warning_cap, warnings_dropped;
    int closing_warning;
} dag_t;

void dag_warn(dag_t *dag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Longest finish time of a replay of the run: every node starts its lag after
 * its inputs are ready and runs for exec_us. With the observed lags and exec
 * times this reproduces the trace; savings are the difference a change makes.
 * skip_node/skip_dep: one edge to leave out (SIZE_MAX for none). `scratch`
 * holds node_count values. Returns the latest end, relative to the run start. */
int64_t dag_replay(const dag_t *dag, const int64_t *exec_us, const int64_t *lag_us,
                   size_t skip_node, size_t skip_dep, int64_t *scratch);

/* Fill profile->bottlenecks and profile->recommendations. 0, or -1 on OOM. */
int advise(dag_t *dag);

#endif
