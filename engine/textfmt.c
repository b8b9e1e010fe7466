/* textfmt.c -- the printf subset of profile texts. See textfmt.h. */
#include "textfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct sink {
    char *out;
    size_t size;
    size_t len; /* of the whole text, written or not */
} sink_t;

static void put(sink_t *s, const char *p, size_t n) {
    if (s->size && s->len + 1 < s->size) {
        size_t room = s->size - 1 - s->len;
        memcpy(s->out + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

static void put_u64(sink_t *s, int negative, uint64_t v) {
    char b[24];
    char *p = b + sizeof(b);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative)
        *--p = '-';
    put(s, p, (size_t)(b + sizeof(b) - p));
}

static void put_i64(sink_t *s, long long v) {
    put_u64(s, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* %.<prec>f by hand when that is exactly printf's answer, else -1. printf
 * rounds the exact value v * 10^prec to the nearest integer, ties to even.
 * 10^prec is exact and rounding is monotonic, so the computed product lies on
 * the same side of every x.5 as the exact one, or on it: a computed tie is
 * left to snprintf. */
static int put_fixed(sink_t *s, double v, int prec) {
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (!isfinite(v))
        return -1;
    double f = fabs(v * pow10[prec]);
    if (f >= 4503599627370496.0 || f - floor(f) == 0.5) /* 2^52: x.5 must be representable */
        return -1;
    uint64_t r = (uint64_t)llround(f);
    char b[48];
    char *p = b + sizeof(b);
    for (int i = 0; i < prec; i++) {
        *--p = (char)('0' + r % 10);
        r /= 10;
    }
    if (prec)
        *--p = '.';
    do {
        *--p = (char)('0' + r % 10);
        r /= 10;
    } while (r);
    if (signbit(v))
        *--p = '-';
    put(s, p, (size_t)(b + sizeof(b) - p));
    return 0;
}

int text_vformat(char *out, size_t size, const char *fmt, va_list ap) {
    va_list start;
    va_copy(start, ap);
    sink_t s = {out, size, 0};
    const char *f = fmt;
    while (*f) {
        const char *pct = strchr(f, '%');
        if (!pct) {
            put(&s, f, strlen(f));
            break;
        }
        put(&s, f, (size_t)(pct - f));
        f = pct + 1;
        if (f[0] == '%') {
            put(&s, "%", 1);
            f += 1;
        } else if (f[0] == 's') {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            put(&s, str, strlen(str));
            f += 1;
        } else if (f[0] == 'd') {
            put_i64(&s, va_arg(ap, int));
            f += 1;
        } else if (f[0] == 'l' && f[1] == 'l' && f[2] == 'd') {
            put_i64(&s, va_arg(ap, long long));
            f += 3;
        } else if (f[0] == 'z' && f[1] == 'u') {
            put_u64(&s, 0, va_arg(ap, size_t));
            f += 2;
        } else if (f[0] == '.' && f[1] >= '0' && f[1] <= '9' && f[2] == 'f') {
            double v = va_arg(ap, double);
            int prec = f[1] - '0';
            if (put_fixed(&s, v, prec) != 0) {
                char tmp[512]; /* %f of the largest double is 309 digits */
                int n = snprintf(tmp, sizeof(tmp), "%.*f", prec, v);
                put(&s, tmp, n < 0 ? 0 : (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
            }
            f += 3;
        } else { /* not ours: all of it to vsnprintf */
            int n = vsnprintf(out, size, fmt, start);
            va_end(start);
            return n;
        }
    }
    if (size)
        out[s.len < size ? s.len : size - 1] = '\0';
    va_end(start);
    return (int)s.len;
}

int text_format(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = text_vformat(out, size, fmt, ap);
    va_end(ap);
    return n;
}
