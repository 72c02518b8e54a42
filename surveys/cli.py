"""The ``surveys`` console command (DESIGN.md contracts). Messages are Swedish."""

from __future__ import annotations

import logging
import math
import sys
import threading
from datetime import timedelta
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as AlembicCommandError
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlmodel import col, select

from indicators.instrument import CatalogueError
from surveys import db, paths, worker
from surveys.cli_translations import audio_cli, translations_cli
from surveys.cli_types import (
    OUTPUT,
    YEAR,
    CliError,
    confirm_or_abort,
    file_problem,
    input_file,
    os_problem,
    password_or_ask,
    read_input,
    write_outputs,
)
from surveys.demo import demo_hint, seed_demo
from surveys.files.answers import export_answers
from surveys.files.reading import FileError
from surveys.links import public_base
from surveys.models import Intervention, Round, RoundMode, RoundState, User
from surveys.names import InvalidName, sort_key
from surveys.national import cli as national_cli
from surveys.national import riket_file
from surveys.reports.data import published_report
from surveys.reports.downloads import prepare_year, render_download
from surveys.reports.printable import render_printable
from surveys.services import imports, jobs, submissions, users
from surveys.services import rounds as ops
from surveys.services.actor import CLI
from surveys.services.catalogue import DEFAULT_FILE, instrument_from_db, load_instrument_file
from surveys.services.job_status import year_being_published
from surveys.services.maintenance import (
    MaintenanceError,
    backup,
    check_purge,
    forget_unreadable,
    known_revisions,
    purge,
    restore,
)
from surveys.services.publications import PublishError, publish, published_years
from surveys.services.rounds import MODE_LABELS, STATE_LABELS, intervention_by_name
from surveys.services.settings import threshold
from surveys.services.users import UserError

db_cli = AppGroup("db", help="Databasen: migreringar.")
instrument_cli = AppGroup("instrument", help="Instrumentet (frågekatalogen).")
users_cli = AppGroup("users", help="Användare.")
rounds_cli = AppGroup("rounds", help="Mätomgångar.")
import_cli = AppGroup("import", help="Importera filer.")
export_cli = AppGroup("export", help="Exportera filer.")


def _alembic_config():

    config = Config()
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return config


def _migrate(step, revision: str) -> None:
    """Run an Alembic upgrade/downgrade to 'head', 'base' or a revision id written out
    whole; anything else is refused in Swedish before any migration runs. (Alembic also
    takes a prefix of an id, "a" for "appx1", and steps such as "head+1": a one-letter
    typo in a downgrade dropped tables.)"""

    config = _alembic_config()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if revision not in {"head", "base", *known}:
        raise CliError(
            f"Migreringen {revision[:40]!r} finns inte. Ange 'head', 'base' eller "
            "ett helt revisions-id (raden 'revision = …' i en fil under migrations/versions/)."
        )
    try:
        step(config, revision)
    except AlembicCommandError:  # e.g. a database at a revision this code does not know
        raise CliError(
            f"Databasen kan inte migreras till {revision!r}: den är märkt med en migrering "
            "som den här versionen av tjänsten inte känner till."
        ) from None


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrera databasen till senaste versionen."""

    _migrate(alembic_command.upgrade, revision)
    click.echo("Databasen är uppdaterad.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrera databasen bakåt (t.ex. till base)."""

    _migrate(alembic_command.downgrade, revision)
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

    try:
        summary = load_instrument_file(db.session(), CLI, path=path or DEFAULT_FILE)
    except CatalogueError as exc:  # names the line, or the answered versions it would change
        raise CliError(str(exc)) from None
    click.echo(
        f"Instrumentet är inläst: {summary['questions']} frågor, {summary['changed']} ändringar."
    )


def _user_or_fail(session, email: str):

    user = users.by_email(session, email)
    if user is None:
        raise CliError(f"Det finns ingen användare {email}.")
    return user


def _users_call(action, *args, **kwargs):
    """Run a users-service call; its Swedish refusals become "Fel: …"."""

    try:
        return action(*args, **kwargs)
    except UserError as exc:
        raise CliError(" ".join(exc.errors)) from None


