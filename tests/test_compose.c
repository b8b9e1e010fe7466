/* test_compose.c -- the container deployment files pass compose/check_compose.py,
 * and the checker catches what it is there for.
 *
 * The checker runs as `python3 compose/check_compose.py` against the dagprof
 * binary of this build. The shipped compose/docker-compose.yml and
 * compose/Dockerfile must pass every check. Each negative case makes one edit
 * to a copy (in a temporary directory; paths in it still resolve from
 * compose/, as with `docker compose --project-directory`) and expects exit
 * status 1, the exact number of failed checks (so nothing else broke) and the
 * checker's exact message. A missing binary is exit status 2. No container
 * engine and no network are involved. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define CHECKER DAGPROF_SOURCE_DIR "/compose/check_compose.py"
#define COMPOSE_DIR DAGPROF_SOURCE_DIR "/compose"
#define COMPOSE_FILE COMPOSE_DIR "/docker-compose.yml"
#define DOCKERFILE COMPOSE_DIR "/Dockerfile"
#define DAGPROF_BIN DAGPROF_BINARY_DIR "/dagprof"
/* The checker starts dagprof a few times; a minute is plenty even on a busy
 * machine, and five only matter when something hangs. */
#define CHECKER_TIMEOUT_MS 300000

/* The whole file as a NUL-terminated string; the caller frees it. */
static char *read_text(const char *path) {
    FILE *file = fopen(path, "rb");
    ck_assert_msg(file != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    ck_assert_int_ge(size, 0);
    ck_assert_int_eq(fseek(file, 0, SEEK_SET), 0);
    char *text = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, file), (size_t)size);
    text[size] = '\0';
    ck_assert_int_eq(fclose(file), 0);
    return text;
}

static void write_text(const char *path, const char *text) {
    FILE *file = fopen(path, "wb");
    ck_assert_msg(file != NULL, "cannot create %s", path);
    size_t len = strlen(text);
    ck_assert_uint_eq(fwrite(text, 1, len, file), len);
    ck_assert_int_eq(fclose(file), 0);
}

/* `text` with every `from` replaced by `to`; the caller frees it. */
static char *replace_all(const char *text, const char *from, const char *to) {
    size_t from_len = strlen(from), to_len = strlen(to), count = 0;
    for (const char *at = strstr(text, from); at; at = strstr(at + from_len, from))
        count++;
    char *result = malloc(strlen(text) + count * to_len + 1);
    ck_assert_ptr_nonnull(result);
    char *out = result;
    for (const char *at; (at = strstr(text, from)) != NULL; text = at + from_len) {
        memcpy(out, text, (size_t)(at - text));
        out += at - text;
        memcpy(out, to, to_len);
        out += to_len;
    }
    strcpy(out, text);
    return result;
}

/* `text` with `from`, which must occur exactly once, replaced by `to`. */
static char *replace_once(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "\"%s\" is not in the file", from);
    ck_assert_msg(strstr(at + 1, from) == NULL, "\"%s\" is in the file twice", from);
    return replace_all(text, from, to);
}

typedef struct checker_run {
    int exit_status;
    char *output; /* stdout and stderr; owned */
} checker_run_t;

/* Run the checker on a compose file with the binary of this build. */
static void run_checker(const char *compose_path, const char *binary, const char *tmp_dir,
                        checker_run_t *run) {
    char log_path[4096];
    snprintf(log_path, sizeof log_path, "%s/checker.log", tmp_dir);
    const char *const argv[] = {"python3", CHECKER, "--dagprof", binary, "--file",
                                compose_path, "--project-directory", COMPOSE_DIR,
                                DAGPROF_SOURCE_DIR, NULL};
    pid_t pid = harness_spawn(argv, NULL, log_path);
    ck_assert_msg(pid > 0, "cannot start python3");
    ck_assert_int_eq(harness_wait(pid, CHECKER_TIMEOUT_MS, &run->exit_status), 0);
    run->output = read_text(log_path);
}

