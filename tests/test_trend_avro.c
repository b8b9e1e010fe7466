/* test_trend_avro.c -- Trend records (schemas/trend_avro.h, schemas/trend.avsc).
 *
 * Figures of a small fleet go out as Avro and come back field for field;
 * Python's avro package (an independent reader) reads the same bytes with
 * schemas/trend.avsc and finds the same figures; the compiled-in schema is
 * the file's; bad bytes are refused with a reason. */
#include <avro.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <unistd.h>

#include "baseline.h"
#include "harness.h"
#include "harness_fixtures.h"
#include "trend_avro.h"

#define T0 INT64_C(1765000000000000)

/* 20 runs of d1 v7: wall 1..20 s, cost $0.001 i, node a always (exec 100 ms,
 * critical), node b in even runs (exec 200 ms, an error in run 0), model m. */
static baseline_figures_t *fleet_figures(void) {
    char err[256];
    baseline_t *b = baseline_new("d1", "v7", BASELINE_WINDOW_7D, T0 + 100 * INT64_C(1000000) * 60);
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof(id), "t-%d", i);
        baseline_node_run_t nodes[2] = {{"a", 100000, 0, true, false, 0, 0.001 * i},
                                        {"b", 200000, 100000, false, i == 0, i == 2 ? 1 : 0, 0}};
        baseline_model_run_t models[1] = {{"m\xc3\xa9", 2, 300, 0.001 * i}};
        baseline_run_t run = {id, "d1", "v7", 0, true, T0 + i * INT64_C(60000000), (i + 1) * INT64_C(1000000),
                              2 * (i + 1) * INT64_C(1000000), 0.001 * i, 300, 0.5, 0, nodes,
                              (size_t)(i % 2 ? 1 : 2), models, 1};
        ck_assert_int_eq(baseline_add(b, &run, err, sizeof(err)), 1);
    }
    baseline_figures_t *f = baseline_figures(b, err, sizeof(err));
    ck_assert_ptr_nonnull(f);
    baseline_free(b);
    return f;
}

static trend_regression_t regressions[2] = {
    {{BASELINE_REGRESSION_WALL, NULL, 40e6, 19e6, 40.0 / 19, "wall 40.00 s is 2.1x the p95 of 19.00 s over 20 runs (7d)"},
     "t-99", 3},
    {{BASELINE_REGRESSION_NODE_EXEC, "a", 300e3, 100e3, 3.0, "node a exec 300 ms is 3.0x its p95 of 100 ms over 20 runs (7d)"},
     NULL, 1}};

static void assert_same(const trend_record_t *x, const trend_record_t *y) {
    const baseline_figures_t *a = x->figures, *b = y->figures;
    ck_assert_str_eq(a->dag_id, b->dag_id);
    ck_assert_str_eq(a->version, b->version);
    ck_assert_int_eq(a->window, b->window);
    ck_assert_int_eq(a->window_end_us, b->window_end_us);
    ck_assert_int_eq(x->profiled_at_us, y->profiled_at_us);
    ck_assert_int_eq(a->runs, b->runs);
    ck_assert(a->runs_per_day == b->runs_per_day);
    const baseline_stat_t *sa[] = {&a->wall_us, &a->work_us, &a->cost_usd, &a->tokens, &a->schedule_efficiency};
    const baseline_stat_t *sb[] = {&b->wall_us, &b->work_us, &b->cost_usd, &b->tokens, &b->schedule_efficiency};
    for (int i = 0; i < 5; i++) {
        ck_assert(sa[i]->mean == sb[i]->mean);
        ck_assert(sa[i]->p50 == sb[i]->p50);
        ck_assert(sa[i]->p95 == sb[i]->p95);
        ck_assert(sa[i]->p99 == sb[i]->p99);
    }
    ck_assert_int_eq(a->unpriced_runs, b->unpriced_runs);
    ck_assert_uint_eq(a->node_count, b->node_count);
    for (size_t i = 0; i < a->node_count; i++) {
        ck_assert_str_eq(a->nodes[i].node_id, b->nodes[i].node_id);
        ck_assert_int_eq(a->nodes[i].runs, b->nodes[i].runs);
        ck_assert(a->nodes[i].exec_us.p50 == b->nodes[i].exec_us.p50);
        ck_assert(a->nodes[i].exec_us.p95 == b->nodes[i].exec_us.p95);
        ck_assert(a->nodes[i].blocked_us.p95 == b->nodes[i].blocked_us.p95);
        ck_assert(a->nodes[i].critical_path_share == b->nodes[i].critical_path_share);
        ck_assert(a->nodes[i].error_rate == b->nodes[i].error_rate);
        ck_assert(a->nodes[i].retry_rate == b->nodes[i].retry_rate);
        ck_assert(a->nodes[i].cost_share == b->nodes[i].cost_share);
    }
    ck_assert_uint_eq(a->model_count, b->model_count);
    for (size_t i = 0; i < a->model_count; i++) {
        ck_assert_str_eq(a->models[i].model, b->models[i].model);
        ck_assert_int_eq(a->models[i].calls, b->models[i].calls);
        ck_assert_int_eq(a->models[i].tokens, b->models[i].tokens);
        ck_assert(a->models[i].cost_share == b->models[i].cost_share);
    }
    ck_assert(a->projected_cost_day_usd == b->projected_cost_day_usd);
    ck_assert(a->projected_cost_month_usd == b->projected_cost_month_usd);
    ck_assert_uint_eq(x->regression_count, y->regression_count);
    for (size_t i = 0; i < x->regression_count; i++) {
        const trend_regression_t *r = &x->regressions[i], *s = &y->regressions[i];
        ck_assert_int_eq(r->regression.what, s->regression.what);
        if (r->regression.node_id)
            ck_assert_str_eq(r->regression.node_id, s->regression.node_id);
        else
            ck_assert_ptr_null(s->regression.node_id);
        if (r->trace_id)
            ck_assert_str_eq(r->trace_id, s->trace_id);
        else
            ck_assert_ptr_null(s->trace_id);
        ck_assert_int_eq(r->runs, s->runs);
        ck_assert(r->regression.value == s->regression.value);
        ck_assert(r->regression.baseline_p95 == s->regression.baseline_p95);
        ck_assert(r->regression.ratio == s->regression.ratio);
        ck_assert_str_eq(r->regression.details, s->regression.details);
    }
}

