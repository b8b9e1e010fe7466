/* test_pricing_file.c -- the JSON pricing table and the default table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pricing_file.h"

#define ERRSTR_BYTES 512

static void assert_price(const pricing_t *pricing, const char *model, double input,
                         double output, double cache_read, double cache_write) {
    pricing_price_t price;
    ck_assert_msg(pricing_lookup(pricing, model, &price) == 0, "%s is not priced", model);
    ck_assert_msg(price.input_usd_per_mtok == input && price.output_usd_per_mtok == output &&
                      price.cache_read_usd_per_mtok == cache_read &&
                      price.cache_write_usd_per_mtok == cache_write,
                  "%s: got %g/%g/%g/%g, want %g/%g/%g/%g", model, price.input_usd_per_mtok,
                  price.output_usd_per_mtok, price.cache_read_usd_per_mtok,
                  price.cache_write_usd_per_mtok, input, output, cache_read, cache_write);
}

START_TEST(test_default_table) {
    char errstr[ERRSTR_BYTES] = "";
    pricing_t *pricing = pricing_file_default(errstr, sizeof(errstr));
    ck_assert_msg(pricing != NULL, "%s", errstr);
    ck_assert_uint_eq(pricing_count(pricing), 50); /* 22 models, exact and snapshot keys, 2 -latest aliases */

    assert_price(pricing, "claude-sonnet-4-5", 3, 15, 0.3, 3.75);
    assert_price(pricing, "claude-sonnet-4-5-20250929", 3, 15, 0.3, 3.75);
    assert_price(pricing, "Claude-Sonnet-4-5", 3, 15, 0.3, 3.75);
    assert_price(pricing, "anthropic/claude-sonnet-4-5", 3, 15, 0.3, 3.75);
    assert_price(pricing, "claude-opus-4-5-20251101", 5, 25, 0.5, 6.25);
    assert_price(pricing, "claude-opus-4-1-20250805", 15, 75, 1.5, 18.75);
    assert_price(pricing, "claude-opus-4-20250514", 15, 75, 1.5, 18.75);
    assert_price(pricing, "claude-3-5-haiku-20241022", 0.8, 4, 0.08, 1);
    assert_price(pricing, "claude-3-7-sonnet-latest", 3, 15, 0.3, 3.75);
    assert_price(pricing, "claude-haiku-4-5", 1, 5, 0.1, 1.25);
    /* The exact key and then the longest prefix win over shorter prefixes. */
    assert_price(pricing, "gpt-4o-mini", 0.15, 0.6, 0.075, 0.15);
    assert_price(pricing, "gpt-4o-mini-2024-07-18", 0.15, 0.6, 0.075, 0.15);
    assert_price(pricing, "gpt-4o-2024-08-06", 2.5, 10, 1.25, 2.5);
    assert_price(pricing, "gpt-4.1-mini-2025-04-14", 0.4, 1.6, 0.1, 0.4);
    assert_price(pricing, "gpt-4.1-nano-2025-04-14", 0.1, 0.4, 0.025, 0.1);
    assert_price(pricing, "gpt-4.1-2025-04-14", 2, 8, 0.5, 2);
    assert_price(pricing, "gpt-5-nano-2025-08-07", 0.05, 0.4, 0.005, 0.05);
    assert_price(pricing, "gpt-5-2025-08-07", 1.25, 10, 0.125, 1.25);
    assert_price(pricing, "o3", 2, 8, 0.5, 2);
    assert_price(pricing, "o4-mini-2025-04-16", 1.1, 4.4, 0.275, 1.1);
    assert_price(pricing, "gemini-2.5-flash-lite-preview-09-2025", 0.1, 0.4, 0.025, 0.1);
    assert_price(pricing, "gemini-2.5-flash", 0.3, 2.5, 0.075, 0.3);
    assert_price(pricing, "gemini-2.5-pro", 1.25, 10, 0.31, 1.25);
    assert_price(pricing, "gemini-2.0-flash-001", 0.1, 0.4, 0.025, 0.1);

    pricing_price_t price;
    ck_assert_int_eq(pricing_lookup(pricing, "llama-3-70b", &price), -1);
    ck_assert_int_eq(pricing_lookup(pricing, "claude", &price), -1);

    ck_assert_str_eq(pricing_downgrade(pricing, "claude-opus-4-1-20250805"), "claude-sonnet-4-5");
    ck_assert_str_eq(pricing_downgrade(pricing, "claude-sonnet-4-5"), "claude-haiku-4-5");
    ck_assert_str_eq(pricing_downgrade(pricing, "claude-3-7-sonnet-20250219"),
                     "claude-3-5-haiku");
    ck_assert_str_eq(pricing_downgrade(pricing, "gpt-5-2025-08-07"), "gpt-5-mini");
    ck_assert_str_eq(pricing_downgrade(pricing, "gpt-5-mini-2025-08-07"), "gpt-5-nano");
    ck_assert_str_eq(pricing_downgrade(pricing, "gpt-4o"), "gpt-4o-mini");
    ck_assert_str_eq(pricing_downgrade(pricing, "o3-2025-04-16"), "o4-mini");
    ck_assert_str_eq(pricing_downgrade(pricing, "gemini-2.5-flash-preview-09-2025"),
                     "gemini-2.5-flash-lite");
    /* The cheapest of a family has nowhere to go. */
    ck_assert_ptr_null(pricing_downgrade(pricing, "gpt-5-nano-2025-08-07"));
    ck_assert_ptr_null(pricing_downgrade(pricing, "gpt-4.1-nano"));
    ck_assert_ptr_null(pricing_downgrade(pricing, "gemini-2.5-flash-lite"));
    ck_assert_ptr_null(pricing_downgrade(pricing, "gemini-2.5-flash-lite-preview-09-2025"));
    ck_assert_ptr_null(pricing_downgrade(pricing, "claude-haiku-4-5"));
    pricing_free(pricing);
}
END_TEST

