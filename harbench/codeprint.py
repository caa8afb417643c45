"""The code fingerprint: which version of the result-computing code produced a run.

A run's identity (``spec.py``) holds its settings, the plugin versions and the data fingerprint.
This module adds the code: the fingerprint of the modules that compute a result (training,
evaluation, protocols, windowing, harmonisation, metrics, the runner) and of the modules of the
plugins a run uses. It is stored with every run; a stored run whose fingerprint differs from the
current code's is *stale* (``harbench.staleness``).

What counts is the code's meaning, not its text: each module is parsed, and every top-level
function, class and statement is dumped as a normalised syntax tree without docstrings (comments
never reach the tree), imports, ``__all__`` and ``if TYPE_CHECKING:`` blocks. The fingerprint is
the hash of the sorted multiset of those dumps' hashes, so

- editing a comment, a docstring or the formatting changes nothing;
- moving a function or class to another fingerprinted module (a refactor) changes nothing;
- any edit of a body, a signature, a default, a constant, or a rename changes it.

Which modules: the closure of ``ROOTS`` under imports inside the ``harbench`` package, less
``NOT_RESULTS`` (registry, suite parsing, store, reports: code that cannot change a number), and for
each plugin a run uses, the closure of the plugin's module under imports inside the packages that
provide harbench plugins (its own and any other). Every fingerprint is computed once per process.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# entry points of the code that computes results
ROOTS = (
    "harbench.runner",
    "harbench.rundata",
    "harbench.train",
    "harbench.pretrain",
    "harbench.metrics",
    "harbench.blocks",
    "harbench.data.load",
    "harbench.data.windows",
    "harbench.data.harmonise",
    "harbench.data.protocols",
    "harbench.data.normalise",
    "harbench.measure",
)
# reached by imports but unable to change a result: registry, settings parsing, identity, events
NOT_RESULTS = frozenset({
    "harbench",
    "harbench.plugins",
    "harbench.hookspecs",
    "harbench.lazy",
    "harbench.settings",
    "harbench.spec",
    "harbench.suite",
    "harbench.events",
    "harbench.store",
    "harbench.yamlsafe",
    "harbench.atomic",
    "harbench.codeprint",
    "harbench.data.fetch",
    "harbench.data.paths",
    "harbench.data.completeness",
    "harbench.data.fingerprint",
})


# ---- normalised syntax trees ------------------------------------------------------------------


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _ignored(node: ast.AST) -> bool:
    """Statements that never count: imports, ``__all__``, ``if TYPE_CHECKING:`` blocks."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)
    if isinstance(node, ast.If):
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        return name == "TYPE_CHECKING"
    return False


def _body(statements: list[ast.stmt]) -> list[ast.stmt]:
    """A body without its docstring and ignored statements (``pass`` if nothing is left)."""
    kept = [s for i, s in enumerate(statements) if not (i == 0 and _is_docstring(s))]
    kept = [s for s in kept if not _ignored(s)]
    return kept or [ast.Pass()]


_SKIP = frozenset({"type_comment", "kind", "ctx", "lineno", "col_offset", "end_lineno",
                   "end_col_offset"})  # no meaning (ctx follows from the position), or a position
_BODIES = frozenset({"body", "orelse", "finalbody"})


def _dump(node: Any) -> str:
    """A stable text of ``node``: its type and every non-empty field, without positions (so an
    empty field a newer Python adds, e.g. ``type_params``, changes nothing)."""
    out: list[str] = []
    _write(node, out)
    return "".join(out)


def _write(node: Any, out: list[str]) -> None:
    if isinstance(node, ast.AST):
        out += (type(node).__name__, "(")
        for name in node._fields:
            value = getattr(node, name, None)
            if name in _SKIP or value is None or value == []:
                continue
            if name in _BODIES and isinstance(value, list) and isinstance(value[0], ast.stmt):
                value = _body(value)
            elif isinstance(node, ast.JoinedStr):  # Python 3.12.1 adds empty parts to f-strings
                value = [v for v in value if not (isinstance(v, ast.Constant) and v.value == "")]
            out += (name, "=")
            _write(value, out)
            out.append(",")
        out.append(")")
    elif isinstance(node, list):
        out.append("[")
        for value in node:
            _write(value, out)
            out.append(",")
        out.append("]")
    else:
        out.append(repr(node))


def source_items(
    text: str, filename: str = "<source>", tree: ast.Module | None = None
) -> list[str]:
    """The sorted hashes of a module's top-level items (see the module docstring)."""
    tree = tree if tree is not None else ast.parse(text, filename=filename)
    items = [_dump(node) for node in _body(tree.body)]
    items = [i for i in items if i != "Pass()"]
    return sorted(hashlib.sha256(i.encode()).hexdigest() for i in items)


