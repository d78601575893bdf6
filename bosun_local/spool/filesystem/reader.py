"""Filesystem spool reader for the monitoring agent: read batches, commit positions, resume after restarts.

Usage (at least once: commit only after the records are stored)::

    reader = FilesystemSpoolReader(directory)
    batch = reader.read(max_records=1000)
    store(batch.records); reader.write_rejects(batch.rejects)
    reader.commit(batch.position)
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bosun_local.contracts import records
from bosun_local.contracts.record_bounds import MAX_RECORD_BYTES
from bosun_local.errors import BosunError
from bosun_local.spool.filesystem.config import FsChannelConfig
from bosun_local.spool.filesystem.writer import (
    OFFSET_NAME,
    READER_LOCK_NAME,
    REJECTED_DIR,
    read_offset,
    spool_numbers,
    spool_path,
)
from bosun_local.spool.source import Batch, Rejected, Source, parse_record
from bosun_local.spool.transport import QueueStats

log = logging.getLogger("bosun_local.mlops")

_CHUNK = 4 << 20
# How much of an over-long or truncated line the rejected/ file keeps.
_KEPT_BYTES = 64 << 10


def _after_next_newline(fh: BinaryIO) -> int | None:
    """Return the offset just after the next newline from fh's position, None when the file ends first."""
    while chunk := fh.read(_CHUNK):
        at = chunk.find(b"\n")
        if at >= 0:
            return fh.tell() - len(chunk) + at + 1
    return None


@dataclass(frozen=True, order=True)
class SpoolPosition:
    """A place in the spool: byte offset within spool file number ``file``."""

    file: int
    offset: int


@dataclass(frozen=True)
class SpoolReject:
    """A line that could not be parsed or validated, where it was, and why."""

    file: int
    offset: int
    line: bytes
    reason: str


@dataclass
class SpoolBatch:
    """Records read in one call, the rejects among them, and the position to commit once stored."""

    records: list[records.Record] = field(default_factory=list)
    rejects: list[SpoolReject] = field(default_factory=list)
    position: SpoolPosition = SpoolPosition(0, 0)

    def __len__(self) -> int:
        return len(self.records) + len(self.rejects)


class SpoolLockedError(BosunError):
    """Another process already reads this spool directory."""


