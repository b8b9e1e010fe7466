/* advise.c -- bottlenecks and recommendations, with savings computed from the trace.
 *
 * A time saving is never a guess: the run is replayed (dag_replay) with the
 * change applied -- a node twice as fast, a node started as soon as its inputs
 * were ready, retries removed, calls batched, an edge removed -- and the saving
 * is how much earlier the last node finishes. A cost saving re-prices the calls
 * concerned. Every kind of finding is capped at a few per profile so that the
 * number of replays, each linear, stays constant. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "textfmt.h"

#define ADVICE_MAX_PER_TYPE 5
#define ADVICE_MAX_EDGES_TRIED 8

typedef struct advice {
    dag_t *dag;
    const profile_node_t *nodes;
    size_t nn;
    int64_t wall_us;
    int64_t *exec;    /* working copies, restored after each what-if */
    int64_t *lag;
    int64_t *scratch;
    int64_t base_end; /* replay of the trace as observed */
    profile_bottleneck_t *bottlenecks;
    size_t bottleneck_count, bottleneck_cap;
    profile_recommendation_t *recs;
    size_t rec_count, rec_cap;
} advice_t;

static int64_t what_if(advice_t *a, size_t skip_node, size_t skip_dep) {
    int64_t end = dag_replay(a->dag, a->exec, a->lag, skip_node, skip_dep, a->scratch);
    int64_t saved = a->base_end - end;
    return saved > 0 ? saved : 0;
}

/* Saving if node k ran for exec_us instead. */
static int64_t what_if_exec(advice_t *a, size_t k, int64_t exec_us) {
    int64_t old = a->exec[k];
    a->exec[k] = exec_us < 0 ? 0 : exec_us;
    int64_t saved = what_if(a, SIZE_MAX, SIZE_MAX);
    a->exec[k] = old;
    return saved;
}

static double pct_of_wall(const advice_t *a, int64_t us) {
    if (a->wall_us <= 0)
        return 0;
    double pct = 100.0 * (double)us / (double)a->wall_us;
    return pct > 100 ? 100 : pct < 0 ? 0 : pct;
}

static void human_us(int64_t us, char *out, size_t size) {
    if (us < 0)
        us = 0;
    if (us < 1000)
        text_format(out, size, "%lld us", (long long)us);
    else if (us < 1000000)
        text_format(out, size, "%.1f ms", (double)us / 1e3);
    else if (us < 60000000)
        text_format(out, size, "%.2f s", (double)us / 1e6);
    else
        text_format(out, size, "%.1f min", (double)us / 6e7);
}

