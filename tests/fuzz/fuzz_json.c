/* Fuzz target: the JSON writer's escaping. Whatever bytes go in, the output must be a valid
 * JSON string that jansson parses back to the input with invalid UTF-8 replaced. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "json/writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tk_buf out, want;
    tk_buf_init(&out, 1 << 24);
    tk_buf_init(&want, 1 << 24);
    struct tk_jw w;
    tk_jw_init(&w, &out);
    tk_jw_arr_begin(&w);
    tk_jw_str(&w, (const char *)data, size);
    tk_jw_arr_end(&w);
    if (out.err == 0 && tk_utf8_repair((const char *)data, size, &want) == 0) {
        json_error_t e;
        json_t *v = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &e);
        if (v == NULL)
            abort(); /* the writer produced invalid JSON */
        json_t *s = json_array_get(v, 0);
        if (!json_is_string(s) || json_string_length(s) != want.len ||
            (want.len && memcmp(json_string_value(s), want.data, want.len) != 0))
            abort(); /* the round trip lost or changed characters */
        json_decref(v);
    }
    tk_buf_free(&out);
    tk_buf_free(&want);
    return 0;
}
