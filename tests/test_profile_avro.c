/* test_profile_avro.c -- Profile and Recommendation records in Avro binary.
 *
 * The profile under test is tests/fixtures/enc_profile_small.json (see
 * test_profile_json.c for what it holds), read with profile_json_read(). The
 * encoding is checked two ways: decoding it again gives the same profile, and
 * an independent Avro implementation (Python's avro package, Debian
 * python3-avro) reads the bytes with the .avsc files in schemas/ and finds the expected
 * values. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <avro.h>

#include "harness_fixtures.h"
#include "buf.h"
#include "harness.h"
#include "profile.h"
#include "profile_avro.h"
#include "profile_json.h"

/* ---- helpers ---------------------------------------------------------------- */

static profile_t *small_profile(void) {
    return harness_small_profile(DAGPROF_FIXTURES);
}

static char *to_json(const profile_t *p) {
    buf_t out = BUF_INIT;
    ck_assert_int_eq(profile_json_write(p, &out), 0);
    return out.data;
}

static profile_avro_t *new_avro(void) {
    char err[256] = "";
    profile_avro_t *avro = profile_avro_new(err, sizeof(err));
    ck_assert_msg(avro != NULL, "%s", err);
    return avro;
}

static void encode(profile_avro_t *avro, const profile_t *p, buf_t *out) {
    char err[256] = "";
    ck_assert_msg(profile_avro_encode(avro, p, out, err, sizeof(err)) == 0, "%s", err);
}

/* Decode `data` and return the JSON of what came back. */
static char *decode_to_json(profile_avro_t *avro, const void *data, size_t len) {
    char err[256] = "";
    profile_t *back = NULL;
    ck_assert_msg(profile_avro_decode(avro, data, len, &back, err, sizeof(err)) == 0, "%s", err);
    char *json = to_json(back);
    profile_free(back);
    return json;
}

/* A Python 3 that has the avro package: the Debian one first, because a
 * python3 earlier on PATH (pyenv, a venv) does not see Debian's packages. */
static const char *python_with_avro(void) {
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        const char *argv[] = {candidates[i], "-c", "import avro.schema, avro.io", NULL};
        pid_t pid = harness_spawn(argv, NULL, "/dev/null");
        int status = -1;
        if (pid > 0 && harness_wait(pid, 120000, &status) == 0 && status == 0)
            return candidates[i];
    }
    ck_abort_msg("this test needs python3 with the avro package (Debian: apt-get install "
                 "python3-avro) to check the encoding with an independent reader");
    return NULL;
}

/* Run `script` with python3 -c and the given arguments; return what it printed. */
static char *run_python(const char *script, const char *arg1, const char *arg2,
                        const char *dir) {
    char log_path[1024];
    snprintf(log_path, sizeof(log_path), "%s/python.log", dir);
    unlink(log_path);
    const char *argv[] = {python_with_avro(), "-c", script, arg1, arg2, NULL};
    pid_t pid = harness_spawn(argv, NULL, log_path);
    ck_assert_msg(pid > 0, "cannot start %s: %s", argv[0], strerror(errno));
    int status = -1;
    ck_assert_int_eq(harness_wait(pid, 120000, &status), 0);
    size_t len;
    char *output = harness_read_file(log_path, &len);
    ck_assert_msg(status == 0, "python exited with %d:\n%s", status, output);
    return output;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- tests ------------------------------------------------------------------ */

/* The compiled-in schemas are the ones in schemas/. */
START_TEST(test_embedded_schemas_equal_files) {
    struct {
        const char *file;
        const char *embedded;
    } schemas[] = {
        {DAGPROF_SOURCE_DIR "/schemas/profile.avsc", profile_avro_profile_schema_json()},
        {DAGPROF_SOURCE_DIR "/schemas/recommendation.avsc",
         profile_avro_recommendation_schema_json()},
    };
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *text = harness_read_file(schemas[i].file, &len);
        avro_schema_t from_file = NULL, embedded = NULL;
        ck_assert_msg(avro_schema_from_json_length(text, len, &from_file) == 0, "%s: %s",
                      schemas[i].file, avro_strerror());
        ck_assert_msg(avro_schema_from_json_length(schemas[i].embedded,
                                                   strlen(schemas[i].embedded), &embedded) == 0,
                      "%s", avro_strerror());
        ck_assert_msg(avro_schema_equal(from_file, embedded), "%s differs from the copy in "
                      "producer/profile_avro.c", schemas[i].file);
        avro_schema_decref(from_file);
        avro_schema_decref(embedded);
        free(text);
    }
}
END_TEST