/* True when a line of `output` is `line`, or starts with it if `prefix`. */
static int has_line(const char *output, const char *line, int prefix) {
    size_t len = strlen(line);
    for (const char *at = strstr(output, line); at; at = strstr(at + 1, line))
        if ((at == output || at[-1] == '\n') &&
            (prefix || at[len] == '\n' || at[len] == '\0'))
            return 1;
    return 0;
}

/* Check truncates long messages: the checker's output goes to stderr instead. */
static int shown_unless(int ok, const char *output) {
    if (!ok)
        fprintf(stderr, "--- check_compose.py output ---\n%s--- end ---\n", output);
    return ok;
}

/* The failure count of the checker's summary line, or -1 without one. */
static int failures(const char *output) {
    int checks, failed;
    for (const char *at = strstr(output, "check_compose: "); at;
         at = strstr(at + 1, "check_compose: "))
        if ((at == output || at[-1] == '\n') &&
            sscanf(at, "check_compose: %d checks, %d failed", &checks, &failed) == 2)
            return failed;
    return -1;
}

START_TEST(test_shipped_files_pass) {
    char *tmp = harness_tempdir("test_compose");
    ck_assert_ptr_nonnull(tmp);
    checker_run_t run;
    run_checker(COMPOSE_FILE, DAGPROF_BIN, tmp, &run);
    ck_assert_msg(shown_unless(run.exit_status == 0, run.output), "check_compose.py exited %d",
                  run.exit_status);
    ck_assert_int_eq(failures(run.output), 0);
    /* What the deployment promises, each proved by one check. */
    const char *const promised[] = {
        "ok    service kafka: Kafka in KRaft mode, broker and controller",
        "ok    topics are created by kafka-init: dag-spans (12 partitions), dag-profiles "
        "(6 partitions), dag-recommendations (6 partitions), dag-deadletter (3 partitions)",
        "ok    service redis: append-only file on",
        "ok    service redis: data dir /data is a volume",
        "ok    3 dagprof run processors in consumer group dagprof",
        "ok    topic dag-spans has 12 partitions for 3 processors",
        "ok    service dagprof: metrics served on 0.0.0.0:9464",
        "ok    service loadgen runs dagprof loadgen",
        "ok    service tail: dagprof has the subcommand tail",
        "ok    compose/Dockerfile: 2 stages on debian:bookworm, debian:bookworm-slim",
        "ok    compose/Dockerfile: runs as user 10001",
        "ok    compose/Dockerfile: ENTRYPOINT [\"dagprof\"], installed as /usr/local/bin/dagprof",
        "ok    compose/Dockerfile: librdkafka.so.1 comes from librdkafka1",
        "ok    compose/Dockerfile: COPY engine/ is kept by .dockerignore",
        NULL};
    for (size_t i = 0; promised[i]; i++)
        ck_assert_msg(shown_unless(has_line(run.output, promised[i], 0), run.output),
                      "no line \"%s\"", promised[i]);
    free(run.output);
    ck_assert_int_eq(harness_rmtree(tmp), 0);
    free(tmp);
}
END_TEST

/* One edit of a copy of the compose file or the Dockerfile, and the failures
 * it must cause. In `expected`, @TMP@ stands for the temporary
 * directory holding the copies and @SRC@ for the repository. */
typedef struct mutation {
    const char *name;
    const char *compose_from, *compose_to;       /* NULL: compose file unchanged */
    const char *dockerfile_from, *dockerfile_to; /* NULL: Dockerfile unchanged */
    const char *dockerignore; /* non-NULL: a Dockerfile.dockerignore beside the copy */
    const char *expected;     /* an output line */
    int prefix;               /* expected is only the start of the line */
    int failures;             /* how many checks fail */
} mutation_t;