class FilesystemSpoolReader:
    """Reads one spool directory; holds its reader lock so two agents never consume the same files."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / READER_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise SpoolLockedError(
                f"spool directory {self.directory} is already read by another process",
                fix="run one monitoring agent per filesystem spool (use RabbitMQ to share work between agents)",
            ) from exc
        try:
            committed = read_offset(self.directory)
        except ValueError as exc:
            os.close(self._lock_fd)
            raise BosunError(str(exc), fix=f"delete {self.directory / OFFSET_NAME} to re-read the spool") from exc
        if committed is None:
            numbers = spool_numbers(self.directory)
            committed = (numbers[0] if numbers else 1, 0)
        self.committed = SpoolPosition(*committed)
        self.cursor = self.committed

    def read(self, max_records: int = 1000) -> SpoolBatch:
        """Return up to max_records records (and rejects) after the cursor, advancing the cursor."""
        batch = SpoolBatch(position=self.cursor)
        while len(batch) < max_records:
            number, offset = self.cursor.file, self.cursor.offset
            path = spool_path(self.directory, number)
            later = [n for n in spool_numbers(self.directory) if n > number]
            if not path.exists():
                if not later:
                    break
                self.cursor = SpoolPosition(later[0], 0)
                continue
            offset = self._read_lines(path, number, offset, max_records, batch)
            if len(batch) >= max_records:
                self.cursor = SpoolPosition(number, offset)
                break
            if not later:
                self.cursor = SpoolPosition(number, offset)
                break
            # A later file exists, so writers are done with this one: read what was appended meanwhile,
            # then end its partial tail (a writer killed mid-line) as a reject and move on.
            offset = self._read_lines(path, number, offset, max_records, batch)
            if len(batch) >= max_records:
                self.cursor = SpoolPosition(number, offset)
                break
            size = path.stat().st_size
            if size > offset:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    tail = fh.read(_KEPT_BYTES)
                batch.rejects.append(SpoolReject(number, offset, tail, "truncated record at the end of a rotated file"))
            self.cursor = SpoolPosition(later[0], 0)
        batch.position = self.cursor
        return batch

    def _read_lines(self, path: Path, number: int, offset: int, max_records: int, batch: SpoolBatch) -> int:
        """Parse complete lines of one file from offset into batch; return the offset after the last one."""
        with open(path, "rb") as fh:
            fh.seek(offset)
            while len(batch) < max_records:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                lines = chunk.split(b"\n")
                complete = lines[:-1]
                if not complete:
                    if len(chunk) < _CHUNK:
                        break  # a partial line being written: wait for its newline
                    # A line longer than one chunk: read it whole, up to the longest record there may be.
                    fh.seek(offset)
                    line = fh.readline(MAX_RECORD_BYTES + 1)
                    if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
                        end = _after_next_newline(fh)
                        if end is None:
                            break  # no end yet: a rotation ends it as a truncated record
                        batch.rejects.append(SpoolReject(number, offset, line[:_KEPT_BYTES],
                                                         f"record longer than {MAX_RECORD_BYTES} bytes (first "
                                                         f"{_KEPT_BYTES} kept here)"))
                        offset = end
                        fh.seek(offset)
                        continue
                    if not line.endswith(b"\n"):
                        break
                    complete = [line[:-1]]
                for line in complete:
                    if len(batch) >= max_records:
                        break
                    self._parse_into(line, number, offset, batch)
                    offset += len(line) + 1
                fh.seek(offset)
        return offset

    @staticmethod
    def _parse_into(line: bytes, number: int, offset: int, batch: SpoolBatch) -> None:
        if not line.strip():
            return
        try:
            batch.records.append(parse_record(line))
        except records.RecordError as exc:
            batch.rejects.append(SpoolReject(number, offset, line, exc.reason))

    def rewind(self) -> None:
        """Move the cursor back to the committed position (re-read what was not committed)."""
        self.cursor = self.committed

    def commit(self, position: SpoolPosition) -> None:
        """Persist position as consumed and delete the spool files wholly before it."""
        tmp = self.directory / (OFFSET_NAME + ".tmp")
        payload = {"file": position.file, "offset": position.offset, "committedAt": time.time()}
        with open(tmp, "w") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / OFFSET_NAME)
        self.committed = position
        if self.cursor < position:
            self.cursor = position
        for number in spool_numbers(self.directory):
            if number >= position.file:
                break
            try:
                spool_path(self.directory, number).unlink()
            except FileNotFoundError:
                pass

    def backlog_bytes(self) -> int:
        """Return the bytes written to the spool but not yet committed."""
        total = 0
        for number in spool_numbers(self.directory):
            if number < self.committed.file:
                continue
            try:
                size = spool_path(self.directory, number).stat().st_size
            except FileNotFoundError:
                continue
            total += size - (self.committed.offset if number == self.committed.file else 0)
        return max(total, 0)

    def write_rejects(self, rejects: list[SpoolReject]) -> list[Path]:
        """Append rejects with their reasons to rejected/fs_spool.<N>.rejected (JSON lines); return those files."""
        target_dir = self.directory / REJECTED_DIR
        by_file: dict[int, list[SpoolReject]] = {}
        for reject in rejects:
            by_file.setdefault(reject.file, []).append(reject)
        targets = []
        for number, group in by_file.items():
            target_dir.mkdir(exist_ok=True)
            target = target_dir / f"fs_spool.{number}.rejected"
            with open(target, "a", encoding="utf-8") as fh:
                for reject in group:
                    entry = {
                        "reason": reject.reason,
                        "file": f"fs_spool.{reject.file}",
                        "offset": reject.offset,
                        "line": reject.line.decode("utf-8", errors="replace"),
                    }
                    fh.write(json.dumps(entry) + "\n")
            log.warning("spool %s: %d rejected record(s) written to %s", self.directory, len(group), target)
            targets.append(target)
        return targets

    def idle(self, seconds: float) -> None:
        """Wait while holding a batch; a directory needs no keep-alive."""
        time.sleep(seconds)

    def close(self) -> None:
        """Release the reader lock."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> FilesystemSpoolReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FsSource(Source):
    """A filesystem spool directory: one reader, committed offsets, `rejected/` for rejects."""

    def __init__(self, config: FsChannelConfig) -> None:
        self.config = config
        self.name = config.describe()
        self.rejects_to = f"{config.directory / REJECTED_DIR}/"
        self.reader = FilesystemSpoolReader(config.directory)

    def fetch(self, max_records: int, timeout_sec: float) -> Batch:
        deadline = time.monotonic() + timeout_sec
        while True:
            spooled: SpoolBatch = self.reader.read(max_records)
            if len(spooled) or time.monotonic() >= deadline:
                break
            self.reader.idle(min(0.05, max(0.0, deadline - time.monotonic())))
        rejects = [Rejected(r.line, r.reason, r) for r in spooled.rejects]
        return Batch(records=spooled.records, rejects=rejects, token=spooled)

    def set_aside(self, batch: Batch) -> None:
        spooled: SpoolBatch = batch.token
        extra = [r for r in batch.rejects if not isinstance(r.ref, SpoolReject)]
        found = [r.ref for r in batch.rejects if isinstance(r.ref, SpoolReject)]
        # Records rejected after parsing carry no spool position; file them under the batch's start file.
        found += [SpoolReject(spooled.position.file, -1, r.raw, r.reason) for r in extra]
        if found:
            self.reader.write_rejects(found)

    def commit(self, batch: Batch) -> None:
        self.reader.commit(batch.token.position)

    def idle(self, seconds: float) -> None:
        self.reader.idle(seconds)

    def close(self) -> None:
        self.reader.close()


def spool_stats(directory: Path) -> QueueStats:
    """Return the records written but not committed, and 1 consumer while a reader holds the directory."""
    committed = read_offset(directory) or (0, 0)
    depth = 0
    for number in spool_numbers(directory):
        if number < committed[0]:
            continue
        try:
            with open(spool_path(directory, number), "rb") as fh:
                if number == committed[0]:
                    fh.seek(committed[1])
                depth += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(_CHUNK), b""))
        except FileNotFoundError:
            continue
    return QueueStats(depth, 1 if _reader_holds(directory) else 0)


def _reader_holds(directory: Path) -> bool:
    """Return True if a reader holds the directory's reader lock (probing it without keeping it)."""
    try:
        fd = os.open(directory / READER_LOCK_NAME, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock this probe took
    return False
