"""Writes a C file holding every file of the console's folder (docs/api.md §22): each one raw and
gzip-compressed, with its content hash and Content-Type, and a build hash over all of them.

Usage: embed_console.py CONSOLE_DIR OUT.c

The console is served at /if/admin/ (index.html) and its other files under
/if/admin/<build>/<path>, where <build> changes whenever any file changes, so they can be cached
for ever. index.html's src= and href= attributes that name a console file by a relative path are
rewritten to that versioned path; a relative reference to a file that does not exist fails the
build. ES modules import each other by relative URL and so resolve inside the same versioned
folder unchanged. Files whose extension has no known Content-Type fail the build (they could not
be served correctly); Markdown notes and dot files are not embedded.
"""
import gzip
import hashlib
import os
import re
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
SKIPPED = (".md",)
PREFIX = "/if/admin/"
# a path segment the server accepts (api/console.c): no dot files, no "..", no odd bytes
SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def fail(msg):
    sys.stderr.write("embed_console.py: " + msg + "\n")
    sys.exit(1)


def collect(root):
    files = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith(".") and x != "node_modules")
        for n in sorted(names):
            if n.startswith(".") or n.endswith("~") or n.endswith(SKIPPED):
                continue
            full = os.path.join(d, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            ext = os.path.splitext(n)[1].lower()
            if ext not in TYPES:
                fail(f"{rel}: no Content-Type known for '{ext}' (add it to TYPES)")
            if not all(SAFE.match(s) for s in rel.split("/")):
                fail(f"{rel}: a console path is made of [A-Za-z0-9_.-] segments")
            with open(full, "rb") as f:
                files[rel] = f.read()
    if "index.html" not in files:
        fail(f"{root}/index.html is missing")
    return files


def rewrite_index(text, files, build):
    def repl(m):
        attr, q, val = m.group(1), m.group(2), m.group(3)
        if re.match(r"^([a-z][a-z0-9+.\-]*:|/|#|\?)", val, re.I) or val == "":
            return m.group(0)  # absolute, another scheme (data:), a fragment: left alone
        path = val[2:] if val.startswith("./") else val
        path = path.split("#")[0].split("?")[0]
        if path not in files or path == "index.html":
            fail(f"index.html: {attr}={q}{val}{q} names no console file")
        return f"{attr}={q}{PREFIX}{build}/{path}{q}"

    return re.sub(r"""\b(src|href)\s*=\s*(["'])(.*?)\2""", repl, text)


def c_bytes(name, data):
    out = [f"static const unsigned char {name}[{max(len(data), 1)}] = {{"]
    for i in range(0, len(data), 24):
        out.append("    " + ",".join(str(b) for b in data[i:i + 24]) + ",")
    if not data:
        out.append("    0,")
    out.append("};")
    return "\n".join(out) + "\n"


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    root, out = sys.argv[1], sys.argv[2]
    files = collect(root)
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    build = h.hexdigest()[:16]
    index = rewrite_index(files["index.html"].decode("utf-8"), files, build).encode("utf-8")
    files["index.html"] = index

    parts = [
        "/* Generated from the console's folder by cmake/embed_console.py (docs/api.md §22). */\n",
        '#include "api/console.h"\n\n',
    ]
    entries = []
    for i, rel in enumerate(sorted(files)):
        raw = files[rel]
        gz = gzip.compress(raw, compresslevel=9, mtime=0)
        if len(gz) >= len(raw):
            gz = b""  # no gain: only the raw bytes are sent
        digest = hashlib.sha256(raw).hexdigest()[:32]
        parts.append(c_bytes(f"raw_{i}", raw))
        parts.append(c_bytes(f"gz_{i}", gz))
        ctype = TYPES[os.path.splitext(rel)[1].lower()]
        entries.append(
            f"    {{{c_str(rel)}, {c_str(ctype)}, raw_{i}, {len(raw)}, gz_{i}, {len(gz)},\n"
            f"     {c_str(chr(34) + digest + chr(34))}, {c_str(chr(34) + digest + '-gzip' + chr(34))}}},\n"
        )
    parts.append("\nconst struct tk_console_file tk_console_files[] = {\n")
    parts.extend(entries)
    parts.append("};\n")
    parts.append(f"const size_t tk_console_n_files = {len(entries)};\n")
    parts.append(f"const char tk_console_build[] = {c_str(build)};\n")
    text = "".join(parts)

    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)  # a fresh build tree has no generated/
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(out + ".tmp", out)


main()
