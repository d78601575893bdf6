"""What this host gives the components it starts: published ports, the spool URL as seen from here, the uid."""
from __future__ import annotations

from pathlib import Path

from bosun_local.config import Config
from bosun_local.contracts.rabbitmq import AMQP_PORT, NETWORK_HOST, amqp_url
from bosun_local.errors import UsageError
from bosun_local.spool.sqs.config import SqsChannelConfig

IMAGE_UID = 10001  # the runtime image's non-root user (agent_image/Dockerfile)
# moto's default account: queues created through its API live under it.
MOTO_ACCOUNT = "123456789012"
SQS_NETWORK_HOST = "sqs"
MOTO_PORT = 5000


def host_port(mappings: list[str]) -> tuple[str, int] | None:
    """Return (host ip, host port) of the first docker port mapping string."""
    if not mappings:
        return None
    parts = str(mappings[0]).split(":")
    ip, port = (parts[0], parts[1]) if len(parts) == 3 else ("0.0.0.0", parts[0])
    return ip, int(port)


def rabbitmq_url(config: Config, host_side: bool = True) -> str:
    """Return the AMQP URL with credentials: rabbitmqUrl when set, else as seen from the host or the network."""
    if config["rabbitmqUrl"]:
        return str(config["rabbitmqUrl"])
    secrets = config.secrets()
    host, port = (host_port(config["rabbitmqPortMapping"][:1]) or ("127.0.0.1", AMQP_PORT)) if host_side \
        else (NETWORK_HOST, AMQP_PORT)
    return amqp_url(secrets["rabbitmqUser"], secrets["rabbitmqPassword"], host, port)


def rabbitmq_management_url(config: Config) -> str:
    """Return the stack broker's management API as seen from here ('' for an external broker: not ours to manage)."""
    from urllib.parse import urlsplit

    if config["rabbitmqUrl"]:
        host = urlsplit(str(config["rabbitmqUrl"])).hostname
        return f"http://{NETWORK_HOST}:15672" if host == NETWORK_HOST else ""
    mapped = host_port(config["rabbitmqPortMapping"][1:2])
    return f"http://{mapped[0]}:{mapped[1]}" if mapped else ""


def network_rabbitmq_url(config: Config) -> str:
    """Return the AMQP URL containers on the environment network use (the stack's broker, by its service name)."""
    from urllib.parse import urlsplit

    if config["rabbitmqUrl"] and urlsplit(str(config["rabbitmqUrl"])).hostname == NETWORK_HOST:
        return str(config["rabbitmqUrl"])  # an agent in the stack: given in its env file, secrets.yml is hidden
    secrets = config.secrets()
    return amqp_url(secrets["rabbitmqUser"], secrets["rabbitmqPassword"], NETWORK_HOST, AMQP_PORT)


def run_as_user(data_dir: Path) -> str:
    """Return the uid:gid containers use: the data dir's owner, or the image's user when that is root."""
    data_dir.mkdir(parents=True, exist_ok=True)
    st = data_dir.stat()
    return f"{st.st_uid}:{st.st_gid}" if st.st_uid != 0 else f"{IMAGE_UID}:{IMAGE_UID}"


def sqs_host_endpoint(config: Config) -> str:
    """Return the stack's SQS server as seen from this host (its sqsPortMapping)."""
    bound = host_port(list(config["sqsPortMapping"])[:1])
    if bound is None:
        raise UsageError("spool: sqs needs sqsPortMapping to reach the stack's SQS server from this host",
                         fix='set sqsPortMapping: ["127.0.0.1:4566:5000"] (or sqsQueueUrl to a real queue)')
    return f"http://{bound[0]}:{bound[1]}"


def sqs_queue_url(config: Config, host_side: bool = True) -> str:
    """Return the SQS queue URL of the stack: sqsQueueUrl, else the moto server's as seen from the host or network."""
    if config["sqsQueueUrl"]:
        return str(config["sqsQueueUrl"])
    endpoint = sqs_host_endpoint(config) if host_side else f"http://{SQS_NETWORK_HOST}:{MOTO_PORT}"
    return f"{endpoint}/{MOTO_ACCOUNT}/{config['sqsQueueName']}"


def scaled_channels(config: Config) -> list[SqsChannelConfig]:
    """Return the spool channels besides RabbitMQ whose backlog the scaler counts: the SQS queue of `spool: sqs`.

    Inside the stack the management agent's sqsQueueUrl is the queue's address on the stack's network.
    """
    if str(config["spool"]).lower() != "sqs":
        return []
    return [SqsChannelConfig(sqs_queue_url(config, host_side=True), "sqs")]