ROLES = ["läsare", "personal", "administratör"]


@users_cli.command("create")
@click.option("--email", required=True, help="E-postadress (inloggningsnamn).")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="läsare",
    show_default=True,
    help="Läsare ser bara rapporterna; den första användaren ska vara administratör.",
)
@click.option("--name", default="")
@click.option("--insats", "insatser", multiple=True, help="Insats (för personal); flera går.")
@click.option("--password", help="Lösenord (minst 10 tecken); frågas efter annars.")
def users_create(
    email: str, role: str, name: str, insatser: tuple[str, ...], password: str | None
) -> None:
    """Skapa en användare, t.ex. den första administratören (--role administratör)."""

    session = db.session()
    ids = _users_call(users.intervention_ids_by_name, session, insatser)
    user = _users_call(
        users.add_user,
        session,
        CLI,
        email=email,
        password=password_or_ask(password),
        name=name,
        role=role,
        intervention_ids=ids,
    )
    click.echo(f"Användaren {user.email} ({role}) är skapad.")


@users_cli.command("list")
def users_list() -> None:
    """Lista användare med roll, insatser och status."""

    session = db.session()
    names = {i.id: i.name for i in session.exec(select(Intervention)).all()}
    for user in session.exec(select(User).order_by(User.email)).all():
        insatser = ", ".join(names[i] for i in users.interventions_of(session, user))
        status = "aktiv" if user.active else "inaktiverad"
        click.echo(
            f"{user.email:40} {users.ROLE_LABELS[user.role]:14} {status:11} {insatser}".rstrip()
        )


@users_cli.command("edit")
@click.argument("email")
@click.option("--name", default=None, help="Nytt namn.")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Ny roll.")
@click.option("--insats", "insatser", multiple=True, help="Insatser (ersätter de gamla).")
def users_edit(email: str, name: str | None, role: str | None, insatser: tuple[str, ...]) -> None:
    """Ändra namn, roll eller insatser för en användare."""

    if name is None and role is None and not insatser:  # said "ändrad" having done nothing
        raise CliError("Ange vad som ska ändras: --name, --role eller --insats.")
    session = db.session()
    user = _user_or_fail(session, email)
    ids = _users_call(users.intervention_ids_by_name, session, insatser) if insatser else None
    _users_call(users.change_user, session, CLI, user, name=name, role=role, intervention_ids=ids)
    click.echo(f"Användaren {user.email} är ändrad ({user.role}).")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--insats", "insatser", multiple=True, help="Insatser (för personal).")
