"""Digit runs: the cheap prefilter and the split of a run into groups and segments.

A *run* is a stretch of ASCII digits joined by the separators people put inside identifiers
(dash, dot, space, a line break, parentheses). The run pattern starts with a bare ``[0-9]`` so
the regex engine can skip text without digits quickly; the look-behind that stops a run from
starting in the middle of a number comes after that first character for the same reason.

Inside a run, *tight* separators (``-``, ``.``, parentheses) bind groups into one written token;
*weak* separators (spaces, line breaks, a parenthesis with a space) may join the groups of one identifier
(``010 1234 5678``) or separate two identifiers. An identifier is always a sequence of whole
segments (tight tokens), so a valid number inside a longer hyphenated code is never reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEP = r"(?:[ ]?-[ ]?(?:\r?\n)?|\.(?:\r?\n)?|\)[ ]?|[ ]?\(|[ \t]{1,2}|[ \t]?\r?\n[ \t]?)"
RUN = re.compile(r"[0-9](?<![0-9][0-9])(?=[0-9 .()\t\r\n-]{6})[0-9]*(?:" + _SEP + r"[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_WEAK_CHARS = " \t\r\n"


@dataclass(slots=True)  # not frozen: frozen dataclasses are slower to build, and this is internal
class Segment:
    """A tight token of a run: groups joined by tight separators.

    Attributes:
        start: index of its first digit.
        end: index after its last digit.
        groups: the digit groups, each as (start, end).
    """

    start: int
    end: int
    groups: tuple[tuple[int, int], ...]


def split_run(text: str, start: int, end: int) -> list[Segment]:
    """Split the run ``text[start:end]`` into segments at weak separators."""
    segments: list[Segment] = []
    current: list[tuple[int, int]] = []
    previous_end = -1
    for match in _GROUP.finditer(text, start, end):
        g_start, g_end = match.span()
        if current and _is_weak(text[previous_end:g_start]):
            segments.append(Segment(current[0][0], current[-1][1], tuple(current)))
            current = []
        current.append((g_start, g_end))
        previous_end = g_end
    if current:
        segments.append(Segment(current[0][0], current[-1][1], tuple(current)))
    return segments


def _is_weak(separator: str) -> bool:
    """Spaces, line breaks and parentheses next to a space separate tokens; dashes, dots and a bare
    ``)`` (``02)312-4567``) bind them."""
    return "-" not in separator and "." not in separator and separator != ")"


@dataclass(slots=True)  # internal and never mutated; frozen would cost ~1 us per candidate
class Candidate:
    """Consecutive segments of a run, considered as one identifier.

    Attributes:
        start: index of the first digit (the reported span may extend to a ``+`` or ``(``).
        end: index after the last digit.
        digits: the ASCII digits without separators.
        layout: the length of each digit group.
        separators: the text between consecutive groups.
        weak: True when a weak separator (space, line break) joins two of its groups.
    """

    start: int
    end: int
    digits: str
    layout: tuple[int, ...]
    separators: tuple[str, ...]
    weak: bool

    @property
    def tight_dashes(self) -> bool:
        """True when every separator is a dash (optionally with spaces or a line break)."""
        return all(s.strip(_WEAK_CHARS) == "-" for s in self.separators)

    @property
    def dots_only(self) -> bool:
        """True when every separator is exactly one dot."""
        return bool(self.separators) and all(s == "." for s in self.separators)


def make_candidate(text: str, segments: list[Segment], first: int, last: int) -> Candidate:
    """Build the candidate made of ``segments[first..last]``."""
    groups = [g for seg in segments[first : last + 1] for g in seg.groups]
    digits = "".join(text[s:e] for s, e in groups)
    layout = tuple(e - s for s, e in groups)
    separators = tuple(text[groups[i][1] : groups[i + 1][0]] for i in range(len(groups) - 1))
    return Candidate(groups[0][0], groups[-1][1], digits, layout, separators, last > first)


_SEPARATOR = re.compile(r"([^0-9]+)")
_MAYBE_WEAK = re.compile(r"[\s(]")
_NOTHING = Candidate(0, 0, "", (), (), False)


def whole_candidate(text: str, start: int, end: int) -> Candidate | None:
    """The run ``text[start:end]`` as one candidate, or None when it has weak separators (then it
    must be split into segments). The fast path for the common single-token run. A token that
    cannot be an identifier gives an empty candidate (no digits)."""
    token = text[start:end]
    if token.isdigit():  # one bare group of ASCII digits (a run holds nothing else)
        return Candidate(start, end, token, (end - start,), (), False)
    parts = _SEPARATOR.split(token)  # group, separator, group, ...
    separators = parts[1::2]
    if _MAYBE_WEAK.search(token) is not None and any(_is_weak(sep) for sep in separators):
        return None
    groups = parts[::2]
    layout = tuple(map(len, groups))
    if len(groups) > 1 and max(layout) > 7:
        return _NOTHING  # no written layout has a group of 8+ digits next to another group
    return Candidate(start, end, "".join(groups), layout, tuple(separators), False)
