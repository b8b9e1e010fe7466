/* test_sketch.c -- the quantile sketch (engine/sketch.h).
 *
 * 100k values from several distributions: every quantile the sketch answers
 * is within SKETCH_RELATIVE_ERROR of the exact quantile (the value of rank
 * floor(q (n - 1)) of the sorted values), merging is the same as adding, and
 * count, sum, min and max are exact. The PRNG is fixed, so the inputs are the
 * same on every run. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

#define N 100000

static uint64_t rng_state;

static uint64_t rng_next(void) {
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { /* (0, 1) */
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void) {
    return sqrt(-2.0 * log(rng_uniform())) * cos(2.0 * M_PI * rng_uniform());
}

typedef enum dist { UNIFORM, LOGNORMAL, BIMODAL, CONSTANT, ZEROS, SIGNED, EFFICIENCY } dist_t;

static double draw(dist_t dist) {
    switch (dist) {
    case UNIFORM:
        return 1.0 + 999.0 * rng_uniform();
    case LOGNORMAL:
        return exp(10.0 + 1.5 * rng_normal());
    case BIMODAL:
        return rng_uniform() < 0.7 ? fabs(100.0 + 10.0 * rng_normal()) : fabs(10000.0 + 500.0 * rng_normal());
    case CONSTANT:
        return 42.5;
    case ZEROS:
        return 0.0;
    case SIGNED: /* costs and times are not negative, but the sketch promises both signs */
        return -1000.0 + 2000.0 * rng_uniform();
    case EFFICIENCY: /* schedule efficiency: [0, 1], a tenth exactly 0 or 1 */
    {
        double u = rng_uniform();
        return u < 0.05 ? 0.0 : u < 0.1 ? 1.0 : rng_uniform();
    }
    }
    return 0.0;
}

static int double_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const double qs[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};

static void check_dist(dist_t dist) {
    rng_state = 12345 + (uint64_t)dist;
    double *values = malloc(N * sizeof(double));
    ck_assert_ptr_nonnull(values);
    sketch_t *whole = sketch_new(), *left = sketch_new(), *right = sketch_new();
    ck_assert_ptr_nonnull(whole);
    long double exact_sum = 0;
    for (int i = 0; i < N; i++) {
        values[i] = draw(dist);
        exact_sum += values[i];
        ck_assert_int_eq(sketch_add(whole, values[i]), 0);
        ck_assert_int_eq(sketch_add(i % 3 ? left : right, values[i]), 0);
    }
    qsort(values, N, sizeof(double), double_cmp);
    ck_assert_uint_eq(sketch_count(whole), N);
    ck_assert(sketch_min(whole) == values[0]);
    ck_assert(sketch_max(whole) == values[N - 1]);
    ck_assert_double_eq_tol(sketch_sum(whole), (double)exact_sum, 1e-9 * fabsl(exact_sum) + 1e-9);
    ck_assert_double_eq_tol(sketch_mean(whole), (double)(exact_sum / N), 1e-9 * fabsl(exact_sum / N) + 1e-12);
    ck_assert_int_eq(sketch_merge(left, right), 0);
    ck_assert_uint_eq(sketch_count(left), N);
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        double exact = values[(size_t)floor(qs[k] * (N - 1))];
        double got = sketch_quantile(whole, qs[k]);
        /* the bound, plus double rounding at a bucket's edge */
        double bound = SKETCH_RELATIVE_ERROR * fabs(exact) * (1 + 1e-9);
        ck_assert_msg(fabs(got - exact) <= bound, "dist %d q %.3f: sketch %.9g exact %.9g (error %.3g%%)",
                      (int)dist, qs[k], got, exact, 100.0 * fabs(got - exact) / fabs(exact));
        /* a merged sketch has the same buckets: the same answer */
        ck_assert_msg(sketch_quantile(left, qs[k]) == got, "dist %d q %.3f: merged %.9g whole %.9g",
                      (int)dist, qs[k], sketch_quantile(left, qs[k]), got);
    }
    if (dist == CONSTANT || dist == ZEROS)
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
            ck_assert(sketch_quantile(whole, qs[k]) == values[0]); /* exact: clamped to min = max */
    sketch_free(whole);
    sketch_free(left);
    sketch_free(right);
    free(values);
}

