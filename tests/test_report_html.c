/* test_report_html.c -- the HTML report: escaping, label cutting by display
 * width, which nodes are shown past the row limit, the aggregated row, the
 * size bound, and the page of tests/fixtures/code_review_dag.jsonl.
 *
 * What a browser makes of the pages (no console error, one row per node, no
 * script run by hostile names) is tests/js/report_browser.js. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "harness_fixtures.h"
#include "offline.h"
#include "pricing.h"
#include "pricing_file.h"
#include "profile.h"
#include "report_html.h"

#define RUN_START_US INT64_C(1714564800000000)

/* ---- helpers ---------------------------------------------------------------- */

static char *escaped(const char *text, size_t max_bytes) {
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_html_escape(&out, text, max_bytes), 0);
    ck_assert_ptr_nonnull(out.data);
    return out.data;
}

static char *labelled(const char *text, int columns) {
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_html_label(&out, text, columns), 0);
    if (!out.data) /* an empty label appends nothing */
        return strdup("");
    return out.data;
}

/* By hand rather than with strstr() in a loop: ASan's strstr measures the
 * whole rest of the text on every call, hours on a 100 MB page. */
static size_t count_of(const char *text, const char *needle) {
    size_t count = 0, n = strlen(needle);
    for (const char *p = text; *p; p++)
        if (*p == needle[0] && strncmp(p, needle, n) == 0)
            count++;
    return count;
}

/* `count` nodes; the first `critical` form the critical path (a chain); node i
 * runs (i % 97 + 1) ms; its id is `id_fmt` with i. `findings` bottlenecks,
 * recommendations and warnings, their texts `text` (NULL: short ones). */
static profile_t *wide_profile(size_t count, size_t critical, const char *id_fmt, size_t findings,
                               const char *text) {
    profile_t *p = profile_new_empty();
    ck_assert_ptr_nonnull(p);
    p->profile_id = "wide#0";
    p->trace_id = "wide";
    p->dag_id = "wide";
    p->complete = true;
    p->summary.run_start_us = RUN_START_US;
    p->summary.wall_us = 100000;
    p->summary.node_count = (int64_t)count;
    p->node_count = count;
    p->nodes = profile_alloc(p, (count ? count : 1) * sizeof(profile_node_t));
    p->critical_path = profile_alloc(p, (critical ? critical : 1) * sizeof(char *));
    p->critical_path_count = critical;
    ck_assert_ptr_nonnull(p->nodes);
    for (size_t i = 0; i < count; i++) {
        char id[8192];
        snprintf(id, sizeof(id), id_fmt, i);
        profile_node_t *n = &p->nodes[i];
        n->node_id = profile_strdup(p, id);
        n->exec_us = (int64_t)(i % 97 + 1) * 1000;
        n->start_us = RUN_START_US + (int64_t)(i % 50) * 1000;
        n->end_us = n->start_us + n->exec_us;
        n->ready_us = n->start_us;
        n->tokens.total = (int64_t)i;
        n->cost_usd = 0.0001 * (double)(i % 13);
        n->status = i % 5 == 0 ? SPAN_STATUS_ERROR : SPAN_STATUS_OK;
        if (i > 0) {
            n->depends_on = profile_alloc(p, sizeof(char *));
            n->depends_on[0] = p->nodes[i - 1].node_id;
            n->depends_on_count = 1;
        }
        if (i < critical) {
            n->on_critical_path = true;
            p->critical_path[i] = n->node_id;
        }
    }
    const char *t = text ? text : "short";
    p->bottlenecks = profile_alloc(p, (findings ? findings : 1) * sizeof(*p->bottlenecks));
    p->recommendations = profile_alloc(p, (findings ? findings : 1) * sizeof(*p->recommendations));
    p->warnings = profile_alloc(p, (findings ? findings : 1) * sizeof(char *));
    for (size_t i = 0; i < findings; i++) {
        p->bottlenecks[i].node_id = p->nodes[i % count].node_id;
        p->bottlenecks[i].details = t;
        p->recommendations[i].node_ids = (const char **)&p->critical_path[0];
        p->recommendations[i].node_id_count = critical < 30 ? critical : 30;
        p->recommendations[i].description = t;
        p->recommendations[i].action = t;
        p->warnings[i] = t;
    }
    p->bottleneck_count = p->recommendation_count = p->warning_count = findings;
    return p;
}

static char *page(const profile_t *p, size_t max_rows) {
    report_html_options_t options;
    report_html_options_init(&options);
    options.max_rows = max_rows;
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_write_html(p, &options, &out), 0);
    ck_assert_ptr_nonnull(out.data);
    return out.data;
}

