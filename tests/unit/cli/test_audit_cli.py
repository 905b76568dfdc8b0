"""``onshore audit``: list, verify (exit 0 intact, 1 naming the first bad entry), export, checkpoint,
and an auditor who holds only the public key and the checkpoints."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, update

from onshore.cli.main import cli
from onshore.domain.audit import AuditEntry
from onshore.store.sql import SqlAuditLog, make_engine
from onshore.store.sql.schema import audit_checkpoints, audit_log

T0 = datetime(2020, 12, 1, 0, 0, 0, 500, tzinfo=UTC)  # before any 'now' the tests run at


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\nbackends: []\n")
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def database(config: Path, tmp_path: Path) -> str:
    """Migrated by a first command, with an organisation and 12 entries over two months."""
    assert run(config, "orgs", "create", "acme")[0] == 0
    url = f"sqlite:///{tmp_path / 'data' / 'onshore.db'}"
    engine = make_engine(url)
    try:
        SqlAuditLog(engine).append_many(
            [
                AuditEntry.create(
                    actor="system",
                    action="request.blocked",
                    target_type="request",
                    detail={"pii_counts": {"KR_RRN": 1}},
                    at=T0 + timedelta(days=10 * i),  # Dec 1, 11, 21, 31, then Jan
                )
                for i in range(1, 12)
            ]
        )
    finally:
        engine.dispose()
    return url


def tamper(url: str, statement: object) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)  # type: ignore[call-overload]
    finally:
        engine.dispose()


def test_plain_audit_still_lists_and_carries_the_chain(config: Path, database: str) -> None:
    code, out, _ = run(config, "audit", "--org", "acme", "--json")
    assert code == 0
    (created,) = json.loads(out)["data"]
    assert created["action"] == "org.create" and created["seq"] == 1 and len(created["hash"]) == 64
    code, out, _ = run(config, "audit", "list", "--since", "2021-01-01T00:00:00+09:00", "--json")
    assert code == 0 and len(json.loads(out)["data"]) == 9  # 8 made + org.create (now); 3 before
    code, out, _ = run(config, "audit", "--limit", "2")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["SEQ", "AT", "ACTOR"]
    code, _, err = run(config, "audit", "list", "--since", "last tuesday")
    assert code == 1 and "invalid date" in err


def test_verify_says_intact_and_names_the_first_bad_entry(config: Path, database: str) -> None:
    code, out, _ = run(config, "audit", "verify")
    assert code == 0 and out.startswith("intact: 12 entries, head seq 12 hash ")

    tamper(database, update(audit_log).where(audit_log.c.seq == 5).values(actor="cli:mallory"))

    code, out, _ = run(config, "audit", "verify")
    assert code == 1 and out.startswith("NOT INTACT: entry seq 5 (id aud_") and "edited" in out
    code, out, _ = run(config, "audit", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["intact"] is False and report["problem"]["seq"] == 5


def test_a_checkpoint_file_catches_a_cut_tail_the_chain_alone_cannot(
    config: Path, database: str, tmp_path: Path
) -> None:
    kept = tmp_path / "auditor" / "checkpoint.json"
    kept.parent.mkdir()
    code, _, err = run(config, "audit", "checkpoint", "--out", str(kept))
    assert code == 0 and "seq 12" in err
    checkpoint = json.loads(kept.read_text())
    assert checkpoint["seq"] == 12 and checkpoint["format"] == "onshore-audit-checkpoint:v1"
    key_file = tmp_path / "data" / "audit-signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # made once, private

    tamper(database, delete(audit_log).where(audit_log.c.seq > 9))
    code, out, _ = run(config, "audit", "verify")
    assert code == 1 and "cut from its tail" in out  # the stored checkpoint
    tamper(database, delete(audit_checkpoints))
    assert run(config, "audit", "verify")[0] == 0  # a valid, shorter chain
    code, out, _ = run(config, "audit", "verify", "--checkpoint", str(kept))
    assert code == 1 and "entry seq 10" in out and "cut from its tail" in out


def test_an_auditor_verifies_with_the_public_key_alone(config: Path, database: str, tmp_path: Path) -> None:
    kept = tmp_path / "checkpoint.json"
    assert run(config, "audit", "checkpoint", "--out", str(kept))[0] == 0
    public_key = json.loads(kept.read_text())["public_key"]
    (tmp_path / "data" / "audit-signing.key").unlink()  # the auditor's machine has no private key

    code, _, err = run(config, "audit", "verify", "--checkpoint", str(kept))
    assert code == 2 and "no public key" in err
    code, out, _ = run(
        config, "audit", "verify", "--checkpoint", str(kept), "--public-key", public_key, "--json"
    )
    assert code == 0 and json.loads(out)["checkpoints_matched"] == 2  # the stored one and the file
    assert not (tmp_path / "data" / "audit-signing.key").exists()  # verifying never makes a key

    other = tmp_path / "forged.json"
    forged = {**json.loads(kept.read_text()), "hash": "0" * 64}
    other.write_text(json.dumps(forged))
    code, out, _ = run(config, "audit", "verify", "--checkpoint", str(other), "--public-key", public_key)
    assert code == 1 and "not valid" in out


def test_export_a_month_and_verify_it_offline(config: Path, database: str, tmp_path: Path) -> None:
    exported = tmp_path / "2020-12.jsonl"
    code, _, err = run(config, "audit", "export", "--month", "2020-12", "--out", str(exported))
    assert code == 0 and "exported 3 entries" in err  # Dec 11, 21, 31
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [2, 3, 4]
    assert set(lines[0]) >= {"seq", "id", "at", "prev_hash", "hash", "detail"}

    code, out, _ = run(config, "audit", "verify", "--input", str(exported))
    assert code == 0 and "intact: 3 entries, head seq 4" in out

    lines[1]["detail"] = {"pii_counts": {"KR_RRN": 0}}
    exported.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, _ = run(config, "audit", "verify", "--input", str(exported))
    assert code == 1 and "entry seq 3" in out

    code, _, err = run(config, "audit", "export", "--month", "2026-13")
    assert code == 1 and "invalid month" in err


def test_the_signing_key_from_the_environment(config: Path, database: str, tmp_path: Path) -> None:
    seed = os.urandom(32).hex()
    code, out, _ = run(config, "audit", "checkpoint", env={"ONSHORE_AUDIT_SIGNING_KEY": seed})
    assert code == 0 and json.loads(out)["seq"] == 12
    assert not (tmp_path / "data" / "audit-signing.key").exists()
    assert run(config, "audit", "verify", env={"ONSHORE_AUDIT_SIGNING_KEY": seed})[0] == 0
    # Without the key (and no file), the stored checkpoint's signature cannot be checked: said so.
    code, _, err = run(config, "audit", "verify")
    assert code == 0 and "not checked" in err

    code, _, err = run(config, "audit", "checkpoint", env={"ONSHORE_AUDIT_SIGNING_KEY": "not-a-key"})
    assert code == 1 and "ONSHORE_AUDIT_SIGNING_KEY" in err and "not-a-key" not in err


def test_an_empty_chain_has_nothing_to_sign(config: Path) -> None:
    code, _, err = run(config, "audit", "checkpoint")
    assert code == 1 and "empty" in err
