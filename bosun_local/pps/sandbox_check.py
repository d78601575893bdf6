"""Run inside a throwaway sandbox container: load a package and score its training rows; print the result.

The only place outside a deployment's PPS where package code runs (DESIGN: trust). The container has no network,
no secrets and a read-only root; what this prints is untrusted data that the service validates.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MARKER = "BOSUN-PACKAGE-CHECK "
MAX_SCORED_ROWS = 20000  # enough rows for stable quantiles; keeps the check quick


def _score(directory: Path, training: Path) -> list[Any]:
    import numpy as np
    import pandas as pd

    from bosun_local.pps.inputs import Frame
    from bosun_local.pps.model import load_package

    model = load_package(directory)
    sample = pd.read_csv(training, low_memory=False, nrows=MAX_SCORED_ROWS)
    names = model.schema.names
    if model.schema.numeric:
        block = sample[names]
        if len(block.select_dtypes(include="number").columns) != len(names):  # only then convert per column
            block = block.apply(pd.to_numeric, errors="coerce")
        values = block.to_numpy(dtype=np.float64, na_value=np.nan)
        rows = Frame(names, values[~np.isnan(values).any(axis=1)], True)
    else:
        rows = Frame(names, sample[names].astype(object).where(sample[names].notna(), None).to_numpy(), False)
    if rows.rows == 0:
        return []
    predictions = model.score(rows).predictions
    return [p.item() if hasattr(p, "item") else p for p in predictions]


def check(directory: Path, training: Path | None) -> dict[str, Any]:
    """Return {"ok", "error", "predictions", "scoreError"} for a package directory."""
    from bosun_local.pps.model import load_package

    try:
        load_package(directory)
    except BaseException as exc:  # noqa: BLE001 - any failure to load is the package's, reported as data
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000], "predictions": None}
    if training is None:
        return {"ok": True, "error": None, "predictions": None}
    try:
        return {"ok": True, "error": None, "predictions": _score(directory, training)}
    except BaseException as exc:  # noqa: BLE001 - the baseline then falls back to the target column
        return {"ok": True, "error": None, "predictions": None, "scoreError": f"{type(exc).__name__}: {exc}"[:2000]}


def main(argv: list[str] | None = None) -> int:
    """Check the package in argv[0] (training CSV path relative to it in argv[1]); print one marked line."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0])
    training = directory / args[1] if len(args) > 1 and args[1] else None
    result = check(directory, training)
    sys.stdout.write("\n" + MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
