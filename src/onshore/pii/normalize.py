"""Character normalisation with an offset map back to the original text.

Korean text writes digits and separators in many ways: full-width digits (``０１０``), full-width
or typographic dashes (``－ – — − ‐``), the Hangul vowel ``ㅡ`` used as a dash, middle dots
(``010·1234·5678``), the ideographic space and invisible zero-width characters. The detector
matches on a normalised copy in which every such character is replaced by its ASCII form, one
character for one character, and zero-width characters are removed. :class:`Normalized` maps a
span of the copy back to the original text, so findings always refer to the original string.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u3161\u30fc"
_DOTS = "\u00b7\u2027\u30fb\u318d\uff65"
_DELETED = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _build_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII block
        table[code] = code - 0xFF01 + 0x21
    for ch in _DASHES:
        table[ord(ch)] = ord("-")
    for ch in _DOTS:
        table[ord(ch)] = ord(".")
    for ch in _DELETED:
        table[ord(ch)] = None
    table[0x3000] = ord(" ")  # ideographic space
    table[0x00A0] = ord(" ")  # no-break space
    return table


_TABLE: dict[int, int | None] = _build_table()
_NEEDS_NORMALISING = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TABLE)) + "]")
NEEDS_NORMALISING_CLASS = _NEEDS_NORMALISING.pattern  # "[...]": characters normalize() changes
_DELETED_SET = frozenset(_DELETED)
_REPLACEMENTS: dict[str, str] = {chr(c): "" if r is None else chr(r) for c, r in _TABLE.items()}
# A run of full-width ASCII ("０１０－１２３４－５６７８") is replaced in one call: NFKC maps each of
# U+FF01..U+FF5E to its ASCII form, one character for one (checked for all 94 in the unit tests);
# every other character that needs normalising is replaced alone.
# (The class comes first so the engine skips other text fast, as for _NEEDS_NORMALISING.)
_TO_REPLACE = re.compile(NEEDS_NORMALISING_CLASS + "(?:(?<=[\uff01-\uff5e])[\uff01-\uff5e]+)?")


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised copy of a text and the way back.

    Attributes:
        text: the normalised text that patterns run on.
        positions: for each index ``i`` of ``text``, the index in the original text; ``None`` when
            the copy is character-for-character aligned with the original (the common case).
        original_length: length of the original text.
    """

    text: str
    positions: tuple[int, ...] | None
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the span ``[start, end)`` of the normalised text to the original text."""
        if self.positions is None:
            return start, end
        if start >= end:
            pos = self.positions[start] if start < len(self.positions) else self.original_length
            return pos, pos
        return self.positions[start], self.positions[end - 1] + 1


def normalize(text: str, first: int | None = None) -> Normalized:
    """Return the normalised copy of ``text`` (the text itself when nothing needs changing).

    ``first``: the index of the first character that needs normalising, when the caller has
    already found it (the search is skipped and the text before it is copied as it is).

    Replaces only the characters that need it (``re.sub`` with a table lookup): measured 4x faster
    than ``str.translate`` over a whole Korean prompt that contains one full-width character.
    """
    if first is None:
        found = None if text.isascii() else _NEEDS_NORMALISING.search(text)  # isascii(): O(1)
        if found is None:
            return Normalized(text, None, len(text))
        first = found.start()
    replaced = text[:first] + _TO_REPLACE.sub(_replace, text[first:])
    if len(replaced) == len(text):
        return Normalized(replaced, None, len(text))
    positions = tuple(i for i, ch in enumerate(text) if ch not in _DELETED_SET)
    return Normalized(replaced, positions, len(text))


def _replace(match: re.Match[str]) -> str:
    found = match.group()
    if "\uff01" <= found[0] <= "\uff5e":
        return unicodedata.normalize("NFKC", found)
    return _REPLACEMENTS[found]
