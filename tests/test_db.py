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
