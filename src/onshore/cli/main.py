"""The root ``onshore`` command.

Subcommands live one per module and are imported only when they run (the poetry pattern), so
``onshore --help`` never imports the server, the database layer or the planner's numerical stack.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from onshore import __version__
from onshore.cli.common import Group

# name -> (module:attribute, one-line help). The help is duplicated here so that `--help` can list
# every command without importing any of them.
_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("onshore.cli.serve:serve", "Run the gateway (OpenAI-compatible API and admin API)."),
    "init": ("onshore.cli.init:init", "Write a starter config, create an organisation and a key."),
    "orgs": ("onshore.cli.orgs:orgs", "Create, list and set partner organisations (jurisdictions)."),
    "keys": ("onshore.cli.keys:keys", "Create, list and revoke partner API keys."),
    "operators": (
        "onshore.cli.operators:operators",
        "Create, list and revoke operators (admin, billing, auditor) and their tokens.",
    ),
    "backends": ("onshore.cli.backends:backends", "List configured inference backends and their health."),
    "usage": ("onshore.cli.usage:usage", "Show an organisation's metered usage."),
    "limits": ("onshore.cli.limits:limits", "Set, show and clear rate limits, quotas and budgets."),
    "prices": ("onshore.cli.prices:prices", "Set and list prices per model (KRW per million tokens)."),
    "invoices": ("onshore.cli.invoices:invoices", "Issue, list and show monthly invoices in KRW."),
    "policy": (
        "onshore.cli.policy:policy",
        "Set and show jurisdictions and personal-data policies of organisations and keys.",
    ),
    "residency": (
        "onshore.cli.residency:residency",
        "Report where an organisation's requests were processed, from the ledger.",
    ),
    "audit": ("onshore.cli.audit:audit", "The audit trail: list, verify its hash chain, export, checkpoint."),
    "db": ("onshore.cli.db:db", "Database migrations."),
    "pii": ("onshore.cli.pii:pii", "Detect Korean personal data in text."),
    "plan": ("onshore.cli.plan:plan", "Size an AI data center by simulation."),
}


class LazyGroup(Group):
    """A group whose subcommands are imported on first use; errors are mapped by ``Group``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        if ctx.resilient_parsing:  # shell completion: don't import anything
            return click.Command(cmd_name, help=target[1], short_help=target[1])
        module_name, attribute = target[0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
            raise TypeError(f"{target[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `onshore --help` lists the one-line help kept above instead of importing every command.
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="onshore")
def cli() -> None:
    """Onshore: an in-country AI gateway, its operator tools and a capacity planner."""


def main(argv: list[str] | None = None) -> Any:
    """Console entry point. User errors exit 1 with one line; nothing prints a traceback."""
    return cli.main(args=argv, prog_name="onshore")
