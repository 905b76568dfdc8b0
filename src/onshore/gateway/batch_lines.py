"""The lines of a batch's output and error files, in OpenAI's shape, and the ids the Batch API gives."""

from __future__ import annotations

import os
from collections.abc import Iterator

import orjson

from onshore.domain.batches import RequestResult


class _Ids:
    """Random ids drawn from a pool of OS random bytes: one getrandom() per 170 ids, not one each
    (a system call per batch request was 2 % of the gateway's CPU in a batch)."""

    def __init__(self) -> None:
        self._hex = ""
        self._offset = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._hex, self._offset = "", 0

    def next(self, prefix: str) -> str:
        offset = self._offset
        if offset + 24 > len(self._hex):
            self._hex, offset = os.urandom(2048).hex(), 0
        self._offset = offset + 24
        return prefix + self._hex[offset : offset + 24]


_IDS = _Ids()


def new_id(prefix: str) -> str:
    """``prefix`` and 96 random bits in hex: file, batch, request and result-line ids."""
    return _IDS.next(prefix)


EXPIRED = "This request could not be executed before the completion window expired."
KEY_GONE = "The API key that created this batch was revoked or has expired."


def error_entry(code: str, message: str) -> dict[str, object]:
    return {"code": code, "message": message, "param": None, "line": None}


def chain(first: str, rest: object) -> Iterator[str]:
    yield first
    yield from rest  # type: ignore[misc]


def output_line(custom_id: str, response: dict[str, object] | None, error: dict[str, object] | None) -> str:
    return orjson.dumps(
        {"id": new_id("batch_req_"), "custom_id": custom_id, "response": response, "error": error}
    ).decode()


def result_line(index: int, custom_id: str, request_id: str, status: int, answer: bytes) -> RequestResult:
    """OpenAI's output line; a request answered with an error goes to the error file, with the
    answer's error as ``error`` too."""
    try:
        body: object = orjson.loads(answer) if answer else None
    except orjson.JSONDecodeError:
        body = answer.decode("utf-8", "replace")
    response = {"status_code": status, "request_id": request_id, "body": body}
    failed = status >= 400
    error = None
    if failed:
        detail = body.get("error") if isinstance(body, dict) else None
        detail = detail if isinstance(detail, dict) else {}
        error = {"code": detail.get("code") or str(status), "message": detail.get("message") or "failed"}
    return RequestResult(index, failed, output_line(custom_id, response, error))
