"""`workshop init`: write a ready workshop folder from templates/workshop, never overwriting without force."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bosun_local.config import Config
from bosun_local.envstack.render import HEADER, render
from bosun_local.errors import UsageError

TEMPLATE_DIR = "workshop"
# Copied as they are: the Python files attendees read and edit.
VERBATIM = ("model/model.py", "app/app.py", "app-instrumented/app.py")
# Rendered with the data dir's config (image names, network, ports); the target drops the .j2.
RENDERED = ("app/Dockerfile.j2", "app-instrumented/Dockerfile.j2", "compose.yaml.j2", "README.md.j2",
            "dockerignore.j2")
TARGET_NAMES = {"dockerignore": ".dockerignore"}
DEFAULT_APP_PORT = 9091
DEFAULT_INSTRUMENTED_PORT = 9092


@dataclass(frozen=True)
class WrittenFile:
    """One file of the scaffold and what init did with it."""

    path: Path
    action: str  # written | overwritten | kept


def project_name(config: Config) -> str:
    """Return the app stack's Compose project name: the environment's, suffixed (unique per data dir's stack)."""
    return f"{config['projectName']}-workshop"


def image_names(config: Config) -> dict[str, str]:
    """Return the image each app is built as; the project name keeps two stacks' workshops apart."""
    prefix = f"{config['generatedImagePrefix']}{project_name(config)}"
    return {"app": f"{prefix}-app:latest", "app-instrumented": f"{prefix}-app-instrumented:latest"}


def context(config: Config, app_port: int, instrumented_port: int) -> dict[str, Any]:
    """Return the values the workshop templates use."""
    if app_port == instrumented_port:
        raise UsageError(f"the plain and instrumented apps cannot share host port {app_port}",
                         fix="give --app-port and --instrumented-port different values")
    for port in (app_port, instrumented_port):
        if not 1 <= port <= 65535:
            raise UsageError(f"host port {port} is out of range", fix="use a port between 1 and 65535")
    return {**config.values, "project": project_name(config), "images": image_names(config),
            "appPort": app_port, "instrumentedPort": instrumented_port}


def _template_text(relative: str, values: dict[str, Any]) -> str:
    name = f"{TEMPLATE_DIR}/{relative}"
    if relative in VERBATIM:
        return resources.files("bosun_local.templates").joinpath(name).read_text()
    # These files are the attendees' to read and change: the "do not edit" header of stack files does not apply.
    return render(name, values).removeprefix(HEADER.format(name=name))


def _target(relative: str) -> str:
    stem = relative.removesuffix(".j2")
    return TARGET_NAMES.get(stem, stem)


def planned_files(config: Config, app_port: int = DEFAULT_APP_PORT,
                  instrumented_port: int = DEFAULT_INSTRUMENTED_PORT) -> dict[str, str]:
    """Return target path (relative) -> content of every scaffold file."""
    values = context(config, app_port, instrumented_port)
    return {_target(rel): _template_text(rel, values) for rel in (*VERBATIM, *RENDERED)}


def init(directory: Path, config: Config, force: bool = False, app_port: int = DEFAULT_APP_PORT,
         instrumented_port: int = DEFAULT_INSTRUMENTED_PORT) -> list[WrittenFile]:
    """Write the workshop folder; existing files are kept unless force (all content is checked before writing)."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"workshop folder {directory} is a file", fix="give a directory path (it is created)")
    files = planned_files(config, app_port, instrumented_port)
    result: list[WrittenFile] = []
    for relative, text in files.items():
        path = directory / relative
        if path.exists() and not force:
            result.append(WrittenFile(path, "kept"))
            continue
        action = "overwritten" if path.exists() else "written"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        result.append(WrittenFile(path, action))
    return result
