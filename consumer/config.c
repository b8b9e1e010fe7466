/* config.c -- the option table and the file, environment and flag readers.
 * See config.h for the rules; compose/dagprof.conf is the user's copy of the
 * table below, and a test keeps the two in step. */
#include "config.h"
#include "redis_route.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum option_type { OPT_STRING, OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_ENUM };

#define OPT_SECRET 1u   /* masked in the dump */
#define OPT_NONEMPTY 2u /* an empty string is rejected */
#define OPT_NOFILE 4u   /* meaningless inside the config file */

typedef struct option_def {
    const char *group; /* heading in --help */
    const char *name;
    enum option_type type;
    const char *def; /* NULL: unset */
    const char *arg; /* metavariable in --help; for enums, the choices "a|b" */
    int64_t min, max;
    double dmin, dmax;
    unsigned flags;
    const char *help;
} option_def_t;

#define STR(g, n, d, a, fl, h) {g, n, OPT_STRING, d, a, 0, 0, 0, 0, fl, h}
#define INT(g, n, d, lo, hi, h) {g, n, OPT_INT, d, "N", lo, hi, 0, 0, 0, h}
#define DBL(g, n, d, lo, hi, h) {g, n, OPT_DOUBLE, d, "X", 0, 0, lo, hi, 0, h}
#define BOOL(g, n, d, h) {g, n, OPT_BOOL, d, "[BOOL]", 0, 0, 0, 0, 0, h}
#define ENUM(g, n, d, choices, h) {g, n, OPT_ENUM, d, choices, 0, 0, 0, 0, 0, h}
#define NOMAX INT64_MAX
#define DNOMAX DBL_MAX

static const char G_GENERAL[] = "General";
static const char G_KAFKA[] = "Kafka (every kafka.* key goes to librdkafka without the prefix)";
static const char G_REDIS[] = "Redis trace store";
static const char G_COMPLETION[] = "Trace completion";
static const char G_LIMITS[] = "Limits";
static const char G_METRICS[] = "Metrics";
static const char G_LOADGEN[] = "dagprof loadgen";
static const char G_TAIL[] = "dagprof tail";
static const char G_THRESH[] = "Bottleneck thresholds";
static const char G_OUTPUT[] = "Output records (dag-profiles, dag-recommendations)";
static const char G_HTML[] = "HTML report (--format html)";
static const char G_FLEET[] = "Fleet view (live baselines, regressions, dag-trends)";
static const char G_TRENDS[] = "Fleet view (dagprof profile --trends, dagprof trends)";

