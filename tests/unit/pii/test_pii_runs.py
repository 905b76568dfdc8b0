"""Digit runs: what the prefilter yields and how a run splits into tokens."""

from __future__ import annotations

from onshore.pii.runs import RUN, split_run, whole_candidate


def _runs(text: str) -> list[str]:
    return [m.group() for m in RUN.finditer(text)]


def test_prefilter_skips_short_numbers_and_keeps_identifiers() -> None:
    assert _runs("2024년 3월 15일 12,000원 10:30") == []
    assert _runs("번호는010-1234-5678입니다") == ["010-1234-5678"]
    assert _runs("IP 1.1.1.1") == ["1.1.1.1"]
    assert _runs("a 010 1234 5678 b") == ["010 1234 5678"]


def test_split_at_weak_separators_only() -> None:
    text = "(02) 312-4567 / 900101 - 1234568"
    spans = [(s.start, s.end) for m in RUN.finditer(text) for s in split_run(text, *m.span())]
    assert [text[a:b] for a, b in spans] == ["02", "312-4567", "900101 - 1234568"]


def test_whole_candidate() -> None:
    text = "x 010-1234-\n5678 y"
    match = next(RUN.finditer(text))
    cand = whole_candidate(text, *match.span())
    assert cand is not None
    assert (cand.digits, cand.layout, cand.tight_dashes) == ("01012345678", (3, 4, 4), True)
    spaced = "010 1234 5678"
    assert whole_candidate(spaced, 0, len(spaced)) is None  # must be split into segments
    long_group = "20240315-000123"
    empty = whole_candidate(long_group, 0, len(long_group))
    assert empty is not None
    assert empty.digits == ""  # no layout has an 8-digit group next to another group
