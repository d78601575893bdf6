"""The fault suite (`make faults`): one environment stack shared by every fault, each test breaking one part.

Package-scoped: the stack goes down once the folder's tests are done, not at the end of the whole run, where its
healthchecks kept costing every later test CPU for half an hour.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.packages import diabetes_package
from tests.conftest import need
from tests.support.stack import WholeStack, unique, whole_stack

# Big enough for the service's database, packages and logs of the suite; small enough to fill in a blink.
TMPFS_MB = 160


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `faults` (other folders mark their own fault tests)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="package")
def stack(stack_images: None) -> Iterator[WholeStack]:
    """The suite's stack (root only: its data dir is a tmpfs the disk-full fault fills)."""
    need(os.geteuid() == 0, "the fault suite mounts a tmpfs as the data dir: run it as root (CI does)")
    with whole_stack("bfault", tmpfs_mb=TMPFS_MB) as running:
        yield running


@pytest.fixture(scope="package")
def packages(stack: WholeStack, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Register two different models (linear, ridge) once for the suite; return their package ids."""
    root = tmp_path_factory.mktemp("fault-packages")
    linear = stack.cli_json("packages", "register", str(diabetes_package(root / "linear")))["id"]
    ridge = stack.cli_json("packages", "register", str(diabetes_package(root / "ridge", alpha=10.0)))["id"]
    return str(linear), str(ridge)


@pytest.fixture(scope="package")
def serving(stack: WholeStack, packages: tuple[str, str]) -> str:
    """Start one deployment of the linear model for the faults that break a serving one; return its id."""
    with stack.client() as client:
        answer = client.create_deployment(packages[0], unique("serving"))
        client.wait_for_action(answer["action"]["id"], timeout=180)
    return str(answer["deployment"]["id"])
