"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from surveys import clock
from surveys.models import Answer, LinkToken, Response, Round, SubmissionKey, new_id
from surveys.services.rounds import accepts_answers, hash_token
from surveys.services.validation import CleanSubmission


class Outcome(enum.Enum):
    stored = "stored"  # committed now
    duplicate = "duplicate"  # the same rendered form was already stored
    token_used = "token_used"  # noqa: S105 - an outcome name, not a secret; the single-use link was used by another form
    closed = "closed"  # the round takes no answers


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
) -> Outcome:
    """Store one questionnaire of a round, or tell why not; commits or rolls back.

    The idempotency key is inserted first, in the same transaction: a retried
    POST of the same form hits the unique key and is reported as duplicate
    (the first one committed). A single-use token is marked used with a
    conditional UPDATE so two forms cannot both use it. No row links the key
    or the token to the response.
    """
    today = today or clock.today()
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
    if state is None or not accepts_answers(state, today=today):
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
    return Outcome.stored


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
