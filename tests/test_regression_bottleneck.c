/* test_regression_bottleneck.c -- the fleet view's `regression` bottleneck
 * goes through every writer and reader of profiles: Avro (the output topic),
 * JSON, and the text report, with its node and details. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "harness_fixtures.h"
#include "profile.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "report.h"

/* The small fixture profile with one regression bottleneck appended. */
static profile_t *with_regression(void) {
    profile_t *p = harness_small_profile(DAGPROF_FIXTURES);
    profile_bottleneck_t *all = profile_alloc(p, (p->bottleneck_count + 1) * sizeof(*all));
    ck_assert_ptr_nonnull(all);
    memcpy(all, p->bottlenecks, p->bottleneck_count * sizeof(*all));
    all[p->bottleneck_count] = (profile_bottleneck_t){
        BOTTLENECK_REGRESSION, profile_strdup(p, "summarize"), PROFILE_LEVEL_HIGH, 12.5,
        profile_strdup(p, "node summarize exec 3.10 s is 3.1x its p95 of 1.00 s over 180 runs (24h)")};
    p->bottlenecks = all;
    p->bottleneck_count++;
    return p;
}

static void assert_regression(const profile_t *p) {
    const profile_bottleneck_t *b = &p->bottlenecks[p->bottleneck_count - 1];
    ck_assert_int_eq(b->type, BOTTLENECK_REGRESSION);
    ck_assert_str_eq(b->node_id, "summarize");
    ck_assert_int_eq(b->severity, PROFILE_LEVEL_HIGH);
    ck_assert_double_eq(b->impact_pct, 12.5);
    ck_assert_str_eq(b->details, "node summarize exec 3.10 s is 3.1x its p95 of 1.00 s over 180 runs (24h)");
}

START_TEST(names) {
    profile_bottleneck_type_t t;
    ck_assert_str_eq(profile_bottleneck_type_name(BOTTLENECK_REGRESSION), "regression");
    ck_assert_int_eq(profile_bottleneck_type_parse("regression", &t), 0);
    ck_assert_int_eq(t, BOTTLENECK_REGRESSION);
    ck_assert_int_eq(profile_bottleneck_type_parse("regressions", &t), -1);
}
END_TEST

START_TEST(avro_round_trip) {
    char err[256];
    profile_t *p = with_regression();
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_ptr_nonnull(avro);
    buf_t out = BUF_INIT;
    ck_assert_msg(profile_avro_encode(avro, p, &out, err, sizeof(err)) == 0, "%s", err);
    profile_t *back = NULL;
    ck_assert_msg(profile_avro_decode(avro, out.data, out.len, &back, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(back->bottleneck_count, p->bottleneck_count);
    assert_regression(back);
    profile_free(back);
    buf_free(&out);
    profile_avro_free(avro);
    profile_free(p);
}
END_TEST

START_TEST(json_and_text) {
    char err[256];
    profile_t *p = with_regression();
    buf_t out = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "{\"type\":\"regression\",\"node_id\":\"summarize\",\"severity\":\"high\""));
    profile_t *back = NULL;
    ck_assert_msg(profile_json_read(out.data, out.len, &back, err, sizeof(err)) == 0, "%s", err);
    assert_regression(back);
    profile_free(back);
    buf_free(&out);
    report_options_t ropt;
    report_options_init(&ropt);
    ck_assert_int_eq(report_write_text(p, &ropt, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "regression"));
    ck_assert_ptr_nonnull(strstr(out.data, "over 180 runs (24h)"));
    buf_free(&out);
    profile_free(p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("regression_bottleneck");
    TCase *tc = tcase_create("writers");
    tcase_add_test(tc, names);
    tcase_add_test(tc, avro_round_trip);
    tcase_add_test(tc, json_and_text);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
