/* trace_store.c -- open traces in Redis: atomic Lua scripts, pipelined batches.
 * See trace_store.h for the key layout and the guarantees. */
#include "trace_store.h"

#include <hiredis/hiredis.h>
#include "redis_route.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Appends use no script: per trace and batch an RPUSH of its records, one
 * list element a batch, and an HINCRBY of its meta's 'g', sent with the TTL
 * renewals in one pipeline; the replies (the list's new length, g's new
 * value) tell a new trace, one whose spans expired, and one over a limit, and
 * a second, small pipeline schedules the traces and undoes what was refused
 * (trace_store_append_recv). A script call cost redis-server more than the
 * appends it made: each redis.call from Lua copies its arguments and turns
 * its reply into Lua values, several microseconds a call (bench_e2e, INFO
 * commandstats). A list, not an APPENDed string: APPEND grows a string to
 * twice what it needs, and an open trace kept half its memory empty (Redis
 * bytes per span, bench_e2e); a list's elements are packed to their size.
 * 'g' counts the records in its low 32 bits and the run spans above them
 * (G_RUN), so one command keeps both; 'b' counts the records' bytes. */

/* Lease the traces of one partition for loading. KEYS: the partition's due
 * set, then the data list and the meta hash of each trace; ARGV: the lease's
 * end (ms), now (ms), then the trace ids. Returns per trace {0} when its bookkeeping
 * expired (it leaves the due set), {2} when another load's lease still
 * holds it (due again when that lease ends: an append may have made it due
 * sooner), else {1, gen, rev, run, dropped, pub, dupc}, gen and run read off
 * g; a trace whose records expired but not its bookkeeping is found by
 * the LRANGE and taken off the schedule by a finish (FINISH_GONE). A lease
 * ended is lease 0 and lease_gen "", so finishing is one HSET. One
 * call per partition and batch, not per trace: a script call's own cost was
 * most of redis-server's CPU once appends were cheap (bench_e2e, INFO
 * commandstats). The records are read by an LRANGE per trace sent right after in
 * the same pipeline and decoded from hiredis' reply buffer: passed through
 * Lua, every byte would be copied twice more. A span added between the two
 * commands is in the records but not in gen, so finishing sees gen moved and
 * profiles the trace again: nothing is missed. The trace is leased until the
 * lease's end: it leaves the due schedule until then, so no instance profiles
 * it twice at once; a crashed holder's lease runs out and the partition's
 * owner takes the trace up again. The lease remembers how many spans it
 * covered (lease_gen): when an unfinished lease is found and spans came since,
 * the crashed holder may have published that revision already, so this load
 * takes the next one -- one profile_id never names two contents. 'pub' is the
 * count of distinct spans last published and 'dupc' the replays already
 * counted (both written by the finish). */
static const char LOAD_LUA[] =
    "local out, lease, now, leased, gone = {}, ARGV[1], tonumber(ARGV[2]), {}, {}\n"
    "for i = 1, #ARGV - 2 do\n"
    "  local mkey, id = KEYS[2 * i + 1], ARGV[i + 2]\n"
    "  local m = redis.call('HMGET', mkey, 'g', 'rev', 'dropped', 'lease_gen', 'pub', 'dupc', 'lease')\n"
    "  if not m[1] then\n"
    "    gone[#gone + 1] = id\n"
    "    out[i] = {0}\n"
    "  elseif tonumber(m[7] or '0') > now then\n"
    "    leased[#leased + 1] = m[7]; leased[#leased + 1] = id\n"
    "    out[i] = {2}\n"
    "  else\n"
    "    local g, rev = tonumber(m[1]), m[2] or '0'\n"
    "    if m[4] and m[4] ~= '' and m[4] ~= m[1] then rev = redis.call('HINCRBY', mkey, 'rev', 1) end\n"
    "    redis.call('HSET', mkey, 'lease', lease, 'lease_gen', m[1])\n"
    "    leased[#leased + 1] = lease; leased[#leased + 1] = id\n"
    "    out[i] = {1, g % 4294967296, rev, g >= 4294967296 and 1 or 0, m[3] or '0', m[5] or '0', m[6] or '0'}\n"
    "  end\n"
    "end\n"
    "if #leased > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(leased)) end\n"
    "if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end\n"
    "return out\n";

/* End the leases of one partition's traces. KEYS: the due set, then each
 * trace's meta hash. ARGV per trace: gen, revision, trace_id, now, delay,
 * mode, distinct spans, replays. Published (mode 1): count the next revision,
 * remember what was published, and leave the due set unless spans were added
 * after the load, in which case the next revision is due after the grace
 * period. Unchanged (mode 2: only replays came since the last publication): as
 * published but the revision stays. Not published (mode 0): due again at now +
 * delay, to retry. Gone (mode 3: its records expired): off the schedule. A
 * loaded trace's meta always has 'gen'. One call per partition and batch, as
 * the load. */
static const char FINISH_LUA[] =
    "local done = {}\n"
    "for i = 1, #KEYS - 1 do\n"
    "  local mkey, a = KEYS[i + 1], 8 * (i - 1)\n"
    "  local gen, revision, id = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]\n"
    "  local at, mode = tonumber(ARGV[a + 4]) + tonumber(ARGV[a + 5]), ARGV[a + 6]\n"
    "  local m = redis.call('HMGET', mkey, 'rev', 'g')\n"
    "  if not m[2] or mode == '3' then\n"
    "    if m[2] then redis.call('HSET', mkey, 'lease', 0, 'lease_gen', '') end\n"
    "    done[#done + 1] = id\n"
    "  elseif mode == '0' then\n"
    "    redis.call('HSET', mkey, 'lease', 0, 'lease_gen', '')\n"
    "    redis.call('ZADD', KEYS[1], at, id)\n"
    "  else\n"
    "    if mode == '1' and tonumber(m[1] or '0') <= revision then\n"
    "      redis.call('HSET', mkey, 'lease', 0, 'lease_gen', '', 'rev', revision + 1, 'pub', ARGV[a + 7], 'dupc', ARGV[a + 8])\n"
    "    else\n"
    "      redis.call('HSET', mkey, 'lease', 0, 'lease_gen', '', 'pub', ARGV[a + 7], 'dupc', ARGV[a + 8])\n"
    "    end\n"
    "    if tonumber(m[2]) % 4294967296 == tonumber(gen) then done[#done + 1] = id\n"
    "    else redis.call('ZADD', KEYS[1], at, id) end\n"
    "  end\n"
    "end\n"
    "if #done > 0 then redis.call('ZREM', KEYS[1], unpack(done)) end\n"
    "return 1\n";

/* loaded on connect */
enum { SCRIPT_LOAD, SCRIPT_FINISH, SCRIPT_COUNT };
static const char *const SCRIPTS[SCRIPT_COUNT] = {LOAD_LUA, FINISH_LUA};

struct trace_store {
    trace_store_options_t opt;
    char *host, *user, *password, *prefix, *topic; /* owned copies of the options */
    redis_route_t *route; /* one Redis, or a cluster routed by slot */
    char sha[SCRIPT_COUNT][41];
    uint64_t round_trips;
    uint64_t commands;
};

/* ---- a pipeline of commands, built then sent in one round trip -------------- */

/* Commands are written straight in the Redis protocol (RESP) into one buffer,
 * handed to hiredis whole: formatting through redisAppendCommandArgv, with an
 * argv and a formatted key allocated per command, was a tenth of `dagprof
 * run`'s CPU (bench_e2e). */
typedef struct pipeline {
    char *data;
    size_t len, cap;
    size_t count; /* commands */
    int failed;
    /* where each command starts and its slot, so that a cluster's route can
     * send each to its node */
    size_t *starts;
    unsigned *slots;
    size_t marks_cap;
} pipeline_t;

static void pipeline_free(pipeline_t *pl) {
    free(pl->data);
    free(pl->starts);
    free(pl->slots);
    memset(pl, 0, sizeof(*pl));
}

static void pipeline_write(pipeline_t *pl, const void *data, size_t len) {
    if (pl->failed)
        return;
    if (pl->cap - pl->len < len) {
        size_t cap = pl->cap ? pl->cap : 4096;
        while (cap - pl->len < len)
            cap *= 2;
        char *grown = realloc(pl->data, cap);
        if (!grown) {
            pl->failed = 1;
            return;
        }
        pl->data = grown;
        pl->cap = cap;
    }
    memcpy(pl->data + pl->len, data, len);
    pl->len += len;
}

/* "<mark><n>\r\n": a command's argument count or an argument's length. Two
 * per argument: by hand, as snprintf here cost a twentieth of the CPU. */
static void pipeline_header(pipeline_t *pl, char mark, size_t n) {
    char text[32];
    char *p = text + sizeof(text);
    *--p = '\n';
    *--p = '\r';
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *--p = mark;
    pipeline_write(pl, p, (size_t)(text + sizeof(text) - p));
}

/* Start a command of argc arguments; exactly argc pipeline_arg calls follow. */
static void pipeline_command(pipeline_t *pl, int argc) {
    if (!pl->failed && pl->count == pl->marks_cap) {
        size_t cap = pl->marks_cap ? 2 * pl->marks_cap : 16;
        size_t *starts = realloc(pl->starts, cap * sizeof(*starts));
        if (starts)
            pl->starts = starts;
        unsigned *slots = starts ? realloc(pl->slots, cap * sizeof(*slots)) : NULL;
        if (slots)
            pl->slots = slots;
        if (!starts || !slots)
            pl->failed = 1;
        else
            pl->marks_cap = cap;
    }
    if (!pl->failed) {
        pl->starts[pl->count] = pl->len;
        pl->slots[pl->count] = REDIS_ROUTE_SLOTS; /* set by the command's first key */
    }
    pipeline_header(pl, '*', (size_t)argc);
    pl->count++;
}

static void pipeline_arg(pipeline_t *pl, const void *data, size_t len) {
    pipeline_header(pl, '$', len);
    pipeline_write(pl, data, len);
    pipeline_write(pl, "\r\n", 2);
}

static void pipeline_str(pipeline_t *pl, const char *text) {
    pipeline_arg(pl, text, strlen(text));
}

static void pipeline_int(pipeline_t *pl, long long value) {
    char text[32];
    int len = snprintf(text, sizeof(text), "%lld", value);
    pipeline_arg(pl, text, (size_t)len);
}

/* ---- connection --------------------------------------------------------------- */

/* Run by the route on every new connection: a new master, a promoted
 * replica or a restarted Redis has not seen our scripts. */
static int store_on_connect(redisContext *ctx, void *opaque, char *errstr, size_t errstr_size) {
    trace_store_t *store = opaque;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        redisReply *r = redisCommand(ctx, "SCRIPT LOAD %s", SCRIPTS[i]);
        store->round_trips++;
        store->commands++;
        if (!r || r->type != REDIS_REPLY_STRING) {
            snprintf(errstr, errstr_size, "redis: SCRIPT LOAD: %s",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : ctx->err ? ctx->errstr : "unexpected reply");
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(store->sha[i], sizeof(store->sha[i]), "%s", r->str);
        freeReplyObject(r);
    }
    return 0;
}

/* Write a pipeline to Redis without waiting for its replies. */
static int store_send(trace_store_t *store, pipeline_t *pl, char *errstr, size_t errstr_size) {
    if (pl->failed) {
        snprintf(errstr, errstr_size, "out of memory building a redis pipeline");
        return -1;
    }
    if (!redis_route_is_cluster(store->route)) {
        if (redis_route_append(store->route, 0, pl->data, pl->len, errstr, errstr_size) != 0)
            return -1;
    } else {
        for (size_t i = 0; i < pl->count; i++) {
            size_t end = i + 1 < pl->count ? pl->starts[i + 1] : pl->len;
            if (redis_route_append(store->route, pl->slots[i], pl->data + pl->starts[i],
                                   end - pl->starts[i], errstr, errstr_size) != 0) {
                redis_route_reset(store->route);
                return -1;
            }
        }
    }
    if (redis_route_flush(store->route, errstr, errstr_size) != 0)
        return -1;
    store->round_trips++;
    store->commands += pl->count;
    return 0;
}

/* Collect one reply per command of a sent pipeline (replies[i], to free).
 * A NOSCRIPT error (Redis restarted without our scripts) reloads them and
 * sends the pipeline once more; every script here is safe to repeat. */
static int store_recv(trace_store_t *store, pipeline_t *pl, redisReply **replies, char *errstr,
                      size_t errstr_size) {
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt > 0 && store_send(store, pl, errstr, errstr_size) != 0)
            return -1;
        int noscript = 0, failed = 0;
        for (size_t i = 0; i < pl->count; i++) {
            redisReply *reply = NULL;
            if (redis_route_get_reply(store->route, &reply, errstr, errstr_size) != 0) {
                for (size_t j = 0; j < i; j++)
                    freeReplyObject(replies[j]);
                return -1;
            }
            replies[i] = reply;
            if (replies[i]->type == REDIS_REPLY_ERROR) {
                if (strncmp(replies[i]->str, "NOSCRIPT", 8) == 0)
                    noscript = 1;
                else if (!failed) {
                    failed = 1;
                    snprintf(errstr, errstr_size, "redis %s:%d: %s", store->host, store->opt.port,
                             replies[i]->str);
                }
            }
        }
        if (!noscript && !failed)
            return 0;
        for (size_t i = 0; i < pl->count; i++)
            freeReplyObject(replies[i]);
        if (failed)
            return -1;
        redis_route_reset(store->route); /* reconnecting reloads the scripts */
    }
    snprintf(errstr, errstr_size, "redis %s:%d: scripts could not be loaded", store->host,
             store->opt.port);
    return -1;
}

/* Send a pipeline and collect its replies: one round trip. */
static int store_run(trace_store_t *store, pipeline_t *pl, redisReply **replies, char *errstr,
                     size_t errstr_size) {
    if (store_send(store, pl, errstr, errstr_size) != 0)
        return -1;
    return store_recv(store, pl, replies, errstr, errstr_size);
}

static char *dup_or_empty(const char *s) {
    return strdup(s ? s : "");
}

trace_store_t *trace_store_new(const trace_store_options_t *options, char *errstr,
                               size_t errstr_size) {
    trace_store_t *store = calloc(1, sizeof(*store));
    if (!store) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    store->opt = *options;
    store->host = dup_or_empty(options->host && options->host[0] ? options->host : "127.0.0.1");
    store->user = dup_or_empty(options->user);
    store->password = dup_or_empty(options->password);
    store->prefix = dup_or_empty(options->prefix && options->prefix[0] ? options->prefix : "dagprof");
    store->topic = dup_or_empty(options->topic && options->topic[0] ? options->topic : "dag-spans");
    if (!store->host || !store->user || !store->password || !store->prefix || !store->topic) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    redis_route_options_t ro = {
        .host = store->host, .port = options->port, .cluster = options->cluster,
        .nodes = options->nodes, .user = store->user, .password = store->password,
        .db = options->db, .timeout_ms = options->timeout_ms,
        .on_connect = store_on_connect, .opaque = store,
    };
    store->route = redis_route_new(&ro, errstr, errstr_size);
    if (!store->route)
        goto fail;
    return store;
fail:
    trace_store_free(store);
    return NULL;
}

void trace_store_free(trace_store_t *store) {
    if (!store)
        return;
    redis_route_free(store->route);
    free(store->host);
    free(store->user);
    free(store->password);
    free(store->prefix);
    free(store->topic);
    free(store);
}

uint64_t trace_store_round_trips(const trace_store_t *store) {
    return store->round_trips;
}

uint64_t trace_store_commands(const trace_store_t *store) {
    return store->commands;
}

/* A key as one argument: <prefix>:v4:{<topic>:<partition>}:<kind>[:<trace_id>].
 * The braces are a cluster hash tag: a partition's keys share a slot, so its
 * scripts may touch them together. "v4" (TRACE_STORE_LAYOUT) is the layout's
 * version: data of another layout is never read as this one. */
static void pipeline_key(pipeline_t *pl, const trace_store_t *store, int32_t partition,
                         const char *kind, const char *trace_id) {
    char head[64];
    int part_len = snprintf(head, sizeof(head), ":%d}:", (int)partition);
    size_t prefix_len = strlen(store->prefix), topic_len = strlen(store->topic),
           kind_len = strlen(kind), id_len = trace_id ? strlen(trace_id) : 0;
    size_t len = prefix_len + 5 + topic_len + (size_t)part_len + kind_len + (trace_id ? 1 + id_len : 0);
    pipeline_header(pl, '$', len);
    pipeline_write(pl, store->prefix, prefix_len);
    pipeline_write(pl, ":" TRACE_STORE_LAYOUT ":{", 5);
    pipeline_write(pl, store->topic, topic_len);
    pipeline_write(pl, head, (size_t)part_len);
    pipeline_write(pl, kind, kind_len);
    if (trace_id) {
        pipeline_write(pl, ":", 1);
        pipeline_write(pl, trace_id, id_len);
    }
    /* a command goes to the slot of its first key: the others share its tag */
    if (!pl->failed && pl->count && pl->slots[pl->count - 1] == REDIS_ROUTE_SLOTS &&
        redis_route_is_cluster(store->route))
        pl->slots[pl->count - 1] = redis_route_slot(pl->data + pl->len - len, len);
    pipeline_write(pl, "\r\n", 2);
}

/* ---- append ---------------------------------------------------------------------- */

typedef struct span_order {
    const trace_store_span_t *span;
    size_t index;
} span_order_t;

static int span_order_cmp(const void *a, const void *b) {
    const span_order_t *x = a, *y = b;
    if (x->span->partition != y->span->partition)
        return x->span->partition < y->span->partition ? -1 : 1;
    int rc = strcmp(x->span->trace_id, y->span->trace_id);
    if (rc)
        return rc;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A meta's 'g': the records ever appended in its low 32 bits, the run spans
 * among them above. */
#define G_RUN (INT64_C(1) << 32)
#define G_RECORDS(g) ((g) & (G_RUN - 1))

struct trace_store_pending {
    pipeline_t pl;
    span_order_t *order; /* the spans by partition and trace, borrowed from the caller */
    size_t *trace_start, *part_start;
    size_t *trace_bytes; /* per trace: the framed records appended */
    unsigned char *packed; /* per span, in order: its id is stored packed */
    int64_t *trace_inc;  /* per trace: what g was incremented by */
    size_t parts, count;
    int64_t now_ms;
    redisReply **replies; /* one per command of pl: room taken before sending */
};

void trace_store_pending_free(trace_store_pending_t *p) {
    if (!p)
        return;
    pipeline_free(&p->pl);
    free(p->order);
    free(p->trace_start);
    free(p->part_start);
    free(p->trace_bytes);
    free(p->packed);
    free(p->trace_inc);
    free(p->replies);
    free(p);
}

/* Commands per trace in an append's first pipeline: RPUSH, the HINCRBYs of
 * g and b and the two EXPIREs; and per partition a ZCARD first when open
 * traces are limited. */
#define APPEND_CMDS_PER_TRACE 5

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

static size_t varint_put(unsigned char *out, uint64_t v) {
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        out[n++] = (unsigned char)(v | 0x80);
    out[n++] = (unsigned char)v;
    return n;
}

/* The value at *pos, which moves past it; -1 when cut short or over 2^32. */
static int varint_get(const unsigned char *data, size_t len, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift <= 28; shift += 7) {
        if (*pos >= len)
            return -1;
        unsigned char byte = data[(*pos)++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return v <= UINT32_MAX ? 0 : -1;
        }
    }
    return -1;
}

/* Span ids of lowercase hex (OpenTelemetry's 16 digits) are stored as the
 * bytes they spell, half the size: 8 bytes a span for most fleets. */
#define ID_PACK_MAX 128

/* 1 + the value of a lowercase hex digit, 0 for any other byte */
static const unsigned char HEX[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};

static int id_packable(const char *id, size_t len) {
    if (len == 0 || len % 2 || len > ID_PACK_MAX)
        return 0;
    unsigned char all = 1;
    for (size_t i = 0; i < len; i++)
        all &= HEX[(unsigned char)id[i]] != 0;
    return all;
}

/* A record: a varint of the span_id's stored length times two, plus one when
 * it is packed hex; the span_id; the blob's length (a varint); the blob. */
static size_t record_size(const trace_store_span_t *sp, size_t id_len, int packed) {
    size_t stored = packed ? id_len / 2 : id_len;
    return varint_size(stored * 2 + 1) + stored + varint_size(sp->blob_len) + sp->blob_len;
}

/* The records of spans [b, e) of a batch, as one argument; packed[k]: span
 * k's id is packed hex. */
