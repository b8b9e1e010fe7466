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

bool utf8_valid(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        /* eight ASCII bytes at a time: span names and ids are mostly ASCII,
         * and every decoded span string passes here */
        if (len - i >= 8) {
            uint64_t word;
            memcpy(&word, s + i, sizeof(word));
            if (!(word & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad;
        size_t n = utf8_sequence(s + i, len - i, &bad);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

int utf8_append_valid(buf_t *out, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t done = 0, i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad = 1;
        size_t n = utf8_sequence(s + i, len - i, &bad);
        if (n) {
            i += n;
            continue;
        }
        if (buf_append(out, s + done, i - done) != 0 || buf_puts(out, "\xef\xbf\xbd") != 0)
            return -1;
        i += bad;
        done = i;
    }
    return buf_append(out, s + done, len - done);
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

/* ---- display width ---------------------------------------------------------- */

typedef struct cp_range {
    uint32_t first, last;
} cp_range_t;

/* Combining marks, zero-width characters, variation selectors and emoji
 * modifiers: no column of their own (they join the character before). */
static const cp_range_t zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF},
    {0x05C1, 0x05C2}, {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A},
    {0x064B, 0x065F}, {0x0670, 0x0670}, {0x06D6, 0x06DC}, {0x06DF, 0x06E4},
    {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0900, 0x0902}, {0x093A, 0x093A},
    {0x093C, 0x093C}, {0x0941, 0x0948}, {0x094D, 0x094D}, {0x0951, 0x0957},
    {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1160, 0x11FF},
    {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2060, 0x2064},
    {0x20D0, 0x20FF}, {0x302A, 0x302D}, {0x3099, 0x309A}, {0xFE00, 0xFE0F},
    {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0x1F3FB, 0x1F3FF}, {0xE0000, 0xE007F},
    {0xE0100, 0xE01EF},
};

/* East Asian Wide and Fullwidth characters, and emoji shown as pictures
 * (Unicode's East_Asian_Width W/F, in ranges). */
static const cp_range_t wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x17000, 0x18AFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
    {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F202}, {0x1F210, 0x1F23B},
    {0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F64F},
    {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF}, {0x1FA70, 0x1FAFF},
    {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static int in_ranges(uint32_t cp, const cp_range_t *ranges, size_t count) {
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < ranges[mid].first)
            hi = mid;
        else if (cp > ranges[mid].last)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

int utf8_columns(uint32_t cp) {
    if (cp < 0x300)
        return 1; /* the common case, and no table holds anything below */
    if (in_ranges(cp, zero_width, sizeof(zero_width) / sizeof(zero_width[0])))
        return 0;
    if (in_ranges(cp, wide, sizeof(wide) / sizeof(wide[0])))
        return 2;
    return 1;
}
