"""Settings of the k8s plugin: the keys of the seed's plugin.k8s.conf.yaml (same names, same meaning) and ours."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bosun_local.config import load_defaults
from bosun_local.errors import ConfigError
from bosun_local.plugins.framework.constants import BosunPluginConfigConstants as K

IN_CLUSTER = "IN_CLUSTER"
# The seed requires a versioned PPS image, so a deployment records which runtime its model was baked with.
_VERSIONED_TAG = re.compile(r":\d+\.\d+\.\d+(-[a-zA-Z0-9.-]+)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_IP = re.compile(r"^[0-9.:]+$")

# Keys of the seed's plugin.k8s.conf.yaml this plugin reads, with its defaults.
SEED_SETTINGS: dict[str, Any] = {
    "kubeConfigFile": None,             # None: the client's default (KUBECONFIG or ~/.kube/config)
    "kubeConfigContext": IN_CLUSTER,    # IN_CLUSTER: the pod's service account; None: the kubeconfig's current
    "kubeNamespace": "default",
    "outfacingPredictionURLPrefix": "",
    "ingressClass": None,
    "ingressType": "nginx",
    "ppsBaseImage": "",
    "generatedImageRepo": "",
    "agentImage": None,
    "agentResources": {},
    "ppsServiceAccount": "default",
    "ppsResources": {},
    "ppsPodSecurityContext": {},
    "ppsSecurityContext": {},
    "ppsAnnotations": {},
    "ppsNodeSelector": {},
    "ppsTolerations": [],
    "ppsAffinity": {},
    "ppsExtraEnvironment": [],
    "ppsExtraVolumes": [],
    "ppsExtraVolumeMounts": [],
    "imagePullSecrets": [],
    K.MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING_KEY: False,
    K.MLOPS_URL_KEY: None,
    K.MLOPS_API_TOKEN_KEY: None,
}
# This implementation's own keys.
OWN_SETTINGS: dict[str, Any] = {
    "ppsReplicas": 1,
    "startTimeoutSec": 300,
    "gracefulTimeoutSec": 30,
    "retryAttempts": 5,
    "pollIntervalSec": 2.0,
    # AMQP URL the PPS pods report to and the monitoring agent reads (monitoring enabled), as seen in the cluster.
    "rabbitmqUrl": "",
    "rabbitmqQueueName": "mlops",
    # Field manager of server-side apply: who owns the fields this plugin sets.
    "fieldManager": "bosun-local",
}


def default_settings() -> dict[str, Any]:
    """Return every setting with its default; image keys default to bosun-local's."""
    shared = load_defaults()
    return {**SEED_SETTINGS, "ppsBaseImage": shared["ppsBaseImage"], "agentImage": shared["agentImage"],
            "outfacingPredictionURLPrefix": shared["outfacingPredictionURLPrefix"],
            "generatedImageRepo": shared["generatedImagePrefix"].rstrip("-/") + "/k8s-model", **OWN_SETTINGS}


def _fail(key: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"k8s plugin setting {key}: {problem}", fix=fix)


def check(s: dict[str, Any]) -> None:
    """Raise a ConfigError naming the key for a setting the manifests cannot be made from."""
    if not _VERSIONED_TAG.search(str(s["ppsBaseImage"])):
        raise _fail("ppsBaseImage", f"{s['ppsBaseImage']!r} has no versioned tag",
                    "use a tag like :1.2.3, as the seed requires (the model image records it)")
    prefix = str(s["outfacingPredictionURLPrefix"])
    if not re.match(r"^https?://.+", prefix):
        raise _fail("outfacingPredictionURLPrefix", f"{prefix!r} is not an http(s) URL",
                    "set it to the URL clients reach the cluster's ingress at, e.g. https://models.example.com")
    repo = str(s["generatedImageRepo"])
    last = repo.rsplit("/", 1)[-1]
    if not repo or ":" in last or "@" in repo:
        raise _fail("generatedImageRepo", f"{repo!r} is not an image repository without a tag",
                    "set a repository like registry.example.com/bosun/models (the model id becomes the tag)")
    if s["ingressType"] != "nginx":
        raise _fail("ingressType", f"{s['ingressType']!r} is not supported by bosun-local (only nginx: an "
                    "Ingress resource; openshift Routes are not rendered)", "set ingressType: nginx")
    if not _DNS_LABEL.match(str(s["kubeNamespace"] or "")):
        raise _fail("kubeNamespace", f"{s['kubeNamespace']!r} is not a namespace name",
                    "use lowercase letters, digits and '-' (at most 63)")
    if not isinstance(s["ppsReplicas"], int) or not 1 <= s["ppsReplicas"] <= 100:
        raise _fail("ppsReplicas", f"{s['ppsReplicas']!r} is not a whole number from 1 to 100", "set ppsReplicas: 2")
    if monitoring_enabled(s):
        for key in ("rabbitmqUrl", K.MLOPS_URL_KEY, K.MLOPS_API_TOKEN_KEY, "agentImage"):
            if not s.get(key):
                raise _fail(key, "is required when monitoring is enabled",
                            f"set {key}, or {K.MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING_KEY}: false")


def monitoring_enabled(s: dict[str, Any]) -> bool:
    """Return True when the environment reports predictions (the seed's MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING)."""
    return bool(s.get(K.MLOPS_BOSUN_PRED_ENV_ENABLE_MONITORING_KEY))


def ingress_host(s: dict[str, Any]) -> str | None:
    """Return the Ingress host of the URL prefix, None for an IP address (an Ingress host cannot be one)."""
    host = urlsplit(str(s["outfacingPredictionURLPrefix"])).hostname or ""
    return None if not host or _IP.match(host) else host


def ingress_path(s: dict[str, Any]) -> str:
    """Return the URL prefix's path without a trailing '/'."""
    return urlsplit(str(s["outfacingPredictionURLPrefix"])).path.rstrip("/")
