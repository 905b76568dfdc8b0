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
from onshore.pii.context import Cue, shared_context_rules
from onshore.pii.entities import ALL_TYPES, EntityType, Finding
from onshore.pii.normalize import NEEDS_NORMALISING_CLASS, Normalized, normalize
from onshore.pii.numeric import NEGATIVE_PENALTY, OTHER_PENALTY, Hypothesis, classify
from onshore.pii.runs import RUN, Candidate, Segment, make_candidate, split_run, whole_candidate
from onshore.pii.window import (
    EMAIL_CHARS,
    HEX_CHARS,
    SETTLE,
    Window,
    hold_open_stretch,
    resolve_overlaps,
    stream_cut,
)

if TYPE_CHECKING:
    from onshore.pii.stream import StreamScanner

_FLOOR = 0.25  # a reading weaker than this does not claim its digits
_MAX_SEGMENTS = 5
_MAX_DIGITS = 21  # a card (19) or "+82 (0)10 ..." (14); longer candidates are never identifiers
_NUMERIC = ALL_TYPES - {EntityType.EMAIL, EntityType.KR_PASSPORT}
_REGIONS = "서울 부산 경기남부 경기북부 경기 강원 충북 충남 전북 전남 경북 경남 제주 대구 인천 광주 대전 울산"
_REGION = re.compile("(?:" + "|".join(_REGIONS.split()) + r")[ -]?\Z")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_BAD_LEFT = _LETTERS | frozenset("@\\$#")
_DIGITS = frozenset("0123456789")
_ALNUM = _LETTERS | _DIGITS
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
# A label further away than the usual cue reach (a table header, "여권 정보: …, 번호 M123A4567")
# lifts the shapes that are specific on their own: passports, bare BRNs with a valid check digit,
# bank layouts of a known bank (plain >= 0.3); not the catch-all bank shapes or bare licences.
_WIDE_TYPES = frozenset({EntityType.KR_PASSPORT, EntityType.KR_BRN, EntityType.KR_BANK_ACCOUNT})
_WIDE_MIN_PLAIN = 0.3
_WIDE_CONFIDENCE = 0.6
# A written date as a token of a space-joined run ("2024.03.20 23:59"): never part of an identifier.
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}(?:([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
)
_SOMETHING_TO_FIND = re.compile("[0-9@:\uff10-\uff19\uff20\uff1a]")
_NORMALISABLE = re.compile(NEEDS_NORMALISING_CLASS)
_HEXISH = re.compile(r"[0-9A-Fa-f:.]*")


class Detector:
    """Finds Korean personal data in text.

    Args:
        entities: the types to report (default: all).
        min_confidence: findings below this confidence are dropped.
    """

    __slots__ = ("_context", "_entities", "_min_confidence", "_wants")

    def __init__(
        self, entities: Iterable[EntityType | str] | None = None, min_confidence: float = 0.5
    ) -> None:
        self._entities: frozenset[EntityType] = (
            ALL_TYPES if entities is None else frozenset(EntityType(e) for e in entities)
        )
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be between 0 and 1")
        self._min_confidence = min_confidence
        self._context = shared_context_rules()
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
        if _SOMETHING_TO_FIND.search(text) is None:
            return []  # no digit, "@" or ":" (ASCII or full-width): most chat text
        runs_from = 0
        if "@" not in text and ":" not in text and (text.isascii() or _NORMALISABLE.search(text) is None):
            # The text is its own normal form: find its first digit run once, here.
            first = RUN.search(text)
            if first is None and textual.PASSPORT.search(text) is None:
                return []  # only short numbers ("18도", "12.5%")
            runs_from = len(text) if first is None else first.start()
        return self._scan(text, 0, True, runs_from)[0]

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
        return self._scan(text, start, final, 0)

    def _scan(self, text: str, start: int, final: bool, runs_from: int) -> tuple[list[Finding], int]:
        norm = normalize(text)
        ntext = norm.text
        nstart = _to_normalized(norm, start)
        limit = len(ntext) if final else max(nstart, len(ntext) - SETTLE)
        window = Window(ntext, nstart, limit, final, pending=[limit], runs_from=runs_from)
        numeric, passport, email, ipv6 = self._wants
        if numeric:
            self._runs(window)
        if passport and (
            self._min_confidence <= _PASSPORT_NEW or any(cue in ntext for cue in _PASSPORT_CUES)
        ):  # without a cue a passport stays below the threshold: skip the scan
            self._passports(window)
        if email:
            if not final:  # an address may still grow at the end of the text
                hold_open_stretch(window, EMAIL_CHARS, "@")
            if "@" in ntext:
                _emails(window)
        if ipv6:
            if not final:
                hold_open_stretch(window, HEX_CHARS, ":")
            if ":" in ntext:
                _ipv6s(window)
        if not window.found and final:
            return [], len(text)
        minimum = self._min_confidence
        wanted = self._entities
        if final:
            resolved = resolve_overlaps(
                [f for _, f in window.found if f.confidence >= minimum and f.type in wanted]
            )
            cut = len(ntext)
        else:
            candidates = [(k, f) for k, f in window.found if f.type in wanted and f.confidence >= minimum]
            cut = stream_cut(window, candidates)
            resolved = resolve_overlaps([f for key, f in candidates if key < cut])
        if norm.positions is not None:  # zero-width characters were removed: map spans back
            resolved = [Finding(*norm.to_original(f.start, f.end), f.type, f.confidence) for f in resolved]
        next_start = len(text) if final else _to_original_index(norm, cut)
        return resolved, next_start

    def _runs(self, window: Window) -> None:
        # The hottest loop: locals instead of attribute look-ups, cheapest rejections first.
        text, limit, final = window.text, window.limit, window.final
        found, runs = window.found, window.runs
        settled_end = len(text) - SETTLE
        no_identifier = _NO_IDENTIFIER.fullmatch
        best, make_finding = self._best, self._finding
        for match in RUN.finditer(text, max(window.start, window.runs_from)):
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
                found.extend((key, finding) for finding in self._classify_run(text, key, end))
            elif whole.digits:
                hyp, conf = best(text, whole)
                if hyp is not None:
                    found.append((key, make_finding(text, hyp, conf)))

    def _classify_run(self, text: str, start: int, end: int) -> list[Finding]:
        """Split a run into identifiers: at each segment take the strongest reading, unless a
        stronger one starts inside it (then the earlier segment is left alone)."""
        segments = split_run(text, start, end)
        out: list[Finding] = []
        memo: dict[int, tuple[Hypothesis | None, float, int]] = {}
        i = 0
        count = len(segments)
        while i < count:
            best, best_conf, best_last = self._strongest_from(text, segments, i, memo)
            if best is None or any(
                self._strongest_from(text, segments, k, memo)[1] > best_conf
                for k in range(i + 1, best_last + 1)
            ):
                i += 1
                continue
            out.append(self._finding(text, best, best_conf))
            i = best_last + 1
        return out

    def _strongest_from(
        self,
        text: str,
        segments: list[Segment],
        first: int,
        memo: dict[int, tuple[Hypothesis | None, float, int]],
    ) -> tuple[Hypothesis | None, float, int]:
        """The strongest reading of segments ``first..j`` over j (longest on ties)."""
        cached = memo.get(first)
        if cached is not None:
            return cached
        best: Hypothesis | None = None
        best_conf = 0.0
        best_last = first
        digits = 0
        for j in range(first, min(first + _MAX_SEGMENTS, len(segments))):
            segment = segments[j]
            if _DATE.fullmatch(text, segment.start, segment.end):
                break
            one_digit = segment.end - segment.start == 1
            if one_digit and j == first:
                break  # a list number never starts an identifier ("1) 010-...")
            digits += sum(e - s for s, e in segment.groups)
            if digits > _MAX_DIGITS or segment.end - segments[first].start > 40:
                break
            if one_digit and digits != 13:
                continue  # nor ends one ("...5678\n2)"), except MG's 9xxx xxxx xxxx x; "+82 2 ..." goes on
            if digits < 8 and not (j == first and len(segment.groups) == 4):
                continue  # too few digits for anything but a dotted IPv4 token
            hyp, conf = self._best(text, make_candidate(text, segments, first, j))
            if hyp is not None and conf > best_conf:
                best, best_conf, best_last = hyp, conf, j
        memo[first] = (best, best_conf, best_last)
        return memo[first]

    @staticmethod
    def _finding(text: str, hyp: Hypothesis, conf: float) -> Finding:
        begin = hyp.start
        if hyp.type is EntityType.KR_PHONE and begin > 0 and text[begin - 1] == "(":
            begin -= 1  # "(02) 123-4567"
        return Finding(begin, hyp.end, hyp.type, conf)

    def _best(self, text: str, cand: Candidate) -> tuple[Hypothesis | None, float]:
        if len(cand.digits) > _MAX_DIGITS or not _edges_ok(text, cand):
            return None, 0.0
        if text.startswith("년", cand.end):
            return None, 0.0  # "1800-1900년대", "2024년": years
        plus = _plus_before(text, cand.start)
        region = None
        if cand.layout == (2, 6, 2):  # only the old licence form needs the look-back
            region = _REGION.search(text, max(0, cand.start - 6), cand.start)
        hyps = classify(cand, plus, None if region is None else region.start())
        best: Hypothesis | None = None
        best_conf = 0.0
        # Strongest possible reading first, so weaker ones are skipped without a context lookup.
        for hyp in sorted(hyps, key=_ceiling, reverse=True) if len(hyps) > 1 else hyps:
            if _ceiling(hyp) <= best_conf:
                break
            if hyp.type is EntityType.IP_ADDRESS and cand.start > 0 and text[cand.start - 1] in ":.":
                continue  # the IPv4 tail of an IPv6 address, or a version ("ver.2.1.0.12")
            conf = self._confidence(text, hyp)
            if conf >= _FLOOR and conf > best_conf:
                best, best_conf = hyp, conf
        return best, best_conf

    def _confidence(self, text: str, hyp: Hypothesis) -> float:
        if hyp.strong:
            return hyp.plain
        cue = self._context.assess(text, hyp.start, hyp.end, hyp.type)
        if cue is Cue.POSITIVE:
            return hyp.cued
        if (
            cue is Cue.NONE
            and hyp.type in _WIDE_TYPES
            and hyp.plain >= _WIDE_MIN_PLAIN
            and self._context.cue_far_before(text, hyp.start, hyp.type)
        ):
            return max(hyp.plain, _WIDE_CONFIDENCE)
        if cue is Cue.NEGATIVE:
            return hyp.plain - NEGATIVE_PENALTY
        if cue is Cue.OTHER:
            return hyp.plain - OTHER_PENALTY
        return hyp.plain

    def _passports(self, window: Window) -> None:
        text = window.text
        for begin, end in textual.passports(text, window.start):
            if begin >= window.limit:
                break
            if window.unsettled(end):
                window.pending.append(begin)
                break
            plain = _PASSPORT_OLD if text[begin + 4].isdigit() else _PASSPORT_NEW
            hyp = Hypothesis(EntityType.KR_PASSPORT, plain, 0.92, begin, end)
            conf = self._confidence(text, hyp)
            window.found.append((begin, Finding(begin, end, EntityType.KR_PASSPORT, conf)))


def _emails(window: Window) -> None:
    text = window.text
    for begin, end, key in textual.emails(text, window.start):
        if key >= window.limit:
            break
        window.found.append((key, Finding(begin, end, EntityType.EMAIL, 0.95)))


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
        window.found.append((begin, Finding(begin, end, EntityType.IP_ADDRESS, 0.9)))


def _ceiling(hyp: Hypothesis) -> float:
    return hyp.plain if hyp.strong else max(hyp.plain, hyp.cued)


def _edges_ok(text: str, cand: Candidate) -> bool:
    start, end = cand.start, cand.end
    if start > 0:
        prev = text[start - 1]
        if prev in _BAD_LEFT and not (prev == "@" and len(cand.layout) == 4 and cand.dots_only):
            return False  # but "ssh admin@10.0.1.7" is an address
        if start > 1 and (
            (prev == "-" and text[start - 2] in _ALNUM) or (prev == "." and text[start - 2] in _DIGITS)
        ):
            return False  # the tail of a code ("SKU-...", "1.2..."); "Tel.010-..." is fine
    if end < len(text):
        nxt = text[end]
        if nxt in _BAD_LEFT:
            return False
        if nxt in "-." and end + 1 < len(text) and text[end + 1] in _ALNUM:
            return False
    return True


def _plus_before(text: str, start: int) -> bool:
    return start > 0 and text[start - 1] == "+"


def _to_normalized(norm: Normalized, index: int) -> int:
    if norm.positions is None:
        return index
    return bisect.bisect_left(norm.positions, index)


def _to_original_index(norm: Normalized, index: int) -> int:
    if norm.positions is None:
        return index
    return norm.positions[index] if index < len(norm.positions) else norm.original_length
