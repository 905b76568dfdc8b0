"""Structured JSON logs carrying the request id; never prompt text, keys or upstream secrets.

Nothing here logs request or response bodies, and both formatters drop exception *messages*
(a driver's error can embed a URL with its password): only each exception's type and its traceback
frames reach the log, which is what an operator needs. This holds for the whole chain: the messages
of ``__cause__``, ``__context__`` and the members of exception groups are dropped as well, because
the standard formatter prints every one of them and a ``StoreError`` raised *from* a driver error
would otherwise carry the driver's text into the log.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Any, TypeAlias

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "onshore_request_id", default=None
)

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def redacted_traceback(exc: BaseException) -> list[str]:
    """The traceback of ``exc`` and its whole chain, frames kept, every message replaced by its type.

    Built from the exceptions themselves rather than by editing the standard text, so no message can
    survive in a place the standard format puts it (a cause, a context, a group member, a note).
    """
    return _format_chain(exc, set())


def _format_chain(exc: BaseException, seen: set[int]) -> list[str]:
    seen.add(id(exc))
    lines: list[str] = []
    # The same order as the standard format: the oldest exception first, the one logged last.
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += [*_format_chain(cause, seen), "", _CAUSE, ""]
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += [*_format_chain(context, seen), "", _CONTEXT, ""]
    if exc.__traceback__ is not None:
        lines.append("Traceback (most recent call last):")
        for frame in traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__)).format():
            lines += frame.rstrip("\n").split("\n")
    lines.append(_type_name(exc))
    if isinstance(exc, BaseExceptionGroup):
        for number, member in enumerate(exc.exceptions, 1):
            lines.append(f"+-- {number} --")
            lines += ["| " + line for line in _format_chain(member, seen)]
    return lines


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info).splitlines()
        return orjson.dumps(entry, default=str).decode()

    def formatException(self, ei: Any) -> str:
        return _redacted(ei)


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the same redacted tracebacks as the JSON format."""

    def format(self, record: logging.LogRecord) -> str:
        # logging caches the formatted traceback on the record; one cached by another handler's
        # standard formatter would carry the messages, so it is always made again here.
        record.exc_text = None
        return super().format(record)

    def formatException(self, ei: Any) -> str:
        return _redacted(ei)


def _redacted(ei: _ExcInfo | tuple[None, None, None]) -> str:
    exc = ei[1]
    return "\n".join(redacted_traceback(exc)) if exc is not None else ""


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ConsoleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