static const mutation_t mutations[] = {
    {"unknown DAGPROF_ variable", "DAGPROF_REDIS_HOST: redis", "DAGPROF_REDIS_HOTS: redis",
     NULL, NULL, NULL,
     "FAIL  service dagprof: `dagprof run` rejects its configuration (exit 2): dagprof run: "
     "unknown option from env DAGPROF_REDIS_HOTS (did you mean DAGPROF_REDIS_HOST?)",
     0, 1},
    {"value out of range", "DAGPROF_LOADGEN_RUNS: \"10000\"", "DAGPROF_LOADGEN_RUNS: \"0\"",
     NULL, NULL, NULL,
     "FAIL  service loadgen: `dagprof loadgen` rejects its configuration (exit 2): dagprof "
     "loadgen: loadgen.runs: \"0\" from env DAGPROF_LOADGEN_RUNS is out of range (1..100000000)",
     0, 1},
    {"unknown librdkafka property", "DAGPROF_KAFKA_CLIENT_ID: dagprof-run",
     "DAGPROF_KAFKA_CLIENT_IDENT: dagprof-run", NULL, NULL, NULL,
     "FAIL  service dagprof: librdkafka rejects kafka.client.ident from env "
     "DAGPROF_KAFKA_CLIENT_IDENT: No such configuration property: \"client.ident\"",
     0, 1},
    {"flag the binary does not know", "command: [\"tail\", \"--format\", \"text\"]",
     "command: [\"tail\", \"--format\", \"yaml\"]", NULL, NULL, NULL,
     "FAIL  service tail: `dagprof tail --format yaml` rejects its configuration (exit 2): "
     "dagprof tail: format: \"yaml\" from flag --format is not one of text, json",
     0, 1},
    {"YAML boolean in the environment", "DAGPROF_TAIL_FROM_BEGINNING: \"true\"",
     "DAGPROF_TAIL_FROM_BEGINNING: true", NULL, NULL, NULL,
     "FAIL  service tail: DAGPROF_TAIL_FROM_BEGINNING is a YAML boolean, which compose "
     "rejects; quote it",
     0, 1},
    {"Redis port of another server", "DAGPROF_REDIS_PORT: \"6379\"",
     "DAGPROF_REDIS_PORT: \"6380\"", NULL, NULL, NULL,
     "FAIL  service dagprof: redis.host:port is redis:6380, but the Redis service is "
     "redis:6379",
     0, 1},
    {"fewer partitions than processors", "--topic dag-spans --partitions 12",
     "--topic dag-spans --partitions 2", NULL, NULL, NULL,
     "FAIL  topic dag-spans has 2 partitions for 3 processors: some would get no input", 0, 1},
    {"two processors", "replicas: 3", "replicas: 2", NULL, NULL, NULL,
     "FAIL  expected at least 3 dagprof run processors in one consumer group, found 2 in "
     "group(s) dagprof",
     0, 1},
    {"Redis without append-only file", "\"--appendonly\", \"yes\", ", "", NULL, NULL, NULL,
     "FAIL  service redis: start redis-server with --appendonly yes, or a restart loses "
     "every stored span",
     0, 1},
    {"loadgen keeps the image's healthcheck",
     "    # Serves no /healthz: the image's check does not apply.\n"
     "    healthcheck:\n"
     "      disable: true\n",
     "", NULL, NULL, NULL,
     "FAIL  service loadgen: `dagprof loadgen` serves no /healthz, so the image's "
     "HEALTHCHECK would mark it unhealthy; set healthcheck: disable: true",
     0, 1},
    {"COPY of a missing path", NULL, NULL, "COPY engine/ engine/", "COPY engien/ engine/", NULL,
     "FAIL  @TMP@/Dockerfile: COPY engien/: no such file in the build context @SRC@", 0, 1},
    /* Both stages copy schemas/, so both fail. */
    {"COPY of a path .dockerignore leaves out", NULL, NULL, NULL, NULL,
     "*\n!CMakeLists.txt\n!engine\n!consumer\n!producer\n!compose/CMakeLists.txt\n"
     "!schemas/*.avsc\n",
     "FAIL  @TMP@/Dockerfile: COPY schemas/: @TMP@/Dockerfile.dockerignore leaves out "
     "schemas/CMakeLists.txt, schemas/buf.c, schemas/buf.h",
     1, 2},
    {"runtime stage as root", NULL, NULL, "USER 10001:10001\n", "", NULL,
     "FAIL  @TMP@/Dockerfile: the runtime stage runs as root; add a USER", 0, 1},
};

