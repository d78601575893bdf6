"""Which deployments this server answers for: one fixed package, or every deployment dir under a base dir."""
from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bosun_local.errors import BosunError
from bosun_local.model_package import DRUM_SPEC_FILE, SPEC_FILE
from bosun_local.pps.model import LoadedModel, load_package

log = logging.getLogger("bosun_local.pps.registry")

# A deployment dir missing from this many scans in a row is gone; one miss can be a rename mid-replace.
MISSES_TO_REMOVE = 2
# How often the base dir's listing is compared (names and inodes, no stat): deploys, replaces and stops rename
# dirs, so they show up within this time; edits inside a dir wait for the full rescan (interval_sec).
POLL_SEC = 0.05


@dataclass(frozen=True)
class Deployment:
    """A servable deployment: its ids and loaded model, or the reason it cannot serve."""

    deployment_id: str | None
    model_id: str | None
    model: LoadedModel | None
    directory: Path
    error: str | None = None
    signature: tuple[Any, ...] = ()
    loaded_at: float = 0.0
    load_sec: float = 0.0  # how long the model took to load (the /metrics gauge)

    def describe(self) -> dict[str, Any]:
        """Return the deployment as /info shows it."""
        doc: dict[str, Any] = {"deploymentId": self.deployment_id, "modelId": self.model_id,
                               "status": "ready" if self.model is not None else "error",
                               "directory": str(self.directory)}
        if self.model is not None:
            spec = self.model.spec
            doc.update({"name": spec.name, "targetName": spec.target_name, "targetType": spec.target_type,
                        "classNames": list(spec.class_names), "modelFile": spec.model_file,
                        "modelKind": self.model.kind,
                        "features": [{"name": f.name, "type": f.type} for f in self.model.schema.features]})
        if self.error:
            doc["error"] = self.error
        return doc


class SingleRegistry:
    """The one package a single-model server was started with."""

    multi = False
    ready = True

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def get(self, deployment_id: str) -> Deployment | None:
        """Return the deployment when the id is this server's."""
        return self.deployment if deployment_id == self.deployment.deployment_id else None

    def all(self) -> list[Deployment]:
        """Return every deployment served."""
        return [self.deployment]

    def status(self) -> dict[str, Any]:
        """Return what the deployment serves, in MultiRegistry.status's shape."""
        d = self.deployment
        return {"ready": True, "deployments": {d.deployment_id: {
            "modelId": d.model_id if d.model is not None else None, "attemptedModelId": d.model_id, "inode": None,
            "error": d.error}} if d.deployment_id else {}}

    def start(self) -> None:
        """Nothing to watch."""

    def stop(self) -> None:
        """Nothing to stop."""


def read_info(path: Path) -> tuple[str, str] | None:
    """Return (deployment_id, model_id) from a deployment info file, None when it is missing or incomplete."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(doc, dict):
        return None
    dep, model = doc.get("deployment_id"), doc.get("model_id")
    if not isinstance(dep, str) or not dep or not isinstance(model, (str, int)) or model == "":
        return None
    return dep, str(model)


def _has_spec(directory: Path) -> bool:
    """Return True when a dir holds a package spec: ours, or DataRobot's model-metadata.yaml."""
    return (directory / SPEC_FILE).is_file() or (directory / DRUM_SPEC_FILE).is_file()


def _listing(directory: Path) -> tuple[Any, ...]:
    """Return names, sizes and mtimes of a dir's entries and of its subdirs' entries (one level)."""
    out: list[Any] = []
    try:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name == "__pycache__":
                continue  # importing custom.py writes here; it is not a change to the package
            st = entry.stat(follow_symlinks=True)
            out.append((entry.name, st.st_ino, st.st_size, st.st_mtime_ns))
            if entry.is_dir():
                out.append(_listing(Path(entry.path)))
    except OSError:
        return ("unreadable",)
    return tuple(out)


