/* main.c -- the dagprof binary: parse options, wire modules, run a subcommand.
 *
 *   dagprof profile [--pricing FILE] [--format text|json|html] FILE|-
 *   dagprof run     [--config FILE] [options]     the stream processor
 *   dagprof tail    [options]                     print profiles from the output topic
 *   dagprof loadgen [options]                     produce a synthetic fleet of runs
 *   dagprof profile --trends [--window 1h|24h|7d] FILE|DIR...   fleet baselines (trends.h)
 *   dagprof trends --compare A B                  compare two sets of runs (trends.h)
 *   dagprof trends  [--dag ID] [--window W] [--format text|json]   live baselines from Redis
 *   dagprof trends --dag ID --compare A B         two versions of a DAG, from Redis
 *
 * Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fleet.h"
#include "loadgen.h"
#include "profile_avro.h"
#include "log.h"
#include "offline.h"
#include "output_format.h"
#include "schema_registry.h"
#include "setup.h"
#include "stream.h"
#include "tail.h"
#include "trends.h"
#include "trends_live.h"

extern char **environ;

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int64_t now_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void usage(FILE *out) {
    fputs("usage: dagprof <command> [options]\n"
          "\n"
          "commands:\n"
          "  profile [--pricing FILE] [--format text|json|html] FILE|-   profile trace files\n"
          "  run [--config FILE] [options]                         the stream processor\n"
          "  tail [options]                                        print published profiles\n"
          "  loadgen [options]                                     produce a synthetic fleet\n"
          "  profile --trends [--window 1h|24h|7d] FILE|DIR...     fleet baselines per DAG\n"
          "  trends --compare A B                                  compare two sets of runs\n"
          "  trends [--dag ID] [--window 1h|24h|7d]                live fleet baselines from Redis\n"
          "  trends --dag ID --compare A B                         two versions of a DAG, from Redis\n"
          "  version                                               print the version\n"
          "\n"
          "Every option is also read from the config file (--config) and from DAGPROF_*\n"
          "environment variables; kafka.* options go to librdkafka.\n"
          "`dagprof <command> --help` lists the options.\n",
          out);
}

static int print_help(void) {
    buf_t b = BUF_INIT;
    if (config_usage(&b) == 0)
        fputs(b.data, stdout);
    buf_free(&b);
    return 0;
}

static int cmd_profile_trends(const config_t *cfg);

static int cmd_profile(const config_t *cfg) {
    char err[1024];
    if (config_get_bool(cfg, "trends"))
        return cmd_profile_trends(cfg);
    if (config_positional_count(cfg) == 0) {
        fprintf(stderr, "dagprof profile: name a trace file, or - for standard input\n");
        return 2;
    }
    pricing_t *pricing = setup_pricing(cfg, err, sizeof(err));
    if (!pricing) {
        fprintf(stderr, "dagprof profile: %s\n", err);
        return 2;
    }
    offline_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.pricing = pricing;
    setup_thresholds(cfg, &opt.thresholds);
    opt.json = strcmp(config_get(cfg, "format"), "json") == 0;
    opt.html = strcmp(config_get(cfg, "format"), "html") == 0;
    opt.html_max_rows = (size_t)config_get_int(cfg, "html.max.rows");
    opt.now_us = now_us();
    opt.max_string_bytes = (size_t)config_get_int(cfg, "limit.string.bytes");
    opt.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    int rc = 0;
    for (size_t i = 0; i < config_positional_count(cfg); i++) {
        offline_result_t result;
        if (offline_profile_file(config_positional(cfg, i), &opt, stdout, &result, err, sizeof(err)) != 0) {
            fprintf(stderr, "dagprof profile: %s\n", err);
            rc = 1;
        }
    }
    pricing_free(pricing);
    return rc;
}

/* The output format and schema ids of `dagprof run`. With a registry, the
 * schemas are registered now, before anything is consumed, so a registry that
 * is down or refuses them stops dagprof at start rather than at the first
 * profile. Returns 0, or -1 with errstr. */