START_TEST(test_round_trip_small) {
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;

    encode(avro, p, &bytes);
    ck_assert_uint_gt(bytes.len, 0);
    char *direct = to_json(p);
    char *back = decode_to_json(avro, bytes.data, bytes.len);
    ck_assert_str_eq(back, direct);
    free(back);

    /* The same bytes in the Confluent wire format: 0, schema id 42, body. */
    buf_t framed = BUF_INIT;
    ck_assert_int_eq(buf_append(&framed, "\0\0\0\0\x2a", 5), 0);
    ck_assert_int_eq(buf_append(&framed, bytes.data, bytes.len), 0);
    back = decode_to_json(avro, framed.data, framed.len);
    ck_assert_str_eq(back, direct);
    free(back);

    /* The handle is reusable: a second encoding gives the same bytes. */
    buf_t again = BUF_INIT;
    encode(avro, p, &again);
    ck_assert_uint_eq(again.len, bytes.len);
    ck_assert_int_eq(memcmp(again.data, bytes.data, bytes.len), 0);

    buf_free(&again);
    buf_free(&framed);
    buf_free(&bytes);
    free(direct);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

START_TEST(test_round_trip_zero_nodes) {
    profile_avro_t *avro = new_avro();
    profile_t *p = profile_new_empty();
    p->profile_id = profile_strdup(p, "t0#0");
    p->trace_id = profile_strdup(p, "t0");
    p->revision = 3;
    p->summary.schedule_efficiency = 1;
    p->summary.edges = PROFILE_EDGES_INFERRED;
    buf_t bytes = BUF_INIT;

    encode(avro, p, &bytes);
    char *direct = to_json(p);
    char *back = decode_to_json(avro, bytes.data, bytes.len);
    ck_assert_str_eq(back, direct);
    ck_assert_ptr_nonnull(strstr(back, "\"dag_id\":null,\"revision\":3,"));
    free(back);
    free(direct);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

/* A profile_id is never empty ("<trace_id>#<revision>"): the encoder refuses
 * one, so a record's first byte is never 0 and a leading 0 always means the
 * Confluent header. Guessing otherwise once decoded shifted fields (fuzzing). */
START_TEST(test_bare_record_starting_with_zero) {
    profile_avro_t *avro = new_avro();
    profile_t *p = profile_new_empty();
    p->profile_id = profile_strdup(p, "");
    p->trace_id = profile_strdup(p, "t-empty-id");
    buf_t bytes = BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(profile_avro_encode(avro, p, &bytes, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: profile_id is empty");
    ck_assert_uint_eq(bytes.len, 0);
    /* the bare bytes such a record would have: refused, not misread */
    const unsigned char bare[] = {0x00, 0x02, 't', 0x00, 0x00, 0x00, 0x00, 0x00};
    profile_t *out = NULL;
    ck_assert_int_eq(profile_avro_decode(avro, bare, sizeof(bare), &out, err, sizeof(err)), -1);
    ck_assert_ptr_null(out);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

START_TEST(test_encode_errors_leave_buffer) {
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t out = BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(buf_puts(&out, "keep"), 0);

    /* A string the schema requires is NULL. */
    const char *saved = p->nodes[1].node_id;
    p->nodes[1].node_id = NULL;
    ck_assert_int_eq(profile_avro_encode(avro, p, &out, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: node_id is null");
    ck_assert_uint_eq(out.len, 4);
    ck_assert_str_eq(out.data, "keep");
    p->nodes[1].node_id = saved;

    /* An enum value the schema has no symbol for. */
    p->bottlenecks[0].type = (profile_bottleneck_type_t)42;
    ck_assert_int_eq(profile_avro_encode(avro, p, &out, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "profile_avro: type: no symbol"));
    ck_assert_uint_eq(out.len, 4);
    p->bottlenecks[0].type = BOTTLENECK_SLOW_NODE;

    /* A recommendation index past the end. */
    ck_assert_int_eq(profile_avro_encode_recommendation(avro, p, 2, &out, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: recommendation 2 of 2");
    ck_assert_uint_eq(out.len, 4);

    /* And the handle still works afterwards. */
    encode(avro, p, &out);
    ck_assert_uint_gt(out.len, 4);
    ck_assert_int_eq(memcmp(out.data, "keep", 4), 0);

    buf_free(&out);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

START_TEST(test_decode_errors) {
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;
    char err[256];
    profile_t *back = (profile_t *)&back;

    encode(avro, p, &bytes);
    /* Every truncation fails cleanly, framed or not. */
    for (size_t len = 0; len < bytes.len; len += 7) {
        err[0] = '\0';
        ck_assert_int_eq(profile_avro_decode(avro, bytes.data, len, &back, err, sizeof(err)), -1);
        ck_assert_ptr_null(back);
        ck_assert_msg(strncmp(err, "profile_avro: ", 14) == 0, "errstr \"%s\"", err);
    }
    /* A length far beyond the message fails before anything is allocated. */
    static const char huge[] = "\xfe\xff\xff\xff\xff\xff\xff\xff\x7f";
    ck_assert_int_eq(profile_avro_decode(avro, huge, sizeof(huge) - 1, &back, err,
                                         sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: not a Profile record: a length runs past the end");
    ck_assert_ptr_null(back);
    /* Framed with a huge length in the body: a leading 0 is always the header. */
    static const char framed_huge[] = "\0\0\0\0\x01\xfe\xff\xff\xff\x0f";
    ck_assert_int_eq(profile_avro_decode(avro, framed_huge, sizeof(framed_huge) - 1, &back, err,
                                         sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: not a Profile record: a length runs past the end (framed)");
    /* One record and then more bytes is not one record. */
    buf_t longer = BUF_INIT;
    ck_assert_int_eq(buf_append(&longer, bytes.data, bytes.len), 0);
    ck_assert_int_eq(buf_putc(&longer, 0), 0);
    ck_assert_int_eq(profile_avro_decode(avro, longer.data, longer.len, &back, err,
                                         sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: not a Profile record: bytes left after the record");
    buf_free(&longer);
    /* The start of a Profile, then nothing but noise. */
    static const char garbage[] = "\x02x\x02y\x00\x04\x01\x02\x7f\xff\xff\xff";
    ck_assert_int_eq(profile_avro_decode(avro, garbage, sizeof(garbage) - 1, &back, err,
                                         sizeof(err)), -1);
    ck_assert_ptr_null(back);
    /* The handle is fine after errors. */
    char *direct = to_json(p);
    char *json = decode_to_json(avro, bytes.data, bytes.len);
    ck_assert_str_eq(json, direct);
    free(json);
    free(direct);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

/* Text the engine quotes from broken input may hold ill-formed UTF-8; the
 * encoder writes it as U+FFFD (Avro strings are UTF-8 and every client
 * checks), the same text the JSON form shows, so a decoder never refuses
 * what the encoder wrote (found by fuzz_profile). */
START_TEST(test_encode_replaces_bad_text) {
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;
    const char *warning = "line 3: not JSON: near '\xff\xce' (column 9)";
    const char **warnings = profile_alloc(p, sizeof(char *));
    ck_assert_ptr_nonnull(warnings);
    warnings[0] = profile_strdup(p, warning);
    p->warnings = warnings;
    p->warning_count = 1;

    encode(avro, p, &bytes);
    char err[256] = "";
    profile_t *back = NULL;
    ck_assert_msg(profile_avro_decode(avro, bytes.data, bytes.len, &back, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(back->warning_count, 1);
    ck_assert_str_eq(back->warnings[0],
                     "line 3: not JSON: near '\xef\xbf\xbd\xef\xbf\xbd' (column 9)");
    char *direct = to_json(p);
    char *again = to_json(back);
    ck_assert_str_eq(again, direct);
    free(again);
    free(direct);
    profile_free(back);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

/* Avro strings are UTF-8 and the profile keeps C strings: a record whose
 * string has ill-formed bytes or a NUL, as a field or as a by_model key, is
 * refused with the field's name. Before, two such model names could come out
 * of the JSON writer as the same key (found by fuzz_profile_avro). */
START_TEST(test_decode_refuses_bad_text) {
    static const struct {
        const char *needle; /* bytes of the encoding to patch */
        size_t at;          /* offset within them */
        char byte;          /* the byte put there */
        const char *err;
    } cases[] = {
        {"research-agent", 3, '\xff', "profile_avro: dag_id: a string is not UTF-8"},
        {"research-agent", 8, '\0', "profile_avro: dag_id: a string has a NUL byte"},
        {"mystery-model-x", 0, '\xc0', "profile_avro: unpriced_models: a string is not UTF-8"},
    };
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;
    encode(avro, p, &bytes);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        profile_t *back = NULL;
        char *copy = malloc(bytes.len);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, bytes.data, bytes.len);
        char *hit = memmem(copy, bytes.len, cases[i].needle, strlen(cases[i].needle));
        ck_assert_msg(hit != NULL, "%s is not in the encoding", cases[i].needle);
        hit[cases[i].at] = cases[i].byte;
        ck_assert_int_eq(profile_avro_decode(avro, copy, bytes.len, &back, err, sizeof(err)), -1);
        ck_assert_ptr_null(back);
        ck_assert_str_eq(err, cases[i].err);
        free(copy);
    }
    /* A by_model key: the model names of the small profile are map keys. */
    ck_assert_uint_gt(p->model_count, 0);
    char *copy = malloc(bytes.len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, bytes.data, bytes.len);
    const char *model = p->by_model[0].model;
    char *hit = memmem(copy, bytes.len, model, strlen(model));
    ck_assert_ptr_nonnull(hit);
    hit[1] = '\xfe';
    char err[256] = "";
    profile_t *back = NULL;
    ck_assert_int_eq(profile_avro_decode(avro, copy, bytes.len, &back, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "profile_avro: by_model: a string is not UTF-8");
    free(copy);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

/* Garbled messages never crash the decoder: every byte of a real record,
 * replaced in turn by a few bad values, gives a profile or an error. */
START_TEST(test_garbled_bytes) {
    static const unsigned char bad[] = {0x00, 0x7f, 0x80, 0xff};
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;
    char err[256];
    size_t decoded = 0, rejected = 0;

    encode(avro, p, &bytes);
    unsigned char *copy = malloc(bytes.len);
    for (size_t i = 0; i < bytes.len; i++) {
        for (size_t b = 0; b < sizeof(bad); b++) {
            memcpy(copy, bytes.data, bytes.len);
            if (copy[i] == bad[b])
                continue;
            copy[i] = bad[b];
            profile_t *back = NULL;
            int rc = profile_avro_decode(avro, copy, bytes.len, &back, err, sizeof(err));
            ck_assert(rc == 0 || rc == -1);
            ck_assert(rc == 0 ? back != NULL : back == NULL);
            if (rc == 0) {
                decoded++;
                char *json = to_json(back); /* the decoded profile is usable */
                free(json);
                profile_free(back);
            } else {
                rejected++;
            }
        }
    }
    /* Both happen: a changed digit of a number still decodes, a changed
     * length does not. */
    ck_assert_uint_gt(decoded, 0);
    ck_assert_uint_gt(rejected, 0);
    free(copy);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

/* Python's avro package reads our bytes with schemas/profile.avsc. */
START_TEST(test_python_reads_profile) {
    static const char script[] =
        "import io, sys, avro.schema, avro.io\n"
        "schema = avro.schema.parse(open(sys.argv[1]).read())\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "stream = io.BytesIO(data)\n"
        "p = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(stream))\n"
        "search = [n for n in p['nodes'] if n['node_id'] == 'search'][0]\n"
        "print(p['trace_id'], p['revision'], len(p['nodes']), search['exec_us'],\n"
        "      repr(p['summary']['cost_usd']), p['dag_id'], p['summary']['edges'],\n"
        "      p['nodes'][0]['status'], p['nodes'][0]['tool_calls'][1]['ok'],\n"
        "      p['bottlenecks'][2]['node_id'], p['bottlenecks'][2]['type'],\n"
        "      p['recommendations'][1]['action'],\n"
        "      p['by_model']['mystery-model-x']['tokens']['total'],\n"
        "      ','.join(p['critical_path']), repr(p['warnings'][0]),\n"
        "      'consumed' if stream.tell() == len(data) else 'trailing', sep='|')\n";
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;
    char *dir = harness_tempdir("dagprof-avro");
    ck_assert_ptr_nonnull(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/profile.avro", dir);

    encode(avro, p, &bytes);
    write_file(path, bytes.data, bytes.len);
    char *output = run_python(script, DAGPROF_SOURCE_DIR "/schemas/profile.avsc", path, dir);
    ck_assert_str_eq(output,
                     "trace-7f3a|2|4|5000000|0.06735|research-agent|declared|error|False|None|"
                     "sequential_bottleneck|None|6500|plan,search,write_report|"
                     "'span \"s13\" rejected: end_us < start_us'|consumed\n");
    free(output);
    harness_rmtree(dir);
    free(dir);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

/* Each recommendation is a Recommendation record carrying the profile's ids. */
START_TEST(test_python_reads_recommendations) {
    static const char script[] =
        "import io, sys, avro.schema, avro.io\n"
        "schema = avro.schema.parse(open(sys.argv[1]).read())\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "stream = io.BytesIO(data)\n"
        "reader = avro.io.DatumReader(schema)\n"
        "while stream.tell() < len(data):\n"
        "    r = reader.read(avro.io.BinaryDecoder(stream))\n"
        "    print(r['profile_id'], r['trace_id'], r['dag_id'], r['revision'],\n"
        "          r['profiled_at_us'], r['type'], r['priority'], ','.join(r['node_ids']),\n"
        "          r['savings']['time_us'], r['savings']['tokens'],\n"
        "          repr(r['savings']['cost_usd']), r['action'], sep='|')\n";
    profile_avro_t *avro = new_avro();
    profile_t *p = small_profile();
    buf_t bytes = BUF_INIT;
    char err[256] = "";
    char *dir = harness_tempdir("dagprof-avro");
    ck_assert_ptr_nonnull(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/recommendations.avro", dir);

    /* Both records back to back in one file; the script reads until the end. */
    for (size_t i = 0; i < p->recommendation_count; i++)
        ck_assert_msg(profile_avro_encode_recommendation(avro, p, i, &bytes, err,
                                                         sizeof(err)) == 0, "%s", err);
    write_file(path, bytes.data, bytes.len);
    char *output =
        run_python(script, DAGPROF_SOURCE_DIR "/schemas/recommendation.avsc", path, dir);
    ck_assert_str_eq(output,
                     "trace-7f3a#2|trace-7f3a|research-agent|2|1714564812500000|cache|high|"
                     "search|1800000|15000|0.0045|Cache web_search results keyed by query for "
                     "24 h.\n"
                     "trace-7f3a#2|trace-7f3a|research-agent|2|1714564812500000|"
                     "model_downgrade|medium|plan|0|0|0.0054|None\n");
    free(output);
    harness_rmtree(dir);
    free(dir);
    buf_free(&bytes);
    profile_free(p);
    profile_avro_free(avro);
}
END_TEST

static Suite *profile_avro_suite(void) {
    Suite *s = suite_create("profile_avro");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_embedded_schemas_equal_files);
    tcase_add_test(tc, test_round_trip_small);
    tcase_add_test(tc, test_round_trip_zero_nodes);
    tcase_add_test(tc, test_bare_record_starting_with_zero);
    tcase_add_test(tc, test_encode_errors_leave_buffer);
    tcase_add_test(tc, test_decode_errors);
    tcase_add_test(tc, test_encode_replaces_bad_text);
    tcase_add_test(tc, test_decode_refuses_bad_text);
    tcase_add_test(tc, test_garbled_bytes);
    tcase_add_test(tc, test_python_reads_profile);
    tcase_add_test(tc, test_python_reads_recommendations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *runner = srunner_create(profile_avro_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
