/* Keys at rest (src/crypto/keys.c, docs/api.md §13, §17.5): generation alphabet and length, keyed
 * hash determinism and key separation, seal/open round trip bound to the token uuid, the
 * secret file's creation (atomic, 0600, once among racing processes, never on read) and
 * refusal of loose permissions, the Argon2id derivation of text secrets and its parameters,
 * and the check value (issue 13.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/keys.h"

static void test_generate(void **state)
{
    char k[61];
    int seen[256] = {0};
    for (int round = 0; round < 200; round++) {
        tk_key_generate(k, 60);
        assert_int_equal(strlen(k), 60);
        for (int i = 0; i < 60; i++) {
            char c = k[i];
            assert_true((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
            seen[(unsigned char)c] = 1;
        }
    }
    int distinct = 0;
    for (int i = 0; i < 256; i++)
        distinct += seen[i];
    assert_int_equal(distinct, 62); /* 12000 draws cover the whole alphabet */
    char a[61], b[61];
    tk_key_generate(a, 60);
    tk_key_generate(b, 60);
    assert_string_not_equal(a, b);
}

static void test_hash_and_seal(void **state)
{
    struct tk_secret s1, s2;
    assert_int_equal(tk_secret_from_text_blake2b(&s1, "one secret"), 0);
    assert_int_equal(tk_secret_from_text_blake2b(&s2, "another secret"), 0);
    assert_int_not_equal(tk_secret_from_text_blake2b(&s2, ""), 0);
    assert_int_equal(tk_secret_from_text_blake2b(&s2, "another secret"), 0);
    uint8_t h1[TK_KEY_HASH_BYTES], h1b[TK_KEY_HASH_BYTES], h2[TK_KEY_HASH_BYTES];
    tk_key_hash(&s1, "key", 3, h1);
    tk_key_hash(&s1, "key", 3, h1b);
    tk_key_hash(&s2, "key", 3, h2);
    assert_memory_equal(h1, h1b, sizeof(h1));
    assert_memory_not_equal(h1, h2, sizeof(h1));
    tk_key_hash(&s1, "kez", 3, h1b);
    assert_memory_not_equal(h1, h1b, sizeof(h1));

    const char *uuid = "11111111-2222-4333-8444-555555555555";
    struct tk_buf sealed, opened;
    tk_buf_init(&sealed, 4096);
    tk_buf_init(&opened, 4096);
    assert_int_equal(tk_key_seal(&s1, uuid, "the key", 7, &sealed), 0);
    assert_int_equal(sealed.len, 7 + TK_SEAL_OVERHEAD);
    assert_null(memmem(sealed.data, sealed.len, "the key", 7));
    assert_int_equal(tk_key_open(&s1, uuid, (uint8_t *)sealed.data, sealed.len, &opened), 0);
    assert_string_equal(opened.data, "the key");
    tk_buf_reset(&opened);
    assert_int_equal(tk_key_open(&s2, uuid, (uint8_t *)sealed.data, sealed.len, &opened),
                     TK_ERR_CRYPTO);
    assert_int_equal(tk_key_open(&s1, "11111111-2222-4333-8444-555555555556",
                                 (uint8_t *)sealed.data, sealed.len, &opened),
                     TK_ERR_CRYPTO);
    sealed.data[30] ^= 1;
    assert_int_equal(tk_key_open(&s1, uuid, (uint8_t *)sealed.data, sealed.len, &opened),
                     TK_ERR_CRYPTO);
    assert_int_equal(tk_key_open(&s1, uuid, (uint8_t *)sealed.data, 10, &opened), TK_ERR_CRYPTO);
    tk_buf_free(&sealed);
    tk_buf_free(&opened);
}

static void test_secret_file(void **state)
{
    char dir[] = "/tmp/tokend-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/secret", dir);
    struct tk_secret a, b;
    const char *why = NULL;
    /* reading never creates (issue 13.3: a missing file is not silently replaced) */
    assert_int_equal(tk_secret_file_read(&a, path, &why), TK_ERR_NOTFOUND);
    assert_non_null(why);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(tk_secret_file_create(&a, path, &why), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);                         /* 64 hex characters and a newline */
    assert_int_equal(tk_secret_file_read(&b, path, &why), 0); /* same secret on reload */
    assert_memory_equal(&a, &b, sizeof(a));
    /* a second creator finds the file and takes its secret, never a new one */
    memset(&b, 0, sizeof(b));
    assert_int_equal(tk_secret_file_create(&b, path, &why), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    chmod(path, 0644);
    assert_int_equal(tk_secret_file_read(&b, path, &why), TK_ERR_INVALID);
    assert_non_null(why);
    chmod(path, 0600);
    FILE *f = fopen(path, "w");
    fputs("not hex\n", f);
    fclose(f);
    assert_int_equal(tk_secret_file_read(&b, path, &why), TK_ERR_INVALID);
    unlink(path);
    /* nothing but the file is left behind (no temporary files) */
    assert_int_equal(rmdir(dir), 0);
}

