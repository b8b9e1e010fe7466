/* test_config.c -- the config module: precedence of flag, env, file and
 * default; every validation message; kafka pass-through; the dump's masking;
 * positional arguments; and that compose/dagprof.conf matches the table. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"

#define EXAMPLE_CONF DAGPROF_SOURCE_DIR "/compose/dagprof.conf"

/* Writes `content` to a new temporary file; its path goes to `path`. */
static void write_temp(const char *content, char *path, size_t path_size) {
    snprintf(path, path_size, "/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(content);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

static int count_args(const char *const *list) {
    int n = 0;
    while (list && list[n])
        n++;
    return n;
}

/* config_load on NULL-terminated lists; returns its result. */
static int load(config_t *config, const char *const *argv, const char *const *envp,
                char *errstr, size_t errstr_size) {
    return config_load(config, count_args(argv), (char **)argv, (char **)envp, errstr,
                       errstr_size);
}

/* Expects loading to fail with exactly `expected`. */
static void expect_error(const char *const *argv, const char *const *envp,
                         const char *expected) {
    config_t *config = config_new();
    ck_assert_ptr_nonnull(config);
    char errstr[512] = "";
    ck_assert_int_eq(load(config, argv, envp, errstr, sizeof errstr), -1);
    ck_assert_str_eq(errstr, expected);
    config_free(config);
}

/* Expects a config file with `content` to fail with `expected_fmt`, in which
 * %s stands for the file's path. */
static void expect_file_error(const char *content, const char *expected_fmt) {
    char path[64], expected[512];
    write_temp(content, path, sizeof path);
    const char *argv[] = {"--config", path, NULL};
    snprintf(expected, sizeof expected, expected_fmt, path);
    expect_error(argv, NULL, expected);
    unlink(path);
}

START_TEST(test_defaults) {
    config_t *config = config_new();
    ck_assert_ptr_nonnull(config);
    char errstr[256] = "";
    ck_assert_int_eq(load(config, NULL, NULL, errstr, sizeof errstr), 0);
    ck_assert_str_eq(config_get(config, "redis.host"), "127.0.0.1");
    ck_assert_int_eq(config_get_int(config, "redis.port"), 6379);
    ck_assert_int_eq(config_get_int(config, "grace.ms"), 2000);
    ck_assert_int_eq(config_get_int(config, "idle.timeout.ms"), 60000);
    ck_assert_int_eq(config_get_int(config, "limit.bytes.per.trace"), 67108864);
    ck_assert_int_eq(config_get_int(config, "tail.timeout.ms"), 0);
    ck_assert_int_eq(config_get_int(config, "loadgen.seed"), 1);
    ck_assert_double_eq(config_get_double(config, "threshold.high_token.share"), 0.4);
    ck_assert_double_eq(config_get_double(config, "threshold.slow_node.pct"), 30.0);
    ck_assert_double_eq(config_get_double(config, "loadgen.late.fraction"), 0.02);
    ck_assert_double_eq(config_get_double(config, "threshold.scheduling_delay.min_us"), 100000.0);
    ck_assert(!config_get_bool(config, "redis.tls"));
    ck_assert(!config_get_bool(config, "print-config"));
    ck_assert_ptr_null(config_get(config, "redis.password"));
    ck_assert_ptr_null(config_get(config, "config"));
    ck_assert_str_eq(config_get(config, "pricing"), "");
    ck_assert_str_eq(config_get(config, "log.level"), "info");
    ck_assert_str_eq(config_get(config, "format"), "text");
    ck_assert_str_eq(config_get(config, "topic.deadletter"), "dag-deadletter");
    ck_assert_str_eq(config_get(config, "kafka.bootstrap.servers"), "127.0.0.1:9092");
    ck_assert_ptr_null(config_get(config, "kafka.client.id"));
    ck_assert_str_eq(config_source(config, "redis.port"), "default");
    ck_assert_str_eq(config_source(config, "redis.password"), "default");
    ck_assert_ptr_null(config_source(config, "kafka.client.id"));
    ck_assert_uint_eq(config_positional_count(config), 0);
    config_free(config);
}
END_TEST

/* File < env < flag, whether flags come before or after --config. */
START_TEST(test_precedence) {
    char path[64];
    write_temp("# settings from the file\n"
               "redis.host = filehost\n"
               "redis.port=1111\n"
               "grace.ms = 3000\n"
               "log.level = debug\n"
               "batch.size = 7\n"
               "batch.size = 8\n",
               path, sizeof path);
    const char *envp[] = {"PATH=/usr/bin", "DAGPROF_REDIS_PORT=2222", "DAGPROF_GRACE_MS=4000",
                          "DAGPROFILE=ignored", NULL};
    const char *flags_first[] = {"--redis-port", "3333", "--log.level=warn",
                                 "--config", path, NULL};
    const char *config_first[] = {"--config", path, "--log.level=warn",
                                  "--redis-port", "3333", NULL};
    const char *const *orders[] = {flags_first, config_first};
    for (size_t i = 0; i < 2; i++) {
        config_t *config = config_new();
        char errstr[256] = "", source[128];
        ck_assert_int_eq(load(config, orders[i], envp, errstr, sizeof errstr), 0);
        ck_assert_int_eq(config_get_int(config, "redis.port"), 3333);
        ck_assert_str_eq(config_source(config, "redis.port"), "flag --redis-port");
        ck_assert_int_eq(config_get_int(config, "grace.ms"), 4000);
        ck_assert_str_eq(config_source(config, "grace.ms"), "env DAGPROF_GRACE_MS");
        ck_assert_str_eq(config_get(config, "log.level"), "warn");
        ck_assert_str_eq(config_source(config, "log.level"), "flag --log.level");
        ck_assert_str_eq(config_get(config, "redis.host"), "filehost");
        snprintf(source, sizeof source, "%s:2", path);
        ck_assert_str_eq(config_source(config, "redis.host"), source);
        /* The later of two lines in one file wins. */
        ck_assert_int_eq(config_get_int(config, "batch.size"), 8);
        snprintf(source, sizeof source, "%s:7", path);
        ck_assert_str_eq(config_source(config, "batch.size"), source);
        ck_assert_int_eq(config_get_int(config, "redis.db"), 0);
        ck_assert_str_eq(config_source(config, "redis.db"), "default");
        ck_assert_str_eq(config_get(config, "config"), path);
        ck_assert_str_eq(config_source(config, "config"), "flag --config");
        config_free(config);
    }
    unlink(path);
}
END_TEST

START_TEST(test_repeated_flag_last_wins) {
    config_t *config = config_new();
    char errstr[256] = "";
    const char *argv[] = {"--redis.port", "1", "--redis-port=2", NULL};
    ck_assert_int_eq(load(config, argv, NULL, errstr, sizeof errstr), 0);
    ck_assert_int_eq(config_get_int(config, "redis.port"), 2);
    ck_assert_str_eq(config_source(config, "redis.port"), "flag --redis-port");
    config_free(config);
}
END_TEST

START_TEST(test_value_errors) {
    const char *env_port[] = {"DAGPROF_REDIS_PORT=70000", NULL};
    expect_error(NULL, env_port,
                 "redis.port: \"70000\" from env DAGPROF_REDIS_PORT is out of range (1..65535)");
    expect_file_error("# levels\n\nlog.level = loud\n",
                      "log.level: \"loud\" from %s:3 is not one of debug, info, warn, error");

    const char *not_int[] = {"--batch.size=abc", NULL};
    expect_error(not_int, NULL,
                 "batch.size: \"abc\" from flag --batch.size is not an integer (1..100000)");
    const char *spaced_int[] = {"--batch.size= 5", NULL};
    expect_error(spaced_int, NULL,
                 "batch.size: \" 5\" from flag --batch.size is not an integer (1..100000)");
    const char *too_small[] = {"--batch-size", "0", NULL};
    expect_error(too_small, NULL,
                 "batch.size: \"0\" from flag --batch-size is out of range (1..100000)");
    const char *overflow[] = {"--batch.size", "99999999999999999999", NULL};
    expect_error(overflow, NULL,
                 "batch.size: \"99999999999999999999\" from flag --batch.size is out of range "
                 "(1..100000)");
    const char *negative[] = {"--tail.max=-1", NULL};
    expect_error(negative, NULL, "tail.max: \"-1\" from flag --tail.max is out of range (>= 0)");
    const char *seed[] = {"--loadgen.seed", "x", NULL};
    expect_error(seed, NULL, "loadgen.seed: \"x\" from flag --loadgen.seed is not an integer");

    const char *env_fraction[] = {"DAGPROF_LOADGEN_LATE_FRACTION=1.5", NULL};
    expect_error(NULL, env_fraction,
                 "loadgen.late.fraction: \"1.5\" from env DAGPROF_LOADGEN_LATE_FRACTION is "
                 "out of range (0..1)");
    const char *not_number[] = {"--loadgen.rate=fast", NULL};
    expect_error(not_number, NULL,
                 "loadgen.rate: \"fast\" from flag --loadgen.rate is not a number (>= 0)");
    const char *nan[] = {"--loadgen.rate=nan", NULL};
    expect_error(nan, NULL,
                 "loadgen.rate: \"nan\" from flag --loadgen.rate is not a number (>= 0)");
    const char *huge[] = {"--threshold.slow_node.pct=1e999", NULL};
    expect_error(huge, NULL,
                 "threshold.slow_node.pct: \"1e999\" from flag --threshold.slow_node.pct is "
                 "out of range (0..100)");
    const char *factor[] = {"--threshold-reduce-context-factor", "0.5", NULL};
    expect_error(factor, NULL,
                 "threshold.reduce_context.factor: \"0.5\" from flag "
                 "--threshold-reduce-context-factor is out of range (>= 1)");

    expect_file_error("redis.tls = maybe\n",
                      "redis.tls: \"maybe\" from %s:1 is not a boolean "
                      "(true/false, yes/no, on/off, 1/0)");
    const char *empty[] = {"--topic.spans=", NULL};
    expect_error(empty, NULL, "topic.spans: \"\" from flag --topic.spans must not be empty");
    const char *env_format[] = {"DAGPROF_FORMAT=xml", NULL};
    expect_error(NULL, env_format,
                 "format: \"xml\" from env DAGPROF_FORMAT is not one of text, json, html");
}
END_TEST

/* Redis Cluster options: seeds must be host:port, and a cluster has db 0 only */
START_TEST(test_redis_cluster_errors) {
    const char *bad_seed[] = {"DAGPROF_REDIS_NODES=127.0.0.1:7000,nohost", NULL};
    expect_error(NULL, bad_seed,
                 "redis.nodes: \"nohost\" is not host:port (port 1..65535) from env DAGPROF_REDIS_NODES");
    const char *bad_port[] = {"--redis.nodes", "a:1,b:99999", NULL};
    expect_error(bad_port, NULL,
                 "redis.nodes: \"b:99999\" is not host:port (port 1..65535) from flag --redis.nodes");
    const char *db_nodes[] = {"--redis.nodes=a:1", "--redis.db=3", NULL};
    expect_error(db_nodes, NULL,
                 "redis.db: 3 from flag --redis.db: a Redis Cluster has only db 0 (redis.cluster is on)");
    const char *db_cluster[] = {"DAGPROF_REDIS_CLUSTER=true", "DAGPROF_REDIS_DB=1", NULL};
    expect_error(NULL, db_cluster,
                 "redis.db: 1 from env DAGPROF_REDIS_DB: a Redis Cluster has only db 0 (redis.cluster is on)");
    /* good: seeds with spaces around, db 0; or db 5 without cluster */
    config_t *config = config_new();
    const char *good[] = {"--redis.nodes", "10.0.0.1:7000, 10.0.0.2:7001", NULL};
    char err[512] = "";
    ck_assert_msg(load(config, good, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(config_get(config, "redis.nodes"), "10.0.0.1:7000, 10.0.0.2:7001");
    ck_assert(!config_get_bool(config, "redis.cluster")); /* implied by redis.nodes, not set */
    config_free(config);
    config = config_new();
    const char *single_db[] = {"--redis.db=5", NULL};
    ck_assert_msg(load(config, single_db, NULL, err, sizeof err) == 0, "%s", err);
    config_free(config);
}
END_TEST

START_TEST(test_syntax_errors) {
    const char *at_end[] = {"--redis.port", NULL};
    expect_error(at_end, NULL, "redis.port: flag --redis.port needs a value");
    const char *before_flag[] = {"--redis.port", "--format", "json", NULL};
    expect_error(before_flag, NULL, "redis.port: flag --redis.port needs a value");
    const char *kafka_at_end[] = {"--kafka-client-id", NULL};
    expect_error(kafka_at_end, NULL, "kafka.client.id: flag --kafka-client-id needs a value");
    const char *no_name[] = {"--=x", NULL};
    expect_error(no_name, NULL, "flag \"--=x\" has no option name");

    expect_file_error("redis.port = 6379\nredis.port 6380\n",
                      "%s:2: line has no '=' (expected key = value)");
    expect_file_error("  = 5\n", "%s:1: line has no key before '='");
    expect_file_error("config = other.conf\n",
                      "config: cannot be set from %s:1 (use a flag or an environment variable)");
    /* An error on a later line names that line, not the first. */
    expect_file_error("redis.host = a\n\n# x\nredis.db = -2\n",
                      "redis.db: \"-2\" from %s:4 is out of range (0..1000000)");
}
END_TEST

START_TEST(test_unknown_options) {
    const char *flag[] = {"--redis.prot", "1", NULL};
    expect_error(flag, NULL,
                 "unknown option \"redis.prot\" from flag --redis.prot (did you mean redis.port?)");
    const char *dashed[] = {"--threshold-slow-node-prc=1", NULL};
    expect_error(dashed, NULL,
                 "unknown option \"threshold-slow-node-prc\" from flag --threshold-slow-node-prc "
                 "(did you mean threshold.slow_node.pct?)");
    const char *far[] = {"--wibble", NULL};
    expect_error(far, NULL, "unknown option \"wibble\" from flag --wibble");
    const char *env[] = {"DAGPROF_REDIS_PROT=1", NULL};
    expect_error(NULL, env,
                 "unknown option from env DAGPROF_REDIS_PROT (did you mean DAGPROF_REDIS_PORT?)");
    const char *env_far[] = {"DAGPROF_NOTHING_LIKE_IT=1", NULL};
    expect_error(NULL, env_far, "unknown option from env DAGPROF_NOTHING_LIKE_IT");
    expect_file_error("redis_port = 1\n",
                      "unknown option \"redis_port\" from %s:1 (did you mean redis.port?)");
    /* Flag spellings are not accepted in the file. */
    expect_file_error("\n\nprint.config = true\n",
                      "unknown option \"print.config\" from %s:3 (did you mean print-config?)");
    expect_file_error("kafka. = x\n", "unknown option \"kafka.\" from %s:1");
}
END_TEST

START_TEST(test_unopenable_file) {
    const char *flag[] = {"--config", "/nonexistent/dagprof.conf", NULL};
    expect_error(flag, NULL,
                 "config: \"/nonexistent/dagprof.conf\" from flag --config cannot be opened: "
                 "No such file or directory");
    const char *env[] = {"DAGPROF_CONFIG=/nonexistent/x.conf", NULL};
    expect_error(NULL, env,
                 "config: \"/nonexistent/x.conf\" from env DAGPROF_CONFIG cannot be opened: "
                 "No such file or directory");
}
END_TEST

START_TEST(test_config_from_env) {
    char env_path[64], flag_path[64], env_var[128], source[128];
    write_temp("redis.port = 1234\n", env_path, sizeof env_path);
    write_temp("\nredis.port = 4321\n", flag_path, sizeof flag_path);
    snprintf(env_var, sizeof env_var, "DAGPROF_CONFIG=%s", env_path);
    const char *envp[] = {env_var, NULL};

    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, NULL, envp, errstr, sizeof errstr), 0);
    ck_assert_int_eq(config_get_int(config, "redis.port"), 1234);
    snprintf(source, sizeof source, "%s:1", env_path);
    ck_assert_str_eq(config_source(config, "redis.port"), source);
    ck_assert_str_eq(config_source(config, "config"), "env DAGPROF_CONFIG");
    config_free(config);

    /* --config wins over DAGPROF_CONFIG; only its file is read. */
    config = config_new();
    const char *argv[] = {"--config", flag_path, NULL};
    ck_assert_int_eq(load(config, argv, envp, errstr, sizeof errstr), 0);
    ck_assert_int_eq(config_get_int(config, "redis.port"), 4321);
    snprintf(source, sizeof source, "%s:2", flag_path);
    ck_assert_str_eq(config_source(config, "redis.port"), source);
    config_free(config);
    unlink(env_path);
    unlink(flag_path);
}
END_TEST

START_TEST(test_file_format) {
    char path[64], source[128];
    write_temp("\xEF\xBB\xBF# a byte order mark, then a comment\r\n"
               "\r\n"
               "   \t redis.host\t=  my host  \r\n"
               "   # an indented comment = not a setting\n"
               "redis.user=\n"
               "kafka.sasl.jaas.config = a=b # not a comment\n"
               "redis.port=6380",
               path, sizeof path);
    const char *argv[] = {"--config", path, NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, argv, NULL, errstr, sizeof errstr), 0);
    ck_assert_str_eq(config_get(config, "redis.host"), "my host");
    ck_assert_str_eq(config_get(config, "redis.user"), "");
    snprintf(source, sizeof source, "%s:5", path);
    ck_assert_str_eq(config_source(config, "redis.user"), source);
    ck_assert_str_eq(config_get(config, "kafka.sasl.jaas.config"), "a=b # not a comment");
    ck_assert_int_eq(config_get_int(config, "redis.port"), 6380);
    snprintf(source, sizeof source, "%s:7", path);
    ck_assert_str_eq(config_source(config, "redis.port"), source);
    config_free(config);
    unlink(path);
}
END_TEST

static int collect_kafka(void *opaque, const char *key, const char *value) {
    return buf_printf(opaque, "%s=%s\n", key, value) == 0 ? 0 : -1;
}

static int stop_at_second(void *opaque, const char *key, const char *value) {
    (void)key;
    (void)value;
    int *calls = opaque;
    return ++*calls == 2 ? 7 : 0;
}

START_TEST(test_kafka_passthrough) {
    char path[64], source[128];
    write_temp("kafka.security.protocol = SASL_SSL\nkafka.client.id = from-file\n", path,
               sizeof path);
    const char *envp[] = {"DAGPROF_KAFKA_SASL_MECHANISM=PLAIN", "DAGPROF_KAFKA_CLIENT_ID=from-env",
                          "DAGPROF_KAFKA_BOOTSTRAP_SERVERS=b1:9092,b2:9092", NULL};
    const char *argv[] = {"--kafka-sasl-username", "alice", "--kafka.sasl.password=s3cret",
                          "--kafka-enable-auto-commit=not-checked", "--config", path, NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, argv, envp, errstr, sizeof errstr), 0);

    buf_t out = BUF_INIT;
    ck_assert_int_eq(config_foreach_kafka(config, collect_kafka, &out), 0);
    ck_assert_str_eq(out.data, "bootstrap.servers=b1:9092,b2:9092\n"
                               "client.id=from-env\n"
                               "enable.auto.commit=not-checked\n"
                               "sasl.mechanism=PLAIN\n"
                               "sasl.password=s3cret\n"
                               "sasl.username=alice\n"
                               "security.protocol=SASL_SSL\n");
    ck_assert_str_eq(config_get(config, "kafka.sasl.mechanism"), "PLAIN");
    ck_assert_str_eq(config_source(config, "kafka.client.id"), "env DAGPROF_KAFKA_CLIENT_ID");
    ck_assert_str_eq(config_source(config, "kafka.bootstrap.servers"),
                     "env DAGPROF_KAFKA_BOOTSTRAP_SERVERS");
    ck_assert_str_eq(config_source(config, "kafka.sasl.username"), "flag --kafka-sasl-username");
    snprintf(source, sizeof source, "%s:1", path);
    ck_assert_str_eq(config_source(config, "kafka.security.protocol"), source);

    int calls = 0;
    ck_assert_int_eq(config_foreach_kafka(config, stop_at_second, &calls), 7);
    ck_assert_int_eq(calls, 2);
    config_free(config);

    /* With nothing set, librdkafka still gets the default brokers. */
    config = config_new();
    ck_assert_int_eq(load(config, NULL, NULL, errstr, sizeof errstr), 0);
    buf_reset(&out);
    ck_assert_int_eq(config_foreach_kafka(config, collect_kafka, &out), 0);
    ck_assert_str_eq(out.data, "bootstrap.servers=127.0.0.1:9092\n");
    config_free(config);
    buf_free(&out);
    unlink(path);
}
END_TEST

