/* harness_cluster.c -- a real Redis Cluster on loopback for tests; see
 * harness_cluster.h. */
#include "harness_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CLUSTER_MAX_NODES 16
#define CLUSTER_READY_MS 120000

struct harness_cluster {
    int count;
    int port[CLUSTER_MAX_NODES];
    pid_t pid[CLUSTER_MAX_NODES];
    char *dir;
    char seeds[CLUSTER_MAX_NODES * 24];
};

static int64_t cluster_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cluster_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int port_is_free(int port) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    int ok = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

/* A free port whose bus port (+10000) is free and in range too. */
static int cluster_free_port(const harness_cluster_t *c) {
    for (int attempt = 0; attempt < 1000; attempt++) {
        int port = harness_free_port();
        if (port <= 0)
            continue;
        if (port > 55000)
            port = 20000 + port % 30000;
        int clash = 0;
        for (int i = 0; i < c->count; i++)
            clash |= abs(c->port[i] - port) == 10000 || c->port[i] == port;
        if (!clash && port_is_free(port) && port_is_free(port + 10000))
            return port;
    }
    return -1;
}

redisContext *harness_cluster_connect(const harness_cluster_t *c, int node, char *errstr,
                                      size_t errstr_size) {
    struct timeval tv = {10, 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", c->port[node], tv);
    if (!ctx || ctx->err) {
        snprintf(errstr, errstr_size, "cluster node %d (port %d): %s", node, c->port[node],
                 ctx ? ctx->errstr : "out of memory");
        if (ctx)
            redisFree(ctx);
        return NULL;
    }
    redisSetTimeout(ctx, tv);
    return ctx;
}

/* A command's reply on a fresh connection to a node, NULL with errstr. */
static redisReply *node_command(const harness_cluster_t *c, int node, char *errstr,
                                size_t errstr_size, const char *cmd) {
    redisContext *ctx = harness_cluster_connect(c, node, errstr, errstr_size);
    if (!ctx)
        return NULL;
    redisReply *r = redisCommand(ctx, cmd);
    if (!r)
        snprintf(errstr, errstr_size, "cluster node %d: %s: %s", node, cmd, ctx->errstr);
    redisFree(ctx);
    return r;
}

static int start_node(harness_cluster_t *c, int i, char *errstr, size_t errstr_size) {
    char port[16], conf[600], log[600], dir[512];
    snprintf(port, sizeof(port), "%d", c->port[i]);
    snprintf(dir, sizeof(dir), "%s/%d", c->dir, i);
    snprintf(conf, sizeof(conf), "%s/nodes.conf", dir);
    snprintf(log, sizeof(log), "%s/redis.log", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(errstr, errstr_size, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", dir, "--daemonize", "no",
                          "--cluster-enabled", "yes", "--cluster-config-file", conf,
                          "--cluster-node-timeout", "2000", "--cluster-replica-validity-factor", "0",
                          NULL};
    c->pid[i] = harness_spawn(argv, NULL, log);
    if (c->pid[i] < 0) {
        snprintf(errstr, errstr_size, "cannot run redis-server: %s", strerror(errno));
        return -1;
    }
    int64_t deadline = cluster_now_ms() + 30000;
    for (;;) {
        char ignored[256];
        redisReply *r = node_command(c, i, ignored, sizeof(ignored), "PING");
        if (r) {
            freeReplyObject(r);
            return 0;
        }
        int status;
        if (harness_wait(c->pid[i], 0, &status) == 0) {
            c->pid[i] = -1;
            snprintf(errstr, errstr_size, "cluster node %d exited with %d (log %s)", i, status, log);
            return -1;
        }
        if (cluster_now_ms() > deadline) {
            snprintf(errstr, errstr_size, "cluster node %d did not answer PING", i);
            return -1;
        }
        cluster_sleep_ms(20);
    }
}

harness_cluster_t *harness_cluster_start(int masters, int replicas, char *errstr,
                                         size_t errstr_size) {
    harness_cluster_t *c = calloc(1, sizeof(*c));
    if (!c || masters * (1 + replicas) > CLUSTER_MAX_NODES || masters < 3) {
        snprintf(errstr, errstr_size, "harness_cluster_start: bad size or out of memory");
        free(c);
        return NULL;
    }
    for (int i = 0; i < CLUSTER_MAX_NODES; i++)
        c->pid[i] = -1;
    c->dir = harness_tempdir("dagprof-cluster");
    if (!c->dir) {
        snprintf(errstr, errstr_size, "temp dir: %s", strerror(errno));
        goto fail;
    }
    int total = masters * (1 + replicas);
    for (int i = 0; i < total; i++) {
        c->port[i] = -1;
        int port = cluster_free_port(c);
        if (port < 0) {
            snprintf(errstr, errstr_size, "no free port pair");
            goto fail;
        }
        c->port[i] = port;
        c->count = i + 1;
        if (start_node(c, i, errstr, errstr_size) != 0)
            goto fail;
    }
    const char *argv[CLUSTER_MAX_NODES + 8];
    char addr[CLUSTER_MAX_NODES][32], rep[16];
    int argc = 0;
    argv[argc++] = "redis-cli";
    argv[argc++] = "--cluster";
    argv[argc++] = "create";
    size_t used = 0;
    for (int i = 0; i < total; i++) {
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", c->port[i]);
        argv[argc++] = addr[i];
        used += (size_t)snprintf(c->seeds + used, sizeof(c->seeds) - used, "%s%s", i ? "," : "", addr[i]);
    }
    snprintf(rep, sizeof(rep), "%d", replicas);
    argv[argc++] = "--cluster-replicas";
    argv[argc++] = rep;
    argv[argc++] = "--cluster-yes";
    argv[argc] = NULL;
    char log[512];
    snprintf(log, sizeof(log), "%s/create.log", c->dir);
    pid_t pid = harness_spawn(argv, NULL, log);
    int status = -1;
    if (pid < 0 || harness_wait(pid, 120000, &status) != 0 || status != 0) {
        char *text = harness_slurp(log);
        snprintf(errstr, errstr_size, "redis-cli --cluster create failed (%d): %.300s", status,
                 text ? text : "");
        free(text);
        goto fail;
    }
    if (harness_cluster_wait_ok(c, CLUSTER_READY_MS, errstr, errstr_size) != 0)
        goto fail;
    return c;
fail:
    harness_cluster_free(c);
    return NULL;
}

void harness_cluster_free(harness_cluster_t *c) {
    if (!c)
        return;
    for (int i = 0; i < c->count; i++)
        if (c->pid[i] > 0)
            harness_kill(c->pid[i], SIGTERM);
    for (int i = 0; i < c->count; i++)
        if (c->pid[i] > 0 && harness_wait(c->pid[i], 10000, NULL) != 0) {
            harness_kill(c->pid[i], SIGKILL);
            harness_wait(c->pid[i], 10000, NULL);
        }
    if (c->dir) {
        harness_rmtree(c->dir);
        free(c->dir);
    }
    free(c);
}

int harness_cluster_count(const harness_cluster_t *c) { return c->count; }
int harness_cluster_port(const harness_cluster_t *c, int node) { return c->port[node]; }
pid_t harness_cluster_pid(const harness_cluster_t *c, int node) { return c->pid[node]; }
const char *harness_cluster_seeds(const harness_cluster_t *c) { return c->seeds; }

static int node_of_port(const harness_cluster_t *c, long long port) {
    for (int i = 0; i < c->count; i++)
        if (c->port[i] == port)
            return i;
    return -1;
}

typedef struct slot_range {
    long long from, to, port;
} slot_range_t;

static int range_cmp(const void *x, const void *y) {
    const slot_range_t *a = x, *b = y;
    return a->from < b->from ? -1 : a->from > b->from;
}

/* "from-to:port;..." of a node's CLUSTER SLOTS, sorted, for comparing views;
 * *owner (may be NULL) gets the node serving `slot`. */
static int slots_view(const harness_cluster_t *c, int node, char *view, size_t size,
                      unsigned slot, int *owner, char *errstr, size_t errstr_size) {
    redisReply *r = node_command(c, node, errstr, errstr_size, "CLUSTER SLOTS");
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "CLUSTER SLOTS: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
        freeReplyObject(r);
        return -1;
    }
    slot_range_t ranges[512];
    size_t n = 0, used = 0;
    if (owner)
        *owner = -1;
    for (size_t i = 0; i < r->elements && n < 512; i++) {
        redisReply *e = r->element[i];
        ranges[n].from = e->element[0]->integer;
        ranges[n].to = e->element[1]->integer;
        ranges[n].port = e->element[2]->element[1]->integer;
        if (owner && (long long)slot >= ranges[n].from && (long long)slot <= ranges[n].to)
            *owner = node_of_port(c, ranges[n].port);
        n++;
    }
    freeReplyObject(r);
    qsort(ranges, n, sizeof(ranges[0]), range_cmp);
    view[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(view + used, size - used, "%lld-%lld:%lld;", ranges[i].from,
                                 ranges[i].to, ranges[i].port);
    return 0;
}

int harness_cluster_master_of(const harness_cluster_t *c, unsigned slot, char *errstr,
                              size_t errstr_size) {
    char view[4096];
    for (int i = 0; i < c->count; i++) {
        int owner = -1;
        if (c->pid[i] > 0 && slots_view(c, i, view, sizeof(view), slot, &owner, errstr, errstr_size) == 0 &&
            owner >= 0)
            return owner;
    }
    snprintf(errstr, errstr_size, "no node knows the master of slot %u", slot);
    return -1;
}

static int node_id(const harness_cluster_t *c, int node, char *id, size_t size, char *errstr,
                   size_t errstr_size) {
    redisReply *r = node_command(c, node, errstr, errstr_size, "CLUSTER MYID");
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_STRING;
    if (ok)
        snprintf(id, size, "%s", r->str);
    else
        snprintf(errstr, errstr_size, "CLUSTER MYID failed");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int harness_cluster_replica_of(const harness_cluster_t *c, int master, char *errstr,
                               size_t errstr_size) {
    char id[64];
    if (node_id(c, master, id, sizeof(id), errstr, errstr_size) != 0)
        return -1;
    for (int i = 0; i < c->count; i++) {
        if (i == master || c->pid[i] <= 0)
            continue;
        redisReply *r = node_command(c, i, errstr, errstr_size, "INFO replication");
        if (!r)
            continue;
        int is_replica = r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave");
        char wanted[64];
        snprintf(wanted, sizeof(wanted), "master_port:%d\r", c->port[master]);
        int match = is_replica && strstr(r->str, wanted);
        freeReplyObject(r);
        if (match)
            return i;
    }
    snprintf(errstr, errstr_size, "node %d has no replica", master);
    return -1;
}

int harness_cluster_wait_ok(const harness_cluster_t *c, int timeout_ms, char *errstr,
                            size_t errstr_size) {
    int64_t deadline = cluster_now_ms() + timeout_ms;
    for (;;) {
        int ok = 1;
        char first[4096] = "", view[4096];
        int have_first = 0;
        for (int i = 0; i < c->count && ok; i++) {
            if (c->pid[i] <= 0)
                continue;
            redisReply *r = node_command(c, i, errstr, errstr_size, "CLUSTER INFO");
            ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
            if (r && !ok)
                snprintf(errstr, errstr_size, "node %d: %.200s", i, r->type == REDIS_REPLY_STRING ? r->str : "?");
            if (r)
                freeReplyObject(r);
            if (!ok)
                break;
            r = node_command(c, i, errstr, errstr_size, "INFO replication");
            if (r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave") &&
                !strstr(r->str, "master_link_status:up")) {
                ok = 0;
                snprintf(errstr, errstr_size, "node %d: replica link not up", i);
            }
            if (r)
                freeReplyObject(r);
            if (!ok || slots_view(c, i, view, sizeof(view), 0, NULL, errstr, errstr_size) != 0) {
                ok = 0;
                break;
            }
            if (!have_first) {
                snprintf(first, sizeof(first), "%s", view);
                have_first = 1;
            } else if (strcmp(first, view) != 0) {
                ok = 0;
                snprintf(errstr, errstr_size, "nodes disagree on the slot map");
            }
        }
        if (ok)
            return 0;
        if (cluster_now_ms() > deadline) {
            char detail[512];
            snprintf(detail, sizeof(detail), "%s", errstr);
            snprintf(errstr, errstr_size, "cluster not ok within %d ms: %s", timeout_ms, detail);
            return -1;
        }
        cluster_sleep_ms(100);
    }
}

int harness_cluster_kill(harness_cluster_t *c, int node) {
    if (c->pid[node] <= 0)
        return -1;
    harness_kill(c->pid[node], SIGKILL);
    harness_wait(c->pid[node], 10000, NULL);
    c->pid[node] = -1;
    return 0;
}

static int node_do(const harness_cluster_t *c, int node, char *errstr, size_t errstr_size,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int node_do(const harness_cluster_t *c, int node, char *errstr, size_t errstr_size,
                   const char *fmt, ...) {
    redisContext *ctx = harness_cluster_connect(c, node, errstr, errstr_size);
    if (!ctx)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rc)
        snprintf(errstr, errstr_size, "node %d: %s: %s", node, fmt, r ? r->str : ctx->errstr);
    if (r)
        freeReplyObject(r);
    redisFree(ctx);
    return rc;
}

int harness_cluster_move_slot(harness_cluster_t *c, unsigned slot, int to,
                              void (*between)(void *opaque, int step), void *opaque,
                              char *errstr, size_t errstr_size) {
    int from = harness_cluster_master_of(c, slot, errstr, errstr_size);
    if (from < 0)
        return -1;
    if (from == to) {
        snprintf(errstr, errstr_size, "slot %u is already on node %d", slot, to);
        return -1;
    }
    char from_id[64], to_id[64];
    if (node_id(c, from, from_id, sizeof(from_id), errstr, errstr_size) != 0 ||
        node_id(c, to, to_id, sizeof(to_id), errstr, errstr_size) != 0)
        return -1;
    if (node_do(c, to, errstr, errstr_size, "CLUSTER SETSLOT %u IMPORTING %s", slot, from_id) != 0 ||
        node_do(c, from, errstr, errstr_size, "CLUSTER SETSLOT %u MIGRATING %s", slot, to_id) != 0)
        return -1;
    if (between)
        between(opaque, 1);
    redisContext *src = harness_cluster_connect(c, from, errstr, errstr_size);
    if (!src)
        return -1;
    int rc = 0, batches = 0;
    for (;;) {
        redisReply *keys = redisCommand(src, "CLUSTER GETKEYSINSLOT %u 50", slot);
        if (!keys || keys->type != REDIS_REPLY_ARRAY) {
            snprintf(errstr, errstr_size, "GETKEYSINSLOT failed");
            if (keys)
                freeReplyObject(keys);
            rc = -1;
            break;
        }
        if (keys->elements == 0) {
            freeReplyObject(keys);
            break;
        }
        size_t argc = 6 + keys->elements;
        const char **argv = calloc(argc, sizeof(*argv));
        size_t *lens = calloc(argc, sizeof(*lens));
        char port[16];
        snprintf(port, sizeof(port), "%d", c->port[to]);
        const char *head[] = {"MIGRATE", "127.0.0.1", port, "", "0", "10000"};
        for (int i = 0; i < 6; i++)
            argv[i] = head[i], lens[i] = strlen(head[i]);
        /* REPLACE and KEYS come last */
        argv = realloc(argv, (argc + 2) * sizeof(*argv));
        lens = realloc(lens, (argc + 2) * sizeof(*lens));
        argv[6] = "REPLACE", lens[6] = 7;
        argv[7] = "KEYS", lens[7] = 4;
        for (size_t k = 0; k < keys->elements; k++)
            argv[8 + k] = keys->element[k]->str, lens[8 + k] = keys->element[k]->len;
        redisReply *m = redisCommandArgv(src, (int)(argc + 2), argv, lens);
        free(argv);
        free(lens);
        freeReplyObject(keys);
        if (!m || m->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "MIGRATE: %s", m ? m->str : src->errstr);
            if (m)
                freeReplyObject(m);
            rc = -1;
            break;
        }
        freeReplyObject(m);
        if (batches++ == 0 && between)
            between(opaque, 2);
    }
    redisFree(src);
    if (rc != 0)
        return -1;
    /* the new owner first, so that it never refuses its own slot */
    if (node_do(c, to, errstr, errstr_size, "CLUSTER SETSLOT %u NODE %s", slot, to_id) != 0 ||
        node_do(c, from, errstr, errstr_size, "CLUSTER SETSLOT %u NODE %s", slot, to_id) != 0)
        return -1;
    for (int i = 0; i < c->count; i++)
        if (i != to && i != from && c->pid[i] > 0)
            (void)node_do(c, i, errstr, errstr_size, "CLUSTER SETSLOT %u NODE %s", slot, to_id);
    if (between)
        between(opaque, 3);
    return 0;
}
