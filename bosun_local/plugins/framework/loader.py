"""Find a plugin class from --plugin: a registered name, an importable module, or a .py file path."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from bosun_local.errors import BosunError
from bosun_local.plugins.compat.alias import install_bosun_alias
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase
from bosun_local.plugins.framework.registry import (
    ENTRY_POINT_GROUP,
    PluginEntry,
    plugin_names,
    registered_plugins,
)

_BUILTIN_PREFIX = "bosun_local.plugins."


def spec_help() -> str:
    """Return what --plugin accepts, naming every registered plugin."""
    return (f"pass a registered plugin ({', '.join(plugin_names())}), an importable module name, or the path of a "
            f".py file; third-party plugins register in the `{ENTRY_POINT_GROUP}` entry-point group")


class PluginLoadError(BosunError):
    """A plugin could not be found, imported, or has no single plugin class."""


def plugin_bases() -> tuple[type, ...]:
    """Return the base classes a plugin may derive from: ours, and DataRobot's when a real datarobot-bosun is used."""
    theirs = getattr(sys.modules.get("bosun.plugin.bosun_plugin_base"), "BosunPluginBase", None)
    return (BosunPluginBase,) if theirs is None or theirs is BosunPluginBase else (BosunPluginBase, theirs)


def _is_builtin(cls: type) -> bool:
    return (cls in plugin_bases() or cls.__module__.startswith(_BUILTIN_PREFIX)
            or cls.__module__.startswith("bosun.plugin."))


def _defined_in(cls: type, module: ModuleType) -> bool:
    """Return True when cls comes from the module, or from a submodule of it when it is a package."""
    return cls.__module__ == module.__name__ or cls.__module__.startswith(module.__name__ + ".")


def plugin_class_of(module: ModuleType, where: str) -> type[BosunPluginBase]:
    """Return the one BosunPluginBase subclass a module holds; error listing what was found otherwise."""
    bases = plugin_bases()
    # A subclass of DataRobot's base (when datarobot-bosun is installed) is used as one of ours.
    found = [cast(type[BosunPluginBase], obj) for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, bases) and obj not in bases]
    own_module = module.__name__.startswith(_BUILTIN_PREFIX)
    # Classes imported from the framework (a user's module may import FilesystemPlugin to extend it) don't count.
    candidates = [c for c in found if own_module and _defined_in(c, module) or not _is_builtin(c)]
    local = [c for c in candidates if _defined_in(c, module)]
    pool = local or candidates
    concrete = [c for c in pool if not inspect.isabstract(c)]
    if len(concrete) == 1:
        return concrete[0]
    if not concrete:
        abstract = [f"{c.__name__} (does not implement {', '.join(sorted(c.__abstractmethods__))})"
                    for c in pool]
        detail = f"; found only abstract classes: {'; '.join(abstract)}" if abstract else ""
        raise PluginLoadError(f"{where} holds no BosunPluginBase subclass{detail}",
                              fix="define one class deriving from BosunPluginBase that implements every action")
    names = ", ".join(sorted(c.__name__ for c in concrete))
    raise PluginLoadError(f"{where} holds {len(concrete)} BosunPluginBase subclasses ({names}); expected exactly one",
                          fix="keep one plugin class per module, or move the others to their own modules")


def _import_registered(entry: PluginEntry) -> type[BosunPluginBase]:
    """Import a registered plugin's module and return its class (the named one, or the module's only one)."""
    module_name, _, attr = entry.target.partition(":")
    fix = (f"install bosun-local with the {entry.name} plugin, or use another plugin" if entry.builtin
           else f"reinstall {entry.source.removeprefix('distribution ')}, or use another plugin")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        reason = (f"module {module_name} is not part of this installation" if exc.name == module_name
                  else f"it needs the Python module {exc.name}, which is not installed")
        raise PluginLoadError(f"plugin {entry.name} is not available: {reason}", fix=fix) from exc
    except Exception as exc:
        raise PluginLoadError(f"plugin {entry.name} is not available: importing {module_name} failed: "
                              f"{type(exc).__name__}: {exc}", fix="fix the error above") from exc
    where = f"built-in plugin {entry.name}" if entry.builtin else f"plugin {entry.name} (from {entry.source})"
    if not attr:
        return plugin_class_of(module, where)
    found: Any = module
    for part in attr.split("."):
        found = getattr(found, part, None)
    if not (inspect.isclass(found) and issubclass(found, BosunPluginBase) and not inspect.isabstract(found)):
        raise PluginLoadError(f"{where}: {entry.target} is not a concrete BosunPluginBase subclass",
                              fix=f"point the `{ENTRY_POINT_GROUP}` entry point {entry.name} at the plugin class")
    return found


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or spec.startswith("~")


def _py_file(spec: str) -> Path:
    """Return the file a path spec names; the seed's docs give paths without the .py suffix."""
    path = Path(spec).expanduser()
    return path if path.suffix == ".py" else path.with_name(path.name + ".py")


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginLoadError(f"plugin file {path} does not exist", fix=spec_help())
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    module_name = f"bosun_user_plugin_{resolved.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    # Let a plugin file import its sibling modules, as it could when run from its own directory.
    parent = str(resolved.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"plugin file {path} cannot be loaded as Python", fix="give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PluginLoadError(f"plugin file {path} failed to import: {type(exc).__name__}: {exc}",
                              fix="fix the error in the plugin file") from exc
    return module


def _import_module(name: str) -> ModuleType | None:
    """Import a module by name; None when no such module exists (so the spec may be a path)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == name or name.startswith(exc.name + ".")):
            return None
        raise PluginLoadError(f"plugin module {name} failed to import: it needs the Python module {exc.name}",
                              fix=f"install {exc.name}") from exc
    except Exception as exc:
        raise PluginLoadError(f"plugin module {name} failed to import: {type(exc).__name__}: {exc}",
                              fix="fix the error in the plugin module") from exc


def load_plugin_class(spec: str) -> type[BosunPluginBase]:
    """Return the plugin class named by spec: registered name, then module name, then .py path."""
    spec = spec.strip()
    if not spec:
        raise PluginLoadError("no plugin given", fix=spec_help())
    install_bosun_alias()  # DataRobot plugins' `bosun.plugin` imports, unless a real datarobot-bosun is installed
    registered = registered_plugins()
    if spec in registered:
        return _import_registered(registered[spec])
    if not _looks_like_path(spec):
        module = _import_module(spec) if spec.replace(".", "").replace("_", "").isalnum() else None
        if module is not None:
            return plugin_class_of(module, f"plugin module {spec}")
        if not _py_file(spec).is_file():
            raise PluginLoadError(
                f"plugin {spec!r} is not a built-in plugin, an importable module or a .py file, so it is not "
                f"available here (registered plugins: {', '.join(sorted(registered))})", fix=spec_help())
    file = _py_file(spec)
    return plugin_class_of(_import_file(file), f"plugin file {file}")


def list_plugins() -> list[dict[str, Any]]:
    """Return each registered plugin with where it comes from and whether it can be loaded here."""
    rows = []
    for name, entry in registered_plugins().items():
        row = {"name": name, "module": entry.target, "source": entry.source}
        try:
            cls = _import_registered(entry)
            rows.append({**row, "class": cls.__name__, "available": True, "detail": ""})
        except PluginLoadError as exc:
            rows.append({**row, "class": "", "available": False, "detail": exc.message})
    return rows
