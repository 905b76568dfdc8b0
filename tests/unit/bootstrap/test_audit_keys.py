"""The audit signing key (environment, else a file made once 0600) and the gateway's periodic
checkpoint, wired by ``bootstrap/audit.py``."""

from __future__ import annotations

import asyncio
import base64
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from onshore.bootstrap import build_services
from onshore.bootstrap.audit import load_signer, signature_check, trusted_keys
from onshore.config.loading import load_settings
from onshore.config.settings import Settings
from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import Checkpoint
from onshore.errors import ConfigError

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def settings(tmp_path: Path, **audit: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", backends=[], audit=audit)


def raw_seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    config = settings(tmp_path)
    assert load_signer(config, {}, create=False) is None  # verifying never makes one
    first = load_signer(config, {}, create=True)
    path = tmp_path / "data" / "audit-signing.key"
    assert first is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_signer(config, {}, create=True)
    assert again is not None and again.key_id == first.key_id and len(first.key_id) == 32


def test_the_key_from_the_environment_in_every_accepted_form(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    seed = raw_seed(key)
    forms = [
        pem,
        seed.hex(),
        base64.b64encode(seed).decode(),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
    ]
    ids = {
        signer.key_id
        for form in forms
        if (signer := load_signer(settings(tmp_path), {"ONSHORE_AUDIT_SIGNING_KEY": form}, create=True))
    }
    assert len(ids) == 1
    assert not (tmp_path / "data" / "audit-signing.key").exists()


@pytest.mark.parametrize(
    "bad", ["not-a-key", "ab" * 31, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
)
def test_a_bad_key_names_where_it_came_from_never_its_value(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_signer(settings(tmp_path), {"ONSHORE_AUDIT_SIGNING_KEY": bad}, create=True)
    assert "ONSHORE_AUDIT_SIGNING_KEY" in caught.value.message and bad not in caught.value.message


def test_trusted_keys_and_the_signature_check(tmp_path: Path) -> None:
    old = Ed25519PrivateKey.generate()
    old_public = old.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = settings(tmp_path, public_keys=[old_public.decode()])  # a key used before a rotation
    current = load_signer(config, {}, create=True)
    assert current is not None
    trusted = trusted_keys(config, [], {})
    assert current.key_id in trusted and len(trusted) == 2
    check = signature_check(trusted)
    unsigned = Checkpoint(1, "a" * 64, T0, current.key_id, "")
    good = Checkpoint(1, "a" * 64, T0, current.key_id, current.sign(unsigned.message))
    assert check(good) is None
    assert "not valid" in (check(Checkpoint(2, "a" * 64, T0, current.key_id, good.signature)) or "")
    assert "not trusted" in (check(Checkpoint(1, "a" * 64, T0, "f" * 32, good.signature)) or "")

    with pytest.raises(ConfigError, match=r"audit\.public_keys\[0\]"):
        trusted_keys(settings(tmp_path, public_keys=["nonsense"]), [], {})


def test_the_signing_key_variable_is_not_an_unknown_setting(tmp_path: Path) -> None:
    env = {"ONSHORE_AUDIT_SIGNING_KEY": "x", "ONSHORE_DATA_DIR": str(tmp_path)}
    assert load_settings(None, env).audit.signing_key_env == "ONSHORE_AUDIT_SIGNING_KEY"
    with pytest.raises(ConfigError, match="ONSHORE_AUDIT__CHECKPOINT_INTERVAL_S"):
        load_settings(None, {**env, "ONSHORE_AUDIT_CHECKPOINT_INTERVAL_S": "5"})


def test_the_gateway_signs_a_checkpoint_when_the_head_moved(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'onshore.db'}"
    config = Settings(
        data_dir=tmp_path / "data",
        database={"url": url},
        backends=[],
        audit={"checkpoint_interval_s": 0.05},
    )
    services = build_services(config, environ={})

    async def scenario() -> list[Checkpoint]:
        await services.lifecycle.start()
        try:
            trail = services.store.audit_trail
            for i in range(3):
                services.store.audit.append(
                    AuditEntry.create(
                        actor="system", action="x", target_type="t", at=T0 + timedelta(seconds=i)
                    )
                )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                made = await asyncio.to_thread(trail.checkpoints)
                if made and made[-1].seq == 3:
                    return made
                await asyncio.sleep(0.02)
            return await asyncio.to_thread(trail.checkpoints)
        finally:
            await services.lifecycle.stop()

    made = asyncio.run(scenario())
    assert made and made[-1].seq == 3
    signer = load_signer(config, {}, create=False)
    assert signer is not None and all(c.key_id == signer.key_id for c in made)
    assert all(signature_check(trusted_keys(config, [], {}))(c) is None for c in made)
