/* ui.c -- the ring of recently published profiles behind GET /ui. See ui.h.
 *
 * One mutex guards the ring and the Avro decoder: a request renders while
 * holding it, so ui_record() may wait for one page's rendering (milliseconds
 * for 1k nodes); the profiler thread never waits for the network. */
#include "ui.h"
#include "profile_avro.h"
#include "report_html.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UI_ID_BYTES 256 /* ids kept for the list; longer ones are cut */

typedef struct ui_entry {
    uint64_t seq; /* 0: empty slot */
    char profile_id[UI_ID_BYTES];
    char dag_id[UI_ID_BYTES];
    int64_t revision;
    int complete;
    int64_t wall_us;
    double cost_usd;
    size_t node_count;
    size_t record_len;
    void *record; /* NULL: larger than max_bytes, not kept */
} ui_entry_t;

struct ui {
    pthread_mutex_t lock;
    ui_options_t options;
    ui_entry_t *ring;
    uint64_t next_seq; /* seq of the next entry, from 1 */
    profile_avro_t *avro;
};

ui_t *ui_new(const ui_options_t *options, char *errstr, size_t errstr_size) {
    if (options->capacity == 0)
        return NULL;
    ui_t *ui = calloc(1, sizeof(*ui));
    if (!ui)
        goto oom;
    ui->options = *options;
    ui->next_seq = 1;
    ui->ring = calloc(options->capacity, sizeof(*ui->ring));
    if (!ui->ring)
        goto oom;
    ui->avro = profile_avro_new(errstr, errstr_size);
    if (!ui->avro)
        goto fail;
    pthread_mutex_init(&ui->lock, NULL);
    return ui;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    if (ui)
        free(ui->ring);
    free(ui);
    return NULL;
}

void ui_free(ui_t *ui) {
    if (!ui)
        return;
    for (size_t i = 0; i < ui->options.capacity; i++)
        free(ui->ring[i].record);
    free(ui->ring);
    profile_avro_free(ui->avro);
    pthread_mutex_destroy(&ui->lock);
    free(ui);
}

void ui_record(ui_t *ui, const profile_t *profile, const void *data, size_t len) {
    if (!ui)
        return;
    void *copy = NULL;
    if (len <= ui->options.max_bytes) {
        copy = malloc(len ? len : 1);
        if (!copy)
            return;
        memcpy(copy, data, len);
    }
    pthread_mutex_lock(&ui->lock);
    ui_entry_t *e = &ui->ring[(ui->next_seq - 1) % ui->options.capacity];
    free(e->record);
    memset(e, 0, sizeof(*e));
    e->seq = ui->next_seq++;
    snprintf(e->profile_id, sizeof(e->profile_id), "%s", profile->profile_id ? profile->profile_id : "");
    snprintf(e->dag_id, sizeof(e->dag_id), "%s", profile->dag_id ? profile->dag_id : "");
    e->revision = profile->revision;
    e->complete = profile->complete;
    e->wall_us = profile->summary.wall_us;
    e->cost_usd = profile->summary.cost_usd;
    e->node_count = profile->node_count;
    e->record = copy;
    e->record_len = len;
    pthread_mutex_unlock(&ui->lock);
}

int ui_handles(const char *url) {
    return strcmp(url, "/ui") == 0 || strncmp(url, "/ui/", 4) == 0;
}

/* The entry with sequence number `seq`, if still in the ring. */
static ui_entry_t *ui_find(ui_t *ui, uint64_t seq) {
    if (seq == 0 || seq >= ui->next_seq)
        return NULL;
    ui_entry_t *e = &ui->ring[(seq - 1) % ui->options.capacity];
    return e->seq == seq ? e : NULL;
}

