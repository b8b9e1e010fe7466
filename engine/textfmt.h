/* textfmt.h -- the printf subset of profile texts, without printf.
 *
 * Recommendation and bottleneck texts are formatted for every profile, and
 * vsnprintf (its floating-point path above all) was a large part of profiling
 * the small runs a stream is made of (bench_engine, fleet). This formats
 * %s %d %lld %zu %% and %.Nf (N <= 9) by hand, with exactly printf's output:
 * a %.Nf whose rounding is a tie, or whose value is not a plain finite number,
 * is handed to snprintf. Any other conversion hands the whole text to
 * vsnprintf. Internal to the engine. */
#ifndef DAGPROF_TEXTFMT_H
#define DAGPROF_TEXTFMT_H

#include <stdarg.h>
#include <stddef.h>

/* As vsnprintf: writes at most size - 1 bytes and a NUL (size > 0), returns
 * the length the whole text has. */
int text_vformat(char *out, size_t size, const char *fmt, va_list ap);
int text_format(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
