"""Check digits and structural rules for each identifier (pure functions on ASCII digit strings).

Every function takes the digits only (no separators) and never raises on a string of the right
length; callers guarantee ``digits.isdigit()``. Sources for each rule are in
``shared/research/korean-pii.md`` (sections 1-10).
"""

from __future__ import annotations

import calendar
import socket
from datetime import date

_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
# Century by the 7th digit (gender/century digit) of an RRN or ARN.
_CENTURY = {"1": 1900, "2": 1900, "3": 2000, "4": 2000, "5": 1900, "6": 1900, "7": 2000, "8": 2000}
DRIVER_LICENSE_REGIONS = frozenset({*(str(n) for n in range(11, 27)), "28"})


# Luhn's doubled digit (d * 2, minus 9 above 9) for each ASCII digit, as ASCII.
_LUHN_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards."""
    # Byte sums run in C: ~4x faster than a Python loop over the digits (this runs for every
    # 13-19 digit candidate). Every byte carries 48 ("0"), which the modulus sees as 48 * n.
    raw = digits.encode()
    total = sum(raw[-1::-2]) + sum(raw[-2::-2].translate(_LUHN_DOUBLE)) - 48 * len(raw)
    return total % 10 == 0


def _rrn_weighted_sum(digits: str) -> int:
    # Unrolled over the bytes: this runs for every 13-digit candidate (weights 2,3,4,5,6,7,8,9,2,3,4,5,
    # which sum to 58: every byte carries 48 for "0").
    d = digits.encode()
    return (
        2 * d[0] + 3 * d[1] + 4 * d[2] + 5 * d[3] + 6 * d[4] + 7 * d[5]
        + 8 * d[6] + 9 * d[7] + 2 * d[8] + 3 * d[9] + 4 * d[10] + 5 * d[11]
    ) - 48 * 58  # fmt: skip


def rrn_check_digit(first12: str) -> int:
    """Check digit of a pre-October-2020 RRN: ``(11 - S mod 11) mod 10``."""
    return (11 - _rrn_weighted_sum(first12) % 11) % 10


def arn_check_digit(first12: str) -> int:
    """Check digit of an alien registration number: ``(13 - S mod 11) mod 10``."""
    return (13 - _rrn_weighted_sum(first12) % 11) % 10


def rrn_checksum_valid(digits: str) -> bool:
    """True when a 13-digit RRN carries a valid (pre-2020) check digit."""
    return len(digits) == 13 and rrn_check_digit(digits[:12]) == ord(digits[12]) - 48


def arn_checksum_valid(digits: str) -> bool:
    """True when a 13-digit ARN carries a valid check digit."""
    return len(digits) == 13 and arn_check_digit(digits[:12]) == ord(digits[12]) - 48


_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def registration_date_valid(digits: str) -> bool:
    """True when digits 1-6 are a real past date in the century that digit 7 encodes (1-8)."""
    century = _CENTURY.get(digits[6]) if len(digits) >= 7 else None
    if century is None:
        return False
    d = digits.encode()
    yy = d[0] * 10 + d[1] - 528  # 528 = 48 * 11: the "0" of two ASCII digits
    month = d[2] * 10 + d[3] - 528
    day = d[4] * 10 + d[5] - 528
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month]:
        return False
    year = century + yy
    if month == 2 and day == 29 and not calendar.isleap(year):
        return False
    if year < 2020:
        return True
    return date(year, month, day) <= date.today()  # nobody is born in the future


def registration_facts(digits: str) -> tuple[bool, bool, bool]:
    """For 13 digits: (a real past birth date for its century digit, a foreign resident's number,
    a valid check digit of its kind): :func:`registration_date_valid`, :func:`is_foreigner_digit`
    and the RRN or ARN check in one call (every 13-digit candidate needs all three)."""
    if not registration_date_valid(digits):
        return False, False, False
    foreign = digits[6] in "5678"
    d = digits.encode()
    total = (
        2 * d[0] + 3 * d[1] + 4 * d[2] + 5 * d[3] + 6 * d[4] + 7 * d[5]
        + 8 * d[6] + 9 * d[7] + 2 * d[8] + 3 * d[9] + 4 * d[10] + 5 * d[11]
    ) - 48 * 58  # fmt: skip
    return True, foreign, ((13 if foreign else 11) - total % 11) % 10 == d[12] - 48


def born_since_2020_reform(digits: str) -> bool:
    """True when the birth date is on or after 2020-10-05, when random back halves (no check
    digit) began; call only after :func:`registration_date_valid`."""
    return digits[6] in "3478" and digits[:6] >= "201005"


def is_foreigner_digit(digits: str) -> bool:
    """True when the 7th digit marks a foreign resident (5-8)."""
    return digits[6] in "5678"


def brn_valid(digits: str) -> bool:
    """Business registration number: structure (first three >= 101, type != 00) and NTS check digit."""
    if len(digits) != 10 or digits[:3] < "101" or digits[3:5] == "00" or digits[5:9] == "0000":
        return False
    return brn_check_digit(digits[:9]) == ord(digits[9]) - 48


def brn_check_digit(first9: str) -> int:
    """The NTS check digit for the first nine digits of a BRN."""
    d = first9.encode()
    total = (
        (d[0] + 3 * d[1] + 7 * d[2] + d[3] + 3 * d[4] + 7 * d[5] + d[6] + 3 * d[7] + 5 * d[8])
        - 48 * 31
        + (d[8] - 48) * 5 // 10
    )  # weights 1,3,7,1,3,7,1,3,5 sum to 31
    return (10 - total % 10) % 10


def crn_check_digit(first12: str) -> int:
    """Corporate registration number check digit: weights 1,2,1,2,..., ``(10 - S mod 10) mod 10``."""
    d = first12.encode()
    total = sum(d[0:12:2]) + 2 * sum(d[1:12:2]) - 48 * 18  # six weights of 1 and six of 2
    return (10 - total % 10) % 10


def crn_valid(digits: str) -> bool:
    """True for a 13-digit CRN with a valid check digit (registry office 1101-2899 style, not 0000)."""
    if len(digits) != 13 or digits[:4] == "0000":
        return False
    return crn_check_digit(digits[:12]) == ord(digits[12]) - 48


# (first digits from, to (inclusive, compared on the same number of digits), allowed lengths)
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # Amex
    ("37", "37", frozenset({15})),
    ("35", "35", frozenset({16})),  # JCB
    ("30", "30", frozenset({14, 16})),  # Diners
    ("36", "36", frozenset({14, 16})),
    ("38", "39", frozenset({14, 16})),
    ("60", "60", frozenset({16, 19})),  # Discover
    ("62", "62", frozenset({16, 19})),  # UnionPay
    ("64", "65", frozenset({16, 19})),
    ("9", "9", frozenset({16})),  # Korean domestic-only cards
)


def _ranges_by_lead() -> dict[str, tuple[tuple[str, str, frozenset[int]], ...]]:
    return {lead: tuple(r for r in _CARD_RANGES if r[0][0] <= lead <= r[1][0]) for lead in "0123456789"}


_CARD_RANGES_BY_LEAD = _ranges_by_lead()  # the 13 ranges, pre-sorted by first digit


def card_prefix_valid(digits: str) -> bool:
    """Issuer identification: Visa, Mastercard, Amex, JCB, Diners, UnionPay, Discover, Korean 9xxx."""
    n = len(digits)
    for low, high, lengths in _CARD_RANGES_BY_LEAD.get(digits[:1], ()):
        if low <= digits[: len(low)] <= high and n in lengths:
            return True
    return False


def card_valid(digits: str) -> bool:
    """A payment card number: 13-19 digits, known issuer prefix and Luhn."""
    return 13 <= len(digits) <= 19 and card_prefix_valid(digits) and luhn_valid(digits)


def ipv4_valid(octets: list[str]) -> bool:
    """A host address: four decimal octets 0-255 without leading zeros (``01`` is not how people
    write addresses), not a network, broadcast or mask (first or last octet 0 or 255)."""
    if len(octets) != 4 or octets[0] in ("0", "255") or octets[3] in ("0", "255"):
        return False
    for octet in octets:
        if not octet or len(octet) > 3 or (len(octet) > 1 and octet[0] == "0") or int(octet) > 255:
            return False
    return True


def ipv6_valid(candidate: str) -> bool:
    """A textual IPv6 address (``ipaddress`` rules) with at least two colons."""
    colons = candidate.count(":")
    if colons < 2 or (colons < 7 and "::" not in candidate and "." not in candidate):
        return False  # "10:30:00": too few groups and no "::" (cheaper than raising ValueError)
    try:
        # The C parser: the same verdicts as ipaddress.IPv6Address on 600,000 generated candidates
        # (groups, "::", IPv4 tails with leading zeros), at a fraction of the cost.
        socket.inet_pton(socket.AF_INET6, candidate)
    except OSError:
        return False
    return True


def driver_license_valid(digits: str) -> bool:
    """Numeric driver's licence: 12 digits starting with a region code 11-26 or 28."""
    return len(digits) == 12 and digits[:2] in DRIVER_LICENSE_REGIONS
