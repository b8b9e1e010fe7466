/* sketch.c -- log-bucketed quantile sketch. See sketch.h.
 *
 * Each sign keeps a dense array of bucket counts over the range of indexes
 * seen so far: a run's figures span a few decades (1 ms .. 1 h is 830
 * buckets), so a dense range is smaller and faster than a map. */
#include "sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sketch_store {
    uint64_t *counts; /* counts[i] is bucket min_index + i */
    int32_t min_index;
    size_t len;
    size_t cap;
} sketch_store_t;

struct sketch {
    sketch_store_t positive;
    sketch_store_t negative; /* by the magnitude's bucket */
    uint64_t zero_count;
    uint64_t count;
    double sum;
    double sum_compensation; /* Neumaier: the low-order part the sum lost */
    double min;
    double max;
};

/* log(gamma) for gamma = (1 + a) / (1 - a). */
static double sketch_log_gamma(void) {
    return log((1.0 + SKETCH_RELATIVE_ERROR) / (1.0 - SKETCH_RELATIVE_ERROR));
}

static int32_t sketch_index(double magnitude) {
    return (int32_t)ceil(log(magnitude) / sketch_log_gamma());
}

/* The bucket's answer: equidistant in relative terms from both its bounds. */
static double sketch_bucket_value(int32_t index) {
    double gamma = (1.0 + SKETCH_RELATIVE_ERROR) / (1.0 - SKETCH_RELATIVE_ERROR);
    return 2.0 * exp((double)index * sketch_log_gamma()) / (gamma + 1.0);
}

sketch_t *sketch_new(void) {
    return calloc(1, sizeof(sketch_t));
}

void sketch_free(sketch_t *sketch) {
    if (!sketch)
        return;
    free(sketch->positive.counts);
    free(sketch->negative.counts);
    free(sketch);
}

void sketch_reset(sketch_t *sketch) {
    sketch_store_t pos = sketch->positive, neg = sketch->negative;
    memset(sketch, 0, sizeof(*sketch));
    sketch->positive.counts = pos.counts;
    sketch->positive.cap = pos.cap;
    sketch->negative.counts = neg.counts;
    sketch->negative.cap = neg.cap;
}

/* Make the store cover [lo, hi]; 0, or -1 on OOM (store unchanged). */
static int store_cover(sketch_store_t *store, int32_t lo, int32_t hi) {
    if (store->len == 0) {
        if (store->cap < 64) {
            uint64_t *counts = realloc(store->counts, 64 * sizeof(uint64_t));
            if (!counts)
                return -1;
            store->counts = counts;
            store->cap = 64;
        }
        size_t need = (size_t)((int64_t)hi - lo + 1);
        if (need > store->cap) {
            uint64_t *counts = realloc(store->counts, need * sizeof(uint64_t));
            if (!counts)
                return -1;
            store->counts = counts;
            store->cap = need;
        }
        memset(store->counts, 0, need * sizeof(uint64_t));
        store->min_index = lo;
        store->len = need;
        return 0;
    }
    int32_t cur_lo = store->min_index;
    int32_t cur_hi = (int32_t)(store->min_index + (int64_t)store->len - 1);
    int32_t new_lo = lo < cur_lo ? lo : cur_lo;
    int32_t new_hi = hi > cur_hi ? hi : cur_hi;
    if (new_lo == cur_lo && new_hi == cur_hi)
        return 0;
    size_t need = (size_t)((int64_t)new_hi - new_lo + 1);
    if (need > store->cap) {
        size_t cap = store->cap * 2 > need ? store->cap * 2 : need;
        uint64_t *counts = realloc(store->counts, cap * sizeof(uint64_t));
        if (!counts)
            return -1;
        store->counts = counts;
        store->cap = cap;
    }
    size_t shift = (size_t)(cur_lo - new_lo);
    if (shift) {
        memmove(store->counts + shift, store->counts, store->len * sizeof(uint64_t));
        memset(store->counts, 0, shift * sizeof(uint64_t));
    }
    memset(store->counts + shift + store->len, 0, (need - shift - store->len) * sizeof(uint64_t));
    store->min_index = new_lo;
    store->len = need;
    return 0;
}

static void sketch_sum_add(sketch_t *sketch, double value) {
    double t = sketch->sum + value;
    if (fabs(sketch->sum) >= fabs(value))
        sketch->sum_compensation += (sketch->sum - t) + value;
    else
        sketch->sum_compensation += (value - t) + sketch->sum;
    sketch->sum = t;
}

