"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from surveys.models import LinkToken, Round, new_id
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
    # Fixed SQL straight to the driver on the session's connection: this is the hot path
    # under load, and compiling Core statements cost more than running them (bench.submit).
    conn = db.connection()
    try:
        _run(conn, _INSERT_KEY, {"key_hash": _key_hash(idempotency_key), "on": _day(conn, today)})
    except IntegrityError:
        db.rollback()
        return Outcome.duplicate
    state = _run(conn, _ROUND_STATE, {"id": round_.id}).first()
    if state is not None and conn.dialect.name == "sqlite":
        state = _RoundState(state[0], *(_from_day(d) for d in state[1:]))
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
    if conn.dialect.name == "sqlite":
        for row in responses:
            row["submitted_on"] = _day(conn, row["submitted_on"])
    if responses:
        _run(conn, _INSERT_RESPONSE, responses)
    if answers:
        _run(conn, _INSERT_ANSWER, answers)
    return len(responses)


# -- fixed SQL for the submit path ------------------------------------------------
# Written with :name placeholders (sqlite3's own named style); psycopg gets %(name)s.
_INSERT_KEY = "INSERT INTO submission_key (key_hash, created_on) VALUES (:key_hash, :on)"
_ROUND_STATE = "SELECT state, opens_on, closes_on FROM round WHERE id = :id"
_INSERT_RESPONSE = (
    "INSERT INTO response (id, round_id, questionnaire_key, year, intervention_id, gender, "
    "submitted_on) VALUES (:id, :round_id, :questionnaire_key, :year, :intervention_id, "
    ":gender, :submitted_on)"
)
_INSERT_ANSWER = (
    "INSERT INTO answer (response_id, question_version_id, code) "
    "VALUES (:response_id, :question_version_id, :code)"
)
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_PYFORMAT: dict[str, str] = {}


class _RoundState(NamedTuple):
    state: str
    opens_on: date | None
    closes_on: date | None


def _run(conn: Connection, sql: str, params: dict | list[dict]):
    if conn.dialect.paramstyle == "pyformat":
        if sql not in _PYFORMAT:
            _PYFORMAT[sql] = _PLACEHOLDER.sub(r"%(\1)s", sql)
        sql = _PYFORMAT[sql]
    return conn.exec_driver_sql(sql, params)


def _day(conn: Connection, day: date) -> date | str:
    """SQLite keeps dates as ISO text (as SQLAlchemy's Date does); others get a date."""
    return day.isoformat() if conn.dialect.name == "sqlite" else day


def _from_day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value
