"""Storing filled-in questionnaires: one transaction, exactly once, anonymously."""

from __future__ import annotations

import enum
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Connection, CursorResult, Engine, delete, func, insert, select, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from indicators.instrument import GENDERS, Instrument
from surveys import clock
from surveys import db as surveys_db
from surveys.db import (
    BUSY_TIMEOUT_MS,
    DriverTransaction,
    app_cache,
    driver_sql,
    driver_transaction,
    one_writer,
    own_transaction,
    writer_lock,
)
from surveys.models import (
    Answer,
    Intervention,
    PendingResponse,
    Response,
    Round,
    RoundState,
    SubmissionKey,
    new_id,
    table_of,
)
from surveys.services import pending_keys
from surveys.services.pending_keys import PendingKeyError
from surveys.services.respondent import instrument
from surveys.services.round_access import RoundLike, accepts_answers, hash_token
from surveys.services.settings import MIN_CELL, min_cell_value
from surveys.services.validation import CleanSubmission

_SHUFFLE = random.SystemRandom()
log = logging.getLogger(__name__)
WAL_RETRY_SECONDS = 3600  # how long a cleanup thread tries (the WAL, a VACUUM) after a release
_CLEANUP_GUARD = threading.Lock()  # guards _RUNNING and _AGAIN below


# Shown instead of "Tack" when a questionnaire could not be sealed (its key not written).
UNAVAILABLE_TEXT = (
    "Svaren kunde inte sparas just nu, på grund av ett fel hos tjänsten. Ingenting har "
    "sparats. Svaren finns kvar här: försök skicka dem igen om en stund."
)


class Outcome(enum.Enum):
    stored = "stored"  # committed now
    duplicate = "duplicate"  # the same rendered form was already stored
    token_used = "token_used"  # noqa: S105 - an outcome name, not a secret; the single-use link was used by another form
    closed = "closed"  # the round takes no answers
    late = "late"  # stored: the round closed while the form was open, within the grace period
    unavailable = "unavailable"  # not stored: the pending key could not be written (say so)


