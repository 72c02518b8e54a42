"""The year's publishing lock: held by one process at a time, and gone with it.

Publishing a year twice at the same moment would store two versions from the same
answers; so ``publications.publish`` holds this lock while it works. It is not a row
in a table (a process killed while holding a row kept the year locked for an hour,
issue 18.8) but a lock the operating system or the database drops when the holder
dies:

* PostgreSQL: a session advisory lock, ``pg_try_advisory_lock``, on a connection of
  its own (autocommit: it holds no snapshot that would keep VACUUM from removing
  released answers). When the process dies its connection closes and PostgreSQL
  drops the lock at once; TCP keepalives on that connection make a vanished machine
  count as gone within about a minute too.
* SQLite: an exclusive ``flock`` on a file beside the database, one per year. The
  kernel drops it when the process dies. (A SQLite database lives on one machine,
  so a file lock reaches every process that can write to it.)

Either way a second holder is refused at once (no waiting): ``PublishBusy``.

``in_turn`` is the other kind: a lock of the caller's transaction, for a check that is
followed by a write (no second publishing job for a year). A second caller waits for
the first's commit instead of being refused.
"""

from __future__ import annotations

import fcntl
import glob
import os
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

# The advisory lock's key is SPACE * 2**32 + year: the space keeps it apart from any
# other advisory lock someone may take in the same database.
SPACE = 0x5055_424C  # "PUBL"
KEEPALIVE = (
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 6"
)


class PublishBusy(Exception):
    """Another process is publishing the year right now."""


@dataclass
class YearLock:
    """A held publishing lock; give it back with ``release``."""

    year: int
    connection: Connection | None = None  # PostgreSQL: the connection holding the lock
    fd: int | None = None  # SQLite: the open, flocked file

    def release(self) -> None:
        if self.connection is not None:
            _release_advisory(self.connection, self.year)
            self.connection = None
        if self.fd is not None:
            os.close(self.fd)  # closing the file drops its flock
            self.fd = None


def take(db: Session, year: int) -> YearLock:
    """Take the year's publishing lock, or raise ``PublishBusy`` at once."""
    engine = _engine(db)
    if engine.dialect.name == "postgresql":
        return _take_advisory(engine, year)
    return _take_file(engine, year)


def any_held(db: Session) -> bool:
    """Whether some process holds some year's publishing lock right now."""
    engine = _engine(db)
    if engine.dialect.name == "postgresql":
        held = db.execute(
            text(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :space "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"space": SPACE},
        ).scalar_one()
        return bool(held)
    path = lock_file(engine, 0)
    if path is None:
        return False
    for name in glob.glob(path.replace("-publicering-0.lock", "-publicering-*.lock")):
        year = name.rsplit("-", 1)[1].removesuffix(".lock")
        if year.isdigit():
            try:
                take(db, int(year)).release()
            except PublishBusy:
                return True
    return False


# The space of ``in_turn``'s locks (PostgreSQL's two-key form: apart from the years' keys).
TURN_SPACE = 0x5455_524E  # "TURN"
# the names in use, one per check
TURNS = ("job-request", "riket-import", "package-import", "round-start")


def in_turn(db: Session, name: str) -> None:
    """Until the session's transaction ends, a second caller of ``name`` waits here, and
    then reads what the first committed: two requests at the same moment (a double
    click on "Publicera") cannot both pass a check and both write after it.

    * PostgreSQL: ``pg_advisory_xact_lock`` on (``TURN_SPACE``, the name's hash), given
      back by the commit or rollback. Each later statement of READ COMMITTED sees the
      first caller's rows.
    * SQLite: the write transaction starts here, with a write that changes nothing. A
      second writer waits for it (the busy timeout) before its own first statement, and
      the reads after this one see every commit before it.

    Call it before the check's first read. The turn is held until the caller's
    transaction ends, also when the check then refuses (the request's end rolls back
    or commits). ``name`` is one of ``TURNS``.

    On SQLite every tablet's answer waits while a turn is held. So take it only on a
    rare action, after any slow read that is not part of the check, and never on a
    page the report process serves over and over (it runs at a lower priority, and a
    preview's turn there made the tablets' p95 41 times the quiet one: see
    ``jobs.request_preview``).
    """
    if name not in TURNS:
        raise ValueError(f"unknown turn {name!r}")
    if _engine(db).dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
            {"space": TURN_SPACE, "name": name},
        )
    else:
        db.execute(text("UPDATE background_job SET id = id WHERE 1 = 0"))


def _engine(db: Session) -> Engine:
    bind = db.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _key(year: int) -> int:
    return SPACE * 2**32 + (year % 2**32)


def _take_advisory(engine: Engine, year: int) -> YearLock:
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        connection.exec_driver_sql(KEEPALIVE)
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _key(year)})
        if not got.scalar_one():
            raise PublishBusy(year)
    except BaseException:
        connection.close()
        raise
    return YearLock(year=year, connection=connection)


def _release_advisory(connection: Connection, year: int) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(year)})
        connection.close()
    except Exception:
        # The connection is broken (then PostgreSQL dropped the lock with it): make sure
        # the pool never hands out a connection that might still hold it.
        connection.invalidate()
        raise


def lock_file(engine: Engine, year: int) -> str | None:
    """The SQLite lock file of a year (beside the database file); None in memory."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return f"{database}-publicering-{year}.lock"


def _take_file(engine: Engine, year: int) -> YearLock:
    path = lock_file(engine, year)
    if path is None:
        return YearLock(year=year)  # an in-memory database belongs to one process
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise PublishBusy(year) from None
    except BaseException:
        os.close(fd)
        raise
    return YearLock(year=year, fd=fd)
