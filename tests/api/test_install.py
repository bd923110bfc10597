"""Service and documentation (issue 9 point 6): `cmake --install` (what `make install` runs) puts
the binary, the systemd unit and the man page under DESTDIR/prefix; the unit passes
`systemd-analyze verify` and the man page renders without warnings; and every setting that
`tokend --help` lists is documented in man/tokend.8 and README.md, so the docs cannot drift
from the settings table."""

import os
import re
import shutil
import subprocess

import pytest

from harness import tokend_bin

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAN = os.path.join(ROOT, "man", "tokend.8")
README = os.path.join(ROOT, "README.md")
UNIT = os.path.join(ROOT, "contrib", "tokend.service")


def help_settings():
    p = subprocess.run([tokend_bin(), "--help"], capture_output=True, timeout=60)
    assert p.returncode == 0
    rows = re.findall(r"^\s+(--[a-z0-9-]+)\s+(TOKEND_[A-Z0-9_]+)\s+(.*)$",
                      p.stdout.decode(), re.M)
    assert len(rows) >= 16
    return rows


def roff_text(path):
    """The man page's words with roff's escaped hyphens unescaped."""
    return open(path).read().replace("\\-", "-")


def test_every_setting_is_in_the_man_page_and_the_readme():
    man = roff_text(MAN)
    readme = open(README).read()
    missing = []
    for flag, env, _ in help_settings():
        if not re.search(r"\b" + env + r"\b", man) or flag not in man:
            missing.append(f"man/tokend.8: {env} {flag}")
        if f"`{env}`" not in readme or f"`{flag}`" not in readme:
            missing.append(f"README.md: {env} {flag}")
    assert missing == []


def test_readme_settings_table_gives_the_help_defaults():
    readme = open(README).read()
    rows = {m.group(1): m.group(3) for m in
            re.finditer(r"^\| `(TOKEND_[A-Z0-9_]+)` \| `(--[a-z0-9-]+)` \| ([^|]+) \|", readme, re.M)}
    for flag, env, default in help_settings():
        assert env in rows, f"{env} has no row in README's settings table"
        d = default.strip()
        if d in ("(unset)",):
            assert "unset" in rows[env], (env, rows[env])
        elif d == "number of cores":
            assert "cores" in rows[env], (env, rows[env])
        else:
            assert f"`{d}`" in rows[env], (env, d, rows[env])


def test_every_command_is_in_the_man_page():
    man = roff_text(MAN)
    for cmd in ("serve", "migrate", "bootstrap", "config", "backup", "restore", "sweep",
                "user create", "group create", "token create", "seed"):
        assert re.search(r"^\.(TP|B|BR|BI)?.*\b" + cmd, man, re.M), cmd


def test_man_page_renders_without_warnings():
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True,
                       timeout=60)
    assert p.returncode == 0 and p.stderr == b"", p.stderr.decode()


def build_dir():
    d = os.path.dirname(os.path.abspath(tokend_bin()))
    if not os.path.exists(os.path.join(d, "CMakeCache.txt")):
        pytest.skip(f"{d} is not a CMake build directory")
    return d


@pytest.mark.parametrize("prefix", ["/usr/local", "/opt/tokend"])
def test_install_tree(tmp_path, prefix):
    dest = str(tmp_path / "root")
    p = subprocess.run(["cmake", "--install", build_dir(), "--prefix", prefix],
                       env=dict(os.environ, DESTDIR=dest), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    root = dest + prefix
    binary = os.path.join(root, "bin", "tokend")
    unit = os.path.join(root, "lib", "systemd", "system", "tokend.service")
    man = os.path.join(root, "share", "man", "man8", "tokend.8")
    assert os.access(binary, os.X_OK)
    assert open(man).read() == open(MAN).read()
    text = open(unit).read()
    assert f"ExecStart={prefix}/bin/tokend serve\n" in text
    # nothing escapes DESTDIR
    files = sorted(os.path.relpath(os.path.join(d, f), dest)
                   for d, _, fs in os.walk(dest) for f in fs)
    assert files == sorted(os.path.relpath(x, dest) for x in (binary, unit, man))
    p = subprocess.run([binary, "--version"], capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith(b"tokend ")
    if shutil.which("systemd-analyze"):
        # verify checks that ExecStart exists: point it at the installed binary
        local = tmp_path / "tokend.service"
        local.write_text(text.replace(f"ExecStart={prefix}/bin/tokend",
                                      f"ExecStart={binary}"))
        p = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True,
                           timeout=120,
                           env=dict(os.environ, MANPATH=os.path.join(root, "share", "man")))
        assert p.returncode == 0 and p.stderr == b"", p.stderr.decode()


HARDENING = [
    "DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=tokend", "NoNewPrivileges=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "PrivateTmp=yes", "ProtectHome=yes",
    "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
    "LockPersonality=yes", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
    "CapabilityBoundingSet=\n", "UMask=0077", "ExecReload=/bin/kill -HUP $MAINPID",
    "Environment=TOKEND_DATABASE=sqlite:/var/lib/tokend/tokend.db",
    "EnvironmentFile=-/etc/tokend/tokend.env",
    "LimitCORE=0",  # a core file would hold keys (issue 13.8)
]


@pytest.mark.parametrize("line", HARDENING)
def test_unit_hardening(line):
    text = open(UNIT).read()
    assert ("\n" + line) in text if line.endswith("\n") else re.search(
        "^" + re.escape(line) + "$", text, re.M)
