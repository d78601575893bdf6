"""The local MLOps service: control plane for packages, environments, deployments, actions, events and figures."""