static int setup_output(const config_t *cfg, stream_options_t *opt, char *errstr,
                        size_t errstr_size) {
    output_format_kind_t kind;
    if (output_format_parse(config_get(cfg, "output.format"), &kind) != 0) {
        snprintf(errstr, errstr_size, "output.format: unknown format");
        return -1;
    }
    opt->output_format = (int)kind;
    opt->output_schema_id_profile = config_get_int(cfg, "output.schema.id.profile");
    opt->output_schema_id_recommendation = config_get_int(cfg, "output.schema.id.recommendation");
    const char *url = config_get(cfg, "output.schema.registry.url");
    if (!url || !*url) {
        /* checked here too so that it is a configuration error (exit 2) */
        output_format_t *probe = output_format_new(kind, opt->output_schema_id_profile,
                                                   opt->output_schema_id_recommendation, errstr,
                                                   errstr_size);
        output_format_free(probe);
        return probe ? 0 : -1;
    }
    long timeout_ms = (long)config_get_int(cfg, "output.schema.registry.timeout.ms");
    const char *topics[2] = {opt->topic_profiles, opt->topic_recommendations};
    const char *schemas[2] = {profile_avro_profile_schema_json(),
                              profile_avro_recommendation_schema_json()};
    int64_t *ids[2] = {&opt->output_schema_id_profile, &opt->output_schema_id_recommendation};
    for (int i = 0; i < 2; i++) {
        char subject[512];
        int64_t id = -1;
        snprintf(subject, sizeof(subject), "%s-value", topics[i]);
        if (schema_registry_register(url, subject, schemas[i], timeout_ms, &id, errstr,
                                     errstr_size) != 0)
            return -1;
        if (*ids[i] >= 0 && *ids[i] != id) {
            snprintf(errstr, errstr_size,
                     "%s: configured as %lld but the registry %s gives subject %s id %lld",
                     i == 0 ? "output.schema.id.profile" : "output.schema.id.recommendation",
                     (long long)*ids[i], url, subject, (long long)id);
            return -1;
        }
        *ids[i] = id;
    }
    /* one line: repeats of an event are rate-limited */
    log_event(LOG_INFO, "schemas_registered", "registry=%s %s-value=%lld %s-value=%lld", url,
              topics[0], (long long)*ids[0], topics[1], (long long)*ids[1]);
    return 0;
}

