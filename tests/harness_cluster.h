/* harness_cluster.h -- a real Redis Cluster on loopback for tests.
 *
 * masters × (1 + replicas) redis-server processes with --cluster-enabled yes,
 * each on a free port whose cluster bus port (+10000) is free too, joined by
 * `redis-cli --cluster create`, then waited for until every node reports
 * cluster_state:ok, knows every other node, and every replica's link to its
 * master is up. The processes are harness_spawn children: they die with the
 * test process, and harness_cluster_free() stops them and removes their dir.
 * A short cluster-node-timeout (2 s) keeps failovers quick. Helpers abort
 * nothing: they return -1 / NULL with errstr. */
#ifndef DAGPROF_HARNESS_CLUSTER_H
#define DAGPROF_HARNESS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct harness_cluster harness_cluster_t;

harness_cluster_t *harness_cluster_start(int masters, int replicas_per_master, char *errstr,
                                         size_t errstr_size);
/* Stops every node (SIGTERM, then SIGKILL), removes the dir. NULL is fine. */
void harness_cluster_free(harness_cluster_t *cluster);

int harness_cluster_count(const harness_cluster_t *cluster);
int harness_cluster_port(const harness_cluster_t *cluster, int node);
pid_t harness_cluster_pid(const harness_cluster_t *cluster, int node); /* -1 once killed */
/* "127.0.0.1:p1,127.0.0.1:p2,...": every node, for redis.nodes; borrowed. */
const char *harness_cluster_seeds(const harness_cluster_t *cluster);

/* A new connection to a node (redisFree it), NULL with errstr. */
redisContext *harness_cluster_connect(const harness_cluster_t *cluster, int node, char *errstr,
                                      size_t errstr_size);

/* The node index serving `slot` as master, asked of any live node; -1 with errstr. */
int harness_cluster_master_of(const harness_cluster_t *cluster, unsigned slot, char *errstr,
                              size_t errstr_size);
/* A replica of the master at index `master`, -1 with errstr. */
int harness_cluster_replica_of(const harness_cluster_t *cluster, int master, char *errstr,
                               size_t errstr_size);

/* Until every live node says cluster_state:ok and agrees with the others on
 * who serves each slot, at most timeout_ms. */
int harness_cluster_wait_ok(const harness_cluster_t *cluster, int timeout_ms, char *errstr,
                            size_t errstr_size);

/* kill -9 a node; it stays down. */
int harness_cluster_kill(harness_cluster_t *cluster, int node);

/* Move `slot` from its master to the master at index `to`, keys included:
 * CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT NODE on
 * every master. Between steps, `between` (may be NULL) is called with opaque:
 * a test sends commands there to see ASK followed. */
int harness_cluster_move_slot(harness_cluster_t *cluster, unsigned slot, int to,
                              void (*between)(void *opaque, int step), void *opaque,
                              char *errstr, size_t errstr_size);

#endif
