"""The SQS transport: MLOPS_SPOOLER_TYPE=SQS writers, SQS_SPOOL readers (boto3, imported when used)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bosun_local.configkit.env import parse_int
from bosun_local.errors import ConfigError
from bosun_local.spool.channel import Channel
from bosun_local.spool.source import Source
from bosun_local.spool.sqs.config import DEFAULT_RECEIVERS, SETTINGS, SqsChannelConfig
from bosun_local.spool.sqs.queues import DEFAULT_VISIBILITY_SEC, check_url
from bosun_local.spool.transport import ChannelConfig, MissingSpoolSetting, QueueStats, Transport

# datarobot-mlops sizes records for SQS to this many bytes (a message may hold 256 KiB).
SQS_MAX_MESSAGE_BYTES = 256_000


def _queue_url(url: str | None, name: str | None, where: str) -> str:
    """Return the queue URL, looking a queue name up with boto3's defaults (as datarobot-mlops does)."""
    if url:
        return check_url(url, where)
    if not name:
        raise MissingSpoolSetting(f"{where}: the SQS spooler has no queue",
                                  fix="call set_sqs_spooler(queue_url) or set MLOPS_SQS_QUEUE_URL")
    import boto3

    try:
        return str(boto3.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
    except Exception as exc:  # botocore's errors: no credentials, no region, no such queue
        raise ConfigError(f"{where}: cannot find SQS queue {name!r}: {exc}",
                          fix="give the queue URL instead (MLOPS_SQS_QUEUE_URL / details.queueUrl)") from exc


def _receivers(raw: Any, where: str) -> int:
    value = parse_int(str(raw), "receivers", where, minimum=1, example=DEFAULT_RECEIVERS)
    if value > 16:
        raise ConfigError(f"{where}: receivers {value} is more than 16 parallel ReceiveMessage calls",
                          fix="use 1 to 16 (each call returns up to 10 messages)")
    return value


def _visibility(raw: Any, where: str) -> int:
    value = parse_int(str(raw), "visibilityTimeoutSec", where, minimum=1, example=DEFAULT_VISIBILITY_SEC)
    if value > 43200:
        raise ConfigError(f"{where}: visibilityTimeoutSec {value} exceeds SQS's 43200", fix="use e.g. 120")
    return value


class SqsTransport(Transport):
    """One SQS queue shared by many agents; visibility timeout, delete after store, redrive dead-letter queue."""

    spooler_type = "SQS"
    channel_type = "SQS_SPOOL"
    settings = SETTINGS
    max_message_bytes = SQS_MAX_MESSAGE_BYTES

    def writer(self, settings: Mapping[str, Any], batch_size: int) -> Channel | None:
        """Return a channel sending packed records to the queue."""
        from bosun_local.spool.sqs.writer import SqsChannel

        url = _queue_url(settings["MLOPS_SQS_QUEUE_URL"], settings["MLOPS_SQS_QUEUE_NAME"], "the SQS spooler")
        return SqsChannel(url, records_per_message=settings["MLOPS_SQS_MAX_RECORDS_PER_MESSAGE"],
                          batch_size=batch_size, compress=settings["MLOPS_SQS_COMPRESS"])

    def channel_config(self, details: Mapping[str, Any], name: str, where: str) -> ChannelConfig:
        """Return the SQS_SPOOL channel of details.queueUrl (and visibilityTimeoutSec, receivers)."""
        url = details.get("queueUrl")
        if not url:
            raise ConfigError(f"{where} (SQS_SPOOL) needs details.queueUrl",
                              fix="e.g. queueUrl: http://127.0.0.1:4566/000000000000/mlops")
        visibility = _visibility(details.get("visibilityTimeoutSec", DEFAULT_VISIBILITY_SEC), where)
        receivers = _receivers(details.get("receivers", DEFAULT_RECEIVERS), where)
        return SqsChannelConfig(check_url(str(url), where), name, visibility, receivers)

    def channel_config_from_env(self, env: Mapping[str, str], current: ChannelConfig | None) -> ChannelConfig:
        """Return the channel of MLOPS_SQS_QUEUE_URL (or _NAME), MLOPS_SQS_VISIBILITY_TIMEOUT_SEC, _RECEIVERS."""
        before = current if isinstance(current, SqsChannelConfig) else None
        url = env.get("MLOPS_SQS_QUEUE_URL") or (before.queue_url if before else None)
        url = _queue_url(url, env.get("MLOPS_SQS_QUEUE_NAME"), "MLOPS_SPOOLER_TYPE=SQS")
        raw = env.get("MLOPS_SQS_VISIBILITY_TIMEOUT_SEC") or (before.visibility_timeout_sec if before else
                                                              DEFAULT_VISIBILITY_SEC)
        receivers = env.get("MLOPS_SQS_RECEIVERS") or (before.receivers if before else DEFAULT_RECEIVERS)
        return SqsChannelConfig(url, "sqs", _visibility(raw, "MLOPS_SQS_VISIBILITY_TIMEOUT_SEC"),
                                _receivers(receivers, "MLOPS_SQS_RECEIVERS"))

    def source(self, config: ChannelConfig, prefetch: int) -> Source:
        """Open a reader of the queue."""
        from bosun_local.spool.sqs.reader import SqsSource

        assert isinstance(config, SqsChannelConfig)
        return SqsSource(config, prefetch)

    def stats(self, config: ChannelConfig, timeout_sec: float = 5.0) -> QueueStats:
        """Return the queue's approximate visible messages and the messages in flight (held by agents)."""
        from bosun_local.spool.sqs.queues import make_client, queue_stats

        assert isinstance(config, SqsChannelConfig)
        stats = queue_stats(config.queue_url, make_client(config.queue_url, timeout_sec))
        # SQS does not count readers; messages in flight are the closest sign of agents at work.
        return QueueStats(stats.depth, stats.in_flight)


SQS = SqsTransport()