/* Siblings with other prices are never priced as the model they extend. */
START_TEST(test_default_siblings_unpriced) {
    char errstr[ERRSTR_BYTES] = "";
    pricing_t *pricing = pricing_file_default(errstr, sizeof(errstr));
    ck_assert_msg(pricing != NULL, "%s", errstr);
    const char *siblings[] = {"o3-mini", "o3-pro", "gpt-5-pro", "gpt-4o-realtime-preview",
                              "gemini-2.0-flash-lite", "claude-opus-4-7"};
    pricing_price_t price;
    for (size_t i = 0; i < sizeof(siblings) / sizeof(siblings[0]); i++)
        ck_assert_msg(pricing_lookup(pricing, siblings[i], &price) == -1, "%s was priced", siblings[i]);
    pricing_free(pricing);
}
END_TEST

/* Real model names, dated snapshots included, to probe the table with. */
static const char *const sample_models[] = {
    "claude-opus-4-5-20251101",   "claude-opus-4-1-20250805",
    "claude-opus-4-20250514",     "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-20250514",   "claude-3-7-sonnet-20250219",
    "claude-3-7-sonnet-latest",   "claude-haiku-4-5-20251001",
    "claude-3-5-haiku-20241022",  "gpt-5-2025-08-07",
    "gpt-5-mini-2025-08-07",      "gpt-5-nano-2025-08-07",
    "gpt-4.1-2025-04-14",         "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",     "o3-2025-04-16",
    "o4-mini-2025-04-16",         "gemini-2.5-pro-preview-06-05",
    "gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash-lite-preview-09-2025",
    "gemini-2.0-flash-001",
};

static int cheaper(const pricing_t *pricing, const char *model, const char *target) {
    pricing_price_t from, to;
    ck_assert_msg(pricing_lookup(pricing, model, &from) == 0, "%s is not priced", model);
    ck_assert_msg(pricing_lookup(pricing, target, &to) == 0, "downgrade %s -> %s: not priced",
                  model, target);
    return to.input_usd_per_mtok < from.input_usd_per_mtok &&
           to.output_usd_per_mtok < from.output_usd_per_mtok;
}

/* Every model the table prices, and every downgrade key, points only to a
 * priced model that is cheaper on input and output. */
