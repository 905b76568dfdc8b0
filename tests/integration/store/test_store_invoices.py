"""Invoices on SQLite and PostgreSQL: totals equal the ledger to the won on a month with a price change
in the middle, issued invoices never change, numbers are unique and sequential, a correction names
the invoice it corrects, and no other organisation's usage ever appears."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from onshore.admin import billing
from onshore.config.settings import BillingSettings, Settings
from onshore.domain.audit import AuditEntry
from onshore.domain.invoice import Month
from onshore.domain.limits import Price, PriceBook
from onshore.domain.usage import UsageRecord
from onshore.errors import Conflict, InvalidRequest, NotFound
from onshore.store.sql import SqlAuditLog, SqlInvoiceStore, SqlLimitsStore, SqlTenancyStore, SqlUsageStore
from onshore.store.sql.engine import make_engine

NOV = Month(2026, 11)
AFTER = datetime(2026, 12, 2, tzinfo=UTC)  # November is over and settled
OLD = Price("chat", date(2026, 1, 1), Decimal("1234.5"), Decimal("2345.678901"), Decimal("100.25"))
NEW = Price("chat", date(2026, 11, 16), Decimal(1500), Decimal(3000))  # cached input: input's price
EMBED = Price("embed", date(2026, 1, 1), Decimal("13.7"), Decimal(0))
BOOK = PriceBook([OLD, NEW, EMBED])


@dataclass
class Ports:
    tenancy: SqlTenancyStore
    usage: SqlUsageStore
    limits: SqlLimitsStore
    invoices: SqlInvoiceStore


@pytest.fixture
def seoul_engine(database_url: str) -> Iterator[Engine]:
    """The engine, with PostgreSQL sessions in Seoul's time zone: UTC days must not depend on it."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _seoul(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'Asia/Seoul'")
            dbapi_connection.commit()

    yield engine
    engine.dispose()


@pytest.fixture
def ports(seoul_engine: Engine) -> Ports:
    p = Ports(
        SqlTenancyStore(seoul_engine),
        SqlUsageStore(seoul_engine),
        SqlLimitsStore(seoul_engine),
        SqlInvoiceStore(seoul_engine),
    )
    for price in (OLD, NEW, EMBED):
        p.limits.add_price(price, AuditEntry.create(actor="t", action="prices.set", target_type="price"))
    return p


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, billing=BillingSettings(issuer_name="Onshore DC", vat_rate=Decimal("0.1"))
    )


def _row(
    n: int, org_id: str, at: datetime, model: str | None, rng: random.Random, **changes: Any
) -> UsageRecord:
    prompt, cached, completion = rng.randint(1, 5000), 0, rng.randint(0, 3000)
    if rng.random() < 0.3:
        cached = rng.randint(0, prompt)
    cost = None if model is None else BOOK.cost_micro_krw(model, at.date(), prompt, completion, cached)
    record = UsageRecord(
        request_id=f"{org_id}-{n}",
        created_at=at,
        org_id=org_id,
        key_id="key",
        endpoint="chat.completions",
        model=model,
        backend="b",
        status=200,
        streamed=False,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=cached,
        cost_micro_krw=cost,
    )
    return replace(record, **changes)


def _ledger(org_id: str, rows: int, seed: int) -> list[UsageRecord]:
    """A month of one org's ledger, the day boundaries of the price change and the month included,
    rows of the months beside it, a model without a price and refused requests."""
    rng = random.Random(seed)
    out = [
        _row(
            n,
            org_id,
            NOV.start + timedelta(seconds=rng.randrange(30 * 86400)),
            rng.choice(["chat", "embed"]),
            rng,
        )
        for n in range(rows)
    ]
    edges = [
        NOV.start,
        datetime(2026, 11, 15, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 16, tzinfo=UTC),
        NOV.end - timedelta(microseconds=1),
    ]
    out += [_row(rows + i, org_id, at, "chat", rng) for i, at in enumerate(edges)]
    out.append(_row(rows + 10, org_id, NOV.start - timedelta(microseconds=1), "chat", rng))  # October
    out.append(_row(rows + 11, org_id, NOV.end, "chat", rng))  # December
    out.append(_row(rows + 12, org_id, NOV.start + timedelta(days=3), "unpriced", rng))
    out.append(
        _row(
            rows + 13,
            org_id,
            NOV.start + timedelta(days=4),
            "chat",
            rng,
            status=429,
            prompt_tokens=0,
            completion_tokens=0,
            total_tokens=0,
            cached_tokens=0,
            cost_micro_krw=None,
        )
    )
    return out


def _november_cost(rows: list[UsageRecord], org_id: str) -> int:
    return sum(
        r.cost_micro_krw or 0 for r in rows if r.org_id == org_id and NOV.start <= r.created_at < NOV.end
    )


