"""Token bytes to text: whole UTF-8 characters, stop strings cut out and never half-sent."""

from __future__ import annotations

from onshore.backends.llamacpp.text import TextStream


def feed_all(stream: TextStream, pieces: list[bytes]) -> list[str]:
    return [stream.feed(piece) for piece in pieces]


def test_without_stops_text_passes_through() -> None:
    stream = TextStream([])
    assert feed_all(stream, [b"Hel", b"lo"]) == ["Hel", "lo"]
    assert stream.flush() == ""


def test_a_character_split_across_tokens_waits_for_its_last_byte() -> None:
    stream = TextStream([])
    han = "한".encode()
    assert feed_all(stream, [han[:1], han[1:2], han[2:] + b"!"]) == ["", "", "한!"]


def test_stop_string_is_cut_and_ends_the_stream() -> None:
    stream = TextStream(["END"])
    assert feed_all(stream, [b"abc E", b"N", b"D tail"]) == ["abc ", "", ""]
    assert stream.stopped
    assert stream.feed(b"more") == ""
    assert stream.flush() == ""


def test_a_false_start_of_a_stop_string_is_released() -> None:
    stream = TextStream(["END"])
    assert feed_all(stream, [b"E", b"N", b"x"]) == ["", "", "ENx"]
    assert not stream.stopped


def test_text_held_back_at_the_end_is_flushed() -> None:
    stream = TextStream(["END"])
    assert stream.feed(b"abc EN") == "abc "
    assert stream.flush() == "EN"


def test_the_earliest_of_several_stops_wins() -> None:
    stream = TextStream(["world", "lo w"])
    assert stream.feed(b"hello world") == "hel"
