/* fuzz_baseline.c -- libFuzzer target: baseline_run_decode on arbitrary bytes.
 *
 * The live side reads run records back from Redis, where anything may have
 * written them. A record that decodes must encode to bytes that decode to
 * the same record (encode(decode(encode(r))) == encode(r)), and must go
 * through a baseline, its figures, the regression rule and a comparison
 * without a sanitizer finding. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "fuzz_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    baseline_run_t *run = baseline_run_decode(data, size, err, sizeof(err));
    if (!run) {
        if (!err[0])
            fuzz_fail("baseline_run_decode", "failed without a reason");
        return 0;
    }
    uint8_t *first = NULL, *second = NULL;
    size_t first_len = 0, second_len = 0;
    if (baseline_run_encode(run, &first, &first_len, err, sizeof(err)) != 0)
        fuzz_fail("baseline_run_encode", err);
    baseline_run_t *again = baseline_run_decode(first, first_len, err, sizeof(err));
    if (!again)
        fuzz_fail("baseline_run_decode of an encoded record", err);
    if (baseline_run_encode(again, &second, &second_len, err, sizeof(err)) != 0)
        fuzz_fail("baseline_run_encode", err);
    if (first_len != second_len || memcmp(first, second, first_len) != 0)
        fuzz_fail("baseline_run_encode", "decode -> encode does not give the same bytes");

    baseline_t *baseline = baseline_new(run->dag_id, run->version, BASELINE_WINDOW_7D, run->run_start_us);
    if (!baseline)
        fuzz_fail("baseline_new", "out of memory");
    if (baseline_add(baseline, run, err, sizeof(err)) != 1)
        fuzz_fail("baseline_add", "a run at the window's end was not counted");
    baseline_figures_t *figures = baseline_figures(baseline, err, sizeof(err));
    if (!figures)
        fuzz_fail("baseline_figures", err);
    if (figures->runs != 1)
        fuzz_fail("baseline_figures", "one run counted, figures say otherwise");
    baseline_rule_t rule;
    baseline_rule_init(&rule);
    rule.min_runs = 1;
    baseline_regressions_t regressions;
    if (baseline_check(figures, again, &rule, &regressions, err, sizeof(err)) != 0)
        fuzz_fail("baseline_check", err);
    baseline_regressions_free(&regressions);
    const baseline_run_t *sides[2] = {run, again};
    baseline_comparison_t *comparison = baseline_compare(sides, 1, sides + 1, 1, err, sizeof(err));
    if (!comparison)
        fuzz_fail("baseline_compare", err);
    baseline_comparison_free(comparison);
    baseline_figures_free(figures);
    baseline_free(baseline);
    free(first);
    free(second);
    baseline_run_free(again);
    baseline_run_free(run);
    return 0;
}
