/* Request bodies and DRF field coercions (body.h). */
#include "api/body.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/messages.h"
#include "api/query.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/utf8.h"

/* Deepest nesting of arrays/objects, strings skipped; stops counting past the limit. */
static unsigned json_depth(const char *s, size_t len)
{
    unsigned depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                max = depth;
            if (max > TK_MAX_JSON_DEPTH)
                return max;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

/* A refusal whose detail is built here: copied into the request's arena, where the answer
 * will read it. */
static int refuse_copy(struct tk_ctx *c, int status, const char *detail)
{
    const char *kept = tk_arena_strdup(c->req->arena, detail);
    return kept ? tk_api_refuse(c, status, kept) : TK_ERR_NOMEM;
}

static int parse_error(struct tk_ctx *c, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "JSON parse error - %s", why);
    return refuse_copy(c, 400, msg);
}

static bool is_json_type(const char *ct)
{
    /* media type before parameters, surrounding spaces ignored */
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

int tk_body_object(struct tk_ctx *c, json_t **out)
{
    struct tk_request *req = c->req;
    *out = NULL;
    if (req->body_len == 0) {
        *out = json_object(); /* DRF: no body is empty data, whatever the media type */
        return *out ? 0 : TK_ERR_NOMEM;
    }
    const char *ct = req->content_type ? req->content_type : "";
    if (!is_json_type(ct)) {
        struct tk_buf m;
        tk_buf_init(&m, TK_MAX_HEADER_BYTES);
        tk_buf_puts(&m, "Unsupported media type \"");
        tk_buf_puts(&m, ct);
        tk_buf_puts(&m, "\" in request.");
        int rc = refuse_copy(c, 415, m.err == 0 ? m.data : "Unsupported media type in request.");
        tk_buf_free(&m);
        return rc;
    }
    if (json_depth(req->body, req->body_len) > TK_MAX_JSON_DEPTH)
        return parse_error(c, "nesting deeper than 64 levels");
    json_error_t err;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *v = json_loadb(req->body, req->body_len, flags, &err);
    if (v == NULL && strstr(err.text, "too big integer") != NULL)
        /* Integers beyond int64 are kept as numbers so the field that holds one can reject it
         * with its own message (docs/api.md §1.2). */
        v = json_loadb(req->body, req->body_len, flags | JSON_DECODE_INT_AS_REAL, &err);
    if (v == NULL) {
        /* jansson reports some of its own allocation failures as syntax errors (or with no
         * message): parse once more; a syntax error repeats itself word for word, a failed
         * allocation does not. */
        json_error_t again;
        v = json_loadb(req->body, req->body_len, flags, &again);
        if (v == NULL && strstr(again.text, "too big integer") != NULL)
            v = json_loadb(req->body, req->body_len, flags | JSON_DECODE_INT_AS_REAL, &again);
        if (v == NULL &&
            (json_error_code(&again) == json_error_out_of_memory || again.text[0] == '\0' ||
             strcmp(again.text, err.text) != 0 || again.position != err.position))
            return TK_ERR_NOMEM;
        if (v == NULL)
            return parse_error(c, again.text);
    }
    if (json_is_object(v)) {
        *out = v;
        return 0;
    }
    const char *type = "NoneType";
    switch (json_typeof(v)) {
    case JSON_ARRAY: type = "list"; break;
    case JSON_STRING: type = "str"; break;
    case JSON_INTEGER: type = "int"; break;
    case JSON_REAL: type = "float"; break;
    case JSON_TRUE:
    case JSON_FALSE: type = "bool"; break;
    default: break;
    }
    if (json_is_null(v)) {
        tk_field_errors_add(&c->fe, "non_field_errors", "No data provided");
    } else {
        char msg[96];
        snprintf(msg, sizeof(msg), "Invalid data. Expected a dictionary, but got %s.", type);
        tk_field_errors_add(&c->fe, "non_field_errors", msg);
    }
    json_decref(v);
    return TK_ERR_FIELDS;
}

void tk_py_float_repr(double d, char out[32])
{
    if (isnan(d)) {
        snprintf(out, 32, "nan");
        return;
    }
    if (isinf(d)) {
        snprintf(out, 32, "%s", d < 0 ? "-inf" : "inf");
        return;
    }
    /* Shortest round-trip digits, then Python's layout: positional for exponents -4..15. */
    char buf[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    char *e = strchr(buf, 'e');
    int exp = (int)strtol(e + 1, NULL, 10); /* printf's own exponent: a few digits */
    *e = '\0';
    char digits[24];
    size_t nd = 0;
    bool neg = buf[0] == '-';
    for (char *p = buf + neg; *p; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp < -4 || exp >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        snprintf(out + o, 32 - o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
        return;
    }
    if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = -1; i > exp; i--)
            out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else {
        for (int i = 0; i <= exp; i++)
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        out[o++] = '.';
        if ((size_t)exp + 1 < nd) {
            memcpy(out + o, digits + exp + 1, nd - (size_t)exp - 1);
            o += nd - (size_t)exp - 1;
        } else {
            out[o++] = '0';
        }
    }
    out[o] = '\0';
}

static void py_str_into(struct tk_buf *b, const json_t *v, bool repr)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_NULL: tk_buf_puts(b, "None"); break;
    case JSON_TRUE: tk_buf_puts(b, "True"); break;
    case JSON_FALSE: tk_buf_puts(b, "False"); break;
    case JSON_INTEGER: tk_buf_printf(b, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL:
        tk_py_float_repr(json_real_value(v), num);
        tk_buf_puts(b, num);
        break;
    case JSON_STRING:
        if (repr) {
            /* Python repr of a str: single quotes unless it holds one and no double quote */
            const char *s = json_string_value(v);
            size_t n = json_string_length(v);
            bool dq = memchr(s, '\'', n) && !memchr(s, '"', n);
            char q = dq ? '"' : '\'';
            tk_buf_putc(b, q);
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch == '\\' || ch == (unsigned char)q)
                    tk_buf_printf(b, "\\%c", ch);
                else if (ch == '\n')
                    tk_buf_puts(b, "\\n");
                else if (ch == '\r')
                    tk_buf_puts(b, "\\r");
                else if (ch == '\t')
                    tk_buf_puts(b, "\\t");
                else if (ch < 0x20 || ch == 0x7f)
                    tk_buf_printf(b, "\\x%02x", ch);
                else
                    tk_buf_putc(b, (char)ch);
            }
            tk_buf_putc(b, q);
        } else {
            tk_buf_append(b, json_string_value(v), json_string_length(v));
        }
        break;
    case JSON_ARRAY: {
        tk_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                tk_buf_puts(b, ", ");
            py_str_into(b, json_array_get(v, i), true);
        }
        tk_buf_putc(b, ']');
        break;
    }
    case JSON_OBJECT: {
        tk_buf_putc(b, '{');
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first)
                tk_buf_puts(b, ", ");
            first = false;
            json_t *ks = json_string(k);
            if (ks)
                py_str_into(b, ks, true);
            json_decref(ks);
            tk_buf_puts(b, ": ");
            py_str_into(b, x, true);
        }
        tk_buf_putc(b, '}');
        break;
    }
    }
}

