/* fleet.c -- a synthetic fleet of DAG runs as a span event stream (fleet.h).
 *
 * A closed system of `concurrency` slots, each holding one run in flight. A
 * run is generated whole when its slot is filled: node times follow the DAG,
 * then every span gets an export time (end + exporter delay) and the run's
 * spans are sorted by it. A min-heap over the slots merges the runs by export
 * time; when a run's last span is out, the slot starts the next run at the
 * current export time. Late spans wait in a FIFO until enough run spans of
 * other runs have gone by. Everything lives in buffers sized by fleet_new(). */
#include "fleet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS INT64_C(1000)
#define SECONDS INT64_C(1000000)

/* The largest DAG is fanout-10: split, 10 workers, merge. */
#define MAX_NODES 12
#define MAX_CHILDREN 5        /* an agent node: 3 llm calls, 2 tool calls between */
#define MAX_FAILED_CHILDREN 2 /* children of a failed attempt */
/* Run span, and per node two attempt spans with their children. */
#define MAX_SPANS_PER_RUN (1 + MAX_NODES * (2 + MAX_CHILDREN + MAX_FAILED_CHILDREN))
#define TRACE_ID_BYTES (FLEET_MAX_PREFIX_BYTES + 32)
#define NO_PARENT 0xff
#define MAX_START_US (INT64_C(1) << 60) /* room for any run length without overflow */

typedef struct rng {
    uint64_t state[4];
} rng_t;

typedef struct model_info {
    const char *model;
    const char *provider;
    const char *span_name;
    unsigned weight; /* out of 100 */
    int reasons;     /* may report reasoning tokens */
} model_info_t;

typedef struct tool_info {
    const char *tool_name;
    const char *span_name;
} tool_info_t;

static const model_info_t MODELS[] = {
    {"claude-sonnet-4-5", "anthropic", "chat claude-sonnet-4-5", 25, 1},
    {"claude-haiku-4-5", "anthropic", "chat claude-haiku-4-5", 15, 1},
    {"claude-opus-4-1", "anthropic", "chat claude-opus-4-1", 5, 1},
    {"gpt-4o", "openai", "chat gpt-4o", 15, 0},
    {"gpt-4o-mini", "openai", "chat gpt-4o-mini", 15, 0},
    {"gpt-4.1-mini", "openai", "chat gpt-4.1-mini", 10, 0},
    {"gemini-2.5-flash", "google", "chat gemini-2.5-flash", 15, 1},
};
#define MODEL_COUNT (sizeof(MODELS) / sizeof(MODELS[0]))

enum { TOOL_READ_FILE = 2, TOOL_RUN_TESTS = 3, TOOL_HTTP_GET = 4 };
static const tool_info_t TOOLS[] = {
    {"web_search", "tool web_search"}, {"sql_query", "tool sql_query"},
    {"read_file", "tool read_file"},   {"run_tests", "tool run_tests"},
    {"http_get", "tool http_get"},     {"vector_search", "tool vector_search"},
};
#define TOOL_COUNT (sizeof(TOOLS) / sizeof(TOOLS[0]))

/* Node names and edges are static, so a run's depends_on arrays point here and
 * generating a run formats no strings but its trace id. */
static const char *const STEP_NAMES[] = {"step-1", "step-2", "step-3", "step-4",
                                         "step-5", "step-6", "step-7", "step-8"};
static const char *const CHAIN_DAGS[] = {"chain-3", "chain-4", "chain-5",
                                         "chain-6", "chain-7", "chain-8"};
#define CHAIN_MIN 3
#define CHAIN_MAX 8
static const char *const SPLIT_NAME[] = {"split"};
static const char *const WORKER_NAMES[] = {"worker-1", "worker-2", "worker-3", "worker-4",
                                           "worker-5", "worker-6", "worker-7", "worker-8",
                                           "worker-9", "worker-10"};
static const char *const FAN_DAGS[] = {"fanout-3", "fanout-4", "fanout-5", "fanout-6",
                                       "fanout-7", "fanout-8", "fanout-9", "fanout-10"};
#define FAN_MIN 3
#define FAN_MAX 10
static const char *const DIAMOND_NAMES[] = {"plan", "research", "analyze", "synthesize"};
static const char *const REVIEW_NAMES[] = {"fetch",        "review-security",
                                           "review-style", "review-performance",
                                           "review-tests", "review-docs",
                                           "review-api",   "aggregate"};
