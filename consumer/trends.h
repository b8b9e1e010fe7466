/* trends.h -- the fleet view over trace files: `dagprof profile --trends` and
 * `dagprof trends --compare A B` offline.
 *
 * Every trace of every file is profiled and turned into a run record
 * (engine/baseline.h), exactly the record the live side keeps in Redis, so
 * both compute their figures with the same code from the same records.
 *
 * CLI (consumer/main.c):
 *   dagprof profile --trends [--window 1h|24h|7d] [--format text|json]
 *                   [--regression.factor X] [--regression.min.runs N]
 *                   [--regression.node.factor X] FILE|DIR...
 *     The baselines per dag_id and version over the window ending at the
 *     latest run end among all inputs. DIR: every regular file in it, in name
 *     order (not recursive, hidden files skipped). A file may hold many
 *     traces. A trace seen twice counts once (its latest revision).
 *   dagprof trends --compare A B [--format text|json]
 *     A and B each a trace file or a directory (as above): all runs of A
 *     against all runs of B. When A or B is not a path that exists, they name
 *     versions, which only the live baselines (Redis) know: that mode belongs
 *     to `dagprof trends` reading Redis, and offline it is a usage error.
 *
 * Regressions offline: the runs of each DAG and version are taken in start
 * order and each is checked (baseline_check) against the baseline of the runs
 * before it in the window, as the live side checks each profile as it comes;
 * that baseline is recomputed whenever it has grown by a quarter, so a run is
 * checked against at least 80% of the runs before it. Each rule that held is
 * reported once, with the first run where it held and how many runs it held
 * for.
 *
 * Bad input: a path that is not a trace file, an unreadable file or an empty
 * directory is reported on stderr and the other inputs are still counted; the
 * command then exits 1. A malformed record or a trace that cannot be profiled
 * is reported and skipped. */
#ifndef DAGPROF_TRENDS_H
#define DAGPROF_TRENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "baseline.h"
#include "offline.h"
#include "report.h"

typedef struct trends_runs trends_runs_t;

/* An empty set of run records, or NULL on OOM. Free with trends_runs_free(). */
trends_runs_t *trends_runs_new(void);
void trends_runs_free(trends_runs_t *runs);

/* Profile every trace of `path` (a file, or a directory of files) and keep
 * its run record. Returns 0; -1 with errstr when the path, or some file of
 * the directory, could not be read or held no trace (the files that could
 * are kept: the caller may go on with them); -2 on OOM. */
int trends_runs_load(trends_runs_t *runs, const char *path, const offline_options_t *options,
                     char *errstr, size_t errstr_size);

/* Records kept so far (a trace seen twice counts once: its latest revision). */
size_t trends_runs_count(const trends_runs_t *runs);
const baseline_run_t *const *trends_runs_records(const trends_runs_t *runs);

typedef struct trends_options {
    baseline_window_t window;
    baseline_rule_t rule;
    bool json;
    report_options_t report;
} trends_options_t;

/* Write the baselines of `runs` per dag_id and version (sorted by both) with
 * their regressions. 0, or -1 with errstr (OOM, write error). */
int trends_write(const trends_runs_t *runs, const trends_options_t *options, FILE *out,
                 char *errstr, size_t errstr_size);

/* Write the comparison of runs A with runs B. 0, or -1 with errstr. */
int trends_write_compare(const trends_runs_t *a, const char *label_a, const trends_runs_t *b,
                         const char *label_b, const trends_options_t *options, FILE *out,
                         char *errstr, size_t errstr_size);

#endif
