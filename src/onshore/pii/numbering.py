"""Korea's telephone numbering plan, written out from libphonenumber's KR metadata.

Hand-written rather than calling ``phonenumbers`` on every candidate: the patterns below are the
same plan (``shared/research/korean-pii.md`` section 3) and run in well under a microsecond, while
``phonenumbers.parse`` + ``is_valid_number`` costs tens of microseconds per candidate (see
``benchmarks/README-pii.md``). The unit tests check these patterns against generated numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class PhoneKind(StrEnum):
    """What kind of line a national number belongs to."""

    MOBILE = "mobile"
    LANDLINE = "landline"
    VOIP = "voip"
    PERSONAL = "personal"  # 050X "safe numbers"
    TOLL_FREE = "toll_free"
    REPRESENTATIVE = "representative"  # 15XX/16XX/18XX, 8 digits, no trunk prefix


# (kind, pattern over the national digits including the trunk 0, prefix length)
_PLAN: tuple[tuple[PhoneKind, re.Pattern[str]], ...] = (
    (PhoneKind.MOBILE, re.compile(r"010[0-9]{8}|01[16-9][0-9]{7,8}")),
    (PhoneKind.LANDLINE, re.compile(r"02[1-9][0-9]{6,7}|0(?:3[1-3]|4[1-4]|5[1-5]|6[1-4])[1-9][0-9]{6,7}")),
    (PhoneKind.VOIP, re.compile(r"070[0-9]{8}")),
    (PhoneKind.PERSONAL, re.compile(r"050[2-8][0-9]{7,8}")),
    (PhoneKind.TOLL_FREE, re.compile(r"080[0-9]{7}")),
    (
        PhoneKind.REPRESENTATIVE,
        re.compile(r"1(?:5(?:22|33|44|66|77|88|99)|6(?:[07]0|44|6[0168]|88)|8(?:00|33|55|77|99))[0-9]{4}"),
    ),
)


_K = PhoneKind
# Which plan entries can match, by the first two digits: one regex per lookup instead of six.
_BY_PREFIX: dict[str, tuple[PhoneKind, ...]] = {
    "01": (_K.MOBILE,),
    "02": (_K.LANDLINE,),
    "03": (_K.LANDLINE,),
    "04": (_K.LANDLINE,),
    "05": (_K.LANDLINE, _K.PERSONAL),
    "06": (_K.LANDLINE,),
    "07": (_K.VOIP,),
    "08": (_K.TOLL_FREE,),
    "15": (_K.REPRESENTATIVE,),
    "16": (_K.REPRESENTATIVE,),
    "18": (_K.REPRESENTATIVE,),
}
_PATTERNS: dict[PhoneKind, re.Pattern[str]] = dict(_PLAN)


def phone_kind(national: str) -> PhoneKind | None:
    """Classify national digits (``01012345678``, ``0212345678``, ``15881234``) or return None."""
    if not national[3:].strip("0"):
        return None  # "010-0000-0000": a placeholder, not a number
    for kind in _BY_PREFIX.get(national[:2], ()):
        if _PATTERNS[kind].fullmatch(national):
            return kind
    return None


def prefix_length(national: str, kind: PhoneKind) -> int:
    """Length of the leading group people write separately (``02``, ``031``, ``0504``, ``1588``)."""
    if kind is PhoneKind.LANDLINE and national.startswith("02"):
        return 2
    if kind in (PhoneKind.PERSONAL, PhoneKind.REPRESENTATIVE):
        return 4
    return 3


def grouping_plausible(national: str, kind: PhoneKind, groups: Sequence[int]) -> bool:
    """True when the written digit groups fit the number (``02-123-4567`` yes, ``021-23-4567`` no).

    Args:
        national: the national digits.
        kind: the number's kind.
        groups: lengths of the written digit groups, in order, summing to ``len(national)``.
    """
    if len(groups) == 1:
        return True
    key = (prefix_length(national, kind), len(national), kind is PhoneKind.REPRESENTATIVE)
    layouts = _LAYOUTS.get(key)
    if layouts is None:
        layouts = _LAYOUTS[key] = _plausible_layouts(*key)
    return tuple(groups) in layouts


def _plausible_layouts(prefix: int, length: int, representative: bool) -> frozenset[tuple[int, ...]]:
    """Prefix and rest (``02-1234567``), or prefix, 3 or 4 digits and 4 (``02-123-4567``);
    representative numbers only as 4-4 (``1588-1234``)."""
    if representative:
        return frozenset({(4, 4)})
    rest = length - prefix
    layouts: set[tuple[int, ...]] = {(prefix, rest)}
    if rest - 4 in (3, 4):
        layouts.add((prefix, rest - 4, 4))
    return frozenset(layouts)


_LAYOUTS: dict[tuple[int, int, bool], frozenset[tuple[int, ...]]] = {}


# (first four digits, length) -> (kind, the plausible written layouts), or None: the plan's
# patterns fix every digit after the fourth to [0-9], so the first four digits and the length
# decide the kind. Phone candidates are read on every digit run; one dictionary look-up replaces
# a regex match and two helper calls (the subscriber digits are not part of the key).
_Facts = tuple[PhoneKind, frozenset[tuple[int, ...]]]
_FACTS: dict[tuple[str, int], _Facts | None] = {}
_FACTS_MAX = 65536  # at most 10**4 heads x a few lengths


def phone_facts(national: str) -> _Facts | None:
    """The kind of a national number and the layouts it may be written in, or None."""
    key = (national[:4], len(national))
    try:
        facts = _FACTS[key]
    except KeyError:
        facts = _facts_of(national)
        if len(_FACTS) < _FACTS_MAX:
            _FACTS[key] = facts
    if facts is None or not national[3:].strip("0"):
        return None  # "010-0000-0000": a placeholder, not a number
    return facts


def _facts_of(national: str) -> _Facts | None:
    for kind in _BY_PREFIX.get(national[:2], ()):
        if _PATTERNS[kind].fullmatch(national):
            key = (prefix_length(national, kind), len(national), kind is PhoneKind.REPRESENTATIVE)
            return kind, _plausible_layouts(*key)
    return None
