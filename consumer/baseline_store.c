/* baseline_store.c -- per-run records of the fleet view in Redis: one script
 * per put, pipelined batches, window reads in chunks. See baseline_store.h for
 * the key layout and why exactly-once holds. */
#include "baseline_store.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Put one run. KEYS: the runs zset, the records hash. ARGV: trace_id, run
 * start (ms), revision header + record, trim cutoff (ms), trim limit.
 * The revision header is 8 bytes big-endian, so comparing the first 8 bytes
 * as strings compares revisions. Returns 0 unchanged, 1 added, 2 replaced. */
static const char PUT_LUA[] =
    "local old = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "local result = 0\n"
    "if not old then result = 1\n"
    "elseif old ~= ARGV[3] and string.sub(ARGV[3], 1, 8) >= string.sub(old, 1, 8) then result = 2 end\n"
    "if result > 0 then\n"
    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
    "  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "end\n"
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4], 'LIMIT', 0, tonumber(ARGV[5]))\n"
    "if #gone > 0 then\n"
    "  redis.call('ZREM', KEYS[1], unpack(gone))\n"
    "  redis.call('HDEL', KEYS[2], unpack(gone))\n"
    "end\n"
    "return result\n";

/* Known DAG/version pairs already added to the dags set by this process: the
 * SADD is sent once per pair, not per put. Bounded: beyond it, SADD per put. */
#define BASELINE_STORE_KNOWN_MAX 4096

struct baseline_store {
    trace_store_options_t opt;
    char *host, *user, *password, *prefix; /* owned copies of the options */
    redisContext *ctx;
    char sha[41];
    char **known;
    size_t known_count;
    uint64_t round_trips, commands;
};

static int bs_fail(baseline_store_t *store, char *errstr, size_t errstr_size, const char *what) {
    snprintf(errstr, errstr_size, "redis %s:%d: %s: %s", store->host, store->opt.port, what,
             store->ctx && store->ctx->err ? store->ctx->errstr : "connection lost");
    if (store->ctx) {
        redisFree(store->ctx);
        store->ctx = NULL;
    }
    return -1;
}

/* One command, one round trip. *out (when given) receives the reply, to free. */
static int bs_command(baseline_store_t *store, redisReply **out, char *errstr, size_t errstr_size,
                      int argc, const char **argv, const size_t *argvlen) {
    redisReply *r = redisCommandArgv(store->ctx, argc, argv, argvlen);
    store->round_trips++;
    store->commands++;
    if (!r)
        return bs_fail(store, errstr, errstr_size, "command failed");
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

static int bs_connect(baseline_store_t *store, char *errstr, size_t errstr_size) {
    if (store->ctx)
        return 0;
    int ms = store->opt.timeout_ms > 0 ? store->opt.timeout_ms : 5000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    store->ctx = redisConnectWithTimeout(store->host, store->opt.port, tv);
    if (!store->ctx || store->ctx->err)
        return bs_fail(store, errstr, errstr_size, "cannot connect");
    if (redisSetTimeout(store->ctx, tv) != REDIS_OK)
        return bs_fail(store, errstr, errstr_size, "cannot set timeout");
    redisReply *r = NULL;
    if (store->password[0]) {
        const char *argv[3] = {"AUTH", store->user, store->password};
        int rc = store->user[0] ? bs_command(store, NULL, errstr, errstr_size, 3, argv, NULL)
                                : bs_command(store, NULL, errstr, errstr_size, 2,
                                             (const char *[]){"AUTH", store->password}, NULL);
        if (rc != 0)
            goto fail;
    }
    if (store->opt.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", store->opt.db);
        if (bs_command(store, NULL, errstr, errstr_size, 2, (const char *[]){"SELECT", db}, NULL) != 0)
            goto fail;
    }
    if (bs_command(store, &r, errstr, errstr_size, 3, (const char *[]){"SCRIPT", "LOAD", PUT_LUA}, NULL) != 0)
        goto fail;
    snprintf(store->sha, sizeof(store->sha), "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return 0;
fail:
    if (store->ctx) {
        redisFree(store->ctx);
        store->ctx = NULL;
    }
    return -1;
}

static char *bs_dup(const char *s) {
    return strdup(s ? s : "");
}

baseline_store_t *baseline_store_new(const trace_store_options_t *options, char *errstr,
                                     size_t errstr_size) {
    baseline_store_t *store = calloc(1, sizeof(*store));
    if (!store) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    store->opt = *options;
    store->host = bs_dup(options->host && options->host[0] ? options->host : "127.0.0.1");
    store->user = bs_dup(options->user);
    store->password = bs_dup(options->password);
    store->prefix = bs_dup(options->prefix && options->prefix[0] ? options->prefix : "dagprof");
    if (!store->host || !store->user || !store->password || !store->prefix) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (bs_connect(store, errstr, errstr_size) != 0)
        goto fail;
    return store;
fail:
    baseline_store_free(store);
    return NULL;
}

void baseline_store_free(baseline_store_t *store) {
    if (!store)
        return;
    if (store->ctx)
        redisFree(store->ctx);
    for (size_t i = 0; i < store->known_count; i++)
        free(store->known[i]);
    free(store->known);
    free(store->host);
    free(store->user);
    free(store->password);
    free(store->prefix);
    free(store);
}

uint64_t baseline_store_round_trips(const baseline_store_t *store) {
    return store->round_trips;
}

uint64_t baseline_store_commands(const baseline_store_t *store) {
    return store->commands;
}

/* <prefix>:b1:{dag:<dag_id>}:<kind>:<version>[:<n>], malloc'd. */
static char *bs_key(const baseline_store_t *store, const char *dag_id, const char *kind,
                    const char *version, long long n, int with_n) {
    char *key = NULL;
    int len = with_n ? asprintf(&key, "%s:" BASELINE_STORE_LAYOUT ":{dag:%s}:%s:%s:%lld", store->prefix,
                                dag_id, kind, version ? version : "", n)
                     : asprintf(&key, "%s:" BASELINE_STORE_LAYOUT ":{dag:%s}:%s:%s", store->prefix,
                                dag_id, kind, version ? version : "");
    return len < 0 ? NULL : key;
}

/* The dags set's member of a pair: "<len(dag_id)>:<dag_id><version>", so that
 * any byte may appear in either. malloc'd. */
static char *bs_pair(const char *dag_id, const char *version) {
    char *member = NULL;
    if (asprintf(&member, "%zu:%s%s", strlen(dag_id), dag_id, version ? version : "") < 0)
        return NULL;
    return member;
}

static int bs_known(const baseline_store_t *store, const char *member) {
    for (size_t i = 0; i < store->known_count; i++)
        if (strcmp(store->known[i], member) == 0)
            return 1;
    return 0;
}

int baseline_store_put(baseline_store_t *store, const baseline_store_put_t *puts, size_t count,
                       baseline_store_outcome_t *outcomes, char *errstr, size_t errstr_size) {
    int rc = -1;
    size_t sent = 0, queued = 0;
    char **owned = NULL; /* keys, values and members built for the batch */
    size_t owned_count = 0;
    char **fresh = NULL; /* pairs to remember as known once the batch succeeded */
    size_t fresh_count = 0;
    unsigned char *is_put = NULL; /* which replies are a put's (the rest are SADDs) */
    if (count == 0)
        return 0;
    if (bs_connect(store, errstr, errstr_size) != 0)
        return -1;
    owned = calloc(count * 4, sizeof(*owned));
    fresh = calloc(count, sizeof(*fresh));
    is_put = calloc(count * 2, 1);
    if (!owned || !fresh || !is_put) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const baseline_store_put_t *p = &puts[i];
        char *runs = bs_key(store, p->dag_id, "runs", p->version, 0, 0);
        char *rec = bs_key(store, p->dag_id, "rec", p->version, 0, 0);
        char *value = malloc(8 + p->record_len);
        owned[owned_count++] = runs;
        owned[owned_count++] = rec;
        owned[owned_count++] = value;
        if (!runs || !rec || !value) {
            snprintf(errstr, errstr_size, "out of memory");
            goto done;
        }
        uint64_t revision = p->revision > 0 ? (uint64_t)p->revision : 0;
        for (int b = 0; b < 8; b++)
            value[b] = (char)(revision >> (56 - 8 * b));
        if (p->record_len)
            memcpy(value + 8, p->record, p->record_len);
        char start[24], cutoff[24], trim[8];
        snprintf(start, sizeof(start), "%lld", (long long)p->run_start_ms);
        snprintf(cutoff, sizeof(cutoff), "%lld", (long long)(p->run_start_ms - BASELINE_STORE_RETENTION_MS));
        snprintf(trim, sizeof(trim), "%d", BASELINE_STORE_TRIM_MAX);
        const char *argv[] = {"EVALSHA", store->sha, "2", runs, rec, p->trace_id, start, value, cutoff, trim};
        size_t argvlen[] = {7, strlen(store->sha), 1, strlen(runs), strlen(rec), strlen(p->trace_id),
                            strlen(start), 8 + p->record_len, strlen(cutoff), strlen(trim)};
        if (redisAppendCommandArgv(store->ctx, 10, argv, argvlen) != REDIS_OK) {
            bs_fail(store, errstr, errstr_size, "cannot queue commands");
            goto done;
        }
        is_put[queued++] = 1;
        char *member = bs_pair(p->dag_id, p->version);
        owned[owned_count++] = member;
        if (!member) {
            snprintf(errstr, errstr_size, "out of memory");
            goto done;
        }
        int pending = bs_known(store, member);
        for (size_t j = 0; j < fresh_count && !pending; j++)
            pending = strcmp(fresh[j], member) == 0;
        if (!pending) {
            char *dags = NULL;
            if (asprintf(&dags, "%s:" BASELINE_STORE_LAYOUT ":dags", store->prefix) < 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
            }
            const char *sargv[] = {"SADD", dags, member};
            int ok = redisAppendCommandArgv(store->ctx, 3, sargv, NULL) == REDIS_OK;
            free(dags);
            if (!ok) {
                bs_fail(store, errstr, errstr_size, "cannot queue commands");
                goto done;
            }
            queued++;
            fresh[fresh_count++] = member;
        }
    }
    store->round_trips++;
    store->commands += queued;
    int failed = 0, noscript = 0;
    size_t put_index = 0;
    for (sent = 0; sent < queued; sent++) {
        redisReply *r = NULL;
        if (redisGetReply(store->ctx, (void **)&r) != REDIS_OK || !r) {
            bs_fail(store, errstr, errstr_size, "no reply");
            goto done;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strncmp(r->str, "NOSCRIPT", 8) == 0)
                noscript = 1;
            else if (!failed)
                snprintf(errstr, errstr_size, "redis %s:%d: %s", store->host, store->opt.port, r->str);
            failed = 1;
        } else if (is_put[sent]) {
            if (outcomes)
                outcomes[put_index] = r->type == REDIS_REPLY_INTEGER ? (baseline_store_outcome_t)r->integer
                                                                     : BASELINE_STORE_UNCHANGED;
            put_index++;
        }
        freeReplyObject(r);
    }
    if (noscript) {
        /* Redis restarted without the script: reconnecting loads it; the
         * whole batch is put again, which is safe */
        redisFree(store->ctx);
        store->ctx = NULL;
        for (size_t i = 0; i < owned_count; i++)
            free(owned[i]);
        free(owned);
        free(fresh);
        free(is_put);
        return baseline_store_put(store, puts, count, outcomes, errstr, errstr_size);
    }
    if (failed)
        goto done;
    for (size_t j = 0; j < fresh_count && store->known_count < BASELINE_STORE_KNOWN_MAX; j++) {
        char *copy = strdup(fresh[j]);
        char **grown = copy ? realloc(store->known, (store->known_count + 1) * sizeof(*grown)) : NULL;
        if (!grown) {
            free(copy);
            break;
        }
        store->known = grown;
        store->known[store->known_count++] = copy;
    }
    rc = 0;
done:
    if (rc != 0 && store->ctx && sent < queued) {
        /* replies still owed: the connection is out of step, start afresh */
        redisFree(store->ctx);
        store->ctx = NULL;
    }
    for (size_t i = 0; owned && i < owned_count; i++)
        free(owned[i]);
    free(owned);
    free(fresh);
    free(is_put);
    return rc;
}

