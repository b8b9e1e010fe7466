/* harness_stream.h -- the servers and processes of the `dagprof run` suites.
 *
 * test_stream, test_otlp_stream, test_otel_sdk and test_faults all run real
 * `dagprof run` processes against redis-server and the mock Kafka broker
 * (tests/harness.h), and all need the same scaffolding around them: a temp
 * dir, the environment that points `dagprof run` at the servers, waiting for
 * a process to log a line or to exit, a plain consumer to read what it
 * published, and the figures of a profile to compare with `dagprof profile`.
 * It lives here once so that the suites cannot drift apart.
 *
 * Every helper aborts the running test (ck_assert) on failure, so call them
 * from checked fixtures or test bodies only. */
#ifndef DAGPROF_HARNESS_STREAM_H
#define DAGPROF_HARNESS_STREAM_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "harness.h"
#include "profile.h"
#include "profile_avro.h"

/* One test's servers and temp dir. */
typedef struct stream_fixture {
    harness_redis_t *redis;
    harness_kafka_t *kafka;
    char *dir; /* owned; removed by stream_fixture_stop() unless kept */
    /* The two environment entries that point a process at the servers. */
    char env_bootstrap[512];
    char env_redis[64];
} stream_fixture_t;

/* Starts redis-server (with redis_opts, NULL for the defaults) and a one-broker
 * mock Kafka cluster of `partitions` partitions per topic from bin_dir, and
 * makes a temp dir named after dir_prefix. */
void stream_fixture_start(stream_fixture_t *fx, const char *bin_dir,
                          const harness_redis_options_t *redis_opts, int partitions,
                          const char *dir_prefix);

/* Stops the servers; removes the temp dir unless keep_dir. */
void stream_fixture_stop(stream_fixture_t *fx, bool keep_dir);

/* dir/name, malloc'd. */
char *stream_path_in(const stream_fixture_t *fx, const char *name);

/* The environment of a `dagprof run` in these suites: the servers, a short
 * grace and due poll so that tests do not wait, no metrics port clash, and a
 * session timeout short enough that a rebalance settles quickly. Followed by
 * the NULL-terminated `extra` entries (NULL for none, at most
 * STREAM_ENV_EXTRA_MAX); the result is static, valid until the next call. */
#define STREAM_ENV_EXTRA_MAX 8
const char *const *stream_run_env(const stream_fixture_t *fx, const char *const *extra);

/* Waits up to timeout_s for `needle` to appear in the log at path; aborts the
 * test with the log when it does not. */
void stream_wait_for_log(const char *path, const char *needle, int timeout_s);

/* Runs argv with stream_run_env(fx, NULL) to the end (at most 120 s) and
 * aborts the test with its log unless it exits with expected_status. */
void stream_run_to_exit(const stream_fixture_t *fx, const char *const argv[], const char *log,
                        int expected_status);

/* A consumer of `topic` in a group of its own, from the earliest offset. */
rd_kafka_t *stream_test_consumer(const stream_fixture_t *fx, const char *topic);
void stream_close_consumer(rd_kafka_t *rk);

/* Polls rk for up to timeout_ms and decodes the message as an Avro profile:
 * returns the profile as JSON and sets *out to it decoded (the caller frees
 * both). NULL when no message came or it was a consumer event rather than a
 * record (the suites poll again). Fails the test when the record does not
 * decode: `dagprof run` must only publish good profiles. */
json_t *stream_poll_profile(rd_kafka_t *rk, profile_avro_t *avro, int timeout_ms, profile_t **out);

/* A copy of the profile without what legitimately differs between a stream
 * revision and the offline run: identity of the revision and the time of
 * profiling. The caller owns it. */
json_t *stream_profile_figures(const json_t *profile);

#endif