static const option_def_t options[] = {
    STR(G_GENERAL, "config", NULL, "FILE", OPT_NOFILE,
        "config file to read (key = value lines)"),
    BOOL(G_GENERAL, "help", "false", "print this help and exit"),
    BOOL(G_GENERAL, "print-config", "false",
         "print the effective configuration, secrets masked, and exit"),
    ENUM(G_GENERAL, "log.level", "info", "debug|info|warn|error",
         "least severe log messages printed"),
    ENUM(G_GENERAL, "format", "text", "text|json|html", "output format of profile and tail"),
    STR(G_GENERAL, "pricing", "", "FILE", 0,
        "pricing table (JSON, USD per 1M tokens); empty = the built-in table"),

    STR(G_KAFKA, "kafka.bootstrap.servers", "127.0.0.1:9092", "HOST:PORT,..", 0,
        "Kafka brokers"),
    STR(G_KAFKA, "group.id", "dagprof", "ID", OPT_NONEMPTY, "consumer group of dagprof run"),
    STR(G_KAFKA, "topic.spans", "dag-spans", "TOPIC", OPT_NONEMPTY, "input topic of span events"),
    STR(G_KAFKA, "topic.profiles", "dag-profiles", "TOPIC", OPT_NONEMPTY,
        "output topic of profile records"),
    STR(G_KAFKA, "topic.recommendations", "dag-recommendations", "TOPIC", OPT_NONEMPTY,
        "output topic of recommendation records"),
    STR(G_KAFKA, "topic.deadletter", "dag-deadletter", "TOPIC", OPT_NONEMPTY,
        "malformed input events, with the reason"),
    INT(G_KAFKA, "input.schema.id", "-1", -1, 2147483647,
        "schema id Confluent-framed spans must carry; -1 accepts any"),
    /* OpenTelemetry input: what a message value is, and traces split across
     * partitions by an exporter that does not key by trace id */
    ENUM(G_KAFKA, "input.format", "auto", "auto|avro|otlp_proto|otlp_json",
         "what input messages hold; auto detects each message"),
    BOOL(G_KAFKA, "input.repartition", "false",
         "re-publish decoded spans keyed by trace id to input.repartition.topic and profile from it"),
    STR(G_KAFKA, "input.repartition.topic", "", "TOPIC", 0,
        "internal topic of re-published spans; empty = <topic.spans>-by-trace"),
    INT(G_KAFKA, "batch.size", "1000", 1, 100000, "most messages handled per poll batch"),
    INT(G_KAFKA, "batch.timeout.ms", "100", 1, 60000, "longest wait to fill a poll batch"),

    STR(G_REDIS, "redis.host", "127.0.0.1", "HOST", OPT_NONEMPTY, "Redis server host"),
    INT(G_REDIS, "redis.port", "6379", 1, 65535, "Redis server port"),
    STR(G_REDIS, "redis.user", "", "USER", 0, "ACL user; empty = the default user"),
    STR(G_REDIS, "redis.password", NULL, "PASSWORD", OPT_SECRET,
        "password for AUTH; unset = no AUTH"),
    INT(G_REDIS, "redis.db", "0", 0, 1000000, "database number (SELECT)"),
    BOOL(G_REDIS, "redis.tls", "false", "connect with TLS"),
    STR(G_REDIS, "redis.tls.ca", NULL, "FILE", 0,
        "CA certificates to verify the server; unset = the system's"),
    INT(G_REDIS, "redis.timeout.ms", "5000", 1, 3600000, "connect and command timeout"),
    STR(G_REDIS, "redis.prefix", "dagprof", "PREFIX", OPT_NONEMPTY,
        "first segment of every Redis key"),
    /* Redis Cluster: the store routes each partition's commands by slot */
    BOOL(G_REDIS, "redis.cluster", "false",
         "Redis is a Redis Cluster: redis.host:redis.port (or redis.nodes) are seeds"),
    STR(G_REDIS, "redis.nodes", "", "HOST:PORT,..", 0,
        "seed nodes of a Redis Cluster; non-empty implies redis.cluster"),

    INT(G_COMPLETION, "grace.ms", "2000", 0, 3600000,
        "time to wait after the run span arrives, for late children"),
    INT(G_COMPLETION, "idle.timeout.ms", "60000", 1000, 86400000,
        "profile a trace without run span after this long without a new span"),
    INT(G_COMPLETION, "trace.ttl.s", "86400", 60, 2592000,
        "how long a trace stays in Redis after its last change"),
    INT(G_COMPLETION, "due.poll.ms", "20", 1, 60000, "how often due traces are looked for"),

    INT(G_LIMITS, "limit.spans.per.trace", "100000", 1, 10000000, "spans kept per trace"),
    INT(G_LIMITS, "limit.bytes.per.trace", "67108864", 1024, 2147483647,
        "bytes of span data kept per trace"),
    INT(G_LIMITS, "limit.open.traces", "1000000", 1, 100000000,
        "traces awaiting completion per partition"),
    INT(G_LIMITS, "limit.string.bytes", "4096", 64, 1048576,
        "longest string field of a span"),

    INT(G_METRICS, "metrics.port", "9464", 0, 65535,
        "port of the Prometheus /metrics endpoint; 0 disables it"),
    STR(G_METRICS, "metrics.bind", "127.0.0.1", "ADDRESS", OPT_NONEMPTY,
        "address the metrics endpoint listens on"),

    INT(G_LOADGEN, "loadgen.runs", "1000", 1, 100000000, "DAG runs to generate"),
    DBL(G_LOADGEN, "loadgen.rate", "0", 0, DNOMAX, "spans per second; 0 = unlimited"),
    INT(G_LOADGEN, "loadgen.seed", "1", INT64_MIN, NOMAX,
        "random seed; a seed always produces the same runs"),
    INT(G_LOADGEN, "loadgen.concurrency", "50", 1, 10000, "runs in flight at once"),
    DBL(G_LOADGEN, "loadgen.late.fraction", "0.02", 0, 1,
        "share of spans sent after their run span"),
    STR(G_LOADGEN, "loadgen.output", "kafka", "kafka|FILE|-", OPT_NONEMPTY,
        "kafka (topic.spans), or a file / - (stdout) for JSON Lines"),
    ENUM(G_LOADGEN, "loadgen.format", "avro", "avro|otlp_proto|otlp_json",
         "message values: Avro SpanEvent per span, or OTLP requests of many spans "
         "(dagprof loadgen --format)"),
    INT(G_LOADGEN, "loadgen.otlp.batch", "100", 1, 1000000,
        "OTLP: spans per request, like the Collector's batch processor"),
    BOOL(G_LOADGEN, "loadgen.otlp.key_by_trace", "false",
         "OTLP: one message per trace of a batch, keyed by trace id (partition_traces_by_id)"),

    BOOL(G_TAIL, "tail.from.beginning", "false", "read the output topics from the start"),
    INT(G_TAIL, "tail.max", "0", 0, NOMAX, "stop after this many profiles; 0 = never"),
    INT(G_TAIL, "tail.timeout.ms", "0", 0, NOMAX,
        "stop after this long without a profile; 0 = never"),

    ENUM(G_OUTPUT, "output.format", "avro", "avro|confluent|json",
         "profile and recommendation records: bare Avro, Schema Registry framing, or JSON"),
    ENUM(G_OUTPUT, "output.compression", "none", "none|gzip|snappy|lz4|zstd",
         "compression of the records dagprof run writes (outputs, dead letters)"),
    INT(G_OUTPUT, "output.schema.id.profile", "-1", -1, 2147483647,
        "confluent: schema id of Profile records; -1 = from the registry"),
    INT(G_OUTPUT, "output.schema.id.recommendation", "-1", -1, 2147483647,
        "confluent: schema id of Recommendation records; -1 = from the registry"),
    STR(G_OUTPUT, "output.schema.registry.url", "", "URL", 0,
        "Schema Registry to register the output schemas with at start; empty = none"),
    INT(G_OUTPUT, "output.schema.registry.timeout.ms", "10000", 1, 600000,
        "timeout of each Schema Registry request"),
    INT(G_HTML, "html.max.rows", "200", 1, 5000,
        "nodes drawn in the timeline, DAG and charts; the rest is one aggregated row"),
    INT(G_HTML, "ui.profiles", "20", 0, 10000,
        "GET /ui on the metrics port lists this many last published profiles; 0 = no /ui"),
    INT(G_HTML, "ui.profile.max.bytes", "4194304", 1024, 1073741824,
        "largest profile record /ui keeps (memory: ui.profiles x this at most)"),

    DBL(G_THRESH, "threshold.slow_node.pct", "30", 0, 100,
        "slow_node: a critical node's exec time is at least this % of wall time"),
    DBL(G_THRESH, "threshold.high_token.share", "0.4", 0, 1,
        "high_token_usage: a node's share of the run's tokens is at least this"),
    INT(G_THRESH, "threshold.high_token.min", "10000", 0, NOMAX,
        "high_token_usage: ... and it used at least this many tokens"),
    INT(G_THRESH, "threshold.retries", "2", 1, 1000000,
        "excessive_retries: a node was retried at least this often"),
    DBL(G_THRESH, "threshold.tool_latency.share", "0.5", 0, 1,
        "tool_latency: tool calls take at least this share of a node's exec time"),
    DBL(G_THRESH, "threshold.dependency_wait.pct", "20", 0, 100,
        "dependency_wait: a straggler input held a node at least this % of wall time"),
    DBL(G_THRESH, "threshold.sequential.parallelism", "1.2", 0, DNOMAX,
        "sequential_bottleneck: the run's parallelism is below this ..."),
    INT(G_THRESH, "threshold.sequential.min_nodes", "3", 1, 1000000,
        "sequential_bottleneck: ... on a critical path of at least this many nodes"),
    DBL(G_THRESH, "threshold.scheduling_delay.pct", "10", 0, 100,
        "scheduling_delay: a node queued at least this % of wall time ..."),
    INT(G_THRESH, "threshold.scheduling_delay.min_us", "100000", 0, NOMAX,
        "scheduling_delay: ... and at least this many microseconds"),
    INT(G_THRESH, "threshold.downgrade.max_output", "500", 0, NOMAX,
        "model_downgrade: llm calls with at most this many output tokens"),
    INT(G_THRESH, "threshold.reduce_context.min_input", "20000", 0, NOMAX,
        "reduce_context: llm calls with at least this many input tokens ..."),
    DBL(G_THRESH, "threshold.reduce_context.factor", "3", 1, DNOMAX,
        "reduce_context: ... and this many times the run's median call"),
    INT(G_THRESH, "threshold.batch.min_calls", "3", 2, 1000000,
        "batch_operations: sequential calls of one tool in a node"),

    BOOL(G_TRENDS, "trends", "false",
         "dagprof profile: print the baselines per DAG and version instead of each profile"),
    ENUM(G_TRENDS, "window", "24h", "1h|24h|7d",
         "baseline window, ending at the latest run's end (offline) or now (live)"),
    BOOL(G_TRENDS, "compare", "false",
         "dagprof trends --compare A B: compare two sets of runs (trace files or directories)"),
    DBL(G_TRENDS, "regression.factor", "1.5", 1, DNOMAX,
        "regression (profile --trends and dagprof run): a run's wall or cost above this x its baseline's p95"),
    INT(G_TRENDS, "regression.min.runs", "30", 1, NOMAX,
        "regression: baseline runs (for a node: runs with the node) needed first"),
    DBL(G_TRENDS, "regression.node.factor", "2", 1, DNOMAX,
        "regression: a node's exec above this x the node's p95"),

    BOOL(G_FLEET, "fleet.enabled", "false",
         "dagprof run: keep per-DAG baselines in Redis, flag regressions, publish trend records"),
    INT(G_FLEET, "fleet.refresh.ms", "10000", 100, 86400000,
        "how often the cached 24 h baselines the regression rule reads are refreshed"),
    INT(G_FLEET, "fleet.trend.interval.s", "60", 1, 86400,
        "periodic trend record of each DAG and version, one instance publishing it"),
    INT(G_FLEET, "fleet.metrics.top", "20", 0, 10000,
        "baseline gauges on /metrics for this many DAGs (most runs), bounding label cardinality"),
    STR(G_FLEET, "output.trends.topic", "dag-trends", "TOPIC", OPT_NONEMPTY,
        "topic of trend records, keyed by dag_id"),
    STR(G_FLEET, "dag", "", "ID", 0,
        "dagprof trends: only this DAG; with --compare A B, the DAG whose versions A and B are compared"),
};

