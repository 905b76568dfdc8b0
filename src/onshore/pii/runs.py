"""Digit runs: the cheap prefilter and the split of a run into groups and segments.

A *run* is a stretch of ASCII digits joined by the separators people put inside identifiers
(dash, dot, space, a line break, parentheses). The run pattern starts with a bare ``[0-9]`` so
the regex engine can skip text without digits quickly; the look-behind that stops a run from
starting in the middle of a number comes after that first character for the same reason.

Inside a run, *tight* separators (``-``, ``.``, parentheses) bind groups into one written token;
*weak* separators (spaces, line breaks, a parenthesis with a space) may join the groups of one identifier
(``010 1234 5678``) or separate two identifiers. An identifier is always a sequence of whole
segments (tight tokens), so a valid number inside a longer hyphenated code is never reported.

Wrapped text: a line break (``\\n`` or ``\\r\\n``, trailing spaces before it, up to 16 characters
of indentation or e-mail quote marks ``>`` after it) may sit next to a dash (``010-1234\\n-5678``:
tight) or alone between digits. Alone it is either a group boundary (``010 1234\\n5678``) or a
wrap *inside* a group (``010-12\\n34-5678``, ``0101234\\n5678``); :func:`make_candidate` can read
it either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A line break with what wraps around it: trailing spaces, then indentation or quote marks up to
# 16 characters (a hanging indent under "Contact: "). Bounded (a separator is at most 23
# characters with a dash), so a run that ends window.SETTLE (24) characters before the end of a
# stream's text can no longer grow.
_NL = r"[ \t]{0,2}\r?\n[ \t>]{0,16}"
_SEP = rf"(?:{_NL}-|[ ]?-[ ]?(?:{_NL})?|\.(?:{_NL})?|\)[ ]?|[ ]?\(|[ \t]{{1,2}}|{_NL})"
# What follows a run's first digit (kept apart so detector.py can build a pattern around it).
RUN_BODY = r"(?=[0-9 .()\t\r\n>-]{6})[0-9]*(?:" + _SEP + r"[0-9]+)*"
RUN = re.compile(r"[0-9](?<![0-9][0-9])" + RUN_BODY)
_GROUP = re.compile(r"[0-9]+")
_WEAK_CHARS = " \t\r\n>"


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


def is_line_break(separator: str) -> bool:
    """True for a separator that is a line break (with spaces or quote marks) and nothing else."""
    return "\n" in separator and not separator.strip(_WEAK_CHARS)


@dataclass(slots=True)  # internal and never mutated; frozen would cost ~1 us per candidate
class Candidate:
    """Consecutive segments of a run, considered as one identifier.

    Attributes:
        start: index of the first digit (the reported span may extend to a ``+`` or ``(``).
        end: index after the last digit.
        digits: the ASCII digits without separators.
        layout: the length of each digit group.
        separators: the text between consecutive groups.
        weak: True when a weak separator (space, line break) joins two of its groups, or a line
            break is read as a wrap inside a group.
        wrapped: True when a bare line break joins two of its groups or splits one: only readings
            whose format is specific on its own count (a column of amounts is not an account).
    """

    start: int
    end: int
    digits: str
    layout: tuple[int, ...]
    separators: tuple[str, ...]
    weak: bool
    wrapped: bool = False

    @property
    def tight_dashes(self) -> bool:
        """True when every separator is a dash (optionally with spaces or a line break)."""
        return all(s.strip(_WEAK_CHARS) == "-" for s in self.separators)

    @property
    def dots_only(self) -> bool:
        """True when every separator is exactly one dot."""
        return bool(self.separators) and all(s == "." for s in self.separators)


def make_candidate(text: str, segments: list[Segment], first: int, last: int, merge: int = -1) -> Candidate:
    """Build the candidate made of ``segments[first..last]``.

    With ``merge`` = k (``first <= k < last``), the line break between segments k and k+1 is read
    as a wrap inside a group: the last group of segment k and the first of segment k+1 are one.
    """
    groups = [g for seg in segments[first : last + 1] for g in seg.groups]
    digits = "".join([text[s:e] for s, e in groups])
    lengths = [e - s for s, e in groups]
    separators = [text[groups[i][1] : groups[i + 1][0]] for i in range(len(groups) - 1)]
    if merge >= 0:
        joint = sum(len(seg.groups) for seg in segments[first : merge + 1]) - 1  # the group before the break
        lengths[joint : joint + 2] = [lengths[joint] + lengths[joint + 1]]
        del separators[joint]
        return Candidate(groups[0][0], groups[-1][1], digits, tuple(lengths), tuple(separators), True, True)
    wrapped = last > first and any(map(is_line_break, separators))
    return Candidate(
        groups[0][0], groups[-1][1], digits, tuple(lengths), tuple(separators), last > first, wrapped
    )


_SEPARATOR = re.compile(r"([^0-9]+)")
_NOTHING = Candidate(0, 0, "", (), (), False)
_SHAPE = bytes.maketrans(b"123456789", b"000000000")
# shape of a token (digits written as 0) -> (layout, separators, the one separator to delete or
# "" for several kinds), None (weak separators: split the run) or _NONE (no identifier). Shapes
# repeat across texts while values do not: one translate and one look-up replace a regex split
# (whole_candidate: 1.9 -> 0.9 us on the benchmark machine).
_Shape = tuple[tuple[int, ...], tuple[str, ...], str] | None
_SHAPES: dict[bytes, _Shape] = {}
_UNSEEN: _Shape = ((), (), "")
_NONE: _Shape = ((), (), "-")  # no identifier
_SHAPES_MAX = 4096  # distinct shapes kept (each a few hundred bytes); then the cache starts over
_SHAPE_LONGEST = 48


def _shape_of(token: str) -> _Shape:
    parts = _SEPARATOR.split(token)  # group, separator, group, ...
    separators = tuple(parts[1::2])
    if any(_is_weak(sep) for sep in separators):
        return None
    layout = tuple(map(len, parts[::2]))
    if max(layout) > 7:
        return _NONE  # no written layout has a group of 8+ digits next to another group
    single = separators[0] if len(set(separators)) == 1 else ""
    return layout, separators, single


def whole_candidate(text: str, start: int, end: int) -> Candidate | None:
    """The run ``text[start:end]`` as one candidate, or None when it has weak separators (then it
    must be split into segments). The fast path for the common single-token run. A token that
    cannot be an identifier gives an empty candidate (no digits)."""
    token = text[start:end]
    if token.isdigit():  # one bare group of ASCII digits (a run holds nothing else)
        return Candidate(start, end, token, (end - start,), (), False)
    shape = token.encode().translate(_SHAPE)  # the token is ASCII; bytes.translate is ~4x cheaper
    info = _SHAPES.get(shape, _UNSEEN)
    if info is _UNSEEN:
        info = _shape_of(token)
        if len(shape) <= _SHAPE_LONGEST:
            if len(_SHAPES) >= _SHAPES_MAX:
                _SHAPES.clear()  # adversarial input: many distinct shapes (thread-safe under the GIL)
            _SHAPES[shape] = info
    if info is None:
        return None
    if info is _NONE:
        return _NOTHING
    layout, separators, single = info
    digits = token.replace(single, "") if single else "".join(_GROUP.findall(token))
    return Candidate(start, end, digits, layout, separators, False)
