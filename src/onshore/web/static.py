"""The console's own files (CSS, its script, the vendored chart library), read once from the package.

Only names in the package's ``static/`` folder are served, looked up in a table built at the first
request, so no path from the URL ever reaches the file system.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from onshore.web.http import Response

_TYPES = {
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".txt": b"text/plain; charset=utf-8",
}


@cache
def _files() -> dict[str, tuple[bytes, bytes]]:
    table: dict[str, tuple[bytes, bytes]] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = entry.name[entry.name.rfind(".") :] if "." in entry.name else ""
            if suffix in _TYPES:
                table[prefix + entry.name] = (entry.read_bytes(), _TYPES[suffix])

    walk(resources.files("onshore.web").joinpath("static"), "")
    return table


def serve(name: str) -> Response:
    found = _files().get(name)
    if found is None:
        return Response(404, b"Not found", content_type=b"text/plain; charset=utf-8")
    body, content_type = found
    # An hour: the files change only with a release, and the console is reloaded after one.
    return Response(200, body, content_type=content_type, cache=b"private, max-age=3600")