def combine(items: Iterable[str]) -> str:
    """The fingerprint of a multiset of item hashes (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(items)).encode()).hexdigest()[:20]


# ---- modules ------------------------------------------------------------------------------------


def read_source(path: Path) -> str:
    """The text of a module file (one place, so a test can hand in an edited copy)."""
    return path.read_text(encoding="utf-8")


@functools.cache
def module_file(name: str) -> Path | None:
    """The .py file of module ``name``, or None (not found, or not Python source). Only the
    top-level package is looked up through the import system; nothing is imported."""
    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not spec.submodule_search_locations:  # a plain module
        origin = spec.origin or ""
        return Path(origin) if not rest and origin.endswith(".py") else None
    for location in spec.submodule_search_locations:
        base = Path(location).joinpath(*rest)
        for candidate in ((base.with_suffix(".py"),) if rest else ()) + (base / "__init__.py",):
            if candidate.is_file():
                return candidate
    return None


@functools.cache
def _parsed(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(item hashes, imported module names) of module ``name``; empty when it has no source."""
    path = module_file(name)
    if path is None:
        return (), ()
    text = read_source(path)
    tree = ast.parse(text, filename=str(path))
    is_package = path.name == "__init__.py"
    imported: list[str] = []
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            if base:  # ``from P import m``: module P.m, or a name of P itself
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    imported.append(sub if module_file(sub) is not None else base)
    return tuple(source_items(text, str(path), tree)), tuple(dict.fromkeys(imported))


def _statements(tree: ast.Module) -> list[ast.AST]:
    """Every statement of ``tree``, nested ones included (imports are statements: no need to
    visit expressions)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        out.append(node)
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            value = getattr(node, name, None)
            if isinstance(value, list):
                todo += [v for v in value if isinstance(v, ast.AST)]
    return out


def closure(
    roots: Iterable[str], packages: frozenset[str], exclude: frozenset[str] = frozenset()
) -> set[str]:
    """``roots`` and every module of ``packages`` (top-level names) they import, directly or not
    (less ``exclude``, which are neither counted nor followed)."""
    seen: set[str] = set()
    todo = [r for r in roots if r not in exclude]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        for imported in _parsed(name)[1]:
            top = imported.split(".")[0]
            if top in packages and imported not in seen and imported not in exclude:
                todo.append(imported)
    return seen


@functools.cache
def core_modules() -> frozenset[str]:
    """The harbench modules that compute results (see ``ROOTS`` and ``NOT_RESULTS``)."""
    roots = [*ROOTS]
    measure = module_file("harbench.measure")
    if measure is not None:  # every measurement module, imported on use or not
        roots += [f"harbench.measure.{p.stem}" for p in measure.parent.glob("*.py")
                  if p.stem != "__init__"]
    return frozenset(closure(roots, frozenset({"harbench"}), NOT_RESULTS))


@functools.cache
def plugin_packages() -> frozenset[str]:
    """The top-level packages that provide harbench plugins (entry points of the group
    ``harbench``): a plugin's code is followed into any of them, so code moved from one plugin
    package to another stays counted."""
    from importlib.metadata import entry_points

    return frozenset(ep.value.split(":")[0].split(".")[0] for ep in entry_points(group="harbench"))


@functools.cache
def plugin_modules(module: str) -> frozenset[str]:
    """A plugin's module and the modules of plugin packages it imports, directly or not."""
    return frozenset(closure([module], plugin_packages() | {module.split(".")[0]}))


@functools.cache
def fingerprint(modules: frozenset[str]) -> str:
    """The code fingerprint of a set of modules."""
    return combine(item for name in modules for item in _parsed(name)[0])


def core() -> str:
    """The fingerprint of harbench's result-computing core."""
    return fingerprint(core_modules())


def plugins_of(spec: Mapping[str, Any] | Any) -> list[tuple[str, str]]:
    """(kind, name) of every plugin a run (RunSpec or its canonical dict) uses."""
    get = spec.get if isinstance(spec, Mapping) else lambda k, d=None: getattr(spec, k, d)
    used = [("datasets", get("dataset")), ("models", get("model")), ("methods", get("method"))]
    protocol = get("protocol") or {}
    while isinstance(protocol, Mapping):
        used.append(("protocols", protocol.get("name", "loso")))
        protocol = protocol.get("inner")
    pretrain = get("pretrain") or {}
    if isinstance(pretrain, Mapping) and isinstance(pretrain.get("datasets"), list):
        used += [("datasets", d) for d in pretrain["datasets"]]
    return [(kind, name) for kind, name in used if isinstance(name, str) and name]


def for_spec(spec: Mapping[str, Any] | Any) -> str:
    """The code fingerprint of one run: the core and the modules of the plugins it uses."""
    from harbench import plugins
    from harbench.contracts import HarbenchError

    modules = set(core_modules())
    for kind, name in plugins_of(spec):
        try:
            module = type(plugins.get(kind, name)).__module__
        except HarbenchError:  # an unknown plugin: the run cannot execute; nothing to add
            continue
        modules |= plugin_modules(module)
    return fingerprint(frozenset(modules))


def for_spec_or_empty(spec: Mapping[str, Any] | Any) -> str:
    """:func:`for_spec`, or "" when the source cannot be read or parsed (e.g. edited into a
    syntax error while a suite runs): such a run is stored as of unknown code, hence stale."""
    try:
        return for_spec(spec)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ""


def clear() -> None:
    """Forget every computed fingerprint (after the code on disk changed, in tests)."""
    for cached in (module_file, _parsed, core_modules, plugin_packages, plugin_modules,
                   fingerprint):
        cached.cache_clear()
