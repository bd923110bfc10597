/* Fast JSON writer for responses: appends compact JSON (DRF's separators) to a caller-owned
 * tk_buf. Strings are escaped as Python's json.dumps(ensure_ascii=False) does; invalid UTF-8
 * is written as U+FFFD so the output is always valid JSON. Commas are placed automatically.
 * Errors are sticky in the buffer (tk_buf.err); check once at the end. Not thread-safe. */
#ifndef TK_JSON_WRITER_H
#define TK_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/escape.h" /* tk_json_escape, for the callers that escape by hand */

#define TK_JW_MAX_DEPTH 32

struct tk_jw {
    struct tk_buf *out;
    unsigned depth;
    bool first[TK_JW_MAX_DEPTH]; /* no value written yet at this level */
    bool after_key;
};

void tk_jw_init(struct tk_jw *w, struct tk_buf *out);
void tk_jw_obj_begin(struct tk_jw *w);
void tk_jw_obj_end(struct tk_jw *w);
void tk_jw_arr_begin(struct tk_jw *w);
void tk_jw_arr_end(struct tk_jw *w);
/* An object key; k is escaped like any string. */
void tk_jw_key(struct tk_jw *w, const char *k);
/* A key that is a string literal of plain characters (no '"', '\\' or control bytes), as all
 * the serializers' keys are: written as one copy of "\"key\":", with no strlen or escaping. */
#define tk_jw_keyl(w, lit) tk_jw_key_raw((w), "\"" lit "\":", sizeof(lit) + 2)
void tk_jw_key_raw(struct tk_jw *w, const char *quoted, size_t len);
void tk_jw_str(struct tk_jw *w, const char *s, size_t len);
void tk_jw_cstr(struct tk_jw *w, const char *s); /* NULL writes null */
void tk_jw_int(struct tk_jw *w, int64_t v);
void tk_jw_bool(struct tk_jw *w, bool v);
void tk_jw_null(struct tk_jw *w);
/* A datetime (µs since epoch) as RFC 3339 string (util/time.h). */
void tk_jw_time(struct tk_jw *w, int64_t us);
/* tk_jw_time when has, else null (the nullable datetimes of the objects). */
static inline void tk_jw_time_or_null(struct tk_jw *w, bool has, int64_t us)
{
    if (has)
        tk_jw_time(w, us);
    else
        tk_jw_null(w);
}
/* Pre-serialised JSON written verbatim (must be a valid compact JSON value). */
void tk_jw_raw(struct tk_jw *w, const char *json, size_t len);

#endif
