/* span.c -- names of span kinds and statuses. See span.h. */
#include "span.h"

#include <string.h>

static const char *const span_kind_names[] = {"run", "node", "llm", "tool", "other"};
static const char *const span_status_names[] = {"ok", "error", "unset"};

const char *span_kind_name(span_kind_t kind) {
    return (unsigned)kind < 5 ? span_kind_names[kind] : "other";
}

const char *span_status_name(span_status_t status) {
    return (unsigned)status < 3 ? span_status_names[status] : "unset";
}

int span_kind_parse(const char *name, span_kind_t *out) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, span_kind_names[i]) == 0) {
            *out = (span_kind_t)i;
            return 0;
        }
    return -1;
}

int span_status_parse(const char *name, span_status_t *out) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, span_status_names[i]) == 0) {
            *out = (span_status_t)i;
            return 0;
        }
    return -1;
}
