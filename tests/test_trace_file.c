/* test_trace_file.c -- reading trace files: JSON Lines and Avro containers. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>

#include "buf.h"
#include "span_codec.h"
#include "trace_file.h"

#define ERRSTR_BYTES 512
#define MAX_ERRORS 16

/* What a read delivered: each span as its JSON form, each error as text. */
typedef struct collected {
    buf_t spans; /* one JSON object per line */
    long span_count;
    int64_t input_tokens;
    int64_t output_tokens;
    int kinds[5];
    long error_records[MAX_ERRORS];
    char *error_reasons[MAX_ERRORS];
    int error_count;
    long stop_after; /* on_span returns 42 at this span; 0: never */
} collected_t;

static int collect_span(void *opaque, const span_t *span) {
    collected_t *c = opaque;
    ck_assert_int_eq(span_codec_encode_json(span, &c->spans), 0);
    ck_assert_int_eq(buf_putc(&c->spans, '\n'), 0);
    c->span_count++;
    c->input_tokens += span->input_tokens;
    c->output_tokens += span->output_tokens;
    c->kinds[span->kind]++;
    return c->stop_after && c->span_count == c->stop_after ? 42 : 0;
}

static void collect_error(void *opaque, long record, const char *reason) {
    collected_t *c = opaque;
    ck_assert_int_lt(c->error_count, MAX_ERRORS);
    c->error_records[c->error_count] = record;
    c->error_reasons[c->error_count] = strdup(reason);
    c->error_count++;
}

static void collected_free(collected_t *c) {
    buf_free(&c->spans);
    for (int i = 0; i < c->error_count; i++)
        free(c->error_reasons[i]);
}

static int read_into(const char *path, collected_t *c, char *errstr) {
    trace_file_handler_t handler = {collect_span, collect_error, c};
    return trace_file_read(path, &handler, errstr, ERRSTR_BYTES);
}

/* A fresh path under the build tree, removed by the caller. */
static char *temp_path(const char *suffix) {
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s/trace_file_test_%ld_%s", DAGPROF_BINARY_DIR,
                              (long)getpid(), suffix),
                     0);
    return path;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(test_example_trace) {
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES "/code_review_dag.jsonl", &c, errstr), 0);
    ck_assert_int_eq(c.span_count, 16);
    ck_assert_int_eq(c.error_count, 0);
    ck_assert_int_eq(c.kinds[SPAN_KIND_RUN], 1);
    ck_assert_int_eq(c.kinds[SPAN_KIND_NODE], 6);
    ck_assert_int_eq(c.kinds[SPAN_KIND_LLM], 6);
    ck_assert_int_eq(c.kinds[SPAN_KIND_TOOL], 3);
    ck_assert_int_eq(c.input_tokens, 19850);
    ck_assert_int_eq(c.output_tokens, 7600);
    /* The first line, in full. */
    const char *first_line =
        "{\"trace_id\":\"tr-8f4a2b1c-3d5e-6f7a-8b9c\",\"span_id\":\"n2\","
        "\"parent_span_id\":\"r0\",\"dag_id\":null,\"node_id\":\"analyze-complexity\","
        "\"kind\":\"node\",\"name\":\"analyze-complexity\",\"start_us\":1705314618433000,"
        "\"end_us\":1705314623246000,\"status\":\"ok\",\"depends_on\":[\"fetch-code\"],"
        "\"attempt\":0,\"model\":null,\"provider\":null,\"input_tokens\":0,"
        "\"output_tokens\":0,\"cache_read_tokens\":0,\"cache_write_tokens\":0,"
        "\"reasoning_tokens\":0,\"tool_name\":null,\"attributes\":{}}\n";
    ck_assert_int_eq(strncmp(c.spans.data, first_line, strlen(first_line)), 0);
    collected_free(&c);
}
END_TEST