static int cmd_run(const config_t *cfg) {
    char err[1024];
    stream_options_t opt;
    memset(&opt, 0, sizeof(opt));
    if (config_get_bool(cfg, "redis.tls")) {
        /* hiredis 0.14, the version Debian ships, has no TLS */
        log_event(LOG_ERROR, "config_invalid",
                  "error=\"redis.tls: this build's hiredis has no TLS; reach Redis through a TLS "
                  "tunnel (stunnel, spiped) on loopback\"");
        return 2;
    }
    /* Each batch allocates and frees buffers of a few hundred KB (pipelines,
     * replies, decoded spans): with glibc's defaults part of the heap's top
     * was given back after each and the kernel zeroed its pages again on the
     * next (page clearing showed in perf of bench_e2e). What stays is bounded
     * here. */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    pricing_t *pricing = setup_pricing(cfg, err, sizeof(err));
    if (!pricing) {
        log_event(LOG_ERROR, "config_invalid", "error=\"%s\"", err);
        return 2;
    }
    opt.pricing = pricing;
    setup_thresholds(cfg, &opt.thresholds);
    setup_store_options(cfg, &opt.store);
    opt.fleet_enabled = setup_fleet_options(cfg, &opt.fleet);
    opt.topic_spans = config_get(cfg, "topic.spans");
    opt.topic_profiles = config_get(cfg, "topic.profiles");
    opt.topic_recommendations = config_get(cfg, "topic.recommendations");
    opt.topic_deadletter = config_get(cfg, "topic.deadletter");
    opt.input_schema_id = config_get_int(cfg, "input.schema.id");
    opt.input_format = config_get(cfg, "input.format");
    opt.repartition = config_get_bool(cfg, "input.repartition");
    char repartition_topic[512];
    const char *rtopic = config_get(cfg, "input.repartition.topic");
    if (!rtopic || !rtopic[0]) {
        snprintf(repartition_topic, sizeof(repartition_topic), "%s-by-trace", opt.topic_spans);
        rtopic = repartition_topic;
    }
    opt.repartition_topic = rtopic;
    opt.batch_size = (int)config_get_int(cfg, "batch.size");
    opt.batch_timeout_ms = (int)config_get_int(cfg, "batch.timeout.ms");
    opt.due_poll_ms = (int)config_get_int(cfg, "due.poll.ms");
    opt.max_string_bytes = config_get_int(cfg, "limit.string.bytes");
    opt.metrics_port = (int)config_get_int(cfg, "metrics.port");
    opt.metrics_bind = config_get(cfg, "metrics.bind");
    opt.ui.capacity = (size_t)config_get_int(cfg, "ui.profiles");
    opt.ui.max_bytes = (size_t)config_get_int(cfg, "ui.profile.max.bytes");
    opt.ui.html_max_rows = (size_t)config_get_int(cfg, "html.max.rows");
    opt.stop = &stop_requested;
    if (setup_output(cfg, &opt, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "config_invalid", "error=\"%s\"", err);
        pricing_free(pricing);
        return 2;
    }
    /* fetch.wait.max.ms: a fetch that finds no new data returns within 20 ms
     * rather than 500. Brokers that do not answer a waiting fetch as soon as
     * data arrives (librdkafka's mock cluster, the local stack) otherwise
     * deliver spans in bursts 0.5 s apart, and each burst makes a crowd of
     * traces due at once: p99 due -> published at half load went from 160 to
     * 57 ms (bench_e2e). On a real cluster it costs an idle fetch per broker
     * every 20 ms. */
    const char *consumer_defaults[] = {"group.id", config_get(cfg, "group.id"),
                                       "enable.auto.offset.store", "false",
                                       "auto.offset.reset", "earliest",
                                       "fetch.wait.max.ms", "20",
                                       STREAM_GROUP_DEFAULTS, NULL};
    /* this producer writes only the output and dead-letter topics: their
     * compression is output.compression, chosen for the readers */
    const char *producer_defaults[] = {"enable.idempotence", "true", "linger.ms", "5",
                                       "compression.type", config_get(cfg, "output.compression"), NULL};
    rd_kafka_conf_t *cconf = setup_kafka_conf(cfg, consumer_defaults, err, sizeof(err));
    rd_kafka_conf_t *pconf = cconf ? setup_kafka_conf(cfg, producer_defaults, err, sizeof(err)) : NULL;
    int rc = 2;
    if (!cconf || !pconf) {
        log_event(LOG_ERROR, "config_invalid", "error=\"%s\"", err);
        goto done;
    }
    /* group.id and offset storage belong to the consumer only */
    char ignored[256];
    rd_kafka_conf_set(pconf, "enable.auto.offset.store", NULL, ignored, sizeof(ignored));
    rc = stream_run(&opt, cconf, pconf, err, sizeof(err)) == 0 ? 0 : 1;
    cconf = pconf = NULL; /* owned by stream_run now */
    if (rc != 0)
        log_event(LOG_ERROR, "stopped", "error=\"%s\"", err);
done:
    if (cconf)
        rd_kafka_conf_destroy(cconf);
    if (pconf)
        rd_kafka_conf_destroy(pconf);
    pricing_free(pricing);
    return rc;
}

