/* test_fleet.c -- the synthetic fleet generator (producer/fleet.h).
 *
 * Each test drains a fleet into an in-memory copy of the stream and checks the
 * promises of fleet.h: determinism, one run span per run, consistent DAGs,
 * valid spans, interleaving, late spans, shape mix and retries. Counts are
 * exact for the given seed; they follow from the fleet's own PRNG, so they
 * only change when the generator does. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

#define MS INT64_C(1000)
#define SECONDS INT64_C(1000000)

typedef struct copied_span {
    char *trace_id;
    char *span_id;
    char *parent_span_id;
    char *dag_id;
    char *node_id;
    char *name;
    char *model;
    char *provider;
    char *tool_name;
    char **depends_on;
    size_t depends_on_count;
    span_kind_t kind;
    span_status_t status;
    int32_t attempt;
    int64_t start_us;
    int64_t end_us;
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_read_tokens;
    int64_t cache_write_tokens;
    int64_t reasoning_tokens;
    int late;
    size_t run; /* run number parsed from the trace id */
} copied_span_t;

typedef struct stream {
    copied_span_t *spans;
    size_t count;
    size_t cap;
    uint64_t runs;
    uint64_t late_total;
} stream_t;

static char *copy_string(const char *text) {
    if (!text)
        return NULL;
    char *copy = strdup(text);
    ck_assert_ptr_nonnull(copy);
    return copy;
}

/* Trace ids are "<prefix><8 hex>-<run number>". */
static size_t run_number(const char *trace_id) {
    const char *dash = strrchr(trace_id, '-');
    ck_assert_ptr_nonnull(dash);
    char *end = NULL;
    unsigned long long number = strtoull(dash + 1, &end, 10);
    ck_assert_int_eq(*end, '\0');
    ck_assert_uint_ge(strlen(dash + 1), 6);
    return (size_t)number;
}

static void copy_span(copied_span_t *copy, const span_t *span, int late) {
    memset(copy, 0, sizeof(*copy));
    copy->trace_id = copy_string(span->trace_id);
    copy->span_id = copy_string(span->span_id);
    copy->parent_span_id = copy_string(span->parent_span_id);
    copy->dag_id = copy_string(span->dag_id);
    copy->node_id = copy_string(span->node_id);
    copy->name = copy_string(span->name);
    copy->model = copy_string(span->model);
    copy->provider = copy_string(span->provider);
    copy->tool_name = copy_string(span->tool_name);
    copy->depends_on_count = span->depends_on_count;
    if (span->depends_on_count) {
        copy->depends_on = calloc(span->depends_on_count, sizeof(char *));
        ck_assert_ptr_nonnull(copy->depends_on);
        for (size_t i = 0; i < span->depends_on_count; i++)
            copy->depends_on[i] = copy_string(span->depends_on[i]);
    }
    copy->kind = span->kind;
    copy->status = span->status;
    copy->attempt = span->attempt;
    copy->start_us = span->start_us;
    copy->end_us = span->end_us;
    copy->input_tokens = span->input_tokens;
    copy->output_tokens = span->output_tokens;
    copy->cache_read_tokens = span->cache_read_tokens;
    copy->cache_write_tokens = span->cache_write_tokens;
    copy->reasoning_tokens = span->reasoning_tokens;
    copy->late = late;
    copy->run = run_number(span->trace_id);
    ck_assert_ptr_null(span->attributes);
    ck_assert_uint_eq(span->attribute_count, 0);
}

/* Drain a fleet built from `options` into `stream`, checking the counters on
 * the way. */
