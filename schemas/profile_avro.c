/* profile_avro.c -- profiles and recommendations as Avro binary. See profile_avro.h.
 *
 * Records are built with Avro-C's generic values, field by field by name, and
 * enums are set by symbol name: the schemas below, not the order of the C
 * enums, decide the wire format. */
#include "profile_avro.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

/* Magic byte 0 and a 4-byte schema id before the Avro body. */
#define CONFLUENT_HEADER_BYTES 5

/* schemas/profile.avsc, verbatim (test_profile_avro checks they stay equal). */
static const char profile_schema_json[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"Profile\",\n"
    "  \"namespace\": \"dagprof\",\n"
    "  \"doc\": \"The profile of one DAG run (SPEC 4). All times are microseconds; costs are USD.\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"profile_id\", \"type\": \"string\", \"doc\": \"<trace_id>#<revision>\"},\n"
    "    {\"name\": \"trace_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"dag_id\", \"type\": [\"null\", \"string\"]},\n"
    "    {\"name\": \"revision\", \"type\": \"long\"},\n"
    "    {\"name\": \"complete\", \"type\": \"boolean\"},\n"
    "    {\"name\": \"profiled_at_us\", \"type\": \"long\"},\n"
    "    {\"name\": \"summary\", \"type\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Summary\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"run_start_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"wall_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"work_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"critical_path_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"ideal_wall_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"parallelism\", \"type\": \"double\"},\n"
    "        {\"name\": \"schedule_efficiency\", \"type\": \"double\"},\n"
    "        {\"name\": \"node_count\", \"type\": \"long\"},\n"
    "        {\"name\": \"span_count\", \"type\": \"long\"},\n"
    "        {\"name\": \"edges\", \"type\": {\"type\": \"enum\", \"name\": \"Edges\",\n"
    "                                   \"symbols\": [\"declared\", \"inferred\"]}},\n"
    "        {\"name\": \"tokens\", \"type\": {\n"
    "          \"type\": \"record\",\n"
    "          \"name\": \"Tokens\",\n"
    "          \"fields\": [\n"
    "            {\"name\": \"input\", \"type\": \"long\"},\n"
    "            {\"name\": \"output\", \"type\": \"long\"},\n"
    "            {\"name\": \"cache_read\", \"type\": \"long\"},\n"
    "            {\"name\": \"cache_write\", \"type\": \"long\"},\n"
    "            {\"name\": \"reasoning\", \"type\": \"long\"},\n"
    "            {\"name\": \"total\", \"type\": \"long\"}\n"
    "          ]}},\n"
    "        {\"name\": \"cost_usd\", \"type\": \"double\"},\n"
    "        {\"name\": \"unpriced_models\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "        {\"name\": \"outside_nodes\", \"type\": {\n"
    "          \"type\": \"record\",\n"
    "          \"name\": \"OutsideNodes\",\n"
    "          \"fields\": [\n"
    "            {\"name\": \"tokens\", \"type\": \"Tokens\"},\n"
    "            {\"name\": \"cost_usd\", \"type\": \"double\"},\n"
    "            {\"name\": \"calls\", \"type\": \"long\"}\n"
    "          ]},\n"
    "         \"default\": {\"tokens\": {\"input\": 0, \"output\": 0, \"cache_read\": 0, \"cache_write\": 0, \"reasoning\": 0, \"total\": 0},\n"
    "                     \"cost_usd\": 0.0, \"calls\": 0}}\n"
    "      ]}},\n"
    "    {\"name\": \"by_model\", \"type\": {\"type\": \"map\", \"values\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"ModelUsage\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"tokens\", \"type\": \"Tokens\"},\n"
    "        {\"name\": \"cost_usd\", \"type\": \"double\"},\n"
    "        {\"name\": \"calls\", \"type\": \"long\"}\n"
    "      ]}}},\n"
    "    {\"name\": \"nodes\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Node\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"node_id\", \"type\": \"string\"},\n"
    "        {\"name\": \"start_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"end_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"exec_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"ready_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"blocked_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"queued_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"slack_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"on_critical_path\", \"type\": \"boolean\"},\n"
    "        {\"name\": \"status\", \"type\": {\"type\": \"enum\", \"name\": \"SpanStatus\",\n"
    "                                    \"symbols\": [\"ok\", \"error\", \"unset\"]}},\n"
    "        {\"name\": \"retries\", \"type\": \"int\"},\n"
    "        {\"name\": \"depends_on\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "        {\"name\": \"tokens\", \"type\": \"Tokens\"},\n"
    "        {\"name\": \"cost_usd\", \"type\": \"double\"},\n"
    "        {\"name\": \"models\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "        {\"name\": \"tool_calls\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "          \"type\": \"record\",\n"
    "          \"name\": \"ToolCall\",\n"
    "          \"fields\": [\n"
    "            {\"name\": \"tool\", \"type\": \"string\"},\n"
    "            {\"name\": \"duration_us\", \"type\": \"long\"},\n"
    "            {\"name\": \"ok\", \"type\": \"boolean\"}\n"
    "          ]}}}\n"
    "      ]}}},\n"
    "    {\"name\": \"critical_path\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "    {\"name\": \"bottlenecks\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Bottleneck\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"type\", \"type\": {\"type\": \"enum\", \"name\": \"BottleneckType\",\n"
    "          \"symbols\": [\"slow_node\", \"high_token_usage\", \"excessive_retries\", \"tool_latency\",\n"
    "                      \"dependency_wait\", \"sequential_bottleneck\", \"scheduling_delay\",\n"
    "                      \"error_node\", \"regression\"],\n"
    "          \"default\": \"slow_node\"}},\n"
    "        {\"name\": \"node_id\", \"type\": [\"null\", \"string\"], \"doc\": \"null for a run-wide bottleneck\"},\n"
    "        {\"name\": \"severity\", \"type\": {\"type\": \"enum\", \"name\": \"Level\",\n"
    "                                      \"symbols\": [\"low\", \"medium\", \"high\"]}},\n"
    "        {\"name\": \"impact_pct\", \"type\": \"double\"},\n"
    "        {\"name\": \"details\", \"type\": [\"null\", \"string\"]}\n"
    "      ]}}},\n"
    "    {\"name\": \"recommendations\", \"type\": {\"type\": \"array\", \"items\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"ProfileRecommendation\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"type\", \"type\": {\"type\": \"enum\", \"name\": \"RecommendationType\",\n"
    "          \"symbols\": [\"parallelize\", \"cache\", \"model_downgrade\", \"batch_operations\",\n"
    "                      \"reduce_context\", \"restructure_dag\"]}},\n"
    "        {\"name\": \"priority\", \"type\": \"Level\"},\n"
    "        {\"name\": \"node_ids\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "        {\"name\": \"savings\", \"type\": {\n"
    "          \"type\": \"record\",\n"
    "          \"name\": \"Savings\",\n"
    "          \"fields\": [\n"
    "            {\"name\": \"time_us\", \"type\": \"long\"},\n"
    "            {\"name\": \"tokens\", \"type\": \"long\"},\n"
    "            {\"name\": \"cost_usd\", \"type\": \"double\"}\n"
    "          ]}},\n"
    "        {\"name\": \"description\", \"type\": [\"null\", \"string\"]},\n"
    "        {\"name\": \"action\", \"type\": [\"null\", \"string\"]}\n"
    "      ]}}},\n"
    "    {\"name\": \"warnings\", \"type\": {\"type\": \"array\", \"items\": \"string\"}}\n"
    "  ]\n"
    "}\n";

/* schemas/recommendation.avsc, verbatim. */
static const char recommendation_schema_json[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"Recommendation\",\n"
    "  \"namespace\": \"dagprof\",\n"
    "  \"doc\": \"One recommendation of a profile (SPEC 4), published on its own so it can be acted on alone.\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"profile_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"trace_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"dag_id\", \"type\": [\"null\", \"string\"]},\n"
    "    {\"name\": \"revision\", \"type\": \"long\"},\n"
    "    {\"name\": \"profiled_at_us\", \"type\": \"long\"},\n"
    "    {\"name\": \"type\", \"type\": {\"type\": \"enum\", \"name\": \"RecommendationType\",\n"
    "      \"symbols\": [\"parallelize\", \"cache\", \"model_downgrade\", \"batch_operations\",\n"
    "                  \"reduce_context\", \"restructure_dag\"]}},\n"
    "    {\"name\": \"priority\", \"type\": {\"type\": \"enum\", \"name\": \"Level\",\n"
    "                                  \"symbols\": [\"low\", \"medium\", \"high\"]}},\n"
    "    {\"name\": \"node_ids\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "    {\"name\": \"savings\", \"type\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Savings\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"time_us\", \"type\": \"long\"},\n"
    "        {\"name\": \"tokens\", \"type\": \"long\"},\n"
    "        {\"name\": \"cost_usd\", \"type\": \"double\"}\n"
    "      ]}},\n"
    "    {\"name\": \"description\", \"type\": [\"null\", \"string\"]},\n"
    "    {\"name\": \"action\", \"type\": [\"null\", \"string\"]}\n"
    "  ]\n"
    "}\n";

/* ---------------------------------------------------------------- handle */

struct profile_avro {
    avro_schema_t profile_schema;
    avro_schema_t recommendation_schema; /* parsed at start: the embedded text must be valid */
    avro_value_iface_t *profile_iface;
    avro_value_t profile_value; /* reused by every decode; encoding writes bytes directly */
    bool have_profile_value;
};

const char *profile_avro_profile_schema_json(void) {
    return profile_schema_json;
}

const char *profile_avro_recommendation_schema_json(void) {
    return recommendation_schema_json;
}

void profile_avro_free(profile_avro_t *avro) {
    if (!avro)
        return;
    if (avro->have_profile_value)
        avro_value_decref(&avro->profile_value);
    if (avro->profile_iface)
        avro_value_iface_decref(avro->profile_iface);
    if (avro->profile_schema)
        avro_schema_decref(avro->profile_schema);
    if (avro->recommendation_schema)
        avro_schema_decref(avro->recommendation_schema);
    free(avro);
}

profile_avro_t *profile_avro_new(char *errstr, size_t errstr_size) {
    profile_avro_t *avro = calloc(1, sizeof(*avro));
    if (!avro) {
        snprintf(errstr, errstr_size, "profile_avro: out of memory");
        goto fail;
    }
    if (avro_schema_from_json_length(profile_schema_json, strlen(profile_schema_json),
                                     &avro->profile_schema) != 0) {
        snprintf(errstr, errstr_size, "profile_avro: Profile schema: %s", avro_strerror());
        goto fail;
    }
    if (avro_schema_from_json_length(recommendation_schema_json,
                                     strlen(recommendation_schema_json),
                                     &avro->recommendation_schema) != 0) {
        snprintf(errstr, errstr_size, "profile_avro: Recommendation schema: %s",
                 avro_strerror());
        goto fail;
    }
    avro->profile_iface = avro_generic_class_from_schema(avro->profile_schema);
    if (!avro->profile_iface) {
        snprintf(errstr, errstr_size, "profile_avro: %s", avro_strerror());
        goto fail;
    }
    if (avro_generic_value_new(avro->profile_iface, &avro->profile_value) != 0) {
        snprintf(errstr, errstr_size, "profile_avro: %s", avro_strerror());
        goto fail;
    }
    avro->have_profile_value = true;
    return avro;

fail:
    profile_avro_free(avro);
    return NULL;
}

/* ---------------------------------------------------------------- encoding */

typedef struct avro_codec {
    char *errstr;
    size_t errstr_size;
} avro_codec_t;

/* An Avro-C call failed while handling `what`. */
static int codec_fail(avro_codec_t *c, const char *what) {
    snprintf(c->errstr, c->errstr_size, "profile_avro: %s: %s", what, avro_strerror());
    return -1;
}

static int field(avro_codec_t *c, avro_value_t *record, const char *name, avro_value_t *out) {
    if (avro_value_get_by_name(record, name, out, NULL) != 0)
        return codec_fail(c, name);
    return 0;
}

/* ---------------------------------------------------------------- encoding
 *
 * Profiles are written straight into Avro's binary form, field by field in
 * schema order: building Avro-C generic values first took a fifth of the stream
 * processor's CPU (perf, bench_e2e). The encoder's output is checked by
 * decoding it with Avro-C and with Python's avro package (test_profile_avro). */

typedef struct avro_out {
    buf_t *buf;
    avro_codec_t *codec;
    int failed;
} avro_out_t;

static void out_fail(avro_out_t *o, const char *fmt, const char *what) {
    if (!o->failed)
        snprintf(o->codec->errstr, o->codec->errstr_size, fmt, what);
    o->failed = 1;
}

static void put_bytes(avro_out_t *o, const void *data, size_t len) {
    if (!o->failed && buf_append(o->buf, data, len) != 0)
        out_fail(o, "profile_avro: out of memory%s", "");
}

static void put_long(avro_out_t *o, int64_t value) {
    uint64_t z = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63); /* zigzag */
    /* straight into the buffer: lengths, counts and times are most of a
     * profile's fields, and a copy through put_bytes each was measurable */
    if (o->failed || buf_reserve(o->buf, 10) != 0) {
        out_fail(o, "profile_avro: out of memory%s", "");
        return;
    }
    unsigned char *p = (unsigned char *)o->buf->data + o->buf->len;
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    o->buf->len += n;
    o->buf->data[o->buf->len] = '\0';
}

static void put_double(avro_out_t *o, double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    unsigned char bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(bits >> (8 * i)); /* little-endian */
    put_bytes(o, bytes, 8);
}

static void put_bool(avro_out_t *o, bool value) {
    unsigned char b = value ? 1 : 0;
    put_bytes(o, &b, 1);
}

static void put_string(avro_out_t *o, const char *name, const char *text) {
    if (!text) {
        out_fail(o, "profile_avro: %s is null", name);
        return;
    }
    size_t len = strlen(text);
    if (utf8_valid(text, len)) {
        put_long(o, (int64_t)len);
        put_bytes(o, text, len);
        return;
    }
    /* Avro strings are UTF-8, and every client checks: ill-formed bytes (a
     * warning quoting broken input) become U+FFFD, as in the JSON form. */
    buf_t valid = BUF_INIT;
    if (utf8_append_valid(&valid, text, len) != 0) {
        buf_free(&valid);
        out_fail(o, "profile_avro: out of memory%s", "");
        return;
    }
    put_long(o, (int64_t)valid.len);
    put_bytes(o, valid.data, valid.len);
    buf_free(&valid);
}

static void put_nullable_string(avro_out_t *o, const char *name, const char *text) {
    put_long(o, text ? 1 : 0); /* union ["null", "string"] */
    if (text)
        put_string(o, name, text);
}

static void put_enum(avro_out_t *o, const char *name, int value, int symbols) {
    if (value < 0 || value >= symbols) {
        out_fail(o, "profile_avro: %s: no symbol for this value", name);
        return;
    }
    put_long(o, value);
}

/* Arrays and maps: one block of `count` items, then the empty block. */
static void put_block(avro_out_t *o, size_t count) {
    if (count)
        put_long(o, (int64_t)count);
}

static void put_strings(avro_out_t *o, const char *name, const char *const *items, size_t count) {
    put_block(o, count);
    for (size_t i = 0; i < count; i++)
        put_string(o, name, items[i]);
    put_long(o, 0);
}

static void put_tokens(avro_out_t *o, const profile_tokens_t *t) {
    put_long(o, t->input);
    put_long(o, t->output);
    put_long(o, t->cache_read);
    put_long(o, t->cache_write);
    put_long(o, t->reasoning);
    put_long(o, t->total);
}

static void put_summary(avro_out_t *o, const profile_summary_t *s) {
    put_long(o, s->run_start_us);
    put_long(o, s->wall_us);
    put_long(o, s->work_us);
    put_long(o, s->critical_path_us);
    put_long(o, s->ideal_wall_us);
    put_double(o, s->parallelism);
    put_double(o, s->schedule_efficiency);
    put_long(o, s->node_count);
    put_long(o, s->span_count);
    put_enum(o, "edges", (int)s->edges, 2);
    put_tokens(o, &s->tokens);
    put_double(o, s->cost_usd);
    put_strings(o, "unpriced_models", s->unpriced_models, s->unpriced_model_count);
    put_tokens(o, &s->outside_tokens); /* outside_nodes */
    put_double(o, s->outside_cost_usd);
    put_long(o, s->outside_calls);
}

static void put_node(avro_out_t *o, const profile_node_t *n) {
    put_string(o, "node_id", n->node_id);
    put_long(o, n->start_us);
    put_long(o, n->end_us);
    put_long(o, n->exec_us);
    put_long(o, n->ready_us);
    put_long(o, n->blocked_us);
    put_long(o, n->queued_us);
    put_long(o, n->slack_us);
    put_bool(o, n->on_critical_path);
    put_enum(o, "status", (int)n->status, 3);
    put_long(o, n->retries);
    put_strings(o, "depends_on", n->depends_on, n->depends_on_count);
    put_tokens(o, &n->tokens);
    put_double(o, n->cost_usd);
    put_strings(o, "models", n->models, n->model_count);
    put_block(o, n->tool_call_count);
    for (size_t i = 0; i < n->tool_call_count; i++) {
        put_string(o, "tool", n->tool_calls[i].tool);
        put_long(o, n->tool_calls[i].duration_us);
        put_bool(o, n->tool_calls[i].ok);
    }
    put_long(o, 0);
}

/* The fields a Profile's recommendation item and a Recommendation record share. */
static void put_recommendation_body(avro_out_t *o, const profile_recommendation_t *r) {
    put_enum(o, "type", (int)r->type, 6);
    put_enum(o, "priority", (int)r->priority, 3);
    put_strings(o, "node_ids", r->node_ids, r->node_id_count);
    put_long(o, r->savings.time_us);
    put_long(o, r->savings.tokens);
    put_double(o, r->savings.cost_usd);
    put_nullable_string(o, "description", r->description);
    put_nullable_string(o, "action", r->action);
}

static void put_envelope(avro_out_t *o, const profile_t *p, bool with_complete) {
    if (p->profile_id && !p->profile_id[0]) /* else the record would start with 0, like a framed one */
        out_fail(o, "profile_avro: %s is empty", "profile_id");
    put_string(o, "profile_id", p->profile_id);
    put_string(o, "trace_id", p->trace_id);
    put_nullable_string(o, "dag_id", p->dag_id);
    put_long(o, p->revision);
    if (with_complete)
        put_bool(o, p->complete);
    put_long(o, p->profiled_at_us);
}

/* On failure the buffer is left as it was. */
static int finish_encode(avro_out_t *o, size_t start) {
    if (!o->failed)
        return 0;
    o->buf->len = start;
    if (o->buf->data)
        o->buf->data[start] = '\0';
    return -1;
}

int profile_avro_encode(profile_avro_t *avro, const profile_t *profile, buf_t *out,
                        char *errstr, size_t errstr_size) {
    (void)avro;
    avro_codec_t c = {errstr, errstr_size};
    avro_out_t o = {out, &c, 0};
    size_t start = out->len;
    const profile_t *p = profile;
    put_envelope(&o, p, true);
    put_summary(&o, &p->summary);
    put_block(&o, p->model_count);
    for (size_t i = 0; i < p->model_count; i++) {
        put_string(&o, "by_model", p->by_model[i].model);
        put_tokens(&o, &p->by_model[i].tokens);
        put_double(&o, p->by_model[i].cost_usd);
        put_long(&o, p->by_model[i].calls);
    }
    put_long(&o, 0);
    put_block(&o, p->node_count);
    for (size_t i = 0; i < p->node_count; i++)
        put_node(&o, &p->nodes[i]);
    put_long(&o, 0);
    put_strings(&o, "critical_path", p->critical_path, p->critical_path_count);
    put_block(&o, p->bottleneck_count);
    for (size_t i = 0; i < p->bottleneck_count; i++) {
        const profile_bottleneck_t *b = &p->bottlenecks[i];
        put_enum(&o, "type", (int)b->type, 9);
        put_nullable_string(&o, "node_id", b->node_id);
        put_enum(&o, "severity", (int)b->severity, 3);
        put_double(&o, b->impact_pct);
        put_nullable_string(&o, "details", b->details);
    }
    put_long(&o, 0);
    put_block(&o, p->recommendation_count);
    for (size_t i = 0; i < p->recommendation_count; i++)
        put_recommendation_body(&o, &p->recommendations[i]);
    put_long(&o, 0);
    put_strings(&o, "warnings", p->warnings, p->warning_count);
    return finish_encode(&o, start);
}

int profile_avro_encode_recommendation(profile_avro_t *avro, const profile_t *profile,
                                       size_t index, buf_t *out,
                                       char *errstr, size_t errstr_size) {
    (void)avro;
    if (index >= profile->recommendation_count) {
        snprintf(errstr, errstr_size, "profile_avro: recommendation %zu of %zu", index,
                 profile->recommendation_count);
        return -1;
    }
    avro_codec_t c = {errstr, errstr_size};
    avro_out_t o = {out, &c, 0};
    size_t start = out->len;
    put_envelope(&o, profile, false);
    put_recommendation_body(&o, &profile->recommendations[index]);
    return finish_encode(&o, start);
}

/* ---------------------------------------------------------------- decoding */

typedef struct avro_decoder {
    avro_codec_t codec;
    profile_t *profile;
} avro_decoder_t;

static int decode_oom(avro_decoder_t *d) {
    snprintf(d->codec.errstr, d->codec.errstr_size, "profile_avro: out of memory");
    return -1;
}

static int get_long(avro_decoder_t *d, avro_value_t *record, const char *name, int64_t *out) {
    avro_value_t f;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    if (avro_value_get_long(&f, out) != 0)
        return codec_fail(&d->codec, name);
    return 0;
}

static int get_int(avro_decoder_t *d, avro_value_t *record, const char *name, int32_t *out) {
    avro_value_t f;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    if (avro_value_get_int(&f, out) != 0)
        return codec_fail(&d->codec, name);
    return 0;
}

static int get_double(avro_decoder_t *d, avro_value_t *record, const char *name, double *out) {
    avro_value_t f;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    if (avro_value_get_double(&f, out) != 0)
        return codec_fail(&d->codec, name);
    return 0;
}

static int get_bool(avro_decoder_t *d, avro_value_t *record, const char *name, bool *out) {
    avro_value_t f;
    int value = 0;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    if (avro_value_get_boolean(&f, &value) != 0)
        return codec_fail(&d->codec, name);
    *out = value != 0;
    return 0;
}

/* Avro strings are UTF-8 (Avro 1.11, "Primitive Types"), and the profile
 * keeps C strings: a string with ill-formed bytes or a NUL in it is refused,
 * since either would change on the way out (replaced, or cut at the NUL) and
 * two distinct names could come out as one. `len` excludes the terminator. */
static int text_fail(avro_decoder_t *d, const char *name, const char *text, size_t len) {
    const char *problem = NULL;
    if (memchr(text, '\0', len))
        problem = "has a NUL byte";
    else if (!utf8_valid(text, len))
        problem = "is not UTF-8";
    if (!problem)
        return 0;
    snprintf(d->codec.errstr, d->codec.errstr_size, "profile_avro: %s: a string %s", name,
             problem);
    return -1;
}

/* Copy a string value into the profile. */
static int copy_string_value(avro_decoder_t *d, avro_value_t *value, const char *name,
                             const char **out) {
    const char *text = NULL;
    size_t size = 0;
    if (avro_value_get_string(value, &text, &size) != 0)
        return codec_fail(&d->codec, name);
    if (text && text_fail(d, name, text, size ? size - 1 : 0) != 0)
        return -1;
    *out = profile_strdup(d->profile, text ? text : "");
    return *out ? 0 : decode_oom(d);
}

static int get_string(avro_decoder_t *d, avro_value_t *record, const char *name,
                      const char **out) {
    avro_value_t f;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    return copy_string_value(d, &f, name, out);
}

static int get_nullable_string(avro_decoder_t *d, avro_value_t *record, const char *name,
                               const char **out) {
    avro_value_t f, branch;
    int discriminant = 0;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    if (avro_value_get_discriminant(&f, &discriminant) != 0 ||
        avro_value_get_current_branch(&f, &branch) != 0)
        return codec_fail(&d->codec, name);
    if (discriminant == 0) {
        *out = NULL;
        return 0;
    }
    return copy_string_value(d, &branch, name, out);
}

/* The symbol name of an enum field; the caller parses it. */
static int get_enum(avro_decoder_t *d, avro_value_t *record, const char *name,
                    const char **symbol) {
    avro_value_t f;
    int index = 0;
    if (field(&d->codec, record, name, &f) != 0)
        return -1;
    if (avro_value_get_enum(&f, &index) != 0)
        return codec_fail(&d->codec, name);
    *symbol = avro_schema_enum_get(avro_value_get_schema(&f), index);
    if (!*symbol) {
        snprintf(d->codec.errstr, d->codec.errstr_size, "profile_avro: %s: bad symbol %d",
                 name, index);
        return -1;
    }
    return 0;
}

static int unknown_symbol(avro_decoder_t *d, const char *name, const char *symbol) {
    snprintf(d->codec.errstr, d->codec.errstr_size, "profile_avro: %s: unknown \"%s\"", name,
             symbol);
    return -1;
}

/* Space for `count` items in the profile; a zero count leaves NULL. */
static int alloc_items(avro_decoder_t *d, size_t count, size_t item_size, void **out) {
    *out = NULL;
    if (count == 0)
        return 0;
    if (count > SIZE_MAX / item_size)
        return decode_oom(d);
    *out = profile_alloc(d->profile, count * item_size);
    return *out ? 0 : decode_oom(d);
}

/* An array field and its length. */
static int get_array(avro_decoder_t *d, avro_value_t *record, const char *name,
                     avro_value_t *array, size_t *count) {
    if (field(&d->codec, record, name, array) != 0)
        return -1;
    if (avro_value_get_size(array, count) != 0)
        return codec_fail(&d->codec, name);
    return 0;
}

static int get_string_array(avro_decoder_t *d, avro_value_t *record, const char *name,
                            const char ***items, size_t *count) {
    avro_value_t array, item;
    void *memory;
    if (get_array(d, record, name, &array, count) != 0 ||
        alloc_items(d, *count, sizeof(char *), &memory) != 0)
        return -1;
    *items = memory;
    for (size_t i = 0; i < *count; i++) {
        if (avro_value_get_by_index(&array, i, &item, NULL) != 0)
            return codec_fail(&d->codec, name);
        if (copy_string_value(d, &item, name, &(*items)[i]) != 0)
            return -1;
    }
    return 0;
}

static int get_tokens(avro_decoder_t *d, avro_value_t *record, profile_tokens_t *tokens) {
    avro_value_t t;
    if (field(&d->codec, record, "tokens", &t) != 0)
        return -1;
    if (get_long(d, &t, "input", &tokens->input) != 0 ||
        get_long(d, &t, "output", &tokens->output) != 0 ||
        get_long(d, &t, "cache_read", &tokens->cache_read) != 0 ||
        get_long(d, &t, "cache_write", &tokens->cache_write) != 0 ||
        get_long(d, &t, "reasoning", &tokens->reasoning) != 0 ||
        get_long(d, &t, "total", &tokens->total) != 0)
        return -1;
    return 0;
}

static int get_summary(avro_decoder_t *d, avro_value_t *root) {
    profile_summary_t *s = &d->profile->summary;
    avro_value_t v;
    const char *symbol;

    if (field(&d->codec, root, "summary", &v) != 0)
        return -1;
    if (get_long(d, &v, "run_start_us", &s->run_start_us) != 0 ||
        get_long(d, &v, "wall_us", &s->wall_us) != 0 ||
        get_long(d, &v, "work_us", &s->work_us) != 0 ||
        get_long(d, &v, "critical_path_us", &s->critical_path_us) != 0 ||
        get_long(d, &v, "ideal_wall_us", &s->ideal_wall_us) != 0 ||
        get_double(d, &v, "parallelism", &s->parallelism) != 0 ||
        get_double(d, &v, "schedule_efficiency", &s->schedule_efficiency) != 0 ||
        get_long(d, &v, "node_count", &s->node_count) != 0 ||
        get_long(d, &v, "span_count", &s->span_count) != 0 ||
        get_enum(d, &v, "edges", &symbol) != 0)
        return -1;
    if (profile_edges_parse(symbol, &s->edges) != 0)
        return unknown_symbol(d, "edges", symbol);
    if (get_tokens(d, &v, &s->tokens) != 0 || get_double(d, &v, "cost_usd", &s->cost_usd) != 0 ||
        get_string_array(d, &v, "unpriced_models", &s->unpriced_models,
                         &s->unpriced_model_count) != 0)
        return -1;
    avro_value_t outside;
    if (field(&d->codec, &v, "outside_nodes", &outside) != 0 ||
        get_tokens(d, &outside, &s->outside_tokens) != 0 ||
        get_double(d, &outside, "cost_usd", &s->outside_cost_usd) != 0 ||
        get_long(d, &outside, "calls", &s->outside_calls) != 0)
        return -1;
    return 0;
}

static int get_by_model(avro_decoder_t *d, avro_value_t *root) {
    profile_t *p = d->profile;
    avro_value_t map, usage_value;
    void *memory;

    if (get_array(d, root, "by_model", &map, &p->model_count) != 0 ||
        alloc_items(d, p->model_count, sizeof(profile_model_usage_t), &memory) != 0)
        return -1;
    p->by_model = memory;
    for (size_t i = 0; i < p->model_count; i++) {
        profile_model_usage_t *usage = &p->by_model[i];
        const char *model = NULL;
        if (avro_value_get_by_index(&map, i, &usage_value, &model) != 0)
            return codec_fail(&d->codec, "by_model");
        if (model && text_fail(d, "by_model", model, strlen(model)) != 0)
            return -1;
        usage->model = profile_strdup(p, model ? model : "");
        if (!usage->model)
            return decode_oom(d);
        if (get_tokens(d, &usage_value, &usage->tokens) != 0 ||
            get_double(d, &usage_value, "cost_usd", &usage->cost_usd) != 0 ||
            get_long(d, &usage_value, "calls", &usage->calls) != 0)
            return -1;
    }
    return 0;
}

static int get_tool_calls(avro_decoder_t *d, avro_value_t *node_value, profile_node_t *node) {
    avro_value_t array, v;
    void *memory;

    if (get_array(d, node_value, "tool_calls", &array, &node->tool_call_count) != 0 ||
        alloc_items(d, node->tool_call_count, sizeof(profile_tool_call_t), &memory) != 0)
        return -1;
    node->tool_calls = memory;
    for (size_t i = 0; i < node->tool_call_count; i++) {
        profile_tool_call_t *call = &node->tool_calls[i];
        if (avro_value_get_by_index(&array, i, &v, NULL) != 0)
            return codec_fail(&d->codec, "tool_calls");
        if (get_string(d, &v, "tool", &call->tool) != 0 ||
            get_long(d, &v, "duration_us", &call->duration_us) != 0 ||
            get_bool(d, &v, "ok", &call->ok) != 0)
            return -1;
    }
    return 0;
}

static int get_node(avro_decoder_t *d, avro_value_t *v, profile_node_t *node) {
    const char *symbol;

    if (get_string(d, v, "node_id", &node->node_id) != 0 ||
        get_long(d, v, "start_us", &node->start_us) != 0 ||
        get_long(d, v, "end_us", &node->end_us) != 0 ||
        get_long(d, v, "exec_us", &node->exec_us) != 0 ||
        get_long(d, v, "ready_us", &node->ready_us) != 0 ||
        get_long(d, v, "blocked_us", &node->blocked_us) != 0 ||
        get_long(d, v, "queued_us", &node->queued_us) != 0 ||
        get_long(d, v, "slack_us", &node->slack_us) != 0 ||
        get_bool(d, v, "on_critical_path", &node->on_critical_path) != 0 ||
        get_enum(d, v, "status", &symbol) != 0)
        return -1;
    if (span_status_parse(symbol, &node->status) != 0)
        return unknown_symbol(d, "status", symbol);
    if (get_int(d, v, "retries", &node->retries) != 0 ||
        get_string_array(d, v, "depends_on", &node->depends_on, &node->depends_on_count) != 0 ||
        get_tokens(d, v, &node->tokens) != 0 ||
        get_double(d, v, "cost_usd", &node->cost_usd) != 0 ||
        get_string_array(d, v, "models", &node->models, &node->model_count) != 0 ||
        get_tool_calls(d, v, node) != 0)
        return -1;
    return 0;
}

static int get_nodes(avro_decoder_t *d, avro_value_t *root) {
    profile_t *p = d->profile;
    avro_value_t array, v;
    void *memory;

    if (get_array(d, root, "nodes", &array, &p->node_count) != 0 ||
        alloc_items(d, p->node_count, sizeof(profile_node_t), &memory) != 0)
        return -1;
    p->nodes = memory;
    for (size_t i = 0; i < p->node_count; i++) {
        if (avro_value_get_by_index(&array, i, &v, NULL) != 0)
            return codec_fail(&d->codec, "nodes");
        if (get_node(d, &v, &p->nodes[i]) != 0)
            return -1;
    }
    return 0;
}

static int get_bottlenecks(avro_decoder_t *d, avro_value_t *root) {
    profile_t *p = d->profile;
    avro_value_t array, v;
    void *memory;
    const char *symbol;

    if (get_array(d, root, "bottlenecks", &array, &p->bottleneck_count) != 0 ||
        alloc_items(d, p->bottleneck_count, sizeof(profile_bottleneck_t), &memory) != 0)
        return -1;
    p->bottlenecks = memory;
    for (size_t i = 0; i < p->bottleneck_count; i++) {
        profile_bottleneck_t *bottleneck = &p->bottlenecks[i];
        if (avro_value_get_by_index(&array, i, &v, NULL) != 0)
            return codec_fail(&d->codec, "bottlenecks");
        if (get_enum(d, &v, "type", &symbol) != 0)
            return -1;
        if (profile_bottleneck_type_parse(symbol, &bottleneck->type) != 0)
            return unknown_symbol(d, "type", symbol);
        if (get_nullable_string(d, &v, "node_id", &bottleneck->node_id) != 0 ||
            get_enum(d, &v, "severity", &symbol) != 0)
            return -1;
        if (profile_level_parse(symbol, &bottleneck->severity) != 0)
            return unknown_symbol(d, "severity", symbol);
        if (get_double(d, &v, "impact_pct", &bottleneck->impact_pct) != 0 ||
            get_nullable_string(d, &v, "details", &bottleneck->details) != 0)
            return -1;
    }
    return 0;
}

static int get_recommendations(avro_decoder_t *d, avro_value_t *root) {
    profile_t *p = d->profile;
    avro_value_t array, v, savings;
    void *memory;
    const char *symbol;

    if (get_array(d, root, "recommendations", &array, &p->recommendation_count) != 0 ||
        alloc_items(d, p->recommendation_count, sizeof(profile_recommendation_t), &memory) != 0)
        return -1;
    p->recommendations = memory;
    for (size_t i = 0; i < p->recommendation_count; i++) {
        profile_recommendation_t *rec = &p->recommendations[i];
        if (avro_value_get_by_index(&array, i, &v, NULL) != 0)
            return codec_fail(&d->codec, "recommendations");
        if (get_enum(d, &v, "type", &symbol) != 0)
            return -1;
        if (profile_recommendation_type_parse(symbol, &rec->type) != 0)
            return unknown_symbol(d, "type", symbol);
        if (get_enum(d, &v, "priority", &symbol) != 0)
            return -1;
        if (profile_level_parse(symbol, &rec->priority) != 0)
            return unknown_symbol(d, "priority", symbol);
        if (get_string_array(d, &v, "node_ids", &rec->node_ids, &rec->node_id_count) != 0 ||
            field(&d->codec, &v, "savings", &savings) != 0 ||
            get_long(d, &savings, "time_us", &rec->savings.time_us) != 0 ||
            get_long(d, &savings, "tokens", &rec->savings.tokens) != 0 ||
            get_double(d, &savings, "cost_usd", &rec->savings.cost_usd) != 0 ||
            get_nullable_string(d, &v, "description", &rec->description) != 0 ||
            get_nullable_string(d, &v, "action", &rec->action) != 0)
            return -1;
    }
    return 0;
}

static int get_profile(avro_decoder_t *d, avro_value_t *root) {
    profile_t *p = d->profile;

    if (get_string(d, root, "profile_id", &p->profile_id) != 0 ||
        get_string(d, root, "trace_id", &p->trace_id) != 0 ||
        get_nullable_string(d, root, "dag_id", &p->dag_id) != 0 ||
        get_long(d, root, "revision", &p->revision) != 0 ||
        get_bool(d, root, "complete", &p->complete) != 0 ||
        get_long(d, root, "profiled_at_us", &p->profiled_at_us) != 0 ||
        get_summary(d, root) != 0 || get_by_model(d, root) != 0 ||
        get_nodes(d, root) != 0 ||
        get_string_array(d, root, "critical_path", &p->critical_path,
                         &p->critical_path_count) != 0 ||
        get_bottlenecks(d, root) != 0 || get_recommendations(d, root) != 0 ||
        get_string_array(d, root, "warnings", &p->warnings, &p->warning_count) != 0)
        return -1;
    if (!p->profile_id[0]) { /* dagprof never writes one; it would not re-encode */
        snprintf(d->codec.errstr, d->codec.errstr_size, "profile_avro: profile_id is empty");
        return -1;
    }
    return 0;
}

/* Avro-C trusts the lengths in a message: it allocates what a string or
 * array length claims before noticing the bytes are not there, so one garbled
 * message could ask for gigabytes. A message is therefore walked against the
 * schema first, and read only when every length fits in what is left; the
 * walk also tells how many bytes the record takes, which tells a framed
 * message from a bare one. */
typedef struct avro_scan {
    const unsigned char *data;
    size_t len;
    size_t pos;
    const char *problem; /* why the walk stopped */
} avro_scan_t;

#define AVRO_SCAN_MAX_DEPTH 32

static int scan_fail(avro_scan_t *scan, const char *problem) {
    scan->problem = problem;
    return -1;
}

static int scan_long(avro_scan_t *scan, int64_t *out) {
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
        if (scan->pos >= scan->len)
            return scan_fail(scan, "truncated");
        if (shift > 63)
            return scan_fail(scan, "varint too long");
        unsigned char byte = scan->data[scan->pos++];
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80))
            break;
    }
    *out = (int64_t)(value >> 1) ^ -(int64_t)(value & 1); /* zigzag */
    return 0;
}

static int scan_skip(avro_scan_t *scan, int64_t count) {
    if (count < 0 || (uint64_t)count > scan->len - scan->pos)
        return scan_fail(scan, "a length runs past the end");
    scan->pos += (size_t)count;
    return 0;
}

static int scan_value(avro_scan_t *scan, avro_schema_t schema, int depth) {
    int64_t n;

    if (depth > AVRO_SCAN_MAX_DEPTH)
        return scan_fail(scan, "nested too deeply");
    switch (avro_typeof(schema)) {
    case AVRO_STRING:
    case AVRO_BYTES:
        return scan_long(scan, &n) != 0 ? -1 : scan_skip(scan, n);
    case AVRO_INT32:
    case AVRO_INT64:
        return scan_long(scan, &n);
    case AVRO_FLOAT:
        return scan_skip(scan, 4);
    case AVRO_DOUBLE:
        return scan_skip(scan, 8);
    case AVRO_BOOLEAN:
        return scan_skip(scan, 1);
    case AVRO_NULL:
        return 0;
    case AVRO_FIXED:
        return scan_skip(scan, avro_schema_fixed_size(schema));
    case AVRO_ENUM:
        if (scan_long(scan, &n) != 0)
            return -1;
        if (n < 0 || n >= avro_schema_enum_number_of_symbols(schema))
            return scan_fail(scan, "enum index out of range");
        return 0;
    case AVRO_UNION:
        if (scan_long(scan, &n) != 0)
            return -1;
        if (n < 0 || (uint64_t)n >= avro_schema_union_size(schema))
            return scan_fail(scan, "union branch out of range");
        return scan_value(scan, avro_schema_union_branch(schema, (int)n), depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(schema); i++)
            if (scan_value(scan, avro_schema_record_field_get_by_index(schema, (int)i),
                           depth + 1) != 0)
                return -1;
        return 0;
    case AVRO_ARRAY:
    case AVRO_MAP: {
        bool map = avro_typeof(schema) == AVRO_MAP;
        avro_schema_t items =
            map ? avro_schema_map_values(schema) : avro_schema_array_items(schema);
        for (;;) {
            int64_t count, block_bytes;
            if (scan_long(scan, &count) != 0)
                return -1;
            if (count == 0)
                return 0;
            if (count < 0) { /* a block that also gives its size in bytes */
                if (count == INT64_MIN || scan_long(scan, &block_bytes) != 0)
                    return scan_fail(scan, "bad block");
                count = -count;
            }
            /* Every item of our schemas takes at least one byte. */
            if ((uint64_t)count > scan->len - scan->pos)
                return scan_fail(scan, "an item count runs past the end");
            for (int64_t i = 0; i < count; i++) {
                if (map && (scan_long(scan, &n) != 0 || scan_skip(scan, n) != 0))
                    return -1;
                if (scan_value(scan, items, depth + 1) != 0)
                    return -1;
            }
        }
    }
    case AVRO_LINK:
        return scan_value(scan, avro_schema_link_target(schema), depth + 1);
    default:
        return scan_fail(scan, "unsupported schema type");
    }
}

/* Whether `data` holds exactly one record of `schema`; *problem says why not. */
static bool scan_record(avro_schema_t schema, const char *data, size_t len,
                        const char **problem) {
    avro_scan_t scan = {(const unsigned char *)data, len, 0, NULL};
    if (scan_value(&scan, schema, 0) != 0) {
        *problem = scan.problem;
        return false;
    }
    if (scan.pos != len) {
        *problem = "bytes left after the record";
        return false;
    }
    return true;
}

/* Decode one bare record from `data`, already checked by scan_record(). */
static int decode_body(profile_avro_t *avro, const char *data, size_t len, profile_t **out,
                       char *errstr, size_t errstr_size) {
    avro_decoder_t d = {{errstr, errstr_size}, NULL};
    avro_value_t *root = &avro->profile_value;
    avro_reader_t reader = NULL;

    if (avro_value_reset(root) != 0) {
        codec_fail(&d.codec, "resetting the record");
        goto fail;
    }
    reader = avro_reader_memory(data, (int64_t)len);
    if (!reader) {
        decode_oom(&d);
        goto fail;
    }
    if (avro_value_read(reader, root) != 0) {
        codec_fail(&d.codec, "reading the record");
        goto fail;
    }
    d.profile = profile_new_empty();
    if (!d.profile) {
        decode_oom(&d);
        goto fail;
    }
    if (get_profile(&d, root) != 0)
        goto fail;
    avro_reader_free(reader);
    *out = d.profile;
    return 0;

fail:
    if (d.profile)
        profile_free(d.profile);
    if (reader)
        avro_reader_free(reader);
    return -1;
}

int profile_avro_decode(profile_avro_t *avro, const void *data, size_t len,
                        profile_t **out, char *errstr, size_t errstr_size) {
    const char *bytes = data;
    const char *framed_problem = NULL, *bare_problem = NULL;

    *out = NULL;
    if (len > INT64_MAX) {
        snprintf(errstr, errstr_size, "profile_avro: message too large");
        return -1;
    }
    /* A leading 0 is the Confluent header: a bare record starts with the
     * length of its profile_id, which is never empty. */
    if (len >= 1 && bytes[0] == 0) {
        if (len >= CONFLUENT_HEADER_BYTES &&
            scan_record(avro->profile_schema, bytes + CONFLUENT_HEADER_BYTES,
                        len - CONFLUENT_HEADER_BYTES, &framed_problem))
            return decode_body(avro, bytes + CONFLUENT_HEADER_BYTES, len - CONFLUENT_HEADER_BYTES,
                               out, errstr, errstr_size);
        snprintf(errstr, errstr_size, "profile_avro: not a Profile record: %s (framed)",
                 framed_problem ? framed_problem : "shorter than the Confluent header");
        return -1;
    }
    if (scan_record(avro->profile_schema, bytes, len, &bare_problem))
        return decode_body(avro, bytes, len, out, errstr, errstr_size);
    if (framed_problem)
        snprintf(errstr, errstr_size,
                 "profile_avro: not a Profile record: %s (framed), %s (bare)", framed_problem,
                 bare_problem);
    else
        snprintf(errstr, errstr_size, "profile_avro: not a Profile record: %s", bare_problem);
    return -1;
}

/* ---------------------------------------------------------------- avro_bin.h
 *
 * The writers and the scanner above, for the other record codecs (trend_avro.c). */

#include "avro_bin.h"

#define AVRO_BIN_CALL(w, call)                                        \
    do {                                                              \
        avro_codec_t codec = {(w)->errstr, (w)->errstr_size};         \
        avro_out_t o = {(w)->buf, &codec, (w)->failed};               \
        call;                                                         \
        (w)->failed = o.failed;                                       \
    } while (0)

void avro_bin_long(avro_bin_t *w, int64_t value) {
    AVRO_BIN_CALL(w, put_long(&o, value));
}

void avro_bin_double(avro_bin_t *w, double value) {
    AVRO_BIN_CALL(w, put_double(&o, value));
}

void avro_bin_bool(avro_bin_t *w, bool value) {
    AVRO_BIN_CALL(w, put_bool(&o, value));
}

void avro_bin_string(avro_bin_t *w, const char *name, const char *text) {
    AVRO_BIN_CALL(w, put_string(&o, name, text));
}

void avro_bin_nullable_string(avro_bin_t *w, const char *name, const char *text) {
    AVRO_BIN_CALL(w, put_nullable_string(&o, name, text));
}

void avro_bin_block(avro_bin_t *w, size_t count) {
    AVRO_BIN_CALL(w, put_block(&o, count));
}

bool avro_bin_scan(avro_schema_t schema, const void *data, size_t len, const char **problem) {
    return scan_record(schema, data, len, problem);
}
