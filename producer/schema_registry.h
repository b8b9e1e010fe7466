/* schema_registry.h -- register the output schemas with a Confluent Schema
 * Registry (its REST API) and learn the ids to frame records with.
 *
 * For each subject (`<topic>-value`): if the subject has versions, the schema
 * is first checked against the latest under the subject's compatibility mode
 * (POST /compatibility/subjects/<subject>/versions/latest); then it is
 * registered (POST /subjects/<subject>/versions), which returns the existing
 * id when the schema is already there. Requests go through libcurl. */
#ifndef DAGPROF_SCHEMA_REGISTRY_H
#define DAGPROF_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

/* Register `schema_json` under `subject` at the registry `url` (http or
 * https, no trailing slash needed). Returns 0 and sets *id, or -1 with
 * errstr set: unreachable, an HTTP error (with the registry's message), the
 * schema incompatible with the latest version, or an answer without an id. */
int schema_registry_register(const char *url, const char *subject, const char *schema_json,
                             long timeout_ms, int64_t *id, char *errstr, size_t errstr_size);

#endif
