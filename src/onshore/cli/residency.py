"""``onshore residency report --org NAME --month YYYY-MM [--json]``."""

from __future__ import annotations

import click

from onshore.cli.common import Group, config_option, json_option, load, print_json, print_table, store_for
from onshore.cli.usage import won


@click.group(cls=Group)
def residency() -> None:
    """Where organisations' requests were processed, from the ledger."""


def _month_flag(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from onshore.admin.usage import month_bounds  # noqa: PLC0415 - keep --help fast
    from onshore.errors import InvalidRequest  # noqa: PLC0415

    try:
        month_bounds(value)
    except InvalidRequest as exc:
        raise click.BadParameter(exc.message, ctx, param) from None
    return value


@residency.command("report")
@click.option("--org", "org", required=True, metavar="NAME", help="The organisation.")
@click.option(
    "--month", required=True, callback=_month_flag, metavar="YYYY-MM", help="The month (UTC), e.g. 2026-11."
)
@config_option
@json_option
def report(org: str, month: str, config: str | None, as_json: bool) -> None:
    """Requests and tokens by jurisdiction and backend, and the refusals, for one month.

    Read from the usage ledger in one query: every request of the month counts once, under the
    backend that served it and the jurisdiction recorded then, or as not routed (refused before a
    backend was chosen). The refusals (residency and personal-data policy) are counted in the
    totals too, and listed apart.
    """
    from onshore.admin.residency import residency_for_month, residency_json  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        found, allowed = residency_for_month(
            store.tenancy, store.usage, store.policies, org, month, home=settings.server.jurisdiction
        )
    finally:
        store.close()
    data = residency_json(found, org, allowed)
    if as_json:
        print_json(data)
        return
    click.echo(f"{org}: {found.period_start:%Y-%m} (UTC); data may be processed in {','.join(allowed)} (now)")
    click.echo(
        f"requests {found.requests}: served {found.served_requests}, not routed {found.not_routed_requests}; "
        f"tokens {found.total_tokens:,} (prompt {found.prompt_tokens:,}, completion "
        f"{found.completion_tokens:,}); cost {won(found.cost_micro_krw)}"
    )
    print_table(
        ["jurisdiction", "backend", "requests", "failed", "prompt", "completion", "total", "cost"],
        [
            (
                s.jurisdiction or "unknown",
                s.backend,
                s.requests,
                s.failed_requests,
                s.prompt_tokens,
                s.completion_tokens,
                s.total_tokens,
                won(s.cost_micro_krw),
            )
            for s in found.served
        ],
    )
    click.echo("")
    click.echo("refusals:")
    print_table(
        ["status", "error", "requests"], [(r.status, r.error_code, r.requests) for r in found.refusals]
    )
