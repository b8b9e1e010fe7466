/* ui.h -- GET /ui on the metrics server: the last profiles this instance published.
 *
 * The profiler thread hands each profile it publishes to ui_record(), which
 * keeps a copy of its Avro record (the bytes already encoded for the output
 * topic, so recording costs a memcpy) in a ring of the last `capacity`. The
 * metrics server's thread answers /ui with the list, newest first, and
 * /ui/p/<seq> with that profile rendered as the HTML report (report_html.h),
 * decoded and rendered per request. Memory is bounded: at most capacity x
 * max_bytes of records; a larger record is listed but not kept. */
#ifndef DAGPROF_UI_H
#define DAGPROF_UI_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "profile.h"

typedef struct ui ui_t;

typedef struct ui_options {
    size_t capacity;      /* profiles kept; 0 = no /ui */
    size_t max_bytes;     /* largest Avro record kept */
    size_t html_max_rows; /* rows of the rendered page; 0 = the report's default */
} ui_options_t;

/* NULL with errstr when memory ran out; NULL without error when capacity is
 * 0 (every ui_* call takes NULL and does nothing). Free with ui_free(). */
ui_t *ui_new(const ui_options_t *options, char *errstr, size_t errstr_size);
void ui_free(ui_t *ui);

/* Keep `profile`, whose bare or framed Avro record is data/len, as the newest.
 * Thread-safe. Out of memory drops the entry (the list says nothing of it). */
void ui_record(ui_t *ui, const profile_t *profile, const void *data, size_t len);

/* Whether `url` is one of the ui's (/ui, /ui/...). */
int ui_handles(const char *url);

/* Answer GET `url`: the body into `body`, its content type and the HTTP status.
 * Thread-safe. Returns 0, or -1 when memory ran out. */
int ui_answer(ui_t *ui, const char *url, buf_t *body, const char **content_type, unsigned *status);

#endif
