"""The detector: one compiled object, text in, findings out.

:class:`Detector` is immutable after construction and holds no per-call state, so one instance
can be shared by every request and thread. :meth:`Detector.scan` scans a whole text;
:meth:`Detector.stream` returns a :class:`~onshore.pii.stream.StreamScanner` for text that arrives
in chunks. Both use :meth:`Detector.scan_window`, which scans from a position and, for an
unfinished stream, reports only the candidates whose extent and context are already known.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from onshore.pii import textual
from onshore.pii.context import shared_context_rules
from onshore.pii.entities import ALL_TYPES, EntityType, Finding, make_finding
from onshore.pii.normalize import NEEDS_NORMALISING_CLASS, Normalized, normalize
from onshore.pii.numeric import Hypothesis
from onshore.pii.reading import Reader
from onshore.pii.runs import RUN, RUN_BODY, whole_candidate
from onshore.pii.window import (
    EMAIL_CHARS,
    HEX_CHARS,
    SETTLE,
    Hit,
    Window,
    hold_open_stretch,
    resolve_overlaps,
    stream_cut,
)

if TYPE_CHECKING:
    from onshore.pii.stream import StreamScanner

_NUMERIC = ALL_TYPES - {EntityType.EMAIL, EntityType.KR_PASSPORT}
# Runs that cannot hold an identifier, rejected before any Python-level work: dates
# (2024-04-01, 2024.4.1, 20240401) and single tokens of fewer than 8 digits.
_NO_IDENTIFIER = re.compile(
    r"(?:19|20)[0-9]{2}([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])|(?:19|20)[0-9]{6}"
    r"|[0-9]{1,7}"
)
# Passport confidence without a cue (old and 2021 formats), and the substrings every passport cue
# word of context.py contains (여권, passport, Passport, PASSPORT).
_PASSPORT_OLD = 0.4
_PASSPORT_NEW = 0.45
_PASSPORT_CUES = ("여권", "assport", "ASSPORT")
# Where a passport can be lifted by a cue at index c: it starts within (c - AFTER - 9, c + WIDE_BEFORE]
# (window.KEEP keeps that much for streams); these bounds add a few characters of margin.
_PASSPORT_BEFORE_CUE = 40
_PASSPORT_AFTER_CUE = 120
_SOMETHING_TO_FIND = re.compile("[0-9@:]")  # in ASCII text
_ASCII_DIGITS = "0123456789"
# A digit run (RUN) or a character that needs normalising. One character class comes first, so
# the engine skips other text as fast as it does for RUN alone; a digit inside a number fails at
# the first look-behind (the cheapest order: 12% fewer instructions than testing "is a digit"
# first), a digit that cannot start a run matches nothing, a character to normalise matches alone.
_RUN_OR_NORMALISABLE = re.compile(
    "[0-9" + NEEDS_NORMALISING_CLASS[1:-1] + "](?<![0-9][0-9])(?:(?<=[0-9])" + RUN_BODY + "|(?<![0-9]))"
)
_HEXISH = re.compile(r"[0-9A-Fa-f:.]*")


class Detector:
    """Finds Korean personal data in text.

    Args:
        entities: the types to report (default: all).
        min_confidence: findings below this confidence are dropped.
    """

    __slots__ = ("_entities", "_min_confidence", "_reader", "_wants")

    def __init__(
        self, entities: Iterable[EntityType | str] | None = None, min_confidence: float = 0.5
    ) -> None:
        self._entities: frozenset[EntityType] = (
            ALL_TYPES if entities is None else frozenset(EntityType(e) for e in entities)
        )
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be between 0 and 1")
        self._min_confidence = min_confidence
        self._reader = Reader(shared_context_rules())
        wanted = self._entities  # which recognizers run, decided once (numeric, passport, e-mail, IPv6)
        self._wants = (
            bool(wanted & _NUMERIC),
            EntityType.KR_PASSPORT in wanted,
            EntityType.EMAIL in wanted,
            EntityType.IP_ADDRESS in wanted,
        )

    @property
    def entities(self) -> frozenset[EntityType]:
        """The types this detector reports."""
        return self._entities

    @property
    def min_confidence(self) -> float:
        """The confidence below which findings are dropped."""
        return self._min_confidence

    def scan(self, text: str) -> list[Finding]:
        """All findings in ``text``, sorted by start, spans in ``text``'s own indices."""
        if text.isascii():
            if _SOMETHING_TO_FIND.search(text) is None:
                return []  # no digit, "@" or ":": most chat text
            return self._whole(text, None, [m.span() for m in RUN.finditer(text)])
        # One pass finds the digit runs and whether any character needs normalising (then the runs
        # are found again in the normalised copy): the text is read once, not twice.
        runs: list[tuple[int, int]] = []
        for match in _RUN_OR_NORMALISABLE.finditer(text):
            span = match.span()
            first = span[0]
            if text[first] not in _ASCII_DIGITS:
                # The normalised copy equals the text before ``first``: keep the runs that end well
                # before it (a run cannot grow by more than SETTLE characters) and look again after.
                norm = normalize(text, first)
                while runs and runs[-1][1] + SETTLE > first:
                    runs.pop()
                runs.extend(m.span() for m in RUN.finditer(norm.text, runs[-1][1] if runs else 0))
                return self._whole(norm.text, norm if norm.positions is not None else None, runs)
            runs.append(span)
        return self._whole(text, None, runs)

    def _whole(self, text: str, norm: Normalized | None, runs: list[tuple[int, int]]) -> list[Finding]:
        """Scan a whole, normalised text with its digit runs: :meth:`scan_window` without a stream's
        bookkeeping (no window, pending keys or run list: a 200-byte prompt with one phone number
        spent about half its time outside the number). ``norm`` maps spans back when characters
        were removed."""
        hits: list[Hit] = []
        numeric, passport, email, ipv6 = self._wants
        if numeric:
            no_identifier = _NO_IDENTIFIER.fullmatch
            reader = self._reader
            for key, end in runs:
                if end - key < 7 and text.count(".", key, end) != 3:
                    continue  # too short for any identifier (IPv4 like 1.1.1.1 excepted)
                if no_identifier(text, key, end):
                    continue  # a date or a lone short number: nothing to classify
                whole = whole_candidate(text, key, end)
                if whole is None:
                    hits.extend(reader.split(text, key, end))
                elif whole.digits:
                    found = reader.find(text, whole)
                    if found is not None:
                        hits.append(found)
        if passport:
            for begin, end in self._passport_spans(text):
                hits.append(self._passport(text, begin, end))
        if (email and "@" in text) or (ipv6 and ":" in text):
            _textual(text, email, ipv6, hits)
        if not hits:
            return []
        minimum = self._min_confidence
        wanted = self._entities
        kept = resolve_overlaps([h for h in hits if h[3] >= minimum and h[2] in wanted])
        if norm is None:
            return [make_finding(start, end, etype, conf) for start, end, etype, conf in kept]
        return [make_finding(*norm.to_original(start, end), etype, conf) for start, end, etype, conf in kept]

    def stream(self, batch: int = 64) -> StreamScanner:
        """A new incremental scanner that uses this detector (see :class:`StreamScanner`)."""
        from onshore.pii.stream import StreamScanner  # noqa: PLC0415 - stream imports detector

        return StreamScanner(self, batch)

    def scan_window(self, text: str, start: int, final: bool) -> tuple[list[Finding], int]:
        """Scan candidates that begin at or after ``start``.

        Args:
            text: the text (for a stream: the retained tail plus new chunks).
            start: index in ``text`` where this scan owns candidates.
            final: True when no more text follows; False to hold back unfinished candidates.

        Returns:
            The findings owned by this scan, and the index where the next scan must start.
            With ``final`` the index is ``len(text)``.
        """
        norm = normalize(text)
        ntext = norm.text
        nstart = _to_normalized(norm, start)
        limit = len(ntext) if final else max(nstart, len(ntext) - SETTLE)
        window = Window(ntext, nstart, limit, final, pending=[limit])
        self._recognize(window)
        minimum = self._min_confidence
        wanted = self._entities
        candidates = [(k, h) for k, h in window.found if h[2] in wanted and h[3] >= minimum]
        cut = len(ntext) if final else stream_cut(window, candidates)
        resolved = resolve_overlaps([h for key, h in candidates if key < cut])
        if norm.positions is None:
            findings = [Finding(s, e, t, c) for s, e, t, c in resolved]
        else:  # zero-width characters were removed: map spans back
            findings = [Finding(*norm.to_original(s, e), t, c) for s, e, t, c in resolved]
        return findings, len(text) if final else _to_original_index(norm, cut)

    def _recognize(self, window: Window) -> None:
        """Run every wanted recognizer over a window (see :meth:`scan_window`)."""
        numeric, passport, email, ipv6 = self._wants
        text, final = window.text, window.final
        if numeric:
            self._runs(window)
        if passport and (
            self._min_confidence <= _PASSPORT_NEW or any(cue in text for cue in _PASSPORT_CUES)
        ):  # without a cue a passport stays below the threshold: skip the scan
            self._passports(window)
        if email:
            if not final:  # an address may still grow at the end of the text
                hold_open_stretch(window, EMAIL_CHARS, "@")
            if "@" in text:
                _emails(window)
        if ipv6:
            if not final:
                hold_open_stretch(window, HEX_CHARS, ":")
            if ":" in text:
                _ipv6s(window)

    def _runs(self, window: Window) -> None:
        # The hottest loop: locals instead of attribute look-ups, cheapest rejections first.
        text, limit, final = window.text, window.limit, window.final
        found, runs = window.found, window.runs
        settled_end = len(text) - SETTLE
        no_identifier = _NO_IDENTIFIER.fullmatch
        reader = self._reader
        for match in RUN.finditer(text, window.start):
            key, end = match.span()
            if key >= limit:
                break
            if not final:
                runs.append((key, end))
            if end - key < 7 and match.group().count(".") != 3:
                continue  # too short for any identifier (IPv4 like 1.1.1.1 excepted)
            if no_identifier(text, key, end):
                continue  # a date or a lone short number: nothing to classify
            if not final and end > settled_end:
                window.pending.append(key)
                break
            whole = whole_candidate(text, key, end)
            if whole is None:
                found.extend([(key, h) for h in reader.split(text, key, end)])
            elif whole.digits:
                one = reader.find(text, whole)
                if one is not None:
                    found.append((key, one))

    def _passports(self, window: Window) -> None:
        text = window.text
        for begin, end in textual.passports(text, window.start):
            if begin >= window.limit:
                break
            if window.unsettled(end):
                window.pending.append(begin)
                break
            window.found.append((begin, self._passport(text, begin, end)))

    def _passport(self, text: str, begin: int, end: int) -> Hit:
        plain = _PASSPORT_OLD if text[begin + 4].isdigit() else _PASSPORT_NEW
        hyp = Hypothesis(EntityType.KR_PASSPORT, plain, 0.92, begin, end)
        return begin, end, EntityType.KR_PASSPORT, self._reader.confidence(text, hyp)

    def _passport_spans(self, text: str) -> list[tuple[int, int]]:
        """Passport-shaped spans of a whole text that may reach the threshold.

        Without a cue a passport's confidence (0.4-0.45) stays below the default threshold, and a cue
        counts from at most ``context.WIDE_BEFORE`` characters before it to ``context.AFTER`` after
        it. So only stretches around the cue words are searched (the passport pattern over a whole
        4 KB prompt costs more than all its cue look-ups), unless the threshold is that low.
        """
        if self._min_confidence <= _PASSPORT_NEW:
            return list(textual.passports(text, 0))
        stretches: list[tuple[int, int]] = []
        for cue in _PASSPORT_CUES:
            if cue not in text:  # "in" first: half the cost of a find() that fails (no method call)
                continue
            at = text.find(cue)
            while at != -1:
                stretches.append((max(0, at - _PASSPORT_BEFORE_CUE), at + _PASSPORT_AFTER_CUE))
                at = text.find(cue, at + 1)
        if not stretches:
            return []
        stretches.sort()
        spans: list[tuple[int, int]] = []
        low, high = stretches[0]
        for begin, end in stretches[1:]:
            if begin > high:
                spans.extend(textual.passports(text, low, high))
                low, high = begin, end
            else:
                high = max(high, end)
        spans.extend(textual.passports(text, low, high))
        return spans


