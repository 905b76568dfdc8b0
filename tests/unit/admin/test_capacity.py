"""The capacity plan on the ledger's demand: the busiest hour, the planner's demand built from it,
the model mapping, and what comes back when there is nothing to plan."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onshore.admin.capacity import CapacityOptions, plan_capacity, previous_month
from onshore.admin.capacity_demand import busiest_hour, match_model, model_peaks, planner_demand
from onshore.config.settings import Settings
from onshore.domain.demand import HourlyDemand, OrgHourlyDemand, TokenStats
from onshore.domain.limits import Limits, Tier
from onshore.domain.tenancy import Organisation
from onshore.errors import InvalidRequest, NotFound
from onshore.planner.disagg_sizing import DisaggCandidate, size_disagg
from onshore.planner.executor import SerialExecutor
from onshore.planner.sizing import Slo
from onshore.ports import LimitsSnapshot

NOV = datetime(2026, 11, 1, tzinfo=UTC)
SMALL = CapacityOptions(
    gpus=("h100",),
    tensor_parallel=(1,),
    precisions=("fp8",),
    slo=Slo(2000, 80),
    model_map={"chat": "llama-3.1-8b"},
)


def stats(tokens: Sequence[int]) -> TokenStats:
    logs = [math.log(max(t, 1)) for t in tokens]
    return TokenStats(sum(tokens), sum(logs), sum(x * x for x in logs), max(tokens, default=0))


def row(
    hour: int, model: str, prompts: Sequence[int], completions: Sequence[int], streamed: int = 0
) -> HourlyDemand:
    return HourlyDemand(
        NOV + timedelta(hours=hour), model, len(prompts), streamed, stats(prompts), stats(completions)
    )


@dataclass
class FakeLedger:
    """``tenancy``, ``limits`` and ``usage`` as ``plan_capacity`` reads them; records what it was asked.

    ``rows`` are one organisation's interactive traffic; ``org_rows`` any other (batch work included).
    """

    rows: list[HourlyDemand] = field(default_factory=list)
    orgs: dict[str, str] = field(default_factory=dict)  # name -> id
    org_rows: list[OrgHourlyDemand] = field(default_factory=list)
    tiers: dict[str, Tier] = field(default_factory=dict)  # org id -> tier
    asked: list[tuple[datetime, datetime, str | None]] = field(default_factory=list)

    @property
    def tenancy(self) -> Any:
        return self

    @property
    def usage(self) -> Any:
        return self

    @property
    def limits(self) -> Any:
        return self

    def get_org_by_name(self, name: str) -> Organisation | None:
        org_id = self.orgs.get(name)
        return None if org_id is None else Organisation(org_id, name, NOV)

    def list_orgs(self) -> list[Organisation]:
        return [Organisation(org_id, name, NOV) for name, org_id in self.orgs.items()]

    def limits_snapshot(self) -> LimitsSnapshot:
        return LimitsSnapshot({o: Limits(tier=t) for o, t in self.tiers.items()}, {}, [], 1)

    def org_hourly_demand(
        self, start: datetime, end: datetime, org_id: str | None = None
    ) -> list[OrgHourlyDemand]:
        self.asked.append((start, end, org_id))
        rows = [OrgHourlyDemand("org_1", False, r) for r in self.rows] + self.org_rows
        return [r for r in rows if start <= r.hour < end and org_id in (None, r.org_id)]


def test_the_busiest_hour_is_found_with_its_model_mix() -> None:
    rows = [
        row(3, "chat", [100] * 10, [50] * 10),
        row(14, "chat", [200] * 30, [80] * 30, streamed=15),
        row(14, "embed", [30] * 20, [0] * 20),
        row(20, "chat", [100] * 45, [10] * 45),  # the busiest for chat alone, not overall
    ]
    peak = busiest_hour(rows)
    assert peak is not None
    assert peak.start == NOV + timedelta(hours=14)
    assert (peak.requests, peak.streamed) == (50, 15)
    assert peak.prompt.total == 30 * 200 + 20 * 30 and peak.completion.total == 30 * 80
    assert [m.model for m in peak.models] == ["chat", "embed"]
    assert peak.requests_per_s == pytest.approx(50 / 3600)
    assert model_peaks(rows)["chat"].hour == NOV + timedelta(hours=20)
    assert busiest_hour([]) is None


def test_equal_hours_take_the_earliest() -> None:
    rows = [row(9, "chat", [1] * 5, [1] * 5), row(2, "chat", [1] * 5, [1] * 5)]
    peak = busiest_hour(rows)
    assert peak is not None and peak.start == NOV + timedelta(hours=2)
    assert model_peaks(rows)["chat"].hour == NOV + timedelta(hours=2)


def test_planner_demand_by_hand() -> None:
    prompts = [100, 400, 1600, 100]
    peak = row(5, "chat", prompts, [10, 20, 30, 40])
    d = planner_demand(peak, period_requests=72_000, days=30, factor=1.2)
    assert d.peak_rps == pytest.approx(4 / 3600 * 1.2)
    assert d.daily_requests == pytest.approx(72_000 / 30 * 1.2)
    assert d.average_rps == pytest.approx(72_000 / 30 * 1.2 / 86_400)
    assert d.prompt.mean == pytest.approx(550)
    logs = [math.log(p) for p in prompts]
    mu = sum(logs) / 4
    assert d.prompt.sigma == pytest.approx(math.sqrt(sum((x - mu) ** 2 for x in logs) / 4))
    assert d.output.mean == pytest.approx(25)
    assert d.prompt.high >= 16_384


def test_models_are_matched_by_mapping_name_or_upstream_and_never_guessed() -> None:
    mapping = {"chat": "llama-3.1-70b", "typo": "llama-9"}
    upstreams = {"hf": ("meta-llama/Llama-3.1-8B-Instruct",)}
    assert match_model("chat", mapping, upstreams).planner_model == "llama-3.1-70b"
    assert match_model("qwen3-32b", mapping, upstreams).planner_model == "qwen3-32b"
    assert match_model("hf", mapping, upstreams).planner_model == "llama-3.1-8b"
    bad = match_model("typo", mapping, upstreams)
    assert bad.planner_model is None and "llama-9" in bad.how
    unknown = match_model("all-minilm-l6-v2", mapping, upstreams)
    assert unknown.planner_model is None and "planner.models" in unknown.how


def test_options_from_settings_take_the_planner_section_and_upstream_names(tmp_path: Any) -> None:
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path),
            "planner": {"models": {"chat": "llama-3.1-8b"}, "gpus": ["b200"], "tpot_p99_ms": 45},
            "backends": [
                {
                    "name": "vllm",
                    "url": "http://127.0.0.1:9/v1",
                    "models": [{"name": "big", "upstream_name": "meta-llama/Llama-3.1-70B-Instruct"}],
                }
            ],
        }
    )
    opts = CapacityOptions.from_settings(settings, precisions=("fp4",))
    assert opts.gpus == ("b200",) and opts.precisions == ("fp4",) and opts.slo.tpot_p99_ms == 45
    assert opts.model_map == {"chat": "llama-3.1-8b"}
    assert match_model("big", opts.model_map, opts.upstreams).planner_model == "llama-3.1-70b"


def test_an_empty_month_says_so() -> None:
    ledger = FakeLedger(rows=[row(3, "chat", [10], [10])])  # November; October is asked
    plan = plan_capacity(ledger, month="2026-10", options=SMALL)
    assert plan.peak is None and plan.models == ()
    assert plan.message == "no traffic in 2026-10"
    assert "no traffic in 2026-10" in plan.html
    assert ledger.asked == [(datetime(2026, 10, 1, tzinfo=UTC), NOV, None)]


def test_the_default_month_is_the_last_complete_one() -> None:
    assert previous_month(datetime(2027, 1, 3, tzinfo=UTC)) == "2026-12"
    assert previous_month(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == "2026-11"
    ledger = FakeLedger()
    plan = plan_capacity(ledger, options=SMALL, now=datetime(2026, 12, 5, tzinfo=UTC))
    assert plan.month == "2026-11" and ledger.asked[0][:2] == (NOV, datetime(2026, 12, 1, tzinfo=UTC))


def test_an_organisation_is_looked_up_by_name() -> None:
    ledger = FakeLedger(orgs={"acme": "org_1"})
    plan = plan_capacity(ledger, month="2026-11", org_name="acme", options=SMALL)
    assert ledger.asked[0][2] == "org_1" and plan.message == "no traffic in 2026-11 for acme"
    with pytest.raises(NotFound):
        plan_capacity(ledger, month="2026-11", org_name="nobody", options=SMALL)


@pytest.mark.parametrize("growth", [-100.0, -250.0, math.nan, math.inf])
def test_growth_must_leave_some_demand(growth: float) -> None:
    with pytest.raises(InvalidRequest):
        plan_capacity(FakeLedger(), month="2026-11", growth_percent=growth, options=SMALL)


def test_bad_search_options_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequest):
        plan_capacity(FakeLedger(), month="2026-11", options=CapacityOptions(gpus=("h900",)))
    with pytest.raises(InvalidRequest):
        plan_capacity(FakeLedger(), month="2026-11", options=CapacityOptions(objective="speed"))


def test_a_plan_sizes_each_mapped_model_at_its_peak_and_names_the_rest() -> None:
    ledger = FakeLedger(
        rows=[
            row(10, "chat", [800] * 3000, [200] * 3000, streamed=3000),
            row(10, "all-minilm-l6-v2", [40] * 500, [0] * 500),
            row(11, "chat", [600] * 1000, [150] * 1000),
            row(12, "<b>odd</b>", [10] * 5, [5] * 5),
        ]
    )
    seen: list[tuple[int, int]] = []
    plan = plan_capacity(
        ledger,
        month="2026-11",
        growth_percent=20,
        options=SMALL,
        now=datetime(2026, 12, 5, tzinfo=UTC),
        on_progress=lambda done, total: seen.append((done, total)),
    )
    peak = plan.peak
    assert peak is not None and peak.start == NOV + timedelta(hours=10) and peak.requests == 3500
    assert plan.requests == 4505
    chat = next(m for m in plan.models if m.served == "chat")
    assert chat.demand is not None and chat.sizing is not None
    assert chat.demand.peak_rps == pytest.approx(3000 / 3600 * 1.2)
    assert chat.demand.prompt.mean == pytest.approx(800) and chat.demand.output.mean == pytest.approx(200)
    assert chat.demand.daily_requests == pytest.approx(4000 / 30 * 1.2)
    assert chat.best is not None and plan.total_gpus == chat.best.replicas
    assert sorted(m.served for m in plan.not_sized) == ["<b>odd</b>", "all-minilm-l6-v2"]
    assert "not sized" in plan.message
    assert seen[-1] == (1, 1)
    html = plan.html
    assert "2026-11-01 10:00" in html and "3,500 requests" in html
    assert html.count("<svg") == 3 and "grown by 20 %" in html
    assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;" in html
    assert plan.elapsed_s > 0


def batch_row(hour: int, model: str, requests: int, tokens: int) -> OrgHourlyDemand:
    demand = HourlyDemand(NOV + timedelta(hours=hour), model, requests, 0, TokenStats(tokens), TokenStats(0))
    return OrgHourlyDemand("org_1", True, demand)


def test_tiers_set_the_slo_and_batch_work_beyond_the_spare_capacity_adds_replicas() -> None:
    priority = OrgHourlyDemand("org_p", False, row(10, "chat", [800] * 1000, [200] * 1000))
    ledger = FakeLedger(
        rows=[row(10, "chat", [800] * 2000, [200] * 2000), row(11, "chat", [800] * 500, [200] * 500)],
        orgs={"acme": "org_p", "press": "org_1"},
        org_rows=[
            priority,
            batch_row(10, "chat", 10_000, 20_000_000_000),  # in the peak hour, far beyond one replica's day
            batch_row(24 * 3 + 5, "summ", 43_200, 43_200_000),  # a model with batch work only
            batch_row(24 * 3 + 6, "summ", 43_200, 43_200_000),
            batch_row(24 * 4 + 5, "summ", 20_000, 20_000_000),
        ],
        tiers={"org_p": Tier.PRIORITY},
    )
    options = dataclasses.replace(
        SMALL,
        tier_slos={"priority": Slo(1500, 50)},
        model_map={"chat": "llama-3.1-8b", "summ": "llama-3.1-8b"},
    )
    plan = plan_capacity(ledger, month="2026-11", options=options, now=datetime(2026, 12, 5, tzinfo=UTC))
    assert plan.peak is not None and plan.peak.requests == 3000  # no batch work in the peak
    assert plan.batch_requests == 10_000 + 43_200 * 2 + 20_000
    chat = next(m for m in plan.models if m.served == "chat")
    assert [(o.name, o.tier, o.demand.requests) for o in chat.orgs] == [
        ("press", Tier.STANDARD, 2000),
        ("acme", Tier.PRIORITY, 1000),
    ]
    assert chat.slo == Slo(1500, 50) and chat.slo_tiers == ("priority",)
    assert chat.sizing is not None and chat.sizing.slo == Slo(1500, 50)
    assert chat.demand is not None and chat.demand.peak_rps == pytest.approx(3000 / 3600)
    best, fit = chat.best, chat.batch
    assert best is not None and fit is not None and fit.extra_replicas >= 1
    need = fit.interactive_tokens + fit.batch_tokens
    assert fit.capacity_tokens + (fit.extra_replicas - 1) * fit.replica_tokens < need
    assert need <= fit.capacity_tokens + fit.extra_replicas * fit.replica_tokens
    assert chat.fleet_cost is not None and chat.fleet_cost.gpus == best.replicas + fit.extra_replicas
    summ = next(m for m in plan.models if m.served == "summ")
    assert summ.batch_only and summ.orgs == () and summ.slo_tiers == ("standard",)
    assert summ.peak.hour == NOV + timedelta(days=3) and summ.peak.requests == 86_400
    assert summ.demand is not None and summ.demand.peak_rps == pytest.approx(1.0)  # the day's average
    assert summ.batch is not None and summ.batch.fits
    assert plan.total_gpus == chat.fleet_cost.gpus + summ.fleet_cost.gpus  # type: ignore[union-attr]
    assert (
        "batch requests kept out of the peak" in plan.message
        and f"+{fit.extra_replicas} replica" in plan.html
    )


def test_tier_slos_from_settings_fall_back_to_the_planner_targets(tmp_path: Any) -> None:
    planner = {"ttft_p99_ms": 2500, "tpot_p99_ms": 70, "tier_slos": {"priority": {"tpot_p99_ms": 40}}}
    settings = Settings.model_validate({"data_dir": str(tmp_path), "planner": planner})
    opts = CapacityOptions.from_settings(settings)
    assert opts.slo == Slo(2500, 70) and opts.tier_slos == {"priority": Slo(2500, 40)}
    assert CapacityOptions.from_settings(Settings.model_validate({"data_dir": str(tmp_path)})).tier_slos == {}
    for bad in ({"batch": {"ttft_p99_ms": 1}}, {"priority": {"tpot_p99_ms": 0}}, {"priority": {"p50": 1}}):
        with pytest.raises(ValueError, match="tier_slos"):
            Settings.model_validate({"data_dir": str(tmp_path), "planner": {"tier_slos": bad}})


def test_disaggregated_pools_are_sized_for_the_same_demand_and_strictest_slo() -> None:
    ledger = FakeLedger(
        rows=[row(10, "chat", [800] * 400, [200] * 400), row(11, "chat", [800] * 100, [200] * 100)],
        orgs={"acme": "org_p"},
        org_rows=[OrgHourlyDemand("org_p", False, row(10, "chat", [800] * 200, [200] * 200))],
        tiers={"org_p": Tier.PRIORITY},
    )
    options = dataclasses.replace(SMALL, tier_slos={"priority": Slo(1500, 50)}, disaggregated=True)
    seen: list[tuple[int, int]] = []
    plan = plan_capacity(
        ledger, month="2026-11", options=options, on_progress=lambda d, t: seen.append((d, t))
    )
    chat = plan.models[0]
    assert chat.slo == Slo(1500, 50) and chat.demand is not None and chat.pools is not None
    assert seen[-1] == (2, 2)  # one aggregated and one disaggregated configuration
    alone = size_disagg(
        "llama-3.1-8b",
        chat.demand,
        Slo(1500, 50),
        [DisaggCandidate("h100", "fp8", 1, 1, 256)],
        SerialExecutor(),
        SMALL.costs,
    )
    assert chat.pools == tuple(alone) and alone[0].feasible
    assert "plan-disagg" in plan.html and "totals count the aggregated fleets" in plan.html
    plain = plan_capacity(ledger, month="2026-11", options=dataclasses.replace(options, disaggregated=False))
    assert plain.models[0].pools is None and "plan-disagg" not in plain.html
