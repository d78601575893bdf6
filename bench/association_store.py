"""The service's CPU per association id, this tree against a reference commit, in alternating child processes.

    .venv/bin/python bench/association_store.py [--ref 4e29c21] [--records 500] [--rows 1000] [--rounds 3]
        [--ids seq,uuid] [--index-max-ids N]

Each child takes agent-made ingest bodies (the agent's parse, aggregate and encode, not timed) of `records`
PREDICTIONS_DATA records of `rows` rows with association ids, and times with `time.process_time` what the
service does with them: body validation (`IngestIn`), the route's checks and `storage.ingest`, in calls of 50
records, on a fresh SQLite file. Then an actual for every id in calls of 50,000 (`store_actual_columns`, the
path of the agent's ACTUALS records and of the API). Then it reopens the store and joins one actual, which makes
this tree rebuild its in-memory index of first predictions from the stored blocks: the rebuild's CPU per id and
the memory it holds per id (tracemalloc). Ids: `seq` (`a<n>-<i>`, a record's ids sort together) and `uuid`
(random, what applications usually send). The reference tree is `git archive` of --ref, first on sys.path of its
children. Prints per-round figures and the medians' ratios (this tree / reference). --index-max-ids caps this
tree's in-memory index below the ids stored, to measure ingest while the oldest blocks are compacted into rows.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import ROOT, export_tree, save

PER_CALL = 50
ACTUALS_PER_CALL = 50_000


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Time the service's steps on this process's tree (the one first on sys.path); return the figures."""
    if args.tree:
        sys.path.insert(0, args.tree)
    import orjson
    from _monitoring import Bench, association_ids, record_bodies

    import bosun_local
    from bosun_local.monitoring.aggregation import Aggregator
    from bosun_local.monitoring.baselines import BaselineCache
    from bosun_local.service.monitoring_models import IngestIn
    from bosun_local.service.routes.monitoring import _checked
    from bosun_local.service.storage.sqlite import SQLiteStorage
    from bosun_local.spool.source import parse_record

    assert Path(bosun_local.__file__).is_relative_to(args.tree or ROOT), bosun_local.__file__
    home = Path(tempfile.mkdtemp(prefix="bench-assoc-store-"))
    fake = Bench("", "", home, None, None, "dep", "model")  # type: ignore[arg-type]
    features = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    baseline = {"features": {f: {"type": "numeric", "edges": [float(e) for e in range(0, 100, 12)]} for f in features},
                "prediction": {"type": "numeric", "edges": [float(e) for e in range(50, 250, 25)]}}
    aggregator = Aggregator(BaselineCache(lambda _dep: baseline))
    messages = record_bodies(fake, args.records, args.rows, with_ids=True, id_kind=args.ids)[0::2]
    payloads = [orjson.dumps({"records": aggregator.entries([parse_record(m) for m in messages[i:i + PER_CALL]])},
                             option=orjson.OPT_SERIALIZE_NUMPY) for i in range(0, len(messages), PER_CALL)]
    ids = [i for n in range(args.records) for i in association_ids(n, args.rows, args.ids)]
    total = len(ids)
    storage = SQLiteStorage(home / "bosun.db")
    if args.index_max_ids and hasattr(storage, "index_max_ids"):
        storage.index_max_ids = args.index_max_ids
    start = time.process_time()
    for payload in payloads:
        storage.ingest([_checked(r, "bench") for r in IngestIn.model_validate_json(payload).records])
    ingest = time.process_time() - start
    start = time.process_time()
    joined = 0
    for i in range(0, total, ACTUALS_PER_CALL):
        chunk = ids[i:i + ACTUALS_PER_CALL]
        joined += storage.store_actual_columns("dep", {"associationIds": chunk,
                                                       "actualValues": [1.0] * len(chunk)})[0]
    actuals = time.process_time() - start
    assert joined == total, (joined, total)
    storage.close()
    out: dict[str, Any] = {"ingestUsPerId": round(ingest * 1e6 / total, 3),
                           "actualUsEach": round(actuals * 1e6 / total, 3)}
    reopened = SQLiteStorage(home / "bosun.db")
    if hasattr(reopened, "_index"):  # this tree: the index of first predictions, rebuilt on need
        start = time.process_time()
        with reopened.transaction():
            reopened._index()
        rebuild = time.process_time() - start
        reopened._forget_index()
        tracemalloc.start()  # a second rebuild, traced (tracing slows allocation: not the timed one)
        with reopened.transaction():
            reopened._index()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        out.update({"rebuildUsPerId": round(rebuild * 1e6 / total, 3), "indexBytesPerId": round(held / total, 1)})
    reopened.close()
    return out


def run_child(tree: Path | None, args: argparse.Namespace) -> dict[str, Any]:
    """Run one child process and return its figures."""
    cmd = [sys.executable, __file__, "--child", "--ids", args.ids, "--records", str(args.records),
           "--rows", str(args.rows), "--index-max-ids", str(args.index_max_ids),
           *(["--tree", str(tree)] if tree else [])]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="4e29c21", help="reference commit (the per-id rows store)")
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ids", default="seq,uuid", help="id kinds to run: seq, uuid or both")
    parser.add_argument("--index-max-ids", type=int, default=0, help="cap of this tree's in-memory index (0: default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return
    tree = export_tree(args.ref)
    result: dict[str, Any] = {"bench": "association_store", "cpus": os.cpu_count(), "ref": args.ref,
                              "indexMaxIds": args.index_max_ids or "default",
                              "idsPerRun": args.records * args.rows, "rounds": args.rounds, "kinds": {}}
    for kind in args.ids.split(","):
        args.ids = kind
        runs: dict[str, list[dict[str, Any]]] = {"ref": [], "this": []}
        for round_ in range(args.rounds):
            # Alternate which goes first: a drift of the host's load then falls on both alike.
            for name in (("ref", "this") if round_ % 2 == 0 else ("this", "ref")):
                run = {**run_child(tree if name == "ref" else None, args), "loadAvg1m": os.getloadavg()[0]}
                print(json.dumps({"ids": kind, "tree": name, **run}), flush=True)
                runs[name].append(run)
        medians = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0] if key != "loadAvg1m"}
                   for name, rs in runs.items()}
        result["kinds"][kind] = {
            "runs": runs, "medians": medians,
            "ratioThisToRef": {key: round(medians["this"][key] / medians["ref"][key], 3)
                               for key in medians["ref"] if key in medians["this"]}}
        print(json.dumps({"ids": kind, "medians": medians,
                          "ratioThisToRef": result["kinds"][kind]["ratioThisToRef"]}), flush=True)
    save("association_store", result)


if __name__ == "__main__":
    main()