static bool has_line(const buf_t *dump, const char *line) {
    size_t len = strlen(line);
    /* Every dump line ends with '\n'. */
    for (const char *p = dump->data; *p; p = strchr(p, '\n') + 1)
        if (strncmp(p, line, len) == 0 && p[len] == '\n')
            return true;
    return false;
}

static size_t count_lines_sorted(const buf_t *dump) {
    size_t lines = 0;
    char previous[128] = "";
    for (const char *p = dump->data; *p;) {
        const char *end = strchr(p, '\n');
        ck_assert_ptr_nonnull(end);
        size_t key_len = strcspn(p, " ");
        char key[128];
        ck_assert_uint_lt(key_len, sizeof key);
        memcpy(key, p, key_len);
        key[key_len] = '\0';
        ck_assert_msg(strcmp(previous, key) < 0, "%s is not after %s", key, previous);
        snprintf(previous, sizeof previous, "%s", key);
        lines++;
        p = end + 1;
    }
    return lines;
}

START_TEST(test_dump_masks_secrets) {
    char path[64], line[256];
    write_temp("kafka.ssl.key.password = filesecret1\n", path, sizeof path);
    const char *envp[] = {"DAGPROF_REDIS_PASSWORD=envsecret2", NULL};
    const char *argv[] = {"--kafka.sasl.password=flagsecret3",
                          "--kafka.sasl.oauthbearer.client.secret", "flagsecret4",
                          "--kafka.sasl.username", "alice", "--redis.port", "6390",
                          "--config", path, NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, argv, envp, errstr, sizeof errstr), 0);
    buf_t dump = BUF_INIT;
    ck_assert_int_eq(config_dump(config, &dump), 0);

    ck_assert(has_line(&dump, "redis.password = ******  # env DAGPROF_REDIS_PASSWORD"));
    ck_assert(has_line(&dump, "kafka.sasl.password = ******  # flag --kafka.sasl.password"));
    ck_assert(has_line(&dump, "kafka.sasl.oauthbearer.client.secret = ******  "
                              "# flag --kafka.sasl.oauthbearer.client.secret"));
    snprintf(line, sizeof line, "kafka.ssl.key.password = ******  # %s:1", path);
    ck_assert(has_line(&dump, line));
    ck_assert(has_line(&dump, "kafka.sasl.username = alice  # flag --kafka.sasl.username"));
    ck_assert(has_line(&dump, "kafka.bootstrap.servers = 127.0.0.1:9092  # default"));
    ck_assert(has_line(&dump, "redis.port = 6390  # flag --redis.port"));
    ck_assert(has_line(&dump, "redis.host = 127.0.0.1  # default"));
    ck_assert(has_line(&dump, "threshold.high_token.share = 0.4  # default"));
    snprintf(line, sizeof line, "config = %s  # flag --config", path);
    ck_assert(has_line(&dump, line));
    ck_assert_ptr_null(strstr(dump.data, "secret1"));
    ck_assert_ptr_null(strstr(dump.data, "secret2"));
    ck_assert_ptr_null(strstr(dump.data, "secret3"));
    ck_assert_ptr_null(strstr(dump.data, "secret4"));
    /* Every table option plus the four kafka keys not in the table. */
    ck_assert_uint_eq(count_lines_sorted(&dump), config_option_count() + 4);
    buf_free(&dump);
    config_free(config);

    /* An unset secret is shown empty, not as if it were set. */
    config = config_new();
    ck_assert_int_eq(load(config, NULL, NULL, errstr, sizeof errstr), 0);
    ck_assert_int_eq(config_dump(config, &dump), 0);
    ck_assert_uint_eq(count_lines_sorted(&dump), config_option_count());
    ck_assert(has_line(&dump, "redis.password =   # default"));
    const char *head = "batch.size = 1000  # default\n"
                       "batch.timeout.ms = 100  # default\n"
                       "compare = false  # default\n"
                       "config =   # default\n"
                       "dag =   # default\n"
                       "due.poll.ms = 20  # default\n";
    ck_assert_int_eq(strncmp(dump.data, head, strlen(head)), 0);
    buf_free(&dump);
    config_free(config);
    unlink(path);
}
END_TEST

