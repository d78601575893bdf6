"""Render metric families in the Prometheus text format (0.0.4); values are read only when a scrape asks."""
from __future__ import annotations

import math
import os
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Request durations in seconds: 1 ms .. 10 s, what a prediction server or an API call spans.
DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Action durations (deploy, stop, heal) take seconds to minutes.
ACTION_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

Labels = Mapping[str, str]


def status_class(status: int) -> str:
    """Return the status code class label of an HTTP status ("2xx")."""
    return f"{status // 100}xx"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{k}="{_escape(str(v))}"' for k, v in labels.items()]
    if extra is not None:
        pairs.append(f'{extra[0]}="{extra[1]}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(float(value))


class Exposition:
    """Collects families for one scrape and renders them; a family name appears once, samples in given order."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._names: set[str] = set()

    def _header(self, name: str, kind: str, help_text: str) -> None:
        if name in self._names:
            raise ValueError(f"metric family {name} rendered twice in one scrape")
        self._names.add(name)
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")

    def counter(self, name: str, help_text: str, samples: Iterable[tuple[Labels, float]]) -> None:
        """Add a counter family; name ends in _total, as Prometheus names counters."""
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        self._header(name[: -len("_total")], "counter", help_text)
        self._lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples)

    def gauge(self, name: str, help_text: str, samples: Iterable[tuple[Labels, float]]) -> None:
        """Add a gauge family."""
        self._header(name, "gauge", help_text)
        self._lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples)

    def histogram(self, name: str, help_text: str, bounds: Sequence[float],
                  samples: Iterable[tuple[Labels, Sequence[int], float]]) -> None:
        """Add a histogram family from per-bucket (not cumulative) counts, len(bounds) + 1 of them, and a sum."""
        self._header(name, "histogram", help_text)
        for labels, counts, total in samples:
            running = 0
            for bound, count in zip((*bounds, math.inf), counts, strict=True):
                running += count
                self._lines.append(f"{name}_bucket{_labels(labels, ('le', _bound(bound)))} {running}")
            self._lines.append(f"{name}_sum{_labels(labels)} {_number(total)}")
            self._lines.append(f"{name}_count{_labels(labels)} {running}")

    def text(self) -> bytes:
        """Return the exposition as bytes, ending with a newline."""
        return ("\n".join(self._lines) + "\n").encode()


class Histogram:
    """Per-bucket counts and a sum for one series; observe() is a bisect and three integer/float adds."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation (seconds)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class Histograms:
    """Histograms by label values, thread-safe enough for the GIL: each observe touches one series."""

    def __init__(self, bounds: Sequence[float] = DURATION_BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.series: dict[tuple[str, ...], Histogram] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        """Count one observation of the series `key`."""
        series = self.series.get(key)
        if series is None:
            series = self.series.setdefault(key, Histogram(self.bounds))
        series.observe(value)

    def samples(self, names: Sequence[str]) -> list[tuple[Labels, list[int], float]]:
        """Return the series as (labels, counts, sum) for Exposition.histogram."""
        return [(dict(zip(names, key, strict=True)), list(h.counts), h.total) for key, h in sorted(self.series.items())]


class Counters:
    """Counters by label values (dict of tuples); inc() is one dict get and one store."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1) -> None:
        """Add amount to the series `key`."""
        self.values[key] = self.values.get(key, 0) + amount

    def samples(self, names: Sequence[str]) -> list[tuple[Labels, float]]:
        """Return the series as (labels, value) pairs."""
        return [(dict(zip(names, key, strict=True)), value) for key, value in sorted(self.values.items())]


def _process_start() -> float:
    """Return when this process started (from /proc), or now when /proc is not there."""
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rpartition(")")[2].split()[19])
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


_START = _process_start()


def process_families(out: Exposition, prefix: str = "process") -> None:
    """Add the standard process_* families (CPU seconds, resident memory, start time, open fds) from /proc."""
    times = os.times()
    out.counter(f"{prefix}_cpu_seconds_total", "User and system CPU time spent in seconds.",
                [({}, times.user + times.system)])
    try:
        with open("/proc/self/statm") as fh:
            resident_pages = int(fh.read().split()[1])
        out.gauge(f"{prefix}_resident_memory_bytes", "Resident memory size in bytes.",
                  [({}, resident_pages * os.sysconf("SC_PAGE_SIZE"))])
        out.gauge(f"{prefix}_open_fds", "Number of open file descriptors.", [({}, len(os.listdir("/proc/self/fd")))])
    except (OSError, ValueError, IndexError):
        pass  # not Linux: the CPU and start-time families are still correct
    out.gauge(f"{prefix}_start_time_seconds", "Start time of the process since unix epoch in seconds.", [({}, _START)])
