/* mockbroker.c -- librdkafka's mock cluster run as a standalone Kafka broker.
 *
 * The local stack and the integration tests need a Kafka that starts in
 * milliseconds and needs no JVM or container. librdkafka ships one: the mock
 * cluster, real TCP listeners on 127.0.0.1 that speak enough of the protocol
 * for producers, consumer groups and offset commits. This program hosts it in
 * its own process so any client (dagprof, kcat, the tests) can connect.
 *
 *   dagprof-mockbroker [--brokers N] [--partitions N] [--topics a,b,c]
 *                      [--bootstrap-file PATH] [--port P] [--control-stdin]
 *
 * It prints "bootstrap=<servers>" on stdout once listening. The brokers' ports
 * are ephemeral: librdkafka 2.0.2 binds every mock broker to port 0 and has no
 * option to choose one. --port P adds a plain TCP relay on 127.0.0.1:P to the
 * first reachable broker, so a fixed bootstrap address works; clients then
 * connect to the brokers' own (ephemeral) ports learned from metadata.
 *
 * With --control-stdin it reads fault-injection commands, one per line, and
 * answers each with "ok" or "error: <reason>" on stdout:
 *
 *   broker down ID | broker up ID      (ID 1..N, or -1 for all brokers)
 *   broker rtt ID MS                   (delay every response by MS)
 *   push-errors APIKEY COUNT ERR...    (next COUNT requests of APIKEY fail;
 *                                       ERR is a code or a name such as
 *                                       NOT_LEADER_FOR_PARTITION or _TRANSPORT;
 *                                       one ERR is repeated COUNT times)
 *   topic-create NAME PARTITIONS
 *   ping
 *
 * End of input on stdin shuts it down. SIGTERM and SIGINT always do; the
 * bootstrap file (written atomically once listening) is removed on the way out.
 *
 * What the 2.0.2 mock is and is not: everything lives in memory and is lost at
 * exit. Each partition keeps at most 5 MiB or 100000 message sets (producer
 * batches), dropping the oldest. Idempotent producers, consumer groups and
 * committed offsets work. A group whose last member left stays "joining" for
 * session.timeout.ms - 1 s (so the next consumer waits that long: dagprof
 * run's default is 6 s), every join waits that long for members that may
 * still come, a dead member is dropped only when its session expires, and a
 * group's first join waits ~3 s. group.instance.id is kept but members are
 * found by member id only: static membership is not honoured. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MOCKBROKER_DEFAULT_TOPICS "dag-spans,dag-profiles,dag-recommendations,dag-deadletter"
#define MOCKBROKER_LINE_MAX 4096
#define MOCKBROKER_RELAY_BUF 65536
#define MOCKBROKER_MAX_ERRORS 1024
#define MOCKBROKER_POLL_MS 500

typedef struct mockbroker_options {
    int brokers;
    int partitions;
    const char *topics;         /* comma-separated */
    const char *bootstrap_file; /* NULL: none */
    int port;                   /* 0: no fixed-port relay */
    bool control_stdin;
} mockbroker_options_t;

/* One relayed connection: buf[i] holds bytes read from fd[i] not yet written
 * to the other side. A side reads only when its buffer is empty, which keeps
 * the relay simple and bounds memory per connection. */
typedef struct mockbroker_relay {
    int fd[2]; /* 0: client, 1: broker */
    char buf[2][MOCKBROKER_RELAY_BUF];
    size_t len[2];
    size_t off[2];
    struct mockbroker_relay *next;
} mockbroker_relay_t;

typedef struct mockbroker {
    rd_kafka_t *rk; /* hosts the mock cluster; never produces */
    rd_kafka_mock_cluster_t *mcluster; /* destroyed before rk */
    int broker_count;
    char *bootstraps; /* owned copy */
    int relay_listen_fd; /* -1 when --port was not given */
    mockbroker_relay_t *relays;
    char line[MOCKBROKER_LINE_MAX];
    size_t line_len;
    bool line_overflow;
} mockbroker_t;

