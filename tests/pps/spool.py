"""Start a server that reports into a FILESYSTEM spool, and read what it reported."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bosun_local.contracts.packed_stats import unpack
from bosun_local.contracts.records import DEPLOYMENT_STATS, DEPLOYMENT_STATS_PACKED, PREDICTIONS_DATA, Record, parse
from tests.pps.conftest import PPSServer


def spooling_server(start_server: object, model_dir: Path, deployment_id: str, model_id: str,
                    tmp_path: Path) -> tuple[PPSServer, Path]:
    """Start a server (the start_server fixture) reporting through a FILESYSTEM spool; return it and the spool."""
    spool = tmp_path / "spool"
    spool.mkdir()
    start: Callable[[dict[str, str]], PPSServer] = start_server  # type: ignore[assignment]
    server = start({"PPS_MODEL_DIR": str(model_dir), "MLOPS_DEPLOYMENT_ID": deployment_id,
                    "MLOPS_MODEL_ID": model_id, "MLOPS_SPOOLER_TYPE": "FILESYSTEM",
                    "MLOPS_FILESYSTEM_DIRECTORY": str(spool)})
    return server, spool


def spooled(directory: Path) -> list[Record]:
    """Return every record in the spool files, in order."""
    out: list[Record] = []
    for path in sorted(directory.glob("fs_spool.*"), key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0):
        if path.suffix[1:].isdigit():
            out.extend(parse(line) for line in path.read_bytes().splitlines() if line.strip())
    return out


def stats(records: list[Record]) -> list[Record]:
    """Return the per-request DEPLOYMENT_STATS records."""
    return [r for r in records if r.data_type == DEPLOYMENT_STATS]


def requests(records: list[Record]) -> list[tuple[int, float, bool, bool]]:
    """Return (numPredictions, executionTime, userError, systemError) of every reported request, in order, from
    DEPLOYMENT_STATS and DEPLOYMENT_STATS_PACKED records alike."""
    out: list[tuple[int, float, bool, bool]] = []
    for r in records:
        if r.data_type == DEPLOYMENT_STATS:
            out.append((r.data["numPredictions"], r.data["executionTime"], r.data["userError"], r.data["systemError"]))
        elif r.data_type == DEPLOYMENT_STATS_PACKED:
            p = unpack(r.data)
            out.extend(zip(p.num_predictions, p.execution_time_ms, p.user_errors, p.system_errors, strict=True))
    return out


def predictions(records: list[Record]) -> list[Record]:
    return [r for r in records if r.data_type == PREDICTIONS_DATA]
