"""CORS through the real `onshore serve`: preflights, actual responses (streams too), per-organisation
origins, and the paths that never get CORS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow

APP = "https://app.example.kr"
PARTNER = "https://partner.example.kr:8443"
EVIL = "https://evil.example.com"
CHAT = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}]}
SDK_HEADERS = "authorization, content-type, x-stainless-os, x-stainless-retry-count, x-evil-header"


@pytest.fixture(scope="module")
def cors_gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("cors-gateway")
    gw = make_gateway(
        tmp,
        [remote_backend("pool-a", upstream.url, "bench-model")],
        extra={
            "cors": {"allow_origins": [APP], "org_origins": {"cors-partner": [PARTNER]}, "max_age_s": 300}
        },
    )
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def keys(cors_gateway: Gateway) -> dict[str, str]:
    return {org: cors_gateway.create_key(org)[1] for org in ("cors-partner", "cors-other")}


def preflight(gw: Gateway, origin: str, path: str = "/v1/chat/completions") -> httpx.Response:
    return httpx.options(
        gw.base_url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SDK_HEADERS,
        },
    )


def test_preflight_for_an_allowed_origin(cors_gateway: Gateway) -> None:
    response = preflight(cors_gateway, APP)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-stainless-os", "x-stainless-retry-count"} <= allowed
    assert "x-evil-header" not in allowed
    assert response.headers["access-control-max-age"] == "300"
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_for_an_origin_allowed_to_one_organisation(cors_gateway: Gateway) -> None:
    assert preflight(cors_gateway, PARTNER).headers["access-control-allow-origin"] == PARTNER


def test_preflight_for_a_disallowed_origin_gets_no_cors(cors_gateway: Gateway) -> None:
    response = preflight(cors_gateway, EVIL)
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


def test_actual_request_echoes_the_origin_never_a_star(cors_gateway: Gateway, keys: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {keys['cors-other']}", "Origin": APP}
    response = httpx.post(cors_gateway.v1 + "/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in response.headers["access-control-expose-headers"]
    assert response.headers["vary"] == "Origin"
    refused = httpx.post(
        cors_gateway.v1 + "/chat/completions", json=CHAT, headers={**headers, "Authorization": "Bearer bad"}
    )
    assert refused.status_code == 401  # the page can read the error too
    assert refused.headers["access-control-allow-origin"] == APP


def test_a_stream_carries_the_headers(cors_gateway: Gateway, keys: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {keys['cors-other']}", "Origin": APP}
    with httpx.stream(
        "POST", cors_gateway.v1 + "/chat/completions", json={**CHAT, "stream": True}, headers=headers
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["access-control-allow-origin"] == APP
        assert "[DONE]" in response.read().decode()


def test_an_organisation_origin_serves_only_that_organisation(
    cors_gateway: Gateway, keys: dict[str, str]
) -> None:
    url = cors_gateway.v1 + "/models"
    own = httpx.get(url, headers={"Authorization": f"Bearer {keys['cors-partner']}", "Origin": PARTNER})
    assert own.headers["access-control-allow-origin"] == PARTNER
    other = httpx.get(url, headers={"Authorization": f"Bearer {keys['cors-other']}", "Origin": PARTNER})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers  # the browser withholds it from the page
    evil = httpx.get(url, headers={"Authorization": f"Bearer {keys['cors-other']}", "Origin": EVIL})
    assert "access-control-allow-origin" not in evil.headers


@pytest.mark.parametrize("path", ["/admin/v1/organizations", "/metrics", "/healthz"])
def test_admin_and_metrics_never_get_cors(cors_gateway: Gateway, path: str) -> None:
    response = httpx.get(
        cors_gateway.base_url + path,
        headers={"Authorization": f"Bearer {cors_gateway.admin_token}", "Origin": APP},
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight(cors_gateway, APP, path).headers


def test_cors_is_off_by_default(gateway: Gateway) -> None:
    response = preflight(gateway, APP)
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers
