/* Token rules that need no I/O: intents, and turning a plaintext key into what the store
 * keeps (keyed hash + sealed copy, API.md §17.5). */
#ifndef TK_DOMAIN_TOKENS_H
#define TK_DOMAIN_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/keys.h"
#include "store/store.h"
#include "util/buf.h"

/* True for api, app_password, recovery, verification. */
bool tk_intent_valid(const char *s, size_t len);

/* Fills t->key_hash and t->key_sealed (pointing into sealed, which the caller frees) for key,
 * bound to t->uuid. */
int tk_token_set_key(const struct tk_secret *s, struct tk_token_new *t, const char *key, size_t len,
                     struct tk_buf *sealed) TK_MUST_USE;

#endif
