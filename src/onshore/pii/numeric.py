"""Classify a digit candidate into hypotheses: which types it could be and how sure each is.

Each :class:`Hypothesis` carries two confidences: without any context cue and with a cue for its
type. A negative cue (order, tracking, model ...) lowers the no-cue confidence by
:data:`NEGATIVE_PENALTY`, a cue for another identifier type by :data:`OTHER_PENALTY`. Numbers
whose format alone decides (a mobile number, a checksum-valid ``YYMMDD-GXXXXXX``) are *strong*
and skip the context lookup; formats that collide with ordinary numbers (a bare 10-digit BRN, a
12-digit licence, any bank account) need a cue.
"""

from __future__ import annotations

from dataclasses import dataclass

from onshore.pii import validators as v
from onshore.pii.entities import EntityType
from onshore.pii.numbering import PhoneKind, grouping_plausible, phone_kind
from onshore.pii.runs import Candidate

NEGATIVE_PENALTY = 0.5
OTHER_PENALTY = 0.3


@dataclass(slots=True)  # internal and never mutated; frozen would cost ~1 us per reading
class Hypothesis:
    """A possible reading of a candidate."""

    type: EntityType
    plain: float  # confidence without a context cue
    cued: float  # confidence with a cue for this type
    start: int  # start of the span in the normalised text
    end: int
    strong: bool = False  # the format alone decides: context is not consulted


# confidence (grouped, bare) by phone kind
_PHONE_CONF: dict[PhoneKind, tuple[float, float]] = {
    PhoneKind.MOBILE: (0.9, 0.85),
    PhoneKind.LANDLINE: (0.85, 0.6),
    PhoneKind.VOIP: (0.85, 0.6),
    PhoneKind.PERSONAL: (0.85, 0.6),
    PhoneKind.TOLL_FREE: (0.75, 0.5),
    PhoneKind.REPRESENTATIVE: (0.65, 0.35),
}

# Bank layouts (group lengths) with the leading digits they start with ("" = any).
_BANK_LAYOUTS: dict[tuple[int, ...], tuple[str, ...]] = {
    (6, 2, 6): ("",),  # KB Kookmin, NH local co-ops
    (3, 2, 4, 3): ("",),  # old Kookmin
    (4, 2, 6): ("",),  # old Housing Bank
    (3, 3, 6): ("1",),  # Shinhan 100-161, K bank
    (3, 2, 6): ("",),  # old Shinhan
    (4, 3, 6): ("100",),  # Woori 1002-1007
    (3, 6, 5): ("",),  # Hana
    (3, 4, 4, 2): ("3",),  # NH NongHyup 3xx
    (3, 6, 2, 3): ("",),  # IBK
    (3, 2, 7): ("",),  # IBK short
    (4, 2, 7): ("3333", "3355", "3388", "7777", "7979"),  # KakaoBank
    (4, 4, 4): ("100", "17", "19"),  # Toss Bank
    (4, 4, 4, 1): ("9",),  # MG Saemaul Geumgo 9xxx
}
_CARD_LAYOUTS = frozenset({(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 1)})


def classify(cand: Candidate, plus_before: bool, region_before: int | None) -> list[Hypothesis]:
    """All plausible readings of ``cand``.

    Args:
        cand: the candidate.
        plus_before: a ``+`` directly precedes the candidate (``+82 ...``).
        region_before: start of a driver's-licence region name (``서울 91-...``) before it, if any.
    """
    n = len(cand.digits)
    out: list[Hypothesis] = []
    if 8 <= n <= 13 or (cand.digits.startswith(("82", "0082")) and n <= 16):
        _phone(cand, plus_before, out)
    if n == 13:
        _registration(cand, out)
    elif n == 10:
        _brn(cand, out)
        if region_before is not None and cand.layout == (2, 6, 2):
            out.append(Hypothesis(EntityType.KR_DRIVER_LICENSE, 0.85, 0.95, region_before, cand.end))
    elif n == 12:
        _driver_license(cand, out)
    if 13 <= n <= 19:
        _card(cand, out)
    if 10 <= n <= 14:
        for h in out:
            if h.strong and h.plain >= 0.9:
                break  # a bank reading (at most 0.9) cannot beat a strong one
        else:
            _bank(cand, out)
    if len(cand.layout) == 4 and cand.dots_only and v.ipv4_valid(_groups(cand)):
        out.append(Hypothesis(EntityType.IP_ADDRESS, 0.9, 0.95, cand.start, cand.end))
    return out


def _groups(cand: Candidate) -> list[str]:
    out: list[str] = []
    pos = 0
    for length in cand.layout:
        out.append(cand.digits[pos : pos + length])
        pos += length
    return out


def _international(digits: str, layout: list[int]) -> tuple[str, list[int]] | None:
    """National digits and group lengths of ``82 ...`` (country code first), or None."""
    national = digits[2:]
    layout = layout[1:] if layout[0] == 2 else [layout[0] - 2, *layout[1:]]
    if not national or not layout:
        return None
    if national[0] == "0":  # "+82 (0)10 ..." or "+82 010 ..."
        if layout[0] == 1 and len(layout) > 1:
            layout = [1 + layout[1], *layout[2:]]
        return national, layout
    return "0" + national, [layout[0] + 1, *layout[1:]]


