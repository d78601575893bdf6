"""The k8s plugin: each deployment as Kubernetes objects, rendered from the values the Compose stacks use."""
from bosun_local.plugins.k8s.plugin import KubernetesPlugin

__all__ = ["KubernetesPlugin"]
