/* GET /api/v3/schema/: the OpenAPI document of what tokend serves (src/api/schema/openapi.yaml,
 * compiled in), YAML by default and JSON with ?format=json, as drf-spectacular serves it:
 * without authentication. */
#include <string.h>

#include "api/api.h"
#include "api/query.h"

extern const char tk_openapi_yaml[];
extern const size_t tk_openapi_yaml_len;
extern const char tk_openapi_json[];
extern const size_t tk_openapi_json_len;

void tk_api_schema(struct tk_request *req, struct tk_response *res, void *ctx)
{
    if (req->method != TK_M_GET && req->method != TK_M_HEAD && req->method != TK_M_OPTIONS) {
        tk_response_detail(res, 405,
                           req->method == TK_M_POST     ? "Method \"POST\" not allowed."
                           : req->method == TK_M_PUT    ? "Method \"PUT\" not allowed."
                           : req->method == TK_M_PATCH  ? "Method \"PATCH\" not allowed."
                           : req->method == TK_M_DELETE ? "Method \"DELETE\" not allowed."
                                                        : "Method not allowed.");
        return;
    }
    struct tk_query q;
    bool json = false;
    if (tk_query_parse(req->arena, req->query, req->query_len, &q) == 0) {
        const struct tk_qparam *p = tk_query_get(&q, "format");
        json = p != NULL && p->val_len == 4 && memcmp(p->val, "json", 4) == 0;
    }
    res->status = 200;
    if (json) {
        res->content_type = "application/vnd.oai.openapi+json";
        tk_buf_append(&res->body, tk_openapi_json, tk_openapi_json_len);
    } else {
        res->content_type = "application/vnd.oai.openapi; charset=utf-8";
        tk_buf_append(&res->body, tk_openapi_yaml, tk_openapi_yaml_len);
    }
}
