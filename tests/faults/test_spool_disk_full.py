"""The filesystem spool's disk full (a 1 MB tmpfs the test mounts): the writer names the place and the fix, holds
the records, leaves no half record, and writes them all when space is back — each read once (issue 17)."""
from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosun_local.mlops import MLOps
from bosun_local.spool.filesystem.reader import FilesystemSpoolReader
from tests.conftest import need
from tests.support.disk import fill
from tests.support.stack import until


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """Mount a 1 MB tmpfs for the test (root only, as CI runs); unmount it after."""
    need(os.geteuid() == 0, "the disk-full fault mounts a tmpfs: run it as root (CI does)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "spool-full", str(mount)], check=True,
                   capture_output=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_spool_disk_holds_records_then_writes_them_all(small_disk: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bosun_local.mlops")
    spool = small_disk / "spool"
    mlops = MLOps().set_deployment_id("dep-1").set_model_id("model-1").set_filesystem_spooler(str(spool)) \
        .set_channel_config("buffer_size=5000").init()
    try:
        for i in range(100):
            mlops.report_deployment_stats(i, 1.0)
        until("the first 100 records to be written", lambda: mlops.delivered_records == 100, 30)
        filler = fill(small_disk)
        for i in range(100, 1100):  # ~200 KB of records: far more than the few bytes left
            mlops.report_deployment_stats(i, 1.0)
        until("the writer to say the disk is full", lambda: "No space left" in caplog.text, 30)
        assert f"free space on the filesystem of {spool}" in caplog.text, caplog.text
        assert mlops.dropped_records == 0 and mlops.delivered_records < 1100
        filler.unlink()  # space is back
        until("every record to be written", lambda: mlops.delivered_records == 1100, 60)
    finally:
        assert mlops.shutdown(timeout_sec=10)
    seen: list[int] = []
    with FilesystemSpoolReader(spool) as reader:
        while len(batch := reader.read(1000)):
            assert not batch.rejects, batch.rejects  # no half record left by the failed writes
            seen += [r.data["numPredictions"] for r in batch.records]
            reader.commit(batch.position)
    assert seen == list(range(1100))  # each once, in order: nothing lost, nothing written twice
