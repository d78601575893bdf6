"""SQS queues of the spool: the channel config, a boto3 client for a queue URL, queue statistics, queue creation.

A queue URL says where the queue lives: `https://sqs.<region>.amazonaws.com/<account>/<name>` is AWS and uses
boto3's usual credential chain; any other host (a local moto server, `http://127.0.0.1:4566/123456789012/mlops`)
becomes the client's endpoint unless `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` say otherwise.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bosun_local.errors import BosunError, ConfigError

DEAD_LETTER_SUFFIX = "-dead"
# The seed's agents receive with this visibility timeout; a batch not deleted by then is delivered again.
DEFAULT_VISIBILITY_SEC = 120
# Deliveries of a message before SQS moves it to the dead-letter queue (redrive policy of queues we create).
DEFAULT_MAX_RECEIVE = 3
# SQS refuses a message, and a SendMessageBatch call, larger than 256 KiB.
MAX_PAYLOAD_BYTES = 256 * 1024
_AWS_HOST = re.compile(r"^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class SqsError(BosunError):
    """An SQS call failed (server down, queue missing, credentials refused)."""


def queue_name(url: str) -> str:
    """Return the queue name, the last path segment of its URL."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def region_of(url: str, env: Mapping[str, str] | None = None) -> str:
    """Return the region of a queue URL (from an AWS host), else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1."""
    env = os.environ if env is None else env
    match = _AWS_HOST.match(urlsplit(url).hostname or "")
    if match:
        return match.group(1)
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"


def endpoint_of(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """Return the endpoint a client of this queue talks to: None (boto3 decides) for AWS, else the URL's origin."""
    env = os.environ if env is None else env
    if env.get("AWS_ENDPOINT_URL_SQS") or env.get("AWS_ENDPOINT_URL"):
        return env.get("AWS_ENDPOINT_URL_SQS") or env.get("AWS_ENDPOINT_URL")
    parts = urlsplit(url)
    if _AWS_HOST.match(parts.hostname or ""):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def check_url(url: str, where: str) -> str:
    """Return url if it looks like an SQS queue URL, else raise ConfigError naming where it came from."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc or not queue_name(url):
        raise ConfigError(f"{where}: {url!r} is not an SQS queue URL",
                          fix="use https://sqs.<region>.amazonaws.com/<account>/<queue> or, for a local server, "
                              "http://127.0.0.1:<port>/<account>/<queue>")
    return url


def make_client(url: str, timeout_sec: float = 10.0) -> Any:
    """Return a boto3 SQS client for a queue URL (credentials from the AWS environment; dummies for local servers)."""
    import boto3
    from botocore.config import Config

    endpoint = endpoint_of(url)
    kwargs: dict[str, Any] = {"region_name": region_of(url), "endpoint_url": endpoint}
    if endpoint and not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        # A local SQS server ignores credentials but botocore insists on signing with some.
        kwargs.update(aws_access_key_id="bosun-local", aws_secret_access_key="bosun-local")
    config = Config(connect_timeout=timeout_sec, read_timeout=timeout_sec + 25, retries={"max_attempts": 2},
                    max_pool_connections=16)
    return boto3.session.Session().client("sqs", config=config, **kwargs)


def fail(url: str, action: str, exc: Exception) -> SqsError:
    """Return an SqsError naming the queue, the call and the fix."""
    return SqsError(f"SQS queue {url}: {action} failed: {exc}",
                    fix="check that the SQS server is running (`bosun-local up` with spool: sqs, or AWS), the queue "
                        "exists and the AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) are right")


@dataclass(frozen=True)
class QueueStats:
    """Approximate counts of a queue and its dead-letter queue, as SQS reports them."""

    depth: int
    in_flight: int
    dead: int
    max_receive: int | None
    dead_letter_url: str | None


def queue_stats(url: str, client: Any = None) -> QueueStats:
    """Return the queue's visible and in-flight messages, and what its dead-letter queue holds."""
    client = client or make_client(url)
    try:
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "RedrivePolicy"])["Attributes"]
        policy = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
        dead_url, dead = None, 0
        if policy.get("deadLetterTargetArn"):
            dead_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
            dead_url = url[: -len(queue_name(url))] + dead_name
            dead = int(client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=[
                "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    except Exception as exc:  # botocore raises many kinds; all mean the same to the caller
        raise fail(url, "GetQueueAttributes", exc) from exc
    max_receive = int(policy["maxReceiveCount"]) if policy.get("maxReceiveCount") else None
    return QueueStats(int(attrs.get("ApproximateNumberOfMessages", 0)),
                      int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)), dead, max_receive, dead_url)


def queue_depth(url: str) -> int:
    """Return the queue's approximate number of visible messages (the seed's scaling input)."""
    return queue_stats(url).depth


def ensure_queue(endpoint_url: str, name: str, max_receive: int = DEFAULT_MAX_RECEIVE,
                 visibility_timeout_sec: int = DEFAULT_VISIBILITY_SEC) -> str:
    """Create (or find) a queue and its `<name>-dead` dead-letter queue with a redrive policy; return its URL."""
    client = make_client(endpoint_url.rstrip("/") + "/000000000000/" + name)
    try:
        dead_url = client.create_queue(QueueName=name + DEAD_LETTER_SUFFIX)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive)})
        url = client.create_queue(QueueName=name)["QueueUrl"]
        client.set_queue_attributes(QueueUrl=url, Attributes={
            "RedrivePolicy": policy, "VisibilityTimeout": str(visibility_timeout_sec)})
    except Exception as exc:
        raise fail(f"{endpoint_url} {name}", "CreateQueue", exc) from exc
    return str(url)