static char *text(advice_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *text(advice_t *a, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    text_vformat(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return arena_strdup(a->dag->arena, buf);
}

static profile_level_t level_of(double pct) {
    return pct >= 30 ? PROFILE_LEVEL_HIGH : pct >= 10 ? PROFILE_LEVEL_MEDIUM : PROFILE_LEVEL_LOW;
}

static int add_bottleneck(advice_t *a, profile_bottleneck_type_t type, size_t k, double impact,
                          char *details) {
    if (!details)
        return -1;
    if (a->bottleneck_count == a->bottleneck_cap) {
        size_t cap = a->bottleneck_cap ? a->bottleneck_cap * 2 : 16;
        profile_bottleneck_t *grown = arena_alloc(a->dag->scratch, cap * sizeof(*grown));
        if (!grown)
            return -1;
        if (a->bottleneck_count)
            memcpy(grown, a->bottlenecks, a->bottleneck_count * sizeof(*grown));
        a->bottlenecks = grown;
        a->bottleneck_cap = cap;
    }
    profile_bottleneck_t *b = &a->bottlenecks[a->bottleneck_count++];
    b->type = type;
    b->node_id = a->nodes[k].node_id;
    b->impact_pct = impact;
    b->severity = level_of(impact);
    b->details = details;
    return 0;
}

static profile_recommendation_t *add_rec(advice_t *a, profile_recommendation_type_t type,
                                         size_t node_id_count) {
    if (a->rec_count == a->rec_cap) {
        size_t cap = a->rec_cap ? a->rec_cap * 2 : 16;
        profile_recommendation_t *grown = arena_alloc(a->dag->scratch, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        if (a->rec_count)
            memcpy(grown, a->recs, a->rec_count * sizeof(*grown));
        a->recs = grown;
        a->rec_cap = cap;
    }
    profile_recommendation_t *r = &a->recs[a->rec_count];
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->node_ids = arena_alloc(a->dag->arena, (node_id_count + 1) * sizeof(char *));
    if (!r->node_ids)
        return NULL;
    a->rec_count++;
    return r;
}

/* ---- choosing the top candidates of a kind --------------------------------- */

typedef struct candidate {
    double score;
    size_t node;
} candidate_t;

static int candidate_cmp(const void *x, const void *y) {
    const candidate_t *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* Move the best k of base[0..count) (cmp order) to the front, sorted; the rest
 * stay behind in no order. Each element is compared with the k-th best so far,
 * usually once: sorting every candidate to show a few of them was a sixth of
 * a 1k-node profile (bench_engine). Elements are at most 64 bytes. */
static size_t top_k(void *base, size_t count, size_t size, size_t k,
                    int (*cmp)(const void *, const void *)) {
    unsigned char *b = base, tmp[64];
    if (size > sizeof(tmp))
        return 0;
    if (k > count)
        k = count;
    for (size_t i = 1; i < count; i++) {
        size_t j = i;
        if (i >= k) {
            if (cmp(b + i * size, b + (k - 1) * size) >= 0)
                continue;
            j = k - 1; /* the new element takes the k-th place, then rises */
            memcpy(tmp, b + j * size, size);
            memcpy(b + j * size, b + i * size, size);
            memcpy(b + i * size, tmp, size);
        }
        for (; j > 0 && cmp(b + j * size, b + (j - 1) * size) < 0; j--) {
            memcpy(tmp, b + j * size, size);
            memcpy(b + j * size, b + (j - 1) * size, size);
            memcpy(b + (j - 1) * size, tmp, size);
        }
    }
    return k;
}

/* The best ADVICE_MAX_PER_TYPE candidates, sorted, at the front. */
static size_t top_candidates(candidate_t *c, size_t count) {
    return top_k(c, count, sizeof(*c), ADVICE_MAX_PER_TYPE, candidate_cmp);
}

/* ---- bottlenecks ------------------------------------------------------------ */

static int find_bottlenecks(advice_t *a, candidate_t *c) {
    const profile_thresholds_t *t = a->dag->thresholds;
    const profile_t *p = a->dag->profile;
    const profile_node_t *nodes = a->nodes;
    char d1[32], d2[32];
    size_t count, top;
    if (a->wall_us <= 0 || a->nn == 0)
        return 0;

    /* slow_node: a long node on the critical path; impact: twice as fast */
    count = 0;
    for (size_t k = 0; k < a->nn; k++)
        if (nodes[k].on_critical_path && pct_of_wall(a, nodes[k].exec_us) >= t->slow_node_pct)
            c[count++] = (candidate_t){(double)nodes[k].exec_us, k};
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        int64_t saved = what_if_exec(a, k, nodes[k].exec_us / 2);
        human_us(nodes[k].exec_us, d1, sizeof(d1));
        human_us(saved, d2, sizeof(d2));
        if (add_bottleneck(a, BOTTLENECK_SLOW_NODE, k, pct_of_wall(a, saved),
                           text(a, "%s ran %s on the critical path (%.0f%% of wall time); "
                                   "twice as fast would finish the run %s sooner",
                                nodes[k].node_id, d1, pct_of_wall(a, nodes[k].exec_us), d2)) != 0)
            return -1;
    }

    /* high_token_usage: a node holding a large share of the run's tokens */
    count = 0;
    int64_t run_tokens = p->summary.tokens.total;
    for (size_t k = 0; k < a->nn; k++)
        if (run_tokens > 0 && nodes[k].tokens.total >= t->high_token_min &&
            (double)nodes[k].tokens.total / (double)run_tokens >= t->high_token_share)
            c[count++] = (candidate_t){(double)nodes[k].tokens.total, k};
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        human_us(nodes[k].exec_us, d1, sizeof(d1));
        if (add_bottleneck(a, BOTTLENECK_HIGH_TOKEN_USAGE, k, pct_of_wall(a, nodes[k].exec_us),
                           text(a, "%s used %lld tokens (%.0f%% of the run's), $%.4f, over %s",
                                nodes[k].node_id, (long long)nodes[k].tokens.total,
                                100.0 * (double)nodes[k].tokens.total / (double)run_tokens,
                                nodes[k].cost_usd, d1)) != 0)
            return -1;
    }

    /* excessive_retries: impact is the run without the failed attempts */
    count = 0;
    for (size_t k = 0; k < a->nn; k++)
        if (nodes[k].retries >= t->excessive_retries)
            c[count++] = (candidate_t){(double)nodes[k].retries, k};
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        int64_t wasted = a->dag->final_attempt_start_us[k] - nodes[k].start_us;
        int64_t saved = what_if_exec(a, k, nodes[k].exec_us - (wasted > 0 ? wasted : 0));
        human_us(wasted, d1, sizeof(d1));
        human_us(saved, d2, sizeof(d2));
        if (add_bottleneck(a, BOTTLENECK_EXCESSIVE_RETRIES, k, pct_of_wall(a, saved),
                           text(a, "%s was retried %d time(s); attempts before the last took %s, "
                                   "without them the run finishes %s sooner",
                                nodes[k].node_id, nodes[k].retries, d1, d2)) != 0)
            return -1;
    }

    /* tool_latency: tool calls take most of a node's time */
    count = 0;
    for (size_t k = 0; k < a->nn; k++) {
        int64_t tool_us = 0;
        for (size_t i = 0; i < nodes[k].tool_call_count; i++)
            tool_us += nodes[k].tool_calls[i].duration_us;
        if (nodes[k].exec_us > 0 && tool_us > 0 &&
            (double)tool_us >= t->tool_latency_share * (double)nodes[k].exec_us)
            c[count++] = (candidate_t){(double)tool_us, k};
    }
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        int64_t tool_us = (int64_t)c[i].score;
        if (tool_us > nodes[k].exec_us)
            tool_us = nodes[k].exec_us;
        int64_t saved = what_if_exec(a, k, nodes[k].exec_us - tool_us);
        human_us(tool_us, d1, sizeof(d1));
        human_us(saved, d2, sizeof(d2));
        if (add_bottleneck(a, BOTTLENECK_TOOL_LATENCY, k, pct_of_wall(a, saved),
                           text(a, "%zu tool call(s) took %s of %s's time; "
                                   "at stake: %s of wall time",
                                nodes[k].tool_call_count, d1, nodes[k].node_id, d2)) != 0)
            return -1;
    }

    /* dependency_wait: one straggler input held a node long after the others */
    count = 0;
    for (size_t k = 0; k < a->nn; k++) {
        size_t b = a->dag->dep_off[k], e = a->dag->dep_off[k + 1];
        if (e - b < 2)
            continue;
        int64_t first = INT64_MIN, second = INT64_MIN;
        for (size_t i = b; i < e; i++) {
            int64_t end = nodes[a->dag->deps[i]].end_us;
            if (end > first) {
                second = first;
                first = end;
            } else if (end > second) {
                second = end;
            }
        }
        if (pct_of_wall(a, first - second) >= t->dependency_wait_pct)
            c[count++] = (candidate_t){(double)(first - second), k};
    }
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        size_t b = a->dag->dep_off[k], e = a->dag->dep_off[k + 1], straggler = a->dag->deps[b];
        for (size_t j = b + 1; j < e; j++)
            if (nodes[a->dag->deps[j]].end_us > nodes[straggler].end_us)
                straggler = a->dag->deps[j];
        human_us((int64_t)c[i].score, d1, sizeof(d1));
        if (add_bottleneck(a, BOTTLENECK_DEPENDENCY_WAIT, k, pct_of_wall(a, (int64_t)c[i].score),
                           text(a, "%s waited %s for %s after its other inputs were ready",
                                nodes[k].node_id, d1, nodes[straggler].node_id)) != 0)
            return -1;
    }

    /* sequential_bottleneck: the dependencies themselves force a long chain */
    if (p->summary.parallelism < t->sequential_parallelism &&
        p->critical_path_count >= (size_t)(t->sequential_min_nodes > 0 ? t->sequential_min_nodes : 1)) {
        size_t longest = SIZE_MAX;
        for (size_t k = 0; k < a->nn; k++)
            if (nodes[k].on_critical_path && (longest == SIZE_MAX || nodes[k].exec_us > nodes[longest].exec_us))
                longest = k;
        human_us(p->summary.critical_path_us, d1, sizeof(d1));
        if (longest != SIZE_MAX &&
            add_bottleneck(a, BOTTLENECK_SEQUENTIAL_BOTTLENECK, longest,
                           pct_of_wall(a, p->summary.critical_path_us),
                           text(a, "%zu nodes run one after another (%s, parallelism %.2f); "
                                   "the longest is %s",
                                p->critical_path_count, d1, p->summary.parallelism,
                                nodes[longest].node_id)) != 0)
            return -1;
    }

    /* scheduling_delay: inputs were ready, the node had not started */
    count = 0;
    for (size_t k = 0; k < a->nn; k++)
        if (nodes[k].queued_us >= t->scheduling_delay_min_us &&
            pct_of_wall(a, nodes[k].queued_us) >= t->scheduling_delay_pct)
            c[count++] = (candidate_t){(double)nodes[k].queued_us, k};
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        int64_t old = a->lag[k];
        a->lag[k] = 0;
        int64_t saved = what_if(a, SIZE_MAX, SIZE_MAX);
        a->lag[k] = old;
        human_us(nodes[k].queued_us, d1, sizeof(d1));
        human_us(saved, d2, sizeof(d2));
        if (add_bottleneck(a, BOTTLENECK_SCHEDULING_DELAY, k, pct_of_wall(a, saved),
                           text(a, "%s started %s after its inputs were ready; "
                                   "starting at once finishes the run %s sooner",
                                nodes[k].node_id, d1, d2)) != 0)
            return -1;
    }

    /* error_node */
    count = 0;
    for (size_t k = 0; k < a->nn; k++)
        if (nodes[k].status == SPAN_STATUS_ERROR)
            c[count++] = (candidate_t){(double)nodes[k].exec_us, k};
    top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        human_us(nodes[k].exec_us, d1, sizeof(d1));
        if (add_bottleneck(a, BOTTLENECK_ERROR_NODE, k, pct_of_wall(a, nodes[k].exec_us),
                           text(a, "%s ended in error after %s", nodes[k].node_id, d1)) != 0)
            return -1;
    }
    return 0;
}

