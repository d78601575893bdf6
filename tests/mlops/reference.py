"""The reference datarobot-mlops library (installed from PyPI by the test extras), and one script for both libraries."""
from __future__ import annotations

import importlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from tests.conftest import need


def reference() -> tuple[ModuleType, ModuleType]:
    """Return datarobot_mlops' mlops and event modules (a failure under CI=true when not installed)."""
    try:
        return importlib.import_module("datarobot_mlops.mlops"), importlib.import_module("datarobot_mlops.event")
    except ImportError as exc:
        need(False, f"datarobot-mlops is not installed ({exc}): pip install -e '.[test]'")
        raise


FEATURE_TYPES = [{"name": "age", "feature_type": "numeric"}, {"name": "colour", "feature_type": "category"},
                 {"name": "note", "feature_type": "text-words"}]


def frame(rows: int = 6) -> pd.DataFrame:
    """Return a features frame with numbers, categories, text and missing values."""
    ages = [20.5 + 7.25 * i if i % 5 != 3 else float("nan") for i in range(rows)]
    colours = [["red", "blue", "green", None][i % 4] for i in range(rows)]
    notes = [["late delivery", "fine", None, "late again", "ok"][i % 5] for i in range(rows)]
    return pd.DataFrame({"age": ages, "colour": colours, "note": notes})


def publish_everything(mlops_cls: type, event_mod: Any, **spooler: Any) -> None:
    """Call every public report_* method once or more, through the spooler given as set_<kind>_spooler kwargs."""
    kind, args = next(iter(spooler.items()))
    m = mlops_cls().set_deployment_id("dep-compat").set_model_id("model-1")
    getattr(m, f"set_{kind}_spooler")(*args)
    m.set_feature_types(FEATURE_TYPES).set_histogram_bin_count(50).set_segment_attributes("colour")
    m.set_async_reporting(False).init()
    m.report_deployment_stats(6, 12.5)
    m.report_deployment_stats(2, 3, user_error=True, system_error=False, batch_id="batch-7")
    m.report_predictions_data(features_df=frame(), predictions=[0.5, 1.5, 2.25, 3.0, 4.5, 5.0],
                              association_ids=[f"a{i}" for i in range(6)])
    m.report_predictions_data(predictions=[[0.25, 0.75], [0.875, 0.125]], class_names=["no", "yes"],
                              skip_drift_tracking=True, deployment_id="dep-compat", model_id="model-2")
    m.report_predictions_data(predictions=[1.0, float("nan"), 2.0], association_ids=["n1", "n2", "n3"])
    m.report_aggregated_predictions_data(features_df=frame(40), predictions=[0.125 * i for i in range(40)])
    m.report_aggregated_predictions_data(features_df=frame(8), predictions=[[0.125 * i, 1 - 0.125 * i]
                                                                            for i in range(8)],
                                         class_names=["no", "yes"])
    m.report_actuals([{"associationId": "a1", "actualValue": 1.25},
                      {"associationId": 2, "actualValue": "yes", "wasActedOn": True,
                       "timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}])
    m.report_deployment_metric("metric-dep", 3.5)
    m.report_model_metric("metric-model", [1.0, 2.5], timestamp=[datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                                                                  datetime(2026, 1, 2, 3, 5, 5, tzinfo=UTC)])
    m.report_event(event_mod.Event(event_mod.EventType.DEP_MODEL_REPLACED, "model replaced", data={"by": "test"}))
    m.send_ping_to_agent("hello agent")
    m.report_raw_time_series_predictions_data(
        predictions=[10.0, 11.0], forecast_distance=[1, 2], row_index=[0, 1],
        partition=[datetime(2026, 1, 1), datetime(2026, 1, 2)], series_id=["s1", "s1"],
        request_parameters={"forecast_point": datetime(2026, 1, 1)})
    m.shutdown()


_NOW = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3,6}(?:[+-]\d{4})?")


def normalized(line: str) -> tuple[dict[str, Any], str]:
    """Return a record's header and data text with what differs by design blanked: id, libVersion, times of now."""
    outer = json.loads(line)
    header = {**outer["header"], "id": "ID", "libVersion": "V"}
    today = datetime.now().strftime("%Y-%m-%d")
    data = _NOW.sub(lambda m: "NOW" if m.group(0).startswith(today) else m.group(0), outer["data"])
    data = re.sub(r'"createdTimestamp":\d+', '"createdTimestamp":0', data)
    return header, data


def spool_lines(directory: Path) -> list[str]:
    """Return every record line of a filesystem spool directory, in file order."""
    files = sorted(directory.glob("fs_spool.*"), key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    return [line for f in files for line in f.read_text().splitlines() if line.strip()]
