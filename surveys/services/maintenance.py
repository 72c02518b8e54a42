"""Backups, restore and retention (purge old answers, keep aggregated results)."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col

from surveys import clock, paths
from surveys.models import Answer, LinkToken, Publication, Response, SubmissionKey
from surveys.services.actor import Actor, audit, require_admin


class MaintenanceError(RuntimeError):
    """A Swedish message for the operator."""


def _sqlite_path(engine: Engine) -> str | None:
    url = make_url(str(engine.url))
    return url.database if url.get_backend_name() == "sqlite" else None


def _live_files(engine: Engine) -> set[str]:
    """The SQLite database's own files (resolved), none for PostgreSQL or in memory."""
    path = _sqlite_path(engine)
    if not path or path == ":memory:":
        return set()
    return {os.path.realpath(path + suffix) for suffix in ("", "-wal", "-shm", "-journal")}


@functools.cache  # the migration files do not change while the process runs
def known_revisions() -> tuple[frozenset[str], str | None]:
    """Every migration this version of the service has, and the newest (head): read
    once, though a restore checks the backup against it and the command then says
    whether an upgrade is needed."""
    scripts = ScriptDirectory(str(paths.MIGRATIONS))
    revisions = frozenset(script.revision for script in scripts.walk_revisions())
    return revisions, scripts.get_current_head()


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise MaintenanceError(f"{name} hittades inte. Installera PostgreSQL-klientverktygen.")


