"""Sovereignty policies per organisation and key: where their data may go, and what happens to the
personal data in their requests.

An organisation declares the jurisdictions (ISO 3166-1 alpha-2 codes) its data may be processed in;
one that declares none is held to the gateway's own (``server.jurisdiction``). A key may narrow its
organisation's set, never widen it. The personal-data policy of a key, when it has one, replaces
its organisation's; with none anywhere the policy is ``off``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from onshore.pii.entities import ALL_TYPES, EntityType

_JURISDICTION = re.compile(r"^[A-Z]{2}$")


class PiiMode(StrEnum):
    OFF = "off"
    DETECT = "detect"  # count the types found; never store a value
    REDACT = "redact"  # typed placeholders before the model sees the text
    BLOCK = "block"  # 400 pii_detected, naming the types found


@dataclass(frozen=True, slots=True)
class PiiPolicy:
    mode: PiiMode = PiiMode.OFF
    types: frozenset[EntityType] | None = None  # None: every type the detector knows
    restore: bool = False  # put the originals back into the answer to that request (redact only)
    redact_output: bool = False  # scan the answer too and redact what the model echoed or invented

    @property
    def active(self) -> bool:
        return self.mode is not PiiMode.OFF or self.redact_output

    @property
    def entity_types(self) -> frozenset[EntityType]:
        return ALL_TYPES if self.types is None else self.types

    def as_dict(self) -> dict[str, object]:
        return {
            "pii": self.mode.value,
            "pii_types": None if self.types is None else sorted(t.value for t in self.types),
            "restore": self.restore,
            "redact_output": self.redact_output,
        }


PII_OFF = PiiPolicy()

# The fields a policy change may name (CLI flags, admin API bodies and the store's columns).
POLICY_FIELDS: tuple[str, ...] = (
    "jurisdictions",
    "pii_mode",
    "pii_types",
    "pii_restore",
    "pii_redact_output",
)


@dataclass(frozen=True, slots=True)
class SubjectPolicy:
    """What one organisation or key has set; None means "not set here" (inherit or default)."""

    jurisdictions: tuple[str, ...] | None = None
    pii_mode: PiiMode | None = None
    pii_types: tuple[EntityType, ...] | None = None
    pii_restore: bool | None = None
    pii_redact_output: bool | None = None

    def with_changes(self, changes: Mapping[str, object]) -> SubjectPolicy:
        unknown = set(changes) - set(POLICY_FIELDS)
        if unknown:
            raise ValueError(f"unknown policy fields: {', '.join(sorted(unknown))}")
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in POLICY_FIELDS)

    @property
    def has_pii(self) -> bool:
        return self.pii_mode is not None

    def pii(self) -> PiiPolicy:
        if self.pii_mode is None:
            return PII_OFF
        return PiiPolicy(
            mode=self.pii_mode,
            types=None if self.pii_types is None else frozenset(self.pii_types),
            restore=bool(self.pii_restore),
            redact_output=bool(self.pii_redact_output),
        )


NO_POLICY = SubjectPolicy()


def parse_jurisdictions(values: Iterable[str] | str) -> tuple[str, ...]:
    """``"KR,jp"`` or ``["KR", "JP"]`` -> ``("JP", "KR")``: upper-cased, de-duplicated, sorted.

    Raises:
        ValueError: empty, or a code that is not two letters (ISO 3166-1 alpha-2).
    """
    items = values.split(",") if isinstance(values, str) else list(values)
    codes: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError("jurisdictions are ISO 3166-1 alpha-2 codes such as KR")
        code = item.strip().upper()
        if not _JURISDICTION.match(code):
            shown = item if len(item) <= 20 else item[:20] + "..."
            raise ValueError(f"{shown!r} is not a jurisdiction: use ISO 3166-1 alpha-2 codes such as KR, JP")
        codes.add(code)
    if not codes:
        raise ValueError("at least one jurisdiction is needed (ISO 3166-1 alpha-2, e.g. KR)")
    return tuple(sorted(codes))


def parse_pii_types(values: Iterable[str] | str) -> tuple[EntityType, ...]:
    """``"KR_RRN,KR_PHONE"`` -> the entity types, sorted; ValueError naming an unknown type."""
    items = values.split(",") if isinstance(values, str) else list(values)
    found: set[EntityType] = set()
    for item in items:
        name = str(item).strip().upper()
        if not name:
            continue
        try:
            found.add(EntityType(name))
        except ValueError:
            known = ", ".join(sorted(t.value for t in ALL_TYPES))
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise ValueError(f"unknown personal-data type {shown!r}; known: {known}") from None
    if not found:
        raise ValueError("name at least one personal-data type, or leave the list out for every type")
    return tuple(sorted(found, key=lambda t: t.value))


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """What binds one request: resolved from the key's and its organisation's policies."""

    jurisdictions: frozenset[str]
    pii: PiiPolicy


def resolve(org: SubjectPolicy | None, key: SubjectPolicy | None, home: str) -> EffectivePolicy:
    """The key's settings over its organisation's; jurisdictions are the intersection (a key only
    narrows), the organisation's defaulting to ``home`` (the gateway's own jurisdiction)."""
    org = org or NO_POLICY
    allowed = frozenset(org.jurisdictions) if org.jurisdictions is not None else frozenset((home,))
    if key is not None and key.jurisdictions is not None:
        allowed = allowed & frozenset(key.jurisdictions)
    pii = key.pii() if key is not None and key.has_pii else org.pii()
    return EffectivePolicy(allowed, pii)
