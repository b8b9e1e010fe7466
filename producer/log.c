/* log.c -- key=value event lines with rate-limited repeats. See log.h. */
#include <stddef.h>

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_SLOTS 64
#define LOG_REPEAT_NS 1000000000LL

static log_level_t log_threshold = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

/* Last time each event was printed, by a small hash of its name. */
typedef struct log_slot {
    const char *event;
    long long last_ns;
    unsigned long suppressed;
} log_slot_t;
static log_slot_t log_slots[LOG_SLOTS];

void log_set_level(log_level_t level) {
    log_threshold = level;
}

int log_level_parse(const char *name, log_level_t *out) {
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, log_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    return -1;
}

const char *log_quote(const char *value, char *out, size_t out_size) {
    size_t w = 0;
    if (!out_size)
        return out;
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p && w + 5 < out_size; p++) {
        if (*p == '"' || *p == '\\') {
            out[w++] = '\\';
            out[w++] = (char)*p;
        } else if (*p < 0x20) {
            w += (size_t)snprintf(out + w, out_size - w, "\\x%02x", *p);
        } else {
            out[w++] = (char)*p;
        }
    }
    out[w] = '\0';
    return out;
}

void log_event(log_level_t level, const char *event, const char *fmt, ...) {
    if (level < log_threshold)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    unsigned h = 0;
    for (const char *p = event; *p; p++)
        h = h * 31 + (unsigned char)*p;
    unsigned long suppressed = 0;
    if (level < LOG_ERROR) {
        /* errors always print; lesser events are rate-limited per name */
        log_slot_t *slot = &log_slots[h % LOG_SLOTS];
        if (slot->event && strcmp(slot->event, event) == 0 && now_ns - slot->last_ns < LOG_REPEAT_NS) {
            slot->suppressed++;
            return;
        }
        if (slot->event && strcmp(slot->event, event) == 0)
            suppressed = slot->suppressed;
        slot->event = event;
        slot->last_ns = now_ns;
        slot->suppressed = 0;
    }
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char line[4096];
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, now.tv_nsec / 1000000, log_names[level], event);
    if (n > 0 && (size_t)n < sizeof(line) && fmt && fmt[0]) {
        line[n++] = ' ';
        line[n] = '\0';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if (n < 0 || (size_t)n >= sizeof(line))
        n = (int)strlen(line);
    if (suppressed)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " suppressed=%lu", suppressed);
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    line[n] = '\n';
    fwrite(line, 1, (size_t)n + 1, stderr);
}
