/* buf.h -- a growable byte buffer, shared by the encoders and the I/O adapters.
 *
 * The data is always NUL-terminated so text can be printed directly; len does
 * not count the terminator. On out-of-memory a call returns -1 and leaves the
 * buffer as it was. */
#ifndef DAGPROF_BUF_H
#define DAGPROF_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

void buf_init(buf_t *buf);
void buf_free(buf_t *buf); /* releases the memory; the buffer is empty and reusable */
void buf_reset(buf_t *buf); /* empties the buffer, keeps the memory */
/* Cuts the buffer back to `len` (<= its length): how an encoder that failed
 * half-way leaves the buffer as it found it. */
void buf_truncate(buf_t *buf, size_t len);
int buf_reserve(buf_t *buf, size_t extra);
int buf_append(buf_t *buf, const void *data, size_t len);
int buf_puts(buf_t *buf, const char *text);
int buf_putc(buf_t *buf, char c);
int buf_printf(buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf_t *buf, const char *fmt, va_list ap);

#endif
