"""Helpers shared by the PPS benches: the diabetes package, server subprocesses and wrk runs."""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, for tests.support
from tests.support.net import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
FORM = "age=30&sex=1&bmi=23&bp=100&s1=157&s2=70&s3=40&s4=4&s5=3&s6=88"


def build_diabetes_package() -> Path:
    """Train the workshop model (LinearRegression on the unscaled diabetes frame) into a temp package dir."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    data = load_diabetes(as_frame=True, scaled=False)
    directory = Path(tempfile.mkdtemp(prefix="bench-diabetes-"))
    (directory / "model.pkl").write_bytes(pickle.dumps(LinearRegression().fit(data.data, data.target)))
    (directory / "model.yaml").write_text(yaml.safe_dump({
        "name": "diabetes", "targetName": "y", "targetType": "regression",
        "features": [{"name": n, "type": "numeric"} for n in FEATURES]}))
    return directory


def get(url: str, timeout: float = 5.0, form: str | None = FORM) -> str:
    """Return the body of a GET carrying a form body, as `curl -XGET -d ...` sends it."""
    data = form.encode() if form else None
    request = urllib.request.Request(url, data=data, method="GET",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return resp.read().decode()


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], ready_path: str = "/predict") -> Iterator[str]:
    """Start a server subprocess on a free port, wait until it answers, yield its URL, then stop it."""
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port)}
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
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def run_wrk(url: str, threads: int, connections: int, duration: int, form: str = FORM) -> dict[str, float]:
    """Run wrk sending GET with a form body (as the workshop's curl does); return req/s, latency and errors."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f'wrk.method = "GET"\nwrk.body = "{form}"\n'
                      'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                              "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    finally:
        script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"requests_per_sec": rps, "p50_ms": _ms(latency.get("50", "")), "p99_ms": _ms(latency.get("99", "")),
            "errors": float(errors)}


def write_results(name: str, doc: dict[str, object]) -> Path:
    """Write a bench's figures as JSON under bench/results/ (gitignored) and say where."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(doc, indent=2))
    print(f"results written to {path.relative_to(ROOT)}")
    return path
