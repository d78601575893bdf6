"""CPU per item of the monitoring ingest path, this tree vs. a commit before it, side by side in one run.

    .venv/bin/python bench/monitoring_cpu.py [--before 890be75] [--rounds 2]

Each stage runs in a child process on the tree it measures (its own agent code path: parse, aggregate or fold,
encode; the service's validation and SQLite storage), alternating trees, and reports process CPU time per item:
on a shared, loaded machine CPU time moves far less than wall rates. Modes: `stats` (DEPLOYMENT_STATS records),
`ids` (1000-row PREDICTIONS_DATA records with an association id per row, then ACTUALS for every id through the
agent's path, then 50k-actual uploads through the API route's validation and storage).
"""
# ruff: noqa: E402, E501, E701, E702, ANN, D103
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

if len(sys.argv) > 2 and sys.argv[1] == "--child":
    root, mode = sys.argv[2], sys.argv[3]
    sys.path.insert(0, root)
    import tempfile
    import time
    from datetime import UTC, datetime

    import numpy as np

    from bosun_local.contracts import records
    from bosun_local.monitoring.aggregation import Aggregator
    from bosun_local.monitoring.baselines import BaselineCache
    from bosun_local.service.monitoring_models import ActualsUploadIn, IngestIn
    from bosun_local.service.routes.monitoring import _checked
    from bosun_local.service.storage.sqlite import SQLiteStorage
    try:
        import orjson

        from bosun_local.monitoring.aggregation import RequestsFolder
        from bosun_local.spool.source import parse_record
        NEW = True
    except ImportError:
        parse_record, NEW = records.parse, False
    F = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    baseline = {"features": {f: {"type": "numeric", "edges": [float(e) for e in range(0, 100, 12)]} for f in F},
                "prediction": {"type": "numeric", "edges": [float(e) for e in range(50, 250, 25)]}}
    agg = Aggregator(BaselineCache(lambda d: baseline))
    home = Path(tempfile.mkdtemp())
    def cpu(fn):
        s = time.process_time(); out = fn(); return out, time.process_time() - s
    def encode(entries):
        return orjson.dumps({"records": entries}, option=orjson.OPT_SERIALIZE_NUMPY) if NEW else json.dumps({"records": entries}).encode()
    def msg(kind, payload):
        return records.encode(records.new_record_id(), "dep", kind, payload)
    res = {}
    if mode == "stats":
        n = 20000
        bodies = [msg(records.DEPLOYMENT_STATS, records.deployment_stats_data("m1", 1, 12.0)) for _ in range(n)]
        def agent():
            recs = [parse_record(b) for b in bodies]
            if NEW:
                f = RequestsFolder()
                for r in recs: f.add(r)
                entries = [e for e, _ in f.entries()]
            else:
                entries = agg.entries(recs)
            return encode(entries)
        payload, a = cpu(agent)
        st = SQLiteStorage(home / "s.db")
        _, s = cpu(lambda: st.ingest([_checked(r, "b") for r in IngestIn.model_validate_json(payload).records]))
        res = {"agentUsPerRecord": a / n * 1e6, "serviceUsPerRecord": s / n * 1e6}
    else:
        rows, count = 1000, 100
        rng = np.random.default_rng(0)
        stamp = records.format_timestamp(datetime.now(UTC))
        data = {"timestamp": stamp, "modelId": "m1", "features": {f: rng.normal(50, 20, rows).round(3).tolist() for f in F},
                "predictions": rng.normal(150, 50, rows).round(2).tolist()}
        bodies = [msg(records.PREDICTIONS_DATA, {**data, "associationIds": [f"a{k}-{i}" for i in range(rows)]}) for k in range(count)]
        N = rows * count
        payload, a = cpu(lambda: encode(agg.entries([parse_record(b) for b in bodies])))
        st = SQLiteStorage(home / "p.db")
        _, s = cpu(lambda: st.ingest([_checked(r, "b") for r in IngestIn.model_validate_json(payload).records]))
        res = {"agentUsPerRow": a / N * 1e6, "serviceUsPerRow": s / N * 1e6}
        # actuals through the agent: ACTUALS records -> entries -> service
        act = [msg(records.ACTUALS, {"timestamp": stamp, "modelId": "m1", "associationIds": [f"a{k}-{i}" for i in range(rows)],
                                     "actualValues": [150.0 + i % 7 for i in range(rows)]}) for k in range(count)]
        payload, a = cpu(lambda: encode(agg.entries([parse_record(b) for b in act])))
        _, s = cpu(lambda: st.ingest([_checked(r, "b") for r in IngestIn.model_validate_json(payload).records]))
        matched = st._exec("SELECT COUNT(*) FROM association_rows WHERE actual_ms IS NOT NULL AND predicted_ms IS NOT NULL").fetchone()[0]
        res.update({"actualsAgentUs": a / N * 1e6, "actualsServiceUs": s / N * 1e6, "matched": matched})
        # actuals through the API route's validation + storage (50k-row uploads)
        up = json.dumps({"data": [{"associationId": f"x{i}", "actualValue": 1.0} for i in range(50000)]}).encode()
        def api():
            body = ActualsUploadIn.model_validate_json(up)
            if NEW:
                return st.store_actual_columns("dep", {"associationIds": [str(x.associationId) for x in body.data],
                                                      "actualValues": [x.actualValue for x in body.data],
                                                      "timestamps": [x.timestamp for x in body.data], "wasActedOn": [x.wasActedOn for x in body.data]})
            return st.store_actuals("dep", None, [x.model_dump(exclude_none=True) for x in body.data])
        _, s = cpu(api)
        res["actualsApiServiceUs"] = s / 50000 * 1e6
    print(json.dumps({"tree": "after" if NEW else "before", "mode": mode, **{k: round(v, 2) if isinstance(v, float) else v for k, v in res.items()}}))


def main() -> None:
    import argparse

    from _common import ROOT, save
    from accuracy_ingest import export_tree

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="890be75", help="commit before the columnar ingest")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    before = export_tree(args.before)
    runs = []
    for _ in range(args.rounds):
        for tree in (before, ROOT):
            for mode in ("stats", "ids"):
                out = subprocess.run([sys.executable, __file__, "--child", str(tree), mode], capture_output=True,
                                     text=True, check=True).stdout.strip().splitlines()[-1]
                print(out, flush=True)
                runs.append(json.loads(out))
    save("monitoring_cpu", {"before": args.before, "runs": runs})


if __name__ == "__main__" and not (len(sys.argv) > 2 and sys.argv[1] == "--child"):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
