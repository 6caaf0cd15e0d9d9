"""Helpers for the rehearsal tests."""

from __future__ import annotations

import io
import queue


class LineStream(io.StringIO):
    """A text stream that lets a test wait for a line written from another thread."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: queue.Queue[str] = queue.Queue()
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self._lines.put(line)
        return len(text)

    def until(self, last: str, timeout: float = 30) -> list[str]:
        seen: list[str] = []
        while last not in seen:
            seen.append(self._lines.get(timeout=timeout))
        return seen
