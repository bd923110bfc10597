/* uid, num_pk and avatars (user.h), reproducing authentik's derivations byte for byte where a
 * client could compare them (uid, num_pk) and closely where it cannot (the SVG). */
#include "domain/user.h"

#include <jansson.h>
#include <nettle/md5.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "util/limits.h"
#include "util/tls.h"
#include "util/utf8.h"

static void uid_compute(int64_t pk, const char *installation_id, char out[65])
{
    char in[128];
    int n = snprintf(in, sizeof(in), "%lld-%s", (long long)pk, installation_id);
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)in, (unsigned long long)n);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

static unsigned __int128 ten_pow[39]; /* 10^0 .. 10^38 */
static pthread_once_t ten_pow_once = PTHREAD_ONCE_INIT;

static void ten_pow_init(void)
{
    ten_pow[0] = 1;
    for (int i = 1; i < 39; i++)
        ten_pow[i] = ten_pow[i - 1] * 10;
}

int64_t tk_group_num_pk(const char *uuid)
{
    /* int(str(uuid.int)[:5]): the first five decimal digits of the 128-bit value. One division
     * by the power of ten that leaves five digits, rather than one per digit. */
    unsigned __int128 v = 0;
    for (const char *p = uuid; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            continue;
        v = (v << 4) | (unsigned)d;
    }
    pthread_once(&ten_pow_once, ten_pow_init);
    int digits = 39; /* decimal digits of v, from the top: random uuids have 38 or 39 */
    while (digits > 1 && v < ten_pow[digits - 1])
        digits--;
    if (digits <= 5)
        return (int64_t)v;
    return (int64_t)(v / ten_pow[digits - 5]);
}

static void md5_hex_of_lower(const char *s, char out[33])
{
    struct tk_buf low;
    tk_buf_init(&low, TK_MAX_FOLD_BYTES);
    tk_utf8_fold(s, strlen(s), &low);
    struct md5_ctx ctx;
    uint8_t d[MD5_DIGEST_SIZE];
    md5_init(&ctx);
    md5_update(&ctx, low.len, (const uint8_t *)(low.data ? low.data : ""));
    md5_digest(&ctx, sizeof(d), d);
    tk_buf_free(&low);
    sodium_bin2hex(out, 33, d, sizeof(d));
}

/* Python's str.split(): runs of whitespace separate, no empty parts. Returns up to max parts
 * as [start, end) byte offsets; *n_parts is the total number of parts found. */
static void split_ws(const char *s, size_t len, size_t (*parts)[2], size_t max, size_t *n_parts)
{
    size_t n = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = tk_utf8_decode(s + i, len - i, &cp);
        if (tk_unicode_isspace(cp)) {
            i += k;
            continue;
        }
        size_t start = i;
        while (i < len) {
            k = tk_utf8_decode(s + i, len - i, &cp);
            if (tk_unicode_isspace(cp))
                break;
            i += k;
        }
        if (n < max) {
            parts[n][0] = start;
            parts[n][1] = i;
        } else {
            parts[max - 1][0] = start; /* keep the last part in the last slot */
            parts[max - 1][1] = i;
        }
        n++;
    }
    *n_parts = n;
}

int tk_avatar_svg(const char *name, struct tk_buf *out)
{
    size_t len = strlen(name);
    size_t parts[2][2];
    size_t n = 0;
    split_ws(name, len, parts, 2, &n);
    /* Initials: one part -> its first two characters; several -> first character of the first
     * part followed by the last part, cut to two characters. */
    uint32_t ini[2];
    size_t n_ini = 0;
    if (n >= 1) {
        size_t i = parts[0][0];
        uint32_t cp;
        if (n == 1) {
            while (i < parts[0][1] && n_ini < 2) {
                i += tk_utf8_decode(name + i, parts[0][1] - i, &cp);
                ini[n_ini++] = cp;
            }
        } else {
            tk_utf8_decode(name + i, parts[0][1] - i, &cp);
            ini[n_ini++] = cp;
            i = parts[1][0];
            tk_utf8_decode(name + i, parts[1][1] - i, &cp);
            ini[n_ini++] = cp;
        }
    }

    char hex[33];
    md5_hex_of_lower(name, hex);
    /* int(md5, 16) % 0xFFFFFF, as authentik computes it */
    uint64_t color = 0;
    for (int i = 0; i < 32; i++) {
        unsigned d = (unsigned)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
        color = (color * 16 + d) % 0xFFFFFF;
    }
#define CLAMP(x) ((x) < 55 ? 55 : (x) > 200 ? 200 : (x))
    unsigned blue = CLAMP((unsigned)(color & 0xFF));
    unsigned green = CLAMP((unsigned)((color >> 8) & 0xFF));
    unsigned red = CLAMP((unsigned)((color >> 16) & 0xFF));
#undef CLAMP
    const char *text_hex = (red * 0.299 + green * 0.587 + blue * 0.114) > 186 ? "000" : "fff";

    tk_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64px\" height=\"64px\" "
                  "viewBox=\"0 0 64 64\" version=\"1.1\"><rect fill=\"#%02x%02x%02x\" cx=\"32\" "
                  "cy=\"32\" width=\"64\" height=\"64\" r=\"32\"/><text x=\"50%%\" y=\"50%%\" "
                  "style=\"color: #%s; line-height: 1; font-family: 'RedHatText','Overpass',"
                  "overpass,helvetica,arial,sans-serif; \" fill=\"#%s\" "
                  "alignment-baseline=\"middle\" dominant-baseline=\"middle\" "
                  "text-anchor=\"middle\" font-size=\"28\" font-weight=\"400\" dy=\".1em\">",
                  red, green, blue, text_hex, text_hex);
    for (size_t i = 0; i < n_ini; i++) {
        uint32_t cp = tk_unicode_toupper(ini[i]);
        /* lxml serialises as ASCII: markup characters as entities, the rest as char refs */
        if (cp == '&')
            tk_buf_puts(out, "&amp;");
        else if (cp == '<')
            tk_buf_puts(out, "&lt;");
        else if (cp == '>')
            tk_buf_puts(out, "&gt;");
        else if (cp < 0x80)
            tk_buf_putc(out, (char)cp);
        else
            tk_buf_printf(out, "&#%u;", (unsigned)cp);
    }
    return tk_buf_puts(out, "</text></svg>");
}