static void collect(const fleet_options_t *options, stream_t *stream) {
    char errstr[256] = "";
    memset(stream, 0, sizeof(*stream));
    fleet_t *fleet = fleet_new(options, errstr, sizeof(errstr));
    ck_assert_msg(fleet != NULL, "fleet_new: %s", errstr);
    span_t span;
    int rc;
    while ((rc = fleet_next(fleet, &span)) == 1) {
        if (stream->count == stream->cap) {
            stream->cap = stream->cap ? stream->cap * 2 : 1024;
            stream->spans = realloc(stream->spans, stream->cap * sizeof(*stream->spans));
            ck_assert_ptr_nonnull(stream->spans);
        }
        copy_span(&stream->spans[stream->count++], &span, fleet_last_is_late(fleet));
        ck_assert_uint_lt(stream->spans[stream->count - 1].run, options->runs);
        ck_assert_uint_eq(fleet_span_total(fleet), stream->count);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(fleet_next(fleet, &span), 0); /* stays exhausted */
    stream->runs = fleet_run_total(fleet);
    stream->late_total = fleet_late_total(fleet);
    ck_assert_uint_eq(stream->runs, options->runs);
    fleet_free(fleet);
}

static void stream_free(stream_t *stream) {
    for (size_t i = 0; i < stream->count; i++) {
        copied_span_t *span = &stream->spans[i];
        free(span->trace_id);
        free(span->span_id);
        free(span->parent_span_id);
        free(span->dag_id);
        free(span->node_id);
        free(span->name);
        free(span->model);
        free(span->provider);
        free(span->tool_name);
        for (size_t d = 0; d < span->depends_on_count; d++)
            free(span->depends_on[d]);
        free(span->depends_on);
    }
    free(stream->spans);
}

static int same_string(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_span(const copied_span_t *a, const copied_span_t *b) {
    if (!same_string(a->trace_id, b->trace_id) || !same_string(a->span_id, b->span_id) ||
        !same_string(a->parent_span_id, b->parent_span_id) || !same_string(a->dag_id, b->dag_id) ||
        !same_string(a->node_id, b->node_id) || !same_string(a->name, b->name) ||
        !same_string(a->model, b->model) || !same_string(a->provider, b->provider) ||
        !same_string(a->tool_name, b->tool_name) || a->depends_on_count != b->depends_on_count)
        return 0;
    for (size_t d = 0; d < a->depends_on_count; d++)
        if (!same_string(a->depends_on[d], b->depends_on[d]))
            return 0;
    return a->kind == b->kind && a->status == b->status && a->attempt == b->attempt &&
           a->start_us == b->start_us && a->end_us == b->end_us &&
           a->input_tokens == b->input_tokens && a->output_tokens == b->output_tokens &&
           a->cache_read_tokens == b->cache_read_tokens &&
           a->cache_write_tokens == b->cache_write_tokens &&
           a->reasoning_tokens == b->reasoning_tokens && a->late == b->late;
}

static fleet_options_t options_with(uint64_t seed, uint64_t runs, unsigned concurrency) {
    fleet_options_t options;
    fleet_options_init(&options);
    options.seed = seed;
    options.runs = runs;
    options.concurrency = concurrency;
    return options;
}

/* Index of the run span of each run, SIZE_MAX when absent; checks there is one. */
static size_t *run_span_index(const stream_t *stream) {
    size_t *index = malloc(stream->runs * sizeof(*index));
    ck_assert_ptr_nonnull(index);
    for (size_t r = 0; r < stream->runs; r++)
        index[r] = SIZE_MAX;
    for (size_t i = 0; i < stream->count; i++) {
        const copied_span_t *span = &stream->spans[i];
        if (span->kind != SPAN_KIND_RUN)
            continue;
        ck_assert_msg(index[span->run] == SIZE_MAX, "run %zu has two run spans", span->run);
        index[span->run] = i;
    }
    for (size_t r = 0; r < stream->runs; r++)
        ck_assert_msg(index[r] != SIZE_MAX, "run %zu has no run span", r);
    return index;
}

/* The spans of each run, in stream order: spans[first[r]..first[r + 1]). */
typedef struct run_groups {
    size_t *first;
    size_t *spans;
} run_groups_t;

static void group_runs(const stream_t *stream, run_groups_t *groups) {
    groups->first = calloc(stream->runs + 1, sizeof(size_t));
    groups->spans = malloc(stream->count * sizeof(size_t));
    size_t *fill = calloc(stream->runs, sizeof(size_t));
    ck_assert_ptr_nonnull(groups->first);
    ck_assert_ptr_nonnull(groups->spans);
    ck_assert_ptr_nonnull(fill);
    for (size_t i = 0; i < stream->count; i++)
        groups->first[stream->spans[i].run + 1]++;
    for (size_t r = 0; r < stream->runs; r++)
        groups->first[r + 1] += groups->first[r];
    for (size_t i = 0; i < stream->count; i++) {
        size_t run = stream->spans[i].run;
        groups->spans[groups->first[run] + fill[run]++] = i;
    }
    free(fill);
}

static void groups_free(run_groups_t *groups) {
    free(groups->first);
    free(groups->spans);
}

static const copied_span_t *find_span(const stream_t *stream, const run_groups_t *groups,
                                      size_t run, const char *span_id) {
    for (size_t a = groups->first[run]; a < groups->first[run + 1]; a++)
        if (strcmp(stream->spans[groups->spans[a]].span_id, span_id) == 0)
            return &stream->spans[groups->spans[a]];
    return NULL;
}

START_TEST(test_defaults) {
    fleet_options_t options;
    fleet_options_init(&options);
    ck_assert_uint_eq(options.runs, 1000);
    ck_assert_int_eq(options.start_us, FLEET_DEFAULT_START_US);
    ck_assert_uint_eq(options.concurrency, 50);
    ck_assert_uint_eq(options.shapes, FLEET_SHAPE_ALL);
    ck_assert_double_eq(options.late_fraction, 0.02);
    ck_assert_uint_eq(options.late_after_runs, 20);
    ck_assert_double_eq(options.retry_fraction, 0.05);
    ck_assert_str_eq(options.trace_id_prefix, "run-");
}
END_TEST

START_TEST(test_bad_options) {
    char errstr[256];
    fleet_options_t options = options_with(1, 10, 0);
    errstr[0] = '\0';
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    ck_assert_str_eq(errstr, "fleet: concurrency 0 out of range 1..10000");
    options = options_with(1, 10, FLEET_MAX_CONCURRENCY + 1);
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));

    options = options_with(1, 10, 5);
    options.shapes = 0;
    errstr[0] = '\0';
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    ck_assert_str_eq(errstr, "fleet: shapes 0x0: no shape or an unknown one");
    options.shapes = 0x10;
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));

    options = options_with(1, 10, 5);
    options.late_fraction = 1.5;
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    options.late_fraction = NAN;
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    options.late_fraction = 0;
    options.retry_fraction = -0.1;
    errstr[0] = '\0';
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    ck_assert_str_eq(errstr, "fleet: late_fraction and retry_fraction must be in 0..1");

    options = options_with(1, 10, 5);
    options.start_us = -1;
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));

    options = options_with(1, 10, 5);
    options.trace_id_prefix = NULL;
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    char long_prefix[FLEET_MAX_PREFIX_BYTES + 2];
    memset(long_prefix, 'x', sizeof(long_prefix) - 1);
    long_prefix[sizeof(long_prefix) - 1] = '\0';
    options.trace_id_prefix = long_prefix;
    ck_assert_ptr_null(fleet_new(&options, errstr, sizeof(errstr)));
    long_prefix[FLEET_MAX_PREFIX_BYTES] = '\0'; /* exactly the limit is fine */
    fleet_t *fleet = fleet_new(&options, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(fleet);
    fleet_free(fleet);

    ck_assert_ptr_null(fleet_new(NULL, errstr, sizeof(errstr)));
    fleet_free(NULL);
}
END_TEST