START_TEST(test_malformed_lines_are_skipped) {
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES "/codec_malformed.jsonl", &c, errstr), 0);
    ck_assert_int_eq(c.span_count, 3);
    ck_assert_int_eq(c.error_count, 4);
    ck_assert_int_eq(c.error_records[0], 2);
    ck_assert_msg(strncmp(c.error_reasons[0], "line 2: not JSON: ", 18) == 0, "got %s",
                  c.error_reasons[0]);
    ck_assert_int_eq(c.error_records[1], 5);
    ck_assert_str_eq(c.error_reasons[1], "line 5: trace_id: missing");
    ck_assert_int_eq(c.error_records[2], 6);
    ck_assert_str_eq(c.error_reasons[2], "line 6: kind: unknown value \"banana\"");
    ck_assert_int_eq(c.error_records[3], 8);
    ck_assert_str_eq(c.error_reasons[3], "line 8: not a JSON object: got an array");
    /* The good lines around them, in order. */
    char *second = strchr(c.spans.data, '\n') + 1;
    char *third = strchr(second, '\n') + 1;
    ck_assert_int_eq(strncmp(c.spans.data, "{\"trace_id\":\"tr-1\",\"span_id\":\"r0\",", 34), 0);
    ck_assert_int_eq(strncmp(second, "{\"trace_id\":\"tr-1\",\"span_id\":\"n1\",", 34), 0);
    ck_assert_int_eq(strncmp(third, "{\"trace_id\":\"tr-1\",\"span_id\":\"l1\",", 34), 0);
    ck_assert_int_eq(c.input_tokens, 100);
    collected_free(&c);
}
END_TEST

START_TEST(test_empty_file) {
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES "/codec_empty.jsonl", &c, errstr), 0);
    ck_assert_int_eq(c.span_count, 0);
    ck_assert_int_eq(c.error_count, 0);
    collected_free(&c);
}
END_TEST

START_TEST(test_missing_file) {
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES "/codec_no_such_file.jsonl", &c, errstr), -1);
    ck_assert_str_eq(errstr, DAGPROF_FIXTURES "/codec_no_such_file.jsonl: No such file or directory");
    ck_assert_int_eq(c.span_count, 0);
    collected_free(&c);
}
END_TEST

START_TEST(test_directory_is_an_error) {
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES, &c, errstr), -1);
    ck_assert_str_eq(errstr, DAGPROF_FIXTURES ": Is a directory");
    collected_free(&c);
}
END_TEST

START_TEST(test_callback_stops_reading) {
    collected_t c = {.stop_after = 3};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES "/code_review_dag.jsonl", &c, errstr), 42);
    ck_assert_int_eq(c.span_count, 3);
    collected_free(&c);
}
END_TEST

START_TEST(test_long_lines_bom_and_crlf) {
    /* A byte order mark, CRLF endings and a line of 1 MB. */
    buf_t text = BUF_INIT;
    ck_assert_int_eq(buf_puts(&text, "\xef\xbb\xbf{\"trace_id\":\"t\",\"span_id\":\"a\","
                                     "\"start_us\":1,\"end_us\":2}\r\n"),
                     0);
    ck_assert_int_eq(buf_puts(&text, "{\"trace_id\":\"t\",\"span_id\":\"b\",\"start_us\":1,"
                                     "\"end_us\":2,\"attributes\":{\"blob\":\""),
                     0);
    ck_assert_int_eq(buf_reserve(&text, 1 << 20), 0);
    memset(text.data + text.len, 'x', 1 << 20);
    text.len += 1 << 20;
    text.data[text.len] = '\0';
    ck_assert_int_eq(buf_puts(&text, "\"}}\r\n\r\n"), 0);
    char *path = temp_path("long.jsonl");
    write_file(path, text.data, text.len);

    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(path, &c, errstr), 0);
    ck_assert_int_eq(c.error_count, 0);
    ck_assert_int_eq(c.span_count, 2);
    ck_assert_uint_gt(c.spans.len, 1 << 20);
    ck_assert_int_eq(strncmp(c.spans.data, "{\"trace_id\":\"t\",\"span_id\":\"a\",", 30), 0);
    collected_free(&c);
    unlink(path);
    free(path);
    buf_free(&text);
}
END_TEST

START_TEST(test_standard_input) {
    ck_assert_ptr_nonnull(freopen(DAGPROF_FIXTURES "/code_review_dag.jsonl", "r", stdin));
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into("-", &c, errstr), 0);
    ck_assert_int_eq(c.span_count, 16);
    ck_assert_int_eq(c.input_tokens, 19850);
    collected_free(&c);
}
END_TEST

/* Write the spans of `jsonl` to an Avro container at `path`, with a block
 * boundary after `block_after` records (0: one block). Returns the count. */
