"""The pieces of the gateway tests: a small upstream service that echoes what reached it, Debian's
nginx (auth_request) and Caddy (forward_auth) started on loopback with contrib/'s snippets in
front of it and tokend as the authority, and a client that can connect from another loopback
address than 127.0.0.1.

The proxies run without root privileges of their own making: every file they write (pid, temp
folders, logs, Caddy's storage) is in their own folder. Python stdlib + pytest only.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import LOG_PATHS, Response, note_key

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(ROOT, "contrib")
NGINX = "/usr/sbin/nginx"
CADDY = "/usr/bin/caddy"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0

# The protected service's paths: /reports/ needs the scope reports:read, the rest any valid key
# (the same split in the nginx server below and in contrib/caddy/Caddyfile).
SCOPED_PATH = "/reports/q"
SCOPE = "reports:read"


def missing_programs():
    """The proxy binaries this suite needs and the machine lacks (scripts/install-deps installs
    them: nginx-light, caddy)."""
    missing = [p for p in (NGINX, CADDY) if not os.access(p, os.X_OK)]
    if os.access(NGINX, os.X_OK):
        p = subprocess.run([NGINX, "-V"], capture_output=True, text=True, timeout=30)
        if "--with-http_auth_request_module" not in p.stderr + p.stdout:
            missing.append(NGINX + " with the auth_request module")
    return missing


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, log_path):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False  # exited: the caller retries with another port or fails
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.fail(f"{what} did not accept connections on port {port} within {START_TIMEOUT_S} s; "
                f"log:\n{read_tail(log_path)}")


def read_tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-n:]
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# The protected service.


class Upstream:
    """An HTTP service on 127.0.0.1:<free port> that answers every request with
    {"method", "path", "headers": [[name, value], ...], "body"} and records it in `hits`; the
    status is 200, or NNN for the path /status/NNN."""

    def __init__(self):
        self.hits = []
        hits = self.hits

        class Echo(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                seen = {"method": self.command, "path": self.path,
                        "headers": [[k, v] for k, v in self.headers.items()], "body": body}
                hits.append(seen)
                out = json.dumps(seen).encode()
                # /status/NNN answers NNN: the service's own refusals must pass unchanged
                m = re.match(r"^/status/(\d{3})$", self.path)
                self.send_response(int(m.group(1)) if m else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------
# The proxies. Each runs from a folder of its own; `tokend_port` may be a port nothing listens
# on (the fail-closed test).


class Proxy:
    name = "?"

    def __init__(self, workdir, tokend_port, app_port):
        self.dir = str(workdir)
        self.tokend_port = tokend_port
        self.app_port = app_port
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.dir, self.name + ".log")

    def command(self):
        raise NotImplementedError

    def logs(self):
        return [self.log_path]

    def env(self):
        return dict(os.environ)

    def write_config(self):
        raise NotImplementedError

    def start(self):
        LOG_PATHS.extend(self.logs())  # searched for keys at the end of the session
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.write_config()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self.command(), env=self.env(), cwd=self.dir,
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            if wait_for_port(self.port, self.proc, self.name, self.log_path):
                return self
        pytest.fail(f"{self.name} exited with {self.proc.returncode} before accepting "
                    f"connections; log:\n{read_tail(self.log_path)}")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __repr__(self):
        return self.name


# The http block the tests run nginx with; the protected locations are what README "Protecting
# your own services" shows. @NAME@ are filled in (nginx's own syntax uses $ and braces).
NGINX_CONF = """\
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/nginx.log info;
events { worker_connections 256; }
http {
    access_log @DIR@/access.log;
    client_body_temp_path @DIR@/tmp/body;
    proxy_temp_path @DIR@/tmp/proxy;
    fastcgi_temp_path @DIR@/tmp/fastcgi;
    uwsgi_temp_path @DIR@/tmp/uwsgi;
    scgi_temp_path @DIR@/tmp/scgi;

    upstream tokend { server 127.0.0.1:@TOKEND@; keepalive 16; keepalive_timeout 20s; }

    server {
        listen 127.0.0.1:@PORT@;
        include @CONTRIB@/nginx/tokend-auth.conf;

        location / {
            include @CONTRIB@/nginx/tokend-protect.conf;
            proxy_pass http://127.0.0.1:@APP@;
        }
        location /reports/ {
            include @CONTRIB@/nginx/tokend-protect.conf;
            set $tokend_verify_query "?scope=reports:read";
            proxy_pass http://127.0.0.1:@APP@;
        }
        # tokend-protect.conf beside the access module's own refusals
        location /local/ {
            include @CONTRIB@/nginx/tokend-protect.conf;
            deny 127.0.0.2;
            proxy_pass http://127.0.0.1:@APP@;
        }
    }
}
"""


class Nginx(Proxy):
    """Debian's nginx in the foreground (`daemon off`), error log in the folder (`-e`, so that
    nothing is opened under /var/log before the configuration is read)."""

    name = "nginx"

    def conf_path(self):
        return os.path.join(self.dir, "nginx.conf")

    def write_config(self):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        text = NGINX_CONF
        for k, v in (("DIR", self.dir), ("CONTRIB", CONTRIB), ("TOKEND", self.tokend_port),
                     ("APP", self.app_port), ("PORT", self.port)):
            text = text.replace(f"@{k}@", str(v))
        with open(self.conf_path(), "w") as f:
            f.write(text)

    def logs(self):
        return [self.log_path, os.path.join(self.dir, "access.log")]

    def command(self):
        return [NGINX, "-p", self.dir + "/", "-c", self.conf_path(), "-e", self.log_path,
                "-g", "daemon off;"]


# Caddy's global options for the tests, then contrib/caddy/Caddyfile as it is.
CADDY_WRAPPER = """\
{
\tadmin off
\tauto_https off
\tdefault_bind 127.0.0.1
\tstorage file_system @DIR@/storage
}

import @CONTRIB@/caddy/Caddyfile
"""


class Caddy(Proxy):
    """Debian's Caddy (`caddy run`), no admin endpoint, no automatic HTTPS, listening on
    127.0.0.1 only (its default is every interface, where a free port of 127.0.0.1 may still be
    held on 127.0.0.2 by a client socket), its data and configuration folders in the test's
    folder; the addresses through contrib/caddy/Caddyfile's environment placeholders."""

    name = "caddy"

    def conf_path(self):
        return os.path.join(self.dir, "Caddyfile")

    def write_config(self):
        text = CADDY_WRAPPER.replace("@DIR@", self.dir).replace("@CONTRIB@", CONTRIB)
        with open(self.conf_path(), "w") as f:
            f.write(text)

    def env(self):
        env = dict(os.environ)
        env.update({
            "HOME": self.dir,
            "XDG_DATA_HOME": os.path.join(self.dir, "data"),
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "GATEWAY_SITE": f"http://127.0.0.1:{self.port}",
            "GATEWAY_TOKEND": f"127.0.0.1:{self.tokend_port}",
            "GATEWAY_APP": f"127.0.0.1:{self.app_port}",
        })
        return env

    def command(self):
        return [CADDY, "run", "--config", self.conf_path(), "--adapter", "caddyfile"]


PROXIES = {"nginx": Nginx, "caddy": Caddy}


# ---------------------------------------------------------------------------------------------
# The client.


def call(proxy, path="/", method="GET", key=None, source=None, headers=None, body=None):
    """One request to the proxy on its own connection, from `source` (any 127.0.0.0/8 address;
    default 127.0.0.1). `key` is sent as `Authorization: Bearer <key>`."""
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
        note_key(key)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=15,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read(), r.reason)
    finally:
        conn.close()
