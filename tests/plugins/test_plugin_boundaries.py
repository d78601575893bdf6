"""The seams around plugins, read from the source: the agent reaches the platform only through its plugin."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bosun_local"


def _typing_only(tree: ast.Module) -> set[int]:
    """Return the ids of nodes under `if TYPE_CHECKING:`: annotations only, nothing imported when the code runs."""
    return {id(inner) for node in tree.body if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING" for stmt in node.body for inner in ast.walk(stmt)}


def imports(path: Path) -> list[tuple[str, bool]]:
    """Return (module, at top level) for every import a file runs."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    typing_only = _typing_only(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_the_agent_imports_no_engine_stack_or_monitoring_code() -> None:
    banned = ("bosun_local.engine", "bosun_local.envstack", "bosun_local.stack", "bosun_local.monitoring",
              "python_on_whales", "pika")
    found = [f"{path.relative_to(PACKAGE)}: {name}" for path in modules("agent") for name, _ in imports(path)
             if name.startswith(banned)]
    assert found == []


def test_only_the_engine_touches_python_on_whales() -> None:
    found = [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
             if "engine" not in path.relative_to(PACKAGE).parts
             and any(name.startswith("python_on_whales") for name, _ in imports(path))]
    assert found == []


def test_plugins_read_no_host_config_and_import_at_top_level() -> None:
    problems = []
    for path in modules("plugins"):
        for name, top in imports(path):
            if not top:
                problems.append(f"{path.relative_to(PACKAGE)}: function-level import of {name}")
            if name.startswith(("bosun_local.envstack.environment", "bosun_local.stack")):
                problems.append(f"{path.relative_to(PACKAGE)}: imports {name}")
        if "load_config(" in path.read_text():
            problems.append(f"{path.relative_to(PACKAGE)}: reads the host's config")
    assert problems == []


def test_no_import_cycle_among_plugins_and_agent_modules() -> None:
    """Top-level imports between bosun_local.plugins.* and bosun_local.agent.* modules form no cycle."""
    def name_of(path: Path) -> str:
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    files = [*modules("plugins"), *modules("agent"), *modules("contracts")]
    graph = {name_of(p): {n for n, top in imports(p) if top} for p in files}
    graph = {m: {d for d in deps if d in graph and d != m and not m.startswith(d + ".")} for m, deps in graph.items()}
    # Depth-first search for a back edge; a package's __init__ importing its own submodules is not a cycle.
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> list[str] | None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                return [*trail, module, dep]
            if dep not in state and (cycle := visit(dep, [*trail, module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            assert visit(module, []) is None
