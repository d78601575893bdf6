"""Association ids in storage, on a real SQLite file and a real PostgreSQL database: batches larger than one
statement, first prediction and first actual win, joins in either order, canary copies, minutes merged per batch."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bosun_local.service.storage import open_storage
from bosun_local.service.storage.base import Storage
from bosun_local.service.storage.sqlite_associations import _ROWS_PER_INSERT
from tests.support.postgres import BACKENDS, fresh_database

SINCE = "2026-01-01T00:00:00Z"
MINUTE = "2026-11-30T10:00:00Z"
# More ids than one multi-row statement takes, and a last statement shorter than the others.
N = 2 * _ROWS_PER_INSERT + 7


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Yield a fresh store on each backend."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database("assoc")) if request.param == "postgres" else ""
        store = open_storage(tmp_path, url)
        stack.callback(store.close)
        yield store


def predictions(record_id: str, ids: list[Any], values: list[float | None], **extra: Any) -> dict[str, Any]:
    """Return a predictions ingest record with association ids."""
    return {"recordId": record_id, "deploymentId": "d", "modelId": "m", "minute": MINUTE, "kind": "predictions",
            "rows": len(ids), "predictionSum": 0.0, "associations": {"ids": ids, "predictions": values}, **extra}


def test_a_large_batch_joins_actuals_either_way_and_keeps_the_first_prediction(storage: Storage) -> None:
    # Actuals first for every third id (and a repeated actual: the first wins).
    early = [f"a{i}" for i in range(0, N, 3)]
    assert storage.store_actual_columns("d", {"associationIds": [*early, "a0"],
                                              "actualValues": [float(i) for i in range(len(early))] + [99.0]}) \
        == (len(early), 1)
    assert storage.waiting_actuals("d") == len(early)
    # One record of N ids (int ids too), with a repeat of a0 at the end: the first prediction of a0 wins.
    ids: list[Any] = [f"a{i}" for i in range(N)] + ["a0"]
    ids[5] = 5  # stored as the text "5": its actual below joins by that text
    values: list[float | None] = [float(i) for i in range(N)] + [-1.0]
    values[1] = None
    assert storage.ingest([predictions("p1", ids, values)]) == (1, 0)
    assert storage.waiting_actuals("d") == 0
    assert storage.regression_sums("d", SINCE)["matched"] == len(early)
    # A redelivered record is a duplicate; a new record with the same ids changes no prediction.
    assert storage.ingest([predictions("p1", ids, values)]) == (0, 1)
    storage.ingest([predictions("p2", [f"a{i}" for i in range(N)], [7.0] * N)])
    # Actuals for the rest arrive later; the early ones stay as they were.
    late = [f"a{i}" if i != 5 else "5" for i in range(N) if i % 3]
    assert storage.store_actual_columns("d", {"associationIds": late, "actualValues": [1.0] * len(late)}) \
        == (len(late), 0)
    assert storage.store_actual_columns("d", {"associationIds": early, "actualValues": [5.0] * len(early)}) \
        == (0, len(early))
    rows = storage.matched_rows("d", SINCE)
    assert len(rows) == N
    assert storage.matched_count("d", [f"a{i}" for i in range(N)]) == N - 1  # "5" is stored under "5", not "a5"
    assert storage.matched_count("d", ["5"]) == 1
    by_prediction = {r["prediction"]: r for r in rows if r["prediction"] is not None}
    assert len(by_prediction) == N - 1  # a1 predicted None; every other prediction is the first one sent
    assert by_prediction[0.0]["actual_num"] == 0.0  # a0: its first actual, and its first prediction (not -1.0)
    assert by_prediction[3.0]["actual_num"] == 1.0  # a3: the early actual number 1
    assert by_prediction[4.0]["actual_num"] == 1.0  # a4: a late actual
    sums = storage.regression_sums("d", SINCE)
    assert (sums["matched"], sums["n"]) == (N, N - 1)


def test_labels_per_row_times_and_a_canary_copy(storage: Storage) -> None:
    ids = [f"c{i}" for i in range(N)]
    record = {"recordId": "l1", "deploymentId": "d", "modelId": "canary", "minute": MINUTE, "kind": "predictions",
              "rows": N, "predictionSum": 0.0, "copyAssociationKey": "d#canary",
              "associations": {"ids": ids, "labels": ["yes" if i % 2 else "no" for i in range(N)],
                               "classNames": ["no", "yes"],
                               "timestamps": [f"2026-11-30T10:00:{i % 60:02d}Z" for i in range(N)]}}
    storage.ingest([record])
    storage.store_actual_columns("d", {"associationIds": ids, "actualValues": ["yes"] * N})
    assert len(storage.matched_rows("d", SINCE)) == N
    # Predictions made from 10:00:30 on: the ids predicted in the second half of their minute.
    assert len(storage.matched_rows("d", "2026-11-30T10:00:30Z")) == sum(1 for i in range(N) if i % 60 >= 30)
    figures = storage.agreement("d", "d#canary", SINCE, 0.0)
    assert (figures["common"], figures["agree"], figures["matched"], figures["correct"]) == (N, N, N, N // 2)


def test_a_batch_merges_its_minutes_as_one_record_at_a_time_would(storage: Storage, tmp_path: Path) -> None:
    records = [predictions(f"m{i}", [f"m{i}-{j}" for j in range(3)], [1.0, 2.0, 3.0], predictions=3,
                           executionTimeMs=4.5, minute=f"2026-11-30T10:0{i % 2}:00Z") for i in range(6)]
    records.append({"recordId": "s1", "deploymentId": "d", "modelId": "m", "minute": MINUTE, "kind": "requests",
                    "requests": {"recordIds": ["s1", "s2"], "predictions": [1, 2], "executionTimeMs": [1.0, 2.0],
                                 "userErrors": [False, True], "systemErrors": [False, False]}})
    assert storage.ingest(records) == (8, 0)
    one_by_one = open_storage(tmp_path / "one-by-one")
    try:
        for record in records:
            one_by_one.ingest([record])
        for minute in ("2026-11-30T10:00:00Z", "2026-11-30T10:01:00Z"):
            assert list(storage.minute_figures("d", minute)) == list(one_by_one.minute_figures("d", minute))
        (first, second) = storage.minute_figures("d", MINUTE)
        assert (first["records"], first["predictions"], first["userErrors"]) == (5, 3 * 3 + 3, 1)
        assert (second["records"], second["predictions"]) == (3, 9)
    finally:
        one_by_one.close()


def test_waiting_actuals_are_counted_by_their_partial_index(tmp_path: Path) -> None:
    """A stats call counts the actuals still waiting without reading every stored prediction of the deployment."""
    storage = open_storage(tmp_path)
    try:
        storage.store_actual_columns("d", {"associationIds": ["w"], "actualValues": [1.0]})
        conn = storage._conn()  # type: ignore[attr-defined]
        seen: list[str] = []
        conn.set_trace_callback(seen.append)
        assert storage.waiting_actuals("d") == 1
        conn.set_trace_callback(None)
        select = next(s for s in seen if "predicted_ms IS NULL" in s)
        plan = [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + select)]
        assert any("association_rows_waiting" in step for step in plan), plan
    finally:
        storage.close()


def uuids(prefix: int, count: int) -> list[str]:
    """Return random-looking ids (UUIDs made from their position, so a test can name them again)."""
    return [str(uuid.UUID(bytes=hashlib.md5(f"{prefix}-{i}".encode()).digest(), version=4)) for i in range(count)]


def test_a_batch_of_random_ids_is_stored_as_record_by_record_storage_would(storage: Storage, tmp_path: Path) -> None:
    """Random ids of a batch go in one id-sorted insert: first prediction and first actual still win, a canary copy
    and actuals that came first still join, probabilities and labels keep their kinds."""
    shared_ids = uuids(9, 40)
    early = shared_ids[:10]
    labels_ids = uuids(3, 50)
    records = [
        predictions("u1", [*uuids(1, N), *shared_ids], [float(i) for i in range(N + 40)]),
        # The same ids again, later in the batch: the first record's predictions win.
        predictions("u2", [*shared_ids, *uuids(2, 30)], [-1.0] * 70, copyAssociationKey="d#canary"),
        {**predictions("u3", labels_ids, []), "associations": {
            "ids": labels_ids, "labels": ["yes" if i % 2 else "no" for i in range(50)], "classNames": ["no", "yes"],
            "timestamps": [f"2026-11-30T10:00:{i:02d}Z" for i in range(50)]}},
        {**predictions("u4", uuids(4, 20), []), "associations": {
            "ids": uuids(4, 20), "probabilities": [[0.2, 0.3, 0.5]] * 20, "classNames": ["a", "b", "c"]}},
    ]
    expected = open_storage(tmp_path / "one-by-one")
    try:
        for store in (storage, expected):
            assert store.store_actual_columns("d", {"associationIds": early, "actualValues": [1.0] * 10}) == (10, 0)
            if store is expected:
                for record in records:
                    store.ingest([record])
            else:
                assert store.ingest(records) == (4, 0)
            every = [*uuids(1, N), *shared_ids, *uuids(2, 30), *labels_ids, *uuids(4, 20)]
            assert store.store_actual_columns("d", {"associationIds": every, "actualValues": [2.0] * len(every)}) \
                == (len(every) - 10, 10)
        assert storage.waiting_actuals("d") == 0
        for since in (SINCE, "2026-11-30T10:00:30Z"):
            got, want = storage.matched_rows("d", since), expected.matched_rows("d", since)
            key = lambda r: (str(r["prediction"]), str(r["label"]), bytes(r["probs"] or b""))  # noqa: E731
            assert sorted(got, key=key) == sorted(want, key=key)
        assert storage.regression_sums("d", SINCE) == expected.regression_sums("d", SINCE)
        assert storage.agreement("d", "d#canary", SINCE, 0.0) == expected.agreement("d", "d#canary", SINCE, 0.0)
        by_prediction = {r["prediction"] for r in storage.matched_rows("d", SINCE)}
        assert -1.0 in by_prediction  # u2's own ids
        assert storage.matched_count("d", shared_ids) == 40
        assert sum(1 for r in storage.matched_rows("d", SINCE) if r["prediction"] == -1.0) == 30
    finally:
        expected.close()


def test_an_id_repeated_across_record_shapes_keeps_its_first_prediction(storage: Storage) -> None:
    """Records of one deployment with other fields (labels, predictions) sharing ids still let the first one win."""
    repeated = uuids(7, 20)

    def labelled(record_id: str, ids: list[str]) -> dict[str, Any]:
        return {**predictions(record_id, ids, []), "associations": {
            "ids": ids, "labels": ["yes"] * len(ids), "classNames": ["no", "yes"]}}

    records = [predictions("s1", uuids(5, 30), [1.0] * 30), labelled("s2", [*uuids(6, 10), *repeated]),
               predictions("s3", [*repeated, *uuids(8, 10)], [3.0] * 30)]
    assert storage.ingest(records) == (3, 0)
    assert storage.store_actual_columns("d", {"associationIds": repeated, "actualValues": [0.0] * 20}) == (20, 0)
    rows = storage.matched_rows("d", SINCE)
    assert len(rows) == 20 and {(r["label"], r["prediction"]) for r in rows} == {("yes", None)}  # s2 came first


def test_a_restarted_store_and_a_second_replica_join_from_the_stored_blocks(storage: Storage, tmp_path: Path) -> None:
    """The index of first predictions is rebuilt from the blocks on open and caught up from another store's writes."""
    ids = uuids(11, N)
    assert storage.ingest([predictions("r1", ids, [float(i) for i in range(N)])]) == (1, 0)
    url = getattr(storage, "url", "")
    other = open_storage(tmp_path, url)  # a restart, or a second replica on the same database
    try:
        # The other store's repeat of the ids changes no prediction; its new ids are seen by the first store.
        other.ingest([predictions("r2", [*ids[:10], *uuids(12, 5)], [-1.0] * 15)])
        assert other.store_actual_columns("d", {"associationIds": ids[:10], "actualValues": [0.0] * 10}) == (10, 0)
        assert storage.store_actual_columns("d", {"associationIds": [*ids, *uuids(12, 5)],
                                                  "actualValues": [0.0] * (N + 5)}) == (N - 10 + 5, 10)
        for store in (storage, other):
            rows = store.matched_rows("d", SINCE)
            assert sorted(r["prediction"] for r in rows) == [-1.0] * 5 + [float(i) for i in range(N)]
            assert store.waiting_actuals("d") == 0
    finally:
        other.close()


