"""The RabbitMQ spool's URL and queue names: one builder for every component."""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

DEFAULT_VHOST = "/"
DEFAULT_QUEUE = "mlops"
# The broker's name and port on the environment stack's Docker network.
NETWORK_HOST = "rabbitmq"
AMQP_PORT = 5672
DEAD_LETTER_SUFFIX = ".dead"
# Deployments publish through this topic exchange (bound to the spool queue), each as its own broker user whose
# topic permission allows only its own deployment id as routing key: the monitoring agent then trusts a record's
# deployment only when it matches the routing key the broker let through.
PPS_EXCHANGE = "bosun.pps"
PPS_USER_PREFIX = "pps-"
# The shared PPS pool's user: allowed the routing keys of the deployments it serves.
POOL_USER_PREFIX = "pool-"


def amqp_url(user: str, password: str, host: str, port: int = AMQP_PORT, vhost: str = DEFAULT_VHOST) -> str:
    """Return an amqp:// URL; credentials and vhost are percent-encoded (the default vhost is %2F)."""
    creds = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"amqp://{creds}@{host}:{port}/{quote(vhost, safe='')}"


def masked_url(url: str) -> str:
    """Return the URL with its password hidden, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def dead_letter_queue(queue_name: str) -> str:
    """Return the dead-letter queue name of a queue (``<queue>.dead``)."""
    return queue_name + DEAD_LETTER_SUFFIX
