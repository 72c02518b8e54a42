"""Engine and per-request sessions."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, create_engine

T = TypeVar("T")
log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a statement waits for a lock before it fails


def make_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and foreign keys.

    The pool hands out the connection given back last (LIFO): a worker's requests then
    mostly run on one warm connection (SQLite's page cache stays valid after its own
    writes; PostgreSQL's prepared statements are reused), and spare ones stay idle."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **_lifo(url)
        )

        @event.listens_for(engine, "do_connect")
        def _existing_file(_dialect, _record, cargs, cparams):  # pragma: no cover - trivial
            _open_existing_only(cargs, cparams)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA synchronous={synchronous}")  # a Settings value
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (released pending answers) are overwritten, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_use_lifo=True)


# What the driver is told when the database file is not there (cli_types reads it).
MISSING_DATABASE = "database file does not exist"


def _open_existing_only(cargs: list, cparams: dict) -> None:
    """Open the SQLite file only if it is there (``mode=rw``), never create it: a command
    run before ``surveys db upgrade`` (which creates it through Alembic's own engine) or
    a server started too early said "Kör surveys db upgrade först" and left an empty
    database behind, at the end of a symlink too. An in-memory database, and a ``file:``
    URI (it says itself how to open), are opened as given."""
    if cparams.get("uri"):
        return
    database = cargs[0] if cargs else cparams.get("database")
    if not database or database == ":memory:":
        return
    path = Path(database).absolute()
    if not path.exists() and path.parent.is_dir():  # a symlink to nothing too
        raise sqlite3.OperationalError(MISSING_DATABASE)
    # (no folder: SQLite's own "unable to open", an outage a worker waits out, as a
    # volume not mounted yet)
    where = f"{path.as_uri()}?mode=rw"  # should it go meanwhile: refused, not made again
    if cargs:
        cargs[0] = where
    else:
        cparams["database"] = where
    cparams["uri"] = True


def _lifo(url: str) -> dict[str, bool]:
    """``pool_use_lifo`` where the pool takes it: a file's QueuePool, not the single
    connection of an in-memory SQLite database."""
    parsed = make_url(url)
    pool = parsed.get_dialect().get_pool_class(parsed)  # type: ignore[attr-defined]  # SQLite's dialects have it
    return {"pool_use_lifo": True} if issubclass(pool, QueuePool) else {}


def init_app(app: Flask) -> None:
    app.extensions["engine"] = make_engine(
        app.config["DATABASE_URL"], synchronous=app.config["SQLITE_SYNCHRONOUS"]
    )
    app.after_request(_commit_at_boundary)
    app.teardown_appcontext(_close_session)


def _commit_at_boundary(response):
    """The request's one commit: services only flush, the request boundary commits.

    A response below 400 commits what the view's services wrote (with their audit
    entries, in the same transaction); an error response or an exception rolls
    everything back (teardown closes the session without committing).
    """
    db_session = g.get("db_session")
    if db_session is not None and db_session.in_transaction():
        if response.status_code < 400:
            db_session.commit()
        else:
            db_session.rollback()
    return response


def engine() -> Engine:
    return current_app.extensions["engine"]


# --- what services may know of the running app (they import no Flask themselves) ----


def app_cache(name: str) -> dict:
    """A dict kept per application (each test's fresh app starts empty): services' caches."""
    return current_app.extensions.setdefault(name, {})


_KEPT_LOCK = threading.Lock()  # a worker's threads share what it keeps


def kept(name: str, key: Hashable) -> Any:
    """What this worker keeps under ``key`` in ``name`` (see ``keep``), or None."""
    return app_cache(name).get(key) if has_app_context() else None


def keep(name: str, key: Hashable, value: Any, *, most: int) -> None:
    """Keep ``value`` in this worker's memory under ``key``, at most ``most`` in ``name``
    (the oldest dropped first). Only for values that are a function of ``key`` alone:
    a key made of ids of rows that are never changed once written, so several
    instances keep the same thing and nothing kept can go stale. Callers keep and hand
    out copies of anything mutable (data frames)."""
    if not has_app_context():
        return
    found = app_cache(name)
    with _KEPT_LOCK:  # two threads evicting at once would both take the same oldest
        while len(found) >= most:
            del found[next(iter(found))]  # dicts keep insertion order: the oldest first
        found[key] = value


def application() -> Flask:
    """The running application itself, not the ``current_app`` proxy: for a thread or a
    loop that outlives the request or command that started it."""
    # _get_current_object is Flask's documented way to the object behind its proxies;
    # the proxy is typed as Flask, so mypy does not know the method.
    return current_app._get_current_object()  # type: ignore[attr-defined]  # noqa: SLF001


def configured(name: str, default: Any) -> Any:
    """The running application's setting ``name`` (config.Settings), ``default`` outside
    an application (a pure function called from a script)."""
    return current_app.config[name] if has_app_context() else default


def instance_folder_name() -> str | None:
    """The running application's instance folder; None outside an application."""
    return current_app.instance_path if has_app_context() else None


def session() -> Session:
    """The request's session (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


@contextmanager
def own_transaction(
    db_session: Session | None = None, *, bind: Engine | None = None
) -> Iterator[Session]:
    """The one named helper for a transaction of its own, beside the request's boundary.

    Commits what the block wrote when it ends, rolls it back on any error. Given a
    session (the request's), it commits that session's work so far; without one it
    opens a fresh session on ``bind`` (default: the app's engine) and closes it after.
    Services otherwise only flush; the few callers are named in the README's section on
    services and transactions: a paper form's submission with its audit entry and each
    release batch (services/submissions.py), the publication before its year lock is
    released (services/publications.py), links saved before mail and the outcome after,
    a refused kiosk form's counter, the job worker's claim/heartbeat/outcome and demo
    data. (A CLI command's unit of work is ``command_boundary`` below.)
    """
    own = db_session is None
    current = Session(bind or engine(), expire_on_commit=False) if own else db_session
    assert current is not None
    try:
        yield current
        current.commit()
    except BaseException:
        current.rollback()
        raise
    finally:
        if own:
            current.close()


@contextmanager
def own_connection(bind: Engine | None = None) -> Iterator[Connection]:
    """``own_transaction`` for Core statements: a connection whose work is committed when
    the block ends (the sign-in throttle's counters, kept whatever the request does)."""
    with own_transaction(bind=bind) as session:
        yield session.connection()


def command_boundary(callback: Callable[..., T]) -> Callable[..., T]:
    """A CLI command's one unit of work: what its services flushed into the command's
    session (``session()``) is committed when the command returns, rolled back when it
    fails (a Swedish refusal, an abort at a question). Wrapping twice is harmless."""
    if getattr(callback, "surveys_command_boundary", False):
        return callback

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            result = callback(*args, **kwargs)
        except BaseException:
            _end_command(commit=False)
            raise
        _end_command(commit=True)
        return result

    run.surveys_command_boundary = True  # type: ignore[attr-defined]
    return run


def _end_command(*, commit: bool) -> None:
    db_session = g.get("db_session") if has_app_context() else None
    if db_session is None or not db_session.in_transaction():
        return
    if commit:
        db_session.commit()
    else:
        db_session.rollback()


# --- what lives outside the database but belongs with a row -----------------------


def after_commit(
    db_session: Session,
    done: Callable[[], None],
    *,
    undone: Callable[[], None] | None = None,
) -> None:
    """Run ``done`` once the session's transaction has committed, ``undone`` if it ends
    any other way (a rollback, a close): for a file that belongs with a row (a recording
    and its audit entry), so neither is there without the other. Both run outside the
    transaction, in the order given; an error in one is logged, never raised into the
    commit's caller (its rows are stored by then), and the ``done`` after it do not run
    (a command's "klart" registered after its file). Starts the session's transaction
    if none is open."""
    db_session.connection()  # a transaction to wait for, even before the first flush
    db_session.info.setdefault(_AFTER_COMMIT, []).append((done, undone))


_AFTER_COMMIT = "surveys_after_commit"


@event.listens_for(OrmSession, "after_commit")
def _run_done(db_session: OrmSession) -> None:
    if db_session.in_nested_transaction():  # a savepoint's release: not committed yet
        return
    for done, _undone in db_session.info.pop(_AFTER_COMMIT, []):
        if not _quietly(done):  # what was to follow it (e.g. saying it is done) is not
            break


@event.listens_for(OrmSession, "after_transaction_end")
def _run_undone(db_session: OrmSession, transaction: Any) -> None:
    if transaction.parent is not None:  # a savepoint: the outer transaction decides
        return
    for _done, undone in db_session.info.pop(_AFTER_COMMIT, []):  # not committed
        if undone is not None:
            _quietly(undone)


def _quietly(action: Callable[[], None]) -> bool:
    """Run ``action``; False (and a log line) when it failed."""
    try:
        action()
    except Exception:  # noqa: BLE001 - the transaction has ended; say so in the log
        log.exception("Efterarbetet till en transaktion misslyckades.")
        return False
    return True


# --- one SQLite writer at a time, without sleeping --------------------------------


class MachineLock:
    """One holder at a time across the threads and processes of this machine: the lock
    file taken by every submission's write transaction on a SQLite database (and, in
    surveys/lanes.py, by the report lane).

    SQLite lets one writer in at a time; the others sleep and retry (their busy
    handler backs off to 100 ms a try), so under load tablets waited for sleeps, not
    for work. Waiting here instead (a thread lock inside the process, ``flock`` between
    gunicorn's workers) wakes the next writer the moment the lock is free. Re-entrant
    within a thread; a forked worker opens its own file descriptor (flock locks belong
    to the open file, which a fork would share).
    """

    def __init__(self, path: str):
        self.path = path
        self.threads = threading.RLock()
        self.depth = 0
        self.fd: int | None = None
        self.pid = 0

    def __enter__(self) -> None:
        self.threads.acquire()
        try:
            if self.depth == 0:
                if self.pid != os.getpid():
                    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                    self.pid = os.getpid()
                fcntl.flock(self.fd, fcntl.LOCK_EX)  # type: ignore[arg-type]  # opened above
        except BaseException:
            self.threads.release()
            raise
        self.depth += 1

    def __exit__(self, *_exc: object) -> None:
        self.depth -= 1
        if self.depth == 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)  # type: ignore[arg-type]  # opened in __enter__
        self.threads.release()


_WRITER_LOCKS: dict[str, MachineLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


@contextmanager
def one_writer(db_session: Session) -> Iterator[None]:
    """Hold the database's writer lock (SQLite files only; a no-op elsewhere)."""
    bind = db_session.get_bind()
    with writer_lock(bind.engine if isinstance(bind, Connection) else bind):
        yield


@contextmanager
def writer_lock(engine_: Engine) -> Iterator[None]:
    """``one_writer`` for an engine (used where there is no session, e.g. a thread)."""
    path = engine_.url.database if engine_.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with _WRITER_LOCKS_GUARD:
        lock = _WRITER_LOCKS.setdefault(path, MachineLock(path + "-writer.lock"))
    with lock:
        yield


# --- the respondent path's statements, without the ORM ---------------------------


class DriverTransaction:
    """One short transaction on a pooled driver connection, for fixed hot statements.

    An ORM session costs about a quarter of a millisecond per request before its first
    statement; a tablet's POST runs four fixed statements and needs none of it. SQL is
    written once in the qmark style (``?``) and given to the driver as it is (``%s``
    for psycopg). Errors are the driver's own (``integrity_error`` names the class of a
    duplicate key).
    """

    def __init__(self, engine_: Engine):
        self.raw = engine_.raw_connection()
        self.dialect = engine_.dialect.name
        self.paramstyle = engine_.dialect.paramstyle
        dbapi = engine_.dialect.dbapi
        self.integrity_error: type[Exception] = dbapi.IntegrityError if dbapi else Exception
        self.finished = False

    def run(self, sql: str, params: tuple | list[tuple] = ()):
        """Execute ``sql``; a list of parameter tuples runs it for each. Returns the cursor."""
        sql = driver_sql(sql, self.paramstyle)
        cursor = self.raw.cursor()
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor

    def rollback(self) -> None:
        """End the transaction without storing anything (the block then commits nothing)."""
        self.raw.rollback()
        self.finished = True


def driver_sql(sql: str, paramstyle: str) -> str:
    """Fixed SQL written in the qmark style (``?``) as the driver takes it: unchanged for
    SQLite, ``%s`` for psycopg (made once per statement, then read from a dict)."""
    if paramstyle == "qmark":
        return sql
    found = _FORMAT_SQL.get(sql)
    return found if found is not None else _FORMAT_SQL.setdefault(sql, sql.replace("?", "%s"))


_FORMAT_SQL: dict[str, str] = {}


@contextmanager
def driver_transaction(engine_: Engine) -> Iterator[DriverTransaction]:
    """A ``DriverTransaction`` committed at the end of the block (unless rolled back in
    it), rolled back on any error; the connection goes back to the pool either way."""
    tx = DriverTransaction(engine_)
    try:
        yield tx
        if not tx.finished:
            tx.raw.commit()
    except BaseException:
        tx.raw.rollback()
        raise
    finally:
        tx.raw.close()


def read_one(engine_: Engine, sql: str, params: tuple) -> dict | None:
    """One row of a fixed SELECT (qmark style) as a dict, on a pooled driver connection
    (given back to the pool at once; the pool's reset ends SQLite's read transaction).

    On PostgreSQL the SELECT runs in autocommit, as SQLAlchemy's own connection ping
    does: one statement sees one snapshot either way, and no transaction is left open
    for the pool's reset to end with a ROLLBACK, a round trip to the server saved on
    every questionnaire page and POST."""
    raw = engine_.raw_connection()
    # psycopg's connection, switched to autocommit for this SELECT (None: left as it is)
    switched = raw.driver_connection if engine_.dialect.name == "postgresql" else None
    try:
        if switched is not None and switched.autocommit:
            switched = None  # already in autocommit: nothing to switch back
        if switched is not None:
            switched.autocommit = True
        cursor = raw.cursor()
        cursor.execute(driver_sql(sql, engine_.dialect.paramstyle), params)
        row = cursor.fetchone()
        names = [column[0] for column in cursor.description] if row is not None else []
    finally:
        if switched is not None and not switched.closed:
            switched.autocommit = False
        raw.close()
    return dict(zip(names, row, strict=True)) if row is not None else None