def test_a_rolled_back_batch_leaves_no_first_prediction(storage: Storage) -> None:
    ids = [f"rb{i}" for i in range(20)]
    with pytest.raises(RuntimeError), storage.transaction():
        storage.ingest([predictions("b1", ids, [1.0] * 20)])
        raise RuntimeError("the write fails after the blocks were indexed")
    # Other positions this time: an index left pointing into the rolled-back block would join the wrong ones.
    storage.ingest([predictions("b2", ["x", *ids], [100.0 + i for i in range(21)])])
    assert storage.store_actual_columns("d", {"associationIds": ids, "actualValues": [101.0 + i for i in range(20)]}) \
        == (20, 0)
    assert storage.regression_sums("d", SINCE)["squares"] == 0.0  # each id joined to its own prediction


def test_purged_predictions_are_forgotten_and_rows_from_before_blocks_still_win(storage: Storage) -> None:
    # A prediction row as releases before blocks stored it: it stays the first prediction of its id.
    storage.store_actual_columns("d", {"associationIds": ["seed"], "actualValues": [0.0]})  # makes the key
    dep = storage._dep_key("d")  # type: ignore[attr-defined]
    with storage.transaction():
        storage._exec("INSERT INTO association_rows (dep, association_id, predicted_ms, prediction, received_s) "  # type: ignore[attr-defined]
                      "VALUES (?, 'old', 1764496800000, 5.0, 1764496800)", (dep,))
    storage._forget_index()  # type: ignore[attr-defined]  # as a restart would
    storage.ingest([predictions("o1", ["old", "new"], [6.0, 6.0])])
    assert storage.store_actual_columns("d", {"associationIds": ["old"], "actualValues": [5.0]}) == (1, 0)
    assert storage.regression_sums("d", SINCE)["squares"] == 0.0  # joined to 5.0, not 6.0
    # Everything is received before this cutoff: blocks and rows go, and their ids are forgotten.
    assert storage.purge_associations("2999-01-01T00:00:00Z") >= 3
    assert storage.matched_rows("d", SINCE) == [] and storage.waiting_actuals("d") == 0
    storage.ingest([predictions("o2", ["new"], [7.0])])
    assert storage.store_actual_columns("d", {"associationIds": ["new"], "actualValues": [7.0]}) == (1, 0)
    assert [r["prediction"] for r in storage.matched_rows("d", SINCE)] == [7.0]