#define OPTION_COUNT (sizeof options / sizeof options[0])
#define KAFKA_PREFIX "kafka."
#define KAFKA_PREFIX_LEN 6
#define ENV_PREFIX "DAGPROF_"
#define ENV_PREFIX_LEN 8
#define ENV_KAFKA_PREFIX "DAGPROF_KAFKA_"
#define ENV_KAFKA_PREFIX_LEN 14
#define NAME_MAX_LEN 128 /* longer than any option name; sizes name buffers */

/* Later sources win only over earlier ones of lower or equal rank. */
enum level { LEVEL_DEFAULT, LEVEL_FILE, LEVEL_ENV, LEVEL_FLAG };

typedef struct config_value {
    char *text;   /* owned, canonical; NULL: the default applies */
    char *source; /* owned; NULL: "default" */
    enum level level;
    int64_t int_value; /* parsed, defaults included */
    double double_value;
    bool bool_value;
} config_value_t;

typedef struct kafka_setting {
    char *key; /* owned, with the "kafka." prefix */
    char *value;
    char *source;
    enum level level;
} kafka_setting_t;

struct config {
    config_value_t values[OPTION_COUNT];
    kafka_setting_t *kafka; /* owned array, unsorted */
    size_t kafka_count, kafka_cap;
    char **positional; /* owned strings */
    size_t positional_count, positional_cap;
    bool loaded;
};

