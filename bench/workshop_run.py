"""Time `bosun-local workshop run` (images built): a cold run (environment stack down) and a warm rerun.

Goal (issue 9): a run finishes in under 5 minutes from images built. Uses an isolated stack (own project,
network, ports, data dir) and removes it, its deployments and the app images afterwards.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from _common import bosun, save

from tests.conftest import free_port, write_test_config


def one_run(folder: Path, count: int, env: dict[str, str]) -> dict[str, object]:
    """Run the workshop once; return wall seconds and the per-step seconds it reports."""
    start = time.perf_counter()
    proc = bosun("workshop", "run", str(folder), "--count", str(count), "--json", env=env)
    seconds = time.perf_counter() - start
    result = json.loads(proc.stdout)
    return {"seconds": round(seconds, 1), "steps": result["timingsSec"],
            "predictionsCounted": result["stats"]["predictions"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bosun-bench-") as tmp:
        home, folder = Path(tmp) / "home", Path(tmp) / "workshop"
        write_test_config(home, f"wsbench{uuid.uuid4().hex[:6]}")
        env = {"BOSUN_HOME": str(home)}
        bosun("workshop", "init", str(folder), "--app-port", str(free_port()), "--instrumented-port",
              str(free_port()), env=env)
        try:
            cold = one_run(folder, args.count, env)
            warm = one_run(folder, args.count, env)
        finally:
            bosun("workshop", "clean", str(folder), "--all", env=env, check=False)
            bosun("down", "--volumes", env=env, check=False)
    save("workshop_run", {"count": args.count, "coldEnvironment": cold, "warmEnvironment": warm,
                          "goal_seconds": 300})


if __name__ == "__main__":
    main()
