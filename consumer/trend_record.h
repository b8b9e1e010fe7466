/* trend_record.h -- the JSON object of one DAG's baseline figures, as
 * `dagprof trends --format json` lists them from Redis. (What topic
 * dag-trends carries is trend_publish.h's.) */
#ifndef DAGPROF_TREND_RECORD_H
#define DAGPROF_TREND_RECORD_H

#include <stddef.h>

#include "baseline.h"
#include "buf.h"

/* The JSON object of one DAG's figures, the shape `dagprof trends --format
 * json` lists under "dags" (the shape). New reference, or NULL on OOM. */
struct json_t;
struct json_t *trend_record_json(const baseline_figures_t *figures, const baseline_regressions_t *regressions);

#endif
