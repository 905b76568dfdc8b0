"""THE mapping from exceptions to OpenAI-shaped error responses at the HTTP face, in one place.

An ``OnshoreError`` speaks for itself (status, type, code, a message written for the client, extra
headers such as Retry-After). Anything else is a bug: the client gets a bare 500 with the request
id; the log gets the rest. The body itself is built by ``onshore.errors.error_body``, the one
builder every face and stream uses.
"""

from __future__ import annotations

import logging

from onshore.errors import OnshoreError, error_body

log = logging.getLogger("onshore.api")

__all__ = ["error_body", "to_error"]


def to_error(exc: BaseException, request_id: str) -> OnshoreError:
    if isinstance(exc, OnshoreError):
        return exc
    log.error("unhandled error", exc_info=(type(exc), exc, exc.__traceback__))
    return OnshoreError(f"The server had an error while processing your request (request id {request_id}).")
