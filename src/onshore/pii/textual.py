"""Recognizers that are not digit runs: e-mail, IPv6 and passport numbers.

E-mail and IPv6 start from a cheap ``str.find`` for ``@`` and ``:`` and grow the candidate with
anchored patterns; every character class is ASCII so a Korean particle glued to the end
(``hong@naver.com으로``) is never swallowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from onshore.pii.validators import ipv6_valid

_LOCAL_ANY = re.compile(r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*\Z")
# The characters of a local part: a local part can only start inside the stretch of them that ends
# at the "@", so _LOCAL_ANY searches from there (from 64 characters back it tries every position:
# ~5 us per address on the benchmark machine, quadratic in the distance).
_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_%+-."
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])")
_V6 = re.compile(r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9.])|[0-9A-Fa-f]{0,4})")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_COLON_HEX = re.compile(r":[0-9A-Fa-f:]")  # a colon that may be inside an address
# Two colons at most four hex digits apart: every address has them ("10:30" does not). One search
# over the text spares the per-colon work on prompts with times and labels ("문의: ...").
_TWO_COLONS = re.compile(r":[0-9A-Fa-f]{0,4}:")
# The type letter (upper case: M, S, R, G, O, D) followed by three digits, not glued to a word.
# A capital-letter start lets the engine skip Hangul and lower-case text quickly (measured 3x
# faster than starting from the digits on the benchmark prompts).
PASSPORT = re.compile(r"[MSRGOD][0-9](?<![A-Za-z0-9_][A-Z][0-9])[0-9]{2}(?:[0-9]{5}|[A-Z][0-9]{4})")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def emails(text: str, start: int) -> Iterator[tuple[int, int, int]]:
    """Yield ``(span_start, span_end, at_index)`` of e-mail addresses whose ``@`` is at or after ``start``."""
    at = text.find("@", start)
    while at != -1:
        low = max(0, at - 64)
        stretch = low + len(text[low:at].rstrip(_LOCAL_CHARS))
        local = None if stretch == at else _LOCAL_ANY.search(text, stretch, at)
        domain = _DOMAIN.match(text, at + 1)
        next_from = at + 1
        if local is not None and domain is not None:
            begin = local.start()
            # Trim leading dashes and the like that belong to surrounding punctuation.
            while begin < at and text[begin] in "_%+-":
                begin += 1
            if begin < at:
                yield begin, domain.end(), at
                next_from = domain.end()
        at = text.find("@", next_from)


def ipv6s(text: str, start: int) -> Iterator[tuple[int, int]]:
    """Yield spans of IPv6 addresses that contain a ``:`` at or after ``start``."""
    if _TWO_COLONS.search(text, max(0, start - 5)) is None:
        return
    found = _COLON_HEX.search(text, start)
    while found is not None:
        colon = found.start()
        if text.count(":", max(0, colon - 5), colon + 6) == 1:
            # No other colon within 5 characters: no address (at least two colons, at most four hex
            # digits apart) can contain this one ("10:30", "전화: 010-..."); skipped without the
            # look-back, which costs ~1 us per colon.
            found = _COLON_HEX.search(text, colon + 1)
            continue
        begin = colon
        while begin > 0 and text[begin - 1] in _HEX_COLON and colon - begin < 40:
            begin -= 1
        match = _V6.match(text, begin)
        end = match.end() if match is not None else colon + 1
        if match is not None and _bounded(text, begin, end):
            candidate = match.group()
            if candidate.endswith(":") and not candidate.endswith("::"):
                candidate = candidate[:-1]
            if _has_digit(candidate) and ipv6_valid(candidate):
                yield begin, begin + len(candidate)
        found = _COLON_HEX.search(text, max(end, colon + 1))


def _bounded(text: str, begin: int, end: int) -> bool:
    before = text[begin - 1] if begin > 0 else " "  # not "": "" is in every string
    after = text[end] if end < len(text) else " "
    return before not in _ALNUM and before not in ".-" and after not in _ALNUM and after != "-"


def _has_digit(candidate: str) -> bool:
    return any(ch.isdigit() for ch in candidate)


def passports(text: str, start: int, stop: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield spans shaped like Korean passport numbers (``M12345678``, ``M123A4567``) that lie in
    ``text[start:stop]``."""
    length = len(text)
    for match in PASSPORT.finditer(text, start, length if stop is None else stop):
        end = match.end()
        if end < length and text[end] in _ALNUM:
            continue
        yield match.start(), end
