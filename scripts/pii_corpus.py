"""Generate the labelled Korean PII corpus used by the evaluation and the accuracy test.

    python scripts/pii_corpus.py [--out tests/data/pii/corpus.jsonl] [--seed 20261125]

Deterministic: one explicit ``random.Random(seed)``; the same seed writes the same file byte for
byte. Every identifier is synthetic. Each label is checked here, independently of the detector:
the span text equals the generated surface form, and where the type has a check digit it is
recomputed from the digits of the span (with this script's own implementation of each rule).

Output: one JSON object per line, ``{"id", "lang", "domain", "text", "labels": [{"type",
"start", "end"}], "negative": bool}``. Negative prompts carry no personal data but are full of
look-alikes (dates, prices, order/tracking/invoice numbers, codes, versions, coordinates,
ISBNs, failed check digits, impossible dates, masked numbers).
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_corpus_templates import NEGATIVE_TEMPLATES, POSITIVE_TEMPLATES

SEED = 20261125
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii" / "corpus.jsonl"
N_POSITIVE = 520
N_NEGATIVE = 200
AREA_CODES = "031 032 033 041 042 043 044 051 052 053 054 055 061 062 063 064".split()  # noqa: SIM905

# --- independent check-digit rules (deliberately not imported from onshore.pii) -----------------


def rrn_check(d12: str, foreigner: bool = False) -> int:
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    s = sum(int(a) * w for a, w in zip(d12, weights, strict=True))
    return ((13 if foreigner else 11) - s % 11) % 10


def brn_check(d9: str) -> int:
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    s = sum(int(a) * w for a, w in zip(d9, weights, strict=True)) + int(d9[8]) * 5 // 10
    return (10 - s % 10) % 10


def crn_check(d12: str) -> int:
    s = sum(int(a) * (2 if i % 2 else 1) for i, a in enumerate(d12))
    return (10 - s % 10) % 10


def luhn_check(body: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def luhn_ok(number: str) -> bool:
    return luhn_check(number[:-1]) == int(number[-1])


# --- surface forms ------------------------------------------------------------------------------

_FULL = {ord(c): ord(c) + 0xFEE0 for c in "0123456789-()+."}


_JOINERS: dict[str, str] = {
    "hyphen": "-",
    "space": " ",
    "dot": ".",
    "none": "",
    "endash": "\u2013",
    "hangul_dash": "ㅡ",
    "spaced_hyphen": " - ",
    "middot": "·",
}


def join(groups: list[str], style: str) -> str:
    """Write digit groups the way people do."""
    if style == "fullwidth":
        return "-".join(groups).translate(_FULL)
    if style == "linebreak":
        return groups[0] + "-\n" + "-".join(groups[1:])
    return _JOINERS[style].join(groups)


def digits_of(surface: str) -> str:
    return re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", surface))


class Gen:
    """Synthetic identifiers with their surface forms."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def num(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def style(self, choices: list[tuple[str, int]]) -> str:
        names = [c for c, _ in choices]
        weights = [w for _, w in choices]
        return self.r.choices(names, weights)[0]

    def birth(self, lo: int, hi: int) -> tuple[int, int, int]:
        year = self.r.randint(lo, hi)
        month = self.r.randint(1, 12)
        day = self.r.randint(1, calendar.monthrange(year, month)[1])
        return year, month, day

    def _registration(self, foreigner: bool) -> tuple[str, str]:
        post2020 = not foreigner and self.r.random() < 0.25
        if post2020:
            year, month, day = self.birth(2020, 2024)
            if year == 2020 and month < 10:
                month = 11
            g = self.r.choice("34")
            while True:
                rest = self.num(6)
                d12 = f"{year % 100:02d}{month:02d}{day:02d}{g}{rest[:5]}"
                if rrn_check(d12) != int(rest[5]):
                    break  # random tail: make sure it does NOT pass the old checksum
            digits = d12 + rest[5]
        else:
            year, month, day = self.birth(1945, 2019)
            century = year >= 2000
            if foreigner:
                g = self.r.choice("78" if century else "56")
            else:
                g = self.r.choice("34" if century else "12")
            d12 = f"{year % 100:02d}{month:02d}{day:02d}{g}{self.r.randint(0, 95):02d}{self.num(3)}"
            digits = d12 + str(rrn_check(d12, foreigner))
        style = self.style(
            [
                ("hyphen", 50),
                ("none", 8),
                ("fullwidth", 6),
                ("spaced_hyphen", 5),
                ("linebreak", 5),
                ("endash", 4),
                ("hangul_dash", 4),
                ("space", 4),
            ]
        )
        return digits, join([digits[:6], digits[6:]], style)

    def rrn(self) -> tuple[str, str]:
        return self._registration(False)

    def arn(self) -> tuple[str, str]:
        return self._registration(True)

    def phone(self) -> tuple[str, str]:
        kind = self.r.choices(
            ["mobile", "legacy", "seoul", "area", "voip", "safe", "tollfree", "uan"],
            [50, 4, 12, 14, 5, 5, 3, 7],
        )[0]
        if kind == "mobile":
            groups = ["010", self.r.choice("012346789") + self.num(3), self.num(4)]  # 010-5xxx unassigned
        elif kind == "legacy":
            groups = [
                self.r.choice(["011", "016", "017", "018", "019"]),
                str(self.r.randint(200, 999)),
                self.num(4),
            ]
        elif kind == "seoul":
            groups = ["02", str(self.r.randint(2, 9)) + self.num(self.r.choice([2, 3])), self.num(4)]
        elif kind == "area":
            area = self.r.choice(AREA_CODES)
            groups = [area, str(self.r.randint(2, 9)) + self.num(self.r.choice([2, 3])), self.num(4)]
        elif kind == "voip":
            groups = ["070", self.num(4), self.num(4)]
        elif kind == "safe":
            groups = ["050" + self.r.choice("2345678"), self.num(4), self.num(4)]
        elif kind == "tollfree":
            groups = ["080", self.num(3), self.num(4)]
        else:
            groups = [
                self.r.choice(
                    ["1588", "1577", "1544", "1566", "1600", "1644", "1661", "1670", "1800", "1899"]
                ),
                self.num(4),
            ]
        digits = "".join(groups)
        if kind == "uan":
            return digits, join(groups, self.style([("hyphen", 80), ("none", 10), ("fullwidth", 10)]))
        style = self.style(
            [
                ("hyphen", 45),
                ("none", 8),
                ("dot", 6),
                ("space", 7),
                ("fullwidth", 6),
                ("paren", 7),
                ("intl", 8),
                ("endash", 3),
                ("hangul_dash", 3),
                ("middot", 3),
                ("linebreak", 4),
            ]
        )
        if style == "paren":
            if kind in ("seoul", "area"):
                form = self.r.choice(["({}) {}-{}", "{}){}-{}", "({}){}-{}"])
                return digits, form.format(*groups)
            style = "hyphen"
        if style == "intl":
            first = groups[0][1:]
            form = self.r.choice(["+82 {}-{}-{}", "+82-{}-{}-{}", "+82{}{}{}", "+82 (0){} {} {}"])
            return digits, form.format(first, *groups[1:])
        return digits, join(groups, style)

    def brn(self) -> tuple[str, str]:
        middle = self.r.choice(
            ["01", "05", "13", "24", "37", "48", "62", "79", "81", "82", "85", "86", "87", "88"]
        )
        while True:
            d9 = f"{self.r.randint(101, 999)}{middle}{self.r.randint(1, 9999):04d}"
            digits = d9 + str(brn_check(d9))
            if not (digits.startswith("0") or digits.startswith("1")):
                break  # avoid bare forms that could equally be read as phone numbers
        style = self.style([("hyphen", 70), ("none", 15), ("space", 5), ("fullwidth", 10)])
        return digits, join([digits[:3], digits[3:5], digits[5:]], style)

    def crn(self) -> tuple[str, str]:
        office = self.r.choice(
            ["1101", "1301", "1345", "1201", "1801", "2801", "1601", "1501", "2001", "1146"]
        )
        kind = self.r.choice(["11", "12", "13", "14", "21", "71", "85"])
        d12 = office + kind + self.num(6)
        digits = d12 + str(crn_check(d12))
        style = self.style([("hyphen", 75), ("none", 15), ("fullwidth", 10)])
        return digits, join([digits[:6], digits[6:]], style)

    def passport(self) -> tuple[str, str]:
        letter = self.r.choices("MSRGDO", [70, 8, 6, 6, 5, 5])[0]
        if self.r.random() < 0.5:
            value = letter + self.num(8)
        else:
            value = letter + self.num(3) + self.r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + self.num(4)
        return value, value

    def driver_license(self) -> tuple[str, str]:
        region = self.r.choice([*range(11, 27), 28])
        groups = [str(region), f"{self.r.randint(0, 99):02d}", self.num(6), self.num(2)]
        digits = "".join(groups)
        style = self.style([("hyphen", 60), ("region", 20), ("none", 10), ("fullwidth", 10)])
        if style == "region":
            name = self.r.choice(
                [
                    "서울",
                    "부산",
                    "경기",
                    "강원",
                    "충북",
                    "충남",
                    "전북",
                    "전남",
                    "경북",
                    "경남",
                    "제주",
                    "대구",
                    "인천",
                    "광주",
                    "대전",
                    "울산",
                ]
            )
            sep = self.r.choice([" ", ""])
            return digits[2:], f"{name}{sep}{groups[1]}-{groups[2]}-{groups[3]}"
        return digits, join(groups, style)

    def bank_account(self) -> tuple[str, str]:
        layouts = [
            ["{6}", "{2}", "{6}"],
            ["110", "{3}", "{6}"],
            ["1002", "{3}", "{6}"],
            ["{3}", "{6}", "{5}"],
            ["302", "{4}", "{4}", "{2}"],
            ["{3}", "{6}", "{2}", "{3}"],
            ["3333", "{2}", "{7}"],
            ["1000", "{4}", "{4}"],
            ["{3}", "{2}", "{6}"],
        ]
        groups = [self.num(int(g[1:-1])) if g.startswith("{") else g for g in self.r.choice(layouts)]
        digits = "".join(groups)
        style = self.style([("hyphen", 80), ("none", 10), ("fullwidth", 5), ("space", 5)])
        return digits, join(groups, style)

    def card(self) -> tuple[str, str]:
        brand = self.r.choices(["visa", "master", "master2", "amex", "kr", "jcb"], [30, 20, 5, 10, 25, 10])[0]
        if brand == "amex":
            body = self.r.choice(["34", "37"]) + self.num(12)
            number = body + str(luhn_check(body))
            groups = [number[:4], number[4:10], number[10:]]
        else:
            prefix = {
                "visa": "4",
                "master": self.r.choice(["51", "52", "53", "54", "55"]),
                "master2": str(self.r.randint(2221, 2720)),
                "kr": "9" + self.r.choice("0123456789"),
                "jcb": "35",
            }[brand]
            body = prefix + self.num(15 - len(prefix))
            number = body + str(luhn_check(body))
            groups = [number[i : i + 4] for i in range(0, 16, 4)]
        style = self.style([("hyphen", 55), ("space", 20), ("none", 15), ("fullwidth", 10)])
        return number, join(groups, style)

    def email(self) -> tuple[str, str]:
        local = self.r.choice(
            [
                "hong",
                "kim.minsu",
                "lee_jh",
                "park92",
                "choi.yuna",
                "jung-hwa",
                "s.kang",
                "yoon7",
                "hr.team",
                "cs_support",
                "jiwoo.han",
                "mk.lim",
            ]
        )
        if self.r.random() < 0.4:
            local += str(self.r.randint(1, 999))
        domain = self.r.choice(
            [
                "naver.com",
                "hanmail.net",
                "daum.net",
                "gmail.com",
                "kakao.com",
                "nate.com",
                "samsung.com",
                "corp.co.kr",
                "univ.ac.kr",
                "hyundai-card.co.kr",
            ]
        )
        value = f"{local}@{domain}"
        return value, value

    def ip(self) -> tuple[str, str]:
        r = self.r
        if r.random() < 0.7:
            first = r.choice([10, 172, 192, 211, 121, 58, 203, 61, 125, 1])
            value = f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        else:
            hexes = [f"{r.randint(0, 0xFFFF):x}" for _ in range(8)]
            value = r.choice(
                [
                    ":".join(hexes),
                    f"2001:db8::{hexes[0]}:{hexes[1]}",
                    f"fe80::{hexes[2]}:{hexes[3]}",
                    f"2406:5a00:{hexes[4]}::{hexes[5]}",
                ]
            )
        return value, value


