/* profile_json.h -- a profile as one JSON object (SPEC §4), and back again.
 *
 * The writer emits the fields of SPEC §4 in that order, compact, with no
 * newline, so a profile fits one line of a JSON Lines stream. Output is always
 * valid UTF-8 and valid JSON whatever the profile holds: strings are escaped
 * per RFC 8259 (control characters as \u00XX), invalid UTF-8 bytes become
 * U+FFFD, a NULL string is written as null, and a NaN or infinite double is
 * written as 0 because JSON has no token for them (a NaN would make the whole
 * record unreadable to every consumer; the engine's own ratios are defined as
 * 0 or 1 where they would be undefined); -0 is written as 0. Other doubles
 * are written with the fewest of 15, 16 or 17 significant digits that read
 * back to the same value; integers are exact.
 *
 * The reader rebuilds a profile from that object (the tail command, tests):
 * write -> read -> write gives the same bytes. */
#ifndef DAGPROF_PROFILE_JSON_H
#define DAGPROF_PROFILE_JSON_H

#include <stddef.h>

#include "buf.h"
#include "profile.h"

/* Append `profile` as one compact JSON object to `out`. Returns 0, or -1 when
 * memory ran out, in which case `out` is left as it was. */
int profile_json_write(const profile_t *profile, buf_t *out);

/* Append recommendation `index` of `profile` as one compact JSON object with
 * the fields of schemas/recommendation.avsc, in its order (the profile's ids,
 * then the recommendation's). Returns 0, or -1 when memory ran out or the
 * index is past the end; `out` is then left as it was. */
int profile_json_write_recommendation(const profile_t *profile, size_t index, buf_t *out);

/* Parse one profile object from `text` (`len` bytes, need not be
 * NUL-terminated). Every field of SPEC §4 must be present with its type;
 * unknown fields are ignored. Returns 0 and sets *out to a profile owned by the
 * caller (free with profile_free()), or -1 with errstr set and *out NULL. */
int profile_json_read(const char *text, size_t len, profile_t **out,
                      char *errstr, size_t errstr_size);

/* One double the way the writer writes it (the fewest digits that read back,
 * 0 for NaN, infinities and -0), for other JSON writers (the fleet view).
 * 0, or -1 when memory ran out. */
int profile_json_double(buf_t *out, double value);

#endif
