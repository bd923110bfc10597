/* Hashing for the small in-memory tables (statement caches, per-thread memos): 32-bit FNV-1a and
 * the slot pair of a two-way set-associative table. Not for anything an attacker can aim at a
 * shared structure: FNV-1a has no key, so inputs that collide are easy to make (the throttle and
 * the connection table use a keyed SipHash instead). Inline: it runs once per statement and per
 * rendered user, on the hot path. */
#ifndef TK_UTIL_HASH_H
#define TK_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TK_FNV1A_OFFSET 2166136261u /* FNV-1a 32-bit offset basis */
#define TK_FNV1A_PRIME 16777619u    /* FNV-1a 32-bit prime */

/* FNV-1a of n bytes at p. */
static inline uint32_t tk_fnv1a(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint32_t h = TK_FNV1A_OFFSET;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * TK_FNV1A_PRIME;
    return h;
}

/* FNV-1a of a NUL-terminated string, without its NUL (equals tk_fnv1a(s, strlen(s))). */
static inline uint32_t tk_fnv1a_str(const char *s)
{
    uint32_t h = TK_FNV1A_OFFSET;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * TK_FNV1A_PRIME;
    return h;
}

/* A two-way set-associative table of n_slots slots (even) keeps an entry in either slot of one
 * pair: the index of the pair's first slot for hash h. Two entries whose hashes meet share the
 * pair instead of evicting each other on every use. */
static inline size_t tk_hash_pair(uint32_t h, size_t n_slots)
{
    return (size_t)(h % n_slots) & ~(size_t)1;
}

#endif
