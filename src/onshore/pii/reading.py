"""Reading digit candidates: the strongest reading of a token, and of a run split into segments.

:class:`Reader` turns a :class:`~onshore.pii.runs.Candidate` into its best hypothesis and
confidence (format, check digits, edges, context), and splits a space- or line-joined run into
identifiers. It is immutable and shared by every scan of a detector.

The split path reads each start segment's candidates (``segments[first..j]`` for each j, and for a
line break inside them also the candidate that reads it as a wrap within a group) lazily: all
readings are classified first (cheap), then their context is judged in order of the highest
confidence each could reach, and judging stops as soon as no remaining reading can win. Context is
the expensive part (a cue-word scan), and a spaced card number ``4984 6665 5229 5776`` otherwise
judges the context of every shorter prefix of it too.
"""

from __future__ import annotations

import re
from operator import attrgetter, itemgetter

from onshore.pii.context import ContextRules, Cue
from onshore.pii.entities import EntityType
from onshore.pii.numeric import NEGATIVE_PENALTY, OTHER_PENALTY, Hypothesis, classify
from onshore.pii.runs import Candidate, Segment, is_line_break, make_candidate, split_run
from onshore.pii.window import Hit

FLOOR = 0.25  # a reading weaker than this does not claim its digits
SPECIFIC = 0.3  # a wrapped candidate counts only when its format alone says this much
MAX_DIGITS = 21  # a card (19) or "+82 (0)10 ..." (14); longer candidates are never identifiers
_MAX_SEGMENTS = 5
_REGIONS = "서울 부산 경기남부 경기북부 경기 강원 충북 충남 전북 전남 경북 경남 제주 대구 인천 광주 대전 울산"
_REGION = re.compile("(?:" + "|".join(_REGIONS.split()) + r")[ -]?\Z")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_BAD_LEFT = _LETTERS | frozenset("@\\$#")
_DIGITS = frozenset("0123456789")
_ALNUM = _LETTERS | _DIGITS
_LEFT_SUSPECT = _BAD_LEFT | frozenset("-.")  # characters before a candidate that need a closer look
_RIGHT_SUSPECT = _BAD_LEFT | frozenset("-.")
# A phone label glued to the number ("HP01012345678", "Tel010-1234-5678"): the letters before a
# number do not reject it when they are one of these words; only a phone reading counts then.
_PHONE_LABEL = re.compile(
    r"(?<![A-Za-z])(?:HP|Hp|hp|H\.P|TEL|Tel|tel|PHONE|Phone|phone|MOBILE|Mobile|mobile)\Z"
)
# A file name that carries the number ("이력서_홍길동_01012345678.pdf"): "_" between Hangul and the
# number, and a file extension after it, do not reject it.
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{1,4}(?![A-Za-z0-9])")
# Passport confidence without a cue and the shapes a far label lifts (see Reader.confidence).
_WIDE_TYPES = frozenset({EntityType.KR_PASSPORT, EntityType.KR_BRN, EntityType.KR_BANK_ACCOUNT})
_WIDE_MIN_PLAIN = 0.3
_WIDE_CONFIDENCE = 0.6
# A written date as a token of a space-joined run ("2024.03.20 23:59"): never part of an identifier.
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}(?:([-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
)


class Reader:
    """Reads candidates with the shared context rules (immutable, thread-safe)."""

    __slots__ = ("_context",)

    def __init__(self, context: ContextRules) -> None:
        self._context = context

    def find(self, text: str, cand: Candidate) -> Hit | None:
        """The finding of ``cand``'s strongest reading, or None."""
        best: Hypothesis | None = None
        best_conf = 0.0
        for hyp in self.readings(text, cand):  # strongest possible first: weaker ones skip the context
            if hyp.ceiling <= best_conf:
                break
            conf = hyp.plain if hyp.strong else self.confidence(text, hyp)
            if conf >= FLOOR and conf > best_conf:
                best, best_conf = hyp, conf
        return None if best is None else hit(text, best, best_conf)

    def readings(self, text: str, cand: Candidate) -> list[Hypothesis]:
        """The plausible readings of ``cand``, strongest possible confidence first."""
        start, end = cand.start, cand.end
        prev = text[start - 1] if start else " "
        nxt = text[end] if end < len(text) else " "
        if nxt == "년" or len(cand.digits) > MAX_DIGITS:
            return []  # "1800-1900년대", "2024년": years; or too long for any identifier
        phone_only = False
        if prev in _LEFT_SUSPECT:  # one set look-up for the common case (a space, Hangul)
            if prev in _BAD_LEFT and not (prev == "@" and len(cand.layout) == 4 and cand.dots_only):
                if prev == "_" and (start < 2 or text[start - 2] not in _ALNUM):
                    pass  # "홍길동_01012345678.pdf"
                elif prev in _LETTERS and _PHONE_LABEL.search(text, max(0, start - 6), start) is not None:
                    phone_only = True  # "HP01012345678"
                else:
                    return []  # but "ssh admin@10.0.1.7" is an address
            elif start > 1 and (
                (prev == "-" and text[start - 2] in _ALNUM) or (prev == "." and text[start - 2] in _DIGITS)
            ):
                return []  # the tail of a code ("SKU-...", "1.2..."); "Tel.010-..." is fine
        if nxt in _RIGHT_SUSPECT and not _right_edge_ok(text, cand, nxt):
            return []
        region = None
        if cand.layout == (2, 6, 2):  # only the old licence form needs the look-back
            found = _REGION.search(text, max(0, start - 6), start)
            region = None if found is None else found.start()
        hyps = classify(cand, prev == "+", region)
        if phone_only or cand.wrapped or prev in ":.":
            hyps = [h for h in hyps if _allowed(h, cand, phone_only, prev)]
        if len(hyps) > 1:
            hyps.sort(key=_CEILING, reverse=True)
        return hyps

    def confidence(self, text: str, hyp: Hypothesis) -> float:
        """The confidence of a (not strong) reading in its context."""
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

    def split(self, text: str, start: int, end: int) -> list[Hit]:
        """Split a run into identifiers: at each segment take the strongest reading, unless a
        stronger one starts inside it (then the earlier segment is left alone)."""
        segments = split_run(text, start, end)
        count = len(segments)
        # Facts about each segment and each boundary, computed once for every start segment.
        digits = [sum([e - s for s, e in seg.groups]) for seg in segments]
        dates = [_DATE.fullmatch(text, seg.start, seg.end) is not None for seg in segments]
        breaks = [is_line_break(text[segments[k].end : segments[k + 1].start]) for k in range(count - 1)]
        facts = (segments, digits, dates, breaks)
        out: list[Hit] = []
        memo: dict[int, _Options] = {}
        i = 0
        while i < count:
            options = memo.get(i) or memo.setdefault(i, self._options(text, facts, i))
            best, best_conf, best_last = options.result(self, text)
            if best is None or any(
                _may_exceed(facts, k, best_conf)
                and (memo.get(k) or memo.setdefault(k, self._options(text, facts, k))).exceeds(
                    self, text, best_conf
                )
                for k in range(i + 1, best_last + 1)
            ):
                i += 1
                continue
            out.append(hit(text, best, best_conf))
            i = best_last + 1
        return out

    def _options(self, text: str, facts: _Facts, first: int) -> _Options:
        """Every reading of ``segments[first..j]`` over j (and of its wrapped forms)."""
        segments, digit_counts, dates, breaks = facts
        items: list[tuple[float, int, int, Hypothesis]] = []  # (-ceiling, j, rank, reading)
        count = len(segments)
        opening = segments[first]
        first_one_digit = digit_counts[first] == 1
        if first_one_digit and not (first < count - 1 and breaks[first]):
            return _Options(items)  # a list number never starts an identifier ("1) 010-...")
        lead = text[opening.start]
        digits = 0
        rank = 0
        line_breaks = 0
        for j in range(first, min(first + _MAX_SEGMENTS, count)):
            if dates[j]:
                break
            segment = segments[j]
            digits += digit_counts[j]
            if digits > MAX_DIGITS or segment.end - opening.start > 40:
                break
            if j > first and breaks[j - 1]:
                line_breaks += 1
                if line_breaks > 1:
                    break  # wrapped text breaks an identifier once; a column of numbers, more often
            if digits < 10 and not (
                (digits == 9 and lead == "0")  # 02-XXX-XXXX
                or (digits == 8 and lead == "1")  # 15XX-XXXX
                or (j == first and len(segment.groups) == 4)  # a dotted IPv4 address
            ):
                continue  # no reading has so few digits
            for cand in _candidates(text, facts, first, j, digits == 13, line_breaks > 0):
                for hyp in self.readings(text, cand):
                    items.append((-hyp.ceiling, j, rank, hyp))
                    rank += 1
        if len(items) > 1:
            items.sort(key=_FIRST_THREE)
        return _Options(items)


_Facts = tuple[list[Segment], list[int], list[bool], list[bool]]


def _candidates(
    text: str, facts: _Facts, first: int, j: int, thirteen: bool, wrapped: bool
) -> list[Candidate]:
    """The candidates made of ``segments[first..j]``: as written, and reading each line break
    inside them as a wrap within a group. A one-digit segment neither starts nor ends a candidate
    ("...5678\\n2)"), except MG's 9xxx xxxx xxxx x (13 digits; "+82 2 ..." goes on); a wrap may
    still fuse it with its neighbour."""
    segments, digit_counts, _, breaks = facts
    first_one_digit = digit_counts[first] == 1
    last_one_digit = j > first and digit_counts[j] == 1
    cands: list[Candidate] = []
    if not first_one_digit and (not last_one_digit or thirteen):
        cands.append(make_candidate(text, segments, first, j))
    if wrapped:
        for b in range(first, j):
            if breaks[b] and (not first_one_digit or b == first) and (not last_one_digit or b == j - 1):
                cands.append(make_candidate(text, segments, first, j, merge=b))
    return cands


# Sort keys as C callables: a Python key function costs a call per element.
_CEILING = attrgetter("ceiling")
_FIRST_THREE = itemgetter(0, 1, 2)
_MOST_BELOW_TEN = 0.9  # the highest confidence of any reading with 8 or 9 digits (a phone number)


def _right_edge_ok(text: str, cand: Candidate, nxt: str) -> bool:
    """The character after a candidate does not glue it to a word or a longer code."""
    end = cand.end
    if nxt in _BAD_LEFT:  # but "01012345678_홍길동.pdf"
        return nxt == "_" and (end + 1 >= len(text) or text[end + 1] not in _ALNUM)
    if end + 1 < len(text) and text[end + 1] in _ALNUM:  # "-" or "." before a letter or digit
        return nxt == "." and not cand.dots_only and _EXTENSION.match(text, end) is not None  # "….pdf"
    return True


def _allowed(hyp: Hypothesis, cand: Candidate, phone_only: bool, prev: str) -> bool:
    """Whether a reading survives what surrounds its candidate: a phone label glued before it
    ("HP010…") admits phone readings only; a wrapped candidate only specific formats; after ":" or
    "." an IPv4 reading is an IPv6 tail or a version ("ver.2.1.0.12")."""
    if phone_only and hyp.type is not EntityType.KR_PHONE:
        return False
    if cand.wrapped and hyp.plain < SPECIFIC:
        return False
    return not (prev in ":." and hyp.type is EntityType.IP_ADDRESS)


def _may_exceed(facts: _Facts, first: int, floor: float) -> bool:
    """False when no reading starting at segment ``first`` can be more confident than ``floor``,
    judged from digit counts alone (cheap: spares building the readings of "1234 5678" inside
    "010 1234 5678"). Readings of fewer than 10 digits are phone numbers (at most 0.9) or a
    dotted IPv4 token (one segment of four groups)."""
    segments, digit_counts, _, _ = facts
    if len(segments[first].groups) == 4:
        return True
    total = sum(digit_counts[first : first + _MAX_SEGMENTS])
    return total >= 10 or (total >= 8 and floor < _MOST_BELOW_TEN)


class _Options:
    """The readings that start at one segment, judged lazily (strongest possible first)."""

    __slots__ = ("_best", "_conf", "_items", "_last", "_next", "_order")

    def __init__(self, items: list[tuple[float, int, int, Hypothesis]]) -> None:
        self._items = items
        self._next = 0
        self._best: Hypothesis | None = None
        self._conf = 0.0
        self._last = 0
        self._order = (1 << 30, 0)  # (j, rank) of the best: an equal confidence at a smaller j wins

    def _judge(self, reader: Reader, text: str) -> bool:
        """Judge the next reading that could still win; False when none can."""
        while self._next < len(self._items):
            neg_ceiling, j, rank, hyp = self._items[self._next]
            ceiling = -neg_ceiling
            if ceiling < self._conf or (ceiling == self._conf and (j, rank) > self._order):
                self._next = len(self._items)
                return False
            self._next += 1
            conf = hyp.plain if hyp.strong else reader.confidence(text, hyp)
            if conf >= FLOOR and (conf > self._conf or (conf == self._conf and (j, rank) < self._order)):
                self._best, self._conf, self._last, self._order = hyp, conf, j, (j, rank)
            return True
        return False

    def result(self, reader: Reader, text: str) -> tuple[Hypothesis | None, float, int]:
        """The strongest reading, its confidence and the index of its last segment."""
        while self._judge(reader, text):
            pass
        return self._best, self._conf, self._last

    def exceeds(self, reader: Reader, text: str, floor: float) -> bool:
        """True when the strongest reading is more confident than ``floor``."""
        while self._conf <= floor:
            if self._next >= len(self._items) or -self._items[self._next][0] <= floor:
                return False
            self._judge(reader, text)
        return True


def hit(text: str, hyp: Hypothesis, conf: float) -> Hit:
    """The finding of a reading (a phone's ``(02)`` takes its parenthesis)."""
    begin = hyp.start
    if hyp.type is EntityType.KR_PHONE and begin > 0 and text[begin - 1] == "(":
        begin -= 1  # "(02) 123-4567"
    return begin, hyp.end, hyp.type, conf
