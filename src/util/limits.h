/* Every limit of tokend in one place: a limit is a named constant here, never a number written
 * where it is used (scripts/checksrc keeps it so). docs/api.md §16 lists the user-visible ones. */
#ifndef TK_UTIL_LIMITS_H
#define TK_UTIL_LIMITS_H

#define TK_MAX_BODY_BYTES (1024 * 1024)         /* larger request bodies: 413 */
#define TK_MAX_QUERY_BYTES (8 * 1024)           /* larger query strings: 414 */
#define TK_MAX_DISCARD_BYTES (16 * 1024 * 1024) /* refused chunked body read before closing */
#define TK_MAX_URI_BYTES (10 * 1024)            /* whole request target: 414 */
#define TK_MAX_HEADER_BYTES (16 * 1024)         /* all request headers together: 431 */
#define TK_MHD_POOL_BYTES (64 * 1024)           /* per-connection memory of libmicrohttpd */
#define TK_MAX_SEARCH_CHARS 1024                /* longer search: 400 */
#define TK_MAX_SEARCH_TERMS 64                  /* distinct terms (docs/api.md §8.2): more: 400 */
#define TK_MAX_PAGE_SIZE 1000                   /* larger page_size is clamped */
#define TK_DEFAULT_PAGE_SIZE 100                /* SEED default, docs/api.md §9 */
#define TK_MAX_JSON_DEPTH 64                    /* deeper request JSON: 400 */
#define TK_MAX_ORDERING_FIELDS 16               /* distinct ordering fields (8 exist) */
#define TK_MAX_CONNECTIONS 4096                 /* beyond: refused by the HTTP layer */
#define TK_STATEMENT_TIMEOUT_S 10               /* one statement's budget, then 503 */
#define TK_STATEMENT_TIMEOUT_MAX_S 86400        /* largest TOKEND_STATEMENT_TIMEOUT */
#define TK_CONNECTION_TIMEOUT_S 30              /* idle connections are closed */
#define TK_MAX_CONNECTIONS_PER_IP 256           /* one peer address's share, 1/16 of 4096 */
#define TK_REQUEST_TIMEOUT_S 30                 /* to deliver one whole request (head, body) */
#define TK_CONN_RESERVE_PER_IP 4                /* health-only connections past the share */
#define TK_CONN_RESERVE_TOTAL 32                /* health-only connections past every cap */
#define TK_CONN_RESERVE_LIFE_S 2                /* a health-only connection's whole life */
#define TK_CONN_RESERVE_GRACE_MS 100            /* to send a request before it can be cut */
#define TK_MAX_TRUSTED_PROXIES 1024             /* networks in TOKEND_TRUSTED_PROXIES */
#define TK_MAX_FORWARDED_HOPS 32                /* X-Forwarded-For entries read, from the right */
#define TK_THROTTLE_ADDRESSES 16384             /* addresses the auth-failure throttle tracks */
#define TK_MAX_GROUP_DEPTH 20                   /* group ancestry levels, docs/api.md §4.1 */
#define TK_MAX_CACHED_PAGE_ROWS 100             /* larger list pages are not cached */
#define TK_MAX_CACHED_QUERY_BYTES 1024          /* nor pages of longer query strings */
#define TK_ARENA_MAX_BYTES (64u * 1024 * 1024)  /* one request's memory */
#define TK_MAX_RESPONSE_BYTES (32u * 1024 * 1024) /* one response body */
/* Working memory: the hard caps of tk_buf and tk_arena (util/buf.h, util/arena.h). Storage grows
 * only as far as it is used; an append past the cap fails and the operation answers
 * TK_ERR_TOOBIG or TK_ERR_NOMEM instead of growing without bound. */
