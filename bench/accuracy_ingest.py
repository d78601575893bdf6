"""Ingest with the latency sketch and the durable association store, side by side with the code before them.

    .venv/bin/python bench/accuracy_ingest.py [--records 1000] [--rows 1000] [--rounds 2] [--before 3b0373b]
        [--ids seq|uuid] [--variants before,sketch,sketch+ids]

One broker; for each variant a fresh service and one monitoring agent (subprocesses) drain a 1M-row backlog:
- `before`: the tree of commit --before (fixed latency buckets, ids joined in the agent's memory), exported with
  `git archive` and put first on PYTHONPATH of its service and agent; records without association ids;
- `sketch`: this tree, the same records (the latency sketch is the only change on this path);
- `sketch+ids`: this tree, every row with an association id (stored durably in the service);
- `before+ids` (only when asked): the tree of --before with the same records as `sketch+ids` (its agent kept the
  ids in memory and joined actuals there; nothing durable), the same work's cost before.
Variants alternate within each round. Then 1M actuals for the stored ids go through the agent (actuals joined/s,
counted in the service's database), and 1M more through `POST /deployments/{id}/actuals` (the CLI's path).
Goals: >= 300k rows/s one agent, no variant > 10 % slower than `before`, >= 100k actuals/s.
Ids are `a<n>-<i>` by default, so a record's ids sort together in the store's key; `--ids uuid` sends random
UUIDs (what applications usually send), which scatter every insert over the whole table.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from _common import FEATURES, ROOT, export_tree, save
from _monitoring import (
    Bench,
    actuals_bodies,
    association_ids,
    drain_with_agent,
    publish,
    rabbit_env,
    record_bodies,
    service_cpu,
    service_with_deployment,
    stored,
)

from tests.support.rabbitmq import rabbitmq_container


def matched(bench: Bench) -> int:
    """Return predictions joined to an actual, read from the service's database (stats would compute metrics)."""
    conn = sqlite3.connect(f"file:{bench.home / 'bosun.db'}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM association_rows WHERE predicted_ms IS NOT NULL "
                                "AND actual_ms IS NOT NULL").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def run_variant(broker: Any, name: str, tree: Path | None, args: argparse.Namespace, actuals: bool) -> dict[str, Any]:
    """Start a service (of `tree`, else this checkout), drain a backlog with one agent; return rates and CPU."""
    extra = {"PYTHONPATH": str(tree)} if tree else {}
    with service_with_deployment(f"acc-{name}", broker, env=extra) as bench:
        queue = f"bench-acc-{name}-{int(time.time() * 1000)}"
        publish(bench, queue, record_bodies(bench, args.records, args.rows, with_ids=name.endswith("+ids"),
                                            id_kind=args.ids))
        env = rabbit_env(bench, queue, **extra)
        total = args.records * args.rows
        cpu = service_cpu(bench)
        result: dict[str, Any] = {"variant": name, **drain_with_agent(bench, env, total, lambda: stored(bench),
                                                                      args.timeout, cwd=tree or ROOT)}
        result["serviceCpuUsPerItem"] = round((service_cpu(bench) - cpu) * 1e6 / total, 2)
        if actuals:
            queue = f"{queue}-actuals"
            publish(bench, queue, actuals_bodies(bench, args.records, args.rows, args.ids))
            env["MLOPS_RABBITMQ_QUEUE_NAME"] = queue
            cpu = service_cpu(bench)
            # Counting a million index entries takes a while: poll less often than the stats of the other runs.
            joined = drain_with_agent(bench, env, total, lambda: matched(bench), args.timeout, poll_sec=1.0)
            joined["serviceCpuUsPerItem"] = round((service_cpu(bench) - cpu) * 1e6 / total, 2)
            result["actualsJoinedAgent"] = joined
            payload = [{"associationId": f"api-{i}", "actualValue": 1.0} for i in range(50_000)]
            cpu, start = service_cpu(bench), time.perf_counter()
            for _ in range(args.api_chunks):
                bench.client.upload_actuals(bench.deployment_id, payload)
            took, uploaded = time.perf_counter() - start, 50_000 * args.api_chunks
            result["actualsApi"] = {"perSec": round(uploaded / took),
                                    "serviceCpuUsPerItem": round((service_cpu(bench) - cpu) * 1e6 / uploaded, 2)}
            result["accuracyMatched"] = bench.client.stats(bench.deployment_id, window=86400)["accuracy"]["matched"]
    return result


