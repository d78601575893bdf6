"""BacklogScaler.apply driving real `bosun-local monitor run` subprocesses on a real queue."""
from __future__ import annotations

from pathlib import Path

from bosun_local.agent.backlog_scaler import BacklogScaler, ScalerPolicy
from bosun_local.contracts import records
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.rabbitmq.reader import queue_depth
from tests.monitoring.test_agent_rabbitmq import publish
from tests.support.monitoring import Service, agent_env, predictions, unique, wait_until
from tests.support.rabbitmq import RabbitMQBroker

MESSAGES = 3000


def test_backlog_scales_agents_up_drains_exactly_and_scales_down(broker: RabbitMQBroker, queue_name: str,
                                                                 service: Service, tmp_path: Path) -> None:
    dep = unique("dep-scale")
    publish(broker, queue_name, [records.encode(f"{dep}-{i}", dep, records.DEPLOYMENT_STATS,
                                                records.deployment_stats_data("m1", 1, 2.0)).encode()
                                 for i in range(MESSAGES)])
    agent_id = unique("scaled")
    env = agent_env(service, MLOPS_SPOOLER_TYPE="RABBITMQ", MLOPS_RABBITMQ_QUEUE_URL=broker.url,
                    MLOPS_RABBITMQ_QUEUE_NAME=queue_name, MLOPS_AGENT_ID=agent_id)
    replicas = LocalProcessScaler(env=env, log_dir=tmp_path / "logs")
    scaler = BacklogScaler(replicas, lambda: queue_depth(broker.url, queue_name),
                           ScalerPolicy(per_agent=500, target_concurrency=4, min_replicas=1, cooldown_sec=1.0))
    try:
        assert scaler.apply() == 4  # 3000 queued / 500 per agent, capped at the target concurrency
        assert replicas.replicas == 4
        wait_until(lambda: predictions(service, dep) == MESSAGES, "the backlog to be drained")
        assert queue_depth(broker.url, queue_name) == 0
        wait_until(lambda: scaler.apply() == 1, "the scaler to scale down after the cool-down")
        assert replicas.replicas == 1
        assert all(p.returncode == 0 for p in replicas.stopped), "scaled-down agents exit cleanly"
    finally:
        replicas.stop_all()
    assert predictions(service, dep) == MESSAGES
    ids = {a["agentId"] for a in service.client.list_agents() if a["agentId"].startswith(agent_id)}
    assert len(ids) == 4
