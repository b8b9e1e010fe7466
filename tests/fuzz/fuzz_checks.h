/* fuzz_checks.h -- what every profile that reaches an output must satisfy,
 * shared by the fuzz targets that make profiles (fuzz_profile: from spans;
 * fuzz_profile_avro: from Avro records). Any failure aborts, which libFuzzer
 * reports as a crash with the input that caused it. */
#ifndef DAGPROF_FUZZ_CHECKS_H
#define DAGPROF_FUZZ_CHECKS_H

#include "buf.h"
#include "profile.h"
#include "profile_avro.h"

/* Print "<target>: what: detail" and abort. */
void fuzz_fail(const char *what, const char *detail) __attribute__((noreturn));

/* JSON: valid UTF-8 on one line; write -> read -> write gives the same bytes.
 * Leaves the profile's JSON in `json` for fuzz_check_avro. */
void fuzz_check_json(const profile_t *profile, buf_t *json);

/* The text report, with default options and with ASCII, colour, narrowest
 * width and two rows: valid UTF-8, newline-terminated, no trailing spaces, no
 * control characters from the input. */
void fuzz_check_reports(const profile_t *profile);

/* Avro: encode -> decode (bare and framed) gives the same JSON, re-encoding
 * the same bytes; every recommendation encodes, an index past the end does not. */
void fuzz_check_avro(profile_avro_t *avro, const profile_t *profile, const buf_t *json);

#endif
