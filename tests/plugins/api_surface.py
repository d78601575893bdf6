"""Print, as JSON, the public surface of the `bosun.plugin` modules importable in this process.

Run as a script in a subprocess: with DataRobot's package on PYTHONPATH it describes theirs; with `--alias`
it installs bosun-local's `bosun` alias first and describes ours. Each module maps public names to a kind and,
for classes, members with signatures, property setters and constant values.
"""
from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
from typing import Any

# DataRobot's cloud-platform plugins (their own docker, k8s, azureml, ...) are not part of the plugin framework.
PLATFORM_PACKAGES = ("azureml", "docker", "k8s", "s3", "sagemaker", "sap_ai_core", "snowflake")
EXTRA_MODULES = ("bosun.plugin.filesystem", "bosun.plugin.filesystem.filesystem_plugin",
                 "bosun.plugin.config_samples", "bosun.model_connector.constants")
REQUIRED = "<required>"
PLAIN = (str, int, float, bool, type(None), dict, list, tuple)


def framework_modules() -> list[str]:
    """Return bosun.plugin and its plain modules, plus the filesystem plugin, samples and model_connector names."""
    import bosun.plugin

    names = ["bosun.plugin"]
    names += [f"bosun.plugin.{m.name}" for m in pkgutil.iter_modules(bosun.plugin.__path__) if not m.ispkg]
    return sorted(names) + list(EXTRA_MODULES)


def plain(value: Any) -> Any:
    """Return a JSON-able copy of a constant value (tuples become lists, other objects their repr)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, PLAIN):
        return value
    return repr(value)


def signature(fn: Any) -> list[list[Any]] | str:
    """Return [name, kind, default] per parameter, or why there is no signature."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        return f"<no signature: {exc}>"
    return [[p.name, p.kind.name, REQUIRED if p.default is p.empty else plain(p.default)]
            for p in sig.parameters.values()]


def member(cls: type, name: str) -> dict[str, Any]:
    """Describe one public attribute of a class, found the way Python finds it (static lookup)."""
    raw = inspect.getattr_static(cls, name)
    if isinstance(raw, property):
        return {"kind": "property", "setter": raw.fset is not None}
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", "signature": signature(raw.__func__)}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", "signature": signature(raw.__func__)}
    if inspect.isfunction(raw):
        return {"kind": "method", "signature": signature(raw)}
    if inspect.isclass(raw):
        return {"kind": "class"}
    return {"kind": "value", "value": plain(raw)}


def ours_or_theirs(obj: Any) -> bool:
    """Return True for objects defined by DataRobot's bosun or by bosun-local (not stdlib or third-party)."""
    return str(getattr(obj, "__module__", "") or "").startswith(("bosun.", "bosun_local."))


def describe_class(cls: type) -> dict[str, Any]:
    """Describe a class: its framework bases, __init__, abstract methods and public members."""
    init = cls.__dict__.get("__init__") or next(
        (c.__dict__["__init__"] for c in cls.__mro__ if "__init__" in c.__dict__ and ours_or_theirs(c)), None)
    return {
        "kind": "class",
        "bases": [c.__name__ for c in cls.__mro__[1:] if ours_or_theirs(c)],
        "init": signature(init) if init is not None else None,
        "abstract": sorted(getattr(cls, "__abstractmethods__", ())),
        "members": {n: member(cls, n) for n in dir(cls) if not n.startswith("_")},
    }


def describe_module(name: str) -> dict[str, Any]:
    """Describe a module's public classes, functions and constants; record an import failure instead."""
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a surface that cannot even be imported is reported, not raised
        return {"<import error>": f"{type(exc).__name__}: {exc}"}
    found: dict[str, Any] = {}
    for attr in sorted(dir(module)):
        if attr.startswith("_"):
            continue
        obj = getattr(module, attr)
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            if ours_or_theirs(obj):
                found[attr] = describe_class(obj)
        elif inspect.isfunction(obj):
            if ours_or_theirs(obj):
                found[attr] = {"kind": "function", "signature": signature(obj)}
        elif isinstance(obj, PLAIN):
            found[attr] = {"kind": "value", "value": plain(obj)}
    return found


def main(argv: list[str]) -> None:
    """Print the surface of the given modules (default: DataRobot's framework modules) as JSON."""
    if argv and argv[0] == "--alias":
        from bosun_local.plugins.compat.alias import install_bosun_alias

        install_bosun_alias()
        argv = argv[1:]
    modules = argv or framework_modules()
    json.dump({name: describe_module(name) for name in modules}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
