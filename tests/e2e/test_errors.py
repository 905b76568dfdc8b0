"""Every error is OpenAI-shaped, has the right status, and raises the SDK's own exception class."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.support.services import Gateway

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.create_key("errors-org")[1]


def _client(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0)


def _assert_shape(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    return error


def test_missing_and_invalid_keys(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        _client(gateway, "sk-onshore-not-a-real-key-000000000").chat.completions.create(
            model="bench-model", messages=MESSAGES
        )
    response = httpx.post(
        gateway.v1 + "/chat/completions", json={"model": "bench-model", "messages": MESSAGES}
    )
    _assert_shape(response, 401)


def test_expired_key(gateway: Gateway) -> None:
    _, short = gateway.create_key("errors-org", "--expires-in", "1s")
    time.sleep(1.2)
    with pytest.raises(openai.AuthenticationError):
        _client(gateway, short).chat.completions.create(model="bench-model", messages=MESSAGES)


def test_unknown_model(gateway: Gateway, key: str) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _client(gateway, key).chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert info.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"model": "bench-model", "messages": [', None),
        (b'{"model": 5, "messages": []}', "model"),
        (b'{"model": "bench-model"}', "messages"),
        (b'{"model": "bench-model", "messages": "hi"}', "messages"),
        (b'{"model": "bench-model", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
        (b'{"model": "bench-model", "messages": [{"role": "user"}], "max_tokens": -1}', "max_tokens"),
        (b"[1, 2, 3]", None),
        (b"", None),
        (b'{"model": "bench-model\xff\xfe", "messages": []}', None),
        (b"\xff\xfe\x00garbage", None),
    ],
)
def test_bad_bodies_are_400(gateway: Gateway, key: str, body: bytes, param: str | None) -> None:
    response = httpx.post(
        gateway.v1 + "/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    error = _assert_shape(response, 400)
    if param is not None:
        assert error["param"] == param


def test_bad_body_raises_bad_request_in_sdk(gateway: Gateway, key: str) -> None:
    with pytest.raises(openai.BadRequestError):
        _client(gateway, key).chat.completions.create(model="bench-model", messages=[])


def test_huge_body_is_413(gateway: Gateway, key: str) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        _client(gateway, key).chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": "x" * 200_000}]
        )
    assert info.value.status_code == 413

    # Chunked, with no Content-Length: the limit still holds.
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 4096

    response = httpx.post(
        gateway.v1 + "/chat/completions", content=chunks(), headers={"Authorization": f"Bearer {key}"}
    )
    _assert_shape(response, 413)


def test_wrong_method_and_unknown_path(gateway: Gateway, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    _assert_shape(httpx.get(gateway.v1 + "/chat/completions", headers=headers), 405)
    _assert_shape(httpx.post(gateway.v1 + "/models", headers=headers), 405)
    _assert_shape(httpx.get(gateway.base_url + "/v1/nothing-here", headers=headers), 404)
    _assert_shape(httpx.get(gateway.base_url + "/", headers=headers), 404)


def test_upstream_refused_is_502_without_address(gateway: Gateway, key: str) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        _client(gateway, key).chat.completions.create(model="dead-model", messages=MESSAGES)
    assert info.value.status_code == 502
    assert "127.0.0.1" not in str(info.value.body) and ":9" not in str(info.value.message)


def test_partner_key_is_refused_by_admin_api(gateway: Gateway, key: str) -> None:
    response = httpx.get(gateway.base_url + "/admin/v1/orgs", headers={"Authorization": f"Bearer {key}"})
    _assert_shape(response, 401)


def test_health_ready_metrics_openapi(gateway: Gateway) -> None:
    assert httpx.get(gateway.base_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.base_url + "/readyz").json()
    assert ready["checks"]["database"] == "ok"
    metrics = httpx.get(gateway.base_url + "/metrics").text
    assert "onshore_requests_total" in metrics and "onshore_request_duration_seconds_bucket" in metrics
    spec = httpx.get(gateway.base_url + "/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/embeddings", "/admin/v1/keys"} <= set(spec["paths"])
