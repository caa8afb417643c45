"""The floors of the house: no import cycle anywhere in harbench/ or plugins/ (inside a plugin
package too), the contract on the lowest floor, the core never names a plugin, and a plugin
reaches into no upper floor of the core (what runs suites and stores results) and into no other
plugin package.

Every import statement counts, including those inside functions (a lazy import still ties two
modules together). The core package's own ``__init__`` is the public namespace and is left out
(a plugin package's ``__init__`` is its registration module and counts); ``from package import
submodule`` ties to the submodule (every submodule needs its parent package initialised anyway).
The walk reads whatever files are there, so it checks any layout of the plugin packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "harbench"
PLUGINS = REPO / "plugins"
PLUGIN_PACKAGES = (
    "harbench_datasets",
    "harbench_models",
    "harbench_methods",
    "harbench_executors",
    "harbench_protocols",
)


# the core's upper floors: running suites, storing and reporting results; no plugin imports them
UPPER_FLOORS = (
    "harbench.api",
    "harbench.cli",
    "harbench.commands",
    "harbench.coordinator",
    "harbench.report",
    "harbench.runner",
    "harbench.rundata",
    "harbench.scaffold",
    "harbench.spill",
    "harbench.staleness",
    "harbench.store",
    "harbench.suite",
    "harbench.suitelock",
)


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in CORE.rglob("*.py")}
    found.update({_module_name(p, PLUGINS): p for p in PLUGINS.rglob("*.py")})
    return found


def _imported_names(path: Path) -> list[str]:
    """Every module name an import statement of ``path`` names (absolute imports)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The harbench modules that ``path`` imports (anywhere in the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{a.name}" for a in node.names} & known
            if len(submodules) < len(node.names):  # names from the module itself, not submodules
                found.add(base)
            found.update(submodules)
    edges = set()
    for target in found:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != "harbench" and target != name:
            edges.add(target)
    return edges


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {n: _imports(p, n, known) for n, p in modules.items() if n != "harbench"}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state.get(nxt) is None:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_walker_finds_a_cycle_when_there_is_one():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_in_the_core_or_the_plugins():
    graph = _graph()
    assert "harbench.runner" in graph and graph["harbench.runner"], "the walker saw no imports"
    assert any(n.startswith("harbench_methods.") for n in graph), "the walker saw no plugin"
    assert any(graph[n] & {m for m in graph if m.startswith("harbench_methods")}
               for n in graph if n.startswith("harbench_methods")), "no edge inside a plugin"
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_lazy_import_inside_a_plugin_package_makes_a_cycle(tmp_path):
    package = tmp_path / "harbench_demo"
    package.mkdir()
    (package / "__init__.py").write_text("from harbench_demo import steps\n")
    (package / "steps.py").write_text("def run():\n    from harbench_demo import helpers\n")
    (package / "helpers.py").write_text("from harbench_demo.steps import run\n")
    known = {"harbench_demo", "harbench_demo.steps", "harbench_demo.helpers"}
    graph = {n: _imports(package / f"{n.split('.')[-1]}.py" if "." in n else package /
                         "__init__.py", n, known) for n in known}
    cycle = _find_cycle(graph)
    assert cycle is not None and set(cycle) == {"harbench_demo.steps", "harbench_demo.helpers"}


def test_the_contract_is_the_lowest_floor():
    for module in ("contracts", "hookspecs"):
        named = [n for n in _imported_names(CORE / f"{module}.py") if n.startswith("harbench")]
        assert named == [], f"harbench/{module}.py imports {named}"


def test_plugins_reach_no_upper_floor_and_no_other_plugin_package():
    for path in sorted(PLUGINS.rglob("*.py")):
        own = path.relative_to(PLUGINS).parts[0]
        for name in _imported_names(path):
            assert not any(name == f or name.startswith(f + ".") for f in UPPER_FLOORS), (
                f"{path.relative_to(REPO)} imports {name}, a floor above the plugins"
            )
            top = name.split(".")[0]
            assert top not in PLUGIN_PACKAGES or top == own, (
                f"{path.relative_to(REPO)} imports {name} from another plugin package"
            )


def test_the_core_never_imports_a_plugin_package():
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in PLUGIN_PACKAGES, f"{path} imports plugin {n}"
