"""PPS test fixtures: real packages on disk and real server subprocesses on free loopback ports."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.pps.packages import binary_package, custom_package, regression_package

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SEC = 60


class PPSServer:
    """`python -m bosun_local.pps` in a subprocess, its log in a file (an unread pipe would stall it)."""

    def __init__(self, env: dict[str, str], args: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="pps-", suffix=".log", delete=False)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PPS_", "MLOPS_", "MONITORING_"))}
        full_env = {**clean, "PORT": str(self.port), "PPS_HOST": "127.0.0.1", **env}
        cmd = [sys.executable, "-m", "bosun_local.pps", *(args or [])]
        self.proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait_ready(self, path: str = "/ping") -> PPSServer:
        """Wait until the server answers, failing with its log when it exits first."""
        deadline = time.monotonic() + START_TIMEOUT_SEC
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server did not answer within {START_TIMEOUT_SEC}s:\n{self.output()}")

    def output(self) -> str:
        """Return what the server logged so far."""
        return Path(self.log.name).read_text(errors="replace")

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the process to end; return its exit code."""
        return self.proc.wait(timeout)

    def stop(self) -> int:
        """SIGTERM the server and wait for it (kill after 30 s)."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build each kind of package once per session."""
    base = tmp_path_factory.mktemp("packages")
    return {"regression": regression_package(base / "regression"), "binary": binary_package(base / "binary"),
            "custom": custom_package(base / "custom")}


@pytest.fixture
def start_server() -> Iterator[object]:
    """Return a function starting a server with env vars; every server is stopped at the end of the test."""
    servers: list[PPSServer] = []

    def start(env: dict[str, str], ready: bool = True, args: list[str] | None = None) -> PPSServer:
        server = PPSServer(env, args)
        servers.append(server)
        return server.wait_ready() if ready else server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def module_servers(packages: dict[str, Path]) -> Iterator[dict[str, PPSServer]]:
    """One single-model server per package kind, shared by a module's read-only tests."""
    servers = {kind: PPSServer({"PPS_MODEL_DIR": str(path), "MLOPS_DEPLOYMENT_ID": f"dep-{kind}",
                                "MLOPS_MODEL_ID": f"model-{kind}"}) for kind, path in packages.items()}
    try:
        for server in servers.values():
            server.wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.stop()