#define TK_MAX_TEXT_BYTES (64 * 1024)             /* a name, message, slug or path being built */
#define TK_MAX_FOLD_BYTES (1024 * 1024)           /* a user's or group's search fold, an email's */
#define TK_MAX_LIST_TEXT_BYTES (1024 * 1024)      /* joined from a list: a user's group names */
#define TK_MAX_TOKEN_FOLD_BYTES (4 * 1024 * 1024) /* a token's search fold, description too */
#define TK_MAX_FIELD_ERRORS_BYTES (1024 * 1024)   /* one 400 answer's field errors */
#define TK_MAX_AVATAR_BYTES (1024 * 1024)         /* an avatar (data URI) and the name it draws */
#define TK_MAX_EVENT_CONTEXT_BYTES (256 * 1024)   /* an audit event's context, with http_request */
#define TK_MAX_SQL_BYTES (64 * 1024)              /* one statement's text */
#define TK_MAX_COMMON_TRIGRAM_BYTES 1024          /* kept per connection: search.c */
#define TK_SEARCH_STATS_MIN_CHANGE 1024           /* tokens, before search's trigrams recount */
#define TK_SQL_MAX_PARAMS 2048                    /* parameters bound to one statement */
/* tokend seed's load of tokens (store.h, tk_store_token_bulk_*; issue 17) */
#define TK_TOKEN_BULK_ROWS (TK_SQL_MAX_PARAMS / 15)   /* rows per INSERT, 15 parameters each */
#define TK_TOKEN_BULK_OWNERS 4096                     /* owners' folds remembered (direct-mapped) */
#define TK_TOKEN_BULK_ARENA_BYTES (64u * 1024 * 1024) /* one statement's pending rows */
#define TK_TOKEN_BULK_CACHE_KIB (256 * 1024)       /* SQLite's page cache during the load, in KiB */
#define TK_TOKEN_BULK_COPY_BYTES (8 * 1024 * 1024) /* PostgreSQL: rows per COPY, as text */
#define TK_PG_COPY_CHUNK_BYTES (1024 * 1024)       /* one PQputCopyData call */
#define TK_MAX_LOG_LINE_BYTES (64 * 1024)          /* one log line */
#define TK_MAX_LOG_TARGET_BYTES 1024               /* request target kept in the request log */
#define TK_MAX_LOG_AGENT_BYTES 256                 /* User-Agent kept in the request log */
#define TK_SMALL_ARENA_BYTES (4 * 1024)            /* reads one setting */
#define TK_ROW_ARENA_BYTES (1024 * 1024)           /* reads a few rows: a user, a token */
#define TK_SWEEP_ARENA_BYTES (16u * 1024 * 1024)   /* one sweeper batch of expired tokens */
#define TK_REFOLD_ARENA_BYTES (64u * 1024 * 1024)  /* a renamed user's tokens, folded again */
#define TK_LISTEN_BACKLOG 1024                     /* connections waiting for accept(2) */
#define TK_KEY_LENGTH_DEFAULT 60                   /* docs/api.md §13 */
#define TK_KEY_LENGTH_MAX 1024                     /* generated keys (TOKEND_KEY_LENGTH) */
#define TK_SET_KEY_MAX_BYTES TK_MAX_BODY_BYTES     /* set_key: no limit but the body's (§7.8) */
#define TK_SEALED_KEY_MAX_BYTES (TK_SET_KEY_MAX_BYTES + 256) /* a key sealed (its nonce, tag) */
#define TK_OPENED_KEY_MAX_BYTES (TK_SET_KEY_MAX_BYTES + 1)   /* a key opened, NUL included */
#define TK_MAX_IDENTIFIER_CHARS 255
/* Argon2id costs of a text secret a database may record (issue 13.3; crypto/keys.h): a damaged
 * settings row must not make a start allocate without bound. 1 GiB is libsodium's SENSITIVE. */
