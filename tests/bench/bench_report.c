/* bench_report.c -- the HTML report's size and speed: the page of the
 * layered traces of bench_engine (10 nodes a layer, two inputs each, an llm
 * and a tool call per node) at 1k, 10k and 100k nodes, with the default row
 * limit and with every row up to the limit's top; the time is the fastest of
 * five rounds, the profile computed once outside it. Run it on an idle
 * machine: build-release/bench/bench_report [NODES...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "harness_bench.h"
#include "pricing_file.h"
#include "profile.h"
#include "report_html.h"
#include "trace.h"

typedef struct rendering {
    const profile_t *profile;
    report_html_options_t options;
    buf_t out;
} rendering_t;

static int render(void *ctx) {
    rendering_t *r = ctx;
    buf_reset(&r->out);
    return report_write_html(r->profile, &r->options, &r->out);
}

int main(int argc, char **argv) {
    char err[256];
    pricing_t *pricing = pricing_file_default(err, sizeof(err));
    if (!pricing) {
        fprintf(stderr, "pricing: %s\n", err);
        return 1;
    }
    int sizes[16] = {1000, 10000, 100000};
    size_t size_count = 3;
    if (argc > 1) {
        size_count = 0;
        for (int i = 1; i < argc && size_count < 16; i++)
            sizes[size_count++] = atoi(argv[i]);
    }
    profile_options_t o;
    profile_options_init(&o);
    printf("%-8s %9s %12s %12s %14s\n", "nodes", "max rows", "html bytes", "ms/page", "bound bytes");
    for (size_t k = 0; k < size_count; k++) {
        trace_t *t = bench_layered_trace(sizes[k]);
        profile_t *p = profile_compute(t, pricing, &o, err, sizeof(err));
        if (!p) {
            fprintf(stderr, "profile: %s\n", err);
            return 1;
        }
        size_t limits[2] = {REPORT_HTML_DEFAULT_MAX_ROWS, REPORT_HTML_MAX_ROWS_LIMIT};
        for (int l = 0; l < 2; l++) {
            rendering_t r;
            memset(&r, 0, sizeof(r));
            r.profile = p;
            report_html_options_init(&r.options);
            r.options.max_rows = limits[l];
            r.options.trace = t;
            double per = bench_fastest(render, &r);
            if (per <= 0)
                return 1;
            printf("%-8d %9zu %12zu %12.3f %14zu\n", sizes[k], limits[l], r.out.len, per * 1e3,
                   REPORT_HTML_BOUND(limits[l]));
            buf_free(&r.out);
        }
        profile_free(p);
        trace_free(t);
    }
    pricing_free(pricing);
    return 0;
}
