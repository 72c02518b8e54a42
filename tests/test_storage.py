"""Storage that links nothing (DESIGN.md "Storage"), tried as an attacker with the files.

Answers wait for release sealed under a pending key kept outside the database; batches
hold one round only; closing a round releases what waits; the key is destroyed after
its answers are released. The attacker reads SQLite's file and WAL, PostgreSQL's
system columns and ``pg_wal`` (with the server's own ``pg_waldump``), and a backup.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from surveys import db
from surveys.services import locks
from surveys.services import rounds as ops
from tests.conftest import (
    answer_exit,
    answer_open,
    close_as_staff,
    count_rows,
    csrf,
    form_token,
    login,
    paper_key,
    scalar,
    wait_for_cleanup,
)

MIN_CELL = 5  # the test application's MIN_CELL
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# What a waiting questionnaire looked like in plain text: its JSON and its answer pairs.
PLAIN_ANSWER = re.compile(rb'"answers"|"questionnaire"|\[\["[^"]+",\s*\d+\]')


def keys_folder(app) -> Path:
    return Path(app.instance_path) / "pending-keys"


def key_files(app) -> list[Path]:
    folder = keys_folder(app)
    return sorted(folder.glob("*.key")) if folder.is_dir() else []


def single_use_round(app, make_round, *, count: int, insats: str = "Steget"):
    """A single-use round with ``count`` links: (round, tokens)."""
    r = make_round("personal", mode="single_use", insats=insats)
    with app.app_context():
        session = db.session()
        tokens = ops.create_tokens(session, session.merge(r), count=count)
        session.commit()
    return r, tokens


def answer_link(app, token: str, first: int, second: int = 1) -> None:
    """One personal questionnaire through a single-use link, two answers that tell it apart."""
    client = app.test_client()
    page = client.get(f"/t/{token}")
    data = {"csrf_token": form_token(page.text), "q1": str(first), "q2": str(second)}
    assert client.post(f"/t/{token}", data=data).status_code == 303


def state(app, round_) -> str:
    return scalar(app, "SELECT state FROM round WHERE id = :r", r=round_.id)


# --- batches of one round; closing releases ----------------------------------------


def test_a_release_batch_never_mixes_rounds(app, make_round):
    """Three answers each in two rounds: no batch yet (a mixed one would leave 2–3 of a
    round to a link); two more in the first round release its five, the other's wait."""
    a = make_round("personal", insats="Steget")
    b = make_round("personal", insats="Vägen")
    for _ in range(3):
        answer_open(app, a)
        answer_open(app, b)
    assert count_rows(app, "pending_response") == 6
    assert scalar(app, "SELECT COUNT(*) FROM response") == 0
    answer_open(app, a)
    answer_open(app, a)
    assert scalar(app, "SELECT COUNT(*) FROM response WHERE round_id = :r", r=a.id) == 5
    assert scalar(app, "SELECT COUNT(*) FROM response") == 5
    assert scalar(app, "SELECT COUNT(*) FROM pending_response WHERE round_id = :r", r=b.id) == 3


def test_closing_a_round_releases_its_waiting_answers(app, make_round):
    a = make_round("personal", insats="Steget")
    b = make_round("personal", insats="Vägen")
    for _ in range(3):
        answer_open(app, a)
    answer_open(app, b)
    page = close_as_staff(app, a)
    assert "Mätomgången är stängd." in page
    assert state(app, a) == "closed"
    assert scalar(app, "SELECT COUNT(*) FROM response WHERE round_id = :r", r=a.id) == 3
    assert scalar(app, "SELECT COUNT(*) FROM pending_response WHERE round_id = :r", r=a.id) == 0
    # the other round's answer still waits, under its own key; the closed round's is gone
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 1
    assert [p.stem for p in key_files(app)] == [
        scalar(app, "SELECT key_id FROM pending_response WHERE round_id = :r", r=b.id)
    ]