def cpu_rates(rows: int = 1000, count: int = 100, id_kind: str = "seq") -> dict[str, int]:
    """Return rows (or actuals) per CPU-second of each side in this process: load on the machine barely moves them."""
    from bosun_local.monitoring.aggregation import Aggregator
    from bosun_local.monitoring.baselines import BaselineCache
    from bosun_local.service.monitoring_models import IngestIn
    from bosun_local.service.routes.monitoring import _checked
    from bosun_local.service.storage.sqlite import SQLiteStorage
    from bosun_local.spool.source import parse_record

    baseline = {"features": {f: {"type": "numeric", "edges": [float(e) for e in range(0, 100, 12)]} for f in FEATURES},
                "prediction": {"type": "numeric", "edges": [float(e) for e in range(50, 250, 25)]}}
    fake = Bench("", "", Path(tempfile.mkdtemp(prefix="bench-acc-cpu-")), None, None, "dep", "model")  # type: ignore[arg-type]
    out: dict[str, int] = {}
    for with_ids in (False, True):
        messages = record_bodies(fake, count, rows, with_ids, id_kind=id_kind)[0::2]
        start = time.process_time()
        # What the agent does: orjson-backed parse, aggregate, orjson-encoded post body.
        entries = Aggregator(BaselineCache(lambda _dep: baseline)).entries([parse_record(m) for m in messages])
        payload = orjson.dumps({"records": entries}, option=orjson.OPT_SERIALIZE_NUMPY)
        out[f"agentParseAggregateEncode{'WithIds' if with_ids else ''}"] = round(
            count * rows / (time.process_time() - start))
        storage = SQLiteStorage(fake.home / f"cpu-{with_ids}.db")
        start = time.process_time()
        storage.ingest([_checked(r, "bench") for r in IngestIn.model_validate_json(payload).records])
        took = time.process_time() - start
        out[f"serviceValidateStore{'WithIds' if with_ids else ''}"] = round(count * rows / took)
        if with_ids:
            ids = [i for n in range(count) for i in association_ids(n, rows, id_kind)]
            start = time.process_time()
            storage.store_actual_columns("dep", {"associationIds": ids, "actualValues": [1.0] * len(ids)})
            out["serviceStoreActuals"] = round(len(ids) / (time.process_time() - start))
        storage.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", default="3b0373b", help="commit of the code path before the sketch")
    parser.add_argument("--api-chunks", type=int, default=4, help="50k-row actuals uploads through the API")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--ids", choices=("seq", "uuid"), default="seq",
                        help="association ids: a<n>-<i> (a record's ids sort together) or random UUIDs")
    parser.add_argument("--variants", default="before,sketch,sketch+ids", help="comma-separated subset to run")
    args = parser.parse_args()
    variants = args.variants.split(",")
    tree = export_tree(args.before)
    runs: list[dict[str, Any]] = []
    with rabbitmq_container(f"bosun-bench-accuracy-{int(time.time())}") as broker:
        for round_ in range(args.rounds):
            for name in variants:
                last = round_ == args.rounds - 1 and name == "sketch+ids"
                run = run_variant(broker, name, tree if name.startswith("before") else None, args, actuals=last)
                print(json.dumps(run), flush=True)
                runs.append(run)
    steady = {n: [r["steady"] for r in runs if r["variant"] == n] for n in variants}
    median = {n: statistics.median(v) for n, v in steady.items()}
    # The actuals ran after the last round's sketch+ids, when it was among the variants.
    last = next((r for r in reversed(runs) if "actualsJoinedAgent" in r), None)
    result = {
        "bench": "accuracy_ingest", "cpus": os.cpu_count(), "loadAvg1m": os.getloadavg()[0], "before": args.before,
        "rowsPerVariantRun": args.records * args.rows, "rounds": args.rounds, "ids": args.ids,
        "rowsPerSecSteady": {n: [round(x) for x in v] for n, v in steady.items()},
        "medianRowsPerSecSteady": {n: round(v) for n, v in median.items()},
        "ratioVsBefore": {n: round(median[n] / median["before"], 3) for n in median if "before" in median},
        "medianCpuUsPerRow": {n: {side: statistics.median(r[key] for r in runs if r["variant"] == n)
                                  for side, key in (("agent", "agentCpuUsPerItem"), ("service", "serviceCpuUsPerItem"))}
                              for n in steady},
        "perCpuSecondInProcess": cpu_rates(args.rows, id_kind=args.ids),
        "goals": {"rowsPerSec": 300_000, "maxSlowdown": 0.10, "actualsPerSec": 100_000},
    }
    if last is not None:
        result.update({
            "actualsJoinedPerSecAgent": round(last["actualsJoinedAgent"]["steady"]),
            "actualsJoinedPerSecAgentWhole": round(last["actualsJoinedAgent"]["whole"]),
            "actualsCpuUsPerItemAgentPath": {"agent": last["actualsJoinedAgent"]["agentCpuUsPerItem"],
                                             "service": last["actualsJoinedAgent"]["serviceCpuUsPerItem"]},
            "actualsApi": last["actualsApi"], "accuracyMatchedAfter": last["accuracyMatched"]})
    save("accuracy_ingest", result)


if __name__ == "__main__":
    main()
