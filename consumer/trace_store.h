/* trace_store.h -- the spans of open traces, kept in Redis.
 *
 * Key layout, version 4 (TRACE_STORE_LAYOUT). Every trace lives under its
 * input partition's hash tag, so that the keys of one partition stay in one
 * Redis Cluster slot and each script touches one slot:
 *
 *   <prefix>:v4:{<topic>:<partition>}:d:<trace_id>  list    the span records, a batch's an element
 *   <prefix>:v4:{<topic>:<partition>}:m:<trace_id>  hash    g, b, rev, dropped, lease, lease_gen,
 *                                                           pub, dupc
 *   <prefix>:v4:{<topic>:<partition>}:due           zset    trace_id -> due time (ms)
 *
 * A span record is the span_id's stored length times two, plus one when it
 * is lowercase hex packed two digits a byte (an unsigned LEB128 varint), the
 * span_id, the blob's length (a varint) and the blob: the span's Avro binary
 * after its trace_id and span_id, which the key and the record already hold
 * (span_codec_avro_ids_size). A batch appends each trace's records as one
 * list element, with no script: per trace an RPUSH, HINCRBYs of g and b and
 * two EXPIREs, then per partition one ZADD of the due times. A list, not an
 * APPENDed string, because Redis grows a string to twice what it needs. In
 * the meta hash: g counts the records ever stored (replays included) in its
 * low 32 bits and the run spans above them, b their bytes, rev is the next
 * revision, dropped the spans refused by the limits, lease/lease_gen the
 * current load's lease and the g it covered (0 and "" when none), pub the
 * distinct spans last published and dupc the replays already counted. Data
 * written under another layout version (keys with ":v3:" or older) is never
 * read.
 *
 * Limits are enforced from the replies: g's and b's new values tell a trace
 * over its span or byte limit, whose new element is cut back to its last
 * record that fits (LSET, or RPOP when none does); a new list under a g that
 * was not 0 is a trace whose spans expired after it was profiled, and is
 * undone; a new trace past limit.open.traces is deleted again. The schedule
 * (ZADD) is written only after those checks, so no refused span is ever due.
 *
 * At-least-once replays are appended like any span and dropped at load by
 * span_id, the first copy kept; they are counted (trace_store_trace_t's
 * duplicates) once, when found. Replays alone do not give a revision: a load
 * that finds no span beyond those last published ends its lease without
 * profiling. Replays do count towards the span and byte limits.
 *
 * Each new span sets the trace's due time: grace after the run span has
 * arrived, idle timeout before. The due set of a partition is how whichever
 * instance owns the partition finds its pending traces, after a rebalance or a
 * crash as well. A load leases a trace; a span appended meanwhile may make it
 * due before the lease ends, and a load then finds the lease held and leaves
 * the trace to its holder, due again when the lease ends. A trace stays until
 * its TTL (renewed by every append), so a late span yields a new revision with
 * every span of the run. The bookkeeping hash lives twice as long as the
 * spans, so a span that comes after its trace expired is recognised and
 * refused rather than starting a new trace of one span.
 *
 * On a Redis Cluster (redis_route.h) every script and command touches one
 * slot only: its keys are all declared in KEYS and share the partition's tag,
 * and it is sent to that slot's master; a batch is one pipeline per master.
 *
 * Round trips: two per appended batch (the appends, then the schedule), one
 * per due scan, one per batch of loads (a second when some loaded traces held
 * only replays), one per batch of finishes, whatever the number of spans. */
#ifndef DAGPROF_TRACE_STORE_H
#define DAGPROF_TRACE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "redis_route.h"

/* The key layout's version, part of every key name. */
#define TRACE_STORE_LAYOUT "v4"

typedef struct trace_store trace_store_t;

typedef struct trace_store_options {
    const char *host;
    int port;
    const char *user;     /* ACL user, or NULL/"" for the default user */
    const char *password; /* NULL/"" for none */
    int db;
    int timeout_ms;
    const char *prefix;   /* key prefix, e.g. "dagprof" */
    const char *topic;    /* input topic: part of the hash tag */
    int64_t grace_ms;
    int64_t idle_timeout_ms;
    int64_t ttl_s;
    int64_t max_spans_per_trace;
    int64_t max_bytes_per_trace;
    int64_t max_open_traces; /* per partition */
    /* Redis Cluster (redis_route.h): route each partition's commands to the
     * master of its tag's slot; nodes are seeds ("host:port,..."), and imply
     * cluster. Every script touches the keys of one partition, so one slot. */
    int cluster;
    const char *nodes;
} trace_store_options_t;

/* Connect; fails fast with errstr when Redis cannot be reached or refuses the
 * credentials. The returned store reconnects by itself after errors. Free with
 * trace_store_free(). */
trace_store_t *trace_store_new(const trace_store_options_t *options, char *errstr,
                               size_t errstr_size);
void trace_store_free(trace_store_t *store);

/* One span to store; the strings and blob are borrowed for the call. The
 * blob is what a load gives back with the span_id: for dagprof, the span's
 * Avro binary from its third field on. */
typedef struct trace_store_span {
    int32_t partition;
    const char *trace_id;
    const char *span_id;
    int is_run;
    const void *blob;
    size_t blob_len;
} trace_store_span_t;