typedef struct parsed_value {
    const char *text; /* canonical form: points into canon or the input */
    char canon[32];
    int64_t int_value;
    double double_value;
    bool bool_value;
} parsed_value_t;

/* ---- names ---- */

static int find_option(const char *name) {
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strcmp(options[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool is_kafka_key(const char *name) {
    return strncmp(name, KAFKA_PREFIX, KAFKA_PREFIX_LEN) == 0 && name[KAFKA_PREFIX_LEN] != '\0';
}

static void env_name(const char *name, char *out, size_t out_size) {
    size_t n = (size_t)snprintf(out, out_size, "%s", ENV_PREFIX);
    for (; *name && n + 1 < out_size; name++)
        out[n++] = (*name == '.' || *name == '-') ? '_' : (char)toupper((unsigned char)*name);
    out[n] = '\0';
}

static int find_option_env(const char *var, size_t var_len) {
    char env[NAME_MAX_LEN];
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        env_name(options[i].name, env, sizeof env);
        if (strlen(env) == var_len && memcmp(env, var, var_len) == 0)
            return (int)i;
    }
    return -1;
}

/* Flags accept '-' for '.' and '_' (and '.' for '-'), so --redis-port and
 * --threshold-slow-node-pct work; a test checks this stays unambiguous. */
static bool flag_char_matches(char typed, char name) {
    return typed == name || (typed == '-' && (name == '.' || name == '_')) ||
           (typed == '.' && name == '-');
}

static int find_option_flag(const char *typed, size_t typed_len) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *name = options[i].name;
        if (strlen(name) != typed_len)
            continue;
        size_t k = 0;
        while (k < typed_len && flag_char_matches(typed[k], name[k]))
            k++;
        if (k == typed_len)
            return (int)i;
    }
    return -1;
}

static char fold_char(char c) {
    return (c == '-' || c == '_') ? '.' : (char)tolower((unsigned char)c);
}

/* Optimal string alignment distance (a transposition costs 1), compared
 * case-insensitively with '-', '_' and '.' alike. */
static size_t edit_distance(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen >= NAME_MAX_LEN || blen >= NAME_MAX_LEN)
        return (size_t)-1;
    size_t rows[3][NAME_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t cost = fold_char(a[i - 1]) == fold_char(b[j - 1]) ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && fold_char(a[i - 1]) == fold_char(b[j - 2]) &&
                fold_char(a[i - 2]) == fold_char(b[j - 1]) && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *spare = prev2;
        prev2 = prev;
        prev = cur;
        cur = spare;
    }
    return prev[blen];
}

/* The known option closest to `typed`, or NULL when none is close enough. */
static const char *closest_option(const char *typed, size_t typed_len) {
    size_t limit = typed_len < 6 ? 1 : typed_len < 12 ? 2 : 3;
    const char *best = NULL;
    size_t best_distance = limit + 1;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        size_t d = edit_distance(typed, typed_len, options[i].name, strlen(options[i].name));
        if (d < best_distance) {
            best_distance = d;
            best = options[i].name;
        }
    }
    return best;
}

static int unknown_option(const char *typed, size_t typed_len, const char *source,
                          char *errstr, size_t errstr_size) {
    const char *guess = closest_option(typed, typed_len);
    if (guess)
        snprintf(errstr, errstr_size, "unknown option \"%.*s\" from %s (did you mean %s?)",
                 (int)typed_len, typed, source, guess);
    else
        snprintf(errstr, errstr_size, "unknown option \"%.*s\" from %s", (int)typed_len, typed,
                 source);
    return -1;
}

/* ---- values ---- */

static void range_text(const option_def_t *opt, char *out, size_t out_size) {
    out[0] = '\0';
    if (opt->type == OPT_INT) {
        if (opt->min == INT64_MIN && opt->max == INT64_MAX)
            return;
        if (opt->max == INT64_MAX)
            snprintf(out, out_size, ">= %lld", (long long)opt->min);
        else
            snprintf(out, out_size, "%lld..%lld", (long long)opt->min, (long long)opt->max);
    } else if (opt->type == OPT_DOUBLE) {
        if (opt->dmax == DBL_MAX)
            snprintf(out, out_size, ">= %g", opt->dmin);
        else
            snprintf(out, out_size, "%g..%g", opt->dmin, opt->dmax);
    }
}

