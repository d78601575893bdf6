"""The detail pane's accuracy block: status, metric driving it, every metric, or how many actuals wait."""
from __future__ import annotations

from bosun_local.tui.widgets.detail import DetailPane


def test_accuracy_block_lists_the_metrics_and_the_status() -> None:
    stats = {"accuracy": {"targetType": "binary", "matched": 120, "rowsUsed": 120, "waitingActuals": 3,
                          "metric": "auc", "status": "warning",
                          "metrics": {"accuracy": 0.75, "auc": 0.6812, "logLoss": 0.51, "f1": None}}}
    text = DetailPane._accuracy(stats).plain
    assert text.startswith("accuracy ● warning  binary, 120 matched, by auc")
    assert "auc              0.6812" in text and "f1               –" in text


def test_accuracy_block_without_matches_says_how_many_actuals_wait() -> None:
    text = DetailPane._accuracy({"accuracy": {"matched": 0, "waitingActuals": 7, "status": "unknown"}}).plain
    assert text == "accuracy ● unknown  no actuals matched yet (7 waiting)"
