"""Republishing every published year in one step (after the "redovisa samtliga som NNS"
setting changed), with a preview of what each year's new version would change.

The years are published oldest first, each in its own transaction (``publish``); the
first year that fails stops the run, and the years before it keep their new versions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from indicators import Instrument
from surveys.models import PublicationRow
from surveys.services import locks
from surveys.services import publications as pubs
from surveys.services.actor import Actor


@dataclass
class YearPlan:
    """What republishing one year would change."""

    year: int
    version: int  # the version it would get
    changed: int  # published rows whose shown figures would change
    hidden_before: int
    hidden_after: int


def publishing_now(db: Session) -> bool:
    """Whether a year is being published right now (its lock is held)."""
    return locks.any_held(db)


def plan(db: Session, instrument: Instrument, *, min_cell: int) -> list[YearPlan]:
    """Every published year's republication with the current settings (nothing stored)."""
    out = []
    for year in pubs.published_years(db):
        previous = pubs.latest(db, year)
        if previous is None or not pubs.year_has_answers(db, year):
            continue
        computed = pubs.compute(db, instrument, year=year, min_cell=min_cell, previous=previous)
        before = _shown(db, previous.id)
        now = {
            _key(r): (r["n"], r["positive"], bool(r["suppressed"]))
            for r in computed.rows.to_dict("records")
        }
        changed = sum(1 for k in set(before) | set(now) if before.get(k) != now.get(k))
        out.append(
            YearPlan(
                year=year,
                version=previous.version + 1,
                changed=changed,
                hidden_before=sum(1 for v in before.values() if v[2]),
                hidden_after=int(computed.rows["suppressed"].astype(bool).sum()),
            )
        )
    return out


def _key(r: dict) -> tuple:
    question = r["question"]
    number = pubs.POOLED if question is None or question != question else int(question)
    return (r["scope"], int(r["indicator"]), r["questionnaire"], number, r["subgroup"])


def _shown(db: Session, publication_id: str) -> dict[tuple, tuple]:
    rows = db.execute(
        select(
            col(PublicationRow.scope),
            col(PublicationRow.indicator),
            col(PublicationRow.questionnaire),
            col(PublicationRow.question),
            col(PublicationRow.subgroup),
            col(PublicationRow.n),
            col(PublicationRow.positive),
            col(PublicationRow.suppressed),
        ).where(col(PublicationRow.publication_id) == publication_id)
    ).all()
    return {(s, i, q, n, g): (size, pos, bool(hid)) for s, i, q, n, g, size, pos, hid in rows}


def republish_all(
    db: Session,
    actor: Actor,
    instrument: Instrument,
    *,
    min_cell: int,
    job_id: str | None = None,
    up_to: int | None = None,
) -> tuple[list[int], str | None]:
    """The actor publishes every published year (up to ``up_to``) again, oldest first
    (each ``publish`` checks and audits); stop at the first that fails.

    ``job_id``: the background job doing it, recorded on each publication. A job taken
    up again (its worker died, or lost its lease and still runs) skips the years it has
    already published, so no year gets two new versions from one request.

    Returns the years republished and, when one failed, a Swedish message naming it
    (earlier years keep their new versions; that year and later ones are unchanged)."""
    done: list[int] = []
    for year in pubs.published_years(db):
        if up_to is not None and year > up_to:
            break
        try:
            if job_id is None:
                pubs.publish(db, actor, instrument, year=year, min_cell=min_cell)
            else:
                pubs.publish_once(
                    db, actor, instrument, year=year, min_cell=min_cell, job_id=job_id
                )
        except pubs.PublishError as exc:
            return done, _stopped(year, done, str(exc))
        done.append(year)
    return done, None


def _stopped(year: int, done: list[int], reason: str) -> str:
    before = f" {', '.join(map(str, done))} är publicerade på nytt och ligger kvar." if done else ""
    return (
        f"Publiceringen stannade vid {year}: {reason}{before} {year} och senare år är oförändrade."
    )