@click.pass_context
def users_set_role(ctx: click.Context, email: str, role: str, insatser: tuple[str, ...]) -> None:
    """Ge en användare en annan roll."""
    ctx.invoke(users_edit, email=email, name=None, role=role, insatser=insatser)


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Inaktivera en användare (loggas ut överallt, kan inte logga in)."""

    session = db.session()
    user = _user_or_fail(session, email)
    _users_call(users.change_active, session, CLI, user, False)
    click.echo(f"Användaren {user.email} är inaktiverad.")


@users_cli.command("activate")
@click.argument("email")
def users_activate(email: str) -> None:
    """Aktivera en inaktiverad användare igen."""

    session = db.session()
    user = _user_or_fail(session, email)
    _users_call(users.change_active, session, CLI, user, True)
    click.echo(f"Användaren {user.email} är aktiverad.")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password", help="Nytt lösenord (minst 10 tecken); frågas efter annars.")
def users_set_password(email: str, password: str | None) -> None:
    """Sätt ett nytt lösenord; användarens inloggningar avslutas."""

    session = db.session()
    user = _user_or_fail(session, email)
    _users_call(users.new_password, session, CLI, user, password_or_ask(password))
    click.echo(f"{user.email} har fått ett nytt lösenord.")


@rounds_cli.command("create")
@click.option("--questionnaire", required=True, help="Enkätens nyckel, t.ex. deltagare_avslut.")
@click.option("--year", type=YEAR, required=True)
@click.option("--insats", default=None, help="Insatsens namn (skapas om den saknas).")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in RoundMode]),
    default=RoundMode.open_link.value,
    show_default=True,
)
@click.option(
    "--expected", type=int, default=None, help=f"Förväntat antal svarande (0–{ops.MAX_EXPECTED})."
)
@click.option("--open/--draft", "open_now", default=True, show_default=True)
@click.option("--yes", is_flag=True, help="Skapa även om en likadan omgång redan pågår.")
def rounds_create(
    questionnaire: str,
    year: int,
    insats: str | None,
    mode: str,
    expected: int | None,
    open_now: bool,
    yes: bool,
) -> None:
    """Skapa en mätomgång (samma regler som på sidan) och skriv ut dess länk."""

    session = db.session()
    instrument = instrument_from_db(session)
    try:
        intervention = ops.insats_named(session, CLI, insats) if insats else None
    except InvalidName as exc:
        raise CliError(str(exc)) from None
    try:
        round_ = ops.start_round(
            session,
            actor=CLI,  # the operator, with the administrator's rights
            questionnaire_keys=instrument.questionnaire_keys,
            questionnaire=questionnaire,
            year=year,
            intervention_id=intervention.id if intervention else None,
            mode=mode,
            expected=expected,
            open_now=open_now,
            confirm_duplicate=yes,
        )
    except ops.RoundRuleError as exc:  # the service's Swedish messages (also --expected's)
        keys = instrument.questionnaire_keys
        valid = "" if questionnaire in keys else f" Giltiga enkäter: {', '.join(keys)}."
        raise CliError(" ".join(exc.errors) + valid) from None
    except ops.DuplicateRound:
        raise CliError(
            "Det finns redan en likadan mätomgång som inte är stängd. Lägg till --yes för att "
            "ändå skapa en till."
        ) from None
    click.echo(f"Mätomgång {round_.id} skapad: {_link(round_)}")


def _link(round_) -> str:

    prefix = "/k/" if round_.mode == RoundMode.kiosk.value else "/s/"
    if round_.mode == RoundMode.single_use.value:
        return "(engångslänkar)"
    return public_base() + prefix + round_.code


@rounds_cli.command("list")
def rounds_list() -> None:
    """Lista mätomgångar: enkät (namn och nyckel), insats, läge, status och länk."""

    session = db.session()
    names = {i.id: i.name for i in session.exec(select(Intervention)).all()}
    qn_names = {qn.key: qn.short_name for qn in instrument_from_db(session).questionnaires}
    query = ops.listed(select(Round), col(Round.year))
    for r in session.exec(query).all():
        questionnaire = f"{qn_names.get(r.questionnaire_key, '')} ({r.questionnaire_key})"
        click.echo(
            f"{r.id}  {r.year}  {questionnaire:42} "
            f"{names.get(r.intervention_id or '', 'Hela förbundet'):20} "
            f"{MODE_LABELS[r.mode]:24} {STATE_LABELS[r.state]:10} {_listed_link(r)}"
        )


def _listed_link(round_: Round) -> str:
    """A closed round takes no answers: no link to hand out (as on its page)."""
    if round_.state == RoundState.closed.value:
        return "(stängd – ingen länk)"
    return _link(round_)


def _run_import(kind: str, path: str, group: str | None = None) -> None:
    """Import a file; every refusal is a Swedish message and exit code 1, never a traceback."""

    session = db.session()
    name = Path(path).name
    try:
        if kind == "answers":
            input_file(path)
            # streamed from disk: memory does not grow with the file
            count: int = imports.import_answer_file(
                session, CLI, instrument_from_db(session), path=path, filename=name
            )
        else:
            data = read_input(path, imports.MAX_FILE + 1)
            signature = Path(path + ".sig")  # Riket: NNS's, when its public key is configured
            count = imports.import_figures(
                session,
                CLI,
                instrument_from_db(session),
                kind,
                data=data,
                filename=name,
                signature=read_input(signature, imports.MAX_SIGNATURE + 1)
                if signature.is_file()
                else None,
                group=group,
            )
    except FileError as exc:
        for error in exc.errors:
            click.echo(file_problem(error), err=True)
        raise CliError("Ingenting har importerats.") from None
    rows = "1 rad importerad" if count == 1 else f"{count} rader importerade"
    click.echo(f"{rows} från {name}.")
    for notice in riket_file.notices_after_import(session) if kind == "national" else ():
        click.echo(notice)
    blank = getattr(count, "blank_message", None)
    if blank is not None and blank():
        click.echo(blank())


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
@click.option(
    "--jamforelsegrupp",
    "group",
    default=None,
    help="Förbundets jämförelsegrupp i rikets fil (t.ex. storstad); tom text: ingen.",
)
def import_national_cmd(path: str, group: str | None) -> None:
    """Importera nationella resultat (Riket), med NNS jämförelsegrupper."""
    _run_import("national", path, group)


@export_cli.command("answers")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("--year", type=YEAR, default=None)
@click.option("--output", type=OUTPUT, default=None)
def export_answers_cmd(fmt: str, year: int | None, output: str | None) -> None:
    """Exportera alla enkätsvar i svarsfilens format."""

    _write(export_answers(db.session(), fmt=fmt, year=year), output, binary=fmt == "xlsx")


def _write(data: bytes, output: str | None, *, binary: bool) -> None:
    """To the file ``output`` (whole or not at all), else to standard output."""
    if output:
        write_outputs([(Path(output), data)])
        click.echo(f"Skrev {output}.", err=True)
    elif binary and sys.stdout.isatty():
        raise CliError("Binärt format: ange --output FIL.")
    else:  # a full disk or a closed pipe is said by the console (surveys/console.py)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@click.command("report")
@with_appcontext
@click.option("--year", type=YEAR, required=True)
@click.option("--insats", default=None, help="Bara en insats (namn).")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx", "html", "pdf", "docx"]), default="csv"
)
@click.option("--output", type=OUTPUT, default=None)
def report_cmd(year: int, insats: str | None, fmt: str, output: str | None) -> None:
    """Skriv "Indikatorerna ÅR" ur årets senaste publicering: CSV, XLSX, HTML, PDF eller DOCX."""

    session = db.session()
    found = intervention_by_name(session, insats) if insats else None
    if insats and found is None:
        known = sorted((i.name for i in session.exec(select(Intervention))), key=sort_key)
        raise CliError(f"Okänd insats {insats!r}. Kända insatser: {', '.join(known) or 'inga'}.")
    insats = found.name if found is not None else None  # as spelled in the publication
    data = published_report(session, instrument_from_db(session), year=year, scope=insats or "")
    if data is None:
        years = ", ".join(map(str, published_years(session))) or "inga"
        raise CliError(
            f"År {year} är inte publicerat. Publicerade år: {years}. "
            f"Publicera med: surveys publish --year {year}"
        )
    if not data.has_year(year):
        raise CliError(f"Publiceringen av {year} har inga resultat för {insats}.")
    if fmt == "html":
        with current_app.test_request_context():
            body = render_printable(data, year=year, standalone=True).encode("utf-8")
    else:
        body = render_download(data, year=year, fmt=fmt)
    _write(body, output, binary=fmt in ("xlsx", "pdf", "docx"))


def _no_by(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--by`` named who published in the audit log, in free text: refused now (the
    operator at the command line is logged as such, as by every other command)."""
    if value is not None:
        raise click.UsageError(
            f"Valet --by finns inte längre: publiceringen loggas som {CLI.email!r}, som "
            "alla kommandon. Ta bort --by. Ingenting har publicerats.",
            ctx,
        )


