/* test_report.c -- the human text report.
 *
 * The small profile is tests/fixtures/enc_profile_small.json (described in
 * test_profile_json.c); its reports are compared byte for byte with
 * tests/fixtures/enc_report_small.txt (defaults: 100 columns, Unicode) and
 * enc_report_small_ascii.txt (80 columns, ASCII, so two optional columns of
 * the node table are hidden). Edge cases (no nodes, zero wall time, 100k
 * nodes, hostile node ids) are built by hand. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_fixtures.h"
#include "buf.h"
#include "profile.h"
#include "profile_json.h"
#include "report.h"

#define RUN_START_US INT64_C(1714564800000000)

/* ---- helpers ---------------------------------------------------------------- */

static profile_t *small_profile(void) {
    return harness_small_profile(DAGPROF_FIXTURES);
}

static char *report(const profile_t *p, int width, bool ascii, bool color, size_t max_rows) {
    report_options_t options;
    report_options_init(&options);
    options.width = width;
    options.ascii = ascii;
    options.color = color;
    options.max_rows = max_rows;
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_write_text(p, &options, &out), 0);
    ck_assert_ptr_nonnull(out.data);
    return out.data;
}

/* Columns a line takes: code points (the tests use no wide characters). */
static int line_columns(const char *line, size_t len) {
    int columns = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)line[i] & 0xC0) != 0x80)
            columns++;
    return columns;
}

/* Every line ends with '\n', has no trailing space, and fits in `width`. */
static void assert_lines_fit(const char *text, int width) {
    size_t len = strlen(text);
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(text[len - 1], '\n');
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        if (end > line)
            ck_assert_msg(end[-1] != ' ', "trailing space: \"%.*s\"", (int)(end - line), line);
        ck_assert_msg(line_columns(line, (size_t)(end - line)) <= width,
                      "line wider than %d: \"%.*s\"", width, (int)(end - line), line);
        line = end + 1;
    }
}

static size_t count_occurrences(const char *text, const char *needle) {
    size_t count = 0;
    for (const char *at = strstr(text, needle); at; at = strstr(at + 1, needle))
        count++;
    return count;
}

/* The lines of `text` between the line starting with `title` and the next blank line. */
static char *section_of(const char *text, const char *title) {
    const char *start = strstr(text, title);
    ck_assert_msg(start != NULL, "no section %s", title);
    start = strchr(start, '\n') + 1;
    const char *end = strstr(start, "\n\n");
    size_t len = end ? (size_t)(end - start) + 1 : strlen(start);
    char *section = malloc(len + 1);
    memcpy(section, start, len);
    section[len] = '\0';
    return section;
}

/* Equal texts; on a difference, show the first differing line (a whole report
 * is too long for a Check message). */
static void assert_text_eq(const char *text, const char *expected) {
    size_t at = 0;
    while (text[at] && text[at] == expected[at])
        at++;
    if (text[at] == expected[at])
        return;
    size_t line = at;
    while (line > 0 && text[line - 1] != '\n')
        line--;
    int line_number = 1;
    for (size_t i = 0; i < line; i++)
        line_number += text[i] == '\n';
    ck_abort_msg("line %d differs:\n  got      \"%.*s\"\n  expected \"%.*s\"", line_number,
                 (int)strcspn(text + line, "\n"), text + line,
                 (int)strcspn(expected + line, "\n"), expected + line);
}

static void assert_matches_fixture(const char *text, const char *fixture) {
    char path[1024];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", DAGPROF_FIXTURES, fixture);
    char *expected = harness_read_file(path, &len);
    assert_text_eq(text, expected);
    free(expected);
}

/* A profile with `count` nodes n000000, n000001, ... each running 1 s after the
 * previous one started, all on the critical path, each costing something. */
