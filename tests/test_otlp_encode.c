/* test_otlp_encode.c -- span events as OTLP requests (schemas/otlp_encode.h),
 * and `dagprof loadgen --format otlp_json` to a file.
 *
 * The golden protobuf bytes below were checked by decoding them with the
 * OpenTelemetry JS SDK's own generated protobuf schema
 * (@opentelemetry/otlp-transformer, tests/js): the same request as the JSON. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "loadgen.h"
#include "otlp_encode.h"

static const char golden_proto_hex[] =
    "0ad1040a170a150a0c736572766963652e6e616d6512050a0373766312b5040a090a0764616770726f6612d8010a1007"
    "f4060963996191e31ad11ef6294d1412080123456789abcdef22084fe6b3bb0ffbba432a026e31300139000057c07e68"
    "16184100caf1fb7e6816184a270a1567656e5f61692e6f7065726174696f6e2e6e616d65120e0a0c696e766f6b655f61"
    "67656e744a190a1167656e5f61692e6167656e742e6e616d6512040a026e314a1e0a0e6461672e646570656e64735f6f"
    "6e120c2a0a0a030a01610a030a01624a110a0b6461672e617474656d7074120218014a130a0b6461672e6e6f64655f69"
    "6412040a026e314a080a016b12030a01767a02180212cc020a1007f4060963996191e31ad11ef6294d1412085f4063f5"
    "8536f3682a036c6c6d300139e80300000000000041d0070000000000004a1f0a1567656e5f61692e6f7065726174696f"
    "6e2e6e616d6512060a04636861744a1b0a1467656e5f61692e726571756573742e6d6f64656c12030a016d4a1c0a1567"
    "656e5f61692e726573706f6e73652e6d6f64656c12030a016d4a1b0a1467656e5f61692e70726f76696465722e6e616d"
    "6512030a01704a200a1967656e5f61692e75736167652e696e7075745f746f6b656e73120318ac024a200a1a67656e5f"
    "61692e75736167652e6f75747075745f746f6b656e73120218074a2a0a2467656e5f61692e75736167652e6361636865"
    "5f726561642e696e7075745f746f6b656e73120218054a2a0a2467656e5f61692e75736167652e726561736f6e696e67"
    "2e6f75747075745f746f6b656e73120218027a00";

static const char golden_json[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"va"
    "lue\":{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"dagprof\""
    "},\"spans\":[{\"traceId\":\"07f4060963996191e31ad11ef6294d14\",\"spanId\":\"012"
    "3456789abcdef\",\"parentSpanId\":\"4fe6b3bb0ffbba43\",\"name\":\"n1\",\"kind\":1,"
    "\"startTimeUnixNano\":\"1735689600000000000\",\"endTimeUnixNano\":\"173568960"
    "1000000000\",\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{\"str"
    "ingValue\":\"invoke_agent\"}},{\"key\":\"gen_ai.agent.name\",\"value\":{\"string"
    "Value\":\"n1\"}},{\"key\":\"dag.depends_on\",\"value\":{\"arrayValue\":{\"values\":"
    "[{\"stringValue\":\"a\"},{\"stringValue\":\"b\"}]}}},{\"key\":\"dag.attempt\",\"val"
    "ue\":{\"intValue\":\"1\"}},{\"key\":\"dag.node_id\",\"value\":{\"stringValue\":\"n1\""
    "}},{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}],\"status\":{\"code\":2}},{\"tra"
    "ceId\":\"07f4060963996191e31ad11ef6294d14\",\"spanId\":\"5f4063f58536f368\",\""
    "name\":\"llm\",\"kind\":1,\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"200"
    "0\",\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\""
    ":\"chat\"}},{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"m\"}},{"
    "\"key\":\"gen_ai.response.model\",\"value\":{\"stringValue\":\"m\"}},{\"key\":\"gen"
    "_ai.provider.name\",\"value\":{\"stringValue\":\"p\"}},{\"key\":\"gen_ai.usage.i"
    "nput_tokens\",\"value\":{\"intValue\":\"300\"}},{\"key\":\"gen_ai.usage.output_t"
    "okens\",\"value\":{\"intValue\":\"7\"}},{\"key\":\"gen_ai.usage.cache_read.input"
    "_tokens\",\"value\":{\"intValue\":\"5\"}},{\"key\":\"gen_ai.usage.reasoning.outp"
    "ut_tokens\",\"value\":{\"intValue\":\"2\"}}],\"status\":{}}]}]}]}";

/* A node span with a hashed trace id, a hex span id, a hashed parent, depends_on,
 * attempt and a pass-through attribute; an llm span with tokens and no status. */
