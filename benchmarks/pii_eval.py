"""Accuracy of Onshore's PII detector on the labelled corpus, with Presidio side by side.

    python benchmarks/pii_eval.py [--corpus tests/data/pii/corpus.jsonl] [--no-presidio] [--misses N]
    python benchmarks/pii_eval.py --corpus tests/data/pii/heldout.jsonl   # the hand-written held-out set

Prints per-type and overall precision/recall/F1 (a finding counts when its type matches and it
overlaps at least half of the labelled span) and the false-alarm rate on the negative prompts.
Presidio runs offline with its pattern recognizers and Korea added to its phone regions (see
``pii_presidio.py``); it has no CRN or bank-account recognizer, so those rows show zero recall.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_presidio import build_or_explain

from onshore.pii import Detector
from onshore.pii.evaluate import Report, Span, evaluate, format_table, load_corpus

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "pii" / "corpus.jsonl")
    parser.add_argument("--no-presidio", action="store_true", help="evaluate Onshore only")
    parser.add_argument("--presidio-threshold", type=float, default=0.0, help="Presidio score_threshold")
    parser.add_argument("--misses", type=int, default=0, help="print up to N misses and false alarms")
    args = parser.parse_args(argv)

    examples = load_corpus(args.corpus)
    detector = Detector()
    reports: dict[str, Report] = {
        "onshore": evaluate(
            examples, lambda t: [Span(f.type.value, f.start, f.end) for f in detector.scan(t)]
        )
    }
    if not args.no_presidio:
        analyze = build_or_explain(args.presidio_threshold)
        if analyze is not None:
            reports["presidio"] = evaluate(examples, lambda t: [Span(*r) for r in analyze(t)])
    n_neg = sum(e.negative for e in examples)
    print(
        f"corpus: {args.corpus.name}: {len(examples)} prompts, {n_neg} negatives, "
        f"{sum(len(e.labels) for e in examples)} labels"
    )
    print(format_table(reports))
    if args.misses:
        texts = {e.id: e.text for e in examples}
        for name, report in reports.items():
            for kind, items in (("miss", report.misses), ("false alarm", report.false_alarms)):
                for eid, span in items[: args.misses]:
                    context = texts[eid][max(0, span.start - 15) : span.end + 5].replace("\n", "⏎")
                    print(f"{name} {kind}: {eid} {span.type}: …{context}…")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
