/* baseline_store.h -- the fleet view's per-run records, kept in Redis.
 *
 * Key layout, version b1. Every DAG lives under its own hash tag, so that
 * Redis Cluster spreads DAGs over the slots and no command spans two slots:
 *
 *   <prefix>:b1:{dag:<dag_id>}:runs:<version>   zset    trace_id -> run start (ms)
 *   <prefix>:b1:{dag:<dag_id>}:rec:<version>    hash    trace_id -> revision (8 bytes,
 *                                                        big-endian) + the run record
 *   <prefix>:b1:{dag:<dag_id>}:trend:<version>:<n>  string  who publishes the periodic
 *                                                        trend record of interval n
 *   <prefix>:b1:dags                             set     "<len(dag_id)>:<dag_id><version>"
 *
 * The record is opaque here (the engine's baseline_run_t, encoded). A put is
 * one script over the two keys of one DAG and version: it replaces the stored
 * record only when the new revision is >= the stored one, adds the run start
 * to the zset, and trims the runs that started more than
 * BASELINE_STORE_RETENTION_MS before this one (at most BASELINE_STORE_TRIM_MAX
 * per put, so a put never stalls Redis; each later put trims more).
 *
 * Exactly once by construction: the store holds one record per trace, not
 * counters. A replayed profile writes the same bytes over themselves; a late
 * span's new revision replaces its trace's earlier record; an old revision
 * arriving late changes nothing; two instances putting runs of one DAG from
 * different partitions touch different fields of the same keys, each put
 * atomic. Baselines are computed when read, from the records in the window,
 * so nothing can be counted twice or lost between a put and a crash: a put
 * repeated after a crash is a no-op.
 *
 * Memory: one zset entry and one hash field per run in the last 7 days:
 * about 2 x len(trace_id) + len(record) + 90 bytes (README "Fleet view" has the
 * measured figure). Retention: 7 days + 1 hour of event time behind the newest
 * put run of the DAG and version.
 *
 * Round trips: one per batch of puts (pipelined), one for the DAG list, one
 * per window read of up to BASELINE_STORE_READ_CHUNK runs. */
#ifndef DAGPROF_BASELINE_STORE_H
#define DAGPROF_BASELINE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "trace_store.h"

#define BASELINE_STORE_LAYOUT "b1"
#define BASELINE_STORE_RETENTION_MS ((7LL * 24 + 1) * 3600 * 1000)
#define BASELINE_STORE_TRIM_MAX 64
#define BASELINE_STORE_READ_CHUNK 512

typedef struct baseline_store baseline_store_t;

/* Connects with the trace store's connection options (host, port, user,
 * password, db, timeout_ms, prefix; the rest is unused). NULL with errstr when
 * Redis cannot be reached. Reconnects by itself after errors. Free with
 * baseline_store_free(). */
baseline_store_t *baseline_store_new(const trace_store_options_t *options, char *errstr,
                                     size_t errstr_size);
void baseline_store_free(baseline_store_t *store);

/* One run to put; everything is borrowed for the call. version "" when the
 * DAG has none. */
typedef struct baseline_store_put {
    const char *dag_id;
    const char *version;
    const char *trace_id;
    int64_t run_start_ms;
    int64_t revision;
    const void *record;
    size_t record_len;
} baseline_store_put_t;

/* What a put did, by position. */
typedef enum baseline_store_outcome {
    BASELINE_STORE_UNCHANGED = 0, /* the same or a newer revision was stored */
    BASELINE_STORE_ADDED = 1,     /* the trace's first record */
    BASELINE_STORE_REPLACED = 2   /* a newer revision replaced the stored one */
} baseline_store_outcome_t;

/* Put a batch in one round trip. `outcomes` (count entries) may be NULL.
 * Returns 0, or -1 with errstr when Redis failed: then the whole batch must
 * be put again (which is safe). */
int baseline_store_put(baseline_store_t *store, const baseline_store_put_t *puts, size_t count,
                       baseline_store_outcome_t *outcomes, char *errstr, size_t errstr_size);

/* A DAG and version with runs in the store. */
typedef struct baseline_store_dag {
    char *dag_id;  /* owned by the array */
    char *version; /* owned by the array; "" when none */
} baseline_store_dag_t;

/* Every known DAG and version, sorted by dag_id then version. *out is an
 * array to free with baseline_store_dags_free(). */
int baseline_store_dags(baseline_store_t *store, baseline_store_dag_t **out, size_t *out_count,
                        char *errstr, size_t errstr_size);
void baseline_store_dags_free(baseline_store_dag_t *dags, size_t count);

/* The start of the newest run of a DAG and version: *newest_ms, and *found = 0
 * when it has none. */
int baseline_store_newest(baseline_store_t *store, const char *dag_id, const char *version,
                          int64_t *newest_ms, int *found, char *errstr, size_t errstr_size);

/* Called once per stored run that started in [from_ms, to_ms], in run start
 * order (ties by trace_id); the record (revision header removed) is borrowed
 * for the call. A non-zero return stops the read and is returned. */
typedef int (*baseline_store_record_cb)(void *opaque, const char *trace_id, int64_t revision,
                                        const void *record, size_t record_len);
int baseline_store_read(baseline_store_t *store, const char *dag_id, const char *version,
                        int64_t from_ms, int64_t to_ms, baseline_store_record_cb cb, void *opaque,
                        char *errstr, size_t errstr_size);

/* Claim the periodic trend record of interval `interval_no` (of interval_s
 * seconds) of a DAG and version: *won = 1 for the one instance that claimed it
 * first, 0 for every other. The claim expires after two intervals. */
int baseline_store_claim_trend(baseline_store_t *store, const char *dag_id, const char *version,
                               int64_t interval_no, int64_t interval_s, int *won, char *errstr,
                               size_t errstr_size);

/* Redis round trips and commands made so far (a pipelined batch is one trip). */
uint64_t baseline_store_round_trips(const baseline_store_t *store);
uint64_t baseline_store_commands(const baseline_store_t *store);

#endif
