"""What a partner may use and what it pays: limits per organisation and key, tiers, and the price book.

Money is counted in integers: a ledger row's cost in micro-won (a price in won per million tokens
times a token count is exactly micro-won), budget counters in milli-won (exact in a Redis script's
doubles up to 9 trillion won a month). Dates of prices are UTC days, like the ledger's months.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType


class Tier(StrEnum):
    """An organisation's share of the fleet under overload (weights in ``scheduling.tier_weights``)."""

    PRIORITY = "priority"
    STANDARD = "standard"
    BATCH = "batch"


# Each tier's share of a saturated model under fair queuing (``scheduling.tier_weights`` overrides).
DEFAULT_TIER_WEIGHTS: Mapping[Tier, float] = MappingProxyType(
    {Tier.PRIORITY: 4.0, Tier.STANDARD: 2.0, Tier.BATCH: 1.0}
)

# What a replica publishes on the change bus (beside key ids) when a limit or a price changed, so
# every replica reloads its snapshot at once instead of at its next poll.
LIMITS_CHANGED_NOTICE = "limits"

# The public names of the limits, as the CLI flags, the admin API and the JSON use them.
LIMIT_FIELDS: tuple[str, ...] = ("rpm", "tpm", "max_concurrent", "monthly_tokens", "monthly_budget_krw")


class Scope(StrEnum):
    ORG = "org"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class Limits:
    """One organisation's or key's limits; None means "no limit of this kind here".

    A key is bound by its own limits and by its organisation's, both at once, so its effective limit
    is the smaller; a key's own limit may not be set above its organisation's. ``tier`` is set on
    organisations only.
    """

    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    monthly_tokens: int | None = None
    monthly_budget_krw: int | None = None  # whole won
    tier: Tier | None = None

    def with_changes(self, changes: Mapping[str, int | Tier | None]) -> Limits:
        unknown = set(changes) - set(LIMIT_FIELDS) - {"tier"}
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(sorted(unknown))}")
        return replace(self, **changes)  # type: ignore[arg-type]

    def without(self, names: Iterable[str]) -> Limits:
        return self.with_changes(dict.fromkeys(names))

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def as_dict(self) -> dict[str, int | str | None]:
        out: dict[str, int | str | None] = {name: getattr(self, name) for name in LIMIT_FIELDS}
        out["tier"] = None if self.tier is None else self.tier.value
        return out


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Price:
    """KRW per million tokens for one model from one UTC day on (until the next price's day)."""

    model: str
    effective_from: date
    input_krw: Decimal
    output_krw: Decimal
    cached_input_krw: Decimal | None = None  # None: cached input costs what input costs
    # The three prices in millionths of a won per million tokens, as integers: a request's cost is
    # then integer arithmetic (0.4 µs) instead of Decimal (2 µs), exactly the same number.
    _scaled: tuple[int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scaled = (_scaled(self.input_krw), _scaled(self.cached_krw), _scaled(self.output_krw))
        object.__setattr__(self, "_scaled", scaled)

    @property
    def cached_krw(self) -> Decimal:
        return self.input_krw if self.cached_input_krw is None else self.cached_input_krw

    def cost_micro_krw(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> int:
        """The cost of one request in micro-won (KRW per million tokens x tokens = micro-won),
        rounded half up."""
        input_, cached_, output = self._scaled
        prompt = max(prompt_tokens, 0)
        cached = min(max(cached_tokens, 0), prompt)
        pico = input_ * (prompt - cached) + cached_ * cached + output * max(completion_tokens, 0)
        return (pico + 500_000) // 1_000_000


class PriceBook:
    """Every price ever set, so any day's price can be found; immutable, rebuilt on change."""

    __slots__ = ("_by_model", "_days")

    def __init__(self, prices: Iterable[Price] = ()) -> None:
        """Later prices in ``prices`` win over earlier ones for the same model and day (so config
        prices are passed first and the stored ones after them)."""
        by_model: dict[str, list[Price]] = {}
        # sorted() is stable: for one model and day the later source stays last, and wins.
        for price in sorted(prices, key=lambda p: (p.model, p.effective_from)):
            entries = by_model.setdefault(price.model, [])
            if entries and entries[-1].effective_from == price.effective_from:
                entries[-1] = price
            else:
                entries.append(price)
        self._by_model = by_model
        self._days = {model: [p.effective_from for p in entries] for model, entries in by_model.items()}

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_model.values())

    def prices(self) -> list[Price]:
        return [p for model in sorted(self._by_model) for p in self._by_model[model]]

    def price_at(self, model: str, day: date) -> Price | None:
        """The price in force for ``model`` on ``day``: the newest one whose day is not later."""
        entries = self._by_model.get(model)
        if not entries:
            return None
        index = bisect.bisect_right(self._days[model], day) - 1
        return entries[index] if index >= 0 else None

    def cost_micro_krw(
        self, model: str, day: date, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> int | None:
        """``price_at(model, day).cost_micro_krw(...)``; None when there is no price that day."""
        price = self.price_at(model, day)
        return (
            None if price is None else price.cost_micro_krw(prompt_tokens, completion_tokens, cached_tokens)
        )


def _scaled(krw: Decimal) -> int:
    return int((krw * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))


def micro_to_krw(micro: int) -> Decimal:
    """Micro-won as won, for display and JSON (exact: six decimal places)."""
    return (Decimal(micro) / Decimal(1_000_000)).quantize(Decimal("0.000001"))
