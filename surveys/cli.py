"""The ``surveys`` console command (DESIGN.md contracts). Messages are Swedish."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlmodel import select

from surveys import ROOT, db


class CliError(click.ClickException):
    """A refusal printed as "Fel: …" (Swedish) with exit code 1."""

    def show(self, file=None) -> None:
        click.echo(f"Fel: {self.format_message()}", err=True, file=file)


db_cli = AppGroup("db", help="Databasen: migreringar.")
instrument_cli = AppGroup("instrument", help="Instrumentet (frågekatalogen).")
users_cli = AppGroup("users", help="Användare.")
rounds_cli = AppGroup("rounds", help="Mätomgångar.")
import_cli = AppGroup("import", help="Importera filer.")
export_cli = AppGroup("export", help="Exportera filer.")


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return config


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrera databasen till senaste versionen."""
    from alembic import command

    command.upgrade(_alembic_config(), revision)
    click.echo("Databasen är uppdaterad.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrera databasen bakåt (t.ex. till base)."""
    from alembic import command

    command.downgrade(_alembic_config(), revision)
    click.echo(f"Databasen är migrerad till {revision}.")


@instrument_cli.command("load")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Katalogfil (standard: surveys/instrument/nns.yaml).",
)
def instrument_load(path: str | None) -> None:
    """Läs in instrumentet; kan köras om efter en ändring."""
    from surveys.services.catalogue import DEFAULT_FILE, load_instrument_file

    try:
        summary = load_instrument_file(db.session(), path=path or DEFAULT_FILE)
    except (ValueError, KeyError) as exc:
        raise CliError(f"Instrumentfilen är felaktig: {exc}") from None
    click.echo(
        f"Instrumentet är inläst: {summary['questions']} frågor, {summary['changed']} ändringar."
    )


@users_cli.command("create")
@click.option("--email", required=True, help="E-postadress (inloggningsnamn).")
@click.option(
    "--role",
    type=click.Choice(["administratör", "personal", "läsare"]),
    default="administratör",
    show_default=True,
)
@click.option("--name", default="")
@click.option("--insats", "insatser", multiple=True, help="Insats (för personal); flera går.")
@click.password_option("--password", help="Lösenord (minst 10 tecken).")
def users_create(
    email: str, role: str, name: str, insatser: tuple[str, ...], password: str
) -> None:
    """Skapa en användare, t.ex. den första administratören."""
    from surveys.auth import hash_password
    from surveys.models import User, UserIntervention
    from surveys.services.rounds import intervention_by_name

    session = db.session()
    email = email.strip().lower()
    if "@" not in email:
        raise CliError("Ange en giltig e-postadress.")
    if len(password) < 10:
        raise CliError("Lösenordet måste ha minst 10 tecken.")
    if session.exec(select(User).where(User.email == email)).first():
        raise CliError(f"Användaren {email} finns redan.")
    interventions = []
    for name_ in insatser:
        found = intervention_by_name(session, name_)
        if found is None:
            raise CliError(f"Okänd insats {name_!r}.")
        interventions.append(found)
    if role == "personal" and not interventions:
        raise CliError("Personal måste knytas till minst en insats (--insats).")
    user = User(email=email, name=name, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    for intervention in interventions:
        session.add(UserIntervention(user_id=user.id, intervention_id=intervention.id))
    session.commit()
    click.echo(f"Användaren {email} ({role}) är skapad.")


@rounds_cli.command("create")
@click.option("--questionnaire", required=True, help="Enkätens nyckel, t.ex. deltagare_avslut.")
@click.option("--year", type=int, required=True)
@click.option("--insats", default=None, help="Insatsens namn (skapas om den saknas).")
@click.option(
    "--mode",
    type=click.Choice(["open_link", "kiosk", "single_use"]),
    default="open_link",
    show_default=True,
)
@click.option("--expected", type=click.IntRange(min=0), default=None)
@click.option("--open/--draft", "open_now", default=True, show_default=True)
def rounds_create(
    questionnaire: str,
    year: int,
    insats: str | None,
    mode: str,
    expected: int | None,
    open_now: bool,
) -> None:
    """Skapa en mätomgång och skriv ut dess länk."""
    from surveys.services import rounds as ops
    from surveys.services.catalogue import instrument_from_db

    session = db.session()
    instrument = instrument_from_db(session)
    if questionnaire not in instrument.questionnaire_keys:
        raise CliError(
            f"Okänd enkät {questionnaire!r}. Giltiga: {', '.join(instrument.questionnaire_keys)}."
        )
    intervention = ops.intervention_by_name(session, insats, create=True) if insats else None
    round_ = ops.create_round(
        session,
        questionnaire=questionnaire,
        year=year,
        mode=mode,
        intervention_id=intervention.id if intervention else None,
        expected=expected,
    )
    if open_now:
        ops.open_round(session, round_)
    session.commit()
    click.echo(f"Mätomgång {round_.id} skapad: {_link(round_)}")


def _link(round_) -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    prefix = "/k/" if round_.mode == "kiosk" else "/s/"
    return "(engångslänkar)" if round_.mode == "single_use" else base + prefix + round_.code


@rounds_cli.command("list")
def rounds_list() -> None:
    """Lista mätomgångar med öppen länk."""
    from surveys.models import Intervention, Round
    from surveys.services.rounds import STATE_LABELS

    session = db.session()
    names = {i.id: i.name for i in session.exec(select(Intervention)).all()}
    for r in session.exec(select(Round).order_by(Round.year, Round.questionnaire_key)).all():
        click.echo(
            f"{r.id}  {r.year}  {r.questionnaire_key:20} "
            f"{names.get(r.intervention_id, 'hela förbundet'):20} "
            f"{STATE_LABELS[r.state]:10} {_link(r)}"
        )


def _read(path: str) -> tuple[bytes, str]:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"Filen {path} finns inte.")
    return file.read_bytes(), file.name


