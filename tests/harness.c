/* harness.c -- start, watch and always stop the real servers tests run against.
 *
 * Every child goes into a small registry tagged with the pid of the process
 * that started it. An atexit handler kills the children (and removes the data
 * dirs) that this very process owns, so a Check fork that exits does not kill
 * servers its parent still uses. PR_SET_PDEATHSIG covers the crashes atexit
 * cannot see. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_MAX_CHILDREN 64
#define HARNESS_MAX_DIRS 64
#define HARNESS_STOP_TIMEOUT_MS 10000
#define HARNESS_REDIS_READY_MS 15000
#define HARNESS_REDIS_START_ATTEMPTS 3
#define HARNESS_KAFKA_READY_MS 30000
#define HARNESS_KAFKA_COMMAND_MS 60000
#define HARNESS_LINE_MAX 4096

extern char **environ;

struct harness_redis {
    pid_t pid; /* -1 when stopped */
    int port;
    char *dir;      /* owned; data dir, removed by harness_redis_free() */
    char *log_path; /* owned; DIR/redis.log */
    char *password; /* owned; NULL = none */
    bool persistence;
};

struct harness_kafka {
    pid_t pid;
    int control_fd; /* our end of the broker's stdin and stdout */
    char *bootstrap; /* owned */
    char inbuf[HARNESS_LINE_MAX];
    size_t inlen;
};

typedef struct harness_owned {
    pid_t owner; /* the process that registered it; only it cleans up */
    pid_t pid;
    const char *dir; /* borrowed from the handle that registered it */
} harness_owned_t;

static harness_owned_t harness_children[HARNESS_MAX_CHILDREN];
static harness_owned_t harness_dirs[HARNESS_MAX_DIRS];
static bool harness_atexit_installed;

/* ---- time ---- */

