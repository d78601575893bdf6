"""Task 4.6: the task 3 app, reporting every prediction to bosun-local's monitoring.

The reporting library is configured only through environment variables, as datarobot-mlops is:

    MLOPS_DEPLOYMENT_ID, MLOPS_MODEL_ID     the external deployment this app reports to
    MLOPS_SPOOLER_TYPE=RABBITMQ             spool through RabbitMQ to the monitoring agent
    MLOPS_RABBITMQ_QUEUE_URL                amqp://user:password@rabbitmq:5672/%2F
    MLOPS_RABBITMQ_QUEUE_NAME               mlops (the default)

    GET /predict with form fields (or a query string) age, sex, bmi, bp, s1..s6  ->  {"prediction": 151.3}
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
import time
from pathlib import Path

import pandas as pd
from flask import Flask, jsonify, request

from bosun_local.mlops import MLOps

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
MODEL_CANDIDATES = [Path(__file__).with_name("model.pkl"), Path(__file__).parent.parent / "model/package/model.pkl"]


def model_path() -> Path:
    """Return the pickle to serve: $MODEL_PATH, else the first candidate that exists."""
    if os.environ.get("MODEL_PATH"):
        return Path(os.environ["MODEL_PATH"])
    return next((p for p in MODEL_CANDIDATES if p.exists()), MODEL_CANDIDATES[0])


with open(model_path(), "rb") as fh:
    model = pickle.load(fh)

# Every setting comes from the MLOPS_* environment variables; init() fails naming any that is missing.
mlops = MLOps().init()

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
    """Score one row and report the request's stats and the scored row."""
    try:
        frame = features_frame()
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    started = time.perf_counter()
    prediction = float(model.predict(frame)[0])
    elapsed_ms = (time.perf_counter() - started) * 1000
    # Both calls only queue a record: a slow or absent RabbitMQ never slows the answer.
    mlops.report_deployment_stats(num_predictions=1, execution_time_ms=elapsed_ms)
    mlops.report_predictions_data(features_df=frame, predictions=[prediction])
    return jsonify({"prediction": prediction})


@app.get("/health")
def health():
    """Answer the container healthcheck."""
    return jsonify({"status": "ok"})


if __name__ == "__main__":
    # docker stop sends SIGTERM; exiting normally runs MLOps' shutdown, which delivers what is still buffered.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "9091")))
