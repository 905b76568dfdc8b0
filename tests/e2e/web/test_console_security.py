"""The console's doors, tried with a plain HTTP client against a real `onshore serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow

PAGES = (
    "/dashboard/overview",
    "/dashboard/orgs",
    "/dashboard/backends",
    "/dashboard/residency",
    "/dashboard/audit",
    "/dashboard/invoices",
    "/dashboard/capacity",
    "/dashboard/orgs/acme",
)


@pytest.fixture(scope="module")
def console(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = make_gateway(
        tmp_path_factory.mktemp("console"), [remote_backend("pool-a", upstream.url, "bench-model")]
    )
    gw.start()
    gw.cli("orgs", "create", "acme")
    yield gw
    gw.stop()


def login(gw: Gateway) -> httpx.Client:
    client = httpx.Client(base_url=gw.base_url, follow_redirects=False)
    response = client.post("/dashboard/login", data={"token": gw.admin_token})
    assert response.status_code == 303, response.text
    return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_no_page_works_without_a_session(console: Gateway) -> None:
    with httpx.Client(base_url=console.base_url) as anonymous:
        for path in PAGES:
            response = anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/dashboard/login", path
        for path in ("/dashboard/orgs", "/dashboard/orgs/acme/keys", "/dashboard/audit/verify"):
            response = anonymous.post(path, data={"name": "evil", "csrf": "x"})
            assert response.status_code == 401, path
    assert "evil" not in console.cli("orgs", "list").stdout


def test_a_forged_or_expired_cookie_is_no_session(console: Gateway) -> None:
    with httpx.Client(base_url=console.base_url) as client:
        client.cookies.set("onshore_console", "abc.9999999999.forged", path="/dashboard")
        assert client.get("/dashboard/orgs").status_code == 303


def test_a_partner_key_cannot_log_in(console: Gateway) -> None:
    _, key = console.create_key("acme")
    with httpx.Client(base_url=console.base_url) as client:
        response = client.post("/dashboard/login", data={"token": key})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert key not in response.text


def test_a_change_without_the_csrf_token_is_refused(console: Gateway) -> None:
    client = login(console)
    response = client.post("/dashboard/orgs", data={"name": "no-csrf"})
    assert response.status_code == 403
    response = client.post("/dashboard/orgs", data={"name": "wrong-csrf", "csrf": "A" * 43})
    assert response.status_code == 403
    token = csrf_of(client.get("/dashboard/orgs").text)
    other_site = client.post(
        "/dashboard/orgs",
        data={"name": "cross-site", "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    listed = console.cli("orgs", "list").stdout
    assert "no-csrf" not in listed and "wrong-csrf" not in listed and "cross-site" not in listed
    made = client.post("/dashboard/orgs", data={"name": "with-csrf", "csrf": token})
    assert made.status_code == 303
    assert "with-csrf" in console.cli("orgs", "list").stdout


def test_the_session_cookie_is_http_only_and_strict(console: Gateway) -> None:
    with httpx.Client(base_url=console.base_url) as client:
        response = client.post("/dashboard/login", data={"token": console.admin_token})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert console.admin_token not in cookie


def test_the_admin_token_never_appears_in_pages_urls_or_logs(console: Gateway) -> None:
    client = login(console)
    for path in PAGES:
        response = client.get(path)
        assert console.admin_token not in response.text, path
        assert console.admin_token not in response.headers.get("location", "")
    client.post("/dashboard/login", data={"token": console.admin_token + "-wrong"})
    assert console.admin_token not in console.log_text()
    assert "-wrong" not in console.log_text()


def test_pages_carry_a_strict_content_security_policy(console: Gateway) -> None:
    client = login(console)
    response = client.get("/dashboard/orgs")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_logging_out_ends_the_session(console: Gateway) -> None:
    client = login(console)
    token = csrf_of(client.get("/dashboard/orgs").text)
    response = client.post("/dashboard/logout", data={"csrf": token})
    assert response.status_code == 303
    assert "Max-Age=0" in response.headers["set-cookie"]
    client.cookies.clear()
    assert client.get("/dashboard/orgs").status_code == 303


def test_an_organisation_named_like_markup_is_shown_as_text(console: Gateway) -> None:
    client = login(console)
    token = csrf_of(client.get("/dashboard/orgs").text)
    client.post("/dashboard/orgs", data={"name": "x<script>alert(1)</script>", "csrf": token})
    page = client.get("/dashboard/orgs").text
    assert "<script>alert(1)</script>" not in page


def test_the_static_files_serve_only_their_own_names(console: Gateway) -> None:
    with httpx.Client(base_url=console.base_url) as client:
        assert client.get("/dashboard/static/console.css").status_code == 200
        assert client.get("/dashboard/static/vendor/uPlot.iife.min.js").status_code == 200
        for path in (
            "/dashboard/static/../console.py",
            "/dashboard/static/%2e%2e/console.py",
            "/dashboard/static/..%2fconsole.py",
            "/dashboard/static/vendor/../../http.py",
        ):
            response = client.get(path)
            assert response.status_code in (303, 404), path  # a clean path outside static/ is a page
            assert "import" not in response.text