#define REVIEWERS 6

typedef enum node_role {
    ROLE_AGENT,   /* llm calls with tool calls between */
    ROLE_PLANNER, /* one llm call */
    ROLE_SYNTH,   /* one or two llm calls */
    ROLE_FETCH    /* tool calls only */
} node_role_t;

typedef struct run_node {
    const char *name;
    const char *const *deps;
    uint8_t dep_count;
    uint8_t dep_first; /* the dependencies are nodes dep_first..dep_first+dep_count-1 */
    uint8_t role;
    uint8_t model;
    int64_t end_us; /* end of the last attempt */
} run_node_t;

/* One span of a run before emission; strings are derived when it is emitted. */
typedef struct span_rec {
    int64_t start_us;
    int64_t end_us;
    int64_t emit_us; /* when the exporter sends it: the stream's order */
    int32_t input_tokens;
    int32_t output_tokens;
    int32_t cache_read_tokens;
    int32_t cache_write_tokens;
    int32_t reasoning_tokens;
    uint8_t seq;        /* creation index within the run; the span id derives from it */
    uint8_t parent_seq; /* NO_PARENT for the run span */
    uint8_t node;
    uint8_t kind;
    uint8_t status;
    uint8_t attempt;
    uint8_t catalog; /* index into MODELS or TOOLS */
} span_rec_t;

typedef struct slot {
    uint64_t run_number;
    uint64_t id_key; /* span id = hex(mix64(id_key + seq)), unique per seq */
    const char *dag_id;
    char trace_id[TRACE_ID_BYTES];
    int emitted_any;
    int has_late;
    uint8_t node_count;
    uint8_t rec_count;
    uint8_t order_count;
    uint8_t next; /* position in order[] of the next span to emit */
    run_node_t nodes[MAX_NODES];
    span_rec_t recs[MAX_SPANS_PER_RUN];
    uint8_t order[MAX_SPANS_PER_RUN]; /* recs by emit_us, the late one left out */
    span_rec_t late_rec;
} slot_t;

typedef struct late_span {
    uint64_t due_run_spans; /* emit once this many run spans are out */
    uint64_t id_key;
    char trace_id[TRACE_ID_BYTES];
    span_rec_t rec;
} late_span_t;

struct fleet {
    fleet_options_t options;
    char prefix[FLEET_MAX_PREFIX_BYTES + 1];
    rng_t rng;
    uint32_t tag; /* in every trace id, so fleets of other seeds do not collide */
    unsigned enabled_shapes[4];
    unsigned enabled_shape_count;

    slot_t *slots;
    unsigned slot_count;
    unsigned *heap; /* slot indexes, min-heap on the next span's emit_us */
    unsigned heap_len;
    int refill_slot; /* slot whose run finished in the last call, or -1 */
    uint64_t runs_started;
    int64_t clock_us; /* emit time of the last span taken from a slot */

    late_span_t *late; /* FIFO ring; due times only rise */
    size_t late_cap;
    size_t late_head;
    size_t late_len;

    uint64_t span_total;
    uint64_t run_total;
    uint64_t late_total;
    uint64_t run_spans_emitted;
    int last_late;
    char span_id[17];
    char parent_span_id[17];
};

/* ---- randomness: splitmix64 to seed xoshiro256** ---- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) {
        seed += UINT64_C(0x9e3779b97f4a7c15);
        rng->state[i] = mix64(seed);
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *rng) {
    uint64_t *s = rng->state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [lo, hi]; hi - lo must be below 2^32 (multiply-shift, no division). */
static int64_t rng_range(rng_t *rng, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((rng_next(rng) >> 32) * span) >> 32);
}

static double rng_unit(rng_t *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; }

static int rng_chance(rng_t *rng, double probability) { return rng_unit(rng) < probability; }

/* ---- generating one run ---- */

static unsigned pick_model(rng_t *rng) {
    int64_t ticket = rng_range(rng, 0, 99);
    for (unsigned i = 0; i < MODEL_COUNT; i++) {
        if (ticket < (int64_t)MODELS[i].weight)
            return i;
        ticket -= MODELS[i].weight;
    }
    return 0;
}

