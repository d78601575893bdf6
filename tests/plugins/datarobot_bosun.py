"""DataRobot's own `datarobot-bosun` wheel, installed from PyPI at test time into a cache dir outside the venv.

Never into the venv: the wheel ships its own `bosun-plugin-runner` console script (it would replace ours) and a
real `bosun` package (our `bosun.plugin` alias must then step aside, so nothing of ours would be tested). Tests put
the cache dir on PYTHONPATH only for the processes that must see DataRobot's code.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import need

VERSION = "11.2.62"
SPEC = f"datarobot-bosun=={VERSION}"
CACHE_ROOT = Path(os.environ.get("BOSUN_TEST_CACHE", Path.home() / ".cache" / "bosun-local-tests"))
SITE = CACHE_ROOT / f"datarobot-bosun-{VERSION}"
PYTHON = sys.executable
OUR_RUNNER = Path(sys.executable).parent / "bosun-plugin-runner"
# pip's words for "the package index cannot be reached" (no network, DNS, proxy): the only reason to skip.
_UNREACHABLE = re.compile(r"NewConnectionError|Temporary failure in name resolution|Max retries exceeded|"
                          r"Network is unreachable|ProxyError|ConnectTimeout|Name or service not known")


def install() -> Path:
    """Return a dir holding datarobot-bosun and its dependencies, installing them with pip on first use."""
    if (SITE / ".complete").exists():
        return SITE
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    tmp = SITE.with_name(f"{SITE.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    proc = subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-warn-script-location", "--target", str(tmp), SPEC],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        output = (proc.stderr + proc.stdout)[-2000:]
        if _UNREACHABLE.search(output):
            need(False, f"the package index is unreachable, so {SPEC} cannot be installed:\n{output}")
        pytest.fail(f"pip could not install {SPEC} into {tmp}:\n{output}")
    (tmp / ".complete").write_text(SPEC + "\n")
    try:
        tmp.rename(SITE)
    except OSError:  # another test session installed it first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return SITE


def plugin_source(site: Path, name: str) -> Path:
    """Return one of DataRobot's plugin files or sample dirs inside the installed package."""
    path = site / "bosun" / "plugin" / name
    assert path.exists(), f"{SPEC} has no {path.relative_to(site)}: the wheel's layout changed"
    return path


def copy_plugins(site: Path, dest: Path) -> dict[str, Path]:
    """Copy DataRobot's filesystem and test plugins, byte for byte, into dest; return name -> file."""
    dest.mkdir(parents=True, exist_ok=True)
    files = {"filesystem": plugin_source(site, "filesystem/filesystem_plugin.py"),
             "test": plugin_source(site, "bosun_test_plugin.py")}
    copies = {}
    for name, source in files.items():
        target = dest / source.name
        shutil.copyfile(source, target)
        assert target.read_bytes() == source.read_bytes()
        copies[name] = target
    return copies


def samples(site: Path) -> dict[str, dict[str, Any]]:
    """Return DataRobot's config_samples: action -> action config."""
    folder = plugin_source(site, "config_samples")
    found = {p.name.removesuffix("_config.yaml"): yaml.safe_load(p.read_text())
             for p in sorted(folder.glob("*_config.yaml"))}
    assert len(found) == 9, f"expected DataRobot's 9 config samples, found {sorted(found)}"
    return found


@dataclass
class Run:
    """One runner invocation: exit code, output and the status file (None when it wrote none)."""

    rc: int
    stdout: str
    stderr: str
    status: dict[str, Any] | None
    status_text: str | None


def run_runner(which: str, site: Path, args: list[str], status_file: Path, cwd: Path,
               env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run DataRobot's runner ("datarobot") or ours ("ours") with args; DataRobot's sees only its own package."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLOPS_API_TOKEN")}
    if which == "datarobot":
        argv = [PYTHON, "-m", "bosun.plugin.plugin_runner"]
        base["PYTHONPATH"] = str(site)
    else:
        argv = [str(OUR_RUNNER)]
    status_file.unlink(missing_ok=True)
    proc = subprocess.run([*argv, *args, "--status-file", str(status_file)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**base, **(env or {})})
    text = status_file.read_text() if status_file.exists() else None
    return Run(proc.returncode, proc.stdout, proc.stderr, yaml.safe_load(text) if text else None, text)


_VOLATILE = ("timestamp", "duration", "status_timestamp")


def normalized(value: Any, roots: dict[str, str]) -> Any:
    """Return a status with timestamps and durations blanked and world-specific paths replaced by names."""
    if isinstance(value, dict):
        return {k: "<volatile>" if k in _VOLATILE and v is not None else normalized(v, roots)
                for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v, roots) for v in value]
    if isinstance(value, str):
        for path, name in roots.items():
            value = value.replace(path, name)
    return value


def field_diff(ours: dict[str, Any] | None, theirs: dict[str, Any] | None, prefix: str = "") -> list[str]:
    """Return every field that differs between two normalized statuses, as `path: ours != theirs` lines."""
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return [] if ours == theirs else [f"{prefix or '<status>'}: {ours!r} != {theirs!r}"]
    lines = []
    for key in sorted(set(ours) | set(theirs), key=str):
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in ours or key not in theirs:
            lines.append(f"{where}: {'missing in ours' if key not in ours else 'only in ours'}")
        elif isinstance(ours[key], dict) and isinstance(theirs[key], dict):
            lines += field_diff(ours[key], theirs[key], where)
        elif ours[key] != theirs[key]:
            lines.append(f"{where}: ours {ours[key]!r} != DataRobot's {theirs[key]!r}")
    return lines


def wait_for(check: Any, timeout: float, what: str) -> Any:
    """Poll check() until truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
