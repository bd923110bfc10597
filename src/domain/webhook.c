/* Webhook receivers' rules (webhook.h). */
#include "domain/webhook.h"

#include <string.h>
#include <strings.h>

#include "domain/token_settings.h"
#include "util/limits.h"

const char *const tk_webhook_types[TK_WEBHOOK_N_TYPES] = {
    "token.created",  "token.updated",        "token.deleted",    "token.rotated",
    "token.expiring", "token.reuse_detected", "token.key_viewed",
};

bool tk_webhook_type_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < TK_WEBHOOK_N_TYPES; i++)
        if (strlen(tk_webhook_types[i]) == len && memcmp(tk_webhook_types[i], s, len) == 0)
            return true;
    return false;
}

bool tk_webhook_url_valid(const char *s, size_t len)
{
    if (len > TK_WEBHOOK_URL_MAX)
        return false;
    size_t skip;
    if (len > 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f)
            return false;
    }
    /* the authority: a host, maybe user info and a port; the host part must not be empty */
    const char *auth = s + skip;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth + auth_len > s + len)
        auth_len = (size_t)(s + len - auth);
    const char *host = memchr(auth, '@', auth_len);
    host = host ? host + 1 : auth;
    size_t host_len = auth_len - (size_t)(host - auth);
    if (host_len == 0 || host[0] == ':')
        return false;
    return true;
}

bool tk_webhook_wants(const char *event_types, const char *type)
{
    return event_types == NULL || tk_words_has(event_types, type, strlen(type));
}
