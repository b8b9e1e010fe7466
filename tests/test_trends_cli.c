/* test_trends_cli.c -- `dagprof profile --trends` and `dagprof trends --compare`
 * on trace files (consumer/trends.h).
 *
 * The traces are written here, span by span, with figures chosen so that
 * every baseline figure is known exactly: constant node times make every
 * quantile exact (the sketch answers a repeated value exactly), and costs
 * follow from a pricing file of round prices. The binary is run as a user
 * runs it; its JSON is parsed and checked figure by figure, and each bad
 * input is checked for its message and exit code. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define DAGPROF DAGPROF_BINARY_DIR "/dagprof"
#define T0 INT64_C(1765000000000000)
#define MS INT64_C(1000)
#define SECONDS INT64_C(1000000)

static char *dir;

static void setup(void) {
    dir = harness_tempdir("dagprof-trends");
    ck_assert_ptr_nonnull(dir);
    char path[512];
    snprintf(path, sizeof(path), "%s/pricing.json", dir);
    FILE *f = fopen(path, "w");
    /* m1: $1 per M input tokens, $10 per M output */
    fputs("{\"models\": {\"m1\": {\"input\": 1, \"output\": 10}}}\n", f);
    fclose(f);
}

static void teardown(void) {
    harness_rmtree(dir);
    free(dir);
}

static char *path_in(const char *name) {
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static void make_dir(const char *name) {
    char *p = path_in(name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
}

/* One run of `dag` (version attribute when not NULL), starting at `start`:
 *   fetch 0..300 ms (with a failed first attempt 0..100 ms when `retry`),
 *   summarize 300 ms .. 300 ms + summarize_ms, depends on fetch, status error
 *   when `error`, one llm call of m1 (1000 in, 100 out: $0.002).
 * Wall: 300 ms + summarize_ms. */
static void write_run(FILE *f, const char *dag, const char *version, const char *trace_id,
                      int64_t start, int64_t summarize_ms, int retry, int error) {
    int64_t end = start + (300 + summarize_ms) * MS;
    if (version)
        fprintf(f,
                "{\"trace_id\":\"%s\",\"span_id\":\"r\",\"kind\":\"run\",\"dag_id\":\"%s\","
                "\"start_us\":%lld,\"end_us\":%lld,\"status\":\"ok\",\"attributes\":{\"dag.version\":\"%s\"}}\n",
                trace_id, dag, (long long)start, (long long)end, version);
    else
        fprintf(f,
                "{\"trace_id\":\"%s\",\"span_id\":\"r\",\"kind\":\"run\",\"dag_id\":\"%s\","
                "\"start_us\":%lld,\"end_us\":%lld,\"status\":\"ok\"}\n",
                trace_id, dag, (long long)start, (long long)end);
    if (retry)
        fprintf(f,
                "{\"trace_id\":\"%s\",\"span_id\":\"f0\",\"parent_span_id\":\"r\",\"node_id\":\"fetch\","
                "\"kind\":\"node\",\"start_us\":%lld,\"end_us\":%lld,\"status\":\"error\",\"attempt\":0}\n",
                trace_id, (long long)start, (long long)(start + 100 * MS));
    fprintf(f,
            "{\"trace_id\":\"%s\",\"span_id\":\"f1\",\"parent_span_id\":\"r\",\"node_id\":\"fetch\","
            "\"kind\":\"node\",\"start_us\":%lld,\"end_us\":%lld,\"status\":\"ok\",\"attempt\":%d}\n",
            trace_id, (long long)(start + (retry ? 100 : 0) * MS), (long long)(start + 300 * MS),
            retry ? 1 : 0);
    fprintf(f,
            "{\"trace_id\":\"%s\",\"span_id\":\"s\",\"parent_span_id\":\"r\",\"node_id\":\"summarize\","
            "\"kind\":\"node\",\"start_us\":%lld,\"end_us\":%lld,\"status\":\"%s\",\"depends_on\":[\"fetch\"]}\n",
            trace_id, (long long)(start + 300 * MS), (long long)end, error ? "error" : "ok");
    fprintf(f,
            "{\"trace_id\":\"%s\",\"span_id\":\"l\",\"parent_span_id\":\"s\",\"kind\":\"llm\","
            "\"start_us\":%lld,\"end_us\":%lld,\"status\":\"ok\",\"model\":\"m1\",\"input_tokens\":1000,"
            "\"output_tokens\":100}\n",
            trace_id, (long long)(start + 310 * MS), (long long)(start + 400 * MS));
}

/* Run dagprof with `args` (a shell word list); stdout and stderr kept apart.
 * Returns the exit status. */
static int run_dagprof(char **out, char **err, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    char *out_path = path_in("stdout"), *err_path = path_in("stderr"), *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "exec %s %s >%s 2>%s", DAGPROF, args, out_path, err_path), 0);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    pid_t pid = harness_spawn(argv, NULL, NULL);
    ck_assert_int_gt(pid, 0);
    int status = -1;
    ck_assert_int_eq(harness_wait(pid, 600000, &status), 0);
    *out = harness_slurp(out_path);
    *err = harness_slurp(err_path);
    free(cmd);
    free(out_path);
    free(err_path);
    return status;
}

