"""Korea's telephone numbering plan, written out from libphonenumber's KR metadata.

Hand-written rather than calling ``phonenumbers`` on every candidate: the patterns below are the
same plan (``shared/research/korean-pii.md`` section 3) and run in well under a microsecond, while
``phonenumbers.parse`` + ``is_valid_number`` costs tens of microseconds per candidate (see
``benchmarks/README-pii.md``). The unit tests check these patterns against generated numbers.
"""

from __future__ import annotations

import re
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


def grouping_plausible(national: str, kind: PhoneKind, groups: list[int]) -> bool:
    """True when the written digit groups fit the number (``02-123-4567`` yes, ``021-23-4567`` no).

    Args:
        national: the national digits.
        kind: the number's kind.
        groups: lengths of the written digit groups, in order, summing to ``len(national)``.
    """
    if len(groups) == 1:
        return True
    prefix = prefix_length(national, kind)
    if kind is PhoneKind.REPRESENTATIVE:
        return groups == [4, 4]
    if len(groups) == 2:
        return groups[0] == prefix
    if len(groups) == 3:
        return groups[0] == prefix and groups[2] == 4 and groups[1] in (3, 4)
    return False
