/* harness.h -- real servers and child processes for integration and fault tests.
 *
 * The one place where tests start redis-server and the mock Kafka broker
 * (build/dagprof-mockbroker), each on a free loopback port, and make sure they
 * stop: every child is killed when its handle is freed, from an atexit handler
 * if the test forgot, and by the kernel (PR_SET_PDEATHSIG SIGKILL) if the test
 * process crashed. Use from checked fixtures or from the test body, so servers
 * belong to the forked test process and die with it.
 *
 * Ports come from binding port 0 and closing the socket, so another process
 * may take one in between; starts retry with a new port when that happens.
 * Deadlines are generous (tens of seconds): the tests run on slow, busy
 * machines, and a deadline only matters when something is broken.
 *
 * Not thread-safe: call from one thread. The thread that starts a child must
 * outlive it, because PR_SET_PDEATHSIG fires when that thread exits. */
#ifndef DAGPROF_HARNESS_H
#define DAGPROF_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

/* ---- Redis ---- */

typedef struct harness_redis harness_redis_t;

typedef struct harness_redis_options {
    bool persistence;     /* appendonly yes, appendfsync always */
    const char *password; /* requirepass; NULL = no password */
} harness_redis_options_t;

/* Start redis-server (found on PATH) on 127.0.0.1 and a free port, with its
 * data in a private temp dir, and wait until it answers PING. opts may be
 * NULL (no persistence, no password). Returns a handle to free with
 * harness_redis_free(), or NULL with errstr set. */
harness_redis_t *harness_redis_start(const harness_redis_options_t *opts, char *errstr,
                                     size_t errstr_size);

int harness_redis_port(const harness_redis_t *redis);

/* Process id while running, else -1; for fault tests that want to kill -9 it.
 * harness_redis_stop() still reaps it afterwards: do not harness_wait() it. */
pid_t harness_redis_pid(const harness_redis_t *redis);

/* The server's data dir (holds the append-only files); borrowed. */
const char *harness_redis_dir(const harness_redis_t *redis);

/* A new connection to it, authenticated when there is a password. The caller
 * frees it with redisFree(). NULL with errstr set on failure. */
redisContext *harness_redis_connect(const harness_redis_t *redis, char *errstr,
                                    size_t errstr_size);

/* SIGTERM, wait up to 10 s, then SIGKILL. Returns 0 when it exited cleanly
 * (or was not running), -1 when it had to be killed or died abnormally. */
int harness_redis_stop(harness_redis_t *redis);

/* Stop it if it still runs (a fault test may have killed it), stay down for
 * down_ms, and start again on the same port and data dir: what a client sees
 * when Redis restarts. Returns 0, or -1 with errstr set (e.g. the port was
 * taken meanwhile); the handle can still be freed either way. */
int harness_redis_restart(harness_redis_t *redis, int down_ms, char *errstr, size_t errstr_size);

/* Stop if running, remove the data dir, free the handle. NULL is fine. */
void harness_redis_free(harness_redis_t *redis);

/* ---- Kafka (the mock broker) ---- */

typedef struct harness_kafka harness_kafka_t;

/* Start bin_dir/dagprof-mockbroker with `brokers` brokers and `partitions`
 * partitions per default topic (dag-spans, dag-profiles, dag-recommendations,
 * dag-deadletter), controlled through its stdin. bin_dir is the build
 * directory: tests pass DAGPROF_BINARY_DIR; NULL reads the environment
 * variable DAGPROF_BINARY_DIR. Returns a handle to free with
 * harness_kafka_free(), or NULL with errstr set. */
harness_kafka_t *harness_kafka_start(const char *bin_dir, int brokers, int partitions,
                                     char *errstr, size_t errstr_size);

/* The bootstrap.servers string, e.g. "127.0.0.1:41234,127.0.0.1:39811";
 * borrowed, valid until harness_kafka_free(). */
const char *harness_kafka_bootstrap(const harness_kafka_t *kafka);

/* The broker process, e.g. to read its CPU time. */
pid_t harness_kafka_pid(const harness_kafka_t *kafka);

/* Send one control line and wait for its answer (see compose/mockbroker.c):
 * "broker down ID", "broker up ID", "broker rtt ID MS",
 * "push-errors APIKEY COUNT ERRCODE...", "topic-create NAME PARTITIONS", "ping".
 * Returns 0 on "ok", or -1 with the broker's reason (or the I/O failure) in
 * errstr. */
int harness_kafka_command(harness_kafka_t *kafka, const char *command, char *errstr,
                          size_t errstr_size);

/* Close its stdin (it shuts down cleanly), wait, kill it after 10 s; free the
 * handle. NULL is fine. */
void harness_kafka_free(harness_kafka_t *kafka);

/* ---- processes and files ---- */

/* Fork and exec argv[0] (searched on PATH) with argv, the current environment
 * plus env_extra ("KEY=VALUE" strings, NULL-terminated; NULL for none), stdin
 * from /dev/null, stdout and stderr appended to log_path (NULL: inherited).
 * The child is killed when this process exits. Returns its pid, or -1 with
 * errno set (ENOENT when the program does not exist). */
pid_t harness_spawn(const char *const argv[], const char *const env_extra[], const char *log_path);

/* Wait up to timeout_ms for a spawned child to exit and reap it. On exit,
 * *exit_status (may be NULL) is its exit code, or 128 + the signal number when
 * a signal killed it (as a shell reports it). Returns 0 when it exited, -1 on
 * timeout (the child still runs), -2 on error (errno set, e.g. ECHILD). */
int harness_wait(pid_t pid, int timeout_ms, int *exit_status);

/* kill(2); returns 0 or -1 with errno set. */
int harness_kill(pid_t pid, int sig);

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int harness_free_port(void);

/* Create a fresh directory $TMPDIR/prefix-XXXXXX (/tmp without TMPDIR).
 * Returns its path, malloc'd for the caller to free, or NULL with errno set. */
char *harness_tempdir(const char *prefix);

/* The whole file as a NUL-terminated string, malloc'd ("" when it cannot be
 * read, e.g. a log not written yet). */
char *harness_slurp(const char *path);

/* How many times `needle` occurs in the file (0 when it cannot be read). */
size_t harness_file_count(const char *path, const char *needle);

/* rm -rf path, not following symlinks. Returns 0 (also when it did not
 * exist) or -1 with errno set. */
int harness_rmtree(const char *path);

#endif
