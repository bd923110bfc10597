/* The server's log: one line per event on stderr or TOKEND_LOG_FILE, as JSON objects in
 * authentik's style (timestamp, level, logger, event, then fields) or as text. Every line is
 * built in memory and written with one write(2), so threads never interleave. Before
 * tk_log_init the log is "plain": "tokend: <event> key=value" lines on stderr, as the
 * administration commands print them. Secrets must never be passed in. Thread-safe. */
#ifndef TK_UTIL_LOG_H
#define TK_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

enum tk_log_level { TK_LOG_DEBUG, TK_LOG_INFO, TK_LOG_WARNING, TK_LOG_ERROR };
enum tk_log_format { TK_LOG_PLAIN, TK_LOG_JSON, TK_LOG_TEXT };

/* "debug", "info", "warning", "error" (also "warn"); TK_ERR_INVALID for anything else. */
int tk_log_level_parse(const char *s, enum tk_log_level *out) TK_MUST_USE;
/* "json", "text"; TK_ERR_INVALID for anything else. */
int tk_log_format_parse(const char *s, enum tk_log_format *out) TK_MUST_USE;

/* Sets level and format and opens path (O_APPEND, 0640) when not NULL, else logs to stderr.
 * Call once, before other threads log. TK_ERR_IO (errno kept) when the file cannot be
 * opened. */
int tk_log_init(enum tk_log_level level, enum tk_log_format format, const char *path) TK_MUST_USE;
/* Reopens the log file (SIGHUP, for logrotate): lines written from now on go to a file at the
 * configured path, created if it was moved away. Lines being written meanwhile go to the old
 * or the new file, never elsewhere (the descriptor is replaced with dup2). No-op with
 * stderr. */
int tk_log_reopen(void) TK_MUST_USE;
/* Closes the log file (stderr stays). */
void tk_log_close(void);
/* Would a line at this level be written? */
bool tk_log_enabled(enum tk_log_level level);

/* One line being built. Use: if (tk_log_begin(&l, ...)) { tk_log_str(&l, ...); ...
 * tk_log_end(&l); } -- tk_log_begin returns false (and nothing needs ending) when the level is
 * filtered out. */
struct tk_log_line {
    struct tk_buf buf;
    enum tk_log_format format;
};
bool tk_log_begin(struct tk_log_line *l, enum tk_log_level level, const char *logger,
                  const char *event);
/* Fields; key is a literal identifier (not escaped). Values are escaped; invalid UTF-8
 * becomes U+FFFD. */
void tk_log_str(struct tk_log_line *l, const char *key, const char *v, size_t len);
void tk_log_cstr(struct tk_log_line *l, const char *key, const char *v); /* NULL: null */
void tk_log_int(struct tk_log_line *l, const char *key, int64_t v);
void tk_log_null(struct tk_log_line *l, const char *key);
/* A number with three decimals (milliseconds). */
void tk_log_ms(struct tk_log_line *l, const char *key, double ms);
/* Writes the line (one write(2)) and frees it. */
void tk_log_end(struct tk_log_line *l);

/* A line with no fields but the event, printf-formatted. */
void tk_log(enum tk_log_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
