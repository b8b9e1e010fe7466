/* strmap.c -- open-addressing string map with linear probing. See strmap.h. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* Eight bytes a step with a multiply-xorshift mix (the finalizer of
 * splitmix64): ids are short, and hashing them a byte at a time was a tenth
 * of profile_compute (bench_engine). The last, partial word is zero-filled,
 * which tells strings of different lengths apart. Not keyed: the store's
 * per-trace limits bound what colliding ids could cost. */
static uint64_t hash_word(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 31);
}

static uint64_t hash_last(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

#define HASH_SEED 0x9e3779b97f4a7c15ULL

uint64_t strmap_hash(const char *key) {
    size_t len = strlen(key);
    uint64_t h = HASH_SEED, w;
    for (; len >= 8; key += 8, len -= 8) {
        memcpy(&w, key, 8);
        h = hash_word(h, w);
    }
    w = 0;
    memcpy(&w, key, len);
    return hash_last(h, w);
}

/* The same value, read a word at a time without measuring the key first.
 * Little-endian: the bytes before the terminator are the low ones. */
static uint64_t strmap_hash_padded(const char *key, size_t *len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t h = HASH_SEED, w;
    for (size_t at = 0;; at += 8) {
        memcpy(&w, key + at, 8);
        uint64_t zero = strmap_zero_bytes(w);
        if (zero) {
            unsigned bits = (unsigned)__builtin_ctzll(zero) & ~7u; /* 8 x bytes before it */
            *len = at + bits / 8;
            return hash_last(h, bits ? w & (~0ULL >> (64 - bits)) : 0);
        }
        h = hash_word(h, w);
    }
#else
    *len = strlen(key);
    return strmap_hash(key);
#endif
}

int strmap_init(strmap_t *map, size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    map->slots = calloc(cap, sizeof(*map->slots));
    map->cap = map->slots ? cap : 0;
    map->count = 0;
    return map->slots ? 0 : -1;
}

void strmap_free(strmap_t *map) {
    free(map->slots);
    map->slots = NULL;
    map->cap = 0;
    map->count = 0;
}

/* What a slot keeps of the key's hash: its position and the check before the key. */
uint32_t strmap_key_hash(const char *key) {
    return (uint32_t)(strmap_hash(key) >> 32);
}

uint32_t strmap_padded_key_hash(const char *key) {
    size_t len;
    return strmap_padded_key_hash_len(key, &len);
}

uint32_t strmap_padded_key_hash_len(const char *key, size_t *len) {
    return (uint32_t)(strmap_hash_padded(key, len) >> 32);
}

/* The slot of key: where it is, or the empty slot where it would go. */
static inline strmap_slot_t *strmap_slot_cmp(const strmap_t *map, const char *key, uint32_t hash,
                                             int padded) {
    size_t mask = map->cap - 1;
    strmap_slot_t *slot = &map->slots[hash & mask];
    while (slot->key && (slot->hash != hash || !(padded ? strmap_padded_equal(slot->key, key)
                                                         : strcmp(slot->key, key) == 0)))
        slot = &map->slots[(size_t)(slot - map->slots + 1) & mask];
    return slot;
}

static int strmap_grow(strmap_t *map) {
    strmap_t bigger;
    if (strmap_init(&bigger, map->cap) != 0)
        return -1;
    for (size_t i = 0; i < map->cap; i++)
        if (map->slots[i].key)
            *strmap_slot_cmp(&bigger, map->slots[i].key, map->slots[i].hash, 0) = map->slots[i];
    bigger.count = map->count;
    strmap_free(map);
    *map = bigger;
    return 0;
}

int strmap_put(strmap_t *map, const char *key, size_t value, size_t *existing) {
    return strmap_put_hashed(map, key, strmap_key_hash(key), value, existing);
}

/* The slot of key with room made first; NULL when out of memory. */
static strmap_slot_t *find_slot(strmap_t *map, const char *key, uint32_t hash, int padded) {
    if ((map->count + 1) * 2 > map->cap && strmap_grow(map) != 0)
        return NULL;
    return strmap_slot_cmp(map, key, hash, padded);
}

static int get(const strmap_t *map, const char *key, uint32_t hash, int padded, size_t *value) {
    if (!map->cap)
        return 0;
    const strmap_slot_t *slot = strmap_slot_cmp(map, key, hash, padded);
    if (!slot->key)
        return 0;
    *value = slot->value;
    return 1;
}

strmap_slot_t *strmap_find_slot(strmap_t *map, const char *key, uint32_t hash) {
    return find_slot(map, key, hash, 0);
}

strmap_slot_t *strmap_find_slot_padded(strmap_t *map, const char *key, uint32_t hash) {
    return find_slot(map, key, hash, 1);
}

int strmap_get_padded(const strmap_t *map, const char *key, uint32_t hash, size_t *value) {
    return get(map, key, hash, 1, value);
}

int strmap_fill(strmap_t *map, strmap_slot_t *slot, const char *key, uint32_t hash, size_t value) {
    if (value > UINT32_MAX)
        return -1;
    *slot = (strmap_slot_t){key, hash, (uint32_t)value};
    map->count++;
    return 0;
}

int strmap_put_hashed(strmap_t *map, const char *key, uint32_t hash, size_t value,
                      size_t *existing) {
    if (value > UINT32_MAX)
        return -1;
    strmap_slot_t *slot = strmap_find_slot(map, key, hash);
    if (!slot)
        return -1;
    if (slot->key) {
        if (existing)
            *existing = slot->value;
        return 0;
    }
    strmap_fill(map, slot, key, hash, value);
    return 1;
}

int strmap_get(const strmap_t *map, const char *key, size_t *value) {
    return strmap_get_hashed(map, key, strmap_key_hash(key), value);
}

int strmap_get_hashed(const strmap_t *map, const char *key, uint32_t hash, size_t *value) {
    return get(map, key, hash, 0, value);
}
