"""Lap times of a multi-step action, so its result and log say where the time went."""
from __future__ import annotations

import time


class Stopwatch:
    """Records the seconds each named step took, in order."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self.laps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        """End the running step under this name and start the next."""
        now = time.monotonic()
        self.laps[step] = round(now - self._last, 2)
        self._last = now

    def total(self) -> float:
        return round(sum(self.laps.values()), 2)

    def __str__(self) -> str:
        return f"{self.total():g} s (" + ", ".join(f"{k} {v:g} s" for k, v in self.laps.items()) + ")"