static int64_t harness_now_ms(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void harness_sleep_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- registry and exit cleanup ---- */

static void harness_cleanup_at_exit(void) {
    pid_t self = getpid();
    int saved_errno = errno;
    size_t i;

    for (i = 0; i < HARNESS_MAX_CHILDREN; i++) {
        if (harness_children[i].pid > 0 && harness_children[i].owner == self) {
            /* The test is over: no need to be gentle. */
            kill(harness_children[i].pid, SIGKILL);
            while (waitpid(harness_children[i].pid, NULL, 0) < 0 && errno == EINTR)
                ;
            harness_children[i].pid = 0;
        }
    }
    for (i = 0; i < HARNESS_MAX_DIRS; i++) {
        if (harness_dirs[i].dir != NULL && harness_dirs[i].owner == self) {
            harness_rmtree(harness_dirs[i].dir);
            harness_dirs[i].dir = NULL;
        }
    }
    errno = saved_errno;
}

static void harness_install_atexit(void) {
    if (!harness_atexit_installed && atexit(harness_cleanup_at_exit) == 0)
        harness_atexit_installed = true;
}

static int harness_register_child(pid_t pid) {
    size_t i;

    harness_install_atexit();
    for (i = 0; i < HARNESS_MAX_CHILDREN; i++) {
        if (harness_children[i].pid <= 0) {
            harness_children[i].pid = pid;
            harness_children[i].owner = getpid();
            return 0;
        }
    }
    return -1;
}

static void harness_unregister_child(pid_t pid) {
    size_t i;

    for (i = 0; i < HARNESS_MAX_CHILDREN; i++) {
        if (harness_children[i].pid == pid && harness_children[i].owner == getpid())
            harness_children[i].pid = 0;
    }
}

static int harness_register_dir(const char *dir) {
    size_t i;

    harness_install_atexit();
    for (i = 0; i < HARNESS_MAX_DIRS; i++) {
        if (harness_dirs[i].dir == NULL) {
            harness_dirs[i].dir = dir;
            harness_dirs[i].owner = getpid();
            return 0;
        }
    }
    return -1;
}

static void harness_unregister_dir(const char *dir) {
    size_t i;

    for (i = 0; i < HARNESS_MAX_DIRS; i++) {
        if (harness_dirs[i].dir == dir)
            harness_dirs[i].dir = NULL;
    }
}

/* ---- processes ---- */

/* argv[0]'s environment: the current one with env_extra on top (a KEY= in
 * env_extra replaces the inherited KEY). Built before fork() because the
 * child of a multi-threaded process should not allocate. The array is
 * malloc'd; its strings are borrowed. */
static char **harness_build_env(const char *const env_extra[]) {
    size_t base_count = 0;
    size_t extra_count = 0;
    size_t count = 0;
    size_t i;
    size_t j;
    char **envp;

    while (environ != NULL && environ[base_count] != NULL)
        base_count++;
    while (env_extra != NULL && env_extra[extra_count] != NULL)
        extra_count++;
    envp = calloc(base_count + extra_count + 1, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    for (i = 0; i < base_count; i++) {
        bool overridden = false;

        for (j = 0; j < extra_count && !overridden; j++) {
            const char *eq = strchr(env_extra[j], '=');
            size_t key_len = eq != NULL ? (size_t)(eq - env_extra[j]) : strlen(env_extra[j]);

            overridden = strncmp(environ[i], env_extra[j], key_len) == 0 &&
                         environ[i][key_len] == '=';
        }
        if (!overridden)
            envp[count++] = environ[i];
    }
    for (j = 0; j < extra_count; j++)
        envp[count++] = (char *)env_extra[j];
    envp[count] = NULL;
    return envp;
}

/* Make fd the child's target_fd, keeping it open across exec. */
static int harness_child_install_fd(int fd, int target_fd) {
    if (fd == target_fd) {
        int flags = fcntl(fd, F_GETFD);

        return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    return dup2(fd, target_fd) < 0 ? -1 : 0;
}

/* Only async-signal-safe calls here: the parent may have librdkafka threads. */
static void harness_child_exec(const char *const argv[], char **envp, pid_t parent, int stdin_fd,
                               int stdout_fd, int stderr_fd, int report_fd) {
    struct sigaction default_action;
    sigset_t none;
    int err;

    /* Die with the parent, even when it is SIGKILLed; the check closes the
     * race where it died before prctl() took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        goto fail;
    /* exec keeps a blocked mask and ignored signals; servers expect neither. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    memset(&default_action, 0, sizeof(default_action));
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &default_action, NULL);
    if (harness_child_install_fd(stdin_fd, STDIN_FILENO) != 0 ||
        harness_child_install_fd(stdout_fd, STDOUT_FILENO) != 0 ||
        (stderr_fd >= 0 && harness_child_install_fd(stderr_fd, STDERR_FILENO) != 0))
        goto fail;
    /* Descriptors the tests hold (sockets, control pipes) must not leak into
     * servers: a leaked control socket would hide the EOF that stops one. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        int fd;

        for (fd = 3; fd < 1024; fd++) {
            if (fd != report_fd)
                close(fd);
        }
    }
    execvpe(argv[0], (char *const *)argv, envp);
fail:
    err = errno;
    if (write(report_fd, &err, sizeof(err)) < 0) {
        /* Nothing left to tell anyone; the exit code says it. */
    }
    _exit(127);
}

/* Fork and exec with the given descriptors (stderr_fd -1: inherited). */
static pid_t harness_spawn_fds(const char *const argv[], const char *const env_extra[],
                               int stdin_fd, int stdout_fd, int stderr_fd) {
    char **envp = NULL;
    int report[2] = {-1, -1};
    pid_t parent = getpid();
    pid_t pid = -1;
    int child_errno = 0;
    ssize_t n;
    int saved_errno;

    if (argv == NULL || argv[0] == NULL) {
        errno = EINVAL;
        return -1;
    }
    envp = harness_build_env(env_extra);
    if (envp == NULL)
        goto fail;
    /* The exec report pipe closes on a successful exec, so reading 0 bytes
     * means the program runs; otherwise the child sends its errno. */
    if (pipe2(report, O_CLOEXEC) != 0)
        goto fail;
    pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0)
        harness_child_exec(argv, envp, parent, stdin_fd, stdout_fd, stderr_fd, report[1]);

    close(report[1]);
    report[1] = -1;
    do {
        n = read(report[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
        errno = child_errno;
        goto fail;
    }
    if (harness_register_child(pid) != 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
        errno = EMFILE;
        goto fail;
    }
    close(report[0]);
    free(envp);
    return pid;
fail:
    saved_errno = errno;
    if (report[0] >= 0)
        close(report[0]);
    if (report[1] >= 0)
        close(report[1]);
    free(envp);
    errno = saved_errno;
    return -1;
}

pid_t harness_spawn(const char *const argv[], const char *const env_extra[], const char *log_path) {
    int null_fd;
    int log_fd = -1;
    pid_t pid;
    int saved_errno;

    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0)
        return -1;
    if (log_path != NULL) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            saved_errno = errno;
            close(null_fd);
            errno = saved_errno;
            return -1;
        }
    }
    pid = harness_spawn_fds(argv, env_extra, null_fd, log_fd >= 0 ? log_fd : STDOUT_FILENO,
                            log_fd);
    saved_errno = errno;
    close(null_fd);
    if (log_fd >= 0)
        close(log_fd);
    errno = saved_errno;
    return pid;
}

