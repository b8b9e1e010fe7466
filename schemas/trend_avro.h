/* trend_avro.h -- fleet baselines as Avro Trend records (schemas/trend.avsc).
 *
 * What topic dag-trends carries, keyed by dag_id: one DAG and version's
 * baseline figures over one window (engine/baseline.h), when the record was
 * made, and the regressions found against it. The fields are those of one
 * element of "dags" in `dagprof profile --trends --format json`
 * (producer/trends_report.h), plus profiled_at_us. The schema is compiled in;
 * a test keeps it equal to the file and reads the bytes with Python's avro.
 *
 * Encoding writes bare Avro binary (the publisher adds a Confluent header when
 * it uses a registry); decoding takes a bare record, checked against the
 * schema first. A trend_avro_t reuses its Avro value between decodes: one
 * thread at a time. */
#ifndef DAGPROF_TREND_AVRO_H
#define DAGPROF_TREND_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "buf.h"

/* A regression as the fleet view reports it: the rule that held, the first
 * run where it held, how many runs it held for. */
typedef struct trend_regression {
    baseline_regression_t regression;
    const char *trace_id; /* NULL: unknown */
    int64_t runs;
} trend_regression_t;

/* One Trend record. */
typedef struct trend_record {
    const baseline_figures_t *figures;
    int64_t profiled_at_us;
    const trend_regression_t *regressions;
    size_t regression_count;
} trend_record_t;

typedef struct trend_avro trend_avro_t;

/* NULL with errstr set when the schema does not parse (or OOM). */
trend_avro_t *trend_avro_new(char *errstr, size_t errstr_size);
void trend_avro_free(trend_avro_t *avro);

/* The compiled-in schema (static storage), e.g. to register it. */
const char *trend_avro_schema_json(void);

/* Append `record` as one bare Trend record to `out`. 0, or -1 with errstr set
 * (a required string is NULL, OOM); `out` is then left as it was. */
int trend_avro_encode(trend_avro_t *avro, const trend_record_t *record, buf_t *out,
                      char *errstr, size_t errstr_size);

/* Decode one bare Trend record. 0 with *out set (free it with
 * trend_avro_record_free(): figures, regressions and strings go with it), or
 * -1 with errstr set and *out NULL: not exactly one record, a string that is
 * not UTF-8 or holds a NUL, OOM. */
int trend_avro_decode(trend_avro_t *avro, const void *data, size_t len, trend_record_t **out,
                      char *errstr, size_t errstr_size);
void trend_avro_record_free(trend_record_t *record);

#endif
