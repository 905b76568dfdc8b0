"""Hand-written nasty inputs against a real `onshore serve`, on the partner API and the admin API.

Deep JSON nesting, huge numbers, NUL bytes, invalid UTF-8, floods of headers, clients sending a
byte a second, and broken framing (duplicate or impossible lengths, bad chunk sizes). Each gets a
clear 4xx in OpenAI's error shape with the server's request id, never a 500; the server goes on
serving everyone else; and the canary put in every prompt, the partner key and the admin token
never reach its log. What ``test_http_edge.py`` already covers (header and URL limits, a head or
a body that stops, HTTP/1.0, 405) is not repeated here.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow

CANARY = "canary-3f9b2e71-nasty"
MESSAGES = [{"role": "user", "content": CANARY}]
HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 1  # the whole body's deadline is four of these (onshore.api.edge)
SERVER_ID = re.compile(r"^req_[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def nasty(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("nasty")
    gw = make_gateway(
        tmp,
        [remote_backend("pool", upstream.url, "bench-model", ("aliased", "bench-model"), "bench-embed")],
        extra={
            "server": {
                "header_timeout_s": HEADER_TIMEOUT_S,
                "body_timeout_s": BODY_TIMEOUT_S,
                "access_log": True,  # one more place the canary must not reach
            }
        },
    )
    gw.start()
    gw.cli("orgs", "create", "nasty-org")
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def key(nasty: Gateway) -> str:
    return nasty.create_key("nasty-org")[1]


# --- plain HTTP ---------------------------------------------------------------------------------


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    """The answer is ``status`` in OpenAI's error shape, with the server's request id."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert SERVER_ID.match(response.headers["x-request-id"])
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert CANARY not in response.text
    return dict(error)


def _post(gw: Gateway, path: str, body: bytes, token: str, method: str = "POST") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.request(method, gw.base_url + path, content=body, headers=headers, timeout=30)


def _chat(*fields: bytes, model: bytes = b'"bench-model"') -> bytes:
    """A chat body with the canary as its prompt and ``fields`` (raw JSON members) appended."""
    head = b'{"model":' + model + b',"messages":' + json.dumps(MESSAGES).encode()
    return head + b"".join(b"," + field for field in fields) + b"}"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- raw HTTP -----------------------------------------------------------------------------------


def _exchange(gw: Gateway, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it read everything: the answer is still there to read
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def _raw_error(raw: bytes, status: int) -> dict[str, object]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), raw[:300]
    headers = {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"].startswith("application/json")
    assert SERVER_ID.match(headers["x-request-id"])
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


def _raw(method: bytes, path: bytes, token: str, *extra: bytes, body: bytes = b"") -> bytes:
    """A request in bytes: any header may be given raw, framing included."""
    head = [method + b" " + path + b" HTTP/1.1", b"Host: test", b"Connection: close"]
    head.append(b"Authorization: Bearer " + token.encode())
    head.extend(extra)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


# --- deep nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param(_chat(b'"x":' + b"[" * 100_000), "/v1/chat/completions", id="100k-open"),
        pytest.param(_chat(b'"x":' + _nested(100_000)), "/v1/chat/completions", id="100k-balanced"),
        # Read by orjson (it goes to 1,024), then re-read by the duplicate-key check: a 500.
        pytest.param(
            _chat(b'"x":' + _nested(1_000), b'"y":"\\u0041"'), "/v1/chat/completions", id="1000-esc"
        ),
        # Read, but not writable back for the engine (orjson writes 254): a 500.
        pytest.param(
            _chat(b'"x":' + _nested(300), b'"stream":true'), "/v1/chat/completions", id="300-stream"
        ),
        pytest.param(
            _chat(b'"x":' + _nested(300), model=b'"aliased"'), "/v1/chat/completions", id="300-alias"
        ),
        pytest.param(
            b'{"model":"bench-embed","input":' + _nested(5_000) + b"}", "/v1/embeddings", id="embed"
        ),
    ],
)
def test_deep_nesting_is_a_400(nasty: Gateway, key: str, body: bytes, path: str) -> None:
    _error(_post(nasty, path, body, key), 400)


