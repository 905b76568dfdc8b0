"""Write the recall-gap sets: identifiers wrapped across a line break, and digits with no separators.

    python benchmarks/pii_gaps.py            # writes tests/data/pii/gaps_{wrapped,bare}_{dev,test}.jsonl

Two gaps of the detector, each with a *dev* set (used while fixing them) and a *test* set (written
at the same time from different templates and a different seed, and scored only once the fixes
were done; see ``benchmarks/README-pii.md``):

- **wrapped**: a phone, RRN/ARN, card, BRN, CRN, account or licence number whose digits wrap at a
  line break: after or before a separator, inside a digit group, in place of a space, inside bare
  digits; ``\\n`` and ``\\r\\n``; indentation or an e-mail quote mark (``> ``) after the break.
- **bare**: the same identifiers written with no separators: particles glued on either side, after
  ``:``/``번호``, inside longer text, full-width digits.

Hard negatives in both: order, tracking, invoice and approval numbers, dates, timestamps, prices,
barcodes and coupons written the same ways (wrapped or bare). Values are synthetic; check digits
come from this script's own code (independent of ``onshore.pii``). Templates are in
``pii_gaps_templates.py``: ``{TYPE}`` is an identifier (labelled), ``{!KIND}`` a look-alike
(unlabelled) written like the identifiers, ``{~KIND}`` a look-alike written plainly (its groups
joined by the template's separator), ``⏎`` a line break written as the template's line ending.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_gaps_templates import SETS, Template

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "data" / "pii"
_FULL = {ord(c): ord(c) - 0x21 + 0xFF01 for c in "0123456789-."}
_SLOT = re.compile(r"\{([!~]?)([A-Z_]+)\}")

# ---- check digits (own implementations) --------------------------------------------------------


def _rrn_sum(d12: str) -> int:
    return sum(int(c) * w for c, w in zip(d12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these digits are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _brn_check(d9: str) -> int:
    weights = (1, 3, 7, 1, 3, 7, 1, 3, 5)
    total = sum(int(c) * w for c, w in zip(d9, weights, strict=True)) + int(d9[8]) * 5 // 10
    return (10 - total % 10) % 10


def _crn_check(d12: str) -> int:
    return (10 - sum(int(c) * (1 + i % 2) for i, c in enumerate(d12)) % 10) % 10


def _ean_check(d12: str) -> int:
    return (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(d12)) % 10) % 10


# ---- identifiers: each returns its digit groups as people write them --------------------------

Groups = list[str]


def _num(rng: random.Random, n: int, first: str = "0123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def _birth(rng: random.Random, since: date, until: date) -> date:
    return since + timedelta(days=rng.randrange((until - since).days))


def mobile(rng: random.Random) -> Groups:
    return ["010", _num(rng, 4, "2345678"), _num(rng, 4, "123456789")]


def landline(rng: random.Random) -> Groups:
    area = rng.choice(["02", "031", "032", "033", "041", "042", "051", "052", "053", "055", "062", "064"])
    return [area, _num(rng, rng.choice((3, 4)), "23456789"), _num(rng, 4, "123456789")]


def _registration(rng: random.Random, foreign: bool, new: bool) -> Groups:
    born = (
        _birth(rng, date(2020, 10, 5), date(2025, 12, 31))
        if new
        else _birth(rng, date(1950, 1, 1), date(2012, 12, 31))
    )
    sex = rng.choice((0, 1))
    gender = (5 if foreign else 1) + sex + (2 if born.year >= 2000 else 0)
    head = born.strftime("%y%m%d")
    body = str(gender) + _num(rng, 5)
    if new:
        return [head, body + str(rng.randrange(10))]
    total = _rrn_sum(head + body)
    check = ((13 if foreign else 11) - total % 11) % 10
    return [head, body + str(check)]


def rrn(rng: random.Random) -> Groups:
    return _registration(rng, foreign=False, new=False)


def rrn_new(rng: random.Random) -> Groups:
    return _registration(rng, foreign=False, new=True)


def arn(rng: random.Random) -> Groups:
    return _registration(rng, foreign=True, new=False)


def card(rng: random.Random) -> Groups:
    prefix = rng.choice(["4", "51", "53", "55", "9410", "9430", "35"])
    digits = _luhn_complete(prefix + _num(rng, 15 - len(prefix)))
    return [digits[i : i + 4] for i in range(0, 16, 4)]


def amex(rng: random.Random) -> Groups:
    digits = _luhn_complete("37" + _num(rng, 12))
    return [digits[:4], digits[4:10], digits[10:]]


def brn(rng: random.Random) -> Groups:
    head = str(rng.randint(101, 899)) + rng.choice(["81", "86", "87", "05", "13", "23", "01"])
    body = _num(rng, 4, "123456789")
    return [head[:3], head[3:], body + str(_brn_check(head + body))]


def crn(rng: random.Random) -> Groups:
    head = rng.choice(["110111", "110114", "131111", "134511", "180111", "160111"])
    body = _num(rng, 6)
    return [head, body + str(_crn_check(head + body))]


def bank(rng: random.Random) -> Groups:
    layout = rng.choice(
        [
            ("", (6, 2, 6)),
            ("110", (3, 3, 6)),
            ("1002", (4, 3, 6)),
            ("", (3, 6, 5)),
            ("3", (3, 4, 4, 2)),
            ("", (3, 6, 2, 3)),
            ("3333", (4, 2, 7)),
        ]
    )
    prefix, lengths = layout
    digits = prefix + _num(rng, sum(lengths) - len(prefix), "123456789" if not prefix else "0123456789")
    out, pos = [], 0
    for n in lengths:
        out.append(digits[pos : pos + n])
        pos += n
    return out


def license_(rng: random.Random) -> Groups:
    region = rng.choice([str(n) for n in range(11, 27)] + ["28"])
    return [region, f"{rng.randint(0, 24):02d}", _num(rng, 6), _num(rng, 2)]


# ---- look-alikes (never labelled) -------------------------------------------------------------


def _day(rng: random.Random) -> date:
    return _birth(rng, date(2019, 1, 1), date(2026, 11, 30))


def order(rng: random.Random) -> Groups:
    return [_day(rng).strftime("%Y%m%d"), _num(rng, rng.choice((4, 5, 6)))]


def tracking(rng: random.Random) -> Groups:
    return [_num(rng, 4, "5678"), _num(rng, 4), _num(rng, 4)]


def invoice(rng: random.Random) -> Groups:
    return [_day(rng).strftime("%Y%m%d"), _num(rng, 8), _num(rng, 8)]


def approval(rng: random.Random) -> Groups:
    return [_num(rng, 8, "123456789")]


def day(rng: random.Random) -> Groups:
    return _day(rng).strftime("%Y %m %d").split()


def timestamp(rng: random.Random) -> Groups:
    return [str(rng.randint(1_600_000_000, 1_790_000_000))]


def price(rng: random.Random) -> Groups:
    return [str(rng.randrange(1000, 9_000_000, 100))]


def barcode(rng: random.Random) -> Groups:
    body = "880" + _num(rng, 9)
    return [body + str(_ean_check(body))]


def coupon(rng: random.Random) -> Groups:
    return [_num(rng, 4, "123456789") for _ in range(4)]


def member(rng: random.Random) -> Groups:
    return [_num(rng, rng.choice((9, 10, 11)), "123456789")]


KINDS: dict[str, tuple[str | None, Callable[[random.Random], Groups]]] = {
    "PHONE": ("KR_PHONE", mobile),
    "LANDLINE": ("KR_PHONE", landline),
    "RRN": ("KR_RRN", rrn),
    "RRN_NEW": ("KR_RRN", rrn_new),
    "ARN": ("KR_ARN", arn),
    "CARD": ("CREDIT_CARD", card),
    "AMEX": ("CREDIT_CARD", amex),
    "BRN": ("KR_BRN", brn),
    "CRN": ("KR_CRN", crn),
    "BANK": ("KR_BANK_ACCOUNT", bank),
    "LICENSE": ("KR_DRIVER_LICENSE", license_),
    "ORDER": (None, order),
    "TRACKING": (None, tracking),
    "INVOICE": (None, invoice),
    "APPROVAL": (None, approval),
    "DAY": (None, day),
    "EPOCH": (None, timestamp),
    "PRICE": (None, price),
    "BARCODE": (None, barcode),
    "COUPON": (None, coupon),
    "MEMBER": (None, member),
}
_DAY_SEPARATORS = ("-", ".")

# ---- surface forms ------------------------------------------------------------------------------


def _break(rng: random.Random, template: Template) -> str:
    """A line break as the template writes it, with what follows it on the next line."""
    newline = "\r\n" if template.crlf else "\n"
    indent = template.cont if template.cont is not None else rng.choice(["", "", "  ", "    ", "\t"])
    return newline + indent


def wrapped(groups: Groups, kind: str, rng: random.Random, template: Template) -> str:
    """The identifier with one line break somewhere inside its digits."""
    sep = rng.choice(_DAY_SEPARATORS) if kind == "DAY" else template.sep or "-"
    brk = _break(rng, template)
    if len(groups) == 1:
        digits = groups[0]
        cut = rng.randrange(2, len(digits) - 1)
        return digits[:cut] + brk + digits[cut:]
    styles = ["after", "before", "inside", "space", "bare", "first"]
    style = rng.choice(template.styles or styles)
    at = rng.randrange(len(groups) - 1)  # the separator after groups[at]
    if style == "first":
        at, style = 0, "after"
    if style == "bare":
        digits = "".join(groups)
        cut = rng.randrange(2, len(digits) - 1)
        return digits[:cut] + brk + digits[cut:]
    if style == "space":
        return " ".join(groups[: at + 1]) + brk + " ".join(groups[at + 1 :])
    if style == "inside":
        candidates = [i for i, g in enumerate(groups) if len(g) >= 2]
        i = rng.choice(candidates)
        cut = rng.randrange(1, len(groups[i]))
        parts = [*groups[:i], groups[i][:cut] + brk + groups[i][cut:], *groups[i + 1 :]]
        return sep.join(parts)
    head, tail = sep.join(groups[: at + 1]), sep.join(groups[at + 1 :])
    if style == "after":
        return head + sep + (" " if rng.random() < 0.15 else "") + brk + tail
    return head + brk + sep + tail  # "before"


def bare(groups: Groups, kind: str, rng: random.Random, template: Template) -> str:
    """The identifier's digits with no separators (full-width in some templates)."""
    del kind, rng
    digits = "".join(groups)
    return digits.translate(_FULL) if template.full_width else digits


