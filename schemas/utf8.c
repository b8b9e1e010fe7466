/* utf8.c -- UTF-8 checking and JSON string escaping. See utf8.h. */
#include "utf8.h"

#include <string.h>

size_t utf8_sequence(const unsigned char *s, size_t avail, size_t *bad_len) {
    unsigned char lead = s[0];
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    size_t need;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xc2 && lead <= 0xdf) {
        need = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        need = 3;
        if (lead == 0xe0)
            lo = 0xa0; /* overlong */
        else if (lead == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        need = 4;
        if (lead == 0xf0)
            lo = 0x90; /* overlong */
        else if (lead == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *bad_len = 1;
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        unsigned char lower = i == 1 ? lo : 0x80, upper = i == 1 ? hi : 0xbf;
        if (i >= avail || s[i] < lower || s[i] > upper) {
            *bad_len = i;
            return 0;
        }
    }
    return need;
}

uint32_t utf8_decode(const unsigned char *s, size_t len) {
    switch (len) {
    case 1:
        return s[0];
    case 2:
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    case 3:
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    default:
        return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
               (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    }
}

int utf8_json_string(buf_t *out, const char *text) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *pos = (const unsigned char *)text;
    size_t remaining = strlen(text);
    if (buf_putc(out, '"') != 0)
        return -1;
    while (remaining) {
        /* Copy the longest run that needs no escaping in one append. */
        size_t run = 0;
        while (run < remaining && pos[run] >= 0x20 && pos[run] < 0x80 && pos[run] != '"' &&
               pos[run] != '\\')
            run++;
        if (run) {
            if (buf_append(out, pos, run) != 0)
                return -1;
            pos += run;
            remaining -= run;
            continue;
        }
        unsigned char c = *pos;
        int rc;
        size_t used = 1;
        switch (c) {
        case '"': rc = buf_puts(out, "\\\""); break;
        case '\\': rc = buf_puts(out, "\\\\"); break;
        case '\n': rc = buf_puts(out, "\\n"); break;
        case '\r': rc = buf_puts(out, "\\r"); break;
        case '\t': rc = buf_puts(out, "\\t"); break;
        case '\b': rc = buf_puts(out, "\\b"); break;
        case '\f': rc = buf_puts(out, "\\f"); break;
        default:
            if (c < 0x20) {
                char escape[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
                rc = buf_puts(out, escape);
            } else {
                size_t bad = 1;
                used = utf8_sequence(pos, remaining, &bad);
                if (used) {
                    rc = buf_append(out, pos, used);
                } else {
                    rc = buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD */
                    used = bad;
                }
            }
        }
        if (rc != 0)
            return -1;
        pos += used;
        remaining -= used;
    }
    return buf_putc(out, '"');
}
