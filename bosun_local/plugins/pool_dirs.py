"""A shared PPS pool's deployment dirs (the filesystem plugin's layout) and waiting for its replicas to load them.

The docker plugin's pool (Compose containers) and the swarm plugin's pool (one replicated service) differ only in
how their replicas run and how their load status is read; both write and swap dirs here the same way.
"""
from __future__ import annotations

import errno
import os
import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bosun_local.errors import BosunError
from bosun_local.plugins.deployment_values import router_name
from bosun_local.plugins.docker.broker_users import PoolAllowList
from bosun_local.plugins.framework.atomic_fs import TMP_PREFIX, exchange_paths, remove_dir, tmp_sibling

POOL_NAME = "shared-pool"
DIR_PREFIX = "deployment_"
INFO_FILE = "config.yml"
POLL_SEC = 0.03


def pool_name(settings: dict[str, Any]) -> str:
    """Return the project or stack (and broker user suffix) of an environment's shared pool."""
    return f"{settings['containerNamePrefix']}{POOL_NAME}"


class PoolError(BosunError):
    """The shared pool cannot run or cannot take a deployment."""


@dataclass(frozen=True)
class Installed:
    """A deployment dir put in place: its path, the inode replicas report for it, and the previous content."""

    target: Path
    inode: int
    previous: Path | None


def pool_replicas(settings: dict[str, Any], plugin: str, most: int, fix: str) -> int:
    """Return pluginConfig.poolReplicas (default 2), a whole number from 1 to `most`; PoolError names it if not."""
    raw = settings.get("poolReplicas", 2)
    try:
        replicas = int(raw)
    except (TypeError, ValueError):
        replicas = 0
    if not 1 <= replicas <= most:
        raise PoolError(f"pluginConfig.poolReplicas={raw!r} of the {plugin} plugin is not a whole number from 1 to "
                        f"{most}", fix=fix)
    return replicas


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link a package file (same filesystem: instant, no extra space), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _entry_inode(base: Path, name: str) -> int:
    """Return the inode of a base dir entry as readdir reports it (what the pool's scanner compares)."""
    for entry in os.scandir(base):
        if entry.name == name:
            return entry.inode()
    raise FileNotFoundError(errno.ENOENT, "deployment dir vanished", str(base / name))


