"""The `bosun` import alias: DataRobot plugins' `from bosun.plugin.X import Y` finds bosun-local's framework.

The finder is appended to the END of sys.meta_path, so Python's own path finder always comes first: a real
`bosun` package (DataRobot's datarobot-bosun, or anything else of that name) is found and used, never shadowed.
Only when no `bosun` exists on sys.path does the alias answer, and then only for the names below.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from importlib import metadata
from types import ModuleType

log = logging.getLogger(__name__)

# DataRobot module -> ours. Package entries (None) are synthetic packages: empty, with an empty __path__, so
# Python's path finder can never find a second copy of one of our modules under a `bosun.` name.
ALIASES: dict[str, str | None] = {
    "bosun": None,
    "bosun.plugin": None,
    "bosun.plugin.action_status": "bosun_local.plugins.framework.action_status",
    "bosun.plugin.bosun_plugin_base": "bosun_local.plugins.framework.bosun_plugin_base",
    "bosun.plugin.constants": "bosun_local.plugins.framework.constants",
    "bosun.plugin.deployment_info": "bosun_local.plugins.framework.deployment_info",
    "bosun.plugin.endpoint_info": "bosun_local.plugins.framework.endpoint_info",
    "bosun.plugin.pe_info": "bosun_local.plugins.framework.pe_info",
    "bosun.plugin.exceptions": "bosun_local.plugins.compat.exceptions",
    "bosun.plugin.model_package_info": "bosun_local.plugins.compat.model_package_info",
    "bosun.plugin.deployment_utils": "bosun_local.plugins.compat.deployment_utils",
    "bosun.plugin.plugin_runner": "bosun_local.plugins.compat.plugin_runner",
    "bosun.plugin.config_samples": "bosun_local.plugins.compat.config_samples",
    "bosun.plugin.bosun_test_plugin": "bosun_local.plugins.test.plugin",
    "bosun.plugin.filesystem": None,
    "bosun.plugin.filesystem.filesystem_plugin": "bosun_local.plugins.filesystem.plugin",
    "bosun.model_connector": None,
    "bosun.model_connector.constants": "bosun_local.plugins.compat.model_connector_constants",
}
# What DataRobot's package __init__ modules export.
PACKAGE_EXPORTS = {"bosun.plugin.filesystem": ("bosun.plugin.filesystem.filesystem_plugin", "FilesystemPlugin")}
MARK = "__bosun_local_alias__"


class BosunAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve the `bosun.*` names of ALIASES from bosun-local's modules, when nothing else provides them."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ALIASES:
            return None
        parent = fullname.rpartition(".")[0]
        if parent and not getattr(sys.modules.get(parent), MARK, False):
            return None  # the parent is a real `bosun` (DataRobot's or another): never mix ours into it
        is_package = ALIASES[fullname] is None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=is_package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = ALIASES[spec.name]
        if target is None:
            module = ModuleType(spec.name, f"bosun-local's stand-in for DataRobot's {spec.name} package.")
            module.__path__ = []
            setattr(module, MARK, True)
            return module
        module = importlib.import_module(target)
        # The import system is about to overwrite __spec__; keep the module's own so it stays itself.
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, MARK, False):
            exported = PACKAGE_EXPORTS.get(module.__name__)
            if exported:
                setattr(module, exported[1], getattr(importlib.import_module(exported[0]), exported[1]))
            return
        assert module.__spec__ is not None
        module.__spec__ = module.__spec__.loader_state


_FINDER = BosunAliasFinder()


def install_bosun_alias() -> None:
    """Let `bosun.plugin` imports resolve to bosun-local's framework when no real `bosun` package exists."""
    if not any(isinstance(f, BosunAliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_FINDER)
        # The runner and the agent both come through here: `--log-level debug` says which bosun.plugin is used.
        log.debug("bosun.plugin imports resolve to %s", which_bosun())


def which_bosun() -> str:
    """Say which `bosun.plugin` a plugin's imports get here: DataRobot's, another package's, or ours."""
    install_bosun_alias()
    loaded = sys.modules.get("bosun")
    spec = loaded.__spec__ if loaded is not None else importlib.util.find_spec("bosun")
    if spec is None:
        return "none: no `bosun` package (the alias is not installed)"
    if spec.loader is _FINDER or getattr(loaded, MARK, False):
        return "bosun-local's framework (DataRobot's datarobot-bosun is not installed; bosun.plugin is an alias)"
    where = ", ".join(spec.submodule_search_locations or []) or spec.origin
    try:
        return f"DataRobot's datarobot-bosun {metadata.version('datarobot-bosun')} at {where}"
    except metadata.PackageNotFoundError:
        return f"a package named bosun at {where} that is not datarobot-bosun (its bosun.plugin is used as is)"
