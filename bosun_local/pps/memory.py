"""How much memory parsing a request body may take, from the container's cgroup limit, and who holds it now.

A CSV or JSON body becomes Python objects (~85 bytes per cell) before it becomes a matrix: a 17 MB CSV of
600k rows needs ~600 MB on the way, more than a default 512 MB container. Each body's cost is estimated
from its cells before parsing and reserved from a budget derived from the memory limit; a body that can never
fit is a 413 naming the limit, one that fits later waits for the bodies in flight.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bosun_local.pps.inputs import InputError

# Memory one parsed cell takes on its way to the matrix (measured: 80-85 bytes for CSV and JSON rows).
BYTES_PER_CELL = 100
# Share of the memory left after start-up that bodies in flight may take; the rest is the model's and Python's.
BUDGET_SHARE = 0.6
WAIT_SEC = 10.0
CGROUP_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
# Stands in for the cgroup limit (a host process, or a bench comparing bounds on and off).
LIMIT_ENV = "PPS_MEMORY_LIMIT_BYTES"
_NO_LIMIT = 1 << 60  # cgroup v1 writes a huge number for "no limit"


def cgroup_limit(files: tuple[Path, ...] = CGROUP_FILES) -> int | None:
    """Return this container's memory limit in bytes (cgroup v2 or v1), None when there is none."""
    for path in files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text == "max" or not text.isdigit():
            return None
        value = int(text)
        return value if value < _NO_LIMIT else None
    return None


def resident_bytes() -> int:
    """Return this process's resident memory (0 when /proc is not there)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def estimated_cost(body: bytes, media_type: str) -> int:
    """Return the bytes parsing a body will take: its cells (CSV rows x columns, JSON values) and its text."""
    if body.lstrip()[:1] in (b"[", b"{") or "json" in media_type:
        cells = body.count(b":") or body.count(b",") + 1
    else:
        first = body.find(b"\n")
        width = body.count(b",", 0, first if first >= 0 else len(body)) + 1
        cells = (body.count(b"\n") + 1) * width
    return cells * BYTES_PER_CELL + 4 * len(body)  # the decoded text may take up to 4 bytes a character


class MemoryBudget:
    """Bytes that bodies being parsed and scored may hold together (None: no limit known, no budget)."""

    def __init__(self, total: int | None, limit: int | None = None) -> None:
        self.total = total
        self.limit = limit
        self.held = 0
        self._waiting = 0
        self._freed = asyncio.Condition()

    @classmethod
    def from_cgroup(cls, workers: int = 1) -> MemoryBudget:
        """Return one worker's budget: a share of the container's limit, less what the server holds, per worker."""
        override = os.environ.get(LIMIT_ENV, "").strip()
        limit = int(override) if override.isdigit() else cgroup_limit()
        if limit is None:
            return cls(None)
        left = limit - resident_bytes() * max(1, workers)
        return cls(max(int(left * BUDGET_SHARE / max(1, workers)), 1 << 20), limit)

    def describe(self) -> str:
        """Return the budget for messages and /info."""
        if self.total is None:
            return "no container memory limit"
        return (f"{self.total >> 20} MB for request bodies in flight ({BUDGET_SHARE:.0%} of what the container's "
                f"memory limit of {(self.limit or 0) >> 20} MB leaves after start-up)")

    async def reserve(self, cost: int) -> int:
        """Hold cost bytes until release(); 413 when it can never fit, 503 when others hold it too long."""
        if self.total is None:
            return 0
        if cost > self.total:
            share = max(1, int(100 * self.total / cost))
            raise InputError(413, f"parsing this body takes about {cost >> 20} MB, over the limit of "
                                  f"{self.describe()}; send at most {share}% of these rows per request, or give "
                                  "the deployment more memory")
        if not self._waiting and self.held + cost <= self.total:
            # The common case, without the condition and its timer task: no await between the check and the add,
            # so no other request on this event loop can interleave.
            self.held += cost
            return cost
        self._waiting += 1
        try:
            return await self._reserve_waiting(cost)
        finally:
            self._waiting -= 1

    async def _reserve_waiting(self, cost: int) -> int:
        assert self.total is not None
        async with self._freed:
            try:
                total = self.total
                await asyncio.wait_for(self._freed.wait_for(lambda: self.held + cost <= total), WAIT_SEC)
            except TimeoutError:
                raise InputError(503, f"the server is parsing other large bodies ({self.held >> 20} MB of "
                                      f"{self.describe()}); retry in a few seconds") from None
            self.held += cost
        return cost

    async def release(self, cost: int) -> None:
        """Give back what reserve() held."""
        if not cost:
            return
        self.held -= cost
        if self._waiting:
            async with self._freed:
                self._freed.notify_all()
