"""PSI maths and the statuses it maps to."""
from __future__ import annotations

import math

import pytest

from bosun_local.monitoring.psi import drift_status, psi, worst_status


def test_identical_distributions_have_zero_psi() -> None:
    assert psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)


def test_psi_matches_the_formula() -> None:
    expected, actual = [0.5, 0.5], [0.8, 0.2]
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)


def test_empty_bins_are_smoothed_not_infinite() -> None:
    value = psi([1, 0], [0, 1])
    assert value is not None and math.isfinite(value) and value > 1


def test_empty_side_has_no_psi_and_unknown_status() -> None:
    assert psi([0, 0], [1, 2]) is None
    assert drift_status(None) == "unknown"


def test_status_thresholds() -> None:
    assert [drift_status(v) for v in (0.05, 0.1, 0.2, 0.25, 3)] == ["passing", "warning", "warning", "failing",
                                                                    "failing"]
    assert worst_status(["passing", "failing", "warning"]) == "failing"
    assert worst_status([]) == "unknown"
