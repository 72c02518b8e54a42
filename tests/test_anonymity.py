"""Anonymity by construction (DESIGN.md principle 1), tried as an attacker with the database.

A single-use link must not be joinable to the answers it unlocked — not by a
row, not by PostgreSQL's system columns (xmin, ctid order), not by the SQLite
file or its WAL — and a stored questionnaire carries no date.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from surveys import db
from surveys.services import rounds as ops
from surveys.services import settings
from tests.conftest import count_rows, form_token

SUBMISSIONS = 7  # more than MIN_CELL (5): one batch is released by the 5th, two wait for close


def single_use_answers(app, make_round) -> tuple[object, list[str]]:
    r = make_round("personal", mode="single_use", insats="Steget")
    with app.app_context():
        session = db.session()
        tokens = ops.create_tokens(session, session.merge(r), count=SUBMISSIONS)
        session.commit()
    client = app.test_client()
    for i, token in enumerate(tokens):
        page = client.get(f"/t/{token}")
        answer = {"csrf_token": form_token(page.text), "q1": str(1 + i % 6)}
        assert client.post(f"/t/{token}", data=answer).status_code == 303
    return r, tokens


def test_answers_wait_and_are_released_in_batches_of_min_cell(app, make_round):
    r = make_round("personal", insats="Steget")
    client = app.test_client()
    waiting = []
    for _ in range(6):
        submit(client, r.code)
        with app.app_context():
            session = db.session()
            waiting.append(
                (
                    session.execute(text("SELECT COUNT(*) FROM pending_response")).scalar_one(),
                    session.execute(text("SELECT COUNT(*) FROM response")).scalar_one(),
                )
            )
    # 1..4 wait; the 5th releases all five at once; the 6th waits again
    assert waiting == [(1, 0), (2, 0), (3, 0), (4, 0), (0, 5), (1, 5)]
    with app.app_context():
        weeks = db.session().execute(text("SELECT SUM(count) FROM response_count")).scalar_one()
    assert weeks == 6  # staff still see every questionnaire counted


def test_stored_questionnaires_and_exports_carry_no_date(app, runner, make_round):
    with app.app_context():
        columns = {c["name"] for c in inspect(db.session().get_bind()).get_columns("response")}
    assert columns == {"id", "round_id", "questionnaire_key", "year", "intervention_id", "gender"}
    r = make_round("personal", insats="Steget")
    client = app.test_client()
    submit(client, r.code)
    count_rows(app, "response")  # releases what waits, as closing the round does
    exported = runner.invoke(args=["export", "answers"]).output
    assert "submitted_on" not in exported
    assert not re.search(r"\d{4}-\d{2}-\d{2}", exported)


def test_postgresql_system_columns_do_not_join_links_to_answers(app, make_round, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (the SQLite variant is below)")
    single_use_answers(app, make_round)
    assert count_rows(app, "response") == SUBMISSIONS  # the last two released as at close
    with app.app_context():
        session = db.session()
        token_xmins = {
            x for (x,) in session.execute(text("SELECT xmin::text FROM link_token WHERE used"))
        }
        response_xmins = [x for (x,) in session.execute(text("SELECT xmin::text FROM response"))]
        answer_xmins = {x for (x,) in session.execute(text("SELECT xmin::text FROM answer"))}
        assert len(token_xmins) == SUBMISSIONS
        # no response or answer row was written by a transaction that used a link
        assert not token_xmins & set(response_xmins)
        assert not token_xmins & answer_xmins
        # the two released as at close were written again with the first five, in one
        # transaction: no response is singled out by its batch
        assert len(set(response_xmins)) == 1
        assert len(response_xmins) == SUBMISSIONS
        session.rollback()
    # nothing of the waiting rows is left in the heap for pageinspect to read
    assert heap_leftovers(app) == 0


def test_sqlite_file_and_wal_keep_no_waiting_answers(app, make_round, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only (the PostgreSQL variant is above)")
    single_use_answers(app, make_round)
    assert count_rows(app, "response") == SUBMISSIONS
    path = Path(database_url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    for file in (path, wal):
        if file.exists():
            content = file.read_bytes()
            assert b'"answers":[[' not in content, f"{file.name} still holds a waiting payload"


def test_single_use_link_and_answers_share_no_column(app, make_round):
    single_use_answers(app, make_round)
    count_rows(app, "response")
    with app.app_context():
        bind = db.session().get_bind()
        link_columns = {c["name"] for c in inspect(bind).get_columns("link_token")}
        response_columns = {c["name"] for c in inspect(bind).get_columns("response")}
    assert link_columns & response_columns == {"round_id"}  # the round, shared by everyone


def test_the_administrators_threshold_decides_the_batch(app, make_round):
    """The submission reads MIN_CELL in its own transaction: a raised threshold holds
    answers back at once, in every worker (no cached copy of the setting)."""
    with app.app_context():
        session = db.session()
        settings.put(session, settings.MIN_CELL, "7")
        session.commit()
    r = make_round("personal", insats="Steget")
    client = app.test_client()
    released = []
    for _ in range(7):
        submit(client, r.code)
        with app.app_context():
            released.append(
                db.session().execute(text("SELECT COUNT(*) FROM response")).scalar_one()
            )
    assert released == [0, 0, 0, 0, 0, 0, 7]


def test_a_long_reader_neither_freezes_submissions_nor_keeps_the_wal(app, make_round, database_url):
    """While a long read (publishing a year) holds an old snapshot, the release's WAL
    truncation does not wait for it (every writer would wait behind it, up to the busy
    timeout of 30 s); a thread empties the WAL as soon as the reader is done."""
    path, wal = sqlite_files(database_url)
    r = make_round("personal", insats="Steget")
    client = app.test_client()
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM response").fetchone()  # an old snapshot from now on
    try:
        started = time.monotonic()
        for _ in range(5):  # the fifth releases the batch
            page = client.get(f"/s/{r.code}")
            posted = client.post(
                f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": "6"}
            )
            assert posted.status_code == 303
        assert time.monotonic() - started < 10  # not the 30 s busy timeout
        with app.app_context():
            released = db.session().execute(text("SELECT COUNT(*) FROM response")).scalar_one()
        assert released == 5
        assert wal.stat().st_size > 0  # the reader still needs it
    finally:
        reader.rollback()
        reader.close()
    deadline = time.monotonic() + 10
    while wal.exists() and wal.stat().st_size > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not wal.exists() or wal.stat().st_size == 0
    assert b'"answers":[[' not in path.read_bytes()


def test_a_running_vacuum_neither_freezes_submissions_nor_keeps_the_rows(
    app, make_round, database_url
):
    """PostgreSQL runs one VACUUM of a table at a time. A submission that releases a
    batch hands its VACUUM to a thread instead of queueing behind another worker's
    (under load every request thread ended up waiting there: 10 submissions/s); the
    released rows still leave the heap as soon as the other VACUUM is done."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (the SQLite variant is above)")
    from sqlalchemy import create_engine

    r = make_round("personal", insats="Steget")
    client = app.test_client()
    engine = create_engine(database_url)
    other = engine.connect()
    other_vacuum = other.begin()  # holds the lock a VACUUM holds, as a running one would
    other.execute(text("LOCK TABLE pending_response IN SHARE UPDATE EXCLUSIVE MODE"))
    statuses: list[int] = []

    def five_submissions() -> None:  # the fifth releases the batch
        for _ in range(5):
            page = client.get(f"/s/{r.code}")
            posted = client.post(
                f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": "6"}
            )
            statuses.append(posted.status_code)

    try:
        submitting = threading.Thread(target=five_submissions)
        submitting.start()
        submitting.join(timeout=10)
        assert not submitting.is_alive(), "the release waited for the other VACUUM"
        assert statuses == [303] * 5
        with app.app_context():
            session = db.session()
            assert session.execute(text("SELECT COUNT(*) FROM response")).scalar_one() == 5
            session.rollback()
    finally:
        other_vacuum.rollback()
        other.close()
        engine.dispose()
        submitting.join()
    assert settled_leftovers(app) == 0


