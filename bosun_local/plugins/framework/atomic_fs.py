"""File and directory updates that readers never see half done: write aside, then rename."""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

# Hidden names never match a deployment dir prefix, so listings and the PPS skip work in progress.
TMP_PREFIX = ".bosun-tmp-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def tmp_sibling(path: Path, tag: str = "") -> Path:
    """Return an unused hidden path next to `path` for work in progress."""
    return path.parent / f"{TMP_PREFIX}{tag}{path.name}-{secrets.token_hex(4)}"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file so readers see the old content or the new, never a part."""
    target = Path(path)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _load_renameat2() -> Any:
    """Return libc's renameat2, or None where the C library lacks it."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is not None:
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
    return func


_renameat2 = _load_renameat2()


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; return False where the kernel or filesystem cannot."""
    if _renameat2 is None:
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def install_dir(new: Path, target: Path) -> None:
    """Put the fully written dir `new` in place of `target`, which may or may not exist yet."""
    try:
        os.rename(new, target)  # target absent: one atomic rename
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if exchange_paths(new, target):
        shutil.rmtree(new)  # `new` now holds the old content
        return
    # Without RENAME_EXCHANGE the dir is briefly absent, but never half written.
    old = tmp_sibling(target, "old-")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old)


def remove_dir(target: Path) -> bool:
    """Remove a dir by renaming it away first, so readers never see it half deleted; False if absent."""
    old = tmp_sibling(target, "del-")
    try:
        os.rename(target, old)
    except FileNotFoundError:
        return False
    shutil.rmtree(old)
    return True


def remove_stale_tmp(base: Path) -> list[Path]:
    """Remove work-in-progress dirs left in `base` by an interrupted action; return what was removed."""
    removed = []
    for entry in base.glob(f"{TMP_PREFIX}*"):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
