"""Autoscaling: its keyValueConfig settings, the decisions (a pure function of samples and state), /metrics parsing."""
from __future__ import annotations

import math

import pytest

from bosun_local.agent.autoscale_policy import Load, Sample, ScaleState, decide, window_load
from bosun_local.agent.autoscaler import parse_metrics
from bosun_local.contracts.autoscale import AutoscaleConfigError, AutoscaleSettings, autoscale_settings
from bosun_local.plugins.docker.replicas import replica_count
from bosun_local.plugins.docker.stack import DeploymentConfigError

DEP = "d1"
IN_FLIGHT = AutoscaleSettings(1, 4, target_in_flight=2.0, target_p95_ms=None, cooldown_sec=30.0, window_sec=10.0)
P95 = AutoscaleSettings(1, 4, target_in_flight=None, target_p95_ms=100.0, cooldown_sec=30.0, window_sec=10.0)


def test_settings_default_and_bounds() -> None:
    assert autoscale_settings({}, DEP) is None
    assert autoscale_settings({"replicas": 2}, DEP) is None
    parsed = autoscale_settings({"autoscaleMax": "4", "autoscaleTargetInFlight": 2}, DEP)
    assert parsed == AutoscaleSettings(1, 4, 2.0, None, 30.0, 10.0)
    both = autoscale_settings({"autoscaleMin": 2, "autoscaleMax": 3, "autoscaleTargetP95Ms": 250,
                               "autoscaleTargetInFlight": 1.5, "autoscaleCooldownSec": 5,
                               "autoscaleWindowSec": 4}, DEP)
    assert both == AutoscaleSettings(2, 3, 1.5, 250.0, 5.0, 4.0)
    # A deployment that autoscales starts at autoscaleMin unless replicas says otherwise.
    assert replica_count({"autoscaleMin": 2, "autoscaleMax": 3, "autoscaleTargetInFlight": 1}, 1, DEP) == 2
    assert replica_count({"replicas": 3, "autoscaleMax": 3, "autoscaleTargetInFlight": 1}, 1, DEP) == 3


@pytest.mark.parametrize(("kv", "named", "fix"), [
    ({"autoscaleTargetInFlight": 2}, "sets autoscaleTargetInFlight but not autoscaleMax", "set autoscaleMax"),
    ({"autoscaleMax": 4}, "autoscaleMax=4 has no target", "autoscaleTargetInFlight"),
    ({"autoscaleMax": "many", "autoscaleTargetInFlight": 2}, "autoscaleMax='many' is not a whole number",
     "set autoscaleMax like 4"),
    ({"autoscaleMax": 2.5, "autoscaleTargetInFlight": 2}, "autoscaleMax=2.5 is not a whole number", "autoscaleMax"),
    ({"autoscaleMin": 3, "autoscaleMax": 2, "autoscaleTargetInFlight": 2}, "autoscaleMin=3 and autoscaleMax=2",
     "autoscaleMin <= autoscaleMax <= 64"),
    ({"autoscaleMax": 65, "autoscaleTargetInFlight": 2}, "autoscaleMax=65", "<= 64"),
    ({"autoscaleMax": 4, "autoscaleTargetInFlight": 0}, "autoscaleTargetInFlight=0 is not a positive number",
     "set autoscaleTargetInFlight like 4"),
    ({"autoscaleMax": 4, "autoscaleTargetP95Ms": "fast"}, "autoscaleTargetP95Ms='fast'", "like 250"),
    ({"autoscaleMax": 4, "autoscaleTargetP95Ms": 100, "autoscaleCooldownSec": -1}, "autoscaleCooldownSec=-1",
     "like 30"),
])
def test_bad_settings_name_the_key_the_value_and_the_fix(kv: dict[str, object], named: str, fix: str) -> None:
    with pytest.raises(AutoscaleConfigError) as info:
        autoscale_settings(kv, DEP)
    assert named in info.value.message and fix in info.value.fix
    # The docker plugin refuses the deployment's start with the same words.
    with pytest.raises(DeploymentConfigError, match="keyValueConfig"):
        replica_count(kv, 1, DEP)


def flight(per_replica: float, replicas: int = 1) -> Load:
    return Load(per_replica, None, 5)


def test_in_flight_scales_out_at_once_bounded_by_max() -> None:
    state = ScaleState()
    assert decide(IN_FLIGHT, 1, flight(5.0), 0.0, state).replicas == 3  # 5 in flight / 2 per replica
    assert decide(IN_FLIGHT, 2, flight(9.0), 0.0, state).replicas == 4  # 18 would need 9: max 4
    assert decide(IN_FLIGHT, 4, flight(9.0), 0.0, state).reason == "at autoscaleMax 4"


