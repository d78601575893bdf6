"""The swarm the tests make: a manager and a worker, each its own engine, with the images loaded, the host apart."""
from __future__ import annotations

from bosun_local.engine.swarm import SwarmEngine
from tests.support.swarm_nodes import SwarmNodes


def test_the_swarm_has_a_manager_and_a_worker_each_its_own_engine(swarm: SwarmNodes, swarm_images: list[str]) -> None:
    nodes = swarm.manager.engine().nodes()
    assert [(n.role, n.state, n.availability) for n in nodes] == [("manager", "ready", "active"),
                                                                  ("worker", "ready", "active")]
    assert [n.hostname for n in nodes] == [swarm.manager.hostname, swarm.workers[0].hostname]
    infos = [node.engine().swarm_info() for node in swarm.nodes]
    assert [i["LocalNodeState"] for i in infos] == ["active", "active"]
    assert [bool(i["ControlAvailable"]) for i in infos] == [True, False]
    assert len({i["NodeID"] for i in infos}) == 2
    assert all(node.engine().image_exists(image) for node in swarm.nodes for image in swarm_images)
    # The engine running everybody's Compose stacks stays out of swarm mode.
    assert SwarmEngine().swarm_info()["LocalNodeState"] == "inactive"
