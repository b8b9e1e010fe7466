/* harness_invariants.c -- the profile invariants, on JSON. See
 * harness_invariants.h. Written against the JSON with jansson, not against
 * the engine's structures, so that it checks what a consumer receives. */
#include "harness_invariants.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct inv_node {
    const char *id;
    int64_t start_us, end_us, exec_us, ready_us, blocked_us, queued_us, slack_us;
    int on_critical_path;
    size_t *deps;
    size_t dep_count;
    json_t *json;
} inv_node_t;

typedef struct checker {
    char *why;
    size_t why_size;
    int failed;
} checker_t;

static int fail(checker_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(checker_t *c, const char *fmt, ...) {
    if (!c->failed && c->why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->why_size, fmt, ap);
        va_end(ap);
    }
    c->failed = 1;
    return -1;
}

static int get_int(checker_t *c, json_t *object, const char *key, int64_t *out) {
    json_t *v = json_object_get(object, key);
    if (!json_is_integer(v))
        return fail(c, "%s is not an integer", key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int get_number(checker_t *c, json_t *object, const char *key, double *out) {
    json_t *v = json_object_get(object, key);
    if (!json_is_number(v))
        return fail(c, "%s is not a number", key);
    *out = json_number_value(v);
    return 0;
}

static const char *const token_keys[] = {"input", "output", "cache_read", "cache_write",
                                         "reasoning", "total"};
#define TOKEN_KEYS 6

static int get_tokens(checker_t *c, json_t *object, int64_t *tokens) {
    json_t *t = json_object_get(object, "tokens");
    if (!json_is_object(t))
        return fail(c, "tokens missing");
    for (size_t i = 0; i < TOKEN_KEYS; i++)
        if (get_int(c, t, token_keys[i], &tokens[i]) != 0)
            return -1;
    return 0;
}

static int same_cost(double a, double b) {
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= 1e-9 * (scale > 1 ? scale : 1);
}

static size_t find_node(const inv_node_t *nodes, size_t nn, const char *id) {
    size_t lo = 0, hi = nn; /* nodes are sorted by id (checked) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(nodes[mid].id, id);
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

static int check_nodes(checker_t *c, json_t *root, inv_node_t *nodes, size_t nn, int64_t run_start,
                       int64_t wall, int inferred, int64_t skew_us) {
    int64_t run_end = run_start + wall;
    json_t *array = json_object_get(root, "nodes");
    size_t all_deps = 0;
    for (size_t k = 0; k < nn; k++) {
        inv_node_t *n = &nodes[k];
        json_t *o = json_array_get(array, k);
        n->json = o;
        json_t *id = json_object_get(o, "node_id");
        if (!json_is_string(id))
            return fail(c, "node %zu has no node_id", k);
        n->id = json_string_value(id);
        if (k > 0 && strcmp(nodes[k - 1].id, n->id) >= 0)
            return fail(c, "nodes not sorted by distinct id: %s then %s", nodes[k - 1].id, n->id);
        if (get_int(c, o, "start_us", &n->start_us) || get_int(c, o, "end_us", &n->end_us) ||
            get_int(c, o, "exec_us", &n->exec_us) || get_int(c, o, "ready_us", &n->ready_us) ||
            get_int(c, o, "blocked_us", &n->blocked_us) ||
            get_int(c, o, "queued_us", &n->queued_us) || get_int(c, o, "slack_us", &n->slack_us))
            return -1;
        n->on_critical_path = json_is_true(json_object_get(o, "on_critical_path"));
        all_deps += json_array_size(json_object_get(o, "depends_on"));
    }
    size_t *dep_store = calloc(all_deps + 1, sizeof(size_t));
    if (!dep_store)
        return fail(c, "out of memory");
    nodes[0].deps = dep_store; /* freed by the caller through nodes[0] */
    size_t at = 0;
    for (size_t k = 0; k < nn; k++) {
        inv_node_t *n = &nodes[k];
        if (!(run_start <= n->start_us && n->start_us <= n->end_us && n->end_us <= run_end))
            return fail(c, "node %s [%" PRId64 ", %" PRId64 "] outside the window [%" PRId64
                           ", %" PRId64 "]",
                        n->id, n->start_us, n->end_us, run_start, run_end);
        if (n->exec_us != n->end_us - n->start_us)
            return fail(c, "node %s exec_us %" PRId64 " != end - start", n->id, n->exec_us);
        if (!(run_start <= n->ready_us && n->ready_us <= n->start_us))
            return fail(c, "node %s ready_us %" PRId64 " not in [run start %" PRId64
                           ", start %" PRId64 "]",
                        n->id, n->ready_us, run_start, n->start_us);
        if (n->blocked_us != n->ready_us - run_start || n->queued_us != n->start_us - n->ready_us)
            return fail(c, "node %s blocked %" PRId64 " + queued %" PRId64 " != start - run start %" PRId64,
                        n->id, n->blocked_us, n->queued_us, n->start_us - run_start);
        if (n->slack_us < 0)
            return fail(c, "node %s slack_us %" PRId64 " < 0", n->id, n->slack_us);
        json_t *deps = json_object_get(n->json, "depends_on");
        n->deps = dep_store + at;
        int64_t latest = INT64_MIN;
        for (size_t i = 0; i < json_array_size(deps); i++) {
            json_t *d = json_array_get(deps, i);
            size_t j = json_is_string(d) ? find_node(nodes, nn, json_string_value(d)) : SIZE_MAX;
            if (j == SIZE_MAX)
                return fail(c, "node %s depends on a node not in the profile", n->id);
            if (j == k)
                return fail(c, "node %s depends on itself", n->id);
            if (nodes[j].end_us - n->start_us > skew_us)
                return fail(c, "edge used for timing contradicts time: %s depends on %s, which "
                               "ended %" PRId64 " us after %s started",
                            n->id, nodes[j].id, nodes[j].end_us - n->start_us, n->id);
            if (inferred && !(nodes[j].start_us < n->start_us && nodes[j].end_us <= n->start_us))
                return fail(c, "inferred edge %s depends on %s, which did not start strictly "
                               "before and end by its start", n->id, nodes[j].id);
            if (nodes[j].end_us > latest)
                latest = nodes[j].end_us;
            n->deps[n->dep_count++] = j;
        }
        at += n->dep_count;
        int64_t ready = n->dep_count ? (latest < n->start_us ? latest : n->start_us) : run_start;
        if (n->ready_us != ready)
            return fail(c, "node %s ready_us %" PRId64 ", its dependencies make it %" PRId64,
                        n->id, n->ready_us, ready);
    }
    return 0;
}

/* Kahn's algorithm: every node is removed when the graph is acyclic. */
static int check_acyclic(checker_t *c, const inv_node_t *nodes, size_t nn) {
    size_t *pending = calloc(nn + 1, sizeof(size_t)), *queue = calloc(nn + 1, sizeof(size_t));
    size_t *rcount = calloc(nn + 1, sizeof(size_t));
    int rc = 0;
    if (!pending || !queue || !rcount) {
        rc = fail(c, "out of memory");
        goto done;
    }
    /* pending[k]: dependencies of k not yet removed; removing d releases its dependents */
    size_t head = 0, tail = 0, removed = 0;
    for (size_t k = 0; k < nn; k++) {
        pending[k] = nodes[k].dep_count;
        if (!pending[k])
            queue[tail++] = k;
    }
    while (head < tail) {
        size_t d = queue[head++];
        removed++;
        for (size_t k = 0; k < nn; k++) /* small profiles: quadratic is fine */
            for (size_t i = 0; i < nodes[k].dep_count; i++)
                if (nodes[k].deps[i] == d && --pending[k] == 0)
                    queue[tail++] = k;
    }
    if (removed != nn)
        rc = fail(c, "the dependencies used for timing form a cycle (%zu of %zu nodes ordered)",
                  removed, nn);
done:
    free(pending);
    free(queue);
    free(rcount);
    return rc;
}

static int check_critical_path(checker_t *c, json_t *root, const inv_node_t *nodes, size_t nn) {
    json_t *path = json_object_get(root, "critical_path");
    size_t len = json_array_size(path);
    if ((nn == 0) != (len == 0))
        return fail(c, "critical path has %zu nodes, the profile %zu", len, nn);
    if (!nn)
        return 0;
    size_t prev = SIZE_MAX, flagged = 0;
    for (size_t k = 0; k < nn; k++)
        flagged += nodes[k].on_critical_path;
    if (flagged != len)
        return fail(c, "%zu nodes flagged on the critical path, which has %zu", flagged, len);
    for (size_t i = 0; i < len; i++) {
        json_t *id = json_array_get(path, i);
        size_t k = json_is_string(id) ? find_node(nodes, nn, json_string_value(id)) : SIZE_MAX;
        if (k == SIZE_MAX || !nodes[k].on_critical_path)
            return fail(c, "critical path entry %zu is not a flagged node", i);
        if (i == 0 && nodes[k].dep_count)
            return fail(c, "critical path starts at %s, which has dependencies", nodes[k].id);
        if (i > 0) {
            int found = 0;
            for (size_t j = 0; j < nodes[k].dep_count; j++)
                found |= nodes[k].deps[j] == prev;
            if (!found)
                return fail(c, "critical path: %s does not depend on %s", nodes[k].id,
                            nodes[prev].id);
        }
        prev = k;
    }
    for (size_t k = 0; k < nn; k++)
        if (nodes[k].end_us > nodes[prev].end_us)
            return fail(c, "critical path ends at %s, but %s ended later", nodes[prev].id,
                        nodes[k].id);
    return 0;
}

static int check_totals(checker_t *c, json_t *root, json_t *summary, size_t nn) {
    int64_t run[TOKEN_KEYS] = {0}, outside[TOKEN_KEYS] = {0}, sum[TOKEN_KEYS] = {0}, models[TOKEN_KEYS] = {0};
    double run_cost = 0, outside_cost = 0, node_cost = 0, model_cost = 0;
    int64_t outside_calls = 0;
    json_t *outside_json = json_object_get(summary, "outside_nodes");
    if (!json_is_object(outside_json))
        return fail(c, "summary.outside_nodes missing");
    if (get_tokens(c, summary, run) || get_number(c, summary, "cost_usd", &run_cost) ||
        get_tokens(c, outside_json, outside) ||
        get_number(c, outside_json, "cost_usd", &outside_cost) ||
        get_int(c, outside_json, "calls", &outside_calls))
        return -1;
    json_t *array = json_object_get(root, "nodes");
    for (size_t k = 0; k < nn; k++) {
        int64_t t[TOKEN_KEYS] = {0};
        double cost = 0;
        json_t *o = json_array_get(array, k);
        if (get_tokens(c, o, t) || get_number(c, o, "cost_usd", &cost))
            return -1;
        for (size_t i = 0; i < TOKEN_KEYS; i++)
            sum[i] += t[i];
        node_cost += cost;
    }
    const char *model;
    json_t *usage;
    int64_t calls = 0;
    json_object_foreach(json_object_get(root, "by_model"), model, usage) {
        int64_t t[TOKEN_KEYS] = {0}, n = 0;
        double cost = 0;
        if (get_tokens(c, usage, t) || get_number(c, usage, "cost_usd", &cost) ||
            get_int(c, usage, "calls", &n))
            return -1;
        for (size_t i = 0; i < TOKEN_KEYS; i++)
            models[i] += t[i];
        model_cost += cost;
        calls += n;
    }
    for (size_t i = 0; i < TOKEN_KEYS; i++) {
        if (sum[i] + outside[i] != run[i])
            return fail(c, "%s tokens: nodes %" PRId64 " + outside %" PRId64 " != run %" PRId64,
                        token_keys[i], sum[i], outside[i], run[i]);
        if (models[i] != run[i])
            return fail(c, "%s tokens: by_model %" PRId64 " != run %" PRId64, token_keys[i],
                        models[i], run[i]);
    }
    if (!same_cost(node_cost + outside_cost, run_cost))
        return fail(c, "cost: nodes %.12f + outside %.12f != run %.12f", node_cost, outside_cost,
                    run_cost);
    if (!same_cost(model_cost, run_cost))
        return fail(c, "cost: by_model %.12f != run %.12f", model_cost, run_cost);
    if (outside_calls < 0 || outside_calls > calls)
        return fail(c, "outside_nodes.calls %" PRId64 " of %" PRId64 " calls", outside_calls, calls);
    return 0;
}

int invariants_check_json(const char *json, size_t len, int64_t clock_skew_us, char *why,
                          size_t why_size) {
    checker_t c = {why, why_size, 0};
    json_error_t error;
    inv_node_t *nodes = NULL;
    json_t *root = json_loadb(json, len, 0, &error);
    if (!root)
        return fail(&c, "not JSON: %s", error.text);
    json_t *summary = json_object_get(root, "summary");
    json_t *node_array = json_object_get(root, "nodes");
    int64_t run_start = 0, wall = 0, work = 0, cp = 0, ideal = 0, node_count = 0;
    double parallelism = 0, efficiency = 0;
    if (!json_is_object(summary) || !json_is_array(node_array)) {
        fail(&c, "summary or nodes missing");
        goto done;
    }
    if (get_int(&c, summary, "run_start_us", &run_start) || get_int(&c, summary, "wall_us", &wall) ||
        get_int(&c, summary, "work_us", &work) ||
        get_int(&c, summary, "critical_path_us", &cp) ||
        get_int(&c, summary, "ideal_wall_us", &ideal) ||
        get_int(&c, summary, "node_count", &node_count) ||
        get_number(&c, summary, "parallelism", &parallelism) ||
        get_number(&c, summary, "schedule_efficiency", &efficiency))
        goto done;
    json_t *edges = json_object_get(summary, "edges");
    int inferred = json_is_string(edges) && strcmp(json_string_value(edges), "inferred") == 0;
    size_t nn = json_array_size(node_array);
    if (wall < 0) {
        fail(&c, "wall_us %" PRId64 " < 0", wall);
        goto done;
    }
    if (!(0 <= cp && cp <= wall) || !(0 <= ideal && ideal <= wall)) {
        fail(&c, "critical_path_us %" PRId64 ", ideal_wall_us %" PRId64 ", wall_us %" PRId64, cp,
             ideal, wall);
        goto done;
    }
    if (!(efficiency > 0 && efficiency <= 1)) {
        fail(&c, "schedule_efficiency %.17g", efficiency);
        goto done;
    }
    double expected = wall > 0 ? (double)work / (double)wall : 0;
    if (fabs(parallelism - expected) > 1e-12 * (expected > 1 ? expected : 1)) {
        fail(&c, "parallelism %.17g != work / wall %.17g", parallelism, expected);
        goto done;
    }
    if ((size_t)node_count != nn) {
        fail(&c, "node_count %" PRId64 ", %zu nodes", node_count, nn);
        goto done;
    }
    if (nn) {
        nodes = calloc(nn, sizeof(*nodes));
        if (!nodes) {
            fail(&c, "out of memory");
            goto done;
        }
        if (check_nodes(&c, root, nodes, nn, run_start, wall, inferred, clock_skew_us) != 0 ||
            check_acyclic(&c, nodes, nn) != 0)
            goto done;
        int64_t sum = 0, max_exec = 0, min_slack = INT64_MAX;
        for (size_t k = 0; k < nn; k++) {
            /* the engine saturates work_us at INT64_MAX rather than wrap */
            sum = nodes[k].exec_us > INT64_MAX - sum ? INT64_MAX : sum + nodes[k].exec_us;
            if (nodes[k].exec_us > max_exec)
                max_exec = nodes[k].exec_us;
            if (nodes[k].slack_us < min_slack)
                min_slack = nodes[k].slack_us;
        }
        if (sum != work) {
            fail(&c, "work_us %" PRId64 " != sum of exec_us %" PRId64, work, sum);
            goto done;
        }
        if (ideal < max_exec) {
            fail(&c, "ideal_wall_us %" PRId64 " shorter than a node's exec_us %" PRId64, ideal,
                 max_exec);
            goto done;
        }
        if (min_slack != 0) {
            fail(&c, "no node has zero slack (least %" PRId64 ")", min_slack);
            goto done;
        }
    } else if (work != 0 || cp != 0 || ideal != 0) {
        fail(&c, "no nodes, but work %" PRId64 ", critical path %" PRId64 ", ideal %" PRId64, work,
             cp, ideal);
        goto done;
    }
    if (check_critical_path(&c, root, nodes, nn) != 0)
        goto done;
    check_totals(&c, root, summary, nn);
done:
    if (nodes)
        free(nodes[0].deps);
    free(nodes);
    json_decref(root);
    return c.failed ? -1 : 0;
}
