/* Fuzz target: the whole request path (routing, authentication, query and body parsing,
 * validation, handlers, store) against an in-memory SQLite store, without a socket.
 * Input: "METHOD /path?query\n" then "Header: value" lines, an empty line, and the body. The
 * Authorization values ADMIN and PLAIN stand for a superuser's and a plain user's valid keys.
 * Nothing may crash, leak, or answer 500. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct inproc P;
static int ready;
static char plain_key[TK_KEY_LENGTH_MAX + 1];

static void init(void)
{
    if (inproc_open(&P) != 0)
        abort();
    struct tk_db *db = tk_store_db(P.cli.store);
    struct tk_user_new u = {.username = "plain", .name = "Plain", .email = "", .is_active = true};
    int64_t id;
    char uuid[37];
    if (tk_store_user_create(db, &u, 0, &id, uuid) != 0)
        abort();
    char tuuid[37];
    tk_uuid4(tuuid);
    struct tk_token_new t = {.uuid = tuuid,
                             .identifier = "plain-api",
                             .intent = "api",
                             .description = "",
                             .user_id = id,
                             .expiring = false};
    if (tk_cli_token_create(&P.cli, db, &t, NULL, plain_key, 0) != 0)
        abort();
    ready = 1;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        init();
    if (size > 64 * 1024)
        return 0;
    const uint8_t *end = data + size;
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL)
        return 0;
    const uint8_t *sp = memchr(data, ' ', (size_t)(nl - data));
    if (sp == NULL)
        return 0;
    char *method = dup_n(data, (size_t)(sp - data));
    char *target = dup_n(sp + 1, (size_t)(nl - sp - 1));
    char *q = strchr(target, '?');
    const char *query = "";
    if (q != NULL) {
        *q = '\0';
        query = q + 1;
    }
    char *auth = NULL;
    const uint8_t *p = nl + 1;
    while (p < end) {
        const uint8_t *e = memchr(p, '\n', (size_t)(end - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
        if (len == 0) {
            p = e ? e + 1 : end;
            break;
        }
        if (len > 15 && memcmp(p, "Authorization: ", 15) == 0) {
            free(auth);
            auth = dup_n(p + 15, len - 15);
            if (strcmp(auth, "ADMIN") == 0) {
                free(auth);
                auth = strdup("Bearer " INPROC_ADMIN_KEY);
            } else if (strcmp(auth, "PLAIN") == 0) {
                free(auth);
                size_t n = 8 + strlen(plain_key);
                auth = malloc(n);
                snprintf(auth, n, "Bearer %s", plain_key);
            }
        }
        p = e ? e + 1 : end;
    }
    size_t body_len = (size_t)(end - p);
    struct inproc_res r =
        inproc_call(&P, method, target, query, auth, body_len ? (const char *)p : NULL, body_len);
    if (r.status >= 500 && r.status != 503)
        abort(); /* never a 500 (docs/api.md §17.2) */
    free(r.body);
    free(auth);
    free(target);
    free(method);
    return 0;
}