def test_totals_equal_the_ledger_to_the_won_across_a_price_change(ports: Ports, settings: Settings) -> None:
    acme = ports.tenancy.create_org("acme")
    other = ports.tenancy.create_org("other")
    rows = _ledger(acme.id, 600, seed=1) + _ledger(other.id, 200, seed=2)
    ports.usage.write_batch(rows)
    ledger = _november_cost(rows, acme.id)

    invoice = billing.create_invoice(ports, "acme", "2026-11", actor="test", settings=settings, now=AFTER)

    totals = invoice.totals
    assert totals.ledger_micro_krw == ledger
    assert totals.ledger_micro_krw == ports.usage.summary(acme.id, NOV.start, NOV.end).cost_micro_krw
    assert totals.subtotal_krw == ledger // 1_000_000
    assert totals.vat_krw == totals.subtotal_krw // 10
    assert totals.total_krw == totals.subtotal_krw + totals.vat_krw
    assert sum(line.amount_krw for line in invoice.lines) + totals.adjustment_krw == totals.subtotal_krw
    periods = [(ln.model, ln.period_start.day, ln.period_end.day, ln.input_price_krw) for ln in invoice.lines]
    assert periods == [
        ("chat", 1, 15, Decimal("1234.5")),
        ("chat", 16, 30, Decimal(1500)),
        ("embed", 1, 30, Decimal("13.7")),
        ("unpriced", 1, 30, None),
    ]
    # Each line holds exactly its period's rows (the boundary rows on the right side of midnight UTC).
    for line in invoice.lines:
        mine = [
            r
            for r in rows
            if r.org_id == acme.id
            and r.model == line.model
            and r.status == 200
            and line.period_start <= r.created_at.date() <= line.period_end
            and r.created_at < NOV.end
        ]
        assert line.amount_micro_krw == sum(r.cost_micro_krw or 0 for r in mine)
        assert line.requests == len(mine)
        assert line.cached_tokens == sum(r.cached_tokens for r in mine)
        assert line.input_tokens == sum(r.prompt_tokens - r.cached_tokens for r in mine)
        assert line.output_tokens == sum(r.completion_tokens for r in mine)
    # Read back, it is the same invoice.
    assert ports.invoices.get(invoice.id or "") == invoice


def test_another_orgs_usage_never_appears(ports: Ports, settings: Settings) -> None:
    acme = ports.tenancy.create_org("acme")
    other = ports.tenancy.create_org("other")
    ports.usage.write_batch(_ledger(other.id, 50, seed=3))

    empty = billing.create_invoice(ports, "acme", NOV, actor="test", settings=settings, now=AFTER)
    theirs = billing.create_invoice(ports, "other", NOV, actor="test", settings=settings, now=AFTER)

    assert (empty.org_id, empty.lines, empty.totals.total_krw) == (acme.id, (), 0)
    assert theirs.totals.ledger_micro_krw > 0
    assert [i.id for i in billing.list_invoices(ports, "acme")] == [empty.id]


def test_an_issued_invoice_cannot_be_changed(ports: Ports, settings: Settings, seoul_engine: Engine) -> None:
    acme = ports.tenancy.create_org("acme")
    ports.usage.write_batch(_ledger(acme.id, 20, seed=4))
    invoice = billing.create_invoice(ports, "acme", NOV, actor="test", settings=settings, now=AFTER)

    # The store offers no way to change or remove one ...
    assert not [
        name for name in dir(ports.invoices) if name.startswith(("update", "delete", "remove", "set"))
    ]
    # ... and the database refuses it by hand (a trigger on both databases).
    for statement in (
        "UPDATE invoices SET total_krw = 0",
        "DELETE FROM invoices",
        "UPDATE invoice_lines SET amount_micro_krw = 0",
        "DELETE FROM invoice_lines",
    ):
        with pytest.raises(DBAPIError, match="immutable"), seoul_engine.begin() as conn:
            conn.execute(text(statement))
    assert ports.invoices.get(invoice.id or "") == invoice


def test_numbers_are_unique_and_sequential_across_writers(ports: Ports, settings: Settings) -> None:
    names = [f"org{i}" for i in range(6)]
    for name in names:
        ports.tenancy.create_org(name)
    issued: list[str] = []
    errors: list[BaseException] = []

    def issue(name: str) -> None:
        try:
            invoice = billing.create_invoice(ports, name, NOV, actor="test", settings=settings, now=AFTER)
            issued.append(invoice.id or "")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(issued) == [f"INV-2026-11-{n:06d}" for n in range(1, 7)]
    later = billing.create_invoice(ports, "org0", "2026-10", actor="test", settings=settings, now=AFTER)
    assert (later.id, later.seq) == ("INV-2026-10-000007", 7)


