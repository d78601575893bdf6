"""Measure `bosun-local up` to all-healthy (images built) and a cold build of every image.

Goals (issue 2): up <= 20 s; cold image build <= 5 min. Runs an isolated stack (own project, network, ports)
and, for the cold build, its own image names and data dir, so nothing of a running stack is touched.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

from _common import bosun, save, summary, timed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import write_test_config  # noqa: E402


def measure_up(rounds: int, services: str) -> dict[str, object]:
    """Time up --wait then down, `rounds` times, in a throwaway data dir."""
    with tempfile.TemporaryDirectory(prefix="bosun-bench-") as tmp:
        home = Path(tmp)
        write_test_config(home, f"blbench{uuid.uuid4().hex[:6]}")
        env = {"BOSUN_HOME": str(home)}
        samples = []
        try:
            for _ in range(rounds):
                samples.append(timed(lambda: bosun("up", *(["--services", services] if services else []), env=env)))
                bosun("down", "--volumes", env=env)
        finally:
            bosun("down", "--volumes", env=env, check=False)
    return {"services": services or "all", "seconds": summary(samples), "goal_seconds": 20}


def measure_cold_build() -> dict[str, object]:
    """Build every image under fresh names with empty caches (debootstrap, downloads, builds)."""
    tag = uuid.uuid4().hex[:6]
    names = {f"BOSUN_{k}": f"bosun-bench/{v}:{tag}" for k, v in
             (("BASE_IMAGE", "base"), ("TRAEFIK_IMAGE", "traefik"), ("RABBITMQ_IMAGE", "rabbitmq"),
              ("AGENT_IMAGE", "runtime"), ("PPS_BASE_IMAGE", "runtime"))}
    with tempfile.TemporaryDirectory(prefix="bosun-bench-") as tmp:
        env = {"BOSUN_HOME": tmp, **names}
        try:
            seconds = timed(lambda: bosun("images", "build", "--json", env=env))
        finally:
            import subprocess

            subprocess.run(["docker", "image", "rm", "-f", *sorted(set(names.values()))], capture_output=True)
    return {"seconds": seconds, "goal_seconds": 300}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", default="", help="comma-separated subset (default: the whole stack)")
    parser.add_argument("--skip-cold-build", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"up": measure_up(args.rounds, args.services)}
    if not args.skip_cold_build:
        result["coldImageBuild"] = measure_cold_build()
    save("stack_up", result)


if __name__ == "__main__":
    main()