static void add_node(slot_t *slot, const char *name, const char *const *deps,
                     unsigned dep_count, unsigned dep_first, node_role_t role) {
    run_node_t *node = &slot->nodes[slot->node_count++];
    node->name = name;
    node->deps = dep_count ? deps : NULL;
    node->dep_count = (uint8_t)dep_count;
    node->dep_first = (uint8_t)dep_first;
    node->role = (uint8_t)role;
}

/* Lay out the nodes of one shape; dependencies always precede their dependents. */
static void build_dag(slot_t *slot, rng_t *rng, unsigned shape) {
    slot->node_count = 0;
    switch (shape) {
    case FLEET_SHAPE_CHAIN: {
        unsigned steps = (unsigned)rng_range(rng, CHAIN_MIN, CHAIN_MAX);
        slot->dag_id = CHAIN_DAGS[steps - CHAIN_MIN];
        for (unsigned i = 0; i < steps; i++)
            add_node(slot, STEP_NAMES[i], i ? &STEP_NAMES[i - 1] : NULL, i ? 1 : 0,
                     i ? i - 1 : 0, ROLE_AGENT);
        break;
    }
    case FLEET_SHAPE_FAN: {
        unsigned workers = (unsigned)rng_range(rng, FAN_MIN, FAN_MAX);
        slot->dag_id = FAN_DAGS[workers - FAN_MIN];
        add_node(slot, SPLIT_NAME[0], NULL, 0, 0, ROLE_PLANNER);
        for (unsigned i = 0; i < workers; i++)
            add_node(slot, WORKER_NAMES[i], SPLIT_NAME, 1, 0, ROLE_AGENT);
        add_node(slot, "merge", WORKER_NAMES, workers, 1, ROLE_SYNTH);
        break;
    }
    case FLEET_SHAPE_DIAMOND:
        slot->dag_id = "diamond";
        add_node(slot, DIAMOND_NAMES[0], NULL, 0, 0, ROLE_PLANNER);
        add_node(slot, DIAMOND_NAMES[1], &DIAMOND_NAMES[0], 1, 0, ROLE_AGENT);
        add_node(slot, DIAMOND_NAMES[2], &DIAMOND_NAMES[0], 1, 0, ROLE_AGENT);
        add_node(slot, DIAMOND_NAMES[3], &DIAMOND_NAMES[1], 2, 1, ROLE_SYNTH);
        break;
    default: /* FLEET_SHAPE_WIDE */
        slot->dag_id = "code-review";
        add_node(slot, REVIEW_NAMES[0], NULL, 0, 0, ROLE_FETCH);
        for (unsigned i = 1; i <= REVIEWERS; i++)
            add_node(slot, REVIEW_NAMES[i], &REVIEW_NAMES[0], 1, 0, ROLE_AGENT);
        add_node(slot, REVIEW_NAMES[REVIEWERS + 1], &REVIEW_NAMES[1], REVIEWERS, 1,
                 ROLE_SYNTH);
        break;
    }
    for (unsigned i = 0; i < slot->node_count; i++)
        slot->nodes[i].model = (uint8_t)pick_model(rng);
}

static span_rec_t *new_rec(slot_t *slot, span_kind_t kind, unsigned parent_seq,
                           unsigned node, int64_t start_us) {
    span_rec_t *rec = &slot->recs[slot->rec_count];
    memset(rec, 0, sizeof(*rec));
    rec->seq = slot->rec_count++;
    rec->parent_seq = (uint8_t)parent_seq;
    rec->node = (uint8_t)node;
    rec->kind = (uint8_t)kind;
    rec->status = SPAN_STATUS_OK;
    rec->start_us = start_us;
    rec->end_us = start_us;
    return rec;
}

/* Skewed towards the low end, as real token counts and latencies are. */
static int64_t skewed(rng_t *rng, int64_t lo, int64_t hi) {
    double unit = rng_unit(rng);
    return lo + (int64_t)(unit * unit * (double)(hi - lo));
}