#define TK_PWHASH_MIN_OPS 1
#define TK_PWHASH_MAX_OPS 64
#define TK_PWHASH_MIN_MEM_KIB 8
#define TK_PWHASH_MAX_MEM_KIB (1024 * 1024)
/* Bulk work in bounded memory and short statements (issue 13.7): a user's tokens are deleted
 * and audited this many per statement, events inserted up to TK_EVENT_INSERT_ROWS rows per
 * statement (in chunks of powers of TK_EVENT_INSERT_STEP), expired events removed this many
 * per statement by the sweeper. */
#define TK_USER_DELETE_BATCH 512
#define TK_EVENT_INSERT_ROWS 512
#define TK_EVENT_INSERT_STEP 8
#define TK_EVENT_EXPIRE_BATCH 5000
#define TK_REUSE_ALERT_QUIET_US (60 * 1000000LL) /* one suspicious_request per token per minute */
/* Usage and rate limits in memory (api/usage.c): a thread's table of tokens used since the last
 * flush, and one of the 64 shards of rate windows, each at most this many slots (half full). */
#define TK_USAGE_THREAD_MAX_SLOTS 65536
#define TK_RATE_SHARD_MAX_SLOTS 65536
/* A verification answer kept per thread (api/verify_cache.h): the active object rendered, and
 * the identifier, intent, username and scopes; a larger answer is given but not kept. */
#define TK_VERIFIED_BODY_MAX 1024
#define TK_VERIFIED_TEXT_MAX 1024
/* Default worker threads on PostgreSQL: this many per core (a thread waiting on a database on
 * another machine uses no core), at most TK_PG_THREADS_MAX; one per core when the server is on
 * this machine (its work for a waiting thread is done on these cores). */
#define TK_PG_THREADS_PER_CORE 4
#define TK_PG_THREADS_MAX 64
#define TK_RESPONSE_MAX_HEADERS 8 /* headers a handler adds to a response */
#define TK_USAGE_FLUSH_ROWS 500   /* tokens whose usage one statement writes (4 parameters each) */
#define TK_MAX_TOKENS_PER_USER_DEFAULT 10000 /* TOKEND_MAX_TOKENS_PER_USER */

/* Webhooks (docs/api.md §21) */
#define TK_WEBHOOK_URL_MAX 2048              /* characters of a receiver's URL */
#define TK_WEBHOOK_DESCRIPTION_MAX 1024      /* characters of a receiver's description */
#define TK_WEBHOOK_BODY_MAX (16 * 1024)      /* one message's JSON body */
#define TK_WEBHOOK_SECRET_BYTES 32           /* random bytes of a whsec_ secret (24 or more) */
#define TK_WEBHOOK_SECRET_TEXT_MAX 64        /* "whsec_" and base64 of the bytes, NUL included */
#define TK_WEBHOOK_TIMEOUT_MS 10000          /* one attempt, connection to the last byte */
#define TK_WEBHOOK_LEASE_US (30 * 1000000LL) /* a claimed delivery is another's again after */
#define TK_WEBHOOK_RETRY_FOR_US (24 * 3600 * 1000000LL) /* retried for a day, then failed */
#define TK_WEBHOOK_FIRST_RETRY_US (5 * 1000000LL)       /* at most this after the first failure */
#define TK_WEBHOOK_MAX_RETRY_US (3600 * 1000000LL)      /* the backoff's longest wait */
#define TK_WEBHOOK_IN_FLIGHT 32                         /* attempts one process runs at once */
#define TK_WEBHOOK_PER_ENDPOINT 4                       /* of those, to one receiver */
#define TK_WEBHOOK_CLAIM_SCAN 256                       /* due deliveries one claim looks at */
#define TK_WEBHOOK_KEEP_US (7 * 86400 * 1000000LL)      /* finished deliveries and attempts kept */
#define TK_WEBHOOK_NOTICE_TEXT_MAX 64                   /* one of them, as configured */
#define TK_WEBHOOK_NOTICES_MAX 8                        /* durations in TOKEND_EXPIRY_NOTICES */
#define TK_WEBHOOK_NOTICE_BATCH 500 /* expiry notices one sweeper transaction sends */

#endif
