/* offline.c -- profile the traces in a file. See offline.h. */
#include "offline.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "otlp.h"
#include "profile_json.h"
#include "report.h"
#include "report_html.h"
#include "strmap.h"
#include "trace.h"
#include "trace_file.h"

typedef struct offline_state {
    strmap_t by_trace_id; /* trace_id -> index in traces */
    trace_t **traces;
    const char **ids;     /* owned copies, keys of by_trace_id */
    size_t count, cap;
    char **bad;           /* "line N: reason" of each malformed record (first 100) */
    size_t bad_count, bad_total;
    size_t rejected;
    const char *path;
    size_t max_string_bytes;
    int oom;
} offline_state_t;

static int offline_on_span(void *opaque, const span_t *span) {
    offline_state_t *st = opaque;
    size_t index;
    if (!strmap_get(&st->by_trace_id, span->trace_id, &index)) {
        if (st->count == st->cap) {
            size_t cap = st->cap ? st->cap * 2 : 8;
            trace_t **t = realloc(st->traces, cap * sizeof(*t));
            if (t)
                st->traces = t;
            const char **ids = realloc(st->ids, cap * sizeof(*ids));
            if (ids)
                st->ids = ids;
            if (!t || !ids)
                goto oom;
            st->cap = cap;
        }
        char *id = strdup(span->trace_id);
        trace_t *trace = trace_new();
        if (trace && st->max_string_bytes)
            trace_set_max_string_bytes(trace, st->max_string_bytes);
        if (!id || !trace || strmap_put(&st->by_trace_id, id, st->count, NULL) < 0) {
            free(id);
            trace_free(trace);
            goto oom;
        }
        st->ids[st->count] = id;
        st->traces[st->count] = trace;
        index = st->count++;
    }
    char err[512];
    if (trace_add_span(st->traces[index], span, err, sizeof(err)) == TRACE_ADD_INVALID) {
        st->rejected++;
        fprintf(stderr, "dagprof: %s: %s\n", st->path, err);
    }
    return 0;
oom:
    st->oom = 1;
    return -1;
}

static void offline_on_error(void *opaque, long record, const char *reason) {
    offline_state_t *st = opaque;
    (void)record; /* the reason names the line or record already */
    fprintf(stderr, "dagprof: %s: %s\n", st->path, reason);
    st->bad_total++;
    if (st->bad_count < 100) {
        char *line = NULL;
        if (asprintf(&line, "skipped malformed input, %s", reason) >= 0)
            st->bad[st->bad_count++] = line;
    }
}

static void offline_state_free(offline_state_t *st) {
    for (size_t i = 0; i < st->count; i++) {
        trace_free(st->traces[i]);
        free((char *)st->ids[i]);
    }
    for (size_t i = 0; i < st->bad_count; i++)
        free(st->bad[i]);
    free(st->traces);
    free(st->ids);
    free(st->bad);
    strmap_free(&st->by_trace_id);
}