START_TEST(test_uniform) { check_dist(UNIFORM); }
END_TEST
START_TEST(test_lognormal) { check_dist(LOGNORMAL); }
END_TEST
START_TEST(test_bimodal) { check_dist(BIMODAL); }
END_TEST
START_TEST(test_constant) { check_dist(CONSTANT); }
END_TEST
START_TEST(test_zeros) { check_dist(ZEROS); }
END_TEST
START_TEST(test_signed) { check_dist(SIGNED); }
END_TEST
START_TEST(test_efficiency) { check_dist(EFFICIENCY); }
END_TEST

/* Small cases whose answers follow from the bucket formula. */
START_TEST(test_small_cases) {
    sketch_t *s = sketch_new();
    ck_assert_ptr_nonnull(s);
    ck_assert(sketch_quantile(s, 0.5) == 0.0);
    ck_assert(sketch_mean(s) == 0.0);
    ck_assert_uint_eq(sketch_count(s), 0);
    ck_assert_int_eq(sketch_add(s, NAN), -1);
    ck_assert_int_eq(sketch_add(s, INFINITY), -1);
    ck_assert_uint_eq(sketch_count(s), 0);
    /* 0, 0, 100, 200: p0 and p25 are 0 exactly, p50 (rank 1) is 0, p75 (rank 2) ~100 */
    ck_assert_int_eq(sketch_add_n(s, 0.0, 2), 0);
    ck_assert_int_eq(sketch_add(s, 100.0), 0);
    ck_assert_int_eq(sketch_add(s, 200.0), 0);
    ck_assert_uint_eq(sketch_count(s), 4);
    ck_assert(sketch_sum(s) == 300.0);
    ck_assert(sketch_mean(s) == 75.0);
    ck_assert(sketch_quantile(s, 0.0) == 0.0);
    ck_assert(sketch_quantile(s, 0.5) == 0.0);
    double p75 = sketch_quantile(s, 0.75);
    ck_assert_msg(fabs(p75 - 100.0) <= 1.0, "p75 %.9g", p75);
    ck_assert(sketch_quantile(s, 1.0) == 200.0); /* clamped to the max */
    ck_assert(sketch_quantile(s, 7.0) == 200.0); /* q clamped to 1 */
    ck_assert(sketch_quantile(s, -1.0) == 0.0);
    /* reset forgets everything */
    sketch_reset(s);
    ck_assert_uint_eq(sketch_count(s), 0);
    ck_assert_int_eq(sketch_add(s, 5.0), 0);
    ck_assert(sketch_quantile(s, 0.5) == 5.0);
    ck_assert(sketch_sum(s) == 5.0);
    /* values far apart (1 us and a year in us) in one sketch */
    ck_assert_int_eq(sketch_add(s, 1.0), 0);
    ck_assert_int_eq(sketch_add(s, 3.15e13), 0);
    ck_assert(sketch_quantile(s, 0.0) == 1.0);
    ck_assert(sketch_quantile(s, 1.0) == 3.15e13);
    double mid = sketch_quantile(s, 0.5);
    ck_assert_msg(fabs(mid - 5.0) <= 0.05, "mid %.9g", mid);
    /* merging an empty sketch changes nothing; merging into an empty one copies */
    sketch_t *empty = sketch_new();
    ck_assert_int_eq(sketch_merge(s, empty), 0);
    ck_assert_uint_eq(sketch_count(s), 3);
    ck_assert_int_eq(sketch_merge(empty, s), 0);
    ck_assert_uint_eq(sketch_count(empty), 3);
    ck_assert(sketch_quantile(empty, 0.5) == mid);
    ck_assert(sketch_min(empty) == 1.0);
    ck_assert(sketch_max(empty) == 3.15e13);
    sketch_free(empty);
    sketch_free(s);
}
END_TEST

static Suite *sketch_suite(void) {
    Suite *suite = suite_create("sketch");
    TCase *tc = tcase_create("quantiles");
    tcase_add_test(tc, test_uniform);
    tcase_add_test(tc, test_lognormal);
    tcase_add_test(tc, test_bimodal);
    tcase_add_test(tc, test_constant);
    tcase_add_test(tc, test_zeros);
    tcase_add_test(tc, test_signed);
    tcase_add_test(tc, test_efficiency);
    tcase_add_test(tc, test_small_cases);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(sketch_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
