"""API diff: each public name of DataRobot's `bosun.plugin` framework is in ours, with the same signature and value.

Both surfaces are dumped by api_surface.py in subprocesses: DataRobot's from the datarobot-bosun wheel (installed
from PyPI at test time), ours through the `bosun` alias with no DataRobot package on the path.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.plugins import datarobot_bosun

SURFACE = Path(__file__).with_name("api_surface.py")
REQUIRED = "<required>"
# Values that must differ, with the reason; everything else is compared.
DIFFERENT_ON_PURPOSE = {
    ("bosun.plugin.plugin_runner", "PluginRunner", "builtin_plugins"):
        "our built-ins are bosun-local's modules (test, filesystem, docker), not DataRobot's cloud plugins",
    ("bosun.plugin.plugin_runner", "PluginRunner", "description"): "--help text of our runner",
}


def dump(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run api_surface.py and return its JSON."""
    proc = subprocess.run([sys.executable, str(SURFACE), *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=SURFACE.parent)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def surfaces() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (DataRobot's surface, ours) over DataRobot's framework modules."""
    site = datarobot_bosun.install()
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    theirs = dump({**base, "PYTHONPATH": str(site)})
    ours = dump(base, "--alias", *theirs)
    return theirs, ours


def signature_problems(ours: Any, theirs: Any) -> list[str]:
    """Return how our signature differs: same parameters, kinds and order; their defaults kept.

    Ours may give a default where DataRobot requires a value (every call that works there works here).
    """
    if not isinstance(theirs, list) or not isinstance(ours, list):
        return [] if ours == theirs else [f"signature {ours} != {theirs}"]
    names = lambda params: [(p[0], p[1]) for p in params]  # noqa: E731
    if names(ours) != names(theirs):
        return [f"parameters {names(ours)} != DataRobot's {names(theirs)}"]
    return [f"default of {o[0]}: {o[2]!r} != DataRobot's {t[2]!r}"
            for o, t in zip(ours, theirs, strict=True) if t[2] != REQUIRED and o[2] != t[2]]


def compare_member(where: tuple[str, ...], ours: dict[str, Any] | None, theirs: dict[str, Any]) -> list[str]:
    """Return the problems of one public name."""
    label = ".".join(where)
    if ours is None:
        return [f"{label}: missing"]
    if ours["kind"] != theirs["kind"]:
        return [f"{label}: is a {ours['kind']}, DataRobot's is a {theirs['kind']}"]
    problems = []
    if "signature" in theirs:
        problems += [f"{label}: {p}" for p in signature_problems(ours["signature"], theirs["signature"])]
    if theirs["kind"] == "property" and theirs["setter"] and not ours["setter"]:
        problems.append(f"{label}: property has no setter")
    if theirs["kind"] == "value" and ours["value"] != theirs["value"] and where not in DIFFERENT_ON_PURPOSE:
        problems.append(f"{label}: value {ours['value']!r} != DataRobot's {theirs['value']!r}")
    if theirs["kind"] == "class":
        problems += compare_class(where, ours, theirs)
    return problems


def compare_class(where: tuple[str, ...], ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Return the problems of a class: bases, __init__, abstract methods, members."""
    label = ".".join(where)
    problems = [f"{label}: does not derive from {b}" for b in theirs["bases"] if b not in ours["bases"]]
    if theirs["init"] is not None:
        problems += [f"{label}.__init__: {p}" for p in signature_problems(ours["init"], theirs["init"])]
    if ours["abstract"] != theirs["abstract"]:
        problems.append(f"{label}: abstract methods {ours['abstract']} != DataRobot's {theirs['abstract']}")
    for name, member in theirs["members"].items():
        problems += compare_member((*where, name), ours["members"].get(name), member)
    return problems


def test_datarobot_framework_surface_is_ours(surfaces: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = surfaces
    assert len(theirs) >= 15, sorted(theirs)  # the walk found DataRobot's modules, not an empty package
    problems = []
    for module, names in theirs.items():
        assert "<import error>" not in names, f"DataRobot's {module} did not import: {names}"
        mine = ours.get(module, {})
        if "<import error>" in mine:
            problems.append(f"{module}: does not import through the alias: {mine['<import error>']}")
            continue
        for name, described in names.items():
            problems += compare_member((module, name), mine.get(name), described)
    assert not problems, f"{len(problems)} differences from DataRobot's bosun.plugin:\n" + "\n".join(problems)


def test_the_diff_catches_a_changed_value_signature_and_missing_name(
        surfaces: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = surfaces
    constants = theirs["bosun.plugin.constants"]["BosunPluginConfigConstants"]
    changed = json.loads(json.dumps(ours["bosun.plugin.constants"]["BosunPluginConfigConstants"]))
    changed["members"]["MLOPS_API_TOKEN_KEY"]["value"] = "MLOPS_API_TOKEN"
    del changed["members"]["COMMAND_KEY"]
    problems = compare_member(("c", "BosunPluginConfigConstants"), changed, constants)
    assert "c.BosunPluginConfigConstants.MLOPS_API_TOKEN_KEY: value 'MLOPS_API_TOKEN' != DataRobot's 'mlopsApiToken'" \
        in problems
    assert "c.BosunPluginConfigConstants.COMMAND_KEY: missing" in problems
    init = [["self", "POSITIONAL_OR_KEYWORD", REQUIRED], ["deployment_info", "POSITIONAL_OR_KEYWORD", REQUIRED],
            ["parent", "POSITIONAL_OR_KEYWORD", "deploymentInfo"]]
    assert signature_problems(init, theirs["bosun.plugin.deployment_info"]["DeploymentInfo"]["init"])


def subset_problems(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Return where ours differs from theirs; names only ours has (our additions) are not compared."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return [p for key in theirs for p in (subset_problems(ours[key], theirs[key], f"{where}.{key}")
                                              if key in ours else [f"{where}.{key}: missing"])]
    if theirs == "<raises SchemaUnexpectedTypeError>" and where.endswith("peInfo.deployments"):
        # Documented: DataRobot's PEInfo.deployments raises on bare ids; ours returns the mappings (none here).
        return [] if ours == [] else [f"{where}: {ours!r}, expected [] for bare ids"]
    return [] if ours == theirs else [f"{where}: ours {ours!r} != DataRobot's {theirs!r}"]


def test_same_inputs_give_the_same_values(tmp_path: Path) -> None:
    """DeploymentInfo, PEInfo, EndpointInfo, ActionStatusInfo on DataRobot's samples: same types and values."""
    site = datarobot_bosun.install()
    samples = str(datarobot_bosun.plugin_source(site, "config_samples"))
    probe = str(SURFACE.with_name("semantics_probe.py"))
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    runs = [subprocess.run([sys.executable, probe, *args, samples], capture_output=True, text=True, timeout=120,
                           env=env, cwd=tmp_path) for args, env in (([], {**base, "PYTHONPATH": str(site)}),
                                                                    (["--alias"], base))]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    theirs, ours = (json.loads(r.stdout) for r in runs)
    assert len(theirs) >= 15 and "model_name" in theirs["deployment_start_config.yaml"]["deploymentInfo"]
    problems = subset_problems(ours, theirs)
    assert not problems, "different values on the same input:\n" + "\n".join(problems)