class PoolDirs(ABC):
    """The dirs under `base_dir` a pool serves, and its replicas' view of them (subclasses say how to read it)."""

    def __init__(self, settings: dict[str, Any], stacks_dir: Path, run_as_user: str,
                 monitoring: dict[str, str] | None, plugin: str, most_replicas: int, replicas_fix: str) -> None:
        self.settings = settings
        self.name = pool_name(settings)
        self.directory = stacks_dir / self.name
        self.base_dir = self.directory / "deployments"
        self.router = router_name(self.name)
        self.network = str(settings["dockerNetwork"])
        self.run_as_user = run_as_user
        self.monitoring = monitoring
        self.replicas = pool_replicas(settings, plugin, most_replicas, replicas_fix)

    def broker_allowed(self) -> PoolAllowList:
        """Return the list of deployments the pool's broker user may publish for."""
        return PoolAllowList(self.settings, self.name, self.directory)

    # -- replicas (how they run is the platform's) -----------------------------------------------------------

    @abstractmethod
    def ensure(self, timeout: int) -> list[Any]:
        """Run every replica and wait until they are healthy; return the running ones."""

    @abstractmethod
    def running(self) -> list[Any]:
        """Return the running replicas."""

    @abstractmethod
    def statuses(self, running: list[Any] | None = None) -> dict[str, dict[str, Any] | None]:
        """Return each running replica's load status document by name (None for one that cannot be read)."""

    def starting(self, running: list[Any]) -> set[str]:
        """Return the names of replicas still starting (not yet expected to answer)."""
        return set()

    @abstractmethod
    def heal(self) -> list[dict[str, Any]]:
        """Relaunch dead replicas the platform does not restart; return an event for each."""

    # -- deployment dirs -------------------------------------------------------------------------------------

    def deployment_dir(self, deployment_id: str) -> Path:
        return self.base_dir / f"{DIR_PREFIX}{deployment_id}"

    def has(self, deployment_id: str) -> bool:
        return self.deployment_dir(deployment_id).is_dir()

    def deployment_ids(self) -> list[str]:
        """Return the ids of every deployment dir in the pool."""
        if not self.base_dir.is_dir():
            return []
        return sorted(p.name[len(DIR_PREFIX):] for p in self.base_dir.iterdir()
                      if p.name.startswith(DIR_PREFIX) and p.is_dir())

    def installed_model(self, deployment_id: str) -> str | None:
        """Return the model id the deployment's dir names, None when there is no readable dir."""
        try:
            doc = yaml.safe_load((self.deployment_dir(deployment_id) / INFO_FILE).read_text())
        except (OSError, yaml.YAMLError):
            return None
        return str(doc.get("model_id")) if isinstance(doc, dict) and doc.get("model_id") else None

    def install(self, deployment_id: str, model_id: str, artifact: Path) -> Installed:
        """Write the deployment's dir aside and swap it in; the previous content is kept aside for a rollback."""
        target = self.deployment_dir(deployment_id)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        new = tmp_sibling(target)
        try:
            if artifact.is_dir():
                shutil.copytree(artifact, new, symlinks=False, copy_function=_link_or_copy)
            else:
                new.mkdir()
                _link_or_copy(str(artifact), str(new / artifact.name))
            info = new / INFO_FILE
            info.unlink(missing_ok=True)  # a hard link to the package's own file: never write through it
            info.write_text(yaml.safe_dump({"deployment_id": deployment_id, "model_id": model_id}))
            new.chmod(0o755)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        previous: Path | None = None
        try:
            os.rename(new, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                shutil.rmtree(new, ignore_errors=True)
                raise
            if exchange_paths(new, target):
                previous = new  # now holds the old content
            else:  # no RENAME_EXCHANGE here: the dir is absent for an instant (the pool's scanner waits 2 scans)
                previous = tmp_sibling(target, "old-")
                os.rename(target, previous)
                os.rename(new, target)
        return Installed(target, _entry_inode(self.base_dir, target.name), previous)

    def roll_back(self, installed: Installed) -> None:
        """Put the previous content back (after a failed load); remove the dir when there was none."""
        if installed.previous is None:
            remove_dir(installed.target)
            return
        if not exchange_paths(installed.previous, installed.target):
            failed = tmp_sibling(installed.target, "failed-")
            os.rename(installed.target, failed)
            os.rename(installed.previous, installed.target)
            shutil.rmtree(failed, ignore_errors=True)
            return
        shutil.rmtree(installed.previous, ignore_errors=True)

    @staticmethod
    def commit(installed: Installed) -> None:
        """Drop the previous content kept for a rollback."""
        if installed.previous is not None:
            shutil.rmtree(installed.previous, ignore_errors=True)

    def remove(self, deployment_id: str) -> bool:
        """Remove the deployment's dir; False when it had none."""
        return remove_dir(self.deployment_dir(deployment_id))

    def remove_stale(self) -> None:
        """Remove work in progress left by an interrupted action."""
        if self.base_dir.is_dir():
            for entry in self.base_dir.glob(f"{TMP_PREFIX}*"):
                shutil.rmtree(entry, ignore_errors=True)

    # -- replicas' view --------------------------------------------------------------------------------------

    def wait_loaded(self, deployment_id: str, model_id: str, inode: int, timeout: float,
                    running: list[Any] | None = None) -> str | None:
        """Wait until every answering replica serves this dir's model; return the load error or why not."""
        deadline = time.monotonic() + timeout
        running = self.running() if running is None else running
        if not running:
            return f"the shared PPS pool {self.name} has no running replica"
        pending: list[str] = []
        while time.monotonic() < deadline:
            pending = []
            starting = self.starting(running)
            for name, doc in self.statuses(running).items():
                if doc is None:
                    if name not in starting:  # routed but slow to answer: wait for it
                        pending.append(name)
                    continue  # not listening yet: its first scan will find the dir
                entry = (doc.get("deployments") or {}).get(deployment_id)
                if not entry or entry.get("inode") != inode:
                    pending.append(name)
                elif entry.get("error") and entry.get("attemptedModelId") == model_id:
                    return f"model {model_id} does not load in the shared pool ({name}): {entry['error']}"
                elif entry.get("modelId") != model_id:
                    pending.append(name)
            if not pending:
                return None
            time.sleep(POLL_SEC)
        return f"pool replicas {', '.join(pending)} did not load model {model_id} within {timeout:g} s"

    def wait_gone(self, deployment_id: str, timeout: float) -> None:
        """Wait (bounded) until no replica serves the deployment any more."""
        deadline = time.monotonic() + timeout
        running = self.running()
        while time.monotonic() < deadline:
            if not any(deployment_id in ((doc or {}).get("deployments") or {})
                       for doc in self.statuses(running).values()):
                return
            time.sleep(POLL_SEC)
