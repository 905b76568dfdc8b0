"""THE mapping from exceptions to OpenAI-shaped error responses, in one place.

An ``OnshoreError`` speaks for itself (status, type, code, a message written for the client).
Anything else is a bug: the client gets a bare 500 with the request id; the log gets the rest.
"""

from __future__ import annotations

import logging

import orjson

from onshore.errors import OnshoreError

log = logging.getLogger("onshore.api")


def error_body(error: OnshoreError) -> bytes:
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


def to_error(exc: BaseException, request_id: str) -> OnshoreError:
    if isinstance(exc, OnshoreError):
        return exc
    log.error("unhandled error", exc_info=(type(exc), exc, exc.__traceback__))
    return OnshoreError(f"The server had an error while processing your request (request id {request_id}).")