def test_nesting_as_deep_as_the_gateway_writes_back_is_served(nasty: Gateway, key: str) -> None:
    body = _chat(b'"x":' + _nested(253), b'"stream":true', model=b'"aliased"')  # 254 with the top
    response = _post(nasty, "/v1/chat/completions", body, key)
    assert response.status_code == 200, response.text[:300]
    assert response.text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/admin/v1/orgs", b'{"name":' + b"[" * 100_000),
        ("POST", "/admin/v1/orgs", b'{"name":' + _nested(1_000) + b"}"),
        ("PUT", "/admin/v1/orgs/nasty-org/limits", b'{"rpm":' + _nested(1_000) + b"}"),
        ("PUT", "/admin/v1/prices", _nested(1_000)),
        ("POST", "/admin/v1/keys", b'{"org":"nasty-org","models":' + _nested(1_000) + b"}"),
    ],
)
def test_deep_nesting_on_admin_routes_is_a_400(nasty: Gateway, method: str, path: str, body: bytes) -> None:
    _error(_post(nasty, path, body, nasty.admin_token, method), 400)


# --- huge numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "param"),
    [
        (b'"temperature":1e400', None),  # not a double: not JSON the gateway reads
        (b'"max_tokens":1' + b"0" * 5_000, None),
        (b'"max_tokens":-1' + b"0" * 5_000, None),
        (b'"max_tokens":18446744073709551616', "max_tokens"),  # 2**64: read as a float
        (b'"n":1e300', "n"),
        (b'"max_completion_tokens":-1', "max_completion_tokens"),
    ],
)
def test_huge_numbers_are_a_400(nasty: Gateway, key: str, field: bytes, param: str | None) -> None:
    error = _error(_post(nasty, "/v1/chat/completions", _chat(field), key), 400)
    assert error["param"] == param


@pytest.mark.parametrize(
    "fields",
    [
        (b'"max_tokens":18446744073709551615', b'"n":18446744073709551615'),  # 2**64 - 1: integers
        (b'"temperature":1.7976931348623157e308', b'"top_p":-1.7976931348623157e308'),
        (b'"temperature":5e-324', b'"top_p":-0.0'),
    ],
)
def test_the_largest_numbers_json_can_carry_are_forwarded(
    nasty: Gateway, key: str, fields: tuple[bytes, ...]
) -> None:
    response = _post(nasty, "/v1/chat/completions", _chat(*fields), key)
    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("PUT", "/admin/v1/orgs/nasty-org/limits", b'{"rpm":1e400}', None),
        ("PUT", "/admin/v1/orgs/nasty-org/limits", b'{"rpm":1' + b"0" * 300 + b"}", "rpm"),
        ("PUT", "/admin/v1/orgs/nasty-org/limits", b'{"monthly_budget_krw":18446744073709551615}', None),
        ("PUT", "/admin/v1/prices", b'{"model":"m","input_krw":1e308,"output_krw":1}', "input_krw"),
        ("PUT", "/admin/v1/prices", b'{"model":"m","input_krw":"1e999999","output_krw":1}', "input_krw"),
        ("PUT", "/admin/v1/prices", b'{"model":"m","input_krw":"' + b"9" * 5000 + b'","output_krw":1}', None),
        ("POST", "/admin/v1/keys", b'{"org":"nasty-org","expires_in":"999999999999w"}', "expires_in"),
        ("GET", "/admin/v1/audit?limit=99999999999999999999", b"", "limit"),
        # No year 0, and no month after 9999-12: both were a 500 (ValueError out of datetime).
        ("GET", "/admin/v1/usage?org=nasty-org&month=0000-01", b"", "month"),
        ("GET", "/admin/v1/usage?org=nasty-org&month=9999-12", b"", "month"),
        ("GET", "/admin/v1/usage?org=nasty-org&month=99999-01", b"", "month"),
    ],
)
def test_huge_numbers_on_admin_routes_are_a_400(
    nasty: Gateway, method: str, path: str, body: bytes, param: str | None
) -> None:
    error = _error(_post(nasty, path, body, nasty.admin_token, method), 400)
    if param is not None:
        assert error["param"] == param


