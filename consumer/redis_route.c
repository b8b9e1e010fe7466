/* redis_route.c -- one Redis, or a Redis Cluster routed by slot: the slot
 * table, the redirects and the reconnects. See redis_route.h. */
#include "redis_route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct route_node {
    char *host;
    int port;
    redisContext *ctx;
    int dirty;          /* commands appended to ctx, not yet written */
    size_t outstanding; /* replies expected on ctx */
    int ever_connected;
    redis_route_node_stats_t st;
} route_node_t;

enum { ENTRY_UNSENT, ENTRY_SENT, ENTRY_DONE };

typedef struct route_entry {
    unsigned slot;
    const char *cmd;
    size_t len;
    int state;
    int node;     /* where it was sent */
    int ask_node; /* >= 0: send ASKING then the command there, once */
    int asked;    /* sent with ASKING: a reply to skip comes first */
    redisReply *reply;
} route_entry_t;

struct redis_route {
    int cluster;
    char *user, *password;
    int db, timeout_ms;
    redis_route_connect_fn on_connect;
    void *opaque;
    route_node_t *nodes;
    size_t node_count, node_cap;
    size_t seed_count; /* nodes[0..seed_count) are the seeds */
    int32_t slots[REDIS_ROUTE_SLOTS]; /* node index, -1 when unknown */
    int map_known;
    route_entry_t *queue;
    size_t queue_len, queue_cap, next; /* next: the reply to hand out */
    int collected;
};

/* ---- the slot of a key ---------------------------------------------------------- */

/* CRC16-CCITT (XMODEM), as Redis Cluster's keyHashSlot: bit by bit, as keys
 * here are a hash tag of a few bytes, computed once per command. */
static uint16_t crc16(const unsigned char *p, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned redis_route_slot(const void *key, size_t len) {
    const unsigned char *k = key;
    size_t open = 0;
    while (open < len && k[open] != '{')
        open++;
    if (open < len) {
        size_t close = open + 1;
        while (close < len && k[close] != '}')
            close++;
        /* "{}" (empty tag) or no '}': the whole key, as Redis does */
        if (close < len && close > open + 1)
            return crc16(k + open + 1, close - open - 1) & (REDIS_ROUTE_SLOTS - 1);
    }
    return crc16(k, len) & (REDIS_ROUTE_SLOTS - 1);
}

/* ---- nodes and connections -------------------------------------------------- */

static int parse_addr(const char *text, size_t len, char *host, size_t host_size, int *port) {
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (text[i] == ':')
            colon = text + i;
    if (!colon || colon == text || (size_t)(colon - text) >= host_size)
        return -1;
    const char *digits = colon + 1, *end = text + len;
    if (digits == end || end - digits > 5)
        return -1;
    long value = 0;
    for (const char *d = digits; d < end; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        value = value * 10 + (*d - '0');
    }
    if (value < 1 || value > 65535)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    *port = (int)value;
    return 0;
}

int redis_route_check_nodes(const char *nodes, char *errstr, size_t errstr_size) {
    const char *p = nodes ? nodes : "";
    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char host[256];
        int port;
        if (parse_addr(p, len, host, sizeof(host), &port) != 0) {
            snprintf(errstr, errstr_size, "\"%.*s\" is not host:port (port 1..65535)", (int)len, p);
            return -1;
        }
        p = comma ? comma + 1 : NULL;
    } while (p);
    return 0;
}

static int node_find(redis_route_t *r, const char *host, int port) {
    for (size_t i = 0; i < r->node_count; i++)
        if (r->nodes[i].port == port && strcmp(r->nodes[i].host, host) == 0)
            return (int)i;
    return -1;
}

static int node_add(redis_route_t *r, const char *host, int port) {
    int found = node_find(r, host, port);
    if (found >= 0)
        return found;
    if (r->node_count == r->node_cap) {
        size_t cap = r->node_cap ? 2 * r->node_cap : 8;
        route_node_t *grown = realloc(r->nodes, cap * sizeof(*grown));
        if (!grown)
            return -1;
        r->nodes = grown;
        r->node_cap = cap;
    }
    route_node_t *n = &r->nodes[r->node_count];
    memset(n, 0, sizeof(*n));
    n->host = strdup(host);
    if (!n->host)
        return -1;
    n->port = port;
    snprintf(n->st.addr, sizeof(n->st.addr), "%s:%d", host, port);
    return (int)r->node_count++;
}

