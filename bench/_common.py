"""Helpers shared by every bench script: the checkout on sys.path, the diabetes package, servers, wrk, results."""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))  # the checkout, for bosun_local and tests.support

import yaml  # noqa: E402

from tests.support.net import free_port  # noqa: E402


def export_tree(commit: str) -> Path:
    """Return a directory holding the repository's files at a commit (no git metadata touched)."""
    target = Path(tempfile.mkdtemp(prefix=f"bench-before-{commit[:8]}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
FORM = "age=30&sex=1&bmi=23&bp=100&s1=157&s2=70&s3=40&s4=4&s5=3&s6=88"


def bosun(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the bosun-local CLI of this checkout."""
    proc = subprocess.run([sys.executable, "-m", "bosun_local", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=1800)
    if check and proc.returncode != 0:
        raise SystemExit(f"bosun-local {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def timed(fn: Any) -> float:
    """Return the seconds one call of fn takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    """Return min / p50 / max of samples."""
    return {"min": min(samples), "p50": statistics.median(samples), "max": max(samples), "n": len(samples)}


def save(name: str, result: dict[str, Any]) -> Path:
    """Print a result and keep it in bench/results/<name>-<time>.json (gitignored); return the file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(text + "\n")
    print(text)
    print(f"results written to {path.relative_to(ROOT)}")
    return path


def diabetes_package(directory: Path | None = None) -> Path:
    """Write the workshop's package (LinearRegression on the unscaled diabetes frame) with its training data."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    data = load_diabetes(as_frame=True, scaled=False)
    directory = directory or Path(tempfile.mkdtemp(prefix="bench-diabetes-"))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.pkl").write_bytes(pickle.dumps(LinearRegression().fit(data.data, data.target)))
    (directory / "model.yaml").write_text(yaml.safe_dump({
        "name": "diabetes", "targetName": "y", "targetType": "regression",
        "features": [{"name": n, "type": "numeric"} for n in FEATURES]}))
    data.frame.rename(columns={"target": "y"}).to_csv(directory / "training.csv", index=False)
    return directory


def get(url: str, timeout: float = 5.0, form: str | None = FORM) -> str:
    """Return the body of a GET carrying a form body, as `curl -XGET -d ...` sends it."""
    data = form.encode() if form else None
    request = urllib.request.Request(url, data=data, method="GET",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return resp.read().decode()


@contextlib.contextmanager
def server_process(cmd: list[str], env: dict[str, str], ready_path: str = "/predict",
                   cpus: str | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start a server subprocess (pinned to `cpus` when given) on a free port; yield its URL and process."""
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port)}
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    # The server's log goes to a file: an unread pipe fills up and stalls a server that logs every request.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{cmd} exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                get(url + ready_path, timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd} did not answer within 60 s") from None
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], ready_path: str = "/predict") -> Iterator[str]:
    """Start a server subprocess on a free port, wait until it answers, yield its URL, then stop it."""
    with server_process(cmd, env, ready_path) as (url, _):
        yield url


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_ms(text: str) -> float:
    """Return a wrk duration (`812.5us`, `3.2ms`, `1.1s`) in ms (NaN when unreadable)."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def wrk_request(url: str, method: str, body: bytes, headers: dict[str, str], threads: int, connections: int,
                duration: int, cpus: str | None = None) -> dict[str, float]:
    """Send one request over and over with wrk (pinned to `cpus` when given); return req/s, latency, errors."""
    data = Path(tempfile.mkstemp(suffix=".body")[1])
    data.write_bytes(body)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [f'wrk.method = "{method}"', f'local f = io.open("{data}", "rb")', "wrk.body = f:read('*all')",
             "f:close()"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        script.unlink()
        data.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"requests_per_sec": rps, "requests": total, "p50_ms": wrk_ms(latency.get("50", "")),
            "p99_ms": wrk_ms(latency.get("99", "")), "errors": float(errors)}


def run_wrk(url: str, threads: int, connections: int, duration: int, form: str = FORM) -> dict[str, float]:
    """Run wrk sending GET with a form body (as the workshop's curl does); return req/s, latency and errors."""
    return wrk_request(url, "GET", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"},
                       threads, connections, duration)


class PredictionLoad:
    """Client threads posting one body in a loop until stopped; counts answers by client and keeps failures."""

    def __init__(self, url: str, body: Any, clients: int = 2) -> None:
        import threading

        self.url, self.body = url, body
        self.ok = [0] * clients
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> PredictionLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _loop(self, slot: int) -> None:
        import httpx

        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(self.url, json=self.body)
                    if response.status_code == 200:
                        self.ok[slot] += 1
                    else:
                        self.failures.append(f"HTTP {response.status_code} {response.text[:100]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")


def first_200(url: str, row: dict[str, Any], timeout: float = 300.0, poll_sec: float = 0.02) -> float:
    """POST one row to a prediction URL until it answers 200; return the monotonic time it did."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as http:
        while time.monotonic() < deadline:
            try:
                if http.post(url, json=[row]).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(poll_sec)
    raise SystemExit(f"{url} did not answer 200 within {timeout:g} s")
