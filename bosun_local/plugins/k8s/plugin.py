"""The k8s plugin: a Deployment, Service and Ingress per deployment (and its monitoring agent), applied server-side."""
from __future__ import annotations

import time
from typing import Any, ClassVar

from bosun_local.contracts import labels
from bosun_local.errors import BosunError
from bosun_local.plugins.deployment_values import prediction_url
from bosun_local.plugins.docker.stack import ModelService, model_service
from bosun_local.plugins.framework.action_status import ActionDataFields, ActionStatus, ActionStatusInfo
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.constants import DeploymentState
from bosun_local.plugins.framework.deployment_info import DeploymentInfo
from bosun_local.plugins.k8s import settings as k8s_settings
from bosun_local.plugins.k8s.cluster import Cluster, api_client
from bosun_local.plugins.k8s.manifests import (
    managed_selector,
    object_name,
    object_ref,
    render_objects,
)
from bosun_local.plugins.k8s.status import Rollout, judge
from bosun_local.service.timeutil import now_iso

# Deleted in this order on stop: what routes to the pods first, the pods last.
TEARDOWN = (("Ingress", ""), ("Service", ""), ("Deployment", "-agent"), ("Secret", "-mlops"), ("Deployment", ""))


class KubernetesPlugin(BosunPluginBase):
    """Run each deployment on a Kubernetes cluster (the seed's k8s plugin keys), rolling model replacement."""

    DEFAULT_SETTINGS: ClassVar[dict[str, Any]] = k8s_settings.default_settings()

    def __init__(self, plugin_config: dict[str, Any] | None, private_config_file: str | None = None,
                 pe_info: dict[str, Any] | None = None, dry_run: bool = False, cluster: Cluster | None = None) -> None:
        super().__init__(plugin_config, private_config_file, pe_info, dry_run)
        self.s = self.settings()
        k8s_settings.check(self.s)
        self._cluster = cluster

    @property
    def cluster(self) -> Cluster:
        """Return the cluster client, made from the kubeconfig settings on first use."""
        if self._cluster is None:
            self._cluster = Cluster(api_client(self.s), str(self.s["kubeNamespace"]), str(self.s["fieldManager"]))
        return self._cluster

    def prediction_url(self, deployment_id: str) -> str:
        """Return the URL clients send predictions to, through the cluster's ingress."""
        return prediction_url(str(self.s["outfacingPredictionURLPrefix"]), deployment_id)

    def _model(self, di: DeploymentInfo, model_id: str | None) -> ModelService:
        if not model_id:
            raise BosunError(f"deployment {di.id}: deploymentInfo has no model id", fix="send modelId (newModelId "
                             "for a replacement)")
        return model_service(di.id, model_id, di.model_artifact, di.kv_config or {})

    def _data(self, deployment_id: str, rollout: Rollout | None = None, **extra: Any) -> dict[str, Any]:
        data = {ActionDataFields.PREDICTION_URL: self.prediction_url(deployment_id), "platform": "k8s",
                "namespace": self.s["kubeNamespace"], "object": object_name(deployment_id), **extra}
        if rollout is not None:
            data.update(rollout.data)
            data[ActionDataFields.CURRENT_MODEL_ID] = rollout.model_id
        return data

    def _apply(self, di: DeploymentInfo, model: ModelService, restarted_at: str | None = None) -> list[str]:
        objects = render_objects(self.s, di.id, model, restarted_at)
        if self.dry_run:
            return [object_ref(o) for o in objects]
        for obj in objects:
            self.cluster.apply(obj)
        return [object_ref(o) for o in objects]

    def wait_rollout(self, deployment_id: str) -> Rollout | None:
        """Poll the Deployment until its rollout is done or failed (or startTimeoutSec); None when it is gone."""
        deadline = time.monotonic() + float(self.s["startTimeoutSec"])
        while True:
            found = self.cluster.read_deployment(object_name(deployment_id))
            if found is None:
                return None
            rollout = judge(found)
            if rollout.done or rollout.failed or time.monotonic() > deadline:
                return rollout
            time.sleep(float(self.s["pollIntervalSec"]))

    def _rolled(self, di: DeploymentInfo, model: ModelService, verb: str, restarted_at: str | None = None,
                replacing: bool = False) -> ActionStatusInfo:
        if self.dry_run:
            refs = self._apply(di, model, restarted_at)
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would {verb} {', '.join(refs)}")
        try:
            refs = self._apply(di, model, restarted_at)
            rollout = self.wait_rollout(di.id)
        except BosunError as exc:
            state = DeploymentState.READY if replacing else DeploymentState.ERROR
            return ActionStatusInfo(ActionStatus.ERROR, state=state, msg=exc.one_line())
        if rollout is None:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.ERROR, data=self._data(di.id),
                                    msg=f"Deployment {object_name(di.id)} disappeared during the rollout")
        data = self._data(di.id, rollout, applied=refs)
        if not rollout.done:
            # A stalled replacement keeps the old pods serving (maxUnavailable 0): the deployment stays ready.
            state = DeploymentState.READY if replacing and rollout.data["availableReplicas"] else DeploymentState.ERROR
            return ActionStatusInfo(ActionStatus.ERROR, state=state, data=data, msg=f"{verb} did not finish within "
                                    f"{self.s['startTimeoutSec']} s: {rollout.message}")
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.READY, data=data,
                                msg=f"{verb}: {rollout.message}; predictions at {self.prediction_url(di.id)}")

    # -- environment actions ---------------------------------------------------------------------

    def plugin_start(self) -> ActionStatusInfo:
        try:
            version = self.cluster.version()
            if not self.cluster.namespace_exists():
                return ActionStatusInfo(ActionStatus.ERROR, msg=f"namespace {self.s['kubeNamespace']} does not exist "
                                        "(fix: create it, or set kubeNamespace to one that does)")
        except BosunError as exc:
            return ActionStatusInfo(ActionStatus.ERROR, msg=exc.one_line())
        return ActionStatusInfo(ActionStatus.OK, data={"platform": "k8s", "serverVersion": version},
                                msg=f"Kubernetes {version}, namespace {self.s['kubeNamespace']} is ready")

    def plugin_stop(self) -> ActionStatusInfo:
        return ActionStatusInfo(ActionStatus.OK, msg="k8s plugin stopped; deployments keep running")

    def _statuses(self) -> dict[str, Rollout]:
        found = self.cluster.list_deployments(f"{managed_selector()},{labels.COMPONENT}=pps")
        return {d.metadata.labels[labels.DEPLOYMENT]: judge(d) for d in found}

    def _entry(self, deployment_id: str, rollout: Rollout) -> dict[str, Any]:
        return {"status": rollout.status, "state": rollout.state, "message": rollout.message,
                "data": self._data(deployment_id, rollout)}

    def deployment_list(self) -> ActionStatusInfo:
        statuses = self._statuses()
        data = {dep_id: self._entry(dep_id, r) for dep_id, r in sorted(statuses.items())}
        return ActionStatusInfo(ActionStatus.OK, msg=f"{len(data)} deployments have a Kubernetes Deployment",
                                data=data)

    def pe_status(self) -> ActionStatusInfo:
        statuses = self._statuses()
        known = self.pe_info.deployment_ids if self.pe_info else sorted(statuses)
        result: dict[str, Any] = {}
        for dep_id in known:
            r = statuses.get(dep_id)
            result[dep_id] = self._entry(dep_id, r) if r else {
                "status": ActionStatus.ERROR, "state": DeploymentState.STOPPED,
                "message": f"deployment {dep_id} has no Kubernetes Deployment"}
        orphans = sorted(set(statuses) - set(known))
        data = {ActionDataFields.DEPLOYMENTS_STATUS: result, "orphans": orphans, "platform": "k8s",
                "namespace": self.s["kubeNamespace"]}
        if orphans:
            return ActionStatusInfo(ActionStatus.WARN, data=data, msg=f"{len(orphans)} Deployments carry our labels "
                                    f"but belong to no known deployment (left untouched): {', '.join(orphans)}")
        return ActionStatusInfo(ActionStatus.OK, data=data, msg=f"{len(result)} deployments checked")

    # -- deployment actions ----------------------------------------------------------------------

    def deployment_status(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        found = self.cluster.read_deployment(object_name(deployment_info.id))
        if found is None:
            return ActionStatusInfo(ActionStatus.ERROR, state=DeploymentState.STOPPED, data=self._data(
                deployment_info.id), msg=f"Deployment {object_name(deployment_info.id)} does not exist")
        rollout = judge(found)
        return ActionStatusInfo(rollout.status, state=rollout.state, msg=rollout.message,
                                data=self._data(deployment_info.id, rollout))

    def deployment_start(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        return self._rolled(deployment_info, self._model(deployment_info, deployment_info.model_id), "start")

    def deployment_relaunch(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        # A rolling restart (kubectl rollout restart's annotation): the pods are replaced without downtime.
        return self._rolled(deployment_info, self._model(deployment_info, deployment_info.model_id), "relaunch",
                            restarted_at=now_iso())

    def deployment_replace_model(self, deployment_info: DeploymentInfo) -> ActionStatusInfo:
        model = self._model(deployment_info, deployment_info.new_model_id)
        return self._rolled(deployment_info, model, f"replace the model with {model.model_id}", replacing=True)

    def deployment_stop(self, deployment_id: str) -> ActionStatusInfo:
        name = object_name(deployment_id)
        if self.dry_run:
            return ActionStatusInfo(ActionStatus.OK, msg=f"dry run: would delete the objects named {name}*")
        deleted = [f"{kind}/{name}{suffix}" for kind, suffix in TEARDOWN if self.cluster.delete(kind, name + suffix)]
        return ActionStatusInfo(ActionStatus.OK, state=DeploymentState.STOPPED, data={"deleted": deleted},
                                msg=f"deleted {', '.join(deleted) or 'nothing (already gone)'}")