def test_agreement_reads_blocks_and_rows_alike(storage: Storage) -> None:
    """A challenger's predictions against the champion's, some in blocks, some joined to actuals that came first."""
    xs, ws = [f"x{i}" for i in range(10)], [f"w{i}" for i in range(3)]
    storage.store_actual_columns("d", {"associationIds": ws, "actualValues": [100.0 + i for i in range(3)]})
    storage.ingest([predictions("c1", [*xs, *ws], [float(i) for i in range(10)] + [100.0 + i for i in range(3)])])
    theirs = [i * (1 + 0.05 * (i % 2)) for i in range(10)]  # odd ones 5 % off
    storage.ingest([predictions("h1", [*xs, *ws, "only-theirs"], [*theirs, 100.0, 101.0, 102.0, 7.0],
                                associationKey="d#challenger")])
    storage.store_actual_columns("d", {"associationIds": xs[:5], "actualValues": [i + 1.0 for i in range(5)]})
    errors = [i + 1.0 - theirs[i] for i in range(5)] + [0.0, 0.0, 0.0]
    figures = storage.agreement("d", "d#challenger", SINCE, 0.01)
    assert {k: figures[k] for k in ("common", "agree", "matched", "correct", "labelled", "n")} == \
        {"common": 13, "agree": 5 + 3, "matched": 8, "correct": 0, "labelled": 0, "n": 8}
    assert figures["squares"] == pytest.approx(sum(e * e for e in errors))
    assert figures["absolute"] == pytest.approx(sum(abs(e) for e in errors))
    assert storage.agreement("d", "d#challenger", SINCE, 0.06)["agree"] == 13
    assert storage.agreement("d", "d#challenger", "2999-01-01T00:00:00Z", 0.06)["common"] == 0


