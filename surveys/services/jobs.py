"""Publishing and the live preview as background jobs: off the participants' workers
(issue 13, "participants first").

The administrator's request only records a job (``request_publish``) and starts a
separate, low-priority process (``spawn``: ``chrt --idle 0 nice -n 10 python -m
surveys run-job ID``); the page then polls the job. The process (``run``) claims the job, publishes
with ``publications.publish`` (which keeps its PublishLock) and records the result
in Swedish. A job whose process died is found by ``refresh`` and marked failed, and
the year's lock it held is dropped, so a crash never leaves a year locked.

The live preview is a job too (``request_preview``): the process counts the year
once (``publications.compute``, every scope), keeps the disclosure-controlled result
as a snapshot (``report_asset``, JSON) and draws the förbund's charts; the preview and
the publishing page then show that snapshot (``preview_snapshot``) for a few minutes
instead of counting again in a worker on every view.

A job row names who asked and when (an administrator's actions), never anything
about respondents.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pandas as pd
from flask import Flask
from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from indicators import Instrument
from surveys import clock
from surveys.db import one_writer
from surveys.models import BackgroundJob, Publication, PublishLock, ReportAsset
from surveys.services.publications import (
    STALE_LOCK,
    Computed,
    PublishError,
    compute,
    latest,
    protect_other,
    publish,
    published_years,
    year_has_answers,
)
from surveys.services.republish import publishing_now, republish_all

log = logging.getLogger(__name__)

PUBLISH = "publish"
PREVIEW = "preview"
PREVIEW_FRESH = timedelta(minutes=10)  # a preview snapshot is shown this long, then recounted
SNAPSHOT_PREFIX = "forhandsgranskning-"  # report_asset cache_key of a year's preview snapshot
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ALL_YEARS = "publish_all"  # republish every published year (after the övriga setting changed)
ACTIVE = (QUEUED, RUNNING)
NEVER_STARTED = timedelta(minutes=2)  # a queued job no process claimed by then is dead
NICENESS = 10
CRASHED = (
    "Publiceringen av {year} avbröts innan den blev klar. Ingenting publicerades. "
    "Försök igen; händer det igen, kontakta den som sköter servern."
)
FAILED_UNEXPECTEDLY = (
    "Publiceringen av {year} misslyckades på grund av ett tekniskt fel. Ingenting "
    "publicerades. Försök igen; händer det igen, kontakta den som sköter servern."
)
_WAITERS: list[threading.Thread] = []


class JobError(Exception):
    """The job was refused; the message is Swedish and nothing was changed."""


# --- the administrator's request -------------------------------------------


def request_publish(db: Session, *, year: int, user_email: str, min_cell: int) -> BackgroundJob:
    """Record a publishing job for ``year`` (commits); refuses a second one while one runs."""
    if not year_has_answers(db, year):
        raise JobError(f"Det finns inga svar för {year} att publicera.")
    if active_job(db, year) is not None:
        raise JobError(f"År {year} håller redan på att publiceras. Vänta tills det är klart.")
    return _new_job(db, PUBLISH, year=year, user_email=user_email, min_cell=min_cell)


def request_preview(
    db: Session, *, year: int, user_email: str, min_cell: int
) -> tuple[BackgroundJob, bool]:
    """The year's preview job: the one already under way, else a new one (commits).

    Returns the job and whether it is new (and so needs its process started)."""
    running = active_job(db, year, kind=PREVIEW)
    if running is not None:
        return running, False
    return _new_job(db, PREVIEW, year=year, user_email=user_email, min_cell=min_cell), True


def _new_job(db: Session, kind: str, *, year: int, user_email: str, min_cell: int) -> BackgroundJob:
    job = BackgroundJob(
        kind=kind,
        year=year,
        requested_by=user_email,
        requested_at=clock.utcnow(),
        min_cell=min_cell,
    )
    db.add(job)
    db.commit()
    return job


def active_job(db: Session, year: int, *, kind: str = PUBLISH) -> BackgroundJob | None:
    """The year's queued or running job of a kind (dead ones are marked failed first)."""
    jobs = (
        db.execute(
            select(BackgroundJob).where(
                col(BackgroundJob.year) == year,
                col(BackgroundJob.kind) == kind,
                col(BackgroundJob.status).in_(ACTIVE),
            )
        )
        .scalars()
        .all()
    )
    alive = [job for job in jobs if refresh(db, job).status in ACTIVE]
    return alive[0] if alive else None


