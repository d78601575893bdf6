"""Find a plugin class from --plugin: a built-in name, an importable module, or a .py file path."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from bosun_local.errors import BosunError
from bosun_local.plugins.framework.bosun_plugin_base import BosunPluginBase

BUILTIN_PLUGINS: dict[str, str] = {
    "filesystem": "bosun_local.plugins.filesystem",
    "test": "bosun_local.plugins.test",
    "docker": "bosun_local.plugins.docker",
    "k8s": "bosun_local.plugins.k8s",
    "kubernetes": "bosun_local.plugins.k8s",
}
_BUILTIN_PREFIX = "bosun_local.plugins."
SPEC_HELP = ("pass a built-in name (" + ", ".join(BUILTIN_PLUGINS) + "), an importable module name, "
             "or the path of a .py file")


class PluginLoadError(BosunError):
    """A plugin could not be found, imported, or has no single plugin class."""


def _is_builtin(cls: type) -> bool:
    return cls is BosunPluginBase or cls.__module__.startswith(_BUILTIN_PREFIX)


def _defined_in(cls: type, module: ModuleType) -> bool:
    """Return True when cls comes from the module, or from a submodule of it when it is a package."""
    return cls.__module__ == module.__name__ or cls.__module__.startswith(module.__name__ + ".")


def plugin_class_of(module: ModuleType, where: str) -> type[BosunPluginBase]:
    """Return the one BosunPluginBase subclass a module holds; error listing what was found otherwise."""
    found = [obj for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, BosunPluginBase) and obj is not BosunPluginBase]
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


def _import_builtin(name: str) -> ModuleType:
    module_name = BUILTIN_PLUGINS[name]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        reason = (f"module {module_name} is not part of this installation" if exc.name == module_name
                  else f"it needs the Python module {exc.name}, which is not installed")
        raise PluginLoadError(f"plugin {name} is not available: {reason}",
                              fix=f"install bosun-local with the {name} plugin, or use another plugin") from exc
    except Exception as exc:
        raise PluginLoadError(f"plugin {name} is not available: importing {module_name} failed: "
                              f"{type(exc).__name__}: {exc}", fix="fix the error above") from exc


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or spec.startswith("~")


def _py_file(spec: str) -> Path:
    """Return the file a path spec names; the seed's docs give paths without the .py suffix."""
    path = Path(spec).expanduser()
    return path if path.suffix == ".py" else path.with_name(path.name + ".py")


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginLoadError(f"plugin file {path} does not exist", fix=SPEC_HELP)
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
    """Return the plugin class named by spec: built-in alias, then module name, then .py path."""
    spec = spec.strip()
    if not spec:
        raise PluginLoadError("no plugin given", fix=SPEC_HELP)
    if spec in BUILTIN_PLUGINS:
        return plugin_class_of(_import_builtin(spec), f"built-in plugin {spec}")
    if not _looks_like_path(spec):
        module = _import_module(spec) if spec.replace(".", "").replace("_", "").isalnum() else None
        if module is not None:
            return plugin_class_of(module, f"plugin module {spec}")
        if not _py_file(spec).is_file():
            raise PluginLoadError(
                f"plugin {spec!r} is not a built-in plugin, an importable module or a .py file", fix=SPEC_HELP)
    file = _py_file(spec)
    return plugin_class_of(_import_file(file), f"plugin file {file}")


def list_plugins() -> list[dict[str, Any]]:
    """Return each built-in plugin with its module and whether it can be loaded here."""
    rows = []
    for name, module in BUILTIN_PLUGINS.items():
        try:
            cls = load_plugin_class(name)
            rows.append({"name": name, "module": module, "class": cls.__name__, "available": True, "detail": ""})
        except PluginLoadError as exc:
            rows.append({"name": name, "module": module, "class": "", "available": False, "detail": exc.message})
    return rows
