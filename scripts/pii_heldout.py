"""Write the held-out PII evaluation set ``tests/data/pii/heldout.jsonl`` from hand-written prompts.

    python scripts/pii_heldout.py [--out tests/data/pii/heldout.jsonl]

The prompts below were written by hand, independently of ``pii_corpus.py`` and its templates, in
the styles people paste into a chat box: support chats, forms, HR records, order messages,
tables, CSV lines, JSON, markdown and wrapped text. Identifiers are marked inline as
``«TYPE:value»``; this script removes the marks, computes each label's offsets and fills check
digits with its own small implementations of the rules (independent of ``onshore.pii``):

- ``?`` in a value is replaced by the valid check digit for the type (RRN, ARN, BRN, CRN, card);
- ``#`` is replaced by a wrong one, and such a value must be marked ``!TYPE`` (a hard negative,
  no label is written);
- ``TYPE~`` writes the value with full-width digits, dashes and dots.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_heldout_prompts import (
    NEGATIVE,
    NEGATIVE_2,
    NEGATIVE_3,
    NEGATIVE_4,
    POSITIVE,
    POSITIVE_2,
    POSITIVE_3,
    POSITIVE_4,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "pii" / "heldout.jsonl"
_MARK = re.compile(r"«(!?)([A-Z_]+)(~?):([^»]+)»")
_FULL = {ord(c): ord(c) - 0x21 + 0xFF01 for c in "0123456789-."}
_TYPES = {
    "RRN": "KR_RRN",
    "ARN": "KR_ARN",
    "PH": "KR_PHONE",
    "BRN": "KR_BRN",
    "CRN": "KR_CRN",
    "PP": "KR_PASSPORT",
    "DL": "KR_DRIVER_LICENSE",
    "BA": "KR_BANK_ACCOUNT",
    "CC": "CREDIT_CARD",
    "EM": "EMAIL",
    "IP": "IP_ADDRESS",
}


def _digits(value: str) -> list[int]:
    return [int(ch) for ch in value if ch.isdigit()]


def _check(kind: str, d: list[int]) -> int:
    """The valid check digit for the digits before it (each rule written out on its own)."""
    if kind in ("RRN", "ARN"):
        s = sum(w * x for w, x in zip([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5], d, strict=True))
        return ((11 if kind == "RRN" else 13) - s % 11) % 10
    if kind == "BRN":
        s = sum(w * x for w, x in zip([1, 3, 7, 1, 3, 7, 1, 3, 5], d, strict=True)) + d[8] * 5 // 10
        return (10 - s % 10) % 10
    if kind == "CRN":
        s = sum(x * (2 if i % 2 else 1) for i, x in enumerate(d))
        return (10 - s % 10) % 10
    if kind == "CC":  # Luhn: double every second digit from the right of the full number
        s = 0
        for i, x in enumerate(reversed(d)):
            y = x * 2 if i % 2 == 0 else x
            s += y - 9 if y > 9 else y
        return (10 - s % 10) % 10
    raise ValueError(f"{kind} has no check digit")


def _fill(kind: str, value: str) -> str:
    for mark, wrong in (("?", 0), ("#", 1)):
        if mark in value:
            head = value[: value.index(mark)]
            digit = (_check(kind, _digits(head)) + wrong * 7) % 10  # 7 keeps a wrong digit wrong
            value = head + str(digit) + value[value.index(mark) + 1 :]
    return value


def render(prompt: str) -> tuple[str, list[dict[str, object]]]:
    """The prompt without marks, and its labels with exact offsets."""
    out: list[str] = []
    labels: list[dict[str, object]] = []
    pos = 0
    length = 0
    for match in _MARK.finditer(prompt):
        out.append(prompt[pos : match.start()])
        length += match.start() - pos
        negative, kind, full, value = match.groups()
        value = _fill(kind, value)
        if full:
            value = value.translate(_FULL)
        if not negative:
            labels.append({"type": _TYPES[kind], "start": length, "end": length + len(value)})
        out.append(value)
        length += len(value)
        pos = match.end()
    out.append(prompt[pos:])
    text = "".join(out)
    if "«" in text or "»" in text:
        raise ValueError(f"unbalanced mark in {prompt!r}")
    return text, labels


def build() -> list[dict[str, object]]:
    """Every prompt as a corpus record (the shape of ``tests/data/pii/corpus.jsonl``)."""
    records: list[dict[str, object]] = []
    batches = (
        (POSITIVE, True),
        (NEGATIVE, False),
        (POSITIVE_2, True),
        (NEGATIVE_2, False),
        (POSITIVE_3, True),
        (NEGATIVE_3, False),
        (POSITIVE_4, True),
        (NEGATIVE_4, False),
    )
    for prompts, positive in batches:
        for prompt in prompts:
            text, labels = render(prompt)
            if positive != bool(labels):
                raise ValueError(f"prompt is in the wrong list: {prompt!r}")
            record = {"id": f"h{len(records):03d}", "text": text, "labels": labels, "negative": not labels}
            records.append(record)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    records = build()
    with args.out.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    n_labels = sum(len(r["labels"]) for r in records)  # type: ignore[arg-type]
    n_neg = sum(map(len, (NEGATIVE, NEGATIVE_2, NEGATIVE_3, NEGATIVE_4)))
    print(f"{args.out}: {len(records)} prompts, {n_neg} negatives, {n_labels} labels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
