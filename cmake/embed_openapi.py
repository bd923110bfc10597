"""Writes a C file holding the OpenAPI document as YAML (verbatim) and as compact JSON."""
import json
import os
import sys

import yaml

src, out = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
doc = yaml.safe_load(text)
as_json = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def c_string(s):
    body = s.encode("utf-8").decode("latin-1")
    esc = body.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n\"\n\"")
    return '"' + esc + '"'


os.makedirs(os.path.dirname(out), exist_ok=True)  # a fresh build tree has no generated/ yet
with open(out + ".tmp", "w", encoding="latin-1") as f:
    f.write("/* Generated from src/api/schema/openapi.yaml by cmake/embed_openapi.py. */\n")
    f.write('#include <stddef.h>\n\n')
    f.write("const char tk_openapi_yaml[] =\n" + c_string(text) + ";\n")
    f.write("const size_t tk_openapi_yaml_len = sizeof(tk_openapi_yaml) - 1;\n")
    f.write("const char tk_openapi_json[] =\n" + c_string(as_json) + ";\n")
    f.write("const size_t tk_openapi_json_len = sizeof(tk_openapi_json) - 1;\n")
import os
if not os.path.exists(out) or open(out, encoding="latin-1").read() != open(out + ".tmp", encoding="latin-1").read():
    os.replace(out + ".tmp", out)
else:
    os.remove(out + ".tmp")