int offline_profile_file(const char *path, const offline_options_t *options, FILE *out,
                         offline_result_t *result, char *errstr, size_t errstr_size) {
    int rc = -1;
    offline_state_t st;
    memset(&st, 0, sizeof(st));
    st.path = strcmp(path, "-") == 0 ? "<stdin>" : path;
    st.max_string_bytes = options->max_string_bytes;
    buf_t text = BUF_INIT;
    memset(result, 0, sizeof(*result));
    st.bad = calloc(100, sizeof(*st.bad));
    if (!st.bad || strmap_init(&st.by_trace_id, 16) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    trace_file_handler_t handler = {offline_on_span, offline_on_error, &st};
    if (trace_file_read_as(path, options->input_format, &handler, errstr, errstr_size) != 0) {
        if (st.oom)
            snprintf(errstr, errstr_size, "out of memory reading %s", st.path);
        goto done;
    }
    result->bad_records = st.bad_total;
    result->rejected = st.rejected;

    profile_options_t popt;
    profile_options_init(&popt);
    popt.thresholds = options->thresholds;
    popt.profiled_at_us = options->now_us;
    report_options_t ropt;
    report_options_init(&ropt);
    ropt.ascii = options->ascii;
    ropt.color = options->color;
    size_t profiled = 0;
    for (size_t i = 0; i < st.count; i++) {
        trace_t *trace = st.traces[i];
        for (size_t b = 0; b < st.bad_count; b++)
            trace_add_warning(trace, st.bad[b]);
        if (st.bad_total > st.bad_count) {
            char more[64];
            snprintf(more, sizeof(more), "%zu more input records skipped", st.bad_total - st.bad_count);
            trace_add_warning(trace, more);
        }
        int has_run = 0;
        for (size_t s = 0; s < trace_span_count(trace); s++)
            if (trace_span(trace, s)->kind == SPAN_KIND_RUN)
                has_run = 1;
        popt.complete = has_run;
        char err[512];
        /* OTLP span links name spans; the whole trace is here to resolve them. */
        trace_resolve_span_dependencies(trace, OTLP_LINKS_ATTRIBUTE);
        trace_number_repeated_nodes(trace, OTLP_ATTEMPT_BY_NAME_ATTRIBUTE);
        profile_t *profile = profile_compute(trace, options->pricing, &popt, err, sizeof(err));
        if (!profile) {
            fprintf(stderr, "dagprof: %s: trace %s: %s\n", st.path, st.ids[i], err);
            continue;
        }
        buf_reset(&text);
        int wrc;
        if (options->html) {
            report_html_options_t hopt;
            report_html_options_init(&hopt);
            hopt.max_rows = options->html_max_rows;
            hopt.trace = trace; /* its node spans draw each retry */
            wrc = report_write_html(profile, &hopt, &text);
        } else {
            wrc = options->json ? profile_json_write(profile, &text) : report_write_text(profile, &ropt, &text);
        }
        if (wrc == 0 && options->json)
            wrc = buf_putc(&text, '\n');
        if (wrc == 0 && !options->json && !options->html && i + 1 < st.count)
            wrc = buf_putc(&text, '\n');
        profile_free(profile);
        if (wrc != 0) {
            snprintf(errstr, errstr_size, "out of memory writing a profile");
            goto done;
        }
        if (fwrite(text.data, 1, text.len, out) != text.len) {
            snprintf(errstr, errstr_size, "cannot write the output");
            goto done;
        }
        profiled++;
    }
    result->traces = profiled;
    if (profiled == 0) {
        snprintf(errstr, errstr_size, "%s: no valid span to profile%s", st.path,
                 st.bad_total ? " (every record was malformed)" : "");
        goto done;
    }
    if (fflush(out) != 0) {
        snprintf(errstr, errstr_size, "cannot write the output");
        goto done;
    }
    rc = 0;
done:
    buf_free(&text);
    offline_state_free(&st);
    return rc;
}

/* ---- Profiles of a file, one at a time ------------------------------------ */

int offline_profile_each(const char *path, const offline_options_t *options,
                         offline_profile_cb cb, void *opaque, offline_result_t *result,
                         char *errstr, size_t errstr_size) {
    int rc = -1;
    offline_state_t st;
    memset(&st, 0, sizeof(st));
    st.path = strcmp(path, "-") == 0 ? "<stdin>" : path;
    st.max_string_bytes = options->max_string_bytes;
    memset(result, 0, sizeof(*result));
    st.bad = calloc(100, sizeof(*st.bad));
    if (!st.bad || strmap_init(&st.by_trace_id, 16) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    trace_file_handler_t handler = {offline_on_span, offline_on_error, &st};
    if (trace_file_read_as(path, options->input_format, &handler, errstr, errstr_size) != 0) {
        if (st.oom)
            snprintf(errstr, errstr_size, "out of memory reading %s", st.path);
        goto done;
    }
    result->bad_records = st.bad_total;
    result->rejected = st.rejected;
    profile_options_t popt;
    profile_options_init(&popt);
    popt.thresholds = options->thresholds;
    popt.profiled_at_us = options->now_us;
    size_t profiled = 0;
    for (size_t i = 0; i < st.count; i++) {
        trace_t *trace = st.traces[i];
        int has_run = 0;
        for (size_t s = 0; s < trace_span_count(trace); s++)
            if (trace_span(trace, s)->kind == SPAN_KIND_RUN)
                has_run = 1;
        popt.complete = has_run;
        char err[512];
        trace_resolve_span_dependencies(trace, OTLP_LINKS_ATTRIBUTE);
        trace_number_repeated_nodes(trace, OTLP_ATTEMPT_BY_NAME_ATTRIBUTE);
        profile_t *profile = profile_compute(trace, options->pricing, &popt, err, sizeof(err));
        if (!profile) {
            fprintf(stderr, "dagprof: %s: trace %s: %s\n", st.path, st.ids[i], err);
            continue;
        }
        int cb_rc = cb(opaque, profile, trace);
        profile_free(profile);
        if (cb_rc != 0) {
            rc = cb_rc;
            goto done;
        }
        profiled++;
    }
    result->traces = profiled;
    if (profiled == 0) {
        snprintf(errstr, errstr_size, "%s: no valid span to profile%s", st.path,
                 st.bad_total ? " (every record was malformed)" : "");
        goto done;
    }
    rc = 0;
done:
    offline_state_free(&st);
    return rc;
}