def test_a_small_rest_at_close_joins_the_rounds_earlier_answers(app, make_round, database_url):
    """Seven answers: five released, two at close. The two are written in one batch with
    the five (new ids, one transaction), so the close does not single them out."""
    r = make_round("personal", insats="Steget")
    for code in (1, 2, 3, 4, 5, 6, 6):
        answer_open(app, r, code)
    ids_before = set(scalar_list(app, "SELECT id FROM response WHERE round_id = :r", r=r.id))
    assert len(ids_before) == 5
    close_as_staff(app, r)
    ids_after = set(scalar_list(app, "SELECT id FROM response WHERE round_id = :r", r=r.id))
    assert len(ids_after) == 7
    assert not ids_before & ids_after  # every questionnaire of the round written again
    codes = sorted(
        scalar_list(
            app,
            "SELECT a.code FROM answer a JOIN response s ON s.id = a.response_id "
            "WHERE s.round_id = :r AND a.code IS NOT NULL",
            r=r.id,
        )
    )
    assert codes == [1, 2, 3, 4, 5, 6, 6]
    if database_url.startswith("postgresql"):
        xmins = scalar_list(
            app, "SELECT DISTINCT xmin::text FROM response WHERE round_id = :r", r=r.id
        )
        assert len(xmins) == 1


def scalar_list(app, sql: str, **params) -> list:
    with app.app_context():
        session = db.session()
        values = list(session.execute(text(sql), params).scalars())
        session.rollback()
        return values


# --- the key: outside the database, owner-only, destroyed after release ------------


def test_the_key_lives_while_answers_wait_and_is_destroyed_after_release(app, make_round):
    r = make_round("personal", insats="Steget")
    answer_open(app, r)
    files = key_files(app)
    assert len(files) == 1
    key_id = scalar(app, "SELECT key_id FROM pending_response")
    assert files[0].name == f"{key_id}.key"
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_folder(app).stat().st_mode) == 0o700
    assert len(files[0].read_bytes()) == 32
    sealed = scalar(app, "SELECT payload FROM pending_response")
    assert not PLAIN_ANSWER.search(sealed.encode())
    for _ in range(3):
        answer_open(app, r)
    assert [f.name for f in key_files(app)] == [files[0].name]  # one key for the round
    answer_open(app, r)  # the fifth: the batch is released
    assert scalar(app, "SELECT COUNT(*) FROM response") == 5
    # shredded (by a thread: the respondent does not wait for it); copies of the
    # sealed rows in the WAL or a backup cannot be opened any more
    assert keys_gone(app)
    answer_open(app, r)
    (new,) = key_files(app)
    assert new.stem != key_id  # the next answers get a key of their own


def test_a_backup_while_answers_wait_holds_no_answer_in_plain_text(
    app, runner, make_round, tmp_path, database_url
):
    r, tokens = single_use_round(app, make_round, count=3)
    for i, token in enumerate(tokens):
        answer_link(app, token, 1 + i, 2 + i)
    target = tmp_path / "kopia.bin"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    if database_url.startswith("postgresql"):
        restore = shutil.which("pg_restore") or str(PG_BIN / "pg_restore")
        content = subprocess.run(
            [restore, "-f", "-", str(target)], capture_output=True, check=True
        ).stdout
    else:
        content = target.read_bytes()
    assert not PLAIN_ANSWER.search(content)  # no answer in plain text ...
    key_id = scalar(app, "SELECT key_id FROM pending_response LIMIT 1")
    assert key_id.encode() in content  # ... though the waiting rows are in the backup
    assert scalar(app, "SELECT COUNT(*) FROM pending_response WHERE round_id = :r", r=r.id) == 3


