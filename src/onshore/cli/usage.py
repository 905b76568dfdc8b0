"""``onshore usage --org NAME [--month YYYY-MM]``."""

from __future__ import annotations

import click

from onshore.cli.common import config_option, json_option, print_json, print_table, store_for


@click.command()
@click.option("--org", "org", required=True, help="The organisation.")
@click.option("--month", default=None, help="YYYY-MM (default: the current month, UTC).")
@config_option
@json_option
def usage(org: str, month: str | None, config: str | None, as_json: bool) -> None:
    """Show an organisation's metered usage for a month.

    Billable usage is listed by model; requests that produced none (refused, failed before any
    token, unknown models) are counted apart, by status and error code, so the two add up to the
    total and a model name a partner typed never looks like usage.
    """
    from onshore.admin.usage import summary_to_json, usage_for_month  # noqa: PLC0415

    store = store_for(config)
    try:
        summary = usage_for_month(store.tenancy, store.usage, org, month)
    finally:
        store.close()
    data = summary_to_json(summary, org)
    if as_json:
        print_json(data)
        return
    click.echo(f"{org}: {summary.period_start:%Y-%m} (UTC)")
    click.echo(
        f"requests {summary.requests} (failed {summary.failed_requests}), "
        f"prompt tokens {summary.prompt_tokens}, completion tokens {summary.completion_tokens}, "
        f"total {summary.total_tokens}"
    )
    click.echo(
        f"billable requests {summary.billable_requests}, "
        f"requests without billable usage {summary.rejected_requests}"
    )
    click.echo(f"cost {won(summary.cost_micro_krw)} (each request at the price in force when it was served)")
    print_table(
        ["model", "requests", "prompt", "completion", "total", "cost"],
        [
            (m.model, m.requests, m.prompt_tokens, m.completion_tokens, m.total_tokens, won(m.cost_micro_krw))
            for m in summary.by_model
        ],
    )
    if summary.rejected:
        click.echo("")
        click.echo("without billable usage:")
        print_table(
            ["status", "error", "requests"],
            [(r.status, r.error_code or "-", r.requests) for r in summary.rejected],
        )


def won(micro_krw: int) -> str:
    """Micro-won as ₩1,234.56 (rounded half-even to the 0.01 won shown; the JSON has it exactly)."""
    from onshore.domain.limits import micro_to_krw  # noqa: PLC0415

    return f"₩{micro_to_krw(micro_krw):,.2f}"