def child_environment(config: dict) -> dict[str, str]:
    """The job process's environment: the app's own database, key and instance folder."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": str(config["DATABASE_URL"]),
            "SECRET_KEY": str(config["SECRET_KEY"]),
            "SURVEYS_ENV": str(config.get("SURVEYS_ENV") or "development"),
            "SURVEYS_INSTANCE": str(config["INSTANCE_DIR"]),
            "PUBLIC_URL": str(config.get("PUBLIC_URL") or ""),
            "MIN_CELL": str(config.get("MIN_CELL", 5)),
        }
    )
    return env


def command(job_id: str) -> list[str]:
    """``chrt --idle 0 nice -n 10 python -m surveys run-job ID``: the job gets the CPU
    only when no request wants it (SCHED_IDLE; nice alone still let it take a share of
    both cores from the tablets). Each tool is left out where the machine lacks it."""
    run = [sys.executable, "-m", "surveys", "run-job", job_id]
    nice = shutil.which("nice")
    if nice:
        run = [nice, "-n", str(NICENESS), *run]
    chrt = shutil.which("chrt")
    return [chrt, "--idle", "0", *run] if chrt else run


def spawn(app: Flask, job_id: str) -> subprocess.Popen:
    """Start the job's process in its own session; a thread reaps it and checks the result."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        command(job_id),
        env=child_environment(app.config),
        cwd=str(Path(__file__).resolve().parents[2]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    waiter = threading.Thread(
        target=_reap, args=(app, process, job_id), name=f"jobb-{job_id[:8]}", daemon=True
    )
    _WAITERS.append(waiter)
    waiter.start()
    return process


def _reap(app: Flask, process: subprocess.Popen, job_id: str) -> None:
    process.wait()
    from surveys import db  # noqa: PLC0415 - the request layer; this module is a service

    with app.app_context():
        session = db.session()
        job = session.get(BackgroundJob, job_id)
        if job is not None and job.status in ACTIVE:
            _mark_dead(session, job)


def wait_for_jobs(timeout: float = 120) -> None:
    """Wait for started jobs to end (tests, and before an engine is disposed)."""
    while _WAITERS:
        _WAITERS.pop().join(timeout)


# --- the job's own process --------------------------------------------------


def run(
    db: Session,
    instrument: Instrument,
    job_id: str,
    *,
    draw: Callable[[BackgroundJob, Computed], None] | None = None,
) -> BackgroundJob | None:
    """Claim a queued job and do it; the outcome is stored on the job.

    ``draw`` draws a preview's charts (the request layer's business) before the job
    is marked done, so the page never draws them in a worker."""
    claimed = db.execute(
        update(BackgroundJob)
        .where(col(BackgroundJob.id) == job_id, col(BackgroundJob.status) == QUEUED)
        .values(status=RUNNING, pid=os.getpid(), started_at=clock.utcnow())
    )
    db.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        return None
    job = db.get(BackgroundJob, job_id)
    assert job is not None  # noqa: S101 - just claimed
    if job.kind == PREVIEW:
        return _run_preview(db, instrument, job, draw)
    if job.kind == ALL_YEARS:
        return _run_all_years(db, instrument, job)
    try:
        publication = publish(
            db, instrument, year=job.year, user_email=job.requested_by, min_cell=job.min_cell
        )
    except PublishError as exc:
        return _finish(db, job_id, FAILED, str(exc))
    except Exception:
        log.exception("Publiceringen av %s misslyckades.", job.year)
        db.rollback()
        return _finish(db, job_id, FAILED, FAILED_UNEXPECTEDLY.format(year=job.year))
    return _finish(db, job_id, DONE, f"{job.year} är publicerat (version {publication.version}).")


def publishing(db: Session) -> bool:
    """Whether any year is being published now: a lock held, or a publishing job alive."""
    running = db.execute(
        select(BackgroundJob).where(
            col(BackgroundJob.kind).in_((PUBLISH, ALL_YEARS)),
            col(BackgroundJob.status).in_(ACTIVE),
        )
    ).scalars()
    return publishing_now(db) or any(refresh(db, job).status in ACTIVE for job in list(running))


def request_all_years(db: Session, *, user_email: str, min_cell: int) -> BackgroundJob:
    """Record a job republishing every published year (commits); refused while one runs."""
    if publishing(db):
        raise JobError("En publicering pågår. Vänta tills den är klar och försök igen.")
    years = published_years(db)
    if not years:
        raise JobError("Inget år är publicerat ännu.")
    return _new_job(db, ALL_YEARS, year=years[-1], user_email=user_email, min_cell=min_cell)


def _run_all_years(db: Session, instrument: Instrument, job: BackgroundJob) -> BackgroundJob | None:
    try:
        done, stopped = republish_all(
            db, instrument, user_email=job.requested_by, min_cell=job.min_cell
        )
    except Exception:
        log.exception("Publiceringen av alla år misslyckades.")
        db.rollback()
        return _finish(db, job.id, FAILED, FAILED_UNEXPECTEDLY.format(year="alla år"))
    if stopped is not None:
        return _finish(db, job.id, FAILED, stopped)
    years = ", ".join(map(str, done))
    return _finish(db, job.id, DONE, f"{years} är publicerade på nytt.")


def _run_preview(
    db: Session,
    instrument: Instrument,
    job: BackgroundJob,
    draw: Callable[[BackgroundJob, Computed], None] | None,
) -> BackgroundJob | None:
    try:
        computed = compute(
            db, instrument, year=job.year, min_cell=job.min_cell, previous=latest(db, job.year)
        )
        _save_snapshot(db, job, computed)
        if draw is not None:
            # drawn from the snapshot as stored: the page finds them under the same key
            draw(job, _load_snapshot(db, job, computed.year) or computed)
    except Exception:
        log.exception("Förhandsgranskningen av %s misslyckades.", job.year)
        db.rollback()
        message = f"Förhandsgranskningen av {job.year} kunde inte tas fram. Försök igen."
        return _finish(db, job.id, FAILED, message)
    return _finish(db, job.id, DONE, f"Förhandsgranskningen av {job.year} är klar.")


# --- the preview snapshot -------------------------------------------------------


def _save_snapshot(db: Session, job: BackgroundJob, computed: Computed) -> None:
    """Keep the computed preview (aggregated, disclosure-controlled rows: as a publication
    holds them) under the year's key; older snapshots of the year are dropped."""
    body = json.dumps(
        {
            "rows": computed.rows.to_json(orient="table", index=False),
            "groups": computed.groups.to_json(orient="table", index=False),
            "min_cell": computed.min_cell,
            "protect_other": computed.protect_other,
        }
    ).encode("utf-8")
    key = f"{SNAPSHOT_PREFIX}{job.year}"
    with one_writer(db):  # submissions wait their turn instead of sleep-polling
        db.execute(delete(ReportAsset).where(col(ReportAsset.cache_key) == key))
        db.add(
            ReportAsset(
                cache_key=key, name=f"{job.id}.json", content_type="application/json", body=body
            )
        )
        db.commit()


def preview_snapshot(
    db: Session, year: int, *, min_cell: int, now: datetime | None = None
) -> tuple[BackgroundJob, Computed] | None:
    """The year's latest preview, if still good: computed in the last minutes with the
    threshold and övriga setting in force, and the year not published since."""
    job = (
        db.execute(
            select(BackgroundJob)
            .where(
                col(BackgroundJob.year) == year,
                col(BackgroundJob.kind) == PREVIEW,
                col(BackgroundJob.status) == DONE,
            )
            .order_by(col(BackgroundJob.finished_at).desc())
        )
        .scalars()
        .first()
    )
    now = now or clock.utcnow()
    if job is None or job.finished_at is None or job.started_at is None:
        return None
    if job.min_cell != min_cell or now - _aware(job.finished_at) > PREVIEW_FRESH:
        return None
    newest = latest(db, year)
    if newest is not None and _aware(newest.published_at) >= _aware(job.started_at):
        return None
    computed = _load_snapshot(db, job, year)
    if computed is None or computed.protect_other != protect_other(db):
        return None
    return job, computed


def _load_snapshot(db: Session, job: BackgroundJob, year: int) -> Computed | None:
    asset = db.get(ReportAsset, (f"{SNAPSHOT_PREFIX}{year}", f"{job.id}.json"))
    if asset is None:
        return None
    stored = json.loads(bytes(asset.body).decode("utf-8"))
    return Computed(
        year=year,
        rows=_frame(stored["rows"]),
        groups=_frame(stored["groups"]),
        min_cell=int(stored["min_cell"]),
        protect_other=bool(stored["protect_other"]),
    )


def _frame(text: str) -> pd.DataFrame:
    frame = pd.read_json(StringIO(text), orient="table")
    return frame.astype({c: "object" for c in frame.columns if frame[c].dtype == "string"})


def _finish(db: Session, job_id: str, status: str, message: str) -> BackgroundJob | None:
    db.execute(
        update(BackgroundJob)
        .where(col(BackgroundJob.id) == job_id)
        .values(status=status, message=message[:500], finished_at=clock.utcnow())
    )
    db.commit()
    return db.get(BackgroundJob, job_id, populate_existing=True)


# --- finding dead jobs ------------------------------------------------------


def refresh(db: Session, job: BackgroundJob, *, now: datetime | None = None) -> BackgroundJob:
    """Mark a queued or running job whose process is gone (or that ran too long) as ended."""
    if job.status not in ACTIVE:
        return job
    now = now or clock.utcnow()
    if job.status == QUEUED:
        dead = now - _aware(job.requested_at) > NEVER_STARTED
    else:
        started = _aware(job.started_at or job.requested_at)
        dead = now - started > STALE_LOCK or (job.pid is not None and not _alive(job.pid))
    if dead:
        _mark_dead(db, job)
    return job


def _mark_dead(db: Session, job: BackgroundJob) -> None:
    """A job whose process ended without saying how: done if its publication is stored,
    else failed; the year's lock the process held is dropped."""
    db.refresh(job)
    if job.status not in ACTIVE:
        return
    published = None
    if job.started_at is not None:
        published = (
            db.execute(
                select(Publication).where(
                    col(Publication.year) == job.year,
                    col(Publication.published_by) == job.requested_by,
                    col(Publication.published_at) >= _aware(job.started_at),
                )
            )
            .scalars()
            .first()
        )
        lock = db.get(PublishLock, job.year)
        if lock is not None and _aware(lock.started_at) >= _aware(job.started_at):
            db.delete(lock)  # taken by this job's process (an older one is someone else's)
    job.finished_at = clock.utcnow()
    if published is not None:
        job.status = DONE
        job.message = f"{job.year} är publicerat (version {published.version})."
    else:
        job.status = FAILED
        job.message = CRASHED.format(year=job.year)
    db.add(job)
    db.commit()


def _alive(pid: int) -> bool:
    """Whether a process runs (on this machine: jobs run where the web server runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except (OSError, IndexError):
        return True


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive UTC; PostgreSQL aware: compare both as aware UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
