"""Shared serving: deployments as dirs served by the environment's PPS pool, and moves to and from dedicated."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

import httpx

from bosun_local.errors import BosunError
from bosun_local.plugins.docker.stack import (
    ARTIFACT_LABEL,
    DEFAULT_MEMORY,
    MODEL_LABEL,
    DeploymentConfigError,
    DeploymentStack,
    ModelService,
    is_champion,
    model_service,
    replica_number,
)
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.pool_dirs import PoolDirs

SHARED, DEDICATED = "shared", "dedicated"
MODES = (SHARED, DEDICATED)
# keyValueConfig keys that only mean something for a container of the deployment's own.
ISOLATION_KEYS = ("memory", "cpus", "replicas", "PREDICTION_API_WORKERS", "autoscaleMin", "autoscaleMax")
SERVING_KEY = "serving"


def serving_mode(kv: dict[str, Any], default: str, deployment_id: str) -> str:
    """Return shared or dedicated: keyValueConfig `serving`, else dedicated if isolation knobs are set, else default."""
    explicit = str(kv.get(SERVING_KEY) or "").strip().lower()
    if explicit:
        if explicit not in MODES:
            raise DeploymentConfigError(f"deployment {deployment_id}: keyValueConfig serving={kv[SERVING_KEY]!r} "
                                        "is not a serving mode", fix="set serving to shared or dedicated")
        return explicit
    if any(kv.get(key) not in (None, "") for key in ISOLATION_KEYS):
        return DEDICATED
    mode = str(default or SHARED).strip().lower()
    if mode not in MODES:
        raise DeploymentConfigError(f"pluginConfig.servingMode={default!r} of the docker plugin is not a serving mode",
                                    fix="set servingMode to shared or dedicated")
    return mode


class ServingPlugin(Protocol):
    """What shared serving needs of its plugin (the docker or the swarm plugin)."""

    s: dict[str, Any]
    traefik_url: str
    _logger: logging.Logger

    def _data(self, deployment_id: str, model_id: str, **extra: Any) -> dict[str, Any]: ...

    def prediction_url(self, deployment_id: str) -> str: ...

    def wait_routed(self, deployment_id: str, model_id: str) -> str | None: ...


class SharedServing:
    """A plugin's actions for shared deployments (one plugin instance, one pool: Compose or swarm)."""

    def __init__(self, plugin: ServingPlugin, pool: PoolDirs) -> None:
        self.p = plugin
        self.pool = pool
        self.timeout = float(plugin.s["startTimeoutSec"])

    def _data(self, deployment_id: str, model_id: str, **extra: Any) -> dict[str, Any]:
        return self.p._data(deployment_id, model_id, serving=SHARED, **extra)

    def _load(self, di: DeploymentInfo) -> tuple[ModelService, str | None]:
        """Ensure the pool, swap the deployment's dir in and wait for every replica; roll back on a load error."""
        model = model_service(di.id, di.current_model_id, di.model_artifact, {})
        running = self.pool.ensure(int(self.timeout))
        self.pool.broker_allowed().add(di.id)  # before its dir appears: its first records must be accepted
        installed = self.pool.install(di.id, model.model_id, Path(model.artifact))
        problem = self.pool.wait_loaded(di.id, model.model_id, installed.inode, self.timeout, running)
        if problem:
            self.pool.roll_back(installed)
        else:
            self.pool.commit(installed)
        return model, problem

    def start(self, di: DeploymentInfo, verb: str) -> ActionStatusInfo:
        """Serve the deployment from the pool; a model that does not load fails this deployment only."""
        try:
            model, problem = self._load(di)
        except (BosunError, OSError) as exc:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                    msg=f"deployment {di.id}: {verb} in the shared pool failed: {_message(exc)}",
                                    data=self._data(di.id, di.current_model_id))
        if problem:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR,
                                    data=self._data(di.id, model.model_id),
                                    msg=f"deployment {di.id}: {verb} of model {model.model_id} failed: {problem}")
        # One request when the pool's catch-all route is known to traefik; a new pool's may take a moment.
        unrouted = self.p.wait_routed(di.id, model.model_id)
        if unrouted:
            return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY,
                                    data=self._data(di.id, model.model_id),
                                    msg=f"deployment {di.id} is loaded in the shared pool, but {unrouted}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=self._data(di.id, model.model_id),
                                msg=f"deployment {di.id} {verb}ed in the shared pool {self.pool.name}: model "
                                    f"{model.model_id} answers on {self.p.prediction_url(di.id)}")

    def replace(self, di: DeploymentInfo) -> ActionStatusInfo:
        """Swap the deployment's dir; in-flight requests finish on the old model; a failed load keeps the old one."""
        old = self.pool.installed_model(di.id)
        try:
            model, problem = self._load(di)
        except (BosunError, OSError) as exc:
            model, problem = None, _message(exc)
        if problem:
            keep = old or di.current_model_id
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                                    msg=f"model replacement of deployment {di.id} failed; the old model {keep} "
                                        f"keeps serving: {problem}",
                                    data=self._data(di.id, keep, **{ActionDataFields.OLD_MODEL_IN_USE: True}))
        assert model is not None
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY,
                                msg=f"deployment {di.id} now runs model {model.model_id} in the shared pool "
                                    f"(replaced {old})",
                                data=self._data(di.id, model.model_id, **{ActionDataFields.OLD_MODEL_IN_USE: False}))

    def replace_or_move(self, di: DeploymentInfo, stack: DeploymentStack) -> ActionStatusInfo:
        """Replace in the pool; move in from dedicated containers; start when nothing serves the deployment."""
        if [c for c in stack.champions() if c.status == "running"]:
            return self.move_in(di, stack)
        if self.pool.has(di.id):
            return self.replace(di)
        status = self.start(di, "start")
        status.data = {**(status.data or {}), ActionDataFields.OLD_MODEL_IN_USE: False}
        return status

    def stop(self, deployment_id: str) -> bool:
        """Remove the deployment's dir and wait until no replica serves it; False when it had none."""
        removed = self.pool.remove(deployment_id)
        if removed:
            self.pool.wait_gone(deployment_id, timeout=10.0)
            self.pool.broker_allowed().remove(deployment_id)
        return removed

    def status(self, deployment_id: str, expected: str | None,
               docs: dict[str, dict[str, Any] | None] | None = None) -> ActionStatusInfo:
        """Judge a shared deployment from its replicas' /status documents."""
        url = self.p.prediction_url(deployment_id)
        docs = self.pool.statuses() if docs is None else docs
        entries = {name: ((doc or {}).get("deployments") or {}).get(deployment_id) for name, doc in docs.items()}
        data: dict[str, Any] = {ActionDataFields.PREDICTION_URL: url, "serving": SHARED, "replicas": entries}
        if not self.pool.has(deployment_id):
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED, data=data,
                                    msg=f"deployment {deployment_id} has no dir in the shared pool")
        if not any(doc is not None for doc in docs.values()):
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, data=data,
                                    msg=f"deployment {deployment_id}: no replica of the shared pool {self.pool.name} "
                                        "answers")
        serving = [e for e in entries.values() if e and e.get("modelId")]
        if serving:
            model = str(serving[0]["modelId"])
            data[ActionDataFields.CURRENT_MODEL_ID] = model
            if expected and model != expected:
                return ActionStatusInfo(ActionStatus.WARN, state=DeploymentState.READY, data=data,
                                        msg=f"deployment {deployment_id} serves model {model}, expected {expected}")
            return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                    msg=f"deployment {deployment_id} is served by the shared pool {self.pool.name}")
        errors = [str(e["error"]) for e in entries.values() if e and e.get("error")]
        if errors:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, data=data,
                                    msg=f"deployment {deployment_id} cannot serve: {errors[0]}")
        return ActionStatusInfo(ActionStatus.UNKNOWN, state=DeploymentState.LAUNCHING, data=data,
                                msg=f"deployment {deployment_id} is not loaded by the shared pool yet")

    def observe(self, ids: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Return the statuses of the ids that have a pool dir, and events for pool replicas relaunched now."""
        pooled = [d for d in ids if self.pool.has(d)]
        if not pooled:
            return {}, []
        events = self.pool.heal()
        docs = self.pool.statuses()
        return {d: self.status(d, None, docs).to_dict() for d in pooled}, events

    # -- moves between modes ---------------------------------------------------------------------------------

    def wait_served_from(self, deployment_id: str, directory: str, in_a_row: int = 5) -> str | None:
        """Wait until traefik answers /info for the deployment from `directory` only (in_a_row answers)."""
        url = f"{self.p.traefik_url}/deployments/{deployment_id}/info"
        deadline = time.monotonic() + float(self.p.s["routeTimeoutSec"])
        seen = 0
        with httpx.Client(timeout=3.0) as http:
            while time.monotonic() < deadline:
                try:
                    response = http.get(url)
                    ok = response.status_code == 200 and response.json().get("directory") == directory
                except (httpx.HTTPError, ValueError):
                    ok = False
                seen = seen + 1 if ok else 0
                if seen >= in_a_row:
                    return None
                time.sleep(0.05)
        return f"traefik did not route {url} to {directory} within {self.p.s['routeTimeoutSec']} s"

    def move_in(self, di: DeploymentInfo, stack: DeploymentStack) -> ActionStatusInfo:
        """Dedicated -> shared with no downtime: load in the pool, drain the containers, then remove them."""
        refused = sides_refusal(di.id, stack, "to the shared pool")
        if refused:
            return refused
        status = self.start(di, "move")
        if status.status != ActionStatus.OK:
            status.state = DeploymentState.READY
            status.msg = f"{status.msg}; the dedicated containers keep serving"
            status.data = {**(status.data or {}), ActionDataFields.OLD_MODEL_IN_USE: True}
            return status
        running = [c for c in stack.champions() if c.status == "running"]
        if running:
            # Turned unhealthy, the dedicated router disappears and the pool's catch-all takes the path.
            stack.drain([_label_model(c.labels) for c in running], timeout=15.0)
            late = self.wait_served_from(di.id, str(self.pool.deployment_dir(di.id)))
            if late:
                self.p._logger.warning("deployment %s: %s; removing the dedicated containers anyway", di.id, late)
        stack.down()
        status.msg = f"deployment {di.id} moved to the shared pool {self.pool.name} with no downtime"
        return status

    def move_out(self, deployment_id: str, artifact: str) -> None:
        """Shared -> dedicated, after the dedicated container is healthy: wait for its route, then drop the dir."""
        late = self.wait_served_from(deployment_id, artifact)
        if late:
            self.p._logger.warning("deployment %s: %s; removing it from the pool anyway", deployment_id, late)
        self.stop(deployment_id)


def sides_refusal(deployment_id: str, stack: DeploymentStack, where: str) -> ActionStatusInfo | None:
    """Refuse a move between serving modes while challengers or a canary run (their routes name the champion's)."""
    sides = sorted(c.name for c in stack.containers() if not is_champion(c))
    if not sides:
        return None
    return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.READY,
                            data={ActionDataFields.OLD_MODEL_IN_USE: True},
                            msg=f"deployment {deployment_id} cannot move {where} while challengers or a canary run "
                                f"beside it ({', '.join(sides)}): their routes name the champion's service; it "
                                "keeps serving as before. Remove them first (`bosun-local deployments challengers "
                                "remove`, `canary abort`), then try again")


def _label_model(container_labels: dict[str, str]) -> ModelService:
    return ModelService(container_labels.get(MODEL_LABEL, "?"), container_labels.get(ARTIFACT_LABEL, ""),
                        DEFAULT_MEMORY, None, 1, replica=replica_number(container_labels))


def _message(exc: BaseException) -> str:
    if isinstance(exc, BosunError):
        return exc.one_line()
    return f"{type(exc).__name__}: {exc}"
