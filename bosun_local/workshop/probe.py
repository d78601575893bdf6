"""HTTP side of the workshop: ask an app (or a deployment) for a prediction, the way the notes' curl does."""
from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from itertools import cycle, islice
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bosun_local.workshop.layout import WorkshopError

# The row of the workshop notes' curl (task 3).
EXAMPLE_ROW: dict[str, str] = {"age": "30", "sex": "1", "bmi": "23", "bp": "100", "s1": "157", "s2": "70",
                               "s3": "40", "s4": "4", "s5": "3", "s6": "88"}


def predict(client: httpx.Client, url: str, fields: dict[str, str]) -> float:
    """GET url with the fields as a form body (curl -X GET -d ...) and return the prediction."""
    body = urlencode(fields)
    try:
        response = client.request("GET", url, content=body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    except httpx.HTTPError as exc:
        raise WorkshopError(f"GET {url} failed: {exc}", fix="check the app's container logs") from exc
    if response.status_code != 200:
        raise WorkshopError(f"GET {url} answered {response.status_code}: {response.text[:300]}",
                            fix="check the app's container logs")
    try:
        return float(response.json()["prediction"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkshopError(f"GET {url} answered without a prediction: {response.text[:300]}",
                            fix="the app must answer {\"prediction\": <number>}") from exc


def wait_prediction(client: httpx.Client, url: str, fields: dict[str, str], timeout_sec: float) -> float:
    """Ask until the first prediction comes back (a route or container still starting answers 404/502/refused)."""
    deadline = time.monotonic() + timeout_sec
    while True:
        try:
            return predict(client, url, fields)
        except WorkshopError as exc:
            if time.monotonic() >= deadline:
                raise WorkshopError(f"{url} gave no prediction within {timeout_sec:g} s: {exc.message}",
                                    fix=exc.fix or "check the container logs") from exc
        time.sleep(0.5)


def training_rows(package_dir: Path, feature_names: list[str]) -> list[dict[str, str]]:
    """Return the package's training rows as request fields (features only)."""
    path = package_dir / "training.csv"
    with path.open(newline="") as fh:
        return [{name: row[name] for name in feature_names} for row in csv.DictReader(fh)]


def request_rows(count: int, rows: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    """Yield `count` requests: the notes' example row first, then training rows in turn."""
    if count <= 0:
        return
    yield EXAMPLE_ROW
    yield from islice(cycle(rows or [EXAMPLE_ROW]), count - 1)
