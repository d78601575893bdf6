"""The docker plugin: one Compose project per deployment behind traefik, blue/green model replacement."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from bosun_local.config import load_defaults
from bosun_local.contracts.rabbitmq import PPS_EXCHANGE
from bosun_local.engine import adapter
from bosun_local.errors import BosunError
from bosun_local.plugins.deployment_values import prediction_url
from bosun_local.plugins.docker.broker_users import pool_url, pps_url
from bosun_local.plugins.docker.environment import (
    monitoring_scale,
    rabbitmq_component,
    rabbitmq_problem,
    relaunch_killed_components,
    traefik_component,
    traefik_problem,
)
from bosun_local.plugins.docker.pool import SharedPool, pool_name
from bosun_local.plugins.docker.replace import replace_model
from bosun_local.plugins.docker.replicas import replica_count, replicas_of, retire, scale, settling, wanted_replicas
from bosun_local.plugins.docker.shared import SHARED, SharedServing, serving_mode, sides_refusal
from bosun_local.plugins.docker.stack import (
    CHAMPION,
    DEPLOYMENT_LABEL,
    MODEL_LABEL,
    NETWORK_LABEL,
    DeploymentStack,
    ModelService,
    is_champion,
    model_service,
    replica_of,
    running_model,
)
from bosun_local.plugins.docker.status import judge_deployment
from bosun_local.plugins.docker.traffic import routes_file, unpin, update_traffic
from bosun_local.plugins.docker.waits import TraefikWaits
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo

# Keys the docker plugin shares with the bosun-local config (the seed's plugin.docker.conf.yaml keys and what this
# implementation adds): their defaults are defaults.yml's, read here, never restated.
SHARED_KEYS = ("dockerNetwork", "traefikImage", "outfacingPredictionURLPrefix", "agentImage", "rabbitmqImage",
               "ppsBaseImage", "generatedImagePrefix", "containerNamePrefix", "traefikPortMapping",
               "rabbitmqPortMapping", "monitoringEnabled", "rabbitmqQueueName", "traefikUrl", "projectName",
               "servingMode")
# Settings of this plugin alone.
OWN_SETTINGS: dict[str, Any] = {
    "startTimeoutSec": 120,
    "routeTimeoutSec": 30,
    "gracefulTimeoutSec": 30,
    "retryAttempts": 5,
    # Seconds between a healthy PPS container's healthcheck probes (until its first pass, and after a failure,
    # they come every 0.5 s, 1 s in the pool). Each probe is an exec costing ~20 ms of CPU; a hung PPS turns
    # unhealthy (and is relaunched) about this much later than a faster probe would see it.
    "probeSteadySec": 30,
    # Containers per dedicated deployment's champion (keyValueConfig `replicas` overrides it; the swarm and k8s
    # plugins' key). traefik balances over the healthy ones.
    "ppsReplicas": 1,
    # The shared PPS pool (servingMode shared): replicas, and each replica's limits and uvicorn workers.
    "poolReplicas": 2,
    "poolMemory": "1g",
    "poolCpus": "",
    "poolWorkers": 1,
    # Facts of the host the management agent passes in pluginConfig (docs/plugins.md); set them when running
    # the plugin by hand. Where each deployment's compose project is written:
    K.STACKS_DIR_KEY: "",
    # Where traefik's file provider reads per-deployment routes (challengers, canary).
    K.ROUTES_DIR_KEY: "",
    # uid:gid the PPS containers run as.
    K.RUN_AS_USER_KEY: "",
    # AMQP URL (with credentials) PPS containers report predictions to, on the environment network.
    K.RABBITMQ_NETWORK_URL_KEY: "",
    # AMQP URL pe_status reads the spool queue's depth and consumers from, as seen from this process.
    K.RABBITMQ_STATS_URL_KEY: "",
    # RabbitMQ management API as seen from this process: each deployment gets its own publish-only broker user
    # there. Empty: deployments report with rabbitmqNetworkUrl's login (plugins run by hand, external brokers).
    "rabbitmqManagementUrl": "",
}


def _defaults() -> dict[str, Any]:
    shared = load_defaults()
    return {**{key: shared[key] for key in SHARED_KEYS}, **OWN_SETTINGS}


class DockerPlugin(TraefikWaits, BosunPluginBase):
    """Run each deployment as a PPS container in its own Compose project, routed by traefik."""

    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = _defaults()

    def __init__(self, plugin_config: dict[str, Any] | None, private_config_file: str | None = None,
                 pe_info: dict[str, Any] | None = None, dry_run: bool = False) -> None:
        super().__init__(plugin_config, private_config_file, pe_info, dry_run)
        self.s = self.settings()
        self.traefik_url = str(self.s["traefikUrl"] or self.s["outfacingPredictionURLPrefix"]).rstrip("/")

    # -- helpers ---------------------------------------------------------------------------------

    def _fact(self, key: str) -> str:
        """Return a host fact the management agent passes; error naming the key when it is missing."""
        value = str(self.s[key])
        if not value:
            raise BosunError(f"pluginConfig.{key} of the docker plugin is not set",
                             fix=f"the management agent passes it; when running the plugin by hand add {key} to "
                                 "pluginConfig (docs/plugins.md lists the keys)")
        return value

    def _monitoring(self, deployment_id: str | None = None) -> dict[str, str] | None:
        if not self.s["monitoringEnabled"]:
            return None
        admin = self._fact(K.RABBITMQ_NETWORK_URL_KEY)
        queue = str(self.s["rabbitmqQueueName"])
        if not self.s["rabbitmqManagementUrl"]:
            return {"queueUrl": admin, "queueName": queue, "exchange": "", "routingKey": ""}
        if deployment_id is None:
            # The shared pool: its own user; each record goes out with its deployment's id as routing key.
            return {"queueUrl": pool_url(admin, pool_name(self.s)), "queueName": queue, "exchange": PPS_EXCHANGE,
                    "routingKey": ""}
        return {"queueUrl": pps_url(admin, deployment_id), "queueName": queue, "exchange": PPS_EXCHANGE,
                "routingKey": deployment_id}

    def stack(self, deployment_id: str) -> DeploymentStack:
        """Return the stack object of one deployment."""
        return DeploymentStack(deployment_id, self.s, Path(self._fact(K.STACKS_DIR_KEY)), self._fact(K.RUN_AS_USER_KEY),
                               self._monitoring(deployment_id))

    def shared(self) -> SharedServing:
        """Return the shared-serving actions on this environment's pool."""
        pool = SharedPool(self.s, Path(self._fact(K.STACKS_DIR_KEY)), self._fact(K.RUN_AS_USER_KEY), self._monitoring())

        def unrouted(hosts: set[str]) -> str | None:
            served = pool.deployment_ids()  # any deployment of the pool shows which replica answered
            return self.wait_hosts(served[0], set(), hosts) if served else None

        pool.unrouted = unrouted
        return SharedServing(self, pool)

    def mode(self, di: DeploymentInfo) -> str:
        """Return how the deployment is to be served: shared or dedicated."""
        return serving_mode(di.kv_config, str(self.s["servingMode"]), di.id)

    def prediction_url(self, deployment_id: str) -> str:
        """Return the URL clients send predictions to."""
        return prediction_url(str(self.s["outfacingPredictionURLPrefix"]), deployment_id)

    def _data(self, deployment_id: str, model_id: str, **extra: Any) -> dict[str, Any]:
        return {ActionDataFields.PREDICTION_URL: self.prediction_url(deployment_id),
                ActionDataFields.CURRENT_MODEL_ID: model_id, **extra}

    def _check_environment(self) -> None:
        network = str(self.s["dockerNetwork"])
        if not adapter.network_exists(network):
            raise BosunError(f"the environment network {network!r} does not exist, so traefik cannot reach "
                             "deployments", fix="start the environment stack with `bosun-local up`")
        image = str(self.s["ppsBaseImage"])
        if not adapter.image_exists(image):
            raise BosunError(f"the PPS image {image} (ppsBaseImage) is missing",
                             fix="build it with `bosun-local images build`")

    def traefik_up(self) -> str | None:
        """Return why traefik does not answer on traefikUrl, or None when it does."""
        return traefik_problem(self.traefik_url)

    def _failure_detail(self, stack: DeploymentStack, model: ModelService, exc: BosunError) -> str:
        container = stack.container_name(model)
        logs = adapter.container_logs(container, tail=15).strip()
        tail = f"\nlast log lines of {container}:\n{logs}" if logs else ""
        return f"{exc.message}{tail}"

    # -- environment actions ---------------------------------------------------------------------

    def plugin_start(self) -> ActionStatusInfo:
        try:
            adapter.engine_version()
            self._check_environment()
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=exc.one_line())
        if self.s[K.STACKS_DIR_KEY]:
            Path(str(self.s[K.STACKS_DIR_KEY])).mkdir(parents=True, exist_ok=True)
        problem = self.traefik_up()
        if not problem and str(self.s["servingMode"]) == SHARED and self.s[K.STACKS_DIR_KEY] and not self.dry_run:
            try:  # warm before the first deploy, which then takes well under a second
                self.shared().pool.ensure(int(self.s["startTimeoutSec"]))
            except BosunError as exc:
                problem = exc.one_line()
        if problem:
            return ActionStatusInfo(ActionStatus.WARN, msg=problem)
        return ActionStatusInfo(ActionStatus.OK, msg=f"Docker engine, network {self.s['dockerNetwork']} and "
                                                     f"traefik on {self.traefik_url} are ready")

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, msg="docker plugin stopped; deployments keep running")

    def _ours(self) -> dict[str, list[adapter.ContainerInfo]]:
        """Return this environment's PPS containers grouped by deployment id."""
        grouped: dict[str, list[adapter.ContainerInfo]] = {}
        for c in adapter.containers_with_labels({DEPLOYMENT_LABEL: None, NETWORK_LABEL: str(self.s["dockerNetwork"])}):
            grouped.setdefault(c.labels[DEPLOYMENT_LABEL], []).append(c)
        return grouped

    def _judged(self, ids: list[str] | None) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Return (containers by deployment, statuses of `ids` or of all, pool events): dedicated and shared."""
        grouped = self._ours()
        shared = self.shared() if self.s[K.STACKS_DIR_KEY] and self.s[K.RUN_AS_USER_KEY] else None
        ids = sorted(set(grouped) | set(shared.pool.deployment_ids() if shared else [])) if ids is None else ids
        # A shared deployment's own containers are its challengers and canary: the pool judges it.
        dedicated = {d for d, cs in grouped.items() if any(is_champion(c) for c in cs)}
        pooled, events = shared.observe([d for d in ids if d not in dedicated]) if shared else ({}, [])
        wanted = {d.id: wanted_replicas(d, self.s) for d in (self.pe_info.deployments if self.pe_info else [])}
        return grouped, {dep_id: pooled.get(dep_id) or judge_deployment(
            dep_id, grouped.get(dep_id, []), self.prediction_url(dep_id), wanted=wanted.get(dep_id)).to_dict()
            for dep_id in ids}, events

    def deployment_list(self) -> ActionStatusInfo:
        data = self._judged(None)[1]
        return ActionStatusInfo(ActionStatus.OK, msg=f"{len(data)} deployments have containers or a dir", data=data)

    def pe_status(self) -> ActionStatusInfo:
        try:
            grouped, statuses, events = self._judged(self.pe_info.deployment_ids if self.pe_info else None)
        except BosunError as exc:
            # data.engine tells the agent its own health is at stake (docs/plugins.md), not just a deployment's.
            return ActionStatusInfo(ActionStatus.ERROR, msg=f"cannot reach the Docker engine: {exc.message}",
                                    data={"engine": exc.message})
        events = [*events, *relaunch_killed_components(str(self.s["projectName"]), self.dry_run)]
        known = list(statuses)
        orphans = sorted(c.name for dep_id, cs in grouped.items() if dep_id not in known for c in cs)
        data: dict[str, Any] = {ActionDataFields.DEPLOYMENTS_STATUS: statuses, "orphans": orphans, "events": events}
        problems = []
        traefik = self.traefik_up()
        data["traefik"] = traefik or "ok"
        # The environment's components, as the agent reports them to the service (docs/plugins.md).
        components = {"traefik": traefik_component(self.traefik_url, traefik)}
        if self.s["monitoringEnabled"]:
            rabbit = rabbitmq_problem(str(self.s["projectName"]))
            data["rabbitmq"] = rabbit or "ok"
            components["rabbitmq"] = rabbitmq_component(str(self.s[K.RABBITMQ_STATS_URL_KEY]),
                                                        str(self.s["rabbitmqQueueName"]), rabbit)
        else:
            rabbit, data["rabbitmq"] = None, "disabled"
        data["components"] = components
        if orphans:
            problems.append(f"{len(orphans)} containers carry our labels but belong to no known deployment "
                            f"(left untouched): {', '.join(orphans)}")
        if traefik:
            return ActionStatusInfo(ActionStatus.ERROR, msg="; ".join([traefik, *problems]), data=data)
        if rabbit:
            return ActionStatusInfo(ActionStatus.WARN, msg="; ".join([rabbit, *problems]), data=data)
        if problems:
            return ActionStatusInfo(ActionStatus.WARN, msg="; ".join(problems), data=data)
        return ActionStatusInfo(ActionStatus.OK, data=data,
                                msg=f"traefik answers; {len(statuses)} deployments checked")

    def monitoring_scale(self, replicas: int | None) -> ActionStatusInfo:
        """Report the stack's running monitoring agents; scale them to `replicas` first when given."""
        return monitoring_scale(str(self.s["projectName"]), replicas, self.dry_run)

    # -- deployment actions ----------------------------------------------------------------------

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        containers, shared = self.stack(deployment_info.id).containers(), self.shared()
        if not any(is_champion(c) for c in containers) and shared.pool.has(deployment_info.id):
            return shared.status(deployment_info.id, deployment_info.current_model_id)
        return judge_deployment(deployment_info.id, containers, self.prediction_url(deployment_info.id),
                                deployment_info.current_model_id, wanted_replicas(deployment_info, self.s))

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self._start(deployment_info, recreate=False)

    def deployment_relaunch(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Recreate the current model's container (heal an exited or unhealthy one); the others are removed."""
        return self._start(deployment_info, recreate=True)

    def _start(self, di: DeploymentInfo, recreate: bool) -> ActionStatusInfo:
        mode = self.mode(di)
        model = model_service(di.id, di.current_model_id, di.model_artifact, {} if mode == SHARED else di.kv_config)
        count = 1 if mode == SHARED else replica_count(di.kv_config, self.s["ppsReplicas"], di.id)
        stack = self.stack(di.id)
        verb = "relaunch" if recreate else "start"
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would {verb} {stack.name} with model "
                                                         f"{model.model_id} ({mode})",
                                    data=self._data(di.id, model.model_id))
        shared = self.shared()
        if mode == SHARED:
            running = [c for c in stack.champions() if c.status == "running"]
            if running:
                unpin(self, stack)
            return shared.move_in(di, stack) if running else shared.start(di, verb)
        self._check_environment()
        if shared.pool.has(di.id):
            refused = sides_refusal(di.id, stack, "out of the shared pool")
            if refused:
                return refused
        containers = stack.champions()
        sides = [m for m in stack.running(di.kv_config) if m.role != CHAMPION]
        # Other champions' containers (a replacement that never finished): kept until this model serves, then removed.
        others = [] if recreate else [m for c in containers if c.labels.get(MODEL_LABEL) != model.model_id
                                      and (m := running_model(c, di.kv_config))]
        mine = [c for c in containers if c.labels.get(MODEL_LABEL) == model.model_id]
        if others:
            unpin(self, stack, keep=model)  # an interrupted replacement may have pinned the route to another model
        wanted = replicas_of(model, count)
        # Replicas beyond the count (it was lowered meanwhile) leave drained, before `up` would drop them unasked.
        retire(self, stack, [c for c in mine if replica_of(c) > count and c.status == "running"])
        serving = any(c.healthy for c in mine)
        broken = {stack.container_name(m) for m in wanted} & {c.name for c in mine if not c.healthy
                                                                and not settling(c)}
        present = {c.name for c in mine}
        healing = bool(broken) or any(stack.container_name(m) not in present for m in wanted)
        # A relaunch recreates the replicas that cannot serve while others do (a heal: the healthy ones keep
        # serving), else all of them (none serves, or nothing is broken: the user asked for fresh containers); so
        # does a start when this model's containers are unhealthy beside others' (drained mid-replace: they cannot
        # heal by themselves).
        again = [m for m in wanted if not (serving and healing) or stack.container_name(m) in broken] \
            if recreate or (others and mine and not serving) else []
        # Only these (and running challengers/canary): `up` removes anything else as an orphan.
        stack.render([*others, *wanted, *sides])
        try:
            stack.up(wanted, timeout=int(self.s["startTimeoutSec"]), recreate=again)
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                    msg=f"deployment {di.id}: {verb} of model {model.model_id} failed: "
                                        f"{self._failure_detail(stack, model, exc)}",
                                    data=self._data(di.id, model.model_id, composeFile=str(stack.compose_file)))
        data = self._data(di.id, model.model_id, composeFile=str(stack.compose_file), replicas=count)
        healthy_at = time.monotonic()
        unrouted = self.wait_routed(di.id, model.model_id)
        self._logger.info("deployment %s: healthy, then routed by traefik %.1f s later", di.id,
                          time.monotonic() - healthy_at)
        removed = self._remove_others(stack, model, others, [*wanted, *sides]) if others and not unrouted else ""
        if unrouted:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {di.id} runs model {model.model_id} (healthy), but {unrouted}")
        if shared.pool.has(di.id):
            shared.move_out(di.id, model.artifact)  # it was shared: its own container serves now
        times = f" x{count} replicas" if count > 1 else ""
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                msg=f"deployment {di.id} {verb}ed: model {model.model_id}{times} answers on "
                                    f"{self.prediction_url(di.id)}{removed}")

    def _remove_others(self, stack: DeploymentStack, model: ModelService, others: list[ModelService],
                       keep: list[ModelService]) -> str:
        """Drain and remove other models' containers once `model` serves; return what was done, for the message."""
        still = stack.drain(others, timeout=15.0)
        lingering = self.wait_only(stack.deployment_id, model.model_id)
        for note in ([f"{', '.join(still)} did not turn unhealthy when drained"] if still else []) + (
                [lingering] if lingering else []):
            self._logger.warning("deployment %s: %s; removing them anyway", stack.deployment_id, note)
        stack.remove(others)
        stack.render(keep)
        return f"; removed model {', '.join(m.model_id for m in others)}, which served beside it"

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        stack = self.stack(deployment_id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would remove {stack.name}")
        if self.shared().stop(deployment_id) and not stack.containers():
            return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED,
                                    msg=f"removed deployment {deployment_id} from the shared pool")
        running = stack.running({})
        if self.s[K.ROUTES_DIR_KEY]:
            routes_file(self, stack).remove()  # back to the label router, which the drain below empties
        if running:
            # Out of traefik's rotation first: requests sent to a removed container's address hang, a 404 does not.
            stack.drain(running, timeout=15.0)
            self.wait_unrouted(deployment_id)
        removed = stack.down()
        msg = (f"removed stack {stack.name} ({', '.join(removed)})" if removed
               else f"deployment {deployment_id} had no containers; nothing to remove")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED, msg=msg)

    def deployment_traffic_update(self, deployment_info: DeploymentInfo,
                                  traffic: dict[str, Any]) -> ActionStatusInfo:
        """Run challengers (mirrored) and a canary (a share) beside the champion, routed by file-provider routes."""
        return update_traffic(self, deployment_info, traffic)

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """Make before break: start the new model beside the old, wait for traefik to route to it, then stop the old."""
        di = deployment_info
        if self.mode(di) == SHARED and not self.dry_run:
            stack = self.stack(di.id)
            if [c for c in stack.champions() if c.status == "running"]:
                unpin(self, stack)  # it moves in from dedicated containers
            return self.shared().replace_or_move(di, stack)
        return replace_model(self, di)

    def deployment_scale(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        """bosun-local extension: run keyValueConfig `replicas` champion containers, dropping no request."""
        di = deployment_info
        if self.mode(di) == SHARED:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                                    msg=f"deployment {di.id} is served by the shared pool, which has no replicas of "
                                        "its own: scale the pool with pluginConfig.poolReplicas, or set "
                                        "keyValueConfig serving: dedicated first")
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would scale deployment {di.id} to "
                                                         f"{replica_count(di.kv_config, self.s['ppsReplicas'], di.id)}")
        self._check_environment()
        return scale(self, di)