START_TEST(test_zero_runs) {
    char errstr[256];
    fleet_options_t options = options_with(1, 0, 50);
    fleet_t *fleet = fleet_new(&options, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(fleet);
    span_t span;
    ck_assert_int_eq(fleet_next(fleet, &span), 0);
    ck_assert_uint_eq(fleet_span_total(fleet), 0);
    ck_assert_uint_eq(fleet_run_total(fleet), 0);
    fleet_free(fleet);
}
END_TEST

START_TEST(test_determinism) {
    fleet_options_t options = options_with(42, 300, 20);
    stream_t first, second, other;
    collect(&options, &first);
    collect(&options, &second);
    ck_assert_uint_eq(first.count, second.count);
    for (size_t i = 0; i < first.count; i++)
        ck_assert_msg(same_span(&first.spans[i], &second.spans[i]), "span %zu differs", i);

    options.seed = 43;
    collect(&options, &other);
    /* Another seed changes the content, not only the ids. */
    size_t differing = 0, compared = first.count < other.count ? first.count : other.count;
    for (size_t i = 0; i < compared; i++)
        differing += first.spans[i].start_us != other.spans[i].start_us ||
                     first.spans[i].kind != other.spans[i].kind;
    ck_assert_uint_gt(differing, compared / 2);
    ck_assert_str_ne(first.spans[0].trace_id, other.spans[0].trace_id);

    /* Pinned, so an accidental change of the stream shows. */
    ck_assert_uint_eq(first.count, 7510);
    ck_assert_str_eq(first.spans[0].trace_id, "run-4647f40f-000001");
    ck_assert_str_eq(first.spans[0].span_id, "d45e8e4db799b921");
    stream_free(&first);
    stream_free(&second);
    stream_free(&other);
}
END_TEST

START_TEST(test_prefix_and_start) {
    fleet_options_t options = options_with(7, 5, 2);
    options.trace_id_prefix = "lg-";
    options.start_us = 1000 * SECONDS;
    stream_t stream;
    collect(&options, &stream);
    size_t *runs = run_span_index(&stream);
    for (size_t i = 0; i < stream.count; i++)
        ck_assert_int_eq(strncmp(stream.spans[i].trace_id, "lg-", 3), 0);
    /* The first run starts at start_us exactly, the others after it. */
    ck_assert_int_eq(stream.spans[runs[0]].start_us, 1000 * SECONDS);
    for (size_t r = 1; r < stream.runs; r++)
        ck_assert_int_gt(stream.spans[runs[r]].start_us, 1000 * SECONDS);
    free(runs);
    stream_free(&stream);
}
END_TEST

/* Every run: one run span covering all its spans; node spans under it with
 * dependencies on nodes of the same run that ended before they started;
 * children under node spans and inside them; span ids unique per run. */
START_TEST(test_run_structure) {
    fleet_options_t options = options_with(5, 1000, 50);
    stream_t stream;
    collect(&options, &stream);
    size_t *runs = run_span_index(&stream);
    ck_assert_uint_eq(stream.count, 23698);

    run_groups_t groups;
    group_runs(&stream, &groups);
    const size_t *first = groups.first, *by_run = groups.spans;

    for (size_t r = 0; r < stream.runs; r++) {
        const copied_span_t *run = &stream.spans[runs[r]];
        ck_assert_ptr_null(run->parent_span_id);
        ck_assert_ptr_nonnull(run->dag_id);
        ck_assert_str_eq(run->name, run->dag_id);
        ck_assert_int_eq(run->status, SPAN_STATUS_OK);
        for (size_t a = first[r]; a < first[r + 1]; a++) {
            const copied_span_t *span = &stream.spans[by_run[a]];
            ck_assert_int_ge(span->start_us, run->start_us);
            ck_assert_int_le(span->end_us, run->end_us);
            for (size_t b = a + 1; b < first[r + 1]; b++)
                ck_assert_str_ne(span->span_id, stream.spans[by_run[b]].span_id);
            ck_assert_uint_eq(strlen(span->span_id), 16);
            if (span->kind == SPAN_KIND_NODE) {
                ck_assert_str_eq(span->parent_span_id, run->span_id);
                ck_assert_str_eq(span->dag_id, run->dag_id);
                ck_assert_str_eq(span->name, span->node_id);
                for (size_t d = 0; d < span->depends_on_count; d++) {
                    int64_t dep_end_us = -1;
                    for (size_t b = first[r]; b < first[r + 1]; b++) {
                        const copied_span_t *dep = &stream.spans[by_run[b]];
                        if (dep->kind == SPAN_KIND_NODE && strcmp(dep->node_id, span->depends_on[d]) == 0 &&
                            dep->end_us > dep_end_us)
                            dep_end_us = dep->end_us;
                    }
                    ck_assert_msg(dep_end_us >= 0, "run %zu: %s depends on unknown %s", r,
                                  span->node_id, span->depends_on[d]);
                    ck_assert_int_ge(span->start_us, dep_end_us + 1 * MS);
                }
                if (span->depends_on_count == 0)
                    ck_assert_int_ge(span->start_us, run->start_us + 1 * MS);
            } else if (span->kind != SPAN_KIND_RUN) {
                ck_assert_ptr_null(span->dag_id);
                ck_assert_ptr_null(span->node_id);
                ck_assert_uint_eq(span->depends_on_count, 0);
                const copied_span_t *parent = find_span(&stream, &groups, r, span->parent_span_id);
                ck_assert_ptr_nonnull(parent);
                ck_assert_int_eq(parent->kind, SPAN_KIND_NODE);
                ck_assert_int_ge(span->start_us, parent->start_us);
                ck_assert_int_le(span->end_us, parent->end_us);
            }
        }
    }
    groups_free(&groups);
    free(runs);
    stream_free(&stream);
}
END_TEST

static const char *const MODEL_NAMES[] = {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1",
                                          "gpt-4o",            "gpt-4o-mini",      "gpt-4.1-mini",
                                          "gemini-2.5-flash"};
static const char *const MODEL_PROVIDERS[] = {"anthropic", "anthropic", "anthropic", "openai",
                                              "openai",    "openai",    "google"};
static const char *const TOOL_NAMES[] = {"web_search", "sql_query", "read_file",
                                         "run_tests",  "http_get",  "vector_search"};

START_TEST(test_spans_valid) {
    fleet_options_t options = options_with(11, 1000, 50);
    stream_t stream;
    collect(&options, &stream);
    size_t model_calls[7] = {0}, tool_calls[6] = {0};
    size_t cached = 0, cache_written = 0, reasoned = 0, tool_errors = 0, llm_errors = 0;
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        ck_assert_int_ge(span->end_us, span->start_us);
        ck_assert_ptr_nonnull(span->trace_id);
        ck_assert_ptr_nonnull(span->span_id);
        if (span->kind == SPAN_KIND_LLM) {
            size_t m = 0;
            while (m < 7 && strcmp(MODEL_NAMES[m], span->model) != 0)
                m++;
            ck_assert_msg(m < 7, "unknown model %s", span->model);
            model_calls[m]++;
            ck_assert_str_eq(span->provider, MODEL_PROVIDERS[m]);
            ck_assert_int_ge(span->input_tokens, 500);
            ck_assert_int_le(span->input_tokens, 30000);
            ck_assert_int_ge(span->output_tokens, 50);
            ck_assert_int_le(span->output_tokens, 2000);
            ck_assert_int_ge(span->cache_read_tokens, 0);
            ck_assert_int_ge(span->cache_write_tokens, 0);
            ck_assert_int_le(span->cache_read_tokens + span->cache_write_tokens, span->input_tokens);
            ck_assert_int_ge(span->reasoning_tokens, 0);
            ck_assert_int_le(span->reasoning_tokens, span->output_tokens);
            ck_assert_int_ge(span->end_us - span->start_us, 300 * MS);
            ck_assert_int_le(span->end_us - span->start_us, 20 * SECONDS);
            ck_assert_ptr_null(span->tool_name);
            cached += span->cache_read_tokens > 0;
            cache_written += span->cache_write_tokens > 0;
            reasoned += span->reasoning_tokens > 0;
            llm_errors += span->status == SPAN_STATUS_ERROR;
        } else if (span->kind == SPAN_KIND_TOOL) {
            size_t t = 0;
            while (t < 6 && strcmp(TOOL_NAMES[t], span->tool_name) != 0)
                t++;
            ck_assert_msg(t < 6, "unknown tool %s", span->tool_name);
            tool_calls[t]++;
            ck_assert_int_ge(span->end_us - span->start_us, 10 * MS);
            ck_assert_int_le(span->end_us - span->start_us, 3 * SECONDS);
            ck_assert_ptr_null(span->model);
            ck_assert_int_eq(span->input_tokens + span->output_tokens, 0);
            tool_errors += span->status == SPAN_STATUS_ERROR;
        } else {
            ck_assert_ptr_null(span->model);
            ck_assert_ptr_null(span->tool_name);
            ck_assert_int_eq(span->input_tokens + span->output_tokens, 0);
        }
        ck_assert_int_ne(span->kind, SPAN_KIND_OTHER);
    }
    /* Every model and tool shows up; caching, reasoning and errors happen. */
    for (size_t m = 0; m < 7; m++)
        ck_assert_uint_gt(model_calls[m], 0);
    for (size_t t = 0; t < 6; t++)
        ck_assert_uint_gt(tool_calls[t], 0);
    ck_assert_uint_eq(cached, 4198);
    ck_assert_uint_eq(cache_written, 1242);
    ck_assert_uint_eq(reasoned, 2104);
    ck_assert_uint_eq(tool_errors, 390);
    ck_assert_uint_eq(llm_errors, 164);
    stream_free(&stream);
}
END_TEST

