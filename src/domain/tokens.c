/* Token rules without I/O (tokens.h). */
#include "domain/tokens.h"

#include <string.h>

bool tk_intent_valid(const char *s, size_t len)
{
    static const char *const intents[] = {"api", "app_password", "recovery", "verification"};
    for (size_t i = 0; i < sizeof(intents) / sizeof(intents[0]); i++)
        if (strlen(intents[i]) == len && memcmp(intents[i], s, len) == 0)
            return true;
    return false;
}

int tk_token_set_key(const struct tk_secret *s, struct tk_token_new *t, const char *key, size_t len,
                     struct tk_buf *sealed)
{
    tk_key_hash(s, key, len, t->key_hash);
    tk_buf_reset(sealed);
    int rc = tk_key_seal(s, t->uuid, key, len, sealed);
    if (rc)
        return rc;
    t->key_sealed = sealed->data;
    t->key_sealed_len = sealed->len;
    return 0;
}
