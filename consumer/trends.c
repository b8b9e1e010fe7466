/* trends.c -- the fleet view over trace files. See trends.h. */
#include "trends.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "strmap.h"
#include "trends_report.h"

struct trends_runs {
    baseline_run_t **records;
    size_t count, cap;
    strmap_t by_trace; /* trace_id (the record's own string) -> index */
    int oom;
};

trends_runs_t *trends_runs_new(void) {
    trends_runs_t *runs = calloc(1, sizeof(*runs));
    if (!runs)
        return NULL;
    if (strmap_init(&runs->by_trace, 256) < 0) {
        free(runs);
        return NULL;
    }
    return runs;
}

void trends_runs_free(trends_runs_t *runs) {
    if (!runs)
        return;
    for (size_t i = 0; i < runs->count; i++)
        baseline_run_free(runs->records[i]);
    free(runs->records);
    strmap_free(&runs->by_trace);
    free(runs);
}

size_t trends_runs_count(const trends_runs_t *runs) {
    return runs->count;
}

const baseline_run_t *const *trends_runs_records(const trends_runs_t *runs) {
    return (const baseline_run_t *const *)runs->records;
}

/* Keep `run` (owned from here): a trace already kept is replaced by a later
 * revision and otherwise dropped. 0, or -1 on OOM (the run is freed). */
static int runs_keep(trends_runs_t *runs, baseline_run_t *run) {
    uint32_t hash = strmap_key_hash(run->trace_id);
    size_t index;
    if (strmap_get_hashed(&runs->by_trace, run->trace_id, hash, &index)) {
        baseline_run_t *old = runs->records[index];
        if (run->revision <= old->revision) {
            baseline_run_free(run);
            return 0;
        }
        strmap_slot_t *slot = strmap_find_slot(&runs->by_trace, run->trace_id, hash);
        if (!slot || !slot->key) {
            baseline_run_free(run);
            return -1;
        }
        slot->key = run->trace_id; /* the old record's string is about to go */
        runs->records[index] = run;
        baseline_run_free(old);
        return 0;
    }
    if (runs->count == runs->cap) {
        size_t cap = runs->cap ? runs->cap * 2 : 256;
        baseline_run_t **grown = realloc(runs->records, cap * sizeof(*grown));
        if (!grown) {
            baseline_run_free(run);
            return -1;
        }
        runs->records = grown;
        runs->cap = cap;
    }
    if (strmap_put_hashed(&runs->by_trace, run->trace_id, hash, runs->count, NULL) < 0) {
        baseline_run_free(run);
        return -1;
    }
    runs->records[runs->count++] = run;
    return 0;
}

static int on_profile(void *opaque, const profile_t *profile, const trace_t *trace) {
    trends_runs_t *runs = opaque;
    char err[256];
    baseline_run_t *run = baseline_run_from_profile(profile, baseline_trace_version(trace), err,
                                                    sizeof(err));
    if (!run || runs_keep(runs, run) != 0) {
        runs->oom = 1;
        return -2;
    }
    return 0;
}