static void node_close(redis_route_t *r, int index) {
    route_node_t *n = &r->nodes[index];
    if (n->ctx)
        redisFree(n->ctx);
    n->ctx = NULL;
    n->dirty = 0;
    n->outstanding = 0;
    n->st.connected = 0;
}

/* A failure on a node: the message, the count, and the connection closed
 * (hiredis' context is unusable after an I/O error). */
static int node_fail(redis_route_t *r, int index, const char *what, char *errstr,
                     size_t errstr_size) {
    route_node_t *n = &r->nodes[index];
    snprintf(errstr, errstr_size, "redis %s: %s: %s", n->st.addr, what,
             n->ctx && n->ctx->err ? n->ctx->errstr : "connection lost");
    n->st.errors++;
    node_close(r, index);
    return -1;
}

static int node_simple(redis_route_t *r, int index, char *errstr, size_t errstr_size,
                       redisReply *reply) {
    if (!reply)
        return node_fail(r, index, "command failed", errstr, errstr_size);
    int rc = 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis %s: %s", r->nodes[index].st.addr, reply->str);
        r->nodes[index].st.errors++;
        node_close(r, index);
        rc = -1;
    }
    freeReplyObject(reply);
    return rc;
}

static int node_connect(redis_route_t *r, int index, char *errstr, size_t errstr_size) {
    route_node_t *n = &r->nodes[index];
    if (n->ctx)
        return 0;
    int ms = r->timeout_ms > 0 ? r->timeout_ms : 5000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    n->ctx = redisConnectWithTimeout(n->host, n->port, tv);
    if (!n->ctx || n->ctx->err)
        return node_fail(r, index, "cannot connect", errstr, errstr_size);
    if (redisSetTimeout(n->ctx, tv) != REDIS_OK)
        return node_fail(r, index, "cannot set timeout", errstr, errstr_size);
    if (r->password[0]) {
        redisReply *reply = r->user[0] ? redisCommand(n->ctx, "AUTH %s %s", r->user, r->password)
                                       : redisCommand(n->ctx, "AUTH %s", r->password);
        if (node_simple(r, index, errstr, errstr_size, reply) != 0)
            return -1;
    }
    if (r->db && node_simple(r, index, errstr, errstr_size, redisCommand(n->ctx, "SELECT %d", r->db)) != 0)
        return -1;
    if (r->on_connect && r->on_connect(n->ctx, r->opaque, errstr, errstr_size) != 0) {
        n->st.errors++;
        node_close(r, index);
        return -1;
    }
    if (n->ever_connected)
        n->st.reconnects++;
    n->ever_connected = 1;
    n->st.connected = 1;
    return 0;
}

/* ---- the slot map ------------------------------------------------------------------ */

/* Read CLUSTER SLOTS from one node into the table. Only asked of a node with
 * no reply outstanding, so that its answer is the next reply. */
static int map_read(redis_route_t *r, int index, char *errstr, size_t errstr_size) {
    if (r->nodes[index].outstanding || r->nodes[index].dirty)
        return -1;
    if (node_connect(r, index, errstr, errstr_size) != 0)
        return -1;
    redisReply *reply = redisCommand(r->nodes[index].ctx, "CLUSTER SLOTS");
    r->nodes[index].st.round_trips++;
    if (!reply)
        return node_fail(r, index, "CLUSTER SLOTS failed", errstr, errstr_size);
    if (reply->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "redis %s: CLUSTER SLOTS: %s", r->nodes[index].st.addr,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        freeReplyObject(reply);
        return -1;
    }
    /* the asking node's host stays valid while nodes may be reallocated */
    char asked_host[256];
    snprintf(asked_host, sizeof(asked_host), "%s", r->nodes[index].host);
    int32_t *slots = malloc(sizeof(r->slots));
    if (!slots) {
        freeReplyObject(reply);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t s = 0; s < REDIS_ROUTE_SLOTS; s++)
        slots[s] = -1;
    size_t covered = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *range = reply->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER ||
            range->element[2]->type != REDIS_REPLY_ARRAY || range->element[2]->elements < 2 ||
            range->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            range->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        long long from = range->element[0]->integer, to = range->element[1]->integer;
        const char *host = range->element[2]->element[0]->str;
        /* an empty or "?" host means the address the question was asked on */
        if (!host[0] || strcmp(host, "?") == 0)
            host = asked_host;
        int node = node_add(r, host, (int)range->element[2]->element[1]->integer);
        if (node < 0 || from < 0 || to >= REDIS_ROUTE_SLOTS || from > to)
            continue;
        for (long long s = from; s <= to; s++) {
            slots[s] = node;
            covered++;
        }
    }
    freeReplyObject(reply);
    memcpy(r->slots, slots, sizeof(r->slots));
    free(slots);
    r->map_known = 1;
    return covered ? 0 : -1;
}

