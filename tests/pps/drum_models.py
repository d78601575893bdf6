"""Custom models written to DataRobot's documented DRUM hook contract (our own code, DRUM's template layout)."""
from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression

from tests.pps.packages import DIABETES, diabetes_frame

# Every structured hook: init, load_model, read_input_data, transform, score (with an extra output column) and
# post_process. The input is semicolon-separated with decimal commas, so only read_input_data can read it.
ALL_HOOKS_PY = '''
import io
import pickle
from pathlib import Path

import pandas as pd

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
STATE = {}


def init(code_dir, **kwargs):
    STATE["offset"] = float(Path(code_dir, "offset.txt").read_text())


def load_model(code_dir):
    with open(Path(code_dir, "regressor.bin"), "rb") as fh:
        return pickle.load(fh)


def read_input_data(input_binary_data):
    return pd.read_csv(io.BytesIO(input_binary_data), sep=";", decimal=",")


def transform(data, model):
    return data.drop(columns=["row_id"]).fillna(0)


def score(data, model, **kwargs):
    target_type = getattr(kwargs["target_type"], "value", kwargs["target_type"])
    if target_type != "regression":
        raise ValueError(f"expected a regression target, got {target_type}")
    predictions = model.predict(data[FEATURES]) + STATE["offset"]
    return pd.DataFrame({"Predictions": predictions, "bmi_seen": data["bmi"]})


def post_process(predictions, model):
    return predictions.clip(lower=0.0)
'''

# DataRobot's python3_sklearn template shape: only transform(); DRUM loads the one .pkl and calls predict_proba.
TRANSFORM_ONLY_PY = '''
def transform(data, model):
    for target_col in ["high"]:
        if target_col in data:
            data.pop(target_col)
    return data.fillna(0)
'''

# score() builds probabilities from the class_labels keyword and returns the columns in reverse order.
MULTICLASS_PY = '''
import numpy as np
import pandas as pd


def load_model(code_dir):
    return {"scale": 0.01}


def score(data, model, **kwargs):
    labels = kwargs["class_labels"]
    logits = np.column_stack([data["x"] * model["scale"] * (i + 1) for i in range(len(labels))])
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = probs / probs.sum(axis=1, keepdims=True)
    return pd.DataFrame(probs[:, ::-1], columns=list(reversed(labels)))
'''

# score_unstructured with DRUM's keywords: text or bytes in by mimetype, query parameters, a (data, kwargs) return.
UNSTRUCTURED_PY = '''
from pathlib import Path

STATE = {}


def init(code_dir, **kwargs):
    STATE["greeting"] = Path(code_dir, "greeting.txt").read_text().strip()


def load_model(code_dir):
    return {"prefix": STATE["greeting"]}


def score_unstructured(model, data, query, **kwargs):
    text = data.decode("utf8") if isinstance(data, bytes) else data
    words = len(text.split())
    if query.get("ret_mode", "") == "binary":
        return words.to_bytes(4, byteorder="big"), {"mimetype": "application/octet-stream"}
    kind = "bytes" if isinstance(data, bytes) else "str"
    return f"{model['prefix']} {words} words ({kind}, {kwargs['mimetype']}, {kwargs.get('charset')})"
'''


def metadata(directory: Path, target_type: str, **inference: object) -> None:
    """Write DataRobot's model-metadata.yaml (the only spec these packages have)."""
    doc = {"name": directory.name, "type": "inference", "targetType": target_type}
    if inference:
        doc["inferenceModel"] = inference
    (directory / "model-metadata.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def all_hooks_regression(directory: Path) -> Path:
    """Diabetes regression through every structured hook."""
    directory.mkdir(parents=True, exist_ok=True)
    x, y = diabetes_frame()
    (directory / "regressor.bin").write_bytes(pickle.dumps(LinearRegression().fit(x, y)))
    (directory / "offset.txt").write_text("0.25")
    (directory / "custom.py").write_text(textwrap.dedent(ALL_HOOKS_PY))
    metadata(directory, "regression", targetName="progression")
    return directory


def all_hooks_input(rows: int = 5) -> bytes:
    """Return semicolon-separated rows with decimal commas and a row_id column transform() drops."""
    x, _ = diabetes_frame()
    sample = x.head(rows).copy()
    sample.insert(0, "row_id", range(rows))
    sample.loc[sample.index[1], "s6"] = np.nan  # transform() fills it with 0
    return sample.to_csv(sep=";", decimal=",", index=False).encode()


def sklearn_binary(directory: Path) -> Path:
    """The python3_sklearn template's shape: a .pkl scikit-learn classifier and a transform-only custom.py."""
    directory.mkdir(parents=True, exist_ok=True)
    x, y = diabetes_frame()
    target = (y > y.median()).map({False: "no", True: "yes"})
    (directory / "classifier.pkl").write_bytes(pickle.dumps(LogisticRegression(max_iter=5000).fit(x, target)))
    (directory / "custom.py").write_text(textwrap.dedent(TRANSFORM_ONLY_PY))
    metadata(directory, "binary", targetName="high", positiveClassLabel="yes", negativeClassLabel="no")
    return directory


def sklearn_binary_input(rows: int = 6) -> bytes:
    """Return CSV rows with the target column still in (the template's transform() pops it)."""
    x, y = diabetes_frame()
    return x.head(rows).assign(high="unknown").to_csv(index=False).encode()


def multiclass(directory: Path) -> Path:
    """A score()-only multiclass model over one column x, classes a, b, c."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "custom.py").write_text(textwrap.dedent(MULTICLASS_PY))
    metadata(directory, "multiclass", targetName="letter", classLabels=["a", "b", "c"])
    return directory


MULTICLASS_INPUT = b"x\n-50\n0\n12.5\n80\n"


def unstructured(directory: Path) -> Path:
    """An unstructured word counter: text or bytes in, text or bytes out."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "custom.py").write_text(textwrap.dedent(UNSTRUCTURED_PY))
    (directory / "greeting.txt").write_text("counted:")
    metadata(directory, "unstructured")
    return directory


__all__ = ["DIABETES", "all_hooks_regression", "all_hooks_input", "sklearn_binary", "sklearn_binary_input",
           "multiclass", "MULTICLASS_INPUT", "unstructured"]
