/* profile.c -- from the spans of a run to its profile (SPEC §2).
 *
 * The steps, each linear in spans and edges (sorting aside):
 *   1. find the run span and the dag_id;
 *   2. give every span its node: its own node_id, else its nearest ancestor's;
 *   3. aggregate spans into nodes (times, attempts, tokens, cost, tool calls);
 *   4. build the dependency graph: declared edges, or inferred from timing;
 *      drop unknown ids and break cycles;
 *   5. timing per node (ready, blocked, queued), CPM slack, ideal wall time,
 *      the observed critical path;
 *   6. bottlenecks and recommendations: advise.c reads the finished figures.
 * The graph state both read, and the replay of a run, are dag.c's; nothing
 * here is called back from advice. */
#include "profile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dag.h"
#include "strmap.h"
#include "textfmt.h"

#define MODEL_SOURCES 8 /* models found by a span's pointer before the map */
#define NODE_NONE ((int64_t)-1)
#define NODE_UNRESOLVED ((int64_t)-2)
#define NODE_IN_PROGRESS ((int64_t)-3)

typedef struct profile_box {
    profile_t profile; /* first: profile_free() casts back */
    arena_t *arena;
} profile_box_t;

static const char *const bottleneck_names[] = {
    "slow_node", "high_token_usage", "excessive_retries", "tool_latency",
    "dependency_wait", "sequential_bottleneck", "scheduling_delay", "error_node",
    "regression"};
static const char *const recommendation_names[] = {
    "parallelize", "cache", "model_downgrade", "batch_operations", "reduce_context",
    "restructure_dag"};
static const char *const level_names[] = {"low", "medium", "high"};
static const char *const edges_names[] = {"declared", "inferred"};

#define NAME_OF(table, i) ((size_t)(i) < sizeof(table) / sizeof(table[0]) ? table[i] : "unknown")

const char *profile_bottleneck_type_name(profile_bottleneck_type_t t) { return NAME_OF(bottleneck_names, t); }
const char *profile_recommendation_type_name(profile_recommendation_type_t t) { return NAME_OF(recommendation_names, t); }
const char *profile_level_name(profile_level_t l) { return NAME_OF(level_names, l); }
const char *profile_edges_name(profile_edges_t e) { return NAME_OF(edges_names, e); }

static int name_parse(const char *const *table, size_t count, const char *name, int *out) {
    for (size_t i = 0; i < count; i++)
        if (name && strcmp(table[i], name) == 0) {
            *out = (int)i;
            return 0;
        }
    return -1;
}

#define PARSE_INTO(table, name, out, type)                                              \
    do {                                                                                \
        int v_;                                                                         \
        if (name_parse(table, sizeof(table) / sizeof(table[0]), name, &v_) != 0)        \
            return -1;                                                                  \
        *(out) = (type)v_;                                                              \
        return 0;                                                                       \
    } while (0)

int profile_bottleneck_type_parse(const char *name, profile_bottleneck_type_t *out) { PARSE_INTO(bottleneck_names, name, out, profile_bottleneck_type_t); }
int profile_recommendation_type_parse(const char *name, profile_recommendation_type_t *out) { PARSE_INTO(recommendation_names, name, out, profile_recommendation_type_t); }
int profile_level_parse(const char *name, profile_level_t *out) { PARSE_INTO(level_names, name, out, profile_level_t); }
int profile_edges_parse(const char *name, profile_edges_t *out) { PARSE_INTO(edges_names, name, out, profile_edges_t); }

void profile_options_init(profile_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->revision = 0;
    o->complete = true;
    o->profiled_at_us = 0;
    profile_thresholds_t *t = &o->thresholds;
    t->slow_node_pct = 30;
    t->high_token_share = 0.4;
    t->high_token_min = 10000;
    t->excessive_retries = 2;
    t->tool_latency_share = 0.5;
    t->dependency_wait_pct = 20;
    t->sequential_parallelism = 1.2;
    t->sequential_min_nodes = 3;
    t->scheduling_delay_pct = 10;
    t->scheduling_delay_min_us = 100000;
    t->downgrade_max_output_tokens = 500;
    t->reduce_context_min_input = 20000;
    t->reduce_context_factor = 3;
    t->batch_min_calls = 3;
    o->clock_skew_us = 1000;
}

profile_t *profile_new_empty(void) {
    profile_box_t *box = calloc(1, sizeof(*box));
    if (!box)
        return NULL;
    box->arena = arena_new();
    if (!box->arena) {
        free(box);
        return NULL;
    }
    return &box->profile;
}

void profile_free(profile_t *profile) {
    if (!profile)
        return;
    profile_box_t *box = (profile_box_t *)profile;
    arena_free(box->arena);
    free(box);
}

void *profile_alloc(profile_t *profile, size_t size) {
    return arena_alloc(((profile_box_t *)profile)->arena, size);
}

char *profile_strdup(profile_t *profile, const char *text) {
    return arena_strdup(((profile_box_t *)profile)->arena, text);
}

/* ---- sorting helpers ---------------------------------------------------- */

/* A name to sort, by its index into an array of names: 16 bytes, so the
 * radix passes move two thirds of what they did with the pointer inside. */
typedef struct named_index {
    uint64_t prefix; /* 8 bytes of the name, big-endian: integer order is strcmp order */
    size_t index;
} named_index_t;

/* Bytes depth * 8 .. depth * 8 + 7 of text, which is at least depth * 8 long
 * and padded (an arena copy, strmap.h): one load, not a loop over bytes. */
static uint64_t name_prefix(const char *text, size_t depth) {
    const char *name = text + 8 * depth;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, name, 8);
    uint64_t zero = strmap_zero_bytes(w);
    if (zero) { /* keep the bytes before the terminator */
        unsigned bits = (unsigned)__builtin_ctzll(zero) & ~7u;
        w = bits ? w & (~0ULL >> (64 - bits)) : 0;
    }
    return __builtin_bswap64(w);
#else
    uint64_t prefix = 0;
    size_t i = 0;
    for (; i < 8 && name[i]; i++)
        prefix = (prefix << 8) | (unsigned char)name[i];
    return prefix << (8 * (8 - i));
#endif
}

/* x before y in strcmp order, when their prefixes were taken at the same depth. */
static int named_before(const named_index_t *x, const named_index_t *y, const char *const *names) {
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix;
    return strcmp(names[x->index], names[y->index]) < 0;
}

/* A few names: insertion sort, comparisons inline. */
static void sort_few_named(named_index_t *v, size_t n, const char *const *names) {
    for (size_t i = 1; i < n; i++) {
        named_index_t x = v[i];
        size_t j = i;
        for (; j > 0 && named_before(&x, &v[j - 1], names); j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Sort v[0..n) by name. Sorting node ids is the largest sort of a profile:
 * a radix sort on 8 bytes at a time, skipping bytes that every name shares,
 * took the sort of a 1k-node profile from 127k to about 45k cycles, renaming
 * the spans' nodes included (qsort on the prefix before).
 * Names equal in all 8 bytes go on to the next 8; short runs are sorted by
 * insertion. The prefixes must be those of `depth`; tmp holds n entries;
 * counts 256. */
static void sort_named_at(named_index_t *v, named_index_t *tmp, uint32_t *counts, size_t n,
                          size_t depth, const char *const *names) {
    if (n < 64) {
        sort_few_named(v, n, names);
        return;
    }
    /* only the bytes that differ between names are sorted on */
    uint64_t all = ~0ULL, any = 0;
    for (size_t i = 0; i < n; i++) {
        all &= v[i].prefix;
        any |= v[i].prefix;
    }
    uint64_t varying = all ^ any;
    named_index_t *src = v, *dst = tmp;
    for (unsigned b = 0; b < 8; b++) { /* least significant byte first */
        if (!((varying >> (8 * b)) & 0xff))
            continue;
        uint32_t *c = counts;
        memset(c, 0, 256 * sizeof(*c));
        for (size_t i = 0; i < n; i++)
            c[(src[i].prefix >> (8 * b)) & 0xff]++;
        size_t pos = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t here = c[d];
            c[d] = (uint32_t)pos;
            pos += here;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].prefix >> (8 * b)) & 0xff]++] = src[i];
        named_index_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j].prefix == v[i].prefix)
            j++;
        /* a zero last byte: the names ended, and are equal */
        if (j - i > 1 && (v[i].prefix & 0xff)) {
            for (size_t k = i; k < j; k++)
                v[k].prefix = name_prefix(names[v[k].index], depth + 1);
            sort_named_at(v + i, tmp, counts, j - i, depth + 1, names);
        }
        i = j;
    }
}

