"""A batch's input file: checked line by line when the batch is created, read again when it runs.

Each line is ``{"custom_id", "method": "POST", "url": <the batch's endpoint>, "body": {...}}``;
custom ids are unique within the file. What is wrong is said with its line number, as OpenAI does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import BinaryIO

import orjson

from onshore.errors import InvalidRequest

_MAX_CUSTOM_ID = 512


def check_input(source: BinaryIO, endpoint: str, max_requests: int) -> list[str]:
    """The custom ids, in line order; ``InvalidRequest`` naming the first bad line otherwise."""
    custom_ids: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        if len(custom_ids) >= max_requests:
            raise _bad(number, f"The file has more than {max_requests} requests.", "input_file_id")
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _bad(number, "This line is not valid JSON.", "input_file_id") from None
        if not isinstance(line, dict):
            raise _bad(number, "Each line must be a JSON object.", "input_file_id")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id or len(custom_id) > _MAX_CUSTOM_ID:
            raise _bad(number, "Each line needs a 'custom_id' string.", "custom_id")
        if custom_id in seen:
            raise _bad(number, "The custom_id is used by an earlier line; each must be unique.", "custom_id")
        if line.get("method") != "POST":
            raise _bad(number, "The 'method' must be 'POST'.", "method")
        if line.get("url") != endpoint:
            raise _bad(number, f"The 'url' must be the batch's endpoint, '{endpoint}'.", "url")
        body = line.get("body")
        if not isinstance(body, dict):
            raise _bad(number, "The 'body' must be a JSON object.", "body")
        if body.get("stream"):
            raise _bad(number, "Streaming is not supported in a batch.", "body.stream")
        seen.add(custom_id)
        custom_ids.append(custom_id)
    if not custom_ids:
        raise InvalidRequest("The input file has no requests.", param="input_file_id", code="empty_file")
    return custom_ids


def read_requests(source: BinaryIO, wanted: Collection[int]) -> Iterator[tuple[int, str, bytes]]:
    """(request index, custom_id, body) of the requests whose index is in ``wanted``, in file order.
    The index counts requests (blank lines skipped), as ``check_input``'s list does."""
    index = -1
    for raw in source:
        if not raw.strip():
            continue
        index += 1
        if index in wanted:
            line = orjson.loads(raw)
            yield index, line["custom_id"], orjson.dumps(line["body"])


def _bad(number: int, message: str, param: str) -> InvalidRequest:
    return InvalidRequest(f"Line {number}: {message}", param=param, code="invalid_batch_input")
