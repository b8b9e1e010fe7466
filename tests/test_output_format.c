/* test_output_format.c -- the bytes and headers of output records, and the
 * schema fingerprint they carry.
 *
 * The canonical form is checked against an independent implementation
 * (Python avro's Schema.canonical_form, Debian python3-avro) for every schema
 * in schemas/, and the CRC-64-AVRO against the Avro specification's test
 * vector. Framing is checked byte for byte. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "harness.h"
#include "harness_fixtures.h"
#include "output_format.h"
#include "profile.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "schema_fingerprint.h"

static output_format_t *new_format(output_format_kind_t kind, int64_t pid, int64_t rid) {
    char err[256] = "";
    output_format_t *f = output_format_new(kind, pid, rid, err, sizeof(err));
    ck_assert_msg(f != NULL, "%s", err);
    return f;
}

static char *canonical(const char *schema_json) {
    buf_t out = BUF_INIT;
    char err[256] = "";
    ck_assert_msg(schema_canonical_form(schema_json, &out, err, sizeof(err)) == 0, "%s", err);
    return out.data;
}

/* The Avro specification's vector: the schema "null" fingerprints to
 * 7195948357588979594. */
START_TEST(test_crc64_avro_vector) {
    char *form = canonical("{\"type\": \"null\"}");
    ck_assert_str_eq(form, "\"null\"");
    ck_assert_uint_eq(schema_fingerprint64(form, strlen(form)), UINT64_C(7195948357588979594));
    free(form);
}
END_TEST

/* Names are made full, attributes that do not matter for reading dropped, the
 * rest put in the specification's order, whitespace removed. */
START_TEST(test_canonical_form_rules) {
    char *form = canonical(
        "{\"doc\": \"d\", \"fields\": [{\"type\": {\"type\": \"enum\", \"symbols\": [\"a\", \"b\"],"
        " \"name\": \"E\", \"doc\": \"x\"}, \"name\": \"e\", \"default\": \"a\"},"
        " {\"name\": \"again\", \"type\": [\"null\", \"E\"]},"
        " {\"name\": \"m\", \"type\": {\"values\": {\"type\": \"long\"}, \"type\": \"map\"}},"
        " {\"name\": \"o\", \"type\": {\"type\": \"record\", \"name\": \"other.O\","
        " \"fields\": [{\"name\": \"f\", \"type\": {\"type\": \"fixed\", \"size\": 4, \"name\": \"F\"}}]}}],"
        " \"type\": \"record\", \"namespace\": \"ns\", \"name\": \"R\", \"aliases\": [\"Q\"]}");
    ck_assert_str_eq(form,
                     "{\"name\":\"ns.R\",\"type\":\"record\",\"fields\":["
                     "{\"name\":\"e\",\"type\":{\"name\":\"ns.E\",\"type\":\"enum\",\"symbols\":[\"a\",\"b\"]}},"
                     "{\"name\":\"again\",\"type\":[\"null\",\"ns.E\"]},"
                     "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
                     "{\"name\":\"o\",\"type\":{\"name\":\"other.O\",\"type\":\"record\",\"fields\":["
                     "{\"name\":\"f\",\"type\":{\"name\":\"other.F\",\"type\":\"fixed\",\"size\":4}}]}}]}");
    free(form);
}
END_TEST

START_TEST(test_canonical_form_errors) {
    buf_t out = BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(schema_canonical_form("{not json", &out, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "schema is not JSON") != NULL, "%s", err);
    ck_assert_int_eq(schema_canonical_form("{\"type\": \"record\", \"fields\": []}", &out, err,
                                           sizeof(err)), -1);
    ck_assert_str_eq(err, "not an Avro schema: a named type without a name");
    ck_assert_int_eq(schema_canonical_form("{\"type\": \"enum\", \"name\": \"E\"}", &out, err,
                                           sizeof(err)), -1);
    ck_assert_str_eq(err, "not an Avro schema: an enum without symbols");
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
}
END_TEST