/* names[0..n) in strcmp order, as indexes into names. The names are padded:
 * the profile's own copies. NULL when out of memory. */
static named_index_t *sort_names(arena_t *scratch, const char *const *names, size_t n) {
    named_index_t *v = arena_alloc_uninit(scratch, (n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = (named_index_t){name_prefix(names[i], 0), i};
    if (n < 64) {
        sort_few_named(v, n, names);
        return v;
    }
    named_index_t *tmp = arena_alloc_uninit(scratch, n * sizeof(*tmp));
    uint32_t *counts = arena_alloc_uninit(scratch, 256 * sizeof(*counts));
    if (!tmp || !counts)
        return NULL;
    sort_named_at(v, tmp, counts, n, 0, names);
    return v;
}

/* A tool span with what the profile takes from it, so that putting them in
 * start order does not go back to the spans. */
typedef struct timed_span {
    int64_t start_us, end_us;
    const char *span_id;
    const char *tool_name, *name;
    span_status_t status;
    size_t node;
} timed_span_t;

static int timed_span_cmp(const void *a, const void *b) {
    const timed_span_t *x = a, *y = b;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    return strcmp(x->span_id, y->span_id);
}

static int llm_call_cmp(const void *a, const void *b) {
    const dag_llm_call_t *x = a, *y = b;
    if (x->start_us != y->start_us)
        return x->start_us < y->start_us ? -1 : 1;
    return strcmp(x->span->span_id, y->span->span_id);
}

typedef struct last_attempt {
    const char *span_id; /* NULL: the node has no node span */
    int64_t start_us, end_us;
    int32_t attempt;
    span_status_t status;
} last_attempt_t;

static int size_cmp(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int string_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Nodes by end time ascending, then those that took no time before those that
 * ran, then node_id descending: the last node ending at or before a time is
 * the latest end with the smallest id, one that ran before one that did not
 * (edge inference). */
typedef struct end_order {
    int64_t end_us;
    int ran; /* end > start */
    size_t node;
} end_order_t;

static int end_order_cmp(const void *a, const void *b) {
    const end_order_t *x = a, *y = b;
    if (x->end_us != y->end_us)
        return x->end_us < y->end_us ? -1 : 1;
    if (x->ran != y->ran)
        return x->ran < y->ran ? -1 : 1;
    return x->node > y->node ? -1 : x->node < y->node; /* node index order = id order */
}

/* The first position of by_end[0..n) with end_us > t. */
static size_t first_end_after(const end_order_t *by_end, size_t n, int64_t t) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (by_end[mid].end_us <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A dependency that is not used: on an unknown node, or on the node itself. */
typedef struct bad_dep {
    size_t node;
    const char *dep;
    int self;
} bad_dep_t;

static int bad_dep_cmp(const void *a, const void *b) {
    const bad_dep_t *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->self != y->self)
        return x->self ? -1 : 1;
    return strcmp(x->dep, y->dep);
}

/* "1.2 ms": a duration for warnings. */
static void duration_text(int64_t us, char *out, size_t size) {
    if (us < 1000)
        text_format(out, size, "%lld us", (long long)us);
    else if (us < 1000000)
        text_format(out, size, "%.1f ms", (double)us / 1e3);
    else
        text_format(out, size, "%.1f s", (double)us / 1e6);
}

/* t += u; total follows input and output */
static void tokens_add(profile_tokens_t *t, const profile_tokens_t *u) {
    t->input += u->input;
    t->output += u->output;
    t->cache_read += u->cache_read;
    t->cache_write += u->cache_write;
    t->reasoning += u->reasoning;
    t->total = t->input + t->output;
}

/* ---- step 2: the node of every span --------------------------------------- */

static int span_id_cmp(const void *a, const void *b) {
    return strcmp((*(const span_t *const *)a)->span_id, (*(const span_t *const *)b)->span_id);
}

/* The index of node `id` (a padded string: one of the trace's copies),
 * created on first sight; -1 when out of memory. */
static int64_t node_index(dag_t *dag, strmap_t *node_by_id, const char **node_names,
                          size_t *node_count, const char *id) {
    /* Keyed by the profile's own copy of the id: the copies lie together, so
     * the key comparisons of the dependency lookups hit the cache where the
     * trace's scattered strings missed. */
    size_t len;
    uint32_t hash = strmap_padded_key_hash_len(id, &len);
    strmap_slot_t *slot = strmap_find_slot_padded(node_by_id, id, hash);
    if (!slot)
        return -1;
    if (!slot->key) {
        const char *copy = arena_strcopy(dag->arena, id, len);
        if (!copy || strmap_fill(node_by_id, slot, copy, hash, *node_count) != 0)
            return -1;
        node_names[(*node_count)++] = copy;
    }
    return (int64_t)slot->value;
}

/* The node a span names for itself, NULL when it inherits its parent's. A
 * node span without a node_id is still a node: named by its name, else its
 * span_id. In a trace without node spans (`top_level`), each span directly
 * under the run (or with no parent in the trace) is a node, named the same way. */
static const char *own_node_id(const trace_t *trace, const span_t *s, const span_t *run,
                               int top_level) {
    if (s->node_id && s->node_id[0])
        return s->node_id;
    if (s->kind != SPAN_KIND_NODE && !top_level)
        return NULL;
    if (top_level) {
        size_t parent;
        const char *p = s->parent_span_id;
        int under_run = !p || !p[0] || (run && strmap_padded_equal(p, run->span_id)) ||
                        !trace_find_own_span(trace, p, &parent);
        if (!under_run && s->kind != SPAN_KIND_NODE)
            return NULL;
    }
    return s->name && s->name[0] ? s->name : s->span_id;
}

/* Sets node_of[i] to a provisional node index (creation order), NODE_NONE for
 * the run span and spans with no node above them. Parent chains are walked once
 * each: resolved spans are memoised, so this is linear. A parent that was
 * rejected as invalid still passes on its node (trace_find_rejected). */
static int resolve_nodes(dag_t *dag, const trace_t *trace, const span_t *run, int top_level,
                         strmap_t *node_by_id, const char **node_names, size_t *node_count,
                         int64_t *node_of) {
    size_t n = trace_span_count(trace);
    size_t *path = arena_alloc_uninit(dag->scratch, n * sizeof(*path));
    if (!path)
        return -1;
    size_t missing_parents = 0, parent_cycles = 0, last_parent = 0, unnamed = 0;
    size_t under_invalid = 0;
    const char *missing_example = NULL, *last_parent_id = NULL, *invalid_example = NULL;
    const char *invalid_node = NULL;
    size_t *unnamed_at = NULL; /* node spans without a node_id */
    for (size_t i = 0; i < n; i++)
        node_of[i] = NODE_UNRESOLVED;
    for (size_t i = 0; i < n; i++) {
        if (node_of[i] != NODE_UNRESOLVED)
            continue;
        size_t len = 0, j = i;
        int64_t result = NODE_NONE;
        for (;;) {
            if (node_of[j] == NODE_IN_PROGRESS) {
                parent_cycles++;
                break;
            }
            if (node_of[j] != NODE_UNRESOLVED) {
                result = node_of[j];
                break;
            }
            const span_t *s = trace_span(trace, j);
            if (s->kind == SPAN_KIND_RUN) {
                node_of[j] = NODE_NONE;
                break;
            }
            const char *own = own_node_id(trace, s, run, top_level);
            if (own) {
                if (own != s->node_id && s->kind == SPAN_KIND_NODE && !top_level) {
                    if (!unnamed_at)
                        unnamed_at = arena_alloc_uninit(dag->scratch, n * sizeof(*unnamed_at));
                    if (!unnamed_at)
                        return -1;
                    unnamed_at[unnamed++] = j;
                }
                result = node_index(dag, node_by_id, node_names, node_count, own);
                if (result < 0)
                    return -1;
                node_of[j] = result;
                break;
            }
            node_of[j] = NODE_IN_PROGRESS;
            path[len++] = j;
            size_t parent;
            if (!s->parent_span_id || !s->parent_span_id[0])
                break;
            /* Siblings tend to come together, and a trace in start order
             * has a parent just before its first child: the last parent found
             * and the span before are compared first (random ids differ at
             * once when it is neither). A hash lookup is a cache miss. */
            if (last_parent_id && strmap_padded_equal(s->parent_span_id, last_parent_id)) {
                parent = last_parent;
            } else if (j > 0 && strmap_padded_equal(s->parent_span_id,
                                                    trace_span(trace, j - 1)->span_id)) {
                parent = j - 1;
                last_parent_id = s->parent_span_id;
                last_parent = parent;
            } else if (trace_find_own_span(trace, s->parent_span_id, &parent)) {
                last_parent_id = s->parent_span_id;
                last_parent = parent;
            } else {
                /* an invalid parent: its node, else its own parent's */
                const char *rejected_node = NULL, *above = s->parent_span_id;
                int found = 0;
                for (size_t hops = 0; hops < 64 && above; hops++) {
                    const char *next_above = NULL;
                    if (trace_find_own_span(trace, above, &parent)) {
                        found = 1;
                        break;
                    }
                    if (!trace_find_rejected(trace, above, &rejected_node, &next_above))
                        break;
                    if (rejected_node)
                        break;
                    above = next_above;
                }
                if (rejected_node) {
                    result = node_index(dag, node_by_id, node_names, node_count, rejected_node);
                    if (result < 0)
                        return -1;
                    if (!invalid_example || strcmp(s->span_id, invalid_example) < 0) {
                        invalid_example = s->span_id;
                        invalid_node = rejected_node;
                    }
                    under_invalid++;
                    break;
                }
                if (!found) {
                    if (!missing_example || strcmp(s->span_id, missing_example) < 0)
                        missing_example = s->span_id;
                    missing_parents++;
                    break;
                }
            }
            j = parent;
        }
        for (size_t k = 0; k < len; k++)
            node_of[path[k]] = result;
    }
    /* by span_id, so the warnings do not depend on the order spans arrived in */
    const span_t **unnamed_spans = NULL;
    if (unnamed) {
        unnamed_spans = arena_alloc_uninit(dag->scratch, unnamed * sizeof(*unnamed_spans));
        if (!unnamed_spans)
            return -1;
        for (size_t i = 0; i < unnamed; i++)
            unnamed_spans[i] = trace_span(trace, unnamed_at[i]);
        qsort(unnamed_spans, unnamed, sizeof(*unnamed_spans), span_id_cmp);
    }
    for (size_t i = 0; i < unnamed && i < 10; i++) {
        const span_t *s = unnamed_spans[i];
        dag_warn(dag, "node span %s has no node_id: profiled as node %s", s->span_id,
                 own_node_id(trace, s, run, top_level));
    }
    if (unnamed > 10)
        dag_warn(dag, "%zu node spans without a node_id in all, each profiled as a node of its "
                      "name (else its span_id)", unnamed);
    if (under_invalid)
        dag_warn(dag, "%zu span(s) under a span that was invalid count in that span's node "
                      "(e.g. %s in node %s)",
                 under_invalid, invalid_example, invalid_node);
    if (missing_parents)
        dag_warn(dag, "%zu span(s) name a parent that is not in the trace (e.g. %s); "
                      "they belong to no node unless they name one",
                 missing_parents, missing_example);
    if (parent_cycles)
        dag_warn(dag, "%zu cycle(s) in parent_span_id links were cut", parent_cycles);
    return 0;
}

/* ---- step 4: edges ------------------------------------------------------- */

/* Rows of dependencies filled in place -- node k's are list[off[k] ..
 * end[k]) -- sorted, deduplicated and packed into CSR (off[k] .. off[k + 1]).
 * Rows are laid out from counts first, so no edge list is built and copied. */
static void edges_compact(size_t nn, size_t *off, const size_t *end, size_t *list) {
    size_t w = 0;
    for (size_t k = 0; k < nn; k++) {
        size_t b = off[k], e = end[k];
        if (e - b > 16) {
            qsort(list + b, e - b, sizeof(*list), size_cmp);
        } else { /* a node has a few dependencies: insertion sort, no calls */
            for (size_t i = b + 1; i < e; i++) {
                size_t v = list[i], j = i;
                for (; j > b && list[j - 1] > v; j--)
                    list[j] = list[j - 1];
                list[j] = v;
            }
        }
        off[k] = w;
        for (size_t i = b; i < e; i++)
            if (i == b || list[i] != list[i - 1])
                list[w++] = list[i];
    }
    off[nn] = w;
}

/* Declared edges the timestamps contradict (the node started more than the
 * clock-skew tolerance before its input ended) are reported, with the
 * amount, and not used for timing: kept, they would make a node ready after
 * it started and a path longer than the run. Dropped before cycles are
 * broken, so a cycle loses an edge that disagrees with time first. */
static void drop_contradicted_edges(dag_t *dag, const profile_node_t *nodes, size_t *off,
                                    size_t *list, int64_t skew_us) {
    size_t nn = dag->node_count, w = 0, dropped = 0;
    for (size_t k = 0; k < nn; k++) {
        size_t b = off[k], e = off[k + 1];
        off[k] = w;
        for (size_t i = b; i < e; i++) {
            size_t d = list[i];
            int64_t early_us = nodes[d].end_us - nodes[k].start_us;
            if (early_us > skew_us) {
                if (dropped++ < 10) {
                    char amount[32];
                    duration_text(early_us, amount, sizeof(amount));
                    dag_warn(dag, "%s depends on %s but started %s before %s ended; "
                                  "that dependency is not used for timing",
                             nodes[k].node_id, nodes[d].node_id, amount, nodes[d].node_id);
                }
                continue;
            }
            list[w++] = d;
        }
    }
    off[nn] = w;
    if (dropped > 10)
        dag_warn(dag, "%zu dependencies contradicted by the timestamps in all, none used for timing",
                 dropped);
}

/* Depth-first search from every node in id order, dependencies in id order;
 * an edge to a node still on the stack closes a cycle and is dropped (the
 * edges that contradict time are gone by then). The post-order is a
 * topological order with dependencies first. */
static int break_cycles(dag_t *dag, size_t *off, size_t *list, const profile_node_t *nodes) {
    size_t nn = dag->node_count;
    unsigned char *color = arena_alloc(dag->scratch, nn + 1);
    size_t *stack = arena_alloc_uninit(dag->scratch, (nn + 1) * sizeof(*stack));
    size_t *next = arena_alloc_uninit(dag->scratch, (nn + 1) * sizeof(*next));
    unsigned char *dropped = arena_alloc(dag->scratch, off[nn] + 1);
    dag->topo = arena_alloc_uninit(dag->scratch, (nn + 1) * sizeof(*dag->topo));
    if (!color || !stack || !next || !dropped || !dag->topo)
        return -1;
    size_t topo_len = 0, cycles = 0;
    for (size_t root = 0; root < nn; root++) {
        if (color[root])
            continue;
        size_t sp = 0;
        stack[sp++] = root;
        color[root] = 1;
        next[root] = off[root];
        while (sp) {
            size_t u = stack[sp - 1];
            if (next[u] < off[u + 1]) {
                size_t ei = next[u]++;
                size_t v = list[ei];
                if (color[v] == 1) {
                    dropped[ei] = 1;
                    if (cycles++ < 10)
                        dag_warn(dag, "dependency cycle: %s depends on %s, which depends on it "
                                      "in turn; that dependency is not used",
                                 nodes[u].node_id, nodes[v].node_id);
                } else if (color[v] == 0) {
                    color[v] = 1;
                    next[v] = off[v];
                    stack[sp++] = v;
                }
            } else {
                color[u] = 2;
                dag->topo[topo_len++] = u;
                sp--;
            }
        }
    }
    if (cycles > 10)
        dag_warn(dag, "%zu dependency cycle edges dropped in all", cycles);
    if (!cycles)
        return 0;
    /* compact the edges that survived */
    size_t w = 0;
    for (size_t k = 0; k < nn; k++) {
        size_t b = off[k], end = off[k + 1];
        off[k] = w;
        for (size_t i = b; i < end; i++)
            if (!dropped[i])
                list[w++] = list[i];
    }
    off[nn] = w;
    return 0;
}

static int build_reverse(dag_t *dag) {
    size_t nn = dag->node_count, ne = dag->dep_off[nn];
    dag->rdep_off = arena_alloc(dag->scratch, (nn + 1) * sizeof(size_t));
    dag->rdeps = arena_alloc_uninit(dag->scratch, (ne + 1) * sizeof(size_t));
    size_t *fill = arena_alloc_uninit(dag->scratch, (nn + 1) * sizeof(size_t));
    if (!dag->rdep_off || !dag->rdeps || !fill)
        return -1;
    for (size_t i = 0; i < ne; i++)
        dag->rdep_off[dag->deps[i] + 1]++;
    for (size_t k = 0; k < nn; k++)
        dag->rdep_off[k + 1] += dag->rdep_off[k];
    memcpy(fill, dag->rdep_off, (nn + 1) * sizeof(size_t));
    for (size_t k = 0; k < nn; k++)
        for (size_t i = dag->dep_off[k]; i < dag->dep_off[k + 1]; i++)
            dag->rdeps[fill[dag->deps[i]]++] = k;
    return 0;
}

/* ---- the whole computation ------------------------------------------------ */

static int set_error(char *errstr, size_t errstr_size, const char *msg) {
    if (errstr_size)
        snprintf(errstr, errstr_size, "%s", msg);
    return -1;
}

profile_t *profile_compute(const trace_t *trace, const pricing_t *pricing,
                           const profile_options_t *options, char *errstr,
                           size_t errstr_size) {
    profile_options_t defaults;
    if (!options) {
        profile_options_init(&defaults);
        options = &defaults;
    }
    size_t n = trace_span_count(trace);
    if (n == 0) {
        set_error(errstr, errstr_size, "the trace has no valid span");
        return NULL;
    }

    dag_t dag;
    memset(&dag, 0, sizeof(dag));
    strmap_t node_by_id = {0}, model_by_name = {0};
    profile_t *p = profile_new_empty();
    if (!p)
        goto oom;
    dag.profile = p;
    dag.arena = ((profile_box_t *)p)->arena;
    dag.scratch = arena_new();
    dag.pricing = pricing;
    dag.thresholds = &options->thresholds;
    if (!dag.scratch)
        goto oom;
    arena_t *S = dag.scratch, *A = dag.arena;

    /* the trace's own warnings come first */
    for (size_t i = 0; i < trace_warning_count(trace); i++)
        dag_warn(&dag, "%s", trace_warning(trace, i));
    if (trace_warnings_dropped(trace))
        dag_warn(&dag, "%zu more input warnings not shown", trace_warnings_dropped(trace));

    /* 1. run span and dag_id, chosen as the trace was built (the earliest,
     * whatever order the spans came in), and sizes for what follows */
    const trace_summary_t *counts = trace_summary(trace);
    const span_t *run = counts->run != SIZE_MAX ? trace_span(trace, counts->run) : NULL;
    const span_t *dag_source =
        counts->dag_source != SIZE_MAX ? trace_span(trace, counts->dag_source) : NULL;
    size_t run_spans = counts->spans_of_kind[SPAN_KIND_RUN];
    size_t llm_spans = counts->spans_of_kind[SPAN_KIND_LLM];
    size_t node_spans = counts->spans_of_kind[SPAN_KIND_NODE];
    size_t tool_spans = counts->spans_of_kind[SPAN_KIND_TOOL];
    size_t named_spans = counts->named_spans, declared_edges = counts->declared_edges;
    if (run_spans > 1)
        dag_warn(&dag, "%zu run spans; the earliest (%s) is the run", run_spans, run->span_id);
    if (run && run->dag_id && run->dag_id[0])
        dag_source = run;
    else if (run)
        dag_warn(&dag, "the run span has no dag_id");
    const char *trace_id = trace_span(trace, 0)->trace_id;
    p->trace_id = arena_strdup(A, trace_id);
    p->dag_id = arena_strdup(A, dag_source ? dag_source->dag_id : "unknown");
    p->revision = options->revision;
    p->complete = options->complete;
    p->profiled_at_us = options->profiled_at_us;
    char idbuf[64];
    text_format(idbuf, sizeof(idbuf), "#%lld", (long long)options->revision);
    size_t id_len = strlen(trace_id) + strlen(idbuf) + 1;
    char *profile_id = arena_alloc(A, id_len);
    if (!p->trace_id || !p->dag_id || !profile_id)
        goto oom;
    text_format(profile_id, id_len, "%s%s", trace_id, idbuf);
    p->profile_id = profile_id;

    /* 2. the node of every span */
    if (strmap_init(&node_by_id, named_spans) != 0 || strmap_init(&model_by_name, 16) != 0)
        goto oom;
    const char **created_names = arena_alloc_uninit(S, n * sizeof(*created_names));
    int64_t *node_of = arena_alloc_uninit(S, n * sizeof(*node_of));
    if (!created_names || !node_of)
        goto oom;
    size_t nn = 0;
    /* A trace without node spans still has nodes: its top-level spans. */
    int top_level = node_spans == 0 && named_spans == 0 && n > run_spans;
    if (resolve_nodes(&dag, trace, run, top_level, &node_by_id, created_names, &nn, node_of) != 0)
        goto oom;
    if (top_level)
        dag_warn(&dag, "the trace has no node spans: its %zu top-level span(s) under the run are "
                       "profiled as nodes, named by node_id, else name, else span_id",
                 nn);

    /* nodes sorted by id; remap the provisional indexes */
    named_index_t *order = sort_names(S, created_names, nn);
    size_t *rank = arena_alloc_uninit(S, (nn + 1) * sizeof(*rank));
    if (!order || !rank)
        goto oom;
    for (size_t k = 0; k < nn; k++)
        rank[order[k].index] = k;
    for (size_t i = 0; i < n; i++)
        if (node_of[i] >= 0)
            node_of[i] = (int64_t)rank[node_of[i]];

    dag.node_count = nn;
    profile_node_t *nodes = arena_alloc(A, (nn + 1) * sizeof(*nodes));
    if (!nodes)
        goto oom;
    for (size_t k = 0; k < nn; k++) {
        nodes[k].node_id = created_names[order[k].index]; /* the copy resolve_nodes made */
        nodes[k].start_us = INT64_MAX;
        nodes[k].end_us = INT64_MIN;
    }

    /* 3. aggregate spans into nodes; price every llm call */
    size_t *dep_off = arena_alloc(S, (nn + 1) * sizeof(size_t));
    /* each node's last attempt: the node span with the highest attempt, then
     * the latest end, then the largest span_id */
    last_attempt_t *last_attempt = arena_alloc_uninit(S, (nn + 1) * sizeof(*last_attempt));
    unsigned char *any_error = arena_alloc(S, nn + 1), *any_ok = arena_alloc(S, nn + 1);
    size_t *tool_count = arena_alloc(S, (nn + 1) * sizeof(size_t));
    dag.call_off = arena_alloc(S, (nn + 2) * sizeof(size_t));
    dag.all_calls = arena_alloc_uninit(S, (llm_spans + 1) * sizeof(dag_llm_call_t));
    dag.final_attempt_start_us = arena_alloc_uninit(S, (nn + 1) * sizeof(int64_t));
    if (last_attempt)
        for (size_t k = 0; k < nn; k++)
            last_attempt[k].span_id = NULL; /* none yet; the rest is written with it */
    if (!dep_off || !last_attempt || !any_error || !any_ok || !tool_count ||
        !dag.call_off || !dag.all_calls || !dag.final_attempt_start_us)
        goto oom;

    /* per distinct model, grown as models appear: a trace has a handful */
    profile_model_usage_t *usage = NULL;
    pricing_price_t *usage_price = NULL;
    unsigned char *usage_priced = NULL;
    size_t model_count = 0, model_cap = 0;

    /* The node and tool spans of nodes, in trace order, for the passes that
     * need only them: walking every span again cost more than the work. */
    size_t *node_span_at = arena_alloc_uninit(S, (node_spans + 1) * sizeof(size_t));
    size_t *tool_span_at = arena_alloc_uninit(S, (tool_spans + 1) * sizeof(size_t));
    size_t node_span_count = 0, tool_span_count = 0;
    if (!node_span_at || !tool_span_at)
        goto oom;

    profile_summary_t *sum = &p->summary;
    const char *model_source[MODEL_SOURCES]; /* a span's model pointer, per model index */
    int has_declared = 0;
    int64_t clamped_calls = 0;
    size_t outside_spans = 0;
    for (size_t i = 0; i < n; i++) {
        const span_t *s = trace_span(trace, i);
        int64_t k = node_of[i];
        if (k >= 0) {
            profile_node_t *nd = &nodes[k];
            if (s->start_us < nd->start_us)
                nd->start_us = s->start_us;
            if (s->end_us > nd->end_us)
                nd->end_us = s->end_us;
            if (s->status == SPAN_STATUS_ERROR)
                any_error[k] = 1;
            else if (s->status == SPAN_STATUS_OK)
                any_ok[k] = 1;
            if (s->kind == SPAN_KIND_NODE) {
                node_span_at[node_span_count++] = i;
                if (s->attempt >= 1)
                    nd->retries++;
                last_attempt_t *last = &last_attempt[k];
                if (!last->span_id || s->attempt > last->attempt ||
                    (s->attempt == last->attempt &&
                     (s->end_us > last->end_us ||
                      (s->end_us == last->end_us && strcmp(s->span_id, last->span_id) > 0))))
                    *last = (last_attempt_t){s->span_id, s->start_us, s->end_us, s->attempt,
                                             s->status};
                if (s->depends_on_count) {
                    has_declared = 1;
                    dep_off[k + 1] += s->depends_on_count; /* the rows of step 4 */
                }
            } else if (s->kind == SPAN_KIND_TOOL) {
                tool_span_at[tool_span_count++] = i;
                tool_count[k]++;
            }
        } else if (s->kind != SPAN_KIND_RUN) {
            outside_spans++;
        }
        if (s->kind == SPAN_KIND_LLM) {
            const char *model = s->model && s->model[0] ? s->model : "unknown";
            /* a run calls a few models, and the trace shares one copy of a
             * name between the spans near each other: a pointer finds most */
            size_t m = SIZE_MAX;
            for (size_t c = 0; c < model_count && c < MODEL_SOURCES; c++)
                if (model_source[c] == model) {
                    m = c;
                    break;
                }
            int rc = 0;
            if (m == SIZE_MAX) {
                rc = strmap_put(&model_by_name, model, model_count, &m);
                if (rc < 0)
                    goto oom;
            }
            if (rc == 1) {
                if (model_count == model_cap) {
                    size_t cap = model_cap ? 2 * model_cap : 8;
                    profile_model_usage_t *u = arena_alloc(S, cap * sizeof(*u));
                    pricing_price_t *up = arena_alloc(S, cap * sizeof(*up));
                    unsigned char *ud = arena_alloc(S, cap);
                    if (!u || !up || !ud)
                        goto oom;
                    if (model_count) {
                        memcpy(u, usage, model_count * sizeof(*u));
                        memcpy(up, usage_price, model_count * sizeof(*up));
                        memcpy(ud, usage_priced, model_count);
                    }
                    usage = u;
                    usage_price = up;
                    usage_priced = ud;
                    model_cap = cap;
                }
                m = model_count++;
                usage[m].model = arena_strdup(A, model);
                if (!usage[m].model)
                    goto oom;
                usage_priced[m] = pricing_lookup(pricing, s->model, &usage_price[m]) == 0;
            }
            if (m < MODEL_SOURCES)
                model_source[m] = model; /* the latest copy: the next spans share it */
            if (s->cache_read_tokens + s->cache_write_tokens > s->input_tokens)
                clamped_calls++;
            dag_llm_call_t *call = &dag.all_calls[dag.call_count++];
            call->span = s;
            call->start_us = s->start_us;
            call->input_tokens = s->input_tokens;
            call->output_tokens = s->output_tokens;
            call->cache_read_tokens = s->cache_read_tokens;
            call->cache_write_tokens = s->cache_write_tokens;
            call->model = m;
            call->node = (int32_t)k;
            call->cost_usd = usage_priced[m]
                                 ? pricing_cost_usd(&usage_price[m], s->input_tokens, s->output_tokens,
                                                    s->cache_read_tokens, s->cache_write_tokens)
                                 : 0.0;
            /* integer sums here; costs are summed below in a fixed order, so
             * that the figures do not depend on the order spans arrived in */
            profile_tokens_t used = {.input = s->input_tokens,
                                     .output = s->output_tokens,
                                     .cache_read = s->cache_read_tokens,
                                     .cache_write = s->cache_write_tokens,
                                     .reasoning = s->reasoning_tokens};
            usage[m].calls++;
            tokens_add(&usage[m].tokens, &used);
            if (k >= 0) {
                tokens_add(&nodes[k].tokens, &used);
                dag.call_off[k + 1]++;
            }
        }
    }
    if (clamped_calls)
        dag_warn(&dag, "%lld llm call(s) report more cache tokens than input tokens; "
                       "their uncached input is counted as 0",
                 (long long)clamped_calls);

    /* llm calls per node (CSR, start order), tool calls and models per node */
    for (size_t k = 0; k < nn; k++)
        dag.call_off[k + 1] += dag.call_off[k];
    dag.calls = arena_alloc_uninit(S, (dag.call_off[nn] + 1) * sizeof(dag_llm_call_t));
    size_t *call_fill = arena_alloc_uninit(S, (nn + 1) * sizeof(size_t));
    if (!dag.calls || !call_fill)
        goto oom;
    memcpy(call_fill, dag.call_off, nn * sizeof(size_t));
    dag_llm_call_t *loose = arena_alloc_uninit(S, (dag.call_count + 1) * sizeof(*loose));
    size_t loose_count = 0;
    if (!loose)
        goto oom;
    for (size_t c = 0; c < dag.call_count; c++) {
        if (dag.all_calls[c].node >= 0)
            dag.calls[call_fill[dag.all_calls[c].node]++] = dag.all_calls[c];
        else
            loose[loose_count++] = dag.all_calls[c];
    }
    /* Costs in a fixed order: each node's calls by start, nodes by id, then the
     * calls that belong to no node. */
    for (size_t k = 0; k < nn; k++)
        if (dag.call_off[k + 1] - dag.call_off[k] > 1)
            qsort(dag.calls + dag.call_off[k], dag.call_off[k + 1] - dag.call_off[k],
                  sizeof(*dag.calls), llm_call_cmp);
    qsort(loose, loose_count, sizeof(*loose), llm_call_cmp);
    for (size_t k = 0; k < nn; k++)
        for (size_t c = dag.call_off[k]; c < dag.call_off[k + 1]; c++) {
            nodes[k].cost_usd += dag.calls[c].cost_usd;
            usage[dag.calls[c].model].cost_usd += dag.calls[c].cost_usd;
            sum->cost_usd += dag.calls[c].cost_usd;
        }
    for (size_t c = 0; c < loose_count; c++) {
        usage[loose[c].model].cost_usd += loose[c].cost_usd;
        sum->cost_usd += loose[c].cost_usd;
        sum->outside_cost_usd += loose[c].cost_usd;
        const span_t *ls = loose[c].span;
        profile_tokens_t used = {.input = ls->input_tokens,
                                 .output = ls->output_tokens,
                                 .cache_read = ls->cache_read_tokens,
                                 .cache_write = ls->cache_write_tokens,
                                 .reasoning = ls->reasoning_tokens};
        tokens_add(&sum->outside_tokens, &used);
    }
    sum->outside_calls = (int64_t)loose_count;
    {
        /* every span is in a node, is the run, or is named here */
        size_t outside = 0;
        const char *example = NULL;
        for (size_t i = 0; outside_spans && i < n; i++) {
            const span_t *s = trace_span(trace, i);
            if (node_of[i] >= 0 || s->kind == SPAN_KIND_RUN)
                continue;
            if (!example || strcmp(s->span_id, example) < 0)
                example = s->span_id;
            outside++;
        }
        if (outside)
            dag_warn(&dag, "%zu span(s) belong to no node (e.g. %s); their %lld llm call(s) are "
                           "counted outside any node",
                     outside, example, (long long)loose_count);
    }
    /* the run's tokens: every llm call counts under exactly one model */
    for (size_t m = 0; m < model_count; m++)
        tokens_add(&sum->tokens, &usage[m].tokens);
    /* each distinct model priced once, for the advice */
    dag.model_count = model_count;
    dag.models = arena_alloc(S, (model_count + 1) * sizeof(*dag.models));
    if (!dag.models)
        goto oom;
    for (size_t m = 0; m < model_count; m++) {
        dag_model_t *dm = &dag.models[m];
        dm->name = usage[m].model;
        dm->priced = usage_priced[m];
        dm->price = usage_price[m];
        const char *cheaper = dm->priced ? pricing_downgrade(pricing, dm->name) : NULL;
        if (cheaper && pricing_lookup(pricing, cheaper, &dm->cheaper_price) == 0)
            dm->cheaper = cheaper;
    }

    /* by_model, sorted; unpriced models */
    const char **model_names = arena_alloc_uninit(S, (model_count + 1) * sizeof(char *));
    if (!model_names)
        goto oom;
    for (size_t m = 0; m < model_count; m++)
        model_names[m] = usage[m].model;
    named_index_t *morder = sort_names(S, model_names, model_count);
    p->by_model = arena_alloc(A, (model_count + 1) * sizeof(*p->by_model));
    sum->unpriced_models = arena_alloc(A, (model_count + 1) * sizeof(char *));
    if (!morder || !p->by_model || !sum->unpriced_models)
        goto oom;
    for (size_t m = 0; m < model_count; m++) {
        p->by_model[m] = usage[morder[m].index];
        if (!usage_priced[morder[m].index])
            sum->unpriced_models[sum->unpriced_model_count++] = p->by_model[m].model;
    }
    p->model_count = model_count;

    {
        /* tool calls in start order: bucket them by node, sort each bucket */
        size_t total_tools = 0;
        for (size_t k = 0; k < nn; k++)
            total_tools += tool_count[k];
        /* the nodes' tool calls, depends_on and models are slices of one array
         * each: an allocation per node and array was a tenth of a profile */
        profile_tool_call_t *all_tool_calls =
            arena_alloc_uninit(A, (total_tools + 1) * sizeof(*all_tool_calls));
        if (!all_tool_calls)
            goto oom;
        for (size_t k = 0, at = 0; k < nn; k++) {
            nodes[k].tool_calls = all_tool_calls + at;
            at += tool_count[k];
        }
        timed_span_t *ts = arena_alloc_uninit(S, (total_tools + 1) * sizeof(*ts));
        size_t *tool_fill = arena_alloc_uninit(S, (nn + 1) * sizeof(size_t));
        dag.tool_off = arena_alloc_uninit(S, (nn + 1) * sizeof(size_t));
        dag.tools = arena_alloc_uninit(S, (total_tools + 1) * sizeof(*dag.tools));
        if (!ts || !tool_fill || !dag.tool_off || !dag.tools)
            goto oom;
        dag.tool_off[0] = 0;
        for (size_t k = 0; k < nn; k++)
            dag.tool_off[k + 1] = dag.tool_off[k] + tool_count[k];
        memcpy(tool_fill, dag.tool_off, nn * sizeof(size_t));
        for (size_t j = 0; j < tool_span_count; j++) {
            size_t i = tool_span_at[j];
            const span_t *s = trace_span(trace, i);
            size_t k = (size_t)node_of[i];
            ts[tool_fill[k]++] = (timed_span_t){s->start_us, s->end_us, s->span_id,
                                                s->tool_name ? s->tool_name : "", s->name,
                                                s->status, k};
        }
        for (size_t k = 0; k < nn; k++)
            if (tool_count[k] > 1)
                qsort(ts + dag.tool_off[k], tool_count[k], sizeof(*ts), timed_span_cmp);
        const char *last_tool = NULL, *last_tool_source = NULL;
        for (size_t j = 0; j < total_tools; j++) {
            const timed_span_t *s = &ts[j];
            profile_node_t *nd = &nodes[s->node];
            /* a trace shares the copies of repeated names: equal pointers, equal names */
            int same = nd->tool_call_count > 0 && (s->tool_name == ts[j - 1].tool_name ||
                                                   strcmp(s->tool_name, ts[j - 1].tool_name) == 0);
            dag.tools[j] = (dag_tool_t){s->start_us, s->end_us, s->tool_name, same};
            profile_tool_call_t *tc = &nd->tool_calls[nd->tool_call_count++];
            const char *tool = s->tool_name[0] ? s->tool_name
                               : s->name && s->name[0] ? s->name
                                                       : "unknown";
            /* a run calls a few tools many times: copy each name once in a row */
            if (!last_tool || (tool != last_tool_source && strcmp(tool, last_tool) != 0)) {
                last_tool = arena_strdup(A, tool);
                if (!last_tool)
                    goto oom;
            }
            last_tool_source = tool;
            tc->tool = last_tool;
            tc->duration_us = s->end_us - s->start_us;
            tc->ok = s->status != SPAN_STATUS_ERROR;
        }
    }
    size_t *model_seen_by = arena_alloc(S, (model_count + 1) * sizeof(size_t)); /* node + 1 */
    if (!model_seen_by)
        goto oom;
    const char **all_models = arena_alloc_uninit(A, (dag.call_off[nn] + 1) * sizeof(char *));
    if (!all_models)
        goto oom;
    for (size_t k = 0; k < nn; k++) {
        profile_node_t *nd = &nodes[k];
        size_t b = dag.call_off[k], e = dag.call_off[k + 1];
        nd->models = all_models + b;
        /* the distinct models of its calls, by name; the names are the
         * profile's own copies in by_model (one per model, not per node) */
        for (size_t i = b; i < e; i++) {
            size_t m = dag.calls[i].model;
            if (model_seen_by[m] != k + 1) {
                model_seen_by[m] = k + 1;
                nd->models[nd->model_count++] = usage[m].model;
            }
        }
        if (nd->model_count > 1)
            qsort(nd->models, nd->model_count, sizeof(char *), string_ptr_cmp);

        const last_attempt_t *last = &last_attempt[k];
        if (last->span_id) {
            nd->status = last->status;
            dag.final_attempt_start_us[k] = last->start_us;
        } else {
            nd->status = any_error[k] ? SPAN_STATUS_ERROR : any_ok[k] ? SPAN_STATUS_OK : SPAN_STATUS_UNSET;
            dag.final_attempt_start_us[k] = nd->start_us;
        }
        nd->exec_us = nd->end_us - nd->start_us;
    }

    /* 4. edges */
    /* room for every declared edge (counted per node in step 3), or one
     * inferred edge per node */
    size_t *dep_end = arena_alloc_uninit(S, (nn + 1) * sizeof(size_t));
    size_t *deps = arena_alloc_uninit(S, ((has_declared ? declared_edges : nn) + 1) * sizeof(size_t));
    if (!dep_end || !deps)
        goto oom;
    if (has_declared) {
        sum->edges = PROFILE_EDGES_DECLARED;
        size_t unknown = 0, bad_dep_count = 0;
        bad_dep_t *bad_deps = NULL; /* unknown and self dependencies, for the warnings */
        for (size_t k = 0; k < nn; k++)
            dep_off[k + 1] += dep_off[k];
        memcpy(dep_end, dep_off, nn * sizeof(size_t));
        for (size_t j = 0; j < node_span_count; j++) {
            size_t i = node_span_at[j];
            const span_t *s = trace_span(trace, i);
            size_t k = (size_t)node_of[i];
            for (size_t j = 0; j < s->depends_on_count; j++) {
                size_t d;
                int known = strmap_get_padded(&node_by_id, s->depends_on[j],
                                              strmap_padded_key_hash(s->depends_on[j]), &d);
                if (known)
                    d = rank[d];
                if (!known || d == k) {
                    if (!bad_deps)
                        bad_deps = arena_alloc_uninit(S, declared_edges * sizeof(*bad_deps));
                    if (!bad_deps)
                        goto oom;
                    bad_deps[bad_dep_count++] = (bad_dep_t){k, s->depends_on[j], known};
                    unknown += !known;
                } else {
                    deps[dep_end[k]++] = d;
                }
            }
        }
        /* in node and id order, so the ones shown do not depend on arrival order */
        if (bad_dep_count > 1)
            qsort(bad_deps, bad_dep_count, sizeof(*bad_deps), bad_dep_cmp);
        for (size_t b = 0, shown = 0; b < bad_dep_count && shown < 10; b++) {
            const bad_dep_t *x = &bad_deps[b];
            if (b > 0 && bad_dep_cmp(x, x - 1) == 0)
                continue; /* another attempt of the node said the same */
            shown++;
            if (x->self)
                dag_warn(&dag, "node %s depends on itself (ignored)", nodes[x->node].node_id);
            else if (trace_rejected_node(trace, x->dep))
                dag_warn(&dag, "node %s depends on %s, whose every span was invalid "
                               "(dependency ignored)",
                         nodes[x->node].node_id, x->dep);
            else
                dag_warn(&dag, "node %s depends on unknown node %s (ignored)",
                         nodes[x->node].node_id, x->dep);
        }
        if (unknown > 10)
            dag_warn(&dag, "%zu dependencies on unknown nodes ignored in all", unknown);
    } else {
        /* Each node depends on the node that ended at or before its start with
         * the latest end (ties: smallest node_id): one binary search per node. */
        sum->edges = PROFILE_EDGES_INFERRED;
        end_order_t *by_end = arena_alloc_uninit(S, (nn + 1) * sizeof(*by_end));
        if (!by_end)
            goto oom;
        for (size_t k = 0; k < nn; k++)
            by_end[k] = (end_order_t){nodes[k].end_us, nodes[k].end_us > nodes[k].start_us, k};
        qsort(by_end, nn, sizeof(*by_end), end_order_cmp);
        size_t count = 0;
        for (size_t k = 0; k < nn; k++) {
            dep_off[k] = dep_end[k] = count;
            /* The input must also have started strictly before the node:
             * start times then rise along every edge, so no inferred edge
             * closes a cycle (two nodes that took no time at one instant do
             * not depend on each other). A node ending exactly at the start
             * qualifies only if it ran; those sort last among equal ends. */
            int64_t start = nodes[k].start_us;
            size_t lo = first_end_after(by_end, nn, start);
            if (lo > 0 && by_end[lo - 1].end_us == start && !by_end[lo - 1].ran)
                lo = start > INT64_MIN ? first_end_after(by_end, lo, start - 1) : 0;
            if (lo == 0)
                continue;
            deps[count++] = by_end[lo - 1].node;
            dep_end[k] = count;
        }
    }
    edges_compact(nn, dep_off, dep_end, deps);
    if (has_declared)
        drop_contradicted_edges(&dag, nodes, dep_off, deps, options->clock_skew_us);
    dag.dep_off = dep_off;
    dag.deps = deps;
    if (break_cycles(&dag, dag.dep_off, dag.deps, nodes) != 0 || build_reverse(&dag) != 0)
        goto oom;

    /* 5. timing */
    /* The profile window is the run span and every node: a node that ran
     * before the run span or after it (another host's clock, a node left
     * running) is inside the profile, and said to be outside the run span.
     * Without a run span, the run is the extent of its spans. */
    int64_t run_start = run ? run->start_us : counts->min_start_us;
    int64_t run_end = run ? run->end_us : counts->max_end_us;
    if (run && nn) {
        int64_t before = 0, after = 0;
        size_t outside = 0;
        for (size_t k = 0; k < nn; k++) {
            int64_t early = run->start_us - nodes[k].start_us, late = nodes[k].end_us - run->end_us;
            if (early > before)
                before = early;
            if (late > after)
                after = late;
            outside += early > 0 || late > 0;
        }
        if (outside) {
            char before_text[48] = "", after_text[48] = "";
            if (before) {
                duration_text(before, before_text, 32);
                strcat(before_text, " before its start");
            }
            if (after) {
                duration_text(after, after_text, 32);
                strcat(after_text, " after its end");
            }
            dag_warn(&dag, "%zu node(s) ran outside the run span, by up to %s%s%s; "
                           "the profile window covers them",
                     outside, before_text, before && after ? " and " : "", after_text);
            run_start -= before;
            run_end += after;
        }
    }
    dag.run_start_us = run_start;
    dag.run_end_us = run_end;
    sum->run_start_us = run_start;
    sum->wall_us = run_end - run_start;
    /* written for every node before they are read (in topological order) */
    dag.lag_us = arena_alloc_uninit(S, (nn + 1) * sizeof(int64_t));
    int64_t *earliest_finish = arena_alloc_uninit(S, (nn + 1) * sizeof(int64_t));
    int64_t *latest_start = arena_alloc_uninit(S, (nn + 1) * sizeof(int64_t));
    if (!dag.lag_us || !earliest_finish || !latest_start)
        goto oom;
    int replay_is_trace = 1;
    int64_t latest_end = 0;
    for (size_t k = 0; k < nn; k++) {
        profile_node_t *nd = &nodes[k];
        int64_t ready = run_start;
        int has_dep = 0;
        for (size_t i = dag.dep_off[k]; i < dag.dep_off[k + 1]; i++) {
            int64_t e = nodes[dag.deps[i]].end_us;
            if (!has_dep || e > ready)
                ready = e;
            has_dep = 1;
        }
        /* an input that ended after the node started did so within the
         * clock-skew tolerance: the node had it when it started. A replay
         * then waits for it, and differs from the trace. */
        if (ready > nd->start_us) {
            ready = nd->start_us;
            replay_is_trace = 0;
        }
        nd->ready_us = ready;
        nd->blocked_us = ready - run_start;
        nd->queued_us = nd->start_us - ready;
        dag.lag_us[k] = nd->start_us - ready;
        /* saturate: spans may carry any int64 times, and a sum must not wrap */
        sum->work_us = nd->exec_us > INT64_MAX - sum->work_us ? INT64_MAX : sum->work_us + nd->exec_us;
        if (k == 0 || nd->end_us - run_start > latest_end)
            latest_end = nd->end_us - run_start;
    }
    dag.replay_is_trace = replay_is_trace;
    dag.trace_end_us = latest_end;
    /* CPM: forward pass for earliest finish, backward pass for latest start.
     * An edge within the clock-skew tolerance overlaps its input by
     * overlap_us; the node may start that much before its input finishes, so
     * no path is longer than the time its nodes spanned, nor the wall time. */
    int64_t ideal = 0;
    for (size_t t = 0; t < nn; t++) {
        size_t k = dag.topo[t];
        int64_t es = 0;
        for (size_t i = dag.dep_off[k]; i < dag.dep_off[k + 1]; i++) {
            size_t d = dag.deps[i];
            int64_t overlap_us = nodes[d].end_us - nodes[k].start_us;
            int64_t from = earliest_finish[d] - (overlap_us > 0 ? overlap_us : 0);
            if (from > es)
                es = from;
        }
        earliest_finish[k] = es + nodes[k].exec_us;
        if (earliest_finish[k] > ideal)
            ideal = earliest_finish[k];
    }
    for (size_t t = nn; t-- > 0;) {
        size_t k = dag.topo[t];
        int64_t lf = ideal;
        for (size_t i = dag.rdep_off[k]; i < dag.rdep_off[k + 1]; i++) {
            size_t r = dag.rdeps[i];
            int64_t overlap_us = nodes[k].end_us - nodes[r].start_us;
            int64_t until = latest_start[r] + (overlap_us > 0 ? overlap_us : 0);
            if (until < lf)
                lf = until;
        }
        latest_start[k] = lf - nodes[k].exec_us;
        nodes[k].slack_us = latest_start[k] - (earliest_finish[k] - nodes[k].exec_us);
    }
    sum->ideal_wall_us = ideal;
    sum->node_count = (int64_t)nn;
    sum->span_count = (int64_t)n;
    sum->parallelism = sum->wall_us > 0 ? (double)sum->work_us / (double)sum->wall_us : 0;
    /* a run that did no work could not have been scheduled better */
    sum->schedule_efficiency =
        sum->work_us > 0 && sum->wall_us > 0 ? (double)ideal / (double)sum->wall_us : 1;

    /* observed critical path: back from the latest-ending node */
    p->critical_path = arena_alloc_uninit(A, (nn + 1) * sizeof(char *)); /* count set below */
    size_t *path_nodes = arena_alloc_uninit(S, (nn + 1) * sizeof(size_t));
    if (!p->critical_path || !path_nodes)
        goto oom;
    if (nn) {
        size_t cur = 0;
        for (size_t k = 1; k < nn; k++)
            if (nodes[k].end_us > nodes[cur].end_us)
                cur = k;
        size_t len = 0;
        for (;;) {
            nodes[cur].on_critical_path = true;
            path_nodes[len] = cur;
            p->critical_path[len++] = nodes[cur].node_id;
            size_t b = dag.dep_off[cur], e = dag.dep_off[cur + 1];
            if (b == e || len >= nn)
                break;
            size_t best = dag.deps[b];
            for (size_t i = b + 1; i < e; i++)
                if (nodes[dag.deps[i]].end_us > nodes[best].end_us)
                    best = dag.deps[i];
            cur = best;
        }
        for (size_t i = 0; i < len / 2; i++) {
            const char *tmp = p->critical_path[i];
            p->critical_path[i] = p->critical_path[len - 1 - i];
            p->critical_path[len - 1 - i] = tmp;
            size_t t = path_nodes[i];
            path_nodes[i] = path_nodes[len - 1 - i];
            path_nodes[len - 1 - i] = t;
        }
        p->critical_path_count = len;
        /* The time the path's nodes covered: the sum of their exec_us, less
         * what overlapped within the clock-skew tolerance. In path order, a
         * node counts from where the path so far had reached. */
        int64_t covered_until = INT64_MIN;
        for (size_t i = 0; i < len; i++) {
            const profile_node_t *nd = &nodes[path_nodes[i]];
            int64_t from = nd->start_us > covered_until ? nd->start_us : covered_until;
            if (nd->end_us > from) {
                sum->critical_path_us += nd->end_us - from;
                covered_until = nd->end_us;
            }
        }
    }

    /* depends_on names per node, in id order */
    const char **all_deps = arena_alloc_uninit(A, (dag.dep_off[nn] + 1) * sizeof(char *));
    if (!all_deps)
        goto oom;
    for (size_t i = 0; i < dag.dep_off[nn]; i++)
        all_deps[i] = nodes[dag.deps[i]].node_id;
    for (size_t k = 0; k < nn; k++) {
        nodes[k].depends_on = all_deps + dag.dep_off[k];
        nodes[k].depends_on_count = dag.dep_off[k + 1] - dag.dep_off[k];
    }
    p->nodes = nodes;
    p->node_count = nn;

    /* 6. bottlenecks and recommendations */
    if (advise(&dag) != 0)
        goto oom;

    if (dag.warnings_dropped) {
        dag.closing_warning = 1;
        dag_warn(&dag, "%zu more warnings not shown", dag.warnings_dropped);
    }
    p->warnings = arena_alloc(A, (dag.warning_count + 1) * sizeof(char *));
    if (!p->warnings)
        goto oom;
    if (dag.warning_count)
        memcpy(p->warnings, dag.warnings, dag.warning_count * sizeof(char *));
    p->warning_count = dag.warning_count;

    strmap_free(&node_by_id);
    strmap_free(&model_by_name);
    arena_free(dag.scratch);
    return p;
oom:
    set_error(errstr, errstr_size, "out of memory while profiling");
    strmap_free(&node_by_id);
    strmap_free(&model_by_name);
    arena_free(dag.scratch);
    profile_free(p);
    return NULL;
}
