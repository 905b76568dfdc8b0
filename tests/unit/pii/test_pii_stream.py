"""Streaming: any chunking of a text finds exactly what scanning it whole finds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onshore.pii import Detector, StreamRedactor, redact
from onshore.pii.evaluate import load_corpus

CORPUS = Path(__file__).resolve().parents[2] / "data" / "pii" / "corpus.jsonl"
_TEXTS = [e.text for e in load_corpus(CORPUS)]
_DETECTOR = Detector()

# Fragments that stress boundaries: identifiers, separators, particles, look-alikes.
_PIECES = [
    "010-1234-5678",
    "900101-1234568",
    "hong@naver.com",
    "192.168.0.1",
    "fe80::1",
    "4111 1111 1111 1111",
    "M123A4567",
    "여권",
    "주민번호 ",
    "계좌 ",
    "110-123-456789",
    "+82 10-1234-5678",
    "(02) 312-4567",
    "로 ",
    "입니다. ",
    " ",
    "\n",
    "-",
    "2024-01-15 ",
    "12,000원 ",
    "０１０－１２３４－５６７８",
    "\u200b",
    "사업자번호 ",
    "1234567891",
    "주문번호 ",
    "1588-1234",
    ":",
    "::",
    "@",
    "..",
    "서울 91-123456-12",
    "7",
    "abc",
    # wrapped identifiers: line breaks with indentation or quote marks next to digits
    "010-12",
    "34-5678",
    "\n> ",
    "\r\n    ",
    "0101234",
    "HP",
    "_",
    ".pdf",
]


def _chunks(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    out = []
    previous = 0
    for point in [*points, len(text)]:
        out.append(text[previous:point])
        previous = point
    return out


def _streamed(text: str, cuts: list[int], batch: int = 1) -> list[tuple[object, ...]]:
    scanner = _DETECTOR.stream(batch)
    found = []
    for chunk in _chunks(text, cuts):
        found.extend(scanner.feed(chunk))
    found.extend(scanner.close())
    return [(f.start, f.end, f.type, f.confidence) for f in found]


def _whole(text: str) -> list[tuple[object, ...]]:
    return [(f.start, f.end, f.type, f.confidence) for f in _DETECTOR.scan(text)]


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_PIECES), max_size=40),
    st.lists(st.integers(0, 600), max_size=12),
    st.sampled_from([1, 7, 64]),
)
def test_random_chunking_of_random_text(pieces: list[str], cuts: list[int], batch: int) -> None:
    text = "".join(pieces)
    assert _streamed(text, cuts, batch) == _whole(text)


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_TEXTS) - 1), st.lists(st.integers(0, 300), max_size=10))
def test_random_chunking_of_corpus_prompts(index: int, cuts: list[int]) -> None:
    text = _TEXTS[index] + "\n" + _TEXTS[(index * 7 + 1) % len(_TEXTS)]
    assert _streamed(text, cuts) == _whole(text)


def test_character_by_character() -> None:
    text = "\n".join(_TEXTS[:40])
    assert _streamed(text, list(range(len(text)))) == _whole(text)


def test_identifier_split_across_chunks_is_found_once() -> None:
    scanner = _DETECTOR.stream()
    first = scanner.feed("연락처는 010-12")
    second = scanner.feed("34-5678로 주세요. " + "가" * 40)
    rest = scanner.close()
    found = first + second + rest
    assert [(f.start, f.end) for f in found] == [(5, 18)]
    assert first == []


@pytest.mark.parametrize(
    "text",
    [
        "> 안녕하세요, 연락처는 010-12\n> 34-5678 입니다. 주민번호 9001\n> 01-1234568 확인 부탁드려요.",
        "카드 41111111\r\n    11111111 로 결제했고 전화는 0101234\n5678 입니다." + " 가나다" * 30,
    ],
)
def test_wrapped_identifiers_are_found_under_any_chunking(text: str) -> None:
    whole = _whole(text)
    assert len(whole) == 2
    for size in (1, 2, 3, 5, 8, 13):
        assert _streamed(text, list(range(size, len(text), size))) == whole


def test_feed_after_close_is_an_error() -> None:
    scanner = _DETECTOR.stream()
    scanner.close()
    with pytest.raises(ValueError, match="close"):
        scanner.feed("x")
    assert scanner.close() == []


def test_buffer_stays_small_on_long_streams() -> None:
    scanner = _DETECTOR.stream()
    for _ in range(2000):
        scanner.feed("일반 텍스트 문장입니다. 2024-01-15. ")
    assert len(scanner._buffer) < 400


@settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_TEXTS) - 1), st.lists(st.integers(0, 200), max_size=8))
def test_stream_redactor_matches_whole_redaction(index: int, cuts: list[int]) -> None:
    text = _TEXTS[index]
    redactor = StreamRedactor(_DETECTOR, batch=1 + index % 40)
    out = "".join(redactor.feed(chunk) for chunk in _chunks(text, cuts)) + redactor.close()
    assert out == redact(text, _DETECTOR.scan(text))
    assert redactor.findings == _DETECTOR.scan(text)


def test_stream_redactor_releases_text_early() -> None:
    redactor = StreamRedactor(_DETECTOR)
    released = redactor.feed("안녕하세요. " * 100 + "주민번호 900101-1234568 입니다. " + "감사합니다. " * 100)
    assert released.startswith("안녕하세요.")
    assert "900101" not in released
    rest = redactor.close()
    assert "[KR_RRN]" in released + rest


def test_settled_offset_only_moves_forward_and_never_cuts_a_future_finding() -> None:
    text = "\n".join(_TEXTS[:30])
    whole = _DETECTOR.scan(text)
    scanner = _DETECTOR.stream(batch=8)
    previous = 0
    emitted: list[object] = []
    for i in range(0, len(text), 5):
        emitted.extend(scanner.feed(text[i : i + 5]))
        settled = scanner.settled
        assert previous <= settled <= i + 5
        assert not any(f.start < settled for f in whole if f not in emitted)
        previous = settled
