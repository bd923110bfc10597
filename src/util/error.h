/* One error enum for the whole program. 0 is success, every error is negative.
 * Lower layers return these; only src/api/errors.c turns them into HTTP answers. */
#ifndef TK_UTIL_ERROR_H
#define TK_UTIL_ERROR_H

#define TK_MUST_USE __attribute__((warn_unused_result))

enum tk_err {
    TK_OK = 0,
    TK_ERR_NOMEM = -1,     /* allocation failed */
    TK_ERR_TOOBIG = -2,    /* a hard cap was hit */
    TK_ERR_INVALID = -3,   /* input does not parse or validate */
    TK_ERR_NOTFOUND = -4,  /* no such object */
    TK_ERR_CONFLICT = -5,  /* uniqueness or constraint violated */
    TK_ERR_STORE = -6,     /* the database failed */
    TK_ERR_BUSY = -7,      /* the database is locked or unreachable: retry later */
    TK_ERR_IO = -8,        /* file or socket error */
    TK_ERR_FORBIDDEN = -9, /* authenticated, not allowed */
    TK_ERR_CRYPTO = -10,   /* sealing/opening failed (wrong secret, corrupt data) */
    TK_ERR_RETRY = -11,    /* a transaction lost a deadlock or serialization race: rerun it */
    TK_ERR_TIMEOUT = -12,  /* a statement ran past its time budget (TOKEND_STATEMENT_TIMEOUT) */
    /* Outcomes of an API handler that are not program errors (api.h's handler contract): */
    TK_ERR_FIELDS = -13, /* request validation failed; the field errors are in the context */
    TK_ERR_ANSWER = -14, /* refused with an answer the handler described (tk_api_refuse) */
};

/* Static, human readable name of an error code; never NULL. */
const char *tk_strerror(int err);

#endif
