/* JSON writer (writer.h). Strings are escaped by util/escape.c's tk_json_escape. It never
 * builds a tree and never allocates beyond the output buffer. */
#include "json/writer.h"

#include <stdint.h>
#include <string.h>

#include "util/time.h"

void tk_jw_init(struct tk_jw *w, struct tk_buf *out)
{
    w->out = out;
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}

static void sep(struct tk_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        tk_buf_putc(w->out, ',');
    w->first[w->depth] = false;
}

static void open(struct tk_jw *w, char c)
{
    sep(w);
    tk_buf_putc(w->out, c);
    if (w->depth + 1 >= TK_JW_MAX_DEPTH) {
        if (!w->out->err)
            w->out->err = TK_ERR_TOOBIG;
        return;
    }
    w->first[++w->depth] = true;
}

static void close_(struct tk_jw *w, char c)
{
    tk_buf_putc(w->out, c);
    if (w->depth > 0)
        w->depth--;
}

void tk_jw_obj_begin(struct tk_jw *w)
{
    open(w, '{');
}
void tk_jw_obj_end(struct tk_jw *w)
{
    close_(w, '}');
}
void tk_jw_arr_begin(struct tk_jw *w)
{
    open(w, '[');
}
void tk_jw_arr_end(struct tk_jw *w)
{
    close_(w, ']');
}

void tk_jw_key(struct tk_jw *w, const char *k)
{
    sep(w);
    tk_buf_putc(w->out, '"');
    tk_json_escape(w->out, k, strlen(k));
    tk_buf_append(w->out, "\":", 2);
    w->after_key = true;
}

void tk_jw_key_raw(struct tk_jw *w, const char *quoted, size_t len)
{
    sep(w);
    tk_buf_append(w->out, quoted, len);
    w->after_key = true;
}

void tk_jw_str(struct tk_jw *w, const char *s, size_t len)
{
    sep(w);
    tk_buf_putc(w->out, '"');
    tk_json_escape(w->out, s, len);
    tk_buf_putc(w->out, '"');
}

void tk_jw_cstr(struct tk_jw *w, const char *s)
{
    if (s == NULL)
        tk_jw_null(w);
    else
        tk_jw_str(w, s, strlen(s));
}

void tk_jw_int(struct tk_jw *w, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sep(w);
    tk_buf_append(w->out, p, (size_t)(tmp + sizeof(tmp) - p));
}

void tk_jw_bool(struct tk_jw *w, bool v)
{
    sep(w);
    if (v)
        tk_buf_append(w->out, "true", 4);
    else
        tk_buf_append(w->out, "false", 5);
}

void tk_jw_null(struct tk_jw *w)
{
    sep(w);
    tk_buf_append(w->out, "null", 4);
}

void tk_jw_time(struct tk_jw *w, int64_t us)
{
    char t[TK_TIME_BUFSZ];
    size_t n = tk_time_format(us, t);
    sep(w);
    tk_buf_putc(w->out, '"');
    tk_buf_append(w->out, t, n);
    tk_buf_putc(w->out, '"');
}

void tk_jw_raw(struct tk_jw *w, const char *json, size_t len)
{
    sep(w);
    tk_buf_append(w->out, json, len);
}