/* ---- escaping --------------------------------------------------------------- */

START_TEST(test_escape_specials) {
    char *s = escaped("<script>x()</script>\"a' & </style>", 0);
    ck_assert_str_eq(s, "&lt;script&gt;x()&lt;/script&gt;&quot;a&#39; &amp; &lt;/style&gt;");
    free(s);
}
END_TEST

START_TEST(test_escape_controls_and_bad_utf8) {
    /* C0 controls, CR, DEL and C1 are not allowed in HTML text; tab and newline are */
    char *s = escaped("a\x01" "b\x7f" "c\xc2\x85" "d\r\te\nf\xff" "g\xe6\x97", 0);
    ck_assert_str_eq(s, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d\xEF\xBF\xBD" "\te\nf\xEF\xBF\xBD"
                        "g\xEF\xBF\xBD");
    free(s);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_html_escape(&out, NULL, 0), 0); /* NULL is the empty string */
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
}
END_TEST

START_TEST(test_escape_cuts_on_character_boundary) {
    /* "数" is 3 bytes: 4 bytes of input hold one of them, then the ellipsis */
    char *s = escaped("数据", 4);
    ck_assert_str_eq(s, "数…");
    free(s);
    s = escaped("abc", 3);
    ck_assert_str_eq(s, "abc");
    free(s);
    s = escaped("a&b", 2);
    ck_assert_str_eq(s, "a&amp;…");
    free(s);
}
END_TEST

START_TEST(test_label_display_width) {
    char *s = labelled("数据处理节点", 7); /* 12 columns: 3 wide characters and "…" make 7 */
    ck_assert_str_eq(s, "数据处…");
    free(s);
    s = labelled("数据处理节点", 12); /* fits exactly */
    ck_assert_str_eq(s, "数据处理节点");
    free(s);
    s = labelled("🚀🚀🚀", 5);
    ck_assert_str_eq(s, "🚀🚀…");
    free(s);
    s = labelled("a🚀", 2); /* the emoji does not fit in one column */
    ck_assert_str_eq(s, "a…");
    free(s);
    s = labelled("<<<<", 3); /* escaped text is measured as the characters it shows */
    ck_assert_str_eq(s, "&lt;&lt;…");
    free(s);
    s = labelled("e\xcc\x81tude", 5); /* a combining accent takes no column */
    ck_assert_str_eq(s, "e\xcc\x81tude");
    free(s);
}
END_TEST

/* ---- selection and aggregation ---------------------------------------------- */

START_TEST(test_select_critical_first_then_longest) {
    /* 200 nodes, exec (i % 97 + 1) ms: the longest are 96, 193 (97 ms), 95, 192 (96 ms) */
    profile_t *p = wide_profile(200, 3, "n%03zu", 0, NULL);
    bool shown[200];
    ck_assert_uint_eq(report_html_select(p, 7, shown), 7);
    size_t expected[] = {0, 1, 2, 95, 96, 192, 193};
    size_t got = 0;
    for (size_t i = 0; i < 200; i++)
        if (shown[i]) {
            ck_assert_uint_lt(got, 7);
            ck_assert_uint_eq(i, expected[got]);
            got++;
        }
    ck_assert_uint_eq(got, 7);
    /* more rows than nodes: all of them */
    bool all[200];
    ck_assert_uint_eq(report_html_select(p, 1000, all), 200);
    profile_free(p);
}
END_TEST

START_TEST(test_select_long_critical_path) {
    profile_t *p = wide_profile(50, 50, "n%03zu", 0, NULL);
    bool shown[50];
    ck_assert_uint_eq(report_html_select(p, 10, shown), 10);
    for (size_t i = 0; i < 50; i++)
        ck_assert_int_eq(shown[i], i < 10);
    profile_free(p);
}
END_TEST

START_TEST(test_aggregated_rows) {
    profile_t *p = wide_profile(1000, 4, "node-%04zu", 0, NULL);
    char *html = page(p, 50);
    /* 50 rows and one aggregate holding the 950 others */
    ck_assert_uint_eq(count_of(html, "<g class=\"gantt-row"), 51);
    ck_assert_uint_eq(count_of(html, "<g class=\"gantt-row aggregate\" data-count=\"950\">"), 1);
    ck_assert_uint_eq(count_of(html, "<g class=\"gantt-row crit"), 4);
    ck_assert_uint_eq(count_of(html, "<g class=\"dag-node"), 50);
    ck_assert_uint_eq(count_of(html, "<g class=\"dag-node crit\""), 4);
    /* the chain's critical edges: 0->1->2->3 */
    ck_assert_uint_eq(count_of(html, "<path class=\"edge crit\""), 3);
    ck_assert_ptr_nonnull(strstr(html, "<tr class=\"aggregate\"><td>950 more nodes</td>"));
    ck_assert_ptr_nonnull(strstr(html, "50 of 1000 nodes shown"));
    /* every critical node is in the page */
    for (int i = 0; i < 4; i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), ">node-%04d</text>", i);
        ck_assert_ptr_nonnull(strstr(html, needle));
    }
    free(html);
    profile_free(p);
}
END_TEST

