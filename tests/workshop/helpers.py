"""Helpers of the workshop tests: the CLI in a subprocess, an app served by the venv's Python."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

NOTES_ROW = "age=30&sex=1&bmi=23&bp=100&s1=157&s2=70&s3=40&s4=4&s5=3&s6=88"


def bosun(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would (environment, BOSUN_HOME included, inherited)."""
    return subprocess.run([sys.executable, "-m", "bosun_local", *args], capture_output=True, text=True,
                          timeout=timeout)


def train(workshop: Path) -> Path:
    """Run the scaffold's model.py with this Python; return the package dir."""
    done = subprocess.run([sys.executable, str(workshop / "model/model.py")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return workshop / "model/package"


@contextmanager
def serving(script: Path, port: int, env: dict[str, str] | None = None,
            timeout_sec: float = 60) -> Iterator[subprocess.Popen[str]]:
    """Run an app script on 127.0.0.1:port until it answers /health; SIGTERM it afterwards."""
    full_env = {**os.environ, "PORT": str(port), **(env or {})}
    proc = subprocess.Popen([sys.executable, str(script)], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + timeout_sec
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{script} exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{script} did not answer within {timeout_sec} s"
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def get_form(url: str, body: str) -> httpx.Response:
    """GET with a form body, as the notes' `curl -X GET -d ...` does."""
    return httpx.request("GET", url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                         timeout=10)
