/* The one place where program errors become HTTP answers (style.md). Storage trouble is a 503
 * with a detail, never a 500 (API.md §17.2). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "json/writer.h"

void tk_api_error(struct tk_response *res, int err)
{
    switch (err) {
    case TK_ERR_NOTFOUND: tk_response_detail(res, 404, "Not found."); break;
    case TK_ERR_FORBIDDEN:
        tk_response_detail(res, 403, "You do not have permission to perform this action.");
        break;
    case TK_ERR_TOOBIG: tk_response_detail(res, 413, "Request body too large."); break;
    case TK_ERR_BUSY: tk_response_detail(res, 503, "The database is busy, try again."); break;
    case TK_ERR_TIMEOUT:
        /* a statement over TOKEND_STATEMENT_TIMEOUT, stopped and rolled back (README) */
        tk_response_detail(res, 503,
                           "The query took longer than the statement timeout; narrow it or "
                           "try again.");
        break;
    case TK_ERR_NOMEM:
        tk_response_detail(res, 503, "The server is out of memory, try again.");
        break;
    default:
        tk_response_detail(res, 503, "The service is temporarily unavailable, try again.");
        break;
    }
}

void tk_field_errors_init(struct tk_field_errors *fe)
{
    tk_buf_init(&fe->buf, TK_MAX_FIELD_ERRORS_BYTES);
    fe->n_fields = 0;
    fe->open_field = NULL;
    fe->nomem = false;
}

void tk_field_errors_add(struct tk_field_errors *fe, const char *field, const char *msg)
{
    tk_field_errors_add_n(fe, field, msg, strlen(msg));
}

void tk_field_errors_add_n(struct tk_field_errors *fe, const char *field, const char *msg,
                           size_t len)
{
    /* Messages of one field accumulate in its list; fields appear in the order first seen.
     * Callers add all messages of a field before moving on (validation runs field by field). */
    if (fe->open_field != NULL && strcmp(fe->open_field, field) == 0) {
        tk_buf_putc(&fe->buf, ',');
    } else {
        if (fe->open_field != NULL)
            tk_buf_puts(&fe->buf, "],");
        else
            tk_buf_putc(&fe->buf, '{');
        tk_buf_putc(&fe->buf, '"');
        tk_json_escape(&fe->buf, field, strlen(field));
        tk_buf_puts(&fe->buf, "\":[");
        fe->open_field = field;
        fe->n_fields++;
    }
    tk_buf_putc(&fe->buf, '"');
    tk_json_escape(&fe->buf, msg, len);
    tk_buf_putc(&fe->buf, '"');
}

bool tk_field_errors_respond(struct tk_field_errors *fe, struct tk_response *res)
{
    if (fe->nomem) {
        tk_buf_free(&fe->buf);
        tk_api_error(res, TK_ERR_NOMEM);
        return true;
    }
    if (fe->n_fields == 0) {
        tk_buf_free(&fe->buf);
        return false;
    }
    tk_buf_puts(&fe->buf, "]}");
    res->status = 400;
    res->empty = false;
    tk_buf_reset(&res->body);
    if (fe->buf.err)
        tk_api_error(res, fe->buf.err);
    else
        tk_buf_append(&res->body, fe->buf.data, fe->buf.len);
    tk_buf_free(&fe->buf);
    return true;
}