static json_t *parse(const char *text) {
    json_error_t error;
    json_t *root = json_loads(text, 0, &error);
    ck_assert_msg(root != NULL, "not JSON (%s): %s", error.text, text);
    return root;
}

static double num(json_t *object, const char *path) {
    /* "a.b.c" */
    char key[128];
    const char *p = path;
    json_t *v = object;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof(key), "%.*s", (int)len, p);
        v = json_object_get(v, key);
        ck_assert_msg(v != NULL, "no %s", path);
        p += len + (dot ? 1 : 0);
    }
    ck_assert_msg(json_is_number(v), "%s is not a number", path);
    return json_number_value(v);
}

static const char *str(json_t *object, const char *key) {
    json_t *v = json_object_get(object, key);
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

/* The fleet of the main test: review v1, 40 runs a minute apart over two
 * files (run 5 of file a repeated in file b: a replay), summarize 1 s, a
 * fetch retry in every 5th run, a summarize error in every 10th; etl
 * (unversioned), 10 runs, summarize 500 ms. */
static void write_fleet(void) {
    make_dir("fleet");
    char *a = path_in("fleet/a.jsonl"), *b = path_in("fleet/b.jsonl");
    FILE *fa = fopen(a, "w"), *fb = fopen(b, "w");
    char id[64];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof(id), "review-%d", i);
        write_run(i < 20 ? fa : fb, "review", "v1", id, T0 + i * 60 * SECONDS, 1000, i % 5 == 0,
                  i % 10 == 0);
    }
    write_run(fb, "review", "v1", "review-5", T0 + 5 * 60 * SECONDS, 1000, 1, 0);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "etl-%d", i);
        write_run(fb, "etl", NULL, id, T0 + i * 60 * SECONDS + 30 * SECONDS, 500, 0, 0);
    }
    fclose(fa);
    fclose(fb);
    free(a);
    free(b);
}