START_TEST(test_no_aggregate_when_all_fit) {
    profile_t *p = wide_profile(30, 2, "n%02zu", 0, NULL);
    char *html = page(p, 0); /* 0: the default, 200 */
    ck_assert_uint_eq(count_of(html, "<g class=\"gantt-row"), 30);
    ck_assert_ptr_null(strstr(html, "aggregate\" data-count"));
    ck_assert_uint_eq(count_of(html, "data-critical=\"true\""), 2 * 2); /* Gantt and DAG */
    free(html);
    profile_free(p);
}
END_TEST

/* 100k nodes whose ids carry 4,000 quote characters (6 bytes each once
 * escaped), 100k findings with long texts: the page stays under the bound. */
START_TEST(test_size_bound) {
    /* the number first, so ids differ early and sorting them stays quick */
    static char id_fmt[4100];
    strcpy(id_fmt, "%06zu");
    memset(id_fmt + 5, '"', 4000);
    id_fmt[4005] = '\0';
    static char text[4100];
    memset(text, '<', 4096);
    text[4096] = '\0';
    profile_t *p = wide_profile(100000, 40, id_fmt, 100000, text);
    char *html = page(p, REPORT_HTML_DEFAULT_MAX_ROWS);
    size_t len = strlen(html);
    ck_assert_uint_le(len, REPORT_HTML_BOUND(REPORT_HTML_DEFAULT_MAX_ROWS));
    ck_assert_uint_eq(count_of(html, "<g class=\"gantt-row"), REPORT_HTML_DEFAULT_MAX_ROWS + 1);
    ck_assert_uint_eq(count_of(html, "<li class=\"recommendation\">"), REPORT_HTML_DEFAULT_MAX_ROWS);
    ck_assert_uint_eq(count_of(html, "<li class=\"warning\">"), REPORT_HTML_DEFAULT_MAX_ROWS);
    ck_assert_ptr_nonnull(strstr(html, "… 99800 more warnings."));
    ck_assert_ptr_null(strstr(html, "<<"));
    free(html);
    /* with the limit at its top, still under its bound */
    html = page(p, REPORT_HTML_MAX_ROWS_LIMIT * 10);
    ck_assert_uint_le(strlen(html), REPORT_HTML_BOUND(REPORT_HTML_MAX_ROWS_LIMIT));
    ck_assert_uint_eq(count_of(html, "<g class=\"gantt-row"), REPORT_HTML_MAX_ROWS_LIMIT + 1);
    free(html);
    profile_free(p);
}
END_TEST