/* What happened to each span of an append, by position in the input. */
typedef enum trace_store_outcome {
    TRACE_STORE_ADDED = 0,
    TRACE_STORE_DUPLICATE,     /* not given by this layout: replays are found at load */
    TRACE_STORE_OVER_LIMIT,    /* the trace is at its span or byte limit (records, framing included) */
    TRACE_STORE_TOO_MANY_OPEN, /* the partition has limit.open.traces open traces */
    TRACE_STORE_EXPIRED        /* the trace was profiled and its spans expired */
} trace_store_outcome_t;

/* Store a batch. `outcomes` (count entries) receives each span's fate.
 * Returns 0, or -1 with errstr when Redis failed: then nothing can be assumed
 * stored and the whole batch must be retried (retrying is safe). */
int trace_store_append(trace_store_t *store, const trace_store_span_t *spans, size_t count,
                       int64_t now_ms, trace_store_outcome_t *outcomes, char *errstr,
                       size_t errstr_size);

/* The two halves of trace_store_append, so the round trip can overlap other
 * work: _send writes the batch to Redis and returns at once; _recv waits for
 * the replies, fills `outcomes` and frees `pending`. `spans` and its strings
 * must stay alive until _recv; no other call may use the store in between.
 * Either returns -1 with errstr when Redis failed, as trace_store_append
 * (pending is freed then). */
typedef struct trace_store_pending trace_store_pending_t;
int trace_store_append_send(trace_store_t *store, const trace_store_span_t *spans, size_t count,
                            int64_t now_ms, trace_store_pending_t **pending, char *errstr,
                            size_t errstr_size);
int trace_store_append_recv(trace_store_t *store, trace_store_pending_t *pending,
                            trace_store_outcome_t *outcomes, char *errstr, size_t errstr_size);
void trace_store_pending_free(trace_store_pending_t *pending);

typedef struct trace_store_ref {
    int32_t partition;
    char *trace_id; /* owned by the array it is in */
    int64_t due_ms; /* when it became due */
} trace_store_ref_t;

/* Traces due at now_ms in the given partitions, at most `max` in all and an
 * equal share of it per partition.
 * *out is an array to free with trace_store_refs_free(). */
int trace_store_due(trace_store_t *store, const int32_t *partitions, size_t partition_count,
                    int64_t now_ms, size_t max, trace_store_ref_t **out, size_t *out_count,
                    char *errstr, size_t errstr_size);
void trace_store_refs_free(trace_store_ref_t *refs, size_t count);

/* A trace as loaded: its spans' stored blobs and its bookkeeping. */
typedef struct trace_store_trace {
    int32_t partition;
    char *trace_id;
    int exists;        /* 0: expired or finished meanwhile; nothing to profile */
    int64_t gen;       /* opaque token of what was loaded: detects spans added after the load */
    int64_t revision;  /* the revision to publish */
    int has_run;
    int64_t dropped;   /* spans refused by the limits */
    int64_t duplicates; /* replays found by this load and not counted before */
    size_t span_count; /* distinct spans, replays dropped */
    const char **span_ids; /* span_count entries, not NUL-terminated */
    size_t *span_id_lens;
    char *id_text;         /* the span_ids that were stored packed, as text */
    const char **blobs; /* span_count entries */
    size_t *blob_lens;
    void *reply;        /* keeps the blobs alive: they point into it */
} trace_store_trace_t;

/* Load several traces in one round trip, leasing each until lease_until_ms:
 * it is not due again before then unless trace_store_finish() ends the lease,
 * so a crashed instance's traces are taken up again when the lease runs out.
 * A trace holding only replays since its last publication comes back with
 * exists = 0 (and its duplicates), its lease already ended.
 * *out: array of count traces, free with trace_store_traces_free(). */
int trace_store_load(trace_store_t *store, const trace_store_ref_t *refs, size_t count,
                     int64_t lease_until_ms, trace_store_trace_t **out, char *errstr,
                     size_t errstr_size);
void trace_store_traces_free(trace_store_trace_t *traces, size_t count);

/* How long a trace whose profile could not be published waits to be retried. */
#define TRACE_STORE_RETRY_MS 1000

/* End the leases of loaded traces. Published: the next revision gets
 * revision + 1, and the trace leaves the due set unless spans were added since
 * it was loaded (gen), in which case it is due again after the grace period.
 * Not published: due again after TRACE_STORE_RETRY_MS. */
typedef struct trace_store_done {
    int32_t partition;
    const char *trace_id;
    int64_t gen;
    int64_t revision;
    int published;
} trace_store_done_t;

int trace_store_finish(trace_store_t *store, const trace_store_done_t *done, size_t count,
                       int64_t now_ms, char *errstr, size_t errstr_size);

/* Open traces (due set size) of a partition, for metrics and limits. */
int trace_store_open_count(trace_store_t *store, int32_t partition, int64_t *count,
                           char *errstr, size_t errstr_size);

/* Round trips made so far (each pipelined batch counts once). */
uint64_t trace_store_round_trips(const trace_store_t *store);
uint64_t trace_store_commands(const trace_store_t *store);

/* ---- the Redis nodes behind the store (redis_route.h) ---- */

/* Per node figures: fills up to max, returns the number of nodes. */
size_t trace_store_redis_nodes(const trace_store_t *store, redis_route_node_stats_t *out, size_t max);
/* On a cluster: 0 when every given partition's slot has a reachable master,
 * else -1 with errstr. Without cluster: 0, asking nothing (the store's own
 * errors tell when the one Redis is down). */
int trace_store_check_partitions(trace_store_t *store, const int32_t *partitions, size_t count,
                                 char *errstr, size_t errstr_size);

#endif
