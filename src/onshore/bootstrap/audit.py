"""The audit trail's wiring: its ports over SQL, the signing key, the periodic checkpoints.

The private key never enters the database: it comes from ``audit.signing_key_env`` or else the
file ``audit.signing_key_file`` (default ``<data_dir>/audit-signing.key``), made once with mode 0600
by the first command that signs (``onshore serve`` or ``onshore audit checkpoint``), the way the
key-digest secret is. Verifying never makes one: an auditor without the private key verifies with
public keys only (``--public-key``, ``audit.public_keys``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from onshore.admin.audit_chain import sign_checkpoint, verify_trail
from onshore.config.settings import Settings
from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import Checkpoint, SignatureCheck
from onshore.errors import ConfigError
from onshore.gateway.periodic import Periodic
from onshore.lifecycle import Lifecycle
from onshore.ports import AuditTrail, StoreError
from onshore.store.audit_signing import (
    Ed25519Signer,
    key_id_of,
    new_private_key_pem,
    parse_private_key,
    parse_public_key,
    signature_valid,
)
from onshore.store.sql.audit import SqlAuditLog

log = logging.getLogger(__name__)

SIGNING_KEY_FILE = "audit-signing.key"

__all__ = [
    "SIGNING_KEY_FILE",
    "AuditLog",
    "add_checkpoints",
    "load_signer",
    "signature_check",
    "signing_key_path",
    "trusted_keys",
]


def signing_key_path(settings: Settings) -> Path:
    return settings.audit.signing_key_file or settings.data_dir / SIGNING_KEY_FILE


def load_signer(
    settings: Settings, environ: Mapping[str, str] | None = None, *, create: bool
) -> Ed25519Signer | None:
    """The checkpoint signer: the key from the environment, else the key file.

    With ``create`` a missing file is made (0600, never overwritten); without it a missing file
    gives None (verifying must not mint a key nobody else trusts).

    Raises:
        ConfigError: the variable or the file holds something that is not an Ed25519 private key.
    """
    env = os.environ if environ is None else environ
    name = settings.audit.signing_key_env
    value = env.get(name)
    if value:
        return Ed25519Signer(parse_private_key(value, name))
    path = signing_key_path(settings)
    try:
        return Ed25519Signer(parse_private_key(path.read_bytes(), str(path)))
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        return Ed25519Signer(parse_private_key(path.read_bytes(), str(path)))
    with os.fdopen(fd, "wb") as handle:
        handle.write(new_private_key_pem())
        handle.flush()
        os.fsync(handle.fileno())
    log.warning("made a new audit signing key in %s: back it up, and share it between replicas", path)
    return Ed25519Signer(parse_private_key(path.read_bytes(), str(path)))


def trusted_keys(
    settings: Settings, extra: Sequence[str] = (), environ: Mapping[str, str] | None = None
) -> dict[str, Ed25519PublicKey]:
    """The public keys whose checkpoints are trusted, by key id: ``extra`` (``--public-key``),
    ``audit.public_keys``, and the signing key's own public half when there is one already.

    Raises:
        ConfigError: one of them is not an Ed25519 public key (named by where it came from).
    """
    keys = [parse_public_key(text, f"--public-key #{n}") for n, text in enumerate(extra, 1)]
    keys += [
        parse_public_key(text, f"audit.public_keys[{n}]") for n, text in enumerate(settings.audit.public_keys)
    ]
    signer = load_signer(settings, environ, create=False)
    if signer is not None:
        keys.append(signer.verifier())
    return {key_id_of(key): key for key in keys}


def signature_check(trusted: Mapping[str, Ed25519PublicKey]) -> SignatureCheck:
    """A checkpoint's signature check against ``trusted`` keys (see ``domain.audit_chain.verify``)."""

    def check(checkpoint: Checkpoint) -> str | None:
        key = trusted.get(checkpoint.key_id)
        if key is None:
            return (
                f"signed by key {checkpoint.key_id}, which is not trusted here (after a key rotation, "
                "add the old public key to audit.public_keys; or pass --public-key)"
            )
        if not signature_valid(key, checkpoint.message, checkpoint.signature):
            return f"its signature is not valid for key {checkpoint.key_id}: it was forged or altered"
        return None

    return check


class AuditLog:
    """The audit ports over SQL: appends go to ``write`` (buffered for the server, direct for the CLI)."""

    def __init__(self, write: Callable[[AuditEntry], None], table: SqlAuditLog) -> None:
        self._write = write
        self._table = table

    def append(self, entry: AuditEntry) -> None:
        self._write(entry)

    def entries(self, limit: int = 100, org_id: str | None = None) -> list[AuditEntry]:
        return self._table.list(org_id=org_id, limit=limit)


class _Checkpointer:
    """Signs the chain's head every ``audit.checkpoint_interval_s`` when it moved; a database that
    is away only delays it to the next pass (the replica's other checks report the outage).

    Each pass first verifies the whole chain (as ``onshore audit verify`` does, streamed) and reports
    the verdict to ``on_verified`` (the ``onshore_audit_chain_ok`` gauge); a broken chain is never
    signed, since a checkpoint over it would vouch for the tampering.
    """

    def __init__(
        self,
        trail: AuditTrail,
        signer: Ed25519Signer,
        trusted: Mapping[str, Ed25519PublicKey],
        on_verified: Callable[[bool], None] | None = None,
    ) -> None:
        self._trail = trail
        self._signer = signer
        self._check = signature_check(trusted)
        self._on_verified = on_verified

    async def run_once(self) -> None:
        try:
            checkpoint = await asyncio.to_thread(self._sign)
        except StoreError:
            log.warning("could not sign an audit checkpoint: the database is unavailable")
            return
        if checkpoint is not None:
            log.info("signed audit checkpoint", extra={"seq": checkpoint.seq, "key_id": checkpoint.key_id})

    def _sign(self) -> Checkpoint | None:
        if self._on_verified is not None:
            verdict = verify_trail(self._trail, self._check)
            self._on_verified(verdict.intact)
            if verdict.problem is not None:
                log.error("the audit chain is broken; not signing a checkpoint: %s", verdict.problem.reason)
                return None
        head = self._trail.head()
        if head is None or any(c.seq == head.seq for c in self._trail.checkpoints()[-1:]):
            return None  # nothing new since the last checkpoint (by this or another replica)
        return sign_checkpoint(self._trail, self._signer, datetime.now(UTC))


def add_checkpoints(
    lifecycle: Lifecycle,
    settings: Settings,
    trail: AuditTrail,
    environ: Mapping[str, str] | None = None,
    on_verified: Callable[[bool], None] | None = None,
) -> None:
    """Register the periodic checkpoint with ``lifecycle`` (nothing when the interval is 0);
    with ``on_verified``, each pass verifies the chain first and reports whether it is intact.

    Raises:
        ConfigError: the signing key is unreadable (at start, not an hour later).
    """
    interval = settings.audit.checkpoint_interval_s
    if interval <= 0:
        return
    signer = load_signer(settings, environ, create=True)
    if signer is None:  # pragma: no cover - create=True always gives a signer
        raise ConfigError("no audit signing key")
    trusted = trusted_keys(settings, environ=environ) if on_verified is not None else {}
    checkpointer = _Checkpointer(trail, signer, trusted, on_verified)
    periodic = Periodic("onshore-audit-checkpoint", interval, checkpointer.run_once)

    async def start() -> None:
        periodic.start()

    lifecycle.add("audit-checkpoints", start=start, stop=periodic.stop)
