/* buf.c -- a growable byte buffer. See buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *buf) {
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void buf_free(buf_t *buf) {
    free(buf->data);
    buf_init(buf);
}

void buf_reset(buf_t *buf) {
    buf_truncate(buf, 0);
}

void buf_truncate(buf_t *buf, size_t len) {
    buf->len = len;
    if (buf->data)
        buf->data[len] = '\0';
}

int buf_reserve(buf_t *buf, size_t extra) {
    if (extra > (size_t)-1 / 2 - buf->len)
        return -1;
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return 0;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap *= 2;
    char *data = realloc(buf->data, cap);
    if (!data)
        return -1;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

int buf_append(buf_t *buf, const void *data, size_t len) {
    if (buf_reserve(buf, len) != 0)
        return -1;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int buf_puts(buf_t *buf, const char *text) {
    return buf_append(buf, text, strlen(text));
}

int buf_putc(buf_t *buf, char c) {
    return buf_append(buf, &c, 1);
}

int buf_vprintf(buf_t *buf, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || buf_reserve(buf, (size_t)n) != 0)
        return -1;
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return 0;
}

int buf_printf(buf_t *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return rc;
}
