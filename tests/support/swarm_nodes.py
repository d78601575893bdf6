"""A real multi-node Docker swarm made by a test: each node its own engine (Docker-in-Docker on the base image).

The host engine runs the Compose stacks of every other test and is never switched into swarm mode (that broke name
resolution on its bridge networks, ENVIRONMENT.md); each node here is a container running Debian's dockerd on a
bridge network of its own. There is no registry, so the images the nodes run are saved once from the host engine
and loaded into every node in parallel. Model packages live under a shared directory mounted at the same path
on every node, as a shared filesystem (NFS) would be on real hosts.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bosun_local.config import load_config
from bosun_local.engine.images import ImageBuilder
from bosun_local.engine.swarm import SwarmEngine

TEST_LABEL = "io.bosun-local.test"
# Every capability but CAP_SYS_RESOURCE, which this machine's engine cannot grant (so --privileged fails here).
NODE_CAPS = ("SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "SYS_CHROOT", "MKNOD", "NET_RAW",
             "DAC_READ_SEARCH", "IPC_LOCK", "SYS_NICE", "SYS_TIME", "LINUX_IMMUTABLE", "NET_BROADCAST", "IPC_OWNER",
             "SYS_PACCT", "SYS_BOOT", "SYS_TTY_CONFIG", "LEASE", "AUDIT_CONTROL", "MAC_OVERRIDE", "MAC_ADMIN",
             "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ")


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """Run the host's docker CLI (test scaffolding: nodes are the test's containers, not the product's)."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`docker {' '.join(args)}` failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass(frozen=True)
class Node:
    """One swarm node: its container on the host engine and its engine's address."""

    container: str
    hostname: str
    address: str

    @property
    def host(self) -> str:
        return f"tcp://{self.address}:2375"

    def engine(self) -> SwarmEngine:
        return SwarmEngine(self.host)


@dataclass
class SwarmNodes:
    """A manager and workers on the network `name`, sharing `shared_dir` at the same path."""

    name: str
    manager: Node
    workers: list[Node]
    shared_dir: Path

    @property
    def nodes(self) -> list[Node]:
        return [self.manager, *self.workers]

    def kill(self, node: Node) -> None:
        """Kill a node's container: its engine and every task on it die at once, as when a host fails."""
        docker("kill", node.container)


def _image_archive(images: list[str]) -> Path:
    """Save the images once into a cached archive named by their ids (a rebuilt image gets a new archive)."""
    ids = [docker("image", "inspect", "--format", "{{.Id}}", image) for image in images]
    names = hashlib.sha256("\n".join(images).encode()).hexdigest()[:8]
    key = hashlib.sha256("\n".join(images + ids).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "bosun-swarm-images"
    cache.mkdir(exist_ok=True)
    archive = cache / f"{names}-{key}.tar"
    if not archive.exists():
        for stale in cache.glob(f"{names}-*.tar*"):
            stale.unlink()  # up to 1.5 GB each: keep only the current archive of these image names
        partial = archive.with_suffix(".tar.part")
        docker("save", "--output", str(partial), *images, timeout=600)
        partial.rename(archive)
    return archive


def _start_node(name: str, network: str, shared_dir: Path, image: str) -> Node:
    caps = [f"--cap-add={c}" for c in NODE_CAPS]
    # The node engine's store: a named, labelled volume, so teardown removes it and a check can find a leftover.
    docker("volume", "create", "--label", f"{TEST_LABEL}={network}", f"{name}-data")
    docker("run", "--detach", "--name", name, "--hostname", name, "--network", network,
           "--label", f"{TEST_LABEL}={network}", "--volume", f"{name}-data:/var/lib/docker", *caps,
           "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
           "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm", "--cgroupns", "private",
           "--volume", f"{shared_dir}:{shared_dir}", image)
    address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
    return Node(name, name, address)


def _wait_engine(node: Node, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            node.engine().swarm_info()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                logs = docker("logs", "--tail", "20", node.container, check=False)
                raise RuntimeError(f"the engine of swarm node {node.container} did not answer within {timeout:.0f} s "
                                   f"({exc}); its last log lines:\n{logs}") from exc
            time.sleep(0.5)


@contextmanager
def swarm_nodes(prefix: str, images: list[str], workers: int = 1, init: bool = True) -> Iterator[SwarmNodes]:
    """Bring up a manager and `workers` workers with `images` loaded; remove every node, volume and network after.

    With init=False the engines are left out of swarm mode (the "manager" is just the first engine).
    """
    config = load_config()
    ImageBuilder(config, lambda *_: None).swarm_node()
    name = f"{prefix}-{secrets.token_hex(3)}"
    shared_dir = Path(tempfile.mkdtemp(prefix=f"{name}-shared-"))
    shared_dir.chmod(0o755)  # the PPS runs as the data dir's user and reads packages from here
    docker("network", "create", "--label", f"{TEST_LABEL}={name}", name)
    started: list[Node] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            archive_job = pool.submit(_image_archive, images)
            for i in range(workers + 1):
                started.append(_start_node(f"{name}-{'manager' if i == 0 else f'worker{i}'}", name, shared_dir,
                                           str(config["swarmNodeImage"])))
            for node in started:
                _wait_engine(node)
            archive = archive_job.result()
        with ThreadPoolExecutor(max_workers=len(started)) as pool:
            list(pool.map(lambda n: n.engine().load_image(archive), started))
        manager, *rest = started
        if init:
            # A node that stops beating for a few periods is down: 1 s (not 5) makes a node loss seen sooner.
            manager.engine().init(manager.address, heartbeat="1s")
            token = manager.engine().join_token("worker")
            for node in rest:
                node.engine().join(manager.address, token, node.address)
        yield SwarmNodes(name, manager, rest, shared_dir)
    finally:
        # In parallel: each node's store holds the 1.5 GB runtime image, and deleting it takes a while.
        with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            list(pool.map(lambda n: docker("rm", "--force", "--volumes", n.container, check=False, timeout=180),
                          started))
            volumes = docker("volume", "ls", "--quiet", "--filter", f"label={TEST_LABEL}={name}").split()
            list(pool.map(lambda v: docker("volume", "rm", "--force", v, check=False, timeout=180), volumes))
        docker("network", "rm", name, check=False)
        shutil.rmtree(shared_dir, ignore_errors=True)


def leftovers(name: str) -> list[str]:
    """Return the host engine's containers, networks and volumes a swarm of this name left behind."""
    found = docker("ps", "--all", "--quiet", "--filter", f"label={TEST_LABEL}={name}").split()
    found += docker("network", "ls", "--quiet", "--filter", f"name={name}").split()
    found += docker("volume", "ls", "--quiet", "--filter", f"label={TEST_LABEL}={name}").split()
    return found + [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(f"{name}-shared-")]
