/* tokend's own token settings (docs/api.md §19): scopes that narrow what a token may do, rate
 * limits as DRF writes them, and the key view modes. Pure rules, no I/O: what the API
 * validates, what authentication enforces, and the text the store keeps. */
#ifndef TK_DOMAIN_TOKEN_SETTINGS_H
#define TK_DOMAIN_TOKEN_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TK_MAX_SCOPES 64        /* scopes of one token */
#define TK_MAX_SCOPE_CHARS 128  /* one scope */
#define TK_MAX_NETWORKS 64      /* allowed_networks of one token */
#define TK_RATE_TEXT_MAX 32     /* "1000000000/minute" with its NUL */
#define TK_RATE_MAX 1000000000u /* N of "N/period" */

/* tokend's scopes (docs/api.md §19.2), one bit each; any other valid scope is an application
 * scope and grants nothing on tokend's API. */
enum tk_scope {
    TK_SCOPE_TOKENS_READ = 1u << 0,
    TK_SCOPE_TOKENS_WRITE = 1u << 1,
    TK_SCOPE_TOKENS_KEYS = 1u << 2,
    TK_SCOPE_USERS_READ = 1u << 3,
    TK_SCOPE_USERS_WRITE = 1u << 4,
    TK_SCOPE_GROUPS_READ = 1u << 5,
    TK_SCOPE_GROUPS_WRITE = 1u << 6,
    TK_SCOPE_EVENTS_READ = 1u << 7,
    TK_SCOPE_INTROSPECT = 1u << 8,
};

/* Does s[0..len) match ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$? */
bool tk_scope_valid(const char *s, size_t len);
/* The bit of one of tokend's scopes, 0 for an application scope. */
unsigned tk_scope_bit(const char *s, size_t len);
/* The bits of the scopes in stored text (names joined by single spaces). */
unsigned tk_scopes_mask(const char *text);
/* Is every scope of the stored text `sub` also in `of` (both sorted, space-joined)? */
bool tk_scopes_subset(const char *sub, const char *of);

/* The stored text of a list setting (scopes, allowed_networks; docs/api.md §19.1) is its items
 * joined by single spaces, "" for an empty list. Items hold no space. */

/* The text of a scopes list: the n items (each tk_scope_valid) sorted byte-wise in place and
 * written without repeats into out, which holds at least the items' lengths plus n plus 1 bytes.
 * Returns the text's length. */
size_t tk_scopes_join(const char **items, size_t n, char *out);
/* A list kept in the order given (allowed_networks): appends word (word_len bytes, no space,
 * not empty) to text (len bytes and a NUL) unless it is one of its words already, so each item
 * stays where it first appeared. text has room for len + word_len + 2 bytes. Returns the new
 * length. */
size_t tk_words_add(char *text, size_t len, const char *word, size_t word_len);
/* Is s[0..len) one of the words of a list's stored text? */
bool tk_words_has(const char *text, const char *s, size_t len);

/* A rate limit: n uses per period_s seconds; n 0 is none. */
struct tk_rate {
    uint32_t n;
    uint32_t period_s;
};
/* DRF's throttle rate "N/period": N an integer 1..TK_RATE_MAX written in decimal digits, the
 * period any text starting with s, m, h or d (DRF reads its first letter), without another '/'
 * or a NUL. False for anything else. */
bool tk_rate_parse(const char *s, size_t len, struct tk_rate *out);
/* The canonical text: "N/second", "N/minute", "N/hour" or "N/day". */
void tk_rate_format(const struct tk_rate *r, char out[TK_RATE_TEXT_MAX]);

enum tk_view_mode { TK_VIEW_ALWAYS, TK_VIEW_ONCE, TK_VIEW_NEVER };
/* "always", "once", "never". */
const char *tk_view_mode_name(enum tk_view_mode m);
bool tk_view_mode_parse(const char *s, size_t len, enum tk_view_mode *out);

#endif
