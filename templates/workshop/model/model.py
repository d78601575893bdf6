"""Task 2: train a diabetes regression model and write it as a bosun-local model package.

    python model.py            # writes ./package: model.pkl, model.yaml, training.csv
    python model.py --out DIR  # writes the package somewhere else
"""
from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import yaml
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

# The unscaled features (scaled=False), so a prediction request carries values as a person would type them.
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
TARGET = "y"


def train(out: Path) -> float:
    """Fit the model, write the package to `out` and return the R² on held-out rows."""
    data = load_diabetes(scaled=False, as_frame=True).frame.rename(columns={"target": TARGET})
    x_train, x_test, y_train, y_test = train_test_split(data[FEATURES], data[TARGET], test_size=0.2, random_state=42)
    model = LinearRegression().fit(x_train, y_train)
    score = float(r2_score(y_test, model.predict(x_test)))

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)
    spec = {
        "name": "diabetes",
        "targetName": TARGET,
        "targetType": "regression",
        "features": [{"name": name, "type": "numeric"} for name in FEATURES],
        "modelFile": "model.pkl",
        "trainingData": "training.csv",
    }
    (out / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    # The training rows (features + target) are the drift baseline the service compares predictions with.
    data.loc[x_train.index, FEATURES + [TARGET]].to_csv(out / "training.csv", index=False)
    return score


def main() -> None:
    """Train and report where the package went."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "package",
                        help="package directory to write (default: ./package next to this file)")
    args = parser.parse_args()
    score = train(args.out)
    print(f"trained LinearRegression on {len(FEATURES)} features, R² on held-out rows {score:.3f}")
    print(f"package written to {args.out}")


if __name__ == "__main__":
    main()
