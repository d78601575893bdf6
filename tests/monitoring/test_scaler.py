"""The backlog rule: min(target, max(min, ceil(depth / per_agent))), immediate up, down after a cool-down."""
from __future__ import annotations

import pytest

from bosun_local.agent.backlog_scaler import BacklogScaler, ScalerPolicy


def scaler(depths: list[int], **policy: float) -> tuple[BacklogScaler, list[int]]:
    applied: list[int] = []
    queue = iter(depths)
    return BacklogScaler(applied.append, lambda: next(queue), ScalerPolicy(**policy)), applied  # type: ignore[arg-type]


@pytest.mark.parametrize(("depth", "wanted"), [(0, 1), (1, 1), (500, 1), (501, 2), (1500, 3), (2001, 4),
                                               (10**7, 4)])
def test_default_rule(depth: int, wanted: int) -> None:
    assert ScalerPolicy().wanted(depth) == wanted


def test_min_replicas_zero_scales_to_nothing_when_idle() -> None:
    assert ScalerPolicy(min_replicas=0).wanted(0) == 0
    assert ScalerPolicy(min_replicas=0).wanted(1) == 1


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        ScalerPolicy(per_agent=0)
    with pytest.raises(ValueError):
        ScalerPolicy(min_replicas=5, target_concurrency=4)


def test_scale_up_is_immediate_and_down_waits_for_the_cooldown() -> None:
    s, _ = scaler([], cooldown_sec=30)
    s.current = 1
    assert s.desired_replicas(2000, now=0) == 4
    s.current = 4
    assert s.desired_replicas(0, now=10) == 4      # low since t=10
    assert s.desired_replicas(0, now=39) == 4
    assert s.desired_replicas(0, now=40) == 1      # low for a whole cool-down


def test_a_burst_during_the_cooldown_restarts_it() -> None:
    s, _ = scaler([], cooldown_sec=30)
    s.current = 4
    assert s.desired_replicas(0, now=0) == 4
    assert s.desired_replicas(5000, now=20) == 4   # back up: the low period ends
    assert s.desired_replicas(0, now=25) == 4
    assert s.desired_replicas(0, now=54) == 4
    assert s.desired_replicas(0, now=55) == 1


def test_apply_sets_replicas_only_when_the_decision_changes() -> None:
    s, applied = scaler([0, 700, 700, 1600, 0, 0, 0], cooldown_sec=5)
    for t in (0, 1, 2, 3, 4, 6, 10):
        s.apply(now=t)
    assert applied == [1, 2, 4, 1]
    assert s.current == 1


class FakeReplicas:
    """Agents as start times, failures as times; stop_expired replaces like LocalProcessScaler."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.started: list[float] = []
        self.failures: list[float] = []

    def set(self, n: int) -> None:
        while len(self.started) < n:
            self.started.append(self.clock[0])
        del self.started[n:]

    def fail_one(self) -> None:
        self.started.pop(0)
        self.failures.append(self.clock[0])

    def error_times(self) -> list[float]:
        return list(self.failures)

    def run_times(self, now: float) -> list[float]:
        return [now - t for t in self.started]

    def stop_expired(self, max_run_sec: float, replace: bool) -> int:
        expired = [t for t in self.started if self.clock[0] - t >= max_run_sec]
        self.started = [t for t in self.started if self.clock[0] - t < max_run_sec]
        if replace:
            self.started += [self.clock[0]] * len(expired)
        return len(expired)


def rules(depths: list[int], **policy: float) -> tuple[BacklogScaler, FakeReplicas, list[float], list[tuple]]:
    clock = [0.0]
    replicas = FakeReplicas(clock)
    queue = iter(depths)
    events: list[tuple] = []
    s = BacklogScaler(replicas.set, lambda: next(queue), ScalerPolicy(**policy), clock=lambda: clock[0],
                      replicas=replicas, on_event=lambda t, m, d: events.append((t, d)))
    return s, replicas, clock, events


def test_one_agent_per_500_queued_up_to_the_target_concurrency() -> None:
    s, replicas, clock, events = rules([400, 1200, 5000, 0], cooldown_sec=0, target_concurrency=6)
    assert [s.apply() for _ in range(4)] == [1, 3, 6, 1]
    assert [d["replicas"] for t, d in events if t == "monitoring_agents_scaled"] == [1, 3, 6, 1]
    assert s.state()["policy"]["itemsPerAgent"] == 500


def test_an_agent_error_stops_recruiting_for_the_error_window() -> None:
    s, replicas, clock, events = rules([1000, 1000, 4000, 4000, 4000], cooldown_sec=0, target_concurrency=8,
                                       error_window_sec=3600)
    assert s.apply() == 2
    clock[0] = 5
    replicas.fail_one()
    clock[0] = 10
    assert s.apply() == 1                         # the failed agent is gone and not replaced
    clock[0] = 20
    assert s.apply() == 1                         # 4000 queued asks for 8: no recruiting
    assert s.state()["recruitingBlocked"] and s.state()["lastErrorAgeSec"] == 15.0
    assert [t for t, _ in events].count("monitoring_agents_recruiting_blocked") == 1
    clock[0] = 3604
    assert s.apply() == 1                         # 3599 s after the error: still blocked
    clock[0] = 3605
    assert s.apply() == 8                         # the window has passed
    assert not s.state()["recruitingBlocked"]


def test_scaling_down_is_allowed_inside_the_error_window() -> None:
    s, replicas, clock, _ = rules([2000, 0], cooldown_sec=0)
    assert s.apply() == 4
    s.note_error()
    assert s.apply() == 1


def test_time_limit_hands_over_with_backlog_and_stops_without() -> None:
    s, replicas, clock, events = rules([1000, 1000, 1000, 0, 0], cooldown_sec=0, min_replicas=0, max_run_sec=60)
    assert s.apply() == 2
    first = list(replicas.started)
    clock[0] = 30
    s.apply()
    clock[0] = 61
    assert s.apply() == 2                         # both expired with backlog left: two fresh agents
    assert replicas.started == [61.0, 61.0] != first and s.handovers == 2
    assert any(t == "monitoring_agent_handover" and d["agents"] == 2 for t, d in events)
    clock[0] = 200
    assert s.apply() == 0                         # expired with nothing queued: they just stop
    assert s.expired == 2 and replicas.started == []
    assert s.apply() == 0


def test_handover_happens_inside_the_error_window() -> None:
    s, replicas, clock, _ = rules([1000, 1000], cooldown_sec=0, max_run_sec=60)
    assert s.apply() == 2
    s.note_error()
    clock[0] = 100
    assert s.apply() == 2 and s.handovers == 2
