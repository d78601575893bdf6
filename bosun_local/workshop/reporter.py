"""Progress of a workshop run: one rich task per workshop task, with timings kept for the summary."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import Progress, TaskID


class Reporter:
    """Shows each step as a rich progress task (or nothing, for --json) and records how long it took."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._task: TaskID | None = None

    @contextmanager
    def step(self, key: str, description: str, total: int = 1) -> Iterator[Reporter]:
        """Run a step: a task on the display, complete when the block ends without error."""
        started = time.monotonic()
        if self.progress is not None:
            self._task = self.progress.add_task(description, total=total, detail="")
        try:
            yield self
        finally:
            self.timings[key] = round(time.monotonic() - started, 2)
        if self.progress is not None and self._task is not None:
            self.progress.update(self._task, completed=total)

    def update(self, completed: int | None = None, total: int | None = None, detail: str | None = None) -> None:
        """Move the current step's bar and show a detail line."""
        if self.progress is None or self._task is None:
            return
        fields: dict[str, Any] = {}
        if detail is not None:
            fields["detail"] = detail[:80]
        self.progress.update(self._task, completed=completed, total=total, **fields)

    def note(self, detail: str) -> None:
        """Show a result next to the current step."""
        self.update(detail=detail)