/* Refresh the map from the first node that answers: known masters first,
 * then the seeds. Keeps the old map when none does. */
static int map_refresh(redis_route_t *r, char *errstr, size_t errstr_size) {
    for (size_t i = r->seed_count; i < r->node_count; i++)
        if (map_read(r, (int)i, errstr, errstr_size) == 0)
            return 0;
    for (size_t i = 0; i < r->seed_count && i < r->node_count; i++)
        if (map_read(r, (int)i, errstr, errstr_size) == 0)
            return 0;
    return -1;
}

/* ---- life cycle ---------------------------------------------------------------------- */

redis_route_t *redis_route_new(const redis_route_options_t *o, char *errstr, size_t errstr_size) {
    redis_route_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    r->cluster = o->cluster || (o->nodes && o->nodes[0]);
    r->user = strdup(o->user ? o->user : "");
    r->password = strdup(o->password ? o->password : "");
    r->db = o->db;
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    r->on_connect = o->on_connect;
    r->opaque = o->opaque;
    for (size_t s = 0; s < REDIS_ROUTE_SLOTS; s++)
        r->slots[s] = -1;
    if (!r->user || !r->password) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (r->cluster && r->db != 0) {
        snprintf(errstr, errstr_size, "redis.db must be 0 on a Redis Cluster (it has only db 0), not %d",
                 r->db);
        goto fail;
    }
    const char *host = o->host && o->host[0] ? o->host : "127.0.0.1";
    if (r->cluster && o->nodes && o->nodes[0]) {
        if (redis_route_check_nodes(o->nodes, errstr, errstr_size) != 0)
            goto fail;
        for (const char *p = o->nodes; p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            while (len && (*p == ' ' || *p == '\t'))
                p++, len--;
            while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
            char seed[256];
            int port;
            if (parse_addr(p, len, seed, sizeof(seed), &port) == 0 && node_add(r, seed, port) < 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
            }
            p = comma ? comma + 1 : NULL;
        }
    } else if (node_add(r, host, o->port > 0 ? o->port : 6379) < 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    r->seed_count = r->node_count;
    if (!r->cluster) {
        if (node_connect(r, 0, errstr, errstr_size) != 0)
            goto fail;
    } else if (map_refresh(r, errstr, errstr_size) != 0) {
        char detail[512];
        snprintf(detail, sizeof(detail), "%s", errstr);
        snprintf(errstr, errstr_size, "redis cluster: no seed gave a slot map (last: %s)", detail);
        goto fail;
    }
    return r;
fail:
    redis_route_free(r);
    return NULL;
}

void redis_route_reset(redis_route_t *r) {
    for (size_t i = r->next; i < r->queue_len; i++)
        if (r->queue[i].reply)
            freeReplyObject(r->queue[i].reply);
    r->queue_len = r->next = 0;
    r->collected = 0;
    for (size_t i = 0; i < r->node_count; i++)
        node_close(r, (int)i);
}

void redis_route_free(redis_route_t *r) {
    if (!r)
        return;
    redis_route_reset(r);
    for (size_t i = 0; i < r->node_count; i++)
        free(r->nodes[i].host);
    free(r->nodes);
    free(r->queue);
    free(r->user);
    free(r->password);
    free(r);
}

int redis_route_is_cluster(const redis_route_t *r) {
    return r->cluster;
}

/* ---- pipelines ------------------------------------------------------------------------- */

int redis_route_append(redis_route_t *r, unsigned slot, const char *cmd, size_t len, char *errstr,
                       size_t errstr_size) {
    if (!r->cluster) {
        route_node_t *n = &r->nodes[0];
        if (node_connect(r, 0, errstr, errstr_size) != 0)
            return -1;
        if (redisAppendFormattedCommand(n->ctx, cmd, len) != REDIS_OK)
            return node_fail(r, 0, "cannot queue commands", errstr, errstr_size);
        n->dirty = 1; /* one Redis: no reply bookkeeping, hiredis keeps the order */
        return 0;
    }
    /* a cluster's command only joins the queue: where it goes is decided at
     * flush, when the map can be refreshed without a reply outstanding */
    if (r->queue_len == r->queue_cap) {
        size_t cap = r->queue_cap ? 2 * r->queue_cap : 64;
        route_entry_t *grown = realloc(r->queue, cap * sizeof(*grown));
        if (!grown) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        r->queue = grown;
        r->queue_cap = cap;
    }
    route_entry_t *e = &r->queue[r->queue_len++];
    memset(e, 0, sizeof(*e));
    e->slot = slot & (REDIS_ROUTE_SLOTS - 1);
    e->cmd = cmd;
    e->len = len;
    e->state = ENTRY_UNSENT;
    e->node = e->ask_node = -1;
    return 0;
}

static int write_dirty(redis_route_t *r, char *errstr, size_t errstr_size) {
    int rc = 0;
    for (size_t i = 0; i < r->node_count; i++) {
        route_node_t *n = &r->nodes[i];
        if (!n->dirty || !n->ctx)
            continue;
        int done = 0;
        while (!done)
            if (redisBufferWrite(n->ctx, &done) != REDIS_OK) {
                rc = node_fail(r, (int)i, "cannot send commands", errstr, errstr_size);
                break;
            }
        if (done) {
            n->dirty = 0;
            n->st.round_trips++;
        }
    }
    return rc;
}

/* Hand the unsent entries to their nodes' connections. An entry whose node
 * cannot be reached stays unsent; *unreachable tells. */
static void send_unsent(redis_route_t *r, int *unreachable, char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < r->queue_len; i++) {
        route_entry_t *e = &r->queue[i];
        if (e->state != ENTRY_UNSENT)
            continue;
        int node = e->ask_node >= 0 ? e->ask_node : r->slots[e->slot];
        if (node < 0) {
            snprintf(errstr, errstr_size, "redis cluster: slot %u has no master", e->slot);
            *unreachable = 1;
            continue;
        }
        if (node_connect(r, node, errstr, errstr_size) != 0) {
            *unreachable = 1;
            continue;
        }
        route_node_t *n = &r->nodes[node];
        if (e->ask_node >= 0 && redisAppendFormattedCommand(n->ctx, "*1\r\n$6\r\nASKING\r\n", 16) != REDIS_OK) {
            node_fail(r, node, "cannot queue commands", errstr, errstr_size);
            *unreachable = 1;
            continue;
        }
        if (redisAppendFormattedCommand(n->ctx, e->cmd, e->len) != REDIS_OK) {
            node_fail(r, node, "cannot queue commands", errstr, errstr_size);
            *unreachable = 1;
            continue;
        }
        e->asked = e->ask_node >= 0;
        e->ask_node = -1;
        e->node = node;
        e->state = ENTRY_SENT;
        n->dirty = 1;
        n->outstanding += e->asked ? 2 : 1;
    }
}