static profile_t *chain_profile(size_t count) {
    profile_t *p = profile_new_empty();
    ck_assert_ptr_nonnull(p);
    p->profile_id = "chain#0";
    p->trace_id = "chain";
    p->dag_id = "chain";
    p->complete = true;
    p->summary.run_start_us = RUN_START_US;
    p->summary.wall_us = (int64_t)count * 1000000;
    p->summary.node_count = (int64_t)count;
    p->node_count = count;
    p->nodes = profile_alloc(p, count * sizeof(profile_node_t));
    p->critical_path = profile_alloc(p, count * sizeof(char *));
    p->critical_path_count = count;
    ck_assert_ptr_nonnull(p->nodes);
    ck_assert_ptr_nonnull(p->critical_path);
    for (size_t i = 0; i < count; i++) {
        char id[32];
        snprintf(id, sizeof(id), "n%06zu", i);
        profile_node_t *n = &p->nodes[i];
        n->node_id = profile_strdup(p, id);
        n->start_us = RUN_START_US + (int64_t)i * 1000000;
        n->end_us = n->start_us + 1000000;
        n->exec_us = 1000000;
        n->ready_us = n->start_us;
        n->blocked_us = (int64_t)i * 1000000;
        n->on_critical_path = true;
        n->cost_usd = 0.001 * (double)(i % 7 + 1);
        p->critical_path[i] = n->node_id;
    }
    p->summary.work_us = p->summary.wall_us;
    p->summary.critical_path_us = p->summary.wall_us;
    p->summary.ideal_wall_us = p->summary.wall_us;
    return p;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_small_matches_fixture) {
    profile_t *p = small_profile();
    buf_t out = BUF_INIT;
    ck_assert_int_eq(report_write_text(p, NULL, &out), 0); /* NULL: the defaults */
    assert_matches_fixture(out.data, "enc_report_small.txt");
    assert_lines_fit(out.data, 100);

    /* width 0 and max_rows 0 mean the defaults too. */
    char *text = report(p, 0, false, false, 0);
    ck_assert_str_eq(text, out.data);
    free(text);
    buf_free(&out);
    profile_free(p);
}
END_TEST

START_TEST(test_small_ascii_matches_fixture) {
    profile_t *p = small_profile();
    char *text = report(p, 80, true, false, 0);
    assert_matches_fixture(text, "enc_report_small_ascii.txt");
    assert_lines_fit(text, 80);
    for (const char *c = text; *c; c++)
        ck_assert_msg((unsigned char)*c < 0x80, "non-ASCII byte 0x%02x", (unsigned char)*c);
    free(text);
    profile_free(p);
}
END_TEST

/* Colour adds escape sequences and changes nothing else. */
START_TEST(test_color_only_adds_escapes) {
    profile_t *p = small_profile();
    char *plain = report(p, 100, false, false, 0);
    char *color = report(p, 100, false, true, 0);

    ck_assert_ptr_nonnull(strstr(color, "\033[1mSummary\033[0m \xe2\x94\x80"));
    ck_assert_ptr_nonnull(strstr(color, "\033[31m*\033[0m"));                      /* critical */
    ck_assert_ptr_nonnull(strstr(color, "\033[31m error\033[0m"));                  /* status */
    ck_assert_ptr_nonnull(strstr(color, "  \033[31mhigh    \033[0m slow_node"));    /* severity */
    ck_assert_ptr_nonnull(strstr(color, "  \033[33mmedium  \033[0m error_node"));
    char *stripped = malloc(strlen(color) + 1);
    size_t out = 0;
    for (const char *c = color; *c;) {
        if (*c == '\033') {
            c = strchr(c, 'm') + 1;
            continue;
        }
        stripped[out++] = *c++;
    }
    stripped[out] = '\0';
    assert_text_eq(stripped, plain);
    ck_assert_ptr_null(strchr(plain, '\033'));
    free(stripped);
    free(color);
    free(plain);
    profile_free(p);
}
END_TEST