static int64_t add_llm(slot_t *slot, rng_t *rng, unsigned parent_seq, unsigned node,
                       int64_t start_us, span_status_t status) {
    const model_info_t *model = &MODELS[slot->nodes[node].model];
    span_rec_t *rec = new_rec(slot, SPAN_KIND_LLM, parent_seq, node, start_us);
    rec->catalog = slot->nodes[node].model;
    rec->status = (uint8_t)status;
    rec->input_tokens = (int32_t)skewed(rng, 500, 30000);
    rec->output_tokens = (int32_t)skewed(rng, 50, 2000);
    if (rng_chance(rng, 0.35))
        rec->cache_read_tokens = (int32_t)(rec->input_tokens * rng_range(rng, 20, 90) / 100);
    if (rng_chance(rng, 0.10))
        rec->cache_write_tokens = (int32_t)((rec->input_tokens - rec->cache_read_tokens) *
                                            rng_range(rng, 10, 100) / 100);
    if (model->reasons && rng_chance(rng, 0.30))
        rec->reasoning_tokens = (int32_t)(rec->output_tokens * rng_range(rng, 10, 70) / 100);
    /* Latency grows with the output: time to first token, then per-token time. */
    int64_t duration_us = 300 * MS + rec->output_tokens * rng_range(rng, 2000, 9000);
    if (duration_us > 20 * SECONDS)
        duration_us = 20 * SECONDS;
    rec->end_us = start_us + duration_us;
    return rec->end_us;
}

static int64_t add_tool(slot_t *slot, rng_t *rng, unsigned parent_seq, unsigned node,
                        int64_t start_us, unsigned tool, span_status_t status) {
    span_rec_t *rec = new_rec(slot, SPAN_KIND_TOOL, parent_seq, node, start_us);
    rec->catalog = (uint8_t)tool;
    rec->status = (uint8_t)status;
    double unit = rng_unit(rng);
    rec->end_us = start_us + 10 * MS + (int64_t)(unit * unit * unit * (double)(2990 * MS));
    return rec->end_us;
}

static unsigned pick_tool(rng_t *rng, node_role_t role) {
    if (role == ROLE_FETCH)
        return rng_chance(rng, 0.5) ? TOOL_READ_FILE : TOOL_HTTP_GET;
    return (unsigned)rng_range(rng, 0, TOOL_COUNT - 1);
}

static span_status_t tool_status(rng_t *rng) {
    return rng_chance(rng, 0.05) ? SPAN_STATUS_ERROR : SPAN_STATUS_OK;
}

/* One attempt of a node: its node span and the children inside it, laid out one
 * after another from start_us. A failed attempt ends with an erroring child.
 * Returns the attempt's end. */
static int64_t add_attempt(slot_t *slot, rng_t *rng, unsigned node, int64_t start_us,
                           unsigned attempt, int failed) {
    node_role_t role = (node_role_t)slot->nodes[node].role;
    span_rec_t *node_rec = new_rec(slot, SPAN_KIND_NODE, 0, node, start_us);
    unsigned parent = node_rec->seq;
    node_rec->attempt = (uint8_t)attempt;
    int64_t t = start_us + rng_range(rng, 1 * MS, 5 * MS);

    if (failed) {
        if (role == ROLE_FETCH) {
            if (rng_chance(rng, 0.5))
                t = add_tool(slot, rng, parent, node, t, pick_tool(rng, role), SPAN_STATUS_OK) +
                    rng_range(rng, 200, 5 * MS);
            t = add_tool(slot, rng, parent, node, t, pick_tool(rng, role), SPAN_STATUS_ERROR);
        } else if (role == ROLE_AGENT && rng_chance(rng, 0.5)) {
            t = add_llm(slot, rng, parent, node, t, SPAN_STATUS_OK) + rng_range(rng, 200, 5 * MS);
            t = add_tool(slot, rng, parent, node, t, pick_tool(rng, role), SPAN_STATUS_ERROR);
        } else {
            t = add_llm(slot, rng, parent, node, t, SPAN_STATUS_ERROR);
        }
    } else if (role == ROLE_FETCH) {
        unsigned tools = (unsigned)rng_range(rng, 1, 3);
        for (unsigned i = 0; i < tools; i++)
            t = add_tool(slot, rng, parent, node, t, pick_tool(rng, role), tool_status(rng)) +
                rng_range(rng, 200, 5 * MS);
    } else {
        unsigned calls = role == ROLE_PLANNER ? 1
                         : role == ROLE_SYNTH ? (unsigned)rng_range(rng, 1, 2)
                                              : (unsigned)rng_range(rng, 1, 3);
        for (unsigned i = 0; i < calls; i++) {
            t = add_llm(slot, rng, parent, node, t, SPAN_STATUS_OK) + rng_range(rng, 200, 5 * MS);
            if (i + 1 < calls && role == ROLE_AGENT && rng_chance(rng, 0.8))
                t = add_tool(slot, rng, parent, node, t, pick_tool(rng, role),
                             tool_status(rng)) +
                    rng_range(rng, 200, 5 * MS);
        }
    }
    node_rec->status = (uint8_t)(failed ? SPAN_STATUS_ERROR : SPAN_STATUS_OK);
    node_rec->end_us = t + rng_range(rng, 1 * MS, 5 * MS);
    return node_rec->end_us;
}

