"""The prediction servers' healthcheck test, run in the runtime image against a real HTTP server in the container."""
from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from bosun_local.config import load_defaults
from bosun_local.contracts.liveness import DRAIN_FILE, http_probe_test

pytestmark = pytest.mark.docker

STEADY_SEC = 5
# Answers GET /health with 200, or 503 while /tmp/sick exists.
SERVER = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == '/health' and not os.path.exists('/tmp/sick') else 503)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', 8080), H).serve_forever()
"""


@pytest.fixture
def container(stack_images: None) -> Iterator[str]:
    name = f"bprobe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp",
                    load_defaults()["agentImage"], "sleep", "300"], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def probe(container: str) -> tuple[bool, float]:
    """Run the test once as Docker would; return whether it passed and how long it took."""
    started = time.monotonic()
    done = subprocess.run(["docker", "exec", container, *http_probe_test(8080, STEADY_SEC)[1:]], capture_output=True)
    return done.returncode == 0, time.monotonic() - started


def sh(container: str, script: str) -> None:
    subprocess.run(["docker", "exec", container, "sh", "-c", script], check=True, capture_output=True)


def test_the_first_probe_passes_as_soon_as_the_server_answers(container: str) -> None:
    first = subprocess.Popen(["docker", "exec", container, *http_probe_test(8080, STEADY_SEC)[1:]])
    time.sleep(1.5)  # the probe keeps asking meanwhile
    started = time.monotonic()
    subprocess.run(["docker", "exec", "-d", container, "python", "-c", SERVER], check=True)
    assert first.wait(STEADY_SEC + 5) == 0
    assert time.monotonic() - started < STEADY_SEC  # it passed on the server's first answer, not at its deadline


def test_fast_until_healthy_then_one_probe_per_steady_period(container: str) -> None:
    passed, took = probe(container)
    assert not passed and took >= STEADY_SEC - 1  # nothing listens: it kept asking until its first-wait ended
    assert probe(container)[0] is False  # that failure left a mark: one quick try per probe from now on
    subprocess.run(["docker", "exec", "-d", container, "python", "-c", SERVER], check=True)
    passed, took = False, 0.0
    for _ in range(50):
        passed, took = probe(container)
        if passed:
            break
        time.sleep(0.2)
    assert passed and took < STEADY_SEC  # the first pass does not wait
    passed, took = probe(container)
    assert passed and took >= STEADY_SEC  # healthy: the next probe waits on an idle connection first
    sh(container, "touch /tmp/sick")
    passed, took = probe(container)
    assert not passed and took >= STEADY_SEC
    passed, took = probe(container)
    assert not passed and took < STEADY_SEC  # a failure clears the mark: fast probes again
    sh(container, "rm /tmp/sick")
    passed, took = probe(container)
    assert passed and took < STEADY_SEC


def test_a_drain_fails_the_probe_within_a_second_even_mid_wait(container: str) -> None:
    subprocess.run(["docker", "exec", "-d", container, "python", "-c", SERVER], check=True)
    for _ in range(50):
        if probe(container)[0]:
            break
        time.sleep(0.2)
    drain = subprocess.Popen(["sh", "-c", f"sleep 1; docker exec {container} touch {DRAIN_FILE}"])
    passed, took = probe(container)
    drain.wait(30)
    assert not passed and took < STEADY_SEC
    passed, took = probe(container)
    assert not passed and took < 1.5
