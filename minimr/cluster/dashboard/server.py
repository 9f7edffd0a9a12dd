"""The dashboard's HTTP server: pages, ``/api/...`` JSON, and the token that guards both.

The stdlib's ``ThreadingHTTPServer`` does the HTTP (parsing, keep-alive, a thread per
connection): the dashboard serves a handful of people and scripts polling once a second,
so it needs no framework, and the coordinator gains no dependency. Each request reads the
current snapshot of a :class:`~minimr.cluster.dashboard.window.Window` (never the
scheduler); the one write, a cancel, is posted to the loop through the window.

Security: every request must carry the dashboard's token (constant-time compare), in an
``Authorization: Bearer`` header, the ``minimr_token`` cookie, or a ``?token=`` query; a
page opened with ``?token=`` sets the cookie (``HttpOnly``, ``SameSite=Strict``) and
redirects to the same page without it. The token is required on loopback too: other
users of the machine reach loopback, and a web page's script can reach it through DNS
rebinding, but neither knows the token. Pages load only the package's own script and
style (a ``Content-Security-Policy`` with no inline script), and put every user-controlled
text (job names, keys, tracebacks, log lines) in the page as text, never as markup.
"""

from __future__ import annotations

import hmac
import http.cookies
import importlib.resources
import json
import logging
import re
import secrets
import socket
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from minimr.cluster.dashboard import api
from minimr.cluster.dashboard.window import Window

log = logging.getLogger("minimr.dashboard")

COOKIE = "minimr_token"  # with the port: two dashboards on one host keep their own
DEFAULT_HOST = "127.0.0.1"

#: the pages, all served by the one HTML shell whose script draws them
PAGES = re.compile(r"/(?:jobs/[^/]+(?:/(?:tasks|timeline|logs/[^/]+))?)?")
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class DashboardAddressError(ValueError):
    """A ``--dashboard`` address that is not ``[HOST:]PORT``."""


def parse_address(text: str) -> tuple[str, int]:
    """``"8080"``, ``"0.0.0.0:8080"``, ``"[::1]:8080"`` -> ``(host, port)`` (loopback if no
    host; port 0: any free port).

    Raises:
        DashboardAddressError: not ``[HOST:]PORT`` with a port in 0-65535.
    """
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise DashboardAddressError(
            f"the dashboard address must be [HOST:]PORT, such as 8080 or 0.0.0.0:8080 "
            f"(got {text!r})"
        )
    return host, int(port)