def test_a_sealed_answer_is_as_long_as_every_other_of_its_round(app, make_round):
    """AES-GCM hides what a questionnaire says, not its length. Unpadded, the length of
    a waiting row told its gender, its blanks and whether questions 9–10 were shown: a
    backup taken while it waited, or the WAL beside the link it used, would then pick
    out the released questionnaire it became. Every sealed row of a round is as long."""
    r = make_round("deltagare_avslut", insats="Steget")
    forms = [
        {"gender": "kvinna", "q8": "1", "q9": "6", "q10": "0"},  # the questions 9–10 shown
        {"gender": "man", "q8": "2"},
        {"gender": "annat", "q1": "", "q2": ""},  # blanks
        {"gender": "", "q8": "", "q1": "0", "q2": "0"},  # no gender, no gate
    ]
    client = app.test_client()
    for extra in forms:
        response, _ = answer_exit(client, f"/s/{r.code}", extra=extra)
        assert response.status_code == 303
    lengths = {len(p) for p in scalar_list(app, "SELECT payload FROM pending_response")}
    assert len(lengths) == 1, lengths  # one length for all four
    answer_exit(client, f"/s/{r.code}")  # the fifth releases the batch: padding is read away
    genders = scalar_list(app, "SELECT COALESCE(gender, '-') FROM response ORDER BY 1")
    assert genders == ["-", "annat", "kvinna", "kvinna", "man"]
    shown = scalar(
        app,
        "SELECT COUNT(*) FROM answer WHERE question_version_id LIKE 'deltagare_avslut.9.%' "
        "OR question_version_id LIKE 'deltagare_avslut.10.%'",
    )
    assert shown == 2  # questions 9 and 10 of the one form that showed them


def test_the_longest_questionnaire_fits_the_padding_of_its_round(app, make_round):
    """The bound is the longest payload the instrument allows: a form with every question
    answered with the widest code and the longest gender is padded to the same length
    as an empty one, not to the next block."""
    from surveys.services.respondent import instrument
    from surveys.services.submissions import PAD_BLOCK, _payload
    from surveys.services.validation import CleanSubmission

    r = make_round("deltagare_avslut", insats="Steget")
    with app.app_context():
        known = instrument()
        asked = known.questionnaire("deltagare_avslut").questions_in(r.year)
        widest = max(
            (code for scale in known.scales.values() for code in scale.codes),
            key=lambda c: len(str(c)),
        )
        versions = [question.version_for(r.year).id for question in asked]
        longest = CleanSubmission(
            "deltagare_avslut", r.year, "kvinna", [(v, widest) for v in versions]
        )
        empty = CleanSubmission("deltagare_avslut", r.year, None, [(versions[0], None)])
        assert len(_payload(longest, r)) == len(_payload(empty, r))
        assert len(_payload(empty, r)) % PAD_BLOCK == 0
        grown = CleanSubmission("deltagare_avslut", r.year, "kvinna", [("x" * 300, widest)] * 20)
        assert len(_payload(grown, r)) > len(_payload(empty, r))  # an instrument changed under it


# --- the attacker with the SQLite files ---------------------------------------------


