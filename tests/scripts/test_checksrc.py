"""scripts/checksrc on trees of its own: clean code passes, and each planted violation fails the
run with its file:line and rule (the rules are in the script's header). ctest runs this as
style/checksrc-planted; style/checksrc runs the script on the real tree. The paths below name
planted files, not the repository's (check-doc-refs: ignore-file)."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKSRC = os.path.join(ROOT, "scripts", "checksrc")

LIMITS_H = """\
#define TK_MAX_TEXT_BYTES (64 * 1024) /* limits live here: never flagged */
#define TK_TABLE_SLOTS 4096
"""

# Everything here looks like a violation to a grep and is none.
CLEAN_C = r"""
/* sprintf(buf, "%d"), strcpy(a, b) and 64 * 1024 in a comment are not code */
// strcat(a, b); atoi("1"); gets(s); 1 << 20
#include <stdio.h>
#include <string.h>
#include "util/limits.h"

static const char *doc = "use strcpy(dst, src) or sprintf(\"%d\") for 64 * 1024 bytes";
static const char quote = '"';

int my_atoi(const char *s); /* a name that ends in a banned one */

int f(struct tk_buf *b, char *out, size_t n, const char *s, unsigned mem_kib, int64_t ms)
{
    char err[1024];                     /* an array's own dimension */
    snprintf(out, n, "%s", s);          /* bounded */
    memcpy(out, s, strlen(s) + 1);
    tk_buf_init(b, TK_MAX_TEXT_BYTES);  /* a named cap */
    tk_buf_init(b, 4 * n + 16);         /* a cap computed from a name */
    size_t bytes = (size_t)mem_kib * 1024; /* a unit conversion */
    int64_t us = ms * 1000, ns = us * 1000000000;
    unsigned mask = 0xffff0000u, mode = 0600, cp = 0x10000;
    int status = 503, year = 1970;
    b->ops->sprintf(out);               /* a member, not the libc function */
    return my_atoi(s) + (int)bytes + (int)ns + (int)mask + (int)mode + (int)cp + status + year +
           (int)sizeof(err) + quote + (doc != NULL);
}
"""


def run(tree):
    return subprocess.run([sys.executable, CHECKSRC, str(tree)], capture_output=True, text=True)


def make_tree(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path, {"src/util/limits.h": LIMITS_H, "src/clean.c": CLEAN_C,
                                "tests/unit/test_clean.c": CLEAN_C})


def test_a_clean_tree_passes(tree):
    r = run(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""
    assert "files clean" in r.stderr


# (file, source, the line checksrc must name, rule)
PLANTED = [
    ("src/api/a.c", "int f(char *d)\n{\n    return sprintf(d, \"%d\", 1);\n}\n", 3, "banned-call"),
    ("src/api/a.c", "void f(char *d)\n{\n    vsprintf(d, \"x\", 0);\n}\n", 3, "banned-call"),
    ("src/a.c", "void f(char *d, const char *s)\n{\n    strcpy(d, s);\n}\n", 3, "banned-call"),
    ("src/a.c", "void f(char *d, const char *s)\n{\n    strcat (d, s);\n}\n", 3, "banned-call"),
    ("src/a.c", "void f(char *d, const char *s)\n{\n    strncat(d, s, 3);\n}\n", 3, "banned-call"),
    ("src/a.c", "int f(const char *s)\n{\n    return atoi(s);\n}\n", 3, "banned-call"),
    ("src/a.c", "long f(const char *s)\n{\n    return atol(s);\n}\n", 3, "banned-call"),
    ("src/a.c", "char *f(char *s)\n{\n    return strtok(s, \",\");\n}\n", 3, "banned-call"),
    ("src/a.c", "char *f(char *s)\n{\n    return gets(s);\n}\n", 3, "banned-call"),
    ("tests/unit/test_a.c", "void f(char *d)\n{\n    strcpy(d, \"x\");\n}\n", 3, "banned-call"),
    # the issue's own example, and its friends
    ("src/api/b.c", "void f(struct tk_buf *m)\n{\n    tk_buf_init(m, 64 * 1024);\n}\n", 3,
     "limit-literal"),
    ("src/b.c", "#define LINE_MAX_BYTES (64 * 1024)\n", 1, "limit-literal"),
    ("src/b.c", "size_t f(void)\n{\n    return 4u * 1024 * 1024;\n}\n", 3, "limit-literal"),
    ("src/b.c", "void *f(void)\n{\n    return tk_arena_new(1 << 20);\n}\n", 3, "limit-literal"),
    ("src/b.c", "void f(struct tk_buf *b)\n{\n    tk_buf_init(b, 4096);\n}\n", 3, "limit-literal"),
    ("src/b.c", "void f(struct tk_buf *b)\n{\n    tk_buf_init(b,\n                (size_t)300);\n}\n",
     4, "limit-literal"),
    ("src/b.c", "\n#define COPY_CHUNK 65536\n", 2, "limit-literal"),
    ("src/b.c", "int backlog(void)\n{\n    return 2048;\n}\n", 3, "limit-literal"),
    # markers: a reason is required, and a marker must exempt something
    ("src/c.c", "#define CHUNK 8 /* checksrc: allow */\n", 1, "allow-reason"),
    ("src/c.c", "int x; /* checksrc: allow nothing to exempt here */\n", 1, "allow-unused"),
]


@pytest.mark.parametrize("rel,source,line,rule", PLANTED,
                         ids=["%s:%d:%s" % (p[0], p[2], p[3]) for p in PLANTED])
def test_a_planted_violation_fails_with_its_file_and_line(tree, rel, source, line, rule):
    make_tree(tree, {rel: source})
    r = run(tree)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("%s:%d: %s: " % (rel, line, rule)), r.stdout
    assert len(r.stdout.splitlines()) == 1, r.stdout  # the clean files stay clean
    assert "violation" in r.stderr


def test_limits_are_not_checked_in_tests(tree):
    make_tree(tree, {"tests/unit/test_b.c": "char big[64 * 1024];\nint n = 4096;\n"})
    assert run(tree).returncode == 0


def test_a_marker_with_its_reason_exempts_its_line_or_the_next(tree):
    make_tree(tree, {"src/d.c": """\
        #define COPY_CHUNK 65536 /* checksrc: allow one read(2), tuning */
        /* checksrc: allow glibc's allocator tuning,
         * not a limit */
        int t = 8 * 1024 * 1024;
        int u = 4096;
        """})
    r = run(tree)
    # the marker above covers line 4 only: line 5 is still a violation
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "src/d.c:5: limit-literal: a power of two from 1024 up (a buffer, table or chunk size): "
        "name it in src/util/limits.h"]


def test_every_violation_is_listed(tree):
    make_tree(tree, {"src/e.c": "void f(char *d)\n{\n    strcpy(d, \"a\");\n    strcat(d, \"b\");\n}\n",
                     "src/f.c": "int n = 1 << 12;\n"})
    r = run(tree)
    assert r.returncode == 1
    assert [l.split(": ")[0] for l in r.stdout.splitlines()] == ["src/e.c:3", "src/e.c:4",
                                                                "src/f.c:1"]
    assert "3 violation(s) in 2 file(s)" in r.stderr


def test_usage_errors(tmp_path):
    assert run(tmp_path).returncode == 2  # no src/
    r = subprocess.run([sys.executable, CHECKSRC, "--help"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def test_the_real_tree_is_clean():
    r = run(ROOT)
    assert r.returncode == 0, r.stdout