START_TEST(test_trends_json_exact) {
    write_fleet();
    char *out, *err;
    int status = run_dagprof(&out, &err, "profile --trends --format json --pricing %s/pricing.json %s/fleet",
                             dir, dir);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    json_t *root = parse(out);
    json_t *dags = json_object_get(root, "dags");
    ck_assert_uint_eq(json_array_size(dags), 2);
    json_t *etl = json_array_get(dags, 0), *review = json_array_get(dags, 1);
    ck_assert_str_eq(str(etl, "dag_id"), "etl");
    ck_assert_str_eq(str(etl, "version"), "");
    ck_assert_str_eq(str(review, "dag_id"), "review");
    ck_assert_str_eq(str(review, "version"), "v1");
    ck_assert_str_eq(str(review, "window"), "24h");
    /* the latest run end: review-39 at T0 + 39 min + 1.3 s */
    ck_assert(num(review, "window_end_us") == (double)(T0 + 39 * 60 * SECONDS + 1300 * MS));
    ck_assert(num(review, "runs") == 40);
    ck_assert(num(etl, "runs") == 10);
    /* 39 min of runs, floored at 1 h: 40 runs an hour */
    ck_assert(num(review, "runs_per_day") == 960);
    ck_assert(num(etl, "runs_per_day") == 240);
    const char *stats[] = {"mean", "p50", "p95", "p99"};
    for (int i = 0; i < 4; i++) {
        char key[64];
        snprintf(key, sizeof(key), "wall_us.%s", stats[i]);
        ck_assert(num(review, key) == 1300000);
        ck_assert(num(etl, key) == 800000);
        snprintf(key, sizeof(key), "work_us.%s", stats[i]);
        ck_assert(num(review, key) == 1300000);
        snprintf(key, sizeof(key), "cost_usd.%s", stats[i]);
        ck_assert_double_eq_tol(num(review, key), 0.002, 1e-15);
        snprintf(key, sizeof(key), "tokens.%s", stats[i]);
        ck_assert(num(review, key) == 1100);
        snprintf(key, sizeof(key), "schedule_efficiency.%s", stats[i]);
        ck_assert(num(review, key) == 1);
    }
    ck_assert(num(review, "unpriced_runs") == 0);
    json_t *nodes = json_object_get(review, "nodes");
    ck_assert_uint_eq(json_array_size(nodes), 2);
    json_t *fetch = json_array_get(nodes, 0), *summarize = json_array_get(nodes, 1);
    /* both always critical: by node_id */
    ck_assert_str_eq(str(fetch, "node_id"), "fetch");
    ck_assert_str_eq(str(summarize, "node_id"), "summarize");
    ck_assert(num(fetch, "runs") == 40);
    ck_assert(num(fetch, "exec_us.p50") == 300000);
    ck_assert(num(fetch, "exec_us.p95") == 300000);
    ck_assert(num(fetch, "blocked_us.p95") == 0);
    ck_assert(num(fetch, "critical_path_share") == 1);
    ck_assert(num(fetch, "error_rate") == 0);
    ck_assert(num(fetch, "retry_rate") == 0.2); /* 8 of 40 */
    ck_assert(num(fetch, "cost_share") == 0);
    ck_assert(num(summarize, "exec_us.p50") == 1000000);
    ck_assert(num(summarize, "blocked_us.p50") == 300000);
    ck_assert(num(summarize, "error_rate") == 0.1); /* 4 of 40 */
    ck_assert(num(summarize, "retry_rate") == 0);
    ck_assert_double_eq_tol(num(summarize, "cost_share"), 1.0, 1e-12);
    json_t *models = json_object_get(review, "models");
    ck_assert_uint_eq(json_array_size(models), 1);
    json_t *m1 = json_array_get(models, 0);
    ck_assert_str_eq(str(m1, "model"), "m1");
    ck_assert(num(m1, "calls") == 40);
    ck_assert(num(m1, "tokens") == 44000);
    ck_assert_double_eq_tol(num(m1, "cost_share"), 1.0, 1e-12);
    ck_assert_double_eq_tol(num(review, "projected_cost_usd.day"), 1.92, 1e-12);
    ck_assert_double_eq_tol(num(review, "projected_cost_usd.month"), 57.6, 1e-10);
    ck_assert_double_eq_tol(num(etl, "projected_cost_usd.day"), 0.48, 1e-12);
    ck_assert_uint_eq(json_array_size(json_object_get(review, "regressions")), 0);
    ck_assert_str_eq(err, "");
    json_decref(root);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_trends_window) {
    /* 18 runs 10 min apart, wall 1.3 s: the 1 h window ending at the last
     * run's end holds runs 12..17 (run 12 starts 50 min 1.3 s before it);
     * that span is below 1 h, so the rate is 6 an hour */
    char *p = path_in("hourly.jsonl");
    FILE *f = fopen(p, "w");
    char id[64];
    for (int i = 0; i < 18; i++) {
        snprintf(id, sizeof(id), "h-%d", i);
        write_run(f, "hourly", "2", id, T0 + i * 600 * SECONDS, 1000, 0, 0);
    }
    fclose(f);
    char *out, *err;
    int status = run_dagprof(&out, &err, "profile --trends --window 1h --format json %s", p);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    json_t *root = parse(out);
    json_t *dag = json_array_get(json_object_get(root, "dags"), 0);
    ck_assert_str_eq(str(dag, "window"), "1h");
    ck_assert_str_eq(str(dag, "version"), "2");
    ck_assert(num(dag, "runs") == 6);
    ck_assert(num(dag, "runs_per_day") == 144);
    json_decref(root);
    free(out);
    free(err);
    status = run_dagprof(&out, &err, "profile --trends --window 7d --format json %s", p);
    ck_assert_int_eq(status, 0);
    root = parse(out);
    dag = json_array_get(json_object_get(root, "dags"), 0);
    ck_assert(num(dag, "runs") == 18);
    ck_assert_double_eq_tol(num(dag, "runs_per_day"), 18.0 * 86400.0 / (170 * 60 + 1.3), 1e-9);
    json_decref(root);
    free(out);
    free(err);
    free(p);
}
END_TEST

