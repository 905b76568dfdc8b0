"""``onshore invoices create|list|show``: monthly invoices in KRW (docs/invoices.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from onshore.cli.common import (
    Group,
    cli_actor,
    config_option,
    json_option,
    load,
    print_json,
    print_table,
    store_for,
)

if TYPE_CHECKING:
    from onshore.domain.invoice import Invoice


@click.group(cls=Group)
def invoices() -> None:
    """Issue, list and show monthly invoices in KRW."""


@invoices.command("create")
@click.option("--org", "org_name", required=True, metavar="NAME", help="The organisation to invoice.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The UTC month to invoice.")
@click.option(
    "--corrects",
    default=None,
    metavar="ID",
    help="Issue a correction of this invoice (the month's current one), which it then supersedes.",
)
@click.option(
    "--preview",
    is_flag=True,
    help="Compute the invoice without issuing it (any month, the current one included).",
)
@config_option
@json_option
def create(
    org_name: str, month: str, corrects: str | None, preview: bool, config: str | None, as_json: bool
) -> None:
    """Issue an organisation's invoice for a month that is over (numbered, immutable, audited)."""
    from onshore.admin.billing import create_invoice, preview_invoice  # noqa: PLC0415
    from onshore.admin.invoice_render import invoice_json  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        if preview:
            invoice = preview_invoice(store, org_name, month, settings=settings, corrects=corrects)
        else:
            invoice = create_invoice(
                store, org_name, month, actor=cli_actor(), settings=settings, corrects=corrects
            )
    finally:
        store.close()
    if as_json:
        print_json(invoice_json(invoice))
        return
    _print_summary(invoice)


@invoices.command("list")
@click.option("--org", "org_name", default=None, metavar="NAME", help="Only this organisation's invoices.")
@config_option
@json_option
def list_(org_name: str | None, config: str | None, as_json: bool) -> None:
    """List issued invoices, newest first."""
    from onshore.admin.billing import list_invoices  # noqa: PLC0415
    from onshore.admin.invoice_render import invoice_json, invoice_status  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        found = list_invoices(store, org_name)
    finally:
        store.close()
    if as_json:
        print_json({"object": "list", "data": [invoice_json(i) for i in found]})
        return
    rows = [
        (
            i.id,
            i.org_name,
            str(i.month),
            f"{i.totals.subtotal_krw:,}",
            f"{i.totals.vat_krw:,}",
            f"{i.totals.total_krw:,}",
            invoice_status(i) + (f" by {i.superseded_by}" if i.superseded_by else ""),
            i.corrects or "",
        )
        for i in found
    ]
    print_table(["invoice", "org", "month", "subtotal", "vat", "total (KRW)", "status", "corrects"], rows)


@invoices.command("show")
@click.argument("invoice_id", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "csv", "json"]),
    default="json",
    show_default=True,
    help="html prints on A4 from a browser.",
)
@click.option(
    "--lang", type=click.Choice(["ko", "en"]), default="ko", show_default=True, help="The HTML's language."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write to FILE instead of stdout.",
)
@config_option
def show(invoice_id: str, fmt: str, lang: str, out: Path | None, config: str | None) -> None:
    """Show an invoice as JSON, CSV or printable HTML."""
    from onshore.admin.billing import get_invoice  # noqa: PLC0415
    from onshore.admin.invoice_render import invoice_json, render_csv, render_html  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        invoice = get_invoice(store, invoice_id)
    finally:
        store.close()
    if fmt == "json":
        import orjson  # noqa: PLC0415

        text = orjson.dumps(invoice_json(invoice), option=orjson.OPT_INDENT_2).decode() + "\n"
    elif fmt == "csv":
        text = render_csv(invoice)
    else:
        text = render_html(invoice, lang)
    if out is None:
        click.echo(text, nl=False)
        return
    # newline="": the CSV's own CRLF line ends are kept as they are.
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    click.echo(f"wrote {invoice.id} as {fmt} to {out}", err=True)


def _print_summary(invoice: Invoice) -> None:
    totals = invoice.totals
    title = "preview (not issued)" if invoice.id is None else f"issued {invoice.id}"
    click.echo(f"{title}: {invoice.org_name}, {invoice.month}")
    if invoice.corrects:
        click.echo(f"corrects {invoice.corrects}")
    rows = [
        (
            line.model,
            f"{line.period_start.isoformat()}..{line.period_end.isoformat()}",
            f"{line.input_tokens:,}",
            f"{line.cached_tokens:,}",
            f"{line.output_tokens:,}",
            f"{line.amount_krw:,}",
        )
        for line in invoice.lines
    ]
    print_table(["model", "price period", "input", "cached input", "output", "amount (KRW)"], rows)
    click.echo(f"adjustment  {totals.adjustment_krw:>16,}")
    click.echo(f"subtotal    {totals.subtotal_krw:>16,}")
    rate = f"{totals.vat_rate * 100:f}".rstrip("0").rstrip(".")
    click.echo(f"{'VAT ' + rate + '%':<12}{totals.vat_krw:>16,}")
    click.echo(f"total       {totals.total_krw:>16,}")