static int64_t export_delay(rng_t *rng) {
    return rng_chance(rng, 0.9) ? rng_range(rng, 0, 200 * MS) : rng_range(rng, 200 * MS, 5 * SECONDS);
}

static void sort_by_emit(slot_t *slot) {
    /* Insertion sort: runs are small and the spans mostly arrive in time order. */
    for (unsigned i = 1; i < slot->order_count; i++) {
        uint8_t index = slot->order[i];
        int64_t key = slot->recs[index].emit_us;
        unsigned j = i;
        while (j > 0 && slot->recs[slot->order[j - 1]].emit_us > key) {
            slot->order[j] = slot->order[j - 1];
            j--;
        }
        slot->order[j] = index;
    }
}

static void generate_run(fleet_t *fleet, slot_t *slot, int64_t run_start_us) {
    rng_t *rng = &fleet->rng;
    slot->run_number = fleet->runs_started++;
    slot->id_key = rng_next(rng);
    snprintf(slot->trace_id, sizeof(slot->trace_id), "%s%08" PRIx32 "-%06" PRIu64,
             fleet->prefix, fleet->tag, slot->run_number);
    slot->emitted_any = 0;
    slot->rec_count = 0;
    slot->next = 0;

    unsigned shape = fleet->enabled_shapes[rng_range(rng, 0, fleet->enabled_shape_count - 1)];
    build_dag(slot, rng, shape);

    span_rec_t *run = new_rec(slot, SPAN_KIND_RUN, NO_PARENT, 0, run_start_us);
    int64_t run_end_us = run_start_us;
    for (unsigned i = 0; i < slot->node_count; i++) {
        run_node_t *node = &slot->nodes[i];
        int64_t ready_us = run_start_us;
        for (unsigned d = 0; d < node->dep_count; d++)
            if (slot->nodes[node->dep_first + d].end_us > ready_us)
                ready_us = slot->nodes[node->dep_first + d].end_us;
        /* Scheduling delay: usually a worker picks the node up at once, sometimes
         * the pool is busy for seconds. */
        int64_t start_us = ready_us + (rng_chance(rng, 0.05) ? rng_range(rng, 500 * MS, 4 * SECONDS)
                                                             : rng_range(rng, 1 * MS, 30 * MS));
        unsigned attempt = 0;
        if (rng_chance(rng, fleet->options.retry_fraction)) {
            int64_t failed_end_us = add_attempt(slot, rng, i, start_us, 0, 1);
            start_us = failed_end_us + rng_range(rng, 200 * MS, 3 * SECONDS); /* backoff */
            attempt = 1;
        }
        node->end_us = add_attempt(slot, rng, i, start_us, attempt, 0);
        if (node->end_us > run_end_us)
            run_end_us = node->end_us;
    }
    run->end_us = run_end_us + rng_range(rng, 1 * MS, 20 * MS);

    slot->has_late = 0;
    int late_seq = -1;
    if (rng_chance(rng, fleet->options.late_fraction)) {
        unsigned children = 0;
        for (unsigned i = 0; i < slot->rec_count; i++)
            children += slot->recs[i].kind == SPAN_KIND_LLM || slot->recs[i].kind == SPAN_KIND_TOOL;
        int64_t pick = rng_range(rng, 0, children - 1);
        for (unsigned i = 0; i < slot->rec_count; i++) {
            if (slot->recs[i].kind != SPAN_KIND_LLM && slot->recs[i].kind != SPAN_KIND_TOOL)
                continue;
            if (pick-- == 0) {
                late_seq = (int)i;
                break;
            }
        }
        slot->late_rec = slot->recs[late_seq];
        slot->has_late = 1;
    }

    int64_t last_emit_us = run_start_us;
    slot->order_count = 0;
    for (unsigned i = 1; i < slot->rec_count; i++) {
        span_rec_t *rec = &slot->recs[i];
        rec->emit_us = rec->end_us + export_delay(rng);
        if ((int)i == late_seq)
            continue;
        if (rec->emit_us > last_emit_us)
            last_emit_us = rec->emit_us;
        slot->order[slot->order_count++] = (uint8_t)i;
    }
    /* Tracers usually flush the run span last, on shutdown; now and then an
     * exporter is slow with a child and the run span overtakes it. */
    if (rng_chance(rng, 0.9))
        run->emit_us = (last_emit_us > run->end_us ? last_emit_us : run->end_us) + rng_range(rng, 1, 5 * MS);
    else
        run->emit_us = run->end_us + export_delay(rng);
    slot->order[slot->order_count++] = 0;
    sort_by_emit(slot);
}

