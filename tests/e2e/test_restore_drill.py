"""The restore drill of docs/operations.md, run for real: back up PostgreSQL with ``pg_dump``, restore
it into a new database, start a gateway on the copy with the same two secrets, and check that
partners' keys still work, the ledger is whole and the audit chain verifies.

It also shows why the secrets belong in the backup: the same database restored with another
key-digest secret recognises none of the keys (every partner would need a new one).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from tests.support.services import (
    IN_CI,
    Gateway,
    Upstream,
    make_gateway,
    postgres_database,
    remote_backend,
)

DIGEST_SECRET = "restore-drill-digest-secret-0123456789"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is needed for the restore drill (Debian: postgresql-client)")
        pytest.skip(f"{name} is not installed")
    return path


def _signing_key() -> tuple[str, str]:
    """A fresh Ed25519 key: its raw private bytes (base64) for the gateway, its public half for verify."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    with postgres_database() as original, postgres_database() as restored:
        yield original, restored


def _gateway(tmp: Path, name: str, upstream: Upstream, db: str, secret: str, signing: str) -> Gateway:
    (tmp / name).mkdir()
    gw = make_gateway(
        tmp / name,
        [remote_backend("pool", upstream.url, "bench-model")],
        database_url=db,
        extra={"audit": {"checkpoint_interval_s": 0.5}, "ledger": {"flush_interval_s": 0.1}},
    )
    gw.env["ONSHORE_SECRET"] = secret
    gw.env["ONSHORE_AUDIT_SIGNING_KEY"] = signing
    return gw


def _chat(gw: Gateway, key: str) -> httpx.Response:
    body = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def _usage(gw: Gateway, org: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(gw.cli("usage", "--org", org, "--json").stdout)
    return data


def _restore(original: str, restored: str, dump: Path) -> None:
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    subprocess.run(
        [pg_dump, "--format=custom", "--no-owner", f"--file={dump}", original], check=True, timeout=60
    )
    subprocess.run(
        [pg_restore, "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump)],
        check=True,
        timeout=60,
    )


def test_a_database_restored_with_its_secrets_serves_as_before(
    upstream: Upstream, two_databases: tuple[str, str], tmp_path: Path
) -> None:
    original_db, restored_db = two_databases
    signing, public = _signing_key()
    org = "drill-" + uuid.uuid4().hex[:6]

    before = _gateway(tmp_path, "before", upstream, original_db, DIGEST_SECRET, signing)
    before.start()
    try:
        _, key = before.create_key(org)
        assert all(_chat(before, key).status_code == 200 for _ in range(5))
        before.cli("keys", "create", "--org", org)  # one more audited action
        time.sleep(1.2)  # checkpoints every 0.5 s: one signs the head before the backup
    finally:
        before.stop()  # SIGTERM: a clean stop flushes the ledger
    usage_before = _usage(before, org)
    assert usage_before["requests"] == 5, usage_before

    _restore(original_db, restored_db, tmp_path / "onshore.dump")

    after = _gateway(tmp_path, "after", upstream, restored_db, DIGEST_SECRET, signing)
    after.start()
    try:
        assert _chat(after, key).status_code == 200, "a partner's key must survive the restore"
    finally:
        after.stop()
    usage_after = _usage(after, org)
    assert usage_after["requests"] == 6
    assert usage_after["total_tokens"] > usage_before["total_tokens"]  # type: ignore[operator]

    verdict = after.cli("audit", "verify", "--public-key", public, "--json", check=False)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    result = json.loads(verdict.stdout)
    assert result["intact"] is True
    assert result["checkpoints_matched"] >= 1  # the checkpoint signed before the backup still holds


def test_without_the_digest_secret_no_key_survives_the_restore(
    upstream: Upstream, two_databases: tuple[str, str], tmp_path: Path
) -> None:
    original_db, restored_db = two_databases
    signing, _ = _signing_key()
    before = _gateway(tmp_path, "before", upstream, original_db, DIGEST_SECRET, signing)
    before.start()
    try:
        _, key = before.create_key("drill-" + uuid.uuid4().hex[:6])
    finally:
        before.stop()

    _restore(original_db, restored_db, tmp_path / "onshore.dump")

    lost = _gateway(tmp_path, "lost", upstream, restored_db, "another-secret-" + uuid.uuid4().hex, signing)
    lost.start()
    try:
        refused = _chat(lost, key)
    finally:
        lost.stop()
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