static int cmd_tail(const config_t *cfg) {
    char err[1024];
    tail_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.topic = config_get(cfg, "topic.profiles");
    opt.json = strcmp(config_get(cfg, "format"), "json") == 0;
    opt.html = strcmp(config_get(cfg, "format"), "html") == 0;
    opt.html_max_rows = (size_t)config_get_int(cfg, "html.max.rows");
    opt.from_beginning = config_get_bool(cfg, "tail.from.beginning");
    opt.max_profiles = config_get_int(cfg, "tail.max");
    opt.timeout_ms = config_get_int(cfg, "tail.timeout.ms");
    opt.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    opt.stop = &stop_requested;
    char group[128];
    snprintf(group, sizeof(group), "dagprof-tail-%d", (int)getpid());
    const char *defaults[] = {"group.id", group, "enable.auto.commit", "false",
                              "auto.offset.reset", opt.from_beginning ? "earliest" : "latest", NULL};
    rd_kafka_conf_t *conf = setup_kafka_conf(cfg, defaults, err, sizeof(err));
    if (!conf) {
        fprintf(stderr, "dagprof tail: %s\n", err);
        return 2;
    }
    if (tail_run(&opt, conf, stdout, err, sizeof(err)) != 0) {
        fprintf(stderr, "dagprof tail: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_loadgen(const config_t *cfg) {
    char err[1024];
    loadgen_options_t opt;
    memset(&opt, 0, sizeof(opt));
    fleet_options_init(&opt.fleet);
    opt.fleet.runs = config_get_int(cfg, "loadgen.runs");
    opt.fleet.seed = (uint64_t)config_get_int(cfg, "loadgen.seed");
    opt.fleet.concurrency = config_get_int(cfg, "loadgen.concurrency");
    opt.fleet.late_fraction = config_get_double(cfg, "loadgen.late.fraction");
    opt.rate_spans_per_s = config_get_double(cfg, "loadgen.rate");
    opt.topic = config_get(cfg, "topic.spans");
    opt.output = config_get(cfg, "loadgen.output");
    opt.stop = &stop_requested;
    /* the option table checked the name */
    loadgen_format_parse(config_get(cfg, "loadgen.format"), &opt.format);
    opt.otlp_batch_spans = (int)config_get_int(cfg, "loadgen.otlp.batch");
    opt.otlp_key_by_trace = config_get_bool(cfg, "loadgen.otlp.key_by_trace");
    rd_kafka_conf_t *conf = NULL;
    if (strcmp(opt.output, "kafka") == 0) {
        const char *defaults[] = {"enable.idempotence", "true", "linger.ms", "10",
                                  "compression.type", "lz4", NULL};
        conf = setup_kafka_conf(cfg, defaults, err, sizeof(err));
        if (!conf) {
            fprintf(stderr, "dagprof loadgen: %s\n", err);
            return 2;
        }
    }
    loadgen_result_t result;
    if (loadgen_run(&opt, conf, &result, err, sizeof(err)) != 0) {
        fprintf(stderr, "dagprof loadgen: %s\n", err);
        return 1;
    }
    return 0;
}

/* `dagprof trends` without trace files: the live baselines the stream processor
 * keeps in Redis (trends_live.h). */
static int cmd_trends_live(const config_t *cfg) {
    char err[1024];
    trends_live_options_t opt;
    memset(&opt, 0, sizeof(opt));
    setup_store_options(cfg, &opt.store);
    opt.dag_id = config_get(cfg, "dag");
    baseline_window_parse(config_get(cfg, "window"), &opt.window); /* the option table checked it */
    opt.json = strcmp(config_get(cfg, "format"), "json") == 0;
    if (config_get_bool(cfg, "compare")) {
        if (config_positional_count(cfg) != 2) {
            fprintf(stderr, "dagprof trends: --compare takes two versions, A and B, of the DAG --dag names\n");
            return 2;
        }
        if (!opt.dag_id || !opt.dag_id[0]) {
            /* A or B is no trace file or directory (else the files were compared) */
            fprintf(stderr, "dagprof trends --compare: %s: no such file or directory (versions are compared from "
                            "the live baselines in Redis): name the DAG whose versions they are with --dag ID\n",
                    access(config_positional(cfg, 0), F_OK) != 0 ? config_positional(cfg, 0)
                                                                 : config_positional(cfg, 1));
            return 2;
        }
        opt.compare_a = config_positional(cfg, 0);
        opt.compare_b = config_positional(cfg, 1);
    } else if (config_positional_count(cfg) > 0) {
        fprintf(stderr, "dagprof trends: unexpected argument \"%s\"\n", config_positional(cfg, 0));
        return 2;
    }
    int rc = trends_live_run(&opt, stdout, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "dagprof trends: %s\n", err);
        return 1;
    }
    return 0;
}

/* ---- The fleet view offline (consumer/trends.h) ---------------------------- */

/* The options of both fleet commands; 0, or 2 (usage) with a message printed. */
static int trends_setup(const config_t *cfg, const char *command, trends_options_t *topt,
                        offline_options_t *oopt, pricing_t **pricing) {
    char err[1024];
    memset(topt, 0, sizeof(*topt));
    memset(oopt, 0, sizeof(*oopt));
    const char *format = config_get(cfg, "format");
    if (strcmp(format, "html") == 0) {
        fprintf(stderr, "dagprof %s: --format html is not available for the fleet view; use text or json\n",
                command);
        return 2;
    }
    topt->json = strcmp(format, "json") == 0;
    if (baseline_window_parse(config_get(cfg, "window"), &topt->window) != 0) {
        fprintf(stderr, "dagprof %s: --window must be 1h, 24h or 7d\n", command);
        return 2;
    }
    baseline_rule_init(&topt->rule);
    topt->rule.factor = config_get_double(cfg, "regression.factor");
    topt->rule.min_runs = config_get_int(cfg, "regression.min.runs");
    topt->rule.node_factor = config_get_double(cfg, "regression.node.factor");
    report_options_init(&topt->report);
    topt->report.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    *pricing = setup_pricing(cfg, err, sizeof(err));
    if (!*pricing) {
        fprintf(stderr, "dagprof %s: %s\n", command, err);
        return 2;
    }
    oopt->pricing = *pricing;
    setup_thresholds(cfg, &oopt->thresholds);
    oopt->now_us = now_us();
    oopt->max_string_bytes = (size_t)config_get_int(cfg, "limit.string.bytes");
    oopt->input_format = config_get(cfg, "input.format");
    return 0;
}

static int cmd_profile_trends(const config_t *cfg) {
    char err[1024];
    if (config_positional_count(cfg) == 0) {
        fprintf(stderr, "dagprof profile --trends: name trace files or directories\n");
        return 2;
    }
    trends_options_t topt;
    offline_options_t oopt;
    pricing_t *pricing = NULL;
    int rc = trends_setup(cfg, "profile --trends", &topt, &oopt, &pricing);
    if (rc != 0)
        return rc;
    trends_runs_t *runs = trends_runs_new();
    if (!runs) {
        fprintf(stderr, "dagprof profile --trends: out of memory\n");
        pricing_free(pricing);
        return 1;
    }
    for (size_t i = 0; i < config_positional_count(cfg) && rc != -2; i++) {
        int lrc = trends_runs_load(runs, config_positional(cfg, i), &oopt, err, sizeof(err));
        if (lrc != 0) {
            fprintf(stderr, "dagprof profile --trends: %s\n", err);
            rc = lrc == -2 ? -2 : 1;
        }
    }
    if (rc != -2 && trends_runs_count(runs) == 0) {
        fprintf(stderr, "dagprof profile --trends: no run to count\n");
        rc = 1;
    } else if (rc != -2 && trends_write(runs, &topt, stdout, err, sizeof(err)) != 0) {
        fprintf(stderr, "dagprof profile --trends: %s\n", err);
        rc = 1;
    }
    trends_runs_free(runs);
    pricing_free(pricing);
    return rc == -2 ? 1 : rc;
}

static int cmd_trends(const config_t *cfg) {
    char err[1024];
    if (!config_get_bool(cfg, "compare"))
        return cmd_trends_live(cfg);
    if (config_positional_count(cfg) != 2) {
        fprintf(stderr, "dagprof trends --compare: name two trace files or directories, A and B\n");
        return 2;
    }
    const char *paths[2] = {config_positional(cfg, 0), config_positional(cfg, 1)};
    /* A and B that are not paths name versions, which only Redis knows */
    if (access(paths[0], F_OK) != 0 || access(paths[1], F_OK) != 0)
        return cmd_trends_live(cfg);
    trends_options_t topt;
    offline_options_t oopt;
    pricing_t *pricing = NULL;
    int rc = trends_setup(cfg, "trends --compare", &topt, &oopt, &pricing);
    if (rc != 0)
        return rc;
    trends_runs_t *sides[2] = {trends_runs_new(), trends_runs_new()};
    if (!sides[0] || !sides[1]) {
        fprintf(stderr, "dagprof trends --compare: out of memory\n");
        rc = 1;
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        if (trends_runs_load(sides[i], paths[i], &oopt, err, sizeof(err)) != 0) {
            fprintf(stderr, "dagprof trends --compare: %s\n", err);
            rc = 1;
        }
        if (trends_runs_count(sides[i]) == 0) {
            fprintf(stderr, "dagprof trends --compare: %s: no run to compare\n", paths[i]);
            rc = 1;
            goto done;
        }
    }
    if (trends_write_compare(sides[0], paths[0], sides[1], paths[1], &topt, stdout, err, sizeof(err)) != 0) {
        fprintf(stderr, "dagprof trends --compare: %s\n", err);
        rc = 1;
    }
done:
    trends_runs_free(sides[0]);
    trends_runs_free(sides[1]);
    pricing_free(pricing);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *command = argv[1];
    if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
        printf("dagprof %s (librdkafka %s)\n", DAGPROF_VERSION, rd_kafka_version_str());
        return 0;
    }
    int (*run)(const config_t *) = NULL;
    if (strcmp(command, "profile") == 0)
        run = cmd_profile;
    else if (strcmp(command, "run") == 0)
        run = cmd_run;
    else if (strcmp(command, "tail") == 0)
        run = cmd_tail;
    else if (strcmp(command, "loadgen") == 0)
        run = cmd_loadgen;
    else if (strcmp(command, "trends") == 0)
        run = cmd_trends;
    if (!run) {
        fprintf(stderr, "dagprof: unknown command \"%s\"\n", command);
        usage(stderr);
        return 2;
    }
    config_t *cfg = config_new();
    char err[1024];
    if (!cfg) {
        fprintf(stderr, "dagprof: out of memory\n");
        return 1;
    }
    /* `dagprof loadgen --format otlp_proto`: for loadgen, --format names the
     * message format (loadgen.format), not the report format */
    if (run == cmd_loadgen)
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--") == 0)
                break;
            if (strcmp(argv[i], "--format") == 0)
                argv[i] = "--loadgen.format";
            else if (strncmp(argv[i], "--format=", 9) == 0) {
                static char renamed[64];
                snprintf(renamed, sizeof(renamed), "--loadgen.format=%s", argv[i] + 9);
                argv[i] = renamed;
            }
        }
    /* `dagprof trends --compare 1 2`: --compare never takes a value, so a
     * version named "1" is a version, not the flag's */
    if (run == cmd_trends)
        for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
            if (strcmp(argv[i], "--compare") == 0)
                argv[i] = "--compare=true";
    if (config_load(cfg, argc - 2, argv + 2, environ, err, sizeof(err)) != 0) {
        fprintf(stderr, "dagprof %s: %s\n", command, err);
        config_free(cfg);
        return 2;
    }
    int rc;
    log_level_t level = LOG_INFO;
    log_level_parse(config_get(cfg, "log.level"), &level);
    log_set_level(level);
    if (config_get_bool(cfg, "help")) {
        rc = print_help();
    } else if (config_get_bool(cfg, "print-config")) {
        buf_t b = BUF_INIT;
        rc = config_dump(cfg, &b) == 0 ? 0 : 1;
        if (b.data)
            fputs(b.data, stdout);
        buf_free(&b);
    } else {
        install_signals();
        rc = run(cfg);
    }
    config_free(cfg);
    return rc;
}
