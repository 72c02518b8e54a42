"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from surveys import clock
from surveys.models import (
    Answer,
    LinkToken,
    PendingResponse,
    Response,
    ResponseCount,
    Round,
    RoundState,
    SubmissionKey,
    new_id,
    table_of,
)
from surveys.services.rounds import accepts_answers, hash_token
from surveys.services.validation import CleanSubmission

_SHUFFLE = random.SystemRandom()


class Outcome(enum.Enum):
    stored = "stored"  # committed now
    duplicate = "duplicate"  # the same rendered form was already stored
    token_used = "token_used"  # noqa: S105 - an outcome name, not a secret; the single-use link was used by another form
    closed = "closed"  # the round takes no answers
    late = "late"  # stored: the round closed while the form was open, within the grace period


def submit(
    db: Session,
    *,
    round_: Round,
    clean: CleanSubmission,
    idempotency_key: str,
    token: str | None = None,
    today: date | None = None,
    release_at: int = 5,
    check_open: bool = True,
    rendered_at: datetime | None = None,
    grace_seconds: int = 0,
) -> Outcome:
    """Store one questionnaire of a round, or tell why not; commits or rolls back.

    The idempotency key is inserted first, in the same transaction: a retried
    POST of the same form hits the unique key and is reported as duplicate
    (the first one committed). A single-use token is marked used with a
    conditional UPDATE so two forms cannot both use it. No row links the key
    or the token to the response: the questionnaire waits in ``pending_response``
    and is released into the answers with others once ``release_at`` (MIN_CELL)
    are waiting. ``check_open=False`` is for the administrator completing a closed
    round of an unpublished year on paper (the caller checks that rule).
    """
    today = today or clock.today()
    # Core statements on the session's connection: this is the hot path under load.
    conn = db.connection()
    try:
        conn.execute(
            SubmissionKey.__table__.insert(),  # type: ignore[attr-defined]  # SQLModel types columns as values
            {"key_hash": hash_token(idempotency_key), "created_on": today},
        )
    except IntegrityError:
        db.rollback()
        return Outcome.duplicate
    rounds = Round.__table__.c  # type: ignore[attr-defined]  # SQLModel types columns as values
    state = conn.execute(
        select(rounds.state, rounds.opens_on, rounds.closes_on).where(rounds.id == round_.id)
    ).first()
    late = False
    if state is None or (check_open and not accepts_answers(state, today=today)):
        late = state is not None and closed_within_grace(state, rendered_at, grace_seconds)
        if not late:
            db.rollback()
            return Outcome.closed
    if token is not None:
        tokens = LinkToken.__table__.c  # type: ignore[attr-defined]  # SQLModel types columns as values
        result = conn.execute(
            update(LinkToken.__table__)  # type: ignore[attr-defined]  # SQLModel types columns as values
            .where(
                tokens.token_hash == hash_token(token),
                tokens.used.is_(False),
                tokens.round_id == round_.id,
            )
            .values(used=True)
        )
        if result.rowcount != 1:
            db.rollback()
            return Outcome.token_used
    # Held back until a batch can be released: see release_pending.
    conn.execute(
        table_of(PendingResponse).insert(),
        {"id": new_id(), "round_id": round_.id, "payload": _payload(clean, round_)},
    )
    count_week(db, round_.id, today)
    db.commit()
    if waiting(db) >= release_at:
        release_pending(db, min_batch=release_at)
    return Outcome.late if late else Outcome.stored


def closed_within_grace(state, rendered_at: datetime | None, grace_seconds: int) -> bool:
    """A form rendered while its round was open, posted after it closed, within the grace.

    ``state`` is a row with the round's state and dates; the form could only be
    rendered while the round took answers, so its signed rendering time is enough.
    """
    if rendered_at is None or grace_seconds <= 0 or state.state == RoundState.draft.value:
        return False
    age = (clock.utcnow() - rendered_at).total_seconds()
    return 0 <= age <= grace_seconds


def already_stored(db: Session, idempotency_key: str) -> bool:
    """Whether the form with this key was stored (a resubmitted step of a finished form)."""
    key_hash = hash_token(idempotency_key)
    return db.get(SubmissionKey, key_hash) is not None


