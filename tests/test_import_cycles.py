"""No import cycles between the modules of ``surveys/`` and ``indicators/`` (issue 20).

Every import counts, also one inside a function (a deferred import hides a cycle, it does
not remove it); only imports under ``if TYPE_CHECKING:`` are left out (they never run).
``from surveys.reports import assets`` is an edge to the module ``surveys.reports.assets``;
``from surveys import create_app`` is an edge to the package ``surveys`` (its __init__).
Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``: those implicit parent
imports are not edges (as in import-linter), else every module would form one cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("surveys", "indicators")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for every module of the two packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
            if name == "TYPE_CHECKING":
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _absolute(module: str, files: dict[str, Path], node: ast.ImportFrom) -> str:
    """The absolute module a ``from … import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = files[module].name == "__init__.py"
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def imports_of(module: str, files: dict[str, Path]) -> set[str]:
    """The project modules ``module`` imports (anywhere in the file, at run time)."""
    tree = ast.parse(files[module].read_text("utf-8"))
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, files, node)
            for alias in node.names:  # a submodule if it is one, else a name of the module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in files else base)
    return {name for name in found if name in files and name != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    return {module: imports_of(module, files) for module in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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
    return sorted(found)


def test_no_import_cycles():
    graph = import_graph()
    assert {"surveys.db", "indicators.disclosure"} <= set(graph)  # both packages were read
    found = cycles(graph)
    described = [" / ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in found]
    assert not found, "importcykler:\n" + "\n".join(described)


def test_the_check_sees_a_deferred_import_cycle(tmp_path):
    """The check itself: a cycle closed by an import inside a function is found, one under
    TYPE_CHECKING is not, and ``from package import module`` is an edge to the module."""
    package = tmp_path / "surveys"
    (package / "reports").mkdir(parents=True)
    (tmp_path / "indicators").mkdir()
    (package / "__init__.py").write_text("")
    (package / "reports" / "__init__.py").write_text("")
    (package / "reports" / "build.py").write_text("from surveys.reports import assets\n")
    (package / "reports" / "assets.py").write_text(
        "def draw():\n    from surveys.reports.build import chart\n"
    )
    (package / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from surveys import other\n"
    )
    (package / "other.py").write_text("from . import typed\n")
    graph = import_graph(tmp_path)
    assert graph["surveys.reports.build"] == {"surveys.reports.assets"}
    assert graph["surveys.other"] == {"surveys.typed"}
    assert graph["surveys.typed"] == set()
    assert cycles(graph) == [["surveys.reports.assets", "surveys.reports.build"]]


def test_no_test_module_imports_another():
    """Test modules share helpers through ``conftest.py``, ``factories.py`` and the helper
    modules (``browsing.py``, ``disclosure_play.py``, ``attacker.py``, …), never by
    importing each other (a test module's fixtures would be shadowed where it is imported)."""
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            found += [f"{path.name}: {n}" for n in names if n.startswith("tests.test_")]
    assert found == []