const char *tk_py_str(struct tk_arena *a, const json_t *v)
{
    struct tk_buf b;
    tk_buf_init(&b, TK_MAX_TEXT_BYTES);
    py_str_into(&b, v, false);
    const char *r = b.err ? NULL : tk_arena_strndup(a, b.data ? b.data : "", b.len);
    tk_buf_free(&b);
    return r;
}

/* The value of field name, or NULL with *st saying why not: absent (an error when required),
 * or null (an error unless allow_null), in DRF's order and wording. */
static json_t *field_get(json_t *obj, const char *name, bool required, bool allow_null,
                         struct tk_field_errors *fe, enum tk_field_state *st)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        *st = TK_FIELD_ABSENT;
        if (required) {
            tk_field_errors_add(fe, name, TK_MSG_REQUIRED);
            *st = TK_FIELD_INVALID;
        }
        return NULL;
    }
    if (json_is_null(v)) {
        *st = TK_FIELD_NULL;
        if (!allow_null) {
            tk_field_errors_add(fe, name, TK_MSG_NULL);
            *st = TK_FIELD_INVALID;
        }
        return NULL;
    }
    return v;
}

enum tk_field_state tk_field_char(struct tk_ctx *c, json_t *obj, const char *name,
                                  const struct tk_char_opts *o, struct tk_field_errors *fe,
                                  const char **out)
{
    enum tk_field_state state;
    json_t *v = field_get(obj, name, o->required, o->allow_null, fe, &state);
    if (v == NULL)
        return state;
    const char *s;
    size_t len;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v) || json_is_real(v)) {
        s = tk_py_str(c->req->arena, v);
        if (s == NULL) {
            fe->nomem = true;
            return TK_FIELD_INVALID;
        }
        len = strlen(s);
    } else {
        tk_field_errors_add(fe, name, TK_MSG_NOT_STRING);
        return TK_FIELD_INVALID;
    }
    size_t st, sl;
    tk_strip(s, len, &st, &sl);
    if (sl == 0 && !o->allow_blank) {
        tk_field_errors_add(fe, name, TK_MSG_BLANK);
        return TK_FIELD_INVALID;
    }
    char *copy = tk_arena_strndup(c->req->arena, s + st, sl);
    if (copy == NULL) {
        fe->nomem = true;
        return TK_FIELD_INVALID;
    }
    bool bad = false;
    if (o->max_length && tk_utf8_length(copy, sl) > o->max_length) {
        char msg[96];
        snprintf(msg, sizeof(msg), TK_MSG_MAX_LENGTH, o->max_length);
        tk_field_errors_add(fe, name, msg);
        bad = true;
    }
    if (memchr(copy, '\0', sl) != NULL) {
        tk_field_errors_add(fe, name, TK_MSG_NUL_CHARS);
        bad = true;
    }
    /* The value goes out even when a validator failed, so that callers can run the
     * validators that follow (DRF reports every failing validator of a field). */
    *out = copy;
    return bad ? TK_FIELD_INVALID : TK_FIELD_SET;
}

