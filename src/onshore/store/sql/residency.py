"""The residency report in SQL: one GROUP BY over one organisation's period of the ledger.

One statement rather than one per part (served, not routed, refusals): a statement reads one
snapshot on both SQLite and PostgreSQL, so the parts add up even while the ledger sink is writing
the current month; separate statements at READ COMMITTED could each see a different set of rows.
The groups are (jurisdiction, backend, status, error code): a few dozen rows for a month, folded
into the report's three parts here. Read through ``ix_usage_records_org_id_created_at``, like the
usage summary.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from onshore.domain.residency import REFUSAL_CODES, Refusal, ResidencyReport, ServedUsage, served_order
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.schema import usage_records

_SERVED_SUMS = ("requests", "failed_requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost")


def residency_report(engine: Engine, org_id: str, start: datetime, end: datetime) -> ResidencyReport:
    """``UsageReader.residency`` (see ``onshore.domain.residency`` for what adds up to what)."""
    t = usage_records.c

    def total(column: Any) -> Any:
        return func.coalesce(func.sum(column), 0)

    query = (
        select(
            t.jurisdiction,
            t.backend,
            t.status,
            t.error_code,
            func.count(),
            total(t.prompt_tokens),
            total(t.completion_tokens),
            total(t.total_tokens),
            total(t.cost_micro_krw),
        )
        .where(t.org_id == org_id, t.created_at >= start, t.created_at < end)
        .group_by(t.jurisdiction, t.backend, t.status, t.error_code)
    )
    with translate_errors("reporting residency"), engine.connect() as conn:
        groups = conn.execute(query).all()

    served: dict[tuple[str | None, str], list[int]] = {}
    refusals: Counter[tuple[int, str]] = Counter()
    not_routed = 0
    for jurisdiction, backend, status, code, count, prompt, completion, tokens, cost in groups:
        if code in REFUSAL_CODES:
            refusals[(int(status), str(code))] += int(count)
        if backend is None:
            not_routed += int(count)
            continue
        sums = served.setdefault((jurisdiction, str(backend)), [0] * len(_SERVED_SUMS))
        failed = int(count) if status >= 400 else 0
        for i, value in enumerate((count, failed, prompt, completion, tokens, cost)):
            sums[i] += int(value)
    rows = sorted(
        (ServedUsage(jurisdiction, backend, *sums) for (jurisdiction, backend), sums in served.items()),
        key=served_order,
    )
    return ResidencyReport(
        org_id=org_id,
        period_start=start,
        period_end=end,
        requests=sum(r.requests for r in rows) + not_routed,
        not_routed_requests=not_routed,
        served=tuple(rows),
        refusals=tuple(Refusal(status, code, n) for (status, code), n in sorted(refusals.items())),
    )
