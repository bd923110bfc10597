/* The audit event entity (docs/api.md §11.2): one row of the events list. Plain data. */
#ifndef TK_DOMAIN_EVENT_H
#define TK_DOMAIN_EVENT_H

#include <stdint.h>

struct tk_event {
    char uuid[37];
    const char *action, *app;
    const char *user_json;        /* {"pk":..,"username":..,"email":..} or {} */
    const char *username;         /* NULL without a user */
    const char *context;          /* JSON object */
    const char *context_model_pk; /* NULL if none */
    const char *client_ip;        /* NULL if none */
    const char *brand;            /* JSON object */
    int64_t created, expires;
};

#endif