static bool parse_bool_word(const char *text, bool *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Matches `text` case-insensitively against "a|b|c"; copies the choice. */
static bool parse_choice(const char *choices, const char *text, char *out, size_t out_size) {
    size_t text_len = strlen(text);
    for (const char *p = choices; *p;) {
        size_t len = strcspn(p, "|");
        if (len == text_len && strncasecmp(p, text, len) == 0 && len < out_size) {
            memcpy(out, p, len);
            out[len] = '\0';
            return true;
        }
        p += len;
        if (*p == '|')
            p++;
    }
    return false;
}

static int value_error(const option_def_t *opt, const char *text, const char *source,
                       const char *problem, char *errstr, size_t errstr_size) {
    char range[64];
    range_text(opt, range, sizeof range);
    if (range[0])
        snprintf(errstr, errstr_size, "%s: \"%s\" from %s %s (%s)", opt->name, text, source,
                 problem, range);
    else
        snprintf(errstr, errstr_size, "%s: \"%s\" from %s %s", opt->name, text, source, problem);
    return -1;
}

static int parse_value(const option_def_t *opt, const char *text, const char *source,
                       parsed_value_t *out, char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof *out);
    out->text = text;
    switch (opt->type) {
    case OPT_STRING:
        if ((opt->flags & OPT_NONEMPTY) && text[0] == '\0') {
            snprintf(errstr, errstr_size, "%s: \"\" from %s must not be empty", opt->name,
                     source);
            return -1;
        }
        return 0;
    case OPT_INT: {
        const char *digits = text + (text[0] == '+' || text[0] == '-');
        if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
            return value_error(opt, text, source, "is not an integer", errstr, errstr_size);
        errno = 0;
        long long v = strtoll(text, NULL, 10);
        if (errno == ERANGE || v < opt->min || v > opt->max)
            return value_error(opt, text, source, "is out of range", errstr, errstr_size);
        out->int_value = v;
        out->double_value = (double)v;
        snprintf(out->canon, sizeof out->canon, "%lld", v);
        out->text = out->canon;
        return 0;
    }
    case OPT_DOUBLE: {
        char *end = NULL;
        if (text[0] == '\0' || isspace((unsigned char)text[0]))
            return value_error(opt, text, source, "is not a number", errstr, errstr_size);
        errno = 0;
        double v = strtod(text, &end);
        if (*end != '\0' || isnan(v))
            return value_error(opt, text, source, "is not a number", errstr, errstr_size);
        if ((errno == ERANGE && fabs(v) > 1.0) || isinf(v) || v < opt->dmin || v > opt->dmax)
            return value_error(opt, text, source, "is out of range", errstr, errstr_size);
        out->double_value = v;
        return 0;
    }
    case OPT_BOOL:
        if (!parse_bool_word(text, &out->bool_value)) {
            snprintf(errstr, errstr_size,
                     "%s: \"%s\" from %s is not a boolean (true/false, yes/no, on/off, 1/0)",
                     opt->name, text, source);
            return -1;
        }
        snprintf(out->canon, sizeof out->canon, "%s", out->bool_value ? "true" : "false");
        out->text = out->canon;
        return 0;
    case OPT_ENUM:
        if (!parse_choice(opt->arg, text, out->canon, sizeof out->canon)) {
            char allowed[128];
            size_t n = 0;
            for (const char *p = opt->arg; *p && n + 3 < sizeof allowed; p++) {
                if (*p == '|') {
                    allowed[n++] = ',';
                    allowed[n++] = ' ';
                } else {
                    allowed[n++] = *p;
                }
            }
            allowed[n] = '\0';
            snprintf(errstr, errstr_size, "%s: \"%s\" from %s is not one of %s", opt->name, text,
                     source, allowed);
            return -1;
        }
        out->text = out->canon;
        return 0;
    }
    return -1;
}

/* Record a validated value unless a higher-ranked source already set it. */
static int set_option(config_t *config, int index, const char *text, enum level level,
                      const char *source, char *errstr, size_t errstr_size) {
    const option_def_t *opt = &options[index];
    parsed_value_t parsed;
    if (parse_value(opt, text, source, &parsed, errstr, errstr_size) != 0)
        return -1;
    config_value_t *slot = &config->values[index];
    if (level < slot->level)
        return 0;
    char *copy = strdup(parsed.text);
    char *source_copy = strdup(source);
    if (!copy || !source_copy)
        goto fail;
    free(slot->text);
    free(slot->source);
    slot->text = copy;
    slot->source = source_copy;
    slot->level = level;
    slot->int_value = parsed.int_value;
    slot->double_value = parsed.double_value;
    slot->bool_value = parsed.bool_value;
    return 0;
fail:
    free(copy);
    free(source_copy);
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
}

static kafka_setting_t *find_kafka(const config_t *config, const char *key) {
    for (size_t i = 0; i < config->kafka_count; i++)
        if (strcmp(config->kafka[i].key, key) == 0)
            return &config->kafka[i];
    return NULL;
}

static int set_kafka(config_t *config, const char *key, const char *value, enum level level,
                     const char *source, char *errstr, size_t errstr_size) {
    char *key_copy = NULL;
    char *value_copy = NULL;
    char *source_copy = NULL;
    kafka_setting_t *setting = find_kafka(config, key);
    if (setting && level < setting->level)
        return 0;
    value_copy = strdup(value);
    source_copy = strdup(source);
    if (!value_copy || !source_copy)
        goto fail;
    if (!setting) {
        if (config->kafka_count == config->kafka_cap) {
            size_t cap = config->kafka_cap ? config->kafka_cap * 2 : 8;
            kafka_setting_t *grown = realloc(config->kafka, cap * sizeof *grown);
            if (!grown)
                goto fail;
            config->kafka = grown;
            config->kafka_cap = cap;
        }
        key_copy = strdup(key);
        if (!key_copy)
            goto fail;
        setting = &config->kafka[config->kafka_count++];
        setting->key = key_copy;
        setting->value = NULL;
        setting->source = NULL;
    }
    free(setting->value);
    free(setting->source);
    setting->value = value_copy;
    setting->source = source_copy;
    setting->level = level;
    return 0;
fail:
    free(key_copy);
    free(value_copy);
    free(source_copy);
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
}

/* Set canonical `name` (an option or kafka.* key) from any source. */
static int set_named(config_t *config, const char *name, const char *value, enum level level,
                     const char *source, char *errstr, size_t errstr_size) {
    int index = find_option(name);
    if (index >= 0)
        return set_option(config, index, value, level, source, errstr, errstr_size);
    if (is_kafka_key(name))
        return set_kafka(config, name, value, level, source, errstr, errstr_size);
    return unknown_option(name, strlen(name), source, errstr, errstr_size);
}

