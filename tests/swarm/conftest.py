"""The multi-node swarm the swarm tests share: made once for this folder, removed (nodes, volumes, network) after."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bosun_local.config import load_config
from bosun_local.contracts.rabbitmq import amqp_url
from bosun_local.engine import adapter
from tests.conftest import need
from tests.support.rabbitmq import RabbitMQBroker, rabbitmq_container
from tests.support.swarm_nodes import SwarmNodes, docker, leftovers, swarm_nodes


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


@dataclass
class SwarmBroker:
    """The environment's RabbitMQ as the swarm's tasks reach it: on the nodes' network, outside the swarm."""

    broker: RabbitMQBroker
    address: str  # host:port on the nodes' network (tasks leave their node through its NAT)
    queue: str

    @property
    def network_url(self) -> str:
        """Return the URL the management agent passes (rabbitmqNetworkUrl: the host name of the environment)."""
        return amqp_url(self.broker.user, self.broker.password, "rabbitmq", 5672)


@pytest.fixture(scope="package")
def swarm_broker(swarm: SwarmNodes) -> Iterator[SwarmBroker]:
    """Yield a broker container of the host engine, joined to the swarm nodes' network (as a broker on another host)."""
    with rabbitmq_container() as broker:
        docker("network", "connect", swarm.name, broker.name)
        address = docker("inspect", "--format", f"{{{{(index .NetworkSettings.Networks \"{swarm.name}\").IPAddress}}}}",
                         broker.name)
        yield SwarmBroker(broker, f"{address}:5672", "bosun-swarm-pps")
