/* UUID text forms as Python's uuid.UUID(hex=...) accepts them (Django's UUIDField): 32 hex
 * digits with optional dashes, braces and "urn:uuid:" prefix, any case. */
#ifndef TK_UTIL_UUID_H
#define TK_UTIL_UUID_H

#include <stdbool.h>
#include <stddef.h>

/* Parses s into the lowercase canonical form (8-4-4-4-12) in out. */
bool tk_uuid_parse(const char *s, size_t len, char out[37]);

#endif
