"""Helpers shared by the bench scripts: isolated data dirs, timing, result files."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def bosun(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the bosun-local CLI of this checkout."""
    proc = subprocess.run([sys.executable, "-m", "bosun_local", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=1800)
    if check and proc.returncode != 0:
        raise SystemExit(f"bosun-local {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def timed(fn: Any) -> float:
    """Return the seconds one call of fn takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    """Return min / p50 / max of samples."""
    return {"min": min(samples), "p50": statistics.median(samples), "max": max(samples), "n": len(samples)}


def save(name: str, result: dict[str, Any]) -> None:
    """Print a result and keep it in bench/results/<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"{name}.json").write_text(text + "\n")
    print(text)
