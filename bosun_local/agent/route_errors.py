"""Requests traefik answered without reaching a PPS (404/502/503/504), counted as their deployment's system errors.

A PPS reports what it answers itself; when it is down, blocked or unrouted, traefik answers instead and nothing
reached the figures. traefik writes those answers to a JSON access log in the data dir; the management agent
reads it and posts one stats record per failed request (its id is the line's place in the file, so a re-read
after a crash counts nothing twice).

The log is kept small without losing a line: the counted part's disk blocks are given back at once (a punched
hole: offsets stay valid while traefik appends), and the file is emptied when it has been fully counted and is past
traefikAccessLogMaxKB.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from bosun_local.client import ServiceClient

log = logging.getLogger(__name__)
# The deployment routes traefik serves (DESIGN.md: /deployments/<id>/... and DataRobot's /predApi/v1.0/...).
ROUTE = re.compile(r"^/(?:predApi/v1\.0/)?deployments/([^/?#]+)(/[^?#]*)?")
# Health probes (the docker plugin polls /info through traefik while a model starts) and Prometheus' scrapes of
# /deployments/<id>/metrics (it discovers a deployment before traefik routes it): not predictions.
PROBES = frozenset({"", "/", "/info", "/ping", "/health", "/livez", "/readyz", "/metrics"})
# traefik's own answers when no PPS answered: no route (404), no server (503), both with no origin status; bad
# gateway (502: traefik logs it as the origin's status too) and gateway timeout (504), which a PPS never sends.
NO_ORIGIN = frozenset({404, 503})
PROXY_ERRORS = frozenset({502, 504})
# Bytes read per tick: a long outage's log is worked through over a few ticks, never all in memory.
MAX_READ = 4 << 20
# Past this size a fully counted log is emptied (traefik appends with O_APPEND, so it writes on at the start).
TRUNCATE_AT = 32 << 20
BATCH = 5000
# Empty the log only after traefik has not written to it for this long (a write between the check and the truncate
# would be lost; in a quiet second that window is all but never hit).
IDLE_SEC = 1.0
# fallocate(2) modes: free a range's blocks, keep the file's size (Linux; ext4, xfs, btrfs and tmpfs do it).
_PUNCH_HOLE = 0x02 | 0x01
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def punch_hole(path: Path, length: int) -> None:
    """Give back the disk blocks of the first length bytes of a file (reads there return zeros); OSError if not."""
    fd = os.open(path, os.O_WRONLY)
    try:
        if _libc.fallocate(fd, _PUNCH_HOLE, ctypes.c_longlong(0), ctypes.c_longlong(length)) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)


def minute_of(start_utc: str) -> str | None:
    """Return the minute (YYYY-MM-DDTHH:MM:00Z) of traefik's StartUTC, or None when it is not a time."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d)", start_utc or "")
    return f"{match.group(1)}:00Z" if match else None


def undelivered(line: bytes) -> tuple[str, str] | None:
    """Return (deployment id, minute) when a log line is a deployment request traefik failed without a PPS."""
    try:
        entry: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    status = entry.get("DownstreamStatus")
    if not (status in PROXY_ERRORS or (status in NO_ORIGIN and not entry.get("OriginStatus"))):
        return None
    route = ROUTE.match(str(entry.get("RequestPath") or ""))
    minute = minute_of(str(entry.get("StartUTC") or ""))
    if route is None or minute is None or (route.group(2) or "") in PROBES:
        return None
    return route.group(1), minute


class RouteErrors:
    """Follow traefik's access log from a saved offset; post each undelivered request as a system error."""

    def __init__(self, log_path: Path, state_path: Path, client: ServiceClient, max_bytes: int = TRUNCATE_AT) -> None:
        self.log_path = log_path
        self.state_path = state_path
        self.client = client
        self.max_bytes = max_bytes
        self.counted = 0
        self._warned = False
        self._can_punch = True

    def _state(self) -> tuple[int, int]:
        try:
            saved = json.loads(self.state_path.read_text())
            return int(saved["inode"]), int(saved["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0, 0

    def _save(self, inode: int, offset: int) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"inode": inode, "offset": offset}))
        os.replace(tmp, self.state_path)

    def tick(self) -> int:
        """Count the requests logged since the last tick; return how many were posted."""
        try:
            st = os.stat(self.log_path)
        except FileNotFoundError:
            return 0
        inode, offset = self._state()
        if inode != st.st_ino or st.st_size < offset:
            offset = 0  # a new or emptied log: start at its beginning
        if st.st_size == offset:
            self._truncate_if_large(st.st_ino, offset)
            return 0
        with open(self.log_path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(MAX_READ)
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a line traefik is still writing waits for the next tick
        if not complete:
            return 0
        records = self._records(st.st_ino, offset, complete)
        for start in range(0, len(records), BATCH):
            self.client.ingest(records[start:start + BATCH])  # an error leaves the offset: the same ids next time
        self._save(st.st_ino, offset + len(complete))
        self._free_counted(offset + len(complete))
        self.counted += len(records)
        if records:
            log.info("counted %d requests traefik answered without reaching a PPS", len(records))
        return len(records)

    def _records(self, inode: int, offset: int, lines: bytes) -> list[dict[str, Any]]:
        found: list[tuple[int, str, str]] = []
        position = offset
        for line in lines.splitlines(keepends=True):
            hit = undelivered(line)
            if hit:
                found.append((position, *hit))
            position += len(line)
        if not found:
            return []
        # Only deployments that should be serving: a stopped one's 404s are what its user asked for.
        live = {d["id"]: d for d in self.client.list_deployments()
                if d.get("desiredState") == "running" and not d.get("external")}
        return [{"recordId": f"traefik-{inode}-{at}", "deploymentId": dep_id, "modelId": live[dep_id]["packageId"],
                 "minute": minute, "kind": "stats", "systemErrors": 1}
                for at, dep_id, minute in found if dep_id in live]

    def _free_counted(self, offset: int) -> None:
        """Give back the blocks of the counted part: under a steady stream of failures the file is never idle."""
        if not self._can_punch or offset < self.max_bytes:
            return
        try:
            punch_hole(self.log_path, offset)
        except OSError as exc:
            self._can_punch = False  # a filesystem without holes: emptying when idle is all there is
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS):
                self._warn(exc)

    def _truncate_if_large(self, inode: int, offset: int) -> None:
        if offset < self.max_bytes:
            return
        try:
            st = os.stat(self.log_path)
            if st.st_size != offset or time.time() - st.st_mtime < IDLE_SEC:
                return  # traefik wrote meanwhile (count that first) or is writing: a line it adds now would be lost
            os.truncate(self.log_path, 0)
            self._save(inode, 0)
        except OSError as exc:
            self._warn(exc)

    def _warn(self, exc: OSError) -> None:
        if not self._warned:
            log.warning("cannot shrink traefik's access log %s (%s); it keeps growing", self.log_path, exc)
            self._warned = True
