"""The environment stack's SQS spool (`spool: sqs`): its queue URL, the queue itself, the agents' channel file."""
from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from bosun_local.config import Config
from bosun_local.host import sqs_host_endpoint, sqs_queue_url

if TYPE_CHECKING:
    from bosun_local.envstack.environment import EnvironmentStack

def ensure_stack_queue(config: Config) -> str:
    """Create the stack's queue and its dead-letter queue (redrive policy) on the moto server; return its URL."""
    from bosun_local.spool.sqs.queues import ensure_queue

    if config["sqsQueueUrl"]:
        return str(config["sqsQueueUrl"])
    return ensure_queue(sqs_host_endpoint(config), str(config["sqsQueueName"]))


def agent_yaml(stack: EnvironmentStack) -> str:
    """Return the stack's monitoring-agent config: the RabbitMQ queue and the SQS queue, network-side URLs."""
    config = stack.config
    channels = [
        {"type": "RABBITMQ_SPOOL", "details": {"name": "rabbit", "queueUrl": stack.rabbitmq_url(host_side=False),
                                               "queueName": str(config["rabbitmqQueueName"])}},
        {"type": "SQS_SPOOL", "details": {"name": "sqs", "queueUrl": sqs_queue_url(config, host_side=False)}},
    ]
    header = "# Rendered by `bosun-local up` for `spool: sqs`: the stack's monitoring agents read both queues.\n"
    return header + yaml.safe_dump({"channelConfigs": channels}, sort_keys=False)
