"""Which ledger rows are peak traffic, who sent them, which tier's SLO binds, and whether a fleet
carries its batch work: ``capacity_tiers`` and ``capacity_batch`` by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onshore.admin.capacity import CapacityOptions
from onshore.admin.capacity_batch import batch_fit
from onshore.admin.capacity_demand import ModelMatch
from onshore.admin.capacity_model import ModelPlan
from onshore.admin.capacity_report import slo_source, slo_text
from onshore.admin.capacity_tiers import (
    busiest_day,
    orgs_at,
    override_slos,
    split_demand,
    strictest_slo,
    tokens_by_day,
)
from onshore.domain.demand import HourlyDemand, OrgHourlyDemand, TokenStats
from onshore.domain.limits import Tier
from onshore.planner.catalog import gpu
from onshore.planner.cost import CostInputs, fleet_cost
from onshore.planner.demand import Demand
from onshore.planner.sim.workload import LengthDist
from onshore.planner.sizing import Candidate, CandidateResult, Slo

DAY = datetime(2026, 11, 3, tzinfo=UTC)
TIERS = {"org_p": Tier.PRIORITY, "org_b": Tier.BATCH}  # org_s: no tier set, so standard


def org_row(
    hour: int, org: str | None, requests: int, batch: bool = False, model: str = "chat"
) -> OrgHourlyDemand:
    tokens = TokenStats(requests * 100, 0.0, 0.0, 100)
    demand = HourlyDemand(DAY + timedelta(hours=hour), model, requests, 0, tokens, TokenStats(requests * 10))
    return OrgHourlyDemand(org, batch, demand)


ROWS = [
    org_row(9, "org_p", 30),
    org_row(9, "org_s", 50),
    org_row(9, "org_s", 500, batch=True),  # Batch API rows of a standard organisation
    org_row(9, None, 5),
    org_row(11, "org_b", 900),  # a batch-tier organisation: all its rows are batch work
    org_row(30, "org_s", 20),
]


def test_batch_api_rows_and_batch_tier_organisations_are_not_peak_traffic() -> None:
    split = split_demand(ROWS, TIERS)
    assert [(r.hour.hour, r.requests) for r in split.interactive] == [(9, 85), (6, 20)]
    assert [(r.hour.hour, r.requests) for r in split.batch] == [(9, 500), (11, 900)]
    assert split.interactive[0].prompt.total == 8500


def test_the_organisations_at_the_peak_with_their_tier_most_requests_first() -> None:
    orgs = orgs_at(ROWS, "chat", DAY + timedelta(hours=9), TIERS, {"org_p": "Acme", "org_s": "Press"})
    assert [(o.name, o.tier, o.demand.requests) for o in orgs] == [
        ("Press", Tier.STANDARD, 50),
        ("Acme", Tier.PRIORITY, 30),
        ("(no organisation)", Tier.STANDARD, 5),
    ]
    assert orgs[0].requests_per_s == pytest.approx(50 / 3600)
    assert orgs_at(ROWS, "other", DAY + timedelta(hours=9), TIERS, {}) == ()


def test_the_strictest_slo_of_the_tiers_present_binds() -> None:
    default = Slo(2000, 60)
    slos = {"priority": Slo(1000, 40)}
    assert strictest_slo([Tier.STANDARD, Tier.PRIORITY], slos, default) == (Slo(1000, 40), ("priority",))
    assert strictest_slo([Tier.STANDARD], slos, default) == (default, ("standard",))
    assert strictest_slo([], slos, default) == (default, ("standard",))
    # Nothing configured: every tier takes the default, and both are named.
    assert strictest_slo([Tier.PRIORITY, Tier.STANDARD], {}, default) == (default, ("priority", "standard"))
    # Each target is the smallest of the tiers': a tier may set one of them.
    mixed = {"priority": Slo(1000, 80), "standard": Slo(3000, 50)}
    assert strictest_slo([Tier.PRIORITY, Tier.STANDARD], mixed, default) == (
        Slo(1000, 50),
        ("priority", "standard"),
    )


def test_tokens_and_the_busiest_day() -> None:
    split = split_demand(ROWS, TIERS)
    assert tokens_by_day(split.interactive, "chat") == {DAY: 85 * 110, DAY + timedelta(days=1): 20 * 110}
    day = busiest_day(split.batch, "chat")
    assert day is not None and (day.hour, day.requests) == (DAY, 1400)
    assert busiest_day(split.batch, "other") is None


def fleet(rate: float, replicas: int) -> CandidateResult:
    c = Candidate("h100", 2, "fp8")
    cost = fleet_cost(gpu("h100"), replicas * 2, 1e9, 1e8)
    return CandidateResult(c, True, rate_per_replica=rate, replicas=replicas, cost=cost)


DEMAND = Demand(1e5, 1.0, 5.0, LengthDist(900, 0.5, 1, 16384), LengthDist(100, 0.5, 1, 16384))


def test_batch_work_that_fits_in_the_spare_capacity_adds_nothing() -> None:
    # One replica: 2 req/s x 1,000 tokens x 86,400 s = 172.8 M tokens a day; three: 518.4 M.
    fit = batch_fit(fleet(2.0, 3), DEMAND, {DAY: 400_000_000}, {DAY: 100_000_000}, 1.0, 5e7, CostInputs())
    assert fit is not None and fit.fits and fit.cost is None
    assert fit.replica_tokens == pytest.approx(172.8e6) and fit.capacity_tokens == pytest.approx(518.4e6)
    assert fit.spare_tokens == pytest.approx(118.4e6)
    assert fit.describe() == (
        "batch: 100.0 M tokens/day (busiest: 2026-11-03) fit in the spare capacity (118.4 M tokens/day)"
    )


def test_batch_work_beyond_the_spare_capacity_adds_replicas_on_its_tightest_day() -> None:
    interactive = {DAY: 400_000_000, DAY + timedelta(days=1): 100_000_000}
    batch = {DAY: 200_000_000, DAY + timedelta(days=1): 250_000_000}
    fit = batch_fit(fleet(2.0, 3), DEMAND, interactive, batch, 1.0, 5e7, CostInputs())
    # The first day is 81.6 M short (the second has room): one more replica of 172.8 M.
    assert fit is not None and fit.day == DAY and fit.extra_replicas == 1
    assert fit.cost is not None and fit.cost.gpus == 8  # four replicas of TP 2
    assert fit.describe().startswith("+1 replica for batch: 200.0 M tokens/day (busiest: 2026-11-03)")
    # Growth applies to both kinds of work: x1.5 leaves the first day 900 - 518.4 = 381.6 M short.
    grown = batch_fit(fleet(2.0, 3), DEMAND, interactive, batch, 1.5, 5e7, CostInputs())
    assert grown is not None and grown.extra_replicas == 3 and grown.batch_tokens == pytest.approx(3e8)
    assert batch_fit(fleet(2.0, 3), DEMAND, interactive, {}, 1.0, 0.0, CostInputs()) is None


def test_a_limit_given_for_the_run_replaces_that_target_of_every_tier() -> None:
    tier_slos = {"priority": Slo(1000, 40), "standard": Slo(3000, 90)}
    slo, tiers = override_slos(Slo(2000, 60), tier_slos, None, 100.0)
    assert slo == Slo(2000, 100) and tiers == {"priority": Slo(1000, 100), "standard": Slo(3000, 100)}
    present = [Tier.PRIORITY, Tier.STANDARD]
    # TPOT was typed for every tier, so only the TTFT names a tier (priority's 1,000 ms).
    assert strictest_slo(present, tiers, slo, ("tpot_p99_ms",)) == (Slo(1000, 100), ("priority",))
    both, both_tiers = override_slos(Slo(2000, 60), tier_slos, 500.0, 30.0)
    assert strictest_slo(present, both_tiers, both, ("ttft_p99_ms", "tpot_p99_ms")) == (Slo(500, 30), ())
    assert override_slos(Slo(2000, 60), tier_slos, None, None) == (Slo(2000, 60), tier_slos)


def test_the_report_names_who_set_each_target_for_the_run() -> None:
    opts = CapacityOptions().with_slo_override(2500.0, 80.0, {"ttft_p99_ms": "scenario file"})
    assert opts.slo_overridden == ("ttft_p99_ms", "tpot_p99_ms")
    assert opts.slo_set_by == {"ttft_p99_ms": "scenario file", "tpot_p99_ms": "command line"}

    def model(overridden: tuple[str, ...], set_by: dict[str, str]) -> ModelPlan:
        peak = org_row(9, "org_p", 30).demand
        match = ModelMatch("chat", "llama-3.1-8b", "its own name")
        return ModelPlan(
            match,
            30,
            peak,
            slo=Slo(2500, 80),
            slo_tiers=("priority",),
            slo_overridden=overridden,
            slo_set_by=set_by,
        )

    mixed = model(opts.slo_overridden, dict(opts.slo_set_by))
    assert slo_text(mixed) == "2,500 / 80 (TTFT: scenario file; TPOT: command line)"
    assert slo_source(mixed) == {"ttft_p99_ms": "scenario file", "tpot_p99_ms": "command line"}
    from_file = model(("tpot_p99_ms",), {"tpot_p99_ms": "scenario file"})
    assert slo_text(from_file) == "2,500 / 80 (TTFT: priority; TPOT: scenario file)"
    assert slo_source(from_file) == {"ttft_p99_ms": "config", "tpot_p99_ms": "scenario file"}
    typed = model(("ttft_p99_ms", "tpot_p99_ms"), {})  # as before the file: typed flags
    assert slo_text(typed) == "2,500 / 80 (command line)"