static int write_container(const char *jsonl, const char *path, int block_after) {
    char errstr[ERRSTR_BYTES];
    span_codec_t *codec = span_codec_new(errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(codec);
    avro_file_writer_t writer;
    unlink(path);
    ck_assert_msg(avro_file_writer_create(path, span_codec_schema(codec), &writer) == 0, "%s",
                  avro_strerror());
    FILE *fp = fopen(jsonl, "r");
    ck_assert_ptr_nonnull(fp);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int count = 0;
    buf_t avro = BUF_INIT;
    while ((len = getline(&line, &cap, fp)) > 0) {
        span_t span;
        if (len <= 1)
            continue;
        ck_assert_int_eq(span_codec_decode_json(codec, line, (size_t)len, &span, errstr,
                                                sizeof(errstr)),
                         0);
        buf_reset(&avro);
        ck_assert_int_eq(span_codec_encode_avro(codec, &span, &avro, errstr, sizeof(errstr)),
                         0);
        ck_assert_int_eq(avro_file_writer_append_encoded(writer, avro.data, (int64_t)avro.len),
                         0);
        if (++count == block_after)
            ck_assert_int_eq(avro_file_writer_sync(writer), 0);
    }
    ck_assert_int_eq(avro_file_writer_close(writer), 0);
    free(line);
    fclose(fp);
    buf_free(&avro);
    span_codec_free(codec);
    return count;
}

START_TEST(test_avro_container_matches_jsonl) {
    char *path = temp_path("trace.avro");
    ck_assert_int_eq(write_container(DAGPROF_FIXTURES "/code_review_dag.jsonl", path, 0), 16);

    collected_t from_json = {0}, from_avro = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(DAGPROF_FIXTURES "/code_review_dag.jsonl", &from_json, errstr),
                     0);
    ck_assert_msg(read_into(path, &from_avro, errstr) == 0, "%s", errstr);
    ck_assert_int_eq(from_avro.span_count, 16);
    ck_assert_int_eq(from_avro.error_count, 0);
    ck_assert_str_eq(from_avro.spans.data, from_json.spans.data);
    collected_free(&from_json);
    collected_free(&from_avro);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_avro_container_through_a_pipe) {
    /* A pipe cannot be rewound: the peeked magic must be put back. */
    char *path = temp_path("pipe.avro");
    ck_assert_int_eq(write_container(DAGPROF_FIXTURES "/code_review_dag.jsonl", path, 5), 16);
    char *command = NULL;
    ck_assert_int_ge(asprintf(&command, "cat '%s'", path), 0);
    FILE *pipe = popen(command, "r");
    ck_assert_ptr_nonnull(pipe);

    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    trace_file_handler_t handler = {collect_span, collect_error, &c};
    ck_assert_msg(trace_file_read_fp(pipe, "pipe", &handler, errstr, sizeof(errstr)) == 0, "%s",
                  errstr);
    ck_assert_int_eq(pclose(pipe), 0);
    ck_assert_int_eq(c.span_count, 16);
    ck_assert_int_eq(c.input_tokens, 19850);
    collected_free(&c);

    /* And JSON Lines through a pipe. */
    free(command);
    ck_assert_int_ge(asprintf(&command, "cat '%s'", DAGPROF_FIXTURES "/codec_malformed.jsonl"),
                     0);
    pipe = popen(command, "r");
    collected_t j = {0};
    handler.opaque = &j;
    ck_assert_int_eq(trace_file_read_fp(pipe, "pipe", &handler, errstr, sizeof(errstr)), 0);
    ck_assert_int_eq(pclose(pipe), 0);
    ck_assert_int_eq(j.span_count, 3);
    ck_assert_int_eq(j.error_count, 4);
    collected_free(&j);
    free(command);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_avro_bad_record_is_skipped) {
    /* Three records; the second says input_tokens = -1, which Avro-C reads
     * fine but the span decoder refuses. */
    char errstr[ERRSTR_BYTES];
    span_codec_t *codec = span_codec_new(errstr, sizeof(errstr));
    char *path = temp_path("bad_record.avro");
    avro_file_writer_t writer;
    unlink(path);
    ck_assert_int_eq(avro_file_writer_create(path, span_codec_schema(codec), &writer), 0);
    for (int i = 0; i < 3; i++) {
        char span_id[8];
        snprintf(span_id, sizeof(span_id), "s%d", i);
        span_t span = {.trace_id = "t", .span_id = span_id, .kind = SPAN_KIND_LLM,
                       .start_us = 1, .end_us = 2, .input_tokens = 10};
        buf_t avro = BUF_INIT;
        ck_assert_int_eq(span_codec_encode_avro(codec, &span, &avro, errstr, sizeof(errstr)),
                         0);
        if (i == 1) {
            /* input_tokens 10 is zigzag 0x14; -1 is 0x01. It follows
             * "\x02t\x04s1", 3 nulls, kind, name, start, end, status,
             * depends_on, attempt, model and provider: offset 17. */
            ck_assert_int_eq((uint8_t)avro.data[17], 0x14);
            avro.data[17] = 0x01;
        }
        ck_assert_int_eq(avro_file_writer_append_encoded(writer, avro.data, (int64_t)avro.len),
                         0);
        buf_free(&avro);
    }
    ck_assert_int_eq(avro_file_writer_close(writer), 0);

    collected_t c = {0};
    ck_assert_int_eq(read_into(path, &c, errstr), 0);
    ck_assert_int_eq(c.span_count, 2);
    ck_assert_int_eq(c.input_tokens, 20);
    ck_assert_int_eq(c.error_count, 1);
    ck_assert_int_eq(c.error_records[0], 2);
    ck_assert_str_eq(c.error_reasons[0], "record 2: input_tokens: negative (-1)");
    collected_free(&c);
    span_codec_free(codec);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_avro_truncated_second_block) {
    char *path = temp_path("truncated.avro");
    ck_assert_int_eq(write_container(DAGPROF_FIXTURES "/code_review_dag.jsonl", path, 8), 16);
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    fclose(fp);
    /* Cut the file inside the second block (its sync marker and some data). */
    ck_assert_int_eq(truncate(path, size - 60), 0);

    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(path, &c, errstr), 0);
    ck_assert_int_eq(c.span_count, 8);
    ck_assert_int_eq(c.error_count, 1);
    ck_assert_int_eq(c.error_records[0], 9);
    ck_assert_msg(strncmp(c.error_reasons[0], "record 9: unreadable, rest of file skipped: ",
                          44) == 0,
                  "got %s", c.error_reasons[0]);
    collected_free(&c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_avro_container_of_another_schema) {
    static const char schema_json[] =
        "{\"type\":\"record\",\"name\":\"Other\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}";
    avro_schema_t schema;
    ck_assert_int_eq(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    char *path = temp_path("other.avro");
    avro_file_writer_t writer;
    unlink(path);
    ck_assert_int_eq(avro_file_writer_create(path, schema, &writer), 0);
    ck_assert_int_eq(avro_file_writer_close(writer), 0);

    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(path, &c, errstr), -1);
    char *expected = NULL;
    ck_assert_int_ge(asprintf(&expected,
                              "%s: Avro container of records of another schema (Other), not "
                              "SpanEvent",
                              path),
                     0);
    ck_assert_str_eq(errstr, expected);
    free(expected);
    collected_free(&c);
    avro_schema_decref(schema);
    unlink(path);
    free(path);
}
END_TEST