@click.command("publish")
@click.option("--year", type=YEAR, required=True, help="Året som ska publiceras.")
@click.option("--by", hidden=True, expose_value=False, callback=_no_by)
@click.option(
    "--diagram/--utan-diagram",
    default=False,
    show_default=True,
    help="Rita förbundets diagram och gör nedladdningarna direkt (tar en stund).",
)
@with_appcontext
def publish_cmd(year: int, diagram: bool) -> None:
    """Publicera ett år: räkna fram, skydda små grupper och frys resultaten.

    Loggas som kommandoraden (den som kör kommandon på servern)."""

    session = db.session()
    # as jobs.request_publish refuses a second job: not while the page's job for the
    # year waits for a worker or runs (it would publish the year once more after this)
    if year_being_published(session, year):
        raise CliError(
            f"År {year} håller redan på att publiceras (ett publiceringsjobb för året "
            "väntar eller pågår). Vänta tills det är klart. Ingenting har publicerats."
        )
    try:
        publication = publish(
            session,
            CLI,
            instrument_from_db(session),
            year=year,
            min_cell=threshold(session),
        )
    except PublishError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"{year} är publicerat (version {publication.version}).")
    if diagram:
        drawn, files = prepare_year(session, year=year)
        click.echo(f"{drawn} diagram är ritade och {files} nedladdningar gjorda.")


