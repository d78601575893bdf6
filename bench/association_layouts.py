"""CPU per stored association id of candidate SQLite layouts, alternating in child processes.

    .venv/bin/python bench/association_layouts.py [--records 500] [--rounds 2] [--ids seq,uuid]

Each run stores `records` records of 1000 ids with a float prediction each, 50 records per transaction (about
what one ingest call of the accuracy bench commits), into a fresh database file in WAL mode with the service's
pragmas. Ids are made before the clock starts. Layouts (issue 14, the open "no regression" goal):
- `text`: today's `association_rows` (WITHOUT ROWID, key (dep, association_id), the two partial indexes);
- `hash-rowid`: the same row with INTEGER PRIMARY KEY = a 64-bit hash of (dep, id), the id kept for collisions;
- `block+hash-index`: one row per record (ids and predictions as blobs) and a WITHOUT ROWID (hash, ref) index;
- `block+text-index`: one row per record and a narrow WITHOUT ROWID (dep, id, ref) index;
- `block+memory-index`: one row per record and a first-wins dict id -> ref in memory (rebuilt from blocks on start);
- `block`: one row per record, no per-id index (the floor).
Id kinds: `seq` (`a<n>-<i>`, what accuracy_ingest.py sends: a record's ids sort together) and `uuid` (random).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from _common import save

ROWS = 1000
PER_TRANSACTION = 50
PER_STATEMENT = 500
LAYOUTS = ["text", "hash-rowid", "block+hash-index", "block+text-index", "block+memory-index", "block"]
ROW_COLUMNS = ("predicted_ms INTEGER, prediction REAL, label TEXT, probs BLOB, class_set INTEGER, actual TEXT, "
               "actual_num REAL, actual_ms INTEGER, was_acted_on INTEGER, received_s INTEGER NOT NULL")
PARTIAL_INDEXES = ["CREATE INDEX rows_matched ON r (dep, predicted_ms) WHERE predicted_ms IS NOT NULL "
                   "AND actual_ms IS NOT NULL", "CREATE INDEX rows_waiting ON r (dep) WHERE predicted_ms IS NULL"]
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def id_hashes(dep: int, ids: list[str]) -> list[int]:
    """Return a signed 64-bit hash of (dep, id) per id, vectorised over the ids' UCS-4 code points."""
    codes = np.array(ids, dtype=str)
    width = codes.dtype.itemsize // 4
    points = codes.view(np.uint32).reshape(len(ids), width).astype(np.uint64)
    h = np.full(len(ids), np.uint64(dep) * _MIX[0] + np.uint64(width), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            h = (h ^ points[:, j]) * _MIX[1]
            h ^= h >> np.uint64(29)
        h = (h ^ (h >> np.uint64(31))) * _MIX[2]
        h ^= h >> np.uint64(32)
    return h.view(np.int64).tolist()


def values_sql(constants: int, width: int, count: int) -> str:
    """Return `count` VALUES tuples: `constants` numbered values shared by all rows, then `width` own."""
    shared = [f"?{i + 1}" for i in range(constants)]
    return ", ".join("(" + ", ".join([*shared, *(f"?{constants + r * width + j + 1}" for j in range(width))]) + ")"
                     for r in range(count))


def make_ids(kind: str, records: int) -> list[list[str]]:
    """Return the ids of every record."""
    if kind == "seq":
        return [[f"a{n}-{i}" for i in range(ROWS)] for n in range(records)]
    return [[str(uuid.uuid4()) for _ in range(ROWS)] for _ in range(records)]


def create(conn: sqlite3.Connection, layout: str) -> None:
    """Create the tables of a layout."""
    if layout == "text":
        conn.execute(f"CREATE TABLE r (dep INTEGER NOT NULL, association_id TEXT NOT NULL, {ROW_COLUMNS}, "
                     "PRIMARY KEY (dep, association_id)) WITHOUT ROWID")
    elif layout == "hash-rowid":
        conn.execute(f"CREATE TABLE r (h INTEGER PRIMARY KEY, dep INTEGER NOT NULL, association_id TEXT NOT NULL, "
                     f"{ROW_COLUMNS})")
    else:
        conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, dep INTEGER NOT NULL, predicted_ms INTEGER, "
                     "received_s INTEGER NOT NULL, ids TEXT NOT NULL, predictions BLOB)")
    if layout in ("text", "hash-rowid"):
        for statement in PARTIAL_INDEXES:
            conn.execute(statement)
    if layout == "block+hash-index":
        conn.execute("CREATE TABLE x (h INTEGER PRIMARY KEY, ref INTEGER NOT NULL) WITHOUT ROWID")
    if layout == "block+text-index":
        conn.execute("CREATE TABLE x (dep INTEGER NOT NULL, association_id TEXT NOT NULL, ref INTEGER NOT NULL, "
                     "PRIMARY KEY (dep, association_id)) WITHOUT ROWID")


