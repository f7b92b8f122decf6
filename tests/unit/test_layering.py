"""Guards of the layering (docs/architecture.md): each rule is a test that names what breaks it.

Imports are read from the source (every ``import``, also inside functions), so a lazy import
cannot hide an upward arrow or a cycle.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import cshyperv
from tests.conftest import ROOT

PACKAGE = ROOT / "cshyperv"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, tuple[Path, ast.Module]]:
    """Module name -> (path, syntax tree) for cshyperv, examples and benchmarks."""
    out = {}
    for folder in ("cshyperv", "examples", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = _module_name(path) if folder == "cshyperv" else f"{folder}.{path.stem}"
            out[name] = (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return out


def _imports(name: str, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the module, at any depth."""
    package = name if _sources()[name][0].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                if candidate in _sources():
                    yield node.lineno, candidate


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_private_imports_across_packages() -> None:
    """No ``from cshyperv.<pkg>._x import`` outside ``cshyperv.<pkg>`` (examples and benchmarks
    included): what another package needs is re-exported publicly."""
    found = []
    for name, (path, tree) in _sources().items():
        for line, module in _imports(name, tree):
            parts = module.split(".")
            private = [i for i, p in enumerate(parts) if p.startswith("_") and i >= 2]
            if parts[0] != "cshyperv" or not private:
                continue
            owner = ".".join(parts[: private[0]])
            if not (name == owner or name.startswith(owner + ".")):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not found, "\n".join(found)


PLUGINS = ("cshyperv.simulator", "cshyperv.hyperv")
ABOVE_PLUGINS = ("cshyperv.resource", "cshyperv.frontends", "cshyperv.operations", "cshyperv.dispatch")


def test_plugins_import_only_the_sdk_and_storage() -> None:
    """Plug-ins never import resource, frontends, operations or dispatch (nor the test kit)."""
    found = []
    for name, (path, tree) in _sources().items():
        if not name.startswith(PLUGINS):
            continue
        for line, module in _imports(name, tree):
            if module.startswith((*ABOVE_PLUGINS, "cshyperv.testing", "cshyperv.cli")):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not found, "\n".join(found)


CAPABILITY_OWNERS = ("cshyperv.hypervisor", "cshyperv.operations", "cshyperv.testing.conformance")


def test_capabilities_are_asked_only_by_the_sdk_operations_and_the_kit() -> None:
    """``Supports*`` protocols and ``.capabilities`` are used only by the SDK, the operations
    layer and the conformance kit: everything else asks :class:`Operations`."""
    supports = {n for n in importlib.import_module("cshyperv.hypervisor").__all__ if n.startswith("Supports")}
    found = []
    for name, (path, tree) in _sources().items():
        if not name.startswith("cshyperv.") or name.startswith(CAPABILITY_OWNERS):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in supports:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.id}")
            elif isinstance(node, ast.alias) and node.name in supports:
                found.append(f"{path.relative_to(ROOT)} imports {node.name}")
            elif isinstance(node, ast.Attribute) and node.attr == "capabilities":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads .capabilities")
    assert not found, "\n".join(found)


WIRE_MAY_IMPORT = ("cshyperv.wire", "cshyperv.errors", "cshyperv._redact")


def test_wire_imports_nothing_above_it() -> None:
    """The generic engine names no model package: not by import, not by string."""
    found = []
    modules = {n for n in _sources() if n.startswith("cshyperv.")}
    for name, (path, tree) in _sources().items():
        if not name.startswith("cshyperv.wire"):
            continue
        for line, module in _imports(name, tree):
            if module.startswith("cshyperv") and not module.startswith(WIRE_MAY_IMPORT) and module != "cshyperv":
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if text in modules and not text.startswith(WIRE_MAY_IMPORT):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} names module {text!r}")
    assert not found, "\n".join(found)


def _graph() -> dict[str, set[str]]:
    modules = {n for n in _sources() if n.startswith("cshyperv")}
    graph: dict[str, set[str]] = {n: set() for n in modules}
    for name in modules:
        for _, module in _imports(name, _sources()[name][1]):
            if module in modules and module != name:
                graph[name].add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative enough)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# Parent packages import their children by design (``__init__`` re-exports): an edge from a
# child to its own package's ``__init__`` is part of Python's import order, not a cycle.
def _without_parent_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {n: {t for t in targets if not n.startswith(t + ".")} for n, targets in graph.items()}


RUNNERS = {"cshyperv.hyperv.winrm", "cshyperv.hyperv.psrp"}


def test_no_import_cycles() -> None:
    """No module imports (at any depth) a module that imports it back."""
    cycles = [c for c in _cycles(_without_parent_edges(_graph())) if not set(c) <= RUNNERS]
    assert not cycles, cycles


def test_the_hyperv_runners_have_no_import_cycle() -> None:
    cycles = [c for c in _cycles(_without_parent_edges(_graph())) if set(c) & RUNNERS]
    assert not cycles, cycles


def test_the_cycle_guard_catches_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _modules() -> Iterator[object]:
    for info in pkgutil.walk_packages(cshyperv.__path__, "cshyperv."):
        try:
            yield importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue


def test_every_public_exception_is_in_the_error_tree() -> None:
    """Every exception class cshyperv defines lives in cshyperv.errors under CSHyperVError (only
    a module's private control-flow signals, ``_Name``, may live beside their one user)."""
    errors = importlib.import_module("cshyperv.errors")
    outside = []
    for module in _modules():
        for attr, value in vars(module).items():
            if not (isinstance(value, type) and issubclass(value, BaseException)):
                continue
            if value.__module__ != module.__name__:  # type: ignore[attr-defined]
                continue
            if module is errors:
                assert issubclass(value, errors.CSHyperVError), f"{attr} is outside the CSHyperVError tree"
            elif not attr.startswith("_"):
                outside.append(f"{module.__name__}.{attr}")  # type: ignore[attr-defined]
    assert not outside, outside
    for name in ("StorageURLError", "PowerShellError", "TranslationError", "ExtensionError"):
        assert issubclass(getattr(errors, name), errors.CSHyperVError)
