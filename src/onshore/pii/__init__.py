"""Korean personal-data detection: a fast, offline, rule-and-checksum detector.

Typical use::

    from onshore.pii import Detector, redact

    detector = Detector()                    # compile once, share everywhere (thread-safe)
    findings = detector.scan(prompt)         # [Finding(start, end, type, confidence), ...]
    safe = redact(prompt, findings)          # "... [KR_RRN] ..."

    scanner = detector.stream()              # streamed text
    for chunk in chunks:
        for finding in scanner.feed(chunk):  # global offsets, final
            ...
    scanner.close()

Findings never carry the matched value, so they are safe to log.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache

from onshore.pii.detector import Detector
from onshore.pii.entities import ALL_TYPES, EntityType, Finding
from onshore.pii.redact import placeholder, redact
from onshore.pii.stream import StreamRedactor, StreamScanner

__all__ = [
    "ALL_TYPES",
    "Detector",
    "EntityType",
    "Finding",
    "StreamRedactor",
    "StreamScanner",
    "default_detector",
    "placeholder",
    "redact",
    "scan",
]


@cache
def default_detector() -> Detector:
    """The shared detector with every type and the default threshold (built once, thread-safe)."""
    return Detector()


@lru_cache(maxsize=32)
def _detector_for(entities: frozenset[EntityType], min_confidence: float) -> Detector:
    return Detector(entities, min_confidence)


def scan(
    text: str, entities: Iterable[EntityType | str] | None = None, min_confidence: float = 0.5
) -> list[Finding]:
    """Scan ``text`` with a shared detector for these types and this threshold (built once each)."""
    wanted = ALL_TYPES if entities is None else frozenset(EntityType(e) for e in entities)
    if wanted == ALL_TYPES and min_confidence == 0.5:
        return default_detector().scan(text)
    return _detector_for(wanted, min_confidence).scan(text)