class MultiRegistry:
    """Every `<prefix><id>/` under a base dir with a valid info file; rescanned in a background thread."""

    multi = True

    def __init__(self, base_dir: Path, prefix: str = "deployment_", info_file: str = "config.yml",
                 interval_sec: float = 1.0, poll_sec: float = POLL_SEC, status_file: Path | None = None) -> None:
        self.base_dir = base_dir
        self.status_file = status_file
        self._written = ""
        self.prefix = prefix
        self.info_file = info_file
        self.interval_sec = interval_sec
        self.poll_sec = min(poll_sec, interval_sec)
        self.ready = False
        self._dirty = False
        self._deployments: dict[str, Deployment] = {}
        self._misses: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pps-registry", daemon=True)
        self._extract_root: Path | None = None

    def get(self, deployment_id: str) -> Deployment | None:
        """Return the deployment with this id."""
        return self._deployments.get(deployment_id)

    def all(self) -> list[Deployment]:
        """Return every deployment served, sorted by id."""
        return [self._deployments[k] for k in sorted(self._deployments)]

    def start(self) -> None:
        """Scan now, then keep rescanning in the background."""
        self._extract_root = Path(tempfile.mkdtemp(prefix="bosun-pps-"))
        self.scan()
        self.ready = True
        self._write_status()
        self._thread.start()

    def stop(self) -> None:
        """Stop rescanning and remove extracted archives."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._extract_root is not None:
            shutil.rmtree(self._extract_root, ignore_errors=True)

    def status(self) -> dict[str, Any]:
        """Return what each deployment serves and how its newest dir loaded (the docker plugin polls this)."""
        return {"ready": self.ready, "deployments": {
            d.deployment_id: {"modelId": d.model_id if d.model is not None else None,
                              "attemptedModelId": d.signature[1] if d.signature else d.model_id,
                              "inode": d.signature[0] if d.signature else None, "error": d.error}
            for d in self._deployments.values() if d.deployment_id}}

    def _write_status(self) -> None:
        """Write status() to the status file when it changed (atomic rename: a reader sees old or new bytes)."""
        if self.status_file is None:
            return
        text = json.dumps(self.status(), sort_keys=True)
        if text == self._written:
            return
        tmp = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(text)
            os.replace(tmp, self.status_file)
        except OSError as exc:
            log.warning("cannot write the load status to %s: %s", self.status_file, exc)
        self._written = text  # a failed write is retried at the next change, not logged at every scan

    def _listing_key(self) -> tuple[tuple[str, int], ...]:
        try:
            return tuple(sorted((e.name, e.inode()) for e in os.scandir(self.base_dir)))
        except OSError:
            return ()

    def _run(self) -> None:
        key, scanned = self._listing_key(), time.monotonic()
        while not self._stop.wait(self.poll_sec):
            now_key = self._listing_key()
            if now_key == key and not self._dirty and time.monotonic() - scanned < self.interval_sec:
                continue
            key, scanned = now_key, time.monotonic()
            try:
                self.scan()
                self._write_status()
            except Exception:
                log.exception("scanning %s failed; retrying in %.1fs", self.base_dir, self.interval_sec)

    def _candidates(self) -> dict[str, tuple[Path, str, tuple[Any, ...]]]:
        found: dict[str, tuple[Path, str, tuple[Any, ...]]] = {}
        try:
            entries = list(os.scandir(self.base_dir))
        except OSError as exc:
            log.warning("cannot list %s: %s", self.base_dir, exc)
            return found
        for entry in entries:
            if not entry.name.startswith(self.prefix) or not entry.is_dir():
                continue
            directory = Path(entry.path)
            info = read_info(directory / self.info_file)
            if info is None:
                continue  # not (yet) a deployment: the plugin writes the info file last
            deployment_id, model_id = info
            signature = (entry.inode(), model_id, _listing(directory))
            found[deployment_id] = (directory, model_id, signature)
        return found

    def scan(self) -> None:
        """Load added and changed deployment dirs, drop removed ones; in-flight requests keep their model."""
        found = self._candidates()
        current = dict(self._deployments)
        dirty = False
        for deployment_id, (directory, model_id, signature) in found.items():
            self._misses.pop(deployment_id, None)
            old = current.get(deployment_id)
            if old is not None and old.signature == signature:
                continue
            new = self._load(deployment_id, model_id, directory, signature)
            if new is None:
                dirty = True  # changed while being read: look again at the next poll, not the next full scan
                continue
            if new.model is None and old is not None and old.model is not None:
                log.error("deployment %s: the new model does not load, still serving model %s: %s",
                          deployment_id, old.model_id, new.error)
                new = Deployment(old.deployment_id, old.model_id, old.model, old.directory, new.error,
                                 signature, old.loaded_at, old.load_sec)
            current[deployment_id] = new
        for deployment_id in [d for d in current if d not in found]:
            self._misses[deployment_id] = self._misses.get(deployment_id, 0) + 1
            if self._misses[deployment_id] >= MISSES_TO_REMOVE:
                log.info("deployment %s removed", deployment_id)
                del current[deployment_id]
                self._misses.pop(deployment_id)
        self._dirty = dirty or bool(self._misses)
        self._deployments = current  # one reference swap: readers see the old or the new dict, never a mix

    def _package_dir(self, directory: Path, deployment_id: str) -> Path:
        """Return where the package files are: the dir itself, its one package subdir, or an extracted .tar.gz."""
        if _has_spec(directory):
            return directory
        subdirs = [p for p in directory.iterdir() if p.is_dir() and _has_spec(p)]
        if len(subdirs) == 1:
            return subdirs[0]
        archives = sorted(directory.glob("*.tar.gz")) + sorted(directory.glob("*.tgz"))
        if len(archives) == 1:
            target = Path(tempfile.mkdtemp(prefix=f"{deployment_id}-", dir=self._extract_root))  # set by start()
            with tarfile.open(archives[0]) as tar:
                tar.extractall(target, filter="data")
            inner = [p for p in target.iterdir() if p.is_dir()]
            return inner[0] if not _has_spec(target) and len(inner) == 1 else target
        return directory

    def _load(self, deployment_id: str, model_id: str, directory: Path,
              signature: tuple[Any, ...]) -> Deployment | None:
        started = time.monotonic()
        try:
            model: LoadedModel | None = load_package(self._package_dir(directory, deployment_id))
            error = None
        except BosunError as exc:
            model, error = None, str(exc)
        except (OSError, tarfile.TarError) as exc:
            model, error = None, f"deployment dir {directory}: {type(exc).__name__}: {exc}"
        # The plugin replaces a dir by renaming a complete new one into place; if that happened while we were
        # reading, what we read may mix both, so try again on the next scan.
        try:
            inode = directory.stat().st_ino
        except OSError:
            return None
        unchanged = inode == signature[0] and _listing(directory) == signature[2]
        if not unchanged or read_info(directory / self.info_file) is None:
            return None
        if error:
            log.error("deployment %s cannot serve: %s", deployment_id, error)
        else:
            log.info("deployment %s model %s loaded from %s in %.2fs", deployment_id, model_id, directory,
                     time.monotonic() - started)
        return Deployment(deployment_id, model_id, model, directory, error, signature, time.time(),
                          time.monotonic() - started)
