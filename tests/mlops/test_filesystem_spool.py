"""Filesystem spool: library -> files -> reader, rotation, offsets across restarts, rejects, full spool."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bosun_local.contracts import records
from bosun_local.mlops import MLOps
from bosun_local.spool.filesystem.reader import FilesystemSpoolReader, SpoolLockedError, SpoolPosition
from bosun_local.spool.filesystem.writer import FilesystemSpoolWriter, spool_numbers


def fs_mlops(directory: Path, config: str = "") -> MLOps:
    mlops = MLOps().set_deployment_id("dep-1").set_model_id("model-1").set_filesystem_spooler(str(directory))
    if config:
        mlops.set_channel_config(config)
    return mlops.init()


def read_all(reader: FilesystemSpoolReader, batch_size: int = 1000) -> list[records.Record]:
    out: list[records.Record] = []
    for _ in range(10_000):
        batch = reader.read(batch_size)
        if not len(batch):
            break
        out.extend(batch.records)
        reader.commit(batch.position)
    return out


def test_fixture_spool_is_read_exactly(fixture_spool: Path) -> None:
    with FilesystemSpoolReader(fixture_spool) as reader:
        batch = reader.read(100)
        assert batch.rejects == []
        assert [r.data_type for r in batch.records] == [
            "DEPLOYMENT_STATS", "PREDICTIONS_DATA", "DEPLOYMENT_STATS", "DEPLOYMENT_STATS", "PREDICTIONS_DATA"]
        assert sum(r.rows for r in batch.records if r.data_type == "PREDICTIONS_DATA") == 5
        assert batch.position == SpoolPosition(1, (fixture_spool / "fs_spool.1").stat().st_size)


def test_round_trip_library_to_reader(tmp_path: Path) -> None:
    import pandas as pd

    mlops = fs_mlops(tmp_path)
    frame = pd.DataFrame({"age": [30.0, float("nan")], "color": ["red", None], "n": [1, 2]})
    mlops.report_deployment_stats(2, 12.5, user_error=True)
    mlops.report_predictions_data(frame, [[0.2, 0.8], [0.9, 0.1]], ["a1", "a2"], class_names=["yes", "no"])
    mlops.report_actuals([{"association_id": "a1", "actual_value": "yes"}])
    assert mlops.shutdown(timeout_sec=10) and mlops.dropped_records == 0
    with FilesystemSpoolReader(tmp_path) as reader:
        stats, preds, actuals = reader.read().records
    assert stats.data_type == "DEPLOYMENT_STATS" and stats.data["userError"] is True and stats.rows == 2
    assert preds.data["features"] == {"age": [30.0, None], "color": ["red", None], "n": [1, 2]}
    assert preds.data["classNames"] == ["yes", "no"] and preds.data["associationIds"] == ["a1", "a2"]
    assert actuals.data_type == "ACTUALS_DATA" and actuals.data["actualsList"] == [
        {"associationId": "a1", "actualValue": "yes"}]
    assert len({stats.id, preds.id, actuals.id}) == 3
    assert {r.deployment_id for r in (stats, preds, actuals)} == {"dep-1"}


def test_rotation_by_record_count_and_commit_removes_consumed_files(tmp_path: Path) -> None:
    mlops = fs_mlops(tmp_path, "MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE=10;max_num_files=100")
    for i in range(35):
        mlops.report_deployment_stats(i, 1.0)
    assert mlops.shutdown(timeout_sec=10)
    assert spool_numbers(tmp_path) == [1, 2, 3, 4]
    assert [len((tmp_path / f"fs_spool.{n}").read_text().splitlines()) for n in (1, 2, 3, 4)] == [10, 10, 10, 5]
    with FilesystemSpoolReader(tmp_path) as reader:
        batch = reader.read(25)
        assert [r.data["numPredictions"] for r in batch.records] == list(range(25))
        assert spool_numbers(tmp_path) == [1, 2, 3, 4], "nothing is removed before commit"
        reader.commit(batch.position)
        assert batch.position.file == 3 and spool_numbers(tmp_path) == [3, 4]
        rest = read_all(reader)
    assert [r.data["numPredictions"] for r in rest] == list(range(25, 35))
    assert spool_numbers(tmp_path) == [4], "the file writers append to is kept"


def test_rotation_by_size(tmp_path: Path) -> None:
    writer = FilesystemSpoolWriter(tmp_path, max_file_size=2000, max_num_files=100)
    line = records.encode("x", "d", "DEPLOYMENT_STATS", records.deployment_stats_data("m", 1, 1.0))
    for _ in range(20):
        writer.write([line])
    sizes = [(tmp_path / f"fs_spool.{n}").stat().st_size for n in spool_numbers(tmp_path)]
    assert len(sizes) > 1 and all(s < 2000 + len(line) + 1 for s in sizes)
    assert sum(sizes) == 20 * (len(line) + 1)


def test_offset_resume_after_restart(tmp_path: Path) -> None:
    mlops = fs_mlops(tmp_path, "MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE=7")
    for i in range(20):
        mlops.report_deployment_stats(i, 1.0)
    assert mlops.shutdown()
    reader = FilesystemSpoolReader(tmp_path)
    committed = reader.read(9)
    reader.commit(committed.position)
    uncommitted = reader.read(5)  # read but never committed: the agent "crashed"
    assert len(uncommitted.records) == 5
    reader.close()
    with FilesystemSpoolReader(tmp_path) as restarted:
        seen = [r.data["numPredictions"] for r in read_all(restarted, batch_size=4)]
    assert seen == list(range(9, 20)), "resumes after the committed record; uncommitted ones are read again"
    # More records after a full drain continue in a new file the reader finds.
    mlops = fs_mlops(tmp_path, "MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE=7")
    mlops.report_deployment_stats(99, 1.0)
    assert mlops.shutdown()
    with FilesystemSpoolReader(tmp_path) as again:
        assert [r.data["numPredictions"] for r in read_all(again)] == [99]


def test_empty_directory_after_commit_continues_numbering(tmp_path: Path) -> None:
    mlops = fs_mlops(tmp_path)
    mlops.report_deployment_stats(1, 1.0)
    assert mlops.shutdown()
    with FilesystemSpoolReader(tmp_path) as reader:
        read_all(reader)
    (tmp_path / "fs_spool.1").unlink()  # e.g. an operator cleaned up
    mlops = fs_mlops(tmp_path)
    mlops.report_deployment_stats(2, 1.0)
    assert mlops.shutdown()
    assert spool_numbers(tmp_path) == [2]
    with FilesystemSpoolReader(tmp_path) as reader:
        assert [r.data["numPredictions"] for r in read_all(reader)] == [2]


def test_malformed_and_truncated_lines_are_rejected_not_fatal(tmp_path: Path) -> None:
    good = records.encode("g1", "d", "DEPLOYMENT_STATS", records.deployment_stats_data("m", 1, 1.0))
    bad_type = good.replace("DEPLOYMENT_STATS", "SOMETHING_ELSE")
    (tmp_path / "fs_spool.1").write_text(f"{good}\nnot json at all\n\n{bad_type}\n{good[:40]}")
    (tmp_path / "fs_spool.2").write_text(good.replace("g1", "g2") + "\n")
    with FilesystemSpoolReader(tmp_path) as reader:
        batch = reader.read(100)
        assert [r.id for r in batch.records] == ["g1", "g2"]
        reasons = [r.reason for r in batch.rejects]
        assert len(reasons) == 3
        assert reasons[0].startswith("not JSON") and "SOMETHING_ELSE" in reasons[1] and "truncated" in reasons[2]
        targets = reader.write_rejects(batch.rejects)
        reader.commit(batch.position)
    rejected = [json.loads(line) for line in targets[0].read_text().splitlines()]
    assert [r["line"] for r in rejected] == ["not json at all", bad_type, good[:40]]
    assert rejected[0]["file"] == "fs_spool.1" and rejected[0]["reason"] == reasons[0]


def test_partial_last_line_waits_for_the_writer(tmp_path: Path) -> None:
    good = records.encode("p1", "d", "DEPLOYMENT_STATS", records.deployment_stats_data("m", 1, 1.0))
    path = tmp_path / "fs_spool.1"
    path.write_text(good[:30])
    with FilesystemSpoolReader(tmp_path) as reader:
        assert len(reader.read()) == 0
        with open(path, "a") as fh:
            fh.write(good[30:] + "\n")
        assert [r.id for r in reader.read().records] == ["p1"]


def test_writer_repairs_a_partial_line_left_by_a_killed_writer(tmp_path: Path) -> None:
    (tmp_path / "fs_spool.1").write_text('{"header": {"id": "half')
    writer = FilesystemSpoolWriter(tmp_path, 1 << 20, 10)
    writer.write([records.encode("w1", "d", "DEPLOYMENT_STATS", records.deployment_stats_data("m", 1, 1.0))])
    with FilesystemSpoolReader(tmp_path) as reader:
        batch = reader.read()
    assert [r.id for r in batch.records] == ["w1"] and len(batch.rejects) == 1


def test_one_reader_per_directory(tmp_path: Path) -> None:
    with FilesystemSpoolReader(tmp_path):
        with pytest.raises(SpoolLockedError) as info:
            FilesystemSpoolReader(tmp_path)
        assert info.value.fix


WRITER_PROGRAM = """
import sys
import time
from bosun_local.mlops import MLOps
directory, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mlops = MLOps().set_deployment_id("d").set_model_id("m").set_filesystem_spooler(directory)
mlops.set_channel_config("MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE=250;max_num_files=1000;batch_size=50").init()
for i in range(start, start + count):
    mlops.report_deployment_stats(i, 1.0)
