/* harness_fixtures.c -- fixture files for the Check suites. See harness_fixtures.h. */
#include "harness_fixtures.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "profile_json.h"

char *harness_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    buf_t text = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ck_assert_int_eq(buf_append(&text, chunk, n), 0);
    fclose(f);
    *len = text.len;
    return text.data ? text.data : strdup("");
}

profile_t *harness_small_profile(const char *fixtures_dir) {
    char path[1024], err[256];
    size_t len;
    profile_t *p = NULL;
    snprintf(path, sizeof(path), "%s/enc_profile_small.json", fixtures_dir);
    char *json = harness_read_file(path, &len);
    ck_assert_msg(profile_json_read(json, len, &p, err, sizeof(err)) == 0, "%s", err);
    free(json);
    return p;
}