static void add_two(otlp_encoder_t *enc) {
    char err[256];
    static const char *deps[] = {"a", "b"};
    static const span_attr_t attrs[] = {{"k", "v"}};
    span_t node = {0};
    node.trace_id = "run-1";
    node.span_id = "0123456789abcdef";
    node.parent_span_id = "zz";
    node.kind = SPAN_KIND_NODE;
    node.node_id = "n1";
    node.name = "n1";
    node.start_us = 1735689600000000;
    node.end_us = 1735689601000000;
    node.depends_on = deps;
    node.depends_on_count = 2;
    node.attempt = 1;
    node.attributes = attrs;
    node.attribute_count = 1;
    node.status = SPAN_STATUS_ERROR;
    ck_assert_int_eq(otlp_encoder_add(enc, &node, err, sizeof(err)), 0);
    span_t llm = {0};
    llm.trace_id = "run-1";
    llm.span_id = "1";
    llm.kind = SPAN_KIND_LLM;
    llm.model = "m";
    llm.provider = "p";
    llm.input_tokens = 300;
    llm.output_tokens = 7;
    llm.cache_read_tokens = 5;
    llm.reasoning_tokens = 2;
    llm.start_us = 1;
    llm.end_us = 2;
    llm.status = SPAN_STATUS_UNSET;
    ck_assert_int_eq(otlp_encoder_add(enc, &llm, err, sizeof(err)), 0);
}

