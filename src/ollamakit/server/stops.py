"""Stop strings: holding back generated text that could be the start of one.

A stop string split across tokens must never leak to the client, so the text that ends like
the beginning of a stop string is held back until the next token tells. Finding that held
part by comparing every suffix of the held text with every prefix of every stop string costs
the square of a stop string's length each time a long partial match breaks. Each stop string
here is followed by a Knuth-Morris-Pratt matcher whose state *is* the length of the longest
suffix of the text that starts the stop string, so a token costs its length times the number
of (distinct) stop strings, however long they are; a matcher's failure table is built only as
far as the text ever matched.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopFilter"]


class _Matcher:
    """Knuth-Morris-Pratt over one stop string; ``state`` is how much of it the text ends with."""

    __slots__ = ("fail", "state", "stop")

    def __init__(self, stop: str) -> None:
        self.stop = stop
        self.fail = [0]  # fail[k]: longest proper border of stop[: k + 1], built on demand
        self.state = 0

    def _border(self, k: int) -> int:
        fail, stop = self.fail, self.stop
        while len(fail) <= k:
            i = len(fail)
            j = fail[i - 1]
            while j and stop[i] != stop[j]:
                j = fail[j - 1]
            fail.append(j + 1 if stop[i] == stop[j] else j)
        return fail[k]

    def feed(self, text: str) -> bool:
        """Advance over ``text``; True as soon as the whole stop string has been seen."""
        stop, state, end = self.stop, self.state, len(self.stop)
        for char in text:
            while state and char != stop[state]:
                state = self._border(state - 1)
            if char == stop[state]:
                state += 1
                if state == end:
                    self.state = state
                    return True
        self.state = state
        return False


class StopFilter:
    """Holds back text that could be the start of a stop sequence, so a stop string split
    across tokens never leaks to the client."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = list(dict.fromkeys(stop for stop in stops if stop))
        self._matchers = [_Matcher(stop) for stop in self.stops]
        self.pending = ""
        self.matched: str | None = None  # the stop sequence that was hit

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns text safe to emit and whether a stop sequence was hit."""
        if not self.stops:
            return text, False
        buffer = self.pending + text
        hit = False
        for matcher in self._matchers:
            hit = matcher.feed(text) or hit
        if hit:
            # Cut at the stop string that starts first in what was held back and the new
            # text (it may end after the one the matchers saw complete first).
            cut = len(buffer)
            for stop in self.stops:
                index = buffer.find(stop)
                if 0 <= index < cut:
                    cut, self.matched = index, stop
            self.pending = ""
            return buffer[:cut], True
        # Never more than what is held and new: a state only grows by the text fed.
        hold = min(len(buffer), max(matcher.state for matcher in self._matchers))
        self.pending = buffer[len(buffer) - hold :]
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return text