START_TEST(test_zero_nodes) {
    profile_t *p = profile_new_empty();
    ck_assert_ptr_nonnull(p);
    char *text = report(p, 60, true, false, 0);
    assert_text_eq(text,
                     "DAG unknown\n"
                     "trace unknown | revision 0 | incomplete: no run span\n"
                     "arrived, profiled after the idle timeout, late spans may be\n"
                     "missing\n"
                     "run started 1970-01-01 00:00:00 UTC | profiled 1970-01-01\n"
                     "00:00:00 UTC\n"
                     "\n"
                     "Summary ----------------------------------------------------\n"
                     "  wall time            0              run start to run end\n"
                     "  work                 0              sum of node execution\n"
                     "                                      times\n"
                     "  ideal wall time      0              longest dependency\n"
                     "                                      path (unlimited\n"
                     "                                      workers, no delay)\n"
                     "  critical path        0              0 nodes on the\n"
                     "                                      observed critical path\n"
                     "  parallelism          0.00           average number of\n"
                     "                                      nodes running\n"
                     "  schedule efficiency  0.0%           ideal wall time / wall\n"
                     "                                      time\n"
                     "  nodes                0\n"
                     "  spans                0\n"
                     "  edges                declared       from depends_on\n"
                     "  tokens               0              input 0 (cache read 0,\n"
                     "                                      cache write 0), output\n"
                     "                                      0 (reasoning 0)\n"
                     "  cost                 $0.0000\n"
                     "\n"
                     "Nodes (0) --------------------------------------------------\n"
                     "  no nodes\n"
                     "\n"
                     "Critical path ----------------------------------------------\n"
                     "  none\n"
                     "\n"
                     "Timeline ---------------------------------------------------\n"
                     "  no nodes\n"
                     "\n"
                     "Cost by node -----------------------------------------------\n"
                     "  no cost recorded\n"
                     "\n"
                     "Time by node (exec) ----------------------------------------\n"
                     "  no execution time recorded\n"
                     "\n"
                     "Cost by model ----------------------------------------------\n"
                     "  no cost recorded\n"
                     "\n"
                     "Bottlenecks ------------------------------------------------\n"
                     "  none\n"
                     "\n"
                     "Recommendations --------------------------------------------\n"
                     "  none\n"
                     "\n"
                     "Warnings ---------------------------------------------------\n"
                     "  none\n");
    free(text);
    text = report(p, 100, false, true, 0);
    assert_lines_fit(text, 400); /* escapes count as columns here */
    free(text);
    profile_free(p);
}
END_TEST

/* Wall time 0 and nodes that take no time: every node still gets one cell. */
START_TEST(test_zero_wall_time) {
    profile_t *p = chain_profile(3);
    p->summary.wall_us = 0;
    for (size_t i = 0; i < 3; i++) {
        p->nodes[i].start_us = p->nodes[i].end_us = RUN_START_US;
        p->nodes[i].exec_us = 0;
        p->nodes[i].cost_usd = 0;
    }
    char *text = report(p, 60, true, false, 0);
    char *timeline = section_of(text, "Timeline");
    ck_assert_str_eq(timeline,
                     "            0                                              0\n"
                     "  n000000 * #\n"
                     "  n000001 * #\n"
                     "  n000002 * #\n"
                     "  # critical path, = other nodes, ... queued (inputs ready,\n"
                     "  not started)\n");
    ck_assert_ptr_nonnull(strstr(text, "Time by node (exec) ----"));
    ck_assert_ptr_nonnull(strstr(text, "\n  no execution time recorded\n"));
    ck_assert_ptr_nonnull(strstr(text, "  parallelism          0.00 "));
    assert_lines_fit(text, 60);
    free(timeline);
    free(text);
    profile_free(p);
}
END_TEST