def _run_import(kind: str, path: str) -> None:
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.figures import import_history, import_national
    from surveys.services.files import import_answers
    from surveys.services.tables import FileError

    importer = {"answers": import_answers, "history": import_history, "national": import_national}[
        kind
    ]
    data, name = _read(path)
    session = db.session()
    try:
        count = importer(session, instrument_from_db(session), data=data, filename=name)
    except FileError as exc:
        for error in exc.errors:
            click.echo(error, err=True)
        raise CliError("Ingenting har importerats.") from None
    click.echo(f"{count} rader importerade från {name}.")


@import_cli.command("answers")
@click.argument("path")
def import_answers_cmd(path: str) -> None:
    """Importera enkätsvar (CSV eller XLSX), allt eller inget."""
    _run_import("answers", path)


@import_cli.command("history")
@click.argument("path")
def import_history_cmd(path: str) -> None:
    """Importera historiska resultat från tidigare årsrapporter."""
    _run_import("history", path)


@import_cli.command("national")
@click.argument("path")
def import_national_cmd(path: str) -> None:
    """Importera nationella resultat (Riket)."""
    _run_import("national", path)


@export_cli.command("answers")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("--year", type=int, default=None)
@click.option("--output", type=click.Path(dir_okay=False), default=None)
def export_answers_cmd(fmt: str, year: int | None, output: str | None) -> None:
    """Exportera alla enkätsvar i svarsfilens format."""
    from surveys.services.files import export_answers

    _write(export_answers(db.session(), fmt=fmt, year=year), output, binary=fmt == "xlsx")


def _write(data: bytes, output: str | None, *, binary: bool) -> None:
    if output:
        Path(output).write_bytes(data)
        click.echo(f"Skrev {output}.", err=True)
    elif binary and sys.stdout.isatty():
        raise CliError("Binärt format: ange --output FIL.")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@click.command("report")