def test_cooldown_holds_a_step_after_the_last_one() -> None:
    state = ScaleState(last_step_at=100.0)
    assert decide(IN_FLIGHT, 1, flight(5.0), 110.0, state).replicas == 1
    assert decide(IN_FLIGHT, 1, flight(5.0), 130.0, state).replicas == 3


def test_scale_in_waits_a_cooldown_of_low_load_and_keeps_hysteresis() -> None:
    state = ScaleState()
    # 3 replicas at 1.0 each: 3 in flight fit 2 replicas at the 2.0 target, but not under 70 % of it (1.4): hold.
    assert decide(IN_FLIGHT, 3, flight(1.0), 0.0, state).replicas == 3 and state.low_since is None
    # Nearly idle: fewer replicas would do, but only after the load stayed low for a whole cooldown.
    assert decide(IN_FLIGHT, 3, flight(0.2), 10.0, state).replicas == 3 and state.low_since == 10.0
    assert decide(IN_FLIGHT, 3, flight(0.2), 39.0, state).replicas == 3
    assert decide(IN_FLIGHT, 3, flight(0.2), 40.0, state).replicas == 1
    # A burst in between resets the low-load timer.
    state = ScaleState()
    decide(IN_FLIGHT, 3, flight(0.2), 0.0, state)
    decide(IN_FLIGHT, 3, flight(1.5), 20.0, state)
    assert state.low_since is None and decide(IN_FLIGHT, 3, flight(0.2), 35.0, state).replicas == 3


def test_bounds_come_first_and_min_is_kept() -> None:
    assert decide(IN_FLIGHT, 6, flight(0.0), 0.0, ScaleState()).replicas == 4
    settings = AutoscaleSettings(2, 4, 2.0, None, 30.0, 10.0)
    assert decide(settings, 1, flight(0.0), 0.0, ScaleState()).replicas == 2
    state = ScaleState()
    decide(settings, 3, flight(0.0), 0.0, state)
    assert decide(settings, 3, flight(0.0), 30.0, state).replicas == 2
    assert decide(settings, 2, Load(None, None, 0), 0.0, ScaleState()).reason == "no figures from the replicas yet"


def test_p95_target() -> None:
    state = ScaleState()
    assert decide(P95, 2, Load(None, 250.0, 5), 0.0, state).replicas == 4  # 2.5x the target
    assert decide(P95, 2, Load(None, 90.0, 5), 0.0, state).replicas == 2  # under target, over 70 %
    # Nothing served in the window counts as no latency: scale in after the cooldown.
    decide(P95, 2, Load(None, None, 5), 0.0, state)
    assert decide(P95, 2, Load(None, None, 5), 30.0, state).replicas == 1


def test_window_load_averages_in_flight_and_times_p95_from_the_buckets() -> None:
    first = ((5.0, 0.0), (50.0, 0.0), (500.0, 0.0), (math.inf, 0.0))
    last = ((5.0, 10.0), (50.0, 90.0), (500.0, 99.0), (math.inf, 100.0))
    samples = [Sample(0.0, 2, 99.0, None), Sample(5.0, 2, 4.0, first), Sample(14.0, 2, 8.0, last)]
    load = window_load(samples, 14.0, 10.0)  # the first sample is out of the window
    assert load.samples == 2 and load.in_flight_per_replica == 3.0
    assert load.p95_ms == 500.0  # 95 of 100 requests fall under 500 ms, not 50
    assert window_load(samples, 100.0, 10.0) == Load(None, None, 0)


def test_parse_metrics_reads_in_flight_and_prediction_buckets() -> None:
    text = "\n".join([
        "# HELP bosun_pps_requests_in_flight Requests being answered now (this one included).",
        "bosun_pps_requests_in_flight 4",
        'bosun_pps_request_duration_seconds_bucket{deployment="d1",route="/predictions",le="0.05"} 7',
        'bosun_pps_request_duration_seconds_bucket{deployment="d1",route="/predictions",le="+Inf"} 9',
        'bosun_pps_request_duration_seconds_bucket{deployment="d1",route="/predApi/predictions",le="0.05"} 1',
        'bosun_pps_request_duration_seconds_bucket{deployment="d1",route="/health",le="0.05"} 50',
        'bosun_pps_request_duration_seconds_bucket{deployment="d2",route="/predictions",le="0.05"} 50',
    ])
    in_flight, buckets = parse_metrics(text, "d1")
    assert in_flight == 3.0 and buckets == {50.0: 8.0, math.inf: 9.0}
