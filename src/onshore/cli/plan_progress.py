"""What ``onshore plan`` shows while it simulates: a rich progress bar naming what is simulated.

A sizing search or a validation run takes tens of seconds. The bar goes to stderr, and only when
stderr is a terminal and ``--json`` was not given: piped, captured or JSON output stays exactly the
result. A test (or an embedding program) can hand in its own console as ``obj={"progress_console":
Console(...)}`` of click's ``invoke``/``main``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from onshore.planner.sizing import Candidate, CandidateResult
    from onshore.planner.validation.dataset import Point

SEP = " · "


def progress_console(ctx: click.Context) -> Console:
    """The console progress goes to: one handed in through ``ctx.obj``, else stderr."""
    from rich.console import Console  # noqa: PLC0415

    given = ctx.obj.get("progress_console") if isinstance(ctx.obj, dict) else None
    return given if isinstance(given, Console) else Console(stderr=True)


def candidate_label(model: str, c: Candidate) -> str:
    """``llama-3.1-70b · h100 · tp4 · fp8 · seqs 256`` (the engine when it is not vLLM)."""
    parts = [model, c.gpu, c.parallel.lower(), c.precision, f"seqs {c.max_num_seqs}"]
    return SEP.join([*parts, c.engine] if c.engine != "vllm" else parts)


def point_label(p: Point) -> str:
    """``llama-3.1-8b · h100 · tp1 · fp8 · vllm · concurrency 64 · 1024/128 tokens``."""
    s = p.scenario
    load = s.scenario if s.scenario == "offline" else f"{s.scenario} {s.load:g}"
    parts = [s.model, s.gpu, f"tp{s.tensor_parallel}", s.precision, p.engine, load]
    return SEP.join([*parts, f"{s.input_len}/{s.output_len} tokens"])


@contextmanager
def _bar(ctx: click.Context, total: int, quiet: bool) -> Iterator[tuple[Progress, TaskID]]:
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = progress_console(ctx)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet or not console.is_terminal, transient=True) as bar:
        yield bar, bar.add_task("starting", total=total)


class SweepProgress:
    """Advances on each finished configuration; names the oldest one handed to the executor and
    not finished: the one being simulated (serial), or one of those (a pool or a cluster)."""

    def __init__(self, bar: Progress, task: TaskID, model: str) -> None:
        self.bar, self.task, self.model = bar, task, model
        self.running: list[Candidate] = []

    def started(self, c: Candidate) -> None:
        self.running.append(c)
        self._show()

    def finished(self, r: CandidateResult) -> None:
        if r.candidate in self.running:
            self.running.remove(r.candidate)
        self.bar.advance(self.task)
        self._show()

    def _show(self) -> None:
        if self.running:
            more = f" (+{len(self.running) - 1} more in this round)" if len(self.running) > 1 else ""
            label = candidate_label(self.model, self.running[0]) + more
            self.bar.update(self.task, description=f"simulating {label}", refresh=True)


@contextmanager
def sweep_progress(ctx: click.Context, model: str, total: int, quiet: bool) -> Iterator[SweepProgress]:
    """A bar over ``total`` configurations of ``model`` (nothing shown when ``quiet`` or piped)."""
    with _bar(ctx, total, quiet) as (bar, task):
        yield SweepProgress(bar, task, model)


@contextmanager
def points_progress(ctx: click.Context, points: list[Point], quiet: bool) -> Iterator[Any]:
    """A bar over published points; the callable it yields is ``compare``'s ``progress(i)``."""
    with _bar(ctx, len(points), quiet) as (bar, task):

        def show(i: int) -> None:
            bar.advance(task)
            if i + 1 < len(points):
                bar.update(task, description=f"simulating {point_label(points[i + 1])}", refresh=True)

        if points:
            bar.update(task, description=f"simulating {point_label(points[0])}", refresh=True)
        yield show
