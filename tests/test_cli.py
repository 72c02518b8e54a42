"""The `surveys` console command: rounds, users, demo, migrations, and clear Swedish refusals."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from surveys import create_app, db
from surveys.cli_types import schema_out_of_date
from surveys.db import MISSING_DATABASE
from tests import console
from tests.conftest import SECRET, count_rows, load_demo


def test_rounds_create_and_list_print_the_open_link(app, runner):
    result = runner.invoke(
        args=[
            "rounds",
            "create",
            "--questionnaire",
            "deltagare_avslut",
            "--year",
            "2025",
            "--insats",
            "Steget",
            "--expected",
            "40",
        ]
    )
    assert result.exit_code == 0, result.output
    link = result.output.strip().split(": ")[-1]
    assert link.startswith("http://localhost/s/")
    listing = runner.invoke(args=["rounds", "list"]).output
    assert "deltagare_avslut" in listing
    assert "Steget" in listing
    assert link in listing
    assert "Öppen" in listing
    bad = runner.invoke(args=["rounds", "create", "--questionnaire", "okand", "--year", "2025"])
    assert bad.exit_code != 0
    assert "Okänd enkät" in bad.output
    assert count_rows(app, "round") == 1


def test_users_create_refuses_bad_input(app, runner):
    ok = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Chef@Example.invalid",
            "--password",
            "ett-langt-losenord",
        ]
    )
    assert ok.exit_code == 0
    assert "chef@example.invalid" in ok.output
    again = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "chef@example.invalid",
            "--password",
            "ett-langt-losenord",
        ]
    )
    assert again.exit_code != 0
    assert "finns redan" in again.output
    short = runner.invoke(
        args=["users", "create", "--email", "b@example.invalid", "--password", "kort"]
    )
    assert "minst 10 tecken" in short.output
    staff = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "p@example.invalid",
            "--role",
            "personal",
            "--password",
            "ett-langt-losenord",
        ]
    )
    assert "minst en insats" in staff.output
    assert count_rows(app, "app_user") == 1


# PostgreSQL: the demo runs there in test_disclosure_demo (it must succeed, and its
# publications are attacked); what this test adds is the command's own text and rules.
@pytest.mark.one_database
def test_demo_fills_an_empty_database_once(app, runner):
    # the real command on the empty database (on SQLite once per test run: load_demo)
    first_output = load_demo(runner)
    assert "Logga in: http://localhost/logga-in" in first_output
    responses = count_rows(app, "response")
    assert 800 < responses < 1000  # ~184–257 a year like the seed, 4 years
    for year in (2021, 2022, 2023, 2024):
        report = runner.invoke(args=["report", "--year", str(year)])
        assert report.exit_code == 0
        assert ",styrelse," in report.output
        assert ",remittent," in report.output
    # its accounts are made as the administrator's page makes them, and logged as "demo"
    with app.app_context():
        made = db.session().execute(
            text("SELECT user_email, detail FROM audit_entry WHERE action = 'användare.skapa'")
        )
        assert sorted(made.all()) == [
            ("demo", "admin@demo.invalid (Administratör)"),
            ("demo", "personal@demo.invalid (Personal)"),
        ]
    second = runner.invoke(args=["demo"])
    assert "läggs inte till" in second.output
    assert count_rows(app, "response") == responses


def test_migrations_go_down_and_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    engine = create_engine(url)
    assert "response" in inspect(engine).get_table_names()
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    assert inspect(engine).get_table_names() == ["alembic_version"]
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert "answer" in inspect(engine).get_table_names()
    engine.dispose()
    app.extensions["engine"].dispose()


def test_migrations_match_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from surveys.models import metadata

    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_console_script_is_installed_and_speaks_swedish(tmp_path):
    """The installed script itself, and the forked runs the other tests use
    (tests/console.py) answer as it does: the same output, error and exit code."""
    surveys = Path(sys.executable).with_name("surveys")
    real = {}
    for args in (("report", "--help"), ("export", "nns", "--year")):
        real[args] = subprocess.run(
            [str(surveys), *args],
            capture_output=True,
            text=True,
            env={"SURVEYS_INSTANCE": str(tmp_path), "PATH": "/usr/bin:/bin"},
            timeout=60,
            check=False,
        )
        forked = _surveys(tmp_path, *args)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            real[args].returncode,
            real[args].stdout,
            real[args].stderr,
        )
    helped, refused = real.values()
    assert helped.returncode == 0
    assert "Indikatorerna" in helped.stdout
    assert refused.returncode == 2
    assert "Valet '--year' behöver ett värde." in refused.stderr


def test_migrations_down_and_up_on_the_test_database(app, runner):
    """Runs on SQLite and, with TEST_DB=postgresql, on PostgreSQL."""
    engine = app.extensions["engine"]
    assert runner.invoke(args=["db", "downgrade", "0001"]).exit_code == 0
    columns = {c["name"] for c in inspect(engine).get_columns("instrument_info")}
    assert "checksum" not in columns
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["instrument", "load"]).exit_code == 0
    assert "checksum" in {c["name"] for c in inspect(engine).get_columns("instrument_info")}
    assert {"response", "answer", "link_token"} <= set(inspect(engine).get_table_names())


@pytest.mark.parametrize(
    ("args", "swedish"),
    [
        (["nosuch"], "Det finns inget kommando 'nosuch'."),
        (["export", "nns"], "'--year' saknas."),
        (["rounds", "--yeer", "2024"], "Det finns inget val '--yeer'."),
        (
            ["export", "nns", "--year"],
            "Valet '--year' behöver ett värde.\nSe 'surveys export nns --help' för hjälp.",
        ),
        (["export", "answers", "--format", "rtf"], "--format': ska vara ett av csv, xlsx."),
        (["db", "upgrade", "extra"], "Migreringen 'extra' finns inte."),
        (["db", "upgrade", ""], "Migreringen '' finns inte."),  # an AssertionError before
        (["worker", "--poll", "nan"], "--poll ska vara ett tal mellan 0,05 och 60"),  # a spin
        (["export", "answers", "--output", ""], "--output är tomt."),  # was the terminal
        (["import", "answers", "/dev/null"], "/dev/null är ingen vanlig fil"),  # "finns inte"
        (["users", "edit", "a@example.invalid"], "Ange vad som ska ändras: --name, --role"),
        (
            ["restore", "/dev/zero", "--yes"],
            "/dev/zero är ingen vanlig fil (en enhet eller ett rör). Ange säkerhetskopians fil.",
        ),
        (["national", "export", "--year", "2024", "--output", " "], "--output är tomt."),
        (
            ["translations", "template", "--language", "ar", "--output", "mall.txt"],
            "--output ska sluta på .csv eller .xlsx (nu .txt).",
        ),
        (["db", "upgrade", "head+1"], "Migreringen 'head+1' finns inte."),
        (["db", "downgrade", "tab"], "Migreringen 'tab' finns inte."),  # Alembic: tablet01
    ],
)
def test_console_script_refuses_bad_arguments_in_swedish(tmp_path, args, swedish):
    """Click's own usage errors (English through gettext) and Alembic's unknown revision
    (a traceback before) reach the user as one Swedish line and a help hint."""
    result = _surveys(tmp_path, *args)
    assert result.returncode in (1, 2)
    assert swedish in result.stderr
    assert "Traceback" not in result.stderr
    for english in ("Error:", "No such", "Missing", "Try '", "Invalid value", "is not"):
        assert english not in result.stderr


def _surveys(tmp_path, *args: str, stdout=subprocess.PIPE, cwd=None, **env: str):
    """The console script in a fresh instance folder (SQLite unless told), each run a
    process of its own forked from one that imported it (tests/console.py)."""
    return console.run(
        list(args),
        env={"SURVEYS_INSTANCE": str(tmp_path), "PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        stdout=stdout,
    )


def test_an_unusable_database_or_a_full_output_is_one_swedish_line(tmp_path):
    """No database schema, no database there, a URL that is none, standard output on a
    full disk: a Swedish line and exit 1 or 2, never a traceback, never the password."""
    fresh = f"sqlite:///{tmp_path / 'ny.sqlite'}"
    (tmp_path / "tom.sqlite").touch()  # a database without the service's tables
    cases = [
        (
            {"DATABASE_URL": f"sqlite:///{tmp_path / 'tom.sqlite'}"},
            "Fel: Databasen saknar tjänstens tabeller. Kör surveys db upgrade",
        ),
        (
            {"DATABASE_URL": f"sqlite:///{tmp_path / 'saknas' / 'x.sqlite'}"},
            "Fel: Databasfilen i DATABASE_URL kunde inte öppnas.",
        ),
        (
            {"DATABASE_URL": "mysql://anna:hemligt@db/enkat"},
            "Fel: DATABASE_URL är ingen databasadress som tjänsten kan använda.",
        ),
        ({"DATABASE_URL": "inte en adress"}, "ingen databasadress"),
    ]
    for env, swedish in cases:
        result = _surveys(tmp_path, "users", "list", **env)
        assert result.returncode in (1, 2), result.stderr
        assert swedish in result.stderr
        assert "Traceback" not in result.stderr
        assert "hemligt" not in result.stderr
    assert _surveys(tmp_path, "db", "upgrade", DATABASE_URL=fresh).returncode == 0
    for args, swedish in (
        (["export", "answers"], "Fel: Utskriften kunde inte skrivas: disken är full."),
        (["rounds", "--help"], "Fel: Utskriften kunde inte skrivas: disken är full."),
    ):
        with open("/dev/full", "w") as full:
            result = _surveys(tmp_path, *args, stdout=full, DATABASE_URL=fresh)
        assert result.returncode == 1
        assert swedish in result.stderr
        assert "Traceback" not in result.stderr


def test_a_very_long_value_said_back_is_cut_and_known_insatser_are_in_order(
    app, runner, make_round
):
    for insats in ("Östra", "Ärlan", "Bron"):
        make_round("personal", insats=insats)
    result = runner.invoke(args=["report", "--year", "2023", "--insats", "y" * 100_000])
    assert result.exit_code == 1
    assert f"Fel: Okänd insats '{'y' * 79}… Kända insatser: Bron, Ärlan, Östra." in result.output
    assert len(result.output) < 300


def test_questions_take_ja_and_nej_and_a_password_is_never_asked_without_a_terminal(
    app, runner, tmp_path
):
    """Click's own question wanted y/n and answered "j" with English "Error: invalid
    input"; its password prompt warned in English that the password may be echoed."""
    backup = tmp_path / "kopia.db"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    asked = runner.invoke(args=["restore", str(backup)], input="kanske\nnej\n")
    assert asked.exit_code == 1
    assert "[j/N]" in asked.output
    assert "Svara ja eller nej." in asked.output
    assert "återställd" not in asked.output
    assert "Error" not in asked.output
    restored = runner.invoke(args=["restore", str(backup)], input="ja\n")
    assert restored.exit_code == 0, restored.output
    assert "Databasen är återställd." in restored.output
    no_terminal = runner.invoke(args=["users", "create", "--email", "a@b.se"])
    assert no_terminal.exit_code == 1
    assert "Ange lösenordet med --password" in no_terminal.output
    assert "Warning" not in no_terminal.output
    assert count_rows(app, "app_user") == 0


