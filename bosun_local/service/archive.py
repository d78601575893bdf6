"""Safe intake of uploaded package archives: size limits, and no member may escape the package dir."""
from __future__ import annotations

import errno
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from bosun_local.service.api_errors import ApiError, invalid

CHUNK = 1024 * 1024
# What every Linux filesystem takes: a name of 255 bytes, a path well under PATH_MAX (4096) below the data dir.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
# Failures of the service's own disk, not of the archive: they stay server errors.
_SERVER_SIDE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def save_upload(source: BinaryIO, target: Path, max_bytes: int, what: str) -> int:
    """Copy an uploaded stream to a file, refusing (413) once it passes max_bytes; return its size."""
    size = 0
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, f"{what} is larger than the limit of {max_bytes // (1024 * 1024)} MB",
                               "make it smaller, or raise BOSUN_SERVICE_MAX_PACKAGE_MB / BOSUN_SERVICE_MAX_TRAINING_MB "
                               "on the service")
            out.write(chunk)
    return size


def _shown(name: str) -> str:
    """Return a member name for a message: quoted, and cut when it is long."""
    return repr(name) if len(name) <= 120 else repr(name[:100]) + f"... ({len(name)} characters)"


def _member_path(name: str, label: str) -> PurePosixPath:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise invalid(f"{label}: member {_shown(name)} has an absolute path",
                      "archive paths relative to the package dir")
    if len(name.encode()) > MAX_PATH_BYTES:
        raise invalid(f"{label}: member {_shown(name)} has a path longer than {MAX_PATH_BYTES} bytes",
                      "use shorter file and directory names")
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if ".." in parts:
        raise invalid(f"{label}: member {_shown(name)} escapes the package dir (path traversal)",
                      "archive only files inside the package dir")
    if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        raise invalid(f"{label}: member {_shown(name)} has a file or directory name longer than {MAX_NAME_BYTES} "
                      "bytes", "use shorter file and directory names")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def extract_archive(archive: Path, dest: Path, label: str, max_unpacked: int, max_members: int) -> None:
    """Extract regular files and dirs of a tar(.gz) into dest; refuse links, devices, traversal and bombs."""
    dest.mkdir(parents=True, exist_ok=True)
    total = members = 0
    files: set[PurePosixPath] = set()  # regular files so far: a later member may not use one as a directory
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                members += 1
                if members > max_members:
                    raise ApiError(413, f"{label} has more than {max_members} members",
                                   "package fewer files, or raise BOSUN_SERVICE_MAX_ARCHIVE_MEMBERS on the service")
                rel = _member_path(member.name, label)
                clash = next((f for f in _parents(rel) if f in files), None)
                if clash is not None:
                    raise invalid(f"{label}: member {_shown(member.name)} needs directory {str(clash)!r}, which the "
                                  "archive already holds as a file", "rename the file or the directory")
                if member.issym() or member.islnk():
                    kind = "symlink" if member.issym() else "hardlink"
                    raise invalid(f"{label}: member {_shown(member.name)} is a {kind}", "replace links with the files")
                if not (member.isfile() or member.isdir()):
                    raise invalid(f"{label}: member {_shown(member.name)} is not a regular file or directory",
                                  "archive only regular files and directories")
                total += max(member.size, 0)
                if total > max_unpacked:
                    raise ApiError(413, f"{label} unpacks to more than {max_unpacked // (1024 * 1024)} MB",
                                   "make the package smaller, or raise BOSUN_SERVICE_MAX_UNPACKED_MB on the service")
                target = dest.joinpath(*rel.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if target == dest or target.is_dir():
                    raise invalid(f"{label}: member {_shown(member.name)} clashes with a directory",
                                  "rename the file")
                files.add(rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    raise invalid(f"{label}: member {_shown(member.name)} cannot be read", "rebuild the archive")
                with src, open(target, "wb") as out:
                    # Copy at most the declared size so a lying header cannot write more than was counted.
                    shutil.copyfileobj(_Bounded(src, member.size), out, CHUNK)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise invalid(f"{label} is not a readable .tar.gz archive: {exc}",
                      "upload a gzip-compressed tar of the package directory (tar czf pkg.tar.gz -C DIR .)") from exc
    except OSError as exc:  # what the checks above did not foresee; the message names no path of ours
        if exc.errno in _SERVER_SIDE:
            raise
        raise invalid(f"{label}: a member cannot be unpacked: {exc.strerror or type(exc).__name__}",
                      "archive only regular files and directories with ordinary names") from exc


def _parents(rel: PurePosixPath) -> list[PurePosixPath]:
    """Return the directories a member path goes through, e.g. a and a/b for a/b/c."""
    return list(rel.parents)[:-1]


class _Bounded:
    """A reader that stops after n bytes."""

    def __init__(self, src: IO[bytes], limit: int) -> None:
        self.src = src
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size < 0 else min(size, self.left)
        data = self.src.read(size)
        self.left -= len(data)
        return data


def package_root(extracted: Path) -> Path:
    """Return the package dir inside an extraction: itself, or its single top-level dir when it holds model.yaml."""
    if (extracted / "model.yaml").exists():
        return extracted
    entries = list(extracted.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return extracted