def test_a_batch_stores_its_actuals_together_and_the_first_of_an_id_wins(storage: Storage) -> None:
    ids = uuids(21, 30)
    storage.ingest([predictions("q1", ids, [float(i) for i in range(30)])])
    first = {"recordId": "act1", "deploymentId": "d", "modelId": "m", "minute": MINUTE, "kind": "actuals",
             "actuals": [{"associationId": i, "actualValue": float(k), "wasActedOn": True}
                         for k, i in enumerate(ids[:20])]}
    second = {"recordId": "act2", "deploymentId": "d", "modelId": "m", "minute": MINUTE, "kind": "actuals",
              "actualColumns": {"associationIds": ids[10:], "actualValues": [-1.0] * 20}}
    assert storage.ingest([first, second]) == (2, 0)
    rows = storage.matched_rows("d", SINCE)
    assert len(rows) == 30
    # ids 10..19 came in both records: the first record's actual (equal to the prediction) won.
    assert sorted(r["actual_num"] for r in rows if r["actual_num"] == r["prediction"]) == [float(k) for k in range(20)]
    assert sum(1 for r in rows if r["actual_num"] == -1.0) == 10


def test_past_its_cap_the_index_compacts_the_oldest_blocks_into_rows(storage: Storage, tmp_path: Path) -> None:
    """Memory stays bounded: the oldest blocks' first predictions move to rows, and every rule still holds."""
    storage.index_max_ids = 2500  # type: ignore[attr-defined]
    batches = [uuids(30 + n, 1000) for n in range(5)]
    for n, ids in enumerate(batches):
        storage.ingest([predictions(f"k{n}", ids, [float(n)] * 1000)])
        assert storage._index().size <= 2500  # type: ignore[attr-defined]
    compacted = storage._exec("SELECT COUNT(*) FROM association_blocks WHERE compacted = 1").fetchone()[0]  # type: ignore[attr-defined]
    assert compacted == 3
    # A repeat of a compacted id and of an indexed one: the first predictions still win.
    storage.ingest([predictions("k-repeat", [batches[0][0], batches[4][0]], [-1.0, -1.0])])
    # The repeat is indexed (its first prediction is a row now): its actual fills that row, it is not dropped.
    assert storage.store_actual_columns("d", {"associationIds": [batches[0][0]], "actualValues": [0.0]}) == (1, 0)
    # A restart (or another replica) indexes only the blocks not compacted.
    other = open_storage(tmp_path, getattr(storage, "url", ""))
    try:
        other.index_max_ids = 2500  # type: ignore[attr-defined]
        with other.transaction():
            assert other._index().size <= 2500  # type: ignore[attr-defined]
        every = [i for ids in batches for i in ids]
        truth = [float(n) for n in range(5) for _ in range(1000)]  # each id's actual is its first prediction
        assert other.store_actual_columns("d", {"associationIds": every[:2500], "actualValues": truth[:2500]}) \
            == (2499, 1)
        assert storage.store_actual_columns("d", {"associationIds": every, "actualValues": truth}) == (2500, 2500)
    finally:
        other.close()
    sums = storage.regression_sums("d", SINCE)
    assert (sums["matched"], sums["n"], sums["squares"]) == (5000, 5000, 0.0)
    assert storage.waiting_actuals("d") == 0
    figures = storage.agreement("d", "d", SINCE, 0.0)
    assert (figures["common"], figures["agree"], figures["matched"], figures["squares"]) == (5000, 5000, 5000, 0.0)
