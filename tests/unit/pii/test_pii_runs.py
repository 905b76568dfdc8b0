"""Digit runs: what the prefilter yields and how a run splits into tokens."""

from __future__ import annotations

from onshore.pii.runs import RUN, is_line_break, make_candidate, split_run, whole_candidate


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


def test_line_breaks_inside_a_run() -> None:
    # a dash on either side of the break, indentation and e-mail quote marks after it, \r\n
    assert _runs("번호 010-1234\n-5678 입니다") == ["010-1234\n-5678"]
    assert _runs("번호 010-1234-\n    5678") == ["010-1234-\n    5678"]
    assert _runs("> 번호 010-1234-\n> 5678") == ["010-1234-\n> 5678"]
    assert _runs("번호 0101234\r\n5678") == ["0101234\r\n5678"]
    assert _runs("금액\n\n150000\n\n230000\n\n") == ["150000", "230000"]  # a blank line ends a run


def test_a_line_break_reads_as_a_boundary_or_as_a_wrap() -> None:
    text = "010-12\n34-5678"
    segments = split_run(text, 0, len(text))
    assert [(s.start, s.end) for s in segments] == [(0, 6), (7, 14)]
    as_written = make_candidate(text, segments, 0, 1)
    assert (as_written.layout, as_written.wrapped) == ((3, 2, 2, 4), True)
    wrapped = make_candidate(text, segments, 0, 1, merge=0)
    assert (wrapped.digits, wrapped.layout, wrapped.separators) == ("01012345678", (3, 4, 4), ("-", "-"))
    assert wrapped.tight_dashes
    assert is_line_break("\n> ") and is_line_break("  \r\n\t")
    assert not is_line_break("-\n") and not is_line_break(" ")


def test_whole_candidate_reads_each_value_of_a_shape() -> None:
    first = whole_candidate("x 010-1234-5678", 2, 15)
    second = whole_candidate("x 010-9876-5432", 2, 15)  # same shape, from the shape cache
    assert first is not None and second is not None
    assert (first.digits, second.digits) == ("01012345678", "01098765432")
    assert first.layout == second.layout == (3, 4, 4)
