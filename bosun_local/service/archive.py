"""Safe intake of uploaded package archives: size limits, and no member may escape the package dir."""
from __future__ import annotations

import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from bosun_local.service.api_errors import ApiError, invalid

CHUNK = 1024 * 1024


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


def _member_path(name: str, label: str) -> PurePosixPath:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise invalid(f"{label}: member {name!r} has an absolute path", "archive paths relative to the package dir")
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if ".." in parts:
        raise invalid(f"{label}: member {name!r} escapes the package dir (path traversal)",
                      "archive only files inside the package dir")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def extract_archive(archive: Path, dest: Path, label: str, max_unpacked: int, max_members: int) -> None:
    """Extract regular files and dirs of a tar(.gz) into dest; refuse links, devices, traversal and bombs."""
    dest.mkdir(parents=True, exist_ok=True)
    total = members = 0
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                members += 1
                if members > max_members:
                    raise ApiError(413, f"{label} has more than {max_members} members",
                                   "package fewer files, or raise BOSUN_SERVICE_MAX_ARCHIVE_MEMBERS on the service")
                rel = _member_path(member.name, label)
                if member.issym() or member.islnk():
                    kind = "symlink" if member.issym() else "hardlink"
                    raise invalid(f"{label}: member {member.name!r} is a {kind}", "replace links with the files")
                if not (member.isfile() or member.isdir()):
                    raise invalid(f"{label}: member {member.name!r} is not a regular file or directory",
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
                    raise invalid(f"{label}: member {member.name!r} clashes with a directory", "rename the file")
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    raise invalid(f"{label}: member {member.name!r} cannot be read", "rebuild the archive")
                with src, open(target, "wb") as out:
                    # Copy at most the declared size so a lying header cannot write more than was counted.
                    shutil.copyfileobj(_Bounded(src, member.size), out, CHUNK)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise invalid(f"{label} is not a readable .tar.gz archive: {exc}",
                      "upload a gzip-compressed tar of the package directory (tar czf pkg.tar.gz -C DIR .)") from exc


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
