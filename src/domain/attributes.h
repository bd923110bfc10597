/* Attribute rules (docs/api.md §6.2 rule 4, §6.3): authentik's deep merge of brand, group and user
 * attributes, and the app-password maximum lifetime taken from the merge. Pure functions over
 * jansson values. */
#ifndef TK_DOMAIN_ATTRIBUTES_H
#define TK_DOMAIN_ATTRIBUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define TK_ATTR_MAX_LIFETIME "goauthentik.io/user/token-maximum-lifetime"
#define TK_ATTR_TOKEN_EXPIRES "goauthentik.io/user/token-expires"

/* Deep-merges src into dst (deepmerge's always_merger): objects merge key by key, arrays are
 * concatenated, anything else is replaced by src's value. */
int tk_attributes_merge_into(json_t *dst, const json_t *src) TK_MUST_USE;

/* Merged attributes: the JSON texts in order (brand, groups by name, user); a text that is not
 * an object is skipped. Returns a new object (caller json_decref) or NULL on memory failure. */
json_t *tk_attributes_merged(const char *const *texts, size_t n);

/* The latest allowed expiry of an app password: now + the merged token-maximum-lifetime when it
 * is a string that parses as a duration (§12.3), else now + default_us. Saturates at the end of
 * year 9999 and the start of year 1. */
int64_t tk_app_password_max_expiry(const json_t *merged, int64_t now, int64_t default_us);

/* The expiring value a non-superuser's new token gets (§6.3): the user's own
 * token-expires attribute by Python truthiness, true when absent. */
bool tk_attributes_token_expiring(const char *user_attributes);

#endif
