"""``onshore plan`` progress: a bar naming what is simulated on a terminal, nothing otherwise."""

from __future__ import annotations

import io
import json

from click.testing import CliRunner
from rich.console import Console

from onshore.cli.plan import plan

SIZE = [
    "size",
    "--model",
    "llama-3.1-8b",
    "--mau",
    "100000",
    "--gpus",
    "h100",
    "--tp",
    "1,2",
    "--precision",
    "fp8",
    "--max-num-seqs",
    "128",
    "--tpot-p99-ms",
    "80",
    "--executor",
    "serial",
]
LABEL = "llama-3.1-8b · h100 · tp1 · fp8 · seqs 128"


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=160), buf


def test_json_and_pipes_get_no_progress_and_exact_json() -> None:
    out = CliRunner().invoke(plan, [*SIZE, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)  # stdout is the JSON document and nothing else
    assert data["best"]["configuration"]["gpu"] == "h100"
    assert out.stderr == ""  # stderr is not a terminal: no bar
    console, buf = _terminal()
    quiet = CliRunner().invoke(plan, [*SIZE, "--json"], obj={"progress_console": console})
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.stdout) == data
    assert buf.getvalue() == ""  # a terminal, but --json: no bar either


def test_a_terminal_sees_what_is_simulated() -> None:
    console, buf = _terminal()
    out = CliRunner().invoke(plan, SIZE, obj={"progress_console": console})
    assert out.exit_code == 0, out.output
    shown = buf.getvalue()
    assert f"simulating {LABEL}" in shown
    assert "\x1b[" in shown  # drawn with terminal control codes, on the injected (stderr) console
    assert "simulating" not in out.stdout


def test_validate_progress_names_the_published_point() -> None:
    console, buf = _terminal()
    out = CliRunner().invoke(plan, ["validate", "--limit", "2"], obj={"progress_console": console})
    assert out.exit_code == 0, out.output
    assert "simulating " in buf.getvalue() and " tokens" in buf.getvalue()
    console, buf = _terminal()
    as_json = CliRunner().invoke(
        plan, ["validate", "--limit", "2", "--json"], obj={"progress_console": console}
    )
    assert json.loads(as_json.stdout) and buf.getvalue() == ""


def test_executor_from_the_environment_and_exhaustive_search() -> None:
    args = [a for a in SIZE if a not in ("--executor", "serial")]
    env = {"ONSHORE_PLAN_EXECUTOR": "serial"}
    pruned = CliRunner().invoke(plan, [*args, "--json"], env=env)
    full = CliRunner().invoke(plan, [*args, "--json", "--exhaustive"], env=env)
    assert pruned.exit_code == 0 and full.exit_code == 0, pruned.output + full.output
    best, every = json.loads(pruned.stdout), json.loads(full.stdout)
    assert best["best"] == every["best"]
    assert not any(c["reason"].startswith("not simulated") for c in every["candidates"])
    assert every["assumptions"]["exhaustive"] is True and best["assumptions"]["exhaustive"] is False
    assert not {"executor", "cluster"} & set(every["assumptions"])  # no cluster address in reports
    bad = CliRunner().invoke(plan, [*args, "--executor", "spark"])
    assert bad.exit_code == 2 and "spark" in bad.output
