"""Migration files are named in chain order: ``NNN_<revision>_<slug>.py`` (issue 20).

NNN is the file's place in the chain (001 has no parent, each next one's ``down_revision``
is the one before), so ``ls migrations/versions`` reads in the order Alembic runs them.
The revision ids themselves never change (deployed databases have them in alembic_version).
A new migration takes the next NNN and the current head as its ``down_revision``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from surveys import paths

VERSIONS = paths.MIGRATIONS / "versions"
NAME = re.compile(r"(?P<place>\d{3})_(?P<revision>[0-9a-z]+)_[0-9a-z_]+\.py")


def declared(path: Path) -> tuple[str, str | None]:
    """The ``revision`` and ``down_revision`` a migration file assigns (read, not run)."""
    values = {}
    for node in ast.parse(path.read_text("utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(node.value)
    return values["revision"], values["down_revision"]


def order_problems(folder: Path) -> list[str]:
    """Every way the file names and the chain disagree (empty when they agree)."""
    files = sorted(folder.glob("*.py"))
    problems = []
    previous = None
    for place, path in enumerate(files, start=1):
        revision, down = declared(path)
        match = NAME.fullmatch(path.name)
        if match is None or int(match["place"]) != place or match["revision"] != revision:
            problems.append(f"{path.name}: borde heta {place:03d}_{revision}_<namn>.py")
        if down != previous:
            problems.append(f"{path.name}: down_revision {down!r}, väntade {previous!r}")
        previous = revision
    return problems


def test_file_order_is_chain_order():
    assert len(list(VERSIONS.glob("*.py"))) >= 16
    assert order_problems(VERSIONS) == []


def test_one_head_and_alembic_agrees():
    config = Config()
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    heads = script.get_heads()
    assert len(heads) == 1
    files = sorted(VERSIONS.glob("*.py"))
    assert heads == [declared(files[-1])[0]]
    # Alembic's own walk from the head down to the base, in file order reversed
    walked = [s.revision for s in script.walk_revisions()]
    assert walked == [declared(p)[0] for p in reversed(files)]


def test_the_check_sees_a_misnamed_or_branched_migration(tmp_path):
    """The old names (revision first: 0004ops sorted before its parent 0007) and a second
    migration on the same parent are both reported."""
    (tmp_path / "0003_a.py").write_text('revision = "0003"\ndown_revision = None\n')
    (tmp_path / "0004ops_b.py").write_text('revision = "0004ops"\ndown_revision = "0007"\n')
    (tmp_path / "0007_c.py").write_text('revision = "0007"\ndown_revision = "0003"\n')
    assert order_problems(tmp_path) == [
        "0003_a.py: borde heta 001_0003_<namn>.py",
        "0004ops_b.py: borde heta 002_0004ops_<namn>.py",
        "0004ops_b.py: down_revision '0007', väntade '0003'",
        "0007_c.py: borde heta 003_0007_<namn>.py",
        "0007_c.py: down_revision '0003', väntade '0004ops'",
    ]
    for path in tmp_path.iterdir():
        path.unlink()
    (tmp_path / "001_0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (tmp_path / "002_0002_b.py").write_text('revision = "0002"\ndown_revision = "0001"\n')
    (tmp_path / "003_0003_c.py").write_text('revision = "0003"\ndown_revision = "0001"\n')
    assert order_problems(tmp_path) == ["003_0003_c.py: down_revision '0001', väntade '0002'"]