def verify(etype: str, digits: str, surface: str) -> None:
    """Assert that a generated value is what its label says."""
    if etype in ("EMAIL", "IP_ADDRESS", "KR_PASSPORT"):
        assert digits == surface
        return
    assert digits_of(surface).endswith(digits) or digits_of(surface).endswith(digits[1:]), (etype, surface)
    if etype in ("KR_RRN", "KR_ARN"):
        assert len(digits) == 13
        foreigner = etype == "KR_ARN"
        assert (digits[6] in "5678") == foreigner
        if foreigner or digits[:2] < "20" or digits[6] in "12":
            assert rrn_check(digits[:12], foreigner) == int(digits[12]), surface
        calendar.monthrange(2000, int(digits[2:4]))  # raises on an impossible month
    elif etype == "KR_BRN":
        assert brn_check(digits[:9]) == int(digits[9])
    elif etype == "KR_CRN":
        assert crn_check(digits[:12]) == int(digits[12])
    elif etype == "CREDIT_CARD":
        assert luhn_ok(digits)


def build(seed: int = SEED) -> list[dict[str, object]]:
    """Generate the corpus records."""
    rng = random.Random(seed)
    gen = Gen(rng)
    makers: dict[str, Callable[[], tuple[str, str]]] = {
        "KR_RRN": gen.rrn,
        "KR_ARN": gen.arn,
        "KR_PHONE": gen.phone,
        "KR_BRN": gen.brn,
        "KR_CRN": gen.crn,
        "KR_PASSPORT": gen.passport,
        "KR_DRIVER_LICENSE": gen.driver_license,
        "KR_BANK_ACCOUNT": gen.bank_account,
        "CREDIT_CARD": gen.card,
        "EMAIL": gen.email,
        "IP_ADDRESS": gen.ip,
    }
    records: list[dict[str, object]] = []
    slot = re.compile(r"\{([A-Z_]+)\}")
    for i in range(N_POSITIVE):
        lang, domain, template = POSITIVE_TEMPLATES[i % len(POSITIVE_TEMPLATES)]
        parts: list[str] = []
        surfaces: list[str] = []
        labels: list[dict[str, object]] = []
        position = 0
        length = 0
        for match in slot.finditer(template):
            literal = template[position : match.start()]
            parts.append(literal)
            length += len(literal)
            etype = match.group(1)
            digits, surface = makers[etype]()
            verify(etype, digits, surface)
            labels.append({"type": etype, "start": length, "end": length + len(surface)})
            parts.append(surface)
            surfaces.append(surface)
            length += len(surface)
            position = match.end()
        parts.append(template[position:])
        text = "".join(parts)
        for label, surface in zip(labels, surfaces, strict=True):
            assert text[label["start"] : label["end"]] == surface  # type: ignore[misc]
        records.append(
            {
                "id": f"p{i:04d}",
                "lang": lang,
                "domain": domain,
                "text": text,
                "labels": labels,
                "negative": False,
            }
        )
    negatives = NEGATIVE_TEMPLATES
    for i in range(N_NEGATIVE):
        lang, domain, make = negatives[i % len(negatives)]
        text = make(rng)
        records.append(
            {"id": f"n{i:04d}", "lang": lang, "domain": domain, "text": text, "labels": [], "negative": True}
        )
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    records = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    n_neg = sum(1 for r in records if r["negative"])
    n_labels = sum(len(r["labels"]) for r in records)  # type: ignore[arg-type]
    print(f"wrote {len(records)} prompts ({n_neg} negatives, {n_labels} labels) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
