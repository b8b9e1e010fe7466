/* strmap.c -- open-addressing string map with linear probing. See strmap.h. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const char *key) {
    /* FNV-1a: short ids, no adversarial input worth a keyed hash here. */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

int strmap_init(strmap_t *map, size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    map->keys = calloc(cap, sizeof(*map->keys));
    map->values = calloc(cap, sizeof(*map->values));
    map->cap = cap;
    map->count = 0;
    if (!map->keys || !map->values) {
        strmap_free(map);
        return -1;
    }
    return 0;
}

void strmap_free(strmap_t *map) {
    free(map->keys);
    free(map->values);
    map->keys = NULL;
    map->values = NULL;
    map->cap = 0;
    map->count = 0;
}

static int strmap_grow(strmap_t *map) {
    strmap_t bigger;
    if (strmap_init(&bigger, map->cap) != 0)
        return -1;
    for (size_t i = 0; i < map->cap; i++)
        if (map->keys[i])
            strmap_put(&bigger, map->keys[i], map->values[i], NULL);
    strmap_free(map);
    *map = bigger;
    return 0;
}

int strmap_put(strmap_t *map, const char *key, size_t value, size_t *existing) {
    if ((map->count + 1) * 2 > map->cap && strmap_grow(map) != 0)
        return -1;
    size_t mask = map->cap - 1;
    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask) {
        if (!map->keys[i]) {
            map->keys[i] = key;
            map->values[i] = value;
            map->count++;
            return 1;
        }
        if (strcmp(map->keys[i], key) == 0) {
            if (existing)
                *existing = map->values[i];
            return 0;
        }
    }
}

int strmap_get(const strmap_t *map, const char *key, size_t *value) {
    if (!map->cap)
        return 0;
    size_t mask = map->cap - 1;
    for (size_t i = strmap_hash(key) & mask; map->keys[i]; i = (i + 1) & mask) {
        if (strcmp(map->keys[i], key) == 0) {
            *value = map->values[i];
            return 1;
        }
    }
    return 0;
}
