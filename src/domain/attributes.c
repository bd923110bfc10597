/* Attribute merge and the rules read from it (attributes.h). */
#include "domain/attributes.h"

#include <string.h>

#include "util/time.h"

int tk_attributes_merge_into(json_t *dst, const json_t *src)
{
    const char *key;
    json_t *sv;
    json_object_foreach((json_t *)src, key, sv)
    {
        json_t *dv = json_object_get(dst, key);
        if (dv != NULL && json_is_object(dv) && json_is_object(sv)) {
            int rc = tk_attributes_merge_into(dv, sv);
            if (rc)
                return rc;
        } else if (dv != NULL && json_is_array(dv) && json_is_array(sv)) {
            json_t *cat = json_deep_copy(dv);
            if (cat == NULL || json_array_extend(cat, (json_t *)sv) != 0 ||
                json_object_set_new(dst, key, cat) != 0)
                return TK_ERR_NOMEM;
        } else {
            json_t *copy = json_deep_copy(sv);
            if (copy == NULL || json_object_set_new(dst, key, copy) != 0)
                return TK_ERR_NOMEM;
        }
    }
    return 0;
}

json_t *tk_attributes_merged(const char *const *texts, size_t n)
{
    json_t *out = json_object();
    for (size_t i = 0; out != NULL && i < n; i++) {
        json_t *v = texts[i] ? json_loads(texts[i], JSON_ALLOW_NUL, NULL) : NULL;
        if (v != NULL && json_is_object(v) && tk_attributes_merge_into(out, v) != 0) {
            json_decref(out);
            out = NULL;
        }
        json_decref(v);
    }
    return out;
}

int64_t tk_app_password_max_expiry(const json_t *merged, int64_t now, int64_t default_us)
{
    int64_t life = default_us;
    const json_t *v = json_object_get(merged, TK_ATTR_MAX_LIFETIME);
    int64_t parsed;
    /* A non-string value crashes authentik; tokend treats it as unparsable (docs/api.md §17.2). */
    if (v != NULL && json_is_string(v) &&
        tk_duration_parse(json_string_value(v), json_string_length(v), &parsed) == 0)
        life = parsed;
    if (life > 0 && now > TK_TIME_MAX_US - life)
        return TK_TIME_MAX_US;
    if (life < 0 && now < TK_TIME_MIN_US - life)
        return TK_TIME_MIN_US;
    return now + life;
}

bool tk_attributes_token_expiring(const char *user_attributes)
{
    json_t *root = json_loads(user_attributes, JSON_ALLOW_NUL, NULL);
    bool r = true;
    const json_t *v = root ? json_object_get(root, TK_ATTR_TOKEN_EXPIRES) : NULL;
    if (v != NULL) {
        switch (json_typeof(v)) {
        case JSON_FALSE:
        case JSON_NULL: r = false; break;
        case JSON_TRUE: r = true; break;
        case JSON_INTEGER: r = json_integer_value(v) != 0; break;
        case JSON_REAL: r = json_real_value(v) != 0.0; break;
        case JSON_STRING: r = json_string_length(v) > 0; break;
        case JSON_ARRAY: r = json_array_size(v) > 0; break;
        case JSON_OBJECT: r = json_object_size(v) > 0; break;
        }
    }
    json_decref(root);
    return r;
}
