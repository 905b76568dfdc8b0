"""ruff and mypy --strict are part of the test suite, so CI holds the line on every change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "scripts")
    assert result.returncode == 0, result.stdout[-6000:]


def test_ruff_format_is_applied() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", "src")
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_strict_is_clean() -> None:
    result = _run(str(BIN / "mypy"), "src/onshore")
    assert result.returncode == 0, result.stdout[-6000:]