def count_week(db: Session, round_id: str, today: date) -> None:
    """Add one to the round's counter for this ISO week (no commit)."""
    year, week, _ = today.isocalendar()
    key = {"round_id": round_id, "week": f"{year}-W{week:02d}"}
    counts = table_of(ResponseCount)
    conn = db.connection()
    updated = conn.execute(
        update(counts)
        .where(counts.c.round_id == key["round_id"], counts.c.week == key["week"])
        .values(count=counts.c.count + 1)
    )
    if updated.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(counts.insert(), {**key, "count": 1})
        except IntegrityError:  # another submission created the row meanwhile
            conn.execute(
                update(counts)
                .where(counts.c.round_id == key["round_id"], counts.c.week == key["week"])
                .values(count=counts.c.count + 1)
            )


def _payload(clean: CleanSubmission, round_: Round) -> str:
    return json.dumps(
        {
            "round": round_.id,
            "intervention": round_.intervention_id,
            "questionnaire": clean.questionnaire,
            "year": clean.year,
            "gender": clean.gender,
            "answers": [[version, code] for version, code in clean.answers],
        },
        separators=(",", ":"),
    )


def release_pending(db: Session, *, min_batch: int, round_ids: Iterable[str] | None = None) -> int:
    """Move waiting questionnaires into the answers, in one shuffled batch; commits.

    Runs in its own transaction, after the submissions that filled the queue were
    committed, and only once at least ``min_batch`` (MIN_CELL) are waiting — or for
    the given rounds whatever their number (a round being closed or published).
    The batch is shuffled and gets new random ids, so the answers' system columns
    and physical order say nothing about which submission (or single-use link)
    they came from. Returns how many were released (0 when another worker took
    the same batch first).
    """
    pending = table_of(PendingResponse)
    conn = db.connection()
    query = select(pending.c.id, pending.c.payload)
    if round_ids is not None:
        ids = list(round_ids)
        if not ids:
            return 0
        query = query.where(pending.c.round_id.in_(ids))
    rows = conn.execute(query).all()
    if not rows or (round_ids is None and len(rows) < min_batch):
        db.rollback()
        return 0
    try:
        deleted = conn.execute(pending.delete().where(pending.c.id.in_([r.id for r in rows])))
        if deleted.rowcount != len(rows):  # a concurrent release took some of them
            db.rollback()
            return 0
        batch = [json.loads(r.payload) for r in rows]
        _SHUFFLE.shuffle(batch)
        insert_responses(
            db, [(_clean(item), item["round"], item["intervention"]) for item in batch]
        )
        db.commit()
    except OperationalError:  # SQLite: another writer released first (stale snapshot)
        db.rollback()
        return 0
    _scrub(db)
    return len(rows)


def waiting(db: Session) -> int:
    """How many questionnaires wait to be released (all rounds)."""
    pending = table_of(PendingResponse)
    return db.connection().execute(select(func.count()).select_from(pending)).scalar_one()


def _clean(item: dict) -> CleanSubmission:
    return CleanSubmission(
        questionnaire=item["questionnaire"],
        year=item["year"],
        gender=item["gender"],
        answers=[(version, code) for version, code in item["answers"]],
    )


def _scrub(db: Session) -> None:
    """Leave no trace of the released rows where the database keeps old row versions."""
    bind = db.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM pending_response"))
    elif engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def insert_responses(
    db: Session,
    items: Iterable[tuple[CleanSubmission, str | None, str | None]],
) -> int:
    """Insert responses and their answer rows in bulk (no commit)."""
    responses: list[dict[str, object]] = []
    answers: list[dict[str, object]] = []
    for clean, round_id, intervention_id in items:
        response_id = new_id()
        responses.append(
            {
                "id": response_id,
                "round_id": round_id,
                "questionnaire_key": clean.questionnaire,
                "year": clean.year,
                "intervention_id": intervention_id,
                "gender": clean.gender,
            }
        )
        answers.extend(
            {"response_id": response_id, "question_version_id": version_id, "code": code}
            for version_id, code in clean.answers
        )
    conn = db.connection()
    if responses:
        conn.execute(Response.__table__.insert(), responses)  # type: ignore[attr-defined]  # SQLModel types columns as values
    if answers:
        conn.execute(Answer.__table__.insert(), answers)  # type: ignore[attr-defined]  # SQLModel types columns as values
    return len(responses)