START_TEST(test_many_nodes_are_capped) {
    profile_t *p = chain_profile(100000);
    char *text = report(p, 100, false, false, 0);

    /* Table, timeline, cost chart and time chart stop after 50 rows each. */
    ck_assert_uint_eq(count_occurrences(text, "\n  ... 99950 more nodes\n"), 4);
    char *table = section_of(text, "Nodes (100000)");
    ck_assert_uint_eq(count_occurrences(table, "\n  n0"), 50);
    ck_assert_ptr_nonnull(strstr(table, "\n  n000049 "));
    ck_assert_ptr_null(strstr(table, "n000050"));
    free(table);
    char *timeline = section_of(text, "Timeline");
    ck_assert_uint_eq(count_occurrences(timeline, "\n  n0"), 50);
    /* The first node takes 1/100000 of the run: still one cell. */
    ck_assert_ptr_nonnull(strstr(timeline, "\n  n000000 * \xe2\x96\x88\n"));
    free(timeline);
    /* The path keeps its first 49 nodes and its last one. */
    ck_assert_ptr_nonnull(strstr(text, "n000048 \xe2\x86\x92 (99950 more) \xe2\x86\x92 n099999 "
                                       "(27.8 h)\n"));
    /* The whole report stays a screenful or three. */
    ck_assert_uint_lt(count_occurrences(text, "\n"), 320);
    assert_lines_fit(text, 100);
    free(text);

    /* A smaller cap applies everywhere. */
    text = report(p, 100, false, false, 5);
    ck_assert_uint_eq(count_occurrences(text, "\n  ... 99995 more nodes\n"), 4);
    free(text);
    profile_free(p);
}
END_TEST

/* Node ids and texts from the trace cannot drive the terminal or break columns. */
START_TEST(test_untrusted_text_is_sanitized) {
    profile_t *p = chain_profile(3);
    p->nodes[0].node_id = "evil\033[2J\x07id\xff";
    p->nodes[1].node_id = "a-very-long-node-identifier-that-goes-on-and-on-for-ever-and-ever";
    p->dag_id = "dag\r\nwith newline";
    p->warnings = profile_alloc(p, sizeof(char *));
    p->warnings[0] = "tab\there \x1b]0;title\x07 bad \xc3";
    p->warning_count = 1;

    char *text = report(p, 100, false, false, 0);
    ck_assert_ptr_null(strchr(text, '\033'));
    ck_assert_ptr_null(strchr(text, '\x07'));
    ck_assert_ptr_null(strchr(text, '\r'));
    ck_assert_ptr_nonnull(strstr(text, "DAG dag  with newline\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  evil?[2J?id\xef\xbf\xbd "));
    ck_assert_ptr_nonnull(strstr(text, "\n  - tab here ?]0;title? bad \xef\xbf\xbd\n"));
    /* The long id is cut with an ellipsis, and every row of the table lines up. */
    char *table = section_of(text, "Nodes (3)");
    ck_assert_ptr_nonnull(strstr(table, "\n  a-very-long-node-i\xe2\x80\xa6 "));
    int cost_column = -1;
    for (const char *line = strchr(table, '\n') + 1; strncmp(line, "  n", 3) == 0 ||
                                                     strncmp(line, "  a", 3) == 0 ||
                                                     strncmp(line, "  e", 3) == 0;
         line = strchr(line, '\n') + 1) {
        const char *dollar = strchr(line, '$');
        int column = line_columns(line, (size_t)(dollar - line));
        if (cost_column < 0)
            cost_column = column;
        ck_assert_int_eq(column, cost_column);
    }
    /* indent 2, id 19, start 1+9, exec..slack 4 x (1+8), critical 1+1, status 1+6,
     * retry 1+5, tokens 1+7, then " " and "  $0.0010" right-aligned in 9. */
    ck_assert_int_eq(cost_column, 2 + 19 + 10 + 36 + 2 + 7 + 6 + 8 + 1 + 2);
    assert_lines_fit(text, 100);
    free(table);
    free(text);

    text = report(p, 100, true, false, 0);
    ck_assert_ptr_nonnull(strstr(text, "\n  evil?[2J?id? "));
    ck_assert_ptr_nonnull(strstr(text, "\n  a-very-long-node-i~ "));
    free(text);
    profile_free(p);
}
END_TEST

