/* test_schema_evolution.c -- the output schemas evolve by the rule of
 * schemas/README.md: records written by the current schema read with the
 * previous released one (tests/fixtures/schemas/v0.1), and the reverse.
 *
 * dagprof writes the records (the small profile and its recommendations);
 * tests/schema_evolution.py reads them with Python avro's schema resolution,
 * an independent implementation, and checks the rule on the two schema files.
 * The expected figures come from the fixture schemas, so a field appended
 * with a default to the current schema keeps this test passing, and any
 * rename, retype or field without default makes it fail. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "harness.h"
#include "harness_fixtures.h"
#include "profile.h"
#include "profile_avro.h"

#define PREVIOUS DAGPROF_FIXTURES "/schemas/v0.1"

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static size_t field_count(const char *path) {
    json_error_t jerr;
    json_t *schema = json_load_file(path, 0, &jerr);
    ck_assert_msg(schema != NULL, "%s: %s", path, jerr.text);
    size_t n = json_array_size(json_object_get(schema, "fields"));
    json_decref(schema);
    return n;
}

/* Run the checker on `records`; return its output, asserting exit `want`. */
static char *check_evolution(const char *dir, const char *current, const char *previous,
                             const char *const *records, size_t count, int want) {
    const char *argv[16] = {"/usr/bin/python3", DAGPROF_SOURCE_DIR "/tests/schema_evolution.py",
                            current, previous};
    for (size_t i = 0; i < count; i++)
        argv[4 + i] = records[i];
    char log[1024];
    snprintf(log, sizeof(log), "%s/evolution.out", dir);
    pid_t pid = harness_spawn(argv, NULL, log);
    ck_assert_msg(pid > 0, "cannot start python3: %s", strerror(errno));
    int status = -1;
    ck_assert_int_eq(harness_wait(pid, 120000, &status), 0);
    size_t len;
    char *out = harness_read_file(log, &len);
    ck_assert_msg(status == want, "exit %d, wanted %d:\n%s", status, want, out);
    return out;
}

static size_t count_lines(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

START_TEST(test_profile_both_ways) {
    char *dir = harness_tempdir("dagprof-evolution");
    profile_t *p = harness_small_profile(DAGPROF_FIXTURES);
    char err[256] = "";
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_msg(avro != NULL, "%s", err);
    buf_t out = BUF_INIT;
    ck_assert_msg(profile_avro_encode(avro, p, &out, err, sizeof(err)) == 0, "%s", err);
    char path[1024];
    snprintf(path, sizeof(path), "%s/profile.avro", dir);
    write_file(path, out.data, out.len);
    const char *records[] = {path};
    char *text = check_evolution(dir, DAGPROF_SOURCE_DIR "/schemas/profile.avsc",
                                 PREVIOUS "/profile.avsc", records, 1, 0);
    size_t prev = field_count(PREVIOUS "/profile.avsc");
    size_t cur = field_count(DAGPROF_SOURCE_DIR "/schemas/profile.avsc");
    char want[256];
    snprintf(want, sizeof(want), "Profile: current -> previous: %zu fields equal\n"
                                 "Profile: previous -> current: %zu fields equal, %zu defaulted\n",
             prev, prev, cur - prev);
    ck_assert_str_eq(text, want);
    free(text);
    buf_free(&out);
    profile_avro_free(avro);
    profile_free(p);
    harness_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_recommendations_both_ways) {
    char *dir = harness_tempdir("dagprof-evolution");
    profile_t *p = harness_small_profile(DAGPROF_FIXTURES);
    ck_assert_uint_ge(p->recommendation_count, 1);
    ck_assert_uint_le(p->recommendation_count, 10);
    char err[256] = "";
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    char paths[10][1024];
    const char *records[10];
    for (size_t i = 0; i < p->recommendation_count; i++) {
        buf_t out = BUF_INIT;
        ck_assert_msg(profile_avro_encode_recommendation(avro, p, i, &out, err, sizeof(err)) == 0,
                      "%s", err);
        snprintf(paths[i], sizeof(paths[i]), "%s/rec%zu.avro", dir, i);
        write_file(paths[i], out.data, out.len);
        records[i] = paths[i];
        buf_free(&out);
    }
    char *text = check_evolution(dir, DAGPROF_SOURCE_DIR "/schemas/recommendation.avsc",
                                 PREVIOUS "/recommendation.avsc", records,
                                 p->recommendation_count, 0);
    size_t prev = field_count(PREVIOUS "/recommendation.avsc");
    char want[128];
    snprintf(want, sizeof(want), "Recommendation: current -> previous: %zu fields equal\n", prev);
    ck_assert_uint_eq(count_lines(text, want), p->recommendation_count);
    ck_assert_uint_eq(count_lines(text, "Recommendation: previous -> current: "),
                      p->recommendation_count);
    free(text);
    profile_avro_free(avro);
    profile_free(p);
    harness_rmtree(dir);
    free(dir);
}
END_TEST

/* The checker refuses what the rule forbids: a renamed field, a retyped one,
 * a new field without default. Proves the two tests above can fail. */
START_TEST(test_rule_violations_fail) {
    char *dir = harness_tempdir("dagprof-evolution");
    size_t len;
    char *text = harness_read_file(PREVIOUS "/recommendation.avsc", &len);
    struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"{\"name\": \"revision\", \"type\": \"long\"}", "{\"name\": \"rev\", \"type\": \"long\"}",
         "field revision of the previous schema is gone (renamed or removed)"},
        {"{\"name\": \"revision\", \"type\": \"long\"}", "{\"name\": \"revision\", \"type\": \"string\"}",
         "field revision changed its type"},
        {"{\"name\": \"revision\", \"type\": \"long\"}",
         "{\"name\": \"revision\", \"type\": \"long\"}, {\"name\": \"extra\", \"type\": \"long\"}",
         "new field extra has no default"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *at = strstr(text, cases[i].from);
        ck_assert_ptr_nonnull(at);
        buf_t changed = BUF_INIT;
        ck_assert_int_eq(buf_append(&changed, text, (size_t)(at - text)), 0);
        ck_assert_int_eq(buf_puts(&changed, cases[i].to), 0);
        ck_assert_int_eq(buf_puts(&changed, at + strlen(cases[i].from)), 0);
        char path[1024];
        snprintf(path, sizeof(path), "%s/changed.avsc", dir);
        write_file(path, changed.data, changed.len);
        char *out = check_evolution(dir, path, PREVIOUS "/recommendation.avsc", NULL, 0, 1);
        ck_assert_msg(strstr(out, cases[i].reason) != NULL, "%s", out);
        free(out);
        buf_free(&changed);
    }
    free(text);
    harness_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *schema_evolution_suite(void) {
    Suite *s = suite_create("schema_evolution");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_profile_both_ways);
    tcase_add_test(tc, test_recommendations_both_ways);
    tcase_add_test(tc, test_rule_violations_fail);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(schema_evolution_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