START_TEST(test_positional) {
    const char *argv[] = {"first",  "--format", "json", "-",          "--print-config",
                          "second", "--",       "--redis.port", "x", NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, argv, NULL, errstr, sizeof errstr), 0);
    ck_assert_uint_eq(config_positional_count(config), 5);
    ck_assert_str_eq(config_positional(config, 0), "first");
    ck_assert_str_eq(config_positional(config, 1), "-");
    ck_assert_str_eq(config_positional(config, 2), "second");
    ck_assert_str_eq(config_positional(config, 3), "--redis.port");
    ck_assert_str_eq(config_positional(config, 4), "x");
    ck_assert_ptr_null(config_positional(config, 5));
    ck_assert_str_eq(config_get(config, "format"), "json");
    ck_assert(config_get_bool(config, "print-config"));
    ck_assert_int_eq(config_get_int(config, "redis.port"), 6379);
    config_free(config);
}
END_TEST

START_TEST(test_bool_flags) {
    char errstr[256] = "";
    const char *alone[] = {"--print-config", NULL};
    config_t *config = config_new();
    ck_assert_int_eq(load(config, alone, NULL, errstr, sizeof errstr), 0);
    ck_assert(config_get_bool(config, "print-config"));
    ck_assert_str_eq(config_get(config, "print-config"), "true");
    ck_assert_str_eq(config_source(config, "print-config"), "flag --print-config");
    config_free(config);

    /* A following boolean word is the value; anything else is positional. */
    const char *mixed[] = {"--redis.tls", "false", "--print-config", "trace.jsonl",
                           "--tail-from-beginning", "YES", "--help", NULL};
    config = config_new();
    ck_assert_int_eq(load(config, mixed, NULL, errstr, sizeof errstr), 0);
    ck_assert(!config_get_bool(config, "redis.tls"));
    ck_assert_str_eq(config_source(config, "redis.tls"), "flag --redis.tls");
    ck_assert(config_get_bool(config, "print-config"));
    ck_assert(config_get_bool(config, "tail.from.beginning"));
    ck_assert_str_eq(config_get(config, "tail.from.beginning"), "true");
    ck_assert(config_get_bool(config, "help"));
    ck_assert_uint_eq(config_positional_count(config), 1);
    ck_assert_str_eq(config_positional(config, 0), "trace.jsonl");
    config_free(config);

    const char *with_eq[] = {"--redis-tls=on", "--print-config=no", NULL};
    config = config_new();
    ck_assert_int_eq(load(config, with_eq, NULL, errstr, sizeof errstr), 0);
    ck_assert(config_get_bool(config, "redis.tls"));
    ck_assert(!config_get_bool(config, "print-config"));
    ck_assert_str_eq(config_get(config, "print-config"), "false");
    config_free(config);
}
END_TEST