def test_the_same_month_twice_is_refused_even_at_once(ports: Ports, settings: Settings) -> None:
    ports.tenancy.create_org("acme")
    outcomes: list[object] = []

    def issue() -> None:
        try:
            outcomes.append(
                billing.create_invoice(ports, "acme", NOV, actor="test", settings=settings, now=AFTER)
            )
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(outcomes) == 4 and len(refused) == 3
    assert {exc.code for exc in refused} == {"invoice_exists"}
    assert len(ports.invoices.list()) == 1
    # The refused ones gave their numbers back: the next is 2.
    assert billing.create_invoice(ports, "acme", "2026-10", actor="t", settings=settings, now=AFTER).seq == 2


def test_a_correction_references_the_old_invoice_which_is_never_modified(
    ports: Ports, settings: Settings, seoul_engine: Engine
) -> None:
    acme = ports.tenancy.create_org("acme")
    ports.tenancy.create_org("other")
    rows = _ledger(acme.id, 30, seed=5)
    ports.usage.write_batch(rows)
    first = billing.create_invoice(ports, "acme", NOV, actor="test", settings=settings, now=AFTER)
    with pytest.raises(Conflict) as exists:
        billing.create_invoice(ports, "acme", NOV, actor="test", settings=settings, now=AFTER)
    assert exists.value.code == "invoice_exists" and str(first.id) in exists.value.message

    # A late ledger row (a replayed spool) is billed by the correction.
    late = _row(999, acme.id, datetime(2026, 11, 20, tzinfo=UTC), "chat", random.Random(9))
    ports.usage.write_batch([late])
    with seoul_engine.connect() as conn:
        before = conn.execute(text("SELECT * FROM invoices ORDER BY seq")).all()
    second = billing.create_invoice(
        ports, "acme", NOV, actor="test", settings=settings, corrects=first.id, now=AFTER
    )

    assert (second.corrects, second.revision) == (first.id, 1)
    assert second.totals.ledger_micro_krw == first.totals.ledger_micro_krw + (late.cost_micro_krw or 0)
    old = billing.get_invoice(ports, first.id or "")
    assert old.superseded_by == second.id
    assert replace(old, superseded_by=None) == first
    with seoul_engine.connect() as conn:
        assert conn.execute(text("SELECT * FROM invoices ORDER BY seq")).all()[:1] == before
    with pytest.raises(Conflict) as superseded:
        billing.create_invoice(
            ports, "acme", NOV, actor="test", settings=settings, corrects=first.id, now=AFTER
        )
    assert superseded.value.code == "invoice_superseded"
    with pytest.raises(InvalidRequest):
        billing.create_invoice(
            ports, "other", NOV, actor="test", settings=settings, corrects=second.id, now=AFTER
        )
    with pytest.raises(NotFound):
        billing.create_invoice(
            ports, "acme", NOV, actor="t", settings=settings, corrects="INV-1999-01-000001", now=AFTER
        )
    # The correction of the correction is the month's third revision.
    third = billing.create_invoice(
        ports, "acme", NOV, actor="t", settings=settings, corrects=second.id, now=AFTER
    )
    assert third.revision == 2
    assert [i.id for i in billing.list_invoices(ports, "acme")] == [third.id, second.id, first.id]


def test_a_month_not_over_is_refused_but_can_be_previewed(ports: Ports, settings: Settings) -> None:
    acme = ports.tenancy.create_org("acme")
    ports.usage.write_batch(_ledger(acme.id, 10, seed=6))
    settling = NOV.end + timedelta(minutes=30)  # over, but not for settle_minutes (60)

    with pytest.raises(InvalidRequest) as refused:
        billing.create_invoice(ports, "acme", NOV, actor="test", settings=settings, now=settling)
    preview = billing.preview_invoice(ports, "acme", NOV, settings=settings, now=settling)

    assert refused.value.code == "month_not_closed"
    assert preview.id is None and preview.totals.ledger_micro_krw > 0
    assert ports.invoices.list() == []


def test_issuing_writes_one_audit_entry_with_the_invoice(
    ports: Ports, settings: Settings, seoul_engine: Engine
) -> None:
    ports.tenancy.create_org("acme")
    invoice = billing.create_invoice(ports, "acme", NOV, actor="cli:ops", settings=settings, now=AFTER)

    entries = [e for e in SqlAuditLog(seoul_engine).entries(limit=10) if e.action == "invoices.create"]

    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.target_type, entry.target_id, entry.org_id) == (
        "cli:ops",
        "invoice",
        invoice.id,
        invoice.org_id,
    )
    assert entry.detail["total_krw"] == invoice.totals.total_krw and entry.detail["month"] == "2026-11"
    assert entry.seq is not None  # chained like every other entry
