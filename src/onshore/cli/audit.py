"""``onshore audit``: who changed which organisation or key, and when (newest first)."""

from __future__ import annotations

import click

from onshore.cli.common import config_option, json_option, print_json, print_table, store_for


@click.command()
@click.option("--org", default=None, help="Only this organisation's entries.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@config_option
@json_option
def audit(org: str | None, limit: int, config: str | None, as_json: bool) -> None:
    """Show the audit trail (newest first)."""
    from onshore.admin.audit import audit_json, list_entries  # noqa: PLC0415

    store = store_for(config)
    try:
        entries = list_entries(store.audit_reader, store.tenancy, org_name=org, limit=limit)
    finally:
        store.close()
    if as_json:
        print_json({"object": "list", "data": [audit_json(e) for e in entries]})
        return
    print_table(
        ("at", "actor", "action", "target", "org"),
        [(e.at.isoformat(timespec="seconds"), e.actor, e.action, e.target_id, e.org_id) for e in entries],
    )