def test_a_reader_on_the_page_does_not_keep_the_released_rows(app, make_round, database_url):
    """A plain VACUUM skips a page another connection has pinned at that moment (a scan,
    an insert beside the rows) and leaves its dead row versions, data and all, until the
    next VACUUM: a tablet's submission or a release reading the table was enough. The
    scrub waits for the pin instead, and the released rows leave the heap."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite's WAL is tried in test_storage)")
    from sqlalchemy import create_engine

    client = app.test_client()
    released = one_waiting_and_four_more(client, make_round)  # the fifth releases them
    engine = create_engine(database_url)
    other, reader = engine.connect(), engine.connect()
    try:
        other_vacuum = other.begin()  # the release's VACUUM waits for this one ...
        other.execute(text("LOCK TABLE pending_response IN SHARE UPDATE EXCLUSIVE MODE"))
        submit(client, released.code)
        reading = positioned_on_the_page(reader)  # ... and then meets this reader
        other_vacuum.rollback()
        time.sleep(1)  # the VACUUM reaches the pinned page meanwhile
        reading.rollback()
    finally:
        other.close()
        reader.close()
        engine.dispose()
    assert settled_leftovers(app, expected=1) == 1  # only the questionnaire still waiting


@pytest.mark.parametrize("released_by", ["the fifth submission", "closing the round"])
def test_a_long_read_only_delays_the_scrub(app, make_round, database_url, released_by):
    """No VACUUM removes a row version a snapshot older than its deletion may still see
    (a long read: a publishing job, a report). The VACUUM then left the released rows in
    the heap and reported success; the scrub now sees what is left and tries again every
    second, so they leave as soon as the read ends, whether a submission released them
    (in the background) or closing the round (which does not wait for the read: nor
    for 5 s, as a VACUUM that tried to shorten the answers' file while it was read did)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite's WAL is tried in test_storage)")
    from sqlalchemy import create_engine

    from surveys.services import submissions

    client = app.test_client()
    r = make_round("personal", insats="Vägen")
    submissions_made = 5 if released_by == "the fifth submission" else 4
    engine = create_engine(database_url)
    reader = engine.connect()
    try:
        for number in range(1, submissions_made + 1):
            if number == submissions_made:  # a long read begins before the release
                reading = reader.begin()
                reader.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                assert reader.execute(text("SELECT COUNT(*) FROM response")).scalar_one() == 0
            submit(client, r.code)
        if released_by == "closing the round":
            with app.app_context():
                session = db.session()
                started = time.monotonic()
                assert submissions.release_round(session, r.id, min_batch=1) == 4
                session.commit()
                assert time.monotonic() - started < 5  # it did not wait for the read
        assert count_rows(app, "response") == submissions_made
        time.sleep(1.5)  # the VACUUM has run meanwhile, and left them
        assert heap_leftovers(app) >= submissions_made
        reading.rollback()
    finally:
        reader.close()
        engine.dispose()
    assert settled_leftovers(app) == 0


