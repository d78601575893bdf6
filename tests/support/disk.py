"""Full disks for fault tests: fill a (small, test-made) filesystem to the last byte."""
from __future__ import annotations

import errno
import os
from pathlib import Path


def fill(disk: Path) -> Path:
    """Write zeros into a file until the filesystem is full; return the file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler
