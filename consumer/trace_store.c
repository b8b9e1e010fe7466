/* trace_store.c -- open traces in Redis: atomic Lua scripts, pipelined batches.
 * See trace_store.h for the key layout and the guarantees. */
#include "trace_store.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Store a batch of spans of one trace. Per span: 0 added, 1 duplicate, 2 over a
 * limit, 3 refused because the partition has too many open traces, 4 refused
 * because the trace was profiled and its spans have expired (its bookkeeping
 * outlives the spans by one TTL to tell).
 *
 * A fixed number of Redis calls per trace, whatever its span count: one HMGET
 * finds the duplicates and one HSET stores the rest (in chunks that stay under
 * Lua's unpack limit). A HEXISTS and a HSET per span made redis-server spend
 * about 10 CPU seconds per million spans (bench_e2e). */
static const char APPEND_LUA[] =
    "local out, count = {}, (#ARGV - 8) / 3\n"
    "local n = redis.call('HLEN', KEYS[1])\n"
    "local m = redis.call('HMGET', KEYS[2], 'rev', 'bytes', 'lease', 'run', 'gen')\n"
    "local function all(code) for i = 1, count do out[i] = code end return out end\n"
    "if n == 0 and tonumber(m[1] or '0') > 0 then return all(4) end\n"
    "if n == 0 and tonumber(ARGV[8]) > 0 and redis.call('EXISTS', KEYS[2]) == 0 and\n"
    "   redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[8]) then return all(3) end\n"
    "local have = {}\n"
    "if n > 0 then\n"
    "  for c = 0, count - 1, 1000 do\n"
    "    local ids = {}\n"
    "    for i = c, math.min(c + 999, count - 1) do ids[#ids + 1] = ARGV[9 + 3 * i] end\n"
    "    local found = redis.call('HMGET', KEYS[1], unpack(ids))\n"
    "    for i = 1, #ids do if found[i] then have[ids[i]] = true end end\n"
    "  end\n"
    "end\n"
    "local bytes = tonumber(m[2] or '0')\n"
    "local max_spans, max_bytes = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local fields, added, dropped, run = {}, 0, 0, m[4]\n"
    "for i = 0, count - 1 do\n"
    "  local id, blob = ARGV[9 + 3 * i], ARGV[10 + 3 * i]\n"
    "  local len = string.len(blob)\n"
    "  if have[id] then out[i + 1] = 1\n"
    "  elseif n >= max_spans or bytes + len > max_bytes then\n"
    "    out[i + 1] = 2; dropped = dropped + 1\n"
    "  else\n"
    "    have[id] = true\n"
    "    fields[#fields + 1] = id; fields[#fields + 1] = blob\n"
    "    n = n + 1; bytes = bytes + len; added = added + 1; out[i + 1] = 0\n"
    "    if ARGV[11 + 3 * i] == '1' then run = '1' end\n"
    "  end\n"
    "end\n"
    "if dropped > 0 then redis.call('HINCRBY', KEYS[2], 'dropped', dropped) end\n"
    "if added > 0 then\n"
    "  for c = 1, #fields, 2000 do\n"
    "    redis.call('HSET', KEYS[1], unpack(fields, c, math.min(c + 1999, #fields)))\n"
    "  end\n"
    "  local gen = tonumber(m[5] or '0') + added\n"
    "  if run then redis.call('HSET', KEYS[2], 'gen', gen, 'bytes', bytes, 'run', '1')\n"
    "  else redis.call('HSET', KEYS[2], 'gen', gen, 'bytes', bytes) end\n"
    "  local due\n"
    "  if run then due = tonumber(ARGV[1]) + tonumber(ARGV[2])\n"
    "  else due = tonumber(ARGV[1]) + tonumber(ARGV[3]) end\n"
    "  local lease = tonumber(m[3] or '0')\n"
    "  if lease > due then due = lease end\n"
    "  redis.call('ZADD', KEYS[3], due, ARGV[5])\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "  redis.call('EXPIRE', KEYS[2], 2 * tonumber(ARGV[4]))\n"
    "end\n"
    "return out\n";

/* Load a trace: {exists, gen, rev, run, dropped, {span_id, blob, ...}}. The
 * trace is leased until ARGV[2] (ms): it leaves the due schedule until then, so
 * no instance profiles it twice at once; a crashed holder's lease runs out and
 * the partition's owner takes the trace up again. The lease remembers how many
 * spans it covered (lease_gen): when an unfinished lease is found and spans
 * came since, the crashed holder may have published that revision already, so
 * this load takes the next one -- one profile_id never names two contents.
 * A trace whose spans expired leaves the due set here. */
static const char LOAD_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "  return {0}\n"
    "end\n"
    "local gen = redis.call('HGET', KEYS[2], 'gen') or '0'\n"
    "local lease_gen = redis.call('HGET', KEYS[2], 'lease_gen')\n"
    "if lease_gen and lease_gen ~= gen then redis.call('HINCRBY', KEYS[2], 'rev', 1) end\n"
    "redis.call('HSET', KEYS[2], 'lease', ARGV[2], 'lease_gen', gen)\n"
    "redis.call('ZADD', KEYS[3], 'XX', ARGV[2], ARGV[1])\n"
    "local m = redis.call('HMGET', KEYS[2], 'gen', 'rev', 'run', 'dropped')\n"
    "return {1, m[1] or '0', m[2] or '0', m[3] or '0', m[4] or '0', redis.call('HGETALL', KEYS[1])}\n";

/* End a lease. Published (ARGV[6] = 1): count the next revision, and leave the
 * due set unless spans were added after the load, in which case the next
 * revision is due after the grace period. Not published: due again at ARGV[4]
 * + ARGV[5], to retry. */
static const char FINISH_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[3])\n"
    "  return 0\n"
    "end\n"
    "redis.call('HDEL', KEYS[1], 'lease', 'lease_gen')\n"
    "if ARGV[6] ~= '1' then\n"
    "  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "local rev = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')\n"
    "if rev <= tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'rev', tonumber(ARGV[2]) + 1) end\n"
    "if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then redis.call('ZREM', KEYS[2], ARGV[3])\n"
    "else redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[3]) end\n"
    "return 1\n";

enum { SCRIPT_APPEND, SCRIPT_LOAD, SCRIPT_FINISH, SCRIPT_COUNT };
static const char *const SCRIPTS[SCRIPT_COUNT] = {APPEND_LUA, LOAD_LUA, FINISH_LUA};

struct trace_store {
    trace_store_options_t opt;
    char *host, *user, *password, *prefix, *topic; /* owned copies of the options */
    redisContext *ctx;
    char sha[SCRIPT_COUNT][41];
    uint64_t round_trips;
    uint64_t commands;
};

/* ---- a pipeline of commands, built then sent in one round trip -------------- */

typedef struct pipeline {
    size_t count, cap;
    int *argc;
    const char ***argv;
    size_t **argvlen;
    char **owned; /* strings built for the pipeline (keys, numbers) */
    size_t owned_count, owned_cap;
    int failed;
} pipeline_t;

static void pipeline_free(pipeline_t *pl) {
    for (size_t i = 0; i < pl->count; i++) {
        free(pl->argv[i]);
        free(pl->argvlen[i]);
    }
    for (size_t i = 0; i < pl->owned_count; i++)
        free(pl->owned[i]);
    free(pl->argc);
    free(pl->argv);
    free(pl->argvlen);
    free(pl->owned);
    memset(pl, 0, sizeof(*pl));
}

static const char *pipeline_keep(pipeline_t *pl, char *text) {
    if (!text) {
        pl->failed = 1;
        return "";
    }
    if (pl->owned_count == pl->owned_cap) {
        size_t cap = pl->owned_cap ? pl->owned_cap * 2 : 64;
        char **grown = realloc(pl->owned, cap * sizeof(*grown));
        if (!grown) {
            free(text);
            pl->failed = 1;
            return "";
        }
        pl->owned = grown;
        pl->owned_cap = cap;
    }
    pl->owned[pl->owned_count++] = text;
    return text;
}

