/* Token keys: generation (CSPRNG), the keyed hash that serves lookup, and the sealed copy that
 * serves view_key (docs/api.md §13, §17.5). The server secret never leaves this module's structs;
 * plaintext keys exist only in caller buffers, which callers wipe with sodium_memzero.
 * Thread-safe after tk_crypto_init(). */
#ifndef TK_CRYPTO_KEYS_H
#define TK_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

#define TK_KEY_HASH_BYTES 32
/* Sealed key = 24-byte nonce || ciphertext || 16-byte tag. */
#define TK_SEAL_OVERHEAD (24 + 16)

#define TK_SECRET_CHECK_BYTES 32

struct tk_secret {
    uint8_t lookup[32]; /* BLAKE2b key for key hashes */
    uint8_t seal[32];   /* XChaCha20-Poly1305 key for sealed keys */
    /* Recorded in the database, so that a start with another secret is refused (issue 13.3).
     * A subkey of its own: it says nothing about the secret or the other subkeys. */
    uint8_t check[TK_SECRET_CHECK_BYTES];
};

/* How a secret given as text (TOKEND_SECRET_KEY) is stretched: Argon2id (libsodium's
 * crypto_pwhash, version 1.3) with a random salt. The salt and the costs are kept in the
 * database (every process on it must derive the same key), so the costs can be raised later
 * without breaking existing databases. The defaults are libsodium's INTERACTIVE level. */
#define TK_PWHASH_SALT_BYTES 16
#define TK_PWHASH_OPS 2               /* passes (crypto_pwhash_OPSLIMIT_INTERACTIVE) */
#define TK_PWHASH_MEM_KIB (64 * 1024) /* memory (MEMLIMIT_INTERACTIVE); checksrc: allow a cost */
#define TK_PWHASH_TEXT_MAX 96         /* tk_pwhash_format's output, NUL included */

struct tk_pwhash {
    uint64_t ops;     /* passes, t */
    uint64_t mem_kib; /* memory in KiB, m */
    uint8_t salt[TK_PWHASH_SALT_BYTES];
};

/* Initialises libsodium. Call once before any thread starts. */
int tk_crypto_init(void) TK_MUST_USE;

/* Fresh Argon2id parameters: a random salt, the default costs. */
void tk_pwhash_new(struct tk_pwhash *p);
/* The parameters as text, in the PHC string format without a hash:
 * "$argon2id$v=19$m=65536,t=2,p=1$<salt, base64 without padding>". */
void tk_pwhash_format(const struct tk_pwhash *p, char out[TK_PWHASH_TEXT_MAX]);
/* Parses tk_pwhash_format's text. TK_ERR_INVALID for anything else, and for costs outside
 * TK_PWHASH_MIN_* .. TK_PWHASH_MAX_* (limits.h). */
int tk_pwhash_parse(const char *text, struct tk_pwhash *p) TK_MUST_USE;

/* Derives the working keys from a secret given as text (TOKEND_SECRET_KEY): any non-empty
 * string, stretched with Argon2id under p. TK_ERR_INVALID for an empty text, TK_ERR_NOMEM when
 * the memory Argon2id needs cannot be had. Takes about 50 ms at the default costs. */
int tk_secret_from_passphrase(struct tk_secret *s, const char *text,
                              const struct tk_pwhash *p) TK_MUST_USE;

/* The derivation of text secrets before issue 13: one unkeyed BLAKE2b pass. Used only to open
 * the keys of a database made that way, once, while they are re-keyed under Argon2id. */
int tk_secret_from_text_blake2b(struct tk_secret *s, const char *text) TK_MUST_USE;

/* Loads the master secret from path (64 hex characters). TK_ERR_NOTFOUND when the file does
 * not exist (nothing is created); a file readable or writable by group or others, or not a
 * regular file, is refused (TK_ERR_INVALID); *why gets a reason on every error. */
int tk_secret_file_read(struct tk_secret *s, const char *path, const char **why) TK_MUST_USE;

/* Creates path with a fresh random secret, atomically: written to a 0600 temporary file beside
 * it, fsynced, linked to path (which must not exist) and the directory fsynced, so a crash
 * leaves either no file or a whole one. When another process created path first, its secret
 * is read and used instead (two processes starting together end with one secret). */
int tk_secret_file_create(struct tk_secret *s, const char *path, const char **why) TK_MUST_USE;

void tk_secret_wipe(struct tk_secret *s);

/* Writes len random characters of [A-Za-z0-9] and a NUL into out (len + 1 bytes). */
void tk_key_generate(char *out, size_t len);

/* Keyed hash of a key for lookup. */
/* A slot among n of a table keyed by a key hash (the per-thread caches): the hash is keyed, its
 * bytes are spread uniformly already. */
static inline size_t tk_key_hash_slot(const uint8_t hash[TK_KEY_HASH_BYTES], size_t n)
{
    uint32_t h;
    memcpy(&h, hash, sizeof(h));
    return h % n;
}
void tk_key_hash(const struct tk_secret *s, const char *key, size_t len,
                 uint8_t out[TK_KEY_HASH_BYTES]);

/* Seals key, bound to the token's uuid (a sealed key moved to another row will not open).
 * Appends TK_SEAL_OVERHEAD + len bytes to out. */
int tk_key_seal(const struct tk_secret *s, const char *token_uuid, const char *key, size_t len,
                struct tk_buf *out) TK_MUST_USE;

/* Opens a sealed key into out (NUL-terminated). TK_ERR_CRYPTO if it does not authenticate. */
int tk_key_open(const struct tk_secret *s, const char *token_uuid, const uint8_t *sealed,
                size_t sealed_len, struct tk_buf *out) TK_MUST_USE;

/* A user's password hashed for storage, libsodium's crypto_pwhash_str (Argon2id at the
 * INTERACTIVE costs) into out. tokend has no password logins: it keeps the hash for parity with
 * authentik's user model. TK_ERR_NOMEM when the hash cannot be computed. */
#define TK_PASSWORD_HASH_BYTES 128 /* crypto_pwhash_STRBYTES */
int tk_password_hash(const char *password, char out[TK_PASSWORD_HASH_BYTES]) TK_MUST_USE;

/* Random UUID v4, lowercase canonical form, into out (37 bytes). */
void tk_uuid4(char out[37]);

#endif
