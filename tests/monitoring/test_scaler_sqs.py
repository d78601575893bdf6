"""The seed's scaling rules driving real `bosun-local monitor run` agents on a real moto SQS queue, counts exact."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

from bosun_local.agent.backlog_scaler import HANDOVER, RECRUITING_BLOCKED, SCALED, BacklogScaler, ScalerPolicy
from bosun_local.mlops import MLOps
from bosun_local.monitoring.local_replicas import LocalProcessScaler
from bosun_local.spool.sqs.queues import queue_stats
from tests.support.monitoring import Service, agent_env, assert_exact, predictions, report, unique, wait_until
from tests.support.sqs import MotoServer


def backlog(url: str, dep: str, records: int, per_message: int) -> None:
    """Queue `records` stats records (2 predictions each, every 10th a user error), `per_message` to a message."""
    mlops = MLOps().set_deployment_id(dep).set_model_id("m1").set_sqs_spooler(url)
    mlops.set_channel_config(f"MLOPS_SQS_MAX_RECORDS_PER_MESSAGE={per_message}").init()
    report(mlops, records, predictions_data=False)
    # Sending 1000 messages to moto takes minutes on a loaded 2-core host.
    assert mlops.shutdown(timeout_sec=900) and mlops.dropped_records == 0


class Run:
    """A scaler with local agent processes on one queue, run in a thread; events and peak replicas recorded."""

    def __init__(self, sqs: MotoServer, service: Service, url: str, policy: ScalerPolicy, logs: Path,
                 visibility_sec: int = 60) -> None:
        # Long enough that a loaded machine stores a batch before its messages come back to another agent.
        env = agent_env(service, MLOPS_SPOOLER_TYPE="SQS", MLOPS_SQS_QUEUE_URL=url,
                        MLOPS_SQS_VISIBILITY_TIMEOUT_SEC=str(visibility_sec), **sqs.aws_env())
        self.replicas = LocalProcessScaler(env=env, log_dir=logs)
        self.events: list[tuple[str, dict]] = []
        self.scaler = BacklogScaler(self.replicas, lambda: queue_stats(url).depth, policy, replicas=self.replicas,
                                    on_event=lambda t, _m, d: self.events.append((t, d)))
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.scaler.run, args=(self.stop, 0.5, self._round), daemon=True)

    def _round(self, state: dict) -> None:
        self.peak = max(self.peak, self.replicas.replicas)

    def __enter__(self) -> Run:
        return self

    def start(self) -> None:
        self.thread.start()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(10)
        self.replicas.stop_all()

    def types(self) -> list[str]:
        return [t for t, _ in self.events]


def test_100k_backlog_scales_1_to_n_to_1_with_nothing_lost_or_doubled(sqs: MotoServer, service: Service,
                                                                       tmp_path: Path) -> None:
    dep, url, total = unique("dep-scale100k"), sqs.queue("scale100k"), 100_000
    # moto scans every queued message on each call, so the backlog is 1000 messages of 100 records, and one
    # agent per 250 of them makes the scaler want 4 agents as 500 per agent would with 2000 messages.
    backlog(url, dep, total, per_message=100)
    assert total // 100 <= queue_stats(url).depth <= total // 100 + 100  # buffer batches may end a message early
    policy = ScalerPolicy(per_agent=250, target_concurrency=4, min_replicas=1, cooldown_sec=2.0)
    with Run(sqs, service, url, policy, tmp_path) as run:
        run.scaler.current = 1
        run.replicas(1)
        run.start()
        wait_until(lambda: predictions(service, dep) == 2 * total, "the 100k-record backlog to drain", timeout=600)
        wait_until(lambda: run.scaler.current == 1 and run.replicas.replicas == 1, "the scaler back at 1 agent")
        assert run.peak == 4
        scaled = [d["replicas"] for t, d in run.events if t == SCALED]
        assert scaled[0] == 4 and scaled[-1] == 1
        assert run.replicas.error_times() == []
    assert_exact(service, dep, total, predictions_data=False)
    left = queue_stats(url)
    assert (left.depth, left.in_flight, left.dead) == (0, 0, 0)


def test_an_agent_failure_stops_recruiting_and_the_rest_drains(sqs: MotoServer, service: Service,
                                                              tmp_path: Path) -> None:
    dep, url = unique("dep-errwin"), sqs.queue("errwin")
    backlog(url, dep, 2000, per_message=10)     # about 200 messages: two agents
    policy = ScalerPolicy(per_agent=150, target_concurrency=4, min_replicas=1, cooldown_sec=2.0)
    with Run(sqs, service, url, policy, tmp_path, visibility_sec=20) as run:
        assert run.scaler.apply() == 2
        wait_until(lambda: predictions(service, dep) > 0, "the agents to start storing")
        run.replicas.kill_one()                  # the injected failure, mid-batch
        # The survivor drains as fast as the loader sends (parallel receives): left running it keeps the visible
        # depth near 100-180 messages, so whether the rule asks for 2 agents would be a race. Paused, it holds
        # the depth where the rule alone would recruit; paused is alive, not a second failure.
        survivor = run.replicas.processes[0]
        survivor.send_signal(signal.SIGSTOP)
        try:
            backlog(url, dep, 4000, per_message=10)  # 400 more messages: the rule alone would ask for 3 or 4
            for _ in range(4):
                run.scaler.apply()
                assert run.replicas.replicas == 1, run.scaler.state()
        finally:
            survivor.send_signal(signal.SIGCONT)
        state = run.scaler.state()
        assert state["queueDepth"] > 300 and state["wanted"] >= 3, state
        assert state["recruitingBlocked"] and state["agentErrors"] == 1 and state["replicas"] == 1, state
        assert run.types().count(RECRUITING_BLOCKED) == 1
        run.start()
        wait_until(lambda: predictions(service, dep) == 2 * 6000, "the surviving agent to drain everything",
                   timeout=600)
        assert run.peak == 1
    assert_exact(service, dep, 6000, predictions_data=False)


def test_time_limit_hands_over_and_keeps_draining(sqs: MotoServer, service: Service, tmp_path: Path) -> None:
    dep, url, total = unique("dep-handover"), sqs.queue("handover"), 20_000
    backlog(url, dep, total, per_message=100)
    policy = ScalerPolicy(per_agent=100_000, target_concurrency=1, min_replicas=1, cooldown_sec=2.0)
    with Run(sqs, service, url, policy, tmp_path) as run:
        run.scaler.apply()
        wait_until(lambda: predictions(service, dep) > 0, "the first agent to store")
        # Paused (alive, not failed) the first agent leaves backlog behind whatever the machine's speed; its time
        # limit is then already reached, so the next round must hand over. It resumes a second later, with the
        # scaler's SIGTERM pending (or just before it), and finishes its batch.
        first = run.replicas.processes[0]
        first.send_signal(signal.SIGSTOP)
        depth = queue_stats(url).depth
        assert depth > 0
        run.scaler.policy = replace(policy, max_run_sec=max(run.replicas.run_times(time.monotonic())) / 2)
        resume = threading.Timer(1.0, first.send_signal, args=(signal.SIGCONT,))
        resume.start()
        try:
            run.scaler.apply()
        finally:
            resume.join()
        assert run.scaler.handovers == 1 and HANDOVER in run.types(), run.events
        assert first.wait(60) == 0 and first not in run.replicas.processes
        # Back to no limit (one shorter than an agent's start-up would retire each before it reads): the successor
        # started by the handover drains the rest.
        run.scaler.policy = policy
        run.start()
        wait_until(lambda: predictions(service, dep) == 2 * total, "the backlog to drain across handovers",
                   timeout=600)
        assert run.replicas.started >= 2 and run.replicas.error_times() == []
    assert_exact(service, dep, total, predictions_data=False)
