"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import Connection, CursorResult, Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from surveys import clock
from surveys.db import BUSY_TIMEOUT_MS, one_writer, writer_lock
from surveys.models import (
    LinkToken,
    PendingResponse,
    Round,
    RoundState,
    SubmissionKey,
    new_id,
    table_of,
)
from surveys.services.rounds import accepts_answers, hash_token
from surveys.services.settings import MIN_CELL, min_cell_value
from surveys.services.validation import CleanSubmission

_SHUFFLE = random.SystemRandom()
log = logging.getLogger(__name__)
WAL_RETRY_SECONDS = 3600  # how long a thread keeps trying to empty the WAL after a release
_CLEANUP_GUARD = threading.Lock()  # guards _RUNNING and _AGAIN below


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
    default_min_cell: int = 5,
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
    and is released into the answers with others once MIN_CELL (the administrator's
    setting, else ``default_min_cell``) are waiting. ``check_open=False`` is for the
    administrator completing a closed round of an unpublished year on paper (the
    caller checks that rule).
    """
    today = today or clock.today()
    with one_writer(db):
        return _submit(
            db,
            round_=round_,
            clean=clean,
            idempotency_key=idempotency_key,
            token=token,
            today=today,
            default_min_cell=default_min_cell,
            check_open=check_open,
            rendered_at=rendered_at,
            grace_seconds=grace_seconds,
        )


def _submit(
    db: Session,
    *,
    round_: Round,
    clean: CleanSubmission,
    idempotency_key: str,
    token: str | None,
    today: date,
    default_min_cell: int,
    check_open: bool,
    rendered_at: datetime | None,
    grace_seconds: int,
) -> Outcome:
    # Fixed statements on the session's connection: this is the hot path under load.
    conn = db.connection()
    try:
        _run(conn, "key", (hash_token(idempotency_key), today.isoformat()))
    except IntegrityError:
        db.rollback()
        return Outcome.duplicate
    state, waiting_before, setting = _round_state(conn, round_.id)
    late = False
    if state is None or (check_open and not accepts_answers(state, today=today)):
        late = state is not None and closed_within_grace(state, rendered_at, grace_seconds)
        if not late:
            db.rollback()
            return Outcome.closed
    if token is not None and not _use_token(conn, token, round_.id):
        db.rollback()
        return Outcome.token_used
    # Held back until a batch can be released: see release_pending.
    _run(conn, "pending", (new_id(), round_.id, _payload(clean, round_)))
    count_week(db, round_.id, today)
    db.commit()
    release_at = min_cell_value(setting, default_min_cell)
    if waiting_before + 1 >= release_at:
        release_pending(db, min_batch=release_at)
    return Outcome.late if late else Outcome.stored


# The statements every submission runs, written once in the qmark style and given to the
# driver as they are: no SQL is built or compiled per submission.
_HOT_SQL = {
    "key": "INSERT INTO submission_key (key_hash, created_on) VALUES (?, ?)",
    "round": "SELECT state, opens_on, closes_on, (SELECT count(*) FROM pending_response), "
    "(SELECT value FROM setting WHERE key = ?) FROM round WHERE id = ?",
    "pending": "INSERT INTO pending_response (id, round_id, payload) VALUES (?, ?, ?)",
    "week": "INSERT INTO response_count (round_id, week, count) VALUES (?, ?, 1) "
    "ON CONFLICT (round_id, week) DO UPDATE SET count = response_count.count + 1",
    "waiting_rows": "SELECT id, payload FROM pending_response",
    "take": "DELETE FROM pending_response WHERE id = ?",
    "responses": "INSERT INTO response "
    "(id, round_id, questionnaire_key, year, intervention_id, gender) VALUES (?, ?, ?, ?, ?, ?)",
    "answers": "INSERT INTO answer (response_id, question_version_id, code) VALUES (?, ?, ?)",
}
_FORMAT_SQL = {name: sql.replace("?", "%s") for name, sql in _HOT_SQL.items()}


def _run(conn: Connection, name: str, params: tuple | list[tuple]) -> CursorResult:
    """One fixed statement; a list of parameter tuples runs it for each (executemany)."""
    statements = _HOT_SQL if conn.dialect.paramstyle == "qmark" else _FORMAT_SQL
    return conn.exec_driver_sql(statements[name], params)


def _round_state(conn: Connection, round_id: str) -> tuple[SimpleNamespace | None, int, str | None]:
    """The round's state and dates as stored now (a cached round may be stale), with
    how many questionnaires wait for release and the administrator's MIN_CELL, if set."""
    row = _run(conn, "round", (MIN_CELL, round_id)).first()
    if row is None:
        return None, 0, None
    opens_on, closes_on = (_as_date(value) for value in row[1:3])
    state = SimpleNamespace(state=row[0], opens_on=opens_on, closes_on=closes_on)
    return state, row[3], row[4]