/* ---- the merge heap ---- */

static int slot_before(const fleet_t *fleet, unsigned a, unsigned b) {
    const slot_t *sa = &fleet->slots[a], *sb = &fleet->slots[b];
    int64_t ea = sa->recs[sa->order[sa->next]].emit_us;
    int64_t eb = sb->recs[sb->order[sb->next]].emit_us;
    if (ea != eb)
        return ea < eb;
    return sa->run_number < sb->run_number;
}

static void heap_sift_down(fleet_t *fleet, unsigned pos) {
    unsigned *heap = fleet->heap;
    for (;;) {
        unsigned left = 2 * pos + 1, best = pos;
        if (left < fleet->heap_len && slot_before(fleet, heap[left], heap[best]))
            best = left;
        if (left + 1 < fleet->heap_len && slot_before(fleet, heap[left + 1], heap[best]))
            best = left + 1;
        if (best == pos)
            return;
        unsigned tmp = heap[pos];
        heap[pos] = heap[best];
        heap[best] = tmp;
        pos = best;
    }
}

static void heap_push(fleet_t *fleet, unsigned slot) {
    unsigned pos = fleet->heap_len++;
    fleet->heap[pos] = slot;
    while (pos > 0) {
        unsigned parent = (pos - 1) / 2;
        if (!slot_before(fleet, fleet->heap[pos], fleet->heap[parent]))
            break;
        unsigned tmp = fleet->heap[pos];
        fleet->heap[pos] = fleet->heap[parent];
        fleet->heap[parent] = tmp;
        pos = parent;
    }
}

/* ---- emitting ---- */

static const char HEX[] = "0123456789abcdef";

static void format_span_id(char out[17], uint64_t id_key, unsigned seq) {
    uint64_t id = mix64(id_key + seq); /* mix64 is a bijection: distinct seq, distinct id */
    for (int i = 15; i >= 0; i--) {
        out[i] = HEX[id & 0xf];
        id >>= 4;
    }
    out[16] = '\0';
}

/* `nodes` and `dag_id` may be NULL for llm and tool spans, which carry neither. */
static void fill_span(fleet_t *fleet, span_t *out, const char *trace_id, uint64_t id_key,
                      const char *dag_id, const run_node_t *nodes, const span_rec_t *rec) {
    memset(out, 0, sizeof(*out));
    format_span_id(fleet->span_id, id_key, rec->seq);
    out->trace_id = trace_id;
    out->span_id = fleet->span_id;
    if (rec->parent_seq != NO_PARENT) {
        format_span_id(fleet->parent_span_id, id_key, rec->parent_seq);
        out->parent_span_id = fleet->parent_span_id;
    }
    out->kind = (span_kind_t)rec->kind;
    out->start_us = rec->start_us;
    out->end_us = rec->end_us;
    out->status = (span_status_t)rec->status;
    out->attempt = rec->attempt;
    switch (rec->kind) {
    case SPAN_KIND_RUN:
        out->dag_id = dag_id;
        out->name = dag_id;
        break;
    case SPAN_KIND_NODE: {
        const run_node_t *node = &nodes[rec->node];
        out->dag_id = dag_id;
        out->node_id = node->name;
        out->name = node->name;
        out->depends_on = node->deps;
        out->depends_on_count = node->dep_count;
        break;
    }
    case SPAN_KIND_LLM: {
        const model_info_t *model = &MODELS[rec->catalog];
        out->name = model->span_name;
        out->model = model->model;
        out->provider = model->provider;
        out->input_tokens = rec->input_tokens;
        out->output_tokens = rec->output_tokens;
        out->cache_read_tokens = rec->cache_read_tokens;
        out->cache_write_tokens = rec->cache_write_tokens;
        out->reasoning_tokens = rec->reasoning_tokens;
        break;
    }
    default: /* SPAN_KIND_TOOL */
        out->name = TOOLS[rec->catalog].span_name;
        out->tool_name = TOOLS[rec->catalog].tool_name;
        break;
    }
}