# --- NUL bytes and invalid UTF-8 ----------------------------------------------------------------


def test_a_nul_in_a_prompt_is_data_and_in_a_model_name_is_refused(nasty: Gateway, key: str) -> None:
    prompt = _chat(b'"user":"a\\u0000b"').replace(CANARY.encode(), CANARY.encode() + b"\\u0000")
    assert _post(nasty, "/v1/chat/completions", prompt, key).status_code == 200
    error = _error(_post(nasty, "/v1/chat/completions", _chat(model=b'"bench-model\\u0000"'), key), 400)
    assert error["param"] == "model"
    _error(_post(nasty, "/v1/chat/completions", _chat().replace(b"-nasty", b"-\x00nasty"), key), 400)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", _chat().replace(b"-nasty", b"-\xff\xfenasty")),
        ("/v1/completions", b'{"model":"bench-model","prompt":"' + CANARY.encode() + b'\xc3\x28"}'),
        (
            "/v1/embeddings",
            b'{"model":"bench-embed","input":"\xed\xa0\x80' + CANARY.encode() + b'"}',
        ),  # a surrogate
        (
            "/v1/embeddings",
            b'{"model":"bench-embed","input":"' + CANARY.encode() + b'\\ud800"}',
        ),  # a lone one
    ],
)
def test_invalid_utf8_in_a_body_is_a_400(nasty: Gateway, key: str, path: str, body: bytes) -> None:
    _error(_post(nasty, path, body, key), 400)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/admin/v1/orgs", b'{"name":"\xff\xfe"}'),
        ("PUT", "/admin/v1/orgs/nasty-org/limits", b'{"rpm":1,"\xc0\xaf":2}'),
        ("PUT", "/admin/v1/prices", b'{"model":"m\x00","input_krw":1,"output_krw":1}'),
        ("POST", "/admin/v1/keys", b'{"org":"nasty-org","name":"\\ud800"}'),
    ],
)
def test_invalid_utf8_and_nul_on_admin_routes_are_a_400(
    nasty: Gateway, method: str, path: str, body: bytes
) -> None:
    _error(_post(nasty, path, body, nasty.admin_token, method), 400)


@pytest.mark.parametrize(
    ("method", "path", "admin"),
    [
        (b"GET", b"/v1/models/\xff\xfe", False),
        (b"GET", b"/v1/models/a\x00b", False),
        (b"POST", b"/v1/chat/completions?x=\xff", False),
        (b"GET", b"/admin/v1/orgs/\xff/limits", True),
        (b"GET", b"/admin/v1/keys?org=\x00", True),
    ],
)
def test_raw_nul_and_invalid_utf8_in_the_target_are_a_400(
    nasty: Gateway, key: str, method: bytes, path: bytes, admin: bool
) -> None:
    token = nasty.admin_token if admin else key
    error = _raw_error(_exchange(nasty, _raw(method, path, token)), 400)
    assert error["code"] == "invalid_http_request"


@pytest.mark.parametrize(
    ("path", "admin"),
    [
        ("/v1/models/%00", False),
        ("/v1/models/%FF%FE", False),
        ("/admin/v1/orgs/%00/limits", True),
        ("/admin/v1/keys/%FF/limits", True),
        ("/admin/v1/keys?org=%FF%00", True),
    ],
)
def test_escaped_nul_and_invalid_utf8_in_the_target_are_a_404(
    nasty: Gateway, key: str, path: str, admin: bool
) -> None:
    token = nasty.admin_token if admin else key
    _error(httpx.get(nasty.base_url + path, headers={"Authorization": f"Bearer {token}"}), 404)


