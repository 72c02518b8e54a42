"""Publishing and the live preview as background jobs, done by worker processes off the
participants' web workers (issue 13, "participants first"), on one machine or several
(issue 20).

A job is a row of ``background_job``. The administrator's request only records it
(``request_publish``, ``request_preview``); a worker (``surveys worker``, see
``surveys/worker.py``), on this machine or another, claims it (``claim``: ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, the writer lock on SQLite) and holds it by a lease that
it renews every few seconds (``renew``, the heartbeat). A worker that dies stops
renewing: when the lease has run out another worker takes the job up again, and after
``MAX_ATTEMPTS`` claims the job is given up with the reason (``claim`` does both).
A publication records the job that made it (``publication.job_id``, unique with the
year), so a job taken up again after its worker stored the publication finishes without
publishing a second time (the all-years job skips the years it has stored). The year's
publishing lock (``services.locks``) dies with the process.

Reading a job (``state``) never writes: the job page only shows what the workers wrote.

The live preview is a job too: the worker counts the year once (``publications.compute``,
every scope), keeps the disclosure-controlled result as a snapshot (``report_asset``,
JSON) and draws the förbund's charts; the preview and the publishing page then show that
snapshot (``preview_snapshot``) for a few minutes instead of counting again in a web
worker on every view.

These functions only flush; the worker (or the request) commits. A job row names who
asked and when (an administrator's actions), never anything about respondents.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import StringIO

import pandas as pd
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from indicators import Instrument
from surveys import clock
from surveys.db import keep, kept, one_writer, own_transaction
from surveys.models import BackgroundJob, Publication, ReportAsset, Role, User
from surveys.national import publish as national
from surveys.services import locks
from surveys.services.actor import SYSTEM_NAMES, Actor, Refused, require_admin
from surveys.services.job_status import (
    ALL_YEARS,
    DONE,
    FAILED,
    MAX_ATTEMPTS,
    NATIONAL,
    PREVIEW,
    PUBLISH,
    QUEUED,
    RUNNING,
    active_job,
    publishing,
    year_being_published,
)
from surveys.services.publications import (
    Computed,
    PublishError,
    compute,
    latest,
    protect_other,
    publish_once,
    published_by,
    published_years,
    record_shown,
    stored_once,
    year_has_answers,
)
from surveys.services.republish import republish_all
from surveys.services.settings import checked_threshold

log = logging.getLogger(__name__)

PREVIEW_FRESH = timedelta(minutes=10)  # a preview snapshot is shown this long, then recounted
SNAPSHOT_PREFIX = "forhandsgranskning-"  # report_asset cache_key of a year's preview snapshot
LEASE = timedelta(seconds=60)  # a claim holds this long unless its worker renews it
NEVER_STARTED = timedelta(minutes=2)  # the page says no worker seems to be running
GAVE_UP = {
    PUBLISH: (
        "Publiceringen av {year} avbröts: bakgrundsprocessen som arbetade med den slutade "
        "svara ({attempts} försök). Ingenting publicerades. Försök igen; händer det igen, "
        "kontakta den som sköter servern."
    ),
    PREVIEW: (
        "Förhandsgranskningen av {year} kunde inte tas fram: bakgrundsprocessen slutade "
        "svara ({attempts} försök). Försök igen."
    ),
    ALL_YEARS: (
        "Publiceringen av alla år avbröts: bakgrundsprocessen slutade svara ({attempts} "
        "försök). År som hann publiceras på nytt ligger kvar. Försök igen."
    ),
    NATIONAL: (
        "Publiceringen av Riket {year} avbröts: bakgrundsprocessen som arbetade med den "
        "slutade svara ({attempts} försök). Ingenting publicerades. Försök igen."
    ),
}
FAILED_UNEXPECTEDLY = {
    PUBLISH: (
        "Publiceringen av {year} misslyckades på grund av ett tekniskt fel. Ingenting "
        "publicerades. Försök igen; händer det igen, kontakta den som sköter servern."
    ),
    PREVIEW: "Förhandsgranskningen av {year} kunde inte tas fram. Försök igen.",
    ALL_YEARS: (
        "Publiceringen av alla år misslyckades på grund av ett tekniskt fel. Försök igen; "
        "händer det igen, kontakta den som sköter servern."
    ),
    NATIONAL: (
        "Publiceringen av Riket {year} misslyckades på grund av ett tekniskt fel. Ingenting "
        "publicerades. Försök igen; händer det igen, kontakta den som sköter servern."
    ),
}


class JobError(Exception):
    """The job was refused; the message is Swedish and nothing was changed."""


# --- the administrator's request -------------------------------------------


def request_publish(db: Session, actor: Actor, *, year: int, min_cell: int) -> BackgroundJob:
    """The administrator asks for ``year`` to be published: a job (flushes); refuses a second
    one while one runs. The publication itself is audited when the job stores it."""
    require_admin(actor)
    if not year_has_answers(db, year):
        raise JobError(f"Det finns inga svar för {year} att publicera.")
    # A double click makes one job, not two. Taken after the count of answers: on SQLite
    # the turn is the write lock, which the tablets' answers wait for meanwhile.
    locks.in_turn(db, "job-request")
    if year_being_published(db, year):
        raise JobError(f"År {year} håller redan på att publiceras. Vänta tills det är klart.")
    return _new_job(db, PUBLISH, year=year, user_email=actor.email, min_cell=min_cell)


def request_preview(
    db: Session, actor: Actor, *, year: int, min_cell: int
) -> tuple[BackgroundJob, bool]:
    """The year's preview job: the one already under way, else a new one (flushes).
    Only the administrator previews; a preview publishes nothing, so it is not audited.

    Returns the job and whether it is new (and so worth handing to the runner).

    No ``locks.in_turn`` here, unlike publishing: the preview pages ask on every GET
    while a preview counts, from the report process at a lower priority, and on SQLite
    the turn is the write lock the tablets wait for (the participants-first run's p95
    went from 1.4 to 41 times the quiet one). Two previews at the same moment count
    the same answers twice; the versions they record are the same."""
    require_admin(actor)
    running = active_job(db, year, kind=PREVIEW)
    if running is not None:
        return running, False
    return _new_job(db, PREVIEW, year=year, user_email=actor.email, min_cell=min_cell), True


def request_national_publish(
    db: Session, actor: Actor, *, year: int, min_cell: int
) -> BackgroundJob:
    """NNS's administrator asks for a national year to be published: a job (flushes), as
    a förbund's year is published, since counting 80 förbund takes longer than a web
    request may. Refuses a year without packages and a second job while one runs."""
    require_admin(actor)
    if not national.has_packages(db, year):
        raise JobError(f"Det finns inga importerade paket för {year} att publicera.")
    locks.in_turn(db, "job-request")  # a double click makes one job, not two
    if active_job(db, year, kind=NATIONAL) is not None:
        raise JobError(f"Riket {year} håller redan på att publiceras. Vänta tills det är klart.")
    return _new_job(db, NATIONAL, year=year, user_email=actor.email, min_cell=min_cell)


def _new_job(db: Session, kind: str, *, year: int, user_email: str, min_cell: int) -> BackgroundJob:
    """A queued job (flushes); its threshold checked in the one range (``JobError``)."""
    min_cell = checked_threshold(min_cell, JobError)
    job = BackgroundJob(
        kind=kind,
        year=year,
        requested_by=user_email,
        requested_at=clock.utcnow(),
        min_cell=min_cell,
    )
    db.add(job)
    db.flush()
    return job


# --- the worker's side: claim, heartbeat, finish ----------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Queued, or running under a lease that ran out (its worker died or hangs)."""
    return or_(
        col(BackgroundJob.status) == QUEUED,
        and_(col(BackgroundJob.status) == RUNNING, col(BackgroundJob.lease_until) < now),
    )


