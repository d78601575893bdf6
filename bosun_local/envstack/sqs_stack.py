"""The environment stack's SQS spool (`spool: sqs`): its queue URL, the queue itself, the agents' channel file."""
from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from bosun_local.config import Config
from bosun_local.errors import UsageError
from bosun_local.spool.sqs.config import SqsChannelConfig

if TYPE_CHECKING:
    from bosun_local.envstack.environment import EnvironmentStack

# moto's default account: queues created through its API live under it.
MOTO_ACCOUNT = "123456789012"
NETWORK_HOST = "sqs"
MOTO_PORT = 5000


def _host_endpoint(config: Config) -> str:
    from bosun_local.envstack.environment import host_port

    bound = host_port(list(config["sqsPortMapping"])[:1])
    if bound is None:
        raise UsageError("spool: sqs needs sqsPortMapping to reach the stack's SQS server from this host",
                         fix='set sqsPortMapping: ["127.0.0.1:4566:5000"] (or sqsQueueUrl to a real queue)')
    return f"http://{bound[0]}:{bound[1]}"


def queue_url(config: Config, host_side: bool = True) -> str:
    """Return the SQS queue URL of the stack: sqsQueueUrl, else the moto server's as seen from the host or network."""
    if config["sqsQueueUrl"]:
        return str(config["sqsQueueUrl"])
    endpoint = _host_endpoint(config) if host_side else f"http://{NETWORK_HOST}:{MOTO_PORT}"
    return f"{endpoint}/{MOTO_ACCOUNT}/{config['sqsQueueName']}"


def scaled_channels(config: Config) -> list[SqsChannelConfig]:
    """Return the spool channels besides RabbitMQ whose backlog the scaler counts: the SQS queue of `spool: sqs`.

    Inside the stack the management agent's sqsQueueUrl is the queue's address on the stack's network.
    """
    if str(config["spool"]).lower() != "sqs":
        return []
    return [SqsChannelConfig(queue_url(config, host_side=True), "sqs")]


def ensure_stack_queue(config: Config) -> str:
    """Create the stack's queue and its dead-letter queue (redrive policy) on the moto server; return its URL."""
    from bosun_local.spool.sqs.queues import ensure_queue

    if config["sqsQueueUrl"]:
        return str(config["sqsQueueUrl"])
    return ensure_queue(_host_endpoint(config), str(config["sqsQueueName"]))


def agent_yaml(stack: EnvironmentStack) -> str:
    """Return the stack's monitoring-agent config: the RabbitMQ queue and the SQS queue, network-side URLs."""
    config = stack.config
    channels = [
        {"type": "RABBITMQ_SPOOL", "details": {"name": "rabbit", "queueUrl": stack.rabbitmq_url(host_side=False),
                                               "queueName": str(config["rabbitmqQueueName"])}},
        {"type": "SQS_SPOOL", "details": {"name": "sqs", "queueUrl": queue_url(config, host_side=False)}},
    ]
    header = "# Rendered by `bosun-local up` for `spool: sqs`: the stack's monitoring agents read both queues.\n"
    return header + yaml.safe_dump({"channelConfigs": channels}, sort_keys=False)
