"""Facility and money arithmetic for a fleet: GPUs -> nodes -> racks -> MW -> MWh -> KRW.

Every default is an assumption a planner should replace with a quote; ``CostInputs`` names them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from onshore.planner.catalog import Gpu

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True, slots=True)
class CostInputs:
    """Assumptions (sources in docs/planner.md).

    Attributes:
        pue: facility power / IT power (new Korean hyperscale DCs report ~1.2-1.4).
        krw_per_kwh: electricity price (KEPCO industrial tariff, high voltage, ~2024-25 level).
        krw_per_usd: exchange rate.
        average_power_fraction: average IT draw as a fraction of nameplate node power.
        amortisation_years: straight-line depreciation of IT capex.
        facility_krw_per_mw: data-hall capex per MW of IT load (shell, power, cooling).
        ops_fraction: yearly operations and maintenance as a fraction of IT capex.
    """

    pue: float = 1.3
    krw_per_kwh: float = 180.0
    krw_per_usd: float = 1400.0
    average_power_fraction: float = 0.7
    amortisation_years: float = 5.0
    facility_krw_per_mw: float = 15e9
    ops_fraction: float = 0.05


@dataclass(frozen=True, slots=True)
class FleetCost:
    """Everything a fleet of one GPU type costs and draws."""

    gpu: str
    gpus: int
    nodes: int
    racks: int
    hbm_stacks: int
    hbm_gb: float
    it_power_mw: float
    facility_power_mw: float
    annual_mwh: float
    annual_energy_krw: float
    capex_it_krw: float
    capex_facility_krw: float
    annual_opex_krw: float
    annual_cost_krw: float
    krw_per_million_tokens: float
    krw_per_million_output_tokens: float

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def fleet_cost(
    gpu: Gpu, gpus: int, daily_tokens: float, daily_output_tokens: float, inputs: CostInputs | None = None
) -> FleetCost:
    """Cost of ``gpus`` GPUs of type ``gpu`` serving the given daily token volume."""
    c = inputs or CostInputs()
    nodes = math.ceil(gpus / gpu.gpus_per_node)
    racks = math.ceil(nodes / max(gpu.nodes_per_rack, 1))
    it_mw = nodes * gpu.node_kw / 1000.0
    facility_mw = it_mw * c.pue
    mwh = facility_mw * c.average_power_fraction * HOURS_PER_YEAR
    energy_krw = mwh * 1000.0 * c.krw_per_kwh
    capex_it = gpus * gpu.capex_usd_per_gpu * c.krw_per_usd
    capex_fac = it_mw * c.facility_krw_per_mw
    opex = energy_krw + capex_it * c.ops_fraction
    annual = (capex_it + capex_fac) / c.amortisation_years + opex
    yearly_tokens = max(daily_tokens * 365.0, 1.0)
    yearly_out = max(daily_output_tokens * 365.0, 1.0)
    return FleetCost(
        gpu=gpu.id,
        gpus=gpus,
        nodes=nodes,
        racks=racks,
        hbm_stacks=gpus * gpu.hbm_stacks,
        hbm_gb=gpus * gpu.hbm_gb,
        it_power_mw=it_mw,
        facility_power_mw=facility_mw,
        annual_mwh=mwh,
        annual_energy_krw=energy_krw,
        capex_it_krw=capex_it,
        capex_facility_krw=capex_fac,
        annual_opex_krw=opex,
        annual_cost_krw=annual,
        krw_per_million_tokens=annual / yearly_tokens * 1e6,
        krw_per_million_output_tokens=annual / yearly_out * 1e6,
    )
