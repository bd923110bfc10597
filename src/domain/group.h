/* The group entity (docs/api.md §10.2, §14.2): what tokend knows of a group, and what a write
 * gives it. Plain data; the rules over it are in domain/user.h (num_pk) and the API. */
#ifndef TK_DOMAIN_GROUP_H
#define TK_DOMAIN_GROUP_H

#include <stdbool.h>
#include <stdint.h>

struct tk_group {
    int64_t id;
    char uuid[37];
    const char *name;
    bool is_superuser;
    bool has_parent;
    char parent_uuid[37];
    const char *parent_name; /* NULL without parent */
    const char *attributes;  /* compact JSON object */
};

struct tk_group_new {
    const char *name;
    bool is_superuser;
    int64_t parent_id;      /* 0: none */
    const char *attributes; /* NULL: {} */
};

#endif