static volatile sig_atomic_t mockbroker_stop_requested;

static void mockbroker_on_signal(int signo) {
    (void)signo;
    mockbroker_stop_requested = 1;
}

static void mockbroker_usage(FILE *out) {
    fprintf(out,
            "usage: dagprof-mockbroker [--brokers N] [--partitions N] [--topics a,b,c]\n"
            "                          [--bootstrap-file PATH] [--port P] [--control-stdin]\n"
            "  --brokers N          number of brokers, ids 1..N (default 1)\n"
            "  --partitions N       partitions per topic (default 6)\n"
            "  --topics LIST        topics to create (default %s)\n"
            "  --bootstrap-file F   write the bootstrap servers to F once listening\n"
            "  --port P             also accept bootstrap connections on 127.0.0.1:P\n"
            "  --control-stdin      read fault-injection commands from stdin; EOF stops\n",
            MOCKBROKER_DEFAULT_TOPICS);
}

/* Parse a whole decimal int in [min, max]; 0 on success. */
static int mockbroker_parse_int(const char *text, long min, long max, long *out) {
    char *end = NULL;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

static int mockbroker_parse_options(int argc, char **argv, mockbroker_options_t *opts) {
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"topics", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"port", required_argument, NULL, 'P'},
        {"control-stdin", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long value;
    int c;

    opts->brokers = 1;
    opts->partitions = 6;
    opts->topics = MOCKBROKER_DEFAULT_TOPICS;
    opts->bootstrap_file = NULL;
    opts->port = 0;
    opts->control_stdin = false;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (mockbroker_parse_int(optarg, 1, 64, &value) != 0) {
                fprintf(stderr, "dagprof-mockbroker: --brokers wants 1..64, not '%s'\n", optarg);
                return -1;
            }
            opts->brokers = (int)value;
            break;
        case 'p':
            if (mockbroker_parse_int(optarg, 1, 10000, &value) != 0) {
                fprintf(stderr, "dagprof-mockbroker: --partitions wants 1..10000, not '%s'\n",
                        optarg);
                return -1;
            }
            opts->partitions = (int)value;
            break;
        case 't':
            opts->topics = optarg;
            break;
        case 'f':
            opts->bootstrap_file = optarg;
            break;
        case 'P':
            if (mockbroker_parse_int(optarg, 1, 65535, &value) != 0) {
                fprintf(stderr, "dagprof-mockbroker: --port wants 1..65535, not '%s'\n", optarg);
                return -1;
            }
            opts->port = (int)value;
            break;
        case 'c':
            opts->control_stdin = true;
            break;
        case 'h':
            mockbroker_usage(stdout);
            return 1;
        default:
            mockbroker_usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dagprof-mockbroker: unexpected argument '%s'\n", argv[optind]);
        mockbroker_usage(stderr);
        return -1;
    }
    return 0;
}

/* A replication factor above the broker count would leave partitions without
 * enough replicas; the mock caps it anyway, but say what we mean. */
static int mockbroker_replication(const mockbroker_t *mb) {
    return mb->broker_count < 3 ? mb->broker_count : 3;
}

