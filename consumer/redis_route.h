/* redis_route.h -- commands to one Redis, or routed by key slot across a Redis Cluster.
 *
 * Debian's hiredis knows nothing of Redis Cluster, so the routing is ours, and
 * kept small: a slot table and the two redirects. Without cluster (the
 * default) a route is a thin wrapper over one redisContext, at the cost of
 * hiredis alone.
 *
 * With cluster, the slot map comes from CLUSTER SLOTS, asked of the seeds
 * (or of any node known). Each command is sent to the master owning its slot,
 * one connection per master, commands pipelined per node; replies come back
 * in the order the commands were appended, whichever nodes served them.
 *   MOVED  the map is refreshed and the command resent to the new owner;
 *   ASK    ASKING then the command, once, to the node named (a slot being
 *          migrated: the key already moved);
 *   TRYAGAIN, CLUSTERDOWN, a node that died or closed the connection: the
 *          map is refreshed and the command resent, with backoff, until the
 *          route's timeout; then the call fails with errstr and every
 *          connection with replies outstanding is closed.
 * A command may thus run twice (sent, its reply lost, resent): only commands
 * safe to repeat belong in a routed pipeline.
 *
 * How a module routes a command by key: format it in RESP (redisFormatCommand
 * or by hand), then
 *     redis_route_append(route, redis_route_slot(key, key_len), cmd, cmd_len, ...);
 *     redis_route_flush(route, ...);
 *     redis_route_get_reply(route, &reply, ...);   once per command appended
 * or, for one command, redis_route_command(route, key, ...). Every key of one
 * command must hash to one slot: put them under one {hash tag}.
 *
 * Not thread-safe: one route per thread, as one redisContext. */
#ifndef DAGPROF_REDIS_ROUTE_H
#define DAGPROF_REDIS_ROUTE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define REDIS_ROUTE_SLOTS 16384

typedef struct redis_route redis_route_t;

/* Run on every new connection, after AUTH, before any command: e.g. SCRIPT
 * LOAD, as a promoted replica or a new master has not seen our scripts.
 * Returns 0, or -1 with errstr. */
typedef int (*redis_route_connect_fn)(redisContext *ctx, void *opaque, char *errstr,
                                      size_t errstr_size);

typedef struct redis_route_options {
    const char *host;     /* the one Redis; with cluster, a seed when nodes is empty */
    int port;
    int cluster;          /* route by slot across a Redis Cluster */
    const char *nodes;    /* "host:port,host:port,...": seeds; non-empty implies cluster */
    const char *user;     /* ACL user, or NULL/"" for the default user */
    const char *password; /* NULL/"" for none */
    int db;               /* SELECT; must be 0 on a cluster */
    int timeout_ms;       /* connect and command timeout; a cluster's retries stop there */
    redis_route_connect_fn on_connect; /* NULL for none */
    void *opaque;
} redis_route_options_t;

/* Connect (to the one Redis, or read the slot map from the seeds); fails fast
 * with errstr when it cannot. Free with redis_route_free(). */
redis_route_t *redis_route_new(const redis_route_options_t *options, char *errstr,
                               size_t errstr_size);
void redis_route_free(redis_route_t *route);
int redis_route_is_cluster(const redis_route_t *route);

/* "host:port,host:port": 0 when every entry parses (host non-empty, port
 * 1..65535), else -1 with errstr naming the bad entry. */
int redis_route_check_nodes(const char *nodes, char *errstr, size_t errstr_size);

/* The cluster slot of a key: CRC16 (XMODEM) mod 16384 of the key, or of its
 * hash tag -- the bytes between the first '{' and the first '}' after it,
 * when there is at least one. */
unsigned redis_route_slot(const void *key, size_t len);

/* Queue one command, formatted in RESP, for the master of `slot` (ignored
 * without cluster). `cmd` is borrowed until its reply has been read: it is
 * resent on a redirect. Returns 0, or -1 with errstr (cannot connect). */
int redis_route_append(redis_route_t *route, unsigned slot, const char *cmd, size_t len,
                       char *errstr, size_t errstr_size);
/* Write the queued commands to their nodes, without waiting for replies. */
int redis_route_flush(redis_route_t *route, char *errstr, size_t errstr_size);
/* The next reply, in the order the commands were appended (*reply to
 * freeReplyObject). Error replies other than redirects are replies. Returns
 * 0, or -1 with errstr when the connection failed: the replies outstanding
 * are then lost and the connections closed (the next append reconnects). */
int redis_route_get_reply(redis_route_t *route, redisReply **reply, char *errstr,
                          size_t errstr_size);
/* Forget the replies outstanding and close every connection: the next
 * command reconnects (and runs on_connect again). */
void redis_route_reset(redis_route_t *route);

/* One command, printf-style as redisCommand, to the master of `key`'s slot
 * (key NULL: any node). Returns the reply (to freeReplyObject), or NULL with
 * errstr; an error reply is returned as a reply. */
redisReply *redis_route_command(redis_route_t *route, const char *key, char *errstr,
                                size_t errstr_size, const char *format, ...);

/* Per node figures, for metrics. */
typedef struct redis_route_node_stats {
    char addr[128]; /* host:port */
    uint64_t round_trips, moved, ask, errors, reconnects;
    int connected;
} redis_route_node_stats_t;

/* Fill up to max entries; returns the number of nodes known. */
size_t redis_route_stats(const redis_route_t *route, redis_route_node_stats_t *out, size_t max);

/* 0 when each slot given has a master in the current map that is reachable
 * (a connection is up, or can be made now); else -1 with errstr naming the
 * first slot without one. Without cluster: whether the one Redis answers. */
int redis_route_check_slots(redis_route_t *route, const unsigned *slots, size_t count,
                            char *errstr, size_t errstr_size);

#endif
