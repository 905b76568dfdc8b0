"""The public vocabulary of the detector: entity types and findings.

A :class:`Finding` never carries the matched text. It holds only the type, the span in the original
text (Python ``str`` indices) and a confidence, so it is safe to log, count and serialise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class EntityType(StrEnum):
    """Kinds of personal data the detector finds. The values are the public contract."""

    KR_RRN = "KR_RRN"
    KR_ARN = "KR_ARN"
    KR_PHONE = "KR_PHONE"
    KR_BRN = "KR_BRN"
    KR_CRN = "KR_CRN"
    KR_PASSPORT = "KR_PASSPORT"
    KR_DRIVER_LICENSE = "KR_DRIVER_LICENSE"
    KR_BANK_ACCOUNT = "KR_BANK_ACCOUNT"
    CREDIT_CARD = "CREDIT_CARD"
    EMAIL = "EMAIL"
    IP_ADDRESS = "IP_ADDRESS"


ALL_TYPES: frozenset[EntityType] = frozenset(EntityType)


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One detected identifier: ``text[start:end]`` of the original text is the identifier.

    Attributes:
        start: index of the first character in the original text.
        end: index one past the last character.
        type: the entity type.
        confidence: 0.0-1.0; how sure the detector is (format, check digit and context).
    """

    start: int
    end: int
    type: EntityType
    confidence: float

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of the CLI and the gateway: ``{"type","start","end","confidence"}``."""
        return {
            "type": self.type.value,
            "start": self.start,
            "end": self.end,
            "confidence": round(self.confidence, 3),
        }

    def shifted(self, offset: int) -> Finding:
        """The same finding moved by ``offset`` characters (for streams and windows)."""
        return Finding(self.start + offset, self.end + offset, self.type, self.confidence)


_new = object.__new__
_slots = vars(Finding)  # the slot descriptors of the frozen dataclass
_set_start: Callable[[Finding, int], None] = _slots["start"].__set__
_set_end: Callable[[Finding, int], None] = _slots["end"].__set__
_set_type: Callable[[Finding, EntityType], None] = _slots["type"].__set__
_set_confidence: Callable[[Finding, float], None] = _slots["confidence"].__set__


def make_finding(start: int, end: int, etype: EntityType, confidence: float) -> Finding:
    """``Finding(start, end, etype, confidence)`` for the detector's hot path: the same object,
    built through the slot descriptors instead of the frozen dataclass's ``__init__`` (which calls
    ``object.__setattr__`` per field): ~40% cheaper, and every reported finding is built once."""
    finding: Finding = _new(Finding)
    _set_start(finding, start)
    _set_end(finding, end)
    _set_type(finding, etype)
    _set_confidence(finding, confidence)
    return finding
