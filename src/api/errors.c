/* The one place where handlers' outcomes become HTTP answers (api.h's handler contract):
 * program errors by a table, field errors as one 400, refusals as the handler described them.
 * Storage trouble is a 503 with a detail, never a 500 (docs/api.md §17.2). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/messages.h"
#include "json/writer.h"

/* A program error's answer (the table of the handler contract). Never a 500. */
static void program_error(struct tk_response *res, int err)
{
    switch (err) {
    case TK_ERR_NOTFOUND: tk_response_detail(res, 404, TK_MSG_NOT_FOUND); break;
    case TK_ERR_FORBIDDEN: tk_response_detail(res, 403, TK_MSG_FORBIDDEN); break;
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

void tk_field_errors_free(struct tk_field_errors *fe)
{
    tk_buf_free(&fe->buf);
    fe->n_fields = 0;
    fe->open_field = NULL;
}

/* The answer of TK_ERR_FIELDS: every field's messages in one 400 (503 if validation itself ran
 * out of memory). */
static void answer_fields(struct tk_response *res, struct tk_field_errors *fe)
{
    if (fe->nomem || fe->n_fields == 0) { /* no field: a handler's slip, never an empty 400 */
        program_error(res, TK_ERR_NOMEM);
        return;
    }
    tk_buf_puts(&fe->buf, "]}");
    if (fe->buf.err) {
        program_error(res, fe->buf.err);
        return;
    }
    res->status = 400;
    tk_buf_append(&res->body, fe->buf.data, fe->buf.len);
}

static void answer(struct tk_response *res, const struct tk_answer *a)
{
    if (a->body == NULL && !a->empty) {
        tk_response_detail(res, a->status, a->detail);
    } else {
        res->status = a->status;
        res->empty = a->empty;
        if (a->body != NULL)
            tk_buf_puts(&res->body, a->body);
    }
    res->retry_after = a->retry_after;
}

void tk_api_respond(struct tk_ctx *c, int rc)
{
    struct tk_response *res = c->res;
    if (rc != 0) {
        /* whatever the handler had begun to write goes: one answer, this one */
        tk_buf_reset(&res->body);
        res->empty = false;
        res->content_type = NULL;
        if (rc == TK_ERR_FIELDS)
            answer_fields(res, &c->fe);
        else if (rc == TK_ERR_ANSWER)
            answer(res, &c->answer);
        else
            program_error(res, rc);
    }
    tk_field_errors_free(&c->fe);
}
