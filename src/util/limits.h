/* Every limit of tokend in one place (DESIGN.md). API.md §17.4 fixes the user-visible ones. */
#ifndef TK_UTIL_LIMITS_H
#define TK_UTIL_LIMITS_H

#define TK_MAX_BODY_BYTES (1024 * 1024)           /* larger request bodies: 413 */
#define TK_MAX_QUERY_BYTES (8 * 1024)             /* larger query strings: 414 */
#define TK_MAX_DISCARD_BYTES (16 * 1024 * 1024)   /* refused chunked body read before closing */
#define TK_MAX_URI_BYTES (10 * 1024)              /* whole request target: 414 */
#define TK_MAX_HEADER_BYTES (16 * 1024)           /* all request headers together: 431 */
#define TK_MHD_POOL_BYTES (64 * 1024)             /* per-connection memory of libmicrohttpd */
#define TK_MAX_SEARCH_CHARS 1024                  /* longer search: 400 */
#define TK_MAX_SEARCH_TERMS 512                   /* what 1024 characters can hold */
#define TK_MAX_PAGE_SIZE 1000                     /* larger page_size is clamped */
#define TK_DEFAULT_PAGE_SIZE 100                  /* SEED default, API.md §9 */
#define TK_MAX_JSON_DEPTH 64                      /* deeper request JSON: 400 */
#define TK_MAX_ORDERING_FIELDS 16                 /* distinct ordering fields (8 exist) */
#define TK_MAX_CONNECTIONS 4096                   /* beyond: refused by the HTTP layer */
#define TK_CONNECTION_TIMEOUT_S 30                /* idle or slow connections are closed */
#define TK_MAX_GROUP_DEPTH 20                     /* group ancestry levels, API.md §4.1 */
#define TK_ARENA_MAX_BYTES (64u * 1024 * 1024)    /* one request's memory */
#define TK_MAX_RESPONSE_BYTES (32u * 1024 * 1024) /* one response body */
#define TK_KEY_LENGTH_DEFAULT 60                  /* API.md §13 */
#define TK_KEY_LENGTH_MAX 1024                    /* generated keys (TOKEND_KEY_LENGTH) */
#define TK_SET_KEY_MAX_BYTES TK_MAX_BODY_BYTES    /* set_key: no limit but the body's (§7.8) */
#define TK_MAX_IDENTIFIER_CHARS 255
/* Bulk work in bounded memory and short statements (issue 13.7): a user's tokens are deleted
 * and audited this many per statement, events inserted up to TK_EVENT_INSERT_ROWS rows per
 * statement (in chunks of powers of TK_EVENT_INSERT_STEP), expired events removed this many
 * per statement by the sweeper. */
#define TK_USER_DELETE_BATCH 512
#define TK_EVENT_INSERT_ROWS 512
#define TK_EVENT_INSERT_STEP 8
#define TK_EVENT_EXPIRE_BATCH 5000
#define TK_MAX_TOKENS_PER_USER_DEFAULT 10000 /* TOKEND_MAX_TOKENS_PER_USER */

#endif
