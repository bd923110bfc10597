"""Validates every response the API tests receive against tokend's OpenAPI document
(src/api/schema/openapi.yaml) with a JSON-schema validator: a wrong type, a missing required
field or a field the schema does not declare fails the test that caused the response.

The OpenAPI schemas become JSON Schema: `nullable` adds null, `$ref`s point into the same
document, and objects that list their properties get `additionalProperties: false` unless the
schema says otherwise. Responses the document does not describe (405, 413, 415, 503 ...) must
be GenericError-shaped {"detail": "..."}. The few places where authentik itself answers outside
its own schema are listed in KNOWN_DEVIATIONS, each with its reason."""

import copy
import json
import os
import re

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(ROOT, "src", "api", "schema", "openapi.yaml")
PREFIX = "/api/v3"

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# (method, path template, status) -> why authentik answers outside its schema there.
KNOWN_DEVIATIONS = {
    # django-filter's attributes filter raises a bare ValidationError: a JSON list body.
    ("get", "/core/users/", 400): "attributes filter errors are a bare list",
    ("get", "/core/groups/", 400): "attributes filter errors are a bare list",
    # set_key's falsy key answers `Response(status=400)`: an empty body (docs/api.md §7.8).
    ("post", "/core/tokens/{identifier}/set_key/", 400): "empty body",
    # recovery without a flow: {"non_field_errors": "..."} with a bare string (docs/api.md §14.1).
    ("post", "/core/users/{id}/recovery/", 400): "non_field_errors is a string",
}

# Only the formats tokend promises; "email" stays unchecked since authentik allows "" there.
_checker = jsonschema.FormatChecker(formats=())


@_checker.checks("date-time")
def _date_time(value):
    return not isinstance(value, str) or bool(RFC3339.match(value))


@_checker.checks("uuid")
def _uuid(value):
    return not isinstance(value, str) or bool(UUID.match(value))


def _convert(node):
    """OpenAPI 3.0 schema -> JSON Schema (draft 4 vocabulary)."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "$ref":
            out[k] = v.replace("#/components/schemas/", "#/definitions/")
        elif k in ("nullable", "readOnly", "writeOnly", "example", "title", "description"):
            continue
        elif k == "pattern":
            # Patterns describe input; a username made by service_account (which authentik does
            # not validate) is outside GroupMember's username pattern in authentik too.
            continue
        elif k in ("properties", "definitions"):
            out[k] = {name: _convert(s) for name, s in v.items()}
        else:
            out[k] = _convert(v)
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    if node.get("nullable"):
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
        elif "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class SchemaCheck:
    def __init__(self):
        with open(DOC_PATH, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.definitions = {n: _convert(s) for n, s in self.doc["components"]["schemas"].items()}
        self.routes = []
        for template, item in self.doc["paths"].items():
            pattern = re.escape(PREFIX + template)
            pattern = re.sub(r"\\\{[a-z_]+\\\}", r"[^/.]+", pattern)
            self.routes.append((re.compile("^" + pattern + "$"), template, item))
        # literal paths (users/me/) before templated ones (users/{id}/)
        self.routes.sort(key=lambda r: r[1].count("{"))
        self.checked = 0

    def _schema_for(self, method, template, item, status):
        op = item.get(method)
        if op is None:
            return None
        resp = op.get("responses", {}).get(str(status))
        if resp is None:
            return None
        content = resp.get("content", {})
        media = content.get("application/json")
        return media.get("schema") if media else None

    def check(self, method, path, status, headers, body):
        """Raises AssertionError when the response does not fit the document."""
        method = method.lower()
        path = path.split("?", 1)[0]
        if method in ("head", "options") or not path.startswith(PREFIX + "/"):
            return
        route = next(((t, item) for rx, t, item in self.routes if rx.match(path)), None)
        if route is None:
            if status == 404:
                self._validate({"$ref": "#/components/schemas/GenericError"}, body, path, status)
            return
        template, item = route
        if template == "/schema/":
            return  # the document itself, checked by the compatibility suite
        if (method, template, status) in KNOWN_DEVIATIONS:
            return
        if status == 204:
            assert body == b"", f"{method.upper()} {path} -> 204 with a body {body[:200]!r}"
            return
        schema = self._schema_for(method, template, item, status)
        if schema is None:
            # Statuses the document does not describe carry DRF's {"detail": "..."}
            schema = {"$ref": "#/components/schemas/GenericError"}
        self._validate(schema, body, f"{method.upper()} {path}", status)

    def _validate(self, schema, body, what, status):
        try:
            value = json.loads(body)
        except ValueError:
            raise AssertionError(f"{what} -> {status}: body is not JSON: {body[:200]!r}")
        full = dict(_convert(copy.deepcopy(schema)))
        full["definitions"] = self.definitions
        try:
            jsonschema.Draft4Validator(full, format_checker=_checker).validate(value)
        except jsonschema.ValidationError as e:
            where = "/".join(str(p) for p in e.absolute_path)
            raise AssertionError(f"{what} -> {status}: response does not fit the OpenAPI "
                                 f"schema at '{where}': {e.message}") from None
        self.checked += 1


_instance = None


def instance():
    global _instance
    if _instance is None:
        _instance = SchemaCheck()
    return _instance