@pytest.mark.parametrize("admin", [False, True])
def test_nul_and_invalid_utf8_in_headers(nasty: Gateway, key: str, admin: bool) -> None:
    token = nasty.admin_token if admin else key
    path = b"/admin/v1/orgs" if admin else b"/v1/models"
    # A NUL is not allowed in a header value (RFC 9110): the parser refuses the request.
    raw = _exchange(nasty, _raw(b"GET", path, token + "\x00"))
    assert _raw_error(raw, 400)["code"] == "invalid_http_request"
    # Bytes that are not UTF-8 are allowed (obs-text): a key with them is simply wrong.
    raw = _exchange(nasty, _raw(b"GET", path, "\xff" + token, b"X-Canary: " + CANARY.encode()))
    assert _raw_error(raw, 401)["type"] == "authentication_error"
    # And where they do no harm, they are ignored: an id that is not ASCII is dropped, not echoed.
    answer = _exchange(nasty, _raw(b"GET", path, token, b"X-Request-Id: \xff\xfe" + CANARY.encode()))
    assert answer.startswith(b"HTTP/1.1 200 ") and CANARY.encode() not in answer


# --- floods of headers --------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True])
def test_five_thousand_headers_under_the_limit_are_served_at_once(
    nasty: Gateway, key: str, admin: bool
) -> None:
    flood = [b"X-F%d: v" % i for i in range(5_000)]  # about 60 kB on the wire, 40 kB as the limit counts
    body = _chat()
    path = b"/admin/v1/orgs" if admin else b"/v1/chat/completions"
    method = b"GET" if admin else b"POST"
    token = nasty.admin_token if admin else key
    length = b"Content-Length: %d" % (0 if admin else len(body))
    started = time.monotonic()
    answer = _exchange(nasty, _raw(method, path, token, length, *flood, body=b"" if admin else body))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert time.monotonic() - started < 2.0


def test_a_huge_authorization_header_on_the_admin_api_is_a_431(nasty: Gateway) -> None:
    raw = _exchange(nasty, _raw(b"GET", b"/admin/v1/orgs", nasty.admin_token + "x" * 100_000))
    assert _raw_error(raw, 431)["code"] == "headers_too_large"


# --- framing ------------------------------------------------------------------------------------


_CHUNKED = b"Transfer-Encoding: chunked"


@pytest.mark.parametrize("admin", [False, True], ids=["partner", "admin"])
@pytest.mark.parametrize(
    ("framing", "body"),
    [
        pytest.param((b"Content-Length: 5", b"Content-Length: 6"), b"{}", id="two-lengths"),
        pytest.param((b"Content-Length: 2, 2",), b"{}", id="a-length-list"),
        pytest.param((b"Content-Length: -1",), b"{}", id="negative-length"),
        pytest.param((b"Content-Length: 99999999999999999999999",), b"{}", id="length-past-64-bits"),
        pytest.param((b"Content-Length: \xd9\xa3",), b"{}", id="arabic-digit-length"),
        pytest.param((_CHUNKED, b"Content-Length: 2"), b"2\r\n{}\r\n0\r\n\r\n", id="chunked-and-length"),
        pytest.param((_CHUNKED, b"Transfer-Encoding: chunked"), b"2\r\n{}\r\n0\r\n\r\n", id="chunked-twice"),
        # Once the head is read the app has the request: a bad chunk is its 400, with its id.
        pytest.param((_CHUNKED,), b"zz\r\n{}\r\n0\r\n\r\n", id="chunk-size-not-hex"),
        pytest.param((_CHUNKED,), b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n", id="chunk-size-past-64-bits"),
        pytest.param((_CHUNKED,), b"-2\r\n{}\r\n0\r\n\r\n", id="negative-chunk-size"),
        pytest.param((_CHUNKED,), b"2\r\n{}XX0\r\n\r\n", id="chunk-without-crlf"),
        pytest.param((_CHUNKED,), b"5\r\n{}\r\n0\r\n\r\n", id="chunk-shorter-than-its-size"),
    ],
)
def test_broken_framing_is_a_400(
    nasty: Gateway, key: str, framing: tuple[bytes, ...], body: bytes, admin: bool
) -> None:
    path = b"/admin/v1/orgs/nasty-org/limits" if admin else b"/v1/chat/completions"
    method = b"PUT" if admin else b"POST"
    raw = _exchange(nasty, _raw(method, path, nasty.admin_token if admin else key, *framing, body=body))
    assert _raw_error(raw, 400)["code"] == "invalid_http_request"


# --- slow clients -------------------------------------------------------------------------------


class _SlowClient(threading.Thread):
    """Sends ``start``, then ``drip`` once a second, until the server closes the connection."""

    def __init__(self, gw: Gateway, start: bytes, drip: bytes, give_up_s: float = 20.0) -> None:
        super().__init__()
        self.gw, self.start_bytes, self.drip, self.give_up_s = gw, start, drip, give_up_s
        self.answer = b""
        self.closed_after: float | None = None

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.gw.port), timeout=1.0) as sock:
            started = time.monotonic()
            sock.sendall(self.start_bytes)
            while time.monotonic() - started < self.give_up_s:
                try:
                    sock.sendall(self.drip)
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue  # nothing yet: the next byte, a second later
                except OSError:
                    chunk = b""  # reset: the server closed while we were still sending
                if not chunk:
                    self.closed_after = time.monotonic() - started
                    return
                self.answer += chunk


