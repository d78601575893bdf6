"""`up --with prometheus` renders: the service in the compose file, scrape configs and rules beside it (no engine)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bosun_local.config import load_config
from bosun_local.contracts import labels
from bosun_local.envstack.environment import EnvironmentStack
from bosun_local.envstack.prometheus_stack import AGENT_METRICS_PORT, TRAEFIK_METRICS_PORT, recorded_extras
from bosun_local.errors import UsageError


def test_prometheus_is_rendered_only_when_asked_and_stays_until_down(tmp_path: Path) -> None:
    plain = EnvironmentStack(load_config(tmp_path))
    compose = yaml.safe_load(plain.render().read_text())
    assert "prometheus" not in compose["services"] and "prometheus" not in plain.services
    assert "--metrics.prometheus=true" not in compose["services"]["traefik"]["command"]
    agent_env = compose["services"]["management-agent"]["environment"]
    assert agent_env["BOSUN_METRICS_PORT"] == str(AGENT_METRICS_PORT) and "ports" not in \
        compose["services"]["monitoring-agent"]  # agents' /metrics stay on the stack's network

    stack = EnvironmentStack(load_config(tmp_path), extras=["prometheus"])
    compose = yaml.safe_load(stack.render().read_text())
    service = compose["services"]["prometheus"]
    assert service["ports"] == ["127.0.0.1:9090:9090"]  # loopback only by default
    traefik = compose["services"]["traefik"]["command"]
    assert "--metrics.prometheus=true" in traefik
    # Its own entrypoint on the stack's network: the API's listens on traefik's loopback, out of Prometheus' reach.
    assert {f"--entrypoints.metrics.address=:{TRAEFIK_METRICS_PORT}", "--metrics.prometheus.entrypoint=metrics",
            "--entrypoints.traefik.address=127.0.0.1:8080"} <= set(traefik)
    directory = stack.compose_file.parent / "prometheus"
    config = yaml.safe_load((directory / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "traefik", "service", "management-agent", "monitoring-agent", "deployments"}
    assert jobs["traefik"]["static_configs"] == [{"targets": [f"traefik:{TRAEFIK_METRICS_PORT}"]}]
    token = str(directory / "token")  # a reader-scope token of its own, never the admin `token` file
    assert jobs["service"]["authorization"] == {"type": "Bearer", "credentials_file": token}
    assert jobs["deployments"]["http_sd_configs"][0]["authorization"]["credentials_file"] == token
    assert f"{directory}:{directory}:ro" in service["volumes"]
    assert not any(str(tmp_path / "token") in v for v in service["volumes"])
    from bosun_local.envstack.prometheus_stack import ensure_reader_token
    from bosun_local.service.tokens import TokenStore

    path = ensure_reader_token(stack)
    store = TokenStore(tmp_path)
    first = path.read_text().strip()
    assert store.lookup(first.encode()).scope == "reader"  # type: ignore[union-attr]
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_reader_token(stack).read_text().strip() == first  # kept across `up`s
    store.revoke("prometheus")
    assert store.lookup(ensure_reader_token(stack).read_text().strip().encode()) is not None  # revoked: replaced
    rules = yaml.safe_load((directory / "rules.yml").read_text())
    names = {r.get("alert") or r.get("record") for g in rules["groups"] for r in g["rules"]}
    assert {"BosunDeploymentErrorRateFailing", "BosunDeploymentErrorRateWarning", "BosunDeploymentLatencyFailing",
            "deployment:bosun_pps_requests:rate5m"} <= names
    for rule in (r for g in rules["groups"] for r in g["rules"] if "bosun_deployment_threshold" in r["expr"]):
        assert "on (deployment) bosun" not in rule["expr"], rule  # group_left: the summaries keep the name label
    first_hash = service["labels"][labels.CONFIG_HASH]

    # Recorded at up (here by hand): a later plain `up` or `down` still sees it, and down forgets it.
    from bosun_local.envstack.prometheus_stack import record_extras

    record_extras(stack.compose_file.parent, stack.extras)
    assert "prometheus" in EnvironmentStack(load_config(tmp_path)).services
    (tmp_path / "bosun-local.yaml").write_text("prometheusScrapeInterval: 30s\n")
    again = yaml.safe_load(EnvironmentStack(load_config(tmp_path)).render().read_text())
    assert again["services"]["prometheus"]["labels"][labels.CONFIG_HASH] != first_hash  # recreated on change
    record_extras(stack.compose_file.parent, [])
    assert recorded_extras(stack.compose_file.parent) == []
    with pytest.raises(UsageError) as err:
        EnvironmentStack(load_config(tmp_path), extras=["grafana"])
    assert "prometheus" in (err.value.fix or "")
