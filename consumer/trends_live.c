/* trends_live.c -- `dagprof trends` from Redis. See trends_live.h. */
#include "trends_live.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "baseline_store.h"
#include "fleet_view.h"
#include "report.h"
#include "trends_report.h"

/* Write what a writer gave (wrc its result) and free it; -1 with errstr when
 * it ran out of memory or the output failed. */
static int emit(buf_t *text, int wrc, FILE *out, char *errstr, size_t errstr_size) {
    int rc = 0;
    if (wrc != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        rc = -1;
    } else if (text->len && fwrite(text->data, 1, text->len, out) != text->len) {
        snprintf(errstr, errstr_size, "cannot write the output");
        rc = -1;
    }
    buf_free(text);
    return rc;
}

static void free_runs(baseline_run_t **runs, size_t n) {
    for (size_t i = 0; i < n; i++)
        baseline_run_free(runs[i]);
    free(runs);
}

static int compare(baseline_store_t *store, const trends_live_options_t *o, FILE *out, char *errstr,
                   size_t errstr_size) {
    int rc = -1;
    baseline_figures_t *fa = NULL, *fb = NULL;
    baseline_run_t **ra = NULL, **rb = NULL;
    size_t na = 0, nb = 0;
    baseline_comparison_t *c = NULL;
    if (fleet_view_load(store, o->dag_id, o->compare_a, o->window, &fa, &ra, &na, NULL, errstr, errstr_size) != 0 ||
        fleet_view_load(store, o->dag_id, o->compare_b, o->window, &fb, &rb, &nb, NULL, errstr, errstr_size) != 0)
        goto done;
    if (na == 0 || nb == 0) {
        snprintf(errstr, errstr_size, "no runs of DAG \"%s\" version \"%s\" in Redis (window %s)", o->dag_id,
                 na == 0 ? o->compare_a : o->compare_b, baseline_window_name(o->window));
        rc = 1;
        goto done;
    }
    c = baseline_compare((const baseline_run_t *const *)ra, na, (const baseline_run_t *const *)rb, nb, errstr,
                         errstr_size);
    if (!c)
        goto done;
    /* the writers of the file comparison, with the versions as labels */
    report_options_t report;
    report_options_init(&report);
    buf_t text = BUF_INIT;
    int wrc = o->json ? trends_report_compare_json(c, o->compare_a, o->compare_b, &text)
                      : trends_report_compare_text(c, o->compare_a, o->compare_b, &report, &text);
    if (emit(&text, wrc, out, errstr, errstr_size) != 0)
        goto done;
    rc = 0;
done:
    baseline_comparison_free(c);
    baseline_figures_free(fa);
    baseline_figures_free(fb);
    free_runs(ra, na);
    free_runs(rb, nb);
    return rc;
}

int trends_live_run(const trends_live_options_t *o, FILE *out, char *errstr, size_t errstr_size) {
    int rc = -1;
    baseline_store_dag_t *dags = NULL;
    size_t count = 0;
    baseline_figures_t **figures = NULL;
    trends_dag_t *views = NULL;
    size_t shown = 0;
    const char *only = o->dag_id && o->dag_id[0] ? o->dag_id : NULL;
    if (o->compare_a && o->compare_b && !only) {
        snprintf(errstr, errstr_size, "--compare of two versions needs --dag ID");
        return 1;
    }
    baseline_store_t *store = baseline_store_new(&o->store, errstr, errstr_size);
    if (!store)
        return -1;
    if (o->compare_a && o->compare_b) {
        rc = compare(store, o, out, errstr, errstr_size);
        goto done;
    }
    if (baseline_store_dags(store, &dags, &count, errstr, errstr_size) != 0)
        goto done;
    figures = calloc(count ? count : 1, sizeof(*figures));
    views = calloc(count ? count : 1, sizeof(*views));
    if (!figures || !views) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (only && strcmp(dags[i].dag_id, only) != 0)
            continue;
        baseline_figures_t *f = NULL;
        size_t skipped = 0;
        if (fleet_view_load(store, dags[i].dag_id, dags[i].version, o->window, &f, NULL, NULL, &skipped, errstr,
                            errstr_size) != 0)
            goto done;
        if (skipped)
            fprintf(stderr, "dagprof trends: %s: %zu stored run record(s) could not be read and were left out\n",
                    dags[i].dag_id, skipped);
        if (f->runs == 0) {
            baseline_figures_free(f);
            continue;
        }
        figures[shown] = f;
        views[shown] = (trends_dag_t){f, NULL, 0};
        shown++;
    }
    if (only && shown == 0) {
        snprintf(errstr, errstr_size, "no runs of DAG \"%s\" in Redis", only);
        rc = 1;
        goto done;
    }
    if (!o->json && shown == 0) {
        fprintf(out, "no DAG runs in Redis yet\n");
    } else {
        /* the writers of `dagprof profile --trends`: the same view of the same records */
        report_options_t report;
        report_options_init(&report);
        buf_t text = BUF_INIT;
        int wrc = o->json ? trends_report_json(views, shown, &text)
                          : trends_report_text(views, shown, &report, &text);
        if (emit(&text, wrc, out, errstr, errstr_size) != 0)
            goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < shown; i++)
        baseline_figures_free(figures[i]);
    free(figures);
    free(views);
    baseline_store_dags_free(dags, count);
    baseline_store_free(store);
    return rc;
}
