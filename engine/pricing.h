/* pricing.h -- USD per 1M tokens, per model (SPEC §2, "Pricing table").
 *
 * Lookup: names compare case-insensitively; an exact key wins, else the longest
 * key ending in '*' that is a prefix of the model; when neither matches, a
 * leading "provider/" segment of the model is dropped and the match tried again.
 * A missing cache price falls back to the input price. Nothing is priced as
 * another model. The engine does no file I/O: callers parse the JSON table and
 * add its entries here. */
#ifndef DAGPROF_PRICING_H
#define DAGPROF_PRICING_H

#include <stddef.h>
#include <stdint.h>

typedef struct pricing pricing_t;

typedef struct pricing_price {
    double input_usd_per_mtok;
    double output_usd_per_mtok;
    double cache_read_usd_per_mtok;  /* < 0: not given, falls back to input */
    double cache_write_usd_per_mtok; /* < 0: not given, falls back to input */
} pricing_price_t;

pricing_t *pricing_new(void); /* free with pricing_free() */
void pricing_free(pricing_t *pricing);

/* Add or replace the price of `key` (a model name, or a prefix ending in '*').
 * Returns 0, or -1 with errstr set (negative price, empty key, out of memory). */
int pricing_set(pricing_t *pricing, const char *key, const pricing_price_t *price,
                char *errstr, size_t errstr_size);

/* A cheaper model to suggest instead of `key` (model_downgrade recommendations).
 * Both names must be priced when the recommendation is computed. */
int pricing_set_downgrade(pricing_t *pricing, const char *key, const char *cheaper_model,
                          char *errstr, size_t errstr_size);

/* Find the price of `model`. Returns 0 and fills *out (cache prices resolved),
 * or -1 when the model is not priced. */
int pricing_lookup(const pricing_t *pricing, const char *model, pricing_price_t *out);

/* The cheaper model configured for `model` (matched like a price), or NULL. */
const char *pricing_downgrade(const pricing_t *pricing, const char *model);

size_t pricing_count(const pricing_t *pricing);

/* Cost in USD of one llm call, by SPEC §2:
 * (input - cache_read - cache_write) x input + cache_read x cache_read
 * + cache_write x cache_write + output x output, per 1M tokens. */
double pricing_cost_usd(const pricing_price_t *price, int64_t input_tokens,
                        int64_t output_tokens, int64_t cache_read_tokens,
                        int64_t cache_write_tokens);

#endif
