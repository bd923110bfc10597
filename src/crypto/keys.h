/* Token keys: generation (CSPRNG), the keyed hash that serves lookup, and the sealed copy that
 * serves view_key (API.md §13, §17.5). The server secret never leaves this module's structs;
 * plaintext keys exist only in caller buffers, which callers wipe with sodium_memzero.
 * Thread-safe after tk_crypto_init(). */
#ifndef TK_CRYPTO_KEYS_H
#define TK_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define TK_KEY_HASH_BYTES 32
/* Sealed key = 24-byte nonce || ciphertext || 16-byte tag. */
#define TK_SEAL_OVERHEAD (24 + 16)

struct tk_secret {
    uint8_t lookup[32]; /* BLAKE2b key for key hashes */
    uint8_t seal[32];   /* XChaCha20-Poly1305 key for sealed keys */
};

/* Initialises libsodium. Call once before any thread starts. */
int tk_crypto_init(void) TK_MUST_USE;

/* Derives the working keys from a secret given as text (TOKEND_SECRET_KEY): any non-empty
 * string, hashed to the 32-byte master. */
int tk_secret_from_string(struct tk_secret *s, const char *text) TK_MUST_USE;

/* Loads the master secret from path (64 hex characters), or creates the file with a fresh
 * random secret and mode 0600 when it does not exist. A file readable or writable by group or
 * others is refused (TK_ERR_INVALID, with a reason in *why). */
int tk_secret_from_file(struct tk_secret *s, const char *path, const char **why) TK_MUST_USE;

void tk_secret_wipe(struct tk_secret *s);

/* Writes len random characters of [A-Za-z0-9] and a NUL into out (len + 1 bytes). */
void tk_key_generate(char *out, size_t len);

/* Keyed hash of a key for lookup. */
void tk_key_hash(const struct tk_secret *s, const char *key, size_t len,
                 uint8_t out[TK_KEY_HASH_BYTES]);

/* Seals key, bound to the token's uuid (a sealed key moved to another row will not open).
 * Appends TK_SEAL_OVERHEAD + len bytes to out. */
int tk_key_seal(const struct tk_secret *s, const char *token_uuid, const char *key, size_t len,
                struct tk_buf *out) TK_MUST_USE;

/* Opens a sealed key into out (NUL-terminated). TK_ERR_CRYPTO if it does not authenticate. */
int tk_key_open(const struct tk_secret *s, const char *token_uuid, const uint8_t *sealed,
                size_t sealed_len, struct tk_buf *out) TK_MUST_USE;

/* Random UUID v4, lowercase canonical form, into out (37 bytes). */
void tk_uuid4(char out[37]);

#endif
