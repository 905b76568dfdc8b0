"""The durable stores the core needs (the SQL adapters implement them); see the package docstring."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import Checkpoint
from onshore.domain.demand import HourlyDemand, OrgHourlyDemand
from onshore.domain.invoice import UsageDay
from onshore.domain.limits import Limits, Price, Scope, Tier
from onshore.domain.policy import SubjectPolicy
from onshore.domain.residency import ResidencyReport
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.domain.usage import MonthTotal, UsageRecord, UsageSummary
from onshore.ports.usage_series import UsageSeriesReader


class StoreError(Exception):
    """The store could not be reached or failed; adapters raise this instead of driver errors."""


class AlreadyExists(StoreError):
    """A unique name is already taken."""


class TenancyTransaction(Protocol):
    """Tenancy changes and their audit entries on one open transaction: all commit, or none."""

    def create_org(self, name: str) -> Organisation: ...
    def add_key(self, key: ApiKey) -> ApiKey: ...
    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None: ...
    def append_audit(self, *entries: AuditEntry) -> None: ...
    def set_policy(self, scope: Scope, subject_id: str, policy: SubjectPolicy) -> None:
        """Write a new subject's policy (organisation or key creation) in this transaction."""
        ...


class TenancyStore(Protocol):
    """Organisations and keys (durable, in SQL)."""

    def unit_of_work(self, action: str = ...) -> AbstractContextManager[TenancyTransaction]:
        """One transaction: commits when the block ends normally, rolls back on any exception."""
        ...

    def create_org(self, name: str) -> Organisation: ...
    def list_orgs(self) -> list[Organisation]: ...
    def get_org(self, org_id: str) -> Organisation | None: ...
    def get_org_by_name(self, name: str) -> Organisation | None: ...
    def add_key(self, key: ApiKey) -> ApiKey: ...
    def list_keys(self, org_id: str | None = None) -> list[ApiKey]: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def get_key_by_digest(self, digest: str) -> ApiKey | None: ...
    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None: ...
    def keys_changed_since_seq(self, seq: int | None) -> tuple[list[ApiKey], int]:
        """Keys changed after change number ``seq`` (every key when None), and the newest number.

        Numbers come from the database, never from a writer's clock, so replicas whose clocks
        disagree still see every revocation."""
        ...

    def rehash_key(
        self, key_id: str, old_digest: str, new_digest: str, secret_id: str, audit: AuditEntry | None = None
    ) -> ApiKey | None:
        """Replace the key's digest with ``new_digest`` (made with secret generation ``secret_id``)
        only if it is still ``old_digest``, taking a change number and appending ``audit`` in the
        same transaction; None when another replica did it first (or no such key). Equal digests
        only record ``secret_id`` on a key that has none."""
        ...

    def key_generations(self) -> dict[str | None, int]:
        """Active keys counted by the secret generation of their digest (None: not recorded)."""
        ...


@dataclass(frozen=True, slots=True)
class LimitsSnapshot:
    """Every limit and price, as one replica keeps them in memory, and the change number they are at."""

    orgs: Mapping[str, Limits]  # org id -> limits
    keys: Mapping[str, Limits]  # key id -> limits
    prices: Sequence[Price]
    version: int
    org_policies: Mapping[str, SubjectPolicy] = field(default_factory=dict)  # org id -> policy
    key_policies: Mapping[str, SubjectPolicy] = field(default_factory=dict)  # key id -> policy


@dataclass(frozen=True, slots=True)
class LimitsUpdate:
    """What ``LimitsStore.update_limits`` found and left: the subject's limits before and after (equal
    when nothing changed, and then nothing was written), and the binding organisation's limits as read
    in the same transaction (None when no ``bound_by`` was given)."""

    before: Limits
    after: Limits
    org: Limits | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


class LimitsStore(Protocol):
    """Limits per organisation and key, and the price book (durable, in SQL).

    Every change takes the next number of one change sequence ("limits") inside its transaction, and
    its audit entry commits with it; replicas poll ``limits_version`` (one tiny query) and reload the
    snapshot only when it moved.
    """

    def get_limits(self, scope: Scope, subject_id: str) -> Limits:
        """NO_LIMITS when none are set."""
        ...

    def update_limits(
        self,
        scope: Scope,
        subject_id: str,
        changes: Mapping[str, int | Tier | None],
        audit_for: Callable[[Limits, Limits], AuditEntry | None],
        *,
        bound_by: str | None = None,
        check: Callable[[Limits], None] | None = None,
    ) -> LimitsUpdate:
        """Apply ``changes`` (field -> value, None clears it) to the limits as they stand, in one transaction.

        The row is read, merged and written in the transaction that writes it, with every other
        limits writer queued behind it, so two admins changing different fields of one subject at
        once both keep their change (no lost update). When something changes, ``audit_for(old, new)``
        builds the audit entry (None: none) and it commits with the change; when nothing changes,
        nothing is written: no entry, no new ``limits_version``.

        ``bound_by`` names the organisation whose limits bind the subject (a key's): they are read
        in the same transaction, passed to ``check`` before anything is written (it raises to refuse
        the change, which then writes nothing) and returned. Anything ``check`` or ``audit_for``
        raises propagates unchanged.
        """
        ...

    def add_price(self, price: Price, audit: AuditEntry) -> Price:
        """Add a price (replacing one for the same model and day) and append ``audit``, in one transaction."""
        ...

    def list_prices(self) -> list[Price]: ...
    def limits_version(self) -> int: ...
    def limits_snapshot(self) -> LimitsSnapshot: ...


