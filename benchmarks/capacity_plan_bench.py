"""Capacity plan from the ledger: how long ``hourly_demand``, ``org_hourly_demand`` and ``plan_capacity``
take.

A generated month on a SQLite file (or ``--url`` PostgreSQL): a diurnal pattern of ``--rows``
billable requests over two models ("chat" planned as Llama 3.1 8B, "big" as Llama 3.1 70B), plus an
embeddings model the planner does not know, from seven organisations, 5 % of the chat rows Batch API
requests. Then the plan with the console's default search
(``CapacityOptions()``: H100/H200/B200, TP 1-8, FP8), serially, as the console runs it.

    cat /proc/loadavg; taskset -c 1 .venv/bin/python benchmarks/capacity_plan_bench.py
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from onshore.admin.capacity import CapacityOptions, plan_capacity
from onshore.domain.limits import Limits, Tier
from onshore.domain.tenancy import Organisation
from onshore.domain.usage import UsageRecord
from onshore.ports import LimitsSnapshot
from onshore.store.sql import SqlUsageStore, make_engine
from onshore.store.sql.migrate import upgrade

START = datetime(2026, 11, 1, tzinfo=UTC)


class Ledger:
    def __init__(self, usage: SqlUsageStore) -> None:
        self.usage = usage
        self.tenancy = self
        self.limits = self

    def get_org_by_name(self, name: str) -> Organisation | None:
        return None

    def list_orgs(self) -> list[Organisation]:
        return []

    def limits_snapshot(self) -> LimitsSnapshot:
        return LimitsSnapshot({"org_0": Limits(tier=Tier.PRIORITY)}, {}, [], 1)


def generate(rows: int, seed: int = 0) -> list[UsageRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        day = rng.randrange(30)
        # Evening peak: hours weighted by a cosine around 21:00 KST (12:00 UTC).
        hour = int(rng.triangular(0, 24, 12)) % 24
        when = START + timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3599))
        model = rng.choices(["chat", "big", "embed"], [0.7, 0.25, 0.05])[0]
        prompt = max(1, round(rng.lognormvariate(math.log(1200) - 0.4, 0.9)))
        output = 0 if model == "embed" else max(1, round(rng.lognormvariate(math.log(400) - 0.25, 0.7)))
        out.append(
            UsageRecord(
                request_id=f"r{i:08d}",
                created_at=when,
                org_id=f"org_{i % 7}",
                key_id="k",
                endpoint="chat.completions",
                model=model,
                backend="b",
                status=200,
                streamed=rng.random() < 0.6,
                prompt_tokens=prompt,
                completion_tokens=output,
                total_tokens=prompt + output,
                batch_id="batch_1" if model == "chat" and rng.random() < 0.05 else None,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--url", default=None, help="a migrated database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        store = SqlUsageStore(engine)
        records = generate(args.rows)
        for i in range(0, len(records), 20_000):
            store.write_batch(records[i : i + 20_000])
        t0, c0 = time.perf_counter(), time.process_time()
        hourly = store.hourly_demand(START, START + timedelta(days=30))
        read_s, read_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"hourly_demand: {len(hourly)} groups from {args.rows:,} rows in {read_s:.2f} s wall, "
            f"{read_cpu:.2f} s CPU of this process"
        )
        t0, c0 = time.perf_counter(), time.process_time()
        by_org = store.org_hourly_demand(START, START + timedelta(days=30))
        read_s, read_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"org_hourly_demand: {len(by_org)} groups from {args.rows:,} rows in {read_s:.2f} s wall, "
            f"{read_cpu:.2f} s CPU of this process"
        )
        options = CapacityOptions(model_map={"chat": "llama-3.1-8b", "big": "llama-3.1-70b"})
        cpu0 = time.process_time()
        plan = plan_capacity(Ledger(store), month="2026-11", growth_percent=20, options=options)
        cpu = time.process_time() - cpu0
        print(plan.message)
        for m in plan.models:
            best = m.best
            label = best.candidate.label if best else "-"
            gpus = best.cost.gpus if best and best.cost else 0
            results = m.sizing.results if m.sizing else ()
            simulated = sum(1 for r in results if not r.reason.startswith("not simulated"))
            print(
                f"  {m.served}: {label}, {gpus} GPUs ({simulated} of {len(results)} configurations simulated)"
            )
        print(
            f"plan_capacity: {plan.elapsed_s:.1f} s wall, {cpu:.1f} s CPU (ledger read included), "
            f"html {len(plan.html):,} bytes"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