/* ---- sources ---- */

static int add_positional(config_t *config, const char *arg) {
    if (config->positional_count == config->positional_cap) {
        size_t cap = config->positional_cap ? config->positional_cap * 2 : 4;
        char **grown = realloc(config->positional, cap * sizeof *grown);
        if (!grown)
            return -1;
        config->positional = grown;
        config->positional_cap = cap;
    }
    char *copy = strdup(arg);
    if (!copy)
        return -1;
    config->positional[config->positional_count++] = copy;
    return 0;
}

static int load_flags(config_t *config, int argc, char **argv, char *errstr,
                      size_t errstr_size) {
    buf_t source = BUF_INIT;
    buf_t key = BUF_INIT;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || strncmp(arg, "--", 2) != 0) {
            if (add_positional(config, arg) != 0)
                goto oom;
            continue;
        }
        if (arg[2] == '\0') {
            options_done = true;
            continue;
        }
        const char *typed = arg + 2;
        const char *eq = strchr(typed, '=');
        size_t typed_len = eq ? (size_t)(eq - typed) : strlen(typed);
        buf_reset(&source);
        if (buf_printf(&source, "flag --%.*s", (int)typed_len, typed) != 0)
            goto oom;
        if (typed_len == 0) {
            snprintf(errstr, errstr_size, "flag \"%s\" has no option name", arg);
            goto fail;
        }

        int index = find_option_flag(typed, typed_len);
        buf_reset(&key);
        if (index >= 0) {
            if (buf_puts(&key, options[index].name) != 0)
                goto oom;
        } else if (typed_len > KAFKA_PREFIX_LEN && strncmp(typed, "kafka", 5) == 0 &&
                   (typed[5] == '.' || typed[5] == '-')) {
            if (buf_puts(&key, KAFKA_PREFIX) != 0)
                goto oom;
            for (size_t k = KAFKA_PREFIX_LEN; k < typed_len; k++)
                if (buf_putc(&key, typed[k] == '-' ? '.' : typed[k]) != 0)
                    goto oom;
        } else {
            unknown_option(typed, typed_len, source.data, errstr, errstr_size);
            goto fail;
        }

        const char *value;
        bool ignored;
        if (eq) {
            value = eq + 1;
        } else if (index >= 0 && options[index].type == OPT_BOOL) {
            if (i + 1 < argc && parse_bool_word(argv[i + 1], &ignored))
                value = argv[++i];
            else
                value = "true";
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            snprintf(errstr, errstr_size, "%s: %s needs a value", key.data, source.data);
            goto fail;
        }
        if (set_named(config, key.data, value, LEVEL_FLAG, source.data, errstr, errstr_size) != 0)
            goto fail;
    }
    buf_free(&source);
    buf_free(&key);
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    buf_free(&source);
    buf_free(&key);
    return -1;
}

static int load_env(config_t *config, char **envp, char *errstr, size_t errstr_size) {
    buf_t source = BUF_INIT;
    buf_t key = BUF_INIT;
    for (; envp && *envp; envp++) {
        const char *var = *envp;
        const char *eq = strchr(var, '=');
        if (!eq || strncmp(var, ENV_PREFIX, ENV_PREFIX_LEN) != 0)
            continue;
        size_t var_len = (size_t)(eq - var);
        buf_reset(&source);
        if (buf_printf(&source, "env %.*s", (int)var_len, var) != 0)
            goto oom;
        int index = find_option_env(var, var_len);
        if (index >= 0) {
            if (set_option(config, index, eq + 1, LEVEL_ENV, source.data, errstr,
                           errstr_size) != 0)
                goto fail;
            continue;
        }
        if (var_len > ENV_KAFKA_PREFIX_LEN &&
            strncmp(var, ENV_KAFKA_PREFIX, ENV_KAFKA_PREFIX_LEN) == 0) {
            buf_reset(&key);
            if (buf_puts(&key, KAFKA_PREFIX) != 0)
                goto oom;
            for (size_t k = ENV_KAFKA_PREFIX_LEN; k < var_len; k++) {
                char c = var[k] == '_' ? '.' : (char)tolower((unsigned char)var[k]);
                if (buf_putc(&key, c) != 0)
                    goto oom;
            }
            if (set_kafka(config, key.data, eq + 1, LEVEL_ENV, source.data, errstr,
                          errstr_size) != 0)
                goto fail;
            continue;
        }
        /* Suggest by option name, but show the variable the user should set. */
        const char *guess =
            closest_option(var + ENV_PREFIX_LEN, var_len - ENV_PREFIX_LEN);
        if (guess) {
            char guess_env[NAME_MAX_LEN];
            env_name(guess, guess_env, sizeof guess_env);
            snprintf(errstr, errstr_size, "unknown option from %s (did you mean %s?)",
                     source.data, guess_env);
        } else {
            snprintf(errstr, errstr_size, "unknown option from %s", source.data);
        }
        goto fail;
    }
    buf_free(&source);
    buf_free(&key);
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    buf_free(&source);
    buf_free(&key);
    return -1;
}

static char *trim(char *text) {
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
    return text;
}