/* Processes starting together on one directory end with one secret: each forked child creates
 * (or finds) the file and reports its check value; all agree. */
static void test_secret_file_created_once_by_racing_processes(void **state)
{
    char dir[] = "/tmp/tokend-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/secret", dir);
    enum { N = 8 };
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            struct tk_secret s;
            const char *why = NULL;
            uint8_t out[TK_SECRET_CHECK_BYTES] = {0};
            if (tk_secret_file_create(&s, path, &why) == 0)
                memcpy(out, s.check, sizeof(out));
            _exit(write(fds[1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
        }
    }
    uint8_t first[TK_SECRET_CHECK_BYTES], got[TK_SECRET_CHECK_BYTES];
    static const uint8_t zero[TK_SECRET_CHECK_BYTES];
    for (int i = 0; i < N; i++) {
        assert_int_equal(read(fds[0], i == 0 ? first : got, sizeof(got)), sizeof(got));
        if (i > 0)
            assert_memory_equal(first, got, sizeof(got));
    }
    assert_memory_not_equal(first, zero, sizeof(zero));
    for (int i = 0; i < N; i++) {
        int status = 0;
        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    close(fds[0]);
    close(fds[1]);
    struct tk_secret s;
    const char *why = NULL;
    assert_int_equal(tk_secret_file_read(&s, path, &why), 0);
    assert_memory_equal(s.check, first, sizeof(first));
    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* no temporary file left by the losers */
}

/* Text secrets (issue 13.3): Argon2id under a salt and costs kept in the database. */
static void test_passphrase(void **state)
{
    /* the cheapest costs keep the test fast; the default costs are checked once below */
    struct tk_pwhash p = {.ops = 1, .mem_kib = 8}, q;
    memset(p.salt, 7, sizeof(p.salt));
    q = p;
    q.salt[0] ^= 1;
    struct tk_secret a, a2, b, c, legacy;
    assert_int_equal(tk_secret_from_passphrase(&a, "correct horse", &p), 0);
    assert_int_equal(tk_secret_from_passphrase(&a2, "correct horse", &p), 0);
    assert_memory_equal(&a, &a2, sizeof(a)); /* every process derives the same keys */
    assert_int_equal(tk_secret_from_passphrase(&b, "correct horse", &q), 0);
    assert_memory_not_equal(a.lookup, b.lookup, sizeof(a.lookup)); /* the salt counts */
    assert_memory_not_equal(a.check, b.check, sizeof(a.check));
    assert_int_equal(tk_secret_from_passphrase(&c, "correct horsf", &p), 0);
    assert_memory_not_equal(a.check, c.check, sizeof(a.check));
    /* not the old derivation (one BLAKE2b pass): the upgrade re-keys */
    assert_int_equal(tk_secret_from_text_blake2b(&legacy, "correct horse"), 0);
    assert_memory_not_equal(a.lookup, legacy.lookup, sizeof(a.lookup));
    assert_memory_not_equal(a.seal, legacy.seal, sizeof(a.seal));
    assert_int_equal(tk_secret_from_passphrase(&c, "", &p), TK_ERR_INVALID);
    /* the costs are used: more passes, other keys */
    q = p;
    q.ops = 2;
    assert_int_equal(tk_secret_from_passphrase(&c, "correct horse", &q), 0);
    assert_memory_not_equal(a.lookup, c.lookup, sizeof(a.lookup));
    /* the defaults: libsodium's INTERACTIVE level */
    tk_pwhash_new(&q);
    assert_int_equal(q.ops, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert_int_equal(q.mem_kib * 1024, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    assert_int_equal(tk_secret_from_passphrase(&c, "correct horse", &q), 0);
    struct tk_pwhash r;
    tk_pwhash_new(&r);
    assert_memory_not_equal(q.salt, r.salt, sizeof(r.salt)); /* a random salt each time */
}

/* The check value: a subkey of its own, telling secrets apart and giving nothing away. */
static void test_check_value(void **state)
{
    struct tk_secret a, b;
    assert_int_equal(tk_secret_from_text_blake2b(&a, "one"), 0);
    assert_int_equal(tk_secret_from_text_blake2b(&b, "two"), 0);
    assert_memory_not_equal(a.check, b.check, sizeof(a.check));
    /* not one of the working keys */
    assert_memory_not_equal(a.check, a.lookup, sizeof(a.check));
    assert_memory_not_equal(a.check, a.seal, sizeof(a.check));
    /* not the hash of any key: no key can be made that collides with it by name */
    uint8_t h[TK_KEY_HASH_BYTES];
    tk_key_hash(&a, "check", 5, h);
    assert_memory_not_equal(a.check, h, sizeof(h));
    struct tk_secret a2;
    assert_int_equal(tk_secret_from_text_blake2b(&a2, "one"), 0);
    assert_memory_equal(a.check, a2.check, sizeof(a.check));
}

static void test_pwhash_text(void **state)
{
    struct tk_pwhash p, q;
    tk_pwhash_new(&p);
    char text[TK_PWHASH_TEXT_MAX];
    tk_pwhash_format(&p, text);
    assert_int_equal(strncmp(text, "$argon2id$v=19$m=65536,t=2,p=1$", 31), 0);
    assert_int_equal(strlen(text), 31 + 22); /* 16 bytes of salt, base64 without padding */
    assert_int_equal(tk_pwhash_parse(text, &q), 0);
    assert_memory_equal(&p, &q, sizeof(p));
    static const char *const bad[] = {
        "",
        "$argon2i$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=16$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=65536,t=2,p=4$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=65536,t=0,p=1$AAAAAAAAAAAAAAAAAAAAAA",   /* no pass */
        "$argon2id$v=19$m=4,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA",       /* below 8 KiB */
        "$argon2id$v=19$m=1048577,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA", /* above the cap */
        "$argon2id$v=19$m=65536,t=65,p=1$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=65536,t=2,p=1$AAAA",                     /* short salt */
        "$argon2id$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAAAA", /* long salt */
        "$argon2id$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$hash",
        "$argon2id$v=19$m=65536,t=2,p=1$!!!!!!!!!!!!!!!!!!!!!!",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tk_pwhash_parse(bad[i], &q), TK_ERR_INVALID);
    assert_int_equal(tk_pwhash_parse("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA", &q), 0);
    assert_int_equal(q.ops, 1);
    assert_int_equal(q.mem_kib, 8);
}

/* Keys are found by their keyed hash, so no comparison ever sees key bytes: a guess that gets
 * the first characters of a key right produces a hash that shares nothing with the real one,
 * and the database's comparison of hashes (or sodium_memcmp's) cannot tell a guesser how many
 * characters were right. */
static void test_prefix_of_a_key_says_nothing_about_its_hash(void **state)
{
    struct tk_secret s;
    assert_int_equal(tk_secret_from_text_blake2b(&s, "timing"), 0);
    long shared = 0;
    const int rounds = 2000;
    for (int i = 0; i < rounds; i++) {
        char key[61], guess[61];
        tk_key_generate(key, 60);
        memcpy(guess, key, sizeof(key));
        guess[59] = guess[59] == 'a' ? 'b' : 'a'; /* right but for the last character */
        uint8_t hk[TK_KEY_HASH_BYTES], hg[TK_KEY_HASH_BYTES];
        tk_key_hash(&s, key, 60, hk);
        tk_key_hash(&s, guess, 60, hg);
        int n = 0;
        while (n < TK_KEY_HASH_BYTES && hk[n] == hg[n])
            n++;
        shared += n;
    }
    /* random hashes share 1/255 of a leading byte on average */
    assert_true(shared < rounds / 50);
}

static void test_uuid4(void **state)
{
    char u[37];
    tk_uuid4(u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[8], '-');
    assert_int_equal(u[14], '4');
    assert_true(strchr("89ab", u[19]) != NULL);
}

int main(void)
{
    if (tk_crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_hash_and_seal),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_secret_file_created_once_by_racing_processes),
        cmocka_unit_test(test_passphrase),
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_pwhash_text),
        cmocka_unit_test(test_prefix_of_a_key_says_nothing_about_its_hash),
        cmocka_unit_test(test_uuid4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
