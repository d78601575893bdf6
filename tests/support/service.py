"""Start a real service subprocess for tests: `with running_service(tmp_path) as (url, token): ...`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bosun_local.errors import BosunError
from tests.support.net import free_port

START_TIMEOUT_SEC = 60.0


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_service(home: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `python -m bosun_local.service` on 127.0.0.1:port with BOSUN_HOME=home; log to home/logs."""
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "logs" / "service-test.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "BOSUN_HOME": str(home), **(env or {})}
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bosun_local.service", "--host", "127.0.0.1",
                                 "--port", str(port)], env=full_env, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(proc: subprocess.Popen[bytes], url: str, home: Path, timeout: float = START_TIMEOUT_SEC) -> None:
    """Poll /health until it answers 200; raise with the service log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BosunError(f"the test service exited with code {proc.returncode} before answering /health:\n"
                             f"{_log_tail(home / 'logs' / 'service-test.log')}", fix="read the log above")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise BosunError(f"the test service at {url} did not answer /health within {timeout:g}s:\n"
                     f"{_log_tail(home / 'logs' / 'service-test.log')}", fix="read the log above")


def stop_service(proc: subprocess.Popen[bytes], hard: bool = False) -> None:
    """Stop a service process: SIGKILL when hard (a crash), else SIGTERM then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@contextmanager
def running_service(home: Path, port: int | None = None,
                    env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Run the service on a free port with data dir `home`; yield (url, token); stop it on exit."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_service(home, port, env)
    try:
        wait_healthy(proc, url, home)
        yield url, (home / "token").read_text().strip()
    finally:
        stop_service(proc)
