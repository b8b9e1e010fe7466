/* strmap.h -- string keys to indexes, open addressing.
 *
 * Span ids, node ids and model names are looked up once per span or edge; a
 * hash map keeps profiling linear in the size of the trace. Keys are borrowed
 * and must outlive the map. Internal to the engine. */
#ifndef DAGPROF_STRMAP_H
#define DAGPROF_STRMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct strmap_slot {
    const char *key; /* NULL: empty */
    uint32_t hash;   /* high half of the key's hash: the slot, and compared before the key */
    uint32_t value;  /* 16 bytes a slot: four to a cache line */
} strmap_slot_t;

typedef struct strmap {
    strmap_slot_t *slots; /* a probe reads one slot: key, hash and value together */
    size_t cap;           /* power of two */
    size_t count;
} strmap_t;

/* 0, or -1 when out of memory. */
int strmap_init(strmap_t *map, size_t expected);
void strmap_free(strmap_t *map);

/* Insert key -> value unless the key is there. Returns 1 when inserted, 0 when
 * present (its value in *existing, if not NULL), -1 when out of memory or the
 * value is above UINT32_MAX (values are indexes). */
int strmap_put(strmap_t *map, const char *key, size_t value, size_t *existing);

/* 1 and *value set when found, else 0. */
int strmap_get(const strmap_t *map, const char *key, size_t *value);

/* The same with the key's hash computed once by strmap_key_hash(), for a key
 * that is looked up and then inserted (a trace's span ids). */
uint32_t strmap_key_hash(const char *key);
int strmap_put_hashed(strmap_t *map, const char *key, uint32_t hash, size_t value, size_t *existing);
int strmap_get_hashed(const strmap_t *map, const char *key, uint32_t hash, size_t *value);

/* For keys stored as a copy made only when absent: the slot of key, where it
 * is (slot->key set) or the empty slot where strmap_fill() stores it, room
 * made first. NULL when out of memory. No other call on the map in between. */
strmap_slot_t *strmap_find_slot(strmap_t *map, const char *key, uint32_t hash);
/* Store key -> value in the empty slot strmap_find_slot() returned; key equal
 * to the one looked up. -1 when the value is above UINT32_MAX. */
int strmap_fill(strmap_t *map, strmap_slot_t *slot, const char *key, uint32_t hash, size_t value);

uint64_t strmap_hash(const char *key);

/* Padded keys: the engine's own strings, arena copies zero-filled past their
 * terminator (arena.h), read 8 bytes at a time with no strlen or strcmp call.
 * Hashing and comparing ids that way took 6% off a 1k-node profile
 * (bench_engine). A map looked up with padded keys must hold padded keys
 * only; the hash is strmap_key_hash()'s. */
uint32_t strmap_padded_key_hash(const char *key);
uint32_t strmap_padded_key_hash_len(const char *key, size_t *len); /* and its strlen */
int strmap_get_padded(const strmap_t *map, const char *key, uint32_t hash, size_t *value);
strmap_slot_t *strmap_find_slot_padded(strmap_t *map, const char *key, uint32_t hash);

/* The bytes of w that are zero have their high bit set, the lowest one
 * exactly (higher ones may be false). */
static inline uint64_t strmap_zero_bytes(uint64_t w) {
    return (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
}

/* Two padded strings are equal: words compare equal up to the terminator's. */
static inline int strmap_padded_equal(const char *a, const char *b) {
    for (;; a += 8, b += 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        if (strmap_zero_bytes(x))
            return 1;
    }
}

#endif
