"""Every call the k8s plugin makes to a cluster, through the official `kubernetes` client, errors made ours.

Objects are applied with server-side apply (PATCH, application/apply-patch+yaml, a field manager, force), so a
re-run converges and another manager's fields (an HPA's replicas, a user's annotations) are left alone.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from bosun_local.errors import BosunError
from bosun_local.plugins.k8s.settings import IN_CLUSTER

APPLY = "application/apply-patch+yaml"


class ClusterError(BosunError):
    """The cluster refused or could not be reached."""


def api_client(s: dict[str, Any]) -> client.ApiClient:
    """Return an ApiClient configured by kubeConfigContext (IN_CLUSTER, a context name, or None: current)."""
    configuration = client.Configuration()
    context = s.get("kubeConfigContext")
    try:
        if context == IN_CLUSTER:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=s.get("kubeConfigFile"), context=context,
                                    client_configuration=configuration)
    except (ConfigException, OSError) as exc:
        where = "the pod's service account" if context == IN_CLUSTER else \
            f"kubeconfig {s.get('kubeConfigFile') or '(default)'} context {context or '(current)'}"
        raise ClusterError(f"cannot load the Kubernetes client settings from {where}: {exc}",
                           fix="set kubeConfigFile and kubeConfigContext to a kubeconfig and context that exist "
                               "(IN_CLUSTER only works inside a pod)") from exc
    return client.ApiClient(configuration)


def _reason(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)


class Cluster:
    """One namespace of one cluster, as the plugin uses it."""

    def __init__(self, api: client.ApiClient, namespace: str, field_manager: str) -> None:
        self.api = api
        self.namespace = namespace
        self.field_manager = field_manager
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.networking = client.NetworkingV1Api(api)

    def _call(self, what: str, call: Callable[[], Any], missing_ok: bool = False) -> Any:
        try:
            return call()
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            raise ClusterError(f"Kubernetes refused to {what}: HTTP {exc.status} {_reason(exc)}",
                               fix="check the plugin's service account may do this in namespace "
                                   f"{self.namespace} (RBAC), and the object shown") from exc
        except OSError as exc:  # urllib3's connection errors are OSErrors
            raise ClusterError(f"cannot reach the Kubernetes API server to {what}: {exc}",
                               fix="check the kubeconfig's server address and that the cluster is up") from exc

    def version(self) -> str:
        """Return the server's version (v1.30.2)."""
        info = self._call("read the server version", lambda: client.VersionApi(self.api).get_code())
        return str(info.git_version)

    def namespace_exists(self) -> bool:
        """Return True when the namespace exists."""
        found = self._call(f"read namespace {self.namespace}", lambda: self.core.read_namespace(self.namespace),
                           missing_ok=True)
        return found is not None

    def apply(self, obj: dict[str, Any]) -> Any:
        """Server-side apply one object (Deployment, Service, Ingress or Secret) in the namespace."""
        kind, name = obj["kind"], obj["metadata"]["name"]
        patch = {"Deployment": self.apps.patch_namespaced_deployment,
                 "Service": self.core.patch_namespaced_service,
                 "Ingress": self.networking.patch_namespaced_ingress,
                 "Secret": self.core.patch_namespaced_secret}[kind]
        return self._call(f"apply {kind} {name}", lambda: patch(
            name, self.namespace, obj, field_manager=self.field_manager, force=True, _content_type=APPLY))

    def read_deployment(self, name: str) -> client.V1Deployment | None:
        """Return a Deployment with its status, None when it does not exist."""
        return self._call(f"read Deployment {name}",
                          lambda: self.apps.read_namespaced_deployment_status(name, self.namespace), missing_ok=True)

    def list_deployments(self, label_selector: str) -> list[client.V1Deployment]:
        """Return the namespace's Deployments matching a label selector."""
        found = self._call("list Deployments", lambda: self.apps.list_namespaced_deployment(
            self.namespace, label_selector=label_selector))
        return list(found.items)

    def delete(self, kind: str, name: str) -> bool:
        """Delete an object (its pods in the background); return False when it did not exist."""
        delete = {"Deployment": self.apps.delete_namespaced_deployment,
                  "Service": self.core.delete_namespaced_service,
                  "Ingress": self.networking.delete_namespaced_ingress,
                  "Secret": self.core.delete_namespaced_secret}[kind]
        body = client.V1DeleteOptions(propagation_policy="Background")
        gone = self._call(f"delete {kind} {name}", lambda: delete(name, self.namespace, body=body), missing_ok=True)
        return gone is not None
