"""Commands of issue 21: keys, the förbund's package for NNS, and the national instance.

``surveys keys create``                       the instance's Ed25519 key pair (both kinds)
``surveys export nns --year Å [--output F]``  the förbund's signed count package
``surveys national register|list|import|publish|export``  NNS's instance only
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from surveys import db
from surveys.cli_types import OUTPUT, YEAR, CliError, file_problem, read_input, write_outputs
from surveys.national import packages as national_packages
from surveys.national.demo import run as run_demo
from surveys.national.demo import run_beside
from surveys.national.mode import FORBUND, NATIONAL, is_national, only_in
from surveys.national.publish import NationalPublishError, publish_year
from surveys.national.riket_file import RiketFileError, default_filename, export_riket
from surveys.services import actor
from surveys.services.catalogue import instrument_from_db
from surveys.services.job_status import NATIONAL as NATIONAL_JOB
from surveys.services.job_status import active_job
from surveys.services.nns_package import PackageError, export_package
from surveys.services.settings import threshold
from surveys.services.signing import SigningError, load_private_key, new_key, sign

keys_cli = AppGroup("keys", help="Signeringsnyckel för paket till och från NNS.")
national_cli = AppGroup("national", help="Den nationella instansen (NNS).")


def _instance() -> Path:
    return Path(current_app.instance_path)


@keys_cli.command("create")
@click.option("--ersatt", "replace", is_flag=True, help="Ersätt en befintlig nyckel.")
def keys_create(replace: bool) -> None:
    """Skapa instansens nyckelpar; skriver ut den publika nyckeln att registrera hos NNS."""
    session = db.session()
    try:
        public = new_key(session, actor.CLI, _instance(), replace=replace)
    except SigningError as exc:
        raise CliError(str(exc)) from None

    def created() -> None:  # said once the key is in place: the command's commit
        click.echo(
            "Nyckelparet är skapat. Den privata nyckeln ligger i instansmappen (bara ägaren)."
        )
        click.echo(f"Publik nyckel (registreras hos NNS): {public}")

    db.after_commit(session, created)


@click.command("nns")
@click.option("--year", type=YEAR, required=True, help="Året som skickas.")
@click.option("--output", type=OUTPUT, default=None)
@with_appcontext
def export_nns(year: int, output: str | None) -> None:
    """Förbundets signerade paket med antal svar till NNS (zip)."""
    session = db.session()
    try:
        key = load_private_key(_instance())
        package = export_package(
            session, actor.CLI, instrument_from_db(session), year, sign_with=key
        )
    except (SigningError, PackageError) as exc:
        raise CliError(str(exc)) from None
    path = Path(output or package.filename)
    write_outputs([(path, package.zip_bytes)])  # a failure here rolls the audit entry back
    click.echo(f"Skrev {path} ({len(package.answers)} rader antal svar, signerat).")


@national_cli.command("register")
@click.option("--name", required=True, help="Förbundets namn.")
@click.option("--org", "org_number", required=True, help="Organisationsnummer.")
@click.option("--key", "public_key", required=True, help="Förbundets publika nyckel (base64).")
@click.option("--group", "group", default="", help="Jämförelsegrupp, t.ex. storstad.")
def national_register(name: str, org_number: str, public_key: str, group: str) -> None:
    """Registrera ett förbund (eller ändra ett registrerat, med samma organisationsnummer)."""
    session = db.session()
    try:
        member = national_packages.register_member(
            session,
            actor.CLI,
            name=name,
            org_number=org_number,
            public_key=public_key,
            comparison_group=group,
        )
    except national_packages.MemberError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"{member.name} ({member.org_number}) är registrerat.")


@national_cli.command("list")
def national_list() -> None:
    """Lista registrerade förbund och importerade paket."""
    session = db.session()
    for m in national_packages.members(session):
        click.echo(f"{m.org_number}  {m.name:40} {m.comparison_group or '-'}")
    for p, m in national_packages.packages(session):
        click.echo(f"{p.year}  {m.name:40} {p.questionnaires:6} enkäter  {p.filename}")


@national_cli.command("import")
@click.argument("paths", nargs=-1, required=True)
def national_import(paths: tuple[str, ...]) -> None:
    """Importera förbundens paket: allt eller inget, med kontroll av signatur och summor."""
    # at most a byte more than a package may be: the service refuses it, never read whole
    files = [(Path(p).name, read_input(p, national_packages.MAX_PACKAGE + 1)) for p in paths]
    session = db.session()
    try:
        lines = national_packages.import_packages(
            session, actor.CLI, instrument_from_db(session), files
        )
    except national_packages.PackageRefused as exc:
        session.rollback()
        for error in exc.errors:
            click.echo(file_problem(error), err=True)
        raise CliError("Ingenting har importerats.") from None
    for line in lines:
        click.echo(line)


@national_cli.command("publish")
@click.option("--year", type=YEAR, required=True)
def national_publish(year: int) -> None:
    """Publicera ett nationellt år: Riket, jämförelsegrupperna och varje förbund."""
    session = db.session()
    # as jobs.request_national_publish refuses a second job: not while the page's job
    # for the year waits for a worker or runs
    if active_job(session, year, kind=NATIONAL_JOB) is not None:
        raise CliError(
            f"Riket {year} håller redan på att publiceras (ett publiceringsjobb för året "
            "väntar eller pågår). Vänta tills det är klart. Ingenting har publicerats."
        )
    try:
        publication = publish_year(
            session,
            actor.CLI,
            instrument_from_db(session),
            year=year,
            min_cell=threshold(session),
        )
    except NationalPublishError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Riket {year} är publicerat (version {publication.version}).")


@national_cli.command("export")
@click.option("--year", type=YEAR, required=True)
@click.option("--output", type=OUTPUT, default=None)
def national_export(year: int, output: str | None) -> None:
    """Rikets fil (nationella siffror med n och jämförelsegrupper), signerad av NNS."""
    path = Path(output or default_filename(year))
    try:
        data = export_riket(db.session(), actor.CLI, year)  # audited as the page does
        key = load_private_key(_instance())
    except (RiketFileError, SigningError) as exc:
        raise CliError(str(exc)) from None  # the audit entry is rolled back with the command
    write_outputs([(path, data), (path.with_name(path.name + ".sig"), sign(key, data))])
    click.echo(f"Skrev {path} och {path.name}.sig.")


def init_app(app, *, export_group: click.Group, forbund_commands, shared_commands=()) -> None:
    """Register the commands and make each refuse the other kind of instance."""
    export_group.add_command(export_nns)
    for command in forbund_commands:
        only_in(FORBUND, command)
    only_in(NATIONAL, national_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(national_cli)


def demo(*, national: bool) -> None:
    """`surveys demo --national` (national instance only; `surveys demo` is the förbund's)."""
    if not national:
        raise CliError("Det här är den nationella instansen: kör surveys demo --national.")
    if not is_national(current_app):  # a förbund's instance: NNS's demo instance beside it
        run_beside(echo=click.echo)
        return
    run_demo(echo=click.echo)