/* Avro-C 1.11.1 leaks ~600 bytes inside avro_file_reader_fp() when it
 * rejects a header (its error path skips its own frees). Valgrind reports
 * them against test_avro_magic_with_garbage_header; in sanitizer builds these
 * hooks suppress exactly that leak, which needs full stacks to be matched. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:avro_file_reader_fp\n";
}

START_TEST(test_avro_magic_with_garbage_header) {
    char *path = temp_path("garbage.avro");
    write_file(path, "Obj\x01\x7f\xff\xff", 7);
    collected_t c = {0};
    char errstr[ERRSTR_BYTES] = "";
    ck_assert_int_eq(read_into(path, &c, errstr), -1);
    ck_assert_msg(strstr(errstr, "unreadable Avro container") != NULL, "got %s", errstr);
    ck_assert_int_eq(strncmp(errstr, path, strlen(path)), 0);
    ck_assert_int_eq(c.span_count, 0);
    collected_free(&c);
    unlink(path);
    free(path);
}
END_TEST

static Suite *trace_file_suite(void) {
    Suite *suite = suite_create("trace_file");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_example_trace);
    tcase_add_test(tc, test_malformed_lines_are_skipped);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_directory_is_an_error);
    tcase_add_test(tc, test_callback_stops_reading);
    tcase_add_test(tc, test_long_lines_bom_and_crlf);
    tcase_add_test(tc, test_standard_input);
    tcase_add_test(tc, test_avro_container_matches_jsonl);
    tcase_add_test(tc, test_avro_container_through_a_pipe);
    tcase_add_test(tc, test_avro_bad_record_is_skipped);
    tcase_add_test(tc, test_avro_truncated_second_block);
    tcase_add_test(tc, test_avro_container_of_another_schema);
    tcase_add_test(tc, test_avro_magic_with_garbage_header);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(trace_file_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