def test_closing_does_not_wait_for_a_reader_holding_a_page(
    app, make_round, database_url, monkeypatch
):
    """An aggressive VACUUM waits for a page's pin, and a reader with an open cursor (some
    other tool) holds one until its transaction ends: closing a round waited as long. The
    VACUUM now gives up after VACUUM_SECONDS, the close returns, and a thread tries again
    until the reader is gone."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    from sqlalchemy import create_engine

    from surveys.services import submissions

    monkeypatch.setattr(submissions, "VACUUM_SECONDS", 1)
    client = app.test_client()
    closed = one_waiting_and_four_more(client, make_round)
    engine = create_engine(database_url)
    reader = engine.connect()
    released: list[int] = []

    def close() -> None:
        with app.app_context():
            session = db.session()
            released.append(submissions.release_round(session, closed.id, min_batch=1))
            session.commit()

    closing = threading.Thread(target=close)
    try:
        reading = positioned_on_the_page(reader)
        closing.start()
        closing.join(timeout=15)
        assert not closing.is_alive(), "closing waited for the reader's cursor"
        assert released == [4]
        reading.rollback()
    finally:
        reader.close()
        engine.dispose()
        closing.join()
    assert settled_leftovers(app, expected=1) == 1  # only the questionnaire still waiting


@pytest.mark.parametrize("setting", ["track_counts=off", "search_path=elsewhere,public"])
def test_the_scrubs_check_reads_the_tables_it_vacuumed(app, make_round, database_url, setting):
    """The check after the VACUUM: without statistics (track_counts off) it stayed "not
    done" forever, a VACUUM a second for an hour; with a first schema on the search path
    that does not hold the tables it found no statistics and said "done" while a read
    still kept the released rows."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    from sqlalchemy import create_engine

    from surveys.services import submissions

    vacuum = submissions._vacuum  # noqa: SLF001 - the scrub's own check is under test
    r = make_round("personal", insats="Vägen")
    client = app.test_client()
    for _ in range(4):
        submit(client, r.code)
    plain = create_engine(database_url)
    engine = create_engine(database_url, connect_args={"options": f"-c {setting}"})
    reader = plain.connect()
    try:
        with plain.begin() as conn:
            conn.execute(text("CREATE SCHEMA IF NOT EXISTS elsewhere"))
        reading = reader.begin()
        reader.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        reader.execute(text("SELECT COUNT(*) FROM response")).scalar_one()
        with app.app_context():
            session = db.session()
            session.execute(text("SELECT pg_stat_force_next_flush()"))  # counted at once
            session.execute(text("DELETE FROM pending_response"))  # as a release does
            session.commit()
        with plain.connect() as conn:
            dead = "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'pending_response'"
            assert conn.execute(text(dead)).scalar_one() >= 4
        if setting == "track_counts=off":
            reading.rollback()  # nothing keeps the rows now: the VACUUM removes them
            assert vacuum(engine, ("pending_response",)) is True
            assert heap_leftovers(app) == 0
        else:  # the read keeps them: not done
            assert vacuum(engine, ("pending_response",)) is False
            assert heap_leftovers(app) == 4
            reading.rollback()
            assert vacuum(engine, ("pending_response",)) is True
    finally:
        reader.close()
        with plain.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS elsewhere"))
        plain.dispose()
        engine.dispose()