START_TEST(test_default_downgrades_are_cheaper) {
    char errstr[ERRSTR_BYTES] = "";
    pricing_t *pricing = pricing_file_default(errstr, sizeof(errstr));
    ck_assert_msg(pricing != NULL, "%s", errstr);
    json_error_t error;
    json_t *table = json_load_file(DAGPROF_SOURCE_DIR "/schemas/pricing.json", 0, &error);
    ck_assert_msg(table != NULL, "%s", error.text);

    json_t *downgrades = json_object_get(table, "downgrades");
    ck_assert_uint_ge(json_object_size(downgrades), 10);
    const char *key;
    json_t *value;
    json_object_foreach(downgrades, key, value) {
        const char *target = json_string_value(value);
        int hit = 0;
        if (key[strlen(key) - 1] != '*') {
            ck_assert_msg(cheaper(pricing, key, target), "%s -> %s is not cheaper", key, target);
            hit = 1;
        }
        /* Prefix keys are checked through the real names they catch. */
        for (size_t i = 0; i < sizeof(sample_models) / sizeof(sample_models[0]); i++) {
            size_t prefix_len = strlen(key) - 1;
            if (key[prefix_len] == '*' && strncmp(sample_models[i], key, prefix_len) == 0) {
                ck_assert_msg(cheaper(pricing, sample_models[i], target),
                              "%s -> %s is not cheaper", sample_models[i], target);
                hit = 1;
            }
        }
        ck_assert_msg(hit, "downgrade key %s matches no known model", key);
    }

    /* Whatever a priced name resolves to through the engine's matching. */
    json_object_foreach(json_object_get(table, "models"), key, value) {
        char model[128];
        size_t len = strlen(key);
        if (key[len - 1] == '*')
            snprintf(model, sizeof(model), "%.*s20250101", (int)(len - 1), key);
        else
            snprintf(model, sizeof(model), "%s", key);
        const char *target = pricing_downgrade(pricing, model);
        if (target)
            ck_assert_msg(cheaper(pricing, model, target), "%s -> %s is not cheaper", model,
                          target);
    }
    for (size_t i = 0; i < sizeof(sample_models) / sizeof(sample_models[0]); i++) {
        const char *target = pricing_downgrade(pricing, sample_models[i]);
        if (target)
            ck_assert_msg(cheaper(pricing, sample_models[i], target), "%s -> %s is not cheaper",
                          sample_models[i], target);
    }
    json_decref(table);
    pricing_free(pricing);
}
END_TEST

START_TEST(test_parse_optional_parts) {
    char errstr[ERRSTR_BYTES] = "";
    pricing_t *pricing = pricing_file_parse(
        "{\"models\": {\"m\": {\"input\": 2, \"output\": 6}, \"free\": {\"input\": 0, "
        "\"output\": 0, \"cache_read\": 0}}, \"comment\": \"ok\"}",
        "inline", errstr, sizeof(errstr));
    ck_assert_msg(pricing != NULL, "%s", errstr);
    ck_assert_uint_eq(pricing_count(pricing), 2);
    /* Missing cache prices fall back to the input price. */
    assert_price(pricing, "m", 2, 6, 2, 2);
    assert_price(pricing, "free", 0, 0, 0, 0);
    ck_assert_ptr_null(pricing_downgrade(pricing, "m"));
    pricing_free(pricing);
}
END_TEST

