"""Task 3: serve the diabetes model over HTTP.

    GET /predict with form fields (or a query string) age, sex, bmi, bp, s1..s6  ->  {"prediction": 151.3}

    curl -X GET http://127.0.0.1:9091/predict \
         -d "age=30&sex=1&bmi=23&bp=100&s1=157&s2=70&s3=40&s4=4&s5=3&s6=88"
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path

import pandas as pd
from flask import Flask, jsonify, request

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
# Next to this file in the image; the package model.py writes when run from a workshop folder on the host.
MODEL_CANDIDATES = [Path(__file__).with_name("model.pkl"), Path(__file__).parent.parent / "model/package/model.pkl"]


def model_path() -> Path:
    """Return the pickle to serve: $MODEL_PATH, else the first candidate that exists."""
    if os.environ.get("MODEL_PATH"):
        return Path(os.environ["MODEL_PATH"])
    return next((p for p in MODEL_CANDIDATES if p.exists()), MODEL_CANDIDATES[0])


with open(model_path(), "rb") as fh:
    model = pickle.load(fh)

app = Flask(__name__)


def features_frame() -> pd.DataFrame:
    """Return the request's one row of features; a missing or non-numeric field is a ValueError naming it."""
    row = {}
    for name in FEATURES:
        raw = request.form.get(name, request.args.get(name))
        if raw is None or raw.strip() == "":
            raise ValueError(f"missing field {name!r}: send all of {', '.join(FEATURES)}")
        try:
            row[name] = float(raw)
        except ValueError:
            raise ValueError(f"field {name!r} must be a number, got {raw!r}") from None
    return pd.DataFrame([row], columns=FEATURES)


@app.get("/predict")
def predict():
    """Score one row given as form fields or a query string."""
    try:
        frame = features_frame()
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"prediction": float(model.predict(frame)[0])})


@app.get("/health")
def health():
    """Answer the container healthcheck."""
    return jsonify({"status": "ok"})


if __name__ == "__main__":
    # docker stop sends SIGTERM; exit normally so the process ends cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "9091")))
