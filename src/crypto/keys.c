/* Keys at rest (keys.h): BLAKE2b keyed hashing for lookup, XChaCha20-Poly1305 sealing for
 * view_key, both keyed by subkeys derived from one server secret; the secret comes from a file
 * of 32 random bytes or from text stretched with Argon2id. */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/limits.h"

#define KDF_CONTEXT "tokend__"

int tk_crypto_init(void)
{
    return sodium_init() < 0 ? TK_ERR_CRYPTO : 0;
}

static void derive(struct tk_secret *s, const uint8_t master[crypto_kdf_KEYBYTES])
{
    crypto_kdf_derive_from_key(s->lookup, sizeof(s->lookup), 1, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(s->seal, sizeof(s->seal), 2, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(s->check, sizeof(s->check), 3, KDF_CONTEXT, master);
}

/* ---- text secrets ---- */

void tk_pwhash_new(struct tk_pwhash *p)
{
    p->ops = TK_PWHASH_OPS;
    p->mem_kib = TK_PWHASH_MEM_KIB;
    randombytes_buf(p->salt, sizeof(p->salt));
}

#define PHC_PREFIX "$argon2id$v=19$"

void tk_pwhash_format(const struct tk_pwhash *p, char out[TK_PWHASH_TEXT_MAX])
{
    char salt[sodium_base64_ENCODED_LEN(TK_PWHASH_SALT_BYTES,
                                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    sodium_bin2base64(salt, sizeof(salt), p->salt, sizeof(p->salt),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    snprintf(out, TK_PWHASH_TEXT_MAX, PHC_PREFIX "m=%llu,t=%llu,p=1$%s",
             (unsigned long long)p->mem_kib, (unsigned long long)p->ops, salt);
}

int tk_pwhash_parse(const char *text, struct tk_pwhash *p)
{
    unsigned long long m = 0, t = 0;
    int used = 0;
    if (strncmp(text, PHC_PREFIX, strlen(PHC_PREFIX)) != 0 ||
        sscanf(text + strlen(PHC_PREFIX), "m=%llu,t=%llu,p=1$%n", &m, &t, &used) != 2 || used == 0)
        return TK_ERR_INVALID;
    if (t < TK_PWHASH_MIN_OPS || t > TK_PWHASH_MAX_OPS || m < TK_PWHASH_MIN_MEM_KIB ||
        m > TK_PWHASH_MAX_MEM_KIB)
        return TK_ERR_INVALID;
    const char *b64 = text + strlen(PHC_PREFIX) + used;
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(p->salt, sizeof(p->salt), b64, strlen(b64), NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        n != sizeof(p->salt) || *end != '\0')
        return TK_ERR_INVALID;
    p->ops = t;
    p->mem_kib = m;
    return 0;
}

int tk_secret_from_passphrase(struct tk_secret *s, const char *text, const struct tk_pwhash *p)
{
    if (text == NULL || *text == '\0')
        return TK_ERR_INVALID;
    uint8_t master[crypto_kdf_KEYBYTES];
    /* crypto_pwhash fails only when it cannot have the memory (the costs were checked) */
    if (crypto_pwhash(master, sizeof(master), text, strlen(text), p->salt, p->ops,
                      (size_t)p->mem_kib * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(master, sizeof(master));
        return TK_ERR_NOMEM;
    }
    derive(s, master);
    sodium_memzero(master, sizeof(master));
    return 0;
}

int tk_secret_from_text_blake2b(struct tk_secret *s, const char *text)
{
    if (text == NULL || *text == '\0')
        return TK_ERR_INVALID;
    uint8_t master[crypto_kdf_KEYBYTES];
    crypto_generichash(master, sizeof(master), (const uint8_t *)text, strlen(text), NULL, 0);
    derive(s, master);
    sodium_memzero(master, sizeof(master));
    return 0;
}

/* ---- secret files ---- */

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return TK_ERR_IO;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

int tk_secret_file_read(struct tk_secret *s, const char *path, const char **why)
{
    uint8_t master[crypto_kdf_KEYBYTES];
    char hex[2 * sizeof(master) + 2];
    int rc = TK_ERR_IO;
    *why = NULL;

    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT ? "the file does not exist" : strerror(errno);
        return errno == ENOENT ? TK_ERR_NOTFOUND : TK_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        rc = TK_ERR_INVALID;
        goto close_fd;
    }
    if (st.st_mode & 077) {
        *why = "the file is accessible by group or others (chmod 600 it)";
        rc = TK_ERR_INVALID;
        goto close_fd;
    }
    size_t len = 0;
    if (read_all(fd, hex, sizeof(hex), &len) != 0) {
        *why = "cannot read the file";
        goto close_fd;
    }
    while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r' || hex[len - 1] == ' '))
        len--;
    size_t bin_len = 0;
    if (len != 2 * sizeof(master) ||
        sodium_hex2bin(master, sizeof(master), hex, len, NULL, &bin_len, NULL) != 0 ||
        bin_len != sizeof(master)) {
        *why = "the file must hold 64 hexadecimal characters";
        rc = TK_ERR_INVALID;
        goto close_fd;
    }
    derive(s, master);
    rc = 0;
close_fd:
    close(fd);
    sodium_memzero(master, sizeof(master));
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return TK_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory holding path: a new name in it survives a crash only then. */
static int sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof(dir))
        return TK_ERR_IO;
    if (n == 0)
        dir[n++] = '.';
    else
        memcpy(dir, path, n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return TK_ERR_IO;
    int rc = fsync(fd) == 0 ? 0 : TK_ERR_IO;
    close(fd);
    return rc;
}

int tk_secret_file_create(struct tk_secret *s, const char *path, const char **why)
{
    uint8_t master[crypto_kdf_KEYBYTES];
    char hex[2 * sizeof(master) + 2];
    char tmp[PATH_MAX];
    int rc = TK_ERR_IO;
    *why = NULL;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
        *why = "the path is too long";
        return TK_ERR_INVALID;
    }
    /* mkostemp: a new file (O_EXCL), mode 0600, that nobody else writes */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return TK_ERR_IO;
    }
    randombytes_buf(master, sizeof(master));
    sodium_bin2hex(hex, sizeof(hex), master, sizeof(master));
    size_t hl = strlen(hex);
    hex[hl] = '\n';
    if (fchmod(fd, 0600) != 0 || write_all(fd, hex, hl + 1) != 0 || fsync(fd) != 0) {
        *why = "cannot write the secret key file";
        close(fd);
        unlink(tmp);
        goto wipe;
    }
    close(fd);
    /* link() publishes the whole file under path, or fails with EEXIST when another process
     * was first: then its secret is the one (never overwrite a secret file) */
    int linked = link(tmp, path) == 0 ? 0 : errno;
    unlink(tmp);
    if (linked == EEXIST) {
        sodium_memzero(master, sizeof(master));
        sodium_memzero(hex, sizeof(hex));
        return tk_secret_file_read(s, path, why);
    }
    if (linked != 0) {
        *why = strerror(linked);
        goto wipe;
    }
    if (sync_dir(path) != 0) {
        *why = "cannot fsync the directory of the secret key file";
        goto wipe;
    }
    derive(s, master);
    rc = 0;
wipe:
    sodium_memzero(master, sizeof(master));
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

void tk_secret_wipe(struct tk_secret *s)
{
    sodium_memzero(s, sizeof(*s));
}

void tk_key_generate(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    /* Random bytes drawn a block at a time, not a randombytes_uniform() per character: each of
     * those is a getrandom(2) system call, 60 per key, which was a fifth of tokend seed's time
     * (issue 17, bench/RESULTS.md). Bytes from 248 (4 * 62) up are dropped so every character
     * stays equally likely, as randombytes_uniform's rejection does. */
    uint8_t r[128];
    size_t used = sizeof(r);
    for (size_t i = 0; i < len;) {
        if (used == sizeof(r)) {
            randombytes_buf(r, sizeof(r));
            used = 0;
        }
        uint8_t b = r[used++];
        if (b < 4 * 62)
            out[i++] = alphabet[b % 62];
    }
    sodium_memzero(r, sizeof(r));
    out[len] = '\0';
}

void tk_key_hash(const struct tk_secret *s, const char *key, size_t len,
                 uint8_t out[TK_KEY_HASH_BYTES])
{
    crypto_generichash(out, TK_KEY_HASH_BYTES, (const uint8_t *)key, len, s->lookup,
                       sizeof(s->lookup));
}

int tk_key_seal(const struct tk_secret *s, const char *token_uuid, const char *key, size_t len,
                struct tk_buf *out)
{
    size_t need = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len +
                  crypto_aead_xchacha20poly1305_ietf_ABYTES;
    size_t start = out->len;
    /* Reserve room, then encrypt in place. */
    if (tk_buf_extend(out, need) == NULL)
        return out->err ? out->err : TK_ERR_NOMEM;
    uint8_t *nonce = (uint8_t *)out->data + start;
    uint8_t *ct = nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, (const uint8_t *)key, len,
                                               (const uint8_t *)token_uuid, strlen(token_uuid),
                                               NULL, nonce, s->seal);
    return 0;
}

int tk_key_open(const struct tk_secret *s, const char *token_uuid, const uint8_t *sealed,
                size_t sealed_len, struct tk_buf *out)
{
    const size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    const size_t ab = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (sealed_len < nb + ab)
        return TK_ERR_CRYPTO;
    size_t plen = sealed_len - nb - ab;
    size_t start = out->len;
    if (tk_buf_extend(out, plen) == NULL)
        return out->err ? out->err : TK_ERR_NOMEM;
    unsigned long long got = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (uint8_t *)out->data + start, &got, NULL, sealed + nb, sealed_len - nb,
            (const uint8_t *)token_uuid, strlen(token_uuid), sealed, s->seal) != 0) {
        sodium_memzero(out->data + start, plen);
        out->len = start;
        out->data[start] = '\0';
        return TK_ERR_CRYPTO;
    }
    out->len = start + (size_t)got;
    out->data[out->len] = '\0';
    return 0;
}

_Static_assert(TK_PASSWORD_HASH_BYTES == crypto_pwhash_STRBYTES, "crypto_pwhash_STRBYTES");

int tk_password_hash(const char *password, char out[TK_PASSWORD_HASH_BYTES])
{
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return TK_ERR_NOMEM;
    return 0;
}

void tk_uuid4(char out[37])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}
