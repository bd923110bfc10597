/* The admin console's routes (docs/api.md §22): "/" and "/if/admin" redirect to /if/admin/,
 * which serves index.html (revalidated on every load: it names the versioned files); every other
 * file is served under /if/admin/<build>/ and cached for a year, immutable; an extensionless path
 * under /if/admin/ is a deep link into the console and gets index.html too. Every answer carries
 * the console's Content-Security-Policy and companions; files are sent gzip-compressed when the
 * client accepts it, with an ETag and 304 for a matching If-None-Match. GET and HEAD only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/console.h"

#define CONSOLE_PREFIX "/if/admin/"
#define CONSOLE_ALLOW "GET, HEAD"

/* No inline script or style anywhere, nothing from another origin, no framing. */
#define CONSOLE_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "             \
    "base-uri 'none'; form-action 'self'"

const struct tk_console_file *tk_console_find(const char *path)
{
    size_t lo = 0, hi = tk_console_n_files;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, tk_console_files[mid].path);
        if (c == 0)
            return &tk_console_files[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Skips optional whitespace. */
static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* The q-value of one Accept-Encoding member's parameters (";q=0.5"), 1 when it has none. */
static double qvalue(const char *p, const char *end)
{
    while (p < end) {
        p = ows(p);
        if (*p == ';') {
            p = ows(p + 1);
            if ((*p == 'q' || *p == 'Q') && *ows(p + 1) == '=')
                return strtod(ows(ows(p + 1) + 1), NULL);
        }
        p++;
    }
    return 1.0;
}

bool tk_console_accepts_gzip(const char *ae)
{
    if (ae == NULL)
        return false;
    double gzip = -1, star = -1;
    const char *p = ae;
    while (*p) {
        p = ows(p);
        const char *name = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - name);
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        double q = qvalue(p, end);
        if ((n == 4 && strncasecmp(name, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(name, "x-gzip", 6) == 0))
            gzip = q;
        else if (n == 1 && *name == '*')
            star = q;
        p = *end ? end + 1 : end;
    }
    return gzip >= 0 ? gzip > 0 : star > 0;
}

bool tk_console_etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL)
        return false;
    size_t elen = strlen(etag);
    const char *p = inm;
    while (*p) {
        p = ows(p);
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison (RFC 9110 §13.1.2) */
        const char *tag = p;
        if (*p == '"') {
            p = strchr(p + 1, '"');
            p = p ? p + 1 : tag + strlen(tag);
        }
        while (*p && *p != ',')
            p++;
        size_t n = (size_t)(p - tag);
        while (n > 0 && (tag[n - 1] == ' ' || tag[n - 1] == '\t'))
            n--;
        if (n == elen && memcmp(tag, etag, n) == 0)
            return true;
        if (*p == ',')
            p++;
    }
    return false;
}

static void header(struct tk_response *res, const char *name, const char *value)
{
    if (res->n_headers < TK_RESPONSE_MAX_HEADERS)
        res->headers[res->n_headers++] = (struct tk_header){name, value};
}

/* The headers of every console answer, whatever its status. */
static void guard(struct tk_response *res)
{
    res->allow = NULL; /* only a 405 names the methods (docs/api.md §2.2) */
    header(res, "Content-Security-Policy", CONSOLE_CSP);
    header(res, "Referrer-Policy", "no-referrer");
    header(res, "Cross-Origin-Opener-Policy", "same-origin");
}

static bool method_ok(struct tk_request *req, struct tk_response *res)
{
    if (req->method == TK_M_GET || req->method == TK_M_HEAD)
        return true;
    char msg[64];
    snprintf(msg, sizeof(msg), "Method \"%.16s\" not allowed.", req->method_name);
    tk_response_detail(res, 405, msg);
    res->allow = CONSOLE_ALLOW;
    return false;
}

static void redirect(struct tk_request *req, struct tk_response *res, void *ctx)
{
    guard(res);
    if (!method_ok(req, res))
        return;
    res->status = 302;
    res->empty = true;
    header(res, "Location", CONSOLE_PREFIX);
}

static void send_file(struct tk_request *req, struct tk_response *res,
                      const struct tk_console_file *f, const char *cache)
{
    bool gz = f->gz_len > 0 && tk_console_accepts_gzip(req->accept_encoding);
    const char *etag = gz ? f->etag_gz : f->etag;
    header(res, "Cache-Control", cache);
    header(res, "ETag", etag);
    if (f->gz_len > 0)
        header(res, "Vary", "Accept-Encoding");
    if (tk_console_etag_matches(req->if_none_match, etag)) {
        res->status = 304;
        res->empty = true;
        return;
    }
    res->status = 200;
    res->content_type = f->content_type;
    if (gz)
        header(res, "Content-Encoding", "gzip");
    res->fixed = gz ? f->gz : f->raw;
    res->fixed_len = gz ? f->gz_len : f->raw_len;
}

/* Is the last segment of path free of a dot (a page of the console, not a file)? */
static bool extensionless(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strchr(slash ? slash + 1 : path, '.') == NULL;
}

static void serve(struct tk_request *req, struct tk_response *res, void *ctx)
{
    guard(res);
    if (!method_ok(req, res))
        return;
    const char *rest = req->n_params > 0 ? req->params[0] : "";
    size_t blen = strlen(tk_console_build);
    const struct tk_console_file *f = NULL;
    if (strncmp(rest, tk_console_build, blen) == 0 && rest[blen] == '/') {
        f = tk_console_find(rest + blen + 1);
        if (f != NULL && strcmp(f->path, "index.html") != 0) {
            send_file(req, res, f, "public, max-age=31536000, immutable");
            return;
        }
    } else if (extensionless(rest)) {
        /* /if/admin/, or a deep link: a path whose last segment has no extension */
        f = tk_console_find("index.html");
        if (f != NULL) {
            send_file(req, res, f, "no-cache");
            return;
        }
    }
    tk_response_detail(res, 404, "Not found.");
}

/* A request with a body: a method the console refuses is answered before any byte of it is
 * read (nobody can make the server hold a body here); a GET's body is read and ignored. */
static bool admit(struct tk_request *req, struct tk_response *res, void *ctx)
{
    guard(res);
    return method_ok(req, res);
}

int tk_console_register(struct tk_router *r)
{
    int rc = tk_router_add(r, "/", CONSOLE_ALLOW, redirect, admit, NULL);
    if (rc == 0)
        rc = tk_router_add(r, "/if/admin", CONSOLE_ALLOW, redirect, admit, NULL);
    if (rc == 0)
        rc = tk_router_add(r, CONSOLE_PREFIX "*", CONSOLE_ALLOW, serve, admit, NULL);
    return rc;
}