def store(conn: sqlite3.Connection, layout: str, ids: list[str], predictions: list[float],
          memory: dict[str, int]) -> None:
    """Store one record's ids and predictions (inside the caller's transaction)."""
    shared = [1, 1_700_000_000_000, 1_700_000_000]
    if layout in ("text", "hash-rowid"):
        hashes = id_hashes(1, ids) if layout == "hash-rowid" else None
        width = 3 if hashes else 2
        columns = "h, association_id, prediction" if hashes else "association_id, prediction"
        sql = (f"INSERT INTO r (dep, predicted_ms, received_s, {columns}) VALUES "
               f"{values_sql(3, width, PER_STATEMENT)} ON CONFLICT DO NOTHING")
        for s in range(0, ROWS, PER_STATEMENT):
            params: list[Any] = [None] * (3 + width * PER_STATEMENT)
            params[:3] = shared
            own = [ids[s:s + PER_STATEMENT], predictions[s:s + PER_STATEMENT]]
            if hashes:
                own.insert(0, hashes[s:s + PER_STATEMENT])
            for j, column in enumerate(own):
                params[3 + j::width] = column
            conn.execute(sql, params)
        return
    block = conn.execute("INSERT INTO b (dep, predicted_ms, received_s, ids, predictions) VALUES (?, ?, ?, ?, ?)",
                         (*shared, "\x1f".join(ids), np.asarray(predictions, dtype=np.float64).tobytes())).lastrowid
    assert block is not None
    base = block << 16  # a reference is the block and the position in it
    if layout == "block+memory-index":
        for position, key in enumerate(ids):
            memory.setdefault(key, base + position)  # the first prediction wins
    elif layout in ("block+hash-index", "block+text-index"):
        keys: list[Any] = id_hashes(1, ids) if layout == "block+hash-index" else ids
        lead = "" if layout == "block+hash-index" else "?1, "
        first = 1 if layout == "block+hash-index" else 2
        columns = "h, ref" if layout == "block+hash-index" else "dep, association_id, ref"
        sql = (f"INSERT INTO x ({columns}) VALUES "
               + ", ".join(f"({lead}?{first + 2 * i}, ?{first + 2 * i + 1})" for i in range(PER_STATEMENT))
               + " ON CONFLICT DO NOTHING")
        for s in range(0, ROWS, PER_STATEMENT):
            params = [None] * (first - 1 + 2 * PER_STATEMENT)
            if first == 2:
                params[0] = 1
            params[first - 1::2] = keys[s:s + PER_STATEMENT]
            params[first::2] = range(base + s, base + s + PER_STATEMENT)
            conn.execute(sql, params)


def run_one(layout: str, kind: str, records: int) -> dict[str, Any]:
    """Store `records` records in a fresh database; return CPU µs per id (and the memory index's rebuild cost)."""
    ids = make_ids(kind, records)
    predictions = np.random.default_rng(0).normal(150, 50, ROWS).round(2).tolist()
    with tempfile.TemporaryDirectory(prefix="bench-layouts-") as directory:
        path = Path(directory) / "layouts.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        create(conn, layout)
        memory: dict[str, int] = {}
        start = time.process_time()
        for first in range(0, records, PER_TRANSACTION):
            conn.execute("BEGIN IMMEDIATE")
            for n in range(first, min(records, first + PER_TRANSACTION)):
                store(conn, layout, ids[n], predictions, memory)
            conn.execute("COMMIT")
        took = time.process_time() - start
        out: dict[str, Any] = {"layout": layout, "ids": kind, "rows": records * ROWS,
                               "cpuUsPerId": round(took * 1e6 / (records * ROWS), 3),
                               "fileMB": round(path.stat().st_size / 1e6, 1)}
        if layout == "block+memory-index":
            start = time.process_time()
            rebuilt: dict[str, int] = {}
            for block, text in conn.execute("SELECT id, ids FROM b ORDER BY id"):
                base = block << 16
                for position, key in enumerate(text.split("\x1f")):
                    rebuilt.setdefault(key, base + position)
            out["rebuildUsPerId"] = round((time.process_time() - start) * 1e6 / (records * ROWS), 3)
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ids", default="seq,uuid")
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--one", nargs=2, metavar=("LAYOUT", "IDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.records)))
        return
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for kind in args.ids.split(","):
            for layout in args.layouts.split(","):
                # A child process per run: no allocator or page-cache state carried from one layout to the next.
                line = subprocess.run([sys.executable, __file__, "--records", str(args.records), "--one", layout,
                                       kind], check=True, capture_output=True, text=True).stdout
                runs.append({**json.loads(line), "loadAvg1m": os.getloadavg()[0]})
                print(json.dumps(runs[-1]), flush=True)
    medians = {f"{kind} {layout}": statistics.median(r["cpuUsPerId"] for r in runs
                                                     if r["layout"] == layout and r["ids"] == kind)
               for kind in args.ids.split(",") for layout in args.layouts.split(",")}
    save("association_layouts", {"bench": "association_layouts", "records": args.records, "rowsPerRecord": ROWS,
                                 "perTransaction": PER_TRANSACTION, "rounds": args.rounds,
                                 "medianCpuUsPerId": medians, "runs": runs})


if __name__ == "__main__":
    main()