/* `path_source` says where the path itself came from, for the open error. */
static int load_file(config_t *config, const char *path, const char *path_source,
                     char *errstr, size_t errstr_size) {
    FILE *file = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    buf_t source = BUF_INIT;
    unsigned long line_number = 0;

    file = fopen(path, "r");
    if (!file) {
        snprintf(errstr, errstr_size, "config: \"%s\" from %s cannot be opened: %s", path,
                 path_source, strerror(errno));
        goto fail;
    }
    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &line_cap, file);
        if (got < 0)
            break;
        line_number++;
        char *text = line;
        if (line_number == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
            text += 3; /* a UTF-8 byte order mark some editors write */
        text = trim(text);
        if (text[0] == '\0' || text[0] == '#')
            continue;
        buf_reset(&source);
        if (buf_printf(&source, "%s:%lu", path, line_number) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        char *eq = strchr(text, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s: line has no '=' (expected key = value)",
                     source.data);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(text);
        char *value = trim(eq + 1);
        if (key[0] == '\0') {
            snprintf(errstr, errstr_size, "%s: line has no key before '='", source.data);
            goto fail;
        }
        int index = find_option(key);
        if (index >= 0 && (options[index].flags & OPT_NOFILE)) {
            snprintf(errstr, errstr_size,
                     "%s: cannot be set from %s (use a flag or an environment variable)",
                     key, source.data);
            goto fail;
        }
        if (set_named(config, key, value, LEVEL_FILE, source.data, errstr, errstr_size) != 0)
            goto fail;
    }
    if (ferror(file)) {
        snprintf(errstr, errstr_size, "config: \"%s\" from %s cannot be read: %s", path,
                 path_source, strerror(errno));
        goto fail;
    }
    fclose(file);
    free(line);
    buf_free(&source);
    return 0;
fail:
    if (file)
        fclose(file);
    free(line);
    buf_free(&source);
    return -1;
}

/* ---- public ---- */

config_t *config_new(void) {
    config_t *config = calloc(1, sizeof *config);
    if (!config)
        return NULL;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (!options[i].def)
            continue;
        parsed_value_t parsed;
        char errstr[256];
        /* The table's defaults go through the same parser, so they are valid. */
        if (parse_value(&options[i], options[i].def, "default", &parsed, errstr,
                        sizeof errstr) != 0)
            goto fail;
        config->values[i].int_value = parsed.int_value;
        config->values[i].double_value = parsed.double_value;
        config->values[i].bool_value = parsed.bool_value;
    }
    return config;
fail:
    config_free(config);
    return NULL;
}

void config_free(config_t *config) {
    if (!config)
        return;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        free(config->values[i].text);
        free(config->values[i].source);
    }
    for (size_t i = 0; i < config->kafka_count; i++) {
        free(config->kafka[i].key);
        free(config->kafka[i].value);
        free(config->kafka[i].source);
    }
    free(config->kafka);
    for (size_t i = 0; i < config->positional_count; i++)
        free(config->positional[i]);
    free(config->positional);
    free(config);
}

/* ---- Redis Cluster options: checked together once every source is read ---- */

/* redis.nodes must parse, and a cluster has only db 0: caught here, with the
 * option's source, rather than at the first connection. */
static int check_redis_cluster(const config_t *config, char *errstr, size_t errstr_size) {
    const char *nodes = config_get(config, "redis.nodes");
    bool cluster = config_get_bool(config, "redis.cluster") || (nodes && nodes[0]);
    char problem[384];
    if (nodes && nodes[0] && redis_route_check_nodes(nodes, problem, sizeof(problem)) != 0) {
        snprintf(errstr, errstr_size, "redis.nodes: %s from %s", problem,
                 config_source(config, "redis.nodes"));
        return -1;
    }
    if (cluster && config_get_int(config, "redis.db") != 0) {
        snprintf(errstr, errstr_size,
                 "redis.db: %lld from %s: a Redis Cluster has only db 0 (redis.cluster is on)",
                 (long long)config_get_int(config, "redis.db"), config_source(config, "redis.db"));
        return -1;
    }
    return 0;
}

int config_load(config_t *config, int argc, char **argv, char **envp, char *errstr,
                size_t errstr_size) {
    if (config->loaded) {
        snprintf(errstr, errstr_size, "config_load: this config was already loaded");
        return -1;
    }
    config->loaded = true;
    /* Each reader ranks its values, so reading flags first is only about
     * learning --config before the file is opened. */
    if (load_flags(config, argc, argv, errstr, errstr_size) != 0)
        return -1;
    if (load_env(config, envp, errstr, errstr_size) != 0)
        return -1;
    const config_value_t *file = &config->values[find_option("config")];
    if (file->text && load_file(config, file->text, file->source, errstr, errstr_size) != 0)
        return -1;
    return check_redis_cluster(config, errstr, errstr_size);
}

