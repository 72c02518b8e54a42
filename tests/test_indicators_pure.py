"""Contract (DESIGN.md principle 5): ``indicators/`` imports no Flask, SQLAlchemy, SQLModel
or ``surveys`` — checked in the source (every import statement, also inside functions) and
at run time (a fresh interpreter importing every module loads none of them)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "indicators").rglob("*.py"))
FORBIDDEN_ROOTS = {"flask", "sqlalchemy", "sqlmodel", "surveys", "werkzeug", "alembic"}


def _forbidden(name: str) -> bool:
    root = name.split(".")[0]
    return root in FORBIDDEN_ROOTS or root.startswith("flask_")


def imported_names(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, at any depth (functions, try blocks)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            found += [(node.lineno, a.value) for a in node.args if isinstance(a, ast.Constant)]
    return found


def test_the_package_has_modules():
    assert {p.stem for p in MODULES} >= {"__init__", "instrument", "scoring", "report", "charts"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_forbidden_import_in_the_source(path):
    bad = [f"{path.name}:{line} {name}" for line, name in imported_names(path) if _forbidden(name)]
    assert bad == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from flask import g\n    import sqlmodel.main\n")
    assert [n for _, n in imported_names(sample) if _forbidden(n)] == ["flask", "sqlmodel.main"]


def test_importing_every_module_loads_no_web_or_database_library():
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in MODULES
    ]
    script = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "indicators.scoring" in loaded  # the import really ran
    assert "pandas" in loaded
    assert [m for m in loaded if _forbidden(m)] == []