static int bs_pair_cmp(const void *a, const void *b) {
    const baseline_store_dag_t *x = a, *y = b;
    int c = strcmp(x->dag_id, y->dag_id);
    return c ? c : strcmp(x->version, y->version);
}

int baseline_store_dags(baseline_store_t *store, baseline_store_dag_t **out, size_t *out_count,
                        char *errstr, size_t errstr_size) {
    *out = NULL;
    *out_count = 0;
    if (bs_connect(store, errstr, errstr_size) != 0)
        return -1;
    char *dags = NULL;
    if (asprintf(&dags, "%s:" BASELINE_STORE_LAYOUT ":dags", store->prefix) < 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    redisReply *r = NULL;
    int rc = bs_command(store, &r, errstr, errstr_size, 2, (const char *[]){"SMEMBERS", dags}, NULL);
    free(dags);
    if (rc != 0)
        return -1;
    baseline_store_dag_t *list = calloc(r->elements ? r->elements : 1, sizeof(*list));
    size_t n = 0;
    if (!list) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        char *colon = memchr(e->str, ':', e->len);
        char *end = NULL;
        unsigned long long dag_len = strtoull(e->str, &end, 10);
        if (!colon || end != colon || dag_len > e->len - (size_t)(colon + 1 - e->str))
            continue; /* not written by this layout: skipped, never misread */
        const char *dag = colon + 1;
        list[n].dag_id = strndup(dag, (size_t)dag_len);
        list[n].version = strndup(dag + dag_len, e->len - (size_t)(dag + dag_len - e->str));
        if (!list[n].dag_id || !list[n].version) {
            n++;
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        n++;
    }
    freeReplyObject(r);
    qsort(list, n, sizeof(*list), bs_pair_cmp);
    *out = list;
    *out_count = n;
    return 0;
fail:
    freeReplyObject(r);
    baseline_store_dags_free(list, n);
    return -1;
}

void baseline_store_dags_free(baseline_store_dag_t *dags, size_t count) {
    if (!dags)
        return;
    for (size_t i = 0; i < count; i++) {
        free(dags[i].dag_id);
        free(dags[i].version);
    }
    free(dags);
}

int baseline_store_newest(baseline_store_t *store, const char *dag_id, const char *version,
                          int64_t *newest_ms, int *found, char *errstr, size_t errstr_size) {
    *found = 0;
    *newest_ms = 0;
    if (bs_connect(store, errstr, errstr_size) != 0)
        return -1;
    char *runs = bs_key(store, dag_id, "runs", version, 0, 0);
    if (!runs) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    redisReply *r = NULL;
    int rc = bs_command(store, &r, errstr, errstr_size, 5,
                        (const char *[]){"ZREVRANGE", runs, "0", "0", "WITHSCORES"}, NULL);
    free(runs);
    if (rc != 0)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
        *newest_ms = strtoll(r->element[1]->str, NULL, 10);
        *found = 1;
    }
    freeReplyObject(r);
    return 0;
}

