"""The backlog rule: min(target, max(min, ceil(depth / per_agent))), immediate up, down after a cool-down."""
from __future__ import annotations

import pytest

from bosun_local.monitoring.scaler import BacklogScaler, ScalerPolicy


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