START_TEST(test_round_trip) {
    char err[256];
    trend_avro_t *avro = trend_avro_new(err, sizeof(err));
    ck_assert_msg(avro != NULL, "%s", err);
    baseline_figures_t *f = fleet_figures();
    trend_record_t record = {f, T0 + 1, regressions, 2};
    buf_t out = BUF_INIT;
    ck_assert_msg(trend_avro_encode(avro, &record, &out, err, sizeof(err)) == 0, "%s", err);
    trend_record_t *back = NULL;
    ck_assert_msg(trend_avro_decode(avro, out.data, out.len, &back, err, sizeof(err)) == 0, "%s", err);
    assert_same(&record, back);
    /* decode -> encode gives the same bytes */
    buf_t again = BUF_INIT;
    ck_assert_int_eq(trend_avro_encode(avro, back, &again, err, sizeof(err)), 0);
    ck_assert_uint_eq(again.len, out.len);
    ck_assert_int_eq(memcmp(again.data, out.data, out.len), 0);
    trend_avro_record_free(back);

    /* every prefix is refused, and so is a byte too many */
    for (size_t cut = 0; cut < out.len; cut++) {
        err[0] = '\0';
        ck_assert_int_eq(trend_avro_decode(avro, out.data, cut, &back, err, sizeof(err)), -1);
        ck_assert_ptr_null(back);
        ck_assert_msg(strncmp(err, "trend_avro: not a Trend record: ", 32) == 0, "%s", err);
    }
    ck_assert_int_eq(buf_putc(&out, 0), 0);
    ck_assert_int_eq(trend_avro_decode(avro, out.data, out.len, &back, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "trend_avro: not a Trend record: bytes left after the record");

    /* a window that is not one of ours; a string that is not UTF-8 */
    baseline_figures_t *g = fleet_figures();
    buf_reset(&out);
    trend_record_t bad = {g, 0, NULL, 0};
    ck_assert_int_eq(trend_avro_encode(avro, &bad, &out, err, sizeof(err)), 0);
    /* bytes: "d1" (len 2: 0x04 'd' '1'), "v7" (0x04 'v' '7'), "7d" (0x04 '7' 'd') */
    ck_assert_int_eq(memcmp(out.data + 6, "\x04" "7d", 3), 0);
    out.data[8] = 'x';
    ck_assert_int_eq(trend_avro_decode(avro, out.data, out.len, &back, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "trend_avro: window: not 1h, 24h or 7d");
    out.data[8] = 'd';
    out.data[1] = (char)0xff;
    ck_assert_int_eq(trend_avro_decode(avro, out.data, out.len, &back, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "trend_avro: dag_id: not UTF-8 text without NUL");
    /* a required string missing */
    g->dag_id = NULL;
    size_t len = out.len;
    ck_assert_int_eq(trend_avro_encode(avro, &bad, &out, err, sizeof(err)), -1);
    ck_assert_uint_eq(out.len, len);
    ck_assert_msg(strstr(err, "dag_id is null") != NULL, "%s", err);
    g->dag_id = "d1";
    baseline_figures_free(g);
    buf_free(&again);
    buf_free(&out);
    baseline_figures_free(f);
    trend_avro_free(avro);
}
END_TEST

START_TEST(test_embedded_schema_equals_file) {
    size_t len;
    char *text = harness_read_file(DAGPROF_SOURCE_DIR "/schemas/trend.avsc", &len);
    ck_assert_uint_eq(len, strlen(trend_avro_schema_json()));
    ck_assert_int_eq(memcmp(text, trend_avro_schema_json(), len), 0);
    avro_schema_t schema = NULL;
    ck_assert_msg(avro_schema_from_json_length(text, len, &schema) == 0, "%s", avro_strerror());
    avro_schema_decref(schema);
    free(text);
}
END_TEST

/* A double as JSON with a fraction, so that it reads back as a real as
 * Python's float does (jansson tells 288 from 288.0). */
static const char *real(double value, char *text, size_t size) {
    snprintf(text, size, "%.17g", value);
    if (!strpbrk(text, ".eE"))
        strncat(text, ".0", size - strlen(text) - 1);
    return text;
}

/* Python's avro reads the bytes with schemas/trend.avsc. */
START_TEST(test_python_reads_it) {
    char err[256];
    trend_avro_t *avro = trend_avro_new(err, sizeof(err));
    baseline_figures_t *f = fleet_figures();
    trend_record_t record = {f, T0 + 1, regressions, 2};
    buf_t out = BUF_INIT;
    ck_assert_int_eq(trend_avro_encode(avro, &record, &out, err, sizeof(err)), 0);
    char *dir = harness_tempdir("dagprof-trend-avro");
    char path[512], log_path[512];
    snprintf(path, sizeof(path), "%s/trend.avro", dir);
    snprintf(log_path, sizeof(log_path), "%s/python.log", dir);
    FILE *file = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(out.data, 1, out.len, file), out.len);
    fclose(file);
    const char *script =
        "import io, json, sys\n"
        "import avro.schema, avro.io\n"
        "schema = avro.schema.parse(open(sys.argv[1]).read())\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "buf = io.BytesIO(data)\n"
        "r = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))\n"
        "assert buf.tell() == len(data), 'bytes left'\n"
        "print(json.dumps([r['dag_id'], r['version'], r['window'], r['profiled_at_us'], r['runs'],\n"
        "  r['runs_per_day'], r['wall_us']['mean'], r['cost_usd']['p95'],\n"
        "  [(n['node_id'], n['runs'], n['exec_us']['p95'], n['critical_path_share'], n['error_rate'],\n"
        "    n['retry_rate']) for n in r['nodes']],\n"
        "  [(m['model'], m['calls'], m['tokens']) for m in r['models']],\n"
        "  r['projected_cost_usd']['month'],\n"
        "  [(g['what'], g['node_id'], g['trace_id'], g['runs'], g['ratio']) for g in r['regressions']]],\n"
        "  ensure_ascii=True))\n";
    const char *argv[] = {"/usr/bin/python3", "-c", script, DAGPROF_SOURCE_DIR "/schemas/trend.avsc", path, NULL};
    pid_t pid = harness_spawn(argv, NULL, log_path);
    ck_assert_msg(pid > 0, "cannot start python3: %s", strerror(errno));
    int status = -1;
    ck_assert_int_eq(harness_wait(pid, 120000, &status), 0);
    char *printed = harness_slurp(log_path);
    ck_assert_msg(status == 0,
                  "python3 with the avro package (Debian: python3-avro) could not read the record "
                  "(exit %d):\n%s",
                  status, printed);
    char expected[2048], r1[40], r2[40], r3[40], r4[40];
    /* f's own figures, as Python prints them (repr of doubles: shortest round trip) */
    snprintf(expected, sizeof(expected),
             "[\"d1\", \"v7\", \"7d\", %lld, 20, %s, 10500000.0, %s, "
             "[[\"a\", 20, 100000.0, 1.0, 0.0, 0.0], [\"b\", 10, 200000.0, 0.0, 0.1, 0.1]], "
             "[[\"m\\u00e9\", 40, 6000]], %s, "
             "[[\"wall_us\", null, \"t-99\", 3, %s], [\"node_exec_us\", \"a\", null, 1, 3.0]]]\n",
             (long long)(T0 + 1), real(f->runs_per_day, r1, sizeof(r1)), real(f->cost_usd.p95, r2, sizeof(r2)),
             real(f->projected_cost_month_usd, r3, sizeof(r3)), real(40.0 / 19, r4, sizeof(r4)));
    /* 17 digits are not Python's repr: compare after reading both back as JSON */
    json_error_t jerr;
    json_t *got = json_loads(printed, 0, &jerr), *want = json_loads(expected, 0, &jerr);
    ck_assert_msg(got != NULL, "python printed: %s", printed);
    ck_assert_msg(want != NULL, "expected: %s", expected);
    ck_assert_msg(json_equal(got, want), "python read\n%s\nexpected\n%s", printed, expected);
    json_decref(got);
    json_decref(want);
    free(printed);
    harness_rmtree(dir);
    free(dir);
    buf_free(&out);
    baseline_figures_free(f);
    trend_avro_free(avro);
}
END_TEST

static Suite *trend_avro_suite(void) {
    Suite *suite = suite_create("trend_avro");
    TCase *tc = tcase_create("trend_avro");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_embedded_schema_equals_file);
    tcase_add_test(tc, test_python_reads_it);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(trend_avro_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
