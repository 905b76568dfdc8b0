"""Normalisation keeps spans exact: every finding maps back to the original characters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from onshore.pii import scan
from onshore.pii.normalize import normalize

_FULL = {ord(c): ord(c) + 0xFEE0 for c in "0123456789-@.()+:"}
_ALPHABET = "0123456789-. 가나다@:()+\n\u200b\u00ad０１２－–ㅡ·\u3000abcM"


@settings(deadline=None)  # timing varies on shared CI machines
@given(st.text(alphabet=_ALPHABET, max_size=80))
def test_every_normalised_character_maps_back(text: str) -> None:
    norm = normalize(text)
    assert norm.original_length == len(text)
    for i, ch in enumerate(norm.text):
        start, end = norm.to_original(i, i + 1)
        assert end == start + 1
        assert normalize(text[start:end]).text == ch


@settings(deadline=None)  # timing varies on shared CI machines
@given(st.text(alphabet=_ALPHABET, max_size=80), st.integers(0, 80), st.integers(0, 80))
def test_span_mapping_is_monotonic(text: str, a: int, b: int) -> None:
    norm = normalize(text)
    lo, hi = sorted((min(a, len(norm.text)), min(b, len(norm.text))))
    start, end = norm.to_original(lo, hi)
    assert 0 <= start <= end <= len(text)
    if lo < hi:
        assert normalize(text[start:end]).text == norm.text[lo:hi]


_IDS = [
    "010-1234-5678",
    "900101-1234568",
    "hong@naver.com",
    "192.168.0.1",
    "123-45-67891",
    "4111-1111-1111-1111",
    "(02) 312-4567",
    "+82 10-1234-5678",
]


@settings(deadline=None)  # timing varies on shared CI machines
@given(
    st.lists(st.sampled_from(_IDS), min_size=1, max_size=5),
    st.sampled_from(["로 ", "입니다 ", " 그리고 ", "은\n"]),
)
def test_full_width_text_gives_the_same_spans(ids: list[str], glue: str) -> None:
    text = "번호는" + glue.join(ids) + "입니다"
    wide = text.translate(_FULL)
    plain = [(f.start, f.end, f.type) for f in scan(text)]
    assert plain == [(f.start, f.end, f.type) for f in scan(wide)]
    assert len(plain) == len(ids)


@settings(deadline=None)  # timing varies on shared CI machines
@given(st.lists(st.sampled_from(_IDS), min_size=1, max_size=4), st.integers(0, 5))
def test_zero_width_characters_keep_exact_spans(ids: list[str], every: int) -> None:
    text = " / ".join(ids)
    noisy = "".join(ch + ("\u200b" if every and i % (every + 1) == 0 else "") for i, ch in enumerate(text))
    found = scan(noisy)
    assert len(found) == len(ids)
    for finding, original in zip(found, ids, strict=True):
        assert noisy[finding.start : finding.end].replace("\u200b", "") == original


def test_full_width_runs_map_one_for_one_to_ascii() -> None:
    """normalize() replaces runs of U+FF01..U+FF5E with NFKC: it must give the ASCII form."""
    full = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    assert normalize("가" + full).text == "가" + "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F))
