"""The vocabularies in bosun_local.contracts: defined once, dependency-free, and what every component uses."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

from bosun_local.contracts import actions, labels, states
from bosun_local.plugins import BosunPluginActions, DeploymentState
from bosun_local.plugins.framework.action_status import ActionStatus
from bosun_local.service import models

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bosun_local"
MINE = ("actions.py", "states.py", "labels.py")


def test_contract_modules_import_nothing_but_the_standard_library_and_each_other() -> None:
    for name in MINE:
        tree = ast.parse((PACKAGE / "contracts" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module == "__future__" or node.module.startswith(("typing", "bosun_local.contracts")), \
                    f"contracts/{name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert all(alias.name in ("typing",) for alias in node.names), f"contracts/{name} imports"


def test_literal_types_match_the_constants() -> None:
    assert get_args(states.DeploymentStateName) == states.DeploymentState.ALL
    assert get_args(states.HealthStatusName) == states.HEALTH_STATUSES == states.ActionStatus.ALL
    assert get_args(states.EventStatusName) == states.EVENT_STATUSES
    assert get_args(states.DesiredStateName) == states.DesiredState.ALL
    assert get_args(states.QueueStatusName) == states.QueueStatus.ALL
    assert get_args(actions.QueuedActionName) == actions.QueuedAction.ALL
    assert set(actions.PLUGIN_ACTION_FOR.values()) <= set(actions.PluginAction.SUPPORTED)
    assert set(actions.RUNNING_STATE) == set(actions.DONE_STATE) == set(actions.QueuedAction.ALL)


def test_the_framework_re_exports_the_datarobot_names() -> None:
    assert DeploymentState is states.DeploymentState and ActionStatus is states.ActionStatus
    assert issubclass(BosunPluginActions, actions.PluginAction)  # adds DataRobot's all_actions() helpers
    assert models.EventStatus is states.EventStatusName


def test_no_vocabulary_is_written_twice() -> None:
    """Outside contracts/, no module spells a state tuple, a label name or the action-type map again."""
    spelled = {
        "deployment states": re.compile(r'"replacingModel",\s*"shuttingDown"'),
        "statuses": re.compile(r'\(\s*"passing",\s*"warning",\s*"failing",\s*"unknown"'),
        "labels": re.compile(r'"(io\.bosun-local\.(deployment|model|network|artifact|component|managed|workshop)'
                             r'|com\.docker\.compose\.(project|service))"'),
        "queued actions": re.compile(r'"deployment_delete":\s*"deployment_stop"'),
        "open queue statuses": re.compile(r'\(\s*"pending",\s*"claimed"\s*\)'),
    }
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "contracts" in path.parts or "tui" in path.parts:  # the dashboard maps states to colours, by design
            continue
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {what}" for what, pattern in spelled.items() if pattern.search(text)]
    assert found == []


def test_templates_write_labels_by_name() -> None:
    for template in sorted((ROOT / "templates").rglob("*.j2")):
        assert "io.bosun-local." not in template.read_text(), template
    assert labels.template_globals()["DEPLOYMENT"] == "io.bosun-local.deployment"
