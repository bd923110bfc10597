/* Keys at rest (keys.h): BLAKE2b keyed hashing for lookup, XChaCha20-Poly1305 sealing for
 * view_key, both keyed by subkeys derived from one server secret. */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KDF_CONTEXT "tokend__"

int tk_crypto_init(void)
{
    return sodium_init() < 0 ? TK_ERR_CRYPTO : 0;
}

static void derive(struct tk_secret *s, const uint8_t master[crypto_kdf_KEYBYTES])
{
    crypto_kdf_derive_from_key(s->lookup, sizeof(s->lookup), 1, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(s->seal, sizeof(s->seal), 2, KDF_CONTEXT, master);
}

int tk_secret_from_string(struct tk_secret *s, const char *text)
{
    if (text == NULL || *text == '\0')
        return TK_ERR_INVALID;
    uint8_t master[crypto_kdf_KEYBYTES];
    crypto_generichash(master, sizeof(master), (const uint8_t *)text, strlen(text), NULL, 0);
    derive(s, master);
    sodium_memzero(master, sizeof(master));
    return 0;
}

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

int tk_secret_from_file(struct tk_secret *s, const char *path, const char **why)
{
    uint8_t master[crypto_kdf_KEYBYTES];
    char hex[2 * sizeof(master) + 2];
    int rc = TK_ERR_IO;
    *why = NULL;

    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            *why = strerror(errno);
            return TK_ERR_IO;
        }
        randombytes_buf(master, sizeof(master));
        sodium_bin2hex(hex, sizeof(hex), master, sizeof(master));
        size_t hl = strlen(hex);
        hex[hl] = '\n';
        ssize_t w = write(fd, hex, hl + 1);
        if (w != (ssize_t)(hl + 1) || fsync(fd) != 0) {
            *why = "cannot write the secret key file";
            close(fd);
            unlink(path);
            goto wipe;
        }
        close(fd);
        derive(s, master);
        rc = 0;
        goto wipe;
    }
    if (fd < 0) {
        *why = strerror(errno);
        return TK_ERR_IO;
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
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[randombytes_uniform(62)];
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
