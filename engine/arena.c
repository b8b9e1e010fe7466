/* arena.c -- bump allocator. See arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_BYTES (64 * 1024)
#define ARENA_ALIGN 16

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t size;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_chunk_t;

struct arena {
    arena_chunk_t *head;
};

arena_t *arena_new(void) {
    return calloc(1, sizeof(arena_t));
}

void arena_free(arena_t *arena) {
    if (!arena)
        return;
    arena_chunk_t *chunk = arena->head;
    while (chunk) {
        arena_chunk_t *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(arena);
}

static arena_chunk_t *arena_chunk_new(size_t size) {
    arena_chunk_t *chunk = malloc(sizeof(arena_chunk_t) + size);
    if (!chunk)
        return NULL;
    chunk->next = NULL;
    chunk->used = 0;
    chunk->size = size;
    return chunk;
}

void *arena_alloc_uninit(arena_t *arena, size_t size) {
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    arena_chunk_t *chunk = arena->head;
    if (!chunk || chunk->size - chunk->used < size) {
        if (size > ARENA_CHUNK_BYTES / 4) {
            /* A large block gets a chunk of its own behind the current one, so the
             * space left in the current chunk is not wasted. */
            arena_chunk_t *big = arena_chunk_new(size);
            if (!big)
                return NULL;
            big->used = size;
            if (chunk) {
                big->next = chunk->next;
                chunk->next = big;
            } else {
                arena->head = big;
            }
            return big->data;
        }
        chunk = arena_chunk_new(ARENA_CHUNK_BYTES);
        if (!chunk)
            return NULL;
        chunk->next = arena->head;
        arena->head = chunk;
    }
    void *p = chunk->data + chunk->used;
    chunk->used += size;
    return p;
}

void *arena_alloc(arena_t *arena, size_t size) {
    void *p = arena_alloc_uninit(arena, size);
    if (p)
        memset(p, 0, size);
    return p;
}

char *arena_strndup(arena_t *arena, const char *text, size_t max_len) {
    if (!text)
        return NULL;
    return arena_strcopy(arena, text, strnlen(text, max_len));
}

char *arena_strcopy(arena_t *arena, const char *text, size_t len) {
    if (len > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t size = (len + ARENA_ALIGN) & ~(size_t)(ARENA_ALIGN - 1); /* the terminator, padded */
    char *copy = arena_alloc_uninit(arena, size);
    if (!copy)
        return NULL;
    /* the last 16 bytes hold the terminator: zero them, then copy over the front */
    memset(copy + size - ARENA_ALIGN, 0, ARENA_ALIGN);
    memcpy(copy, text, len);
    return copy;
}

char *arena_strdup(arena_t *arena, const char *text) {
    return text ? arena_strcopy(arena, text, strlen(text)) : NULL;
}
