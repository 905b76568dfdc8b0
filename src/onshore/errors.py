"""The one error hierarchy of Onshore.

Every error a client can see is one of these; ``onshore.api.errors`` maps them to OpenAI's shape
``{"error": {"message", "type", "param", "code"}}`` in exactly one place. The message of each class
is written for the client and never carries an exception text, an address, a key or prompt text.

    OnshoreError                      500 server_error        (the fallback; never shows details)
    ├── InvalidRequest                400 invalid_request_error
    │   ├── PayloadTooLarge           413 invalid_request_error
    │   ├── RequestTimeout            408 invalid_request_error (the body stopped arriving)
    │   └── UpstreamRejected          4xx the engine's own answer to a bad request (e.g. context too long)
    ├── AuthenticationFailed          401 authentication_error (invalid_api_key)
    ├── PermissionDenied              403 permission_error    (model_not_allowed, ...)
    ├── NotFound                      404 invalid_request_error
    │   └── ModelNotFound             404 invalid_request_error (model_not_found)
    ├── Conflict                      409 invalid_request_error
    ├── MethodNotAllowed              405 invalid_request_error
    ├── RateLimited                   429 rate_limit_error (rate_limit_exceeded; Retry-After when known)
    │   └── QuotaExceeded             429 insufficient_quota (monthly quota or budget; x-should-retry: false)
    ├── ClientClosed                  499 the client went away (never sent: there is no one to send it to)
    ├── ServiceUnavailable            503 server_error        (e.g. keys not loaded yet: the database is down)
    ├── QueueTimeout                  503 server_error        (queue_timeout: model at capacity; Retry-After)
    ├── ConfigError                   (start-up only: names the bad key; never reaches HTTP)
    └── UpstreamError                 502 upstream_error
        ├── UpstreamUnavailable       502 no healthy backend / connection refused
        ├── UpstreamTimeout           504 connect, first byte or total timeout
        └── BackendUnavailable        503 an embedded model could not load
"""

from __future__ import annotations

import math
from typing import ClassVar

import orjson


class OnshoreError(Exception):
    """Base of every error Onshore raises on purpose; unknown exceptions become a bare 500."""

    status: int = 500  # not a ClassVar: UpstreamRejected carries the engine's status per instance
    # Extra response headers (Retry-After on a 429, Allow on a 405); set per instance where needed.
    headers: tuple[tuple[bytes, bytes], ...] = ()
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None
    default_message: ClassVar[str] = "The server had an error while processing your request."

    def __init__(self, message: str | None = None, *, param: str | None = None, code: str | None = None):
        self.message = message or self.default_message
        self.param = param
        self.code = code if code is not None else self.default_code
        super().__init__(self.message)


class InvalidRequest(OnshoreError):
    """The request body or parameters are malformed; ``param`` names the field."""

    status = 400
    error_type = "invalid_request_error"
    default_message = "The request is invalid."


class RequestTimeout(InvalidRequest):
    """The request body stopped arriving for ``server.body_timeout_s`` (the client may retry)."""

    status = 408
    default_code = "request_timeout"
    default_message = "The request body did not arrive in time."


