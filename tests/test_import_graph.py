"""The package graph of src/loadtrial is a DAG that follows the data (docs/architecture.md):
no module imports one that (through others) imports it back, and the lower layers never
import the upper ones. Read from the source with `ast`, imports inside functions included
(a cycle hidden in a function is still a cycle); `if TYPE_CHECKING:` blocks are left out."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "loadtrial"
# lower layers first; a module may import its own layer's modules and any layer below
LAYERS = (
    {"errors", "units", "clock", "findings", "abilities", "allow", "targets"},
    {"spec", "load", "observe", "testbed", "env"},
    {"store"},
    {"runner", "analysis"},
    {"whatif"},
    {"report"},
    {"commands", "cli"},
)


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, modules: set[str]) -> Iterator[str]:
    """Modules imported: `from pkg import sub` names the submodule, not pkg's __init__
    (a package's modules importing their siblings through it is no cycle)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []  # type-only imports are not edges at run time
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            plain = [a for a in node.names if f"{node.module}.{a.name}" not in modules]
            yield from (m for m in subs if m in modules)
            if plain:
                yield node.module


def _graph() -> dict[str, set[str]]:
    paths = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found = set(_imports(ast.parse(path.read_text(), str(path)), set(paths)))
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a list of modules, or [] (depth-first search with colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in colour and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return []

    for node in sorted(graph):
        if node not in colour and (found := visit(node)):
            return found
    return []


def _layer(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else ""
    found = [i for i, names in enumerate(LAYERS) if top in names]
    assert found, f"{module} is in no layer: add it to LAYERS here and to docs/architecture.md"
    return found[0]


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycle(_graph()) == []


def test_no_module_imports_a_higher_layer() -> None:
    up = sorted(
        f"{a} -> {b}"
        for a, targets in _graph().items()
        if a != "loadtrial"
        for b in targets
        if b != "loadtrial" and _layer(b) > _layer(a)
    )
    assert up == []


def test_the_check_sees_a_cycle() -> None:
    # the guard itself can fail: a planted cycle is found
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", ["loadtrial.findings", "loadtrial.store.model"])
def test_low_modules_are_seen(module: str) -> None:
    assert module in _graph()