int harness_wait(pid_t pid, int timeout_ms, int *exit_status) {
    int64_t deadline = harness_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int pause_ms = 1;

    for (;;) {
        int status = 0;
        pid_t done = waitpid(pid, &status, WNOHANG);

        if (done == pid) {
            harness_unregister_child(pid);
            if (exit_status != NULL)
                *exit_status = WIFEXITED(status) ? WEXITSTATUS(status)
                               : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                                     : -1;
            return 0;
        }
        if (done < 0 && errno != EINTR) {
            if (errno == ECHILD)
                harness_unregister_child(pid);
            return -2;
        }
        if (harness_now_ms() >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        harness_sleep_ms(pause_ms);
        if (pause_ms < 50)
            pause_ms *= 2;
    }
}

int harness_kill(pid_t pid, int sig) {
    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    return kill(pid, sig);
}

/* SIGTERM, wait, SIGKILL. 0 when it exited with status 0 by itself. */
static int harness_terminate(pid_t pid, int *exit_status) {
    int status = -1;
    int rc;

    if (kill(pid, SIGTERM) != 0 && errno != ESRCH)
        return -1;
    rc = harness_wait(pid, HARNESS_STOP_TIMEOUT_MS, &status);
    if (rc == -1) {
        kill(pid, SIGKILL);
        rc = harness_wait(pid, HARNESS_STOP_TIMEOUT_MS, &status);
        if (exit_status != NULL)
            *exit_status = status;
        return -1;
    }
    if (exit_status != NULL)
        *exit_status = status;
    if (rc == -2)
        return errno == ECHILD ? 0 : -1; /* reaped elsewhere: it is gone */
    return status == 0 ? 0 : -1;
}

int harness_free_port(void) {
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd;
    int port = -1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

char *harness_tempdir(const char *prefix) {
    const char *base = getenv("TMPDIR");
    size_t size;
    char *path;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (prefix == NULL || prefix[0] == '\0')
        prefix = "dagprof";
    size = strlen(base) + strlen(prefix) + 16;
    path = malloc(size);
    if (path == NULL)
        return NULL;
    snprintf(path, size, "%s/%s-XXXXXX", base, prefix);
    if (mkdtemp(path) == NULL) {
        int saved_errno = errno;

        free(path);
        errno = saved_errno;
        return NULL;
    }
    return path;
}

static int harness_rmtree_entry(const char *path, const struct stat *st, int type,
                                struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int harness_rmtree(const char *path) {
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, harness_rmtree_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ---- Redis ---- */

/* The last line of a log, to explain why a server did not start; returns
 * whether any line contains needle. */
static bool harness_log_scan(const char *path, const char *needle, char *tail, size_t tail_size) {
    char line[512];
    bool found = false;
    FILE *fp;

    tail[0] = '\0';
    fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strstr(line, needle) != NULL)
            found = true;
        if (line[0] != '\n') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(tail, tail_size, "%s", line);
        }
    }
    fclose(fp);
    return found;
}

redisContext *harness_redis_connect(const harness_redis_t *redis, char *errstr,
                                    size_t errstr_size) {
    struct timeval timeout = {.tv_sec = 5, .tv_usec = 0};
    redisContext *ctx;
    redisReply *reply = NULL;

    ctx = redisConnectWithTimeout("127.0.0.1", redis->port, timeout);
    if (ctx == NULL) {
        snprintf(errstr, errstr_size, "redis 127.0.0.1:%d: out of memory", redis->port);
        return NULL;
    }
    if (ctx->err) {
        snprintf(errstr, errstr_size, "redis 127.0.0.1:%d: %s", redis->port, ctx->errstr);
        goto fail;
    }
    if (redis->password != NULL) {
        reply = redisCommand(ctx, "AUTH %s", redis->password);
        if (reply == NULL) {
            snprintf(errstr, errstr_size, "redis AUTH: %s", ctx->errstr);
            goto fail;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis AUTH: %s", reply->str);
            goto fail;
        }
        freeReplyObject(reply);
    }
    return ctx;
fail:
    if (reply != NULL)
        freeReplyObject(reply);
    redisFree(ctx);
    return NULL;
}

/* 1 when our server (not some other process that took the port) answers
 * PING, 0 when not yet, -1 on a definite error (in errstr). */
static int harness_redis_probe(const harness_redis_t *redis, char *errstr, size_t errstr_size) {
    char probe_err[256];
    char expected[64];
    redisContext *ctx;
    redisReply *reply = NULL;
    int ready = 0;

    ctx = harness_redis_connect(redis, probe_err, sizeof(probe_err));
    if (ctx == NULL)
        return 0; /* not listening yet, or still loading */
    reply = redisCommand(ctx, "PING");
    if (reply == NULL || reply->type != REDIS_REPLY_STATUS || strcmp(reply->str, "PONG") != 0)
        goto done;
    freeReplyObject(reply);
    reply = redisCommand(ctx, "INFO server");
    if (reply == NULL || reply->type != REDIS_REPLY_STRING)
        goto done;
    snprintf(expected, sizeof(expected), "\nprocess_id:%ld\r", (long)redis->pid);
    if (strstr(reply->str, expected) == NULL) {
        snprintf(errstr, errstr_size, "another server answers on port %d", redis->port);
        ready = -1;
        goto done;
    }
    ready = 1;
done:
    if (reply != NULL)
        freeReplyObject(reply);
    redisFree(ctx);
    return ready;
}

/* Start redis-server on redis->port; on failure redis->pid is -1 and errstr
 * says why. *port_taken tells the caller a new port may help. */
static int harness_redis_launch(harness_redis_t *redis, bool *port_taken, char *errstr,
                                size_t errstr_size) {
    char port_text[16];
    const char *argv[24];
    size_t argc = 0;
    int64_t deadline;

    *port_taken = false;
    snprintf(port_text, sizeof(port_text), "%d", redis->port);
    argv[argc++] = "redis-server";
    argv[argc++] = "--port";
    argv[argc++] = port_text;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--save";
    argv[argc++] = "";
    argv[argc++] = "--dir";
    argv[argc++] = redis->dir;
    argv[argc++] = "--daemonize";
    argv[argc++] = "no";
    argv[argc++] = "--appendonly";
    argv[argc++] = redis->persistence ? "yes" : "no";
    argv[argc++] = "--appendfsync";
    argv[argc++] = "always";
    if (redis->password != NULL) {
        argv[argc++] = "--requirepass";
        argv[argc++] = redis->password;
    }
    argv[argc] = NULL;

    redis->pid = harness_spawn(argv, NULL, redis->log_path);
    if (redis->pid < 0) {
        snprintf(errstr, errstr_size, "cannot run redis-server: %s%s", strerror(errno),
                 errno == ENOENT ? " (is redis-server installed and on PATH?)" : "");
        return -1;
    }

    deadline = harness_now_ms() + HARNESS_REDIS_READY_MS;
    for (;;) {
        int status = 0;
        int ready;

        if (harness_wait(redis->pid, 0, &status) == 0) {
            char tail[512];

            redis->pid = -1;
            *port_taken =
                harness_log_scan(redis->log_path, "already in use", tail, sizeof(tail));
            snprintf(errstr, errstr_size, "redis-server exited with status %d: %s", status, tail);
            return -1;
        }
        ready = harness_redis_probe(redis, errstr, errstr_size);
        if (ready == 1)
            return 0;
        if (ready < 0) {
            *port_taken = true;
            break;
        }
        if (harness_now_ms() >= deadline) {
            snprintf(errstr, errstr_size, "redis-server did not answer PING on port %d within %d ms",
                     redis->port, HARNESS_REDIS_READY_MS);
            break;
        }
        harness_sleep_ms(20);
    }
    harness_terminate(redis->pid, NULL);
    redis->pid = -1;
    return -1;
}

harness_redis_t *harness_redis_start(const harness_redis_options_t *opts, char *errstr,
                                     size_t errstr_size) {
    harness_redis_t *redis;
    size_t log_size;
    int attempt;

    redis = calloc(1, sizeof(*redis));
    if (redis == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    redis->pid = -1;
    redis->persistence = opts != NULL && opts->persistence;
    if (opts != NULL && opts->password != NULL) {
        redis->password = strdup(opts->password);
        if (redis->password == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
    }
    redis->dir = harness_tempdir("dagprof-redis");
    if (redis->dir == NULL) {
        snprintf(errstr, errstr_size, "temp dir: %s", strerror(errno));
        goto fail;
    }
    if (harness_register_dir(redis->dir) != 0) {
        snprintf(errstr, errstr_size, "too many harness dirs");
        goto fail;
    }
    log_size = strlen(redis->dir) + sizeof("/redis.log");
    redis->log_path = malloc(log_size);
    if (redis->log_path == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    snprintf(redis->log_path, log_size, "%s/redis.log", redis->dir);

    for (attempt = 0; attempt < HARNESS_REDIS_START_ATTEMPTS; attempt++) {
        bool port_taken = false;

        redis->port = harness_free_port();
        if (redis->port < 0) {
            snprintf(errstr, errstr_size, "no free port: %s", strerror(errno));
            goto fail;
        }
        if (harness_redis_launch(redis, &port_taken, errstr, errstr_size) == 0)
            return redis;
        if (!port_taken)
            goto fail;
    }
fail:
    harness_redis_free(redis);
    return NULL;
}

int harness_redis_port(const harness_redis_t *redis) {
    return redis->port;
}

pid_t harness_redis_pid(const harness_redis_t *redis) {
    return redis->pid;
}

pid_t harness_kafka_pid(const harness_kafka_t *kafka) {
    return kafka->pid;
}

const char *harness_redis_dir(const harness_redis_t *redis) {
    return redis->dir;
}

int harness_redis_stop(harness_redis_t *redis) {
    int rc;

    if (redis->pid <= 0)
        return 0;
    rc = harness_terminate(redis->pid, NULL);
    redis->pid = -1;
    return rc;
}

int harness_redis_restart(harness_redis_t *redis, int down_ms, char *errstr, size_t errstr_size) {
    bool port_taken = false;

    /* A server a fault test already killed is down too: that is fine here. */
    (void)harness_redis_stop(redis);
    if (down_ms > 0)
        harness_sleep_ms(down_ms);
    if (harness_redis_launch(redis, &port_taken, errstr, errstr_size) != 0)
        return -1;
    return 0;
}

void harness_redis_free(harness_redis_t *redis) {
    if (redis == NULL)
        return;
    harness_redis_stop(redis);
    if (redis->dir != NULL) {
        harness_unregister_dir(redis->dir);
        harness_rmtree(redis->dir);
    }
    free(redis->dir);
    free(redis->log_path);
    free(redis->password);
    free(redis);
}

/* ---- Kafka ---- */

/* Read one line from the broker's stdout into line (without the newline).
 * Returns 0, or -1 with errstr set on timeout, EOF or error. */
static int harness_kafka_read_line(harness_kafka_t *kafka, int timeout_ms, char *line,
                                   size_t line_size, char *errstr, size_t errstr_size) {
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        char *newline = memchr(kafka->inbuf, '\n', kafka->inlen);
        struct pollfd pfd = {.fd = kafka->control_fd, .events = POLLIN};
        int64_t left_ms;
        ssize_t n;
        int ready;

        if (newline != NULL) {
            size_t len = (size_t)(newline - kafka->inbuf);

            snprintf(line, line_size, "%.*s", (int)len, kafka->inbuf);
            kafka->inlen -= len + 1;
            memmove(kafka->inbuf, newline + 1, kafka->inlen);
            return 0;
        }
        if (kafka->inlen == sizeof(kafka->inbuf)) {
            snprintf(errstr, errstr_size, "mock broker line too long");
            return -1;
        }
        left_ms = deadline - harness_now_ms();
        if (left_ms <= 0) {
            snprintf(errstr, errstr_size, "mock broker did not answer within %d ms", timeout_ms);
            return -1;
        }
        ready = poll(&pfd, 1, (int)left_ms);
        if (ready < 0 && errno != EINTR) {
            snprintf(errstr, errstr_size, "poll: %s", strerror(errno));
            return -1;
        }
        if (ready <= 0)
            continue;
        n = read(kafka->control_fd, kafka->inbuf + kafka->inlen,
                 sizeof(kafka->inbuf) - kafka->inlen);
        if (n == 0) {
            snprintf(errstr, errstr_size, "mock broker closed its output (exited?)");
            return -1;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            snprintf(errstr, errstr_size, "read: %s", strerror(errno));
            return -1;
        }
        if (n > 0)
            kafka->inlen += (size_t)n;
    }
}

harness_kafka_t *harness_kafka_start(const char *bin_dir, int brokers, int partitions,
                                     char *errstr, size_t errstr_size) {
    harness_kafka_t *kafka;
    char brokers_text[16];
    char partitions_text[16];
    char line[HARNESS_LINE_MAX];
    char *path = NULL;
    size_t path_size;
    int sv[2] = {-1, -1};
    const char *argv[8];

    kafka = calloc(1, sizeof(*kafka));
    if (kafka == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    kafka->pid = -1;
    kafka->control_fd = -1;

    if (bin_dir == NULL)
        bin_dir = getenv("DAGPROF_BINARY_DIR");
    if (bin_dir == NULL) {
        snprintf(errstr, errstr_size, "no build dir: pass bin_dir or set DAGPROF_BINARY_DIR");
        goto fail;
    }
    path_size = strlen(bin_dir) + sizeof("/dagprof-mockbroker");
    path = malloc(path_size);
    if (path == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    snprintf(path, path_size, "%s/dagprof-mockbroker", bin_dir);
    if (access(path, X_OK) != 0) {
        snprintf(errstr, errstr_size, "%s: %s (build the dagprof-mockbroker target)", path,
                 strerror(errno));
        goto fail;
    }

    /* A socket pair rather than pipes: send(MSG_NOSIGNAL) to a dead broker
     * fails with EPIPE instead of killing the test with SIGPIPE. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(errstr, errstr_size, "socketpair: %s", strerror(errno));
        goto fail;
    }
    snprintf(brokers_text, sizeof(brokers_text), "%d", brokers);
    snprintf(partitions_text, sizeof(partitions_text), "%d", partitions);
    argv[0] = path;
    argv[1] = "--brokers";
    argv[2] = brokers_text;
    argv[3] = "--partitions";
    argv[4] = partitions_text;
    argv[5] = "--control-stdin";
    argv[6] = NULL;
    kafka->pid = harness_spawn_fds(argv, NULL, sv[1], sv[1], -1);
    if (kafka->pid < 0) {
        snprintf(errstr, errstr_size, "cannot run %s: %s", path, strerror(errno));
        goto fail;
    }
    close(sv[1]);
    sv[1] = -1;
    kafka->control_fd = sv[0];
    sv[0] = -1;

    if (harness_kafka_read_line(kafka, HARNESS_KAFKA_READY_MS, line, sizeof(line), errstr,
                                errstr_size) != 0)
        goto fail;
    if (strncmp(line, "bootstrap=", 10) != 0 || line[10] == '\0') {
        snprintf(errstr, errstr_size, "mock broker said '%s', not bootstrap=...", line);
        goto fail;
    }
    kafka->bootstrap = strdup(line + 10);
    if (kafka->bootstrap == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    free(path);
    return kafka;
fail:
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    free(path);
    harness_kafka_free(kafka);
    return NULL;
}

const char *harness_kafka_bootstrap(const harness_kafka_t *kafka) {
    return kafka->bootstrap;
}

int harness_kafka_command(harness_kafka_t *kafka, const char *command, char *errstr,
                          size_t errstr_size) {
    char line[HARNESS_LINE_MAX];
    size_t len = strlen(command);
    size_t sent = 0;

    if (len == 0 || len + 1 >= sizeof(line) || strchr(command, '\n') != NULL) {
        snprintf(errstr, errstr_size, "a command is one non-empty line");
        return -1;
    }
    snprintf(line, sizeof(line), "%s\n", command);
    len++;
    while (sent < len) {
        ssize_t n = send(kafka->control_fd, line + sent, len - sent, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(errstr, errstr_size, "mock broker control: %s", strerror(errno));
            return -1;
        }
        sent += (size_t)n;
    }
    if (harness_kafka_read_line(kafka, HARNESS_KAFKA_COMMAND_MS, line, sizeof(line), errstr,
                                errstr_size) != 0)
        return -1;
    if (strcmp(line, "ok") == 0)
        return 0;
    if (strncmp(line, "error: ", 7) == 0)
        snprintf(errstr, errstr_size, "%s", line + 7);
    else
        snprintf(errstr, errstr_size, "unexpected answer '%s'", line);
    return -1;
}

void harness_kafka_free(harness_kafka_t *kafka) {
    if (kafka == NULL)
        return;
    if (kafka->pid > 0) {
        int status;

        /* End of input is the broker's signal to shut down cleanly. */
        if (kafka->control_fd >= 0)
            shutdown(kafka->control_fd, SHUT_WR);
        if (harness_wait(kafka->pid, HARNESS_STOP_TIMEOUT_MS, &status) == -1)
            harness_terminate(kafka->pid, NULL);
    }
    if (kafka->control_fd >= 0)
        close(kafka->control_fd);
    free(kafka->bootstrap);
    free(kafka);
}

char *harness_slurp(const char *path) {
    FILE *f = fopen(path, "r");
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    if (f) {
        size_t n;
        while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
            len += n;
            if (cap - len - 1 == 0) {
                char *grown = realloc(text, cap * 2);
                if (!grown)
                    break;
                text = grown;
                cap *= 2;
            }
        }
        fclose(f);
    }
    text[len] = '\0';
    return text;
}

size_t harness_file_count(const char *path, const char *needle) {
    char *text = harness_slurp(path);
    size_t n = 0;
    for (const char *p = text ? strstr(text, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    free(text);
    return n;
}
