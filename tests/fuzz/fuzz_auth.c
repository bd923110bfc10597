/* Fuzz target: the Authorization header parser (docs/api.md §3). A Bearer credential must lie
 * inside the header. */
#include <stdint.h>
#include <stdlib.h>

#include "domain/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *cred = NULL;
    size_t len = 0;
    const char *h = (const char *)data;
    if (tk_auth_parse(h, size, &cred, &len) == TK_AUTH_BEARER) {
        if (cred < h || cred + len > h + size || len == 0)
            abort();
    }
    return 0;
}