def test_a_finished_cleanup_thread_leaves_a_newer_ones_marks_alone(monkeypatch):
    """A cleanup thread that had finished cleared its key's marks once more on its way
    out: a newer thread with the same key, started meanwhile, then lost a pass another
    release had asked for (rows released then waited for some later release). The old
    thread's exit is held at the moment that mattered."""
    from surveys.services import submissions

    real = threading.Lock()
    exit_may_go = threading.Event()
    first_thread: list[threading.Thread] = []

    class HeldGuard:  # the guard, holding the first thread's third use (its exit) back
        uses = threading.local()

        def __enter__(self):
            HeldGuard.uses.count = getattr(HeldGuard.uses, "count", 0) + 1
            first = first_thread and threading.current_thread() is first_thread[0]
            if first and HeldGuard.uses.count == 3:
                exit_may_go.wait(5)
            real.acquire()

        def __exit__(self, *_exc):
            real.release()

    monkeypatch.setattr(submissions, "_CLEANUP_GUARD", HeldGuard())
    monkeypatch.setattr(submissions, "_RUNNING", set())
    monkeypatch.setattr(submissions, "_AGAIN", set())
    in_background = submissions._in_background  # noqa: SLF001 - its bookkeeping is under test
    running = submissions._RUNNING  # noqa: SLF001 - the set just put in place
    passes: list[str] = []
    second_started, second_may_end = threading.Event(), threading.Event()

    def first_attempt() -> bool:
        first_thread.append(threading.current_thread())
        passes.append("first")
        return True

    def second_attempt() -> bool:
        passes.append("second")
        second_started.set()
        second_may_end.wait(5)
        return True

    key = "vacuum pending_response test"
    in_background(key, first_attempt)
    deadline = time.monotonic() + 5
    while key in running and time.monotonic() < deadline:
        time.sleep(0.01)  # the first thread's pass is done and its key given up
    in_background(key, second_attempt)  # a new release: a new thread
    assert second_started.wait(5)
    in_background(key, second_attempt)  # another, during its pass
    exit_may_go.set()
    time.sleep(0.2)  # the first thread's exit, had it one, would have run now
    second_may_end.set()
    deadline = time.monotonic() + 5
    while key in running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert passes == ["first", "second", "second"]


def submit(client, code: str) -> None:
    """One questionnaire answered through the link's pages (question 1 only)."""
    page = client.get(f"/s/{code}")
    posted = client.post(f"/s/{code}", data={"csrf_token": form_token(page.text), "q1": "6"})
    assert posted.status_code == 303


def one_waiting_and_four_more(client, make_round):
    """A round with one questionnaire that stays waiting (its row shares the page), and
    the round returned, with four waiting: a fifth, or closing it, releases them."""
    waiting = make_round("personal", insats="Steget")
    other = make_round("personal", insats="Vägen")
    submit(client, waiting.code)
    for _ in range(4):
        submit(client, other.code)
    return other