static int late_reserve(fleet_t *fleet) {
    if (fleet->late_len < fleet->late_cap)
        return 0;
    size_t cap = fleet->late_cap ? fleet->late_cap * 2 : 16;
    late_span_t *grown = malloc(cap * sizeof(*grown));
    if (!grown)
        return -1;
    for (size_t i = 0; i < fleet->late_len; i++)
        grown[i] = fleet->late[(fleet->late_head + i) % fleet->late_cap];
    free(fleet->late);
    fleet->late = grown;
    fleet->late_cap = cap;
    fleet->late_head = 0;
    return 0;
}

static void late_push(fleet_t *fleet, const slot_t *slot) {
    late_span_t *late = &fleet->late[(fleet->late_head + fleet->late_len) % fleet->late_cap];
    fleet->late_len++;
    late->due_run_spans = fleet->run_spans_emitted + fleet->options.late_after_runs;
    late->id_key = slot->id_key;
    memcpy(late->trace_id, slot->trace_id, sizeof(late->trace_id));
    late->rec = slot->late_rec;
}

int fleet_next(fleet_t *fleet, span_t *out) {
    if (fleet->refill_slot >= 0) {
        unsigned index = (unsigned)fleet->refill_slot;
        fleet->refill_slot = -1;
        if (fleet->runs_started < fleet->options.runs) {
            generate_run(fleet, &fleet->slots[index],
                         fleet->clock_us + rng_range(&fleet->rng, 0, 300 * MS));
            heap_push(fleet, index);
        }
    }
    /* Room for the late span of a run that may finish in this call, taken now so
     * a failure consumes nothing. */
    if (late_reserve(fleet) < 0)
        return -1;

    fleet->last_late = 0;
    if (fleet->late_len > 0 && (fleet->heap_len == 0 ||
                                fleet->late[fleet->late_head].due_run_spans <= fleet->run_spans_emitted)) {
        late_span_t *late = &fleet->late[fleet->late_head];
        fleet->late_head = (fleet->late_head + 1) % fleet->late_cap;
        fleet->late_len--;
        fill_span(fleet, out, late->trace_id, late->id_key, NULL, NULL, &late->rec);
        fleet->last_late = 1;
        fleet->late_total++;
        fleet->span_total++;
        return 1;
    }
    if (fleet->heap_len == 0)
        return 0;

    unsigned index = fleet->heap[0];
    slot_t *slot = &fleet->slots[index];
    const span_rec_t *rec = &slot->recs[slot->order[slot->next++]];
    fill_span(fleet, out, slot->trace_id, slot->id_key, slot->dag_id, slot->nodes, rec);
    fleet->span_total++;
    if (!slot->emitted_any) {
        slot->emitted_any = 1;
        fleet->run_total++;
    }
    if (rec->kind == SPAN_KIND_RUN)
        fleet->run_spans_emitted++;
    fleet->clock_us = rec->emit_us;

    if (slot->next == slot->order_count) {
        /* The run is out; its slot is refilled on the next call, since *out
         * points into it until then. */
        fleet->heap[0] = fleet->heap[--fleet->heap_len];
        heap_sift_down(fleet, 0);
        if (slot->has_late)
            late_push(fleet, slot);
        fleet->refill_slot = (int)index;
    } else {
        heap_sift_down(fleet, 0);
    }
    return 1;
}

/* ---- lifecycle ---- */

void fleet_options_init(fleet_options_t *options) {
    memset(options, 0, sizeof(*options));
    options->seed = 1;
    options->runs = 1000;
    options->start_us = FLEET_DEFAULT_START_US;
    options->concurrency = 50;
    options->shapes = FLEET_SHAPE_ALL;
    options->late_fraction = 0.02;
    options->late_after_runs = 20;
    options->retry_fraction = 0.05;
    options->trace_id_prefix = "run-";
}