def test_before_the_instrument_is_loaded_commands_and_pages_say_so(tmp_path, app, admin_client):
    """Tables made, `instrument load` not run yet: a command that needs the instrument
    said "LookupError" in a traceback, a staff page gave the 500 page. Now one Swedish
    line naming the command to run, and a 503 page saying the same to staff only."""
    fresh = f"sqlite:///{tmp_path / 'ny.sqlite'}"
    assert _surveys(tmp_path, "db", "upgrade", DATABASE_URL=fresh).returncode == 0
    wav = tmp_path / "fraga.wav"
    wav.write_bytes(b"RIFF" + (2000).to_bytes(4, "little") + b"WAVE" + bytes(2000))
    result = _surveys(
        tmp_path, "audio", "load", str(wav), "--version", "deltagare_avslut.1.v1",
        DATABASE_URL=fresh,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "Fel: Instrumentet är inte inläst. Kör: surveys instrument load\n"
    assert not (tmp_path / "ljud").exists()
    with app.app_context():  # the test database's instrument, put back afterwards
        row = dict(db.session().execute(text("SELECT * FROM instrument_info")).mappings().one())
        db.session().execute(text("DELETE FROM instrument_info"))
        db.session().commit()
    try:
        page = admin_client.get("/admin/nns/2023")
    finally:
        with app.app_context():
            names, values = ", ".join(row), ", ".join(f":{name}" for name in row)
            put_back = text(f"INSERT INTO instrument_info ({names}) VALUES ({values})")
            db.session().execute(put_back, row)
            db.session().commit()
    assert page.status_code == 503
    assert "Instrumentet är inte inläst. Kör: surveys instrument load" in page.text
    assert "Traceback" not in page.text


def test_a_path_too_long_for_the_system_is_refused_in_one_short_line(tmp_path):
    """A 5,000-character path: "namnet är för långt", the path cut, not said back whole
    (a mistyped command of that length likewise)."""
    long = str(tmp_path / ("a" * 5000))
    for args in (["import", "answers", long], ["import", long]):
        result = _surveys(tmp_path, *args)
        assert result.returncode in (1, 2), args
        assert "Traceback" not in result.stderr
        assert len(result.stderr) < 400, (args, result.stderr[:400])
        assert "aaaa…" in result.stderr


def test_a_key_whose_audit_entry_fails_is_not_written(tmp_path):
    """`keys create --ersatt` on a database that cannot take the audit entry replaced the
    key, printed it as made, then said "Fel": the old key was gone. Now the new key takes
    its place only when its entry is committed (a new one likewise is not left behind)."""
    from surveys.services.signing import create_key, key_path

    (tmp_path / "ny.sqlite").touch()  # a database without tables: the audit entry fails
    fresh = f"sqlite:///{tmp_path / 'ny.sqlite'}"
    create_key(tmp_path)
    before = key_path(tmp_path).read_bytes()
    result = _surveys(tmp_path, "keys", "create", "--ersatt", DATABASE_URL=fresh)
    assert result.returncode == 1
    assert "Fel: Databasen saknar tjänstens tabeller" in result.stderr
    assert "Nyckelparet är skapat" not in result.stdout
    assert key_path(tmp_path).read_bytes() == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no hidden key
    empty = tmp_path / "tom"
    empty.mkdir()
    result = _surveys(empty, "keys", "create", DATABASE_URL=fresh)
    assert result.returncode == 1
    assert "Nyckelparet är skapat" not in result.stdout
    assert [p.name for p in empty.iterdir() if "nyckel" in p.name] == []


def test_a_relative_instance_folder_is_taken_from_the_current_folder(tmp_path):
    """`SURVEYS_INSTANCE=instance/x surveys …` (as the README writes it) was a traceback
    from Flask ("must be absolute"), and an empty one too. Relative: from the current
    folder; empty: one Swedish line."""
    from surveys.config import ConfigError, read_settings

    for empty in ("", "  "):
        with pytest.raises(ConfigError, match="SURVEYS_INSTANCE är tom."):
            read_settings({"SURVEYS_INSTANCE": empty})
    result = _surveys(tmp_path, "db", "upgrade", cwd=tmp_path, SURVEYS_INSTANCE="rel/inst")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rel" / "inst" / "indikatorenkater.sqlite").is_file()


def test_a_backup_of_no_database_is_refused_not_an_empty_file(tmp_path):
    """`backup` before `db upgrade` said "sparad" and wrote an empty database that
    `restore` refuses; a path the system refuses said "[Errno 36] File name too long"."""
    fresh = f"sqlite:///{tmp_path / 'ny.sqlite'}"
    target = tmp_path / "kopia.sqlite"
    result = _surveys(tmp_path, "backup", str(target), DATABASE_URL=fresh)
    assert result.returncode == 1
    assert "Fel: Säkerhetskopieringen misslyckades: databasen saknar tjänstens tabeller" in (
        result.stderr
    )
    assert not target.exists()
    assert sorted(path.name for path in tmp_path.glob("ny.sqlite*")) == []  # none made
    assert _surveys(tmp_path, "db", "upgrade", DATABASE_URL=fresh).returncode == 0
    result = _surveys(tmp_path, "backup", str(tmp_path / ("k" * 300)), DATABASE_URL=fresh)
    assert result.returncode == 1
    assert result.stderr == "Fel: Säkerhetskopieringen misslyckades: namnet är för långt.\n"


def test_a_command_on_a_missing_database_makes_no_file(tmp_path):
    """Opening a missing SQLite file used to create it: `users list` before `db upgrade`
    said "Kör surveys db upgrade först" and left an empty database behind, at the end of
    a symlink too (a database path pointing at a volume). The service's engine opens
    only a file that is there; `db upgrade` creates it (the relative-folder test), and
    an empty file someone made is opened as it is (the "unusable database" test). A
    missing folder is SQLite's own "kunde inte öppnas" (a volume not mounted yet: the
    worker waits for it), a missing file in a folder ends the worker as no tables do."""
    volume = tmp_path / "volym"
    volume.mkdir()
    link = tmp_path / "lank.sqlite"
    link.symlink_to(volume / "riktig.sqlite")  # nothing there yet
    for path in (tmp_path / "ny.sqlite", link):
        result = _surveys(tmp_path, "users", "list", DATABASE_URL=f"sqlite:///{path}")
        assert result.returncode == 1, result.stderr
        assert result.stderr == (
            "Fel: Databasfilen i DATABASE_URL finns inte ännu. Kör surveys db upgrade först.\n"
        )
    assert sorted(path.name for path in tmp_path.glob("ny.sqlite*")) == []
    assert link.is_symlink()
    assert list(volume.iterdir()) == []
    missing = OperationalError("SELECT 1", {}, sqlite3.OperationalError(MISSING_DATABASE))
    assert schema_out_of_date(missing)


def test_a_files_long_values_are_cut_when_said_back(app, runner, tmp_path):
    """A 5,000-character cell, or 5,000 unknown columns, came back as lines of 5,000 and
    15,000 characters; each line of a file's problems is now at most a few sentences."""
    head = "year,questionnaire,insats,gender," + ",".join(f"q{i}" for i in range(1, 12))
    answers = "6" + "," * 10
    long_cell = tmp_path / "lang.csv"
    long_cell.write_text(f"{head}\n2023,{'x' * 5000},A,kvinna,{answers}\n", encoding="utf-8")
    many = tmp_path / "kolumner.csv"
    extra = ",".join(f"extra{i}" for i in range(5000))
    many.write_text(f"{head},{extra}\n2023,personal,A,,{answers}\n", encoding="utf-8")
    for path in (long_cell, many):
        result = runner.invoke(args=["import", "answers", str(path)])
        assert result.exit_code == 1
        lines = result.output.splitlines()
        assert lines[-1] == "Fel: Ingenting har importerats."
        assert max(len(line) for line in lines) <= 500, [len(line) for line in lines]
        assert any("…" in line for line in lines)
    with app.app_context():
        assert db.session().execute(text("SELECT COUNT(*) FROM response")).scalar_one() == 0


def test_flasks_options_that_cannot_serve_this_service_are_gone(tmp_path):
    """`-e FILE` always failed ("filen … finns inte" for a file that was there: it needs
    python-dotenv, not installed) and `--app` loads another application; both are gone,
    and the options left are explained in Swedish."""
    env_file = tmp_path / "miljo.env"
    env_file.write_text("MIN_CELL=5\n")
    result = _surveys(tmp_path, "-e", str(env_file), "users", "list")
    assert result.returncode == 2
    assert "Fel: Det finns inget val '-e'." in result.stderr
    helped = _surveys(tmp_path, "--help").stdout
    assert "--app" not in helped
    assert "--env-file" not in helped
    assert "Felsökningsläge" in helped
