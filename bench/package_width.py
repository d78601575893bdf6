"""Issue 17, finding 4: package registration time by feature count, side by side in one run (linear, not quadratic).

Registers regression packages of 2,000, 20,000 and 2,000 features again (training data included, so the service
also computes a baseline) into one real service on SQLite, a few rounds, and prints the median seconds of each
width and the ratio 20k / 2k: linear scaling gives ~10, the quadratic check of before gave ~100 (62 s at 20k).
While each registration runs, another client reads /health: its slowest answer says whether the service kept
serving.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from _common import ROOT, save, summary  # noqa: F401  (ROOT puts the checkout on sys.path)

from tests.service.helpers import start
from tests.service.test_hostile_packages import register_while_pinging, wide_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    seconds: dict[int, list[float]] = {2_000: [], 20_000: []}
    slowest_health: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-width-") as tmp, start(Path(tmp) / "home") as service:
        for round_ in range(args.rounds):
            for width in (2_000, 20_000) if round_ % 2 == 0 else (20_000, 2_000):
                took, package, health = register_while_pinging(service, wide_package(Path(tmp) / f"{round_}-{width}",
                                                                                    width))
                assert len(package["features"]) == width and package["hasBaseline"], package
                seconds[width].append(took)
                slowest_health.append(max(health, default=0.0))
    small, wide = statistics.median(seconds[2_000]), statistics.median(seconds[20_000])
    save("package_width", {
        "secondsByWidth": {str(w): summary(s) for w, s in seconds.items()},
        "ratio20kTo2k": wide / small, "linearWouldBe": 10.0, "quadraticWouldBe": 100.0,
        "slowestHealthSec": max(slowest_health), "loadAverage": [load_before, os.getloadavg()]})


if __name__ == "__main__":
    main()
