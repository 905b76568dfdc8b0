"""The state of one scan and the rules that make streaming exact.

A scan *owns* the candidates whose key (a digit run's start, an e-mail's ``@``, an IPv6 address's
start, a passport's letter) lies in its window. For a stream, :func:`stream_cut` picks where the
next window starts so that every candidate is owned by exactly one window, with its whole extent
and context known, and so that overlapping findings are always resolved inside one window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

from onshore.pii.entities import EntityType

SETTLE = 24  # characters after a candidate that must be known before it is final
KEEP = 200  # characters kept before the next scan position (look-behind, context.WIDE_BEFORE, e-mail)
LEFT_REACH = 8  # how far before its owner key a candidate's span may start ("+82 ", "(02) ", "서울 ")
EMAIL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-@")
HEX_CHARS = frozenset("0123456789abcdefABCDEF:.")

# A finding while a scan runs: (start, end, type, confidence). Plain tuples, not Findings: a frozen
# dataclass costs ~0.8 us to build on the benchmark machine, and most readings are discarded.
Hit = tuple[int, int, EntityType, float]
_START = itemgetter(0)
_END = itemgetter(1)


@dataclass(slots=True)
class Window:
    """The state of one :meth:`Detector.scan_window` call (local to the call, never shared)."""

    text: str
    start: int
    limit: int
    final: bool
    found: list[tuple[int, Hit]] = field(default_factory=list)  # (owner key, finding)
    pending: list[int] = field(default_factory=list)  # owner keys of unfinished candidates
    runs: list[tuple[int, int]] = field(default_factory=list)  # run spans (streams only)

    def unsettled(self, end: int) -> bool:
        """True when text after ``end`` may still change what is found there."""
        return not self.final and end + SETTLE > len(self.text)


def hold_open_stretch(window: Window, chars: frozenset[str], marker: str) -> None:
    """Defer a stretch of ``chars`` that reaches past the limit and holds ``marker``, or could still
    get one: an unfinished e-mail address or IPv6 address may begin at the stretch's start."""
    text, limit = window.text, window.limit
    begin = limit
    while begin > window.start and text[begin - 1] in chars and limit - begin < 320:
        begin -= 1
    end = limit
    while end < len(text) and text[end] in chars:
        end += 1
    if begin < limit and (end == len(text) or marker in text[begin:end]):
        window.pending.append(begin)


def stream_cut(window: Window, candidates: list[tuple[int, Hit]]) -> int:
    """Where the next window of a stream starts: before every unfinished candidate, outside every
    digit run (a run scanned from its middle splits differently) and after no finding that could
    overlap a later one."""
    cut = min(window.pending)
    while True:
        moved = _owned_cut(candidates, cut)
        for key, end in window.runs:
            if key < moved < end:
                moved = key
        if moved == cut:
            return cut
        cut = moved


def _owned_cut(found: list[tuple[int, Hit]], cut: int) -> int:
    """Lower ``cut`` until no finding owned by this window can overlap one left to the next window.

    Overlaps are resolved within one window, so both findings of an overlapping pair must belong to
    the same window for a stream to find exactly what a whole scan finds. A later candidate's span
    starts at most :data:`LEFT_REACH` characters before its key (``+82``, ``(02)``, ``서울 ``).
    """
    while True:
        later = [f for key, f in found if key >= cut]
        moved = cut
        for key, (start, end, _, _) in found:
            if key < cut and (end > cut - LEFT_REACH or any(start < g[1] and g[0] < end for g in later)):
                moved = min(moved, key)
        if moved == cut:
            return cut
        cut = moved


def resolve_overlaps(hits: list[Hit]) -> list[Hit]:
    """Keep the stronger of overlapping findings (confidence, then length), sorted by start."""
    if len(hits) < 2:
        return hits
    # By start, longest first: two stable sorts with C key functions (no Python call per finding)
    hits.sort(key=_END, reverse=True)
    hits.sort(key=_START)
    out: list[Hit] = []
    for hit in hits:
        if out and hit[0] < out[-1][1]:
            last = out[-1]
            if (hit[3], hit[1] - hit[0]) > (last[3], last[1] - last[0]):
                out[-1] = hit
            continue
        out.append(hit)
    return out
