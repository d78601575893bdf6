"""Loading packages: fit-time column order wins over model.yaml order, class order is checked."""
from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier

from bosun_local.model_package import PackageError
from bosun_local.pps.inputs import parse_records
from bosun_local.pps.model import load_package
from tests.pps.packages import DIABETES, ROW, diabetes_frame, write_spec


def test_yaml_order_differs_from_training_order(tmp_path: Path) -> None:
    x, y = diabetes_frame()
    model = LinearRegression().fit(x, y)
    write_spec(tmp_path, targetName="y", targetType="regression",
               features=[{"name": n} for n in reversed(DIABETES)])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    loaded = load_package(tmp_path)
    assert loaded.schema.names == DIABETES and not loaded.needs_dataframe
    scored = loaded.score(parse_records([ROW], loaded.schema))
    assert scored.predictions == pytest.approx(model.predict(pd.DataFrame([ROW]))[[0]].tolist())


def test_class_names_out_of_predict_proba_order_fail(tmp_path: Path) -> None:
    x, y = diabetes_frame()
    model = DecisionTreeClassifier(max_depth=3).fit(x, (y > 140).map({False: "low", True: "high"}))
    write_spec(tmp_path, targetName="y", targetType="binary", classNames=["low", "high"],
               features=[{"name": n} for n in DIABETES])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    with pytest.raises(PackageError, match=r"not in predict_proba order \['high', 'low'\]"):
        load_package(tmp_path)
