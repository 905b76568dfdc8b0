"""The public vocabulary of the detector: entity types and findings.

A :class:`Finding` never carries the matched text. It holds only the type, the span in the original
text (Python ``str`` indices) and a confidence, so it is safe to log, count and serialise.
"""

from __future__ import annotations

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