START_TEST(test_hostile_names_are_text) {
    profile_t *p = wide_profile(3, 2, "<script>window.__xss=%zu</script>\"'&</style>", 3,
                                "<img src=x onerror=alert(1)>");
    p->dag_id = "</title><script>alert(2)</script>";
    char *html = page(p, 0);
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<img"));
    ck_assert_uint_eq(count_of(html, "</style>"), 1); /* the page's own */
    ck_assert_uint_eq(count_of(html, "</title>"), 1 + 3 * 2); /* the page's and the tooltips' */
    ck_assert_ptr_nonnull(strstr(html, "&lt;script&gt;window.__xss=0&lt;/script&gt;&quot;&#39;&amp;&lt;/style&gt;"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
    free(html);
    profile_free(p);
}
END_TEST

START_TEST(test_empty_profile) {
    profile_t *p = wide_profile(0, 0, "n%zu", 0, NULL);
    char *html = page(p, 0);
    ck_assert_ptr_null(strstr(html, "<g class=\"gantt-row"));
    ck_assert_ptr_null(strstr(html, "<svg"));
    ck_assert_ptr_nonnull(strstr(html, "</html>\n"));
    free(html);
    profile_free(p);
}
END_TEST

START_TEST(test_appends_to_buffer) {
    profile_t *p = wide_profile(3, 1, "n%zu", 0, NULL);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(buf_puts(&out, "before\n"), 0);
    ck_assert_int_eq(report_write_html(p, NULL, &out), 0);
    ck_assert_int_eq(strncmp(out.data, "before\n<!DOCTYPE html>\n", 23), 0);
    ck_assert_uint_eq(strlen(out.data), out.len);
    buf_free(&out);
    profile_free(p);
}
END_TEST

/* ---- the example trace, end to end through dagprof profile's code ----------- */

START_TEST(test_example_trace_page) {
    offline_options_t opt;
    memset(&opt, 0, sizeof(opt));
    char err[256];
    pricing_t *pricing = pricing_file_default(err, sizeof(err));
    ck_assert_msg(pricing != NULL, "%s", err);
    opt.pricing = pricing;
    profile_options_t popt;
    profile_options_init(&popt);
    opt.thresholds = popt.thresholds;
    opt.html = true;
    opt.now_us = RUN_START_US;
    char *data = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&data, &size);
    offline_result_t result;
    ck_assert_int_eq(offline_profile_file(DAGPROF_FIXTURES "/code_review_dag.jsonl", &opt, out, &result,
                                          err, sizeof(err)), 0);
    fclose(out);
    ck_assert_uint_eq(result.traces, 1);
    /* five nodes, four on the critical path, review-performance retried once: two bars */
    ck_assert_uint_eq(count_of(data, "<g class=\"gantt-row"), 5);
    ck_assert_uint_eq(count_of(data, "<g class=\"gantt-row crit"), 4);
    ck_assert_uint_eq(count_of(data, "data-retries=\"1\""), 1);
    ck_assert_uint_eq(count_of(data, "class=\"exec attempt"), 6);
    ck_assert_uint_eq(count_of(data, "data-attempt=\"1\""), 1);
    ck_assert_uint_eq(count_of(data, "<path class=\"edge crit\""), 3);
    ck_assert_uint_eq(count_of(data, "<path class=\"slack\""), 1); /* check-security, 2.9 s */
    ck_assert_ptr_nonnull(strstr(data, "data-figure=\"wall time\">45.2 s<"));
    ck_assert_ptr_nonnull(strstr(data, "data-figure=\"cost\">$0.2485<"));
    ck_assert_ptr_nonnull(strstr(data, "data-figure=\"tokens\">27,450<"));
    ck_assert_uint_eq(count_of(data, "<li class=\"recommendation\">"), 4);
    free(data);
    pricing_free(pricing);
}
END_TEST

/* ---- bad input -------------------------------------------------------------- */

START_TEST(test_max_rows_option_is_checked) {
    const char *bad[] = {"0", "5001", "many"};
    const char *why[] = {"html.max.rows: \"0\" from flag --html.max.rows is out of range (1..5000)",
                         "html.max.rows: \"5001\" from flag --html.max.rows is out of range (1..5000)",
                         "html.max.rows: \"many\" from flag --html.max.rows is not an integer (1..5000)"};
    for (int i = 0; i < 3; i++) {
        config_t *config = config_new();
        char *argv[] = {"--html.max.rows", (char *)bad[i], NULL};
        char err[256] = "";
        ck_assert_int_eq(config_load(config, 2, argv, NULL, err, sizeof(err)), -1);
        ck_assert_str_eq(err, why[i]);
        config_free(config);
    }
    config_t *config = config_new();
    char *argv[] = {"--format", "html", "--html.max.rows", "25", NULL};
    char err[256] = "";
    ck_assert_msg(config_load(config, 4, argv, NULL, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(config_get(config, "format"), "html");
    ck_assert_int_eq(config_get_int(config, "html.max.rows"), 25);
    config_free(config);
}
END_TEST

static Suite *report_html_suite(void) {
    Suite *s = suite_create("report_html");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_escape_specials);
    tcase_add_test(tc, test_escape_controls_and_bad_utf8);
    tcase_add_test(tc, test_escape_cuts_on_character_boundary);
    tcase_add_test(tc, test_label_display_width);
    tcase_add_test(tc, test_select_critical_first_then_longest);
    tcase_add_test(tc, test_select_long_critical_path);
    tcase_add_test(tc, test_aggregated_rows);
    tcase_add_test(tc, test_no_aggregate_when_all_fit);
    tcase_add_test(tc, test_size_bound);
    tcase_add_test(tc, test_hostile_names_are_text);
    tcase_add_test(tc, test_empty_profile);
    tcase_add_test(tc, test_appends_to_buffer);
    tcase_add_test(tc, test_example_trace_page);
    tcase_add_test(tc, test_max_rows_option_is_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *runner = srunner_create(report_html_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
