"""Test helper: a throwaway RabbitMQ broker container from the project's image, on a free loopback port.

    with rabbitmq_container("mlops-test-123") as broker:
        mlops.set_rabbitmq_spooler(broker.url, "mlops")
        broker.stop(); broker.start()      # a broker outage, same port, durable data kept
"""
from __future__ import annotations

import logging
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pika
import pika.exceptions

from bosun_local.contracts.rabbitmq import amqp_url
from bosun_local.errors import BosunError
from bosun_local.spool.rabbitmq.writer import connection_parameters
from tests.support.net import free_port

RABBITMQ_IMAGE = "bosun-local/rabbitmq:3"
_DOCKER_TIMEOUT_SEC = 120


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=_DOCKER_TIMEOUT_SEC)
    if check and result.returncode != 0:
        raise BosunError(f"docker {' '.join(args[:2])} failed: {result.stderr.strip()}", fix="check `docker info`")
    return result


def image_available(image: str = RABBITMQ_IMAGE) -> bool:
    """Return True when the Docker engine answers and has the image."""
    try:
        return _docker("image", "inspect", image, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class RabbitMQBroker:
    """A running broker container: its AMQP URL and stop/start for outage tests."""

    name: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        """Return the amqp:// URL of the broker's default vhost."""
        return amqp_url(self.user, self.password, "127.0.0.1", self.port)

    def wait_ready(self, timeout_sec: float = 60.0) -> None:
        """Wait until an AMQP connection succeeds; raise BosunError with the container log on timeout."""
        deadline = time.monotonic() + timeout_sec
        last: Exception | None = None
        pika_log = logging.getLogger("pika")
        level = pika_log.level
        pika_log.setLevel(logging.CRITICAL)  # each refused attempt of a booting broker logs a traceback
        try:
            while time.monotonic() < deadline:
                try:
                    pika.BlockingConnection(connection_parameters(self.url, 2.0)).close()
                    return
                except (pika.exceptions.AMQPError, OSError) as exc:
                    last = exc
                    time.sleep(0.3)
        finally:
            pika_log.setLevel(level)
        logs = _docker("logs", "--tail", "30", self.name, check=False)
        raise BosunError(
            f"RabbitMQ container {self.name} not ready after {timeout_sec:.0f} s ({last!r}):\n"
            f"{logs.stdout}{logs.stderr}",
            fix=f"check the image {RABBITMQ_IMAGE} (`bosun-local images build`)",
        )

    def stop(self) -> None:
        """Stop the broker (a clean outage; durable queues and persistent messages are kept)."""
        _docker("stop", "-t", "10", self.name)

    def kill(self) -> None:
        """Kill the broker process abruptly."""
        _docker("kill", self.name)

    def start(self, wait: bool = True) -> None:
        """Start the stopped broker again on the same port."""
        _docker("start", self.name)
        if wait:
            self.wait_ready()


@contextmanager
def rabbitmq_container(name: str | None = None, image: str = RABBITMQ_IMAGE) -> Iterator[RabbitMQBroker]:
    """Run a broker container on a free 127.0.0.1 port for the with-block, then remove it."""
    name = name or f"bosun-test-rabbitmq-{secrets.token_hex(4)}"
    broker = RabbitMQBroker(name=name, port=free_port(), user="bosun", password=secrets.token_hex(8))
    _docker(
        "run", "-d", "--name", name,
        "--label", "io.bosun-local.test=mlops",
        "-e", f"RABBITMQ_DEFAULT_USER={broker.user}",
        "-e", f"RABBITMQ_DEFAULT_PASS={broker.password}",
        "-p", f"127.0.0.1:{broker.port}:5672",
        image,
    )
    try:
        broker.wait_ready()
        yield broker
    finally:
        _docker("rm", "-f", "-v", name, check=False)
