/* dag.c -- the graph state profiling hands to advice: warnings and the
 * replay of a run. See dag.h. profile.c fills a dag_t, advise.c reads it; both
 * call here, and this calls neither. */
#include "dag.h"

#include <stdarg.h>
#include <string.h>

#include "textfmt.h"

#define PROFILE_MAX_WARNINGS 100

void dag_warn(dag_t *dag, const char *fmt, ...) {
    if (dag->warning_count >= PROFILE_MAX_WARNINGS) {
        dag->warnings_dropped++;
        return;
    }
    if (dag->warning_count == PROFILE_MAX_WARNINGS - 1 && !dag->closing_warning) {
        dag->warnings_dropped++; /* the last slot is kept for the count of dropped ones */
        return;
    }
    if (dag->warning_count == dag->warning_cap) {
        size_t cap = dag->warning_cap ? dag->warning_cap * 2 : 16;
        const char **grown = arena_alloc(dag->scratch, cap * sizeof(*grown));
        if (!grown)
            return;
        if (dag->warning_count)
            memcpy(grown, dag->warnings, dag->warning_count * sizeof(*grown));
        dag->warnings = grown;
        dag->warning_cap = cap;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    text_vformat(text, sizeof(text), fmt, ap);
    va_end(ap);
    const char *copy = arena_strdup(dag->arena, text);
    if (copy)
        dag->warnings[dag->warning_count++] = copy;
}

int64_t dag_replay(const dag_t *dag, const int64_t *exec_us, const int64_t *lag_us,
                   size_t skip_node, size_t skip_dep, int64_t *end_rel) {
    int64_t latest = 0;
    for (size_t t = 0; t < dag->node_count; t++) {
        size_t k = dag->topo[t];
        int64_t ready = 0;
        for (size_t i = dag->dep_off[k]; i < dag->dep_off[k + 1]; i++) {
            size_t d = dag->deps[i];
            if (k == skip_node && d == skip_dep)
                continue;
            if (end_rel[d] > ready)
                ready = end_rel[d];
        }
        end_rel[k] = ready + lag_us[k] + exec_us[k];
        if (t == 0 || end_rel[k] > latest)
            latest = end_rel[k];
    }
    return latest;
}