/* ---- recommendations ----------------------------------------------------------- */

static profile_level_t priority_of(const advice_t *a, const profile_savings_t *s) {
    double time_share = a->wall_us > 0 ? (double)s->time_us / (double)a->wall_us : 0;
    double cost = a->dag->profile->summary.cost_usd;
    double cost_share = cost > 0 ? s->cost_usd / cost : 0;
    double share = time_share > cost_share ? time_share : cost_share;
    return share >= 0.2 ? PROFILE_LEVEL_HIGH : share >= 0.05 ? PROFILE_LEVEL_MEDIUM : PROFILE_LEVEL_LOW;
}

static int recommend_parallelize(advice_t *a, candidate_t *c) {
    const profile_thresholds_t *t = a->dag->thresholds;
    size_t count = 0;
    int64_t waited = 0;
    for (size_t k = 0; k < a->nn; k++)
        if (a->nodes[k].queued_us >= t->scheduling_delay_min_us) {
            c[count++] = (candidate_t){(double)a->nodes[k].queued_us, k};
            waited += a->nodes[k].queued_us;
        }
    if (!count)
        return 0;
    int64_t *saved_lag = a->scratch + a->nn; /* second half of scratch */
    for (size_t i = 0; i < count; i++) {
        saved_lag[i] = a->lag[c[i].node];
        a->lag[c[i].node] = 0;
    }
    int64_t saved = what_if(a, SIZE_MAX, SIZE_MAX);
    for (size_t i = 0; i < count; i++)
        a->lag[c[i].node] = saved_lag[i];
    if (saved <= 0)
        return 0;
    size_t shown = top_k(c, count, sizeof(*c), 10, candidate_cmp);
    profile_recommendation_t *r = add_rec(a, RECOMMENDATION_PARALLELIZE, shown);
    if (!r)
        return -1;
    for (size_t i = 0; i < shown; i++)
        r->node_ids[r->node_id_count++] = a->nodes[c[i].node].node_id;
    r->savings.time_us = saved;
    r->priority = priority_of(a, &r->savings);
    char d1[32], d2[32];
    human_us(waited, d1, sizeof(d1));
    human_us(saved, d2, sizeof(d2));
    r->description = text(a, "%zu node(s) waited %s in all after their inputs were ready; "
                             "starting each as soon as its inputs are ready finishes the run %s sooner",
                          count, d1, d2);
    r->action = text(a, "Dispatch nodes when their inputs are ready: raise the executor's "
                        "concurrency limit and run independent nodes concurrently");
    return r->description && r->action ? 0 : -1;
}