/* One node 3x slower in the last 100 of 300 runs: the first slow run is
 * reported, naming the node, against the baseline of the runs before it. */
START_TEST(test_trends_planted_regression) {
    char *p = path_in("rag.jsonl");
    FILE *f = fopen(p, "w");
    char id[64];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "rag-%03d", i);
        write_run(f, "rag", "v3", id, T0 + i * 60 * SECONDS, i >= 200 ? 3000 : 1000, 0, 0);
    }
    fclose(f);
    char *out, *err;
    int status = run_dagprof(&out, &err, "profile --trends --window 7d --format json --pricing %s/pricing.json %s",
                             dir, p);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    json_t *root = parse(out);
    json_t *dag = json_array_get(json_object_get(root, "dags"), 0);
    ck_assert(num(dag, "runs") == 300);
    json_t *regs = json_object_get(dag, "regressions");
    ck_assert_uint_eq(json_array_size(regs), 2);
    json_t *wall = json_array_get(regs, 0), *node = json_array_get(regs, 1);
    ck_assert_str_eq(str(wall, "what"), "wall_us");
    ck_assert(json_is_null(json_object_get(wall, "node_id")));
    ck_assert_str_eq(str(wall, "trace_id"), "rag-200");
    ck_assert(num(wall, "value") == 3300000);
    ck_assert(num(wall, "baseline_p95") == 1300000);
    ck_assert_str_eq(str(node, "what"), "node_exec_us");
    ck_assert_str_eq(str(node, "node_id"), "summarize");
    ck_assert_str_eq(str(node, "trace_id"), "rag-200");
    ck_assert(num(node, "value") == 3000000);
    ck_assert(num(node, "baseline_p95") == 1000000);
    ck_assert(num(node, "ratio") == 3);
    /* the baseline a run is checked against is recomputed when a quarter
     * larger: after 30, 38, 48, 60, 75, 94, 118, 148 and 185 runs; run 200
     * meets the one of 185 */
    ck_assert_str_eq(str(node, "details"), "node summarize exec 3.00 s is 3.0x its p95 of 1.00 s over 185 runs (7d)");
    ck_assert_str_eq(str(wall, "details"), "wall 3.30 s is 2.5x the p95 of 1.30 s over 185 runs (7d)");
    /* the baseline absorbs the slow runs: once they pass 5% of it, p95 is slow too */
    ck_assert(num(node, "runs") >= 1 && num(node, "runs") <= 100);
    json_decref(root);
    free(out);
    free(err);

    /* a stricter rule: no run reaches 4x */
    status = run_dagprof(&out, &err,
                         "profile --trends --window 7d --format json --regression.factor 4 "
                         "--regression.node.factor 4 %s",
                         p);
    ck_assert_int_eq(status, 0);
    root = parse(out);
    dag = json_array_get(json_object_get(root, "dags"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(dag, "regressions")), 0);
    json_decref(root);
    free(out);
    free(err);
    free(p);
}
END_TEST

