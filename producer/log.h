/* log.h -- one line per event, key=value, to standard error.
 *
 *   ts=2026-11-25T18:40:01.123Z level=warn event=redis_unavailable error="..."
 *
 * Repeats of one event are rate-limited: after a line, the same event is
 * suppressed for a second and the next line says how many were suppressed.
 * The level threshold is process-wide (log_set_level) because logging is a
 * process concern; nothing else here keeps global state. */
#ifndef DAGPROF_LOG_H
#define DAGPROF_LOG_H

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR
} log_level_t;

void log_set_level(log_level_t level);
/* "debug", "info", "warn", "error"; 0, or -1 when unknown */
int log_level_parse(const char *name, log_level_t *out);

/* `event` is a short snake_case name; `fmt` continues with key=value pairs.
 * Use log_quote() for values that may hold spaces or quotes. */
void log_event(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A value made safe for key="value": quotes and control characters escaped.
 * Returns `out`. */
const char *log_quote(const char *value, char *out, size_t out_size);

#endif
