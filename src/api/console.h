/* The admin console's files, embedded at build time (cmake/embed_console.py writes the table),
 * and the routes that serve them on the public listener (docs/api.md §22). */
#ifndef TK_API_CONSOLE_H
#define TK_API_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

struct tk_console_file {
    const char *path;         /* relative to the console's folder: "index.html", "app.js" */
    const char *content_type; /* from the extension */
    const unsigned char *raw;
    size_t raw_len;
    const unsigned char *gz; /* gzip of raw; gz_len 0: not smaller, never sent */
    size_t gz_len;
    const char *etag;    /* "<hash of raw>", quoted */
    const char *etag_gz; /* "<hash of raw>-gzip", quoted */
};

/* Generated: every file, sorted by path; index.html with its references rewritten to the
 * versioned paths. */
extern const struct tk_console_file tk_console_files[];
extern const size_t tk_console_n_files;
/* The build hash: the versioned folder /if/admin/<build>/ of every file but index.html. */
extern const char tk_console_build[];

/* The embedded file at path, NULL when there is none. */
const struct tk_console_file *tk_console_find(const char *path);

/* Does an Accept-Encoding value (NULL: absent) accept gzip? RFC 9110 §12.5.3: "gzip" or
 * "x-gzip", else "*", with a q-value above zero. */
bool tk_console_accepts_gzip(const char *accept_encoding);

/* Does an If-None-Match value (NULL: absent) match etag (quoted), by weak comparison or "*"? */
bool tk_console_etag_matches(const char *if_none_match, const char *etag);

/* The routes: "/" and "/if/admin" redirect to /if/admin/, "/if/admin/..." serves the console. */
int tk_console_register(struct tk_router *r) TK_MUST_USE;

#endif