static void pipeline_records(pipeline_t *pl, const span_order_t *order,
                             const unsigned char *packed, size_t b, size_t e, size_t framed) {
    pipeline_header(pl, '$', framed);
    for (size_t k = b; k < e; k++) {
        const trace_store_span_t *sp = order[k].span;
        size_t id_len = strlen(sp->span_id);
        unsigned char head[10 + ID_PACK_MAX / 2];
        if (packed[k]) {
            size_t n = varint_put(head, id_len / 2 * 2 + 1);
            for (size_t i = 0; i < id_len / 2; i++)
                head[n + i] = (unsigned char)((HEX[(unsigned char)sp->span_id[2 * i]] - 1) << 4 |
                                              (HEX[(unsigned char)sp->span_id[2 * i + 1]] - 1));
            pipeline_write(pl, head, n + id_len / 2);
        } else {
            pipeline_write(pl, head, varint_put(head, id_len * 2));
            pipeline_write(pl, sp->span_id, id_len);
        }
        pipeline_write(pl, head, varint_put(head, sp->blob_len));
        pipeline_write(pl, sp->blob, sp->blob_len);
    }
    pipeline_write(pl, "\r\n", 2);
}

int trace_store_append_send(trace_store_t *store, const trace_store_span_t *spans, size_t count,
                            int64_t now_ms, trace_store_pending_t **out, char *errstr,
                            size_t errstr_size) {
    *out = NULL;
    trace_store_pending_t *pd = calloc(1, sizeof(*pd));
    if (!pd)
        goto oom;
    pd->count = count;
    pd->now_ms = now_ms;
    if (count == 0) {
        *out = pd;
        return 0;
    }
    pipeline_t *pl = &pd->pl;
    span_order_t *order = pd->order = malloc(count * sizeof(*order));
    if (!order)
        goto oom;
    for (size_t i = 0; i < count; i++)
        order[i] = (span_order_t){&spans[i], i};
    /* the spans of each trace together, one partition after another */
    qsort(order, count, sizeof(*order), span_order_cmp);
    size_t *trace_start = pd->trace_start = malloc((count + 1) * sizeof(*trace_start));
    size_t *part_start = pd->part_start = malloc((count + 1) * sizeof(*part_start)); /* into trace_start */
    pd->trace_bytes = malloc((count + 1) * sizeof(*pd->trace_bytes));
    pd->trace_inc = malloc((count + 1) * sizeof(*pd->trace_inc));
    pd->packed = malloc(count + 1);
    if (!trace_start || !part_start || !pd->trace_bytes || !pd->trace_inc || !pd->packed)
        goto oom;
    size_t traces = 0, parts = 0;
    for (size_t i = 0; i < count; i++) {
        const trace_store_span_t *s = order[i].span, *prev = i ? order[i - 1].span : NULL;
        if (!prev || prev->partition != s->partition)
            part_start[parts++] = traces;
        if (!prev || prev->partition != s->partition || strcmp(prev->trace_id, s->trace_id) != 0)
            trace_start[traces++] = i;
    }
    trace_start[traces] = count;
    part_start[parts] = traces;
    pd->parts = parts;
    pd->replies = calloc(parts + APPEND_CMDS_PER_TRACE * traces + 1, sizeof(*pd->replies));
    if (!pd->replies)
        goto oom;
    for (size_t p = 0; p < parts; p++) {
        size_t tb = part_start[p], te = part_start[p + 1];
        int32_t partition = order[trace_start[tb]].span->partition;
        if (store->opt.max_open_traces > 0) {
            pipeline_command(pl, 2);
            pipeline_str(pl, "ZCARD");
            pipeline_key(pl, store, partition, "due", NULL);
        }
        for (size_t t = tb; t < te; t++) {
            const char *trace_id = order[trace_start[t]].span->trace_id;
            size_t b = trace_start[t], e = trace_start[t + 1], framed = 0;
            int64_t inc = (int64_t)(e - b);
            for (size_t k = b; k < e; k++) {
                const trace_store_span_t *sp = order[k].span;
                size_t id_len = strlen(sp->span_id);
                if (id_len > 0xffff || sp->blob_len > UINT32_MAX) {
                    snprintf(errstr, errstr_size, "span %.64s of trace %.64s: span_id or span too long to store",
                             sp->span_id, sp->trace_id);
                    trace_store_pending_free(pd);
                    return -1;
                }
                pd->packed[k] = (unsigned char)id_packable(sp->span_id, id_len);
                framed += record_size(sp, id_len, pd->packed[k]);
                if (sp->is_run)
                    inc += G_RUN;
            }
            if (framed > INT32_MAX) {
                snprintf(errstr, errstr_size, "trace %.64s: a batch of %zu bytes is too large to store",
                         trace_id, framed);
                trace_store_pending_free(pd);
                return -1;
            }
            pd->trace_bytes[t] = framed;
            pd->trace_inc[t] = inc;
            pipeline_command(pl, 3);
            pipeline_str(pl, "RPUSH");
            pipeline_key(pl, store, partition, "d", trace_id);
            /* the records straight into the argument: no copy of a span is made */
            pipeline_records(pl, order, pd->packed, b, e, framed);
            pipeline_command(pl, 4);
            pipeline_str(pl, "HINCRBY");
            pipeline_key(pl, store, partition, "m", trace_id);
            pipeline_str(pl, "g");
            pipeline_int(pl, inc);
            pipeline_command(pl, 4);
            pipeline_str(pl, "HINCRBY");
            pipeline_key(pl, store, partition, "m", trace_id);
            pipeline_str(pl, "b");
            pipeline_int(pl, (long long)framed);
            pipeline_command(pl, 3);
            pipeline_str(pl, "EXPIRE");
            pipeline_key(pl, store, partition, "d", trace_id);
            pipeline_int(pl, store->opt.ttl_s);
            pipeline_command(pl, 3);
            pipeline_str(pl, "EXPIRE");
            pipeline_key(pl, store, partition, "m", trace_id);
            pipeline_int(pl, 2 * store->opt.ttl_s);
        }
    }
    if (store_send(store, pl, errstr, errstr_size) != 0) {
        trace_store_pending_free(pd);
        return -1;
    }
    *out = pd;
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    trace_store_pending_free(pd);
    return -1;
}

/* A trace of an appended batch, as its replies tell: scheduled at due, or
 * refused. */
typedef struct appended {
    size_t trace; /* into trace_start */
    int64_t due_ms;
} appended_t;

/* ZADD of a partition's scheduled traces, in commands of at most 1000. */
static void schedule_partition(pipeline_t *pl, trace_store_t *store, int32_t partition,
                               const span_order_t *order, const size_t *trace_start,
                               const appended_t *sched, size_t n) {
    for (size_t c = 0; c < n; c += 1000) {
        size_t m = n - c < 1000 ? n - c : 1000;
        pipeline_command(pl, (int)(2 + 2 * m));
        pipeline_str(pl, "ZADD");
        pipeline_key(pl, store, partition, "due", NULL);
        for (size_t j = c; j < c + m; j++) {
            pipeline_int(pl, sched[j].due_ms);
            pipeline_str(pl, order[trace_start[sched[j].trace]].span->trace_id);
        }
    }
}

