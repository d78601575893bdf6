"""Typed HTTP client of the MLOps service; every component (CLI, agents, dashboard) talks through it."""
from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bosun_local.config import Config, load_config
from bosun_local.errors import BosunError

Json = dict[str, Any]
FINISHED_ACTION = ("done", "failed")
# How long an idle connection is kept for reuse: an agent asks every 10-15 s when idle, and a new TCP connection per
# request costs both sides more than the request. Below the service's own 75 s (service/server.py), so the client
# always closes first and never sends on a connection the server is closing.
KEEPALIVE_SEC = 60.0


class ServiceError(BosunError):
    """The service refused a request; `status_code` is its HTTP status and the message its `detail`."""

    def __init__(self, status_code: int, message: str, fix: str | None = None) -> None:
        super().__init__(message, fix)
        self.status_code = status_code


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else str(detail if detail is not None else body)


def tar_directory(directory: Path) -> bytes:
    """Return a .tar.gz of a package directory's contents (paths relative to it, links refused)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_symlink():
                raise BosunError(f"model package {directory}: {path.relative_to(directory)} is a symlink",
                                 fix="replace the link with the file it points to")
            if any(part in ("__pycache__", ".git") for part in path.relative_to(directory).parts):
                continue
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()


class ServiceClient:
    """Talk to the MLOps service at `url` with the data dir's bearer token."""

    def __init__(self, url: str | None = None, token: str | None = None, config: Config | None = None,
                 timeout: float = 30.0) -> None:
        if url is None or token is None:
            config = config or load_config()
        self.url = (url or str(config["serviceUrl"])).rstrip("/")  # type: ignore[index]
        # An agent in the stack gets its own narrow token from its env file (BOSUN_SERVICE_TOKEN).
        env_token = os.environ.get("BOSUN_SERVICE_TOKEN") if token is None else None
        self.token = token if token is not None else env_token or self._read_token(config)  # type: ignore[arg-type]
        self.http = httpx.Client(base_url=self.url, timeout=timeout,
                                 limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SEC),
                                 headers={"Authorization": f"Bearer {self.token}"})

    @staticmethod
    def _read_token(config: Config) -> str:
        try:
            return config.token_file.read_text().strip()
        except OSError as exc:
            raise BosunError(f"cannot read the service token {config.token_file}: {exc.strerror}",
                             fix="start the service once (`bosun-local service run` or `bosun-local up`) so it "
                                 "writes the token, or set BOSUN_HOME to its data dir") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # transport
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; turn connection failures and 4xx/5xx answers into errors with the service's detail."""
        try:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.RemoteProtocolError:
                if method != "GET":
                    raise
                # A pooled connection the server closed as it was reused: a read is safe to send again, once.
                response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise BosunError(f"the MLOps service at {self.url} did not answer {method} {path} in time",
                             fix="check that it runs (`bosun-local service run` / `bosun-local up`)") from exc
        except httpx.TransportError as exc:
            raise BosunError(f"cannot reach the MLOps service at {self.url}: {exc}",
                             fix="start it with `bosun-local up` or `bosun-local service run`, or set serviceUrl "
                                 "(BOSUN_SERVICE_URL) to where it runs") from exc
        if response.status_code == 401:
            raise ServiceError(401, f"the MLOps service at {self.url} refused the token",
                               fix="use the token of the service's data dir (set BOSUN_HOME to it)")
        if response.status_code >= 400:
            message, _, fix = _detail(response).partition("; fix: ")
            raise ServiceError(response.status_code, message, fix or None)
        return response

    def _waiting(self, wait_sec: float) -> dict[str, Any]:
        """Return request options for a long poll: the read timeout covers the wait."""
        if not wait_sec:
            return {}
        t = self.http.timeout
        return {"timeout": httpx.Timeout(None, connect=t.connect, read=(t.read or 0) + wait_sec, write=t.write,
                                         pool=t.pool)}

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    # health
    def health(self) -> Json:
        """Return the open liveness answer."""
        return self._json("GET", "/health")

    # packages
    def register_package(self, path: Path | str, name: str | None = None,
                         training_data: Path | str | None = None) -> Json:
        """Upload a package directory (tarred here) or .tar.gz, with an optional training CSV."""
        path = Path(path)
        if path.is_dir():
            archive = tar_directory(path)
        elif path.is_file():
            archive = path.read_bytes()
        else:
            raise BosunError(f"model package {path} does not exist", fix="give a package directory or a .tar.gz of one")
        files: dict[str, Any] = {"archive": (path.name + ".tar.gz", archive, "application/gzip")}
        if training_data is not None:
            csv_path = Path(training_data)
            if not csv_path.is_file():
                raise BosunError(f"training data {csv_path} does not exist", fix="give the path of a CSV file")
            files["trainingData"] = (csv_path.name, csv_path.read_bytes(), "text/csv")
        data = {"name": name} if name else {}
        return self._json("POST", "/api/v1/packages", files=files, data=data, timeout=600)

    def claim_package_check(self, agent_id: str, wait_sec: float = 0) -> Json | None:
        """Claim a pending package check (run it in a sandbox), or None when there is none (a long poll if wait_sec)."""
        return self._json("POST", "/api/v1/packages/checks/claim", json={
            "agentId": agent_id, **({"waitSec": wait_sec} if wait_sec else {})}, **self._waiting(wait_sec))

    def post_package_check(self, package_id: str, result: Json) -> Json:
        """Post what a package's sandboxed check printed."""
        return self._json("POST", f"/api/v1/packages/{package_id}/check", json=result)

    def list_packages(self) -> list[Json]:
        """Return every registered package, newest first."""
        return self._json("GET", "/api/v1/packages")

    def get_package(self, ref: str) -> Json:
        """Return a package by id or name (the newest of that name)."""
        return self._json("GET", f"/api/v1/packages/{ref}")

    def package_baseline(self, ref: str) -> Json:
        """Return a package's drift baseline."""
        return self._json("GET", f"/api/v1/packages/{ref}/baseline")

    # environments
    def list_environments(self) -> list[Json]:
        """Return prediction environments."""
        return self._json("GET", "/api/v1/environments")

    def get_environment(self, ref: str) -> Json:
        """Return an environment by id or name."""
        return self._json("GET", f"/api/v1/environments/{ref}")

    def create_environment(self, name: str, platform: str, plugin_config: Json | None = None,
                           command: str | None = None, description: str = "") -> Json:
        """Create a prediction environment."""
        return self._json("POST", "/api/v1/environments", json={
            "name": name, "platform": platform, "pluginConfig": plugin_config or {}, "command": command,
            "description": description})

    def update_environment(self, ref: str, **changes: Any) -> Json:
        """Change an environment's description, pluginConfig or command."""
        return self._json("PATCH", f"/api/v1/environments/{ref}", json=changes)

    def delete_environment(self, ref: str) -> None:
        """Delete an environment no live deployment uses."""
        self.request("DELETE", f"/api/v1/environments/{ref}")

    def environment_health(self) -> dict[str, Json]:
        """Return the environment stack's components as last reported: `{name: {status, detail, updatedAt}}`."""
        return self._json("GET", "/api/v1/environment")

    def report_component(self, component: str, status: str, detail: str = "", data: Json | None = None,
                         agent_id: str | None = None) -> Json:
        """Report the status of an environment component such as traefik or rabbitmq."""
        params = {"agentId": agent_id} if agent_id else None
        return self._json("PUT", f"/api/v1/environment/{component}", params=params,
                          json={"status": status, "detail": detail, "data": data or {}})

    # deployments
    def create_deployment(self, package: str, name: str, environment: str | None = None, description: str = "",
                          key_value_config: Json | None = None, external: bool = False) -> Json:
        """Create a deployment; returns `{deployment, action}` (action is None for external ones)."""
        return self._json("POST", "/api/v1/deployments", json={
            "packageId": package, "name": name, "environmentId": environment, "description": description,
            "keyValueConfig": key_value_config or {}, "external": external})

    def list_deployments(self, include_deleted: bool = False) -> list[Json]:
        """Return deployments (deleted ones only when asked)."""
        return self._json("GET", "/api/v1/deployments", params={"includeDeleted": str(include_deleted).lower()})

    def get_deployment(self, ref: str) -> Json:
        """Return a deployment by id or name."""
        return self._json("GET", f"/api/v1/deployments/{ref}")

    def replace_model(self, ref: str, package: str) -> Json:
        """Queue a model replacement; returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/replace-model", json={"packageId": package})

    def scale_deployment(self, ref: str, replicas: int, reason: str | None = None,
                         detail: Json | None = None) -> Json:
        """Queue a change of a deployment's replicas; returns `{deployment, action, coalesced}`."""
        body: Json = {"replicas": replicas, "reason": reason, "detail": detail}
        return self._json("POST", f"/api/v1/deployments/{ref}/scale", json=body)

    def model_history(self, ref: str) -> list[Json]:
        """Return every model the deployment has served, oldest first."""
        return self._json("GET", f"/api/v1/deployments/{ref}/history")

    def rollback(self, ref: str, to: str | None = None) -> Json:
        """Queue a rollback to the previous model (or `to`); returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/rollback", json={"to": to})

    def challengers(self, ref: str) -> list[Json]:
        """Return the deployment's challengers."""
        return self._json("GET", f"/api/v1/deployments/{ref}/challengers")

    def add_challenger(self, ref: str, package: str, feed: str | None = None) -> Json:
        """Queue a challenger (feed: replay or mirror; None: the deployment's default); returns `{deployment, ...}`."""
        body = {"packageId": package, **({"feed": feed} if feed else {})}
        return self._json("POST", f"/api/v1/deployments/{ref}/challengers", json=body)

    def remove_challenger(self, ref: str, model: str) -> Json:
        """Queue a challenger's removal; returns `{deployment, action, coalesced}`."""
        return self._json("DELETE", f"/api/v1/deployments/{ref}/challengers/{model}")

    def promote_challenger(self, ref: str, model: str) -> Json:
        """Queue a challenger's promotion; returns `{deployment, action, coalesced}` (action: the replacement)."""
        return self._json("POST", f"/api/v1/deployments/{ref}/challengers/{model}/promote")

    def canary(self, ref: str) -> Json:
        """Return the deployment's canary, its health and applied share."""
        return self._json("GET", f"/api/v1/deployments/{ref}/canary")

    def start_canary(self, ref: str, package: str, percent: int, step: int | None = None,
                     interval: str = "5m") -> Json:
        """Start a canary; returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/canary", json={
            "packageId": package, "percent": percent, "step": step, "interval": interval})

    def promote_canary(self, ref: str) -> Json:
        """Promote the canary; returns `{deployment, action, coalesced}` (action: the replacement)."""
        return self._json("POST", f"/api/v1/deployments/{ref}/canary/promote")

    def abort_canary(self, ref: str) -> Json:
        """Abort the canary; returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/canary/abort")

    def compare(self, ref: str, window: int = 3600) -> Json:
        """Return champion vs challengers and canary side by side."""
        return self._json("GET", f"/api/v1/deployments/{ref}/compare", params={"window": window})

    def stop_deployment(self, ref: str) -> Json:
        """Queue a stop; returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/stop")

    def start_deployment(self, ref: str) -> Json:
        """Queue a start; returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/start")

    def relaunch_deployment(self, ref: str) -> Json:
        """Queue a relaunch; returns `{deployment, action, coalesced}`."""
        return self._json("POST", f"/api/v1/deployments/{ref}/relaunch")

    def delete_deployment(self, ref: str) -> Json:
        """Queue a delete; returns `{deployment, action, coalesced}` (no action for external deployments)."""
        return self._json("DELETE", f"/api/v1/deployments/{ref}")

    def update_deployment_status(self, deployment_id: str, state: str | None = None, health_status: str | None = None,
                                 prediction_url: str | None = None, message: str | None = None) -> Json:
        """Report an agent's observation of a deployment (the service records changes only)."""
        body = {k: v for k, v in {"state": state, "healthStatus": health_status, "predictionUrl": prediction_url,
                                  "message": message}.items() if v is not None}
        return self._json("PATCH", f"/api/v1/deployments/{deployment_id}/status", json=body)

    def action_config(self, deployment_id: str, action_type: str, action_id: str | None = None) -> Json:
        """Return `{pluginConfig, peInfo, deploymentInfo}` for running an action's plugin."""
        params = {"actionType": action_type, **({"actionId": action_id} if action_id else {})}
        return self._json("GET", f"/api/v1/deployments/{deployment_id}/action-config", params=params)

    def baseline(self, deployment_id: str) -> Json | None:
        """Return the drift baseline of a deployment's current model, None when it has no training data."""
        try:
            return self._json("GET", f"/api/v1/deployments/{deployment_id}/baseline")
        except ServiceError as exc:
            if exc.status_code == 404 and "training data" in exc.message:
                return None
            raise

    def stats(self, deployment_id: str, window: int = 3600) -> Json:
        """Return service-health and drift figures over the last `window` seconds."""
        return self._json("GET", f"/api/v1/deployments/{deployment_id}/stats", params={"window": window})

    def upload_actuals(self, deployment: str, actuals: list[Json], model_id: str | None = None) -> Json:
        """Store actuals ({associationId, actualValue, timestamp?, wasActedOn?}) of a deployment; return counts."""
        body: Json = {"data": actuals, **({"modelId": model_id} if model_id else {})}
        return self._json("POST", f"/api/v1/deployments/{deployment}/actuals", json=body)

    def all_stats(self, window: int = 3600) -> list[Json]:
        """Return the stats of every live deployment in one call."""
        return self._json("GET", "/api/v1/stats", params={"window": window})["deployments"]

    # actions
    def list_actions(self, deployment_id: str | None = None, status: Iterable[str] = (),
                     limit: int = 200) -> list[Json]:
        """Return actions, newest first."""
        params: dict[str, Any] = {"limit": limit, "status": list(status)}
        if deployment_id:
            params["deploymentId"] = deployment_id
        return self._json("GET", "/api/v1/actions", params=params)

    def get_action(self, action_id: str) -> Json:
        """Return an action."""
        return self._json("GET", f"/api/v1/actions/{action_id}")

    def claim_action(self, agent_id: str, lease_sec: float = 60, environment: str | None = None,
                     wait_sec: float = 0) -> Json | None:
        """Claim the next runnable action with a lease (of one environment if given), or None when there is none.

        wait_sec > 0: a long poll; the service answers as soon as an action is claimable, or after wait_sec.
        """
        body = {"agentId": agent_id, "leaseSec": lease_sec, **({"environmentId": environment} if environment else {}),
                **({"waitSec": wait_sec} if wait_sec else {})}
        response = self.request("POST", "/api/v1/actions/claim", json=body, **self._waiting(wait_sec))
        return None if response.status_code == 204 else response.json()

    def renew_action(self, action_id: str, agent_id: str, lease_sec: float = 60) -> Json:
        """Extend the lease of a claimed action."""
        return self._json("POST", f"/api/v1/actions/{action_id}/renew",
                          json={"agentId": agent_id, "leaseSec": lease_sec})

    def release_actions(self, agent_id: str) -> list[Json]:
        """Make the actions this agent id still holds claimable now (a restarted agent resumes its own work)."""
        return self._json("POST", "/api/v1/actions/release", json={"agentId": agent_id})

    def complete_action(self, action_id: str, agent_id: str, status_info: Json) -> Json:
        """Finish a claimed action with an ActionStatusInfo dict (status, msg, state, duration, timestamp, data)."""
        return self._json("POST", f"/api/v1/actions/{action_id}/complete",
                          json={"agentId": agent_id, "statusInfo": status_info})

    def wait_for_action(self, action_id: str, timeout: float = 600, poll: float = 0.5,
                        on_poll: Callable[[Json], None] | None = None) -> Json:
        """Poll an action until it is done or failed; BosunError when the timeout passes first."""
        deadline = time.monotonic() + timeout
        while True:
            action = self.get_action(action_id)
            if on_poll:
                on_poll(action)
            if action["status"] in FINISHED_ACTION:
                return action
            if time.monotonic() >= deadline:
                raise BosunError(f"action {action_id} ({action['type']}) is still {action['status']} after "
                                 f"{timeout:g}s", fix="check that the management agent runs (`bosun-local events`)")
            time.sleep(poll)

    # events
    def post_event(self, type_: str, status: str, message: str, deployment_id: str | None = None,
                   environment_id: str | None = None, data: Json | None = None, time_: str | None = None) -> Json:
        """Record an event."""
        body = {"type": type_, "status": status, "message": message, "deploymentId": deployment_id,
                "environmentId": environment_id, "data": data or {}}
        if time_:
            body["time"] = time_
        return self._json("POST", "/api/v1/events", json=body)

    @staticmethod
    def _event_params(deployment: str | None, types: Iterable[str], statuses: Iterable[str], since: str | None,
                      until: str | None, search: str | None, limit: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"type": list(types), "status": list(statuses)}
        for key, value in (("deploymentId", deployment), ("since", since), ("until", until), ("search", search),
                           ("limit", limit)):
            if value is not None:
                params[key] = value
        return params

    def list_events(self, deployment: str | None = None, types: Iterable[str] = (), statuses: Iterable[str] = (),
                    since: str | None = None, until: str | None = None, search: str | None = None,
                    limit: int | None = None) -> list[Json]:
        """Return events, newest first; since/until take ISO times or ages like `1h`."""
        return self._json("GET", "/api/v1/events",
                          params=self._event_params(deployment, types, statuses, since, until, search, limit))

    def export_events(self, fmt: str = "json", deployment: str | None = None, types: Iterable[str] = (),
                      statuses: Iterable[str] = (), since: str | None = None, until: str | None = None,
                      search: str | None = None) -> str:
        """Return matching events, oldest first, as JSON or CSV text."""
        params = self._event_params(deployment, types, statuses, since, until, search, None)
        return self.request("GET", "/api/v1/events/export", params={**params, "format": fmt}).text

    def purge_events(self, older_than_days: float | None = None) -> Json:
        """Run the retention purge now; returns `{removed}`."""
        return self._json("POST", "/api/v1/events/purge", json={"olderThanDays": older_than_days})

    # agents
    def heartbeat(self, agent_id: str, kind: str, data: Json | None = None) -> Json:
        """Report that an agent is alive."""
        return self._json("POST", "/api/v1/agents/heartbeat",
                          json={"agentId": agent_id, "kind": kind, "data": data or {}})

    def agent_snapshot(self) -> Json:
        """Return environments, deployments (deleted too) and the ids of deployments with open actions."""
        return self._json("GET", "/api/v1/agents/snapshot")

    def list_agents(self) -> list[Json]:
        """Return agents with their last heartbeat and whether they are online."""
        return self._json("GET", "/api/v1/agents")

    # notifications
    def list_notifications(self) -> list[Json]:
        """Return webhook notification rules."""
        return self._json("GET", "/api/v1/notifications")

    def create_notification(self, url: str, name: str = "", types: Iterable[str] = (), statuses: Iterable[str] = (),
                            deployment_id: str | None = None) -> Json:
        """Create a webhook rule (empty filters match everything)."""
        return self._json("POST", "/api/v1/notifications", json={
            "url": url, "name": name, "types": list(types), "statuses": list(statuses), "deploymentId": deployment_id})

    def get_notification(self, rule_id: str) -> Json:
        """Return a notification rule."""
        return self._json("GET", f"/api/v1/notifications/{rule_id}")

    def delete_notification(self, rule_id: str) -> None:
        """Delete a notification rule."""
        self.request("DELETE", f"/api/v1/notifications/{rule_id}")

    # monitoring
    def ingest(self, records: list[Json]) -> Json:
        """Store monitoring records (one transaction); returns `{stored, duplicates}`."""
        # A batch of 500 records of 1000 rows can take over 30 s on a loaded host; a post that times out is sent
        # again whole (the service dedups, but the work is done twice), so wait longer than for other calls.
        # orjson: entries carry long columns (association ids, predictions) that json.dumps encodes 5x slower.
        body = orjson.dumps({"records": records}, option=orjson.OPT_SERIALIZE_NUMPY)
        return self._json("POST", "/api/v1/monitoring/ingest", content=body,
                          headers={"Content-Type": "application/json"}, timeout=180)

    # settings
    def get_settings(self) -> Json:
        """Return service settings (health and drift thresholds, event retention)."""
        return self._json("GET", "/api/v1/settings")

    def update_settings(self, **changes: Any) -> Json:
        """Change service settings."""
        return self._json("PATCH", "/api/v1/settings", json=changes)
