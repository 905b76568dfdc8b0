"""Every limit and price in memory, and how it is kept in step with the database off the request path.

Admission reads two dict entries per request (the key's limits, its organisation's) and never waits
for the database. ``LimitSync`` polls the store's change number (one tiny query) and reloads the
whole snapshot only when it moved; a change made through any replica is also announced on the change
bus, so every replica reloads at once rather than at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from onshore.domain.limits import Limits, Price, PriceBook, Tier
from onshore.domain.policy import EffectivePolicy, SubjectPolicy, resolve
from onshore.gateway.periodic import Periodic
from onshore.ports import LimitsSnapshot, LimitsStore, StoreError

log = logging.getLogger(__name__)


class LimitBook:
    """The snapshot admission and metering read. Replaced whole on reload (readers never lock)."""

    __slots__ = (
        "_config_prices",
        "_effective",
        "_home",
        "_key_policies",
        "_keys",
        "_org_policies",
        "_orgs",
        "_prices",
        "version",
    )

    def __init__(self, config_prices: Sequence[Price] = (), *, home: str = "KR") -> None:
        self._config_prices = tuple(config_prices)
        self._home = home  # the gateway's own jurisdiction: organisations that declare none stay here
        self._orgs: dict[str, Limits] = {}
        self._keys: dict[str, Limits] = {}
        self._org_policies: Mapping[str, SubjectPolicy] = {}
        self._key_policies: Mapping[str, SubjectPolicy] = {}
        self._effective: dict[tuple[str, str], EffectivePolicy] = {}
        self._prices = PriceBook(self._config_prices)
        self.version = -1

    def load(self, snapshot: LimitsSnapshot) -> None:
        self._orgs = {org: limits for org, limits in snapshot.orgs.items() if not limits.empty}
        self._keys = {key: limits for key, limits in snapshot.keys.items() if not limits.empty}
        self._org_policies = dict(snapshot.org_policies)
        self._key_policies = dict(snapshot.key_policies)
        self._effective = {}  # replaced, not cleared: a reader mid-lookup keeps a consistent dict
        # Stored prices after the config's: on the same model and day the stored one wins.
        self._prices = PriceBook([*self._config_prices, *snapshot.prices])
        self.version = snapshot.version

    def policy(self, org_id: str, key_id: str) -> EffectivePolicy:
        """The jurisdictions and personal-data policy binding this key (one dict lookup once cached)."""
        cache = self._effective
        found = cache.get((org_id, key_id))
        if found is None:
            found = resolve(self._org_policies.get(org_id), self._key_policies.get(key_id), self._home)
            cache[(org_id, key_id)] = found
        return found

    def key_limits(self, key_id: str) -> Limits | None:
        return self._keys.get(key_id)

    def org_limits(self, org_id: str) -> Limits | None:
        return self._orgs.get(org_id)

    @property
    def all_orgs(self) -> Mapping[str, Limits]:
        """Every organisation that has limits (replaced whole on reload, never changed in place)."""
        return self._orgs

    @property
    def all_keys(self) -> Mapping[str, Limits]:
        """Every key that has limits of its own (replaced whole on reload, never changed in place)."""
        return self._keys

    def tier(self, org_id: str) -> Tier:
        limits = self._orgs.get(org_id)
        return limits.tier if limits is not None and limits.tier is not None else Tier.STANDARD

    @property
    def prices(self) -> PriceBook:
        return self._prices

    def cost_micro_krw(
        self, model: str | None, at: datetime, prompt: int, completion: int, cached: int = 0
    ) -> int | None:
        """The cost at the price in force on ``at``'s UTC day; None when the model has no price."""
        if model is None:
            return None
        return self._prices.cost_micro_krw(model, at.date(), prompt, completion, cached)


class LimitSync:
    def __init__(self, store: LimitsStore, book: LimitBook, *, interval_s: float) -> None:
        self._store = store
        self._book = book
        self._interval = interval_s
        self._periodic = Periodic("onshore-limit-sync", interval_s, self._poll)
        self._lock = asyncio.Lock()
        self.healthy = False

    async def refresh(self, *, force: bool = False) -> None:
        """Reload when the store's change number moved (or always, with ``force``)."""
        async with self._lock:  # one reload at a time; a notice during a reload waits for it
            if not force:
                version = await asyncio.to_thread(self._store.limits_version)
                if version == self._book.version:
                    self.healthy = True
                    return
            snapshot = await asyncio.to_thread(self._store.limits_snapshot)
            self._book.load(snapshot)
            self.healthy = True

    @property
    def loaded_version(self) -> int:
        """The change number of the snapshot in use (-1 before the first load)."""
        return self._book.version

    async def on_notice(self) -> None:
        """A replica announced a change: reload now; the next poll retries if the database fails."""
        try:
            await self.refresh(force=True)
        except StoreError:
            log.warning("limits changed, but the database did not answer; the next poll retries")

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _poll(self) -> None:
        try:
            await self.refresh()
        except StoreError:
            if self.healthy:
                log.warning("limit sync: database unreachable; enforcing the last snapshot")
            self.healthy = False
        except Exception:
            self.healthy = False
            raise
