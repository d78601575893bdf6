"""Read what a server reported into a FILESYSTEM spool."""
from __future__ import annotations

from pathlib import Path

from bosun_local.contracts.records import DEPLOYMENT_STATS, PREDICTIONS_DATA, Record, parse


def spooled(directory: Path) -> list[Record]:
    """Return every record in the spool files, in order."""
    out: list[Record] = []
    for path in sorted(directory.glob("fs_spool.*"), key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0):
        if path.suffix[1:].isdigit():
            out.extend(parse(line) for line in path.read_bytes().splitlines() if line.strip())
    return out


def stats(records: list[Record]) -> list[Record]:
    return [r for r in records if r.data_type == DEPLOYMENT_STATS]


def predictions(records: list[Record]) -> list[Record]:
    return [r for r in records if r.data_type == PREDICTIONS_DATA]
