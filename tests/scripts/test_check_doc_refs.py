"""scripts/check-doc-refs on small trees made for each case: a clean tree passes silently, and
every kind of bad reference planted in it fails with one line naming the file, the line and
what is missing. The strings below plant violations on purpose (check-doc-refs: ignore-file)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "check-doc-refs")

# Names of files outside the repository, the violations planted below, spelt in pieces so that
# this file itself names none of them.
SPEC = "API" ".md"
STYLE = "style" ".md"
DESIGN = "DESIGN" ".md"
SHARED_SPEC = "../" "shared/spec/" + SPEC
CHECKOUT_BIN = "/work/" "main/build/debug/tokend"

API_MD = """# The API

## 1. Conventions

### 1.1 Error bodies

See §1.1 and §2.

## 2. Paths

```
## 9. not a heading: inside a code block
```
"""

README = """# project

## Layout

**Statement time budget.** One statement at a time.

- **Client addresses.** The peer's.
"""

CLEAN_C = """/* Errors as docs/api.md §1.1 says; paths (§2, §1). README "Layout" and README,
 * "Statement time budget" and (README "Client addresses") hold. Sources in src/api/a.c and
 * api/a.c, tests in tests/unit/, the build in ../../build/debug/x (relative to this file).
 * RFC 7662 §2.2 is not ours to check. */
"""


def make_tree(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def run(root):
    r = subprocess.run([sys.executable, SCRIPT, "--root", str(root)], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout.splitlines(), r.stderr


def clean_files():
    return {
        "README.md": README,
        "docs/api.md": API_MD,
        "src/api/a.c": CLEAN_C,
        "src/store/b.c": "/* store/b.c: the store */\n",
        "tests/unit/test_a.c": "/* src/api/a.c, docs/api.md §1 */\n",
    }


def test_clean_tree_passes(tmp_path):
    code, out, err = run(make_tree(tmp_path, clean_files()))
    assert (code, out, err) == (0, [], "")


# one planted line each -> the one message it must give
PLANTED = [
    ("/* docs/api.md §3 */", "src/api/a.c:1: docs/api.md has no section §3"),
    ("/* docs/api.md §1.2 */", "src/api/a.c:1: docs/api.md has no section §1.2"),
    # a heading inside a code block is no section
    ("/* see docs/api.md §9 */", "src/api/a.c:1: docs/api.md has no section §9"),
    # bare sections take the document cited before them, here on the same line
    ("/* docs/api.md §1, §2, §3 */", "src/api/a.c:1: docs/api.md has no section §3"),
    ("/* docs/guide.md §1 */", "src/api/a.c:1: docs/guide.md does not exist in the repository"),
    ("/* as §4 says */", "src/api/a.c:1: §4 cites no document: write docs/<file>.md §4"),
    (f"/* {SPEC} §3 */",
     f"src/api/a.c:1: names {SPEC}, which is not in the repository: cite README.md or docs/*.md"),
    (f"/* ({STYLE}) */",
     f"src/api/a.c:1: names {STYLE}, which is not in the repository: cite README.md or docs/*.md"),
    (f"/* {DESIGN} */",
     f"src/api/a.c:1: names {DESIGN}, which is not in the repository: cite README.md or "
     "docs/*.md"),
    (f"/* {SHARED_SPEC} */",
     f"src/api/a.c:1: {SHARED_SPEC} points outside the repository"),
    ("/* tests/fuzz/README.md */",
     "src/api/a.c:1: tests/fuzz/README.md does not exist in the repository"),
    ("/* store/gone.c */",
     "src/api/a.c:1: store/gone.c does not exist (under src/ or beside src/api/a.c)"),
    (f'DEFAULT_BIN = "{CHECKOUT_BIN}"',
     f"src/api/a.c:1: {CHECKOUT_BIN} is an absolute path into a checkout: use a "
     "path inside the repository"),
    ('/* README, "Limits" */', 'src/api/a.c:1: README.md has no heading "Limits"'),
    ('/* docs/api.md "Paths and methods" */',
     'src/api/a.c:1: docs/api.md has no heading "Paths and methods"'),
]


@pytest.mark.parametrize("line,message", PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_violation_fails(tmp_path, line, message):
    files = clean_files()
    files["src/api/a.c"] = line + "\n" + CLEAN_C
    code, out, err = run(make_tree(tmp_path, files))
    assert code == 1, out
    assert out == [message]
    assert err.strip() == "check-doc-refs: 1 bad reference(s)"


def test_every_bad_reference_is_reported(tmp_path):
    files = clean_files()
    files["tests/api/test_x.py"] = f'"""{SPEC} §3 and docs/api.md §7."""\n\n# docs/api.md §1.1\n'
    files["docs/api.md"] = API_MD + "\nAs §5 says.\n"
    code, out, _ = run(make_tree(tmp_path, files))
    assert code == 1
    n = API_MD.count("\n") + 2
    assert out == [
        f"docs/api.md:{n}: docs/api.md has no section §5",
        f"tests/api/test_x.py:1: names {SPEC}, which is not in the repository: cite README.md or "
        "docs/*.md",
        "tests/api/test_x.py:1: docs/api.md has no section §7",
    ]


def test_ignore_marker(tmp_path):
    files = clean_files()
    files["src/api/a.c"] = f"/* {SPEC} §3 (check-doc-refs: ignore) */\n" + CLEAN_C
    assert run(make_tree(tmp_path, files))[0] == 0
