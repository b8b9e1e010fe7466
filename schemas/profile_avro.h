/* profile_avro.h -- profiles and recommendations as Avro binary (SPEC §4).
 *
 * The Profile record (schemas/profile.avsc) goes to topic dag-profiles; each
 * of a profile's recommendations becomes one Recommendation record
 * (schemas/recommendation.avsc) on dag-recommendations, carrying the profile's
 * ids so it can be acted on alone. Both schemas are compiled in, so the binary
 * needs no data files; a test keeps them equal to the files in schemas/.
 *
 * Encoders write bare Avro binary (no Confluent header: the publisher adds it
 * when it uses a schema registry). The decoder takes either form. A
 * profile_avro_t reuses its Avro values between calls, so one handle must not
 * be used by two threads at once. */
#ifndef DAGPROF_PROFILE_AVRO_H
#define DAGPROF_PROFILE_AVRO_H

#include <stddef.h>

#include "buf.h"
#include "profile.h"

typedef struct profile_avro profile_avro_t;

/* Parse both schemas. Returns a handle to free with profile_avro_free(), or
 * NULL with errstr set. */
profile_avro_t *profile_avro_new(char *errstr, size_t errstr_size);
void profile_avro_free(profile_avro_t *avro);

/* The compiled-in schema texts (static storage), e.g. to register them. */
const char *profile_avro_profile_schema_json(void);
const char *profile_avro_recommendation_schema_json(void);

/* Append `profile` as one bare Avro Profile record to `out`. Returns 0, or -1
 * with errstr set (a string the schema requires is NULL, out of memory); on
 * error `out` is left as it was. Strings are written as they are: the engine
 * keeps them UTF-8. */
int profile_avro_encode(profile_avro_t *avro, const profile_t *profile, buf_t *out,
                        char *errstr, size_t errstr_size);

/* Append recommendation `index` of `profile` as one bare Avro Recommendation
 * record to `out`. Errors as for profile_avro_encode(); an index past the end
 * is an error. */
int profile_avro_encode_recommendation(profile_avro_t *avro, const profile_t *profile,
                                       size_t index, buf_t *out,
                                       char *errstr, size_t errstr_size);

/* Decode one Profile record, bare or in the Confluent wire format (byte 0,
 * a 4-byte schema id, then the body). The message is checked against the
 * schema before Avro-C reads it, so a garbled length cannot make it allocate
 * more than the message holds; it must hold exactly one record. A message
 * starting with 0 is taken as framed when its body is exactly one record
 * (a bare record with an empty profile_id starts with 0 too). Returns 0 and
 * sets *out to a profile owned by the caller (free with profile_free()), or
 * -1 with errstr set and *out NULL. */
int profile_avro_decode(profile_avro_t *avro, const void *data, size_t len,
                        profile_t **out, char *errstr, size_t errstr_size);

#endif