static int avatar_initials_compute(const char *name, struct tk_buf *out)
{
    /* SEED: the display name, stripped; blank -> "a k" (docs/api.md §10.3). */
    size_t len = strlen(name);
    struct tk_buf stripped;
    tk_buf_init(&stripped, TK_MAX_AVATAR_BYTES);
    size_t start = 0, end = 0; /* str.strip(): first to last non-space code point */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tk_utf8_decode(name + i, len - i, &cp);
        if (!tk_unicode_isspace(cp)) {
            if (end == 0)
                start = i;
            end = i + k;
        }
        i += k;
    }
    if (end == 0)
        tk_buf_puts(&stripped, "a k");
    else
        tk_buf_append(&stripped, name + start, end - start);
    struct tk_buf svg;
    tk_buf_init(&svg, TK_MAX_AVATAR_BYTES);
    int rc = tk_avatar_svg(stripped.data ? stripped.data : "", &svg);
    if (rc == 0 && svg.err == 0) {
        /* Base64 straight into out (no secret here: plain memory, not sodium_malloc). */
        size_t b64_len = sodium_base64_encoded_len(svg.len, sodium_base64_VARIANT_ORIGINAL);
        rc = tk_buf_puts(out, "data:image/svg+xml;base64,");
        char *dst = rc == 0 ? tk_buf_extend(out, b64_len) : NULL;
        if (dst != NULL) {
            sodium_bin2base64(dst, b64_len, (const uint8_t *)svg.data, svg.len,
                              sodium_base64_VARIANT_ORIGINAL);
            out->len -= 1; /* drop the encoder's NUL */
            out->data[out->len] = '\0';
        } else if (rc == 0) {
            rc = out->err;
        }
    } else if (rc == 0) {
        rc = svg.err;
    }
    tk_buf_free(&svg);
    tk_buf_free(&stripped);
    return rc;
}

/* The initials avatar is a pure function of the display name, and the costliest part of a
 * user's JSON: SVG formatting, MD5 and base64 of ~1 KB, about half of a list page's CPU before
 * this cache (bench/RESULTS.md). Each thread keeps the data URIs of the last names it rendered
 * in a direct-mapped table: no lock, no invalidation (a renamed user simply has a new name),
 * bounded memory (AVATAR_SLOTS entries of a bounded name). Losing an entry to an allocation
 * failure costs only the recomputation. The uid (a SHA-256 per user) is kept the same way. */
#define AVATAR_SLOTS 512
#define AVATAR_NAME_MAX 256
#define UID_SLOTS 1024 /* checksrc: allow a cache's size, tuned with it */
#define UID_INSTALLATION_MAX 64

struct avatar_slot {
    char *name; /* NULL: empty */
    char *uri;
    size_t uri_len;
};

struct uid_slot {
    int64_t pk;
    char installation[UID_INSTALLATION_MAX]; /* "": empty */
    char uid[65];
};

struct derived_cache {
    struct avatar_slot avatars[AVATAR_SLOTS];
    struct uid_slot uids[UID_SLOTS];
};

static void cache_free(void *p)
{
    struct derived_cache *c = p;
    for (size_t i = 0; i < AVATAR_SLOTS; i++) {
        free(c->avatars[i].name);
        free(c->avatars[i].uri);
    }
    free(c);
}

static struct tk_tls caches = TK_TLS_INIT(sizeof(struct derived_cache), cache_free);

static struct derived_cache *derived_cache(void)
{
    return tk_tls_get(&caches, true);
}