/* Positions of the first and last on-time span of each run. */
static void run_extents(const stream_t *stream, size_t *first, size_t *last) {
    for (size_t r = 0; r < stream->runs; r++) {
        first[r] = SIZE_MAX;
        last[r] = 0;
    }
    for (size_t i = 0; i < stream->count; i++) {
        const copied_span_t *span = &stream->spans[i];
        if (span->late)
            continue;
        if (first[span->run] == SIZE_MAX)
            first[span->run] = i;
        last[span->run] = i;
    }
}

START_TEST(test_interleaving) {
    fleet_options_t options = options_with(3, 400, 50);
    stream_t stream;
    collect(&options, &stream);
    size_t first[400], last[400];
    run_extents(&stream, first, last);
    size_t *runs = run_span_index(&stream);
    run_groups_t groups;
    group_runs(&stream, &groups);

    /* Runs k and k+1 overlap in the stream: each starts before the other is out. */
    size_t overlapping = 0, run_span_last = 0, child_after_parent = 0;
    for (size_t r = 0; r + 1 < stream.runs; r++)
        overlapping += first[r + 1] < last[r] && first[r] < last[r + 1];
    for (size_t r = 0; r < stream.runs; r++)
        run_span_last += runs[r] == last[r];
    /* Ordered by export time, at most 5 s (+5 ms for run spans) after the end:
     * no on-time span ended more than that before one already seen. */
    int64_t max_end_us = 0;
    for (size_t i = 0; i < stream.count; i++) {
        if (stream.spans[i].late)
            continue;
        ck_assert_int_ge(stream.spans[i].end_us, max_end_us - 5005 * MS);
        if (stream.spans[i].end_us > max_end_us)
            max_end_us = stream.spans[i].end_us;
    }
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        if (span->kind != SPAN_KIND_LLM && span->kind != SPAN_KIND_TOOL)
            continue;
        const copied_span_t *parent = find_span(&stream, &groups, span->run, span->parent_span_id);
        ck_assert_ptr_nonnull(parent);
        child_after_parent += parent < span;
    }
    /* Nearly every pair overlaps; the run span is usually, not always, last;
     * some children are exported after their parent. */
    ck_assert_uint_eq(overlapping, 397);
    ck_assert_uint_eq(run_span_last, 380);
    ck_assert_uint_eq(child_after_parent, 1432);
    groups_free(&groups);
    free(runs);
    stream_free(&stream);

    /* One run at a time: each run's on-time spans are contiguous, only late
     * spans of earlier runs come between. */
    options = options_with(3, 100, 1);
    collect(&options, &stream);
    run_extents(&stream, first, last);
    size_t late_between = 0;
    for (size_t r = 0; r + 1 < stream.runs; r++) {
        for (size_t i = first[r]; i <= last[r]; i++)
            ck_assert(stream.spans[i].run == r || stream.spans[i].late);
        for (size_t i = last[r] + 1; i < first[r + 1]; i++) {
            ck_assert_int_eq(stream.spans[i].late, 1);
            ck_assert_uint_lt(stream.spans[i].run, r);
            late_between++;
        }
    }
    ck_assert_uint_eq(late_between, 2);
    stream_free(&stream);
}
END_TEST

