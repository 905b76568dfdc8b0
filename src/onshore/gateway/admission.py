"""What admission checks for one request, and how its answer is told: counters, refusals, headers.

Pure functions and small value types; the step (``steps/admit.py``) does the I/O. Counter keys carry
the organisation as a ``{hash tag}`` so one request's counters live on one Redis Cluster node:

    {org}:o:rpm   {org}:o:tpm   {org}:o:conc   {org}:o:mt:2026-12   {org}:o:krw:2026-12
    {org}:k:<key id>:rpm   ... (the same for a key's own limits)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onshore.domain.counters import Admission, Counter, CounterState
from onshore.domain.limits import Limits
from onshore.domain.periods import utc_month
from onshore.errors import QuotaExceeded, RateLimited

MINUTE_MS = 60_000
# A concurrency count outlives a replica that died holding it by at most this long.
CONCURRENCY_TTL_MS = 15 * 60_000
_MONTH_SLACK_MS = 35 * 24 * 3_600_000

# What each limit counts, and how it settles: "requests" keeps its 1, "tokens" and "krw" become the
# real usage, "slot" is released.
RPM, TPM, CONC, MONTH_TOKENS, MONTH_KRW = (
    "rpm",
    "tpm",
    "max_concurrent",
    "monthly_tokens",
    "monthly_budget_krw",
)
_QUOTAS = frozenset({MONTH_TOKENS, MONTH_KRW})
_NAMES = {
    RPM: "requests per minute (RPM)",
    TPM: "tokens per minute (TPM)",
    CONC: "concurrent requests",
    MONTH_TOKENS: "monthly tokens",
    MONTH_KRW: "monthly budget (KRW)",
}


@dataclass(frozen=True, slots=True)
class Demand:
    """What one request asks for, estimated before it runs."""

    tokens: int  # prompt estimate + the most it may generate
    cost_milli_krw: int  # the same tokens at the model's price (0 when the model has no price)
    explicit: bool  # the client set max_tokens itself (else a default was assumed)


@dataclass(slots=True)
class Template:
    """One key's counters without a request's amounts: built once per limits version and month.

    Admission keeps one per key, so a request only fills in its amounts (measured: building the
    counters from the limits on every request cost 8 µs of the step's ~20 µs with six limits).
    """

    keys: tuple[str, ...]
    limits: tuple[int, ...]
    windows: tuple[int, ...]
    ttls: tuple[int, ...]
    labels: tuple[tuple[str, str], ...]  # (scope "key"|"organization", limit name), per counter
    budget: bool  # a KRW budget applies (so the request's cost must be estimated)
    requests: tuple[int, ...]  # indexes of the rpm counters
    tokens: tuple[int, ...]  # indexes of the tpm counters


@dataclass(slots=True)
class Plan:
    """The counters of one request and, for each, which scope and limit it stands for."""

    counters: tuple[Counter, ...]
    template: Template

    @property
    def limits(self) -> tuple[tuple[str, str], ...]:
        return self.template.labels


def month_period(now: datetime) -> tuple[str, int]:
    """The calendar month (UTC, like the ledger's billing months) and ms until it ends."""
    start, end = utc_month(now)
    return f"{start.year:04d}-{start.month:02d}", max(1, int((end - now).total_seconds() * 1000))


def template(
    org_id: str, key_id: str, key_limits: Limits | None, org_limits: Limits | None, now: datetime
) -> Template:
    keys: list[str] = []
    limits: list[int] = []
    windows: list[int] = []
    ttls: list[int] = []
    labels: list[tuple[str, str]] = []
    period, left_ms = month_period(now)
    month_ttl = left_ms + _MONTH_SLACK_MS

    def add(key: str, limit: int, window_ms: int, ttl_ms: int, label: tuple[str, str]) -> None:
        keys.append(key)
        limits.append(limit)
        windows.append(window_ms)
        ttls.append(ttl_ms)
        labels.append(label)

    for scope, subject, prefix in (
        ("key", key_limits, _prefix(org_id, key_id)),
        ("organization", org_limits, _prefix(org_id, None)),
    ):
        if subject is None:
            continue
        if subject.rpm is not None:
            add(prefix + "rpm", subject.rpm, MINUTE_MS, 0, (scope, RPM))
        if subject.tpm is not None:
            add(prefix + "tpm", subject.tpm, MINUTE_MS, 0, (scope, TPM))
        if subject.max_concurrent is not None:
            add(prefix + "conc", subject.max_concurrent, 0, CONCURRENCY_TTL_MS, (scope, CONC))
        if subject.monthly_tokens is not None:
            add(f"{prefix}mt:{period}", subject.monthly_tokens, 0, month_ttl, (scope, MONTH_TOKENS))
        if subject.monthly_budget_krw is not None:
            add(f"{prefix}krw:{period}", subject.monthly_budget_krw * 1000, 0, month_ttl, (scope, MONTH_KRW))
    names = [name for _, name in labels]
    return Template(
        tuple(keys),
        tuple(limits),
        tuple(windows),
        tuple(ttls),
        tuple(labels),
        budget=MONTH_KRW in names,
        requests=tuple(i for i, name in enumerate(names) if name == RPM),
        tokens=tuple(i for i, name in enumerate(names) if name == TPM),
    )


def fill(shape: Template, demand: Demand) -> Plan:
    """The request's counters: the template with this request's amounts."""
    counters: list[Counter] = []
    explicit = demand.explicit
    for key, limit, window_ms, ttl_ms, (_, name) in zip(
        shape.keys, shape.limits, shape.windows, shape.ttls, shape.labels, strict=True
    ):
        if name in (RPM, CONC):
            amount = 1
        else:
            wanted = demand.cost_milli_krw if name == MONTH_KRW else demand.tokens
            # When the client set no max_tokens the default is only a guess: never let the guess
            # alone make a request impossible (it settles to what was really used anyway), but
            # reserve at least 1 while anything is wanted, so a limit of 0 still refuses everything.
            amount = wanted if explicit else min(wanted, max(limit, 1))
        counters.append(Counter(key, amount, limit, window_ms, ttl_ms))
    return Plan(tuple(counters), shape)


def plan(
    org_id: str,
    key_id: str,
    key_limits: Limits | None,
    org_limits: Limits | None,
    demand: Demand,
    now: datetime,
) -> Plan:
    return fill(template(org_id, key_id, key_limits, org_limits, now), demand)


def month_counters(org_id: str, key_id: str | None, now: datetime) -> tuple[Counter, Counter]:
    """The monthly-token and monthly-budget counters of an organisation (``key_id`` None) or a key
    as ``plan`` builds them at ``now`` (same keys, same ttl; amount and limit 0): what
    ``QuotaSeeder`` raises to the ledger's totals for the month."""
    period, left_ms = month_period(now)
    prefix = _prefix(org_id, key_id)
    ttl_ms = left_ms + _MONTH_SLACK_MS
    return Counter(f"{prefix}mt:{period}", 0, 0, 0, ttl_ms), Counter(f"{prefix}krw:{period}", 0, 0, 0, ttl_ms)


def _prefix(org_id: str, key_id: str | None) -> str:
    return f"{{{org_id}}}:o:" if key_id is None else f"{{{org_id}}}:k:{key_id}:"


def settle_amounts(plan: Plan, tokens: int, cost_milli_krw: int) -> list[int]:
    """What each counter really used once the request ended."""
    actual: list[int] = []
    for _, name in plan.limits:
        if name == RPM:
            actual.append(1)
        elif name == CONC:
            actual.append(0)
        elif name == MONTH_KRW:
            actual.append(cost_milli_krw)
        else:
            actual.append(tokens)
    return actual


def refusal(plan: Plan, admission: Admission, now: datetime) -> RateLimited:
    """The 429 for a refused request, in OpenAI's words and shape."""
    index = admission.refused if admission.refused is not None else 0
    scope, name = plan.limits[index]
    counter = plan.counters[index]
    state = admission.states[index]
    if name == MONTH_KRW:  # counted in milli-won; told in won
        detail = f"Limit {_won(state.limit)}, Used {_won(state.used)}, Requested {_won(counter.amount)}"
    else:
        detail = f"Limit {state.limit}, Used {state.used}, Requested {counter.amount}"
    if name in _QUOTAS:
        _, left_ms = month_period(now)
        what = "monthly token quota" if name == MONTH_TOKENS else "monthly budget"
        return QuotaExceeded(
            f"You exceeded your {scope}'s {what} ({detail}); it resets at the start of next month.",
            retry_after_s=left_ms / 1000,
        )
    if counter.amount > state.limit:
        # It can never pass, however long the client waits: say so, and tell the SDKs not to retry.
        return RateLimited(
            f"Request too large for the {scope}'s {_NAMES[name]}: {detail}. Lower max_tokens or the prompt.",
            retry_after_s=60.0,
            should_retry=False,
        )
    wait_s = 1.0 if name == CONC else max(state.reset_ms, 1) / 1000
    return RateLimited(
        f"Rate limit reached for the {scope}'s {_NAMES[name]}: {detail}. "
        f"Please try again in {openai_duration(wait_s * 1000)}.",
        retry_after_s=wait_s,
    )


def rate_limit_headers(plan: Plan, states: tuple[CounterState, ...]) -> list[tuple[bytes, bytes]]:
    """OpenAI's ``x-ratelimit-*`` headers for the tightest per-minute request and token limits."""
    headers: list[tuple[bytes, bytes]] = []
    for indexes, limit_name, remaining_name, reset_name in (
        (plan.template.requests, *_REQUEST_HEADERS),
        (plan.template.tokens, *_TOKEN_HEADERS),
    ):
        if not indexes:
            continue
        best = states[indexes[0]]
        for index in indexes[1:]:
            if _tighter(states[index], best):
                best = states[index]
        headers.append((limit_name, str(best.limit).encode()))
        headers.append((remaining_name, str(max(0, best.limit - best.used)).encode()))
        headers.append((reset_name, openai_duration(best.reset_ms).encode()))
    return headers


_REQUEST_HEADERS = (
    b"x-ratelimit-limit-requests",
    b"x-ratelimit-remaining-requests",
    b"x-ratelimit-reset-requests",
)
_TOKEN_HEADERS = (b"x-ratelimit-limit-tokens", b"x-ratelimit-remaining-tokens", b"x-ratelimit-reset-tokens")


def _won(milli: int) -> str:
    return f"KRW {milli / 1000:,.3f}".rstrip("0").rstrip(".")


def _tighter(a: CounterState, b: CounterState) -> bool:
    return (a.limit - a.used, a.limit) < (b.limit - b.used, b.limit)


def openai_duration(ms: float) -> str:
    """A duration as OpenAI writes its reset headers: ``120ms``, ``1s``, ``8.64s``, ``6m0s``, ``1h2m3s``.

    In integer milliseconds (rounded up): two of these go out with every limited answer, and float
    formatting cost 3 µs each (timeit)."""
    whole = ms if isinstance(ms, int) else math.ceil(ms)
    if whole < 1000:
        return f"{max(0, whole)}ms"
    seconds, fraction = divmod(whole, 1000)
    tail = f"{seconds % 60}s" if not fraction else f"{seconds % 60}.{fraction:03d}".rstrip("0") + "s"
    if seconds < 60:
        return tail
    hours, minutes = divmod(seconds // 60, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m" + tail


def requested_output(payload: dict[str, Any]) -> int | None:
    """The most tokens the request may generate, as the client set it (None: not set)."""
    best: int | None = None
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):  # the last: Responses
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            best = value if best is None else min(best, value)
    n = payload.get("n")
    if best is not None and isinstance(n, int) and not isinstance(n, bool) and n > 1:
        best *= n
    return best


__all__ = [
    "Demand",
    "Plan",
    "month_counters",
    "plan",
    "rate_limit_headers",
    "refusal",
    "settle_amounts",
]
