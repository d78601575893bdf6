"""A workshop folder on disk: its files, the app stack its compose.yaml describes, and what `run` left behind."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bosun_local.config import write_private
from bosun_local.envstack.environment import host_port
from bosun_local.errors import BosunError

APP = "app"
INSTRUMENTED = "app-instrumented"
STATE_FILE = ".workshop-state.json"
ENV_FILE = ".env"
INIT_FIX = "run `bosun-local workshop init DIR` first (add --force to restore edited files)"


class WorkshopError(BosunError):
    """A workshop folder is incomplete or a workshop step failed."""


@dataclass(frozen=True)
class AppStack:
    """What compose.yaml says about the apps: project, images, host ports, the environment network."""

    project: str
    images: dict[str, str]
    ports: dict[str, int]
    network: str


@dataclass
class RunState:
    """What `workshop run` created, so `workshop clean` removes exactly that."""

    data_dir: str = ""
    project: str = ""
    images: list[str] = field(default_factory=list)
    package_id: str | None = None
    deployments: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"dataDir": self.data_dir, "project": self.project, "images": self.images,
                "packageId": self.package_id, "deployments": self.deployments}


class WorkshopDir:
    """One workshop folder written by `workshop init`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @property
    def model_script(self) -> Path:
        return self.root / "model" / "model.py"

    @property
    def package_dir(self) -> Path:
        return self.root / "model" / "package"

    @property
    def compose_file(self) -> Path:
        return self.root / "compose.yaml"

    def dockerfile(self, app: str) -> Path:
        return self.root / app / "Dockerfile"

    def require(self) -> None:
        """Fail naming the first file `init` writes that is missing."""
        if not self.root.is_dir():
            raise WorkshopError(f"workshop folder {self.root} does not exist", fix=INIT_FIX)
        for path in (self.model_script, self.root / APP / "app.py", self.root / INSTRUMENTED / "app.py",
                     self.dockerfile(APP), self.dockerfile(INSTRUMENTED), self.compose_file):
            if not path.is_file():
                raise WorkshopError(f"workshop folder {self.root} has no {path.relative_to(self.root)}", fix=INIT_FIX)

    def app_stack(self) -> AppStack:
        """Read project, images, host ports and network from compose.yaml; errors name the key to fix."""
        where = str(self.compose_file)
        try:
            doc = yaml.safe_load(self.compose_file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise WorkshopError(f"cannot read {where}: {exc}", fix=INIT_FIX) from exc
        services = (doc or {}).get("services") or {}
        images: dict[str, str] = {}
        ports: dict[str, int] = {}
        for app in (APP, INSTRUMENTED):
            svc = services.get(app)
            if not isinstance(svc, dict) or not isinstance(svc.get("image"), str):
                raise WorkshopError(f"{where}: service {app!r} with an image is missing", fix=INIT_FIX)
            images[app] = svc["image"]
            mapping = host_port([str(p) for p in svc.get("ports") or []])
            if mapping is None:
                raise WorkshopError(f"{where}: service {app!r} publishes no port",
                                    fix=f'add `ports: ["127.0.0.1:<host port>:9091"]` to {app}')
            ports[app] = mapping[1]
        network = ((doc.get("networks") or {}).get("environment") or {}).get("name")
        if not isinstance(doc.get("name"), str) or not isinstance(network, str):
            raise WorkshopError(f"{where}: the project name or the environment network's name is missing",
                                fix=INIT_FIX)
        return AppStack(project=doc["name"], images=images, ports=ports, network=network)

    def write_env(self, values: dict[str, str]) -> Path:
        """Write the .env compose reads (0600: it holds the RabbitMQ password)."""
        path = self.root / ENV_FILE
        write_private(path, "".join(f"{k}={v}\n" for k, v in values.items()))
        return path

    def load_state(self) -> RunState:
        """Return what the last run created (empty when none ran)."""
        path = self.root / STATE_FILE
        if not path.is_file():
            return RunState()
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise WorkshopError(f"cannot read {path}: {exc}",
                                fix="delete it; remove the app containers with `docker compose down`") from exc
        return RunState(data_dir=raw.get("dataDir", ""), project=raw.get("project", ""),
                        images=list(raw.get("images") or []), package_id=raw.get("packageId"),
                        deployments=list(raw.get("deployments") or []))

    def save_state(self, state: RunState) -> None:
        """Record what run created, right after each step creates it."""
        path = self.root / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
        tmp.replace(path)
