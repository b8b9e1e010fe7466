/* trend_publish.c -- trend records in the output format. See trend_publish.h. */
#include "trend_publish.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_format.h"
#include "trend_avro.h"
#include "trends_report.h"

struct trend_publish {
    int output_format;
    trend_avro_t *avro;
};

trend_publish_t *trend_publish_new(int output_format, char *errstr, size_t errstr_size) {
    trend_publish_t *tp = calloc(1, sizeof(*tp));
    if (!tp) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    tp->output_format = output_format;
    if (output_format != OUTPUT_FORMAT_JSON && !(tp->avro = trend_avro_new(errstr, errstr_size))) {
        free(tp);
        return NULL;
    }
    return tp;
}

void trend_publish_free(trend_publish_t *tp) {
    if (!tp)
        return;
    trend_avro_free(tp->avro);
    free(tp);
}

int trend_publish_encode(trend_publish_t *tp, const baseline_figures_t *figures, int64_t profiled_at_us,
                         const baseline_regressions_t *regressions, const char *trace_id, buf_t *out,
                         char *errstr, size_t errstr_size) {
    size_t n = regressions ? regressions->count : 0;
    trend_regression_t *regs = calloc(n ? n : 1, sizeof(*regs));
    if (!regs) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        regs[i] = (trend_regression_t){regressions->items[i], trace_id, 1};
    int rc = -1;
    if (tp->output_format != OUTPUT_FORMAT_JSON) {
        trend_record_t record = {figures, profiled_at_us, regs, n};
        rc = trend_avro_encode(tp->avro, &record, out, errstr, errstr_size);
        goto done;
    }
    /* JSON: the one DAG of the report's {"dags": [...]} */
    buf_t whole = BUF_INIT;
    trends_dag_t dag = {figures, regs, n};
    json_t *root = NULL;
    char *text = NULL;
    if (trends_report_json(&dag, 1, &whole) == 0 && (root = json_loadb(whole.data, whole.len, 0, NULL)) &&
        (text = json_dumps(json_array_get(json_object_get(root, "dags"), 0), JSON_COMPACT | JSON_REAL_PRECISION(17))))
        rc = buf_puts(out, text);
    if (rc != 0)
        snprintf(errstr, errstr_size, "cannot write the trend record of %s as JSON", figures->dag_id);
    free(text);
    json_decref(root);
    buf_free(&whole);
done:
    free(regs);
    return rc;
}
