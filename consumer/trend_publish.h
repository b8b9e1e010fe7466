/* trend_publish.h -- a trend record's bytes for topic dag-trends (key
 * dag_id), in the output format of the profiles (output.format): the baseline
 * figures of one DAG and version and the regressions that triggered it.
 * avro and confluent write bare Avro of schemas/trend.avsc (trend_avro.h; no
 * schema id is configured for trend records yet, so no Confluent header);
 * json writes one element of "dags" of `dagprof trends --format json`
 * (trends_report.h). One per thread: it holds the Avro encoder. */
#ifndef DAGPROF_TREND_PUBLISH_H
#define DAGPROF_TREND_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "buf.h"

typedef struct trend_publish trend_publish_t;

/* output_format: an output_format_kind_t. NULL with errstr on failure. */
trend_publish_t *trend_publish_new(int output_format, char *errstr, size_t errstr_size);
void trend_publish_free(trend_publish_t *tp);

/* Append the record of `figures` made at profiled_at_us, with the regressions
 * of run trace_id (regressions NULL or empty: a periodic record) to out.
 * 0, or -1 with errstr. */
int trend_publish_encode(trend_publish_t *tp, const baseline_figures_t *figures, int64_t profiled_at_us,
                         const baseline_regressions_t *regressions, const char *trace_id, buf_t *out,
                         char *errstr, size_t errstr_size);

#endif