START_TEST(test_proto_golden) {
    char err[256];
    otlp_encoder_t *enc = otlp_encoder_new(OTLP_ENCODING_PROTO, "svc", err, sizeof(err));
    ck_assert_ptr_nonnull(enc);
    add_two(enc);
    ck_assert_uint_eq(otlp_encoder_span_count(enc), 2);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(otlp_encoder_finish(enc, &out), 0);
    char *hex = malloc(out.len * 2 + 1);
    for (size_t i = 0; i < out.len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)out.data[i]);
    ck_assert_str_eq(hex, golden_proto_hex);
    /* finishing starts an empty request */
    ck_assert_uint_eq(otlp_encoder_span_count(enc), 0);
    buf_reset(&out);
    ck_assert_int_eq(otlp_encoder_finish(enc, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    free(hex);
    buf_free(&out);
    otlp_encoder_free(enc);
}
END_TEST

START_TEST(test_json_golden) {
    char err[256];
    otlp_encoder_t *enc = otlp_encoder_new(OTLP_ENCODING_JSON, "svc", err, sizeof(err));
    add_two(enc);
    buf_t out = BUF_INIT;
    ck_assert_int_eq(otlp_encoder_finish(enc, &out), 0);
    ck_assert_str_eq(out.data, golden_json);
    buf_reset(&out);
    ck_assert_int_eq(otlp_encoder_finish(enc, &out), 0);
    ck_assert_str_eq(out.data, "{\"resourceSpans\":[]}");
    buf_free(&out);
    otlp_encoder_free(enc);
}
END_TEST

START_TEST(test_ids) {
    unsigned char id[16], again[16], other[16];
    otlp_encode_id("0af7651916cd43dd8448eb211c80319c", id, 16);
    ck_assert_int_eq(id[0], 0x0a);
    ck_assert_int_eq(id[15], 0x9c);
    otlp_encode_id("run-0000001", id, 16);
    otlp_encode_id("run-0000001", again, 16);
    otlp_encode_id("run-0000002", other, 16);
    ck_assert_int_eq(memcmp(id, again, 16), 0);
    ck_assert_int_ne(memcmp(id, other, 16), 0);
    /* 32 characters that are not all hex are hashed, not half-read */
    otlp_encode_id("0af7651916cd43dd8448eb211c80319g", other, 16);
    ck_assert_int_ne(other[0] == 0x0a && other[1] == 0xf7, 1);
}
END_TEST

/* Bad spans are refused with a reason and leave the request as it was. */
START_TEST(test_bad_spans) {
    char err[256] = "";
    otlp_encoder_t *enc = otlp_encoder_new(OTLP_ENCODING_JSON, NULL, err, sizeof(err));
    add_two(enc);
    size_t bytes = otlp_encoder_pending_bytes(enc);
    span_t bad = {0};
    bad.trace_id = "t";
    bad.span_id = "";
    ck_assert_int_eq(otlp_encoder_add(enc, &bad, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "span without trace_id or span_id");
    bad.span_id = "s";
    bad.start_us = 10;
    bad.end_us = 9;
    ck_assert_int_eq(otlp_encoder_add(enc, &bad, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "span s: end_us before start_us, or a negative time");
    ck_assert_uint_eq(otlp_encoder_span_count(enc), 2);
    ck_assert_uint_eq(otlp_encoder_pending_bytes(enc), bytes);
    otlp_encoder_free(enc);
}
END_TEST

/* loadgen --format otlp_json to a file: one request per line, batches of
 * loadgen.otlp.batch spans, every span of the fleet once; keyed by trace,
 * each request holds one trace. */
static void loadgen_otlp_file(int keyed, int batch, size_t *lines, size_t *spans, int *one_trace_each) {
    char path[] = "/tmp/test_otlp_encode_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    loadgen_options_t opt;
    memset(&opt, 0, sizeof(opt));
    fleet_options_init(&opt.fleet);
    opt.fleet.runs = 20;
    opt.output = path;
    opt.format = LOADGEN_FORMAT_OTLP_JSON;
    opt.otlp_batch_spans = batch;
    opt.otlp_key_by_trace = keyed;
    loadgen_result_t result;
    char err[512];
    ck_assert_msg(loadgen_run(&opt, NULL, &result, err, sizeof(err)) == 0, "%s", err);
    FILE *f = fdopen(fd, "r");
    char *line = NULL;
    size_t cap = 0;
    *lines = *spans = 0;
    *one_trace_each = 1;
    while (getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *req = json_loads(line, 0, &jerr);
        ck_assert_ptr_nonnull(req);
        json_t *list = json_object_get(json_array_get(json_object_get(json_array_get(
                                           json_object_get(req, "resourceSpans"), 0), "scopeSpans"), 0),
                                       "spans");
        size_t n = json_array_size(list);
        ck_assert_uint_le(n, (size_t)batch);
        for (size_t i = 1; i < n; i++)
            if (strcmp(json_string_value(json_object_get(json_array_get(list, i), "traceId")),
                       json_string_value(json_object_get(json_array_get(list, 0), "traceId"))) != 0)
                *one_trace_each = 0;
        *spans += n;
        (*lines)++;
        json_decref(req);
    }
    ck_assert_int_eq(result.spans, (int64_t)*spans);
    free(line);
    fclose(f);
    unlink(path);
}

START_TEST(test_loadgen_otlp_json_file) {
    /* the same fleet as Avro / JSON Lines: 20 runs of the default seed */
    loadgen_options_t opt;
    memset(&opt, 0, sizeof(opt));
    fleet_options_init(&opt.fleet);
    opt.fleet.runs = 20;
    fleet_t *fleet = fleet_new(&opt.fleet, NULL, 0);
    size_t expected = 0;
    span_t span;
    while (fleet_next(fleet, &span) == 1)
        expected++;
    fleet_free(fleet);

    size_t lines, spans;
    int one_trace;
    loadgen_otlp_file(0, 50, &lines, &spans, &one_trace);
    ck_assert_uint_eq(spans, expected);
    ck_assert_uint_eq(lines, (expected + 49) / 50);
    ck_assert_int_eq(one_trace, 0);
    loadgen_otlp_file(1, 50, &lines, &spans, &one_trace);
    ck_assert_uint_eq(spans, expected);
    ck_assert_uint_gt(lines, (expected + 49) / 50);
    ck_assert_int_eq(one_trace, 1);
}
END_TEST

START_TEST(test_loadgen_otlp_proto_file_refused) {
    loadgen_options_t opt;
    memset(&opt, 0, sizeof(opt));
    fleet_options_init(&opt.fleet);
    opt.output = "-";
    opt.format = LOADGEN_FORMAT_OTLP_PROTO;
    loadgen_result_t result;
    char err[512];
    ck_assert_int_eq(loadgen_run(&opt, NULL, &result, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "otlp_proto is written to Kafka only; use otlp_json for a file (one request per line)");
    loadgen_format_t f;
    ck_assert_int_eq(loadgen_format_parse("otlp_json", &f), 0);
    ck_assert_int_eq(f, LOADGEN_FORMAT_OTLP_JSON);
    ck_assert_int_eq(loadgen_format_parse("otlp", &f), -1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("otlp_encode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_proto_golden);
    tcase_add_test(tc, test_json_golden);
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_bad_spans);
    tcase_add_test(tc, test_loadgen_otlp_json_file);
    tcase_add_test(tc, test_loadgen_otlp_proto_file_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