def submit(
    db: Session | None,
    *,
    round_: RoundLike,
    clean: CleanSubmission,
    idempotency_key: str,
    token: str | None = None,
    today: date | None = None,
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
    setting, else the environment's) are waiting. ``check_open=False`` is for the
    administrator completing a closed round of an unpublished year on paper (the
    caller checks that rule). ``db`` None: no ORM session at all (a tablet's POST),
    the questionnaire's transaction runs on a driver connection of the app's engine.
    """
    today = today or clock.today()
    in_session = db is not None and db.in_transaction()
    engine = _engine_of(db) if db is not None else surveys_db.engine()
    payload = _payload(clean, round_)  # before the writer lock: it reads the instrument
    with writer_lock(engine), _transaction(db if in_session else None, engine) as tx:
        outcome, setting, waiting_before = _submit(
            tx,
            round_=round_,
            payload=payload,
            idempotency_key=idempotency_key,
            token=token,
            today=today,
            check_open=check_open,
            rendered_at=rendered_at,
            grace_seconds=grace_seconds,
        )
    release_at = min_cell_value(setting)  # else the environment's MIN_CELL
    if outcome in (Outcome.stored, Outcome.late) and waiting_before + 1 >= release_at:
        try:
            if db is not None and db.in_transaction():  # the caller's session (paper form)
                release_pending(db, min_batch=release_at, round_ids=[round_.id])
            else:
                _release_on_submission(db, engine, round_.id, min_batch=release_at)
        except PendingKeyError as exc:  # stored and acknowledged; closing the round says more
            log.error("Väntande svar kunde inte släppas: %s", exc)
    return outcome


@contextmanager
def _transaction(db: Session | None, engine: Engine) -> Iterator[DriverTransaction | _InSession]:
    """The questionnaire's transaction: its own on a driver connection (a tablet's POST:
    no ORM session needed), or the session's (``db``) when the caller has work in it
    that must be committed together (staff's paper form with its audit entry)."""
    if db is None:
        with driver_transaction(engine) as tx:
            yield tx
        return
    with own_transaction(db):  # commits the caller's work with it (a rollback ends it sooner)
        yield _InSession(db)


class _InSession:
    """``DriverTransaction``'s interface on the session's connection."""

    integrity_error = IntegrityError

    def __init__(self, db: Session):
        self.db = db
        self.dialect = db.get_bind().dialect.name

    def run(self, sql: str, params: tuple | list[tuple] = ()):
        conn = self.db.connection()
        return conn.exec_driver_sql(driver_sql(sql, conn.dialect.paramstyle), params)

    def rollback(self) -> None:
        self.db.rollback()


def _submit(
    tx: DriverTransaction | _InSession,
    *,
    round_: RoundLike,
    payload: str,
    idempotency_key: str,
    token: str | None,
    today: date,
    check_open: bool,
    rendered_at: datetime | None,
    grace_seconds: int,
) -> tuple[Outcome, str | None, int]:
    """The INSERT transaction: (outcome, the administrator's MIN_CELL, how many of the
    round's questionnaires waited before this one). ``payload``: the questionnaire as
    ``_payload`` gives it (padded; sealed here). Commits at the caller's block end
    unless rolled back here."""
    try:
        _hot(tx, "key", (hash_token(idempotency_key), today.isoformat()))
    except tx.integrity_error:
        tx.rollback()
        return Outcome.duplicate, None, 0
    if tx.dialect == "postgresql":  # see _lock_round
        _hot(tx, "lock_shared", ("pending:" + round_.id,))
    state, waiting_before, setting, key_id = _round_state(tx, round_.id)
    late = False
    if state is None or (check_open and not accepts_answers(state, today=today)):
        late = state is not None and closed_within_grace(state, rendered_at, grace_seconds)
        if not late:
            tx.rollback()
            return Outcome.closed, setting, waiting_before
    if token is not None and _hot(tx, "use_token", (hash_token(token), round_.id)).rowcount != 1:
        tx.rollback()  # not an unused single-use link of this round
        return Outcome.token_used, setting, waiting_before
    # Held back, sealed, until a batch of the round can be released: see release_pending.
    try:
        key_id, key = _round_key(tx, round_.id, key_id)
    except PendingKeyError:
        tx.rollback()  # nothing stored: the respondent is told so, never "Tack"
        return Outcome.unavailable, setting, waiting_before
    row_id = new_id()
    sealed = pending_keys.seal(
        key, key_id=key_id, row_id=row_id, round_id=round_.id, payload=payload
    )
    _hot(tx, "pending", (row_id, round_.id, key_id, sealed))
    year, week, _ = today.isocalendar()
    _hot(tx, "week", (round_.id, f"{year}-W{week:02d}"))
    return (Outcome.late if late else Outcome.stored), setting, waiting_before


def _round_key(
    tx: DriverTransaction | _InSession, round_id: str, key_id: str | None
) -> tuple[str, bytes]:
    """The key the round's waiting answers are sealed with, or a new one when none wait
    (or all their key files are gone: those answers stay unreadable, new ones are safe)."""
    if key_id is not None:
        key = pending_keys.load(key_id)
        if key is not None:
            return key_id, key
        # rare: a lost key file; another key of the round's waiting answers may be there
        for (other,) in _hot(tx, "key_ids", (round_id,)).fetchall():
            key = pending_keys.load(other) if other and other != key_id else None
            if key is not None:
                return other, key
        log.error("Nyckeln för en omgångs väntande svar saknas; nya svar får en ny nyckel.")
    key_id = new_id()
    return key_id, pending_keys.create(key_id)


def _lock_round(conn: Connection, round_id: str, *, shared: bool) -> None:
    """PostgreSQL: a lock on the round's waiting answers until the transaction ends.

    Submissions share it, a release takes it alone: a release waits for submissions of
    the round that read its key, and sees their rows, so no row is left behind under a
    key the release destroys. (SQLite: the writer lock already lets one in at a time.)
    """
    if conn.dialect.name == "postgresql":
        _run(conn, "lock_shared" if shared else "lock", ("pending:" + round_id,))


# The statements every submission runs, written once in the qmark style and given to the
# driver as they are: no SQL is built or compiled per submission.
_HOT_SQL = {
    "key": "INSERT INTO submission_key (key_hash, created_on) VALUES (?, ?)",
    "round": "SELECT r.state, r.opens_on, r.closes_on, p.n, "
    "(SELECT value FROM setting WHERE key = ?), p.key_id FROM round r, "
    "(SELECT count(*) AS n, max(key_id) AS key_id FROM pending_response WHERE round_id = ?) p "
    "WHERE r.id = ?",
    "pending": "INSERT INTO pending_response (id, round_id, key_id, payload) VALUES (?, ?, ?, ?)",
    "week": "INSERT INTO response_count (round_id, week, count) VALUES (?, ?, 1) "
    "ON CONFLICT (round_id, week) DO UPDATE SET count = response_count.count + 1",
    "waiting_rows": "SELECT id, key_id, payload FROM pending_response WHERE round_id = ?",
    "take": "DELETE FROM pending_response WHERE id = ?",
    "responses": "INSERT INTO response "
    "(id, round_id, questionnaire_key, year, intervention_id, gender) VALUES (?, ?, ?, ?, ?, ?)",
    "answers": "INSERT INTO answer (response_id, question_version_id, code) VALUES (?, ?, ?)",
    "lock_shared": "SELECT pg_advisory_xact_lock_shared(hashtext(?))",
    "use_token": "UPDATE link_token SET used = TRUE "
    "WHERE token_hash = ? AND used = FALSE AND round_id = ?",
    "key_ids": "SELECT DISTINCT key_id FROM pending_response WHERE round_id = ?",
    "key_ids_all": "SELECT DISTINCT key_id FROM pending_response",
    "lock": "SELECT pg_advisory_xact_lock(hashtext(?))",
}


def _run(conn: Connection, name: str, params: tuple | list[tuple]) -> CursorResult:
    """One fixed statement; a list of parameter tuples runs it for each (executemany)."""
    return conn.exec_driver_sql(driver_sql(_HOT_SQL[name], conn.dialect.paramstyle), params)


def _hot(tx: DriverTransaction | _InSession, name: str, params: tuple | list[tuple]):
    """One of the fixed statements above in a submission's driver transaction."""
    return tx.run(_HOT_SQL[name], params)


def _round_state(
    tx: DriverTransaction | _InSession, round_id: str
) -> tuple[SimpleNamespace | None, int, str | None, str | None]:
    """The round's state and dates as stored now (a cached round may be stale), with
    how many of its questionnaires wait for release, the administrator's MIN_CELL, if
    set, and the key id the waiting ones are sealed with (None when none wait)."""
    row = _hot(tx, "round", (MIN_CELL, round_id, round_id)).fetchone()
    if row is None:
        return None, 0, None, None
    opens_on, closes_on = (_as_date(value) for value in row[1:3])
    state = SimpleNamespace(state=row[0], opens_on=opens_on, closes_on=closes_on)
    return state, row[3], row[4], row[5]


def _as_date(value: date | str | None) -> date | None:
    """A DATE column as the driver returns it (SQLite: ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


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


def _payload(clean: CleanSubmission, round_: RoundLike) -> str:
    """The questionnaire as JSON, padded with spaces to ``padded_length``: every sealed
    payload of a round is as long as every other (see there)."""
    payload = json.dumps(
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
    return payload.ljust(padded_length(clean, round_, len(payload)))


PAD_BLOCK = 256  # a padded payload's length is a multiple of this


def padded_length(clean: CleanSubmission, round_: RoundLike, length: int) -> int:
    """The length a payload of this round's questionnaire is padded to before sealing.

    AES-GCM hides the content, not the length, and a payload's length tells its gender,
    how many questions were left blank, whether the conditional questions were shown and
    how many codes have two digits. A copy of the sealed row (a backup taken while it
    waited, SQLite's WAL beside the single-use link it used) would then pick out the
    released questionnaire it became. So every payload is padded to the longest one the
    instrument allows for the questionnaire and year (every question asked, the widest
    code, the longest gender), rounded up to ``PAD_BLOCK``: the same length for every
    questionnaire of the round. ``length`` (the payload's own) only matters should the
    instrument have changed under the form: then the next block up.
    """
    known = instrument()  # the worker's cached instrument
    cache = app_cache("payload_length")
    ids = len(json.dumps(round_.id)) + len(json.dumps(round_.intervention_id))
    key = (clean.questionnaire, clean.year, ids)
    entry = cache.get(key)
    if entry is None or entry[0] is not known:
        entry = cache[key] = (known, _longest_payload(known, clean, round_))
    longest = max(entry[1], length)
    return -(-longest // PAD_BLOCK) * PAD_BLOCK


def _longest_payload(known: Instrument, clean: CleanSubmission, round_: RoundLike) -> int:
    """The length of the longest payload of the questionnaire and year (0 when the
    instrument no longer has the questionnaire)."""
    try:
        questionnaire = known.questionnaire(clean.questionnaire)
    except KeyError:
        return 0
    widest = max(len(json.dumps(code)) for scale in known.scales.values() for code in scale.codes)
    versions = [
        question.version_for(clean.year) for question in questionnaire.questions_in(clean.year)
    ]
    code = "0" * max(widest, len("null"))
    rows = [f"[{json.dumps(version.id)},{code}]" for version in versions if version]
    longest = max([*(json.dumps(gender) for gender in GENDERS), "null"], key=len)
    frame = json.dumps(
        {
            "round": round_.id,
            "intervention": round_.intervention_id,
            "questionnaire": clean.questionnaire,
            "year": clean.year,
            "gender": None,
            "answers": [],
        },
        separators=(",", ":"),
    )
    return len(frame) - len("null") + len(longest) + len(",".join(rows))


def release_pending(
    db: Session,
    *,
    min_batch: int,
    round_ids: Iterable[str] | None = None,
) -> int:
    """Move waiting questionnaires into the answers, each round in a shuffled batch of
    its own; commits. Returns how many were released.

    A round's batch holds *every* questionnaire of that round that waits, and is
    released only once at least ``min_batch`` (MIN_CELL) wait — or whatever their
    number with ``min_batch=1`` (a round being closed or its year published). A batch
    never mixes rounds, so ordering the batches by transaction id, ``ctid`` or page
    narrows a link to no fewer than MIN_CELL questionnaires of its round. A forced
    rest smaller than the threshold in force (``settings.min_cell_value``) is released
    together with the round's earlier answers, rewritten under new ids in the same
    shuffled batch. The keys the batch was sealed with are destroyed after the commit.
    Raises ``PendingKeyError`` (that round unchanged) when a key file is missing.
    """
    if round_ids is None:
        pending = table_of(PendingResponse)
        round_ids = list(db.connection().execute(select(pending.c.round_id).distinct()).scalars())
        db.rollback()  # SQLite: no read snapshot kept while waiting for the writer lock
    released = 0
    for round_id in sorted(set(round_ids)):
        released += release_round(db, round_id, min_batch=min_batch)
    return released


def release_round(db: Session, round_id: str, *, min_batch: int) -> int:
    """``release_pending`` for one round (0 when fewer than ``min_batch`` wait, or when
    another worker took the same batch first)."""
    with one_writer(db):
        taken = _release_round(db, round_id, min_batch=min_batch)
    if taken is None:
        return 0
    count, key_ids, rewritten = taken
    _shred(db, key_ids, wait=min_batch <= 1)
    _scrub(db, wait=min_batch <= 1, rewritten=rewritten)
    return count


def _release_on_submission(
    db: Session | None, engine: Engine, round_id: str, *, min_batch: int
) -> int:
    """``release_round`` as a participant's submission runs it (a batch of at least
    ``min_batch``, never a forced rest): the same batch, shuffle and rules, in one
    transaction on a driver connection (no ORM session), the keys shredded and the old
    row versions scrubbed by threads afterwards. Stale key files are swept at most
    every ``SWEEP_SECONDS`` per worker (they are only removed after an hour anyway):
    the keys still in use are read in the batch's transaction only then."""
    dbapi = engine.dialect.dbapi
    busy: tuple[type[Exception], ...] = (dbapi.OperationalError,) if dbapi else ()
    try:
        with writer_lock(engine), driver_transaction(engine) as tx:
            taken = _take_batch(tx, db, round_id, min_batch=min_batch)
            if taken is None:
                tx.rollback()
                return 0
            sweep = _sweep_due()
            in_use = {row[0] for row in _hot(tx, "key_ids_all", ()).fetchall()} if sweep else None
    except busy:  # as in _release_round: the round's next submission releases them
        log.warning("En omgångs väntande svar kunde inte släppas just nu (databasen upptagen).")
        return 0
    count, key_ids = taken
    where = pending_keys.folder()
    # one thread for both: the keys are destroyed first, then the old row versions go
    _scrub_engine(engine, wait=False, first=lambda: _destroy_and_sweep(where, key_ids, in_use))
    return count


def _take_batch(
    tx: DriverTransaction, db: Session | None, round_id: str, *, min_batch: int
) -> tuple[int, set[str]] | None:
    """Every waiting questionnaire of the round moved into the answers in a shuffled
    batch, in ``tx`` (committed by the caller): (released, key ids used), or None when
    fewer than ``min_batch`` wait or another worker took some of them first."""
    if tx.dialect == "postgresql":  # see _lock_round
        _hot(tx, "lock", ("pending:" + round_id,))
    rows = _hot(tx, "waiting_rows", (round_id,)).fetchall()
    if not rows or len(rows) < min_batch:
        return None
    # PendingKeyError: the caller rolls back (the round's name read for it by a session)
    batch = _unsealed(db or surveys_db.session, round_id, rows)
    if _hot(tx, "take", [(row[0],) for row in rows]).rowcount != len(rows):
        return None  # a concurrent release took some of them
    responses = [_response_row(item) for item in batch]
    _SHUFFLE.shuffle(responses)
    _hot(tx, "responses", [tuple(response.values()) for response, _ in responses])
    answers = [answer for _, rows_ in responses for answer in rows_]
    if answers:
        _hot(tx, "answers", answers)
    return len(rows), {row[1] for row in rows if row[1]}


def _engine_of(db: Session) -> Engine:
    bind = db.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


SWEEP_SECONDS = 300.0  # how often a worker looks for stale key files (pending_keys.sweep)


def _sweep_due() -> bool:
    """Whether this release should sweep stale key files (per application and worker;
    the first release of a worker always does). The cache's clock is ``monotonic``."""
    cache = app_cache("release_sweep")
    now = monotonic()
    last = cache.get("at")
    if last is not None and now - last < SWEEP_SECONDS:
        return False
    cache["at"] = now
    return True


monotonic = time.monotonic  # the sweep's clock (tests move it instead of sleeping)


def _release_round(
    db: Session, round_id: str, *, min_batch: int
) -> tuple[int, set[str], bool] | None:
    """The release's transaction: (released, key ids used, earlier answers rewritten)."""
    conn = db.connection()
    _lock_round(conn, round_id, shared=False)
    rows = _run(conn, "waiting_rows", (round_id,)).all()
    if not rows or len(rows) < min_batch:
        db.rollback()
        return None
    try:
        batch = _unsealed(db, round_id, rows)
    except PendingKeyError:
        db.rollback()
        raise
    try:
        deleted = _run(conn, "take", [(row[0],) for row in rows])
        if deleted.rowcount != len(rows):  # a concurrent release took some of them
            db.rollback()
            return None
        responses = [_response_row(item) for item in batch]
        # a forced rest (close, publish) smaller than MIN_CELL joins the earlier answers
        rewrite = min_batch <= 1 and len(rows) < min_cell_value(_setting(conn))
        if rewrite:
            responses += _take_released(conn, round_id)
        _SHUFFLE.shuffle(responses)
        with own_transaction(db):  # a release batch is a transaction of its own
            _insert_rows(conn, responses)
    except OperationalError:  # SQLite: another writer released first (stale snapshot)
        db.rollback()
        return None
    return len(rows), {row[1] for row in rows if row[1]}, rewrite


def _setting(conn: Connection) -> str | None:
    """The administrator's MIN_CELL, if set."""
    return conn.execute(
        text("SELECT value FROM setting WHERE key = :key"), {"key": MIN_CELL}
    ).scalar()


def _unsealed(
    db: Session | Callable[[], Session], round_id: str, rows: Sequence[Row] | Sequence[tuple]
) -> list[dict]:
    """The waiting questionnaires opened with their keys; ``PendingKeyError`` names the
    round and how many cannot be opened when a key file is missing (``db`` may be a
    function giving the session, called only then)."""
    keys: dict[str, bytes | None] = {}
    missing = 0
    items = []
    for row_id, key_id, payload in rows:
        if key_id is None:  # sealed before pending keys existed (migration 0011)
            items.append(json.loads(payload))
            continue
        if key_id not in keys:
            keys[key_id] = pending_keys.load(key_id)
        key = keys[key_id]
        if key is None:
            missing += 1
            continue
        items.append(
            json.loads(
                pending_keys.unseal(
                    key, key_id=key_id, row_id=row_id, round_id=round_id, sealed=payload
                )
            )
        )
    if missing:
        session = db if isinstance(db, Session) else db()
        raise PendingKeyError(missing_key_message(_round_name(session, round_id), missing))
    return items


def missing_key_message(round_label: str, count: int) -> str:
    """Short enough for a flash message (200 characters) with an ordinary round name."""
    return (
        f"Ingenting har ändrats: nyckeln till {count} väntande svar i mätomgången "
        f"{round_label} saknas (instance/pending-keys). Lägg tillbaka den från "
        "säkerhetskopian, eller se surveys pending."
    )


def unreadable(db: Session) -> dict[str, tuple[int, int]]:
    """Rounds with waiting answers: (waiting, of them unreadable: key file missing)."""
    pending = table_of(PendingResponse)
    counts: dict[str, tuple[int, int]] = {}
    rows = db.execute(
        select(pending.c.round_id, pending.c.key_id, func.count()).group_by(
            pending.c.round_id, pending.c.key_id
        )
    ).all()
    for round_id, key_id, count in rows:
        lost = count if key_id is not None and pending_keys.load(key_id) is None else 0
        waiting_, lost_ = counts.get(round_id, (0, 0))
        counts[round_id] = (waiting_ + count, lost_ + lost)
    return counts


def forget_unreadable(db: Session, round_id: str) -> int:
    """Remove a round's waiting answers whose key file is missing (flush only); how many.

    They cannot be read by anyone any more; removing them lets the round be closed and
    its year published. The weekly counters keep them: they were received.
    """
    pending = table_of(PendingResponse)
    keys = db.execute(
        select(pending.c.key_id)
        .where(pending.c.round_id == round_id, pending.c.key_id.is_not(None))
        .distinct()
    ).scalars()
    lost = [key_id for key_id in keys if pending_keys.load(key_id) is None]
    if not lost:
        return 0
    where = (pending.c.round_id == round_id, pending.c.key_id.in_(lost))
    count = db.execute(select(func.count()).select_from(pending).where(*where)).scalar_one()
    db.execute(delete(pending).where(*where))
    db.flush()
    return count


def round_name(db: Session, round_id: str) -> str:
    """The round as staff know it (for messages)."""
    return _round_name(db, round_id)


def check_release(db: Session, round_ids: Iterable[str]) -> None:
    """Before closing or publishing: raise ``PendingKeyError`` (nothing changed) when keys
    cannot be removed, or when a key file of a round's waiting answers is missing
    (naming the round and how many answers)."""
    ids = list(round_ids)
    if not ids:
        return
    pending = table_of(PendingResponse)
    rows = db.execute(
        select(pending.c.round_id, pending.c.key_id, func.count())
        .where(pending.c.round_id.in_(ids), pending.c.key_id.is_not(None))
        .group_by(pending.c.round_id, pending.c.key_id)
    ).all()
    if not rows:
        return
    pending_keys.check_writable()
    missing: dict[str, int] = {}
    for round_id, key_id, count in rows:
        if pending_keys.load(key_id) is None:
            missing[round_id] = missing.get(round_id, 0) + count
    if missing:
        round_id, count = sorted(missing.items())[0]
        raise PendingKeyError(missing_key_message(_round_name(db, round_id), count))


def _round_name(db: Session, round_id: str) -> str:
    """The round as staff know it: questionnaire, year and insats."""
    round_ = db.get(Round, round_id)
    if round_ is None:
        return round_id
    intervention = db.get(Intervention, round_.intervention_id) if round_.intervention_id else None
    place = intervention.name if intervention else "förbundet"
    return f'"{round_.questionnaire_key} {round_.year}, {place}"'


# The columns of a released questionnaire, in the order of _HOT_SQL["responses"].
_RESPONSE_COLUMNS = ["id", "round_id", "questionnaire_key", "year", "intervention_id", "gender"]


def _response_row(item: dict) -> tuple[dict, list[tuple]]:
    """A released questionnaire as a response row (new random id) and its answers."""
    response_id = new_id()
    response = {
        "id": response_id,
        "round_id": item["round"],
        "questionnaire_key": item["questionnaire"],
        "year": item["year"],
        "intervention_id": item["intervention"],
        "gender": item["gender"],
    }
    return response, [(response_id, version, code) for version, code in item["answers"]]


def _take_released(conn: Connection, round_id: str) -> list[tuple[dict, list[tuple]]]:
    """Remove the round's released answers and return them with new ids, to be written
    again in one shuffled batch with a small rest (every column kept as it was)."""
    responses = table_of(Response)
    answers = table_of(Answer)
    of_round = select(responses.c.id).where(responses.c.round_id == round_id)
    codes: dict[str, list[tuple]] = {}
    kept = select(answers.c.response_id, answers.c.question_version_id, answers.c.code)
    for response_id, version_id, code in conn.execute(
        kept.where(answers.c.response_id.in_(of_round))
    ):
        codes.setdefault(response_id, []).append((version_id, code))
    taken = []
    for row in conn.execute(select(responses).where(responses.c.round_id == round_id)).mappings():
        response = dict(row)
        response["id"] = new_id()
        taken.append(
            (
                response,
                [(response["id"], *answer) for answer in codes.get(row["id"], [])],
            )
        )
    conn.execute(delete(answers).where(answers.c.response_id.in_(of_round)))
    conn.execute(delete(responses).where(responses.c.round_id == round_id))
    return taken


def _insert_rows(conn: Connection, items: list[tuple[dict, list[tuple]]]) -> None:
    """Insert responses and answers in the given (shuffled) order, in bulk."""
    if not items:
        return
    columns = set(items[0][0])
    if all(list(response) == _RESPONSE_COLUMNS for response, _ in items):  # the hot path
        _run(conn, "responses", [tuple(response.values()) for response, _ in items])
    elif all(set(response) == columns for response, _ in items):
        conn.execute(insert(table_of(Response)), [response for response, _ in items])
    else:  # rewritten rows carry columns a fresh one leaves to their defaults
        for response, _ in items:
            conn.execute(insert(table_of(Response)), response)
    answers = [answer for _, rows in items for answer in rows]
    if answers:
        _run(conn, "answers", answers)


def _shred(db: Session, key_ids: set[str], *, wait: bool) -> None:
    """Destroy the released batch's keys, and stale ones no waiting answer uses.

    ``wait``: a round being closed or published shreds now. A release on a
    participant's submission leaves it to a thread (two fsyncs the request need not
    wait for); should the process die first, the sweep of a later release removes
    the key (pending_keys.sweep).
    """
    where = pending_keys.folder()
    pending = table_of(PendingResponse)
    in_use = set(db.connection().execute(select(pending.c.key_id).distinct()).scalars())
    db.rollback()  # SQLite: no read snapshot kept
    if wait:
        _destroy_and_sweep(where, key_ids, in_use)
    else:
        _shred_in_background(where, key_ids, in_use)


def _shred_in_background(where: Path, key_ids: set[str], in_use: set[str] | None) -> None:
    """``_destroy_and_sweep`` in a thread (the respondent does not wait for two fsyncs)."""
    threading.Thread(
        target=_destroy_and_sweep, args=(where, key_ids, in_use), name="cleanup-keys", daemon=True
    ).start()


def _destroy_and_sweep(where: Path, key_ids: set[str], in_use: set[str] | None) -> None:
    """Destroy the batch's keys; with ``in_use`` (the key ids waiting answers use),
    also the stale key files no waiting answer uses (pending_keys.sweep)."""
    try:
        pending_keys.destroy(key_ids, where)
        if in_use is not None:
            pending_keys.sweep({key_id for key_id in in_use if key_id}, where)
    except Exception:  # noqa: BLE001 - the next release sweeps again; never kill a worker
        log.exception("Använda nycklar för väntande svar kunde inte tas bort.")


def waiting(db: Session) -> int:
    """How many questionnaires wait to be released (all rounds)."""
    pending = table_of(PendingResponse)
    return db.connection().execute(select(func.count()).select_from(pending)).scalar_one()


def _scrub(db: Session, *, wait: bool, rewritten: bool = False) -> None:
    """Leave no trace of the released rows where the database keeps old row versions.

    ``wait``: a round being closed or published scrubs now. A release on a
    participant's submission hands the scrub to a thread of this process instead:
    the request neither queues behind another worker's VACUUM (PostgreSQL runs one
    per table at a time) nor pays for SQLite's checkpoint, which copies every frame
    written since the last one — a publishing job's megabytes included — and waits
    for fsync.
    ``rewritten``: the round's earlier answers were written again (a small rest was
    merged into them); their old row versions, with the old batches' transaction ids,
    leave the answers' tables too.
    """
    _scrub_engine(_engine_of(db), wait=wait, rewritten=rewritten)


def _scrub_engine(
    engine: Engine,
    *,
    wait: bool,
    rewritten: bool = False,
    first: Callable[[], None] | None = None,
) -> None:
    """``_scrub`` on an engine; ``first`` (with ``wait=False``): work the cleanup's
    thread does before it (a release's key shredding), in a thread of its own should no
    cleanup thread be started."""
    if engine.dialect.name == "postgresql":
        tables = ("pending_response", "response", "answer") if rewritten else ("pending_response",)
        # a thread per set of tables: asked again, it runs its own tables' VACUUM again
        key = f"vacuum {'+'.join(tables)} {engine.url}"
        if not wait:
            _in_background(key, lambda: _vacuum(engine, tables), first)
        elif not _vacuum(engine, tables):  # a reader's snapshot keeps them: retried
            _in_background(key, lambda: _vacuum(engine, tables))
    elif engine.dialect.name == "sqlite" and (not wait or not _truncate_wal(engine)):
        _in_background(f"wal {engine.url}", lambda: _truncate_wal_in_turn(engine), first)
    elif first is not None:
        threading.Thread(target=first, name="cleanup-keys", daemon=True).start()


VACUUM_SECONDS = 5  # one VACUUM's limit; a rest is tried again a second later


def _vacuum(engine: Engine, tables: tuple[str, ...]) -> bool:
    """VACUUM the tables; True when no dead row version is left in them, False when one
    is or the VACUUM ran out of time (the caller tries again a second later).

    FREEZE, because a plain VACUUM skips a page another connection has pinned at that
    moment (a scan, an insert beside the rows) and leaves its dead row versions, data
    and all, until the next VACUUM; FREEZE makes it aggressive, and an aggressive
    VACUUM waits for the pin instead. It skips only pages already frozen, so the first
    one after an upgrade reads the whole table once.

    ``VACUUM_SECONDS``, because that wait has no end of its own: a reader with an open
    cursor (another tool's) holds its pin until its transaction ends, and a VACUUM
    waiting for it would hold a close, and every later VACUUM of the table, as long.
    What a cancelled VACUUM did is kept; the next one goes on from there.

    TRUNCATE false, because giving empty pages at the end back to the system needs
    the table to itself: any reader (a report reading the answers) made each VACUUM
    try for 5 s, and a close wait as long. Autovacuum still does it.

    No VACUUM removes a row version that a snapshot older than its deletion may still
    see (a long read, e.g. a publishing job). The statistics VACUUM leaves count those,
    and what it skipped, as dead (PostgreSQL 15: recently dead plus missed): hence the
    check afterwards, of the tables VACUUM found (``to_regclass``: the same search
    path). Without statistics (``track_counts`` off) there is nothing to check.
    """
    dbapi = engine.dialect.dbapi
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"SET statement_timeout = {VACUUM_SECONDS * 1000}")
        try:
            for table in tables:
                conn.exec_driver_sql(f"VACUUM (FREEZE, TRUNCATE false) {table}")
        except OperationalError as exc:
            if dbapi is None or not isinstance(exc.orig, dbapi.errors.QueryCanceled):
                raise
            return False  # out of time: a pin, or another VACUUM of the table
        finally:
            conn.exec_driver_sql("RESET statement_timeout")
        left = conn.execute(
            text(
                "SELECT CASE WHEN current_setting('track_counts')::boolean "
                "THEN COALESCE(SUM(n_dead_tup), 0) ELSE 0 END FROM pg_stat_user_tables "
                "WHERE relid IN (SELECT to_regclass(name) FROM unnest(CAST(:tables AS text[])) "
                "AS name)"
            ),
            {"tables": list(tables)},
        ).scalar_one()
    return left == 0


def _truncate_wal(engine: Engine) -> bool:
    """Checkpoint and empty SQLite's WAL file, unless that means waiting; True if done.

    TRUNCATE must wait for every reader of an older snapshot, and every writer waits
    behind it meanwhile: a long read (a publishing job counting a year) would freeze
    the tablets. So it does not wait at all (busy timeout 0) and reports whether the
    WAL is empty now. Three PRAGMAs on a pooled driver connection (after every
    release on a submission: no SQLAlchemy connection needed).
    """
    dbapi = engine.dialect.dbapi
    busy_error: tuple[type[Exception], ...] = (dbapi.OperationalError,) if dbapi else ()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except busy_error:
            busy = 1
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        raw.close()
    return busy == 0


def _truncate_wal_in_turn(engine: Engine) -> bool:
    """``_truncate_wal`` between two submissions' write transactions."""
    with writer_lock(engine):
        return _truncate_wal(engine)


_RUNNING: set[str] = set()  # cleanups a thread of this process is doing
_AGAIN: set[str] = set()  # ... and asked for again meanwhile (released rows it may miss)


def _in_background(
    key: str, attempt: Callable[[], bool], first: Callable[[], None] | None = None
) -> None:
    """Run ``attempt`` in a thread until it returns True, retrying every second (a
    reader may hold the WAL) for at most WAL_RETRY_SECONDS. One thread per key: a
    request while it runs asks for one more successful pass after the current one.
    ``first`` runs once before the attempts, in the same thread (or, when that thread
    is already running, in a thread of its own)."""
    with _CLEANUP_GUARD:
        running = key in _RUNNING
        if running:
            _AGAIN.add(key)
        else:
            _RUNNING.add(key)
    if running:
        if first is not None:
            threading.Thread(target=first, name="cleanup-keys", daemon=True).start()
        return

    def run() -> None:
        try:
            if first is not None:
                first()  # never raises: see _destroy_and_sweep
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
            # Only here: after the return above, a newer thread may own the key already.
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
