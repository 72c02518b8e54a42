"""The SQLite writer lock: submissions wait for each other in the kernel, not in sleeps."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from surveys import db

TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("busy")
else:
    print("free")
"""


def other_process_sees(lock_file: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", TRY_LOCK, lock_file],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()


def test_one_writer_excludes_other_processes_and_threads_and_is_reentrant(app, database_url):
    if not database_url.startswith("sqlite"):
        assert database_url.startswith("postgresql")
        with app.app_context(), db.one_writer(db.session()):
            pass  # a no-op on PostgreSQL: row locks do this work there
        return
    lock_file = database_url.removeprefix("sqlite:///") + "-writer.lock"
    order: list[str] = []
    with app.app_context():
        session = db.session()
        with db.one_writer(session):
            with db.one_writer(session):  # re-entrant within a thread
                assert other_process_sees(lock_file) == "busy"

            def second_writer():
                with app.app_context(), db.one_writer(db.session()):
                    order.append("second")

            thread = threading.Thread(target=second_writer)
            thread.start()
            time.sleep(0.2)
            order.append("first")  # the second writer is still waiting
        thread.join(timeout=10)
        assert other_process_sees(lock_file) == "free"
    assert order == ["first", "second"]


def test_the_pool_hands_out_the_connection_given_back_last(tmp_path):
    """A file database's pool is LIFO (one warm connection per worker); an in-memory
    SQLite database keeps its single connection and is still made."""
    from surveys.db import make_engine

    (tmp_path / "lifo.sqlite").touch()  # the engine opens a file, never makes one
    engine = make_engine(f"sqlite:///{tmp_path / 'lifo.sqlite'}")
    try:
        first = engine.raw_connection()
        second = engine.raw_connection()
        first_driver, second_driver = first.dbapi_connection, second.dbapi_connection
        first.close()
        second.close()  # given back last
        again = engine.raw_connection()
        assert again.dbapi_connection is second_driver
        assert again.dbapi_connection is not first_driver
        again.close()
    finally:
        engine.dispose()
    memory = make_engine("sqlite://")
    try:
        with memory.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        memory.dispose()


def test_a_questionnaire_read_leaves_its_pooled_connection_as_it_found_it(app, make_round):
    """``read_one`` (every questionnaire GET and POST reads its round with it) leaves no
    transaction for the pool's reset to end (PostgreSQL: the SELECT runs in autocommit,
    a ROLLBACK round trip saved), and gives the connection back *out of* autocommit: the
    next submission's transaction on it is still all or nothing."""
    from sqlalchemy import event, text

    from surveys.services.respondent import round_by_code

    r = make_round("deltagare_avslut", mode="kiosk")
    with app.app_context():
        engine = db.engine()
        seen: list[tuple[bool, bool]] = []

        def on_reset(dbapi_connection, _record, _state):  # before the pool's rollback
            if engine.dialect.name == "postgresql":
                idle = dbapi_connection.info.transaction_status.name == "IDLE"
                seen.append((idle, dbapi_connection.autocommit))
            else:
                seen.append((not dbapi_connection.in_transaction, False))

        event.listen(engine.pool, "reset", on_reset)
        try:
            found = round_by_code(r.code)
        finally:
            event.remove(engine.pool, "reset", on_reset)
        assert found is not None
        assert found.id == r.id
        assert seen == [(True, False)]  # no open transaction, not left in autocommit
        # the same pooled connection (the pool hands out the last one first)
        with db.driver_transaction(engine) as tx:
            tx.run("INSERT INTO setting (key, value) VALUES (?, ?)", ("prov.autocommit", "1"))
            tx.rollback()
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM setting WHERE key = 'prov.autocommit'"))
            assert left.scalar_one() == 0