def positioned_on_the_page(reader):
    """A transaction whose cursor stands on pending_response's first row (the one still
    waiting), pinning its page, as another tool reading the table would."""
    reading = reader.begin()
    reader.execute(text("DECLARE scan CURSOR FOR SELECT * FROM pending_response"))
    assert len(reader.execute(text("FETCH 1 FROM scan")).all()) == 1
    return reading


def settled_leftovers(app, *, expected: int = 0, seconds: float = 20) -> int:
    """``heap_leftovers`` once it is down to ``expected``, or after ``seconds`` (the scrub
    runs in a thread of the app's process)."""
    deadline = time.monotonic() + seconds
    while (left := heap_leftovers(app)) > expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def heap_leftovers(app) -> int:
    """Row versions with data (live or dead) in pending_response's pages, as pageinspect
    reads them."""
    with app.app_context():
        session = db.session()
        session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        session.commit()
        # a VACUUM in a background thread must not shorten the file while it is read
        session.execute(text("LOCK TABLE pending_response IN ACCESS SHARE MODE"))
        pages = session.execute(
            text("SELECT pg_relation_size('pending_response') / current_setting('block_size')::int")
        ).scalar_one()
        leftovers = 0
        for page in range(pages):
            leftovers += session.execute(
                text(
                    "SELECT COUNT(*) FROM heap_page_items(get_raw_page('pending_response', :p)) "
                    "WHERE t_data IS NOT NULL"
                ),
                {"p": page},
            ).scalar_one()
        session.rollback()
    return leftovers


def test_postgresql_row_order_does_not_follow_the_order_of_submission(
    app, make_round, database_url
):
    """The attacker reads the answers in physical order (ctid) and lines them up with
    the order the staff saw people answer: the batch was shuffled, so it does not match."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (SQLite's tables are ordered by their random ids)")
    with app.app_context():
        session = db.session()
        settings.put(session, settings.MIN_CELL, "12")  # all twelve wait for one batch
        session.commit()
    r = make_round("personal", insats="Steget")
    client = app.test_client()
    order = []
    for i in range(12):  # each submission's two answers tell it apart
        first, second = 1 + i % 6, 1 + i // 6
        page = client.get(f"/s/{r.code}")
        posted = client.post(
            f"/s/{r.code}",
            data={"csrf_token": form_token(page.text), "q1": str(first), "q2": str(second)},
        )
        assert posted.status_code == 303
        order.append((first, second))
    assert count_rows(app, "response") == 12  # released at once, as at close
    with app.app_context():
        rows = (
            db.session()
            .execute(
                text(
                    "SELECT r.id, q.number, a.code FROM response r "
                    "JOIN answer a ON a.response_id = r.id "
                    "JOIN question_version v ON v.id = a.question_version_id "
                    "JOIN question q ON q.id = v.question_id ORDER BY r.ctid"
                )
            )
            .all()
        )
    codes: dict[str, dict[int, int]] = {}
    for response_id, number, code in rows:
        codes.setdefault(response_id, {})[number] = code
    physical = [(c[1], c[2]) for c in codes.values()]  # dicts keep the ctid order
    assert sorted(physical) == sorted(order)
    assert physical != order  # 1 in 12! that a shuffle leaves them in order


def test_sqlite_wal_is_emptied_after_a_release_on_a_submission(app, make_round, database_url):
    """The release on the fifth submission leaves the checkpoint to a thread (the
    request does not pay for it): the WAL is empty moments later, no payload kept."""
    path, wal = sqlite_files(database_url)
    r = make_round("personal", insats="Steget")
    client = app.test_client()
    for _ in range(5):  # the fifth releases the batch
        submit(client, r.code)
    with app.app_context():
        assert db.session().execute(text("SELECT COUNT(*) FROM response")).scalar_one() == 5
    deadline = time.monotonic() + 10
    while wal.exists() and wal.stat().st_size > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not wal.exists() or wal.stat().st_size == 0
    assert b'"answers":[[' not in path.read_bytes()


def sqlite_files(database_url: str) -> tuple[Path, Path]:
    """The SQLite database file and its WAL (skips the test on PostgreSQL)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    path = Path(database_url.removeprefix("sqlite:///"))
    return path, path.with_name(path.name + "-wal")
