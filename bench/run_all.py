"""Run every bench script in turn (what `make bench` does); each prints and saves its own results."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["stack_up.py", "pps_vs_flask.py", "v2_binary_vs_json.py", "explanation_overhead.py",
           "pps_monitoring_overhead.py", "input_bounds.py", "pps_metrics_overhead.py", "reporting_throughput.py",
           "reporting_cpu.py", "instructions_per_request.py", "service_storage.py",
           "ingest_throughput.py", "accuracy_ingest.py", "backlog_drain.py", "sqs_backlog_drain.py",
           "deploy_first_200.py", "deploy_replacements.py", "deploy_throughput.py", "deploy_heal.py",
           "traffic_mirroring.py", "dashboard_cpu.py", "workshop_run.py", "idle_stack.py", "shared_vs_dedicated.py",
           "swarm_vs_compose.py", "monitoring_cpu.py", "package_width.py", "pps_cpu_per_request.py"]


def main() -> int:
    """Run each script; return non-zero if any failed."""
    failed = []
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        start = time.monotonic()
        code = subprocess.run([sys.executable, str(HERE / script)], cwd=HERE.parent).returncode
        print(f"== {script}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