int trace_store_append_recv(trace_store_t *store, trace_store_pending_t *pd,
                            trace_store_outcome_t *outcomes, char *errstr, size_t errstr_size) {
    int rc = -1;
    if (pd->count == 0) {
        trace_store_pending_free(pd);
        return 0;
    }
    size_t parts = pd->parts, *trace_start = pd->trace_start, *part_start = pd->part_start;
    const span_order_t *order = pd->order;
    redisReply **replies = pd->replies;
    size_t n_replies = pd->pl.count;
    pipeline_t fix = {0}; /* scheduling, and undoing what was refused */
    appended_t *sched = NULL;
    redisReply **fix_replies = NULL;
    if (store_recv(store, &pd->pl, replies, errstr, errstr_size) != 0) {
        n_replies = 0;
        goto done;
    }
    sched = malloc((part_start[parts] + 1) * sizeof(*sched));
    if (!sched)
        goto oom;
    const trace_store_options_t *o = &store->opt;
    size_t at = 0;
    for (size_t p = 0; p < parts; p++) {
        size_t tb = part_start[p], te = part_start[p + 1], n_sched = 0;
        int32_t partition = order[trace_start[tb]].span->partition;
        int64_t open = 0, opened = 0;
        if (o->max_open_traces > 0) {
            if (replies[at]->type != REDIS_REPLY_INTEGER)
                goto unexpected;
            open = replies[at++]->integer;
        }
        for (size_t t = tb; t < te; t++, at += APPEND_CMDS_PER_TRACE) {
            redisReply *len_r = replies[at], *g_r = replies[at + 1], *b_r = replies[at + 2];
            if (len_r->type != REDIS_REPLY_INTEGER || g_r->type != REDIS_REPLY_INTEGER ||
                b_r->type != REDIS_REPLY_INTEGER)
                goto unexpected;
            size_t b = trace_start[t], e = trace_start[t + 1], take = pd->trace_bytes[t];
            int64_t k_all = (int64_t)(e - b), inc = pd->trace_inc[t];
            int64_t len = len_r->integer, g = g_r->integer, prior = g - inc;
            int64_t bytes = b_r->integer;
            if (len < 1 || bytes < (int64_t)take)
                goto unexpected;
            const char *trace_id = order[b].span->trace_id;
            int new_data = len == 1; /* the list holds one element a batch */
            trace_store_outcome_t refused = TRACE_STORE_ADDED;
            if (new_data && prior != 0) {
                /* the spans expired, the bookkeeping did not: the trace was
                 * here before, and this span is too late to join it */
                refused = TRACE_STORE_EXPIRED;
                pipeline_command(&fix, 2);
                pipeline_str(&fix, "DEL");
                pipeline_key(&fix, store, partition, "d", trace_id);
                pipeline_command(&fix, 4);
                pipeline_str(&fix, "HINCRBY");
                pipeline_key(&fix, store, partition, "m", trace_id);
                pipeline_str(&fix, "g");
                pipeline_int(&fix, -inc);
                pipeline_command(&fix, 4);
                pipeline_str(&fix, "HINCRBY");
                pipeline_key(&fix, store, partition, "m", trace_id);
                pipeline_str(&fix, "b");
                pipeline_int(&fix, -(long long)take);
            } else if (new_data && o->max_open_traces > 0 && open + opened >= o->max_open_traces) {
                refused = TRACE_STORE_TOO_MANY_OPEN;
                pipeline_command(&fix, 3);
                pipeline_str(&fix, "DEL");
                pipeline_key(&fix, store, partition, "d", trace_id);
                pipeline_key(&fix, store, partition, "m", trace_id);
            }
            if (refused != TRACE_STORE_ADDED) {
                for (size_t k = b; k < e; k++)
                    outcomes[order[k].index] = refused;
                continue;
            }
            opened += new_data;
            /* over a limit: keep the records that fit, in order */
            int64_t before = G_RECORDS(prior), bytes_before = bytes - (int64_t)take;
            size_t fit = e - b, kept = 0, cut_runs = 0;
            if (before + k_all > o->max_spans_per_trace || bytes > o->max_bytes_per_trace) {
                fit = 0;
                while (b + fit < e && before + (int64_t)fit < o->max_spans_per_trace) {
                    const trace_store_span_t *sp = order[b + fit].span;
                    size_t size = record_size(sp, strlen(sp->span_id), pd->packed[b + fit]);
                    if (bytes_before + (int64_t)(kept + size) > o->max_bytes_per_trace)
                        break;
                    kept += size;
                    fit++;
                }
                for (size_t k = b + fit; k < e; k++)
                    cut_runs += order[k].span->is_run != 0;
                int64_t undo = (int64_t)(e - b - fit) + (int64_t)cut_runs * G_RUN;
                /* plain commands: the partition's one writer sends them in
                 * order, and the batch's element is the list's last */
                if (fit > 0) {
                    pipeline_command(&fix, 4);
                    pipeline_str(&fix, "LSET");
                    pipeline_key(&fix, store, partition, "d", trace_id);
                    pipeline_int(&fix, -1);
                    pipeline_records(&fix, order, pd->packed, b, b + fit, kept);
                } else if (len > 1) {
                    pipeline_command(&fix, 2);
                    pipeline_str(&fix, "RPOP");
                    pipeline_key(&fix, store, partition, "d", trace_id);
                } else {
                    pipeline_command(&fix, 2);
                    pipeline_str(&fix, "DEL");
                    pipeline_key(&fix, store, partition, "d", trace_id);
                }
                pipeline_command(&fix, 4);
                pipeline_str(&fix, "HINCRBY");
                pipeline_key(&fix, store, partition, "m", trace_id);
                pipeline_str(&fix, "g");
                pipeline_int(&fix, -undo);
                pipeline_command(&fix, 4);
                pipeline_str(&fix, "HINCRBY");
                pipeline_key(&fix, store, partition, "m", trace_id);
                pipeline_str(&fix, "b");
                pipeline_int(&fix, -(long long)(take - kept));
                pipeline_command(&fix, 4);
                pipeline_str(&fix, "HINCRBY");
                pipeline_key(&fix, store, partition, "m", trace_id);
                pipeline_str(&fix, "dropped");
                pipeline_int(&fix, (long long)(e - b - fit));
                g -= undo;
            }
            for (size_t k = b; k < e; k++)
                outcomes[order[k].index] = k - b < fit ? TRACE_STORE_ADDED : TRACE_STORE_OVER_LIMIT;
            if (fit > 0) {
                /* grace after the run span has come, the idle timeout before */
                int64_t delay = g >= G_RUN ? o->grace_ms : o->idle_timeout_ms;
                sched[n_sched++] = (appended_t){t, pd->now_ms + delay};
            }
        }
        schedule_partition(&fix, store, partition, order, trace_start, sched, n_sched);
    }
    if (fix.count) {
        fix_replies = calloc(fix.count, sizeof(*fix_replies));
        if (!fix_replies)
            goto oom;
        if (store_run(store, &fix, fix_replies, errstr, errstr_size) != 0)
            goto done;
        for (size_t i = 0; i < fix.count; i++)
            freeReplyObject(fix_replies[i]);
    }
    rc = 0;
    goto done;
unexpected:
    snprintf(errstr, errstr_size, "redis: unexpected reply to append");
    goto done;
oom:
    snprintf(errstr, errstr_size, "out of memory");
done:
    for (size_t i = 0; i < n_replies; i++)
        freeReplyObject(replies[i]);
    free(fix_replies);
    free(sched);
    pipeline_free(&fix);
    trace_store_pending_free(pd);
    return rc;
}

int trace_store_append(trace_store_t *store, const trace_store_span_t *spans, size_t count,
                       int64_t now_ms, trace_store_outcome_t *outcomes, char *errstr,
                       size_t errstr_size) {
    trace_store_pending_t *pd;
    if (trace_store_append_send(store, spans, count, now_ms, &pd, errstr, errstr_size) != 0)
        return -1;
    return trace_store_append_recv(store, pd, outcomes, errstr, errstr_size);
}

/* ---- due, load, finish --------------------------------------------------------------- */

void trace_store_refs_free(trace_store_ref_t *refs, size_t count) {
    if (!refs)
        return;
    for (size_t i = 0; i < count; i++)
        free(refs[i].trace_id);
    free(refs);
}

int trace_store_due(trace_store_t *store, const int32_t *partitions, size_t partition_count,
                    int64_t now_ms, size_t max, trace_store_ref_t **out, size_t *out_count,
                    char *errstr, size_t errstr_size) {
    *out = NULL;
    *out_count = 0;
    if (partition_count == 0 || max == 0)
        return 0;
    int rc = -1;
    pipeline_t pl = {0};
    trace_store_ref_t *refs = NULL;
    size_t n = 0;
    redisReply **replies = calloc(partition_count, sizeof(*replies));
    if (!replies)
        goto oom;
    /* an equal share per partition, so no partition waits behind the others */
    size_t share = (max + partition_count - 1) / partition_count;
    for (size_t i = 0; i < partition_count; i++) {
        pipeline_command(&pl, 8);
        pipeline_str(&pl, "ZRANGEBYSCORE");
        pipeline_key(&pl, store, partitions[i], "due", NULL);
        pipeline_str(&pl, "-inf");
        pipeline_int(&pl, now_ms);
        pipeline_str(&pl, "WITHSCORES");
        pipeline_str(&pl, "LIMIT");
        pipeline_str(&pl, "0");
        pipeline_int(&pl, (long long)share);
    }
    if (store_run(store, &pl, replies, errstr, errstr_size) != 0)
        goto done;
    size_t total = 0;
    for (size_t i = 0; i < partition_count; i++)
        total += replies[i]->type == REDIS_REPLY_ARRAY ? replies[i]->elements / 2 : 0;
    refs = calloc(total + 1, sizeof(*refs));
    if (!refs)
        goto oom_replies;
    for (size_t i = 0; i < partition_count && n < max; i++)
        for (size_t j = 0; replies[i]->type == REDIS_REPLY_ARRAY && j + 1 < replies[i]->elements && n < max; j += 2) {
            refs[n].partition = partitions[i];
            refs[n].due_ms = strtoll(replies[i]->element[j + 1]->str, NULL, 10);
            refs[n].trace_id = strndup(replies[i]->element[j]->str, replies[i]->element[j]->len);
            if (!refs[n++].trace_id)
                goto oom_replies;
        }
    rc = 0;
    *out = refs;
    *out_count = n;
    refs = NULL;
oom_replies:
    if (rc != 0)
        snprintf(errstr, errstr_size, "out of memory");
    for (size_t i = 0; i < partition_count; i++)
        freeReplyObject(replies[i]);
    goto done;
oom:
    snprintf(errstr, errstr_size, "out of memory");
done:
    trace_store_refs_free(refs, n);
    free(replies);
    pipeline_free(&pl);
    return rc;
}

void trace_store_traces_free(trace_store_trace_t *traces, size_t count) {
    if (!traces)
        return;
    for (size_t i = 0; i < count; i++) {
        free(traces[i].trace_id);
        free(traces[i].blobs);
        free(traces[i].blob_lens);
        free(traces[i].span_ids);
        free(traces[i].span_id_lens);
        free(traces[i].id_text);
        if (traces[i].reply)
            freeReplyObject(traces[i].reply);
    }
    free(traces);
}

/* The wall clock in ms, as the callers' times (a lease's end is one). */
static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int64_t reply_int(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* What finishing a lease does (FINISH_LUA's mode). */
enum { FINISH_RETRY = 0, FINISH_PUBLISHED = 1, FINISH_UNCHANGED = 2, FINISH_GONE = 3 };

/* The token handed out as a trace's gen: the records counted in the meta hash
 * and the distinct spans found among them, so the finish can tell what was
 * published without the caller carrying more than one number. */
#define TOKEN_SHIFT 24
#define TOKEN_DISTINCT_MASK ((INT64_C(1) << TOKEN_SHIFT) - 1)

static int64_t token_make(int64_t gen, size_t distinct) {
    return (gen << TOKEN_SHIFT) | ((int64_t)distinct & TOKEN_DISTINCT_MASK);
}

static uint64_t span_id_hash(const char *id, size_t len) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return h;
}

/* The next record of an element at *pos: its span_id as stored (*packed:
 * hex packed two digits a byte) and its blob. 0, or -1 when malformed. */
static int record_next(const unsigned char *rec, size_t len, size_t *pos, const char **id,
                       size_t *id_len, int *packed, const char **blob, size_t *blob_len) {
    uint64_t h, m;
    if (varint_get(rec, len, pos, &h) != 0 || h < 2 || h / 2 > len - *pos)
        return -1;
    *packed = (int)(h & 1);
    if (*packed && h / 2 > ID_PACK_MAX / 2)
        return -1;
    *id = (const char *)rec + *pos;
    *id_len = (size_t)(h / 2);
    *pos += h / 2;
    if (varint_get(rec, len, pos, &m) != 0 || m > len - *pos)
        return -1;
    *blob = (const char *)rec + *pos;
    *blob_len = (size_t)m;
    *pos += m;
    return 0;
}

/* Decode a trace's records in place: t->span_ids and t->blobs point into
 * the reply's elements (a batch's records each). Replays (a span_id seen
 * earlier in the list) are dropped here, the first copy kept, found with one
 * open-addressing table per trace, not an allocation per span. A malformed
 * record ends its element: the records before it are kept. Returns the count
 * of records read, or -1 when out of memory. */
static long long trace_decode(trace_store_trace_t *t, const redisReply *list) {
    size_t records = 0, len, id_len, blob_len, text = 0;
    const char *id, *blob;
    int packed;
    for (size_t r = 0; r < list->elements; r++) {
        const redisReply *el = list->element[r];
        if (el->type != REDIS_REPLY_STRING)
            break;
        size_t pos = 0;
        len = el->len;
        while (pos < len && record_next((const unsigned char *)el->str, len, &pos, &id, &id_len,
                                        &packed, &blob, &blob_len) == 0) {
            records++;
            text += packed ? 2 * id_len : 0;
        }
    }
    size_t slots = 16;
    while (slots < 2 * records)
        slots *= 2;
    uint32_t *table = calloc(slots, sizeof(*table)); /* 1 + index into blobs, 0 empty */
    t->span_ids = calloc(records + 1, sizeof(*t->span_ids));
    t->span_id_lens = calloc(records + 1, sizeof(*t->span_id_lens));
    t->blobs = calloc(records + 1, sizeof(*t->blobs));
    t->blob_lens = calloc(records + 1, sizeof(*t->blob_lens));
    unsigned char *flags = calloc(records + 1, 1); /* packed, per kept span */
    t->id_text = malloc(text + 1);
    if (!table || !t->span_ids || !t->span_id_lens || !t->blobs || !t->blob_lens || !flags ||
        !t->id_text) {
        free(table);
        free(flags);
        return -1;
    }
    size_t kept = 0, seen = 0, text_at = 0;
    for (size_t r = 0; r < list->elements && seen < records; r++) {
        const redisReply *el = list->element[r];
        if (el->type != REDIS_REPLY_STRING)
            break;
        size_t pos = 0;
        len = el->len;
        while (seen < records && pos < len &&
               record_next((const unsigned char *)el->str, len, &pos, &id, &id_len, &packed, &blob,
                           &blob_len) == 0) {
            seen++;
            /* ids compared as stored: packing is decided by the text alone */
            size_t slot = (size_t)(span_id_hash(id, id_len) ^ (uint64_t)packed) & (slots - 1);
            int replay = 0;
            for (; table[slot]; slot = (slot + 1) & (slots - 1)) {
                size_t k = table[slot] - 1;
                if (flags[k] == packed && t->span_id_lens[k] == id_len &&
                    memcmp(t->span_ids[k], id, id_len) == 0) {
                    replay = 1;
                    break;
                }
            }
            if (replay)
                continue;
            table[slot] = (uint32_t)(kept + 1);
            flags[kept] = (unsigned char)packed;
            t->span_ids[kept] = id;
            t->span_id_lens[kept] = id_len;
            t->blobs[kept] = blob;
            t->blob_lens[kept] = blob_len;
            kept++;
        }
    }
    /* the packed ids as text, once the replays are known */
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < kept; k++) {
        if (!flags[k])
            continue;
        char *out = t->id_text + text_at;
        for (size_t i = 0; i < t->span_id_lens[k]; i++) {
            unsigned char byte = (unsigned char)t->span_ids[k][i];
            out[2 * i] = digits[byte >> 4];
            out[2 * i + 1] = digits[byte & 15];
        }
        t->span_ids[k] = out;
        t->span_id_lens[k] *= 2;
        text_at += t->span_id_lens[k];
    }
    t->span_count = kept;
    free(table);
    free(flags);
    return (long long)records;
}

