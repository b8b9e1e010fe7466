/* pricing_file.c -- parse the JSON pricing table. See pricing_file.h. */
#include "pricing_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define DEFAULT_ORIGIN "built-in pricing table (schemas/pricing.json)"

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...) {
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads prices[field] into *out: -1 when absent and optional. */
static int parse_price(json_t *prices, const char *origin, const char *model,
                       const char *field, bool required, double *out, char *errstr,
                       size_t errstr_size) {
    json_t *value = json_object_get(prices, field);
    *out = -1;
    if (!value) {
        if (required)
            return set_error(errstr, errstr_size, "%s: model \"%s\": missing \"%s\" price",
                             origin, model, field);
        return 0;
    }
    if (!json_is_number(value) || json_number_value(value) < 0)
        return set_error(errstr, errstr_size,
                         "%s: model \"%s\": \"%s\" must be a non-negative number", origin, model,
                         field);
    *out = json_number_value(value);
    return 0;
}

static int parse_model(pricing_t *pricing, const char *origin, const char *model,
                       json_t *prices, char *errstr, size_t errstr_size) {
    static const char *const fields[] = {"input", "output", "cache_read", "cache_write"};
    pricing_price_t price;
    const char *field;
    json_t *value;
    char reason[256];

    if (!model[0])
        return set_error(errstr, errstr_size, "%s: models: empty model name", origin);
    if (!json_is_object(prices))
        return set_error(errstr, errstr_size, "%s: model \"%s\": expected an object of prices",
                         origin, model);
    json_object_foreach(prices, field, value) {
        bool known = false;
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            known = known || strcmp(field, fields[i]) == 0;
        if (!known)
            return set_error(errstr, errstr_size,
                             "%s: model \"%s\": unknown price field \"%s\" (expected input, "
                             "output, cache_read, cache_write)",
                             origin, model, field);
    }
    if (parse_price(prices, origin, model, "input", true, &price.input_usd_per_mtok, errstr,
                    errstr_size) != 0 ||
        parse_price(prices, origin, model, "output", true, &price.output_usd_per_mtok, errstr,
                    errstr_size) != 0 ||
        parse_price(prices, origin, model, "cache_read", false, &price.cache_read_usd_per_mtok,
                    errstr, errstr_size) != 0 ||
        parse_price(prices, origin, model, "cache_write", false,
                    &price.cache_write_usd_per_mtok, errstr, errstr_size) != 0)
        return -1;
    if (pricing_set(pricing, model, &price, reason, sizeof(reason)) != 0)
        return set_error(errstr, errstr_size, "%s: model \"%s\": %s", origin, model, reason);
    return 0;
}

static int parse_downgrades(pricing_t *pricing, const char *origin, json_t *downgrades,
                            char *errstr, size_t errstr_size) {
    const char *model;
    json_t *target;
    char reason[256];
    pricing_price_t price;

    if (!json_is_object(downgrades))
        return set_error(errstr, errstr_size, "%s: \"downgrades\" must be an object", origin);
    json_object_foreach(downgrades, model, target) {
        if (!json_is_string(target) || json_string_length(target) == 0)
            return set_error(errstr, errstr_size,
                             "%s: downgrade of \"%s\": target must be a model name", origin,
                             model);
        /* A suggestion to switch to an unpriced model could show no saving. */
        if (pricing_lookup(pricing, json_string_value(target), &price) != 0)
            return set_error(errstr, errstr_size,
                             "%s: downgrade of \"%s\": target \"%s\" is not priced in \"models\"",
                             origin, model, json_string_value(target));
        if (pricing_set_downgrade(pricing, model, json_string_value(target), reason,
                                  sizeof(reason)) != 0)
            return set_error(errstr, errstr_size, "%s: downgrade of \"%s\": %s", origin, model,
                             reason);
    }
    return 0;
}

/* Takes the table out of a parsed document; does not take ownership of it. */
static pricing_t *parse_root(json_t *root, const char *origin, char *errstr,
                             size_t errstr_size) {
    pricing_t *pricing = NULL;
    const char *key;
    json_t *value;

    if (!json_is_object(root)) {
        set_error(errstr, errstr_size, "%s: expected a JSON object with \"models\"", origin);
        goto fail;
    }
    json_object_foreach(root, key, value) {
        if (strcmp(key, "models") != 0 && strcmp(key, "downgrades") != 0 &&
            !(strcmp(key, "comment") == 0 && json_is_string(value))) {
            set_error(errstr, errstr_size,
                      "%s: unknown field \"%s\" (expected models, downgrades, comment)", origin,
                      key);
            goto fail;
        }
    }
    json_t *models = json_object_get(root, "models");
    if (!models) {
        set_error(errstr, errstr_size, "%s: missing \"models\"", origin);
        goto fail;
    }
    if (!json_is_object(models)) {
        set_error(errstr, errstr_size, "%s: \"models\" must be an object", origin);
        goto fail;
    }
    pricing = pricing_new();
    if (!pricing) {
        set_error(errstr, errstr_size, "%s: out of memory", origin);
        goto fail;
    }
    json_object_foreach(models, key, value) {
        if (parse_model(pricing, origin, key, value, errstr, errstr_size) != 0)
            goto fail;
    }
    json_t *downgrades = json_object_get(root, "downgrades");
    if (downgrades && parse_downgrades(pricing, origin, downgrades, errstr, errstr_size) != 0)
        goto fail;
    return pricing;

fail:
    pricing_free(pricing);
    return NULL;
}

pricing_t *pricing_file_parse(const char *json_text, const char *origin, char *errstr,
                              size_t errstr_size) {
    json_error_t error;
    json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        set_error(errstr, errstr_size, "%s: not JSON: %s (line %d, column %d)", origin,
                  error.text, error.line, error.column);
        return NULL;
    }
    pricing_t *pricing = parse_root(root, origin, errstr, errstr_size);
    json_decref(root);
    return pricing;
}

pricing_t *pricing_file_load(const char *path, char *errstr, size_t errstr_size) {
    json_error_t error;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_error(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    json_t *root = json_loadf(fp, JSON_REJECT_DUPLICATES, &error);
    fclose(fp);
    if (!root) {
        set_error(errstr, errstr_size, "%s: not JSON: %s (line %d, column %d)", path,
                  error.text, error.line, error.column);
        return NULL;
    }
    pricing_t *pricing = parse_root(root, path, errstr, errstr_size);
    json_decref(root);
    return pricing;
}

pricing_t *pricing_file_default(char *errstr, size_t errstr_size) {
    return pricing_file_parse(dagprof_default_pricing_json, DEFAULT_ORIGIN, errstr,
                              errstr_size);
}