def test_sqlite_file_and_wal_hold_no_waiting_answer_in_plain_text(app, make_round, database_url):
    """Three links used, their answers waiting: the WAL holds each link's use in the
    commit that stored its answers — but the answers only as ciphertext."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only (PostgreSQL's WAL is tried below)")
    path = Path(database_url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    r, tokens = single_use_round(app, make_round, count=3)
    for i, token in enumerate(tokens):
        answer_link(app, token, 1 + i, 4 + i)
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 3
    assert scalar(app, "SELECT COUNT(*) FROM link_token WHERE used") == 3
    content = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    used = scalar_list(app, "SELECT token_hash FROM link_token WHERE used")
    assert all(h.encode() in content for h in used)  # the attacker sees the used links
    assert not any(t.encode() in content for t in tokens)  # never the links themselves
    assert not PLAIN_ANSWER.search(content)  # and no answer beside them


# --- the attacker with PostgreSQL ---------------------------------------------------


def test_postgresql_links_joined_by_xmin_and_ctid_find_no_set_below_min_cell(
    app, make_round, database_url
):
    """Two rounds answered in turn through single-use links, then closed. The attacker
    takes each used link's transaction id, the first release after it that wrote
    answers of the link's round, and the answers of that round it wrote; and the runs
    of one transaction in the round's physical (ctid) order. No set is smaller than
    MIN_CELL questionnaires of the round."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    a, links_a = single_use_round(app, make_round, count=8, insats="Steget")
    b, links_b = single_use_round(app, make_round, count=7, insats="Vägen")
    for i in range(8):
        answer_link(app, links_a[i], 1 + i % 6, 1 + i // 6)
        if i < 7:
            answer_link(app, links_b[i], 1 + (i + 3) % 6, 2)
    close_as_staff(app, a)
    close_as_staff(app, b)
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 0
    with app.app_context():
        session = db.session()
        links = session.execute(
            text("SELECT round_id, xmin::text::bigint FROM link_token WHERE used")
        ).all()
        answers = session.execute(
            text("SELECT round_id, xmin::text::bigint FROM response ORDER BY ctid")
        ).all()
        session.rollback()
    assert len(links) == 15
    assert len(answers) == 15
    smallest = {}
    for round_id, used_in in links:
        releases = sorted({x for r, x in answers if r == round_id and x > used_in})
        candidates = [x for r, x in answers if r == round_id and x == releases[0]]
        smallest[round_id] = min(smallest.get(round_id, 99), len(candidates))
    assert smallest == {a.id: 8, b.id: 7}  # the rest at close joined each round's batch
    for round_id in (a.id, b.id):
        order = [x for r, x in answers if r == round_id]
        runs = [len(list(group)) for _, group in _groupby(order)]
        assert min(runs) >= MIN_CELL
    # the old row versions (the first batches' transaction ids) are gone from the pages
    for table in ("response", "answer"):
        assert heap_xmins(app, table) == set(
            scalar_list(app, f"SELECT DISTINCT xmin::text::bigint FROM {table}")  # noqa: S608
        )


def _groupby(values: list) -> Iterator[tuple[object, list]]:
    from itertools import groupby

    for key, group in groupby(values):
        yield key, list(group)


def heap_xmins(app, table: str) -> set[int]:
    """Transaction ids of every row version with data in a table's pages (pageinspect)."""
    with app.app_context():
        session = db.session()
        session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        session.commit()
        session.execute(text(f"LOCK TABLE {table} IN ACCESS SHARE MODE"))
        pages = session.execute(
            text(f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int")
        ).scalar_one()
        found: set[int] = set()
        for page in range(pages):
            found |= set(
                session.execute(
                    text(
                        "SELECT t_xmin::text::bigint FROM "
                        f"heap_page_items(get_raw_page('{table}', :p)) WHERE t_data IS NOT NULL"
                    ),
                    {"p": page},
                ).scalars()
            )
        session.rollback()
    return found


def test_pg_waldump_finds_no_waiting_answer_in_plain_text(app, make_round, database_url, tmp_path):
    """The server's WAL written while three links are used, read through SQL as superuser
    (the data directory may belong to another user) and decoded with the server's own
    pg_waldump: every record of this database — the waiting rows' inserts among them —
    holds no answer in plain text. Full-page images are left uncompressed for this
    database, so that they can be searched too."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    waldump = PG_BIN / "pg_waldump"
    if not waldump.exists():
        pytest.skip(f"{waldump} saknas")
    if scalar(app, "SELECT current_setting('is_superuser')") != "on":
        pytest.skip("pg_read_binary_file on pg_wal needs a superuser")
    with uncompressed_wal(app):
        start = scalar(app, "SELECT pg_current_wal_insert_lsn()::text")
        r, tokens = single_use_round(app, make_round, count=3)
        for i, token in enumerate(tokens):
            answer_link(app, token, 1 + i, 4 + i)
        assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 3
        end = flushed_lsn(app)
    names = copy_wal(app, start, end, tmp_path)
    dumped = subprocess.run(
        [str(waldump), "-p", str(tmp_path), "-s", start, "-e", end],
        capture_output=True,
        text=True,
        check=False,
    )
    database = scalar(app, "SELECT oid FROM pg_database WHERE datname = current_database()")
    pending = scalar(app, "SELECT pg_relation_filenode('pending_response')")
    ours = [line for line in dumped.stdout.splitlines() if f"/{database}/" in line]
    inserts = [line for line in ours if "desc: INSERT" in line and f"/{pending} " in line]
    assert len(inserts) == 3, dumped.stdout[-2000:] + dumped.stderr  # the waiting rows
    stream, position = wal_stream(tmp_path, names)
    records = {}
    for line in ours:
        lsn, length = record_at(line)
        records[line] = stream[position(lsn) : position(lsn) + length]
    row_ids = scalar_list(app, "SELECT id FROM pending_response")
    for row_id in row_ids:  # each waiting row is read where pg_waldump says it is ...
        assert sum(row_id.encode() in records[line] for line in inserts) == 1
    for line, record in records.items():  # ... and no record holds an answer in plain text
        assert not PLAIN_ANSWER.search(record), line
    assert not PLAIN_ANSWER.search(dumped.stdout.encode())


@contextlib.contextmanager
def uncompressed_wal(app) -> Iterator[None]:
    """``wal_compression=off`` for new connections to the test database (superuser)."""
    with app.app_context():
        session = db.session()
        name = session.execute(text("SELECT current_database()")).scalar_one()
        session.commit()
        session.connection().execute(text(f'ALTER DATABASE "{name}" SET wal_compression = off'))
        session.commit()
    app.extensions["engine"].dispose()  # the next connections read the setting
    try:
        assert scalar(app, "SELECT current_setting('wal_compression')") == "off"
        yield
    finally:
        with app.app_context():
            session = db.session()
            session.connection().execute(text(f'ALTER DATABASE "{name}" RESET wal_compression'))
            session.commit()


def flushed_lsn(app) -> str:
    """The insert position now, once the WAL writer has flushed it (the dev server runs
    with synchronous_commit=off)."""
    end = scalar(app, "SELECT pg_current_wal_insert_lsn()::text")
    flushed = "SELECT pg_current_wal_flush_lsn() >= CAST(:end AS pg_lsn)"
    deadline = time.monotonic() + 10
    while not scalar(app, flushed, end=end) and time.monotonic() < deadline:
        time.sleep(0.05)
    return end


def copy_wal(app, start: str, end: str, folder: Path) -> list[str]:
    """Copy the WAL segments from ``start`` to ``end`` into ``folder``; their names."""
    with app.app_context():
        session = db.session()
        first, last = (
            session.execute(text("SELECT pg_walfile_name(:lsn)"), {"lsn": lsn}).scalar_one()
            for lsn in (start, end)
        )
        names = sorted(
            session.execute(
                text("SELECT name FROM pg_ls_waldir() WHERE name BETWEEN :a AND :b"),
                {"a": first, "b": last},
            ).scalars()
        )
        for name in names:
            data = session.execute(
                text("SELECT pg_read_binary_file('pg_wal/' || :n)"), {"n": name}
            ).scalar_one()
            (folder / name).write_bytes(bytes(data))
        session.rollback()
    return names


WAL_PAGE = 8192
SEGMENT = 16 * 1024 * 1024
PAGES = SEGMENT // WAL_PAGE  # pages per segment


def wal_stream(folder: Path, names: list[str]):
    """The segments' records without page headers (a record may cross a page), and a
    function from an LSN to its place in that stream."""
    bodies = []
    for name in names:
        data = (folder / name).read_bytes()
        for page in range(0, len(data), WAL_PAGE):
            header = 40 if page == 0 else 24  # a long header opens a segment (MAXALIGNed)
            bodies.append(data[page + header : page + WAL_PAGE])
    first_segment = int(names[0][8:16], 16) * 0x100 + int(names[0][16:24], 16)

    def position(lsn: int) -> int:
        page, within = divmod(lsn - first_segment * SEGMENT, WAL_PAGE)
        headers_before = 24 * page + 16 * ((page + PAGES - 1) // PAGES)  # long: 40 = 24 + 16
        return page * WAL_PAGE - headers_before + within - (40 if page % PAGES == 0 else 24)

    return b"".join(bodies), position


def record_at(line: str) -> tuple[int, int]:
    """A pg_waldump line's LSN (as a number) and total length."""
    match = re.search(r"len \(rec/tot\):\s*\d+/\s*(\d+), .*lsn: ([0-9A-F]+)/([0-9A-F]+)", line)
    assert match, line
    high, low = int(match.group(2), 16), int(match.group(3), 16)
    return (high << 32) + low, int(match.group(1))


# --- bad input: keys that cannot be written or are missing --------------------------


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """The folder's entries cannot be created or removed (files in it stay readable):
    owner-only read and execute, or (as root, who ignores modes) the immutable flag."""
    folder.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
        pytest.skip("chattr +i is not available here (root ignores file modes)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_an_answer_whose_key_cannot_be_written_is_not_thanked(app, make_round):
    """The key folder is a file (a broken instance folder): the respondent is told that
    nothing was stored, the form comes back filled in, the link stays unused; once the
    folder is back the same form is stored."""
    r, (token,) = single_use_round(app, make_round, count=1)
    folder = keys_folder(app)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("inte en mapp")
    client = app.test_client()
    page = client.get(f"/t/{token}")
    data = {"csrf_token": form_token(page.text), "q1": "4", "q2": "2"}
    refused = client.post(f"/t/{token}", data=data)
    assert refused.status_code == 503
    assert "Tack" not in refused.text
    assert "Ingenting har sparats" in refused.text
    assert re.search(
        r'name="q1"[^>]*value="4"[^>]*checked|value="4"[^>]*name="q1"[^>]*checked', refused.text
    )
    for table in ("pending_response", "response_count", "submission_key"):
        assert scalar(app, f"SELECT COUNT(*) FROM {table}") == 0  # noqa: S608
    assert scalar(app, "SELECT COUNT(*) FROM link_token WHERE used") == 0
    background = client.post(f"/t/{token}", data=data, headers={"X-Background": "1"})
    assert background.status_code == 503  # the tablet keeps the answers and tries again
    assert background.json["status"] == "retry"
    folder.unlink()
    assert client.post(f"/t/{token}", data=data).status_code == 303
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 1


def test_closing_with_a_missing_key_names_the_round_and_changes_nothing(app, make_round):
    r = make_round("personal", insats="Steget")
    for _ in range(3):
        answer_open(app, r)
    (key,) = key_files(app)
    key.unlink()
    for _ in range(2):  # new answers are still taken, all under one new key
        assert answer_open(app, r).status_code == 303
    assert len(key_files(app)) == 1
    page = close_as_staff(app, r)
    assert "nyckeln till 3 väntande svar i mätomgången" in page
    assert "eller se surveys pending." in page  # the whole message, not cut short
    assert "Steget" in page
    assert "Ingenting har ändrats" in page
    assert state(app, r) == "open"
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 5
    assert scalar(app, "SELECT COUNT(*) FROM response") == 0


def test_publishing_with_a_missing_key_names_the_round_and_changes_nothing(app, runner, make_round):
    r = make_round("personal", insats="Steget")
    for _ in range(6):  # five released, one waits
        answer_open(app, r)
    wait_for_cleanup()  # the released five's key is destroyed by a thread
    (key,) = key_files(app)
    key.unlink()
    year = str(r.year)
    result = runner.invoke(args=["publish", "--year", year])
    assert result.exit_code != 0
    assert "nyckeln till 1 väntande svar i mätomgången" in result.output
    assert "Steget" in result.output
    assert scalar(app, "SELECT COUNT(*) FROM publication") == 0
    with app.app_context():  # the year's lock was given back (taking it again works)
        locks.take(db.session(), int(year)).release()
    assert state(app, r) == "open"
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 1


def test_publishing_while_keys_cannot_be_written_changes_nothing(app, runner, make_round):
    r = make_round("personal", insats="Steget")
    for _ in range(6):
        answer_open(app, r)
    wait_for_cleanup()  # the released five's key is destroyed by a thread
    with unwritable(keys_folder(app)):
        result = runner.invoke(args=["publish", "--year", str(r.year)])
        assert result.exit_code != 0
        assert "kan inte skrivas eller tas bort" in result.output
        assert "Ingenting har ändrats" in result.output
        assert len(key_files(app)) == 1
    assert scalar(app, "SELECT COUNT(*) FROM publication") == 0
    assert state(app, r) == "open"
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 1
    # and once the folder can be written again, the year is published, the key shredded
    assert runner.invoke(args=["publish", "--year", str(r.year)]).exit_code == 0
    assert scalar(app, "SELECT COUNT(*) FROM response") == 6
    assert keys_gone(app)


def test_concurrent_submissions_lose_no_answer_while_keys_rotate(app, make_round, caplog):
    """Four respondents at a time, forty answers: batches are released (and their keys
    destroyed) while other submissions of the round seal theirs. Not one answer is
    left under a destroyed key: the round's close releases every one of them."""
    r = make_round("personal", insats="Steget")
    failures: list[str] = []

    def respondent(codes: list[int]) -> None:
        client = app.test_client()
        for code in codes:
            page = client.get(f"/s/{r.code}")
            posted = client.post(
                f"/s/{r.code}", data={"csrf_token": form_token(page.text), "q1": str(code)}
            )
            if posted.status_code != 303:
                failures.append(posted.text[:200])

    threads = [
        threading.Thread(target=respondent, args=([1 + (i + j) % 6 for j in range(10)],))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert "kunde inte släppas" not in caplog.text
    waiting = scalar(app, "SELECT COUNT(*) FROM pending_response")
    assert scalar(app, "SELECT COUNT(*) FROM response") + waiting == 40
    assert "Mätomgången är stängd." in close_as_staff(app, r)
    assert scalar(app, "SELECT COUNT(*) FROM response") == 40
    assert keys_gone(app)


def keys_gone(app) -> bool:
    """No key file left, once the threads that shred released batches' keys are done."""
    deadline = time.monotonic() + 10
    while key_files(app) and time.monotonic() < deadline:
        time.sleep(0.02)
    return key_files(app) == []


def test_answers_whose_key_is_lost_can_be_listed_and_removed_by_the_operator(
    app, runner, make_round
):
    """With no copy of the key, the operator removes the answers no one can read any
    more; then the round closes with the rest. A round id without such answers is
    refused and changes nothing."""
    r = make_round("personal", insats="Steget")
    for _ in range(2):
        answer_open(app, r)
    (key,) = key_files(app)
    key.unlink()
    answer_open(app, r)  # under a new key: readable
    listed = runner.invoke(args=["pending"])
    assert listed.exit_code == 0, listed.output
    assert f"{r.id}" in listed.output
    assert "3 väntar, 2 går inte att läsa" in listed.output
    refused = runner.invoke(args=["pending", "--forget-unreadable", "finns-inte", "--yes"])
    assert refused.exit_code != 0
    assert "Ingenting har ändrats" in refused.output
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 3
    removed = runner.invoke(args=["pending", "--forget-unreadable", r.id, "--yes"])
    assert removed.exit_code == 0, removed.output
    assert "2 svar som inte gick att läsa är borttagna" in removed.output
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 1
    assert "Mätomgången är stängd." in close_as_staff(app, r)
    assert scalar(app, "SELECT COUNT(*) FROM response") == 1


def test_a_paper_form_whose_key_cannot_be_written_is_shown_again_not_stored(app, make_round):
    """Staff typing a paper form while the key folder is broken: the form comes back
    with what they typed and the reason; nothing (not even the audit entry) is stored."""

    r = make_round("personal", insats="Steget")
    client = app.test_client()
    with app.app_context():
        from tests import factories

        session = db.session()
        factories.user(session, "personal", email="papper@example.invalid", insatser=["Steget"])
        session.commit()
    assert login(client, "papper@example.invalid").status_code == 302
    url = f"/personal/omgang/{r.id}/papper"
    key = paper_key(client.get(url).text)
    audit_before = scalar(app, "SELECT COUNT(*) FROM audit_entry")
    folder = keys_folder(app)
    folder.write_text("inte en mapp")
    shown = client.post(url, data={"csrf_token": csrf(client), "form_key": key, "q1": "3"})
    assert "Ingenting har sparats" in shown.text
    assert "registrerad" not in shown.text
    assert re.search(r'name="q1"[^>]*value="3"', shown.text)  # what they typed
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 0
    assert scalar(app, "SELECT COUNT(*) FROM submission_key") == 0
    assert scalar(app, "SELECT COUNT(*) FROM audit_entry") == audit_before
    folder.unlink()
    stored = client.post(
        url,
        data={"csrf_token": csrf(client), "form_key": key, "q1": "3"},
        follow_redirects=True,
    )
    assert "Pappersenkäten är registrerad" in stored.text
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == 1


def _stale_key(app, name: str) -> Path:
    """A key file no waiting answer uses, older than pending_keys.STALE_SECONDS."""
    from surveys.services import pending_keys

    path = keys_folder(app) / f"{name}.key"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(bytes(32))
    old = time.time() - pending_keys.STALE_SECONDS - 60
    os.utime(path, (old, old))
    return path


def _gone(path: Path) -> bool:
    deadline = time.monotonic() + 10  # shredded by a thread
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not path.exists()


def test_a_release_on_a_submission_sweeps_stale_keys_at_most_every_sweep_seconds(
    app, make_round, monkeypatch
):
    """The first release of a worker removes stale key files; later releases look again
    only once SWEEP_SECONDS have passed on the sweep's clock (moved here, not slept)."""
    from surveys.services import submissions

    now = [1000.0]
    monkeypatch.setattr(submissions, "monotonic", lambda: now[0])
    r = make_round("personal", insats="Steget")
    first = _stale_key(app, "a" * 32)
    for _ in range(MIN_CELL):
        answer_open(app, r)
    assert scalar(app, "SELECT COUNT(*) FROM response") == MIN_CELL
    assert _gone(first)
    second = _stale_key(app, "b" * 32)
    now[0] += submissions.SWEEP_SECONDS - 1
    for _ in range(MIN_CELL):
        answer_open(app, r)
    assert scalar(app, "SELECT COUNT(*) FROM response") == 2 * MIN_CELL
    assert keys_gone_but(app, second)  # the batch's key shredded, the stale one not looked at
    now[0] += 2
    for _ in range(MIN_CELL):
        answer_open(app, r)
    assert _gone(second)
    assert keys_gone(app)


def keys_gone_but(app, kept: Path) -> bool:
    deadline = time.monotonic() + 10
    while key_files(app) != [kept] and time.monotonic() < deadline:
        time.sleep(0.02)
    return key_files(app) == [kept]


def test_a_key_file_of_other_than_32_bytes_is_no_key(app):
    """pending_keys.load reads at most a byte more than a key: a shorter or longer file
    is treated as damaged (None), a missing one as missing (None)."""
    from surveys.services import pending_keys

    with app.app_context():
        key = pending_keys.create("c" * 32)
        assert pending_keys.load("c" * 32) == key
        path = keys_folder(app) / f"{'c' * 32}.key"
        for damaged in (b"", key[:31], key + b"x", key * 128):
            path.write_bytes(damaged)
            assert pending_keys.load("c" * 32) is None, len(damaged)
        path.unlink()
        assert pending_keys.load("c" * 32) is None


def test_a_release_on_a_submission_with_a_lost_key_changes_nothing_and_says_which_round(
    app, make_round, caplog
):
    """The fifth answer is stored (under a new key) and thanked; the batch cannot be
    opened (the first four's key file is gone), so nothing is released and the log
    names the round (read through a session made only for that message)."""
    r = make_round("personal", insats="Steget")
    for _ in range(MIN_CELL - 1):
        answer_open(app, r)
    (lost,) = key_files(app)
    lost.unlink()
    with caplog.at_level("ERROR"):
        assert answer_open(app, r).status_code == 303
    assert scalar(app, "SELECT COUNT(*) FROM pending_response") == MIN_CELL
    assert scalar(app, "SELECT COUNT(*) FROM response") == 0
    assert len(key_files(app)) == 1  # the fifth answer's new key, kept
    messages = [record.getMessage() for record in caplog.records]
    assert any("Steget" in message and "4 väntande svar" in message for message in messages)