def test_a_byte_a_second_is_cut_off_while_everyone_else_is_served(nasty: Gateway, key: str) -> None:
    """A head, a partner body and an admin body sent a byte a second, and empty lines a second after
    a keep-alive answer, all at once: each is closed by its deadline, and a steady client is served
    throughout. The trickling bodies and the empty lines used to hold their connections for ever."""
    chat = _raw(b"POST", b"/v1/chat/completions", key, b"Content-Length: 100000")
    limits = _raw(b"PUT", b"/admin/v1/orgs/nasty-org/limits", nasty.admin_token, b"Content-Length: 1000")
    slow = {
        "head": _SlowClient(nasty, b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ", b"x"),
        "partner body": _SlowClient(nasty, chat + b'{"model":"bench-model","messages":', b" "),
        "admin body": _SlowClient(nasty, limits + b'{"rpm":', b" "),
        "empty lines": _SlowClient(nasty, b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n", b"\r\n"),
    }
    latencies: list[float] = []
    for client in slow.values():
        client.start()
    with httpx.Client(base_url=nasty.base_url, headers={"Authorization": f"Bearer {key}"}) as steady:
        while any(client.is_alive() for client in slow.values()):
            started = time.perf_counter()
            response = steady.post(
                "/v1/chat/completions", json={"model": "bench-model", "messages": MESSAGES}
            )
            assert response.status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.1)
    for client in slow.values():
        client.join()
    waited = {name: client.closed_after for name, client in slow.items()}
    assert None not in waited.values(), waited
    # The head: its timeout; a body: four body timeouts (no byte was ever idle for one); the
    # empty lines: a head's timeout. Each plus up to a second of the sweep and one of the drip.
    assert waited["head"] <= HEADER_TIMEOUT_S + 2.5, waited
    assert waited["partner body"] <= 4 * BODY_TIMEOUT_S + 2.5, waited
    assert waited["admin body"] <= 4 * BODY_TIMEOUT_S + 2.5, waited
    assert waited["empty lines"] <= HEADER_TIMEOUT_S + 2.5, waited
    assert slow["head"].answer.startswith(b"HTTP/1.1 408 ")
    for name in ("partner body", "admin body"):
        assert _raw_error(slow[name].answer, 408)["code"] == "request_timeout", name
    assert slow["empty lines"].answer.startswith(b"HTTP/1.1 200 ")  # the one request it made
    assert len(latencies) >= 10 and max(latencies) < 1.0, latencies


# --- and after all that -------------------------------------------------------------------------


def test_the_gateway_survived_and_logged_no_canary(nasty: Gateway, key: str) -> None:
    """Runs last (pytest keeps the file's order)."""
    assert nasty.proc is not None and nasty.proc.poll() is None, nasty.log_text()[-3000:]
    assert httpx.get(nasty.base_url + "/healthz", timeout=5).status_code == 200
    log = nasty.log_text()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
    for secret in (CANARY, key, nasty.admin_token):
        assert secret not in log