/* modes and now_each: per trace, or NULL for the caller's published flags and
 * one now_ms. */
static int store_finish(trace_store_t *store, const trace_store_done_t *done, const int *modes,
                        const int64_t *now_each, size_t count, int64_t now_ms, char *errstr,
                        size_t errstr_size);

/* Traces per load or finish script call: one partition's, and few enough for
 * Lua's unpack limit (8,000 values). */
#define STORE_GROUP_MAX 1000

typedef struct by_partition {
    int32_t partition;
    size_t index;
} by_partition_t;

static int by_partition_cmp(const void *a, const void *b) {
    const by_partition_t *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The positions of items sorted by partition, and where each group of one
 * partition (at most STORE_GROUP_MAX) starts: *group_start has groups + 1
 * entries. Both arrays to free. */
static int store_group(const int32_t *partitions, size_t stride, size_t count, by_partition_t **order,
                       size_t **group_start, size_t *groups) {
    *order = malloc((count + 1) * sizeof(**order));
    *group_start = malloc((count + 1) * sizeof(**group_start));
    if (!*order || !*group_start)
        return -1;
    for (size_t i = 0; i < count; i++)
        (*order)[i] = (by_partition_t){*(const int32_t *)((const char *)partitions + i * stride), i};
    qsort(*order, count, sizeof(**order), by_partition_cmp);
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (i == 0 || (*order)[i].partition != (*order)[i - 1].partition ||
            i - (*group_start)[n - 1] >= STORE_GROUP_MAX)
            (*group_start)[n++] = i;
    (*group_start)[n] = count;
    *groups = n;
    return 0;
}

int trace_store_load(trace_store_t *store, const trace_store_ref_t *refs, size_t count,
                     int64_t lease_until_ms, trace_store_trace_t **out, char *errstr,
                     size_t errstr_size) {
    *out = NULL;
    if (count == 0)
        return 0;
    int rc = -1;
    pipeline_t pl = {0};
    by_partition_t *order = NULL;
    size_t *group_start = NULL, groups = 0;
    trace_store_trace_t *traces = calloc(count, sizeof(*traces));
    /* per group of one partition: the lease script, then an LRANGE per trace */
    redisReply **replies = calloc(2 * count, sizeof(*replies));
    trace_store_done_t *unchanged = calloc(count, sizeof(*unchanged));
    int *modes = calloc(count, sizeof(*modes));
    int64_t *nows = calloc(count, sizeof(*nows));
    size_t n_unchanged = 0, n_replies = 0;
    if (!traces || !replies || !unchanged || !modes || !nows ||
        store_group(&refs[0].partition, sizeof(*refs), count, &order, &group_start, &groups) != 0)
        goto oom;
    for (size_t g = 0; g < groups; g++) {
        size_t b = group_start[g], e = group_start[g + 1];
        int32_t partition = order[b].partition;
        pipeline_command(&pl, (int)(4 + 2 * (e - b) + 2 + (e - b)));
        pipeline_str(&pl, "EVALSHA");
        pipeline_str(&pl, store->sha[SCRIPT_LOAD]);
        pipeline_int(&pl, (long long)(1 + 2 * (e - b)));
        pipeline_key(&pl, store, partition, "due", NULL);
        for (size_t k = b; k < e; k++) {
            pipeline_key(&pl, store, partition, "d", refs[order[k].index].trace_id);
            pipeline_key(&pl, store, partition, "m", refs[order[k].index].trace_id);
        }
        pipeline_int(&pl, lease_until_ms);
        pipeline_int(&pl, wall_ms());
        for (size_t k = b; k < e; k++)
            pipeline_str(&pl, refs[order[k].index].trace_id);
        for (size_t k = b; k < e; k++) {
            pipeline_command(&pl, 4);
            pipeline_str(&pl, "LRANGE");
            pipeline_key(&pl, store, partition, "d", refs[order[k].index].trace_id);
            pipeline_int(&pl, 0);
            pipeline_int(&pl, -1);
        }
    }
    if (store_run(store, &pl, replies, errstr, errstr_size) != 0)
        goto done;
    n_replies = pl.count;
    for (size_t i = 0; i < count; i++) {
        traces[i].partition = refs[i].partition;
        traces[i].trace_id = strdup(refs[i].trace_id);
        if (!traces[i].trace_id)
            goto oom;
    }
    size_t at = 0; /* the group's script reply */
    for (size_t g = 0; g < groups; g++) {
        size_t b = group_start[g], e = group_start[g + 1];
        redisReply *leases = replies[at];
        if (leases->type != REDIS_REPLY_ARRAY || leases->elements != e - b)
            goto unexpected;
        for (size_t k = b; k < e; k++) {
            size_t i = order[k].index;
            trace_store_trace_t *t = &traces[i];
            redisReply *r = leases->element[k - b], *data = replies[at + 1 + (k - b)];
            if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
                goto unexpected;
            if (reply_int(r->element[0]) != 1) /* 0: gone; 2: leased by another load */
                continue;
            if (r->elements != 7 || data->type != REDIS_REPLY_ARRAY)
                goto unexpected;
            if (data->elements == 0) { /* the records expired: off the schedule */
                modes[n_unchanged] = FINISH_GONE;
                nows[n_unchanged] = refs[i].due_ms;
                unchanged[n_unchanged++] = (trace_store_done_t){t->partition, t->trace_id, 0, 0, 0};
                continue;
            }
            int64_t gen = reply_int(r->element[1]);
            t->revision = reply_int(r->element[2]);
            t->has_run = reply_int(r->element[3]) != 0;
            t->dropped = reply_int(r->element[4]);
            int64_t published = reply_int(r->element[5]), counted = reply_int(r->element[6]);
            if (trace_decode(t, data) < 0)
                goto oom;
            t->reply = data;
            replies[at + 1 + (k - b)] = NULL;
            t->gen = token_make(gen, t->span_count);
            int64_t replays = gen - (int64_t)t->span_count;
            t->duplicates = replays > counted ? replays - counted : 0;
            if (published > 0 && published == (int64_t)t->span_count) {
                /* only replays since the last publication: the same profile again
                 * would be a revision with nothing new, so the lease just ends */
                modes[n_unchanged] = FINISH_UNCHANGED;
                nows[n_unchanged] = refs[i].due_ms; /* spans appended meanwhile: due a grace after it */
                unchanged[n_unchanged++] = (trace_store_done_t){t->partition, t->trace_id, t->gen, t->revision, 1};
                continue;
            }
            t->exists = 1;
        }
        at += 1 + (e - b);
    }
    if (n_unchanged &&
        store_finish(store, unchanged, modes, nows, n_unchanged, 0, errstr, errstr_size) != 0)
        goto done;
    rc = 0;
    *out = traces;
    traces = NULL;
    goto done;
unexpected:
    snprintf(errstr, errstr_size, "redis: unexpected reply to load");
    goto done;
oom:
    snprintf(errstr, errstr_size, "out of memory");
done:
    for (size_t i = 0; i < n_replies; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    free(replies);
    free(unchanged);
    free(modes);
    free(nows);
    free(order);
    free(group_start);
    trace_store_traces_free(traces, count);
    pipeline_free(&pl);
    return rc;
}

static int store_finish(trace_store_t *store, const trace_store_done_t *done, const int *modes,
                        const int64_t *now_each, size_t count, int64_t now_ms, char *errstr,
                        size_t errstr_size) {
    if (count == 0)
        return 0;
    int rc = -1;
    pipeline_t pl = {0};
    by_partition_t *order = NULL;
    size_t *group_start = NULL, groups = 0;
    redisReply **replies = calloc(count, sizeof(*replies));
    if (!replies || store_group(&done[0].partition, sizeof(*done), count, &order, &group_start, &groups) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t g = 0; g < groups; g++) {
        size_t b = group_start[g], e = group_start[g + 1];
        int32_t partition = order[b].partition;
        pipeline_command(&pl, (int)(4 + (e - b) + 8 * (e - b)));
        pipeline_str(&pl, "EVALSHA");
        pipeline_str(&pl, store->sha[SCRIPT_FINISH]);
        pipeline_int(&pl, (long long)(1 + (e - b)));
        pipeline_key(&pl, store, partition, "due", NULL);
        for (size_t k = b; k < e; k++)
            pipeline_key(&pl, store, partition, "m", done[order[k].index].trace_id);
        for (size_t k = b; k < e; k++) {
            size_t i = order[k].index;
            int64_t gen = done[i].gen >> TOKEN_SHIFT, distinct = done[i].gen & TOKEN_DISTINCT_MASK;
            int mode = modes ? modes[i] : done[i].published ? FINISH_PUBLISHED : FINISH_RETRY;
            pipeline_int(&pl, gen);
            pipeline_int(&pl, done[i].revision);
            pipeline_str(&pl, done[i].trace_id);
            pipeline_int(&pl, now_each ? now_each[i] : now_ms);
            pipeline_int(&pl, mode != FINISH_RETRY ? store->opt.grace_ms : TRACE_STORE_RETRY_MS);
            pipeline_int(&pl, mode);
            pipeline_int(&pl, distinct);
            pipeline_int(&pl, gen - distinct);
        }
    }
    if (store_run(store, &pl, replies, errstr, errstr_size) == 0) {
        rc = 0;
        for (size_t i = 0; i < pl.count; i++)
            freeReplyObject(replies[i]);
    }
done:
    free(replies);
    free(order);
    free(group_start);
    pipeline_free(&pl);
    return rc;
}

int trace_store_finish(trace_store_t *store, const trace_store_done_t *done, size_t count,
                       int64_t now_ms, char *errstr, size_t errstr_size) {
    return store_finish(store, done, NULL, NULL, count, now_ms, errstr, errstr_size);
}

int trace_store_open_count(trace_store_t *store, int32_t partition, int64_t *count,
                           char *errstr, size_t errstr_size) {
    pipeline_t pl = {0};
    redisReply *reply = NULL;
    pipeline_command(&pl, 2);
    pipeline_str(&pl, "ZCARD");
    pipeline_key(&pl, store, partition, "due", NULL);
    int rc = store_run(store, &pl, &reply, errstr, errstr_size);
    if (rc == 0) {
        *count = reply_int(reply);
        freeReplyObject(reply);
    }
    pipeline_free(&pl);
    return rc;
}

/* ---- the Redis nodes behind the store ------------------------------------------ */

size_t trace_store_redis_nodes(const trace_store_t *store, redis_route_node_stats_t *out, size_t max) {
    return redis_route_stats(store->route, out, max);
}

int trace_store_check_partitions(trace_store_t *store, const int32_t *partitions, size_t count,
                                 char *errstr, size_t errstr_size) {
    if (!redis_route_is_cluster(store->route) || count == 0)
        return 0;
    unsigned *slots = calloc(count, sizeof(*slots));
    if (!slots) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        /* the due set's key: the slot every key of the partition shares */
        char tag[1024];
        int len = snprintf(tag, sizeof(tag), "%s:" TRACE_STORE_LAYOUT ":{%s:%d}:due", store->prefix,
                           store->topic, (int)partitions[i]);
        slots[i] = redis_route_slot(tag, len > 0 && (size_t)len < sizeof(tag) ? (size_t)len : 0);
    }
    int rc = redis_route_check_slots(store->route, slots, count, errstr, errstr_size);
    free(slots);
    return rc;
}
