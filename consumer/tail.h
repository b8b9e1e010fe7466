/* tail.h -- `dagprof tail`: print profiles from the output topic.
 *
 * Consumes Profile records (Avro, bare or Confluent-framed) and prints each as
 * the text report or as one JSON object per line. */
#ifndef DAGPROF_TAIL_H
#define DAGPROF_TAIL_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct tail_options {
    const char *topic;
    bool json;
    bool from_beginning;
    int64_t max_profiles;   /* stop after this many; 0 = no limit */
    int64_t timeout_ms;     /* stop after this long without a profile; 0 = never */
    bool color;
    bool html;            /* each profile as a whole HTML page (report_html.h) */
    size_t html_max_rows; /* 0: REPORT_HTML_DEFAULT_MAX_ROWS */
    volatile sig_atomic_t *stop;
} tail_options_t;

/* `conf` is taken over. Returns 0 at a normal stop (signal, max, timeout), or
 * -1 with errstr when the broker cannot be used. */
int tail_run(const tail_options_t *options, rd_kafka_conf_t *conf, FILE *out, char *errstr,
             size_t errstr_size);

#endif
