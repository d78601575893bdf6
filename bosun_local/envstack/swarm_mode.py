"""`bosun-local swarm up|down|status`: the environment's edge on a swarm, and the swarm itself only if we made it.

Switching an engine into swarm mode and back was seen to break name resolution on the bridge networks of the
Compose stacks already on it (ENVIRONMENT.md), so `up` says what it will change before changing it, and `down`
leaves a swarm only when a marker in the data dir shows bosun-local created it on this very node.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bosun_local.agent.plugin_facts import plugin_facts
from bosun_local.config import Config, write_private
from bosun_local.engine.swarm import SwarmEngine
from bosun_local.errors import BosunError
from bosun_local.plugins.framework.action_status import ActionStatus
from bosun_local.plugins.swarm import SwarmPlugin

MARKER = "swarm-created.json"

# What `swarm up` puts on the swarm and what stays where it was (docs/platforms.md explains why).
WHERE = {
    "traefik": "the swarm: stack <projectName>-traefik on a manager node (swarm provider)",
    "deployments": "the swarm, through the swarm plugin: a stack per dedicated deployment, one pool stack for shared",
    "service, RabbitMQ, management and monitoring agents": "this engine's Compose environment stack (`bosun-local up`)",
}


@dataclass(frozen=True)
class SwarmPlan:
    """What `swarm up` will change on one engine, in the words shown to the user."""

    init: bool
    changes: list[str]


def _marker(config: Config) -> Path:
    return config.data_dir / MARKER


def plugin_config(config: Config, host: str | None, port: int) -> dict[str, Any]:
    """Return the swarm plugin's pluginConfig for this data dir's environment."""
    return {**plugin_facts(config), "swarmDockerHost": host or "", "swarmTraefikPort": port,
            "dockerNetwork": config["dockerNetwork"], "traefikImage": config["traefikImage"],
            "outfacingPredictionURLPrefix": config["outfacingPredictionURLPrefix"], "monitoringEnabled": False}


def plan(config: Config, engine: SwarmEngine, advertise_addr: str, port: int) -> SwarmPlan:
    """Return what `up` would change; raise when the engine is a swarm worker (stacks are deployed on managers)."""
    info = engine.swarm_info()
    state = str(info.get("LocalNodeState") or "inactive")
    changes = []
    if state == "inactive":
        changes.append(f"run `docker swarm init --advertise-addr {advertise_addr}` on {engine.where}: it becomes a "
                       "single-node swarm manager; Compose stacks already on it may lose name resolution on their "
                       "networks until they are recreated (ENVIRONMENT.md)")
    elif not info.get("ControlAvailable"):
        raise BosunError(f"{engine.where} is a worker of a swarm ({state}); stacks can only be deployed on a manager",
                         fix="pass --host with a manager's engine (`docker node ls` on a manager lists them)")
    else:
        changes.append(f"use the swarm {engine.where} already manages (cluster "
                       f"{(info.get('Cluster') or {}).get('ID', '?')}); `swarm down` will not leave it")
    network = str(config["dockerNetwork"])
    if state == "inactive" or not engine.network_exists(network):
        changes.append(f"create the attachable overlay network {network}")
    changes.append(f"deploy traefik (swarm provider) as stack {config['projectName']}-traefik, publishing port "
                   f"{port} on a manager node")
    return SwarmPlan(state == "inactive", changes)


def up(config: Config, engine: SwarmEngine, advertise_addr: str, port: int) -> dict[str, Any]:
    """Make the swarm when there is none (recording that we did), then its network and traefik; return the status."""
    if plan(config, engine, advertise_addr, port).init:
        node_id = engine.init(advertise_addr)
        cluster = (engine.swarm_info().get("Cluster") or {}).get("ID", "")
        write_private(_marker(config), json.dumps({"nodeId": node_id, "clusterId": cluster,
                                                   "host": engine.host or "local"}))
    status = SwarmPlugin(plugin_config(config, engine.host, port)).plugin_start()
    if status.status == ActionStatus.ERROR:
        raise BosunError(f"the swarm plugin could not start: {status.msg}",
                         fix="read the message; `bosun-local swarm status` shows the nodes")
    return {"status": status.status, "msg": status.msg, **(status.data or {}), "where": WHERE}


def down(config: Config, engine: SwarmEngine) -> list[str]:
    """Remove traefik's stack; leave the swarm only if bosun-local created it on this node. Return what was done."""
    done = []
    stack = f"{config['projectName']}-traefik"
    if engine.is_manager() and stack in engine.stacks():
        engine.remove_stack(stack)
        done.append(f"removed stack {stack}")
    marker = _marker(config)
    ours = json.loads(marker.read_text()) if marker.exists() else {}
    node_id = str(engine.swarm_info().get("NodeID") or "")
    if ours and ours.get("nodeId") == node_id:
        engine.leave(force=True)
        marker.unlink()
        done.append(f"left the swarm bosun-local created on {engine.where} (node {node_id})")
    elif node_id:
        why = f"its marker names node {ours.get('nodeId')}" if ours else f"no marker in {marker}"
        done.append(f"left the swarm of {engine.where} alone: bosun-local did not create it ({why})")
    return done
