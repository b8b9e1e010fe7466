/* test_offline.c -- `dagprof profile`: files of several runs, malformed lines,
 * unreadable input, and the binary's exit codes. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "offline.h"
#include "pricing_file.h"

static char *write_temp(const char *text) {
    char *path = strdup("/tmp/dagprof-offline-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static offline_options_t options(pricing_t *pricing) {
    offline_options_t o;
    memset(&o, 0, sizeof(o));
    o.pricing = pricing;
    profile_options_t po;
    profile_options_init(&po);
    o.thresholds = po.thresholds;
    o.json = true;
    o.now_us = 42;
    return o;
}

/* Runs the offline profiler into memory; returns the JSON lines parsed. */
static json_t *profile_text(const char *input, offline_result_t *result, int expect_rc, char *err,
                            size_t err_size) {
    char *path = write_temp(input);
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    pricing_t *pricing = pricing_file_default(err, err_size);
    offline_options_t o = options(pricing);
    int rc = offline_profile_file(path, &o, f, result, err, err_size);
    fclose(f);
    ck_assert_int_eq(rc, expect_rc);
    json_t *lines = json_array();
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        ck_assert_msg(j != NULL, "not JSON: %s", line);
        json_array_append_new(lines, j);
    }
    free(out);
    pricing_free(pricing);
    unlink(path);
    free(path);
    return lines;
}

START_TEST(several_runs_and_malformed_lines) {
    const char *input =
        "{\"trace_id\":\"b\",\"span_id\":\"r\",\"kind\":\"run\",\"dag_id\":\"d\",\"start_us\":0,\"end_us\":100}\n"
        "{\"trace_id\":\"a\",\"span_id\":\"n\",\"kind\":\"node\",\"node_id\":\"x\",\"start_us\":10,\"end_us\":30}\n"
        "this is not json\n"
        "\n"
        "{\"trace_id\":\"b\",\"span_id\":\"n\",\"kind\":\"node\",\"node_id\":\"y\",\"start_us\":5,\"end_us\":50}\n"
        "{\"trace_id\":\"b\",\"span_id\":\"bad\",\"kind\":\"node\",\"node_id\":\"z\",\"start_us\":50,\"end_us\":5}\n";
    offline_result_t result;
    char err[512];
    json_t *lines = profile_text(input, &result, 0, err, sizeof(err));
    ck_assert_uint_eq(json_array_size(lines), 2);
    ck_assert_uint_eq(result.traces, 2);
    ck_assert_uint_eq(result.bad_records, 1);
    ck_assert_uint_eq(result.rejected, 1);
    /* in the order the runs first appeared */
    json_t *b = json_array_get(lines, 0), *a = json_array_get(lines, 1);
    ck_assert_str_eq(json_string_value(json_object_get(b, "trace_id")), "b");
    ck_assert_str_eq(json_string_value(json_object_get(a, "trace_id")), "a");
    ck_assert(json_is_true(json_object_get(b, "complete")));
    ck_assert(json_is_false(json_object_get(a, "complete"))); /* no run span */
    json_t *bs = json_object_get(b, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(bs, "wall_us")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(bs, "span_count")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "profiled_at_us")), 42);
    /* the malformed line is a warning of every profile from the file; the
     * invalid span one of its own trace's */
    const char *w0 = json_string_value(json_array_get(json_object_get(a, "warnings"), 0));
    ck_assert_str_eq(w0, "skipped malformed input, line 3: not JSON: '[' or '{' expected near 'this' (column 4)");
    json_t *bw = json_object_get(b, "warnings");
    int saw_invalid = 0, saw_line = 0;
    for (size_t i = 0; i < json_array_size(bw); i++) {
        const char *w = json_string_value(json_array_get(bw, i));
        saw_invalid |= strcmp(w, "span bad: end_us < start_us, ignored") == 0;
        saw_line |= strstr(w, "line 3:") != NULL;
    }
    ck_assert(saw_invalid && saw_line);
    json_decref(lines);
}
END_TEST

