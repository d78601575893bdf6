"""Test helper: a real moto SQS server (`python -m moto.server`, from the test extras) on a free loopback port.

    with moto_server() as sqs:
        url = sqs.queue("mlops-test")          # with a `-dead` queue and a redrive policy
        env = sqs.aws_env()                     # what boto3 (and datarobot-mlops) need to reach it
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bosun_local.spool.sqs.queues import ensure_queue, make_client
from tests.conftest import need
from tests.support.net import free_port


@dataclass
class MotoServer:
    """A running moto server: its endpoint, queue creation and the AWS environment for its clients."""

    endpoint: str
    process: subprocess.Popen[bytes]

    def queue(self, prefix: str = "mlops", max_receive: int = 3, visibility_timeout_sec: int = 120) -> str:
        """Create a fresh queue (and its dead-letter queue) and return its URL."""
        return ensure_queue(self.endpoint, f"{prefix}-{uuid.uuid4().hex[:8]}", max_receive, visibility_timeout_sec)

    def aws_env(self) -> dict[str, str]:
        """Return the variables that point boto3's default client (datarobot-mlops uses one) at this server."""
        return {"AWS_ENDPOINT_URL_SQS": self.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self, queue_url: str) -> object:
        """Return a boto3 client for a queue of this server."""
        return make_client(queue_url)


@contextmanager
def moto_server(log: Path | None = None) -> Iterator[MotoServer]:
    """Start the local SQS server (moto, patched: spool/sqs/local_server.py) on a free port; stop it after."""
    try:
        import moto.server  # noqa: F401 - only checks that the test extras are installed
    except ImportError as exc:
        need(False, f"moto[server] is not installed ({exc}): pip install -e '.[test]'")
        raise
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it open
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    argv = [sys.executable, "-m", "bosun_local.spool.sqs.local_server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server on port {port} did not start (exit {proc.poll()})") from None
                time.sleep(0.1)
        yield MotoServer(endpoint, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()  # type: ignore[union-attr]
