"""Fixtures of the monitoring-agent tests: a service and moto server (tests/support/monitoring.py), a broker."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.mlops.conftest import start_rabbitmq
from tests.support.monitoring import aws, service, sqs
from tests.support.rabbitmq import RabbitMQBroker

__all__ = ["aws", "service", "sqs"]


@pytest.fixture(scope="package")
def broker(docker_engine: None) -> Iterator[RabbitMQBroker]:
    """A RabbitMQ broker container shared by the monitoring tests (each test uses its own queue)."""
    yield from start_rabbitmq("bosun-test-monitoring")


@pytest.fixture
def queue_name() -> str:
    """A queue no other test uses."""
    return f"mlops-mon-{uuid.uuid4().hex[:8]}"
