/* test_ui.c -- GET /ui: the ring of the last published profiles, its pages,
 * its bounds, and the same answers through the metrics server over HTTP.
 *
 * Profiles are the small fixture (enc_profile_small.json) with their ids
 * changed, encoded to Avro as the stream encodes them for dag-profiles. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "harness.h"
#include "harness_fixtures.h"
#include "metrics.h"
#include "profile.h"
#include "profile_avro.h"
#include "ui.h"

/* Record the small profile as `<dag>` / `<dag>-trace#<revision>`. */
static void record(ui_t *ui, profile_avro_t *avro, const char *dag, int64_t revision) {
    profile_t *p = harness_small_profile(DAGPROF_FIXTURES);
    char id[128];
    snprintf(id, sizeof(id), "%s-trace#%lld", dag, (long long)revision);
    p->profile_id = profile_strdup(p, id);
    p->dag_id = profile_strdup(p, dag);
    p->revision = revision;
    buf_t avro_bytes = BUF_INIT;
    char err[256];
    ck_assert_msg(profile_avro_encode(avro, p, &avro_bytes, err, sizeof(err)) == 0, "%s", err);
    ui_record(ui, p, avro_bytes.data, avro_bytes.len);
    buf_free(&avro_bytes);
    profile_free(p);
}

static char *answer(ui_t *ui, const char *url, unsigned expected_status, const char *expected_type) {
    buf_t body = BUF_INIT;
    const char *type = NULL;
    unsigned status = 0;
    ck_assert_int_eq(ui_answer(ui, url, &body, &type, &status), 0);
    ck_assert_uint_eq(status, expected_status);
    ck_assert_str_eq(type, expected_type);
    ck_assert_ptr_nonnull(body.data);
    return body.data;
}

static size_t count_of(const char *text, const char *needle) {
    size_t count = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        count++;
    return count;
}

#define HTML "text/html; charset=utf-8"
#define TEXT "text/plain; charset=utf-8"

START_TEST(test_ring_keeps_the_last_n) {
    char err[256];
    ui_options_t options = {3, 1 << 20, 0};
    ui_t *ui = ui_new(&options, err, sizeof(err));
    ck_assert_msg(ui != NULL, "%s", err);
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_ptr_nonnull(avro);
    char *list = answer(ui, "/ui", 200, HTML);
    ck_assert_ptr_nonnull(strstr(list, "None yet."));
    free(list);
    const char *dags[] = {"dag-a", "dag-b", "dag-c", "dag-d", "dag-e"};
    for (int i = 0; i < 5; i++)
        record(ui, avro, dags[i], i);
    list = answer(ui, "/ui", 200, HTML);
    ck_assert_uint_eq(count_of(list, "<tr class=\"profile\">"), 3);
    /* newest first, the two oldest gone */
    char *e = strstr(list, "<a href=\"/ui/p/5\">dag-e-trace#4</a>");
    char *d = strstr(list, "<a href=\"/ui/p/4\">dag-d-trace#3</a>");
    char *c = strstr(list, "<a href=\"/ui/p/3\">dag-c-trace#2</a>");
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(c);
    ck_assert(e < d && d < c);
    ck_assert_ptr_null(strstr(list, "dag-b"));
    free(list);
    char *page = answer(ui, "/ui/p/4", 200, HTML);
    ck_assert_int_eq(strncmp(page, "<!DOCTYPE html>", 15), 0);
    ck_assert_ptr_nonnull(strstr(page, "<h1>DAG <span class=\"mono\">dag-d</span></h1>"));
    ck_assert_uint_eq(count_of(page, "<g class=\"gantt-row"), 4); /* the fixture's four nodes */
    free(page);
    char *gone = answer(ui, "/ui/p/2", 404, TEXT);
    ck_assert_str_eq(gone, "profile 2 is no longer kept: /ui lists those that are\n");
    free(gone);
    char *future = answer(ui, "/ui/p/6", 404, TEXT);
    ck_assert_str_eq(future, "profile 6 is no longer kept: /ui lists those that are\n");
    free(future);
    const char *bad[] = {"/ui/p/", "/ui/p/abc", "/ui/p/4x", "/ui/p/-1", "/ui/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char *nf = answer(ui, bad[i], 404, TEXT);
        ck_assert_str_eq(nf, "not found: /ui lists the recent profiles, /ui/p/<n> shows one\n");
        free(nf);
    }
    profile_avro_free(avro);
    ui_free(ui);
}
END_TEST

