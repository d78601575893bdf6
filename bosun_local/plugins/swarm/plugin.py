"""The swarm plugin: each deployment a swarm stack (the docker plugin's values + replicas, rolling start-first)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from bosun_local.config import load_defaults
from bosun_local.contracts import labels
from bosun_local.engine.swarm import NodeInfo, SwarmEngine
from bosun_local.errors import BosunError
from bosun_local.plugins.deployment_values import prediction_url
from bosun_local.plugins.docker.environment import traefik_component, traefik_problem
from bosun_local.plugins.docker.shared import DEDICATED, SHARED, SharedServing, serving_mode
from bosun_local.plugins.docker.stack import model_service
from bosun_local.plugins.docker.waits import TraefikWaits
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.swarm.pool import SwarmPool
from bosun_local.plugins.swarm.stack import (
    SwarmDeployment,
    edge_stack_file,
    placement,
    replicas_of,
    respread,
    serving_nodes,
    task_broker_url,
)

# Keys meaning what they mean for the docker plugin (defaults from defaults.yml, never restated).
SHARED_KEYS = ("dockerNetwork", "traefikImage", "outfacingPredictionURLPrefix", "ppsBaseImage", "containerNamePrefix",
               "monitoringEnabled", "rabbitmqQueueName", "traefikUrl", "projectName")
OWN_SETTINGS: dict[str, Any] = {
    # A swarm manager's engine (tcp://HOST:2375, ssh://...); "" = the local engine (DOCKER_HOST).
    "swarmDockerHost": "",
    # Tasks per deployment, spread over the nodes (keyValueConfig `replicas` overrides it; the k8s plugin's key).
    "ppsReplicas": 2,
    # keyValueConfig `serving: shared` puts a deployment in the pool (one service of poolReplicas tasks serving
    # every shared deployment's dir); dedicated (one service per deployment) is the default here.
    "servingMode": DEDICATED,
    "poolReplicas": 2,
    "poolMemory": "1g",
    "poolCpus": "",
    "poolWorkers": 1,
    # plugin_start deploys traefik (swarm provider) on a manager, publishing swarmTraefikPort on that node.
    "swarmTraefik": True,
    "swarmTraefikPort": 80,
    # host:port at which tasks on every node reach the environment's RabbitMQ (the login stays rabbitmqNetworkUrl's).
    # "" = rabbitmqNetworkUrl as it is, whose host (`rabbitmq` on the environment's network) resolves only where
    # the broker's own network does: set this when tasks run on other hosts.
    "swarmRabbitmqAddress": "",
    "startTimeoutSec": 180,
    "routeTimeoutSec": 30,
    "gracefulTimeoutSec": 30,
    "retryAttempts": 5,
    # Facts the management agent passes (docs/plugins.md); model packages must be under a directory every node
    # mounts at the same path.
    K.STACKS_DIR_KEY: "",
    K.RUN_AS_USER_KEY: "",
    K.RABBITMQ_NETWORK_URL_KEY: "",
}


def _defaults() -> dict[str, Any]:
    shared = load_defaults()
    return {**{key: shared[key] for key in SHARED_KEYS}, **OWN_SETTINGS}


class SwarmPlugin(TraefikWaits, BosunPluginBase):
    """Run each deployment as a replicated swarm service, routed by traefik's swarm provider."""

    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = _defaults()

    def __init__(self, plugin_config: dict[str, Any] | None, private_config_file: str | None = None,
                 pe_info: dict[str, Any] | None = None, dry_run: bool = False) -> None:
        super().__init__(plugin_config, private_config_file, pe_info, dry_run)
        self.s = self.settings()
        self.engine = SwarmEngine(str(self.s["swarmDockerHost"]) or None)
        self.traefik_url = str(self.s["traefikUrl"] or self.s["outfacingPredictionURLPrefix"]).rstrip("/")

    # -- helpers ---------------------------------------------------------------------------------

    def _fact(self, key: str) -> str:
        value = str(self.s[key])
        if not value:
            raise BosunError(f"pluginConfig.{key} of the swarm plugin is not set",
                             fix=f"the management agent passes it; when running the plugin by hand add {key} to "
                                 "pluginConfig (docs/plugins.md lists the keys)")
        return value

    def _monitoring(self) -> dict[str, str] | None:
        if not self.s["monitoringEnabled"]:
            return None
        url = task_broker_url(self._fact(K.RABBITMQ_NETWORK_URL_KEY), str(self.s["swarmRabbitmqAddress"]))
        return {"queueUrl": url, "queueName": str(self.s["rabbitmqQueueName"])}

    def stack(self, deployment_id: str) -> SwarmDeployment:
        """Return the swarm stack object of one deployment."""
        return SwarmDeployment(deployment_id, self.s, Path(self._fact(K.STACKS_DIR_KEY)),
                               self._fact(K.RUN_AS_USER_KEY), self._monitoring(), self.engine)

    def shared(self) -> SharedServing:
        """Return the shared-serving actions (the docker plugin's) on this environment's swarm pool."""
        return SharedServing(self, SwarmPool(self.s, Path(self._fact(K.STACKS_DIR_KEY)), self._fact(K.RUN_AS_USER_KEY),
                                             self._monitoring(), self.engine))

    def mode(self, di: DeploymentInfo) -> str:
        """Return how the deployment is to be served: shared or dedicated."""
        return serving_mode(di.kv_config, str(self.s["servingMode"]), di.id)

    def _data(self, deployment_id: str, model_id: str, **extra: Any) -> dict[str, Any]:
        return {ActionDataFields.PREDICTION_URL: self.prediction_url(deployment_id),
                ActionDataFields.CURRENT_MODEL_ID: model_id, **extra}

    def prediction_url(self, deployment_id: str) -> str:
        """Return the URL clients send predictions to."""
        return prediction_url(str(self.s["outfacingPredictionURLPrefix"]), deployment_id)

    def _check_swarm(self) -> list[NodeInfo]:
        """Return the swarm's nodes; raise naming the engine when it is not a swarm manager."""
        if not self.engine.is_manager():
            raise BosunError(f"{self.engine.where} is not a manager of an active swarm",
                             fix="set swarmDockerHost to a manager's engine, or `docker swarm init` there "
                                 "(`bosun-local up --swarm` does it on a single host)")
        return self.engine.nodes()

    def _status_data(self, deployment: SwarmDeployment, model_id: str, nodes: list[NodeInfo]) -> dict[str, Any]:
        return {ActionDataFields.PREDICTION_URL: self.prediction_url(deployment.deployment_id),
                ActionDataFields.CURRENT_MODEL_ID: model_id, "stackFile": str(deployment.compose_file),
                "tasks": placement(deployment.tasks(), nodes)}

    # -- environment actions ---------------------------------------------------------------------

    def plugin_start(self) -> ActionStatusInfo:
        try:
            nodes = self._check_swarm()
            network = str(self.s["dockerNetwork"])
            if not self.engine.network_exists(network):
                self.engine.create_overlay(network, {labels.NETWORK: network})
            if self.s["swarmTraefik"]:
                stacks_dir = Path(self._fact(K.STACKS_DIR_KEY))
                self.engine.deploy_stack(f"{self.s['projectName']}-traefik", edge_stack_file(self.s, stacks_dir))
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=exc.one_line())
        deadline = time.monotonic() + float(self.s["startTimeoutSec"])
        while (problem := traefik_problem(self.traefik_url)) and time.monotonic() < deadline:
            time.sleep(0.5)
        data = {"nodes": [n.to_dict() for n in nodes]}
        if problem:
            return ActionStatusInfo(ActionStatus.WARN, msg=problem, data=data)
        return ActionStatusInfo(ActionStatus.OK, data=data,
                                msg=f"swarm of {len(nodes)} nodes ({self.engine.where}), overlay network "
                                    f"{self.s['dockerNetwork']} and traefik on {self.traefik_url} are ready")

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, msg="swarm plugin stopped; deployments keep running")

    def _deployment_ids(self) -> list[str]:
        """Return the ids of this environment's deployments that have a service on the swarm."""
        services = self.engine.services({labels.NETWORK: str(self.s["dockerNetwork"])})
        pooled = self.shared().pool.deployment_ids() if self.s[K.STACKS_DIR_KEY] and self.s[K.RUN_AS_USER_KEY] else []
        return sorted({str(s["Spec"]["Labels"][labels.DEPLOYMENT]) for s in services
                       if labels.DEPLOYMENT in (s["Spec"].get("Labels") or {})} | set(pooled))

    def deployment_list(self) -> ActionStatusInfo:
        nodes = self.engine.nodes()
        data = {dep_id: self._judge(dep_id, None, nodes).to_dict() for dep_id in self._deployment_ids()}
        return ActionStatusInfo(ActionStatus.OK, msg=f"{len(data)} deployments have a swarm service", data=data)

    def pe_status(self) -> ActionStatusInfo:
        try:
            nodes = self._check_swarm()
            ids = self.pe_info.deployment_ids if self.pe_info and self.pe_info.deployment_ids is not None \
                else self._deployment_ids()
            statuses = {dep_id: self._judge(dep_id, None, nodes).to_dict() for dep_id in ids}
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"cannot read the swarm: {exc.one_line()}",
                                    data={"engine": exc.message})
        traefik = traefik_problem(self.traefik_url)
        down = [n.hostname for n in nodes if n.state != "ready"]
        pool = self.shared().pool if self.s[K.STACKS_DIR_KEY] and self.s[K.RUN_AS_USER_KEY] else None
        data: dict[str, Any] = {ActionDataFields.DEPLOYMENTS_STATUS: statuses, "platform": "swarm",
                                "nodes": [n.to_dict() for n in nodes], "traefik": traefik or "ok",
                                "pool": placement(pool.tasks(), nodes) if isinstance(pool, SwarmPool) else [],
                                "components": {"traefik": traefik_component(self.traefik_url, traefik)}}
        if traefik:
            return ActionStatusInfo(ActionStatus.ERROR, msg=traefik, data=data)
        if down:
            return ActionStatusInfo(ActionStatus.WARN, data=data,
                                    msg=f"swarm nodes {', '.join(down)} are not ready; their tasks are rescheduled")
        return ActionStatusInfo(ActionStatus.OK, data=data,
                                msg=f"{len(nodes)} swarm nodes ready; {len(statuses)} deployments checked")

    # -- deployment actions ----------------------------------------------------------------------

    def _judge(self, deployment_id: str, expected_model: str | None, nodes: list[NodeInfo]) -> ActionStatusInfo:
        """Return a deployment's status from its service's tasks: ready while one task of it runs healthy."""
        deployment = self.stack(deployment_id)
        service = deployment.service()
        data: dict[str, Any] = {ActionDataFields.PREDICTION_URL: self.prediction_url(deployment_id)}
        if not service and self.shared().pool.has(deployment_id):
            return self.shared().status(deployment_id, expected_model)
        if not service:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED, data=data,
                                    msg=f"deployment {deployment_id} has no swarm service")
        tasks = deployment.tasks(service)
        data["tasks"] = placement(tasks, nodes)
        model = str((service["Spec"].get("Labels") or {}).get(labels.MODEL, ""))
        data[ActionDataFields.CURRENT_MODEL_ID] = model
        wanted = int(((service["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)
        running = [t for t in tasks if t.running]
        update = str((service.get("UpdateStatus") or {}).get("State") or "")
        where = serving_nodes(data["tasks"])
        if running and update == "updating":
            return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.REPLACING_MODEL, data=data,
                                    msg=f"deployment {deployment_id}: {len(running)} tasks serve while swarm updates")
        if running and expected_model and model != expected_model:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id} serves model {model}, expected {expected_model}")
        if len(running) >= wanted > 0:
            return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id}: {len(running)}/{wanted} tasks run on {where}")
        if running:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id}: {len(running)}/{wanted} tasks run (on {where})")
        errors = [t.error for t in tasks if t.error]
        if errors:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, data=data,
                                    msg=f"deployment {deployment_id} has no running task: {errors[-1]}")
        return ActionStatusInfo(ActionStatus.UNKNOWN, state=DeploymentState.LAUNCHING, data=data,
                                msg=f"deployment {deployment_id}: its tasks are starting")

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self._judge(deployment_info.id, deployment_info.current_model_id, self.engine.nodes())

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self._serve(deployment_info, "start")

    def deployment_relaunch(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Deploy the current model again and restart every task (heals a service stuck with bad tasks)."""
        return self._serve(deployment_info, "relaunch")

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Update the service to the new model (start-first), or swap the deployment's dir in the pool."""
        return self._serve(deployment_info, "replace")

    def _serve(self, di: DeploymentInfo, verb: str) -> ActionStatusInfo:
        """Serve in the deployment's mode; once it serves there, remove what served it in the other mode."""
        try:
            mode = self.mode(di)
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, msg=exc.one_line())
        if mode == DEDICATED or self.dry_run:
            status = self._roll(di, verb)
            if status.status == ActionStatus.OK and not self.dry_run and self.shared().pool.has(di.id):
                self.shared().stop(di.id)  # its own service answers now (its router outranks the pool's)
            return status
        shared = self.shared()
        if verb == "replace" and shared.pool.has(di.id):
            return shared.replace(di)
        status = shared.start(di, verb)
        if status.status == ActionStatus.OK and self.stack(di.id).service():
            # It moved in from its own service: the pool's catch-all takes the path once that router is gone.
            self.stack(di.id).remove(timeout=float(self.s["gracefulTimeoutSec"]) + 10)
            status.msg = f"{status.msg} (its dedicated service was removed: {SHARED} now)"
        if verb == "replace":
            status.data = {**(status.data or {}), ActionDataFields.OLD_MODEL_IN_USE: status.status != ActionStatus.OK}
        return status

    def _roll(self, di: DeploymentInfo, verb: str) -> ActionStatusInfo:
        """Render the stack for the current model, deploy it and wait until every replica of it runs and is routed."""
        try:
            model = model_service(di.id, di.current_model_id, di.model_artifact, di.kv_config)
            replicas = replicas_of(di.kv_config, int(self.s["ppsReplicas"]), di.id)
            deployment = self.stack(di.id)
            if self.dry_run:
                return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would {verb} stack {deployment.name} with "
                                                             f"model {model.model_id} x{replicas}")
            nodes = self._check_swarm()
            before = deployment.service()
            old = str(((before or {}).get("Spec", {}).get("Labels") or {}).get(labels.MODEL, "")) or None
            deployment.render(model, replicas)
            deployment.deploy()
            if verb == "relaunch" and before:
                self.engine.force_update(str(before["Spec"]["Name"]))
            problem = deployment.wait_converged(model.model_id, replicas, float(self.s["startTimeoutSec"]))
            moved = None
            if not problem:
                moved = respread(self.engine, f"{deployment.name}_pps", deployment.tasks, replicas, nodes,
                                 float(self.s["startTimeoutSec"]))
                problem = self.wait_routed(di.id, model.model_id)
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                    msg=f"deployment {di.id}: {verb} of model {di.current_model_id} failed: "
                                        f"{exc.one_line()}")
        data = self._status_data(deployment, model.model_id, nodes)
        if problem:
            serving = old if verb == "replace" and old else model.model_id
            data[ActionDataFields.OLD_MODEL_IN_USE] = bool(verb == "replace" and old)
            logs = self.engine.service_logs(f"{deployment.name}_pps", tail=10).strip()
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY if old else DeploymentState.ERROR,
                                    data={**data, ActionDataFields.CURRENT_MODEL_ID: serving},
                                    msg=f"deployment {di.id}: {verb} of model {model.model_id} failed: {problem}"
                                        + (f"\nlast log lines:\n{logs}" if logs else ""))
        if verb == "replace":
            data[ActionDataFields.OLD_MODEL_IN_USE] = False
        where = serving_nodes(data["tasks"])
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                msg=f"deployment {di.id} {verb}: model {model.model_id} runs {replicas} tasks on "
                                    f"{where} and answers on {self.prediction_url(di.id)}"
                                    + (f" ({moved})" if moved else ""))

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        deployment = self.stack(deployment_id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would remove stack {deployment.name}")
        try:
            if self.shared().stop(deployment_id) and not deployment.service():
                return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED,
                                        msg=f"removed deployment {deployment_id} from the shared pool")
            removed = deployment.remove(timeout=float(self.s["gracefulTimeoutSec"]) + 10)
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"deployment {deployment_id}: {exc.one_line()}")
        self.wait_unrouted(deployment_id)
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED,
                                msg=f"removed stack {deployment.name}" if removed
                                else f"deployment {deployment_id} had no swarm service; nothing to remove")