static int load_file(trends_runs_t *runs, const char *path, const offline_options_t *options,
                     char *errstr, size_t errstr_size) {
    offline_result_t result;
    int rc = offline_profile_each(path, options, on_profile, runs, &result, errstr, errstr_size);
    if (runs->oom) {
        snprintf(errstr, errstr_size, "out of memory reading %s", path);
        return -2;
    }
    return rc == 0 ? 0 : -1;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int trends_runs_load(trends_runs_t *runs, const char *path, const offline_options_t *options,
                     char *errstr, size_t errstr_size) {
    struct stat st;
    if (strcmp(path, "-") == 0 || (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)))
        return load_file(runs, path, options, errstr, errstr_size);
    if (stat(path, &st) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *entry;
    buf_t full = BUF_INIT;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        buf_reset(&full);
        if (buf_printf(&full, "%s/%s", path, entry->d_name) != 0)
            goto oom;
        if (stat(full.data, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (count == cap) {
            size_t grown_cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, grown_cap * sizeof(*grown));
            if (!grown)
                goto oom;
            names = grown;
            cap = grown_cap;
        }
        if (!(names[count] = strdup(full.data)))
            goto oom;
        count++;
    }
    closedir(dir);
    dir = NULL;
    if (count == 0) {
        snprintf(errstr, errstr_size, "%s: no trace files in the directory", path);
        rc = -1;
        goto done;
    }
    qsort(names, count, sizeof(*names), name_cmp);
    size_t failed = 0;
    char err[1024];
    for (size_t i = 0; i < count; i++) {
        int file_rc = load_file(runs, names[i], options, err, sizeof(err));
        if (file_rc == -2) {
            snprintf(errstr, errstr_size, "%s", err);
            rc = -2;
            goto done;
        }
        if (file_rc != 0) {
            fprintf(stderr, "dagprof: %s\n", err);
            failed++;
        }
    }
    if (failed) {
        snprintf(errstr, errstr_size, "%s: %zu of %zu files held no trace", path, failed, count);
        rc = -1;
    }
    goto done;
oom:
    snprintf(errstr, errstr_size, "out of memory listing %s", path);
    rc = -2;
done:
    if (dir)
        closedir(dir);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    buf_free(&full);
    return rc;
}

/* ---- Baselines per DAG and version ------------------------------------- */

static int group_cmp(const void *a, const void *b) {
    const baseline_run_t *x = *(const baseline_run_t *const *)a, *y = *(const baseline_run_t *const *)b;
    int c = strcmp(x->dag_id, y->dag_id);
    if (c)
        return c;
    if ((c = strcmp(x->version, y->version)))
        return c;
    if (x->run_start_us != y->run_start_us)
        return x->run_start_us < y->run_start_us ? -1 : 1;
    return strcmp(x->trace_id, y->trace_id);
}

static int64_t run_end(const baseline_run_t *run) {
    if (run->wall_us > 0 && run->run_start_us > INT64_MAX - run->wall_us)
        return INT64_MAX;
    return run->run_start_us + (run->wall_us > 0 ? run->wall_us : 0);
}

typedef struct dag_result {
    baseline_figures_t *figures;
    trends_regression_t *regressions;
    size_t regression_count, regression_cap;
} dag_result_t;

static void dag_result_free(dag_result_t *d) {
    baseline_figures_free(d->figures);
    for (size_t i = 0; i < d->regression_count; i++) {
        free((char *)d->regressions[i].regression.details);
        free((char *)d->regressions[i].regression.node_id);
    }
    free(d->regressions);
}

/* Count regression `item` of `run`: a new entry (taking the item's strings)
 * or one more run of an entry of the same rule and node. */
static int tally(dag_result_t *d, baseline_regression_t *item, const baseline_run_t *run) {
    for (size_t i = 0; i < d->regression_count; i++) {
        trends_regression_t *r = &d->regressions[i];
        if (r->regression.what == item->what &&
            strcmp(r->regression.node_id ? r->regression.node_id : "",
                   item->node_id ? item->node_id : "") == 0) {
            r->runs++;
            return 0;
        }
    }
    if (d->regression_count == d->regression_cap) {
        size_t cap = d->regression_cap ? d->regression_cap * 2 : 4;
        trends_regression_t *grown = realloc(d->regressions, cap * sizeof(*grown));
        if (!grown)
            return -1;
        d->regressions = grown;
        d->regression_cap = cap;
    }
    trends_regression_t *r = &d->regressions[d->regression_count++];
    r->regression = *item;
    r->trace_id = run->trace_id;
    r->runs = 1;
    item->details = NULL; /* moved */
    item->node_id = NULL;
    return 0;
}

/* The figures of runs[0..n) (one DAG and version, in start order) and the
 * regressions of each run against the runs before it. */
static int dag_compute(const baseline_run_t *const *group, size_t n, const trends_options_t *options,
                       int64_t window_end_us, dag_result_t *d, char *errstr, size_t errstr_size) {
    const char *dag_id = group[0]->dag_id, *version = group[0]->version;
    baseline_t *all = baseline_new(dag_id, version, options->window, window_end_us);
    baseline_t *prefix = baseline_new(dag_id, version, options->window, window_end_us);
    baseline_figures_t *prefix_figures = NULL;
    size_t figures_at = 0;
    int rc = -1;
    if (!all || !prefix) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int added = baseline_add(all, group[i], errstr, errstr_size);
        if (added < 0)
            goto done;
        if (added == 0)
            continue; /* outside the window */
        if (prefix_figures) {
            baseline_regressions_t found;
            if (baseline_check(prefix_figures, group[i], &options->rule, &found, errstr, errstr_size) != 0)
                goto done;
            for (size_t k = 0; k < found.count; k++)
                if (tally(d, &found.items[k], group[i]) != 0) {
                    baseline_regressions_free(&found);
                    snprintf(errstr, errstr_size, "out of memory");
                    goto done;
                }
            baseline_regressions_free(&found);
        }
        if (baseline_add(prefix, group[i], errstr, errstr_size) < 0)
            goto done;
        size_t have = baseline_run_count(prefix);
        /* Recomputed when a quarter larger: n log n over the group, not n^2. */
        if (have >= (size_t)(options->rule.min_runs > 0 ? options->rule.min_runs : 1) &&
            (!prefix_figures || have * 4 >= figures_at * 5)) {
            baseline_figures_free(prefix_figures);
            prefix_figures = baseline_figures(prefix, errstr, errstr_size);
            if (!prefix_figures)
                goto done;
            figures_at = have;
        }
    }
    d->figures = baseline_figures(all, errstr, errstr_size);
    if (!d->figures)
        goto done;
    rc = 0;
done:
    baseline_figures_free(prefix_figures);
    baseline_free(prefix);
    baseline_free(all);
    return rc;
}

