"""SQS settings: the reporting library's MLOPS_SQS_* variables and the agents' SQS_SPOOL channel."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from bosun_local.configkit.env import Setting
from bosun_local.spool.sqs.queues import DEFAULT_VISIBILITY_SEC, queue_name

# ReceiveMessage calls one agent has in flight at once when the queue holds more than one call's worth.
DEFAULT_RECEIVERS = 4

SETTINGS = (
    Setting("MLOPS_SQS_QUEUE_URL", str, None, "queue URL of the SQS spooler (AWS or a local SQS server)"),
    Setting("MLOPS_SQS_QUEUE_NAME", str, None, "queue name of the SQS spooler (looked up with boto3's defaults)"),
    Setting("MLOPS_SQS_MAX_RECORDS_PER_MESSAGE", int, 1000,
            "records packed into one SQS message (1: one per message, as datarobot-mlops sends)"),
    Setting("MLOPS_SQS_COMPRESS", bool, True,
            "compress messages of several records (zlib + base64, read by bosun-local's agent); a message of one "
            "record is always plain JSON, as datarobot-mlops sends it"),
)


@dataclass(frozen=True)
class SqsChannelConfig:
    """An SQS_SPOOL channel: one queue, read with a visibility timeout and deleted after the service stored it."""

    spooler_type: ClassVar[str] = "SQS"
    queue_url: str
    name: str = "sqs"
    visibility_timeout_sec: int = DEFAULT_VISIBILITY_SEC
    receivers: int = DEFAULT_RECEIVERS

    def describe(self) -> str:
        """Return the channel for logs."""
        return f"SQS queue {queue_name(self.queue_url)!r} at {urlsplit(self.queue_url).netloc}"
