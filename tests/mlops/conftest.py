"""Fixtures of the reporting-library tests; ``rabbitmq_broker`` is importable by other test packages."""
from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.support.rabbitmq import RABBITMQ_IMAGE, RabbitMQBroker, image_available, rabbitmq_container

# Copy of ../shared/fixtures/datarobot-mlops-spool (written by datarobot-mlops 11.2.62), kept in the repo for CI.
FIXTURE_SPOOL = Path(__file__).resolve().parent / "data/datarobot-mlops-spool"


def start_rabbitmq(prefix: str) -> Iterator[RabbitMQBroker]:
    """Run a private broker container (fails under CI=true when the image is missing, skips elsewhere)."""
    need(image_available(RABBITMQ_IMAGE), f"image {RABBITMQ_IMAGE} is missing (run `bosun-local images build`)")
    with rabbitmq_container(f"{prefix}-{uuid.uuid4().hex[:8]}") as broker:
        yield broker


@pytest.fixture(scope="module")
def rabbitmq_broker(docker_engine: None) -> Iterator[RabbitMQBroker]:
    """A RabbitMQ broker for the test module, removed afterwards."""
    yield from start_rabbitmq("bosun-test-mlops")


@pytest.fixture
def queue_name() -> str:
    """A queue name no other test uses."""
    return f"mlops-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def fixture_spool(tmp_path: Path) -> Path:
    """A writable copy of the datarobot-mlops fixture spool directory."""
    target = tmp_path / "dr-spool"
    target.mkdir()
    shutil.copy(FIXTURE_SPOOL / "fs_spool.1", target / "fs_spool.1")
    return target
