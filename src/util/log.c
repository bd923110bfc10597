/* The server's log (log.h). A line is built in a heap buffer and written with one write(2):
 * O_APPEND files take it whole, and pipes too up to PIPE_BUF (callers truncate long values).
 * The descriptor number never changes after tk_log_init, so a concurrent reopen cannot make a
 * writer hit a closed or reused descriptor. */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/escape.h"
#include "util/limits.h"
#include "util/time.h"

static atomic_int g_level = TK_LOG_INFO;
static enum tk_log_format g_format = TK_LOG_PLAIN;
static int g_fd = STDERR_FILENO;
static char g_path[PATH_MAX];

static const char *const level_names[] = {"debug", "info", "warning", "error"};

int tk_log_level_parse(const char *s, enum tk_log_level *out)
{
    for (int i = TK_LOG_DEBUG; i <= TK_LOG_ERROR; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum tk_log_level)i;
            return 0;
        }
    if (strcmp(s, "warn") == 0) {
        *out = TK_LOG_WARNING;
        return 0;
    }
    return TK_ERR_INVALID;
}

int tk_log_format_parse(const char *s, enum tk_log_format *out)
{
    if (strcmp(s, "json") == 0)
        *out = TK_LOG_JSON;
    else if (strcmp(s, "text") == 0)
        *out = TK_LOG_TEXT;
    else
        return TK_ERR_INVALID;
    return 0;
}

static int open_log(void)
{
    return open(g_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int tk_log_init(enum tk_log_level level, enum tk_log_format format, const char *path)
{
    atomic_store(&g_level, (int)level);
    g_format = format;
    if (path == NULL || *path == '\0')
        return 0;
    size_t len = strlen(path);
    if (len >= sizeof(g_path)) {
        errno = ENAMETOOLONG;
        return TK_ERR_IO;
    }
    memcpy(g_path, path, len + 1);
    int fd = open_log();
    if (fd < 0)
        return TK_ERR_IO;
    g_fd = fd;
    return 0;
}

int tk_log_reopen(void)
{
    if (g_fd == STDERR_FILENO)
        return 0;
    int fd = open_log();
    if (fd < 0)
        return TK_ERR_IO;
    /* dup2 swaps the file behind g_fd atomically: a write racing with it lands in one file. */
    int rc = dup2(fd, g_fd) < 0 ? TK_ERR_IO : 0;
    close(fd);
    return rc;
}

void tk_log_close(void)
{
    if (g_fd != STDERR_FILENO)
        close(g_fd);
    g_fd = STDERR_FILENO;
}

bool tk_log_enabled(enum tk_log_level level)
{
    return (int)level >= atomic_load_explicit(&g_level, memory_order_relaxed);
}

/* Text values are bare words when that cannot be misread (logfmt splits a pair at its first
 * '='), else quoted JSON strings. */
static bool bare(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '\\' || c >= 0x7f)
            return false;
    }
    return true;
}

/* RFC 3339 with microseconds. The date and time of day are formatted once a second per thread:
 * tk_time_format costs about a microsecond, the whole request line should not. */
static size_t timestamp(char out[TK_TIME_BUFSZ])
{
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[TK_TIME_BUFSZ];
    int64_t us = tk_now_us();
    int64_t sec = us / 1000000, frac = us % 1000000;
    if (sec != cached_sec) {
        tk_time_format(sec * 1000000, cached); /* "YYYY-MM-DDTHH:MM:SSZ" */
        cached_sec = sec;
    }
    memcpy(out, cached, 19);
    out[19] = '.';
    for (int i = 25; i >= 20; i--, frac /= 10)
        out[i] = (char)('0' + frac % 10);
    out[26] = 'Z';
    out[27] = '\0';
    return 27;
}

/* Decimal digits without printf (several per line). */
static void put_i64(struct tk_buf *b, int64_t v)
{
    char d[24];
    size_t n = sizeof(d);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--n] = '-';
    tk_buf_append(b, d + n, sizeof(d) - n);
}

static void put_str(struct tk_buf *b, const char *s, size_t len)
{
    tk_buf_putc(b, '"');
    tk_json_escape(b, s, len);
    tk_buf_putc(b, '"');
}

/* Text and plain events read as written; only control characters are escaped (one line). */
static void put_text(struct tk_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f)
            continue;
        tk_buf_append(b, s + run, i - run);
        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        tk_buf_append(b, esc, sizeof(esc));
        run = i + 1;
    }
    tk_buf_append(b, s + run, len - run);
}

