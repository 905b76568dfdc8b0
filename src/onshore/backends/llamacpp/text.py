"""Turn sampled token bytes into text deltas: whole UTF-8 characters only, stop strings cut out.

A token may end in the middle of a multi-byte character (byte-level BPE does this for Korean), so
bytes are decoded incrementally. Text that could be the start of a stop string is held back until
it either completes the stop string (generation ends before it) or can no longer match.
"""

from __future__ import annotations

import codecs


class TextStream:
    """Feed token bytes, get the text that is safe to send now."""

    def __init__(self, stops: list[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = [stop for stop in stops if stop]
        self._held = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """The new text to emit; after a stop string is found, ``stopped`` is True and nothing follows."""
        if self.stopped:
            return ""
        self._held += self._decoder.decode(data)
        if not self._stops:
            text, self._held = self._held, ""
            return text
        cut = _first_stop(self._held, self._stops)
        if cut is not None:
            self.stopped = True
            text, self._held = self._held[:cut], ""
            return text
        keep = _partial_stop_length(self._held, self._stops)
        text = self._held[: len(self._held) - keep]
        self._held = self._held[len(self._held) - keep :]
        return text

    def flush(self) -> str:
        """The rest, once generation has ended for another reason."""
        if self.stopped:
            return ""
        text = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        return text


def _first_stop(text: str, stops: list[str]) -> int | None:
    positions = [index for index in (text.find(stop) for stop in stops) if index >= 0]
    return min(positions) if positions else None


def _partial_stop_length(text: str, stops: list[str]) -> int:
    """The longest suffix of ``text`` that is a proper prefix of some stop string."""
    best = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:length]):
                best = length
                break
    return best
