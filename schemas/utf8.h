/* utf8.h -- UTF-8 checking and JSON string escaping, shared by every writer
 * of text (JSON profiles, JSON span events, the text report).
 *
 * Input strings come from the outside world and may be any bytes: each
 * ill-formed sequence is replaced by one U+FFFD (Unicode's "maximal subpart"
 * practice), so what dagprof writes is always valid UTF-8. */
#ifndef DAGPROF_UTF8_H
#define DAGPROF_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Length (1..4) of the well-formed sequence at s (Unicode Table 3-7), reading
 * at most `avail` bytes; 0 when ill-formed, with *bad_len set to the length of
 * the maximal ill-formed subpart that one U+FFFD replaces. */
size_t utf8_sequence(const unsigned char *s, size_t avail, size_t *bad_len);

/* True when the `len` bytes at `text` are well-formed UTF-8 throughout. */
bool utf8_valid(const char *text, size_t len);

/* Append the `len` bytes at `text` with each ill-formed sequence replaced by
 * one U+FFFD, as the JSON writer does. 0, or -1 when out of memory. */
int utf8_append_valid(buf_t *out, const char *text, size_t len);

/* The code point of a well-formed sequence of `len` bytes. */
uint32_t utf8_decode(const unsigned char *s, size_t len);

/* Append `text` as a JSON string literal (RFC 8259): quotes, backslashes and
 * control characters escaped (\n, \r, \t, \b, \f, else \u00XX), ill-formed
 * UTF-8 replaced. 0, or -1 when out of memory. */
int utf8_json_string(buf_t *out, const char *text);

/* Terminal columns of a printable code point, whatever the locale: 2 for East
 * Asian wide and fullwidth characters and emoji, 0 for combining marks,
 * zero-width characters, variation selectors and emoji modifiers, else 1.
 * Text is padded by this, not by bytes or code points. */
int utf8_columns(uint32_t cp);

#endif
