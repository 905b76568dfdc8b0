"""Score a detector on a labelled corpus: per-type and overall precision, recall and F1.

A finding is a true positive when its type equals a label's type and it overlaps at least half
of the labelled span; each label and each finding is matched at most once. The false-alarm rate
is the share of negative prompts (no personal data) with at least one finding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Span:
    """A typed span: a label or a prediction."""

    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled prompt."""

    id: str
    text: str
    labels: tuple[Span, ...]
    negative: bool


Predictor = Callable[[str], Iterable[Span]]


@dataclass(slots=True)
class Score:
    """Counts for one type (or all types)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(slots=True)
class Report:
    """The result of :func:`evaluate`."""

    per_type: dict[str, Score] = field(default_factory=dict)
    overall: Score = field(default_factory=Score)
    negatives: int = 0
    negatives_flagged: int = 0
    misses: list[tuple[str, Span]] = field(default_factory=list)  # (example id, label)
    false_alarms: list[tuple[str, Span]] = field(default_factory=list)  # (example id, prediction)

    @property
    def false_alarm_rate(self) -> float:
        return self.negatives_flagged / self.negatives if self.negatives else 0.0


def load_corpus(path: Path) -> list[Example]:
    """Read the JSONL corpus written by ``scripts/pii_corpus.py``."""
    examples = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            labels = tuple(Span(lab["type"], lab["start"], lab["end"]) for lab in record["labels"])
            examples.append(Example(record["id"], record["text"], labels, bool(record["negative"])))
    return examples


def _matches(label: Span, pred: Span) -> bool:
    overlap = min(label.end, pred.end) - max(label.start, pred.start)
    return label.type == pred.type and overlap * 2 >= label.end - label.start


def evaluate(examples: Iterable[Example], predict: Predictor) -> Report:
    """Run ``predict`` on every example and count matches."""
    report = Report()
    for example in examples:
        preds = list(predict(example.text))
        used = [False] * len(preds)
        for label in example.labels:
            score = report.per_type.setdefault(label.type, Score())
            for i, pred in enumerate(preds):
                if not used[i] and _matches(label, pred):
                    used[i] = True
                    score.tp += 1
                    break
            else:
                score.fn += 1
                report.misses.append((example.id, label))
        for i, pred in enumerate(preds):
            if not used[i]:
                report.per_type.setdefault(pred.type, Score()).fp += 1
                report.false_alarms.append((example.id, pred))
        if example.negative:
            report.negatives += 1
            report.negatives_flagged += 1 if preds else 0
    for score in report.per_type.values():
        report.overall.tp += score.tp
        report.overall.fp += score.fp
        report.overall.fn += score.fn
    return report


def format_table(reports: dict[str, Report]) -> str:
    """A Markdown table with one P/R/F1 column group per named report."""
    names = list(reports)
    types = sorted({t for r in reports.values() for t in r.per_type})
    header = "| type | " + " | ".join(f"{n} P | {n} R | {n} F1" for n in names) + " |"
    rule = "|---|" + "---|---|---|" * len(names)
    rows = [header, rule]

    def cells(score: Score) -> str:
        return f"{score.precision:.3f} | {score.recall:.3f} | {score.f1:.3f}"

    for etype in types:
        counts = [r.per_type.get(etype, Score()) for r in reports.values()]
        support = max(s.tp + s.fn for s in counts)
        rows.append(f"| {etype} ({support}) | " + " | ".join(cells(s) for s in counts) + " |")
    rows.append("| **overall** | " + " | ".join(cells(r.overall) for r in reports.values()) + " |")
    rates = " | ".join(
        f"{r.negatives_flagged}/{r.negatives} = {r.false_alarm_rate:.3f} | | " for r in reports.values()
    )
    rows.append(f"| false alarms on negatives | {rates}")
    return "\n".join(rows)