def _as_date(value: date | str | None) -> date | None:
    """A DATE column as the driver returns it (SQLite: ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _use_token(conn: Connection, token: str, round_id: str) -> bool:
    """Mark an unused single-use link of this round used; False if it is not there."""
    tokens = table_of(LinkToken)
    result = conn.execute(
        update(tokens)
        .where(
            tokens.c.token_hash == hash_token(token),
            tokens.c.used.is_(False),
            tokens.c.round_id == round_id,
        )
        .values(used=True)
    )
    return result.rowcount == 1


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
    _run(db.connection(), "week", (round_id, f"{year}-W{week:02d}"))


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
    with one_writer(db):
        return _release_pending(db, min_batch=min_batch, round_ids=round_ids)


def _release_pending(db: Session, *, min_batch: int, round_ids: Iterable[str] | None) -> int:
    conn = db.connection()
    if round_ids is None:
        rows = _run(conn, "waiting_rows", ()).all()
    else:
        pending = table_of(PendingResponse)
        ids = list(round_ids)
        if not ids:
            return 0
        query = select(pending.c.id, pending.c.payload).where(pending.c.round_id.in_(ids))
        rows = conn.execute(query).all()
    if not rows or (round_ids is None and len(rows) < min_batch):
        db.rollback()
        return 0
    try:
        deleted = _run(conn, "take", [(row[0],) for row in rows])
        if deleted.rowcount != len(rows):  # a concurrent release took some of them
            db.rollback()
            return 0
        batch = [json.loads(row[1]) for row in rows]
        _SHUFFLE.shuffle(batch)
        insert_responses(
            db, [(_clean(item), item["round"], item["intervention"]) for item in batch]
        )
        db.commit()
    except OperationalError:  # SQLite: another writer released first (stale snapshot)
        db.rollback()
        return 0
    _scrub(db, wait=round_ids is not None)
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


def _scrub(db: Session, *, wait: bool) -> None:
    """Leave no trace of the released rows where the database keeps old row versions.

    ``wait``: a round being closed or published scrubs now. A release on a
    participant's submission hands the scrub to a thread of this process instead:
    the request neither queues behind another worker's VACUUM (PostgreSQL runs one
    per table at a time, each spending up to 5 s trying to shorten the file while
    inserts go on) nor pays for SQLite's checkpoint, which copies every frame written
    since the last one — a publishing job's megabytes included — and waits for fsync.
    """
    bind = db.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name == "postgresql":
        if wait:
            _vacuum_pending(engine)
        else:
            _in_background(f"vacuum {engine.url}", lambda: _vacuum_pending(engine))
    elif engine.dialect.name == "sqlite" and (not wait or not _truncate_wal(engine)):
        _in_background(f"wal {engine.url}", lambda: _truncate_wal_in_turn(engine))


def _vacuum_pending(engine: Engine) -> bool:
    """VACUUM the waiting answers' table (waits for a running VACUUM); True when done."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM pending_response"))
    return True


def _truncate_wal(engine: Engine) -> bool:
    """Checkpoint and empty SQLite's WAL file, unless that means waiting; True if done.

    TRUNCATE must wait for every reader of an older snapshot, and every writer waits
    behind it meanwhile: a long read (a publishing job counting a year) would freeze
    the tablets. So it does not wait at all (busy timeout 0) and reports whether the
    WAL is empty now.
    """
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=0")
        try:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        except OperationalError:
            busy = 1
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return busy == 0


def _truncate_wal_in_turn(engine: Engine) -> bool:
    """``_truncate_wal`` between two submissions' write transactions."""
    with writer_lock(engine):
        return _truncate_wal(engine)


_RUNNING: set[str] = set()  # cleanups a thread of this process is doing
_AGAIN: set[str] = set()  # ... and asked for again meanwhile (released rows it may miss)


def _in_background(key: str, attempt: Callable[[], bool]) -> None:
    """Run ``attempt`` in a thread until it returns True, retrying every second (a
    reader may hold the WAL) for at most WAL_RETRY_SECONDS. One thread per key: a
    request while it runs asks for one more successful pass after the current one."""
    with _CLEANUP_GUARD:
        if key in _RUNNING:
            _AGAIN.add(key)
            return
        _RUNNING.add(key)

    def run() -> None:
        try:
            while True:
                with _CLEANUP_GUARD:
                    _AGAIN.discard(key)
                for _ in range(WAL_RETRY_SECONDS):
                    if attempt():
                        break
                    time.sleep(1)
                with _CLEANUP_GUARD:
                    if key not in _AGAIN:
                        _RUNNING.discard(key)
                        return
        except Exception:  # noqa: BLE001 - the next release tries again; never kill a worker
            log.exception("Städningen efter ett utsläpp misslyckades (%s).", key.split()[0])
        finally:
            with _CLEANUP_GUARD:
                _RUNNING.discard(key)
                _AGAIN.discard(key)

    threading.Thread(target=run, name=f"cleanup-{key.split()[0]}", daemon=True).start()


def insert_responses(
    db: Session,
    items: Iterable[tuple[CleanSubmission, str | None, str | None]],
) -> int:
    """Insert responses and their answer rows in bulk (no commit)."""
    responses: list[tuple] = []
    answers: list[tuple] = []
    for clean, round_id, intervention_id in items:
        response_id = new_id()
        responses.append(
            (response_id, round_id, clean.questionnaire, clean.year, intervention_id, clean.gender)
        )
        answers.extend((response_id, version_id, code) for version_id, code in clean.answers)
    conn = db.connection()
    if responses:
        _run(conn, "responses", responses)
    if answers:
        _run(conn, "answers", answers)
    return len(responses)