class UpstreamRejected(InvalidRequest):
    """The engine refused the partner's request (e.g. context too long); its status and message stay."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message, param=param, code=code)
        self.status = status


class PayloadTooLarge(InvalidRequest):
    """The body is larger than ``server.max_body_bytes``."""

    status = 413
    default_code = "request_too_large"
    default_message = "The request body is too large."


class AuthenticationFailed(OnshoreError):
    """No key, an unknown key, or a revoked or expired one (the client is not told which)."""

    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"
    default_message = "Incorrect API key provided."


class PermissionDenied(OnshoreError):
    """The key is valid but may not do this (e.g. a model outside its allow-list)."""

    status = 403
    error_type = "permission_error"
    default_message = "You are not allowed to perform this request."


class ResidencyRefused(PermissionDenied):
    """No backend in the request's allowed jurisdictions serves the model: it fails closed, it is
    never sent abroad instead."""

    default_code = "residency_unavailable"
    default_message = "No backend in the jurisdictions this API key may use serves this model."


class PiiDetected(InvalidRequest):
    """The personal-data policy is ``block`` and the request holds personal data: the message names
    the types found, never a value."""

    default_code = "pii_detected"
    default_message = "The request contains personal data that this API key may not send."


class PiiUnavailable(OnshoreError):
    """The personal-data detector failed on this request: it is refused, never forwarded unscanned."""

    status = 503
    default_code = "pii_check_failed"
    default_message = "The request could not be checked for personal data; it was not forwarded."


class NotFound(OnshoreError):
    """An unknown path or resource."""

    status = 404
    error_type = "invalid_request_error"
    default_code = "not_found"
    default_message = "Not found."


class ModelNotFound(NotFound):
    """The model is not served by this gateway."""

    default_code = "model_not_found"
    default_message = "The model does not exist."


class Conflict(OnshoreError):
    """The resource already exists (e.g. an organisation name)."""

    status = 409
    error_type = "invalid_request_error"
    default_code = "conflict"
    default_message = "The resource already exists."


class MethodNotAllowed(OnshoreError):
    status = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"
    default_message = "Method not allowed."


class RateLimited(OnshoreError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
        should_retry: bool = True,
    ):
        super().__init__(message, param=param, code=code)
        self.retry_after_s = retry_after_s
        headers = retry_headers(retry_after_s) if retry_after_s is not None else ()
        if not should_retry:
            # The official SDKs read this before anything else: waiting would not help this request.
            headers = (*headers, (b"x-should-retry", b"false"))
        if headers:
            self.headers = headers


class QuotaExceeded(RateLimited):
    """A monthly token quota or KRW budget is spent: waiting a second does not help, so the official
    SDKs are told not to retry (``x-should-retry: false``), as OpenAI answers a spent quota."""

    error_type = "insufficient_quota"
    default_code = "insufficient_quota"
    default_message = "You exceeded your current quota; ask the platform operator to raise it."

    def __init__(self, message: str | None = None, *, retry_after_s: float | None = None):
        super().__init__(message, retry_after_s=retry_after_s, should_retry=False)


def retry_headers(retry_after_s: float) -> tuple[tuple[bytes, bytes], ...]:
    """``Retry-After`` in whole seconds, rounded up so a client that obeys it is not refused again,
    and ``retry-after-ms``, which the official SDKs read first for the exact delay."""
    seconds = max(0.0, retry_after_s)
    return (
        (b"retry-after", str(max(1, math.ceil(seconds))).encode()),
        (b"retry-after-ms", str(max(1, math.ceil(seconds * 1000))).encode()),
    )


class ClientClosed(OnshoreError):
    """The client closed the connection before the answer was complete (nginx's 499)."""

    status = 499
    error_type = "invalid_request_error"
    default_code = "client_closed"
    default_message = "The client closed the connection."


class ServiceUnavailable(OnshoreError):
    """This replica cannot serve yet (its database has not answered since it started)."""

    status = 503
    default_code = "service_unavailable"
    default_message = "The service is starting and cannot serve this request yet; retry shortly."
    headers = ((b"retry-after", b"2"),)


class QueueTimeout(OnshoreError):
    """The model is at capacity and the request waited in the fair queue past its deadline (or the
    queue was full): it never reached the engine, so retrying after ``Retry-After`` is safe."""

    status = 503
    default_code = "queue_timeout"
    default_message = "The model is at capacity and the request waited too long in the queue; retry shortly."

    def __init__(self, message: str | None = None, *, retry_after_s: float = 2.0):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = retry_headers(retry_after_s)


class ResidencyUnavailable(OnshoreError):
    """Backends in the request's allowed jurisdictions serve the model but none is available now;
    backends elsewhere may be, and are never used instead."""

    status = 503
    default_code = "residency_unavailable"
    default_message = (
        "No backend in the jurisdictions this API key may use is available for this model now; retry shortly."
    )
    headers = ((b"retry-after", b"2"),)


class ConfigError(OnshoreError):
    """The configuration is invalid; raised at start-up with a message naming the key."""


class UpstreamError(OnshoreError):
    """The inference backend failed; the message never names an internal address."""

    status = 502
    error_type = "upstream_error"
    default_code = "upstream_error"
    default_message = "The model backend failed to answer."


class UpstreamUnavailable(UpstreamError):
    default_code = "upstream_unavailable"
    default_message = "No backend is available for this model right now."


class UpstreamTimeout(UpstreamError):
    status = 504
    default_code = "upstream_timeout"
    default_message = "The model backend timed out."


class BackendUnavailable(UpstreamError):
    """An embedded model is not loaded (it failed to load, or is still loading)."""

    status = 503
    default_code = "backend_unavailable"
    default_message = "The model is not available right now."


def error_body(error: OnshoreError) -> bytes:
    """THE OpenAI error body, ``{"error": {"message", "type", "param", "code"}}``: every face and
    every stream (an error event after the stream started) builds it here and nowhere else."""
    return orjson.dumps(
        {
            "error": {
                "message": error.message,
                "type": error.error_type,
                "param": error.param,
                "code": error.code,
            }
        }
    )


def error_event(error: OnshoreError) -> bytes:
    """The same body as one SSE event, for failures after a stream has started."""
    return b"data: " + error_body(error) + b"\n\n"
