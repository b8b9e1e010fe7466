/* schema_fingerprint.h -- which schema wrote a record: Avro's Parsing
 * Canonical Form and its CRC-64-AVRO (Rabin) fingerprint.
 *
 * Every output record names its schema in the `dagprof.schema` header as
 * `<full name>;crc64-avro=<16 hex digits>`. The fingerprint is the one the
 * Avro specification defines for single-object encoding, so any Avro library
 * that implements it (Java SchemaNormalization.parsingFingerprint64, Python
 * avro's Schema.fingerprint) computes the same value from the .avsc file. */
#ifndef DAGPROF_SCHEMA_FINGERPRINT_H
#define DAGPROF_SCHEMA_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Append the Parsing Canonical Form of the schema `schema_json` to `out`:
 * full names, only the attributes that matter for reading (name, type,
 * fields, symbols, items, values, size) in that order, no whitespace.
 * Returns 0, or -1 with errstr set (not JSON, not a schema); `out` is then
 * left as it was. */
int schema_canonical_form(const char *schema_json, buf_t *out, char *errstr, size_t errstr_size);

/* CRC-64-AVRO of `len` bytes. */
uint64_t schema_fingerprint64(const void *data, size_t len);

/* Fill `out` (at least 160 bytes) with the header value for `schema_json`:
 * `<full name>;crc64-avro=<hex>`. Returns 0, or -1 with errstr set. */
int schema_header_value(const char *schema_json, char *out, size_t out_size, char *errstr,
                        size_t errstr_size);

#endif
