"""The multi-node swarm the swarm tests share: made once for this folder, removed (nodes, volumes, network) after."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from bosun_local.config import load_config
from bosun_local.engine import adapter
from tests.conftest import need
from tests.support.swarm_nodes import SwarmNodes, leftovers, swarm_nodes


@pytest.fixture(scope="session")
def swarm_images(docker_engine: None) -> list[str]:
    """Return the images every node needs (the PPS's and traefik's), failing under CI when one is missing."""
    config = load_config()
    images = [str(config["ppsBaseImage"]), str(config["traefikImage"])]
    for image in images:
        need(adapter.image_exists(image), f"image {image} is missing (run `bosun-local images build`)")
    return images


@pytest.fixture(scope="package")
def swarm(swarm_images: list[str]) -> Iterator[SwarmNodes]:
    """Yield a swarm of a manager and a worker, each its own engine, with the images loaded.

    Package scope: the nodes (two engines holding the 1.5 GB runtime image) go when this folder is done, not at the
    end of the whole run. The CLI test runs first (file order); the e2e test then kills the worker.
    """
    with swarm_nodes("bosun-swarm", swarm_images) as nodes:
        name = nodes.name
        yield nodes
    assert leftovers(name) == [], f"swarm {name} left containers, volumes or networks behind"
