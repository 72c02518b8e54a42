"""Backups, restore and retention (purge old answers, keep aggregated results)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from indicators import Instrument, score
from surveys import clock
from surveys.models import Answer, HistoryFigure, LinkToken, Response, SubmissionKey
from surveys.services.reporting import answers_frame


class MaintenanceError(RuntimeError):
    """A Swedish message for the operator."""


def _sqlite_path(engine: Engine) -> str | None:
    url = make_url(str(engine.url))
    return url.database if url.get_backend_name() == "sqlite" else None


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
    """SQLite: the online backup API (safe while the app runs). PostgreSQL: pg_dump -Fc."""
    path = _sqlite_path(engine)
    if path is not None:
        source = sqlite3.connect(path)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
        return
    _run_pg(engine, "pg_dump", ["-Fc", "-f", str(target)])


def restore(engine: Engine, source: Path) -> None:
    """Replace the database with a backup made by ``backup``."""
    if not source.is_file():
        raise MaintenanceError(f"Filen {source} finns inte.")
    path = _sqlite_path(engine)
    if path is not None:
        try:
            backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            backup_db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            raise MaintenanceError("Filen är ingen säkerhetskopia av den här tjänsten.") from None
        engine.dispose()
        live = sqlite3.connect(path)
        try:
            backup_db.backup(live)
        finally:
            live.close()
            backup_db.close()
        return
    with open(source, "rb") as fh:
        if fh.read(5) != b"PGDMP":  # pg_dump's custom format
            raise MaintenanceError("Filen är ingen säkerhetskopia av den här tjänsten.")
    engine.dispose()
    _run_pg(engine, "pg_restore", ["--clean", "--if-exists", "--no-owner", str(source)])


def purge(db: Session, instrument: Instrument, *, before: int, min_cell: int) -> dict[str, int]:
    """Remove answers of years before ``before``, keeping their aggregated results.

    Per-question results (Samtliga, kvinnor, män) are stored as history figures
    first — in the same transaction — so reports and charts still show those
    years (as imported figures). Intervention-level detail is not kept.
    """
    answers = answers_frame(db)
    old = answers[answers["year"] < before]
    results = score(old, instrument, min_cell=min_cell) if not old.empty else None
    kept = 0
    if results is not None:
        rows = results[results["question"].notna()]
        for r in rows.itertuples(index=False):
            db.execute(
                delete(HistoryFigure).where(
                    HistoryFigure.year == r.year,
                    HistoryFigure.questionnaire_key == r.questionnaire,
                    HistoryFigure.question == int(r.question),
                    HistoryFigure.subgroup == r.subgroup,
                )
            )
            db.add(
                HistoryFigure(
                    year=int(r.year),
                    questionnaire_key=r.questionnaire,
                    question=int(r.question),
                    subgroup=r.subgroup,
                    n=int(r.n),
                    **{
                        c: None if r.suppressed else _int(getattr(r, c))
                        for c in (
                            "negative",
                            "neutral",
                            "positive",
                            "clearly_positive",
                            "response_rate",
                        )
                    },
                )
            )
            kept += 1
    old_ids = select(Response.id).where(Response.year < before)
    removed = db.execute(
        select(func.count()).select_from(Response).where(Response.year < before)
    ).scalar_one()
    db.execute(delete(Answer).where(Answer.response_id.in_(old_ids)))
    db.execute(delete(Response).where(Response.year < before))
    # keys and used links are only needed against retries; drop the old ones too
    cutoff = clock.today() - timedelta(days=30)
    db.execute(delete(SubmissionKey).where(SubmissionKey.created_on < cutoff))
    db.execute(delete(LinkToken).where(LinkToken.used.is_(True), LinkToken.created_on < cutoff))
    db.commit()
    return {"responses": removed, "history_rows": kept}


def _int(value: object) -> int | None:
    try:
        return None if value is None or value != value else int(value)
    except TypeError:
        return None
