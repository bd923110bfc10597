/* Webhook receivers and their messages (docs/api.md §21): the endpoint object, the message types
 * and the checks of a receiver's URL and type list. Pure rules, no I/O. */
#ifndef TK_DOMAIN_WEBHOOK_H
#define TK_DOMAIN_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A receiver as the store keeps it; strings in the caller's arena. */
struct tk_webhook {
    int64_t id;
    char uuid[37];
    const char *url;
    const char *event_types; /* NULL: every type; else the types sorted, space-joined */
    bool enabled;
    const char *description;
    int64_t created;
};

/* One attempt to deliver a message to a receiver (the deliveries/ list). */
struct tk_webhook_attempt {
    const char *msg_id, *type;
    int64_t attempt;
    bool has_status;
    int64_t status;
    const char *error; /* NULL when a status came back */
    int64_t at;
};

#define TK_WEBHOOK_N_TYPES 7
/* The message types, in the order docs/api.md §21.3 lists them. */
extern const char *const tk_webhook_types[TK_WEBHOOK_N_TYPES];

/* Is s[0..len) one of the message types? */
bool tk_webhook_type_valid(const char *s, size_t len);

/* Is s[0..len) a URL a receiver may have: http:// or https:// (any case), a host, no spaces or
 * control characters, at most TK_WEBHOOK_URL_MAX characters? Where it points is checked at each
 * delivery (the addresses a name has then), not here. */
bool tk_webhook_url_valid(const char *s, size_t len);

/* Does a receiver's stored type list (NULL: every type) include type? */
bool tk_webhook_wants(const char *event_types, const char *type);

#endif
