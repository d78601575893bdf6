"""`bosun-local actuals upload`: batch labels from a CSV, joined in the service to predictions by association id."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from bosun_local.cli.output import json_option, print_json
from bosun_local.client import ServiceClient
from bosun_local.errors import UsageError

# Rows per request: big enough to be quick, small enough to keep one request's body a few MB.
CHUNK_ROWS = 50_000
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f", ""}


def typed(text: str) -> int | float | str:
    """Return a CSV cell as a number when it reads as one (regression actuals), else the label text."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if value == value else text  # "nan" stays a label rather than becoming an unusable NaN


def read_actuals(path: Path, id_column: str, actual_column: str, timestamp_column: str | None,
                 acted_column: str | None) -> Iterator[dict[str, Any]]:
    """Yield the actuals rows of a CSV file, naming the file, line and column of anything unusable."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        present = reader.fieldnames or []
        for option, column in (("--association-id-column", id_column), ("--actual-column", actual_column),
                               ("--timestamp-column", timestamp_column), ("--was-acted-on-column", acted_column)):
            if column is not None and column not in present:
                raise UsageError(f"{path} has no column {column!r} (given by {option}); its columns are: "
                                 f"{', '.join(present) or 'none'}", fix=f"pass {option} with one of those names")
        for line, row in enumerate(reader, start=2):
            key = (row.get(id_column) or "").strip()
            value = (row.get(actual_column) or "").strip()
            if not key or not value:
                raise UsageError(f"{path} line {line}: empty {id_column if not key else actual_column!r}",
                                 fix="give every row an association id and an actual value, or remove the row")
            actual: dict[str, Any] = {"associationId": key, "actualValue": typed(value)}
            if timestamp_column and row.get(timestamp_column):
                actual["timestamp"] = row[timestamp_column].strip()
            if acted_column:
                word = (row.get(acted_column) or "").strip().lower()
                if word not in TRUE_WORDS | FALSE_WORDS:
                    raise UsageError(f"{path} line {line}: {acted_column} {word!r} is not true/false",
                                     fix="use true/false, yes/no or 1/0")
                actual["wasActedOn"] = word in TRUE_WORDS
            yield actual


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@click.group("actuals")
def actuals() -> None:
    """Actual outcomes (labels) of predictions, for accuracy."""


@actuals.command("upload")
@click.argument("deployment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--association-id-column", required=True, help="Column holding the association id of each prediction.")
@click.option("--actual-column", required=True, help="Column holding the actual value (number or label).")
@click.option("--timestamp-column", help="Column holding when the actual happened (ISO 8601).")
@click.option("--was-acted-on-column", help="Column saying whether the prediction was acted on (true/false).")
@click.option("--model-id", help="Model the actuals belong to, when no prediction of theirs arrived yet.")
@json_option
def upload(deployment: str, file: Path, association_id_column: str, actual_column: str,
           timestamp_column: str | None, was_acted_on_column: str | None, model_id: str | None,
           as_json: bool) -> None:
    """Upload actuals from FILE.csv for DEPLOYMENT; they join predictions whenever those arrive."""
    totals = {"received": 0, "stored": 0, "duplicates": 0, "matched": 0}
    with ServiceClient() as client:
        dep = client.get_deployment(deployment)
        rows = read_actuals(file, association_id_column, actual_column, timestamp_column, was_acted_on_column)
        for chunk in _chunks(rows):
            answer = client.upload_actuals(dep["id"], chunk, model_id)
            for key in totals:
                totals[key] += int(answer[key])
    if totals["received"] == 0:
        raise UsageError(f"{file} has no rows of actuals", fix="give a CSV with a header and one row per actual")
    result = {"deploymentId": dep["id"], "file": str(file), **totals}
    if as_json:
        print_json(result)
        return
    click.echo(f"uploaded {totals['received']} actual(s) to {dep['name']}: {totals['stored']} stored, "
               f"{totals['duplicates']} duplicate(s) ignored, {totals['matched']} matched a prediction "
               f"(the rest join when their predictions arrive)")


def register(group: click.Group) -> None:
    """Add the actuals group to the root group."""
    group.add_command(actuals)
