/* fuzz_checks.c -- output checks shared by the profile fuzz targets. See
 * fuzz_checks.h. */
#include "fuzz_checks.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_json.h"
#include "report.h"
#include "utf8.h"

#define CONFLUENT_HEADER_BYTES 5

void fuzz_fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}


void fuzz_check_json(const profile_t *profile, buf_t *json) {
    char err[512] = "";
    profile_t *back = NULL;
    buf_t again = BUF_INIT;

    if (profile_json_write(profile, json) != 0)
        fuzz_fail("profile_json_write", "out of memory");
    if (!utf8_valid(json->data, json->len))
        fuzz_fail("profile_json_write", "output is not valid UTF-8");
    if (memchr(json->data, '\n', json->len))
        fuzz_fail("profile_json_write", "output spans more than one line");
    if (profile_json_read(json->data, json->len, &back, err, sizeof(err)) != 0)
        fuzz_fail("profile_json_read of profile_json_write's output", err);
    if (profile_json_write(back, &again) != 0)
        fuzz_fail("profile_json_write", "out of memory");
    if (again.len != json->len || memcmp(again.data, json->data, json->len) != 0) {
        fprintf(stderr, "first:  %s\nsecond: %s\n", json->data, again.data);
        fuzz_fail("profile JSON write -> read -> write", "the bytes changed");
    }
    profile_free(back);
    buf_free(&again);
}

static void check_report(const profile_t *profile, const report_options_t *options) {
    buf_t text = BUF_INIT;
    const unsigned char *bytes;

    if (report_write_text(profile, options, &text) != 0)
        fuzz_fail("report_write_text", "out of memory");
    bytes = (const unsigned char *)text.data;
    if (text.len && bytes[text.len - 1] != '\n')
        fuzz_fail("report_write_text", "the last line does not end with a newline");
    if (!utf8_valid(text.data, text.len))
        fuzz_fail("report_write_text", "output is not valid UTF-8");
    for (size_t i = 0; i < text.len; i++) {
        if (options->ascii && bytes[i] >= 0x80)
            fuzz_fail("report_write_text", "a non-ASCII byte in ascii mode");
        /* Colour codes are the report's own; without them nothing from the
         * trace may reach the terminal as a control character. */
        if (!options->color && ((bytes[i] < 0x20 && bytes[i] != '\n') || bytes[i] == 0x7f))
            fuzz_fail("report_write_text", "a control character without colour");
        if (!options->color && bytes[i] == '\n' && i > 0 && bytes[i - 1] == ' ')
            fuzz_fail("report_write_text", "a line with trailing spaces");
    }
    buf_free(&text);
}

void fuzz_check_reports(const profile_t *profile) {
    report_options_t options;

    /* What `dagprof profile` prints. */
    report_options_init(&options);
    check_report(profile, &options);
    /* The other branches: ASCII, colour, narrowest layout, tables cut after
     * two rows. */
    report_options_init(&options);
    options.ascii = true;
    options.color = true;
    options.width = 1;
    options.max_rows = 2;
    check_report(profile, &options);
}

/* Encode, decode (bare and Confluent-framed) and compare through the JSON
 * form, which carries every field. */
void fuzz_check_avro(profile_avro_t *avro, const profile_t *profile, const buf_t *json) {
    char err[512] = "";
    buf_t encoded = BUF_INIT, framed = BUF_INIT, back_json = BUF_INIT, reencoded = BUF_INIT;
    profile_t *back = NULL;
    static const char header[CONFLUENT_HEADER_BYTES] = {0, 0, 0, 0, 7};

    if (profile_avro_encode(avro, profile, &encoded, err, sizeof(err)) != 0)
        fuzz_fail("profile_avro_encode", err);
    if (profile_avro_decode(avro, encoded.data, encoded.len, &back, err, sizeof(err)) != 0)
        fuzz_fail("profile_avro_decode of profile_avro_encode's output", err);
    if (profile_json_write(back, &back_json) != 0)
        fuzz_fail("profile_json_write", "out of memory");
    if (back_json.len != json->len || memcmp(back_json.data, json->data, json->len) != 0) {
        fprintf(stderr, "before: %s\nafter:  %s\n", json->data, back_json.data);
        fuzz_fail("profile Avro encode -> decode", "the profile changed");
    }
    if (profile_avro_encode(avro, back, &reencoded, err, sizeof(err)) != 0)
        fuzz_fail("profile_avro_encode of a decoded profile", err);
    if (reencoded.len != encoded.len || memcmp(reencoded.data, encoded.data, encoded.len) != 0)
        fuzz_fail("profile Avro encode -> decode -> encode", "the bytes changed");
    profile_free(back);
    back = NULL;

    if (buf_append(&framed, header, sizeof(header)) != 0 ||
        buf_append(&framed, encoded.data, encoded.len) != 0)
        fuzz_fail("buf_append", "out of memory");
    if (profile_avro_decode(avro, framed.data, framed.len, &back, err, sizeof(err)) != 0)
        fuzz_fail("profile_avro_decode of a Confluent-framed record", err);
    buf_reset(&back_json);
    if (profile_json_write(back, &back_json) != 0)
        fuzz_fail("profile_json_write", "out of memory");
    if (back_json.len != json->len || memcmp(back_json.data, json->data, json->len) != 0)
        fuzz_fail("profile Avro encode -> frame -> decode", "the profile changed");
    profile_free(back);

    for (size_t i = 0; i < profile->recommendation_count; i++) {
        buf_reset(&encoded);
        if (profile_avro_encode_recommendation(avro, profile, i, &encoded, err, sizeof(err)) != 0)
            fuzz_fail("profile_avro_encode_recommendation", err);
        if (encoded.len == 0)
            fuzz_fail("profile_avro_encode_recommendation", "empty record");
    }
    buf_reset(&encoded);
    if (profile_avro_encode_recommendation(avro, profile, profile->recommendation_count,
                                           &encoded, err, sizeof(err)) == 0)
        fuzz_fail("profile_avro_encode_recommendation", "accepted an index past the end");
    if (encoded.len != 0)
        fuzz_fail("profile_avro_encode_recommendation", "wrote output on error");

    buf_free(&encoded);
    buf_free(&framed);
    buf_free(&back_json);
    buf_free(&reencoded);
}

