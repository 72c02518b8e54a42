"""Which background jobs are under way: the kinds and states of a ``background_job`` row,
and the read-only questions asked of them.

Apart from ``services.jobs`` (which imports ``publications`` to do the work) so that
``publications`` can ask whether a year is being published (the övriga setting may not
change then) without an import cycle. Reads only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlmodel import Session, col

from surveys import clock
from surveys.models import BackgroundJob
from surveys.services import locks

PUBLISH = "publish"
PREVIEW = "preview"
ALL_YEARS = "publish_all"  # republish every published year (after the övriga setting changed)
NATIONAL = "publish_national"  # NNS's instance: a national year (surveys.national.publish)
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)
MAX_ATTEMPTS = 3  # claims before a job whose workers keep dying is given up


def active_job(
    db: Session, year: int, *, kind: str = PUBLISH, now: datetime | None = None
) -> BackgroundJob | None:
    """The year's job of a kind that a worker does or will do (reads only).

    A job whose worker died counts while another worker will take it up again; one
    that has used up its attempts does not (the next worker gives it up)."""
    now = now or clock.utcnow()
    return (
        db.execute(
            select(BackgroundJob)
            .where(
                col(BackgroundJob.year) == year,
                col(BackgroundJob.kind) == kind,
                or_(
                    col(BackgroundJob.status) == QUEUED,
                    and_(
                        col(BackgroundJob.status) == RUNNING,
                        or_(
                            col(BackgroundJob.lease_until) >= now,
                            col(BackgroundJob.attempts) < MAX_ATTEMPTS,
                        ),
                    ),
                ),
            )
            .order_by(col(BackgroundJob.requested_at))
        )
        .scalars()
        .first()
    )


def year_being_published(db: Session, year: int, *, now: datetime | None = None) -> bool:
    """Whether a job will publish ``year``: its own publishing job, or a job republishing
    every published year (which takes this one too), queued or running (reads only)."""
    return active_job(db, year, now=now) is not None or _any_active(db, (ALL_YEARS,), now)


def publishing(db: Session, *, now: datetime | None = None) -> bool:
    """Whether any year is being published now: a year's lock held (``services.locks``),
    or a publishing job a worker does or will do (reads only)."""
    return locks.any_held(db) or _any_active(db, (PUBLISH, ALL_YEARS), now)


def _any_active(db: Session, kinds: tuple[str, ...], now: datetime | None) -> bool:
    """Whether a job of these kinds is one a worker does or will do (``active_job``)."""
    return any(
        active_job(db, job.year, kind=job.kind, now=now) is not None
        for job in db.execute(
            select(BackgroundJob).where(
                col(BackgroundJob.kind).in_(kinds), col(BackgroundJob.status).in_(ACTIVE)
            )
        ).scalars()
    )
