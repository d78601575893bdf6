"""Plugin test helpers: run bosun-plugin-runner as a real subprocess and read its status file."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RUNNER = Path(sys.executable).parent / "bosun-plugin-runner"
# DataRobot's status-file form: yaml.safe_dump of the six fields, keys sorted.
STATUS_KEYS = ["data", "duration", "msg", "state", "status", "timestamp"]
PE_ID = "aaaaaaaaaaaaaaaaaaaaaaaa"
DEP_ID = "bbbbbbbbbbbbbbbbbbbbbbbb"
MODEL_A = "cccccccccccccccccccccccc"
MODEL_B = "dddddddddddddddddddddddd"


@dataclass
class Result:
    """What one runner invocation produced."""

    rc: int
    stdout: str
    stderr: str
    status: dict[str, Any] | None
    started_ms: int
    ended_ms: int


def check_status_shape(result: Result) -> dict[str, Any]:
    """Assert the status file has exactly the documented keys, sorted, with sane duration and timestamp."""
    status = result.status
    assert status is not None, f"no status file; stderr: {result.stderr}"
    assert list(status) == STATUS_KEYS
    assert isinstance(status["duration"], float) and status["duration"] >= 0
    assert isinstance(status["timestamp"], int)
    assert result.started_ms <= status["timestamp"] <= result.ended_ms
    return status


class Runner:
    """Run bosun-plugin-runner in one working directory."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.status_file = cwd / "status.yaml"

    def config(self, name: str, plugin_config: dict[str, Any] | None = None, **sections: Any) -> Path:
        """Write an action config file and return its path."""
        values: dict[str, Any] = {"pluginConfig": plugin_config or {}}
        values.update({k: v for k, v in sections.items() if v is not None})
        path = self.cwd / name
        path.write_text(yaml.safe_dump(values, sort_keys=False))
        return path

    def __call__(self, *args: str | Path, status: bool = True, env: dict[str, str] | None = None,
                 timeout: float = 60) -> Result:
        """Run the runner with args (plus --status-file unless status=False) and return the result."""
        self.status_file.unlink(missing_ok=True)
        argv = [str(RUNNER), *map(str, args)]
        if status:
            argv += ["--status-file", str(self.status_file)]
        started = int(time.time() * 1000)
        proc = subprocess.run(argv, cwd=self.cwd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        ended = int(time.time() * 1000)
        loaded = yaml.safe_load(self.status_file.read_text()) if self.status_file.exists() else None
        return Result(proc.returncode, proc.stdout, proc.stderr, loaded, started, ended)

    def action(self, plugin: str, action: str, config: Path, *extra: str,
               env: dict[str, str] | None = None) -> Result:
        """Run one action with --exit-codes and return the result."""
        return self(f"--plugin={plugin}", f"--action={action}", "--config", config, "--exit-codes", *extra, env=env)


def deployment(model_id: str = MODEL_A, artifact: str | Path | None = None, **extra: Any) -> dict[str, Any]:
    """Return a deploymentInfo section."""
    info: dict[str, Any] = {"id": DEP_ID, "modelId": model_id, "modelExecutionType": "custom_inference_model",
                            "name": "diabetes", "keyValueConfig": {"tier": "gold"}}
    if artifact is not None:
        info["modelArtifact"] = str(artifact)
    info.update(extra)
    return info
