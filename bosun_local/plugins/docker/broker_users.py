"""One RabbitMQ user per deployment, allowed only to publish its own records (through the management HTTP API).

A deployment runs model code, so its container must not hold the broker's administrator login: with it, one
deployment could forge another's figures, read or purge every queue. Its own user may write only to the
`bosun.pps` topic exchange, only with its deployment id as routing key, and read or configure nothing.
The shared PPS pool serves many deployments: its one user may publish with the routing keys of exactly the
deployments it serves at the moment (a list kept beside the pool's compose file and set on every change).
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from bosun_local.contracts.rabbitmq import POOL_USER_PREFIX, PPS_EXCHANGE, PPS_USER_PREFIX, amqp_url
from bosun_local.errors import BosunError

VHOST = "%2F"


def pps_user(deployment_id: str) -> str:
    """Return the broker user of a deployment."""
    return PPS_USER_PREFIX + deployment_id


def pps_password(admin_url: str, deployment_id: str) -> str:
    """Return a deployment's broker password: derived from the admin's, so re-renders never rotate it."""
    secret = (urlsplit(admin_url).password or "").encode()
    return hmac.new(secret, f"pps:{deployment_id}".encode(), hashlib.sha256).hexdigest()


def pool_user(pool_name: str) -> str:
    """Return the broker user of a shared PPS pool."""
    return POOL_USER_PREFIX + pool_name


def _url(network_admin_url: str, user: str, password: str) -> str:
    parts = urlsplit(network_admin_url)
    vhost = parts.path.lstrip("/") or VHOST
    return amqp_url(user, password, parts.hostname or "rabbitmq", parts.port or 5672).rsplit("/", 1)[0] + "/" + vhost


def pps_url(network_admin_url: str, deployment_id: str) -> str:
    """Return the AMQP URL a deployment's container reports with (same broker, its own user)."""
    return _url(network_admin_url, pps_user(deployment_id), pps_password(network_admin_url, deployment_id))


def pool_url(network_admin_url: str, pool_name: str) -> str:
    """Return the AMQP URL the shared pool's replicas report with (same broker, the pool's own user)."""
    return _url(network_admin_url, pool_user(pool_name), pps_password(network_admin_url, f"pool:{pool_name}"))


class BrokerUsers:
    """Creates and removes deployments' broker users with the administrator login."""

    def __init__(self, management_url: str, admin_url: str, queue_name: str, timeout_sec: float = 10.0) -> None:
        parts = urlsplit(admin_url)
        self.admin_url = admin_url
        self.queue_name = queue_name
        self.http = httpx.Client(base_url=management_url.rstrip("/") + "/api", timeout=timeout_sec,
                                 auth=(parts.username or "", parts.password or ""))

    def _call(self, method: str, path: str, json: object | None = None) -> None:
        try:
            response = self.http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise BosunError(f"RabbitMQ management API {self.http.base_url}{path}: {exc}",
                             fix="check that the environment's RabbitMQ runs (`bosun-local status`)") from exc
        if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
            raise BosunError(f"RabbitMQ management API {method} {path} answered {response.status_code}: "
                             f"{response.text[:300]}", fix="check the broker's administrator credentials")

    def ensure(self, deployment_id: str) -> None:
        """Create (or reset) the deployment's user with publish-only rights on its own routing key."""
        self._ensure_user(pps_user(deployment_id), pps_password(self.admin_url, deployment_id), [deployment_id])

    def ensure_pool(self, pool_name: str, deployment_ids: Iterable[str]) -> None:
        """Create (or reset) the pool's user, allowed to publish for exactly these deployments."""
        self._ensure_user(pool_user(pool_name), pps_password(self.admin_url, f"pool:{pool_name}"), deployment_ids)

    def allow(self, user_name: str, deployment_ids: Iterable[str]) -> None:
        """Set the routing keys (deployment ids) a publish-only user may use; none at all when empty."""
        ids = sorted(set(deployment_ids))
        pattern = f"^(?:{'|'.join(re.escape(i) for i in ids)})$" if ids else "^$"
        self._call("PUT", f"/topic-permissions/{VHOST}/{quote(user_name, safe='')}",
                   {"exchange": PPS_EXCHANGE, "write": pattern, "read": "^$"})

    def _ensure_user(self, user_name: str, password: str, deployment_ids: Iterable[str]) -> None:
        user = quote(user_name, safe="")
        self._call("PUT", f"/exchanges/{VHOST}/{PPS_EXCHANGE}", {"type": "topic", "durable": True})
        self._call("PUT", f"/queues/{VHOST}/{quote(self.queue_name, safe='')}", {"durable": True})
        self._call("POST", f"/bindings/{VHOST}/e/{PPS_EXCHANGE}/q/{quote(self.queue_name, safe='')}",
                   {"routing_key": "#"})
        self._call("PUT", f"/users/{user}", {"password": password, "tags": ""})
        self._call("PUT", f"/permissions/{VHOST}/{user}",
                   {"configure": "^$", "write": f"^{re.escape(PPS_EXCHANGE)}$", "read": "^$"})
        self.allow(user_name, deployment_ids)

    def remove(self, deployment_id: str) -> None:
        """Delete the deployment's user (its open connections close)."""
        self._call("DELETE", f"/users/{quote(pps_user(deployment_id), safe='')}")

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