int baseline_store_read(baseline_store_t *store, const char *dag_id, const char *version,
                        int64_t from_ms, int64_t to_ms, baseline_store_record_cb cb, void *opaque,
                        char *errstr, size_t errstr_size) {
    int rc = -1;
    redisReply *ids = NULL, *recs = NULL;
    const char **argv = NULL;
    char *runs = bs_key(store, dag_id, "runs", version, 0, 0);
    char *rec = bs_key(store, dag_id, "rec", version, 0, 0);
    if (!runs || !rec) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    if (bs_connect(store, errstr, errstr_size) != 0)
        goto done;
    char from[24], to[24];
    snprintf(from, sizeof(from), "%lld", (long long)from_ms);
    snprintf(to, sizeof(to), "%lld", (long long)to_ms);
    /* the ids of the window in one reply: a few dozen bytes per run */
    if (bs_command(store, &ids, errstr, errstr_size, 4, (const char *[]){"ZRANGEBYSCORE", runs, from, to}, NULL) != 0)
        goto done;
    argv = malloc((2 + BASELINE_STORE_READ_CHUNK) * sizeof(*argv));
    if (!argv) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    for (size_t first = 0; first < ids->elements; first += BASELINE_STORE_READ_CHUNK) {
        size_t n = ids->elements - first;
        if (n > BASELINE_STORE_READ_CHUNK)
            n = BASELINE_STORE_READ_CHUNK;
        argv[0] = "HMGET";
        argv[1] = rec;
        for (size_t i = 0; i < n; i++)
            argv[2 + i] = ids->element[first + i]->str;
        if (bs_command(store, &recs, errstr, errstr_size, (int)(2 + n), argv, NULL) != 0)
            goto done;
        for (size_t i = 0; i < n && i < recs->elements; i++) {
            const redisReply *v = recs->element[i];
            if (v->type != REDIS_REPLY_STRING || v->len < 8)
                continue; /* trimmed between the two reads */
            uint64_t revision = 0;
            for (int b = 0; b < 8; b++)
                revision = revision << 8 | (unsigned char)v->str[b];
            int stop = cb(opaque, ids->element[first + i]->str, (int64_t)revision, v->str + 8, v->len - 8);
            if (stop) {
                rc = stop;
                goto done;
            }
        }
        freeReplyObject(recs);
        recs = NULL;
    }
    rc = 0;
done:
    if (recs)
        freeReplyObject(recs);
    if (ids)
        freeReplyObject(ids);
    free(argv);
    free(runs);
    free(rec);
    return rc;
}

int baseline_store_claim_trend(baseline_store_t *store, const char *dag_id, const char *version,
                               int64_t interval_no, int64_t interval_s, int *won, char *errstr,
                               size_t errstr_size) {
    *won = 0;
    if (bs_connect(store, errstr, errstr_size) != 0)
        return -1;
    char *key = bs_key(store, dag_id, "trend", version, (long long)interval_no, 1);
    if (!key) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(interval_s > 0 ? 2 * interval_s : 2));
    redisReply *r = NULL;
    int rc = bs_command(store, &r, errstr, errstr_size, 6, (const char *[]){"SET", key, "1", "NX", "EX", ttl}, NULL);
    free(key);
    if (rc != 0)
        return -1;
    *won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return 0;
}
