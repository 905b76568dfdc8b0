"""Demand and cost arithmetic against hand calculations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from onshore.planner.catalog import gpu
from onshore.planner.cost import CostInputs, fleet_cost
from onshore.planner.demand import UserDemand, from_usage, from_users
from onshore.planner.errors import PlannerError
from onshore.planner.ports import UsageReader, UsageRecord


def test_peak_rate_from_users_by_hand() -> None:
    d = from_users(
        UserDemand(
            mau=20.31e6,
            dau_per_mau=0.35,
            requests_per_daily_user=12,
            peak_to_average=2.0,
            prompt_mean=1200,
            output_mean=400,
        )
    )
    daily = 20.31e6 * 0.35 * 12
    assert d.daily_requests == pytest.approx(daily)
    assert d.average_rps == pytest.approx(daily / 86400)
    assert d.peak_rps == pytest.approx(2 * daily / 86400)
    assert d.peak_output_tokens_per_s == pytest.approx(2 * daily / 86400 * 400)
    assert d.daily_tokens == pytest.approx(daily * 1600)


@pytest.mark.parametrize("field", ["mau", "dau_per_mau", "peak_to_average"])
def test_bad_demand_inputs_are_planner_errors(field: str) -> None:
    with pytest.raises(PlannerError):
        from_users(UserDemand(**{field: 0.5 if field == "peak_to_average" else 0.0}))


class FakeLedger:
    """A UsageReader: 3600 requests in the first hour, 360 in the second."""

    def usage_records(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[UsageRecord]:
        for i in range(3600):
            yield UsageRecord(float(i), 1000, 100)
        for i in range(360):
            yield UsageRecord(3600.0 + i * 10, 500, 50)


def test_demand_from_a_usage_ledger() -> None:
    reader: UsageReader = FakeLedger()
    d = from_usage(reader, growth=2.0)
    assert d.peak_rps == pytest.approx(2 * 3600 / 3600)
    assert d.average_rps == pytest.approx(2 * 3960 / 7190, rel=1e-3)
    assert d.prompt.mean == pytest.approx((3600 * 1000 + 360 * 500) / 3960)


def test_fleet_cost_by_hand() -> None:
    c = CostInputs(
        pue=1.25,
        krw_per_kwh=200.0,
        krw_per_usd=1000.0,
        average_power_fraction=0.5,
        amortisation_years=4.0,
        facility_krw_per_mw=10e9,
        ops_fraction=0.1,
    )
    f = fleet_cost(gpu("h100"), 100, daily_tokens=1e9, daily_output_tokens=2e8, inputs=c)
    assert (f.nodes, f.racks) == (13, 4)  # ceil(100/8) nodes, 4 nodes per rack
    assert f.it_power_mw == pytest.approx(13 * 10.2 / 1000)
    assert f.facility_power_mw == pytest.approx(13 * 10.2 / 1000 * 1.25)
    mwh = 13 * 10.2 / 1000 * 1.25 * 0.5 * 8760
    assert f.annual_mwh == pytest.approx(mwh)
    assert f.annual_energy_krw == pytest.approx(mwh * 1000 * 200)
    capex = 100 * 30000 * 1000.0
    assert f.capex_it_krw == pytest.approx(capex)
    annual = (capex + 13 * 10.2 / 1000 * 10e9) / 4 + mwh * 1000 * 200 + capex * 0.1
    assert f.annual_cost_krw == pytest.approx(annual)
    assert f.krw_per_million_tokens == pytest.approx(annual / (1e9 * 365) * 1e6)
    assert (f.hbm_stacks, f.hbm_gb) == (500, 8000)