/* Our canonical form of every schema in schemas/ is Python avro's. */
START_TEST(test_canonical_form_matches_python_avro) {
    static const char *const files[] = {"profile.avsc", "recommendation.avsc", "span_event.avsc"};
    for (size_t i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/schemas/%s", DAGPROF_SOURCE_DIR, files[i]);
        size_t len;
        char *text = harness_read_file(path, &len);
        char *ours = canonical(text);
        char *dir = harness_tempdir("dagprof-canon");
        char log[1200];
        snprintf(log, sizeof(log), "%s/python.out", dir);
        const char *argv[] = {"/usr/bin/python3", "-c",
                              "import sys, avro.schema\n"
                              "s = avro.schema.parse(open(sys.argv[1]).read())\n"
                              "sys.stdout.write(s.canonical_form)\n",
                              path, NULL};
        pid_t pid = harness_spawn(argv, NULL, log);
        int status = -1;
        ck_assert_msg(pid > 0, "cannot start python3: %s", strerror(errno));
        ck_assert_int_eq(harness_wait(pid, 120000, &status), 0);
        size_t theirs_len;
        char *theirs = harness_read_file(log, &theirs_len);
        ck_assert_msg(status == 0, "python3 (needs python3-avro): %s", theirs);
        ck_assert_str_eq(ours, theirs);
        free(theirs);
        harness_rmtree(dir);
        free(dir);
        free(ours);
        free(text);
    }
}
END_TEST

/* confluent: byte 0, the id big-endian, then exactly the bare Avro body. */
START_TEST(test_confluent_framing) {
    profile_t *p = harness_small_profile(DAGPROF_FIXTURES);
    ck_assert_uint_ge(p->recommendation_count, 1);
    output_format_t *bare = new_format(OUTPUT_FORMAT_AVRO, -1, -1);
    output_format_t *framed = new_format(OUTPUT_FORMAT_CONFLUENT, 0x01020304, 42);
    buf_t a = BUF_INIT, b = BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(output_format_profile(bare, p, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(output_format_profile(framed, p, &b, err, sizeof(err)), 0);
    ck_assert_uint_eq(b.len, a.len + 5);
    const unsigned char want[5] = {0, 1, 2, 3, 4};
    ck_assert_int_eq(memcmp(b.data, want, 5), 0);
    ck_assert_int_eq(memcmp(b.data + 5, a.data, a.len), 0);

    buf_reset(&a);
    buf_reset(&b);
    ck_assert_int_eq(output_format_recommendation(bare, p, 0, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(output_format_recommendation(framed, p, 0, &b, err, sizeof(err)), 0);
    const unsigned char want_rec[5] = {0, 0, 0, 0, 42};
    ck_assert_uint_eq(b.len, a.len + 5);
    ck_assert_int_eq(memcmp(b.data, want_rec, 5), 0);
    ck_assert_int_eq(memcmp(b.data + 5, a.data, a.len), 0);

    /* and the framed profile decodes to the same profile */
    buf_reset(&b);
    ck_assert_int_eq(output_format_profile(framed, p, &b, err, sizeof(err)), 0);
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    profile_t *back = NULL;
    ck_assert_msg(profile_avro_decode(avro, b.data, b.len, &back, err, sizeof(err)) == 0, "%s", err);
    buf_t j1 = BUF_INIT, j2 = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &j1), 0);
    ck_assert_int_eq(profile_json_write(back, &j2), 0);
    ck_assert_str_eq(j1.data, j2.data);
    buf_free(&j1);
    buf_free(&j2);
    profile_free(back);
    profile_avro_free(avro);
    /* an index past the end is an error and leaves the buffer as it was */
    size_t before = b.len;
    ck_assert_int_eq(output_format_recommendation(framed, p, p->recommendation_count, &b, err,
                                                  sizeof(err)), -1);
    ck_assert_uint_eq(b.len, before);
    buf_free(&a);
    buf_free(&b);
    output_format_free(bare);
    output_format_free(framed);
    profile_free(p);
}
END_TEST

START_TEST(test_confluent_needs_ids) {
    char err[256] = "";
    ck_assert_ptr_null(output_format_new(OUTPUT_FORMAT_CONFLUENT, -1, 7, err, sizeof(err)));
    ck_assert_str_eq(err, "output.format confluent needs output.schema.id.profile (or "
                          "output.schema.registry.url)");
    ck_assert_ptr_null(output_format_new(OUTPUT_FORMAT_CONFLUENT, 7, -1, err, sizeof(err)));
    ck_assert_str_eq(err, "output.format confluent needs output.schema.id.recommendation (or "
                          "output.schema.registry.url)");
    output_format_kind_t kind;
    ck_assert_int_eq(output_format_parse("json", &kind), 0);
    ck_assert_int_eq(kind, OUTPUT_FORMAT_JSON);
    ck_assert_int_eq(output_format_parse("protobuf", &kind), -1);
}
END_TEST

/* json: a profile exactly as `dagprof profile --format json`; a recommendation
 * with the fields of recommendation.avsc, in its order. */
START_TEST(test_json_records) {
    profile_t *p = harness_small_profile(DAGPROF_FIXTURES);
    output_format_t *f = new_format(OUTPUT_FORMAT_JSON, -1, -1);
    buf_t out = BUF_INIT, want = BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(output_format_profile(f, p, &out, err, sizeof(err)), 0);
    ck_assert_int_eq(profile_json_write(p, &want), 0);
    ck_assert_str_eq(out.data, want.data);

    buf_reset(&out);
    ck_assert_int_eq(output_format_recommendation(f, p, 0, &out, err, sizeof(err)), 0);
    json_t *rec = json_loads(out.data, 0, NULL);
    ck_assert_ptr_nonnull(rec);
    size_t len;
    char *schema_text = harness_read_file(DAGPROF_SOURCE_DIR "/schemas/recommendation.avsc", &len);
    json_t *schema = json_loads(schema_text, 0, NULL);
    json_t *fields = json_object_get(schema, "fields");
    ck_assert_uint_eq(json_object_size(rec), json_array_size(fields));
    const char *key;
    json_t *value;
    size_t i = 0;
    json_object_foreach(rec, key, value) {
        ck_assert_str_eq(key, json_string_value(json_object_get(json_array_get(fields, i), "name")));
        i++;
    }
    ck_assert_str_eq(json_string_value(json_object_get(rec, "profile_id")), p->profile_id);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "type")),
                     profile_recommendation_type_name(p->recommendations[0].type));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rec, "savings"), "time_us")),
                     p->recommendations[0].savings.time_us);
    json_decref(rec);
    json_decref(schema);
    free(schema_text);
    buf_free(&out);
    buf_free(&want);
    output_format_free(f);
    profile_free(p);
}
END_TEST