def waiting(db: Session, *, now: datetime | None = None) -> bool:
    """Whether any job waits for a worker (a cheap read before taking a lock)."""
    found = db.execute(
        select(col(BackgroundJob.id)).where(_claimable(now or clock.utcnow())).limit(1)
    )
    return found.first() is not None


def claim(
    db: Session,
    *,
    worker: str,
    now: datetime | None = None,
    lease: timedelta = LEASE,
    job_id: str | None = None,
) -> BackgroundJob | None:
    """Claim the oldest job a worker may take (or ``job_id``); None when there is none.

    The claim is a lease until ``now + lease``; it counts as an attempt. Jobs whose
    workers died ``MAX_ATTEMPTS`` times are given up first. Flushes: the caller
    commits (on SQLite inside ``one_writer``, so that claims never interleave).
    """
    now = now or clock.utcnow()
    _give_up_abandoned(db, now)
    candidate = (
        select(col(BackgroundJob.id))
        .where(_claimable(now))
        .order_by(col(BackgroundJob.requested_at))
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL: rows others are claiming are skipped
    )
    if job_id is not None:
        candidate = candidate.where(col(BackgroundJob.id) == job_id)
    found = db.execute(candidate).scalar()
    if found is None:
        return None
    # The same condition again in the UPDATE: whatever the isolation, one claim wins.
    claimed = db.execute(
        update(BackgroundJob)
        .where(col(BackgroundJob.id) == found, _claimable(now))
        .values(
            status=RUNNING,
            worker=worker,
            lease_until=now + lease,
            attempts=col(BackgroundJob.attempts) + 1,
            started_at=func.coalesce(col(BackgroundJob.started_at), now),
        )
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        return None
    return db.get(BackgroundJob, found, populate_existing=True)


def _give_up_abandoned(db: Session, now: datetime) -> None:
    """Jobs whose lease ran out after their last attempt: failed with the reason, or
    done if the dead worker had already stored the publication."""
    abandoned = (
        db.execute(
            select(BackgroundJob)
            .where(
                col(BackgroundJob.status) == RUNNING,
                col(BackgroundJob.lease_until) < now,
                col(BackgroundJob.attempts) >= MAX_ATTEMPTS,
            )
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for job in abandoned:
        # the all-years job publishes oldest first, up to its year: its year stored = done
        published = published_by(db, job.id, job.year)
        if published is not None:
            job.status, job.message = DONE, _done_message(db, job, published)
        else:
            job.status = FAILED
            job.message = GAVE_UP[job.kind].format(year=job.year, attempts=job.attempts)
        job.finished_at, job.lease_until = now, None
        db.add(job)
    db.flush()


def renew(
    db: Session, job_id: str, *, worker: str, now: datetime | None = None, lease: timedelta = LEASE
) -> bool:
    """The heartbeat: extend the worker's lease. False if the job is no longer its own
    (its lease ran out and another worker took it, or it was given up)."""
    now = now or clock.utcnow()
    renewed = db.execute(
        update(BackgroundJob)
        .where(
            col(BackgroundJob.id) == job_id,
            col(BackgroundJob.worker) == worker,
            col(BackgroundJob.status) == RUNNING,
        )
        .values(lease_until=now + lease)
    )
    return renewed.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult


def release(db: Session, job_id: str, *, worker: str) -> bool:
    """Give a claimed job back untouched (a worker told to stop): queued again at once,
    the claim not counted as an attempt."""
    released = db.execute(
        update(BackgroundJob)
        .where(
            col(BackgroundJob.id) == job_id,
            col(BackgroundJob.worker) == worker,
            col(BackgroundJob.status) == RUNNING,
        )
        .values(
            status=QUEUED, worker="", lease_until=None, attempts=col(BackgroundJob.attempts) - 1
        )
    )
    return released.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult


def finish(
    db: Session,
    job: BackgroundJob,
    *,
    worker: str,
    status: str,
    message: str,
    now: datetime | None = None,
) -> bool:
    """Record a job's outcome, if the job is still this worker's. A stored publication
    is the truth whoever holds the job: a publishing job's "done" is written in any case,
    also over the failure of a worker that took the job up meanwhile (it found the year
    still being published by this one, which had outlived its lease)."""
    owned = [col(BackgroundJob.worker) == worker, col(BackgroundJob.status) == RUNNING]
    if status == DONE and job.kind in (PUBLISH, ALL_YEARS, NATIONAL):
        owned = [col(BackgroundJob.status) != DONE]
    finished = db.execute(
        update(BackgroundJob)
        .where(col(BackgroundJob.id) == job.id, *owned)
        .values(
            status=status,
            message=message[:500],
            finished_at=now or clock.utcnow(),
            lease_until=None,
        )
    )
    return finished.rowcount == 1  # type: ignore[attr-defined]  # a CursorResult


def failure(job: BackgroundJob) -> str:
    """The Swedish message of a job that failed on an unexpected error."""
    return FAILED_UNEXPECTEDLY[job.kind].format(year=job.year)


# --- the work itself ------------------------------------------------------------


def _published_message(publication: Publication) -> str:
    return f"{publication.year} är publicerat (version {publication.version})."


def _done_message(db: Session, job: BackgroundJob, publication: Publication) -> str:
    """What a finished job says: the year it published, or (all years) every year."""
    if job.kind == NATIONAL:
        return _national_message(publication)
    if job.kind != ALL_YEARS:
        return _published_message(publication)
    years = db.execute(
        select(col(Publication.year))
        .where(col(Publication.job_id) == job.id)
        .order_by(col(Publication.year))
    ).scalars()
    return _republished_message(list(years))


def _republished_message(years: list[int]) -> str:
    return f"{', '.join(map(str, years))} är publicerade på nytt."


def requester(db: Session, job: BackgroundJob) -> Actor:
    """The actor a job acts for: the administrator who asked for it (``request_*`` checked
    that she may), so its publication and audit entry name her as the page's actions do.

    A job may wait for a worker (none running) for hours: when she has been deactivated
    or is no longer an administrator by the time it runs, the job is refused (``Refused``,
    Swedish) instead of publishing in her name. Users are never deleted, so a requester
    without an account is refused too, unless it is the system's own (``SYSTEM_NAMES``:
    the command line, the demo)."""
    user = db.execute(select(User).where(col(User.email) == job.requested_by)).scalars().first()
    if user is None and job.requested_by not in SYSTEM_NAMES:
        raise Refused(
            f"{job.requested_by} har inget konto här, så jobbet gjordes inte. "
            "Be en administratör att göra det igen."
        )
    if user is not None and (not user.active or user.role != Role.admin.value):
        raise Refused(
            f"{job.requested_by} är inte längre administratör, så jobbet gjordes inte. "
            "Be en administratör att göra det igen."
        )
    return Actor(email=job.requested_by, role=Role.admin.value)


def publish_year(db: Session, instrument: Instrument, job: BackgroundJob) -> tuple[str, str]:
    """Publish the job's year once: ``(status, message)``.

    A job taken up again after its worker stored the publication (and died before it
    could say so) finds that publication and publishes nothing more, even when its
    requester has since lost the right (so that is looked up first, before ``requester``).
    Publishing commits (``publications.publish_once``) with the job's id on it."""
    done = published_by(db, job.id)
    if done is not None:
        return DONE, _published_message(done)
    try:
        publication = publish_once(
            db, requester(db, job), instrument, year=job.year, min_cell=job.min_cell, job_id=job.id
        )
    except (PublishError, Refused) as exc:
        return FAILED, str(exc)
    return DONE, _published_message(publication)


def publish_national_year(
    db: Session, instrument: Instrument, job: BackgroundJob
) -> tuple[str, str]:
    """Publish the job's national year once (``surveys.national.publish``): ``(status,
    message)``. As ``publish_year``: the publication records the job, so a job taken up
    again after its worker stored it publishes nothing more. Commits its own transaction."""

    def store() -> Publication:
        with one_writer(db), own_transaction(db):
            publication = national.publish_year(
                db, requester(db, job), instrument, year=job.year, min_cell=job.min_cell
            )
            publication.job_id = job.id
            db.add(publication)
        return publication

    try:
        publication = stored_once(db, job.id, None, store)
    except (national.NationalPublishError, Refused) as exc:
        return FAILED, str(exc)
    return DONE, _national_message(publication)


def _national_message(publication: Publication) -> str:
    return f"Riket {publication.year} är publicerat (version {publication.version})."


def count_preview(db: Session, instrument: Instrument, job: BackgroundJob) -> Computed:
    """The year counted for a preview (reads only)."""
    return compute(
        db, instrument, year=job.year, min_cell=job.min_cell, previous=latest(db, job.year)
    )


def keep_preview(db: Session, job: BackgroundJob, computed: Computed) -> None:
    """Keep a counted preview as a shown version of the year, with its snapshot (DESIGN.md
    "Versions are tables too"); flushes, the caller commits. Raises ``VersionRace`` when
    another version of the year was shown since it was counted (count again)."""
    record_shown(db, computed, kind="preview")
    save_snapshot(db, job, computed)


# --- what the job page shows --------------------------------------------------


def state(job: BackgroundJob, *, now: datetime | None = None) -> str:
    """How a job stands, for its page (reads only, writes nothing):

    ``queued``; ``unclaimed`` (queued for minutes: no worker seems to run);
    ``running``; ``stalled`` (its worker stopped renewing the lease: another worker
    will take it up); ``done``; ``failed``."""
    now = now or clock.utcnow()
    if job.status == QUEUED:
        return "unclaimed" if now - _aware(job.requested_at) > NEVER_STARTED else QUEUED
    if job.status == RUNNING:
        lease = job.lease_until
        return "stalled" if lease is None or _aware(lease) < now else RUNNING
    return job.status


def request_all_years(db: Session, actor: Actor, *, min_cell: int) -> BackgroundJob:
    """Record a job republishing every published year (flushes); refused while one runs."""
    require_admin(actor)
    locks.in_turn(db, "job-request")  # a double click makes one job, not two
    if publishing(db):
        raise JobError("En publicering pågår. Vänta tills den är klar och försök igen.")
    years = published_years(db)
    if not years:
        raise JobError("Inget år är publicerat ännu.")
    return _new_job(db, ALL_YEARS, year=years[-1], user_email=actor.email, min_cell=min_cell)


def publish_all_years(db: Session, instrument: Instrument, job: BackgroundJob) -> tuple[str, str]:
    """Republish every published year (``republish.republish_all``): ``(status, message)``."""
    try:
        actor = requester(db, job)
    except Refused as exc:
        return FAILED, str(exc)
    done, stopped = republish_all(
        db, actor, instrument, min_cell=job.min_cell, job_id=job.id, up_to=job.year
    )
    if stopped is not None:
        return FAILED, stopped
    return DONE, _republished_message(done)


# --- the preview snapshot -------------------------------------------------------


def save_snapshot(db: Session, job: BackgroundJob, computed: Computed) -> None:
    """Keep the computed preview (aggregated, disclosure-controlled rows: as a publication
    holds them) under the year's key; older snapshots of the year are dropped. Flushes:
    the worker commits (on SQLite inside ``one_writer``)."""
    body = json.dumps(
        {
            "rows": computed.rows.to_json(orient="table", index=False),
            "groups": computed.groups.to_json(orient="table", index=False),
            "min_cell": computed.min_cell,
            "protect_other": computed.protect_other,
            "waiting": computed.waiting,
        }
    ).encode("utf-8")
    key = f"{SNAPSHOT_PREFIX}{job.year}"
    db.execute(delete(ReportAsset).where(col(ReportAsset.cache_key) == key))
    db.add(
        ReportAsset(
            cache_key=key, name=f"{job.id}.json", content_type="application/json", body=body
        )
    )
    db.flush()


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
    computed = load_snapshot(db, job, year)
    if computed is None or computed.protect_other != protect_other(db):
        return None
    return job, computed


SNAPSHOTS_KEPT = 8  # a worker keeps this many read snapshots (one per year in use)


def load_snapshot(db: Session, job: BackgroundJob, year: int) -> Computed | None:
    """The preview job's snapshot as stored, or None when it is gone.

    Reading it (tens of milliseconds of JSON for a year) is done once per worker for a
    finished job: its snapshot is written by the job and never again, so it is kept in
    memory under the job's id. Whether it is still stored is asked every time (a newer
    preview of the year, or a removal, drops it)."""
    key = (f"{SNAPSHOT_PREFIX}{year}", f"{job.id}.json")
    done = job.status == DONE  # a job still running may yet store it again (a retry)
    found = kept("preview_snapshots", key) if done else None
    if found is not None:
        still = select(col(ReportAsset.name)).where(
            col(ReportAsset.cache_key) == key[0], col(ReportAsset.name) == key[1]
        )
        return _copied(found) if db.execute(still).first() is not None else None
    asset = db.get(ReportAsset, key)
    if asset is None:
        return None
    stored = json.loads(bytes(asset.body).decode("utf-8"))
    computed = Computed(
        year=year,
        rows=_frame(stored["rows"]),
        groups=_frame(stored["groups"]),
        min_cell=int(stored["min_cell"]),
        protect_other=bool(stored["protect_other"]),
        waiting=int(stored.get("waiting", 0)),
    )
    if done:
        keep("preview_snapshots", key, _copied(computed), most=SNAPSHOTS_KEPT)
    return computed


def _copied(computed: Computed) -> Computed:
    """The snapshot with its frames copied (a kept one is never handed out)."""
    return replace(computed, rows=computed.rows.copy(), groups=computed.groups.copy())


def _frame(text: str) -> pd.DataFrame:
    frame = pd.read_json(StringIO(text), orient="table")
    return frame.astype({c: "object" for c in frame.columns if frame[c].dtype == "string"})


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive UTC; PostgreSQL aware: compare both as aware UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
