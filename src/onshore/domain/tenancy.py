"""Partners and their keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

KEY_PREFIX = "sk-onshore-"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A partner key as stored: never the secret itself, only its keyed digest."""

    id: str
    org_id: str
    name: str
    digest: str
    prefix: str  # the first characters of the key, shown in listings so people can tell keys apart
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    models: tuple[str, ...] | None = None  # None: every model; otherwise the allow-list
    updated_at: datetime | None = None
    # The generation of the secret that made ``digest`` (``KeyDigester.secret_id``); None for a
    # key made before it was recorded (stamped on its next use).
    secret_id: str | None = None

    def is_active(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: what the pipeline knows after authentication."""

    key_id: str
    org_id: str
    org_name: str
    models: frozenset[str] | None  # None: every model
    expires_at: datetime | None

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created: the only moment the secret exists outside the caller's hands."""

    key: ApiKey
    secret: str