def _textual(text: str, email: bool, ipv6: bool, hits: list[Hit]) -> None:
    """E-mail and IPv6 findings of a whole text."""
    if email and "@" in text:
        hits.extend([(begin, end, EntityType.EMAIL, 0.95) for begin, end, _ in textual.emails(text, 0)])
    if ipv6 and ":" in text:
        hits.extend([(begin, end, EntityType.IP_ADDRESS, 0.9) for begin, end in textual.ipv6s(text, 0)])


def _emails(window: Window) -> None:
    text = window.text
    for begin, end, key in textual.emails(text, window.start):
        if key >= window.limit:
            break
        window.found.append((key, (begin, end, EntityType.EMAIL, 0.95)))


def _ipv6s(window: Window) -> None:
    text = window.text
    for begin, end in textual.ipv6s(text, window.start):
        if begin < window.start:
            continue  # owned by the previous window
        if begin >= window.limit:
            break
        tail = _HEXISH.match(text, end)
        if tail is not None and window.unsettled(tail.end()):
            window.pending.append(begin)
            break
        window.found.append((begin, (begin, end, EntityType.IP_ADDRESS, 0.9)))


def _to_normalized(norm: Normalized, index: int) -> int:
    if norm.positions is None:
        return index
    return bisect.bisect_left(norm.positions, index)


def _to_original_index(norm: Normalized, index: int) -> int:
    if norm.positions is None:
        return index
    return norm.positions[index] if index < len(norm.positions) else norm.original_length