def _phone(cand: Candidate, plus_before: bool, out: list[Hypothesis]) -> None:
    digits = cand.digits
    layout = list(cand.layout)
    start = cand.start
    dialled = digits.startswith("0082") and len(layout) > 1 and layout[0] == 4  # "0082-10-..."
    if dialled:
        digits, layout = digits[2:], [2, *layout[1:]]
    explicit = plus_before or dialled
    international = digits.startswith("82") and (explicit or (len(layout) > 1 and layout[0] == 2))
    if international:
        parsed = _international(digits, layout)
        if parsed is None:
            return
        national, layout = parsed
        start -= 1 if plus_before else 0
    elif digits[0] in "01":
        national = digits
    else:
        return
    kind = phone_kind(national)
    if kind is None or (international and kind is PhoneKind.REPRESENTATIVE):
        return
    if not grouping_plausible(national, kind, layout):
        return
    grouped, bare = _PHONE_CONF[kind]
    plain = grouped if len(layout) > 1 else bare
    if kind is PhoneKind.REPRESENTATIVE and national[2:4] == national[6:8] == "00":
        plain = 0.3  # "1800-1900" reads as a range of years
    if international and not explicit:
        plain -= 0.15
    # mobile numbers, and other lines written in three dashed groups, need no context
    strong = (
        kind is PhoneKind.MOBILE
        or (len(layout) == 3 and kind is not PhoneKind.TOLL_FREE and cand.tight_dashes)
    ) and not (international and not explicit)
    out.append(Hypothesis(EntityType.KR_PHONE, plain, max(plain, 0.9), start, cand.end, strong))


def _registration(cand: Candidate, out: list[Hypothesis]) -> None:
    digits = cand.digits
    if cand.layout not in ((6, 7), (13,)):
        return
    hyphenated = cand.layout == (6, 7)
    rrn_like = False
    if v.registration_date_valid(digits):
        rrn_like = True
        if v.is_foreigner_digit(digits):
            etype = EntityType.KR_ARN
            valid = v.arn_checksum_valid(digits)
        else:
            etype = EntityType.KR_RRN
            valid = v.rrn_checksum_valid(digits)
        # Numbers issued since October 2020 have no check digit, so a failed check never rejects:
        # with a birth date since then it is the new scheme; earlier births need a cue (a number
        # re-issued after a leak, or a failed check digit, which people also write).
        if valid:
            plain = 0.95 if hyphenated else 0.85
        elif v.born_since_2020_reform(digits):
            plain = 0.85 if hyphenated else 0.4
        else:
            plain = 0.45 if hyphenated else 0.3
        strong = valid and hyphenated
        out.append(Hypothesis(etype, plain, max(plain, 0.9), cand.start, cand.end, strong))
    if v.crn_valid(digits):
        plain = 0.3 if rrn_like else (0.65 if hyphenated else 0.4)
        # a CRN cue beats a checksum-valid RRN/ARN reading (the shapes collide)
        out.append(Hypothesis(EntityType.KR_CRN, plain, 0.97, cand.start, cand.end))


def _brn(cand: Candidate, out: list[Hypothesis]) -> None:
    if cand.layout in ((3, 2, 5), (10,)) and v.brn_valid(cand.digits):
        plain = 0.9 if cand.layout == (3, 2, 5) else 0.45
        strong = cand.layout == (3, 2, 5)
        out.append(Hypothesis(EntityType.KR_BRN, plain, 0.92, cand.start, cand.end, strong))


def _driver_license(cand: Candidate, out: list[Hypothesis]) -> None:
    if not v.driver_license_valid(cand.digits):
        return
    if cand.layout == (2, 2, 6, 2):
        plain = 0.7 if cand.weak else 0.85
    elif cand.layout == (12,):
        plain = 0.35
    else:
        return
    out.append(Hypothesis(EntityType.KR_DRIVER_LICENSE, plain, 0.92, cand.start, cand.end))


def _card(cand: Candidate, out: list[Hypothesis]) -> None:
    n = len(cand.digits)
    if cand.layout in _CARD_LAYOUTS:
        plain = 0.95
    elif len(cand.layout) == 1:
        plain = 0.8 if n == 16 else 0.6
    else:
        return
    if not v.card_valid(cand.digits):
        return
    # never "strong": coupon and gift-card codes share the 4-4-4-4 shape, so context still counts
    out.append(Hypothesis(EntityType.CREDIT_CARD, plain, 0.97, cand.start, cand.end))


def _bank(cand: Candidate, out: list[Hypothesis]) -> None:
    prefixes = _BANK_LAYOUTS.get(cand.layout)
    if prefixes is not None and any(cand.digits.startswith(p) for p in prefixes):
        plain, cued = 0.3, 0.9
    elif len(cand.layout) > 1 and all(2 <= g <= 7 for g in cand.layout):
        plain, cued = 0.2, 0.75
    elif len(cand.layout) == 1:
        plain, cued = 0.1, 0.7
    else:
        return
    out.append(Hypothesis(EntityType.KR_BANK_ACCOUNT, plain, cued, cand.start, cand.end))
