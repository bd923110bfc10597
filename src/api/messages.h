/* The messages of DRF and Django that tokend's answers repeat word for word (docs/api.md §1.1),
 * written once. String literals, so that they also serve as printf formats where they take a
 * value (the %-conversions are part of DRF's template). */
#ifndef TK_API_MESSAGES_H
#define TK_API_MESSAGES_H

/* field errors (400 {"<field>": [...]}) */
#define TK_MSG_REQUIRED "This field is required."
#define TK_MSG_NULL "This field may not be null."
#define TK_MSG_BLANK "This field may not be blank."
#define TK_MSG_UNIQUE "This field must be unique."
#define TK_MSG_NUL_CHARS "Null characters are not allowed."
#define TK_MSG_NOT_STRING "Not a valid string."
#define TK_MSG_BOOLEAN "Must be a valid boolean."
#define TK_MSG_DATETIME "Enter a valid date/time."
#define TK_MSG_UUID "Enter a valid UUID."
#define TK_MSG_MAX_LENGTH "Ensure this field has no more than %zu characters."
#define TK_MSG_PK_TYPE "Incorrect type. Expected pk value, received %s." /* a type name */
#define TK_MSG_PK_MISSING_PREFIX "Invalid pk \""                         /* then the value */
#define TK_MSG_PK_MISSING_SUFFIX "\" - object does not exist."
#define TK_MSG_PK_MISSING TK_MSG_PK_MISSING_PREFIX "%s" TK_MSG_PK_MISSING_SUFFIX /* the value */
#define TK_MSG_CHOICE_PREFIX "Select a valid choice. " /* then the value */
#define TK_MSG_CHOICE_SUFFIX " is not one of the available choices."

/* tokend's own fields (docs/api.md §19.1) */
#define TK_MSG_LIST_TYPE "Expected a list of items."
#define TK_MSG_SCOPE                                                                               \
    "Each scope must be 1 to 128 characters: a letter or digit, then letters, digits or . _ : / "  \
    "-."
#define TK_MSG_SCOPES_MAX "Ensure this field has no more than 64 elements."
#define TK_MSG_NETWORKS_MAX "Ensure this field has no more than 64 elements."
#define TK_MSG_NETWORK "Enter valid IPv4 or IPv6 addresses or networks."
#define TK_MSG_RATE                                                                                \
    "Enter a rate such as \"100/minute\": 1 to 1000000000 per second, minute, hour or day."
#define TK_MSG_USES "A valid integer of at least 0 is required."
#define TK_MSG_VIEW_KEY "Select a valid choice: always, once or never."
#define TK_MSG_DURATION "Enter a valid duration."
#define TK_MSG_GRACE_MAX "Ensure the grace is no longer than TOKEND_ROTATE_GRACE_MAX."

/* {"detail": ...} */
#define TK_MSG_FORBIDDEN "You do not have permission to perform this action."
#define TK_MSG_NOT_FOUND "Not found."
#define TK_MSG_INVALID_PAGE "Invalid page."

#endif