START_TEST(test_enum_case_and_canonical_int) {
    const char *argv[] = {"--format", "JSON", "--log.level=Debug", "--redis.db=+007", NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, argv, NULL, errstr, sizeof errstr), 0);
    ck_assert_str_eq(config_get(config, "format"), "json");
    ck_assert_str_eq(config_get(config, "log.level"), "debug");
    ck_assert_str_eq(config_get(config, "redis.db"), "7");
    ck_assert_int_eq(config_get_int(config, "redis.db"), 7);
    config_free(config);
}
END_TEST

START_TEST(test_config_set) {
    const char *envp[] = {"DAGPROF_GRACE_MS=9", NULL};
    const char *argv[] = {"--redis.port", "1", NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    /* Set before loading, it still outranks the environment. */
    ck_assert_int_eq(config_set(config, "grace.ms", "5", errstr, sizeof errstr), 0);
    ck_assert_int_eq(load(config, argv, envp, errstr, sizeof errstr), 0);
    ck_assert_int_eq(config_get_int(config, "grace.ms"), 5);
    ck_assert_str_eq(config_source(config, "grace.ms"), "flag --grace.ms");

    ck_assert_int_eq(config_set(config, "redis.port", "2", errstr, sizeof errstr), 0);
    ck_assert_int_eq(config_get_int(config, "redis.port"), 2);
    ck_assert_int_eq(config_set(config, "kafka.linger.ms", "5", errstr, sizeof errstr), 0);
    ck_assert_str_eq(config_get(config, "kafka.linger.ms"), "5");

    ck_assert_int_eq(config_set(config, "redis.port", "0", errstr, sizeof errstr), -1);
    ck_assert_str_eq(errstr, "redis.port: \"0\" from flag --redis.port is out of range (1..65535)");
    ck_assert_int_eq(config_get_int(config, "redis.port"), 2);
    ck_assert_int_eq(config_set(config, "redis.hots", "x", errstr, sizeof errstr), -1);
    ck_assert_str_eq(errstr,
                     "unknown option \"redis.hots\" from flag --redis.hots "
                     "(did you mean redis.host?)");
    config_free(config);
}
END_TEST

START_TEST(test_load_twice) {
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_int_eq(load(config, NULL, NULL, errstr, sizeof errstr), 0);
    ck_assert_int_eq(load(config, NULL, NULL, errstr, sizeof errstr), -1);
    ck_assert_str_eq(errstr, "config_load: this config was already loaded");
    config_free(config);
}
END_TEST

START_TEST(test_get_unknown_aborts) {
    config_t *config = config_new();
    config_get(config, "no.such.option");
}
END_TEST

START_TEST(test_get_int_of_string_aborts) {
    config_t *config = config_new();
    config_get_int(config, "redis.host");
}
END_TEST

START_TEST(test_get_bool_of_int_aborts) {
    config_t *config = config_new();
    config_get_bool(config, "redis.port");
}
END_TEST

/* A valid value for option `name`: its default, or a placeholder. */
static const char *some_value(const config_t *defaults, const char *name) {
    if (strcmp(name, "config") == 0)
        return EXAMPLE_CONF;
    const char *value = config_get(defaults, name);
    return value ? value : "x";
}

static void expect_only_source(const config_t *config, const char *name, const char *source,
                               const char *kind) {
    ck_assert_str_eq(config_source(config, name), source);
    for (size_t j = 0; j < config_option_count(); j++) {
        const char *other = config_option_name(j);
        if (strcmp(other, name) != 0)
            ck_assert_msg(strncmp(config_source(config, other), kind, strlen(kind)) != 0,
                          "%s also set %s", source, other);
    }
}

/* Each option's env variable and all-dashes flag reach that option alone. */
START_TEST(test_every_name_maps_to_itself) {
    config_t *defaults = config_new();
    for (size_t i = 0; i < config_option_count(); i++) {
        const char *name = config_option_name(i);
        char env[160], flag[160], source[170];
        size_t n = (size_t)snprintf(env, sizeof env, "DAGPROF_");
        for (const char *p = name; *p; p++)
            env[n++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
        env[n] = '\0';
        n = (size_t)snprintf(flag, sizeof flag, "--");
        for (const char *p = name; *p; p++)
            flag[n++] = (*p == '.' || *p == '_') ? '-' : *p;
        flag[n] = '\0';

        char assignment[512], errstr[256] = "";
        snprintf(assignment, sizeof assignment, "%s=%s", env, some_value(defaults, name));
        const char *envp[] = {assignment, NULL};
        config_t *config = config_new();
        ck_assert_msg(load(config, NULL, envp, errstr, sizeof errstr) == 0, "%s", errstr);
        snprintf(source, sizeof source, "env %s", env);
        expect_only_source(config, name, source, "env ");
        config_free(config);

        snprintf(assignment, sizeof assignment, "%s=%s", flag, some_value(defaults, name));
        const char *argv[] = {assignment, NULL};
        config = config_new();
        ck_assert_msg(load(config, argv, NULL, errstr, sizeof errstr) == 0, "%s", errstr);
        snprintf(source, sizeof source, "flag %s", flag);
        expect_only_source(config, name, source, "flag ");
        config_free(config);
    }
    config_free(defaults);
}
END_TEST

/* compose/dagprof.conf loads, and shows every option once with its default. */
START_TEST(test_example_file) {
    const char *argv[] = {"--config", EXAMPLE_CONF, NULL};
    config_t *config = config_new();
    char errstr[256] = "";
    ck_assert_msg(load(config, argv, NULL, errstr, sizeof errstr) == 0, "%s", errstr);
    ck_assert_int_eq(strncmp(config_source(config, "redis.port"), EXAMPLE_CONF ":",
                             strlen(EXAMPLE_CONF) + 1), 0);
    config_free(config);

    config_t *defaults = config_new();
    FILE *file = fopen(EXAMPLE_CONF, "r");
    ck_assert_ptr_nonnull(file);
    size_t count = config_option_count();
    int *seen = calloc(count, sizeof *seen);
    char line[1024];
    while (fgets(line, sizeof line, file)) {
        char *text = line;
        while (*text == '#' || *text == ' ')
            text++;
        char *eq = strchr(text, '=');
        if (!eq)
            continue;
        char *key_end = eq;
        while (key_end > text && key_end[-1] == ' ')
            key_end--;
        char *value = eq + 1;
        while (*value == ' ')
            value++;
        value[strcspn(value, "\r\n")] = '\0';
        for (size_t i = 0; i < count; i++) {
            const char *name = config_option_name(i);
            if (strlen(name) != (size_t)(key_end - text) ||
                strncmp(text, name, strlen(name)) != 0)
                continue;
            const char *def = config_get(defaults, name);
            ck_assert_msg(strcmp(value, def ? def : "") == 0, "%s = %s in the example, default %s",
                          name, value, def ? def : "");
            seen[i]++;
        }
    }
    fclose(file);
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(seen[i] == 1, "%s appears %d times in the example", config_option_name(i),
                      seen[i]);
    free(seen);
    config_free(defaults);
}
END_TEST

START_TEST(test_usage) {
    buf_t out = BUF_INIT;
    ck_assert_int_eq(config_usage(&out), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\n  --redis.port N  (1..65535; default 6379; "
                                           "env DAGPROF_REDIS_PORT)\n      Redis server port\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "\n  --log.level debug|info|warn|error  (default info; "
                                           "env DAGPROF_LOG_LEVEL)\n"));
    ck_assert_ptr_nonnull(
        strstr(out.data, "\n  --pricing FILE  (default \"\"; env DAGPROF_PRICING)\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "\n  --redis.password PASSWORD  "
                                           "(env DAGPROF_REDIS_PASSWORD)\n"));
    for (size_t i = 0; i < config_option_count(); i++) {
        char needle[160];
        snprintf(needle, sizeof needle, "\n  --%s ", config_option_name(i));
        ck_assert_msg(strstr(out.data, needle) != NULL, "%s missing from usage",
                      config_option_name(i));
    }
    buf_free(&out);
}
END_TEST

static Suite *config_suite(void) {
    Suite *suite = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_repeated_flag_last_wins);
    tcase_add_test(tc, test_value_errors);
    tcase_add_test(tc, test_redis_cluster_errors);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_unknown_options);
    tcase_add_test(tc, test_unopenable_file);
    tcase_add_test(tc, test_config_from_env);
    tcase_add_test(tc, test_file_format);
    tcase_add_test(tc, test_kafka_passthrough);
    tcase_add_test(tc, test_dump_masks_secrets);
    tcase_add_test(tc, test_positional);
    tcase_add_test(tc, test_bool_flags);
    tcase_add_test(tc, test_enum_case_and_canonical_int);
    tcase_add_test(tc, test_config_set);
    tcase_add_test(tc, test_load_twice);
    tcase_add_test_raise_signal(tc, test_get_unknown_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_get_int_of_string_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_get_bool_of_int_aborts, SIGABRT);
    tcase_add_test(tc, test_every_name_maps_to_itself);
    tcase_add_test(tc, test_example_file);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) {
    SRunner *runner = srunner_create(config_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
