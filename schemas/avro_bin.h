/* avro_bin.h -- Avro binary written and checked by hand, for the record
 * codecs of schemas/ (profile_avro.c holds the implementation it uses itself).
 *
 * Records are written field by field in schema order, straight into a buffer;
 * before Avro-C reads a message, avro_bin_scan() walks it against the schema
 * so that a garbled length cannot make Avro-C allocate more than the message
 * holds. Internal to the codecs. */
#ifndef DAGPROF_AVRO_BIN_H
#define DAGPROF_AVRO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "buf.h"

/* A writer; failures are sticky: the first one's message is in errstr. */
typedef struct avro_bin {
    buf_t *buf;
    char *errstr;
    size_t errstr_size;
    int failed;
} avro_bin_t;

void avro_bin_long(avro_bin_t *w, int64_t value);
void avro_bin_double(avro_bin_t *w, double value);
void avro_bin_bool(avro_bin_t *w, bool value);
/* A NULL text fails, naming the field `name`. */
void avro_bin_string(avro_bin_t *w, const char *name, const char *text);
void avro_bin_nullable_string(avro_bin_t *w, const char *name, const char *text);
/* An array or map: avro_bin_block(count), the items, then avro_bin_long(0). */
void avro_bin_block(avro_bin_t *w, size_t count);

/* Whether `data` holds exactly one record of `schema`; *problem says why not. */
bool avro_bin_scan(avro_schema_t schema, const void *data, size_t len, const char **problem);

#endif
