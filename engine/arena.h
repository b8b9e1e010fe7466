/* arena.h -- bump allocation for per-trace and per-profile memory.
 *
 * A profile of a 100k-node trace makes hundreds of thousands of small objects
 * that all die together; one arena turns them into a few large mallocs and a
 * single free. Internal to the engine. */
#ifndef DAGPROF_ARENA_H
#define DAGPROF_ARENA_H

#include <stddef.h>

typedef struct arena arena_t;

arena_t *arena_new(void); /* free with arena_free() */
void arena_free(arena_t *arena);

/* Zeroed memory aligned for any type, or NULL when out of memory. */
void *arena_alloc(arena_t *arena, size_t size);
/* The same without zeroing, for arrays written before they are read: zeroing
 * them was a twentieth of a profile (bench_engine). */
void *arena_alloc_uninit(arena_t *arena, size_t size);
/* String copies are zero-filled past their terminator to a multiple of 16
 * bytes: they can be read 8 bytes at a time up to the word that holds the
 * terminator (strmap.h's padded keys). */
/* Copy of at most max_len bytes of text, NUL-terminated. NULL in gives NULL. */
char *arena_strndup(arena_t *arena, const char *text, size_t max_len);
char *arena_strdup(arena_t *arena, const char *text);
/* Copy of the first len bytes of text (which has at least that many), NUL-terminated. */
char *arena_strcopy(arena_t *arena, const char *text, size_t len);

#endif