@click.command("worker")
@click.option("--once", is_flag=True, help="Gör de jobb som väntar och avsluta sedan.")
@click.option(
    "--poll",
    type=click.FloatRange(0.05, 60),
    default=worker.POLL_SECONDS,
    show_default=True,
    help="Sekunder mellan två tittar efter nya jobb.",
)
@click.option(
    "--lease",
    type=click.IntRange(2, 3600),
    default=int(jobs.LEASE.total_seconds()),
    show_default=True,
    help="Sekunder ett jobb hålls utan livstecken innan en annan process tar upp det igen.",
)
@click.option(
    "--priority",
    type=click.Choice(["idle", "normal"]),
    default="idle",
    show_default=True,
    help="idle: bara processortid som ingen förfrågan vill ha (SCHED_IDLE och nice); "
    "normal: för en dator som bara gör bakgrundsjobb.",
)
@with_appcontext
def worker_cmd(once: bool, poll: float, lease: int, priority: str) -> None:
    """Gör bakgrundsjobben (publicering, förhandsgranskning) med låg prioritet.

    Starta en eller flera, på samma eller andra datorer mot samma databas; `make run`
    startar en bredvid gunicorn."""

    if math.isnan(poll):  # click's FloatRange lets NaN through: every comparison is false
        raise CliError("--poll ska vara ett tal mellan 0,05 och 60 sekunder.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if priority == "idle":
        worker.lower_priority()
    worker.stop_on_signals()
    stop = threading.Event()
    app = db.application()
    try:
        done = worker.serve(
            app,
            stop=stop,
            poll=poll,
            lease=timedelta(seconds=lease),
            heartbeat=max(lease / 6, 0.2),
            once=once,
        )
    except KeyboardInterrupt:
        click.echo(
            "Bakgrundsprocessen avslutas; ett jobb som inte hann bli klart tas upp av "
            "nästa process."
        )
        return
    if once:
        click.echo(f"{done} jobb klara.")


@click.command("demo")
@with_appcontext
@click.option("--force", is_flag=True, help="Fyll på även om databasen inte är tom.")
@click.option(
    "--national",
    is_flag=True,
    help="Nationell demo: NNS instans med fem demoförbund (hela flödet).",
)
def demo_cmd(force: bool, national: bool) -> None:
    """Fyll en tom databas med ett demoförbund (2021–2024, alla sex grupper)."""

    if national or national_cli.is_national(current_app):
        national_cli.demo(national=national)
        return
    session = db.session()
    summary = seed_demo(session, force=force)
    if summary is None:
        click.echo("Databasen innehåller redan data; demodata läggs inte till.")
        summary = demo_hint(db.session())

    # PUBLIC_URL when set, else http://127.0.0.1:$PORT: the printed links open.
    click.echo(summary.replace(": /", f": {public_base()}/"))


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_cmd(path: str) -> None:
    """Säkerhetskopiera databasen till FIL (SQLite: online-backup; PostgreSQL: pg_dump)."""

    try:
        backup(db.engine(), Path(path))
        Path(path).chmod(0o600)  # answers inside: the owner's only, also over an old file
    except MaintenanceError as exc:
        raise CliError(f"Säkerhetskopieringen misslyckades: {exc}") from None
    except OSError as exc:  # the system's reason in Swedish, not "[Errno 36] File name…"
        raise CliError(f"Säkerhetskopieringen misslyckades: {os_problem(exc)}.") from None
    click.echo(f"Säkerhetskopian är sparad i {path}.")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Fråga inte om bekräftelse.")
@with_appcontext
def restore_cmd(path: str, yes: bool) -> None:
    """Återställ databasen från en säkerhetskopia (ersätter allt innehåll)."""

    if not yes:
        confirm_or_abort("Allt nuvarande innehåll ersätts av säkerhetskopian. Fortsätta?")
    try:
        revision = restore(db.engine(), Path(path), kind=current_app.config["SURVEYS_MODE"])
    except MaintenanceError as exc:
        raise CliError(str(exc)) from None
    if revision != known_revisions()[1]:
        click.echo(
            "Databasen är återställd. Säkerhetskopian är gjord av en äldre version av "
            "tjänsten: kör surveys db upgrade innan tjänsten startas."
        )
        return
    click.echo("Databasen är återställd.")


@click.command("purge")
@click.option("--before", type=YEAR, required=True, help="Ta bort svar från år före detta.")
@click.option("--yes", is_flag=True, help="Fråga inte om bekräftelse.")
@with_appcontext
def purge_cmd(before: int, yes: bool) -> None:
    """Gallra enkätsvar äldre än ett år; publicerade resultat finns kvar."""

    try:
        check_purge(before)  # the service's rule, asked before the question
    except MaintenanceError as exc:
        raise CliError(str(exc)) from None
    if not yes:
        confirm_or_abort(
            f"Alla enskilda enkätsvar från före {before} tas bort (de publicerade "
            "resultaten finns kvar). Fortsätta?"
        )
    try:
        summary = purge(db.session(), CLI, before=before)
    except MaintenanceError as exc:
        raise CliError(str(exc)) from None
    click.echo(
        f"{summary['responses']} enkäter från {summary['years']} år borttagna; "
        "de publicerade resultaten finns kvar."
    )


@click.command("pending")
@click.option(
    "--forget-unreadable",
    "forget",
    metavar="OMGÅNGS-ID",
    help="Ta bort mätomgångens väntande svar vars nyckel saknas (de går inte att läsa).",
)
@click.option("--yes", is_flag=True, help="Fråga inte om bekräftelse.")
@with_appcontext
def pending_cmd(forget: str | None, yes: bool) -> None:
    """Väntande svar per mätomgång, och hur många som inte går att läsa (nyckeln saknas)."""

    session = db.session()
    counts = submissions.unreadable(session)
    if forget is None:
        if not counts:
            click.echo("Inga svar väntar.")
        for round_id, (waiting, lost) in sorted(counts.items()):
            name = submissions.round_name(session, round_id)
            click.echo(f"{round_id} {name}: {waiting} väntar, {lost} går inte att läsa")
        return
    if counts.get(forget, (0, 0))[1] == 0:
        raise CliError(
            f"Mätomgången {forget} har inga väntande svar som saknar nyckel. Ingenting har ändrats."
        )
    lost = counts[forget][1]
    name = submissions.round_name(session, forget)
    if not yes:
        confirm_or_abort(
            f"{lost} väntande svar i mätomgången {name} går inte att läsa och tas bort. Fortsätta?"
        )
    removed = forget_unreadable(session, CLI, forget)
    click.echo(f"{removed} svar som inte gick att läsa är borttagna ur mätomgången {name}.")


def init_app(app: Flask) -> None:
    for command in (
        translations_cli,
        audio_cli,
        db_cli,
        instrument_cli,
        users_cli,
        rounds_cli,
        import_cli,
        export_cli,
        report_cmd,
        publish_cmd,
        worker_cmd,
        demo_cmd,
        backup_cmd,
        restore_cmd,
        purge_cmd,
        pending_cmd,
    ):
        app.cli.add_command(command)
    national_cli.init_app(
        app,
        export_group=export_cli,
        forbund_commands=(
            translations_cli,
            audio_cli,
            rounds_cli,
            import_cli,
            export_cli,
            report_cmd,
            publish_cmd,
            purge_cmd,
        ),
    )
    in_units_of_work(app.cli)


def in_units_of_work(group: click.Group) -> None:
    """Every command is one unit of work (``db.command_boundary``): what its services
    flushed is committed when it returns and rolled back when it fails or is aborted."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            in_units_of_work(command)
        elif command.callback is not None:
            command.callback = db.command_boundary(command.callback)
