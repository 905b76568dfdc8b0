"""The labelled corpus: it is what the generator writes, and the detector meets the bar on it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from onshore.pii import Detector, EntityType
from onshore.pii.evaluate import Span, evaluate, format_table, load_corpus

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "data" / "pii" / "corpus.jsonl"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pii_corpus", ROOT / "scripts" / "pii_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_file_is_what_the_generator_writes() -> None:
    records = _generator().build()
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    assert [json.dumps(r, ensure_ascii=False) for r in records] == lines


def test_corpus_shape() -> None:
    examples = load_corpus(CORPUS)
    assert len(examples) >= 500
    assert sum(e.negative for e in examples) >= 150
    assert {label.type for e in examples for label in e.labels} == {t.value for t in EntityType}
    assert {json.loads(line)["lang"] for line in CORPUS.read_text(encoding="utf-8").splitlines()} == {
        "ko",
        "en",
        "mixed",
    }
    for example in examples:
        assert example.negative == (not example.labels)
        for label in example.labels:
            assert 0 <= label.start < label.end <= len(example.text)


def test_accuracy_on_the_corpus() -> None:
    detector = Detector()
    report = evaluate(
        load_corpus(CORPUS), lambda text: [Span(f.type.value, f.start, f.end) for f in detector.scan(text)]
    )
    table = format_table({"onshore": report})
    assert report.overall.precision >= 0.95, table
    assert report.overall.recall >= 0.95, table
    assert report.false_alarm_rate <= 0.05, table


HELDOUT = ROOT / "tests" / "data" / "pii" / "heldout.jsonl"


def test_heldout_file_is_what_its_script_writes() -> None:
    spec = importlib.util.spec_from_file_location("pii_heldout", ROOT / "scripts" / "pii_heldout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = HELDOUT.read_text(encoding="utf-8").splitlines()
    assert [json.dumps(r, ensure_ascii=False) for r in module.build()] == lines


def test_accuracy_on_the_heldout_set() -> None:
    """Hand-written prompts, independent of the generator's templates (scripts/pii_heldout.py)."""
    examples = load_corpus(HELDOUT)
    assert len(examples) >= 150
    assert sum(e.negative for e in examples) >= 60
    assert {label.type for e in examples for label in e.labels} == {t.value for t in EntityType}
    detector = Detector()
    report = evaluate(
        examples, lambda text: [Span(f.type.value, f.start, f.end) for f in detector.scan(text)]
    )
    table = format_table({"onshore": report})
    assert report.overall.precision >= 0.95, table
    assert report.overall.recall >= 0.95, table
    assert report.false_alarm_rate <= 0.05, table
