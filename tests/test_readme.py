"""The README's claims that drift when code moves: the tree under "Struktur", the
settings table and the commands table are held to the code here.

A module added without a line in the tree, a setting without a row, or a command
without a row fails one of these tests (each says which is missing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from surveys.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DESCRIPTION_COLUMN = 25  # the tree's descriptions start here; names stand left of it

# Settings the README explains elsewhere than in a row of their own: the instance folder
# (SURVEYS_INSTANCE's row) and the mail folder (the MAIL_* row).
DERIVED_SETTINGS = {"INSTANCE_DIR", "MAIL_FOLDER"}


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _tree_lines() -> list[str]:
    section = _section("Struktur")
    block = section[section.index("```\n") + 4 :]
    return block[: block.index("```")].splitlines()


def listed_paths() -> set[str]:
    """Every path the tree names, folders ending in "/", relative to the repository."""
    folders: list[tuple[int, str]] = []  # (indentation, folder) of the lines above
    listed = set()
    for line in _tree_lines():
        indent = len(line) - len(line.lstrip())
        if not line.strip() or indent >= DESCRIPTION_COLUMN - 1:
            continue  # a description carried over from the line above
        names = re.split(r"\s{2,}", line.strip())[0]
        while folders and folders[-1][0] >= indent:
            folders.pop()
        parent = "".join(folder for _, folder in folders)
        for name in (n.strip() for n in names.split(",")):
            listed.add(parent + name)
        if names.endswith("/") and "," not in names:
            folders.append((indent, names))
    return listed


def modules_that_need_a_line() -> set[str]:
    """The Python modules of the application, the pure package, the benchmarks and the
    tests' shared helpers; ``__init__.py`` files with nothing but a docstring, test
    modules (one per area, described together) and migration revisions (named by their
    own rule) excepted."""
    found = set()
    for folder in ("surveys", "indicators", "bench", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            empty_init = path.name == "__init__.py" and _only_a_docstring(path)
            if empty_init or relative.startswith("migrations/versions/"):
                continue
            found.add(relative)
    for path in (ROOT / "tests").glob("*.py"):
        if not path.name.startswith("test_") and path.name != "__init__.py":
            found.add(path.relative_to(ROOT).as_posix())
    return found


def _only_a_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) for s in body)


def test_every_path_in_the_tree_exists():
    missing = sorted(p for p in listed_paths() if not (ROOT / p.rstrip("/")).exists())
    assert not missing, f"README's tree names paths that are not there: {missing}"


def test_every_module_has_a_line_in_the_tree():
    listed = listed_paths()
    unlisted = sorted(m for m in modules_that_need_a_line() if m not in listed)
    assert not unlisted, f"modules without a line under Struktur in README.md: {unlisted}"


def _table_names(section: str) -> set[str]:
    """The `NAMES` in the first column of a table's rows (a cell may name several)."""
    names = set()
    for line in _section(section).splitlines():
        if line.startswith("| `"):
            first_cell = line.split(" | ")[0]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)", first_cell))
    return names


def environment_variables_read() -> set[str]:
    """Every setting of the typed settings, and the variables gunicorn.conf.py reads."""
    gunicorn_conf = (ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    read_by_gunicorn = set(re.findall(r"os\.environ\.get\(\s*['\"]([A-Z_]+)['\"]", gunicorn_conf))
    read_by_config = {"SURVEYS_INSTANCE"}  # config.instance_dir, before the settings
    return (set(Settings.model_fields) - DERIVED_SETTINGS) | read_by_gunicorn | read_by_config


def test_every_setting_has_a_row_in_the_configuration_table():
    rows = _table_names("Konfiguration")
    missing = sorted(environment_variables_read() - rows)
    assert not missing, f"settings without a row under Konfiguration in README.md: {missing}"
    unknown = sorted(rows - environment_variables_read())
    assert not unknown, f"rows under Konfiguration for settings nobody reads: {unknown}"


def _leaf_commands(group: click.Group, prefix: str, context: click.Context) -> list[str]:
    commands = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            commands += _leaf_commands(command, f"{prefix} {name}", context)
        elif command is not None:
            commands.append(f"{prefix} {name}")
    return commands


def test_every_command_has_a_row_in_the_commands_table(app):
    """Each of the application's own commands is named in the table (Flask's ``run``,
    ``shell`` and ``routes`` are Flask's and documented there)."""
    table = _section("Kommandon (`surveys`)")
    commands = _leaf_commands(app.cli, "surveys", click.Context(app.cli))
    assert "surveys db upgrade" in commands  # the walk reaches groups' commands
    assert "surveys national publish" in commands  # and the NNS instance's
    missing = [c for c in commands if not _named_in(c, table)]
    assert not missing, f"commands without a row under Kommandon in README.md: {missing}"


def _named_in(command: str, table: str) -> bool:
    """`surveys users edit` is named by `surveys users edit …` or by a row that lists
    the group's commands as `surveys users list|edit|…`."""
    *group, name = command.split()
    pattern = re.escape(" ".join(group)) + r" (?:[\w-]+\\?\|)*" + re.escape(name) + r"\b"
    return re.search(pattern, table) is not None
