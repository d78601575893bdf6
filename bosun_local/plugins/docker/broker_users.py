"""One RabbitMQ user per deployment, allowed only to publish its own records (through the management HTTP API).

A deployment runs model code, so its container must not hold the broker's administrator login: with it, one
deployment could forge another's figures, read or purge every queue. Its own user may write only to the
`bosun.pps` topic exchange, only with its deployment id as routing key, and read or configure nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import quote, urlsplit

import httpx

from bosun_local.contracts.rabbitmq import PPS_EXCHANGE, PPS_USER_PREFIX, amqp_url
from bosun_local.errors import BosunError

VHOST = "%2F"


def pps_user(deployment_id: str) -> str:
    """Return the broker user of a deployment."""
    return PPS_USER_PREFIX + deployment_id


def pps_password(admin_url: str, deployment_id: str) -> str:
    """Return a deployment's broker password: derived from the admin's, so re-renders never rotate it."""
    secret = (urlsplit(admin_url).password or "").encode()
    return hmac.new(secret, f"pps:{deployment_id}".encode(), hashlib.sha256).hexdigest()


def pps_url(network_admin_url: str, deployment_id: str) -> str:
    """Return the AMQP URL a deployment's container reports with (same broker, its own user)."""
    parts = urlsplit(network_admin_url)
    vhost = parts.path.lstrip("/") or VHOST
    return amqp_url(pps_user(deployment_id), pps_password(network_admin_url, deployment_id),
                    parts.hostname or "rabbitmq", parts.port or 5672).rsplit("/", 1)[0] + "/" + vhost


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
        user = quote(pps_user(deployment_id), safe="")
        self._call("PUT", f"/exchanges/{VHOST}/{PPS_EXCHANGE}", {"type": "topic", "durable": True})
        self._call("PUT", f"/queues/{VHOST}/{quote(self.queue_name, safe='')}", {"durable": True})
        self._call("POST", f"/bindings/{VHOST}/e/{PPS_EXCHANGE}/q/{quote(self.queue_name, safe='')}",
                   {"routing_key": "#"})
        self._call("PUT", f"/users/{user}", {"password": pps_password(self.admin_url, deployment_id), "tags": ""})
        self._call("PUT", f"/permissions/{VHOST}/{user}",
                   {"configure": "^$", "write": f"^{re.escape(PPS_EXCHANGE)}$", "read": "^$"})
        self._call("PUT", f"/topic-permissions/{VHOST}/{user}",
                   {"exchange": PPS_EXCHANGE, "write": f"^{re.escape(deployment_id)}$", "read": "^$"})

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
