/* UTF-8 helpers: validation, repair, Python's notion of whitespace, and the case folding
 * that search uses on every store alike (so SQLite and PostgreSQL answer the same). */
#ifndef TK_UTIL_UTF8_H
#define TK_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
 * NUL bytes are valid UTF-8. */
bool tk_utf8_valid(const char *s, size_t len);

/* Decodes one code point at s[0..len). Returns the bytes consumed (>= 1) and *cp; an invalid
 * sequence consumes its maximal invalid prefix (>= 1 byte) as Python's "replace" error handler
 * does, and yields U+FFFD. len must be > 0. */
size_t tk_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Appends the UTF-8 encoding of cp (<= U+10FFFF) to out. */
int tk_utf8_put(struct tk_buf *out, uint32_t cp);

/* Appends s to out with each invalid sequence replaced by U+FFFD, exactly as
 * bytes.decode("utf-8", "replace") does (Django decodes query strings this way). */
int tk_utf8_repair(const char *s, size_t len, struct tk_buf *out);

/* Python's str.isspace() for one code point: \t \n \v \f \r, \x1c-\x1f, space, U+0085,
 * U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
bool tk_unicode_isspace(uint32_t cp);

/* Simple lower-case mapping of one code point: ASCII, Latin-1 Supplement, Latin Extended-A,
 * Greek and Cyrillic (the 1:1 mappings of Unicode's simple case folding in those blocks).
 * Other code points map to themselves. */
uint32_t tk_unicode_tolower(uint32_t cp);
/* The inverse mapping on the same blocks (used for avatar initials). */
uint32_t tk_unicode_toupper(uint32_t cp);

/* Appends the lower-case fold of s (invalid sequences become U+FFFD) to out. Case-insensitive
 * substring search compares folds: fold(haystack) contains fold(needle). */
int tk_utf8_fold(const char *s, size_t len, struct tk_buf *out);

/* Number of code points in s (invalid sequences count as one per replacement). */
size_t tk_utf8_length(const char *s, size_t len);

#endif
