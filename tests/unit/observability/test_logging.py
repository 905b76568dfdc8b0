"""No exception message reaches the log, whichever exception in a chain carries it (issue 15)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from onshore.observability.logging import JsonFormatter, configure_logging, redacted_traceback
from onshore.ports import StoreError

SECRET = "password=hunter2-s3cr3t"


class DriverError(Exception):
    """Stands in for a database driver's error, whose text embeds a connection string."""


def _connect() -> None:
    raise DriverError(f"connection to postgresql://onshore:{SECRET}@db.internal failed")


def _store_call() -> None:
    try:
        _connect()
    except DriverError as exc:
        raise StoreError(f"database unreachable ({exc})") from exc


def _implicit_chain() -> None:
    try:
        _connect()
    except DriverError:
        raise KeyError(SECRET)  # noqa: B904 - the implicit __context__ is the point


def _caught(func: object) -> BaseException:
    try:
        func()  # type: ignore[operator]
    except BaseException as exc:
        return exc
    raise AssertionError("no exception")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    yield stream
    log.removeHandler(handler)
    log.propagate = True


def test_a_chained_cause_message_never_reaches_the_json_log(captured: io.StringIO) -> None:
    try:
        _store_call()
    except StoreError:
        logging.getLogger("test.redaction").exception("saving the ledger failed")
    text = captured.getvalue()
    assert "hunter2" not in text  # the source lines of the frames stay; no value from a message
    entry = json.loads(text)
    assert entry["exc_type"] == "StoreError"
    lines = entry["traceback"]
    # The frames stay (that is what an operator needs), each exception is named by its type only.
    assert any("_connect" in line for line in lines) and any("_store_call" in line for line in lines)
    assert any(line.endswith("DriverError") for line in lines)
    assert any("direct cause" in line for line in lines)
    assert lines[-1] == "onshore.ports.store.StoreError"


def test_an_implicit_context_is_redacted_too() -> None:
    lines = redacted_traceback(_caught(_implicit_chain))
    text = "\n".join(lines)
    assert "hunter2" not in text
    assert "During handling of the above exception" in text and "DriverError" in text


def test_exception_groups_are_redacted() -> None:
    def group() -> None:
        raise ExceptionGroup("two", [_caught(_store_call), ValueError(SECRET)])  # type: ignore[list-item]

    text = "\n".join(redacted_traceback(_caught(group)))
    assert "hunter2" not in text and "ValueError" in text and "StoreError" in text


def test_console_format_is_redacted_as_well(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "console")
        try:
            _store_call()
        except StoreError:
            logging.getLogger("test.console").exception("saving failed")
        for handler in root.handlers:
            handler.flush()
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "saving failed" in err and "hunter2" not in err and "StoreError" in err


def test_a_cycle_in_the_chain_terminates() -> None:
    first, second = ValueError(SECRET), KeyError(SECRET)
    first.__context__, second.__context__ = second, first
    text = "\n".join(redacted_traceback(first))
    assert "hunter2" not in text and "ValueError" in text
