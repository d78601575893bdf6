"""The STDOUT, MEMORY and NONE spooler types: writers only (no monitoring agent reads them)."""
from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from bosun_local.contracts import records
from bosun_local.spool.channel import Channel, ThreadedChannel
from bosun_local.spool.source import parse_record
from bosun_local.spool.transport import Transport


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
            return [parse_record(line) for line in self.lines]


class StdoutTransport(Transport):
    """STDOUT: records printed one per line; nothing reads them back."""

    spooler_type = "STDOUT"

    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return a channel printing to stdout."""
        return StdoutChannel(batch_size=batch_size)


class MemoryTransport(Transport):
    """MEMORY: records kept in the app's memory (``mlops.channel.records()``), for tests."""

    spooler_type = "MEMORY"

    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return a channel keeping records in a list."""
        return MemoryChannel(batch_size=batch_size)


class NoneTransport(Transport):
    """NONE: reporting switched off; report_* calls are accepted and dropped."""

    spooler_type = "NONE"

    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return no channel: records are dropped."""
        return None


STDOUT = StdoutTransport()
MEMORY = MemoryTransport()
NONE = NoneTransport()
