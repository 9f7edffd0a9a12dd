"""The dashboard's HTTP server: the token on every request, pages, JSON, cancel."""

from __future__ import annotations

import http.client
import json

import pytest

from minimr.cluster.dashboard.server import (
    DashboardAddressError,
    DashboardServer,
    parse_address,
)
from minimr.cluster.dashboard.window import CancelRequest, Snapshot, Window

TOKEN = "s3cret-token"
JOB = {
    "job_id": "Job-1", "name": "<script>document.title='pwned'</script>", "state": "running",
    "step": 0, "steps": 1, "maps_done": 1, "maps_total": 2, "reduces_done": 0,
    "reduces_total": 1, "running": 1, "workers": 1, "elapsed": 3.0, "finished": False,
    "error": None, "counters": {},
}


@pytest.fixture
def dashboard():
    window = Window()
    window.publish(Snapshot(7, window.clock(), 1.0e9, {"workers": [], "jobs": [JOB]},
                            {"Job-1": JOB, "Old": {**JOB, "job_id": "Old", "finished": True,
                                                   "state": "succeeded"}}))
    with DashboardServer(window, "127.0.0.1:0", TOKEN) as server:
        yield server


def request(server, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_every_page_and_api_call_needs_the_token(dashboard):
    """Without the token, or with a wrong one, pages and JSON are refused (401)."""
    for path in ("/", "/jobs/Job-1", "/api/cluster", "/api/jobs/Job-1"):
        assert request(dashboard, "GET", path)[0] == 401
        assert request(dashboard, "GET", path, {"Authorization": "Bearer nope"})[0] == 401
        assert request(dashboard, "GET", path + "?token=nope")[0] == 401
        assert request(dashboard, "GET", path, BEARER)[0] == 200


def test_a_token_in_the_address_becomes_a_strict_cookie(dashboard):
    """Opening the printed address sets an HttpOnly, SameSite=Strict cookie and redirects to
    the page without the token, which the cookie then opens."""
    status, headers, _ = request(dashboard, "GET", f"/jobs/Job-1?token={TOKEN}")
    assert status == 303
    assert headers["Location"] == "/jobs/Job-1"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"minimr_token_{dashboard.port}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, _ = request(dashboard, "GET", "/jobs/Job-1", {"Cookie": cookie.split(";")[0]})
    assert status == 200


def test_pages_forbid_inline_script_and_framing(dashboard):
    """The page shell loads only the package's own script: no inline script may run, and
    user-controlled text is never in the shell."""
    status, headers, body = request(dashboard, "GET", "/", BEARER)
    assert status == 200
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script src=\"/static/app.js\"" in body and b"pwned" not in body


def test_api_answers_carry_the_snapshot_version_and_revalidate(dashboard):
    """JSON answers carry the snapshot's version as an ETag; an unchanged one is a 304."""
    status, headers, body = request(dashboard, "GET", "/api/jobs", BEARER)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert headers["ETag"] == '"7"'
    assert json.loads(body)["jobs"][0]["name"] == JOB["name"]
    status, _, body = request(dashboard, "GET", "/api/jobs", {**BEARER, "If-None-Match": '"7"'})
    assert status == 304 and body == b""


def test_unknown_jobs_routes_and_files_are_not_found(dashboard):
    """An unknown job, API route or static file is a 404; nothing outside static/ is served."""
    assert request(dashboard, "GET", "/api/jobs/nope", BEARER)[0] == 404
    assert request(dashboard, "GET", "/api/nothing", BEARER)[0] == 404
    assert request(dashboard, "GET", "/static/../server.py")[0] == 404
    assert request(dashboard, "GET", "/static/window.py")[0] == 404
    assert request(dashboard, "GET", "/static/app.js")[0] == 200


def test_a_cancel_is_posted_to_the_loop(dashboard):
    """A POST with the token posts a cancel for the loop; the job is not touched here."""
    status, _, body = request(dashboard, "POST", "/api/jobs/Job-1/cancel", BEARER)
    assert status == 202 and json.loads(body)["cancelling"]
    assert dashboard.window.take_cancels() == [
        CancelRequest("Job-1", "the dashboard (127.0.0.1)")
    ]


def test_a_cancel_needs_the_token_outside_the_address_and_this_origin(dashboard):
    """A cancel is refused without the token, with the token only in the URL, from another
    site's page, or for a job that has ended."""
    assert request(dashboard, "POST", "/api/jobs/Job-1/cancel")[0] == 401
    assert request(dashboard, "POST", f"/api/jobs/Job-1/cancel?token={TOKEN}")[0] == 401
    other = {**BEARER, "Origin": "http://evil.example"}
    assert request(dashboard, "POST", "/api/jobs/Job-1/cancel", other)[0] == 403
    assert request(dashboard, "POST", "/api/jobs/Old/cancel", BEARER)[0] == 409
    assert dashboard.window.take_cancels() == []


def test_dashboard_addresses():
    """A port alone is loopback; a host may be given, IPv6 in brackets; anything else is
    refused with the expected form."""
    assert parse_address("8080") == ("127.0.0.1", 8080)
    assert parse_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("", "http", "1.2.3.4:99999", "host:port"):
        with pytest.raises(DashboardAddressError, match=r"\[HOST:\]PORT"):
            parse_address(bad)
