/* pricing.c -- model prices and the cost of one llm call. See pricing.h. */
#include "pricing.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct pricing_entry {
    char *key; /* lower-cased; a trailing '*' makes it a prefix */
    size_t key_len;
    pricing_price_t price;
    char *downgrade; /* cheaper model, or NULL */
    int has_price;
} pricing_entry_t;

struct pricing {
    pricing_entry_t *entries;
    size_t count;
    size_t cap;
};

pricing_t *pricing_new(void) {
    return calloc(1, sizeof(pricing_t));
}

void pricing_free(pricing_t *pricing) {
    if (!pricing)
        return;
    for (size_t i = 0; i < pricing->count; i++) {
        free(pricing->entries[i].key);
        free(pricing->entries[i].downgrade);
    }
    free(pricing->entries);
    free(pricing);
}

static pricing_entry_t *pricing_entry(pricing_t *pricing, const char *key, char *errstr,
                                      size_t errstr_size) {
    if (!key || !key[0]) {
        snprintf(errstr, errstr_size, "empty model name");
        return NULL;
    }
    for (size_t i = 0; i < pricing->count; i++)
        if (strcasecmp(pricing->entries[i].key, key) == 0)
            return &pricing->entries[i];
    if (pricing->count == pricing->cap) {
        size_t cap = pricing->cap ? pricing->cap * 2 : 32;
        pricing_entry_t *grown = realloc(pricing->entries, cap * sizeof(*grown));
        if (!grown)
            goto oom;
        pricing->entries = grown;
        pricing->cap = cap;
    }
    pricing_entry_t *entry = &pricing->entries[pricing->count];
    memset(entry, 0, sizeof(*entry));
    entry->key = strdup(key);
    if (!entry->key)
        goto oom;
    for (char *p = entry->key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    entry->key_len = strlen(entry->key);
    pricing->count++;
    return entry;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
}

int pricing_set(pricing_t *pricing, const char *key, const pricing_price_t *price,
                char *errstr, size_t errstr_size) {
    if (price->input_usd_per_mtok < 0 || price->output_usd_per_mtok < 0) {
        snprintf(errstr, errstr_size, "%s: negative price", key ? key : "");
        return -1;
    }
    pricing_entry_t *entry = pricing_entry(pricing, key, errstr, errstr_size);
    if (!entry)
        return -1;
    entry->price = *price;
    entry->has_price = 1;
    return 0;
}

int pricing_set_downgrade(pricing_t *pricing, const char *key, const char *cheaper_model,
                          char *errstr, size_t errstr_size) {
    if (!cheaper_model || !cheaper_model[0]) {
        snprintf(errstr, errstr_size, "%s: empty downgrade model", key ? key : "");
        return -1;
    }
    pricing_entry_t *entry = pricing_entry(pricing, key, errstr, errstr_size);
    if (!entry)
        return -1;
    char *copy = strdup(cheaper_model);
    if (!copy) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    free(entry->downgrade);
    entry->downgrade = copy;
    return 0;
}

/* The entry for `model` among those that have the wanted part (price or
 * downgrade): exact key first, then the longest matching prefix key. */
static const pricing_entry_t *pricing_match(const pricing_t *pricing, const char *model,
                                            int want_downgrade) {
    const pricing_entry_t *best = NULL;
    size_t best_len = 0;
    size_t model_len = strlen(model);
    /* keys are lower-cased: most entries are passed over on length and first
     * letter, without a case-insensitive comparison (every model of every
     * profile is looked up here, three times with its downgrade) */
    char first = (char)tolower((unsigned char)model[0]);
    for (size_t i = 0; i < pricing->count; i++) {
        const pricing_entry_t *e = &pricing->entries[i];
        if (want_downgrade ? !e->downgrade : !e->has_price)
            continue;
        size_t key_len = e->key_len;
        if (key_len && e->key[key_len - 1] == '*') {
            size_t prefix_len = key_len - 1;
            if (prefix_len <= model_len && (prefix_len == 0 || e->key[0] == first) &&
                strncasecmp(model, e->key, prefix_len) == 0 && (!best || prefix_len >= best_len)) {
                best = e;
                best_len = prefix_len;
            }
        } else if (key_len == model_len && e->key[0] == first && strcasecmp(model, e->key) == 0) {
            return e;
        }
    }
    return best;
}

static const pricing_entry_t *pricing_find(const pricing_t *pricing, const char *model,
                                           int want_downgrade) {
    if (!pricing || !model || !model[0])
        return NULL;
    const pricing_entry_t *e = pricing_match(pricing, model, want_downgrade);
    if (e)
        return e;
    const char *slash = strchr(model, '/');
    if (slash && slash[1])
        return pricing_match(pricing, slash + 1, want_downgrade);
    return NULL;
}

int pricing_lookup(const pricing_t *pricing, const char *model, pricing_price_t *out) {
    const pricing_entry_t *e = pricing_find(pricing, model, 0);
    if (!e)
        return -1;
    *out = e->price;
    if (out->cache_read_usd_per_mtok < 0)
        out->cache_read_usd_per_mtok = out->input_usd_per_mtok;
    if (out->cache_write_usd_per_mtok < 0)
        out->cache_write_usd_per_mtok = out->input_usd_per_mtok;
    return 0;
}

const char *pricing_downgrade(const pricing_t *pricing, const char *model) {
    const pricing_entry_t *e = pricing_find(pricing, model, 1);
    return e ? e->downgrade : NULL;
}

size_t pricing_count(const pricing_t *pricing) {
    size_t n = 0;
    for (size_t i = 0; i < pricing->count; i++)
        n += pricing->entries[i].has_price;
    return n;
}

double pricing_cost_usd(const pricing_price_t *price, int64_t input_tokens,
                        int64_t output_tokens, int64_t cache_read_tokens,
                        int64_t cache_write_tokens) {
    int64_t uncached = input_tokens - cache_read_tokens - cache_write_tokens;
    if (uncached < 0)
        uncached = 0; /* inconsistent counts: never bill negative tokens */
    return ((double)uncached * price->input_usd_per_mtok +
            (double)cache_read_tokens * price->cache_read_usd_per_mtok +
            (double)cache_write_tokens * price->cache_write_usd_per_mtok +
            (double)output_tokens * price->output_usd_per_mtok) / 1e6;
}
