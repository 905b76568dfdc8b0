"""``onshore invoices create|list|show`` against a SQLite data directory: the public flags, --json,
one-line errors, the three formats of show, and the audit entry of an issued invoice."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "backends: []\n"
        "billing: {vat_rate: 0.1, issuer_name: Onshore DC, business_registration_number: 123-45-67890}\n"
        "prices:\n"
        "  - {model: llama, input_krw: 1000, output_krw: 2000, effective_from: 2026-01-01}\n"
        "  - {model: llama, input_krw: 1500, output_krw: 2500, effective_from: 2026-11-16}\n"
    )
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def acme(config: Path, tmp_path: Path) -> str:
    orgs: dict[str, str] = {}
    for name in ("acme", "other"):
        code, out, _ = run(config, "orgs", "create", name, "--json")
        assert code == 0
        orgs[name] = json.loads(out)["id"]
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'onshore.db'}")
    rows = [
        # 1,234,567.5 won before the price change, 0.9 won after it, and another org's 5 won.
        _row("a", orgs["acme"], datetime(2026, 11, 15, 23, 59, tzinfo=UTC), 1_234_567_500_000),
        _row("b", orgs["acme"], datetime(2026, 11, 16, tzinfo=UTC), 900_000),
        _row("c", orgs["other"], datetime(2026, 11, 20, tzinfo=UTC), 5_000_000),
    ]
    SqlUsageStore(engine).write_batch(rows)
    engine.dispose()
    return orgs["acme"]


def _row(request_id: str, org_id: str, at: datetime, cost: int) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        created_at=at,
        org_id=org_id,
        key_id="key",
        endpoint="chat.completions",
        model="llama",
        backend="b",
        status=200,
        streamed=False,
        prompt_tokens=100,
        completion_tokens=50,
        total_tokens=150,
        cost_micro_krw=cost,
    )


def test_create_list_and_show(config: Path, acme: str, tmp_path: Path) -> None:
    code, out, err = run(config, "invoices", "create", "--org", "acme", "--month", "2026-11", "--json")
    assert code == 0, err
    invoice = json.loads(out)
    assert invoice["id"] == "INV-2026-11-000001" and invoice["status"] == "issued"
    assert (invoice["subtotal_krw"], invoice["vat_krw"], invoice["total_krw"]) == (
        1_234_568,
        123_456,
        1_358_024,
    )
    assert [line["period_start"] for line in invoice["lines"]] == ["2026-11-01", "2026-11-16"]
    assert invoice["issuer"]["business_registration_number"] == "123-45-67890"
    assert invoice["issued_by"].startswith("cli:")

    code, out, _ = run(config, "invoices", "list", "--org", "acme", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)["data"]] == ["INV-2026-11-000001"]
    code, out, _ = run(config, "invoices", "list")
    assert code == 0 and "INV-2026-11-000001" in out and "1,358,024" in out
    assert run(config, "invoices", "list", "--org", "other", "--json")[1].count("INV-") == 0

    code, out, _ = run(config, "invoices", "show", "INV-2026-11-000001")
    assert code == 0 and json.loads(out)["total_krw"] == 1_358_024
    code, out, _ = run(config, "invoices", "show", "INV-2026-11-000001", "--format", "csv")
    assert code == 0 and [r["kind"] for r in csv.DictReader(io.StringIO(out))][-1] == "total"
    page = tmp_path / "invoice.html"
    code, _, err = run(
        config, "invoices", "show", "INV-2026-11-000001", "--format", "html", "--out", str(page)
    )
    assert code == 0 and str(page) in err
    html = page.read_text(encoding="utf-8")
    assert "₩1,358,024" in html and "2026년 11월" in html and "size: A4" in html
    code, out, _ = run(config, "invoices", "show", "INV-2026-11-000001", "--format", "html", "--lang", "en")
    assert code == 0 and "November 2026" in out

    code, out, _ = run(config, "audit", "list", "--json")
    assert code == 0 and "invoices.create" in out


def test_the_same_month_twice_is_refused_and_a_correction_supersedes(config: Path, acme: str) -> None:
    assert run(config, "invoices", "create", "--org", "acme", "--month", "2026-11")[0] == 0
    code, _, err = run(config, "invoices", "create", "--org", "acme", "--month", "2026-11")
    assert code == 1
    assert "already has invoice INV-2026-11-000001" in err and "Traceback" not in err

    code, out, err = run(
        config,
        "invoices",
        "create",
        "--org",
        "acme",
        "--month",
        "2026-11",
        "--corrects",
        "INV-2026-11-000001",
    )
    assert code == 0, err
    assert "issued INV-2026-11-000002" in out and "corrects INV-2026-11-000001" in out
    code, out, _ = run(config, "invoices", "show", "INV-2026-11-000001")
    assert json.loads(out)["superseded_by"] == "INV-2026-11-000002"


def test_preview_issues_nothing_and_an_open_month_is_refused(config: Path, acme: str) -> None:
    this_month = datetime.now(UTC).strftime("%Y-%m")
    code, _, err = run(config, "invoices", "create", "--org", "acme", "--month", this_month)
    assert code == 1 and "preview it instead" in err
    code, out, _ = run(
        config, "invoices", "create", "--org", "acme", "--month", "2026-11", "--preview", "--json"
    )
    assert code == 0 and json.loads(out)["status"] == "preview" and json.loads(out)["id"] is None
    code, out, _ = run(config, "invoices", "create", "--org", "acme", "--month", "2026-11", "--preview")
    assert code == 0 and out.startswith("preview (not issued): acme, 2026-11")
    assert json.loads(run(config, "invoices", "list", "--json")[1])["data"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--org", "nobody", "--month", "2026-11"), "no organisation named 'nobody'"),
        (("create", "--org", "acme", "--month", "2026-13"), "invalid month"),
        (("show", "INV-1999-01-000001"), "no invoice"),
        (("list", "--org", "nobody"), "no organisation named 'nobody'"),
    ],
)
def test_errors_are_one_line(config: Path, acme: str, args: tuple[str, ...], message: str) -> None:
    code, _, err = run(config, "invoices", *args)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1
