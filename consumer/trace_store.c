/* trace_store.c -- open traces in Redis: atomic Lua scripts, pipelined batches.
 * See trace_store.h for the key layout and the guarantees. */
#include "trace_store.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Store a batch's spans of one partition. KEYS: the partition's due set, then
 * the span hash and the meta hash of each trace. ARGV: now, grace, idle, ttl,
 * max spans, max bytes, max open traces; then per trace its id, its span count,
 * its run marks ("" when none of its spans is a run span, else one '0' or '1'
 * per span) and (span_id, blob) per span. Returns per trace 0 when every span
 * was added, else a string of one digit per span: 0 added, 1 duplicate, 2 over
 * a limit, 3 refused because the partition has too many open traces, 4 refused
 * because the trace was profiled and its spans have expired (its bookkeeping
 * outlives the spans by one TTL to tell).
 *
 * Redis work per trace is a fixed handful of calls whatever its span count:
 * one HMGET finds the duplicates, one HSET stores the rest (in chunks under
 * Lua's unpack limit), one ZADD per partition schedules every trace, and the
 * TTLs are renewed only when a quarter of the TTL has passed ('exp'). What is
 * left is the cost of each argument and table slot in Lua, so a span carries
 * two arguments and a trace whose spans were all added answers with one
 * integer (bench_e2e: the script was most of redis-server's CPU). New traces
 * of this call count towards the open limit as they are accepted. */
static const char APPEND_LUA[] =
    "local now, grace, idle, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local max_spans, max_bytes, max_open = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local result, schedule, nsched, open, a = {}, {}, 0, nil, 8\n"
    "local function chunked(cmd, key, list, step)\n"
    "  local out = {}\n"
    "  for c = 1, #list, step do\n"
    "    local r = redis.call(cmd, key, unpack(list, c, math.min(c + step - 1, #list)))\n"
    "    if type(r) == 'table' then for i = 1, #r do out[#out + 1] = r[i] end end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "for t = 1, (#KEYS - 1) / 2 do\n"
    "  local skey, mkey = KEYS[2 * t], KEYS[2 * t + 1]\n"
    "  local trace_id, count, runs, first = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], a + 3\n"
    "  a = first + 2 * count\n"
    "  local n = redis.call('HLEN', skey)\n"
    "  local m = redis.call('HMGET', mkey, 'rev', 'bytes', 'lease', 'run', 'gen', 'exp')\n"
    "  local refuse\n"
    "  if n == 0 and tonumber(m[1] or '0') > 0 then refuse = 4\n"
    "  elseif n == 0 and max_open > 0 and redis.call('EXISTS', mkey) == 0 then\n"
    "    open = open or redis.call('ZCARD', KEYS[1])\n"
    "    if open >= max_open then refuse = 3 else open = open + 1 end\n"
    "  end\n"
    "  if refuse then\n"
    "    result[t] = string.rep(refuse, count)\n"
    "  else\n"
    "    local have = {}\n"
    "    if n > 0 then\n"
    "      local ids = {}\n"
    "      for i = 0, count - 1 do ids[i + 1] = ARGV[first + 2 * i] end\n"
    "      local found = chunked('HMGET', skey, ids, 1000)\n"
    "      for i = 1, count do if found[i] then have[ids[i]] = true end end\n"
    "    end\n"
    "    local bytes, fields, nf, added, dropped, run = tonumber(m[2] or '0'), {}, 0, 0, 0, m[4]\n"
    "    local marks = runs ~= ''\n"
    "    local out\n"
    "    for i = 0, count - 1 do\n"
    "      local id, blob = ARGV[first + 2 * i], ARGV[first + 2 * i + 1]\n"
    "      local len, o = #blob, 0\n"
    "      if have[id] then o = 1\n"
    "      elseif n >= max_spans or bytes + len > max_bytes then o = 2; dropped = dropped + 1\n"
    "      else\n"
    "        have[id] = true\n"
    "        fields[nf + 1] = id; fields[nf + 2] = blob; nf = nf + 2\n"
    "        n = n + 1; bytes = bytes + len; added = added + 1\n"
    "        if marks and string.byte(runs, i + 1) == 49 then run = '1' end\n"
    "      end\n"
    "      if o ~= 0 and not out then\n"
    "        out = {}\n"
    "        for j = 1, i do out[j] = 0 end\n"
    "      end\n"
    "      if out then out[i + 1] = o end\n"
    "    end\n"
    "    result[t] = out and table.concat(out) or 0\n"
    "    if dropped > 0 then redis.call('HINCRBY', mkey, 'dropped', dropped) end\n"
    "    if added > 0 then\n"
    "      chunked('HSET', skey, fields, 2000)\n"
    "      local gen = tonumber(m[5] or '0') + added\n"
    "      local renew = not m[6] or now - tonumber(m[6]) > ttl * 250\n"
    "      local set = {'gen', gen, 'bytes', bytes}\n"
    "      if run then set[5] = 'run'; set[6] = '1' end\n"
    "      if renew then set[#set + 1] = 'exp'; set[#set + 1] = now end\n"
    "      redis.call('HSET', mkey, unpack(set))\n"
    "      local due = now + (run and grace or idle)\n"
    "      local lease = tonumber(m[3] or '0')\n"
    "      if lease > due then due = lease end\n"
    "      schedule[nsched + 1] = due; schedule[nsched + 2] = trace_id; nsched = nsched + 2\n"
    "      if renew then\n"
    "        redis.call('EXPIRE', skey, ttl)\n"
    "        redis.call('EXPIRE', mkey, 2 * ttl)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "chunked('ZADD', KEYS[1], schedule, 2000)\n"
    "return result\n";

/* Lease a trace for loading: {exists, gen, rev, run, dropped}. The spans are
 * read by an HVALS sent right after in the same pipeline: passed through Lua,
 * every blob was converted twice, and loads cost redis-server more than the
 * appends of the same spans (bench_e2e). A span added between the two commands
 * is in the blobs but not in gen, so finishing sees gen moved and profiles the
 * trace again: nothing is missed. The trace is leased until ARGV[2] (ms): it
 * leaves the due schedule until then, so no instance profiles it twice at once;
 * a crashed holder's lease runs out and the partition's owner takes the trace up
 * again. The lease remembers how many spans it covered (lease_gen): when an
 * unfinished lease is found and spans came since, the crashed holder may have
 * published that revision already, so this load takes the next one -- one
 * profile_id never names two contents. A trace whose spans expired leaves the
 * due set here. */
static const char LOAD_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "  return {0}\n"
    "end\n"
    "local m = redis.call('HMGET', KEYS[2], 'gen', 'rev', 'run', 'dropped', 'lease_gen')\n"
    "local gen, rev = m[1] or '0', m[2] or '0'\n"
    "if m[5] and m[5] ~= gen then rev = redis.call('HINCRBY', KEYS[2], 'rev', 1) end\n"
    "redis.call('HSET', KEYS[2], 'lease', ARGV[2], 'lease_gen', gen)\n"
    "redis.call('ZADD', KEYS[3], 'XX', ARGV[2], ARGV[1])\n"
    "return {1, gen, rev, m[3] or '0', m[4] or '0'}\n";

/* End a lease. Published (ARGV[6] = 1): count the next revision, and leave the
 * due set unless spans were added after the load, in which case the next
 * revision is due after the grace period. Not published: due again at ARGV[4]
 * + ARGV[5], to retry. A loaded trace's meta always has 'gen'. */
static const char FINISH_LUA[] =
    "local m = redis.call('HMGET', KEYS[1], 'rev', 'gen')\n"
    "if not m[2] then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[3])\n"
    "  return 0\n"
    "end\n"
    "redis.call('HDEL', KEYS[1], 'lease', 'lease_gen')\n"
    "if ARGV[6] ~= '1' then\n"
    "  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "if tonumber(m[1] or '0') <= tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'rev', tonumber(ARGV[2]) + 1) end\n"
    "if m[2] == ARGV[1] then redis.call('ZREM', KEYS[2], ARGV[3])\n"
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

/* Commands are written straight in the Redis protocol (RESP) into one buffer,
 * handed to hiredis whole: formatting through redisAppendCommandArgv, with an
 * argv and a formatted key allocated per command, was a tenth of `dagprof
 * run`'s CPU (bench_e2e). */
typedef struct pipeline {
    char *data;
    size_t len, cap;
    size_t count; /* commands */
    int failed;
} pipeline_t;

static void pipeline_free(pipeline_t *pl) {
    free(pl->data);
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

/* Write a pipeline to Redis without waiting for its replies. */
static int store_send(trace_store_t *store, pipeline_t *pl, char *errstr, size_t errstr_size) {
    if (pl->failed) {
        snprintf(errstr, errstr_size, "out of memory building a redis pipeline");
        return -1;
    }
    if (store_connect(store, errstr, errstr_size) != 0)
        return -1;
    if (redisAppendFormattedCommand(store->ctx, pl->data, pl->len) != REDIS_OK)
        return store_fail(store, errstr, errstr_size, "cannot queue commands");
    int done = 0;
    while (!done)
        if (redisBufferWrite(store->ctx, &done) != REDIS_OK)
            return store_fail(store, errstr, errstr_size, "cannot send commands");
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
        if (!store->ctx) {
            snprintf(errstr, errstr_size, "redis %s:%d: connection lost", store->host, store->opt.port);
            return -1;
        }
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

/* A key as one argument: <prefix>:{<topic>:<partition>}:<kind>[:<trace_id>].
 * The braces are a cluster hash tag: a partition's keys share a slot, so its
 * scripts may touch them together. */
static void pipeline_key(pipeline_t *pl, const trace_store_t *store, int32_t partition,
                         const char *kind, const char *trace_id) {
    char head[64];
    int part_len = snprintf(head, sizeof(head), ":%d}:", (int)partition);
    size_t prefix_len = strlen(store->prefix), topic_len = strlen(store->topic),
           kind_len = strlen(kind), id_len = trace_id ? strlen(trace_id) : 0;
    size_t len = prefix_len + 2 + topic_len + (size_t)part_len + kind_len + (trace_id ? 1 + id_len : 0);
    pipeline_header(pl, '$', len);
    pipeline_write(pl, store->prefix, prefix_len);
    pipeline_write(pl, ":{", 2);
    pipeline_write(pl, store->topic, topic_len);
    pipeline_write(pl, head, (size_t)part_len);
    pipeline_write(pl, kind, kind_len);
    if (trace_id) {
        pipeline_write(pl, ":", 1);
        pipeline_write(pl, trace_id, id_len);
    }
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

struct trace_store_pending {
    pipeline_t pl;
    span_order_t *order; /* the spans by partition and trace, borrowed from the caller */
    size_t *trace_start, *part_start;
    size_t parts, count;
    redisReply **replies; /* one per partition: room taken before sending */
};

void trace_store_pending_free(trace_store_pending_t *p) {
    if (!p)
        return;
    pipeline_free(&p->pl);
    free(p->order);
    free(p->trace_start);
    free(p->part_start);
    free(p->replies);
    free(p);
}

int trace_store_append_send(trace_store_t *store, const trace_store_span_t *spans, size_t count,
                            int64_t now_ms, trace_store_pending_t **out, char *errstr,
                            size_t errstr_size) {
    *out = NULL;
    trace_store_pending_t *pd = calloc(1, sizeof(*pd));
    if (!pd)
        goto oom;
    pd->count = count;
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
    /* one script call per partition, the spans of each trace together */
    qsort(order, count, sizeof(*order), span_order_cmp);
    size_t *trace_start = pd->trace_start = malloc((count + 1) * sizeof(*trace_start));
    size_t *part_start = pd->part_start = malloc((count + 1) * sizeof(*part_start)); /* into trace_start */
    if (!trace_start || !part_start)
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
    pd->replies = calloc(parts + 1, sizeof(*pd->replies));
    if (!pd->replies)
        goto oom;
    for (size_t p = 0; p < parts; p++) {
        size_t tb = part_start[p], te = part_start[p + 1];
        size_t sb = trace_start[tb], se = trace_start[te];
        int32_t partition = order[sb].span->partition;
        size_t keys = 1 + 2 * (te - tb);
        pipeline_command(pl, (int)(3 + keys + 7 + 3 * (te - tb) + 2 * (se - sb)));
        pipeline_str(pl, "EVALSHA");
        pipeline_str(pl, store->sha[SCRIPT_APPEND]);
        pipeline_int(pl, (long long)keys);
        pipeline_key(pl, store, partition, "due", NULL);
        for (size_t t = tb; t < te; t++) {
            pipeline_key(pl, store, partition, "s", order[trace_start[t]].span->trace_id);
            pipeline_key(pl, store, partition, "m", order[trace_start[t]].span->trace_id);
        }
        pipeline_int(pl, now_ms);
        pipeline_int(pl, store->opt.grace_ms);
        pipeline_int(pl, store->opt.idle_timeout_ms);
        pipeline_int(pl, store->opt.ttl_s);
        pipeline_int(pl, store->opt.max_spans_per_trace);
        pipeline_int(pl, store->opt.max_bytes_per_trace);
        pipeline_int(pl, store->opt.max_open_traces);
        for (size_t t = tb; t < te; t++) {
            pipeline_str(pl, order[trace_start[t]].span->trace_id);
            size_t b = trace_start[t], e = trace_start[t + 1], runs = 0;
            pipeline_int(pl, (long long)(e - b));
            for (size_t k = b; k < e; k++)
                runs += order[k].span->is_run != 0;
            pipeline_header(pl, '$', runs ? e - b : 0);
            for (size_t k = b; runs && k < e; k++)
                pipeline_write(pl, order[k].span->is_run ? "1" : "0", 1);
            pipeline_write(pl, "\r\n", 2);
            for (size_t k = b; k < e; k++) {
                pipeline_str(pl, order[k].span->span_id);
                pipeline_arg(pl, order[k].span->blob, order[k].span->blob_len);
            }
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
    if (store_recv(store, &pd->pl, replies, errstr, errstr_size) != 0)
        goto done;
    for (size_t p = 0; p < parts; p++) {
        redisReply *r = replies[p];
        size_t tb = part_start[p], te = part_start[p + 1];
        if (r->type != REDIS_REPLY_ARRAY || r->elements != te - tb)
            goto unexpected;
        for (size_t t = tb; t < te; t++) {
            redisReply *tr = r->element[t - tb];
            size_t b = trace_start[t], e = trace_start[t + 1];
            if (tr->type == REDIS_REPLY_INTEGER && tr->integer == 0) {
                for (size_t k = b; k < e; k++)
                    outcomes[order[k].index] = TRACE_STORE_ADDED;
                continue;
            }
            if (tr->type != REDIS_REPLY_STRING || tr->len != e - b)
                goto unexpected;
            for (size_t k = b; k < e; k++) {
                int digit = tr->str[k - b] - '0';
                if (digit < TRACE_STORE_ADDED || digit > TRACE_STORE_EXPIRED)
                    goto unexpected;
                outcomes[order[k].index] = (trace_store_outcome_t)digit;
            }
        }
    }
    rc = 0;
    goto done_free;
unexpected:
    snprintf(errstr, errstr_size, "redis: unexpected reply to append");
done_free:
    for (size_t p = 0; p < parts; p++)
        freeReplyObject(replies[p]);
done:
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
    /* per trace: the lease script, then HVALS of its spans */
    redisReply **replies = calloc(2 * count, sizeof(*replies));
    if (!traces || !replies)
        goto oom;
    for (size_t i = 0; i < count; i++) {
        pipeline_command(&pl, 8);
        pipeline_str(&pl, "EVALSHA");
        pipeline_str(&pl, store->sha[SCRIPT_LOAD]);
        pipeline_str(&pl, "3");
        pipeline_key(&pl, store, refs[i].partition, "s", refs[i].trace_id);
        pipeline_key(&pl, store, refs[i].partition, "m", refs[i].trace_id);
        pipeline_key(&pl, store, refs[i].partition, "due", NULL);
        pipeline_str(&pl, refs[i].trace_id);
        pipeline_int(&pl, lease_until_ms);
        pipeline_command(&pl, 2);
        pipeline_str(&pl, "HVALS");
        pipeline_key(&pl, store, refs[i].partition, "s", refs[i].trace_id);
    }
    if (store_run(store, &pl, replies, errstr, errstr_size) != 0)
        goto done;
    for (size_t i = 0; i < count; i++) {
        trace_store_trace_t *t = &traces[i];
        redisReply *r = replies[2 * i], *kv = replies[2 * i + 1];
        t->partition = refs[i].partition;
        t->trace_id = strdup(refs[i].trace_id);
        if (!t->trace_id)
            goto oom;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || reply_int(r->element[0]) == 0)
            continue;
        if (r->elements != 5 || kv->type != REDIS_REPLY_ARRAY) {
            snprintf(errstr, errstr_size, "redis: unexpected reply to load");
            goto done;
        }
        if (kv->elements == 0) /* expired between the two commands: due again at the lease's end */
            continue;
        t->exists = 1;
        t->gen = reply_int(r->element[1]);
        t->revision = reply_int(r->element[2]);
        t->has_run = reply_int(r->element[3]) != 0;
        t->dropped = reply_int(r->element[4]);
        t->reply = kv;
        replies[2 * i + 1] = NULL;
        t->span_count = kv->elements;
        t->blobs = calloc(t->span_count + 1, sizeof(*t->blobs));
        t->blob_lens = calloc(t->span_count + 1, sizeof(*t->blob_lens));
        if (!t->blobs || !t->blob_lens)
            goto oom;
        for (size_t k = 0; k < t->span_count; k++) {
            t->blobs[k] = kv->element[k]->str;
            t->blob_lens[k] = kv->element[k]->len;
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
        for (size_t i = 0; i < 2 * count; i++)
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
    for (size_t i = 0; i < count; i++) {
        pipeline_command(&pl, 11);
        pipeline_str(&pl, "EVALSHA");
        pipeline_str(&pl, store->sha[SCRIPT_FINISH]);
        pipeline_str(&pl, "2");
        pipeline_key(&pl, store, done[i].partition, "m", done[i].trace_id);
        pipeline_key(&pl, store, done[i].partition, "due", NULL);
        pipeline_int(&pl, done[i].gen);
        pipeline_int(&pl, done[i].revision);
        pipeline_str(&pl, done[i].trace_id);
        pipeline_int(&pl, now_ms);
        pipeline_int(&pl, done[i].published ? store->opt.grace_ms : TRACE_STORE_RETRY_MS);
        pipeline_str(&pl, done[i].published ? "1" : "0");
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