class DashboardServer:
    """Serves the dashboard of ``window`` on ``address`` from a thread of its own.

    Args:
        window: what the coordinator's loop publishes.
        address: ``[HOST:]PORT`` (``parse_address``); loopback unless a host is given.
        token: the token every request must carry; a new random one if not given.
        embedded: this is ``minimr submit``'s embedded cluster (the pages say so).
        logs: reads an attempt's log (``api.LogReader``), if the coordinator can.
    """

    def __init__(self, window: Window, address: str = "0", token: str | None = None,
                 embedded: bool = False, logs: api.LogReader | None = None) -> None:
        host, port = parse_address(address)
        self.window = window
        self.logs = logs
        self.cache = api.AnswerCache()
        self.token = token or secrets.token_urlsafe(18)
        self.embedded = embedded
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.httpd = server_class((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def cookie(self) -> str:
        """The name of the cookie that carries the token (browsers share cookies between
        the ports of a host)."""
        return f"{COOKIE}_{self.port}"

    @property
    def base(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: the base with the token, which the first page turns into
        a cookie."""
        return f"{self.base}/?token={self.token}"

    def start(self) -> DashboardServer:
        """Serve from a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
            name="minimr-dashboard", daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    def authorized(self, presented: str | None) -> bool:
        """Whether ``presented`` is the token (compared in constant time)."""
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.token.encode())

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _handler(dashboard: DashboardServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``dashboard``."""

    class Handler(_Handler):
        pass

    Handler.dashboard = dashboard
    return Handler


class _Handler(BaseHTTPRequestHandler):
    """One request: authenticate, route, answer (``HTTP/1.1``, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "minimr-dashboard"
    dashboard: DashboardServer

    # --- routing --------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path
        if path.startswith("/static/"):
            self._static(path[len("/static/"):])  # public: the page's own script and style
            return
        token = self._presented_token(query)
        if not self.dashboard.authorized(token):
            self._unauthorized(api_call=path.startswith("/api/"))
            return
        if "token" in query and not path.startswith("/api/"):
            self._redirect_with_cookie(url, query)
            return
        if path.startswith("/api/"):
            self._api(path, query)
        elif PAGES.fullmatch(path):
            self._send_bytes(HTTPStatus.OK, _asset("index.html"), "text/html; charset=utf-8")
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

    def do_HEAD(self) -> None:  # noqa: N802
        self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET"})

    def do_POST(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 65536))
        match = re.fullmatch(r"/api/jobs/([^/]+)/cancel", url.path)
        # a cancel takes the token from a header or the cookie, never the URL, and not
        # from another site: SameSite=Strict keeps the cookie home, Origin is checked
        if not self.dashboard.authorized(self._presented_token({})):
            self._unauthorized(api_call=True)
        elif not self._same_origin():
            self._send_json(HTTPStatus.FORBIDDEN, {"error": "a cancel must come from this "
                                                   "dashboard's own pages"})
        elif match is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"nothing to POST at {url.path}"})
        else:
            job_id = urllib.parse.unquote(match.group(1))
            answer = api.cancel(self.dashboard.window, job_id, self.client_address[0])
            self._send_bytes(answer.status, answer.body, "application/json")

    # --- answers --------------------------------------------------------------------------

    def _api(self, path: str, query: dict[str, list[str]]) -> None:
        answer = api.get(self.dashboard.window, path, query, embedded=self.dashboard.embedded,
                         logs=self.dashboard.logs, cache=self.dashboard.cache)
        etag = f'"{answer.version}"' if answer.version is not None else None
        if etag is not None and self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {"Cache-Control": "no-cache", **({"ETag": etag} if etag else {})}
        self._send_bytes(answer.status, answer.body, "application/json", headers)

    def _static(self, name: str) -> None:
        content_type = STATIC.get(name)
        if content_type is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no file {name}"})
            return
        self._send_bytes(HTTPStatus.OK, _asset(name), content_type,
                         {"Cache-Control": "no-cache"})

    def _unauthorized(self, api_call: bool) -> None:
        message = ("this dashboard needs its token: open the address the coordinator printed "
                   "(it ends with ?token=...), or send 'Authorization: Bearer TOKEN'")
        if api_call:
            self._send_json(HTTPStatus.UNAUTHORIZED, {"error": message})
        else:
            self._send_bytes(HTTPStatus.UNAUTHORIZED, message.encode(),
                             "text/plain; charset=utf-8")

    def _redirect_with_cookie(self, url: urllib.parse.SplitResult,
                              query: dict[str, list[str]]) -> None:
        rest = urllib.parse.urlencode(
            {k: v for k, v in query.items() if k != "token"}, doseq=True
        )
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", url.path + (f"?{rest}" if rest else ""))
        self.send_header(
            "Set-Cookie",
            f"{self.dashboard.cookie}={self.dashboard.token}; Path=/; HttpOnly; SameSite=Strict",
        )
        self.send_header("Content-Length", "0")
        self._security_headers()
        self.end_headers()

    def _send_json(self, status: int, document: object) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        self._send_bytes(status, body, "application/json", {"Cache-Control": "no-cache"})

    def _send_bytes(self, status: int, body: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._security_headers()
        self.end_headers()
        self.wfile.write(body)

    def _security_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)

    # --- the token ------------------------------------------------------------------------

    def _presented_token(self, query: dict[str, list[str]]) -> str | None:
        """The token this request carries: header, then cookie, then query."""
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer "):].strip()
        cookies = http.cookies.SimpleCookie()
        try:
            cookies.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            pass
        if self.dashboard.cookie in cookies:
            return cookies[self.dashboard.cookie].value
        values = query.get("token")
        return values[0] if values else None

    def _same_origin(self) -> bool:
        """A browser's POST names its page's origin: it must be this server's."""
        origin = self.headers.get("Origin")
        if origin is None:
            return True  # not a browser (curl, a script): the token alone decides
        return origin == f"http://{self.headers.get('Host', '')}"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        log.debug("%s %s", self.address_string(), format % args)


def _asset(name: str) -> bytes:
    """A file of the package's ``static/`` folder."""
    return importlib.resources.files(__package__).joinpath("static", name).read_bytes()