static int check_options(const fleet_options_t *options, char *errstr, size_t errstr_size) {
    if (options->concurrency < 1 || options->concurrency > FLEET_MAX_CONCURRENCY) {
        snprintf(errstr, errstr_size, "fleet: concurrency %u out of range 1..%d",
                 options->concurrency, FLEET_MAX_CONCURRENCY);
        return -1;
    }
    if (options->shapes == 0 || (options->shapes & ~(unsigned)FLEET_SHAPE_ALL)) {
        snprintf(errstr, errstr_size, "fleet: shapes 0x%x: no shape or an unknown one",
                 options->shapes);
        return -1;
    }
    if (!(options->late_fraction >= 0 && options->late_fraction <= 1) ||
        !(options->retry_fraction >= 0 && options->retry_fraction <= 1)) {
        snprintf(errstr, errstr_size, "fleet: late_fraction and retry_fraction must be in 0..1");
        return -1;
    }
    if (options->start_us < 0 || options->start_us > MAX_START_US) {
        snprintf(errstr, errstr_size, "fleet: start_us %" PRId64 " out of range", options->start_us);
        return -1;
    }
    if (!options->trace_id_prefix || strlen(options->trace_id_prefix) > FLEET_MAX_PREFIX_BYTES) {
        snprintf(errstr, errstr_size, "fleet: trace_id_prefix missing or longer than %d bytes",
                 FLEET_MAX_PREFIX_BYTES);
        return -1;
    }
    return 0;
}

fleet_t *fleet_new(const fleet_options_t *options, char *errstr, size_t errstr_size) {
    fleet_t *fleet = NULL;
    if (!options) {
        snprintf(errstr, errstr_size, "fleet: no options");
        goto fail;
    }
    if (check_options(options, errstr, errstr_size) < 0)
        goto fail;
    fleet = calloc(1, sizeof(*fleet));
    if (!fleet) {
        snprintf(errstr, errstr_size, "fleet: out of memory");
        goto fail;
    }
    fleet->options = *options;
    strcpy(fleet->prefix, options->trace_id_prefix);
    fleet->options.trace_id_prefix = fleet->prefix;
    fleet->refill_slot = -1;
    rng_seed(&fleet->rng, options->seed);
    fleet->tag = (uint32_t)(mix64(options->seed ^ UINT64_C(0x666c656574)) >> 32);
    for (unsigned bit = 0; bit < 4; bit++)
        if (options->shapes & (1u << bit))
            fleet->enabled_shapes[fleet->enabled_shape_count++] = 1u << bit;

    fleet->slot_count = options->runs < options->concurrency ? (unsigned)options->runs
                                                              : options->concurrency;
    if (fleet->slot_count > 0) {
        fleet->slots = malloc(fleet->slot_count * sizeof(*fleet->slots));
        fleet->heap = malloc(fleet->slot_count * sizeof(*fleet->heap));
    }
    if ((fleet->slot_count > 0 && (!fleet->slots || !fleet->heap)) || late_reserve(fleet) < 0) {
        snprintf(errstr, errstr_size, "fleet: out of memory");
        goto fail;
    }

    /* The first runs start staggered, as a fleet warming up. */
    int64_t start_us = options->start_us;
    for (unsigned i = 0; i < fleet->slot_count; i++) {
        if (i > 0)
            start_us += rng_range(&fleet->rng, 0, 500 * MS);
        generate_run(fleet, &fleet->slots[i], start_us);
        heap_push(fleet, i);
    }
    fleet->clock_us = options->start_us;
    return fleet;

fail:
    fleet_free(fleet);
    return NULL;
}

void fleet_free(fleet_t *fleet) {
    if (!fleet)
        return;
    free(fleet->slots);
    free(fleet->heap);
    free(fleet->late);
    free(fleet);
}

int fleet_last_is_late(const fleet_t *fleet) { return fleet->last_late; }

uint64_t fleet_span_total(const fleet_t *fleet) { return fleet->span_total; }

uint64_t fleet_run_total(const fleet_t *fleet) { return fleet->run_total; }

uint64_t fleet_late_total(const fleet_t *fleet) { return fleet->late_total; }
