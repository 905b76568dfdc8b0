"""Classify a digit candidate into hypotheses: which types it could be and how sure each is.

Each :class:`Hypothesis` carries two confidences: without any context cue and with a cue for its
type. A negative cue (order, tracking, model ...) lowers the no-cue confidence by
:data:`NEGATIVE_PENALTY`, a cue for another identifier type by :data:`OTHER_PENALTY`. Numbers
whose format alone decides (a mobile number, a checksum-valid ``YYMMDD-GXXXXXX``) are *strong*
and skip the context lookup; formats that collide with ordinary numbers (a bare 10-digit BRN, a
12-digit licence, any bank account) need a cue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from onshore.pii import validators as v
from onshore.pii.entities import EntityType
from onshore.pii.numbering import PhoneKind, phone_facts
from onshore.pii.runs import Candidate

NEGATIVE_PENALTY = 0.5
OTHER_PENALTY = 0.3


class Hypothesis:
    """A possible reading of a candidate.

    Attributes:
        type: the entity type.
        plain: confidence without a context cue.
        cued: confidence with a cue for this type.
        start: start of the span in the normalised text.
        end: end of the span.
        strong: the format alone decides: context is not consulted.
        ceiling: the highest confidence this reading can reach (with a cue, unless strong).
    """

    # A plain slotted class: ~2x cheaper to build than a dataclass with a ceiling property, and a
    # candidate's readings are built and compared on every digit run.
    __slots__ = ("ceiling", "cued", "end", "plain", "start", "strong", "type")

    def __init__(
        self, etype: EntityType, plain: float, cued: float, start: int, end: int, strong: bool = False
    ) -> None:
        self.type = etype
        self.plain = plain
        self.cued = cued
        self.start = start
        self.end = end
        self.strong = strong
        self.ceiling = plain if strong or plain >= cued else cued

    def __repr__(self) -> str:
        fields = (self.type.value, self.plain, self.cued, self.start, self.end, self.strong)
        return f"Hypothesis{fields}"


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
    out: list[Hypothesis] = []
    plan = _PLANS.get(cand.layout)
    if plan is None:
        plan = _plan(cand.layout)
        if len(_PLANS) < _PLANS_MAX:
            _PLANS[cand.layout] = plan
    for reader in plan:
        reader(cand, plus_before, region_before, out)
    return out


# A reader appends the readings of one type (or none): (candidate, "+" before, region start, out).
_Reader = Callable[[Candidate, bool, "int | None", list[Hypothesis]], None]


def _plan(layout: tuple[int, ...]) -> tuple[_Reader, ...]:
    """The readers that can read a candidate of this layout, in order. The layout alone rules out
    most types ((6, 7) is never a card or a national phone number), so each candidate runs only
    the readers that may succeed, decided once per layout."""
    n = sum(layout)
    multi = len(layout) > 1
    readers: list[_Reader] = []
    if 8 <= n <= 16:
        # A national number (and 0082-, 82-) starts with a group of 2-4 digits; any other
        # grouping can only be an explicit "+82 ..." number.
        readers.append(_phone_after_plus if multi and layout[0] not in (2, 3, 4) else _phone)
    if layout in ((6, 7), (13,)):
        readers.append(_registration)
    elif layout in ((3, 2, 5), (10,)):
        readers.append(_brn)
    elif layout == (2, 6, 2):
        readers.append(_old_driver_license)
    elif layout in ((2, 2, 6, 2), (12,)):
        readers.append(_driver_license)
    if 13 <= n <= 19 and (layout in _CARD_LAYOUTS or not multi):
        readers.append(_card)
    if 10 <= n <= 14 and (layout in _BANK_LAYOUTS or not multi or all(2 <= g <= 7 for g in layout)):
        readers.append(_bank)
    if len(layout) == 4:
        readers.append(_ipv4)
    return tuple(readers)


_PLANS: dict[tuple[int, ...], tuple[_Reader, ...]] = {}
_PLANS_MAX = 4096  # layouts seen (a few dozen in practice); beyond this, plans are not kept


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


def _phone_after_plus(
    cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]
) -> None:
    if plus_before and cand.digits.startswith("82"):
        _phone(cand, plus_before, region_before, out)


def _phone(cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]) -> None:
    digits = cand.digits
    layout: Sequence[int] = cand.layout
    start = cand.start
    international = explicit = False
    if digits[0] in "01" and not digits.startswith("0082"):
        national = digits  # the common case: a national number as written
    else:
        dialled = digits.startswith("0082") and len(layout) > 1 and layout[0] == 4  # "0082-10-..."
        if dialled:
            digits, layout = digits[2:], [2, *layout[1:]]
        explicit = plus_before or dialled
        international = digits.startswith("82") and (explicit or (len(layout) > 1 and layout[0] == 2))
        if not international:
            return
        parsed = _international(digits, list(layout))
        if parsed is None:
            return
        national, layout = parsed
        start -= 1 if plus_before else 0
    facts = phone_facts(national)
    if facts is None:
        return
    kind, layouts = facts
    if international and kind is PhoneKind.REPRESENTATIVE:
        return
    groups = len(layout)
    if groups > 1 and tuple(layout) not in layouts:
        return
    grouped, bare = _PHONE_CONF[kind]
    plain = grouped if groups > 1 else bare
    if kind is PhoneKind.REPRESENTATIVE and national[2:4] == national[6:8] == "00":
        plain = 0.3  # "1800-1900" reads as a range of years
    if international and not explicit:
        plain -= 0.15
    # mobile numbers, and other lines written in three dashed groups, need no context
    strong = (
        kind is PhoneKind.MOBILE or (groups == 3 and kind is not PhoneKind.TOLL_FREE and cand.tight_dashes)
    ) and not (international and not explicit)
    out.append(Hypothesis(EntityType.KR_PHONE, plain, max(plain, 0.9), start, cand.end, strong))


def _registration(
    cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]
) -> None:
    digits = cand.digits
    hyphenated = len(cand.layout) == 2  # (6, 7); the other layout is (13,)
    rrn_like, foreign, valid = v.registration_facts(digits)
    if rrn_like:
        etype = EntityType.KR_ARN if foreign else EntityType.KR_RRN
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


def _brn(cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]) -> None:
    if v.brn_valid(cand.digits):
        strong = len(cand.layout) == 3  # (3, 2, 5); the other layout is (10,)
        out.append(Hypothesis(EntityType.KR_BRN, 0.9 if strong else 0.45, 0.92, cand.start, cand.end, strong))


def _old_driver_license(
    cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]
) -> None:
    if region_before is not None:  # "서울 91-123456-12": the region name is part of the number
        out.append(Hypothesis(EntityType.KR_DRIVER_LICENSE, 0.85, 0.95, region_before, cand.end))


def _driver_license(
    cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]
) -> None:
    if not v.driver_license_valid(cand.digits):
        return
    # (2, 2, 6, 2), less sure when spaces join its groups; the other layout is (12,)
    plain = (0.7 if cand.weak else 0.85) if len(cand.layout) == 4 else 0.35
    out.append(Hypothesis(EntityType.KR_DRIVER_LICENSE, plain, 0.92, cand.start, cand.end))


def _card(cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]) -> None:
    if not v.card_valid(cand.digits):
        return
    # one of _CARD_LAYOUTS, or one group (16 digits are the common length)
    plain = 0.95 if len(cand.layout) > 1 else 0.8 if len(cand.digits) == 16 else 0.6
    # never "strong": coupon and gift-card codes share the 4-4-4-4 shape, so context still counts
    out.append(Hypothesis(EntityType.CREDIT_CARD, plain, 0.97, cand.start, cand.end))


def _bank(cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]) -> None:
    for h in out:
        if h.strong and h.plain >= 0.9:
            return  # a bank reading (at most 0.9) cannot beat a strong one
    layout = cand.layout
    prefixes = _BANK_LAYOUTS.get(layout)
    if prefixes is not None and cand.digits.startswith(prefixes):
        plain, cued = 0.3, 0.9
    elif len(layout) > 1:
        # the plan admits other layouts only with groups of 2-7 digits; a bank's own may have a 1
        if prefixes is not None and not all(2 <= g <= 7 for g in layout):
            return
        plain, cued = 0.2, 0.75
    else:
        plain, cued = 0.1, 0.7
    out.append(Hypothesis(EntityType.KR_BANK_ACCOUNT, plain, cued, cand.start, cand.end))


def _ipv4(cand: Candidate, plus_before: bool, region_before: int | None, out: list[Hypothesis]) -> None:
    if cand.dots_only and v.ipv4_valid(_groups(cand)):
        out.append(Hypothesis(EntityType.IP_ADDRESS, 0.9, 0.95, cand.start, cand.end))
