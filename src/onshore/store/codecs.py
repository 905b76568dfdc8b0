"""How buffered records become spool lines and back: one JSON object per line, ASCII only.

``json.dumps`` escapes every control character (NUL included) and, with ``ensure_ascii``, every
non-ASCII one and every lone surrogate, so an encoded line can always be written to a file and
stored in a text column, whatever the record holds. That is what lets a row the database refused
be set aside as it was, instead of being lost.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from onshore.domain.audit import AuditEntry
from onshore.domain.usage import UsageRecord

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """A serializer pair for one record type, plus the record's id (for logs and set-aside rows).

    ``encode`` returns one line ending in ``\\n``; ``decode`` raises ``ValueError``, ``TypeError``
    or ``KeyError`` on a line it cannot read.
    """

    kind: str  # "usage", "audit": names the record type in set-aside rows
    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]
    key: Callable[[T], str]


def _dump(values: dict[str, Any]) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


_USAGE_FIELDS = tuple(field.name for field in dataclasses.fields(UsageRecord))


def encode_usage(record: UsageRecord) -> bytes:
    values: dict[str, Any] = {name: getattr(record, name) for name in _USAGE_FIELDS}
    values["created_at"] = record.created_at.isoformat()
    return _dump(values)


def decode_usage(line: bytes) -> UsageRecord:
    values = json.loads(line)
    # Unknown keys are dropped so a spool written by a newer version still replays here; keys a
    # newer field added are missing from an older spool and take the field's default.
    known = {name: values[name] for name in _USAGE_FIELDS if name in values}
    known["created_at"] = datetime.fromisoformat(known["created_at"])
    return UsageRecord(**known)


# The chain fields (seq, prev_hash, hash) are the store's to assign when it appends, so a spooled
# entry never carries them: a replay is chained like any new entry (or skipped, if already stored).
_AUDIT_FIELDS = tuple(field.name for field in dataclasses.fields(AuditEntry) if field.compare)


def encode_audit(entry: AuditEntry) -> bytes:
    values: dict[str, Any] = {name: getattr(entry, name) for name in _AUDIT_FIELDS}
    values["at"] = entry.at.isoformat()
    values["detail"] = dict(entry.detail)
    return _dump(values)


def decode_audit(line: bytes) -> AuditEntry:
    values = json.loads(line)
    known = {name: values[name] for name in _AUDIT_FIELDS if name in values}
    known["at"] = datetime.fromisoformat(known["at"])
    if not isinstance(known.get("detail", {}), dict):
        raise TypeError("an audit entry's detail must be a JSON object")
    return AuditEntry(**known)


USAGE_CODEC: Codec[UsageRecord] = Codec("usage", encode_usage, decode_usage, lambda r: r.request_id)
AUDIT_CODEC: Codec[AuditEntry] = Codec("audit", encode_audit, decode_audit, lambda e: e.id)
