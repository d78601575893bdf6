"""RABBITMQ settings: the reporting library's MLOPS_RABBITMQ_* variables and the agents' RABBITMQ_SPOOL channel."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bosun_local.configkit.env import Setting
from bosun_local.contracts.rabbitmq import DEFAULT_QUEUE, dead_letter_queue, masked_url

SETTINGS = (
    Setting("MLOPS_RABBITMQ_QUEUE_URL", str, None, "amqp://user:pass@host:5672/vhost of the RABBITMQ spooler",
            legacy_names=("MLOPS_RABBITMQ_URL",), aliases=("QUEUE_URL",)),
    Setting("MLOPS_RABBITMQ_QUEUE_NAME", str, DEFAULT_QUEUE, "durable queue the records are published to",
            aliases=("QUEUE_NAME",)),
    Setting("MLOPS_RABBITMQ_MAX_IN_FLIGHT", int, 1000, "published records awaiting a broker confirm"),
    Setting("MLOPS_RABBITMQ_EXCHANGE", str, None, "publish to this exchange (bosun-local deployments: bosun.pps) "
            "instead of straight to the queue"),
    Setting("MLOPS_RABBITMQ_ROUTING_KEY", str, None, "routing key on MLOPS_RABBITMQ_EXCHANGE (a deployment's id: "
            "the broker lets its user publish only that one)"),
    Setting("MLOPS_RABBITMQ_RECONNECT_MAX_SEC", float, 10.0, "longest wait between reconnect attempts"),
    Setting("MLOPS_RABBITMQ_SSL_CA_CERTIFICATE_PATH", str, None, "CA certificate for RabbitMQ TLS"),
    Setting("MLOPS_RABBITMQ_SSL_CERTIFICATE_PATH", str, None, "client certificate for RabbitMQ mTLS"),
    Setting("MLOPS_RABBITMQ_SSL_KEYFILE_PATH", str, None, "client key for RabbitMQ mTLS"),
    Setting("MLOPS_RABBITMQ_SSL_TLS_VERSION", str, None, "TLS version for RabbitMQ (e.g. TLSv1.2)"),
)


@dataclass(frozen=True)
class RabbitChannelConfig:
    """A RABBITMQ_SPOOL channel: one durable queue."""

    spooler_type: ClassVar[str] = "RABBITMQ"
    queue_url: str
    queue_name: str
    name: str = "rabbit"

    @property
    def dead_letter_queue(self) -> str:
        """Return the queue rejected records are set aside in."""
        return dead_letter_queue(self.queue_name)

    def describe(self) -> str:
        """Return the channel for logs, without credentials."""
        return f"RabbitMQ queue {self.queue_name!r} at {masked_url(self.queue_url).split('@')[-1]}"
