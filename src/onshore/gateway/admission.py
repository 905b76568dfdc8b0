"""What admission checks for one request, and how its answer is told: counters, refusals, headers.

Pure functions and small value types; the step (``steps/admit.py``) does the I/O. Counter keys carry
the organisation as a ``{hash tag}`` so one request's counters live on one Redis Cluster node:

    {org}:o:rpm   {org}:o:tpm   {org}:o:conc   {org}:o:mt:2026-12   {org}:o:krw:2026-12
    {org}:k:<key id>:rpm   ... (the same for a key's own limits)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from onshore.domain.counters import Admission, Counter, CounterState
from onshore.domain.limits import Limits
from onshore.errors import QuotaExceeded, RateLimited, retry_headers

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


@dataclass(frozen=True, slots=True)
class Plan:
    """The counters of one request and, for each, which scope and limit it stands for."""

    counters: tuple[Counter, ...]
    limits: tuple[tuple[str, str], ...]  # (scope "key"|"organization", limit name), per counter


def month_period(now: datetime) -> tuple[str, int]:
    """The calendar month (UTC, like the ledger's billing months) and ms until it ends."""
    now = now.astimezone(UTC)
    end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return f"{now.year:04d}-{now.month:02d}", max(1, int((end - now).total_seconds() * 1000))


def plan(
    org_id: str,
    key_id: str,
    key_limits: Limits | None,
    org_limits: Limits | None,
    demand: Demand,
    now: datetime,
) -> Plan:
    counters: list[Counter] = []
    labels: list[tuple[str, str]] = []
    period, left_ms = month_period(now)
    for scope, limits, prefix in (
        ("key", key_limits, f"{{{org_id}}}:k:{key_id}:"),
        ("organization", org_limits, f"{{{org_id}}}:o:"),
    ):
        if limits is None:
            continue
        if limits.rpm is not None:
            counters.append(Counter(prefix + "rpm", 1, limits.rpm, MINUTE_MS))
            labels.append((scope, RPM))
        if limits.tpm is not None:
            counters.append(
                Counter(prefix + "tpm", _amount(demand.tokens, limits.tpm, demand), limits.tpm, MINUTE_MS)
            )
            labels.append((scope, TPM))
        if limits.max_concurrent is not None:
            counters.append(Counter(prefix + "conc", 1, limits.max_concurrent, 0, CONCURRENCY_TTL_MS))
            labels.append((scope, CONC))
        if limits.monthly_tokens is not None:
            limit = limits.monthly_tokens
            counters.append(
                Counter(
                    f"{prefix}mt:{period}",
                    _amount(demand.tokens, limit, demand),
                    limit,
                    0,
                    left_ms + _MONTH_SLACK_MS,
                )
            )
            labels.append((scope, MONTH_TOKENS))
        if limits.monthly_budget_krw is not None:
            limit = limits.monthly_budget_krw * 1000
            amount = _amount(demand.cost_milli_krw, limit, demand)
            counters.append(Counter(f"{prefix}krw:{period}", amount, limit, 0, left_ms + _MONTH_SLACK_MS))
            labels.append((scope, MONTH_KRW))
    return Plan(tuple(counters), tuple(labels))


def _amount(wanted: int, limit: int, demand: Demand) -> int:
    # When the client set no max_tokens the default is only a guess: never let the guess alone make
    # a request impossible; it settles to what was really used anyway.
    # At least 1 while anything is wanted, so a limit of 0 still refuses everything.
    return wanted if demand.explicit else min(wanted, max(limit, 1))


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
        detail = f"Limit {_won(state.limit)}, Used {_won(state.used)}, Requested {_won(counter.amount)}."
    else:
        detail = f"Limit {state.limit}, Used {state.used}, Requested {counter.amount}."
    if name in _QUOTAS:
        _, left_ms = month_period(now)
        what = "monthly token quota" if name == MONTH_TOKENS else "monthly budget"
        return QuotaExceeded(
            f"You exceeded your {scope}'s {what} ({detail}); it resets at the start of next month.",
            retry_after_s=left_ms / 1000,
        )
    if counter.amount > state.limit:
        # It can never pass, however long the client waits: say so, and tell the SDKs not to retry.
        error = RateLimited(
            f"Request too large for the {scope}'s {_NAMES[name]}: {detail} Lower max_tokens or the prompt.",
            retry_after_s=60.0,
        )
        error.headers = (*error.headers, (b"x-should-retry", b"false"))
        return error
    wait_s = 1.0 if name == CONC else max(state.reset_ms, 1) / 1000
    return RateLimited(
        f"Rate limit reached for the {scope}'s {_NAMES[name]}: {detail} "
        f"Please try again in {openai_duration(wait_s * 1000)}.",
        retry_after_s=wait_s,
    )


def rate_limit_headers(plan: Plan, states: tuple[CounterState, ...]) -> list[tuple[bytes, bytes]]:
    """OpenAI's ``x-ratelimit-*`` headers for the tightest per-minute request and token limits."""
    headers: list[tuple[bytes, bytes]] = []
    for name, suffix in ((RPM, b"requests"), (TPM, b"tokens")):
        best: CounterState | None = None
        for (_, limit_name), state in zip(plan.limits, states, strict=True):
            if limit_name == name and (best is None or _tighter(state, best)):
                best = state
        if best is not None:
            headers += [
                (b"x-ratelimit-limit-" + suffix, str(best.limit).encode()),
                (b"x-ratelimit-remaining-" + suffix, str(max(0, best.limit - best.used)).encode()),
                (b"x-ratelimit-reset-" + suffix, openai_duration(best.reset_ms).encode()),
            ]
    return headers


def _won(milli: int) -> str:
    return f"KRW {milli / 1000:,.3f}".rstrip("0").rstrip(".")


def _tighter(a: CounterState, b: CounterState) -> bool:
    return (a.limit - a.used, a.limit) < (b.limit - b.used, b.limit)


def openai_duration(ms: float) -> str:
    """A duration as OpenAI writes its reset headers: ``120ms``, ``1s``, ``8.64s``, ``6m0s``, ``1h2m3s``."""
    if ms < 1000:
        return f"{max(0, math.ceil(ms))}ms"
    seconds = math.ceil(ms) / 1000
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - int(seconds)
    tail = f"{secs + fraction:.3f}".rstrip("0").rstrip(".") + "s"
    return (f"{hours}h" if hours else "") + f"{minutes}m" + tail


def requested_output(payload: dict[str, Any]) -> int | None:
    """The most tokens the request may generate, as the client set it (None: not set)."""
    best: int | None = None
    for name in ("max_completion_tokens", "max_tokens"):
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            best = value if best is None else min(best, value)
    n = payload.get("n")
    if best is not None and isinstance(n, int) and not isinstance(n, bool) and n > 1:
        best *= n
    return best


__all__ = ["Demand", "Plan", "plan", "rate_limit_headers", "refusal", "retry_headers", "settle_amounts"]