static int ui_list(ui_t *ui, buf_t *body) {
    int rc = 0;
    rc |= buf_puts(body, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                         "style-src 'unsafe-inline'\">\n<title>dagprof · recent profiles</title>\n"
                         "<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em 2em;color:#1d2330}"
                         "td,th{padding:2px 12px 2px 0;text-align:left}td.num{text-align:right}"
                         ".meta{color:#5b6573}</style>\n</head>\n<body>\n<h1>Recent profiles</h1>\n");
    rc |= buf_printf(body, "<p class=\"meta\">The last %zu profiles this instance published, newest "
                           "first (ui.profiles).</p>\n<table>\n<tr><th>profile</th><th>DAG</th>"
                           "<th>revision</th><th>nodes</th><th>wall time</th><th>cost</th></tr>\n",
                     ui->options.capacity);
    size_t listed = 0;
    for (uint64_t seq = ui->next_seq - 1; seq > 0 && listed < ui->options.capacity; seq--, listed++) {
        ui_entry_t *e = ui_find(ui, seq);
        if (!e)
            break;
        rc |= buf_puts(body, "<tr class=\"profile\"><td>");
        if (e->record)
            rc |= buf_printf(body, "<a href=\"/ui/p/%" PRIu64 "\">", e->seq);
        rc |= report_html_escape(body, e->profile_id, 0);
        rc |= buf_puts(body, e->record ? "</a>" : " <span class=\"meta\">(too large to keep)</span>");
        rc |= buf_puts(body, "</td><td>");
        rc |= report_html_escape(body, e->dag_id, 0);
        rc |= buf_printf(body, "</td><td class=\"num\">%" PRId64 "%s</td><td class=\"num\">%zu</td>"
                               "<td class=\"num\">%.3f s</td><td class=\"num\">$%.4f</td></tr>\n",
                         e->revision, e->complete ? "" : " (incomplete)", e->node_count,
                         (double)e->wall_us / 1e6, e->cost_usd);
    }
    if (listed == 0)
        rc |= buf_puts(body, "<tr><td colspan=\"6\" class=\"meta\">None yet.</td></tr>\n");
    rc |= buf_puts(body, "</table>\n</body>\n</html>\n");
    return rc ? -1 : 0;
}

int ui_answer(ui_t *ui, const char *url, buf_t *body, const char **content_type, unsigned *status) {
    *content_type = "text/plain; charset=utf-8";
    if (!ui) {
        *status = 404;
        return buf_puts(body, "no /ui: ui.profiles is 0\n");
    }
    int rc = 0;
    pthread_mutex_lock(&ui->lock);
    if (strcmp(url, "/ui") == 0 || strcmp(url, "/ui/") == 0) {
        *status = 200;
        *content_type = "text/html; charset=utf-8";
        rc = ui_list(ui, body);
        goto done;
    }
    const char *digits = strncmp(url, "/ui/p/", 6) == 0 ? url + 6 : NULL;
    char *end = NULL;
    uint64_t seq = 0;
    if (digits && *digits >= '0' && *digits <= '9')
        seq = strtoull(digits, &end, 10);
    if (!end || *end != '\0') {
        *status = 404;
        rc = buf_puts(body, "not found: /ui lists the recent profiles, /ui/p/<n> shows one\n");
        goto done;
    }
    ui_entry_t *e = ui_find(ui, seq);
    if (!e || !e->record) {
        *status = 404;
        if (e)
            rc = buf_printf(body, "profile %" PRIu64 " was too large to keep (%zu bytes, ui.profile.max.bytes)\n",
                            seq, e->record_len);
        else
            rc = buf_printf(body, "profile %" PRIu64 " is no longer kept: /ui lists those that are\n", seq);
        goto done;
    }
    profile_t *profile = NULL;
    char err[256];
    if (profile_avro_decode(ui->avro, e->record, e->record_len, &profile, err, sizeof(err)) != 0) {
        *status = 500;
        rc = buf_printf(body, "profile %" PRIu64 " cannot be decoded: %s\n", seq, err);
        goto done;
    }
    report_html_options_t options;
    report_html_options_init(&options);
    options.max_rows = ui->options.html_max_rows;
    *status = 200;
    *content_type = "text/html; charset=utf-8";
    rc = report_write_html(profile, &options, body);
    profile_free(profile);
done:
    pthread_mutex_unlock(&ui->lock);
    return rc;
}
