"""Pure checks of the trust boundaries: forged-record detection, broker logins, sandbox output parsing."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bosun_local.config import load_config
from bosun_local.contracts.rabbitmq import PPS_EXCHANGE
from bosun_local.engine.adapter import SandboxRun
from bosun_local.errors import BosunError
from bosun_local.plugins.docker.broker_users import pool_url, pps_password, pps_url
from bosun_local.pps.sandbox_check import MARKER
from bosun_local.sandbox.package_check import parse_output, sandbox_spec
from bosun_local.spool.rabbitmq.reader import publisher_mismatch
from bosun_local.spool.rabbitmq.writer import RabbitMQChannel

ADMIN = "amqp://bosun:s3cret@rabbitmq:5672/%2F"


def test_a_record_for_another_deployment_is_forged_only_through_the_pps_exchange() -> None:
    record = SimpleNamespace(id="r1", deployment_id="victim")
    reason = publisher_mismatch(record, PPS_EXCHANGE, "attacker", "pps-attacker")  # type: ignore[arg-type]
    assert reason and "victim" in reason and "pps-attacker" in reason and "forged" in reason
    assert publisher_mismatch(record, PPS_EXCHANGE, "victim", "pps-victim") is None  # type: ignore[arg-type]
    assert publisher_mismatch(record, "", "mlops", None) is None  # type: ignore[arg-type]


def test_each_deployment_gets_its_own_stable_login() -> None:
    url = pps_url(ADMIN, "dep1")
    assert url.startswith("amqp://pps-dep1:") and url.endswith("@rabbitmq:5672/%2F") and "s3cret" not in url
    assert pps_url(ADMIN, "dep1") == url != pps_url(ADMIN, "dep2")
    assert pps_password(ADMIN, "dep1") != pps_password(ADMIN.replace("s3cret", "other"), "dep1")


def test_the_writer_publishes_through_the_exchange_as_itself() -> None:
    channel = RabbitMQChannel(pps_url(ADMIN, "dep1"), "mlops", exchange=PPS_EXCHANGE, routing_key="dep1")
    assert (channel.exchange, channel.routing_key, channel._props.user_id) == (PPS_EXCHANGE, "dep1", "pps-dep1")
    plain = RabbitMQChannel(ADMIN, "mlops")
    assert (plain.exchange, plain.routing_key, plain._props.user_id) == ("", "mlops", None)


def test_the_pool_publishes_each_deployments_records_with_its_id_as_routing_key() -> None:
    from bosun_local.spool.rabbitmq.transport import RabbitMQTransport

    url = pool_url(ADMIN, "bosun_shared-pool")
    assert url.startswith("amqp://pool-bosun_shared-pool:") and "s3cret" not in url and url != pps_url(ADMIN, "x")
    settings = {"MLOPS_RABBITMQ_QUEUE_URL": url, "MLOPS_RABBITMQ_QUEUE_NAME": "mlops",
                "MLOPS_RABBITMQ_MAX_IN_FLIGHT": 10, "MLOPS_RABBITMQ_RECONNECT_MAX_SEC": 1.0,
                "MLOPS_RABBITMQ_EXCHANGE": PPS_EXCHANGE, "MLOPS_DEPLOYMENT_ID": "dep7"}
    channel = RabbitMQTransport().writer(settings, 10)
    assert isinstance(channel, RabbitMQChannel)
    assert (channel.routing_key, channel._props.user_id) == ("dep7", "pool-bosun_shared-pool")
    direct = RabbitMQTransport().writer({**settings, "MLOPS_RABBITMQ_EXCHANGE": None}, 10)
    assert isinstance(direct, RabbitMQChannel) and direct.routing_key == "mlops"


def _run(output: str, timed_out: bool = False, code: int | None = 0) -> SandboxRun:
    return SandboxRun(code, output, timed_out, {})


def test_sandbox_output_is_data_and_its_absence_a_failure() -> None:
    good = parse_output(_run(f"noise\n{MARKER}" + '{"ok": true, "predictions": [1.5], "extra": "dropped"}'), 9)
    assert good == {"ok": True, "predictions": [1.5]}
    assert "longer than 9 s" in parse_output(_run("", timed_out=True, code=None), 9)["error"]
    junk = parse_output(_run(f"{MARKER}not json\nKilled", code=137), 9)
    assert junk["ok"] is False and "exit code 137" in junk["error"] and "Killed" in junk["error"]


def test_the_sandbox_mounts_only_a_package_of_this_data_dir(bosun_home: Path) -> None:
    config = load_config()
    package = config.packages_dir / "abc"
    package.mkdir(parents=True)
    spec = sandbox_spec(config, {"packageId": "abc", "path": str(package), "trainingData": "training.csv"}, 30)
    assert spec.read_only_mounts == {str(package.resolve()): "/package"} and spec.user == "65534:65534"
    for path in ("/etc", str(config.packages_dir), str(package / ".." / ".." / "token"), "relative"):
        with pytest.raises(BosunError, match="is not a package under"):
            sandbox_spec(config, {"packageId": "abc", "path": path}, 30)