START_TEST(test_large_records_are_listed_not_kept) {
    char err[256];
    ui_options_t options = {2, 1024, 0}; /* the fixture's record is larger than 1 KB */
    ui_t *ui = ui_new(&options, err, sizeof(err));
    ck_assert_ptr_nonnull(ui);
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    record(ui, avro, "big", 0);
    char *list = answer(ui, "/ui", 200, HTML);
    ck_assert_ptr_nonnull(strstr(list, "<td>big-trace#0 <span class=\"meta\">(too large to keep)</span></td>"));
    ck_assert_ptr_null(strstr(list, "<a href"));
    free(list);
    char *page = answer(ui, "/ui/p/1", 404, TEXT);
    ck_assert_ptr_nonnull(strstr(page, "profile 1 was too large to keep ("));
    free(page);
    profile_avro_free(avro);
    ui_free(ui);
}
END_TEST

START_TEST(test_hostile_ids_in_the_list) {
    char err[256];
    ui_options_t options = {2, 1 << 20, 0};
    ui_t *ui = ui_new(&options, err, sizeof(err));
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    record(ui, avro, "<script>alert(1)</script>\"'&", 0);
    char *list = answer(ui, "/ui", 200, HTML);
    ck_assert_ptr_null(strstr(list, "<script"));
    ck_assert_ptr_nonnull(strstr(list, "<td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</td>"));
    free(list);
    profile_avro_free(avro);
    ui_free(ui);
}
END_TEST

START_TEST(test_disabled) {
    char err[256] = "";
    ui_options_t options = {0, 1 << 20, 0};
    ck_assert_ptr_null(ui_new(&options, err, sizeof(err)));
    ck_assert_str_eq(err, "");
    ui_record(NULL, NULL, NULL, 0); /* a no-op */
    char *body = answer(NULL, "/ui", 404, TEXT);
    ck_assert_str_eq(body, "no /ui: ui.profiles is 0\n");
    free(body);
    ck_assert(ui_handles("/ui"));
    ck_assert(ui_handles("/ui/p/1"));
    ck_assert(!ui_handles("/uix"));
    ck_assert(!ui_handles("/metrics"));
}
END_TEST

/* GET over a socket: the status line's code and the body. */
static int http_get(int port, const char *path, buf_t *body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    char request[256];
    int n = snprintf(request, sizeof(request), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    ck_assert_int_eq(write(fd, request, (size_t)n), n);
    buf_t raw = BUF_INIT;
    char chunk[4096];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof(chunk))) > 0)
        buf_append(&raw, chunk, (size_t)got);
    close(fd);
    ck_assert_ptr_nonnull(raw.data);
    int status = 0;
    ck_assert_int_eq(sscanf(raw.data, "HTTP/1.%*d %d", &status), 1);
    char *start = strstr(raw.data, "\r\n\r\n");
    ck_assert_ptr_nonnull(start);
    buf_puts(body, start + 4);
    buf_free(&raw);
    return status;
}

START_TEST(test_served_by_the_metrics_server) {
    char err[256];
    int port = harness_free_port();
    metrics_t *m = metrics_new("127.0.0.1", port, err, sizeof(err));
    ck_assert_msg(m != NULL, "%s", err);
    buf_t body = BUF_INIT;
    ck_assert_int_eq(http_get(port, "/ui", &body), 404); /* no ui attached yet */
    ck_assert_str_eq(body.data, "no /ui: ui.profiles is 0\n");
    ui_options_t options = {5, 1 << 20, 0};
    ui_t *ui = ui_new(&options, err, sizeof(err));
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    metrics_set_ui(m, ui);
    record(ui, avro, "served", 7);
    buf_reset(&body);
    ck_assert_int_eq(http_get(port, "/ui", &body), 200);
    ck_assert_ptr_nonnull(strstr(body.data, "<a href=\"/ui/p/1\">served-trace#7</a>"));
    buf_reset(&body);
    ck_assert_int_eq(http_get(port, "/ui/p/1", &body), 200);
    ck_assert_ptr_nonnull(strstr(body.data, "<h1>DAG <span class=\"mono\">served</span></h1>"));
    ck_assert_ptr_nonnull(strstr(body.data, "</html>\n"));
    buf_reset(&body);
    ck_assert_int_eq(http_get(port, "/ui/p/9", &body), 404);
    buf_reset(&body);
    ck_assert_int_eq(http_get(port, "/healthz", &body), 503); /* the server's own answers are unchanged */
    buf_free(&body);
    metrics_free(m);
    ui_free(ui);
    profile_avro_free(avro);
}
END_TEST

static Suite *ui_suite(void) {
    Suite *s = suite_create("ui");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_ring_keeps_the_last_n);
    tcase_add_test(tc, test_large_records_are_listed_not_kept);
    tcase_add_test(tc, test_hostile_ids_in_the_list);
    tcase_add_test(tc, test_disabled);
    tcase_add_test(tc, test_served_by_the_metrics_server);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *runner = srunner_create(ui_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
