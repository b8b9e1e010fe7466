/* trend_record.h -- a trend record's bytes in the output format of the
 * profiles (output.format): the baseline figures of one DAG and version and
 * the regressions that triggered it, for topic dag-trends (key dag_id).
 * One per thread: it holds reusable encoder state. */
#ifndef DAGPROF_TREND_RECORD_H
#define DAGPROF_TREND_RECORD_H

#include <stddef.h>

#include "baseline.h"
#include "buf.h"

typedef struct trend_record trend_record_t;

/* output_format: an output_format_kind_t. NULL with errstr on failure. */
trend_record_t *trend_record_new(int output_format, char *errstr, size_t errstr_size);
void trend_record_free(trend_record_t *tr);

/* Append the record of `figures` (regressions may be NULL: a periodic
 * record) to out. 0, or -1 with errstr. */
int trend_record_encode(trend_record_t *tr, const baseline_figures_t *figures,
                        const baseline_regressions_t *regressions, buf_t *out, char *errstr,
                        size_t errstr_size);

/* The JSON object of one DAG's figures, the shape `dagprof trends --format
 * json` lists under "dags" (the shape). New reference, or NULL on OOM. */
struct json_t;
struct json_t *trend_record_json(const baseline_figures_t *figures, const baseline_regressions_t *regressions);

#endif