def ensure_for(settings: dict[str, object], deployment_id: str) -> None:
    """Create a deployment's broker user when the plugin is told the management API (the agent always is)."""
    management = str(settings.get("rabbitmqManagementUrl") or "")
    if not settings.get("monitoringEnabled") or not management:
        return
    users = BrokerUsers(management, str(settings["rabbitmqStatsUrl"]), str(settings["rabbitmqQueueName"]))
    try:
        users.ensure(deployment_id)
    finally:
        users.close()


def remove_for(settings: dict[str, object], deployment_id: str) -> None:
    """Delete a deployment's broker user (best effort: a broker that is down has no connections to close)."""
    management = str(settings.get("rabbitmqManagementUrl") or "")
    if not management:
        return
    users = BrokerUsers(management, str(settings["rabbitmqStatsUrl"]), str(settings["rabbitmqQueueName"]))
    try:
        users.remove(deployment_id)
    except BosunError:
        pass
    finally:
        users.close()


_pool_lock = threading.Lock()


class PoolAllowList:
    """The deployments the pool's broker user may publish for, kept in a file so concurrent actions (and agents)
    add and remove ids without losing each other's; every change is set on the broker under the same lock."""

    def __init__(self, settings: dict[str, object], pool_name: str, directory: Path) -> None:
        self.settings = settings
        self.pool_name = pool_name
        self.path = directory / "broker-allowed.json"

    def _users(self) -> BrokerUsers | None:
        management = str(self.settings.get("rabbitmqManagementUrl") or "")
        if not self.settings.get("monitoringEnabled") or not management:
            return None
        return BrokerUsers(management, str(self.settings["rabbitmqStatsUrl"]), str(self.settings["rabbitmqQueueName"]))

    def reset(self, deployment_ids: Iterable[str]) -> None:
        """Create or reset the pool's user, allowed exactly these deployments (at the pool's start)."""
        self._change(lambda _ids: set(deployment_ids), create=True)

    def add(self, deployment_id: str) -> None:
        """Allow one more deployment (before its dir is put in place, so its first records are accepted)."""
        self._change(lambda ids: ids | {deployment_id})

    def remove(self, deployment_id: str) -> None:
        """Take a deployment away (after the pool stopped serving it)."""
        self._change(lambda ids: ids - {deployment_id})

    def _change(self, update: Callable[[set[str]], set[str]], create: bool = False) -> None:
        users = self._users()
        if users is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with _pool_lock, open(self.path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    current = set(json.loads(self.path.read_text()))
                except (OSError, ValueError):
                    current, create = set(), True
                wanted = set(update(current))
                if create:
                    users.ensure_pool(self.pool_name, wanted)
                elif wanted != current:
                    users.allow(pool_user(self.pool_name), wanted)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(sorted(wanted)))
                tmp.chmod(0o600)
                tmp.replace(self.path)
        finally:
            users.close()
