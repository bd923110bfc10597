/* The server secret against the database (cli.h, issue 13.3; README "The secret"): the database
 * records a check value of the secret its tokens were made with, so a missing or different
 * secret stops a start instead of silently replacing the old one; a secret given as text is
 * stretched with Argon2id under a salt the database keeps. Never prints or logs a secret. */
#include <limits.h>
#include <sodium.h>
#include <string.h>

#include "cli/cli.h"
#include "domain/tokens.h"
#include "util/limits.h"
#include "util/log.h"

#define SETTING_CHECK "secret_check"
#define SETTING_KDF "secret_kdf"
#define CHECK_HEX (2 * TK_SECRET_CHECK_BYTES + 1)
#define SETTING_TEXT_MAX (sizeof("TOKEND_SECRET_KEY_FILE ") + PATH_MAX)
/* Processes starting together may each find the other's record between their read and their
 * write; a few rounds settle it (the second round reads what the first writer recorded). */
#define ROUNDS 4
/* Tokens re-keyed per read: a page of sealed keys fits one arena even when every key is as
 * long as set_key allows (1 MiB). */
#define REKEY_PAGE 32
#define REKEY_ARENA_BYTES TK_ARENA_MAX_BYTES
/* One token's stored key and the settings (allocated as used) */
#define READ_ARENA_BYTES (TK_SET_KEY_MAX_BYTES + TK_MAX_TEXT_BYTES)

/* What the database says about its secret, read in one snapshot. */
struct recorded {
    struct tk_arena *a;
    const char *check; /* hex, NULL when unset */
    const char *kdf;   /* tk_pwhash_format text, NULL when unset */
    bool has_tokens;
    struct tk_token_key oldest; /* valid when has_tokens */
};

static int read_recorded(struct tk_db *db, struct recorded *r)
{
    r->check = r->kdf = NULL;
    r->has_tokens = false;
    int rc = tk_store_read_begin(db);
    if (rc)
        return rc;
    rc = tk_store_setting_get(db, SETTING_CHECK, r->a, &r->check);
    if (rc == TK_ERR_NOTFOUND)
        rc = 0;
    if (rc == 0) {
        rc = tk_store_setting_get(db, SETTING_KDF, r->a, &r->kdf);
        if (rc == TK_ERR_NOTFOUND)
            rc = 0;
    }
    struct tk_token_key *keys = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = tk_store_token_keys(db, 0, 1, r->a, &keys, &n);
    if (rc == 0 && n == 1) {
        r->has_tokens = true;
        r->oldest = keys[0];
    }
    tk_store_read_end(db);
    return rc;
}

static void check_hex(const struct tk_secret *s, char out[CHECK_HEX])
{
    sodium_bin2hex(out, CHECK_HEX, s->check, sizeof(s->check));
}

/* The setting that gave the secret, for messages: "TOKEND_SECRET_KEY" or
 * "TOKEND_SECRET_KEY_FILE <path>". */
static const char *setting(const struct tk_config *c, char *buf, size_t n)
{
    if (c->secret_key != NULL)
        return "TOKEND_SECRET_KEY";
    snprintf(buf, n, "TOKEND_SECRET_KEY_FILE %s", c->secret_key_file);
    return buf;
}

/* Does s open the oldest token's sealed key? It opens only under the secret that sealed it
 * (XChaCha20-Poly1305 authenticates), so this checks a database that has no check value yet. */
static bool opens_oldest(const struct tk_secret *s, const struct recorded *r)
{
    struct tk_buf key;
    tk_buf_init(&key, TK_OPENED_KEY_MAX_BYTES);
    bool ok = tk_key_open(s, r->oldest.uuid, r->oldest.sealed, r->oldest.sealed_len, &key) == 0;
    if (key.data)
        sodium_memzero(key.data, key.cap);
    tk_buf_free(&key);
    return ok;
}

/* ---- writing the records ---- */

#define RACE TK_ERR_CONFLICT /* another process recorded first: read again */