@dataclass(frozen=True, slots=True)
class PolicyUpdate:
    """What ``PolicyStore.update_policy`` found and left (equal when nothing changed), and the binding
    organisation's policy read in the same transaction (None when no ``bound_by`` was given)."""

    before: SubjectPolicy
    after: SubjectPolicy
    org: SubjectPolicy | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


class PolicyStore(Protocol):
    """Jurisdictions and personal-data policies per organisation and key (durable, in SQL).

    Changes take the limits change number, so replicas reload them with the limits snapshot
    (``LimitsStore.limits_snapshot`` carries them)."""

    def get_policy(self, scope: Scope, subject_id: str) -> SubjectPolicy:
        """NO_POLICY when none is set."""
        ...

    def update_policy(
        self,
        scope: Scope,
        subject_id: str,
        changes: Mapping[str, object],
        audit_for: Callable[[SubjectPolicy, SubjectPolicy], AuditEntry | None],
        *,
        bound_by: str | None = None,
        check: Callable[[SubjectPolicy, SubjectPolicy], None] | None = None,
    ) -> PolicyUpdate:
        """Merge ``changes`` into the stored policy in one transaction, like ``update_limits``.

        ``check(org_policy, merged)`` runs before anything is written and raises to refuse it;
        ``bound_by`` names the organisation whose policy is read in the same transaction.
        """
        ...


class UsageWriter(Protocol):
    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        """Insert the rows; idempotent on ``request_id`` so a retried batch never duplicates."""
        ...


class UsageReader(UsageSeriesReader, Protocol):
    """The ledger read back: per-organisation summaries and raw rows, and (``UsageSeriesReader``)
    usage over time from its hourly rollup."""

    def summary(self, org_id: str, start: datetime, end: datetime) -> UsageSummary: ...
    def month_totals(self, start: datetime, end: datetime) -> list[MonthTotal]:
        """Billable tokens and cost of ``start <= created_at < end``, per organisation and key.

        What monthly quotas and budgets must at least have counted: their counters are raised to
        these after a restart of the counter store (see ``CounterStore.raise_to``)."""
        ...

    def records(
        self, start: datetime, end: datetime, org_id: str | None = None, limit: int | None = None
    ) -> list[UsageRecord]: ...

    def residency(self, org_id: str, start: datetime, end: datetime) -> ResidencyReport:
        """Where ``org_id``'s requests of ``start <= created_at < end`` were served, and its
        sovereignty refusals; every row counted once (see ``onshore.domain.residency``)."""
        ...

    def hourly_demand(self, start: datetime, end: datetime, org_id: str | None = None) -> list[HourlyDemand]:
        """Billable demand of ``start <= created_at < end`` (of ``org_id`` when given) per UTC hour
        and model, oldest hour first: what the capacity planner sizes a fleet from (see
        ``onshore.domain.demand``). Hours without billable rows are left out."""
        ...

    def org_hourly_demand(
        self, start: datetime, end: datetime, org_id: str | None = None
    ) -> list[OrgHourlyDemand]:
        """``hourly_demand`` split by organisation and by whether the rows were Batch API work
        (``batch_id`` set): one value per UTC hour, model, organisation and batch flag, ordered by
        hour, model, organisation (None first), interactive before batch. The values of one hour and
        model add up to that hour's ``hourly_demand``. What the capacity plan sizes each tier from.

        Raises:
            StoreError: the database is unreachable or failed.
        """
        ...

    def usage_days(self, org_id: str, start: datetime, end: datetime) -> list[UsageDay]:
        """``org_id``'s billable usage of ``start <= created_at < end`` per model and UTC day, by
        model then day: what an invoice is made of. Every row with a cost is counted, so the costs
        add up to the ledger's for the period."""
        ...


class HealthCheck(Protocol):
    def ping(self) -> None:
        """Raise StoreError when the dependency is unreachable."""
        ...


class RevocationBus(Protocol):
    """Tells every replica at once that a key changed (Redis pub/sub); polling is the fallback."""

    async def publish(self, key_id: str) -> None: ...
    async def listen(self, on_change: Callable[[str], None]) -> None:
        """Run until cancelled, calling ``on_change(key_id)`` for every message."""
        ...

    async def aclose(self) -> None: ...


# --- audit -------------------------------------------------------------------------------------------


class AuditSink(Protocol):
    """The append-only audit trail. ``append`` never blocks and never loses an entry: the SQL
    adapter reuses the ledger's buffered, spooled sink. A change and its entry that must commit
    together go through the store's unit of work instead."""

    def append(self, entry: AuditEntry) -> None: ...


class AuditReader(Protocol):
    def entries(self, limit: int = 100, org_id: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
        ...


class AuditTrail(Protocol):
    """The audit log as a hash chain, for audits (``onshore audit``): read in chain order, and
    the signed checkpoints stored beside it (``store/sql/audit_chain.py``)."""

    def find(
        self, *, org_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries of ``org_id`` (all when None) at or after ``since``, newest first."""
        ...

    def walk(self, *, since: datetime | None = None, until: datetime | None = None) -> Iterator[AuditEntry]:
        """Every chained entry in seq order (``since <= at < until`` when given), streamed."""
        ...

    def unchained(self, limit: int = 10) -> list[AuditEntry]:
        """Entries without a seq (inserted outside the chain), oldest first."""
        ...

    def head(self) -> AuditEntry | None: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """False when one for the same seq is already stored."""
        ...


class CheckpointSigner(Protocol):
    """Signs audit checkpoints with a key whose private half never enters the database."""

    @property
    def key_id(self) -> str:
        """The public key's fingerprint."""
        ...

    @property
    def public_key(self) -> str:
        """The raw public key, hex."""
        ...

    def sign(self, message: bytes) -> str:
        """The signature of ``message``, hex."""
        ...