enum tk_field_state tk_field_bool(json_t *obj, const char *name, bool allow_null,
                                  struct tk_field_errors *fe, bool *out)
{
    static const char *const truthy[] = {"t",    "T",    "y",    "Y",  "yes", "Yes", "YES",
                                         "true", "True", "TRUE", "on", "On",  "ON",  "1"};
    static const char *const falsy[] = {"f",     "F",     "n",     "N",   "no",  "No",  "NO",
                                        "false", "False", "FALSE", "off", "Off", "OFF", "0"};
    enum tk_field_state state;
    json_t *v = field_get(obj, name, false, allow_null, fe, &state);
    if (v == NULL)
        return state;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return TK_FIELD_SET;
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (d == 1.0 || d == 0.0) {
            *out = d == 1.0;
            return TK_FIELD_SET;
        }
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
            if (strlen(truthy[i]) == n && memcmp(truthy[i], s, n) == 0) {
                *out = true;
                return TK_FIELD_SET;
            }
            if (strlen(falsy[i]) == n && memcmp(falsy[i], s, n) == 0) {
                *out = false;
                return TK_FIELD_SET;
            }
        }
    }
    tk_field_errors_add(fe, name, TK_MSG_BOOLEAN);
    return TK_FIELD_INVALID;
}

enum tk_field_state tk_field_datetime(json_t *obj, const char *name, bool allow_null,
                                      struct tk_field_errors *fe, int64_t *out)
{
    enum tk_field_state state;
    json_t *v = field_get(obj, name, false, allow_null, fe, &state);
    if (v == NULL)
        return state;
    if (json_is_string(v) && tk_time_parse(json_string_value(v), json_string_length(v), out) == 0)
        return TK_FIELD_SET;
    tk_field_errors_add(fe, name,
                        "Datetime has wrong format. Use one of these formats instead: "
                        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].");
    return TK_FIELD_INVALID;
}
