"""The STDOUT, MEMORY and NONE spooler types: writers only (no monitoring agent reads them)."""
from __future__ import annotations

import sys
import threading
from typing import TextIO

from bosun_local.contracts import records
from bosun_local.spool.channel import ThreadedChannel


class StdoutChannel(ThreadedChannel):
    """Prints one record per line (for debugging an instrumented app)."""

    kind = "STDOUT"

    def __init__(self, stream: TextIO | None = None, batch_size: int = 1000) -> None:
        super().__init__(batch_size=batch_size)
        self.stream = stream

    def write_batch(self, lines: list[str]) -> None:
        """Write the batch to stdout."""
        stream = self.stream or sys.stdout
        stream.write("\n".join(lines) + "\n")
        stream.flush()


class MemoryChannel(ThreadedChannel):
    """Keeps records in a list (tests, and apps that read their own reports)."""

    kind = "MEMORY"

    def __init__(self, batch_size: int = 1000) -> None:
        super().__init__(batch_size=batch_size)
        self.lines: list[str] = []
        self._lines_lock = threading.Lock()

    def write_batch(self, lines: list[str]) -> None:
        """Keep the batch."""
        with self._lines_lock:
            self.lines.extend(lines)

    def records(self) -> list[records.Record]:
        """Return the records written so far, parsed."""
        with self._lines_lock:
            return [records.parse(line) for line in self.lines]
