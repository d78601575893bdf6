"""Monitoring-agent replicas as local subprocesses (`bosun-local monitor run`): the scaler's test and bench vehicle."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger("bosun_local.monitoring.scaler")
STOP_TIMEOUT_SEC = 20.0


class LocalProcessScaler:
    """Set the number of `bosun-local monitor run` subprocesses; BacklogScaler's set_replicas and Replicas.

    An agent that exits by itself with an error (or is killed) counts as a failure, which the scaler's
    error-window rule reads; agents past the time limit are stopped (and replaced) by stop_expired.
    """

    def __init__(self, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 log_dir: Path | None = None) -> None:
        self.argv = [sys.executable, "-m", "bosun_local", "monitor", "run", *args]
        self.env = dict(os.environ if env is None else env)
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.stopped: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.failures: list[float] = []
        self._started_at: dict[int, float] = {}

    @property
    def replicas(self) -> int:
        """Return how many agent processes are alive; the ones that died with an error count as failures."""
        alive = []
        for proc in self.processes:
            code = proc.poll()
            if code is None:
                alive.append(proc)
            elif code != 0:
                log.warning("monitoring agent pid %d exited with %d", proc.pid, code)
                self.failures.append(time.monotonic())
        self.processes = alive
        return len(self.processes)

    def error_times(self) -> Sequence[float]:
        """Return the monotonic times at which agents failed."""
        _ = self.replicas  # notices agents that died since the last look
        return list(self.failures)

    def run_times(self, now: float) -> Sequence[float]:
        """Return how long each running agent has run, in seconds (now: time.monotonic())."""
        _ = self.replicas
        return [now - self._started_at.get(p.pid, now) for p in self.processes]

    def stop_expired(self, max_run_sec: float, replace: bool) -> int:
        """Stop agents running max_run_sec or longer (SIGTERM: they finish their batch); start one each if replace."""
        now = time.monotonic()
        _ = self.replicas
        expired = [p for p in self.processes if now - self._started_at.get(p.pid, now) >= max_run_sec]
        if replace:  # the successors start first, so the queue is never without readers
            for _proc in expired:
                self._start_one()
        for proc in expired:
            proc.send_signal(signal.SIGTERM)
        for proc in expired:
            self._reap(proc)
            self.processes.remove(proc)
        self.stopped.extend(expired)
        return len(expired)

    def __call__(self, replicas: int) -> None:
        """Start or stop agents until `replicas` run; the newest stop first (SIGTERM: finish the batch)."""
        while self.replicas < replicas:
            self._start_one()
        extra = self.processes[replicas:]
        for proc in reversed(extra):
            proc.send_signal(signal.SIGTERM)
        for proc in extra:
            self._reap(proc)
        self.stopped.extend(extra)
        self.processes = self.processes[:replicas]

    def _start_one(self) -> None:
        self.started += 1
        env = {**self.env, "MLOPS_AGENT_ID": f"{self.env.get('MLOPS_AGENT_ID', 'monitoring-local')}-{self.started}"}
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"monitoring-agent-{self.started}.log", "ab")  # noqa: SIM115 - child keeps it
        else:
            out = subprocess.DEVNULL  # type: ignore[assignment]
        try:
            proc = subprocess.Popen(self.argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if self.log_dir is not None:
                out.close()
        log.info("started monitoring agent pid %d", proc.pid)
        self._started_at[proc.pid] = time.monotonic()
        self.processes.append(proc)

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.wait(STOP_TIMEOUT_SEC)
        except subprocess.TimeoutExpired:
            log.warning("monitoring agent pid %d did not stop in %.0f s; killing it", proc.pid, STOP_TIMEOUT_SEC)
            proc.kill()
            proc.wait(5)

    def kill_one(self) -> int:
        """Kill -9 the oldest agent (a crash, for tests: it counts as a failure); return its pid."""
        proc = self.processes[0]
        proc.kill()
        proc.wait(10)
        _ = self.replicas
        return proc.pid

    def stop_all(self) -> None:
        """Stop every agent."""
        self(0)