static const char *header(rd_kafka_headers_t *h, const char *name) {
    const void *value = NULL;
    size_t size = 0;
    ck_assert_msg(rd_kafka_header_get_last(h, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  "no header %s", name);
    static char text[256];
    snprintf(text, sizeof(text), "%.*s", (int)size, (const char *)value);
    return text;
}

/* Headers name the record's schema by full name and fingerprint of the
 * schema file's canonical form, the format and dagprof's version. */
START_TEST(test_headers) {
    output_format_t *f = new_format(OUTPUT_FORMAT_CONFLUENT, 1, 2);
    static const char *const files[2] = {DAGPROF_SOURCE_DIR "/schemas/profile.avsc",
                                         DAGPROF_SOURCE_DIR "/schemas/recommendation.avsc"};
    static const char *const names[2] = {"dagprof.Profile", "dagprof.Recommendation"};
    for (int r = 0; r < 2; r++) {
        size_t len;
        char *text = harness_read_file(files[r], &len);
        char *form = canonical(text);
        char want[256];
        snprintf(want, sizeof(want), "%s;crc64-avro=%016" PRIx64, names[r],
                 schema_fingerprint64(form, strlen(form)));
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);
        ck_assert_int_eq(output_format_headers(f, (output_record_t)r, h), 0);
        ck_assert_uint_eq(rd_kafka_header_cnt(h), 3);
        ck_assert_str_eq(header(h, "dagprof.schema"), want);
        ck_assert_str_eq(header(h, "dagprof.format"), "confluent");
        ck_assert_str_eq(header(h, "dagprof.version"), "0.1.0");
        ck_assert_str_eq(output_format_schema_header(f, (output_record_t)r), want);
        rd_kafka_headers_destroy(h);
        free(form);
        free(text);
    }
    output_format_free(f);
}
END_TEST

static Suite *output_format_suite(void) {
    Suite *s = suite_create("output_format");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_crc64_avro_vector);
    tcase_add_test(tc, test_canonical_form_rules);
    tcase_add_test(tc, test_canonical_form_errors);
    tcase_add_test(tc, test_canonical_form_matches_python_avro);
    tcase_add_test(tc, test_confluent_framing);
    tcase_add_test(tc, test_confluent_needs_ids);
    tcase_add_test(tc, test_json_records);
    tcase_add_test(tc, test_headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(output_format_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