static const char *pipeline_printf(pipeline_t *pl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *pipeline_printf(pipeline_t *pl, const char *fmt, ...) {
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    return pipeline_keep(pl, text);
}

/* Add a command of argc arguments; returns its slot to fill with pipeline_arg. */
static size_t pipeline_command(pipeline_t *pl, int argc) {
    if (pl->count == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        int *a = realloc(pl->argc, cap * sizeof(*a));
        if (a)
            pl->argc = a;
        const char ***v = realloc(pl->argv, cap * sizeof(*v));
        if (v)
            pl->argv = v;
        size_t **l = realloc(pl->argvlen, cap * sizeof(*l));
        if (l)
            pl->argvlen = l;
        if (!a || !v || !l) {
            pl->failed = 1;
            return SIZE_MAX;
        }
        pl->cap = cap;
    }
    size_t slot = pl->count;
    pl->argv[slot] = calloc((size_t)argc, sizeof(char *));
    pl->argvlen[slot] = calloc((size_t)argc, sizeof(size_t));
    pl->argc[slot] = 0;
    if (!pl->argv[slot] || !pl->argvlen[slot]) {
        free(pl->argv[slot]);
        free(pl->argvlen[slot]);
        pl->failed = 1;
        return SIZE_MAX;
    }
    pl->count++;
    return slot;
}

static void pipeline_arg(pipeline_t *pl, size_t slot, const void *data, size_t len) {
    if (slot == SIZE_MAX)
        return;
    int i = pl->argc[slot]++;
    pl->argv[slot][i] = data;
    pl->argvlen[slot][i] = len;
}

static void pipeline_str(pipeline_t *pl, size_t slot, const char *text) {
    pipeline_arg(pl, slot, text, strlen(text));
}

/* ---- connection --------------------------------------------------------------- */

static int store_fail(trace_store_t *store, char *errstr, size_t errstr_size, const char *what) {
    snprintf(errstr, errstr_size, "redis %s:%d: %s: %s", store->host, store->opt.port, what,
             store->ctx && store->ctx->err ? store->ctx->errstr : "connection lost");
    if (store->ctx) {
        redisFree(store->ctx);
        store->ctx = NULL;
    }
    return -1;
}

static int store_command(trace_store_t *store, redisReply **out, char *errstr, size_t errstr_size,
                         const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(store->ctx, fmt, ap);
    va_end(ap);
    store->round_trips++;
    store->commands++;
    if (!r)
        return store_fail(store, errstr, errstr_size, "command failed");
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis %s:%d: %s", store->host, store->opt.port, r->str);
        freeReplyObject(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        freeReplyObject(r);
    return 0;
}

static int store_connect(trace_store_t *store, char *errstr, size_t errstr_size) {
    if (store->ctx)
        return 0;
    int ms = store->opt.timeout_ms > 0 ? store->opt.timeout_ms : 5000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    store->ctx = redisConnectWithTimeout(store->host, store->opt.port, tv);
    if (!store->ctx || store->ctx->err)
        return store_fail(store, errstr, errstr_size, "cannot connect");
    if (redisSetTimeout(store->ctx, tv) != REDIS_OK)
        return store_fail(store, errstr, errstr_size, "cannot set timeout");
    if (store->password && store->password[0]) {
        int rc = store->user && store->user[0]
                     ? store_command(store, NULL, errstr, errstr_size, "AUTH %s %s", store->user, store->password)
                     : store_command(store, NULL, errstr, errstr_size, "AUTH %s", store->password);
        if (rc != 0)
            goto fail;
    }
    if (store->opt.db && store_command(store, NULL, errstr, errstr_size, "SELECT %d", store->opt.db) != 0)
        goto fail;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        redisReply *r = NULL;
        if (store_command(store, &r, errstr, errstr_size, "SCRIPT LOAD %s", SCRIPTS[i]) != 0)
            goto fail;
        snprintf(store->sha[i], sizeof(store->sha[i]), "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
        freeReplyObject(r);
    }
    return 0;
fail:
    if (store->ctx) {
        redisFree(store->ctx);
        store->ctx = NULL;
    }
    return -1;
}

/* Send a pipeline and collect one reply per command (replies[i], to free).
 * A NOSCRIPT error (Redis restarted without our scripts) reloads them and
 * sends the pipeline once more; every script here is safe to repeat. */
static int store_run(trace_store_t *store, pipeline_t *pl, redisReply **replies, char *errstr,
                     size_t errstr_size) {
    if (pl->failed) {
        snprintf(errstr, errstr_size, "out of memory building a redis pipeline");
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (store_connect(store, errstr, errstr_size) != 0)
            return -1;
        for (size_t i = 0; i < pl->count; i++)
            if (redisAppendCommandArgv(store->ctx, pl->argc[i], pl->argv[i], pl->argvlen[i]) != REDIS_OK)
                return store_fail(store, errstr, errstr_size, "cannot queue command");
        store->round_trips++;
        store->commands += pl->count;
        int noscript = 0, failed = 0;
        for (size_t i = 0; i < pl->count; i++) {
            void *reply = NULL;
            if (redisGetReply(store->ctx, &reply) != REDIS_OK || !reply) {
                for (size_t j = 0; j < i; j++)
                    freeReplyObject(replies[j]);
                return store_fail(store, errstr, errstr_size, "no reply");
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
        redisFree(store->ctx); /* reconnecting reloads the scripts */
        store->ctx = NULL;
    }
    snprintf(errstr, errstr_size, "redis %s:%d: scripts could not be loaded", store->host,
             store->opt.port);
    return -1;
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
    if (store_connect(store, errstr, errstr_size) != 0)
        goto fail;
    return store;
fail:
    trace_store_free(store);
    return NULL;
}

void trace_store_free(trace_store_t *store) {
    if (!store)
        return;
    if (store->ctx)
        redisFree(store->ctx);
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

static const char *key_of(trace_store_t *store, pipeline_t *pl, int32_t partition, const char *kind,
                          const char *trace_id) {
    if (trace_id)
        return pipeline_printf(pl, "%s:{%s:%d}:%s:%s", store->prefix, store->topic, (int)partition,
                               kind, trace_id);
    return pipeline_printf(pl, "%s:{%s:%d}:%s", store->prefix, store->topic, (int)partition, kind);
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

int trace_store_append(trace_store_t *store, const trace_store_span_t *spans, size_t count,
                       int64_t now_ms, trace_store_outcome_t *outcomes, char *errstr,
                       size_t errstr_size) {
    if (count == 0)
        return 0;
    int rc = -1;
    pipeline_t pl = {0};
    redisReply **replies = NULL;
    size_t *group_start = NULL;
    span_order_t *order = malloc(count * sizeof(*order));
    if (!order)
        goto oom;
    for (size_t i = 0; i < count; i++)
        order[i] = (span_order_t){&spans[i], i};
    /* one script call per trace: spans of a trace grouped together */
    qsort(order, count, sizeof(*order), span_order_cmp);
    group_start = malloc((count + 1) * sizeof(*group_start));
    if (!group_start)
        goto oom;
    size_t groups = 0;
    const char *now = pipeline_printf(&pl, "%lld", (long long)now_ms);
    const char *grace = pipeline_printf(&pl, "%lld", (long long)store->opt.grace_ms);
    const char *idle = pipeline_printf(&pl, "%lld", (long long)store->opt.idle_timeout_ms);
    const char *ttl = pipeline_printf(&pl, "%lld", (long long)store->opt.ttl_s);
    const char *max_spans = pipeline_printf(&pl, "%lld", (long long)store->opt.max_spans_per_trace);
    const char *max_bytes = pipeline_printf(&pl, "%lld", (long long)store->opt.max_bytes_per_trace);
    const char *max_open = pipeline_printf(&pl, "%lld", (long long)store->opt.max_open_traces);
    for (size_t i = 0; i < count;) {
        size_t j = i;
        while (j < count && order[j].span->partition == order[i].span->partition &&
               strcmp(order[j].span->trace_id, order[i].span->trace_id) == 0)
            j++;
        group_start[groups++] = i;
        const trace_store_span_t *first = order[i].span;
        size_t slot = pipeline_command(&pl, 3 + 3 + 8 + 3 * (int)(j - i));
        pipeline_str(&pl, slot, "EVALSHA");
        pipeline_str(&pl, slot, store->sha[SCRIPT_APPEND]);
        pipeline_str(&pl, slot, "3");
        pipeline_str(&pl, slot, key_of(store, &pl, first->partition, "s", first->trace_id));
        pipeline_str(&pl, slot, key_of(store, &pl, first->partition, "m", first->trace_id));
        pipeline_str(&pl, slot, key_of(store, &pl, first->partition, "due", NULL));
        pipeline_str(&pl, slot, now);
        pipeline_str(&pl, slot, grace);
        pipeline_str(&pl, slot, idle);
        pipeline_str(&pl, slot, ttl);
        pipeline_str(&pl, slot, first->trace_id);
        pipeline_str(&pl, slot, max_spans);
        pipeline_str(&pl, slot, max_bytes);
        pipeline_str(&pl, slot, max_open);
        for (size_t k = i; k < j; k++) {
            pipeline_str(&pl, slot, order[k].span->span_id);
            pipeline_arg(&pl, slot, order[k].span->blob, order[k].span->blob_len);
            pipeline_str(&pl, slot, order[k].span->is_run ? "1" : "0");
        }
        i = j;
    }
    group_start[groups] = count;
    replies = calloc(groups + 1, sizeof(*replies));
    if (!replies)
        goto oom;
    if (store_run(store, &pl, replies, errstr, errstr_size) != 0)
        goto done;
    for (size_t g = 0; g < groups; g++) {
        redisReply *r = replies[g];
        size_t b = group_start[g], e = group_start[g + 1];
        if (r->type != REDIS_REPLY_ARRAY || r->elements != e - b) {
            snprintf(errstr, errstr_size, "redis: unexpected reply to append");
            goto done_free;
        }
        for (size_t k = b; k < e; k++)
            outcomes[order[k].index] = (trace_store_outcome_t)r->element[k - b]->integer;
    }
    rc = 0;
done_free:
    for (size_t g = 0; g < groups; g++)
        freeReplyObject(replies[g]);
    goto done;
oom:
    snprintf(errstr, errstr_size, "out of memory");
done:
    free(replies);
    free(group_start);
    free(order);
    pipeline_free(&pl);
    return rc;
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
    const char *now = pipeline_printf(&pl, "%lld", (long long)now_ms);
    const char *limit = pipeline_printf(&pl, "%zu", share);
    for (size_t i = 0; i < partition_count; i++) {
        size_t slot = pipeline_command(&pl, 8);
        pipeline_str(&pl, slot, "ZRANGEBYSCORE");
        pipeline_str(&pl, slot, key_of(store, &pl, partitions[i], "due", NULL));
        pipeline_str(&pl, slot, "-inf");
        pipeline_str(&pl, slot, now);
        pipeline_str(&pl, slot, "WITHSCORES");
        pipeline_str(&pl, slot, "LIMIT");
        pipeline_str(&pl, slot, "0");
        pipeline_str(&pl, slot, limit);
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
        if (traces[i].reply)
            freeReplyObject(traces[i].reply);
    }
    free(traces);
}

static int64_t reply_int(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
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
    trace_store_trace_t *traces = calloc(count, sizeof(*traces));
    redisReply **replies = calloc(count, sizeof(*replies));
    if (!traces || !replies)
        goto oom;
    const char *lease = pipeline_printf(&pl, "%lld", (long long)lease_until_ms);
    for (size_t i = 0; i < count; i++) {
        size_t slot = pipeline_command(&pl, 8);
        pipeline_str(&pl, slot, "EVALSHA");
        pipeline_str(&pl, slot, store->sha[SCRIPT_LOAD]);
        pipeline_str(&pl, slot, "3");
        pipeline_str(&pl, slot, key_of(store, &pl, refs[i].partition, "s", refs[i].trace_id));
        pipeline_str(&pl, slot, key_of(store, &pl, refs[i].partition, "m", refs[i].trace_id));
        pipeline_str(&pl, slot, key_of(store, &pl, refs[i].partition, "due", NULL));
        pipeline_str(&pl, slot, refs[i].trace_id);
        pipeline_str(&pl, slot, lease);
    }
    if (store_run(store, &pl, replies, errstr, errstr_size) != 0)
        goto done;
    for (size_t i = 0; i < count; i++) {
        trace_store_trace_t *t = &traces[i];
        redisReply *r = replies[i];
        t->reply = r;
        replies[i] = NULL;
        t->partition = refs[i].partition;
        t->trace_id = strdup(refs[i].trace_id);
        if (!t->trace_id)
            goto oom;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || reply_int(r->element[0]) == 0)
            continue;
        if (r->elements != 6 || r->element[5]->type != REDIS_REPLY_ARRAY) {
            snprintf(errstr, errstr_size, "redis: unexpected reply to load");
            goto done;
        }
        t->exists = 1;
        t->gen = reply_int(r->element[1]);
        t->revision = reply_int(r->element[2]);
        t->has_run = reply_int(r->element[3]) != 0;
        t->dropped = reply_int(r->element[4]);
        redisReply *kv = r->element[5];
        t->span_count = kv->elements / 2;
        t->blobs = calloc(t->span_count + 1, sizeof(*t->blobs));
        t->blob_lens = calloc(t->span_count + 1, sizeof(*t->blob_lens));
        if (!t->blobs || !t->blob_lens)
            goto oom;
        for (size_t k = 0; k < t->span_count; k++) {
            t->blobs[k] = kv->element[2 * k + 1]->str;
            t->blob_lens[k] = kv->element[2 * k + 1]->len;
        }
    }
    rc = 0;
    *out = traces;
    traces = NULL;
    goto done;
oom:
    snprintf(errstr, errstr_size, "out of memory");
done:
    if (replies)
        for (size_t i = 0; i < count; i++)
            if (replies[i])
                freeReplyObject(replies[i]);
    free(replies);
    trace_store_traces_free(traces, count);
    pipeline_free(&pl);
    return rc;
}

int trace_store_finish(trace_store_t *store, const trace_store_done_t *done, size_t count,
                       int64_t now_ms, char *errstr, size_t errstr_size) {
    if (count == 0)
        return 0;
    int rc = -1;
    pipeline_t pl = {0};
    redisReply **replies = calloc(count, sizeof(*replies));
    if (!replies) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    const char *now = pipeline_printf(&pl, "%lld", (long long)now_ms);
    const char *grace = pipeline_printf(&pl, "%lld", (long long)store->opt.grace_ms);
    const char *retry = pipeline_printf(&pl, "%lld", (long long)TRACE_STORE_RETRY_MS);
    for (size_t i = 0; i < count; i++) {
        size_t slot = pipeline_command(&pl, 11);
        pipeline_str(&pl, slot, "EVALSHA");
        pipeline_str(&pl, slot, store->sha[SCRIPT_FINISH]);
        pipeline_str(&pl, slot, "2");
        pipeline_str(&pl, slot, key_of(store, &pl, done[i].partition, "m", done[i].trace_id));
        pipeline_str(&pl, slot, key_of(store, &pl, done[i].partition, "due", NULL));
        pipeline_str(&pl, slot, pipeline_printf(&pl, "%lld", (long long)done[i].gen));
        pipeline_str(&pl, slot, pipeline_printf(&pl, "%lld", (long long)done[i].revision));
        pipeline_str(&pl, slot, done[i].trace_id);
        pipeline_str(&pl, slot, now);
        pipeline_str(&pl, slot, done[i].published ? grace : retry);
        pipeline_str(&pl, slot, done[i].published ? "1" : "0");
    }
    if (store_run(store, &pl, replies, errstr, errstr_size) == 0) {
        rc = 0;
        for (size_t i = 0; i < count; i++)
            freeReplyObject(replies[i]);
    }
    free(replies);
    pipeline_free(&pl);
    return rc;
}

int trace_store_open_count(trace_store_t *store, int32_t partition, int64_t *count,
                           char *errstr, size_t errstr_size) {
    pipeline_t pl = {0};
    redisReply *reply = NULL;
    size_t slot = pipeline_command(&pl, 2);
    pipeline_str(&pl, slot, "ZCARD");
    pipeline_str(&pl, slot, key_of(store, &pl, partition, "due", NULL));
    int rc = store_run(store, &pl, &reply, errstr, errstr_size);
    if (rc == 0) {
        *count = reply_int(reply);
        freeReplyObject(reply);
    }
    pipeline_free(&pl);
    return rc;
}