START_TEST(test_late_spans) {
    fleet_options_t options = options_with(9, 1000, 50);
    stream_t stream;
    collect(&options, &stream);
    size_t first[1000], last[1000];
    run_extents(&stream, first, last);
    size_t *runs = run_span_index(&stream);
    size_t late = 0, late_runs[1000] = {0}, due_before_end = 0;
    int64_t max_end_us = 0;
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        if (!span->late) {
            if (span->end_us > max_end_us)
                max_end_us = span->end_us;
            continue;
        }
        late++;
        late_runs[span->run]++;
        ck_assert_uint_eq(late_runs[span->run], 1);
        ck_assert(span->kind == SPAN_KIND_LLM || span->kind == SPAN_KIND_TOOL);
        ck_assert_uint_gt(i, runs[span->run]);
        ck_assert_uint_gt(i, last[span->run]);
        /* Run spans of other runs since the rest of its run went out. */
        size_t between = 0, after = 0;
        for (size_t j = last[span->run] + 1; j < stream.count; j++) {
            if (stream.spans[j].kind != SPAN_KIND_RUN)
                continue;
            after++;
            between += j < i;
        }
        if (after >= options.late_after_runs) {
            ck_assert_uint_ge(between, options.late_after_runs);
            due_before_end++;
        } else {
            ck_assert_uint_eq(between, after);
        }
        /* By event time it is well past a 2 s grace period of its run. */
        ck_assert_int_gt(max_end_us, stream.spans[runs[span->run]].end_us + 2 * SECONDS);
    }
    ck_assert_uint_eq(late, stream.late_total);
    ck_assert_uint_eq(late, 14); /* 2% of 1000 runs, give or take the draw */
    ck_assert_uint_eq(due_before_end, 14);
    free(runs);
    stream_free(&stream);

    options = options_with(9, 200, 10);
    options.late_fraction = 1;
    options.late_after_runs = 3;
    collect(&options, &stream);
    ck_assert_uint_eq(stream.late_total, 200);
    stream_free(&stream);

    options.late_fraction = 0;
    collect(&options, &stream);
    ck_assert_uint_eq(stream.late_total, 0);
    for (size_t i = 0; i < stream.count; i++)
        ck_assert_int_eq(stream.spans[i].late, 0);
    stream_free(&stream);
}
END_TEST