START_TEST(test_durations_are_humanised) {
    static const struct {
        int64_t exec_us;
        const char *cell;
    } cases[] = {
        {999, "999 \xc2\xb5s"}, {1000, "1.0 ms"},      {999949, "999.9 ms"},
        {999950, "1.0 s"},      {59949999, "59.9 s"},  {59950000, "1.0 min"},
        {125000000, "2.1 min"}, {7200000000, "2.0 h"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        profile_t *p = chain_profile(1);
        p->nodes[0].exec_us = cases[i].exec_us;
        char *text = report(p, 100, false, false, 0);
        char *table = section_of(text, "Nodes (1)");
        /* The exec cell, right-aligned in 8 columns, follows the start cell "0". */
        char expected[64];
        int pad = 8 - line_columns(cases[i].cell, strlen(cases[i].cell));
        snprintf(expected, sizeof(expected), " 0 %*s%s ", pad, "", cases[i].cell);
        ck_assert_msg(strstr(table, expected) != NULL, "no \"%s\" in\n%s", expected, table);
        free(table);
        free(text);
        profile_free(p);
    }
    /* A node that started before the run: a negative offset; "us" in ascii. */
    profile_t *p = chain_profile(2);
    p->nodes[1].start_us = RUN_START_US - 1500000;
    p->nodes[0].exec_us = 250;
    char *text = report(p, 100, true, false, 0);
    ck_assert_ptr_nonnull(strstr(text, "\n  n000001    -1.5 s "));
    ck_assert_ptr_nonnull(strstr(text, "\n  n000000         0   250 us "));
    free(text);
    profile_free(p);
}
END_TEST

START_TEST(test_width_is_respected) {
    static const int widths[] = {60, 72, 80, 100, 132};
    profile_t *small = small_profile();
    profile_t *chain = chain_profile(120);
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
        for (int ascii = 0; ascii <= 1; ascii++) {
            char *text = report(small, widths[i], ascii, false, 0);
            assert_lines_fit(text, widths[i]);
            free(text);
            text = report(chain, widths[i], ascii, false, 0);
            assert_lines_fit(text, widths[i]);
            free(text);
        }
    }
    /* Below the minimum the report is laid out for REPORT_MIN_WIDTH. */
    char *narrow = report(small, 10, false, false, 0);
    char *minimum = report(small, REPORT_MIN_WIDTH, false, false, 0);
    ck_assert_str_eq(narrow, minimum);
    free(narrow);
    free(minimum);
    profile_free(chain);
    profile_free(small);
}
END_TEST

START_TEST(test_appends_to_buffer) {
    profile_t *p = small_profile();
    buf_t out = BUF_INIT;
    ck_assert_int_eq(buf_puts(&out, "before\n"), 0);
    ck_assert_int_eq(report_write_text(p, NULL, &out), 0);
    ck_assert_int_eq(strncmp(out.data, "before\nDAG research-agent\n", 26), 0);
    ck_assert_uint_eq(strlen(out.data), out.len);
    buf_free(&out);
    profile_free(p);
}
END_TEST

static Suite *report_suite(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_small_matches_fixture);
    tcase_add_test(tc, test_small_ascii_matches_fixture);
    tcase_add_test(tc, test_color_only_adds_escapes);
    tcase_add_test(tc, test_zero_nodes);
    tcase_add_test(tc, test_zero_wall_time);
    tcase_add_test(tc, test_many_nodes_are_capped);
    tcase_add_test(tc, test_untrusted_text_is_sanitized);
    tcase_add_test(tc, test_durations_are_humanised);
    tcase_add_test(tc, test_width_is_respected);
    tcase_add_test(tc, test_appends_to_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *runner = srunner_create(report_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