START_TEST(test_trends_text) {
    write_fleet();
    char *out, *err;
    int status = run_dagprof(&out, &err, "profile --trends --pricing %s/pricing.json %s/fleet/a.jsonl", dir, dir);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    char line[256];
    ck_assert_msg(strstr(out, "DAG review\n") != NULL, "%s", out);
    /* the window ends at review-19's end: T0 (05:46:40 UTC) + 19 min 1.3 s */
    ck_assert_msg(strstr(out, "version v1 \xC2\xB7 window 24h ending 2025-12-06 06:05:41 UTC \xC2\xB7 20 runs "
                              "\xC2\xB7 480.0 runs/day\n") != NULL, "%s", out);
    /* trailing spaces are dropped: the header of the figures starts with spaces only */
    ck_assert_msg(strstr(out, "\n                              mean        p50        p95        p99\n") != NULL, "%s", out);
    snprintf(line, sizeof(line), "  %-21s %10s %10s %10s %10s\n", "wall", "1.3 s", "1.3 s", "1.3 s", "1.3 s");
    ck_assert_msg(strstr(out, line) != NULL, "no line \"%s\" in\n%s", line, out);
    snprintf(line, sizeof(line), "  %-21s %10s %10s %10s %10s\n", "cost", "$0.0020", "$0.0020", "$0.0020", "$0.0020");
    ck_assert_msg(strstr(out, line) != NULL, "no line \"%s\" in\n%s", line, out);
    ck_assert_msg(strstr(out, "  projected cost        $0.9600 a day \xC2\xB7 $28.8000 a month, at 480.0 runs/day\n"), "%s", out);
    ck_assert(strstr(out, "Nodes (2) by critical-path frequency") != NULL);
    ck_assert(strstr(out, "Cost by node") != NULL);
    ck_assert(strstr(out, "Cost by model") != NULL);
    ck_assert(strstr(out, "Regressions (0)") != NULL);
    /* the node table: fetch retried in 4 of 20 runs, summarize failed in 2 */
    ck_assert_msg(strstr(out, "  fetch          20  300.0 ms  300.0 ms         0         0   100.0%    0.0%   20.0%   0.0%\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "  summarize      20     1.0 s     1.0 s  300.0 ms  300.0 ms   100.0%   10.0%    0.0% 100.0%\n"),
                  "%s", out);
    ck_assert(strstr(out, "  cost of the runs      $0.0400\n") != NULL);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_compare_files) {
    make_dir("a");
    make_dir("b");
    char *pa = path_in("a/runs.jsonl"), *pb = path_in("b/runs.jsonl");
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    char id[64];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "a-%d", i);
        write_run(fa, "review", "v1", id, T0 + i * 60 * SECONDS, 1000, 0, 0);
        snprintf(id, sizeof(id), "b-%d", i);
        write_run(fb, "review", "v2", id, T0 + i * 60 * SECONDS, 800, 0, 0);
    }
    fclose(fa);
    fclose(fb);
    char *out, *err;
    int status = run_dagprof(&out, &err, "trends --compare --format json --pricing %s/pricing.json %s/a %s/b", dir,
                             dir, dir);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    json_t *root = parse(out);
    ck_assert(num(root, "a.runs") == 30);
    ck_assert(num(root, "b.runs") == 30);
    ck_assert(num(root, "a.wall_us.p50") == 1300000);
    ck_assert(num(root, "b.wall_us.p50") == 1100000);
    ck_assert_double_eq_tol(num(root, "wall_us.p50_rel"), -2.0 / 13.0, 1e-12);
    /* complete separation, 30 vs 30, each side one value (two ties of 30):
     * U_B = 0, U = 900, mu = 450, var = 900 / 12 x (61 - 2 (30^3 - 30) / (60 x 59)) */
    ck_assert(num(root, "wall_us.u") == 0);
    double s = sqrt(900.0 / 12 * (61 - 2.0 * (27000 - 30) / (60 * 59)));
    double expected_p = erfc((900 - 450 - 0.5) / s / sqrt(2.0));
    ck_assert_msg(fabs(num(root, "wall_us.p_value") - expected_p) <= 1e-9 * expected_p, "p %.17g, expected %.17g",
                  num(root, "wall_us.p_value"), expected_p);
    ck_assert(num(root, "cost_usd.p_value") == 1);
    ck_assert_str_eq(str(root, "summary"), "B is 15% faster at p50 (p < 0.001), as expensive as A (p = 1.00)");
    json_t *nodes = json_object_get(root, "nodes");
    ck_assert_uint_eq(json_array_size(nodes), 2);
    json_t *summarize = json_array_get(nodes, 1);
    ck_assert_str_eq(str(summarize, "node_id"), "summarize");
    ck_assert(num(summarize, "exec_p50_a_us") == 1000000);
    ck_assert(num(summarize, "exec_p50_b_us") == 800000);
    ck_assert_double_eq_tol(num(summarize, "rel_diff"), -0.2, 1e-12);
    json_decref(root);
    free(out);
    free(err);
    /* the text view carries the sentence */
    status = run_dagprof(&out, &err, "trends --compare %s %s", pa, pb);
    ck_assert_int_eq(status, 0);
    ck_assert_msg(strstr(out, "  B is 15% faster at p50 (p < 0.001), as expensive as A (p = 1.00)\n") != NULL, "%s", out);
    ck_assert(strstr(out, "Nodes (2): exec p50") != NULL);
    free(out);
    free(err);
    free(pa);
    free(pb);
}
END_TEST

