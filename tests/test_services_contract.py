"""Contract (issue 20): application services under ``surveys/services`` import no Flask
(nor Werkzeug or a Flask extension), no blueprint or other web/CLI module, and never
commit; in all of ``surveys/`` only ``surveys/db.py`` commits (the request's boundary,
the CLI command's boundary and ``own_transaction``, the one named helper for a
transaction of its own). The web, CLI and job adapters write no audit entry themselves:
each action's service does. Checked in the source, every statement at any depth."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted((ROOT / "surveys" / "services").rglob("*.py"))
EVERY_MODULE = sorted((ROOT / "surveys").rglob("*.py"))
WEB_ROOTS = {"flask", "werkzeug", "flask_login", "flask_wtf", "wtforms"}
# the web and command-line adapters: services are called by them, never the other way
ADAPTER_PACKAGES = (
    "surveys.admin",
    "surveys.staff",
    "surveys.questionnaire",
    "surveys.enrol",
    "surveys.auth",
    "surveys.reports",
    "surveys.web",
    "surveys.security",
    "surveys.cli",
    "surveys.cli_translations",
    "surveys.national.routes",
    "surveys.national.cli",
    "surveys.worker",
)


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defines_blueprint(name: str) -> bool:
    found = _module_file(name)
    return found is not None and "Blueprint(" in found.read_text(encoding="utf-8")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, at any depth; ``from surveys import x``
    counts as ``surveys.x``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def forbidden(name: str) -> bool:
    if name.split(".")[0] in WEB_ROOTS or name.startswith("flask_"):
        return True
    if any(name == p or name.startswith(p + ".") for p in ADAPTER_PACKAGES):
        return True
    return name.startswith("surveys.") and _defines_blueprint(name)


def commits_in(path: Path) -> list[int]:
    """Lines that call ``<anything>.commit(`` (a session's, a connection's, a helper's)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_the_services_package_has_its_modules():
    names = {p.stem for p in SERVICES}
    assert {"actor", "audit", "rounds", "users", "kiosk", "imports", "publications"} <= names


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_a_service_imports_no_flask_and_no_adapter(path):
    bad = [f"{path.name}:{line} {name}" for line, name in imports_of(path) if forbidden(name)]
    assert bad == []


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_a_service_never_commits(path):
    assert commits_in(path) == []


def test_only_the_db_module_commits():
    """The issue's `grep -rn "\\.commit(" surveys/`: db.py and nothing else."""
    committing = {str(p.relative_to(ROOT)) for p in EVERY_MODULE if commits_in(p)}
    assert committing == {"surveys/db.py"}


AUDIT_WRITERS = {"record", "audit"}  # surveys.services.audit.record, services.actor.audit
WRITER_MODULES = ("surveys.services.audit", "surveys.services.actor")


def _adapter_files() -> list[Path]:
    found: set[Path] = set()
    for name in ADAPTER_PACKAGES:
        module = _module_file(name)
        if module is None:
            continue
        if module.name == "__init__.py":
            found.update(module.parent.rglob("*.py"))
        else:
            found.add(module)
    return sorted(found)


def audit_writes_in(path: Path) -> list[int]:
    """Lines that call ``record(`` or ``audit(`` (by name or as ``x.record(``), or import
    those functions under any name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in AUDIT_WRITERS:
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module in WRITER_MODULES:
            lines += [node.lineno for a in node.names if a.name in AUDIT_WRITERS]
    return sorted(lines)


def test_the_adapters_are_found():
    names = {str(p.relative_to(ROOT)) for p in _adapter_files()}
    assert {
        "surveys/auth/routes.py",
        "surveys/staff/routes.py",
        "surveys/cli.py",
        "surveys/cli_translations.py",
        "surveys/national/cli.py",
        "surveys/national/routes.py",
    } <= names


@pytest.mark.parametrize("path", _adapter_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_an_adapter_writes_no_audit_entry_itself(path):
    """Routes, CLI commands and the job process call the action's service, which audits."""
    assert audit_writes_in(path) == []


def test_the_checker_sees_what_it_must(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(s):\n"
        "    from flask import g\n"
        "    from surveys.staff import routes\n"
        "    from surveys import worker\n"
        "    import surveys.comments_like\n"
        "    s.commit()\n"
        "    s.flush()\n"
    )
    names = [n for _, n in imports_of(sample) if forbidden(n)]
    assert names == ["flask", "flask.g", "surveys.staff", "surveys.staff.routes", "surveys.worker"]
    assert commits_in(sample) == [6]
    writer = tmp_path / "writer.py"
    writer.write_text(
        "from surveys.services.audit import record as write\n"
        "from surveys.services import audit\n"
        "def f(s, a):\n"
        "    write(s, user_email='x', action='y')\n"
        "    audit.record(s, user_email='x', action='y')\n"
        "    a.audit(s)\n"
        "    record_typed(s)\n"
        "    audit.entries(s)\n"
    )
    assert audit_writes_in(writer) == [1, 5, 6]
    assert forbidden("surveys.reports.comments")  # a blueprint module, also by its source
    assert _defines_blueprint("surveys.national.routes")
    assert not forbidden("surveys.db")
    assert not forbidden("surveys.models")


# --- one refusal for every command ---------------------------------------------------------

# cli_types.py holds the one refusal (CliError, "Fel: …", exit code 1); console.py is the
# entry point that shows it (and a settings error, before any command runs).
REFUSAL_HOMES = {"surveys/cli_types.py", "surveys/console.py"}


def own_cli_refusals_in(path: Path) -> list[int]:
    """Lines that raise SystemExit or write a text starting "Fel:" (a refusal of their
    own beside ``cli_types.CliError``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if getattr(raised, "id", None) == "SystemExit":
                lines.append(node.lineno)
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and str(first.value).startswith("Fel:"):
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and str(node.value).startswith("Fel:"):
            lines.append(node.lineno)
    return sorted(set(lines))


@pytest.mark.parametrize("path", EVERY_MODULE, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_refuse_only_through_cli_error(path):
    """Every command's refusal is ``surveys.cli_types.CliError`` (the national commands and
    the instance-mode guard had a second "Fel: …" plus ``SystemExit(1)`` of their own)."""
    if str(path.relative_to(ROOT)) in REFUSAL_HOMES:
        return
    assert own_cli_refusals_in(path) == []


def test_the_refusal_checker_sees_what_it_must(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(m):\n"
        "    click.echo(f'Fel: {m}', err=True)\n"
        "    raise SystemExit(1)\n"
        "def g():\n"
        "    print('Fel: inget')\n"
        "    raise SystemExit\n"
        "def h(m):\n"
        "    raise CliError(m)  # 'Fel:' only inside a text is fine\n"
    )
    assert own_cli_refusals_in(sample) == [2, 3, 5, 6]


# --- views are not libraries -----------------------------------------------------------


def _module_name(path: Path, root: Path = ROOT) -> str:
    """``surveys/staff/routes.py`` -> ``surveys.staff.routes``."""
    return ".".join(path.relative_to(root).with_suffix("").parts)


BLUEPRINT_MODULES = sorted(
    name for name in map(_module_name, EVERY_MODULE) if _defines_blueprint(name)
)


def blueprint_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The blueprint modules (views) a file imports, other than itself."""
    own = _module_name(path, root)
    return sorted(
        {name for _, name in imports_of(path) if name in BLUEPRINT_MODULES and name != own}
    )


def test_the_blueprint_modules_are_found():
    assert {
        "surveys.questionnaire.routes",
        "surveys.enrol.routes",
        "surveys.staff.routes",
        "surveys.reports.routes",
        "surveys.reports.comments",
        "surveys.admin.publish",
        "surveys.admin.translations",
    } <= set(BLUEPRINT_MODULES)


@pytest.mark.parametrize("path", EVERY_MODULE, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_create_app_imports_a_blueprint_module(path):
    """A view module is registered by ``create_app`` and used by nobody else: what pages
    share lives in a module of its own (``questionnaire/flow.py``, ``staff/common.py``,
    ``admin/previews.py``), and no blueprint registers another."""
    if path == ROOT / "surveys" / "__init__.py":
        return
    assert blueprint_imports(path) == []


def private_imports(path: Path) -> list[str]:
    """Names starting with ``_`` imported from another module of the project."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return sorted(
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.level or (node.module or "").split(".")[0] in {"surveys", "indicators"})
        for alias in node.names
        if alias.name.startswith("_") and alias.name != "__version__"
    )


@pytest.mark.parametrize(
    "path",
    EVERY_MODULE + sorted((ROOT / "indicators").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_imports_anothers_private_name(path):
    assert private_imports(path) == []


def test_the_view_checks_see_what_they_must(tmp_path):
    package = tmp_path / "surveys" / "enrol"
    package.mkdir(parents=True)
    sample = package / "routes.py"
    sample.write_text(
        "from surveys.questionnaire.routes import _questionnaire, count_refusal\n"
        "from surveys.questionnaire import flow\n"
        "def f():\n"
        "    from surveys.staff import routes as staff\n"
    )
    found = blueprint_imports(sample, root=tmp_path)
    assert found == ["surveys.questionnaire.routes", "surveys.staff.routes"]
    assert private_imports(sample) == ["surveys.questionnaire.routes._questionnaire"]


def test_the_respondent_blueprints_hold_no_staff_page(app):
    """Respondents' blueprints (the questionnaire, enrolled tablets) hold only their
    pages; staff pages (``/personal``, ``/admin``) are in the staff and admin blueprints."""
    respondent = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in {"questionnaire", "enrol"}
    ]
    assert "/s/<code>" in respondent
    assert "/surfplatta/<token>" in respondent
    assert [r for r in respondent if r.startswith(("/personal", "/admin"))] == []
    staff = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert staff["/personal/omgang/<round_id>/surfplatta"] == "staff.kiosk_settings"


def test_every_audited_action_has_a_swedish_description_on_the_log_page():
    """The log page shows ACTIONS' description of an entry, else its raw key: every
    action a module writes is described, whether it is named by a literal, a module
    constant, a conditional between two names or an f-string's fixed start."""
    from surveys.services.audit import ACTIONS

    undescribed = set()
    for path in EVERY_MODULE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _string_constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            names = [a for a in node.args[2:3] if called == "audit"]
            names += [
                k.value
                for k in node.keywords
                if called in ("record", "AuditEntry") and k.arg == "action"
            ]
            for name in names:
                for action, prefix in _action_names(name, constants):
                    described = (
                        any(key.startswith(action) for key in ACTIONS)
                        if prefix
                        else action in ACTIONS
                    )
                    if not described:
                        undescribed.add(f"{path.relative_to(ROOT)}: {action}")
    assert undescribed == set()


def test_the_action_finder_sees_every_way_a_module_names_an_action():
    """The check above is only as good as its reading of the code."""
    tree = ast.parse(
        'LATE = "a.late"\n'
        'audit(db, actor, "a.literal", "")\n'
        "audit(db, actor, LATE, '')\n"
        'audit(db, actor, "a.yes" if x else "a.no", "")\n'
        'audit(db, actor, f"a.{what}", "")\n'
        "AuditEntry(at=now, action=LATE)\n"
    )
    constants = _string_constants(tree)
    found = [
        pair
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for name in (node.args[2:3] or [k.value for k in node.keywords if k.arg == "action"])
        for pair in _action_names(name, constants)
    ]
    assert sorted(found) == sorted(
        [
            ("a.literal", False),
            ("a.late", False),
            ("a.yes", False),
            ("a.no", False),
            ("a.", True),
            ("a.late", False),
        ]
    )


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """A module's top-level ``NAME = "text"`` assignments."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }


def _action_names(node: ast.expr, constants: dict[str, str]) -> list[tuple[str, bool]]:
    """The action names an expression can give: (name, True when only a prefix)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, False)]
    if isinstance(node, ast.Name) and node.id in constants:
        return [(constants[node.id], False)]
    if isinstance(node, ast.IfExp):
        return _action_names(node.body, constants) + _action_names(node.orelse, constants)
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [(first.value, True)]
    return []  # a variable passed through (its caller names it)


# --- tests share their helpers through conftest.py ---------------------------------------

TESTS = ROOT / "tests"


def top_level_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_no_test_module_has_its_own_copy_of_a_conftest_helper():
    """A helper conftest.py shares (``scalar``, ``round_row``, ``production_config`` …) is
    imported from there, not written again in a test module."""
    shared = {n for n in top_level_functions(TESTS / "conftest.py") if not n.startswith("_")}
    copies = sorted(
        f"{path.name}: {name}"
        for path in TESTS.glob("test_*.py")
        for name in top_level_functions(path) & shared
    )
    assert copies == []