struct record_ctx {
    const struct recorded *r;
    const char *check;   /* hex to record */
    const char *new_kdf; /* parameters to record, or NULL */
};

static int record_tx(struct tk_db *db, void *ctx)
{
    struct record_ctx *c = ctx;
    bool done = false;
    int rc = 0;
    if (c->new_kdf != NULL) {
        rc = tk_store_setting_insert(db, SETTING_KDF, c->new_kdf, &done);
        if (rc == 0 && !done)
            return RACE;
    }
    if (rc == 0 && c->r->check != NULL) {
        /* a different secret over an empty database: still empty? (a token made meanwhile
         * under the recorded secret must not be orphaned) */
        struct tk_arena *a = tk_arena_new(READ_ARENA_BYTES);
        struct tk_token_key *k = NULL;
        size_t n = 0;
        rc = a == NULL ? TK_ERR_NOMEM : tk_store_token_keys(db, 0, 1, a, &k, &n);
        tk_arena_free(a);
        if (rc == 0 && n > 0)
            return RACE;
        if (rc == 0)
            rc = tk_store_setting_replace(db, SETTING_CHECK, c->r->check, c->check, &done);
    } else if (rc == 0) {
        rc = tk_store_setting_insert(db, SETTING_CHECK, c->check, &done);
    }
    return rc == 0 && !done ? RACE : rc;
}

/* Re-keys every token from the old derivation of a text secret (one BLAKE2b pass) to Argon2id,
 * in one transaction: each key is opened under the old secret, hashed and sealed under the new
 * one. Tokens whose key does not open under the old secret were sealed under another secret;
 * they could not be used before either and are left as they are (counted in n_skipped). */
struct rekey_ctx {
    const struct tk_secret *old, *new;
    const char *kdf, *check;
    int64_t n_rekeyed, n_skipped;
};

static int rekey_page(struct tk_db *db, struct rekey_ctx *c, struct tk_arena *a, int64_t *after,
                      bool *more)
{
    struct tk_token_key *keys = NULL;
    size_t n = 0;
    int rc = tk_store_token_keys(db, *after, REKEY_PAGE, a, &keys, &n);
    *more = rc == 0 && n == REKEY_PAGE;
    struct tk_buf key, sealed;
    tk_buf_init(&key, TK_OPENED_KEY_MAX_BYTES);
    tk_buf_init(&sealed, TK_SEALED_KEY_MAX_BYTES);
    for (size_t i = 0; i < n && rc == 0; i++) {
        *after = keys[i].id;
        tk_buf_reset(&key);
        if (tk_key_open(c->old, keys[i].uuid, keys[i].sealed, keys[i].sealed_len, &key) != 0) {
            c->n_skipped++;
            continue;
        }
        struct tk_token_new t = {.uuid = keys[i].uuid};
        rc = tk_token_set_key(c->new, &t, key.data, key.len, &sealed);
        if (rc == 0)
            rc = tk_store_token_set_key(db, keys[i].id, t.key_hash, t.key_sealed, t.key_sealed_len,
                                        TK_KEY_RESEALED);
        c->n_rekeyed += rc == 0;
    }
    if (key.data)
        sodium_memzero(key.data, key.cap);
    tk_buf_free(&key);
    tk_buf_free(&sealed);
    return rc;
}

