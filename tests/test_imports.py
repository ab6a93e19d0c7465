"""The package's import graph has no cycle, lazy (function-level) imports included.

The graph is read from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` anywhere in a module counts (module level, inside functions and methods),
except those under ``if TYPE_CHECKING:``, which never run.

Conventions (the ones that make the graph mean "who needs whom"):

* ``import kernelreg.a.b`` and ``from kernelreg.a import b`` where ``kernelreg/a/b`` is a module
  or package are edges to ``kernelreg.a.b``;
* ``from kernelreg.a import name`` of anything else is an edge to the package ``kernelreg.a``
  (its ``__init__``), which is where the name is looked up;
* the implicit import of parent packages that Python performs (``kernelreg.a`` runs
  ``kernelreg/__init__`` first) is *not* an edge: otherwise every submodule would depend on the
  package ``__init__`` that re-exports it, and every package would be a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "kernelreg"



def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module and package under kernelreg/."""
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.AST]:
    """Every import node that can run (everything except the bodies of ``if TYPE_CHECKING:``)."""
    found: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Edges module -> modules it imports, within kernelreg."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = []
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in modules else base)
            for target in targets:
                while target and target not in modules:  # import kernelreg.a.b.C -> the module that exists
                    target = target.rpartition(".")[0]
                if target.startswith("kernelreg") and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in graph:
        if v not in index:
            strongconnect(v)
    return found


def test_the_graph_reader_sees_lazy_and_relative_imports(tmp_path):
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import kernelreg.never\n"
        "def f():\n    from kernelreg import lazy\n"
        "class A:\n    def g(self):\n        import kernelreg.deep.module\n"
    )
    names = [getattr(n, "module", None) or n.names[0].name for n in _imports(tree)]
    assert names == ["typing", "kernelreg", "kernelreg.deep.module"]


def test_solvers_package_has_no_import_cycle():
    graph = import_graph()
    assert "kernelreg.solvers._certificate" in graph["kernelreg.solvers.exact"]
    solver_cycles = {c for c in cycles(graph) if any(m.startswith("kernelreg.solvers") for m in c)}
    assert solver_cycles == set(), [sorted(c) for c in solver_cycles]


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    found = cycles(graph)
    assert found == set(), [sorted(c) for c in found]


def test_importing_the_solvers_does_not_import_cvxpy():
    import subprocess
    import sys

    code = "import sys, kernelreg.solvers; print('cvxpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
