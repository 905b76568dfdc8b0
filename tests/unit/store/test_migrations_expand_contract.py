"""Migrations expand, then contract (docs/upgrades.md): during a rolling upgrade the previous
release's replicas run on the new schema, so a migration after 0008 may drop or rename a table or
a column in its ``upgrade()`` only when the line says, with a ``# contract:`` comment, which
release stopped using it. ``downgrade()`` is not checked (it undoes an expansion by dropping)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import onshore.store.sql

VERSIONS = Path(onshore.store.sql.__file__).parent / "migrations" / "versions"
LAST_UNCHECKED = "0008"  # the head when the rule was written; its predecessors shipped together
MARKER = "# contract:"

# Alembic operations that remove or rename what a running older release may still read or write.
_DESTRUCTIVE_CALLS = {"drop_table", "drop_column", "rename_table"}
_DESTRUCTIVE_SQL = re.compile(r"\b(DROP\s+(TABLE|COLUMN)|RENAME\s+(TO|COLUMN))\b", re.IGNORECASE)


def contract_violations(source: str) -> list[int]:
    """Line numbers in ``upgrade()`` that drop or rename a table or column without the marker."""
    tree = ast.parse(source)
    lines = source.splitlines()
    upgrade = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None)
    if upgrade is None:
        return []
    found: set[int] = set()
    for node in ast.walk(upgrade):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            renames = name == "alter_column" and any(k.arg == "new_column_name" for k in node.keywords)
            if name in _DESTRUCTIVE_CALLS or renames:
                found.add(node.lineno)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _DESTRUCTIVE_SQL.search(node.value)
        ):
            found.add(node.lineno)
    return sorted(n for n in found if not _marked(lines, n))


def _marked(lines: list[str], lineno: int) -> bool:
    """The marker on the line itself or on the comment line just above it."""
    here = lines[lineno - 1]
    above = lines[lineno - 2].strip() if lineno >= 2 else ""
    return MARKER in here or above.startswith(MARKER)


def test_migrations_after_0008_only_expand_unless_marked() -> None:
    checked = sorted(p for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py") if p.name[:4] > LAST_UNCHECKED)
    problems = {p.name: contract_violations(p.read_text()) for p in checked}
    assert {name: lines for name, lines in problems.items() if lines} == {}


def test_the_check_sees_drops_and_renames_and_accepts_a_marked_one() -> None:
    source = """
def upgrade():
    op.add_column("t", sa.Column("new", sa.String()))
    op.drop_column("t", "old")
    with op.batch_alter_table("t") as batch:
        batch.alter_column("a", new_column_name="b")
    op.execute(sa.text("ALTER TABLE t RENAME TO u"))
    op.execute("DROP TABLE legacy")
    # contract: 0.9 stopped reading usage_records.legacy (expanded in 0009)
    op.drop_column("usage_records", "legacy")
    op.drop_table("gone")  # contract: unused since 0.8
    op.create_index("ix", "t", ["new"])


def downgrade():
    op.drop_column("t", "new")
"""
    assert contract_violations(source) == [4, 6, 7, 8]


def test_the_migrations_of_the_head_were_read() -> None:
    names = {p.name[:4] for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")}
    assert LAST_UNCHECKED in names  # the glob finds the migrations (a moved folder would pass silently)
