"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from surveys.models import (
    Answer,
    LinkToken,
    Response,
    Round,
    RoundState,
    SubmissionKey,
    new_id,
)
from surveys.services.rounds import accepts_answers, hash_token
from surveys.services.validation import CleanSubmission


class Outcome(enum.Enum):
    stored = "stored"  # committed now
    duplicate = "duplicate"  # the same rendered form was already stored
    token_used = "token_used"  # noqa: S105 - an outcome name, not a secret; the single-use link was used by another form
    closed = "closed"  # the round takes no answers
    late = "late"  # stored: the round closed while the form was open, within the grace period


def _key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


def submit(
    db: Session,
    *,
    round_: Round,
    clean: CleanSubmission,
    idempotency_key: str,
    token: str | None = None,
    today: date | None = None,
    rendered_at: datetime | None = None,
    grace_seconds: int = 0,
) -> Outcome:
    """Store one questionnaire of a round, or tell why not; commits or rolls back.

    The idempotency key is inserted first, in the same transaction: a retried
    POST of the same form hits the unique key and is reported as duplicate
    (the first one committed). A single-use token is marked used with a
    conditional UPDATE so two forms cannot both use it. No row links the key
    or the token to the response.
    """
    today = today or date.today()
    # Core statements on the session's connection: this is the hot path under load.
    conn = db.connection()
    try:
        conn.execute(
            SubmissionKey.__table__.insert(),
            {"key_hash": _key_hash(idempotency_key), "created_on": today},
        )
    except IntegrityError:
        db.rollback()
        return Outcome.duplicate
    rounds = Round.__table__.c
    state = conn.execute(
        select(rounds.state, rounds.opens_on, rounds.closes_on).where(rounds.id == round_.id)
    ).first()
    late = False
    if state is None or not accepts_answers(state, today=today):
        late = state is not None and closed_within_grace(state, rendered_at, grace_seconds)
        if not late:
            db.rollback()
            return Outcome.closed
    if token is not None:
        tokens = LinkToken.__table__.c
        result = conn.execute(
            update(LinkToken.__table__)
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
    insert_responses(db, [(clean, round_.id, round_.intervention_id, today)])
    db.commit()
    return Outcome.late if late else Outcome.stored


def closed_within_grace(state, rendered_at: datetime | None, grace_seconds: int) -> bool:
    """A form rendered while its round was open, posted after it closed, within the grace.

    ``state`` is a row with the round's state and dates; the form could only be
    rendered while the round took answers, so its signed rendering time is enough.
    """
    if rendered_at is None or grace_seconds <= 0 or state.state == RoundState.draft.value:
        return False
    age = (datetime.now(UTC) - rendered_at).total_seconds()
    return 0 <= age <= grace_seconds


def already_stored(db: Session, idempotency_key: str) -> bool:
    """Whether the form with this key was stored (a resubmitted step of a finished form)."""
    key_hash = _key_hash(idempotency_key)
    return db.get(SubmissionKey, key_hash) is not None


def insert_responses(
    db: Session,
    items: Iterable[tuple[CleanSubmission, str | None, str | None, date]],
) -> int:
    """Insert responses and their answer rows in bulk (no commit)."""
    responses, answers = [], []
    for clean, round_id, intervention_id, submitted_on in items:
        response_id = new_id()
        responses.append(
            {
                "id": response_id,
                "round_id": round_id,
                "questionnaire_key": clean.questionnaire,
                "year": clean.year,
                "intervention_id": intervention_id,
                "gender": clean.gender,
                "submitted_on": submitted_on,
            }
        )
        answers.extend(
            {"response_id": response_id, "question_version_id": version_id, "code": code}
            for version_id, code in clean.answers
        )
    conn = db.connection()
    if responses:
        conn.execute(Response.__table__.insert(), responses)
    if answers:
        conn.execute(Answer.__table__.insert(), answers)
    return len(responses)
