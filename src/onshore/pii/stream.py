"""Incremental scanning of text that arrives in chunks (streamed model output, uploads).

:class:`StreamScanner` keeps a short tail of the text, scans each new chunk together with it and
returns only findings whose extent and context can no longer change; :meth:`StreamScanner.close`
returns the rest. Offsets are global to the whole stream. An identifier split across chunks is
found exactly as if the text had been scanned whole.

:class:`StreamRedactor` builds on it for the gateway's redact mode: it returns the text that is
safe to release, with findings replaced, and holds back only what might still become part of one.
"""

from __future__ import annotations

from collections.abc import Callable

from onshore.pii.detector import Detector
from onshore.pii.entities import Finding
from onshore.pii.redact import placeholder, redact
from onshore.pii.window import KEEP

# A finding that a later scan reports starts at most this far before that scan's start
# (an e-mail address's local part, at most 64 characters).
RELEASE_MARGIN = 64


class StreamScanner:
    """Feed chunks, get final findings. Not thread-safe: one per stream.

    Args:
        detector: the detector to use.
        batch: scan only once this many characters arrived since the last scan (streamed model
            output comes a few characters at a time; rescanning the retained tail for each token
            would cost more than the text itself). Findings are the same for any value.
    """

    __slots__ = ("_base", "_batch", "_buffer", "_closed", "_detector", "_next", "_unscanned")

    def __init__(self, detector: Detector, batch: int = 64) -> None:
        self._detector = detector
        self._batch = batch
        self._buffer = ""  # the retained tail plus unscanned text
        self._base = 0  # global offset of _buffer[0]
        self._next = 0  # index in _buffer where the next scan owns candidates
        self._unscanned = 0  # characters fed since the last scan
        self._closed = False

    @property
    def settled(self) -> int:
        """Global offset before which no finding that is not yet returned can start: text before it
        is final except inside findings already returned (which may reach past it)."""
        return self._base + max(0, self._next - RELEASE_MARGIN)

    def feed(self, chunk: str) -> list[Finding]:
        """Add ``chunk``; return findings that are now final (global offsets, sorted)."""
        if self._closed:
            raise ValueError("feed() after close()")
        self._buffer += chunk
        self._unscanned += len(chunk)
        if self._unscanned < self._batch:
            return []
        self._unscanned = 0
        return self._scan(final=False)

    def close(self) -> list[Finding]:
        """End of stream: return the remaining findings."""
        if self._closed:
            return []
        self._closed = True
        return self._scan(final=True)

    def _scan(self, final: bool) -> list[Finding]:
        findings, next_start = self._detector.scan_window(self._buffer, self._next, final)
        base = self._base
        out = [f.shifted(base) for f in findings]
        drop = max(0, next_start - KEEP)
        if drop:
            self._buffer = self._buffer[drop:]
            self._base += drop
            next_start -= drop
        self._next = next_start
        return out


class StreamRedactor:
    """Redact a stream: feed chunks, get the text that is safe to release with findings replaced.

    Args:
        detector: the detector to use.
        replace: returns the replacement for a finding (default ``[KR_RRN]``-style placeholders).
        batch: see :class:`StreamScanner`.
    """

    __slots__ = ("_emitted", "_pending", "_released", "_replace", "_scanner", "findings")

    def __init__(
        self, detector: Detector, replace: Callable[[Finding], str] = placeholder, batch: int = 64
    ) -> None:
        self._scanner = StreamScanner(detector, batch)
        self._replace = replace
        self._pending = ""  # original text not yet released
        self._released = 0  # global offset of _pending[0]
        self._emitted: list[Finding] = []  # findings that touch _pending
        self.findings: list[Finding] = []  # every finding so far (global offsets)

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the redacted text that can be released now (maybe empty)."""
        self._pending += chunk
        self._take(self._scanner.feed(chunk))
        return self._release(self._scanner.settled)

    def close(self) -> str:
        """End of stream: return all remaining redacted text."""
        self._take(self._scanner.close())
        return self._release(self._released + len(self._pending))

    def _take(self, findings: list[Finding]) -> None:
        self._emitted.extend(findings)
        self.findings.extend(findings)

    def _release(self, upto: int) -> str:
        for f in self._emitted:
            if f.start < upto < f.end:
                upto = f.start
        count = upto - self._released
        if count <= 0:
            return ""
        inside = [f.shifted(-self._released) for f in self._emitted if f.end <= upto]
        self._emitted = [f for f in self._emitted if f.end > upto]
        text = redact(self._pending[:count], inside, self._replace)
        self._pending = self._pending[count:]
        self._released = upto
        return text
