/* Validators and normalisers of request values, with no I/O, as Django applies them behind
 * authentik's serializers: slugs (token identifiers), e-mail addresses (users), and slugify
 * (the identifier of a service account's app password). Pinned by tests/unit/domain. */
#ifndef TK_DOMAIN_VALIDATE_H
#define TK_DOMAIN_VALIDATE_H

#include <stdbool.h>

#include "util/arena.h"

/* Django's validate_slug: one or more of [A-Za-z0-9_-]. */
bool tk_is_slug(const char *s);

/* Django's EmailValidator: a dot-atom local part (or a quoted string), and a domain of
 * dot-separated labels ending in a TLD of 2-63 characters, "localhost", or a [literal]. */
bool tk_email_valid(const char *s);

/* Django's slugify of s, into the arena; NULL when out of memory. */
char *tk_slugify(struct tk_arena *a, const char *s);

#endif