static int recommend_restructure(advice_t *a) {
    const profile_t *p = a->dag->profile;
    const profile_thresholds_t *t = a->dag->thresholds;
    if (!(p->summary.parallelism < t->sequential_parallelism) ||
        p->critical_path_count < (size_t)(t->sequential_min_nodes > 0 ? t->sequential_min_nodes : 1))
        return 0;
    /* Try removing critical-path edges whose dependent node is longest. */
    size_t best_node = SIZE_MAX, best_dep = SIZE_MAX;
    int64_t best_saved = 0;
    size_t tried = 0;
    for (int round = 0; round < ADVICE_MAX_EDGES_TRIED && tried < p->critical_path_count; round++) {
        size_t pick = SIZE_MAX;
        for (size_t k = 0; k < a->nn; k++) {
            if (!a->nodes[k].on_critical_path || a->dag->dep_off[k] == a->dag->dep_off[k + 1] ||
                a->scratch[a->nn + k] == 1)
                continue;
            if (pick == SIZE_MAX || a->nodes[k].exec_us > a->nodes[pick].exec_us)
                pick = k;
        }
        if (pick == SIZE_MAX)
            break;
        a->scratch[a->nn + pick] = 1; /* tried */
        tried++;
        size_t dep = SIZE_MAX;
        for (size_t i = a->dag->dep_off[pick]; i < a->dag->dep_off[pick + 1]; i++)
            if (a->nodes[a->dag->deps[i]].on_critical_path)
                dep = a->dag->deps[i];
        if (dep == SIZE_MAX)
            continue;
        int64_t saved = what_if(a, pick, dep);
        if (saved > best_saved) {
            best_saved = saved;
            best_node = pick;
            best_dep = dep;
        }
    }
    if (best_saved <= 0)
        return 0;
    profile_recommendation_t *r = add_rec(a, RECOMMENDATION_RESTRUCTURE_DAG, 2);
    if (!r)
        return -1;
    r->node_ids[r->node_id_count++] = a->nodes[best_dep].node_id;
    r->node_ids[r->node_id_count++] = a->nodes[best_node].node_id;
    r->savings.time_us = best_saved;
    r->priority = priority_of(a, &r->savings);
    char d1[32];
    human_us(best_saved, d1, sizeof(d1));
    r->description = text(a, "the run is a chain of %zu nodes; %s waits for %s, and if it did not "
                             "need %s's output the run would finish %s sooner",
                          p->critical_path_count, a->nodes[best_node].node_id,
                          a->nodes[best_dep].node_id, a->nodes[best_dep].node_id, d1);
    r->action = text(a, "Split %s or %s so the independent part of %s can start earlier, "
                        "or pass partial results downstream",
                     a->nodes[best_dep].node_id, a->nodes[best_node].node_id,
                     a->nodes[best_node].node_id);
    return r->description && r->action ? 0 : -1;
}

