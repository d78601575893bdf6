"""The management agent's package checks: load and score a package in a throwaway sandbox container.

The agent starts the container because it is the component that reaches the engine (through the socket proxy);
the service, which holds the token and the database, never runs package code and never sees the socket.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from bosun_local.client import ServiceClient
from bosun_local.config import Config
from bosun_local.contracts import labels
from bosun_local.engine import adapter
from bosun_local.errors import BosunError
from bosun_local.pps.sandbox_check import MARKER

log = logging.getLogger(__name__)
SANDBOX_DIR = "/package"
SANDBOX_USER = "65534:65534"  # nobody: owns nothing in the image and nothing on the host


def sandbox_spec(config: Config, claim: dict[str, Any], timeout_sec: float) -> adapter.SandboxSpec:
    """Return the sandbox of one claimed check; refuse a path outside this data dir's packages."""
    path = Path(str(claim.get("path", "")))
    packages = config.packages_dir.resolve()
    if not path.is_absolute() or not path.resolve().is_relative_to(packages) or path.resolve() == packages:
        raise BosunError(f"package check {claim.get('packageId')}: path {path} is not a package under {packages}",
                         fix="the service and this agent must share one data dir")
    command = ["python", "-m", "bosun_local.pps.sandbox_check", SANDBOX_DIR, str(claim.get("trainingData") or "")]
    return adapter.SandboxSpec(
        image=str(config["ppsBaseImage"]), command=command, read_only_mounts={str(path.resolve()): SANDBOX_DIR},
        user=SANDBOX_USER, labels={labels.SANDBOX: str(claim.get("packageId")), labels.MANAGED: "true",
                                   labels.NETWORK: str(config["dockerNetwork"])},
        timeout_sec=timeout_sec)


def remove_leftovers(config: Config) -> list[str]:
    """Remove the sandbox containers of this environment that outlived their check (agent died, stack went down)."""
    found = [c.name for c in adapter.containers_with_labels(
        {labels.SANDBOX: None, labels.NETWORK: str(config["dockerNetwork"])})]
    if found:
        log.info("removing %d leftover sandbox container(s): %s", len(found), ", ".join(found))
        adapter.remove_containers(found, timeout=1)
    return found


def parse_output(run: adapter.SandboxRun, timeout_sec: float) -> dict[str, Any]:
    """Return the check result printed by the sandbox, or a failure saying why there is none."""
    if run.timed_out:
        return {"ok": False, "error": f"loading and scoring the package took longer than {timeout_sec:g} s"}
    for line in reversed(run.output.splitlines()):
        if line.startswith(MARKER):
            try:
                result = json.loads(line[len(MARKER):])
            except ValueError:
                break
            if isinstance(result, dict):
                return {k: result[k] for k in ("ok", "error", "predictions", "scoreError") if k in result}
            break
    tail = "\n".join(run.output.splitlines()[-15:])
    return {"ok": False, "error": f"the package check ended (exit code {run.exit_code}) without a result; its "
                                  f"output ends with:\n{tail}"[:2000]}


class PackageChecker:
    """Claims package checks from the service and runs each in a sandbox container."""

    def __init__(self, client: ServiceClient, config: Config, agent_id: str, timeout_sec: float = 120.0,
                 wait_sec: float = 0.0) -> None:
        # One agent per environment runs checks, so at its start any sandbox of this environment is a leftover.
        remove_leftovers(config)
        self.client = client
        self.config = config
        self.agent_id = agent_id
        self.timeout_sec = timeout_sec
        self.wait_sec = wait_sec

    def run_once(self, wait_sec: float = 0.0) -> bool:
        """Run one pending check (waiting up to wait_sec in the service for one); return False when there was none."""
        claim = self.client.claim_package_check(self.agent_id, wait_sec)
        if not claim:
            return False
        spec = sandbox_spec(self.config, claim, self.timeout_sec)
        result = parse_output(adapter.run_sandbox(spec), self.timeout_sec)
        log.info("package %s: sandbox check %s", claim["packageId"], "ok" if result.get("ok") else "failed")
        self.client.post_package_check(str(claim["packageId"]), result)
        return True

    def drain(self) -> int:
        """Run pending checks until there are none; return how many ran."""
        count = 0
        while self.run_once(0.0 if count else self.wait_sec):
            count += 1
        return count
