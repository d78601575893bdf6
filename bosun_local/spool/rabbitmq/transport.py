"""The RABBITMQ transport: MLOPS_SPOOLER_TYPE=RABBITMQ writers, RABBITMQ_SPOOL readers."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bosun_local.contracts.rabbitmq import DEFAULT_QUEUE
from bosun_local.errors import ConfigError
from bosun_local.spool.channel import Channel
from bosun_local.spool.rabbitmq.config import SETTINGS, RabbitChannelConfig
from bosun_local.spool.rabbitmq.reader import RabbitSource, queue_stats
from bosun_local.spool.rabbitmq.writer import RabbitMQChannel
from bosun_local.spool.source import Source
from bosun_local.spool.transport import ChannelConfig, MissingSpoolSetting, QueueStats, Transport


class RabbitMQTransport(Transport):
    """One durable queue shared by many agents; publisher confirms, multi-ack, `<queue>.dead`."""

    spooler_type = "RABBITMQ"
    legacy_names = ("RABBIT_MQ",)
    channel_type = "RABBITMQ_SPOOL"
    settings = SETTINGS
    max_message_bytes = 50 << 20

    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return a channel publishing to the queue with confirms."""
        url = settings["MLOPS_RABBITMQ_QUEUE_URL"]
        if not url:
            raise MissingSpoolSetting(
                "the RABBITMQ spooler has no queue URL",
                fix="call set_rabbitmq_spooler(queue_url) or set MLOPS_RABBITMQ_QUEUE_URL (amqp://user:pass@host:5672/)",
            )
        return RabbitMQChannel(
            url,
            settings["MLOPS_RABBITMQ_QUEUE_NAME"],
            max_in_flight=settings["MLOPS_RABBITMQ_MAX_IN_FLIGHT"],
            reconnect_max_sec=settings["MLOPS_RABBITMQ_RECONNECT_MAX_SEC"],
            exchange=settings.get("MLOPS_RABBITMQ_EXCHANGE"),
            # Through the exchange without a routing key of its own (the shared pool: one client per deployment),
            # a client publishes with its deployment's id, the key the broker checks against its user.
            routing_key=settings.get("MLOPS_RABBITMQ_ROUTING_KEY") or (
                settings.get("MLOPS_DEPLOYMENT_ID") if settings.get("MLOPS_RABBITMQ_EXCHANGE") else None),
        )

    def channel_config(self, details: Mapping[str, Any], name: str, where: str) -> ChannelConfig:
        """Return the RABBITMQ_SPOOL channel of details.queueUrl and details.queueName."""
        url, queue = details.get("queueUrl"), details.get("queueName")
        if not url or not queue:
            raise ConfigError(f"{where} (RABBITMQ_SPOOL) needs details.queueUrl and details.queueName",
                              fix="e.g. queueUrl: amqp://user:pass@127.0.0.1:5672/%2F, queueName: mlops")
        return RabbitChannelConfig(str(url), str(queue), name)

    def channel_config_from_env(self, env: Mapping[str, str], current: ChannelConfig | None) -> ChannelConfig:
        """Return the channel of MLOPS_RABBITMQ_QUEUE_URL/_NAME, filling gaps from the current channel."""
        before = current if isinstance(current, RabbitChannelConfig) else None
        url = env.get("MLOPS_RABBITMQ_QUEUE_URL") or (before.queue_url if before else "")
        queue = env.get("MLOPS_RABBITMQ_QUEUE_NAME") or (before.queue_name if before else DEFAULT_QUEUE)
        if not url:
            raise ConfigError("MLOPS_SPOOLER_TYPE=RABBITMQ but MLOPS_RABBITMQ_QUEUE_URL is not set",
                              fix="set MLOPS_RABBITMQ_QUEUE_URL=amqp://user:pass@host:5672/%2F")
        return RabbitChannelConfig(url, queue)

    def source(self, config: ChannelConfig, prefetch: int) -> Source:
        """Open a consumer of the queue with a prefetch window."""
        assert isinstance(config, RabbitChannelConfig)
        return RabbitSource(config, prefetch)

    def stats(self, config: ChannelConfig, timeout_sec: float = 5.0) -> QueueStats:
        """Return the queue's ready messages and consumers (zeros before it exists)."""
        assert isinstance(config, RabbitChannelConfig)
        return queue_stats(config.queue_url, config.queue_name, timeout_sec)


RABBITMQ = RabbitMQTransport()