int sketch_add_n(sketch_t *sketch, double value, uint64_t count) {
    if (!isfinite(value))
        return -1;
    if (count == 0)
        return 0;
    double magnitude = fabs(value);
    if (magnitude < SKETCH_MIN_MAGNITUDE) {
        sketch->zero_count += count;
    } else {
        sketch_store_t *store = value > 0 ? &sketch->positive : &sketch->negative;
        int32_t index = sketch_index(magnitude);
        if (store_cover(store, index, index) < 0)
            return -1;
        store->counts[index - store->min_index] += count;
    }
    if (sketch->count == 0 || value < sketch->min)
        sketch->min = value;
    if (sketch->count == 0 || value > sketch->max)
        sketch->max = value;
    sketch->count += count;
    if (count == 1)
        sketch_sum_add(sketch, value);
    else
        sketch_sum_add(sketch, value * (double)count);
    return 0;
}

int sketch_add(sketch_t *sketch, double value) {
    return sketch_add_n(sketch, value, 1);
}

static int store_merge_cover(sketch_store_t *into, const sketch_store_t *from) {
    if (from->len == 0)
        return 0;
    return store_cover(into, from->min_index, (int32_t)(from->min_index + (int64_t)from->len - 1));
}

static void store_merge(sketch_store_t *into, const sketch_store_t *from) {
    for (size_t i = 0; i < from->len; i++)
        into->counts[(size_t)(from->min_index - into->min_index) + i] += from->counts[i];
}

int sketch_merge(sketch_t *into, const sketch_t *from) {
    if (from->count == 0)
        return 0;
    /* Cover both ranges before counting anything, so that a failure leaves
     * `into` as it was (a wider range of zeros counts nothing). */
    if (store_merge_cover(&into->positive, &from->positive) < 0 ||
        store_merge_cover(&into->negative, &from->negative) < 0)
        return -1;
    store_merge(&into->positive, &from->positive);
    store_merge(&into->negative, &from->negative);
    into->zero_count += from->zero_count;
    if (into->count == 0 || from->min < into->min)
        into->min = from->min;
    if (into->count == 0 || from->max > into->max)
        into->max = from->max;
    into->count += from->count;
    sketch_sum_add(into, from->sum);
    into->sum_compensation += from->sum_compensation;
    return 0;
}

uint64_t sketch_count(const sketch_t *sketch) {
    return sketch->count;
}

double sketch_sum(const sketch_t *sketch) {
    return sketch->sum + sketch->sum_compensation;
}

double sketch_mean(const sketch_t *sketch) {
    return sketch->count ? sketch_sum(sketch) / (double)sketch->count : 0.0;
}

double sketch_min(const sketch_t *sketch) {
    return sketch->count ? sketch->min : 0.0;
}

double sketch_max(const sketch_t *sketch) {
    return sketch->count ? sketch->max : 0.0;
}

static double sketch_clamp(const sketch_t *sketch, double value) {
    if (value < sketch->min)
        return sketch->min;
    if (value > sketch->max)
        return sketch->max;
    return value;
}

double sketch_quantile(const sketch_t *sketch, double q) {
    if (sketch->count == 0)
        return 0.0;
    if (!(q >= 0.0))
        q = 0.0;
    if (q > 1.0)
        q = 1.0;
    uint64_t rank = (uint64_t)floor(q * (double)(sketch->count - 1));
    /* The extremes are known exactly. */
    if (rank == 0)
        return sketch->min;
    if (rank >= sketch->count - 1)
        return sketch->max;
    uint64_t seen = 0;
    /* Ascending order: negatives from the largest magnitude down, zeros, positives up. */
    const sketch_store_t *neg = &sketch->negative;
    for (size_t i = neg->len; i-- > 0;) {
        seen += neg->counts[i];
        if (seen > rank)
            return sketch_clamp(sketch, -sketch_bucket_value((int32_t)(neg->min_index + (int64_t)i)));
    }
    seen += sketch->zero_count;
    if (seen > rank)
        return sketch_clamp(sketch, 0.0);
    const sketch_store_t *pos = &sketch->positive;
    for (size_t i = 0; i < pos->len; i++) {
        seen += pos->counts[i];
        if (seen > rank)
            return sketch_clamp(sketch, sketch_bucket_value((int32_t)(pos->min_index + (int64_t)i)));
    }
    return sketch->max;
}
