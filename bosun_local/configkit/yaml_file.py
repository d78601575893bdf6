"""One YAML reader for every config file: errors name the file, the line and the key."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bosun_local.errors import ConfigError


def key_line(text: str, dotted: str) -> int | None:
    """Return the 1-based line of the deepest existing key on a dotted path (``a.b[2].c``), or None."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in dotted.split("."):
        part = part.split("[", 1)[0]
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        if match is None:
            break
        line = match[0].start_mark.line + 1
        node = match[1]
    return line


# libyaml's loader when PyYAML was built with it: the same documents, ~6x faster on big files (model.yaml).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, where: str) -> Any:
    """Return the document in text; a syntax error names where and the line."""
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C or Python)
    except RecursionError as exc:
        raise ConfigError(f"{where}: invalid YAML: it nests too deeply", fix="write a flatter document") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}, line {mark.line + 1}" if mark else where
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{at}: invalid YAML: {problem}", fix="correct the YAML syntax") from exc


@dataclass(frozen=True)
class YamlFile:
    """A YAML file read once: its path, text and document (JSON is YAML, so JSON files load too)."""

    path: Path
    text: str
    document: Any

    def where(self, key: str | None = None) -> str:
        """Return ``<file>, line N`` for a key (dotted path), or the file alone when the key is not found."""
        line = key_line(self.text, key) if key else None
        return f"{self.path}, line {line}" if line else str(self.path)

    def mapping(self, empty_ok: bool = True) -> dict[str, Any]:
        """Return the document as a mapping ({} for an empty file when empty_ok); raise naming the file."""
        if self.document is None and empty_ok:
            return {}
        if not isinstance(self.document, dict):
            got = "an empty file" if self.document is None else type(self.document).__name__
            raise ConfigError(f"{self.path}, line 1: expected a mapping of keys to values, got {got}",
                              fix="write `key: value` lines")
        return self.document


def read_yaml(path: str | Path, what: str = "config file", missing_fix: str | None = None) -> YamlFile:
    """Read and parse a YAML file; errors say what the file is, and its line for syntax errors."""
    file = Path(path)
    try:
        text = file.read_text()
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {file} does not exist", fix=missing_fix or "check the path") from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{what} {file}, line {line}: byte 0x{exc.object[exc.start]:02x} is not UTF-8 text",
                          fix="save the file as UTF-8 (or retype the non-ASCII characters on that line)") from exc
    except OSError as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {what} {file}: {reason}", fix="check the file and its permissions") from exc
    return YamlFile(file, text, parse_yaml(text, str(file)))