START_TEST(test_bad_inputs) {
    write_fleet();
    char *garbage = path_in("garbage.txt");
    FILE *f = fopen(garbage, "w");
    fputs("this is not a trace\nnor is this\n", f);
    fclose(f);
    make_dir("empty");
    char *out, *err;

    /* a file that is not a trace */
    int status = run_dagprof(&out, &err, "profile --trends %s", garbage);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(err, "garbage.txt: no valid span to profile (every record was malformed)") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "no run to count") != NULL, "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);

    /* ... among good ones: reported, the rest counted, exit 1 */
    status = run_dagprof(&out, &err, "profile --trends --format json %s %s/fleet", garbage, dir);
    ck_assert_int_eq(status, 1);
    ck_assert(strstr(err, "garbage.txt: no valid span to profile") != NULL);
    json_t *root = parse(out);
    ck_assert(num(json_array_get(json_object_get(root, "dags"), 1), "runs") == 40);
    json_decref(root);
    free(out);
    free(err);

    /* an empty directory */
    status = run_dagprof(&out, &err, "profile --trends %s/empty", dir);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(err, "empty: no trace files in the directory") != NULL, "%s", err);
    free(out);
    free(err);

    /* a path that does not exist */
    status = run_dagprof(&out, &err, "profile --trends %s/nothing", dir);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(err, "nothing: No such file or directory") != NULL, "%s", err);
    free(out);
    free(err);

    /* a bad window, a bad format, no input */
    status = run_dagprof(&out, &err, "profile --trends --window 2h %s/fleet", dir);
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(err, "window: \"2h\" from flag --window is not one of 1h, 24h, 7d") != NULL, "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    status = run_dagprof(&out, &err, "profile --trends --format html %s/fleet", dir);
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(err, "--format html is not available for the fleet view") != NULL, "%s", err);
    free(out);
    free(err);
    status = run_dagprof(&out, &err, "profile --trends");
    ck_assert_int_eq(status, 2);
    ck_assert(strstr(err, "name trace files or directories") != NULL);
    free(out);
    free(err);

    /* a bad trace and a malformed line among good ones: reported, the rest counted, exit 0 */
    char *mixed = path_in("mixed.jsonl");
    f = fopen(mixed, "w");
    write_run(f, "review", "v1", "good-1", T0, 1000, 0, 0);
    fputs("{\"trace_id\": \"broken\n", f);
    fputs("{\"trace_id\":\"bad\",\"span_id\":\"x\",\"kind\":\"run\",\"dag_id\":\"review\",\"start_us\":10,\"end_us\":5,\"status\":\"ok\"}\n", f);
    write_run(f, "review", "v1", "good-2", T0 + 60 * SECONDS, 1000, 0, 0);
    fclose(f);
    status = run_dagprof(&out, &err, "profile --trends --format json %s", mixed);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    ck_assert_msg(strstr(err, "mixed.jsonl: line 5: not JSON") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "trace bad:") != NULL, "%s", err);
    root = parse(out);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "dags")), 1);
    ck_assert(num(json_array_get(json_object_get(root, "dags"), 0), "runs") == 2);
    json_decref(root);
    free(out);
    free(err);

    /* compare: a path that does not exist is a version, which needs the live baselines */
    status = run_dagprof(&out, &err, "trends --compare v1 v2");
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(err, "v1: no such file or directory (versions are compared from the live baselines in Redis)") != NULL, "%s", err);
    free(out);
    free(err);
    status = run_dagprof(&out, &err, "trends --compare %s", mixed);
    ck_assert_int_eq(status, 2);
    ck_assert(strstr(err, "name two trace files or directories") != NULL);
    free(out);
    free(err);
    status = run_dagprof(&out, &err, "trends --compare %s %s", mixed, garbage);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(err, "garbage.txt: no run to compare") != NULL, "%s", err);
    free(out);
    free(err);
    free(mixed);
    free(garbage);
}
END_TEST

static Suite *trends_cli_suite(void) {
    Suite *suite = suite_create("trends_cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_trends_json_exact);
    tcase_add_test(tc, test_trends_window);
    tcase_add_test(tc, test_trends_planted_regression);
    tcase_add_test(tc, test_trends_text);
    tcase_add_test(tc, test_compare_files);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(trends_cli_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