static int starts_with(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

START_TEST(test_shapes) {
    fleet_options_t options = options_with(13, 1000, 50);
    stream_t stream;
    collect(&options, &stream);
    size_t chain = 0, fan = 0, diamond = 0, review = 0;
    size_t nodes_of_run[1000] = {0};
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        if (span->kind == SPAN_KIND_NODE && span->attempt == 0)
            nodes_of_run[span->run]++;
    }
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        if (span->kind != SPAN_KIND_RUN)
            continue;
        size_t nodes = nodes_of_run[span->run];
        if (starts_with(span->dag_id, "chain-")) {
            chain++;
            ck_assert_uint_eq(nodes, strtoul(span->dag_id + 6, NULL, 10));
        } else if (starts_with(span->dag_id, "fanout-")) {
            fan++;
            ck_assert_uint_eq(nodes, strtoul(span->dag_id + 7, NULL, 10) + 2);
        } else if (strcmp(span->dag_id, "diamond") == 0) {
            diamond++;
            ck_assert_uint_eq(nodes, 4);
        } else {
            ck_assert_str_eq(span->dag_id, "code-review");
            review++;
            ck_assert_uint_eq(nodes, 8);
        }
    }
    ck_assert_uint_eq(chain + fan + diamond + review, 1000);
    ck_assert_uint_eq(chain, 261);
    ck_assert_uint_eq(fan, 255);
    ck_assert_uint_eq(diamond, 240);
    ck_assert_uint_eq(review, 244);
    stream_free(&stream);

    options.shapes = FLEET_SHAPE_DIAMOND | FLEET_SHAPE_WIDE;
    options.runs = 200;
    collect(&options, &stream);
    diamond = review = 0;
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        if (span->kind == SPAN_KIND_RUN) {
            diamond += strcmp(span->dag_id, "diamond") == 0;
            review += strcmp(span->dag_id, "code-review") == 0;
        }
        /* The code-review aggregate waits on all six reviewers, in order. */
        if (span->kind == SPAN_KIND_NODE && strcmp(span->node_id, "aggregate") == 0) {
            ck_assert_uint_eq(span->depends_on_count, 6);
            ck_assert_str_eq(span->depends_on[0], "review-security");
            ck_assert_str_eq(span->depends_on[5], "review-api");
        }
        if (span->kind == SPAN_KIND_NODE && strcmp(span->node_id, "synthesize") == 0) {
            ck_assert_uint_eq(span->depends_on_count, 2);
            ck_assert_str_eq(span->depends_on[0], "research");
            ck_assert_str_eq(span->depends_on[1], "analyze");
        }
    }
    ck_assert_uint_eq(diamond + review, 200);
    ck_assert_uint_eq(diamond, 105);
    stream_free(&stream);
}
END_TEST