def _run_pg(engine: Engine, tool: str, arguments: list[str]) -> None:
    """Run a PostgreSQL client tool against the engine's database; Swedish error on failure."""
    url = make_url(str(engine.url))
    connection = [
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        "-d",
        url.database or "",
    ]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    result = subprocess.run(
        [_pg_tool(tool), *connection, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode != 0:
        raise MaintenanceError(f"{tool} misslyckades: {result.stderr.strip()[:500]}")


def backup(engine: Engine, target: Path) -> None:
    """SQLite: the online backup API (safe while the app runs). PostgreSQL: pg_dump -Fc.

    The copy is written to a private temporary file next to ``target`` and renamed
    over it only when complete: a nightly backup to one name never leaves a half
    file, and an old damaged file of that name is simply replaced.
    """
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise MaintenanceError(f"Mappen {folder} finns inte. Skapa den eller välj en annan mapp.")
    if target.is_dir():
        raise MaintenanceError(f"{target} är en mapp. Ange ett filnamn, t.ex. {target}/kopia.db.")
    if target.exists() and not target.is_file():  # a device or a pipe is never replaced
        raise MaintenanceError(f"{target} är ingen vanlig fil. Ange en fil för kopian.")
    if os.path.realpath(target) in _live_files(engine):
        raise MaintenanceError(
            f"{target} är själva databasens fil. Säkerhetskopian ska sparas i en annan fil."
        )
    try:
        descriptor, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except PermissionError:
        raise MaintenanceError(f"Det går inte att skriva i mappen {folder} (behörighet).") from None
    os.close(descriptor)  # mkstemp: owner-only (0600) from the start
    temporary = Path(name)
    try:
        _copy_database(engine, temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())  # on disk before it takes the name
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(folder)


def _copy_database(engine: Engine, target: Path) -> None:
    path = _sqlite_path(engine)
    if path is None:
        _run_pg(engine, "pg_dump", ["-Fc", "-f", str(target)])
        return
    _check_has_tables(path)
    try:
        source = sqlite3.connect(path)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
    except sqlite3.Error as exc:
        raise MaintenanceError(f"Databasen kunde inte kopieras ({exc}).") from None


def _check_has_tables(path: str) -> None:
    """A SQLite database worth backing up: there, with the service's tables (a copy of
    an empty file would be reported as saved, and refused by ``restore`` later)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
            marked = source.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.Error:
        marked = None
    if marked is None:
        raise MaintenanceError(
            "databasen saknar tjänstens tabeller, så det finns inget att säkerhetskopiera "
            "(kör surveys db upgrade, eller kontrollera DATABASE_URL)."
        )


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# Tables only one kind of instance fills: NNS's national one, or a förbund's. Small ones:
# a PostgreSQL backup's rows of them are read whole (pg_restore has no LIMIT), so the
# answers and the counts are left out (a förbund with answers has rounds or insatser).
NATIONAL_TABLES = ("national_member", "national_package")
FORBUND_TABLES = ("intervention", "round", "publication", "history_figure")
NATIONAL_KIND, FORBUND_KIND = "national", "forbund"  # as SURVEYS_MODE spells them


def _kind(filled: set[str]) -> str | None:
    """Which kind of instance a database with rows in ``filled`` belongs to (None: an
    empty one, which either kind may take)."""
    if filled & set(NATIONAL_TABLES):
        return NATIONAL_KIND
    if filled & set(FORBUND_TABLES):
        return FORBUND_KIND
    return None


def _check_kind(backup_kind: str | None, live_kind: str) -> None:
    """Refuse a national instance's backup in a förbund's instance, and the other way
    round: nothing in either would work, and the förbund's answers would be replaced."""
    if backup_kind is None or backup_kind == live_kind:
        return
    if backup_kind == NATIONAL_KIND:
        what = "den nationella instansen (NNS), men det här är ett förbunds instans"
    else:
        what = "ett förbunds instans, men det här är den nationella instansen (NNS)"
    raise MaintenanceError(f"Säkerhetskopian är från {what}. Ingenting har ändrats.")


def _sqlite_filled(backup_db: sqlite3.Connection) -> set[str]:
    """The tables of ``NATIONAL_TABLES`` and ``FORBUND_TABLES`` that hold a row (a
    table an older backup lacks holds none)."""
    present = {row[0] for row in backup_db.execute("SELECT name FROM sqlite_master")}
    return {
        table
        for table in (*NATIONAL_TABLES, *FORBUND_TABLES)
        if table in present
        and backup_db.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]  # noqa: S608 - names from the constants above
    }


def restore(engine: Engine, source: Path, *, kind: str = FORBUND_KIND) -> str:
    """Replace the database with a backup made by ``backup``; returns the backup's
    migration (older than head: the caller says to run ``surveys db upgrade``).

    Refused before anything changes: a file that is no backup of this service, the
    live database's own files, a backup of the other ``kind`` of instance (a national
    one in a förbund's, or the other way round), and a backup from a version of the
    service that has a migration this one does not know (a newer one: restoring it
    here would leave a database no command of this version can upgrade or read)."""
    problem = paths.not_a_file_to_read(source, "säkerhetskopians fil")
    if problem:
        raise MaintenanceError(problem)
    path = _sqlite_path(engine)
    if path is not None:
        if os.path.realpath(source) in _live_files(engine):
            raise MaintenanceError(f"{source} är databasen som används nu, inte en säkerhetskopia.")
        try:
            backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            row = backup_db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            raise MaintenanceError("Filen är ingen säkerhetskopia av den här tjänsten.") from None
        try:
            revision = _known_revision(row[0] if row else None)
            _check_kind(_kind(_sqlite_filled(backup_db)), kind)
            engine.dispose()
            live = sqlite3.connect(path)
            try:
                backup_db.backup(live)
            finally:
                live.close()
        finally:
            backup_db.close()
        return revision
    with open(source, "rb") as fh:
        if fh.read(5) != b"PGDMP":  # pg_dump's custom format
            raise MaintenanceError("Filen är ingen säkerhetskopia av den här tjänsten.")
    first = _dump_first_rows(source, ("alembic_version", *NATIONAL_TABLES, *FORBUND_TABLES))
    revision = _known_revision(first.get("alembic_version"))
    _check_kind(_kind({table for table, row in first.items() if row is not None}), kind)
    engine.dispose()
    _run_pg(engine, "pg_restore", ["--clean", "--if-exists", "--no-owner", str(source)])
    return revision


def _known_revision(revision: str | None) -> str:
    """The backup's migration, refused when this version of the service lacks it."""
    known, _head = known_revisions()
    if revision is None:
        raise MaintenanceError("Filen är ingen säkerhetskopia av den här tjänsten.")
    if revision not in known:
        raise MaintenanceError(
            f"Säkerhetskopian är gjord av en annan version av tjänsten (migreringen "
            f"{revision[:40]!r} finns inte i den här). Återställ den med den versionen. "
            "Ingenting har ändrats."
        )
    return revision


def _dump_first_rows(source: Path, tables: tuple[str, ...]) -> dict[str, str | None]:
    """The first row (a COPY line; None: the table is empty) of each of ``tables`` in a
    pg_dump file, read with pg_restore without touching any database; a table the dump
    lacks is not in the result."""
    result = subprocess.run(
        [
            _pg_tool("pg_restore"),
            "--data-only",
            *(f"--table={table}" for table in tables),
            "-f",
            "-",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise MaintenanceError("Filen är ingen säkerhetskopia av den här tjänsten.")
    first: dict[str, str | None] = {}
    table: str | None = None  # the table whose rows follow, until the line "\."
    for line in result.stdout.splitlines():
        if table is None:
            if line.startswith("COPY "):  # COPY public.<table> (<columns>) FROM stdin;
                table = line.split()[1].rpartition(".")[2].strip('"')
                first[table] = None
        elif line == "\\.":
            table = None
        elif first[table] is None:
            first[table] = line.strip()
    return first


CURRENT_YEAR_KEPT = "Innevarande års svar kan inte gallras."


def check_purge(before: int) -> None:
    """Refuse (``MaintenanceError``) a purge that would reach the current year's answers;
    the command line asks before its confirmation question, ``purge`` asks again."""
    if before > clock.today().year:
        raise MaintenanceError(CURRENT_YEAR_KEPT)


def purge(db: Session, actor: Actor, *, before: int) -> dict[str, int]:
    """The operator removes the answers of years before ``before`` (``svar.gallra``: the
    years and counts, never an answer); their publications stay as they are.

    Reports read publications only (DESIGN.md principle 3), so everything a
    report shows for those years — every scope, subgroup and pooled row — is
    kept. Refused (``MaintenanceError``, nothing changed): the current year, and a
    year with answers but no publication (its results would be lost).
    """
    require_admin(actor)
    check_purge(before)
    years = sorted(
        y
        for (y,) in db.execute(
            select(col(Response.year)).where(col(Response.year) < before).distinct()
        )
    )
    published = set(db.execute(select(col(Publication.year)).distinct()).scalars())
    unpublished = [y for y in years if y not in published]
    if unpublished:
        raise MaintenanceError(
            "Publicera först "
            + ", ".join(map(str, unpublished))
            + ": annars försvinner årets resultat när svaren gallras "
            "(surveys publish --year ÅR)."
        )
    old_ids = select(col(Response.id)).where(col(Response.year) < before)
    removed = db.execute(
        select(func.count()).select_from(Response).where(col(Response.year) < before)
    ).scalar_one()
    db.execute(delete(Answer).where(col(Answer.response_id).in_(old_ids)))
    db.execute(delete(Response).where(col(Response.year) < before))
    # keys and used links are only needed against retries; drop the old ones too
    cutoff = clock.today() - timedelta(days=30)
    db.execute(delete(SubmissionKey).where(col(SubmissionKey.created_on) < cutoff))
    db.execute(
        delete(LinkToken).where(col(LinkToken.used).is_(True), col(LinkToken.created_on) < cutoff)
    )
    db.flush()
    audit(
        db,
        actor,
        "svar.gallra",
        f"före {before}: {removed} enkäter från {len(years)} år"
        + (f" ({', '.join(map(str, years))})" if years else ""),
    )
    return {"responses": removed, "years": len(years)}


def forget_unreadable(db: Session, actor: Actor, round_id: str) -> int:
    """The operator removes a round's waiting answers whose key is missing (they cannot be
    read), audited as ``väntande.oläsbara_bort``; the number removed."""
    from surveys.services import submissions  # noqa: PLC0415 - submissions is the heavy module

    require_admin(actor)
    name = submissions.round_name(db, round_id)
    removed = submissions.forget_unreadable(db, round_id)
    audit(db, actor, "väntande.oläsbara_bort", f"{name}: {removed} svar utan nyckel")
    return removed