@with_appcontext
@click.option("--year", type=int, required=True)
@click.option("--insats", default=None, help="Bara en insats (namn).")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx", "html", "pdf", "docx"]), default="csv"
)
@click.option("--output", type=click.Path(dir_okay=False), default=None)
def report_cmd(year: int, insats: str | None, fmt: str, output: str | None) -> None:
    """Skriv rapporten "Indikatorerna ÅR" som CSV, XLSX, HTML, PDF eller Word (DOCX)."""

    from surveys.models import Intervention
    from surveys.reports.build import render_printable
    from surveys.reports.routes import render_download
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.reporting import report_data
    from surveys.services.rounds import intervention_by_name

    session = db.session()
    intervention = None
    if insats:
        intervention = intervention_by_name(session, insats)
        if intervention is None:
            known = [i.name for i in session.exec(select(Intervention)).all()]
            raise CliError(
                f"Okänd insats {insats!r}. Kända insatser: {', '.join(known) or 'inga'}."
            )
    data = report_data(
        session,
        instrument_from_db(session),
        default_min_cell=current_app.config["MIN_CELL"],
        intervention=intervention,
    )
    if not data.has_year(year):
        raise CliError(
            f"Det finns inga svar för {year}. År med svar: "
            f"{', '.join(map(str, data.years())) or 'inga'}."
        )
    if fmt == "html":
        with current_app.test_request_context():
            body = render_printable(data, year=year, standalone=True).encode("utf-8")
    else:
        body = render_download(data, year=year, fmt=fmt)
    _write(body, output, binary=fmt in ("xlsx", "pdf", "docx"))


@click.command("demo")
@with_appcontext
@click.option("--force", is_flag=True, help="Fyll på även om databasen inte är tom.")
def demo_cmd(force: bool) -> None:
    """Fyll en tom databas med ett demoförbund (2021–2024, alla sex grupper)."""
    from surveys.demo import demo_hint, seed_demo

    summary = seed_demo(db.session(), force=force)
    if summary is None:
        click.echo("Databasen innehåller redan data; demodata läggs inte till.")
        summary = demo_hint(db.session())
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    click.echo(summary.replace(": /", f": {base}/"))


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_cmd(path: str) -> None:
    """Säkerhetskopiera databasen till FIL (SQLite: online-backup; PostgreSQL: pg_dump)."""
    from surveys.services.maintenance import MaintenanceError, backup

    try:
        backup(db.engine(), Path(path))
    except (MaintenanceError, OSError) as exc:
        raise CliError(f"Säkerhetskopieringen misslyckades: {exc}") from None
    click.echo(f"Säkerhetskopian är sparad i {path}.")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Fråga inte om bekräftelse.")
@with_appcontext
def restore_cmd(path: str, yes: bool) -> None:
    """Återställ databasen från en säkerhetskopia (ersätter allt innehåll)."""
    from surveys.services.maintenance import MaintenanceError, restore

    if not yes:
        click.confirm("Allt nuvarande innehåll ersätts av säkerhetskopian. Fortsätta?", abort=True)
    try:
        restore(db.engine(), Path(path))
    except MaintenanceError as exc:
        raise CliError(str(exc)) from None
    click.echo("Databasen är återställd.")


@click.command("purge")
@click.option("--before", type=int, required=True, help="Ta bort svar från år före detta.")
@click.option("--yes", is_flag=True, help="Fråga inte om bekräftelse.")
@with_appcontext
def purge_cmd(before: int, yes: bool) -> None:
    """Gallra enkätsvar äldre än ett år; resultaten sparas som historik."""
    from datetime import date

    from surveys.services.catalogue import instrument_from_db
    from surveys.services.maintenance import purge
    from surveys.services.reporting import min_cell

    if before > date.today().year:
        raise CliError("Innevarande års svar kan inte gallras.")
    if not yes:
        click.confirm(
            f"Alla enskilda enkätsvar från före {before} tas bort (resultaten "
            "sparas som historik). Fortsätta?",
            abort=True,
        )
    session = db.session()
    summary = purge(
        session,
        instrument_from_db(session),
        before=before,
        min_cell=min_cell(session, current_app.config["MIN_CELL"]),
    )
    click.echo(
        f"{summary['responses']} enkäter borttagna; {summary['history_rows']} "
        "resultatrader sparade som historik."
    )


def init_app(app: Flask) -> None:
    for command in (
        db_cli,
        instrument_cli,
        users_cli,
        rounds_cli,
        import_cli,
        export_cli,
        report_cmd,
        demo_cmd,
        backup_cmd,
        restore_cmd,
        purge_cmd,
    ):
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the ``surveys`` console script."""
    from surveys import create_app

    cli = FlaskGroup(
        create_app=lambda: create_app(),
        add_default_commands=True,
        help="Indikatorenkäter – kommandon för drift och rapport.",
    )
    cli.main(prog_name="surveys")
