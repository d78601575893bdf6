"""Pure rendering of the Jinja templates: same inputs, same bytes; a missing value is an error, not ''."""
from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from bosun_local.contracts import labels, layout
from bosun_local.errors import ConfigError

HEADER = "# Rendered by bosun-local from templates/{name}. Do not edit: change bosun-local.yaml and re-run.\n"


def _environment() -> jinja2.Environment:
    root = Path(str(resources.files("bosun_local.templates")))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    # JSON strings are valid YAML scalars: quoting every value this way keeps user input from breaking the file.
    env.filters["q"] = _quote
    env.globals["labels"] = labels.template_globals()  # templates write labels by name: labels.DEPLOYMENT
    env.globals["traefikDir"] = layout.TRAEFIK_DIR  # traefik's file-provider folder inside the data dir
    return env


def _quote(value: Any) -> str:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError naming the missing value
    return json.dumps(value)


_ENV = _environment()


def render(name: str, context: dict[str, Any]) -> str:
    """Render one template with StrictUndefined and return the text."""
    try:
        template = _ENV.get_template(name)
        return HEADER.format(name=name) + template.render(**context)
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"missing configuration value while rendering templates/{name}: {exc.message}",
                          fix="set the value in bosun-local.yaml or pass it to the renderer") from exc
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"template {exc.name} not found in the installed bosun_local.templates",
                          fix="reinstall bosun-local") from exc


def write_if_changed(path: Path, text: str) -> bool:
    """Write text to path (mode 0600, directory 0700) unless it already holds exactly that; True if written.

    Rendered stacks name secrets' env files and hold the data dir's layout: only their owner reads them.
    """
    if path.exists() and path.read_text() == text:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return True


def env_file_text(values: dict[str, str], where: str, quoted: bool = True) -> str:
    """Return an env file: single-quoted values for Compose (read literally, no `$` interpolation), or bare ones.

    `docker stack deploy` reads env files with the docker CLI's own parser, which keeps quotes as part of the value
    (a quoted broker URL reached the tasks as `'amqp://...'`): swarm stacks take quoted=False.
    """
    lines = []
    for key, value in values.items():
        if "'" in value or "\n" in value or "\r" in value or (not quoted and value != value.strip()):
            raise ConfigError(f"{where}: the value of {key} holds a quote, a line break or edge spaces, which an env "
                              "file cannot carry", fix=f"choose a {key} without ' , line breaks and edge spaces")
        lines.append(f"{key}='{value}'\n" if quoted else f"{key}={value}\n")
    return "".join(lines)
