"""The workshop's plain Flask app: GET /predict with form fields, the pickle scored directly (bench baseline)."""
from __future__ import annotations

import os
import pickle

import numpy as np
from flask import Flask, jsonify, request

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]

app = Flask(__name__)
with open(os.path.join(os.environ.get("MODEL_DIR", "."), "model.pkl"), "rb") as fh:
    model = pickle.load(fh)


@app.route("/predict", methods=["GET", "POST"])
def predict():  # noqa: ANN201 - kept as the workshop writes it
    """Score one row given as form fields."""
    row = np.array([[float(request.form[name]) for name in FEATURES]])
    return jsonify({"prediction": float(model.predict(row)[0])})


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "5000")), threaded=True)
