/* config.h -- the dagprof binary's configuration: one option table, four sources.
 *
 * Every option can come from a config file, a DAGPROF_* environment variable
 * or a command-line flag; precedence is flag > env > file > default, whatever
 * order the flags are given in. Each value is validated when it is read, and
 * an error names the option, the value, where it came from (`file:line`,
 * `env VAR` or `flag --name`) and what is allowed. Options under `kafka.` are
 * passed to librdkafka unvalidated, without the prefix.
 *
 * - File (Java-properties, like librdkafka's): `key = value` or `key=value`
 *   per line, surrounding whitespace trimmed, blank lines and lines whose
 *   first non-blank character is `#` ignored. `#` elsewhere is part of the
 *   value. Named by --config or DAGPROF_CONFIG; no file is read otherwise.
 * - Environment: `DAGPROF_` + the name upper-cased with `.` and `-` turned
 *   into `_` (DAGPROF_REDIS_PORT, DAGPROF_THRESHOLD_SLOW_NODE_PCT);
 *   DAGPROF_KAFKA_X_Y is kafka.x.y. Unknown DAGPROF_* variables are errors.
 * - Flags: `--name value` or `--name=value`, `-` accepted for `.` and `_`
 *   (--redis-port 6380). A boolean flag takes the next argument only when it
 *   is a boolean word (true/false, yes/no, on/off, 1/0), else it means true.
 *   A value starting with `--` needs the `--name=value` form. Arguments not
 *   starting with `--`, and all after a bare `--`, are positional and kept
 *   in order.
 *
 * Every value is validated, including one a higher-ranked source overrides:
 * a typo in the file is an error even when a flag hides it.
 * Sources as reported by config_source() and config_dump(): "default",
 * "<path>:<line>", "env DAGPROF_NAME", "flag --name" (as typed; config_set()
 * reports "flag --<name>"). */
#ifndef DAGPROF_CONFIG_H
#define DAGPROF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct config config_t;

/* A configuration holding every default. NULL on out-of-memory.
 * Free with config_free(). */
config_t *config_new(void);
void config_free(config_t *config);

/* Read flags from argv (the arguments after the program and subcommand
 * names), DAGPROF_* variables from envp (NULL-terminated "NAME=value"
 * strings, may be NULL), then the config file they name. Call once per
 * config. Returns 0, or -1 with errstr set at the first bad value, unknown
 * option or unreadable file; the config is then only fit for config_free(). */
int config_load(config_t *config, int argc, char **argv, char **envp,
                char *errstr, size_t errstr_size);

/* Set one option as a flag would (same precedence and validation); `name` is
 * the canonical option name or a kafka.* key. Returns 0, or -1 with errstr. */
int config_set(config_t *config, const char *name, const char *value,
               char *errstr, size_t errstr_size);

/* Positional arguments, in the order given; borrowed from the config. */
size_t config_positional_count(const config_t *config);
const char *config_positional(const config_t *config, size_t i);

/* Getters. `name` must be in the option table or start with "kafka."; any
 * other name, or a getter of the wrong type, aborts (a programming error).
 * config_get returns the value as text (ints and bools in canonical form),
 * NULL when unset without a default; borrowed from the config.
 * config_get_double also reads int options. */
const char *config_get(const config_t *config, const char *name);
int64_t config_get_int(const config_t *config, const char *name);
double config_get_double(const config_t *config, const char *name);
bool config_get_bool(const config_t *config, const char *name);

/* Where the value of `name` came from ("default" when not set); NULL for a
 * kafka.* key that is neither set nor in the table. Borrowed. */
const char *config_source(const config_t *config, const char *name);

/* Call cb with every kafka.* setting (key without the "kafka." prefix, in
 * sorted order), bootstrap.servers included even when only defaulted.
 * Stops at and returns the first non-zero value cb returns; 0 otherwise,
 * -1 on out-of-memory. */
int config_foreach_kafka(const config_t *config,
                         int (*cb)(void *opaque, const char *librdkafka_key,
                                   const char *value),
                         void *opaque);

/* Append the effective configuration to `out`: one `key = value  # source`
 * line per option and kafka.* key, sorted by key, secrets (redis.password,
 * any key containing "password" or "secret", kafka.ssl.key.pem,
 * kafka.sasl.oauthbearer.config) shown as "******" when set.
 * Returns 0, or -1 on out-of-memory. */
int config_dump(const config_t *config, buf_t *out);

/* Append the --help text: every option with its type, range, default,
 * environment variable and a line of help. Returns 0, or -1 on out-of-memory. */
int config_usage(buf_t *out);

/* The option table's names, in table order (for tooling and tests). */
size_t config_option_count(void);
const char *config_option_name(size_t i);

#endif