bool tk_log_begin(struct tk_log_line *l, enum tk_log_level level, const char *logger,
                  const char *event)
{
    if (!tk_log_enabled(level))
        return false;
    l->format = g_format;
    tk_buf_init(&l->buf, TK_MAX_LOG_LINE_BYTES);
    /* one allocation for a typical request line */
    if (tk_buf_extend(&l->buf, 768) != NULL)
        l->buf.len = 0;
    char ts[TK_TIME_BUFSZ];
    size_t ts_len = 0;
    if (l->format != TK_LOG_PLAIN)
        ts_len = timestamp(ts);
    switch (l->format) {
    case TK_LOG_JSON:
        tk_buf_append(&l->buf, "{\"timestamp\":\"", 14);
        tk_buf_append(&l->buf, ts, ts_len);
        tk_buf_append(&l->buf, "\",\"level\":\"", 11);
        tk_buf_puts(&l->buf, level_names[level]);
        tk_buf_append(&l->buf, "\",\"logger\":", 11);
        put_str(&l->buf, logger, strlen(logger));
        tk_buf_append(&l->buf, ",\"event\":", 9);
        put_str(&l->buf, event, strlen(event));
        break;
    case TK_LOG_TEXT:
        tk_buf_append(&l->buf, ts, ts_len);
        tk_buf_putc(&l->buf, ' ');
        tk_buf_puts(&l->buf, level_names[level]);
        tk_buf_putc(&l->buf, ' ');
        put_text(&l->buf, logger, strlen(logger));
        tk_buf_append(&l->buf, ": ", 2);
        put_text(&l->buf, event, strlen(event));
        break;
    case TK_LOG_PLAIN:
        tk_buf_puts(&l->buf, "tokend: ");
        put_text(&l->buf, event, strlen(event));
        break;
    }
    return true;
}

static void key(struct tk_log_line *l, const char *k)
{
    if (l->format == TK_LOG_JSON) {
        tk_buf_append(&l->buf, ",\"", 2);
        tk_buf_puts(&l->buf, k);
        tk_buf_append(&l->buf, "\":", 2);
    } else {
        tk_buf_putc(&l->buf, ' ');
        tk_buf_puts(&l->buf, k);
        tk_buf_putc(&l->buf, '=');
    }
}

void tk_log_str(struct tk_log_line *l, const char *k, const char *v, size_t len)
{
    key(l, k);
    if (l->format != TK_LOG_JSON && bare(v, len))
        tk_buf_append(&l->buf, v, len);
    else
        put_str(&l->buf, v, len);
}

void tk_log_cstr(struct tk_log_line *l, const char *k, const char *v)
{
    if (v == NULL)
        tk_log_null(l, k);
    else
        tk_log_str(l, k, v, strlen(v));
}

void tk_log_int(struct tk_log_line *l, const char *k, int64_t v)
{
    key(l, k);
    put_i64(&l->buf, v);
}

void tk_log_null(struct tk_log_line *l, const char *k)
{
    key(l, k);
    tk_buf_append(&l->buf, l->format == TK_LOG_JSON ? "null" : "-",
                  l->format == TK_LOG_JSON ? 4 : 1);
}

void tk_log_ms(struct tk_log_line *l, const char *k, double ms)
{
    key(l, k);
    if (!(ms >= 0 && ms < 1e15))
        ms = 0; /* never NaN or inf in JSON */
    int64_t thousandths = (int64_t)(ms * 1000 + 0.5);
    put_i64(&l->buf, thousandths / 1000);
    char frac[4] = {'.', (char)('0' + thousandths / 100 % 10), (char)('0' + thousandths / 10 % 10),
                    (char)('0' + thousandths % 10)};
    tk_buf_append(&l->buf, frac, sizeof(frac));
}

void tk_log_end(struct tk_log_line *l)
{
    if (l->format == TK_LOG_JSON)
        tk_buf_putc(&l->buf, '}');
    tk_buf_putc(&l->buf, '\n');
    if (l->buf.err == 0) {
        /* One write: a line is never split between threads. A short write (a full disk, a
         * signal) loses the rest of this line only. */
        ssize_t n;
        do
            n = write(g_fd, l->buf.data, l->buf.len);
        while (n < 0 && errno == EINTR);
    }
    tk_buf_free(&l->buf);
}

void tk_log(enum tk_log_level level, const char *logger, const char *fmt, ...)
{
    if (!tk_log_enabled(level))
        return;
    char event[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(event, sizeof(event), fmt, ap);
    va_end(ap);
    struct tk_log_line l;
    if (tk_log_begin(&l, level, logger, event))
        tk_log_end(&l);
}