void tk_user_uid(int64_t pk, const char *installation_id, char out[65])
{
    struct derived_cache *c =
        strlen(installation_id) < UID_INSTALLATION_MAX ? derived_cache() : NULL;
    if (c == NULL) {
        uid_compute(pk, installation_id, out);
        return;
    }
    struct uid_slot *e = &c->uids[(uint64_t)pk % UID_SLOTS];
    if (e->installation[0] == '\0' || e->pk != pk ||
        strcmp(e->installation, installation_id) != 0) {
        uid_compute(pk, installation_id, e->uid);
        e->pk = pk;
        memcpy(e->installation, installation_id, strlen(installation_id) + 1);
    }
    memcpy(out, e->uid, 65);
}

static int avatar_initials(const struct tk_user *u, struct tk_buf *out)
{
    size_t name_len = strlen(u->name);
    struct derived_cache *c = name_len <= AVATAR_NAME_MAX ? derived_cache() : NULL;
    if (c == NULL)
        return avatar_initials_compute(u->name, out);
    struct avatar_slot *slots = c->avatars;
    /* Two-way: a name lives in either slot of its pair; a new one takes the first slot and
     * moves the previous occupant to the second, so two colliding names do not thrash. */
    struct avatar_slot *e = &slots[tk_hash_pair(tk_fnv1a(u->name, name_len), AVATAR_SLOTS)];
    for (int way = 0; way < 2; way++)
        if (e[way].name != NULL && strcmp(e[way].name, u->name) == 0)
            return tk_buf_append(out, e[way].uri, e[way].uri_len);
    size_t mark = out->len;
    int rc = avatar_initials_compute(u->name, out);
    if (rc != 0)
        return rc;
    char *name = tk_strdup(u->name);
    char *uri = tk_malloc(out->len - mark + 1);
    if (name == NULL || uri == NULL) {
        free(name);
        free(uri);
        return 0;
    }
    memcpy(uri, out->data + mark, out->len - mark);
    uri[out->len - mark] = '\0';
    free(e[1].name);
    free(e[1].uri);
    e[1] = e[0];
    e[0] = (struct avatar_slot){.name = name, .uri = uri, .uri_len = out->len - mark};
    return 0;
}

/* attributes.<dot.path>: the value at that path if it is a non-empty string. */
static bool avatar_attribute(const struct tk_user *u, const char *path, size_t path_len,
                             struct tk_buf *out)
{
    json_t *root = json_loads(u->attributes, 0, NULL);
    if (root == NULL)
        return false;
    json_t *cur = root;
    size_t i = 0;
    while (cur != NULL && i <= path_len) {
        size_t j = i;
        while (j < path_len && path[j] != '.')
            j++;
        if (!json_is_object(cur)) {
            cur = NULL;
            break;
        }
        cur = json_object_getn(cur, path + i, j - i);
        i = j + 1;
    }
    bool ok = false;
    if (cur != NULL && json_is_string(cur) && json_string_length(cur) > 0) {
        tk_buf_append(out, json_string_value(cur), json_string_length(cur));
        ok = true;
    }
    json_decref(root);
    return ok;
}

static void avatar_url(const struct tk_user *u, const char *tmpl, size_t len, struct tk_buf *out)
{
    char hash[33];
    md5_hex_of_lower(u->email, hash);
    for (size_t i = 0; i < len;) {
        if (len - i >= 12 && memcmp(tmpl + i, "%(username)s", 12) == 0) {
            tk_buf_puts(out, u->username);
            i += 12;
        } else if (len - i >= 13 && memcmp(tmpl + i, "%(mail_hash)s", 13) == 0) {
            tk_buf_puts(out, hash);
            i += 13;
        } else if (len - i >= 7 && memcmp(tmpl + i, "%(upn)s", 7) == 0) {
            size_t mark = out->len;
            if (!avatar_attribute(u, "upn", 3, out))
                out->len = mark;
            i += 7;
        } else {
            tk_buf_putc(out, tmpl[i++]);
        }
    }
}

int tk_user_avatar(const struct tk_user *u, const char *modes, struct tk_buf *out)
{
    const char *p = modes;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t mark = out->len;
        if (len == 4 && memcmp(p, "none", 4) == 0) {
            return tk_buf_puts(out, TK_AVATAR_DEFAULT);
        } else if (len == 8 && memcmp(p, "initials", 8) == 0) {
            return avatar_initials(u, out);
        } else if (len == 8 && memcmp(p, "gravatar", 8) == 0) {
            char hash[33];
            md5_hex_of_lower(u->email, hash);
            return tk_buf_printf(out,
                                 "https://secure.gravatar.com/avatar/%s?size=158&rating=g&"
                                 "default=404",
                                 hash);
        } else if (len > 11 && memcmp(p, "attributes.", 11) == 0) {
            if (avatar_attribute(u, p + 11, len - 11, out))
                return out->err;
        } else if (memmem(p, len, "://", 3) != NULL) {
            avatar_url(u, p, len, out);
            return out->err;
        }
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        if (end == NULL)
            break;
        p = end + 1;
    }
    return tk_buf_puts(out, TK_AVATAR_DEFAULT);
}