START_TEST(test_retries) {
    fleet_options_t options = options_with(17, 1000, 50);
    stream_t stream;
    collect(&options, &stream);
    run_groups_t groups;
    group_runs(&stream, &groups);
    size_t first_attempts = 0, retries = 0;
    for (size_t i = 0; i < stream.count; i++) {
        const copied_span_t *span = &stream.spans[i];
        if (span->kind != SPAN_KIND_NODE)
            continue;
        if (span->attempt == 0) {
            first_attempts++;
            continue;
        }
        ck_assert_int_eq(span->attempt, 1);
        ck_assert_int_eq(span->status, SPAN_STATUS_OK);
        retries++;
        /* The failed attempt 0 of the same node, over before the retry. */
        const copied_span_t *failed = NULL;
        for (size_t a = groups.first[span->run]; a < groups.first[span->run + 1]; a++) {
            const copied_span_t *other = &stream.spans[groups.spans[a]];
            if (other->kind == SPAN_KIND_NODE &&
                strcmp(other->node_id, span->node_id) == 0 && other != span) {
                ck_assert_ptr_null(failed);
                failed = other;
            }
        }
        ck_assert_ptr_nonnull(failed);
        ck_assert_int_eq(failed->attempt, 0);
        ck_assert_int_eq(failed->status, SPAN_STATUS_ERROR);
        ck_assert_int_ge(span->start_us, failed->end_us + 200 * MS);
    }
    ck_assert_uint_eq(first_attempts, 6606);
    ck_assert_uint_eq(retries, 341); /* 5.2% of the nodes */
    groups_free(&groups);
    stream_free(&stream);

    options.retry_fraction = 0;
    options.runs = 200;
    collect(&options, &stream);
    for (size_t i = 0; i < stream.count; i++) {
        ck_assert_int_eq(stream.spans[i].attempt, 0);
        if (stream.spans[i].kind == SPAN_KIND_NODE)
            ck_assert_int_eq(stream.spans[i].status, SPAN_STATUS_OK);
    }
    stream_free(&stream);
}
END_TEST

static Suite *fleet_suite(void) {
    Suite *suite = suite_create("fleet");
    TCase *tc = tcase_create("fleet");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_zero_runs);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_prefix_and_start);
    tcase_add_test(tc, test_run_structure);
    tcase_add_test(tc, test_spans_valid);
    tcase_add_test(tc, test_interleaving);
    tcase_add_test(tc, test_late_spans);
    tcase_add_test(tc, test_shapes);
    tcase_add_test(tc, test_retries);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(fleet_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