static int write_out(buf_t *text, FILE *out, char *errstr, size_t errstr_size) {
    if (text->len && fwrite(text->data, 1, text->len, out) != text->len) {
        snprintf(errstr, errstr_size, "cannot write the output");
        return -1;
    }
    if (fflush(out) != 0) {
        snprintf(errstr, errstr_size, "cannot write the output");
        return -1;
    }
    return 0;
}

int trends_write(const trends_runs_t *runs, const trends_options_t *options, FILE *out,
                 char *errstr, size_t errstr_size) {
    int rc = -1;
    const baseline_run_t **sorted = NULL;
    dag_result_t *results = NULL;
    trends_dag_t *dags = NULL;
    size_t dag_count = 0;
    buf_t text = BUF_INIT;
    size_t n = runs->count;

    sorted = malloc((n ? n : 1) * sizeof(*sorted));
    results = calloc(n ? n : 1, sizeof(*results));
    dags = calloc(n ? n : 1, sizeof(*dags));
    if (!sorted || !results || !dags) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    int64_t window_end = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = runs->records[i];
        if (run_end(sorted[i]) > window_end)
            window_end = run_end(sorted[i]);
    }
    if (n > 1)
        qsort(sorted, n, sizeof(*sorted), group_cmp);
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && strcmp(sorted[end]->dag_id, sorted[start]->dag_id) == 0 &&
               strcmp(sorted[end]->version, sorted[start]->version) == 0)
            end++;
        if (dag_compute(sorted + start, end - start, options, window_end, &results[dag_count], errstr,
                        errstr_size) != 0) {
            dag_count++; /* freed below */
            goto done;
        }
        /* a DAG with no run in the window is left out */
        if (results[dag_count].figures->runs > 0) {
            dags[dag_count].figures = results[dag_count].figures;
            dags[dag_count].regressions = results[dag_count].regressions;
            dags[dag_count].regression_count = results[dag_count].regression_count;
            dag_count++;
        } else {
            dag_result_free(&results[dag_count]);
            memset(&results[dag_count], 0, sizeof(results[dag_count]));
        }
        start = end;
    }
    int wrc = options->json ? trends_report_json(dags, dag_count, &text)
                            : trends_report_text(dags, dag_count, &options->report, &text);
    if (wrc != 0) {
        snprintf(errstr, errstr_size, "out of memory writing the baselines");
        goto done;
    }
    rc = write_out(&text, out, errstr, errstr_size);
done:
    for (size_t i = 0; i < dag_count; i++)
        dag_result_free(&results[i]);
    free(results);
    free(dags);
    free(sorted);
    buf_free(&text);
    return rc;
}

int trends_write_compare(const trends_runs_t *a, const char *label_a, const trends_runs_t *b,
                         const char *label_b, const trends_options_t *options, FILE *out,
                         char *errstr, size_t errstr_size) {
    baseline_comparison_t *c = baseline_compare(trends_runs_records(a), a->count,
                                                trends_runs_records(b), b->count, errstr, errstr_size);
    if (!c)
        return -1;
    buf_t text = BUF_INIT;
    int wrc = options->json ? trends_report_compare_json(c, label_a, label_b, &text)
                            : trends_report_compare_text(c, label_a, label_b, &options->report, &text);
    int rc = -1;
    if (wrc != 0)
        snprintf(errstr, errstr_size, "out of memory writing the comparison");
    else
        rc = write_out(&text, out, errstr, errstr_size);
    buf_free(&text);
    baseline_comparison_free(c);
    return rc;
}