typedef struct cost_candidate {
    double saving_usd;
    int64_t tokens;
    size_t node;
    const char *model;
    const char *other; /* the cheaper model, for downgrades */
    int64_t calls;
    int64_t extra; /* per kind: the output limit, or the run's median prompt */
} cost_candidate_t;

static int cost_candidate_cmp(const void *x, const void *y) {
    const cost_candidate_t *a = x, *b = y;
    if (a->saving_usd != b->saving_usd)
        return a->saving_usd > b->saving_usd ? -1 : 1;
    if (a->tokens != b->tokens)
        return a->tokens > b->tokens ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    return strcmp(a->model, b->model);
}

static int int64_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The k-th smallest of v[0..n) (quickselect, linear on average); reorders v.
 * Pivots are drawn from a fixed pseudo-random sequence: the middle element
 * made prompts that rose twice over the run (two ascending runs) quadratic,
 * 58% of a 10k-node profile. After 2 log2(n) rounds the rest is sorted, so no
 * input costs more than n log n. */
static int64_t int64_select(int64_t *v, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1, rounds = 0, limit = 8;
    for (size_t m = n; m > 1; m >>= 1)
        limit += 2;
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    while (lo < hi) {
        if (++rounds > limit) {
            qsort(v + lo, hi - lo + 1, sizeof(*v), int64_cmp);
            break;
        }
        state ^= state << 13; /* xorshift64 */
        state ^= state >> 7;
        state ^= state << 17;
        int64_t pivot = v[lo + state % (hi - lo + 1)];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                int64_t tmp = v[i];
                v[i] = v[j];
                v[j] = tmp;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

static int call_by_model_cmp(const void *x, const void *y) {
    const dag_llm_call_t *a = x, *b = y;
    if (a->model != b->model) /* same name, same index */
        return a->model < b->model ? -1 : 1;
    if (a->start_us != b->start_us)
        return a->start_us < b->start_us ? -1 : 1;
    return strcmp(a->span->span_id, b->span->span_id);
}

/* model_downgrade, cache and reduce_context: cost savings by re-pricing the
 * calls concerned, per node and model. */
static int recommend_model_costs(advice_t *a) {
    dag_t *dag = a->dag;
    const profile_thresholds_t *t = dag->thresholds;
    size_t calls_in_nodes = dag->call_off[a->nn];
    cost_candidate_t *down = arena_alloc_uninit(dag->scratch, (calls_in_nodes + 1) * sizeof(*down));
    cost_candidate_t *cache = arena_alloc_uninit(dag->scratch, (calls_in_nodes + 1) * sizeof(*cache));
    cost_candidate_t *reduce = arena_alloc_uninit(dag->scratch, (calls_in_nodes + 1) * sizeof(*reduce));
    int64_t *inputs = arena_alloc_uninit(dag->scratch, (dag->call_count + 1) * sizeof(int64_t));
    if (!down || !cache || !reduce || !inputs)
        return -1;
    size_t n_down = 0, n_cache = 0, n_reduce = 0;

    int64_t largest = 0;
    for (size_t i = 0; i < dag->call_count; i++) {
        inputs[i] = dag->all_calls[i].input_tokens;
        if (inputs[i] > largest)
            largest = inputs[i];
    }
    /* the median only matters when some prompt is large enough to trim */
    int64_t median = dag->call_count && largest >= t->reduce_context_min_input
                         ? int64_select(inputs, dag->call_count, dag->call_count / 2)
                         : 0;

    for (size_t k = 0; k < a->nn; k++) {
        size_t b = dag->call_off[k], e = dag->call_off[k + 1];
        if (b == e)
            continue;
        dag_llm_call_t *group = dag->calls + b; /* advice is their last reader: sorted in place */
        if (e - b > 1)
            qsort(group, e - b, sizeof(*group), call_by_model_cmp);
        for (size_t g = 0; g < e - b;) {
            size_t h = g;
            const char *model = dag->models[group[g].model].name; /* not the span's: one cache miss less */
            while (h < e - b && group[h].model == group[g].model)
                h++;
            const dag_model_t *dm = &dag->models[group[g].model];
            int priced = dm->priced;
            pricing_price_t price = dm->price;

            /* model_downgrade: short answers from a model with a cheaper sibling */
            if (dm->cheaper) {
                cost_candidate_t c = {0, 0, k, model, dm->cheaper, 0, t->downgrade_max_output_tokens};
                for (size_t i = g; i < h; i++) {
                    const dag_llm_call_t *s = &group[i];
                    if (s->output_tokens > t->downgrade_max_output_tokens)
                        continue;
                    c.calls++;
                    c.saving_usd += group[i].cost_usd -
                                    pricing_cost_usd(&dm->cheaper_price, s->input_tokens, s->output_tokens,
                                                     s->cache_read_tokens, s->cache_write_tokens);
                }
                if (c.calls && c.saving_usd > 0)
                    down[n_down++] = c;
            }

            /* cache: later calls repeat at most the first call's prompt; that
             * shared part could be read from cache instead of billed as input */
            if (priced && h - g >= 2) {
                const dag_llm_call_t *first = &group[g];
                int64_t cacheable = 0, longest_shared = 0;
                for (size_t i = g + 1; i < h; i++) {
                    const dag_llm_call_t *s = &group[i];
                    int64_t shared = s->input_tokens < first->input_tokens ? s->input_tokens
                                                                          : first->input_tokens;
                    if (shared > longest_shared)
                        longest_shared = shared;
                    int64_t uncached = s->input_tokens - s->cache_read_tokens - s->cache_write_tokens;
                    int64_t gain = shared - s->cache_read_tokens;
                    if (gain > uncached)
                        gain = uncached;
                    if (gain > 0)
                        cacheable += gain;
                }
                int64_t to_write = longest_shared - first->cache_write_tokens - first->cache_read_tokens;
                double saving = (double)cacheable *
                                    (price.input_usd_per_mtok - price.cache_read_usd_per_mtok) / 1e6 -
                                (to_write > 0 ? (double)to_write *
                                                    (price.cache_write_usd_per_mtok - price.input_usd_per_mtok) / 1e6
                                              : 0);
                if (cacheable > 0 && saving > 0)
                    cache[n_cache++] = (cost_candidate_t){saving, cacheable, k, model, NULL,
                                                          (int64_t)(h - g), 0};
            }

            /* reduce_context: prompts far above the run's median */
            if (priced && median > 0) {
                cost_candidate_t c = {0, 0, k, model, NULL, 0, median};
                for (size_t i = g; i < h; i++) {
                    const dag_llm_call_t *s = &group[i];
                    if (s->input_tokens < t->reduce_context_min_input ||
                        (double)s->input_tokens < t->reduce_context_factor * (double)median)
                        continue;
                    int64_t uncached = s->input_tokens - s->cache_read_tokens - s->cache_write_tokens;
                    int64_t cut = s->input_tokens - median;
                    if (cut > uncached)
                        cut = uncached;
                    if (cut <= 0)
                        continue;
                    c.calls++;
                    c.tokens += cut;
                    c.saving_usd += (double)cut * price.input_usd_per_mtok / 1e6;
                }
                if (c.calls)
                    reduce[n_reduce++] = c;
            }
            g = h;
        }
    }

    n_down = top_k(down, n_down, sizeof(*down), ADVICE_MAX_PER_TYPE, cost_candidate_cmp);
    n_cache = top_k(cache, n_cache, sizeof(*cache), ADVICE_MAX_PER_TYPE, cost_candidate_cmp);
    n_reduce = top_k(reduce, n_reduce, sizeof(*reduce), ADVICE_MAX_PER_TYPE, cost_candidate_cmp);
    for (size_t i = 0; i < n_down && i < ADVICE_MAX_PER_TYPE; i++) {
        const cost_candidate_t *c = &down[i];
        profile_recommendation_t *r = add_rec(a, RECOMMENDATION_MODEL_DOWNGRADE, 1);
        if (!r)
            return -1;
        r->node_ids[r->node_id_count++] = a->nodes[c->node].node_id;
        r->savings.cost_usd = c->saving_usd;
        r->priority = priority_of(a, &r->savings);
        r->description = text(a, "%lld call(s) of %s in %s return at most %lld tokens; "
                                 "%s would cost $%.4f less",
                              (long long)c->calls, c->model, a->nodes[c->node].node_id,
                              (long long)c->extra, c->other, c->saving_usd);
        r->action = text(a, "Route these calls to %s and check the answers on a sample", c->other);
        if (!r->description || !r->action)
            return -1;
    }
    for (size_t i = 0; i < n_cache && i < ADVICE_MAX_PER_TYPE; i++) {
        const cost_candidate_t *c = &cache[i];
        profile_recommendation_t *r = add_rec(a, RECOMMENDATION_CACHE, 1);
        if (!r)
            return -1;
        r->node_ids[r->node_id_count++] = a->nodes[c->node].node_id;
        r->savings.cost_usd = c->saving_usd;
        r->savings.tokens = c->tokens;
        r->priority = priority_of(a, &r->savings);
        r->description = text(a, "%s calls %s %lld times with overlapping prompts; caching the "
                                 "shared prefix bills %lld tokens at the cache-read price and saves $%.4f",
                              a->nodes[c->node].node_id, c->model, (long long)c->calls,
                              (long long)c->tokens, c->saving_usd);
        r->action = text(a, "Mark the stable prompt prefix (system prompt, documents, tool "
                            "definitions) as cacheable");
        if (!r->description || !r->action)
            return -1;
    }
    for (size_t i = 0; i < n_reduce && i < ADVICE_MAX_PER_TYPE; i++) {
        const cost_candidate_t *c = &reduce[i];
        profile_recommendation_t *r = add_rec(a, RECOMMENDATION_REDUCE_CONTEXT, 1);
        if (!r)
            return -1;
        r->node_ids[r->node_id_count++] = a->nodes[c->node].node_id;
        r->savings.cost_usd = c->saving_usd;
        r->savings.tokens = c->tokens;
        r->priority = priority_of(a, &r->savings);
        r->description = text(a, "%lld prompt(s) of %s to %s are at least %.1fx the run's median "
                                 "of %lld tokens; trimming them to the median saves %lld tokens, $%.4f",
                              (long long)c->calls, a->nodes[c->node].node_id, c->model,
                              t->reduce_context_factor, (long long)c->extra, (long long)c->tokens,
                              c->saving_usd);
        r->action = text(a, "Send only the context the call needs: retrieve relevant passages, "
                            "summarise history, drop unused tool output");
        if (!r->description || !r->action)
            return -1;
    }
    return 0;
}

/* batch_operations: several sequential calls of one tool (or one model) in a
 * node; run together, the node takes its longest call instead of their sum. */
static int recommend_batch(advice_t *a, candidate_t *c) {
    const dag_t *dag = a->dag;
    const profile_thresholds_t *t = dag->thresholds;
    size_t count = 0;
    int64_t *reduction = a->scratch + a->nn;
    /* read only where reduction[k] > 0, and written there */
    const char **what = arena_alloc_uninit(dag->scratch, (a->nn + 1) * sizeof(char *));
    int64_t *calls = arena_alloc_uninit(dag->scratch, (a->nn + 1) * sizeof(int64_t));
    if (!what || !calls)
        return -1;
    for (size_t k = 0; k < a->nn; k++) {
        reduction[k] = 0;
        /* tool spans are in start order; a run of one tool that never overlaps */
        size_t b = dag->tool_off[k], e = dag->tool_off[k + 1];
        for (size_t i = b; i < e;) {
            const char *tool = dag->tools[i].tool_name;
            int64_t sum = 0, longest = 0, last_end = INT64_MIN;
            size_t j = i, n = 0;
            for (; j < e; j++) {
                const dag_tool_t *s = &dag->tools[j];
                if ((j > i && !s->same_tool_as_previous) || s->start_us < last_end)
                    break;
                int64_t d = s->end_us - s->start_us;
                sum += d;
                if (d > longest)
                    longest = d;
                last_end = s->end_us;
                n++;
            }
            if ((int64_t)n >= t->batch_min_calls && sum - longest > reduction[k]) {
                reduction[k] = sum - longest;
                what[k] = tool[0] ? tool : "tool";
                calls[k] = (int64_t)n;
            }
            i = j > i ? j : i + 1;
        }
    }
    for (size_t k = 0; k < a->nn; k++)
        if (reduction[k] > 0)
            c[count++] = (candidate_t){(double)reduction[k], k};
    size_t top = top_candidates(c, count);
    for (size_t i = 0; i < top; i++) {
        size_t k = c[i].node;
        int64_t saved = what_if_exec(a, k, a->nodes[k].exec_us - (int64_t)c[i].score);
        if (saved <= 0)
            continue;
        profile_recommendation_t *r = add_rec(a, RECOMMENDATION_BATCH_OPERATIONS, 1);
        if (!r)
            return -1;
        r->node_ids[r->node_id_count++] = a->nodes[k].node_id;
        r->savings.time_us = saved;
        r->priority = priority_of(a, &r->savings);
        char d1[32];
        human_us(saved, d1, sizeof(d1));
        r->description = text(a, "%s makes %lld %s calls one after another; issued together the "
                                 "run finishes %s sooner",
                              a->nodes[k].node_id, (long long)calls[k], what[k], d1);
        r->action = text(a, "Batch the %s calls into one request or issue them concurrently", what[k]);
        if (!r->description || !r->action)
            return -1;
    }
    return 0;
}

static int bottleneck_cmp(const void *x, const void *y) {
    const profile_bottleneck_t *a = x, *b = y;
    if (a->impact_pct != b->impact_pct)
        return a->impact_pct > b->impact_pct ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return strcmp(a->node_id, b->node_id);
}

static int rec_cmp(const void *x, const void *y) {
    const profile_recommendation_t *a = x, *b = y;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->savings.time_us != b->savings.time_us)
        return a->savings.time_us > b->savings.time_us ? -1 : 1;
    if (a->savings.cost_usd != b->savings.cost_usd)
        return a->savings.cost_usd > b->savings.cost_usd ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return strcmp(a->node_ids[0], b->node_ids[0]);
}

int advise(dag_t *dag) {
    advice_t a;
    memset(&a, 0, sizeof(a));
    a.dag = dag;
    a.nodes = dag->profile->nodes;
    a.nn = dag->node_count;
    a.wall_us = dag->profile->summary.wall_us;
    /* each written before it is read: exec and lag below, scratch by each
     * replay and finding, c for each kind of finding */
    a.exec = arena_alloc_uninit(dag->scratch, (a.nn + 1) * sizeof(int64_t));
    a.lag = arena_alloc_uninit(dag->scratch, (a.nn + 1) * sizeof(int64_t));
    a.scratch = arena_alloc_uninit(dag->scratch, (2 * a.nn + 1) * sizeof(int64_t));
    candidate_t *c = arena_alloc_uninit(dag->scratch, (a.nn + 1) * sizeof(*c));
    if (!a.exec || !a.lag || !a.scratch || !c)
        return -1;
    for (size_t k = 0; k < a.nn; k++) {
        a.exec[k] = a.nodes[k].exec_us;
        a.lag[k] = dag->lag_us[k];
    }
    a.base_end = !a.nn                 ? 0
                 : dag->replay_is_trace ? dag->trace_end_us
                                        : dag_replay(dag, a.exec, a.lag, SIZE_MAX, SIZE_MAX, a.scratch);

    if (find_bottlenecks(&a, c) != 0)
        return -1;
    if (a.nn && a.wall_us > 0) {
        if (recommend_parallelize(&a, c) != 0 || recommend_batch(&a, c) != 0)
            return -1;
        memset(a.scratch + a.nn, 0, a.nn * sizeof(int64_t)); /* "tried" marks */
        if (recommend_restructure(&a) != 0)
            return -1;
    }
    if (recommend_model_costs(&a) != 0)
        return -1;

    profile_t *p = dag->profile;
    if (a.bottleneck_count)
        qsort(a.bottlenecks, a.bottleneck_count, sizeof(*a.bottlenecks), bottleneck_cmp);
    if (a.rec_count)
        qsort(a.recs, a.rec_count, sizeof(*a.recs), rec_cmp);
    p->bottlenecks = arena_alloc(dag->arena, (a.bottleneck_count + 1) * sizeof(*p->bottlenecks));
    p->recommendations = arena_alloc(dag->arena, (a.rec_count + 1) * sizeof(*p->recommendations));
    if (!p->bottlenecks || !p->recommendations)
        return -1;
    if (a.bottleneck_count)
        memcpy(p->bottlenecks, a.bottlenecks, a.bottleneck_count * sizeof(*p->bottlenecks));
    if (a.rec_count)
        memcpy(p->recommendations, a.recs, a.rec_count * sizeof(*p->recommendations));
    p->bottleneck_count = a.bottleneck_count;
    p->recommendation_count = a.rec_count;
    return 0;
}
