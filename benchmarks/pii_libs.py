"""Measure the library alternatives considered for the PII detector (why they were not chosen).

    taskset -c 1 python benchmarks/pii_libs.py

Compares, on the same inputs: the digit-run prefilter with stdlib ``re`` vs the ``regex``
package; Korea's numbering plan via ``phonenumbers`` vs ``onshore.pii.numbering``; and
``python-stdnum`` validators vs ``onshore.pii.validators`` (speed and agreement). The optional
packages come with ``pip install -e '.[pii-bench]'`` (Presidio depends on ``phonenumbers``) plus
``pip install regex python-stdnum``; missing ones are reported and skipped.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_bench import make_prompts

from onshore.pii import numbering, validators
from onshore.pii.runs import RUN

ROOT = Path(__file__).resolve().parent.parent


def per_call_us(fn: Callable[[Any], object], items: list[Any], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - start)
    return best / len(items) * 1e6


def optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"  ({name} not installed: skipped)")
        return None


def corpus_digits(types: set[str]) -> list[str]:
    out = []
    with (ROOT / "tests" / "data" / "pii" / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            for label in record["labels"]:
                if label["type"] in types:
                    value = record["text"][label["start"] : label["end"]]
                    value = unicodedata.normalize("NFKC", value)
                    out.append("".join(ch for ch in value if ch.isascii() and ch.isdigit()))
    return out


def _national(digits: str) -> str:
    if digits.startswith("82"):
        digits = digits[2:]
        return digits if digits.startswith("0") else "0" + digits
    return digits


def main() -> int:
    prompts = make_prompts(4096, 500_000, seed=4096)
    nbytes = sum(len(p.encode()) for p in prompts)
    print("1. digit-run prefilter over 4 KB prompts (MB/s, CPU time)")
    rx = optional("regex")
    engines: list[tuple[str, Any]] = [("re (stdlib)", RUN)]
    if rx is not None:
        engines.append(("regex package", rx.compile(RUN.pattern)))
    for name, pattern in engines:
        seconds = (
            per_call_us(lambda p, pat=pattern: sum(1 for _ in pat.finditer(p)), prompts) * len(prompts) / 1e6
        )
        print(f"  {name:16s} {nbytes / seconds / 1e6:7.1f} MB/s")

    print("2. Korean phone numbers (national digits from the corpus), per call")
    phones = [_national(d) for d in corpus_digits({"KR_PHONE"})]
    ours = per_call_us(numbering.phone_kind, phones)
    print(f"  onshore.pii.numbering.phone_kind   {ours:6.2f} us")
    pn = optional("phonenumbers")
    if pn is not None:

        def lib(number: str) -> bool:
            return bool(pn.is_valid_number(pn.parse(number, "KR")))

        theirs = per_call_us(lib, phones)
        agree = sum((numbering.phone_kind(p) is not None) == lib(p) for p in phones) / len(phones)
        print(
            f"  phonenumbers parse+is_valid_number {theirs:6.2f} us  agreement {agree:.1%} on {len(phones)}"
        )

    print("3. check digits, per call")
    cards = corpus_digits({"CREDIT_CARD"})
    rrns = corpus_digits({"KR_RRN"})
    brns = corpus_digits({"KR_BRN"})
    print(f"  luhn: onshore {per_call_us(validators.luhn_valid, cards):.2f} us", end="")
    luhn = optional("stdnum.luhn")
    if luhn is not None:
        print(f", stdnum {per_call_us(luhn.is_valid, cards):.2f} us", end="")
    print()
    rrn_ours = [validators.registration_date_valid(r) for r in rrns]
    print(
        f"  RRN: onshore accepts {sum(rrn_ours)}/{len(rrns)} (date + century digit; checksum only boosts)",
        end="",
    )
    kr_rrn = optional("stdnum.kr.rrn")
    if kr_rrn is not None:
        accepted = sum(map(kr_rrn.is_valid, rrns))
        print(f", stdnum.kr.rrn accepts {accepted}/{len(rrns)} (rejects post-2020 numbers)")
    kr_brn = optional("stdnum.kr.brn")
    if kr_brn is not None:
        broken = [b[:9] + str((int(b[9]) + 1) % 10) for b in brns]
        ours_ok = sum(map(validators.brn_valid, broken))
        theirs_ok = sum(map(kr_brn.is_valid, broken))
        print(
            f"  BRN with a wrong check digit: onshore accepts {ours_ok}/{len(broken)}, "
            f"stdnum.kr.brn accepts {theirs_ok}/{len(broken)} (no check digit)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
