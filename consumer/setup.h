/* setup.h -- turning the configuration into what each module takes.
 *
 * The modules know nothing of config_t: each takes a plain options struct or a
 * librdkafka configuration. These functions are the one place where option
 * names meet module fields. */
#ifndef DAGPROF_SETUP_H
#define DAGPROF_SETUP_H

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "fleet_view.h"
#include "pricing.h"
#include "profile.h"
#include "trace_store.h"

/* threshold.* options into the engine's thresholds. */
void setup_thresholds(const config_t *config, profile_thresholds_t *thresholds);

/* The pricing table named by `pricing`, else the built-in one.
 * NULL with errstr on a bad file. Free with pricing_free(). */
pricing_t *setup_pricing(const config_t *config, char *errstr, size_t errstr_size);

/* A librdkafka configuration with every kafka.* option applied, plus the
 * given extra pairs (NULL-terminated key, value list) unless the user set them.
 * NULL with errstr naming the bad key. Ownership passes to rd_kafka_new(),
 * else free with rd_kafka_conf_destroy(). */
rd_kafka_conf_t *setup_kafka_conf(const config_t *config, const char *const *defaults,
                                  char *errstr, size_t errstr_size);

/* redis.*, grace, idle, ttl and limit.* options. Strings are borrowed from config. */
void setup_store_options(const config_t *config, trace_store_options_t *options);

/* fleet.* and output.trends.topic into the fleet view's options (the store,
 * output format, producer and metrics are the stream's). Returns
 * fleet.enabled. Strings are borrowed from config. */
int setup_fleet_options(const config_t *config, fleet_view_options_t *options);

#endif