RENDER = {"wrapped": wrapped, "bare": bare}


def render(template: Template, rng: random.Random, gap: str) -> tuple[str, list[dict[str, object]]]:
    text = template.text.replace("⏎", "\r\n" if template.crlf else "\n")
    out: list[str] = []
    labels: list[dict[str, object]] = []
    pos = 0
    length = 0
    for match in _SLOT.finditer(text):
        out.append(text[pos : match.start()])
        length += match.start() - pos
        look_alike, kind = match.group(1) != "", match.group(2)
        etype, make = KINDS[kind]
        groups = make(rng)
        value = (
            template.sep.join(groups) if match.group(1) == "~" else RENDER[gap](groups, kind, rng, template)
        )
        if not look_alike and etype is not None:
            labels.append({"type": etype, "start": length, "end": length + len(value)})
        out.append(value)
        length += len(value)
        pos = match.end()
    out.append(text[pos:])
    return "".join(out), labels


def build() -> dict[str, list[dict[str, object]]]:
    """Every set's records, by file name."""
    files: dict[str, list[dict[str, object]]] = {}
    for (gap, split), (seed, templates) in SETS.items():
        rng = random.Random(seed)
        records: list[dict[str, object]] = []
        for t_index, template in enumerate(templates):
            for copy in range(template.copies):
                text, labels = render(template, rng, gap)
                records.append(
                    {
                        "id": f"{gap[0]}{split[0]}{t_index:03d}{chr(97 + copy)}",
                        "text": text,
                        "labels": labels,
                        "negative": not labels,
                    }
                )
        files[f"gaps_{gap}_{split}.jsonl"] = records
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    for name, records in build().items():
        path = args.out_dir / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        labels = sum(len(r["labels"]) for r in records)  # type: ignore[arg-type]
        negatives = sum(bool(r["negative"]) for r in records)
        print(f"{path.relative_to(ROOT)}: {len(records)} prompts, {labels} labels, {negatives} negatives")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
