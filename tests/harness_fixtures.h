/* harness_fixtures.h -- reading fixture files in the Check suites.
 *
 * Both abort the running test (ck_abort) when the file is missing or bad, so
 * a suite never runs on with half its input. */
#ifndef DAGPROF_HARNESS_FIXTURES_H
#define DAGPROF_HARNESS_FIXTURES_H

#include <stddef.h>

#include "profile.h"

/* The whole file, malloc'd and NUL-terminated; its length in *len. */
char *harness_read_file(const char *path, size_t *len);

/* The profile of tests/fixtures/enc_profile_small.json (read with
 * profile_json_read). Free with profile_free(). */
profile_t *harness_small_profile(const char *fixtures_dir);

#endif
