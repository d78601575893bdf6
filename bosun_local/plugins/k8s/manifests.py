"""The Kubernetes objects of one deployment, rendered from templates/k8s/ with the values Compose uses too."""
from __future__ import annotations

from typing import Any

import yaml

from bosun_local.contracts import labels
from bosun_local.envstack.render import render
from bosun_local.plugins.deployment_values import deployment_values, router_name
from bosun_local.plugins.docker.stack import ModelService
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K
from bosun_local.plugins.k8s.settings import ingress_host, ingress_path, monitoring_enabled

MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
OURS = "bosun-local"
# The user the runtime image's Dockerfile creates; Kubernetes needs it numeric to check runAsNonRoot.
RUNTIME_USER = "10001:10001"
MODEL_DIR_IN_IMAGE = "/opt/bosun/model"
RESTARTED_AT = "io.bosun-local/restartedAt"
TEMPLATES = ("k8s/deployment.yaml.j2", "k8s/service.yaml.j2", "k8s/ingress.yaml.j2")
AGENT_TEMPLATE = "k8s/monitoring-agent.yaml.j2"
_UNITS = {"": "", "b": "", "k": "Ki", "m": "Mi", "g": "Gi"}


def object_name(deployment_id: str) -> str:
    """Return the name of a deployment's Deployment, Service and Ingress (a DNS label starting with a letter)."""
    return ("bosun-" + router_name(deployment_id))[:63].rstrip("-")


def selector(deployment_id: str) -> dict[str, str]:
    """Return the labels that select a deployment's PPS pods (any model)."""
    return {labels.DEPLOYMENT: deployment_id, labels.COMPONENT: "pps"}


def managed_selector() -> str:
    """Return the label selector of everything this plugin made."""
    return f"{MANAGED_BY}={OURS}"


def k8s_memory(size: str) -> str:
    """Return a Compose memory size (512m, 1g) as a Kubernetes quantity (512Mi, 1Gi)."""
    text = size.strip().lower()
    unit = text[-1] if text[-1:].isalpha() else ""
    return text[: len(text) - len(unit)] + _UNITS[unit]


def model_image(s: dict[str, Any], model_id: str) -> str:
    """Return the image a model's pods run: ppsBaseImage with the model package baked in, tagged by model id."""
    return f"{s['generatedImageRepo']}:{model_id}"


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**base, **(extra or {})}


def _resources(model: ModelService, extra: dict[str, Any]) -> dict[str, Any]:
    limits: dict[str, Any] = {"memory": k8s_memory(model.memory)}
    if model.cpus:
        limits["cpu"] = str(model.cpus)
    requests = {"memory": limits["memory"]}
    # ppsResources wins over the deployment's keyValueConfig sizes, field by field.
    return {"limits": _merged(limits, extra.get("limits", {})),
            "requests": _merged(requests, extra.get("requests", {}))}


def values(s: dict[str, Any], deployment_id: str, model: ModelService, restarted_at: str | None = None,
           service_token: str | None = None) -> dict[str, Any]:
    """Return the shared deployment values plus what Kubernetes alone needs."""
    monitoring = None
    if monitoring_enabled(s):
        monitoring = {"queueUrl": str(s["rabbitmqUrl"]), "queueName": str(s["rabbitmqQueueName"]),
                      "serviceUrl": str(s[K.MLOPS_URL_KEY]), "token": str(service_token or s[K.MLOPS_API_TOKEN_KEY])}
    name = object_name(deployment_id)
    shared = deployment_values(deployment_id, name, [model], s, RUNTIME_USER, monitoring)
    uid, gid = (int(part) for part in RUNTIME_USER.split(":"))
    common = {MANAGED_BY: OURS, PART_OF: OURS, labels.DEPLOYMENT: deployment_id}
    pod_labels = {**selector(deployment_id), labels.MODEL: model.model_id}
    agent_selector = {labels.DEPLOYMENT: deployment_id, labels.COMPONENT: labels.MONITORING_AGENT}
    annotations = dict(s["ppsAnnotations"] or {})
    if restarted_at:
        annotations[RESTARTED_AT] = restarted_at
    return {
        **shared, "k8sName": name, "namespace": s["kubeNamespace"], "replicas": int(s["ppsReplicas"]),
        "startTimeoutSec": int(s["startTimeoutSec"]), "modelImage": model_image(s, model.model_id),
        "modelDirInImage": MODEL_DIR_IN_IMAGE, "commonLabels": common,
        "deploymentLabels": {**common, labels.COMPONENT: "pps"}, "selectorLabels": selector(deployment_id),
        "podLabels": pod_labels, "agentLabels": {**common, **agent_selector}, "agentSelectorLabels": agent_selector,
        "podAnnotations": annotations, "serviceAccount": s["ppsServiceAccount"],
        "podSecurityContext": _merged({"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid},
                                      s["ppsPodSecurityContext"]),
        "containerSecurityContext": _merged({"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                             "capabilities": {"drop": ["ALL"]}}, s["ppsSecurityContext"]),
        "nodeSelector": s["ppsNodeSelector"], "tolerations": s["ppsTolerations"], "affinity": s["ppsAffinity"],
        "imagePullSecrets": s["imagePullSecrets"], "extraEnv": s["ppsExtraEnvironment"],
        "extraVolumes": s["ppsExtraVolumes"], "extraVolumeMounts": s["ppsExtraVolumeMounts"],
        "resources": _resources(model, s["ppsResources"] or {}), "agentImage": s["agentImage"],
        "agentResources": s["agentResources"] or {}, "ingressClass": s["ingressClass"],
        "ingressHost": ingress_host(s), "ingressPath": ingress_path(s),
    }


def render_objects(s: dict[str, Any], deployment_id: str, model: ModelService,
                   restarted_at: str | None = None) -> list[dict[str, Any]]:
    """Return the deployment's objects in apply order: Deployment, Service, Ingress (+ Secret, agent Deployment)."""
    context = values(s, deployment_id, model, restarted_at)
    names = TEMPLATES + ((AGENT_TEMPLATE,) if context["monitoring"] else ())
    objects: list[dict[str, Any]] = []
    for name in names:
        objects.extend(doc for doc in yaml.safe_load_all(render(name, context)) if doc)
    return objects


def object_ref(obj: dict[str, Any]) -> str:
    """Return 'Kind/namespace/name' of an object, for messages."""
    meta = obj["metadata"]
    return f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"
