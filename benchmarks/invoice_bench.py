"""How long issuing a monthly invoice takes for an organisation with 100,000 ledger rows in the month.

    .venv/bin/python benchmarks/invoice_bench.py [--rows 100000] [--noise 100000] [--repeat 5]
        [--admin-url postgresql://postgres@127.0.0.1:5432/test]

Creates a fresh PostgreSQL database (dropped at the end), migrates it, and fills the ledger through
the real writer (``SqlUsageStore.write_batch``, 5,000 rows a batch): ``--rows`` rows of one
organisation in November 2026, with a price change on the 16th and costs computed as the gateway
computes them, plus ``--noise`` rows of 20 other organisations in the same month. Then times, in
process and each ``--repeat`` times: the ledger read (``UsageReader.usage_days``), a preview
(``admin.billing.preview_invoice``), and issuing (``create_invoice``: the first issue, then
corrections, each a full recomputation, numbered, stored with its lines and audit entry in one
transaction). Checks every invoice's total against the ledger's sum to the micro-won.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from psycopg import sql

from onshore.admin import billing
from onshore.config.settings import Settings
from onshore.domain.audit import AuditEntry
from onshore.domain.invoice import Month
from onshore.domain.limits import Price, PriceBook
from onshore.domain.usage import UsageRecord
from onshore.store.sql import (
    SqlInvoiceStore,
    SqlLimitsStore,
    SqlTenancyStore,
    SqlUsageStore,
    make_engine,
    migrate,
)

NOV = Month(2026, 11)
AFTER = datetime(2026, 12, 2, tzinfo=UTC)
PRICES = [
    Price("llama-70b", date(2026, 1, 1), Decimal("1234.5"), Decimal("2345.678901"), Decimal("100.25")),
    Price("llama-70b", date(2026, 11, 16), Decimal(1500), Decimal(3000)),
    Price("qwen-7b", date(2026, 1, 1), Decimal(200), Decimal(400)),
    Price("bge-m3", date(2026, 1, 1), Decimal("13.7"), Decimal(0)),
]
BOOK = PriceBook(PRICES)
BATCH = 5000


class Ports:
    def __init__(self, engine: Any) -> None:
        self.tenancy = SqlTenancyStore(engine)
        self.usage = SqlUsageStore(engine)
        self.limits = SqlLimitsStore(engine)
        self.invoices = SqlInvoiceStore(engine)


def _rows(org_id: str, count: int, rng: random.Random, prefix: str) -> list[UsageRecord]:
    out = []
    for n in range(count):
        at = NOV.start + timedelta(microseconds=rng.randrange(30 * 86_400 * 1_000_000))
        model = rng.choice(("llama-70b", "llama-70b", "qwen-7b", "bge-m3"))
        prompt, completion = rng.randint(10, 8000), (0 if model == "bge-m3" else rng.randint(1, 2000))
        cached = rng.randint(0, prompt) if rng.random() < 0.3 else 0
        out.append(
            UsageRecord(
                request_id=f"{prefix}{n}",
                created_at=at,
                org_id=org_id,
                key_id="key_bench",
                endpoint="chat.completions",
                model=model,
                backend="pool-kr",
                status=200,
                streamed=False,
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cached_tokens=cached,
                latency_ms=100.0,
                cost_micro_krw=BOOK.cost_micro_krw(model, at.date(), prompt, completion, cached),
                jurisdiction="KR",
            )
        )
    return out


def _timed(action: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return times, result


def _ms(times: list[float]) -> str:
    median, low, high = (1000 * t for t in (statistics.median(times), min(times), max(times)))
    return f"median {median:.1f} ms (min {low:.1f}, max {high:.1f})"


def run(url: str, rows: int, noise: int, repeat: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    ports = Ports(engine)
    for price in PRICES:
        ports.limits.add_price(
            price, AuditEntry.create(actor="bench", action="prices.set", target_type="price")
        )
    target = ports.tenancy.create_org("acme")
    others = [ports.tenancy.create_org(f"other{i}") for i in range(20)]
    rng = random.Random(20261207)
    ledger = _rows(target.id, rows, rng, "acme-")
    ledger += [r for i, org in enumerate(others) for r in _rows(org.id, noise // len(others), rng, f"o{i}-")]
    rng.shuffle(ledger)
    started = time.perf_counter()
    for i in range(0, len(ledger), BATCH):
        ports.usage.write_batch(ledger[i : i + BATCH])
    fill = time.perf_counter() - started
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE usage_records")
    exact = sum(r.cost_micro_krw or 0 for r in ledger if r.org_id == target.id)
    print(f"ledger: {rows:,} rows of acme + {noise:,} of 20 other orgs in {NOV}, filled in {fill:.1f} s")

    with TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), backends=[])
        read, days = _timed(lambda: ports.usage.usage_days(target.id, NOV.start, NOV.end), repeat)
        print(f"usage_days (one GROUP BY, {len(days)} model-days): {_ms(read)}")
        preview, invoice = _timed(
            lambda: billing.preview_invoice(ports, "acme", NOV, settings=settings), repeat
        )
        print(f"preview_invoice: {_ms(preview)}")
        assert invoice.totals.ledger_micro_krw == exact, "the preview does not match the ledger"
        issued: list[Any] = []

        def issue() -> Any:
            corrects = issued[-1].id if issued else None
            new = billing.create_invoice(
                ports, "acme", NOV, actor="bench", settings=settings, corrects=corrects, now=AFTER
            )
            issued.append(new)
            return new

        create, last = _timed(issue, repeat)
        print(f"create_invoice (issue, then corrections): {_ms(create)}; first {create[0] * 1000:.1f} ms")
        assert all(i.totals.ledger_micro_krw == exact for i in issued), "an invoice does not match the ledger"
        totals = last.totals
        print(
            f"invoice {last.id}: {len(last.lines)} lines, subtotal {totals.subtotal_krw:,} won, VAT"
            f" {totals.vat_krw:,}, total {totals.total_krw:,}; ledger {exact:,} micro-won: equal"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--noise", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = f"onshore_invoice_bench_{random.randrange(1 << 32):08x}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        run(url, args.rows, args.noise, args.repeat)
    finally:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