static const struct {
    const char *json;
    const char *expected;
} parse_errors[] = {
    {"{\"models\": {\"m\": {\"input\": 1,}}}",
     "t.json: not JSON: string or '}' expected near '}' (line 1, column 30)"},
    {"[]", "t.json: expected a JSON object with \"models\""},
    {"{}", "t.json: missing \"models\""},
    {"{\"models\": []}", "t.json: \"models\" must be an object"},
    {"{\"models\": {}, \"prices\": {}}",
     "t.json: unknown field \"prices\" (expected models, downgrades, comment)"},
    {"{\"models\": {}, \"comment\": 5}",
     "t.json: unknown field \"comment\" (expected models, downgrades, comment)"},
    {"{\"models\": {\"m\": 3}}", "t.json: model \"m\": expected an object of prices"},
    {"{\"models\": {\"\": {\"input\": 1, \"output\": 1}}}", "t.json: models: empty model name"},
    {"{\"models\": {\"m\": {\"output\": 1}}}", "t.json: model \"m\": missing \"input\" price"},
    {"{\"models\": {\"m\": {\"input\": 1}}}", "t.json: model \"m\": missing \"output\" price"},
    {"{\"models\": {\"m\": {\"input\": -1, \"output\": 1}}}",
     "t.json: model \"m\": \"input\" must be a non-negative number"},
    {"{\"models\": {\"m\": {\"input\": \"3\", \"output\": 1}}}",
     "t.json: model \"m\": \"input\" must be a non-negative number"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": null}}}",
     "t.json: model \"m\": \"output\" must be a non-negative number"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1, \"cache_read\": -0.1}}}",
     "t.json: model \"m\": \"cache_read\" must be a non-negative number"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1, \"cache_write\": true}}}",
     "t.json: model \"m\": \"cache_write\" must be a non-negative number"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1, \"cache_reads\": 1}}}",
     "t.json: model \"m\": unknown price field \"cache_reads\" (expected input, output, "
     "cache_read, cache_write)"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1}}, \"downgrades\": []}",
     "t.json: \"downgrades\" must be an object"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1}}, \"downgrades\": {\"m\": 1}}",
     "t.json: downgrade of \"m\": target must be a model name"},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1}}, \"downgrades\": {\"m\": \"x\"}}",
     "t.json: downgrade of \"m\": target \"x\" is not priced in \"models\""},
    {"{\"models\": {\"m\": {\"input\": 1, \"output\": 1}, \"m\": {\"input\": 2, \"output\": 2}}}",
     "t.json: not JSON: duplicate object key near '\"m\"' (line 1, column 47)"},
};

START_TEST(test_parse_errors) {
    char errstr[ERRSTR_BYTES] = "";
    pricing_t *pricing = pricing_file_parse(parse_errors[_i].json, "t.json", errstr,
                                            sizeof(errstr));
    ck_assert_ptr_null(pricing);
    ck_assert_str_eq(errstr, parse_errors[_i].expected);
}
END_TEST

START_TEST(test_load_file) {
    char errstr[ERRSTR_BYTES] = "";
    pricing_t *pricing = pricing_file_load(DAGPROF_FIXTURES "/codec_pricing_small.json", errstr,
                                           sizeof(errstr));
    ck_assert_msg(pricing != NULL, "%s", errstr);
    ck_assert_uint_eq(pricing_count(pricing), 3);
    assert_price(pricing, "acme-large", 10, 30, 1, 12.5);
    assert_price(pricing, "acme-large-2025", 10, 30, 10, 10);
    assert_price(pricing, "acme-small", 0.5, 1.5, 0.5, 0.5);
    ck_assert_str_eq(pricing_downgrade(pricing, "acme-large-2025"), "acme-small");
    pricing_free(pricing);
}
END_TEST

START_TEST(test_load_errors) {
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_ptr_null(
        pricing_file_load(DAGPROF_FIXTURES "/codec_no_such_pricing.json", errstr, sizeof(errstr)));
    ck_assert_str_eq(errstr,
                     DAGPROF_FIXTURES "/codec_no_such_pricing.json: No such file or directory");
    ck_assert_ptr_null(
        pricing_file_load(DAGPROF_FIXTURES "/codec_pricing_bad.json", errstr, sizeof(errstr)));
    ck_assert_str_eq(errstr, DAGPROF_FIXTURES "/codec_pricing_bad.json: not JSON: '}' expected "
                             "near '\"output\"' (line 3, column 32)");
}
END_TEST

static Suite *pricing_file_suite(void) {
    Suite *suite = suite_create("pricing_file");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_default_table);
    tcase_add_test(tc, test_default_siblings_unpriced);
    tcase_add_test(tc, test_default_downgrades_are_cheaper);
    tcase_add_test(tc, test_parse_optional_parts);
    tcase_add_loop_test(tc, test_parse_errors, 0,
                        (int)(sizeof(parse_errors) / sizeof(parse_errors[0])));
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_load_errors);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(pricing_file_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
