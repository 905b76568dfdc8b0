"""``multipart/form-data`` as the OpenAI SDKs send a file upload: a few small fields and one file.

The body is read whole (bounded by the caller's limit) and split on its boundary; the file part is
handed on as a view of those bytes, never copied again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from onshore.errors import InvalidRequest

_BOUNDARY = re.compile(rb'boundary="?([^";]{1,200})"?')
_NAME = re.compile(rb'\bname="([^"]*)"')
_FILENAME = re.compile(rb'\bfilename="([^"]*)"')


@dataclass(frozen=True, slots=True)
class FormData:
    fields: dict[str, str]
    file: memoryview | None
    filename: str


def parse_form(content_type: bytes | None, body: bytes) -> FormData:
    match = _BOUNDARY.search(content_type or b"")
    if content_type is None or not content_type.startswith(b"multipart/form-data") or match is None:
        raise InvalidRequest("Send the file as multipart/form-data.", param="file")
    delimiter = b"--" + match.group(1)
    view = memoryview(body)
    fields: dict[str, str] = {}
    file: memoryview | None = None
    filename = ""
    start = body.find(delimiter)
    if start < 0:
        raise InvalidRequest("The multipart body has no parts.", param="file")
    position = start + len(delimiter)
    while body[position : position + 2] != b"--":
        position = body.find(b"\r\n", position) + 2
        headers_end = body.find(b"\r\n\r\n", position)
        end = body.find(b"\r\n" + delimiter, headers_end)
        if position < 2 or headers_end < 0 or end < 0:
            raise InvalidRequest("The multipart body is malformed.", param="file")
        headers = body[position:headers_end]
        content = view[headers_end + 4 : end]
        name = _NAME.search(headers)
        if name is not None:
            found = _FILENAME.search(headers)
            if found is not None and name.group(1) == b"file":
                file = content
                filename = found.group(1).decode("utf-8", "replace")
            else:
                fields[name.group(1).decode("utf-8", "replace")] = bytes(content).decode("utf-8", "replace")
        position = end + 2 + len(delimiter)
    return FormData(fields, file, filename)