/* Entries sent to a node whose connection failed go back to unsent. */
static void requeue_node(redis_route_t *r, int node) {
    for (size_t i = 0; i < r->queue_len; i++)
        if (r->queue[i].state == ENTRY_SENT && r->queue[i].node == node)
            r->queue[i].state = ENTRY_UNSENT;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int redis_route_flush(redis_route_t *r, char *errstr, size_t errstr_size) {
    if (!r->cluster) {
        route_node_t *n = &r->nodes[0];
        if (!n->ctx) {
            snprintf(errstr, errstr_size, "redis %s: connection lost", n->st.addr);
            return -1;
        }
        return write_dirty(r, errstr, errstr_size);
    }
    if (!r->map_known)
        map_refresh(r, errstr, errstr_size);
    int unreachable = 0;
    send_unsent(r, &unreachable, errstr, errstr_size);
    /* failures here are retried when the replies are collected */
    write_dirty(r, errstr, errstr_size);
    return 0;
}

/* Parse "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node named, added if new. */
static int redirect_node(redis_route_t *r, const char *text) {
    const char *space = strchr(text, ' ');
    space = space ? strchr(space + 1, ' ') : NULL;
    if (!space)
        return -1;
    char host[256];
    int port;
    if (parse_addr(space + 1, strlen(space + 1), host, sizeof(host), &port) != 0)
        return -1;
    return node_add(r, host, port);
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Read every reply of the queue, following redirects and reconnecting,
 * until each entry has its reply or the timeout has passed. */
static int collect(redis_route_t *r, char *errstr, size_t errstr_size) {
    int64_t deadline = now_ms() + r->timeout_ms;
    int backoff_ms = 20, rounds = 0, unreachable = 0;
    for (;;) {
        /* a node that could not be reached last round: wait, then ask again */
        int refresh = unreachable, wait = unreachable, pending = 0;
        for (size_t i = 0; i < r->queue_len; i++) {
            route_entry_t *e = &r->queue[i];
            if (e->state != ENTRY_SENT)
                continue;
            route_node_t *n = &r->nodes[e->node];
            void *reply = NULL;
            if (e->asked) {
                if (redisGetReply(n->ctx, &reply) != REDIS_OK || !reply) {
                    node_fail(r, e->node, "no reply", errstr, errstr_size);
                    requeue_node(r, e->node);
                    refresh = wait = 1;
                    continue;
                }
                freeReplyObject(reply); /* ASKING's +OK */
                reply = NULL;
                n->outstanding--;
                e->asked = 0;
            }
            if (redisGetReply(n->ctx, &reply) != REDIS_OK || !reply) {
                int node = e->node;
                node_fail(r, node, "no reply", errstr, errstr_size);
                requeue_node(r, node);
                refresh = wait = 1;
                continue;
            }
            n->outstanding--;
            redisReply *rep = reply;
            if (rep->type == REDIS_REPLY_ERROR && starts_with(rep->str, "MOVED ")) {
                r->nodes[e->node].st.moved++; /* before redirect_node: it may move r->nodes */
                int to = redirect_node(r, rep->str);
                if (to >= 0)
                    r->slots[e->slot] = to;
                refresh = 1;
                e->state = ENTRY_UNSENT;
                freeReplyObject(rep);
            } else if (rep->type == REDIS_REPLY_ERROR && starts_with(rep->str, "ASK ")) {
                r->nodes[e->node].st.ask++;
                e->ask_node = redirect_node(r, rep->str);
                e->state = ENTRY_UNSENT;
                freeReplyObject(rep);
            } else if (rep->type == REDIS_REPLY_ERROR &&
                       (starts_with(rep->str, "TRYAGAIN") || starts_with(rep->str, "CLUSTERDOWN") ||
                        starts_with(rep->str, "LOADING") || starts_with(rep->str, "MASTERDOWN"))) {
                /* a slot between two nodes, or a failover under way */
                snprintf(errstr, errstr_size, "redis %s: %s", n->st.addr, rep->str);
                n->st.errors++;
                refresh = wait = 1;
                e->state = ENTRY_UNSENT;
                freeReplyObject(rep);
            } else {
                e->reply = rep;
                e->state = ENTRY_DONE;
            }
        }
        for (size_t i = 0; i < r->queue_len; i++)
            pending += r->queue[i].state != ENTRY_DONE;
        if (!pending)
            return 0;
        if (++rounds > 64 && !wait) {
            snprintf(errstr, errstr_size, "redis cluster: too many redirects");
            return -1;
        }
        if (wait) {
            if (now_ms() + backoff_ms > deadline)
                return -1; /* errstr holds the last failure */
            sleep_ms(backoff_ms);
            backoff_ms = backoff_ms * 2 > 500 ? 500 : backoff_ms * 2;
        }
        char ignored[256];
        if (refresh)
            map_refresh(r, ignored, sizeof(ignored));
        unreachable = 0;
        send_unsent(r, &unreachable, errstr, errstr_size);
        write_dirty(r, errstr, errstr_size);
        if (unreachable && now_ms() >= deadline)
            return -1;
    }
}

int redis_route_get_reply(redis_route_t *r, redisReply **out, char *errstr, size_t errstr_size) {
    *out = NULL;
    if (!r->cluster) {
        route_node_t *n = &r->nodes[0];
        void *reply = NULL;
        if (!n->ctx) {
            snprintf(errstr, errstr_size, "redis %s: connection lost", n->st.addr);
            return -1;
        }
        if (redisGetReply(n->ctx, &reply) != REDIS_OK || !reply)
            return node_fail(r, 0, "no reply", errstr, errstr_size);
        *out = reply;
        return 0;
    }
    if (r->next >= r->queue_len) {
        snprintf(errstr, errstr_size, "redis cluster: no reply outstanding");
        return -1;
    }
    if (!r->collected) {
        if (collect(r, errstr, errstr_size) != 0) {
            redis_route_reset(r);
            return -1;
        }
        r->collected = 1;
    }
    *out = r->queue[r->next].reply;
    r->queue[r->next++].reply = NULL;
    if (r->next == r->queue_len) {
        r->queue_len = r->next = 0;
        r->collected = 0;
    }
    return 0;
}

redisReply *redis_route_command(redis_route_t *r, const char *key, char *errstr, size_t errstr_size,
                                const char *format, ...) {
    char *cmd = NULL;
    va_list ap;
    va_start(ap, format);
    int len = redisvFormatCommand(&cmd, format, ap);
    va_end(ap);
    if (len < 0) {
        snprintf(errstr, errstr_size, "out of memory formatting a redis command");
        return NULL;
    }
    redisReply *reply = NULL;
    unsigned slot = key ? redis_route_slot(key, strlen(key)) : 0;
    if (redis_route_append(r, slot, cmd, (size_t)len, errstr, errstr_size) != 0 ||
        redis_route_flush(r, errstr, errstr_size) != 0 ||
        redis_route_get_reply(r, &reply, errstr, errstr_size) != 0)
        reply = NULL;
    if (!reply && r->cluster)
        redis_route_reset(r); /* the borrowed command must not stay queued */
    redisFreeCommand(cmd);
    return reply;
}

/* ---- figures and health ------------------------------------------------------------------ */

size_t redis_route_stats(const redis_route_t *r, redis_route_node_stats_t *out, size_t max) {
    for (size_t i = 0; i < r->node_count && i < max; i++)
        out[i] = r->nodes[i].st;
    return r->node_count;
}

int redis_route_check_slots(redis_route_t *r, const unsigned *slots, size_t count, char *errstr,
                            size_t errstr_size) {
    if (!r->cluster) {
        redisReply *reply = redis_route_command(r, NULL, errstr, errstr_size, "PING");
        if (!reply)
            return -1;
        freeReplyObject(reply);
        return 0;
    }
    if (r->queue_len) {
        snprintf(errstr, errstr_size, "redis cluster: replies outstanding");
        return -1;
    }
    char ignored[256];
    map_refresh(r, ignored, sizeof(ignored));
    for (size_t i = 0; i < count; i++) {
        int node = r->slots[slots[i] & (REDIS_ROUTE_SLOTS - 1)];
        if (node < 0) {
            snprintf(errstr, errstr_size, "redis cluster: slot %u has no master", slots[i]);
            return -1;
        }
        if (node_connect(r, node, errstr, errstr_size) != 0)
            return -1;
        redisReply *reply = redisCommand(r->nodes[node].ctx, "PING");
        if (!reply) {
            node_fail(r, node, "no answer to PING", errstr, errstr_size);
            return -1;
        }
        freeReplyObject(reply);
    }
    return 0;
}
