"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from datetime import date

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

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
    today = today or date.today()
    try:
        db.execute(
            insert(SubmissionKey).values(key_hash=_key_hash(idempotency_key), created_on=today)
        )
        db.flush()
    except IntegrityError:
        db.rollback()
        return Outcome.duplicate
    fresh = db.get(Round, round_.id)
    if fresh is None or not accepts_answers(fresh, today=today):
        db.rollback()
        return Outcome.closed
    if token is not None:
        result = db.execute(
            update(LinkToken)
            .where(
                LinkToken.token_hash == hash_token(token),
                LinkToken.used.is_(False),
                LinkToken.round_id == round_.id,
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
    if responses:
        db.execute(insert(Response), responses)
    if answers:
        db.execute(insert(Answer), answers)
    return len(responses)