int config_set(config_t *config, const char *name, const char *value, char *errstr,
               size_t errstr_size) {
    buf_t source = BUF_INIT;
    if (buf_printf(&source, "flag --%s", name) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    int rc = set_named(config, name, value, LEVEL_FLAG, source.data, errstr, errstr_size);
    buf_free(&source);
    return rc;
}

size_t config_positional_count(const config_t *config) {
    return config->positional_count;
}

const char *config_positional(const config_t *config, size_t i) {
    return i < config->positional_count ? config->positional[i] : NULL;
}

static _Noreturn void misuse(const char *name, const char *what) {
    fprintf(stderr, "dagprof: config: \"%s\" is not %s\n", name, what);
    abort();
}

/* The table entry of `name`, aborting unless it has one of the given types. */
static int typed_option(const char *name, unsigned type_mask, const char *what) {
    int index = find_option(name);
    if (index < 0 || !(type_mask & (1u << options[index].type)))
        misuse(name, what);
    return index;
}

const char *config_get(const config_t *config, const char *name) {
    int index = find_option(name);
    if (index >= 0)
        return config->values[index].text ? config->values[index].text : options[index].def;
    if (!is_kafka_key(name))
        misuse(name, "a known option");
    const kafka_setting_t *setting = find_kafka(config, name);
    return setting ? setting->value : NULL;
}

int64_t config_get_int(const config_t *config, const char *name) {
    return config->values[typed_option(name, 1u << OPT_INT, "an integer option")].int_value;
}

double config_get_double(const config_t *config, const char *name) {
    int index = typed_option(name, (1u << OPT_INT) | (1u << OPT_DOUBLE), "a numeric option");
    return config->values[index].double_value;
}

bool config_get_bool(const config_t *config, const char *name) {
    return config->values[typed_option(name, 1u << OPT_BOOL, "a boolean option")].bool_value;
}

const char *config_source(const config_t *config, const char *name) {
    int index = find_option(name);
    if (index >= 0)
        return config->values[index].source ? config->values[index].source : "default";
    if (!is_kafka_key(name))
        misuse(name, "a known option");
    const kafka_setting_t *setting = find_kafka(config, name);
    return setting ? setting->source : NULL;
}

typedef struct dump_item {
    const char *key;
    const char *value; /* "" when unset */
    const char *source;
    bool secret;
} dump_item_t;

static int compare_items(const void *a, const void *b) {
    return strcmp(((const dump_item_t *)a)->key, ((const dump_item_t *)b)->key);
}

static bool is_secret(const char *name, unsigned flags) {
    return (flags & OPT_SECRET) || strcasestr(name, "password") || strcasestr(name, "secret") ||
           strcmp(name, "kafka.ssl.key.pem") == 0 ||
           strcmp(name, "kafka.sasl.oauthbearer.config") == 0;
}

/* Every option and kafka.* key, sorted; `kafka_only` keeps the kafka.* ones.
 * Returns the array (free() it) and its length, or NULL on out-of-memory. */
static dump_item_t *collect_items(const config_t *config, bool kafka_only, size_t *count) {
    dump_item_t *items = malloc((OPTION_COUNT + config->kafka_count + 1) * sizeof *items);
    if (!items)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *value = config_get(config, options[i].name);
        if (kafka_only && (!is_kafka_key(options[i].name) || !value))
            continue;
        items[n].key = options[i].name;
        items[n].value = value ? value : "";
        items[n].source = config->values[i].source ? config->values[i].source : "default";
        items[n].secret = is_secret(options[i].name, options[i].flags);
        n++;
    }
    for (size_t i = 0; i < config->kafka_count; i++) {
        items[n].key = config->kafka[i].key;
        items[n].value = config->kafka[i].value;
        items[n].source = config->kafka[i].source;
        items[n].secret = is_secret(config->kafka[i].key, 0);
        n++;
    }
    qsort(items, n, sizeof *items, compare_items);
    *count = n;
    return items;
}

int config_foreach_kafka(const config_t *config,
                         int (*cb)(void *opaque, const char *librdkafka_key, const char *value),
                         void *opaque) {
    size_t count = 0;
    dump_item_t *items = collect_items(config, true, &count);
    if (!items)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = cb(opaque, items[i].key + KAFKA_PREFIX_LEN, items[i].value);
    free(items);
    return rc;
}

int config_dump(const config_t *config, buf_t *out) {
    size_t count = 0;
    dump_item_t *items = collect_items(config, false, &count);
    if (!items)
        return -1;
    for (size_t i = 0; i < count; i++) {
        const char *value = items[i].secret && items[i].value[0] ? "******" : items[i].value;
        if (buf_printf(out, "%s = %s  # %s\n", items[i].key, value, items[i].source) != 0)
            goto fail;
    }
    free(items);
    return 0;
fail:
    free(items);
    return -1;
}

int config_usage(buf_t *out) {
    if (buf_puts(out, "Options. Each is a flag (--name value, --name=value, '-' for '.'), an\n"
                      "environment variable (DAGPROF_NAME) and a config file line\n"
                      "(name = value); precedence: flag > env > file > default.\n"
                      "Any kafka.* option is passed to librdkafka without the prefix, e.g.\n"
                      "--kafka.security.protocol=SSL or DAGPROF_KAFKA_SECURITY_PROTOCOL=SSL.\n") !=
        0)
        return -1;
    const char *group = NULL;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_def_t *opt = &options[i];
        char env[NAME_MAX_LEN];
        char range[64];
        env_name(opt->name, env, sizeof env);
        range_text(opt, range, sizeof range);
        if (opt->group != group) {
            group = opt->group;
            if (buf_printf(out, "\n%s:\n", group) != 0)
                return -1;
        }
        if (buf_printf(out, "  --%s %s  (", opt->name, opt->arg) != 0)
            return -1;
        if (range[0] && buf_printf(out, "%s; ", range) != 0)
            return -1;
        if (opt->def && buf_printf(out, opt->def[0] ? "default %s; " : "default \"%s\"; ",
                                   opt->def) != 0)
            return -1;
        if (buf_printf(out, "env %s)\n      %s\n", env, opt->help) != 0)
            return -1;
    }
    return 0;
}

size_t config_option_count(void) {
    return OPTION_COUNT;
}

const char *config_option_name(size_t i) {
    return i < OPTION_COUNT ? options[i].name : NULL;
}
