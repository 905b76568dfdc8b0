"""The residency report on SQLite and PostgreSQL: it equals a row-by-row recomputation from the same
ledger's records, at the month's edges and with rows of other organisations around."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from onshore.domain.residency import REFUSAL_CODES, Refusal, ResidencyReport, ServedUsage
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
BACKENDS = {"kr-a": "KR", "kr-b": "KR", "jp-a": "JP", "old": None}
# (status, error code, reached a backend)
OUTCOMES = (
    (200, None, True),
    (200, None, True),
    (502, "upstream_error", True),
    (403, "residency_unavailable", False),
    (503, "residency_unavailable", False),
    (400, "pii_detected", False),
    (503, "pii_check_failed", False),
    (429, "rate_limit_exceeded", False),
    (401, "invalid_api_key", False),
)


def record(i: int, **overrides: object) -> UsageRecord:
    base = UsageRecord(
        request_id=f"req_{i:05d}",
        created_at=START,
        org_id="org_a",
        key_id="key_a",
        endpoint="chat.completions",
        model="llama",
        backend=None,
        status=200,
        streamed=False,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def random_ledger(seed: int, n: int) -> list[UsageRecord]:
    rng = random.Random(seed)
    edges = [START - timedelta(microseconds=1), START, END - timedelta(microseconds=1), END]
    rows = []
    for i in range(n):
        status, code, served = rng.choice(OUTCOMES)
        backend = rng.choice(list(BACKENDS)) if served else None
        prompt = rng.randint(1, 500) if served else 0
        completion = rng.randint(0, 300) if status == 200 else 0
        when = rng.choice(edges) if i % 10 == 0 else START + timedelta(seconds=rng.randint(0, 29 * 86400))
        rows.append(
            record(
                i,
                created_at=when,
                org_id=rng.choice(["org_a", "org_a", "org_b"]),
                backend=backend,
                jurisdiction=BACKENDS[backend] if backend is not None else None,
                status=status,
                error_code=code,
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cost_micro_krw=rng.choice([None, rng.randint(0, 10**9)]) if served else None,
                pii_counts={"KR_RRN": 1} if code == "pii_detected" else None,
            )
        )
    return rows


def recomputed(records: list[UsageRecord], org_id: str) -> ResidencyReport:
    """The report by hand, one record at a time: what the SQL must equal."""
    served: dict[tuple[str | None, str], list[int]] = {}
    refusals: Counter[tuple[int, str]] = Counter()
    not_routed = 0
    for r in records:
        if r.error_code in REFUSAL_CODES:
            refusals[(r.status, r.error_code)] += 1  # type: ignore[index]
        if r.backend is None:
            not_routed += 1
            continue
        sums = served.setdefault((r.jurisdiction, r.backend), [0] * 6)
        for i, value in enumerate(
            (
                1,
                int(r.status >= 400),
                r.prompt_tokens,
                r.completion_tokens,
                r.total_tokens,
                r.cost_micro_krw or 0,
            )
        ):
            sums[i] += value
    rows = [ServedUsage(j, b, *sums) for (j, b), sums in served.items()]
    rows.sort(key=lambda s: (s.jurisdiction is None, s.jurisdiction or "", s.backend))
    return ResidencyReport(
        org_id=org_id,
        period_start=START,
        period_end=END,
        requests=len(records),
        not_routed_requests=not_routed,
        served=tuple(rows),
        refusals=tuple(Refusal(s, c, n) for (s, c), n in sorted(refusals.items())),
    )


def test_the_report_equals_a_recomputation_from_the_records(engine: Engine) -> None:
    ledger = SqlUsageStore(engine)
    ledger.write_batch(random_ledger(seed=11, n=600))

    for org_id in ("org_a", "org_b", "org_none"):
        records = ledger.records(START, END, org_id=org_id)
        report = ledger.residency(org_id, START, END)
        assert report == recomputed(records, org_id)
        assert report.requests == len(records)
        assert report.served_requests + report.not_routed_requests == report.requests
        assert report.total_tokens == sum(r.total_tokens for r in records)
        assert report.cost_micro_krw == sum(r.cost_micro_krw or 0 for r in records)
    full = ledger.residency("org_a", START, END)
    assert len(full.served) == len(BACKENDS) and len(full.refusals) == 4  # every kind was drawn


def test_a_small_ledger_by_hand(engine: Engine) -> None:
    ledger = SqlUsageStore(engine)
    ledger.write_batch(
        [
            record(
                1, backend="kr-a", jurisdiction="KR", prompt_tokens=10, completion_tokens=5, total_tokens=15
            ),
            record(2, backend="kr-b", jurisdiction="KR", prompt_tokens=1, total_tokens=1, cost_micro_krw=7),
            record(3, backend="jp-a", jurisdiction="JP", status=502, error_code="upstream_error"),
            record(4, status=403, error_code="residency_unavailable"),
            record(5, status=403, error_code="residency_unavailable", created_at=END),  # next month
            record(6, status=400, error_code="pii_detected", org_id="org_b"),  # another organisation
        ]
    )

    report = ledger.residency("org_a", START, END)

    assert report.served == (
        ServedUsage("JP", "jp-a", 1, failed_requests=1),
        ServedUsage("KR", "kr-a", 1, prompt_tokens=10, completion_tokens=5, total_tokens=15),
        ServedUsage("KR", "kr-b", 1, prompt_tokens=1, total_tokens=1, cost_micro_krw=7),
    )
    assert (report.requests, report.not_routed_requests) == (4, 1)
    assert report.refusals == (Refusal(403, "residency_unavailable", 1),)
    kr = report.by_jurisdiction()["KR"]
    assert (kr.requests, kr.total_tokens, kr.cost_micro_krw) == (2, 16, 7)
    assert ledger.residency("org_empty", START, END) == ResidencyReport("org_empty", START, END)
