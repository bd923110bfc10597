/* Request bodies as DRF reads them (docs/api.md §1.2, §1.3) and DRF's field coercions with their
 * exact messages: CharField, ChoiceField, BooleanField, DateTimeField, PrimaryKeyRelatedField.
 * Each field reader reports into a tk_field_errors so all errors come back together. */
#ifndef TK_API_BODY_H
#define TK_API_BODY_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"

/* The body as a JSON object in *out (an empty body is {}), which the caller json_decref()s;
 * or a refusal (415, 400 parse error: TK_ERR_ANSWER; not an object: TK_ERR_FIELDS) and NULL. */
int tk_body_object(struct tk_ctx *c, json_t **out) TK_MUST_USE;

enum tk_field_state { TK_FIELD_ABSENT, TK_FIELD_NULL, TK_FIELD_SET, TK_FIELD_INVALID };

struct tk_char_opts {
    bool required, allow_null, allow_blank;
    size_t max_length; /* 0: none */
};

/* CharField: numbers become their Python str(), surrounding whitespace is trimmed, NUL refused.
 * *out (arena) is set when TK_FIELD_SET, and also when TK_FIELD_INVALID came from a validator
 * (length, NUL) so that further validators can run on it. */
enum tk_field_state tk_field_char(struct tk_ctx *c, json_t *obj, const char *name,
                                  const struct tk_char_opts *o, struct tk_field_errors *fe,
                                  const char **out);

/* BooleanField (§1 lists the accepted values). */
enum tk_field_state tk_field_bool(json_t *obj, const char *name, bool allow_null,
                                  struct tk_field_errors *fe, bool *out);

/* DateTimeField (allow_null): ISO 8601 strings only. */
enum tk_field_state tk_field_datetime(json_t *obj, const char *name, bool allow_null,
                                      struct tk_field_errors *fe, int64_t *out);

/* Python's str() of a JSON value as DRF would format it inside messages ("True", "1.5",
 * "['a']" ...), into the arena. */
const char *tk_py_str(struct tk_arena *a, const json_t *v);

/* Python repr of a double ("1.0", "1e+16", "0.1"). */
void tk_py_float_repr(double d, char out[32]);

#endif
