/* sketch.h -- quantiles of a stream of numbers in bounded memory, mergeable.
 *
 * A fleet baseline summarises thousands of runs per DAG and window; keeping
 * every value to sort it would make the baseline as large as the fleet. This
 * is a log-bucketed sketch in the manner of DDSketch: a value x > 0 falls in
 * bucket i = ceil(log(x) / log(gamma)), gamma = (1 + a) / (1 - a), and a
 * bucket answers with 2 gamma^i / (gamma + 1), which is within a relative
 * error a of every value the bucket holds. a = SKETCH_RELATIVE_ERROR = 1%.
 *
 * Negative values go to mirrored buckets; values whose magnitude is below
 * SKETCH_MIN_MAGNITUDE count as exactly 0 (costs of unpriced runs, schedule
 * efficiency of an idle run). A quantile is clamped to the smallest and
 * largest value added (the lowest and highest ranks answer them exactly), so
 * a sketch of one repeated value answers that value exactly. Count, sum
 * (compensated), min and max are exact.
 *
 * Quantile definition: the value of rank floor(q * (count - 1)) (0-based) in
 * the sorted values; the sketch answers within a of it (for values of
 * magnitude >= SKETCH_MIN_MAGNITUDE). Pure: no I/O, no globals. */
#ifndef DAGPROF_SKETCH_H
#define DAGPROF_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_RELATIVE_ERROR 0.01
#define SKETCH_MIN_MAGNITUDE 1e-9

typedef struct sketch sketch_t;

/* An empty sketch, or NULL when out of memory. Free with sketch_free(). */
sketch_t *sketch_new(void);
void sketch_free(sketch_t *sketch);
/* Forget every value; the memory is kept for reuse. */
void sketch_reset(sketch_t *sketch);

/* Add a value (count times for sketch_add_n). 0, or -1 when the value is not
 * finite (nothing added) or memory ran out. */
int sketch_add(sketch_t *sketch, double value);
int sketch_add_n(sketch_t *sketch, double value, uint64_t count);

/* Add every value of `from` into `into`, as if each had been added there:
 * merging is exact (same buckets), order does not matter. 0, or -1 on OOM
 * (`into` unchanged then). */
int sketch_merge(sketch_t *into, const sketch_t *from);

uint64_t sketch_count(const sketch_t *sketch);
double sketch_sum(const sketch_t *sketch);  /* exact up to double rounding */
double sketch_mean(const sketch_t *sketch); /* sum / count; 0 when empty */
double sketch_min(const sketch_t *sketch);  /* 0 when empty */
double sketch_max(const sketch_t *sketch);  /* 0 when empty */

/* The q-quantile (0 <= q <= 1; clamped) within the relative error; 0 when
 * the sketch is empty. */
double sketch_quantile(const sketch_t *sketch, double q);

#endif
