"""File bytes in a local directory, one sub-directory per organisation: the ``FileStore`` port.

A file is written to a temporary name and renamed into place, so a reader never sees half a file
and an upload cut short (or too large) leaves nothing behind. Names are the server's own ids,
checked here all the same: nothing a client sends ever becomes part of a path.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from onshore.errors import PayloadTooLarge

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CHUNK = 1 << 20


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, org_id: str, file_id: str) -> Path:
        if not (_SAFE.fullmatch(org_id) and _SAFE.fullmatch(file_id)):
            raise ValueError("not a file store name")
        return self._root / org_id / file_id

    def _target(self, org_id: str, file_id: str) -> tuple[Path, Path]:
        path = self._path(org_id, file_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path, path.with_name(f".{file_id}.part")

    def write(self, org_id: str, file_id: str, source: BinaryIO, limit: int) -> int:
        path, part = self._target(org_id, file_id)
        size = 0
        try:
            with part.open("wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
                    out.write(chunk)
            part.replace(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        return size

    def write_lines(self, org_id: str, file_id: str, lines: Iterator[str]) -> int:
        path, part = self._target(org_id, file_id)
        try:
            with part.open("w", encoding="utf-8", newline="\n") as out:
                for line in lines:
                    out.write(line)
                    out.write("\n")
            part.replace(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        return path.stat().st_size

    def open(self, org_id: str, file_id: str) -> BinaryIO:
        return self._path(org_id, file_id).open("rb")

    def delete(self, org_id: str, file_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(org_id, file_id))

    def usage_bytes(self) -> int:
        """What the directory holds (for the operator; not on any request path)."""
        return sum(p.stat().st_size for p in self._root.rglob("*") if p.is_file())
