/* Names of the program-wide error codes (error.h). */
#include "util/error.h"

const char *tk_strerror(int err)
{
    switch (err) {
    case TK_OK: return "ok";
    case TK_ERR_NOMEM: return "out of memory";
    case TK_ERR_TOOBIG: return "too big";
    case TK_ERR_INVALID: return "invalid";
    case TK_ERR_NOTFOUND: return "not found";
    case TK_ERR_CONFLICT: return "conflict";
    case TK_ERR_STORE: return "database error";
    case TK_ERR_BUSY: return "database busy or unavailable";
    case TK_ERR_IO: return "I/O error";
    case TK_ERR_FORBIDDEN: return "forbidden";
    case TK_ERR_CRYPTO: return "cryptographic failure";
    case TK_ERR_RETRY: return "transaction conflict";
    case TK_ERR_TIMEOUT: return "statement timeout";
    case TK_ERR_FIELDS: return "invalid fields";
    case TK_ERR_ANSWER: return "refused";
    }
    return "unknown error";
}
