"""Bench: prediction explanations' cost per row, on vs. off in one run, for a linear and a tree model.

Run: .venv/bin/python bench/explanation_overhead.py [--repeats 30] [--rows 1,100,1000]
One multi-model PPS serves both models; for each model and batch size, requests with maxExplanations=3 and
without alternate (so machine-load drift hits both) on `/predApi/v1.0/deployments/<id>/predictions` (CSV in,
JSON out). Prints the median latency of each, the ratio on/off and the extra milliseconds per row, and writes
bench/results/explanation_overhead-<time>.json.
"""
from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import FEATURES, save, server  # noqa: E402

MODELS = ("linear", "forest")


def build_base() -> Path:
    """Write a multi-model base dir: a LinearRegression (with training.csv) and a 100-tree random forest."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LinearRegression

    data = load_diabetes(as_frame=True, scaled=False)
    base = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    for kind in MODELS:
        model = LinearRegression() if kind == "linear" else RandomForestRegressor(n_estimators=100, max_depth=8,
                                                                                  random_state=0)
        directory = base / f"deployment_{kind}"
        directory.mkdir()
        (directory / "model.pkl").write_bytes(pickle.dumps(model.fit(data.data.to_numpy(), data.target)))
        (directory / "model.yaml").write_text(yaml.safe_dump({
            "name": f"diabetes-{kind}", "targetName": "y", "targetType": "regression",
            "features": [{"name": n, "type": "numeric"} for n in FEATURES]}))
        data.frame.to_csv(directory / "training.csv", index=False)
        (directory / "config.yml").write_text(yaml.safe_dump({"deployment_id": kind, "model_id": kind}))
    return base


def body(rows: int) -> bytes:
    """Return a CSV of `rows` diabetes rows (cycled)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).data
    return frame.iloc[[i % len(frame) for i in range(rows)]].to_csv(index=False).encode()


def timed(client: httpx.Client, url: str, payload: bytes, params: dict[str, int]) -> float:
    """Return one request's latency in ms (failing loudly on anything but 200)."""
    started = time.perf_counter()
    resp = client.post(url, content=payload, params=params, headers={"Content-Type": "text/csv"})
    elapsed = (time.perf_counter() - started) * 1000.0
    if resp.status_code != 200:
        raise RuntimeError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
    return elapsed


def main() -> None:
    """Alternate explanations off/on per model and batch size; report medians, ratio and ms per row."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30, help="off/on pairs per model and batch size")
    parser.add_argument("--rows", default="1,100,1000", help="batch sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    base = build_base()
    results: list[dict[str, object]] = []
    env = {"PPS_MULTI_BASE_DIR": str(base), "PPS_HOST": "127.0.0.1", "MONITORING_ENABLED": "0"}
    try:
        with server([sys.executable, "-m", "bosun_local.pps"], env, ready_path="/ping") as url, \
                httpx.Client(timeout=120) as client:
            print(f"{'model':7} {'rows':>5} {'off ms':>9} {'on ms':>9} {'ratio':>7} {'extra ms/row':>13}")
            for kind in MODELS:
                route = f"{url}/predApi/v1.0/deployments/{kind}/predictions"
                for rows in sizes:
                    payload = body(rows)
                    for params in ({}, {"maxExplanations": 3}):  # warm-up: explainer built, shap imported
                        timed(client, route, payload, params)
                    off: list[float] = []
                    on: list[float] = []
                    for _ in range(args.repeats):
                        off.append(timed(client, route, payload, {}))
                        on.append(timed(client, route, payload, {"maxExplanations": 3}))
                    m_off, m_on = statistics.median(off), statistics.median(on)
                    extra = (m_on - m_off) / rows
                    print(f"{kind:7} {rows:>5} {m_off:>9.2f} {m_on:>9.2f} {m_on / m_off:>7.2f} {extra:>13.4f}")
                    results.append({"model": kind, "rows": rows, "off_ms_median": m_off, "on_ms_median": m_on,
                                    "ratio": m_on / m_off, "extra_ms_per_row": extra, "off_ms": off, "on_ms": on})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    save("explanation_overhead", {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
                                           "repeats": args.repeats, "results": results})


if __name__ == "__main__":
    main()
