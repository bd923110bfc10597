/* Fuzz target: JSON request-body validation for tokens, users and groups: the same body is
 * sent as a token create, a token PATCH, a user create and a group create, through the real
 * handlers on an in-memory store. Nothing may crash, leak, or answer 500. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct inproc P;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        if (inproc_open(&P) != 0)
            abort();
        struct inproc_res r =
            inproc_call(&P, "POST", "/api/v3/core/tokens/", NULL, "Bearer " INPROC_ADMIN_KEY,
                        "{\"identifier\":\"fixed\"}", 22);
        free(r.body);
        ready = 1;
    }
    if (size > 64 * 1024)
        return 0;
    static const struct {
        const char *method, *path;
    } targets[] = {
        {"POST", "/api/v3/core/tokens/"},
        {"PATCH", "/api/v3/core/tokens/fixed/"},
        {"POST", "/api/v3/core/users/"},
        {"POST", "/api/v3/core/groups/"},
        {"POST", "/api/v3/core/tokens/fixed/set_key/"},
        {"POST", "/api/v3/core/users/service_account/"},
    };
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        struct inproc_res r = inproc_call(&P, targets[i].method, targets[i].path, NULL,
                                          "Bearer " INPROC_ADMIN_KEY, (const char *)data, size);
        if (r.status >= 500 && r.status != 503)
            abort();
        free(r.body);
    }
    return 0;
}