sys.exit(0 if mlops.shutdown(timeout_sec=60) else 1)
"""


def test_concurrent_writer_processes_interleave_whole_records(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER_PROGRAM, str(tmp_path), str(k * 10_000), "1500"])
        for k in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with FilesystemSpoolReader(tmp_path) as reader:
        got = []
        for _ in range(1000):
            batch = reader.read(1000)
            if not len(batch):
                break
            assert batch.rejects == []
            got.extend(r.data["numPredictions"] for r in batch.records)
            reader.commit(batch.position)
    assert sorted(got) == sorted(k * 10_000 + i for k in range(3) for i in range(1500))


def test_full_spool_buffers_then_counts_drops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bosun_local.mlops")
    # synchronous reporting makes the split between written, buffered and dropped records exact
    config = "MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE=5;max_num_files=2;buffer_size=10;async_reporting=0"
    mlops = fs_mlops(tmp_path, config)
    for i in range(30):
        mlops.report_deployment_stats(i, 1.0)
    assert not mlops.shutdown(timeout_sec=2)
    # 10 records fit in the spool, 10 wait in the buffer, 10 overflowed; the buffered ones are lost at shutdown.
    assert mlops.delivered_records == 10
    assert mlops.dropped_records == 20
    assert "is full" in caplog.text and "dropped" in caplog.text and "lost" in caplog.text


def test_spool_recovers_when_the_agent_catches_up(tmp_path: Path) -> None:
    mlops = fs_mlops(tmp_path, "MLOPS_FILESYSTEM_MAX_RECORDS_PER_FILE=5;max_num_files=2;buffer_size=100")
    for i in range(30):
        mlops.report_deployment_stats(i, 1.0)
    seen: list[int] = []
    with FilesystemSpoolReader(tmp_path) as reader:
        for _ in range(400):
            seen += [r.data["numPredictions"] for r in read_all(reader)]
            if len(seen) == 30:
                break
            time.sleep(0.05)
    assert mlops.shutdown() and mlops.dropped_records == 0
    assert seen == list(range(30))


def test_unwritable_directory_is_buffered_not_raised(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file-not-dir"
        blocker.write_text("x")
        directory = blocker / "spool"  # mkdir fails even for root
    else:
        directory = tmp_path / "ro"
        directory.mkdir(mode=0o500)
    mlops = fs_mlops(directory, "buffer_size=5")
    for i in range(8):
        mlops.report_deployment_stats(i, 1.0)
    assert mlops.pending_records == 5 and mlops.dropped_records == 3
    mlops.shutdown(timeout_sec=0.5)
    shutil.rmtree(tmp_path, ignore_errors=True)