START_TEST(nothing_to_profile) {
    offline_result_t result;
    char err[512];
    json_t *lines = profile_text("", &result, -1, err, sizeof(err));
    ck_assert_uint_eq(json_array_size(lines), 0);
    ck_assert_ptr_nonnull(strstr(err, "no valid span to profile"));
    json_decref(lines);
    lines = profile_text("garbage\n{}\n", &result, -1, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "every record was malformed"));
    ck_assert_uint_eq(result.bad_records, 2);
    json_decref(lines);

    pricing_t *pricing = pricing_file_default(err, sizeof(err));
    offline_options_t o = options(pricing);
    ck_assert_int_eq(offline_profile_file("/nonexistent/trace.jsonl", &o, stdout, &result, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/nonexistent/trace.jsonl: No such file or directory");
    pricing_free(pricing);
}
END_TEST

START_TEST(cut_strings) {
    char input[8192];
    char name[5001];
    memset(name, 'n', 5000);
    name[5000] = '\0';
    snprintf(input, sizeof(input),
             "{\"trace_id\":\"t\",\"span_id\":\"s\",\"kind\":\"node\",\"node_id\":\"%s\",\"start_us\":0,\"end_us\":1}\n",
             name);
    char *path = write_temp(input);
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    char err[512];
    pricing_t *pricing = pricing_file_default(err, sizeof(err));
    offline_options_t o = options(pricing);
    o.max_string_bytes = 100;
    offline_result_t result;
    ck_assert_int_eq(offline_profile_file(path, &o, f, &result, err, sizeof(err)), 0);
    fclose(f);
    json_error_t e;
    json_t *p = json_loads(out, 0, &e);
    ck_assert_ptr_nonnull(p);
    const char *node = json_string_value(json_object_get(json_array_get(json_object_get(p, "nodes"), 0), "node_id"));
    ck_assert_uint_eq(strlen(node), 100);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "warnings"), 0)),
                     "strings longer than 100 bytes were cut");
    json_decref(p);
    free(out);
    pricing_free(pricing);
    unlink(path);
    free(path);
}
END_TEST

/* The binary as a user runs it: exit 0 with a report, 1 on unreadable input,
 * 2 on a bad option. */
START_TEST(command_line) {
    char *dir = harness_tempdir("dagprof-cli");
    char log[512], fixture[512];
    snprintf(log, sizeof(log), "%s/out.log", dir);
    snprintf(fixture, sizeof(fixture), "%s/code_review_dag.jsonl", DAGPROF_FIXTURES);
    const char *ok[] = {DAGPROF_BINARY_DIR "/dagprof", "profile", fixture, NULL};
    int status = -1;
    pid_t pid = harness_spawn(ok, NULL, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 0);
    FILE *f = fopen(log, "r");
    char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "DAG code-review-dag"));
    ck_assert_ptr_nonnull(strstr(text, "fetch-code → analyze-complexity → review-performance → aggregate-results"));
    ck_assert_ptr_nonnull(strstr(text, "$0.2485"));

    const char *missing[] = {DAGPROF_BINARY_DIR "/dagprof", "profile", "/nonexistent.jsonl", NULL};
    pid = harness_spawn(missing, NULL, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 1);
    const char *bad[] = {DAGPROF_BINARY_DIR "/dagprof", "profile", "--format", "yaml", fixture, NULL};
    pid = harness_spawn(bad, NULL, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 2);
    const char *pricing[] = {DAGPROF_BINARY_DIR "/dagprof", "profile", "--pricing", "/nonexistent.json", fixture, NULL};
    pid = harness_spawn(pricing, NULL, log);
    ck_assert_int_eq(harness_wait(pid, 60000, &status), 0);
    ck_assert_int_eq(status, 2);
    harness_rmtree(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("offline");
    TCase *tc = tcase_create("profile_files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, several_runs_and_malformed_lines);
    tcase_add_test(tc, nothing_to_profile);
    tcase_add_test(tc, cut_strings);
    tcase_add_test(tc, command_line);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