static int rekey_tx(struct tk_db *db, void *ctx)
{
    struct rekey_ctx *c = ctx;
    c->n_rekeyed = c->n_skipped = 0;
    bool done = false;
    /* the parameters first: a second process re-keying at the same time waits here, then
     * finds them recorded and derives from them instead */
    int rc = tk_store_setting_insert(db, SETTING_KDF, c->kdf, &done);
    if (rc == 0 && !done)
        return RACE;
    struct tk_arena *a = tk_arena_new(REKEY_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    int64_t after = 0;
    for (bool more = true; rc == 0 && more;) {
        rc = rekey_page(db, c, a, &after, &more);
        tk_arena_free(a);
        a = more ? tk_arena_new(REKEY_ARENA_BYTES) : NULL;
        if (more && a == NULL)
            rc = TK_ERR_NOMEM;
    }
    tk_arena_free(a);
    if (rc == 0)
        rc = tk_store_setting_insert(db, SETTING_CHECK, c->check, &done);
    return rc == 0 && !done ? RACE : rc;
}

/* ---- one round: read, derive, compare, record ---- */

struct round {
    const struct tk_config *cfg;
    struct tk_db *db;
    enum tk_secret_mode mode;
    char *err;
    size_t err_len;
};

/* The secret from the file: read it, or create it when the database holds no token (a missing
 * file beside a database with tokens is a restore on a new host or a typo: never replace). */
static int file_secret(const struct round *o, const struct recorded *r, struct tk_secret *s)
{
    const char *path = o->cfg->secret_key_file;
    const char *why = NULL;
    int rc = tk_secret_file_read(s, path, &why);
    if (rc == TK_ERR_NOTFOUND && r->has_tokens) {
        snprintf(o->err, o->err_len,
                 "TOKEND_SECRET_KEY_FILE %s does not exist, and the database holds tokens made "
                 "under a secret: put that secret file there (tokend creates a new secret only "
                 "for a database without tokens)",
                 path);
        return TK_ERR_INVALID;
    }
    if (rc == TK_ERR_NOTFOUND && o->mode == TK_SECRET_VERIFY)
        return rc; /* nothing to check against: the first start creates the file */
    if (rc == TK_ERR_NOTFOUND) {
        rc = tk_secret_file_create(s, path, &why);
        if (rc == 0)
            tk_log(TK_LOG_INFO, "tokend", "created the secret key file %s", path);
    }
    if (rc)
        snprintf(o->err, o->err_len, "TOKEND_SECRET_KEY_FILE %s: %s", path,
                 why ? why : tk_strerror(rc));
    return rc;
}

static int mismatch(const struct round *o, const char *how)
{
    char buf[SETTING_TEXT_MAX];
    snprintf(o->err, o->err_len,
             "%s is not the secret this database's tokens were made with (%s): start with that "
             "secret; a new secret is taken only by a database without tokens",
             setting(o->cfg, buf, sizeof(buf)), how);
    return TK_ERR_INVALID;
}

static int one_round(const struct round *o, struct tk_secret *out)
{
    struct recorded r = {.a = tk_arena_new(READ_ARENA_BYTES)};
    if (r.a == NULL)
        return TK_ERR_NOMEM;
    struct tk_secret s, legacy;
    struct tk_pwhash p;
    char kdf[TK_PWHASH_TEXT_MAX], check[CHECK_HEX];
    const char *new_kdf = NULL;
    bool is_legacy = false;
    int rc = read_recorded(o->db, &r);
    if (rc) {
        snprintf(o->err, o->err_len, "cannot read the database: %s", tk_strerror(rc));
        goto done;
    }
    const char *text = o->cfg->secret_key;
    if (text == NULL) {
        rc = file_secret(o, &r, &s);
        if (rc == TK_ERR_NOTFOUND) { /* TK_SECRET_VERIFY of a database without tokens */
            memset(out, 0, sizeof(*out));
            rc = 0;
            goto done;
        }
    } else if (r.kdf != NULL) {
        if (tk_pwhash_parse(r.kdf, &p) != 0) {
            snprintf(o->err, o->err_len,
                     "TOKEND_SECRET_KEY cannot be used: the database's secret_kdf setting \"%.*s\" "
                     "is not understood by this tokend",
                     TK_PWHASH_TEXT_MAX, r.kdf);
            rc = TK_ERR_INVALID;
        } else {
            rc = tk_secret_from_passphrase(&s, text, &p);
        }
    } else if (r.has_tokens && r.check == NULL) {
        /* made before issue 13: text secrets were one BLAKE2b pass */
        is_legacy = true;
        rc = tk_secret_from_text_blake2b(&legacy, text);
        tk_pwhash_new(&p);
        if (rc == 0)
            rc = tk_secret_from_passphrase(&s, text, &p);
        tk_pwhash_format(&p, kdf);
        new_kdf = kdf;
    } else {
        tk_pwhash_new(&p);
        tk_pwhash_format(&p, kdf);
        new_kdf = kdf;
        rc = tk_secret_from_passphrase(&s, text, &p);
    }
    if (rc) {
        if (o->err[0] == '\0')
            snprintf(o->err, o->err_len, "TOKEND_SECRET_KEY: %s", tk_strerror(rc));
        goto done;
    }
    check_hex(&s, check);

    if (r.check != NULL && strcmp(r.check, check) == 0) {
        *out = s;
        goto done; /* the recorded secret */
    }
    if (r.check != NULL && r.has_tokens) {
        rc = mismatch(o, "its check value differs from the one the database recorded");
        goto done;
    }
    if (r.check == NULL && r.has_tokens && !opens_oldest(is_legacy ? &legacy : &s, &r)) {
        rc = mismatch(o, "the oldest token's sealed key does not open under it");
        goto done;
    }
    if (o->mode == TK_SECRET_VERIFY) {
        /* restore's check of a backup: right as far as it can tell; the first start records */
        *out = s;
        goto done;
    }
    if (is_legacy) {
        struct rekey_ctx c = {.old = &legacy, .new = &s, .kdf = new_kdf, .check = check};
        rc = tk_store_write_tx(o->db, rekey_tx, &c);
        if (rc == 0)
            tk_log(TK_LOG_WARNING, "tokend",
                   "TOKEND_SECRET_KEY is now stretched with Argon2id: %lld tokens re-keyed, %lld "
                   "left as they were (their keys were sealed under another secret)",
                   (long long)c.n_rekeyed, (long long)c.n_skipped);
    } else {
        struct record_ctx c = {.r = &r, .check = check, .new_kdf = new_kdf};
        rc = tk_store_write_tx(o->db, record_tx, &c);
        char buf[SETTING_TEXT_MAX];
        if (rc == 0 && r.check != NULL)
            tk_log(TK_LOG_WARNING, "tokend",
                   "the database holds no tokens: %s is recorded as its new secret",
                   setting(o->cfg, buf, sizeof(buf)));
    }
    if (rc == 0)
        *out = s;
    else if (rc != RACE)
        snprintf(o->err, o->err_len, "cannot record the server secret's check value: %s",
                 tk_strerror(rc));
done:
    sodium_memzero(&s, sizeof(s));
    sodium_memzero(&legacy, sizeof(legacy));
    tk_arena_free(r.a);
    return rc;
}

int tk_cli_secret(const struct tk_config *cfg, struct tk_db *db, enum tk_secret_mode mode,
                  struct tk_secret *out, char *err, size_t err_len)
{
    struct round o = {.cfg = cfg, .db = db, .mode = mode, .err = err, .err_len = err_len};
    err[0] = '\0';
    int rc = RACE;
    for (int i = 0; i < ROUNDS && rc == RACE; i++)
        rc = one_round(&o, out);
    if (rc == RACE)
        snprintf(err, err_len,
                 "the server secret's check value keeps changing: is another "
                 "tokend starting with a different secret?");
    return rc;
}

int tk_cli_secret_current(struct tk_db *db, const struct tk_secret *s, bool *same)
{
    struct tk_arena *a = tk_arena_new(TK_SMALL_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    const char *recorded = NULL;
    char check[CHECK_HEX];
    check_hex(s, check);
    int rc = tk_store_setting_get(db, SETTING_CHECK, a, &recorded);
    *same = rc == 0 && strcmp(recorded, check) == 0;
    tk_arena_free(a);
    return rc == TK_ERR_NOTFOUND ? 0 : rc;
}
