"""Filesystem spool layout and its writer: JSON lines in ``fs_spool.<N>`` files, rotated by size or count.

Layout of a spool directory::

    fs_spool.1, fs_spool.2, ...   records, one JSON line each; writers append to the highest N
    .fs_spool.lock                writers hold flock on it while appending or rotating
    .fs_spool.offset              the consumer's committed position ({"file": N, "offset": bytes})
    .fs_spool.reader.lock         held by the one reader (monitoring agent) of the directory
    rejected/                     lines the reader could not parse, with the reason
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
from pathlib import Path

from bosun_local.spool.channel import ChannelUnavailable, ThreadedChannel

SPOOL_PREFIX = "fs_spool."
LOCK_NAME = ".fs_spool.lock"
OFFSET_NAME = ".fs_spool.offset"
READER_LOCK_NAME = ".fs_spool.reader.lock"
REJECTED_DIR = "rejected"
_SPOOL_RE = re.compile(r"^fs_spool\.(\d+)$")


def spool_path(directory: Path, number: int) -> Path:
    """Return the path of spool file number N."""
    return directory / f"{SPOOL_PREFIX}{number}"


def spool_numbers(directory: Path) -> list[int]:
    """Return the numbers of the spool files present, ascending."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_SPOOL_RE.match, names) if m)


def read_offset(directory: Path) -> tuple[int, int] | None:
    """Return the committed (file, offset) of the directory's consumer, or None before the first commit."""
    try:
        data = json.loads((directory / OFFSET_NAME).read_text())
        return int(data["file"]), int(data["offset"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"spool offset file {directory / OFFSET_NAME} is corrupt: {exc}") from exc


class FilesystemSpoolWriter:
    """Append batches of records to the current spool file; safe across processes (flock)."""

    def __init__(
        self, directory: str | os.PathLike[str], max_file_size: int, max_num_files: int, max_records_per_file: int = 0
    ) -> None:
        self.directory = Path(directory)
        self.max_file_size = max_file_size
        self.max_num_files = max(1, max_num_files)
        self.max_records_per_file = max_records_per_file
        self._lock_fd: int | None = None
        # Records this process counted in its current file (only used for max_records_per_file).
        self._counted: tuple[int, int] | None = None

    def _lock(self) -> int:
        if self._lock_fd is None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise ChannelUnavailable(f"cannot open spool directory {self.directory}: {exc.strerror}") from exc
        return self._lock_fd

    def _current_number(self, numbers: list[int]) -> int:
        if numbers:
            return numbers[-1]
        # An empty directory continues after the consumer's committed file so its offset cannot skip new data.
        try:
            committed = read_offset(self.directory)
        except ValueError:
            committed = None
        return committed[0] + 1 if committed else 1

    def _records_in(self, number: int, path: Path) -> int:
        if self._counted is None or self._counted[0] != number:
            try:
                with open(path, "rb") as fh:
                    count = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            except FileNotFoundError:
                count = 0
            self._counted = (number, count)
        return self._counted[1]

    def write(self, lines: list[str]) -> None:
        """Append records (without newlines) in order; raise ChannelUnavailable if the spool is full or broken."""
        lock_fd = self._lock()
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                self._write_locked(lines)
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise ChannelUnavailable(f"cannot write spool in {self.directory}: {exc.strerror or exc}") from exc

    def _write_locked(self, lines: list[str]) -> None:
        numbers = spool_numbers(self.directory)
        number = self._current_number(numbers)
        start = 0
        while start < len(lines):
            path = spool_path(self.directory, number)
            size = path.stat().st_size if path.exists() else 0
            room = len(lines) - start
            if self.max_records_per_file:
                room = min(room, self.max_records_per_file - self._records_in(number, path))
            if size > 0 and (size >= self.max_file_size or room <= 0):
                unconsumed = self._unconsumed_files(numbers)
                if unconsumed >= self.max_num_files:
                    raise ChannelUnavailable(
                        f"spool {self.directory} is full ({unconsumed} unread files of MLOPS_FILESYSTEM_MAX_NUM_FILES="
                        f"{self.max_num_files}); is the monitoring agent reading it?",
                        written=start,
                    )
                number += 1
                numbers.append(number)
                continue
            room = max(room, 1)
            chunk = lines[start : start + room]
            try:
                self._append(path, ("\n".join(chunk) + "\n").encode())
            except OSError as exc:
                fix = (f"; the records are held and written again: free space on the filesystem of {self.directory}"
                       if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "")
                raise ChannelUnavailable(f"cannot write {path}: {exc.strerror or exc}{fix}", written=start) from exc
            if self.max_records_per_file:
                self._counted = (number, self._records_in(number, path) + len(chunk))
            if not numbers:
                numbers.append(number)
            start += len(chunk)

    def _unconsumed_files(self, numbers: list[int]) -> int:
        """Return how many spool files the consumer has not read to the end (per its committed offset)."""
        try:
            committed = read_offset(self.directory)
        except ValueError:
            committed = None
        if committed is None:
            return len(numbers)
        file, offset = committed
        count = sum(1 for n in numbers if n > file)
        if file in numbers and spool_path(self.directory, file).stat().st_size > offset:
            count += 1
        return count

    @staticmethod
    def _append(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            # A writer killed mid-line left a partial record: end it so ours starts on a line of its own.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            view = memoryview(data)
            try:
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            except OSError:
                # A full disk took part of the batch: cut it off, so the retry of the whole batch leaves neither a
                # half record (a reject) nor a second copy of the records before it.
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the lock file handle."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


class FilesystemChannel(ThreadedChannel):
    """Appends records to a filesystem spool directory."""

    kind = "FILESYSTEM"

    def __init__(
        self,
        directory: str,
        max_file_size: int,
        max_num_files: int,
        max_records_per_file: int = 0,
        batch_size: int = 1000,
    ) -> None:
        super().__init__(batch_size=batch_size)
        self.writer = FilesystemSpoolWriter(directory, max_file_size, max_num_files, max_records_per_file)

    def write_batch(self, lines: list[str]) -> None:
        """Append the batch to the current spool file."""
        self.writer.write(lines)

    def close_sink(self) -> None:
        """Close the spool lock handle."""
        self.writer.close()