#define MUTATION_COUNT ((int)(sizeof mutations / sizeof mutations[0]))

START_TEST(test_mutation_fails) {
    const mutation_t *m = &mutations[_i];
    char *tmp = harness_tempdir("test_compose");
    ck_assert_ptr_nonnull(tmp);
    char compose_path[4096], dockerfile_path[4096], ignore_path[4096];
    snprintf(compose_path, sizeof compose_path, "%s/docker-compose.yml", tmp);
    snprintf(dockerfile_path, sizeof dockerfile_path, "%s/Dockerfile", tmp);
    snprintf(ignore_path, sizeof ignore_path, "%s/Dockerfile.dockerignore", tmp);

    char *compose = read_text(COMPOSE_FILE);
    if (m->compose_from) {
        char *edited = replace_once(compose, m->compose_from, m->compose_to);
        free(compose);
        compose = edited;
    }
    if (m->dockerfile_from || m->dockerignore) {
        char *dockerfile = read_text(DOCKERFILE);
        if (m->dockerfile_from) {
            char *edited = replace_once(dockerfile, m->dockerfile_from, m->dockerfile_to);
            free(dockerfile);
            dockerfile = edited;
        }
        write_text(dockerfile_path, dockerfile);
        free(dockerfile);
        if (m->dockerignore)
            write_text(ignore_path, m->dockerignore);
        /* The build context stays the repository; only the Dockerfile moves. */
        char to[4200];
        snprintf(to, sizeof to, "dockerfile: %s", dockerfile_path);
        char *edited = replace_once(compose, "dockerfile: compose/Dockerfile", to);
        free(compose);
        compose = edited;
    }
    write_text(compose_path, compose);
    free(compose);

    checker_run_t run;
    run_checker(compose_path, DAGPROF_BIN, tmp, &run);
    char *with_tmp = replace_all(m->expected, "@TMP@", tmp);
    char *expected = replace_all(with_tmp, "@SRC@", DAGPROF_SOURCE_DIR);
    free(with_tmp);
    ck_assert_msg(shown_unless(run.exit_status == 1, run.output),
                  "%s: check_compose.py exited %d, not 1", m->name, run.exit_status);
    ck_assert_msg(shown_unless(failures(run.output) == m->failures, run.output),
                  "%s: expected %d failed checks", m->name, m->failures);
    ck_assert_msg(shown_unless(has_line(run.output, expected, m->prefix), run.output),
                  "%s: no line %s\"%s\"", m->name, m->prefix ? "starting " : "", expected);
    free(expected);
    free(run.output);
    ck_assert_int_eq(harness_rmtree(tmp), 0);
    free(tmp);
}
END_TEST

START_TEST(test_missing_binary_cannot_check) {
    char *tmp = harness_tempdir("test_compose");
    ck_assert_ptr_nonnull(tmp);
    char binary[4096];
    snprintf(binary, sizeof binary, "%s/no-such-dagprof", tmp);
    checker_run_t run;
    run_checker(COMPOSE_FILE, binary, tmp, &run);
    char expected[4300];
    snprintf(expected, sizeof expected,
             "check_compose: cannot check: no dagprof binary at %s (build it, or pass --dagprof)",
             binary);
    ck_assert_msg(shown_unless(run.exit_status == 2, run.output),
                  "check_compose.py exited %d, not 2", run.exit_status);
    ck_assert_msg(shown_unless(has_line(run.output, expected, 0), run.output), "no line \"%s\"",
                  expected);
    free(run.output);
    ck_assert_int_eq(harness_rmtree(tmp), 0);
    free(tmp);
}
END_TEST

static Suite *compose_suite(void) {
    Suite *suite = suite_create("compose");
    TCase *tc = tcase_create("compose");
    tcase_set_timeout(tc, CHECKER_TIMEOUT_MS / 1000 + 60);
    tcase_add_test(tc, test_shipped_files_pass);
    tcase_add_loop_test(tc, test_mutation_fails, 0, MUTATION_COUNT);
    tcase_add_test(tc, test_missing_binary_cannot_check);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(compose_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