static int mockbroker_create_topic(mockbroker_t *mb, const char *name, int partitions,
                                   char *errstr, size_t errstr_size) {
    rd_kafka_resp_err_t err;

    err = rd_kafka_mock_topic_create(mb->mcluster, name, partitions, mockbroker_replication(mb));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "topic %s: %s", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int mockbroker_create_topics(mockbroker_t *mb, const char *list, int partitions,
                                    char *errstr, size_t errstr_size) {
    char *copy = strdup(list);
    char *saveptr = NULL;
    char *name;
    int rc = -1;

    if (copy == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (name = strtok_r(copy, ",", &saveptr); name != NULL;
         name = strtok_r(NULL, ",", &saveptr)) {
        if (mockbroker_create_topic(mb, name, partitions, errstr, errstr_size) != 0)
            goto fail;
    }
    rc = 0;
fail:
    free(copy);
    return rc;
}

/* Write temp + rename so a reader never sees a half-written file. */
static int mockbroker_write_bootstrap_file(const char *path, const char *servers,
                                           char *errstr, size_t errstr_size) {
    char *tmp_path = NULL;
    FILE *fp = NULL;
    size_t tmp_size = strlen(path) + 32;
    int rc = -1;

    tmp_path = malloc(tmp_size);
    if (tmp_path == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    snprintf(tmp_path, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    fp = fopen(tmp_path, "w");
    if (fp == NULL) {
        snprintf(errstr, errstr_size, "%s: %s", tmp_path, strerror(errno));
        goto fail;
    }
    if (fprintf(fp, "%s\n", servers) < 0 || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", tmp_path, strerror(errno));
        goto fail;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        snprintf(errstr, errstr_size, "%s: %s", tmp_path, strerror(errno));
        goto fail;
    }
    fp = NULL;
    if (rename(tmp_path, path) != 0) {
        snprintf(errstr, errstr_size, "rename to %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = 0;
fail:
    if (fp != NULL)
        fclose(fp);
    if (rc != 0 && tmp_path != NULL)
        unlink(tmp_path);
    free(tmp_path);
    return rc;
}

/* ---- fault-injection commands ---- */

static int mockbroker_parse_error_code(const char *text, rd_kafka_resp_err_t *out) {
    const struct rd_kafka_err_desc *descs;
    size_t count;
    size_t i;
    long value;

    if (mockbroker_parse_int(text, -10000, 10000, &value) == 0) {
        *out = (rd_kafka_resp_err_t)value;
        return 0;
    }
    rd_kafka_get_err_descs(&descs, &count);
    for (i = 0; i < count; i++) {
        if (descs[i].name != NULL && strcmp(descs[i].name, text) == 0) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

static int mockbroker_parse_broker_id(const mockbroker_t *mb, const char *text, int32_t *out,
                                      char *errstr, size_t errstr_size) {
    long value;

    if (mockbroker_parse_int(text, -1, mb->broker_count, &value) != 0 || value == 0) {
        snprintf(errstr, errstr_size, "broker id must be 1..%d or -1 (all), not '%s'",
                 mb->broker_count, text);
        return -1;
    }
    *out = (int32_t)value;
    return 0;
}

static int mockbroker_cmd_broker(mockbroker_t *mb, char **args, int argc, char *errstr,
                                 size_t errstr_size) {
    rd_kafka_resp_err_t err;
    int32_t broker_id;
    long rtt_ms;

    if (argc < 3) {
        snprintf(errstr, errstr_size, "usage: broker down|up ID, broker rtt ID MS");
        return -1;
    }
    if (mockbroker_parse_broker_id(mb, args[2], &broker_id, errstr, errstr_size) != 0)
        return -1;
    if (strcmp(args[1], "down") == 0 && argc == 3) {
        err = rd_kafka_mock_broker_set_down(mb->mcluster, broker_id);
    } else if (strcmp(args[1], "up") == 0 && argc == 3) {
        err = rd_kafka_mock_broker_set_up(mb->mcluster, broker_id);
    } else if (strcmp(args[1], "rtt") == 0 && argc == 4) {
        if (mockbroker_parse_int(args[3], 0, 3600 * 1000, &rtt_ms) != 0) {
            snprintf(errstr, errstr_size, "rtt must be 0..3600000 ms, not '%s'", args[3]);
            return -1;
        }
        err = rd_kafka_mock_broker_set_rtt(mb->mcluster, broker_id, (int)rtt_ms);
    } else {
        snprintf(errstr, errstr_size, "usage: broker down|up ID, broker rtt ID MS");
        return -1;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "%s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int mockbroker_cmd_push_errors(mockbroker_t *mb, char **args, int argc, char *errstr,
                                      size_t errstr_size) {
    rd_kafka_resp_err_t errors[MOCKBROKER_MAX_ERRORS];
    long api_key;
    long count;
    int given;
    int i;

    if (argc < 4) {
        snprintf(errstr, errstr_size, "usage: push-errors APIKEY COUNT ERRCODE...");
        return -1;
    }
    if (mockbroker_parse_int(args[1], 0, INT16_MAX, &api_key) != 0) {
        snprintf(errstr, errstr_size, "APIKEY must be a protocol request number, not '%s'",
                 args[1]);
        return -1;
    }
    if (mockbroker_parse_int(args[2], 1, MOCKBROKER_MAX_ERRORS, &count) != 0) {
        snprintf(errstr, errstr_size, "COUNT must be 1..%d, not '%s'", MOCKBROKER_MAX_ERRORS,
                 args[2]);
        return -1;
    }
    given = argc - 3;
    if (given != 1 && given != count) {
        snprintf(errstr, errstr_size, "want 1 or %ld error codes, got %d", count, given);
        return -1;
    }
    for (i = 0; i < count; i++) {
        const char *code_text = args[3 + (given == 1 ? 0 : i)];

        if (mockbroker_parse_error_code(code_text, &errors[i]) != 0) {
            snprintf(errstr, errstr_size, "unknown error code '%s'", code_text);
            return -1;
        }
    }
    rd_kafka_mock_push_request_errors_array(mb->mcluster, (int16_t)api_key, (size_t)count, errors);
    return 0;
}

static int mockbroker_cmd_topic_create(mockbroker_t *mb, char **args, int argc, char *errstr,
                                       size_t errstr_size) {
    long partitions;

    if (argc != 3) {
        snprintf(errstr, errstr_size, "usage: topic-create NAME PARTITIONS");
        return -1;
    }
    if (mockbroker_parse_int(args[2], 1, 10000, &partitions) != 0) {
        snprintf(errstr, errstr_size, "PARTITIONS must be 1..10000, not '%s'", args[2]);
        return -1;
    }
    return mockbroker_create_topic(mb, args[1], (int)partitions, errstr, errstr_size);
}

/* Run one command line; 0 for "ok", -1 with the reason in errstr. */
static int mockbroker_run_command(mockbroker_t *mb, char *line, char *errstr, size_t errstr_size) {
    char *args[MOCKBROKER_MAX_ERRORS + 8];
    char *saveptr = NULL;
    char *word;
    int argc = 0;

    for (word = strtok_r(line, " \t\r", &saveptr); word != NULL;
         word = strtok_r(NULL, " \t\r", &saveptr)) {
        if (argc == (int)(sizeof(args) / sizeof(args[0]))) {
            snprintf(errstr, errstr_size, "too many words");
            return -1;
        }
        args[argc++] = word;
    }
    if (argc == 0) {
        snprintf(errstr, errstr_size, "empty command");
        return -1;
    }
    if (strcmp(args[0], "ping") == 0 && argc == 1)
        return 0;
    if (strcmp(args[0], "broker") == 0)
        return mockbroker_cmd_broker(mb, args, argc, errstr, errstr_size);
    if (strcmp(args[0], "push-errors") == 0)
        return mockbroker_cmd_push_errors(mb, args, argc, errstr, errstr_size);
    if (strcmp(args[0], "topic-create") == 0)
        return mockbroker_cmd_topic_create(mb, args, argc, errstr, errstr_size);
    snprintf(errstr, errstr_size, "unknown command '%s'", args[0]);
    return -1;
}

static int mockbroker_reply(int ok, const char *errstr) {
    int written = ok ? printf("ok\n") : printf("error: %s\n", errstr);

    if (written < 0 || fflush(stdout) != 0)
        return -1;
    return 0;
}

/* Read what stdin has and answer every complete line. Returns 1 at end of
 * input (the signal to stop), 0 otherwise, -1 when stdout is gone. */
static int mockbroker_serve_stdin(mockbroker_t *mb) {
    char chunk[1024];
    char errstr[512];
    ssize_t n;
    ssize_t i;

    n = read(STDIN_FILENO, chunk, sizeof(chunk));
    if (n < 0)
        return (errno == EINTR || errno == EAGAIN) ? 0 : 1;
    if (n == 0)
        return 1;
    for (i = 0; i < n; i++) {
        char c = chunk[i];

        if (c != '\n') {
            if (mb->line_len + 1 < sizeof(mb->line))
                mb->line[mb->line_len++] = c;
            else
                mb->line_overflow = true;
            continue;
        }
        mb->line[mb->line_len] = '\0';
        if (mb->line_overflow) {
            if (mockbroker_reply(0, "line too long") != 0)
                return -1;
        } else {
            int rc;

            errstr[0] = '\0';
            rc = mockbroker_run_command(mb, mb->line, errstr, sizeof(errstr));
            if (mockbroker_reply(rc == 0, errstr) != 0)
                return -1;
        }
        mb->line_len = 0;
        mb->line_overflow = false;
    }
    return 0;
}

/* ---- fixed-port relay ---- */

static int mockbroker_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

static int mockbroker_relay_listen(int port, char *errstr, size_t errstr_size) {
    struct sockaddr_in addr;
    int fd;
    int on = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "socket: %s", strerror(errno));
        return -1;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 64) != 0 ||
        mockbroker_set_nonblocking(fd) != 0) {
        snprintf(errstr, errstr_size, "127.0.0.1:%d: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Connect to the first broker of the bootstrap list that accepts. */
static int mockbroker_relay_connect_broker(const mockbroker_t *mb) {
    const char *entry = mb->bootstraps;

    while (entry != NULL && *entry != '\0') {
        const char *colon = strchr(entry, ':');
        const char *comma = strchr(entry, ',');
        struct sockaddr_in addr;
        int fd;

        if (colon == NULL)
            break;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons((uint16_t)atoi(colon + 1));
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
                return fd;
            close(fd);
        }
        entry = comma != NULL ? comma + 1 : NULL;
    }
    return -1;
}

static void mockbroker_relay_accept(mockbroker_t *mb) {
    mockbroker_relay_t *relay;
    int client_fd;
    int broker_fd;
    int on = 1;

    client_fd = accept4(mb->relay_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client_fd < 0)
        return;
    broker_fd = mockbroker_relay_connect_broker(mb);
    relay = calloc(1, sizeof(*relay));
    if (broker_fd < 0 || relay == NULL || mockbroker_set_nonblocking(broker_fd) != 0) {
        /* The client sees a closed connection, as with a broker that is down. */
        close(client_fd);
        if (broker_fd >= 0)
            close(broker_fd);
        free(relay);
        return;
    }
    /* Kafka requests are small and latency-bound; do not let Nagle batch them. */
    (void)setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    (void)setsockopt(broker_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    relay->fd[0] = client_fd;
    relay->fd[1] = broker_fd;
    relay->next = mb->relays;
    mb->relays = relay;
}

static void mockbroker_relay_close(mockbroker_relay_t *relay) {
    close(relay->fd[0]);
    close(relay->fd[1]);
    free(relay);
}

/* Move bytes for one relay given poll results; returns -1 when it is done. */
static int mockbroker_relay_service(mockbroker_relay_t *relay, const short revents[2]) {
    int side;

    for (side = 0; side < 2; side++) {
        int other = 1 - side;

        if (revents[side] & (POLLERR | POLLNVAL))
            return -1;
        if ((revents[side] & POLLOUT) && relay->len[other] > 0) {
            ssize_t n = write(relay->fd[side], relay->buf[other] + relay->off[other],
                              relay->len[other]);

            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
            if (n > 0) {
                relay->off[other] += (size_t)n;
                relay->len[other] -= (size_t)n;
                if (relay->len[other] == 0)
                    relay->off[other] = 0;
            }
        }
        if ((revents[side] & (POLLIN | POLLHUP)) && relay->len[side] == 0) {
            ssize_t n = read(relay->fd[side], relay->buf[side], sizeof(relay->buf[side]));

            if (n == 0)
                return -1;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
            if (n > 0)
                relay->len[side] = (size_t)n;
        }
    }
    return 0;
}

/* ---- main loop ---- */

static int mockbroker_count_relays(const mockbroker_t *mb) {
    const mockbroker_relay_t *relay;
    int count = 0;

    for (relay = mb->relays; relay != NULL; relay = relay->next)
        count++;
    return count;
}

static int mockbroker_run(mockbroker_t *mb, bool control_stdin) {
    struct pollfd *fds = NULL;
    size_t fds_cap = 0;
    int rc = -1;

    while (!mockbroker_stop_requested) {
        mockbroker_relay_t **link;
        mockbroker_relay_t *relay;
        size_t want = 2 + 2 * (size_t)mockbroker_count_relays(mb);
        size_t nfds = 0;
        size_t stdin_index = SIZE_MAX;
        size_t listen_index = SIZE_MAX;
        size_t relay_index;
        int ready;

        if (want > fds_cap) {
            struct pollfd *grown = realloc(fds, want * sizeof(*fds));

            if (grown == NULL) {
                fprintf(stderr, "dagprof-mockbroker: out of memory\n");
                goto fail;
            }
            fds = grown;
            fds_cap = want;
        }
        if (control_stdin) {
            stdin_index = nfds;
            fds[nfds++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        }
        if (mb->relay_listen_fd >= 0) {
            listen_index = nfds;
            fds[nfds++] = (struct pollfd){.fd = mb->relay_listen_fd, .events = POLLIN};
        }
        relay_index = nfds;
        for (relay = mb->relays; relay != NULL; relay = relay->next) {
            int side;

            for (side = 0; side < 2; side++) {
                short events = 0;

                if (relay->len[side] == 0)
                    events |= POLLIN;
                if (relay->len[1 - side] > 0)
                    events |= POLLOUT;
                fds[nfds++] = (struct pollfd){.fd = relay->fd[side], .events = events};
            }
        }

        ready = poll(fds, nfds, MOCKBROKER_POLL_MS);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "dagprof-mockbroker: poll: %s\n", strerror(errno));
            goto fail;
        }
        if (ready == 0)
            continue;

        if (stdin_index != SIZE_MAX && (fds[stdin_index].revents & (POLLIN | POLLHUP | POLLERR))) {
            int served = mockbroker_serve_stdin(mb);

            if (served == 1)
                break; /* end of input: the controller is done with us */
            if (served < 0) {
                fprintf(stderr, "dagprof-mockbroker: stdout closed, stopping\n");
                break;
            }
        }

        /* Relays first, with the indexes of this round, then new clients. */
        link = &mb->relays;
        while ((relay = *link) != NULL) {
            short revents[2] = {fds[relay_index].revents, fds[relay_index + 1].revents};

            relay_index += 2;
            if (mockbroker_relay_service(relay, revents) != 0) {
                *link = relay->next;
                mockbroker_relay_close(relay);
                continue;
            }
            link = &relay->next;
        }
        if (listen_index != SIZE_MAX && (fds[listen_index].revents & POLLIN))
            mockbroker_relay_accept(mb);
    }
    rc = 0;
fail:
    free(fds);
    return rc;
}

static void mockbroker_destroy(mockbroker_t *mb) {
    while (mb->relays != NULL) {
        mockbroker_relay_t *next = mb->relays->next;

        mockbroker_relay_close(mb->relays);
        mb->relays = next;
    }
    if (mb->relay_listen_fd >= 0)
        close(mb->relay_listen_fd);
    if (mb->mcluster != NULL)
        rd_kafka_mock_cluster_destroy(mb->mcluster);
    if (mb->rk != NULL)
        rd_kafka_destroy(mb->rk);
    free(mb->bootstraps);
}

int main(int argc, char **argv) {
    mockbroker_options_t opts;
    mockbroker_t mb;
    rd_kafka_conf_t *conf = NULL;
    struct sigaction action;
    char errstr[512];
    char *advertised = NULL; /* the bootstrap servers we tell clients */
    bool wrote_bootstrap_file = false;
    int exit_code = 1;
    int parsed;

    memset(&mb, 0, sizeof(mb));
    mb.relay_listen_fd = -1;

    parsed = mockbroker_parse_options(argc, argv, &opts);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    /* No SA_RESTART: a signal must interrupt poll() so the loop sees it. */
    memset(&action, 0, sizeof(action));
    action.sa_handler = mockbroker_on_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0) {
        fprintf(stderr, "dagprof-mockbroker: sigaction: %s\n", strerror(errno));
        goto fail;
    }
    /* A controller that went away must not kill us mid-reply; we stop on EOF. */
    signal(SIGPIPE, SIG_IGN);

    /* The host instance only carries the cluster: with no bootstrap.servers
     * it never connects anywhere, so it does not log about brokers going down.
     * log_level 4 hides the notice that it has none; the mock's own problems
     * are logged as errors. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "dagprof-mockbroker", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "dagprof-mockbroker: %s\n", errstr);
        goto fail;
    }
    mb.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (mb.rk == NULL) {
        fprintf(stderr, "dagprof-mockbroker: rd_kafka_new: %s\n", errstr);
        goto fail;
    }
    conf = NULL; /* owned by mb.rk now */

    mb.mcluster = rd_kafka_mock_cluster_new(mb.rk, opts.brokers);
    if (mb.mcluster == NULL) {
        fprintf(stderr, "dagprof-mockbroker: could not create the mock cluster\n");
        goto fail;
    }
    mb.broker_count = opts.brokers;
    mb.bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(mb.mcluster));
    if (mb.bootstraps == NULL) {
        fprintf(stderr, "dagprof-mockbroker: out of memory\n");
        goto fail;
    }
    if (mockbroker_create_topics(&mb, opts.topics, opts.partitions, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "dagprof-mockbroker: %s\n", errstr);
        goto fail;
    }

    if (opts.port != 0) {
        size_t size = strlen(mb.bootstraps) + 32;

        mb.relay_listen_fd = mockbroker_relay_listen(opts.port, errstr, sizeof(errstr));
        if (mb.relay_listen_fd < 0) {
            fprintf(stderr, "dagprof-mockbroker: --port: %s\n", errstr);
            goto fail;
        }
        /* The fixed address goes first: it is the one that stays the same. */
        advertised = malloc(size);
        if (advertised != NULL)
            snprintf(advertised, size, "127.0.0.1:%d,%s", opts.port, mb.bootstraps);
    } else {
        advertised = strdup(mb.bootstraps);
    }
    if (advertised == NULL) {
        fprintf(stderr, "dagprof-mockbroker: out of memory\n");
        goto fail;
    }
    if (opts.bootstrap_file != NULL &&
        mockbroker_write_bootstrap_file(opts.bootstrap_file, advertised, errstr,
                                        sizeof(errstr)) != 0) {
        fprintf(stderr, "dagprof-mockbroker: --bootstrap-file: %s\n", errstr);
        goto fail;
    }
    wrote_bootstrap_file = opts.bootstrap_file != NULL;
    if (printf("bootstrap=%s\n", advertised) < 0 || fflush(stdout) != 0)
        goto fail;

    if (mockbroker_run(&mb, opts.control_stdin) != 0)
        goto fail;
    exit_code = 0;
fail:
    /* A stale bootstrap file would point clients at a port nobody listens on. */
    if (wrote_bootstrap_file)
        unlink(opts.bootstrap_file);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    mockbroker_destroy(&mb);
    free(advertised);
    return exit_code;
}
