"""Fixtures: a real database (SQLite file, or PostgreSQL with TEST_DB=postgresql), migrated
with Alembic once per session and emptied between tests; app, client and runner."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import pickle
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

import pytest
from hypothesis import settings
from jinja2 import MemcachedBytecodeCache
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session
from werkzeug.serving import make_server

from surveys import clock, create_app, db, worker
from surveys.config import load_config
from surveys.models import Round, metadata
from surveys.reports import assets
from surveys.services.catalogue import instrument_from_db
from tests import factories

T = TypeVar("T")

# CI=true (set by .ci/run and by CI services): checks that must not be skipped there fail.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Hypothesis: "ci" is derandomized (the same examples on every run, so a red build is
# reproducible and a green one is not luck) and keeps no example database; "dev" (default)
# explores new examples each run. HYPOTHESIS_PROFILE picks one explicitly.
# Both start from Hypothesis' own defaults: it switches to its built-in CI settings by
# itself whenever a CI variable is merely present, which must not leak into "dev".
_DEFAULTS = settings.get_profile("default")
settings.register_profile(
    "ci", _DEFAULTS, derandomize=True, database=None, print_blob=True, deadline=None
)
settings.register_profile("dev", _DEFAULTS, derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if IN_CI else "dev"))


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass (TEST_DB=postgresql) runs only the tests whose outcome can
    depend on the database: those that use it (the ``database_url`` fixture, which ``app``,
    ``client`` and ``session`` build on), minus browser tests (Chromium checks pages and
    layout; the same requests run on PostgreSQL in the non-browser tests), tests marked
    ``one_database`` (they read figures the database only stores) and tests of the report's
    outputs built on the ``demo`` fixture (the demo itself runs on PostgreSQL in
    ``test_disclosure_demo``, whose bounded attack reads what it published). Pure tests
    of ``indicators/``, the instrument and the spec texts ran in the SQLite pass already.
    Both passes start the longest files first (``START_FIRST``)."""
    if os.environ.get("TEST_DB") == "postgresql":
        _only_where_the_database_matters(config, items)
    items.sort(key=_started_first)  # stable: the rest keep their order


# The files that take longest in `make test` (worker-seconds on a 2-core machine, SQLite
# and PostgreSQL passes), longest first. They are started first (the Makefile turns off
# xdist's own order, most tests first, which put the long files with few tests last), so
# the two workers end together instead of one running a long file alone at the end. A
# stale list costs only speed.
START_FIRST = (
    "test_kiosk_browser.py",  # 80-100 s
    "test_report_issue19.py",  # 65 s; 53 s on PostgreSQL
    "test_national.py",  # 60 s
    "test_jobs.py",  # 46 s; 52 s on PostgreSQL
    "test_cli.py",  # 45 s
    "test_disclosure_property.py",  # 40-50 s
    "test_disclosure_demo.py",  # 40 s on PostgreSQL (the demo is built there)
    "test_wheel.py",  # 35-40 s
    "test_publications.py",  # 30 s, also on PostgreSQL
    "test_translations_browser.py",  # 30 s
    "test_no_leaks.py",  # 25 s
    "test_files.py",  # 23 s on PostgreSQL
    "test_kiosk_a11y.py",  # 20-27 s
)


def _started_first(item) -> int:
    name = item.path.name
    return START_FIRST.index(name) if name in START_FIRST else len(START_FIRST)


def _only_where_the_database_matters(config, items) -> None:
    """See pytest_collection_modifyitems: the tests the PostgreSQL pass deselects."""
    keep, drop = [], []
    for item in items:
        uses_database = "database_url" in getattr(item, "fixturenames", ())
        once = (
            item.get_closest_marker("browser")
            or item.get_closest_marker("one_database")
            or "demo" in getattr(item, "fixturenames", ())
        )
        (keep if uses_database and not once else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


SECRET = "test-secret-key-0123456789abcdef"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TABLET = {"width": 800, "height": 1280}
# Light password hashing for tests, given as settings (production refuses these values).
LIGHT_HASHING = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1}
INSTRUMENT_TABLES = {
    "instrument_info",
    "questionnaire",
    "indicator",
    "scale_option",
    "question",
    "question_version",
    "alembic_version",
}


class _DictClient(dict):
    """The smallest memcache-like client: Jinja's bytecode cache kept in a dict."""

    def set(self, key, value, timeout=None):
        self[key] = value


TEMPLATE_CACHE = MemcachedBytecodeCache(_DictClient())


def _share_url_builders() -> None:
    """Compile each route's URL builders once per test process, not once per test's app.

    Werkzeug writes two Python functions per route when an app is made (``url_for``'s
    builders), about 30 ms of a new app's 40 ms with this app's routes; every test makes
    a new app. A builder depends only on the route's parsed parts (``_trace``), the names
    of its defaults and whether unknown values are appended: the app, the converters and
    the values reach it at call time through its ``.self`` argument. So a builder written
    for one app is the same code for the next, and tests share it. A route with a default
    for one of its own parts has that value written into the code: those are not shared.
    Should Werkzeug rename the method, nothing is shared and only speed is lost.
    """
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None:
        return
    written: dict[tuple, Callable] = {}

    def compile_builder(self, append_unknown=True):
        defaults = self.defaults or {}
        trace = tuple(self._trace)
        if defaults and any(is_dynamic and part in defaults for is_dynamic, part in trace):
            return original(self, append_unknown)
        key = (self.rule, trace, tuple(defaults), append_unknown)
        if key not in written:
            written[key] = original(self, append_unknown)
        return written[key]

    Rule._compile_builder = compile_builder  # noqa: SLF001 - the one seam for this (see above)


_share_url_builders()


def _postgres_url() -> str | None:
    if os.environ.get("TEST_DB") == "postgresql":
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.exit("TEST_DB=postgresql kräver TEST_DATABASE_URL", returncode=2)
        return url
    return None


def _database_of_worker(url: str, worker: str) -> str:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own
    (``surveys_test_gw0`` beside ``surveys_test``), created on first use."""
    if worker == "master":
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = _postgres_url()
    if url is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    else:
        url = _database_of_worker(url, os.environ.get("PYTEST_XDIST_WORKER", "master"))
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "TESTING": True})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["instrument", "load"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    app.extensions["engine"].dispose()
    return url


# DELETE statements for every table but the instrument's, children first: written once,
# given to the driver as they are (no SQLAlchemy compilation per test).
_EMPTYING = [
    f'DELETE FROM "{table.name}"'
    for table in reversed(metadata.sorted_tables)
    if table.name not in INSTRUMENT_TABLES
]


def empty_database(url: str) -> None:
    """Delete every row except the instrument, children first."""
    if url.startswith("sqlite:///"):
        # The tests' own connection: no fsync for emptying (the file is thrown away).
        with sqlite3.connect(make_url(url).database) as conn:
            conn.execute("PRAGMA synchronous=OFF")
            for statement in _EMPTYING:
                conn.execute(statement)
        conn.close()
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in _EMPTYING:
            conn.exec_driver_sql(statement)
    engine.dispose()


class FakeClock:
    """The service's clock (surveys/clock.py) stopped at an instant the test moves on:
    ages, leases and expiries are tested without sleeping."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock on by ``timedelta(**delta)``; returns the new instant."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    """A stopped clock, starting at the real current instant (today stays today)."""
    fake = FakeClock(clock.utcnow())
    with clock.use_source(fake):
        yield fake


@pytest.fixture(autouse=True)
def _no_charts_from_earlier_tests():
    """Each test has a database of its own; the in-process chart cache (keyed by the
    figures) must not carry a chart a test replaced into the next test's pages."""
    yield
    assets.clear_memory()


@pytest.fixture(autouse=True)
def _priority_unchanged():
    """A test must not lower this process's priority: ``surveys worker`` run in-process
    without ``--priority normal`` sets SCHED_IDLE and nice 10 for good, and every later
    test of this xdist process would then get a core only when the other does not want it."""
    before = (os.sched_getscheduler(0), os.nice(0))
    yield
    after = (os.sched_getscheduler(0), os.nice(0))
    assert after == before, (
        "testet sänkte processens prioritet (surveys worker utan --priority normal?)"
    )


@pytest.fixture
def app(database_url, tmp_path):
    empty_database(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "instance"),  # pending keys: one folder per test
            "SECRET_KEY": SECRET,
            "TESTING": True,
            "PUBLIC_URL": "http://localhost",
            "MIN_CELL": 5,
            "RATELIMIT_ENABLED": True,
            **LIGHT_HASHING,
        }
    )
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE  # compile templates once per session
    # Background jobs are done at once, in the request, by the worker's own code path
    # (tests/test_jobs.py runs real worker processes too).
    app.extensions[worker.RUNNER] = worker.run_inline
    yield app
    wait_for_cleanup()
    app.extensions["engine"].dispose()


def wait_for_cleanup(seconds: float = 15) -> None:
    """Let the threads a release started (key shredding, VACUUM, emptying the WAL) end
    before the engine is disposed: a connection such a thread gives back afterwards
    would be left open in the disposed pool (psycopg warns when it is collected)."""
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        if thread.name.startswith("cleanup-"):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session()


@pytest.fixture
def instrument(session):
    return instrument_from_db(session)


@pytest.fixture
def make_round(app):
    """Create (and by default open) a round; returns it (see tests.factories.round_)."""

    def factory(questionnaire="deltagare_avslut", **options):
        with app.app_context():
            s = db.session()
            created = factories.round_(s, questionnaire, **options)
            s.commit()
            return created

    return factory


_SNAPSHOTS: dict[tuple[str, str], tuple[Path, object]] = {}  # (URL, name) -> (copy, value)


def database_snapshot(app, name: str, build: Callable[[], T]) -> T:
    """What ``build()`` writes to the test's database, built once per test run on SQLite.

    The first test runs ``build`` and keeps a copy of the file it left (SQLite's backup
    API) with the value it returned; later tests get the copy and the same value (ids,
    codes, plain kiosk tokens: everything in it is as stored in the copy). Under
    pytest-xdist the copy is shared by the workers of the run (``_shared_snapshot``), so
    the demo is built once, not once per worker. PostgreSQL runs ``build`` every time.
    Request it before fixtures that write: the copy replaces the file, so nothing written
    before may be lost (checked on the users table).
    """
    url = app.config["DATABASE_URL"]
    if not url.startswith("sqlite:///"):
        return build()
    path = Path(make_url(url).database)
    with sqlite3.connect(path) as conn:
        written = conn.execute("SELECT COUNT(*) FROM app_user").fetchone()[0]
    conn.close()
    assert not written, f"{name}: request the snapshot before fixtures that add users"
    found = _SNAPSHOTS.get((url, name))
    if found is None:

        def build_and_copy(copy: Path) -> T:
            value = build()
            app.extensions["engine"].dispose()
            _sqlite_copy(path, copy)
            return value

        copy, value, built_here = _shared_snapshot(
            name, build_and_copy, path.with_name(f"{name}-copy.sqlite")
        )
        _SNAPSHOTS[(url, name)] = found = (copy, value)
        if built_here:
            return cast(T, value)  # the database is as the build left it
    app.extensions["engine"].dispose()
    _sqlite_copy(found[0], path)
    return cast(T, found[1])


def _shared_snapshot(
    name: str, build_and_copy: Callable[[Path], T], own_copy: Path
) -> tuple[Path, object, bool]:
    """(copy, value, built here) of a snapshot: built here into ``own_copy``, or, under
    pytest-xdist, into the folder the run's workers share (taken from there when another
    worker built it first).

    The folder is the parent of the workers' base temporary folders (``pytest-N``, one
    per run), so a later run never finds an earlier run's snapshot. One worker builds
    while the others wait on a file lock; the value travels as a pickle beside the copy.
    Without xdist the snapshot stays in this process (its base folder has no such parent).
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return own_copy, build_and_copy(own_copy), True
    # own_copy: <run>/popen-gwN/db0/<name>-copy.sqlite; <run> is this run's pytest-N
    shared = own_copy.parent.parent.parent / "shared-snapshots"
    shared.mkdir(exist_ok=True)
    copy, value_file = shared / f"{name}.sqlite", shared / f"{name}.pickle"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if value_file.exists():  # written last: the copy beside it is complete
            value = pickle.loads(value_file.read_bytes())  # noqa: S301 - this run's own file
            return copy, value, False
        value = build_and_copy(copy)  # the workers' copy, written once
        value_file.write_bytes(pickle.dumps(value))
    return copy, value, True


def load_demo(runner) -> str:
    """The test's database as ``surveys demo`` leaves it (four published years, their charts);
    returns what the command printed.

    On SQLite the real command runs once per test run (``database_snapshot``), which saves
    the seeding, the four publications and 60 chart drawings per test. ``runner``: the
    test's CLI runner.
    """

    def run_demo() -> str:
        result = runner.invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        return result.output

    return database_snapshot(runner.app, "demo", run_demo)


@pytest.fixture
def demo(runner) -> None:
    """The demo's four published years in the test's database (see ``load_demo``); request
    it before fixtures that write (``admin_client``, ``make_user``): it replaces the file."""
    load_demo(runner)


def _sqlite_copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def form_token(html: str) -> str:
    for tag in re.findall(r"<input[^>]*>", html):
        if 'name="csrf_token"' in tag:
            match = re.search(r'value="([^"]*)"', tag)
            assert match, "form token has no value"
            assert match.group(1), "form token is empty"
            return match.group(1)
    raise AssertionError("form has no token")


def release_all(app) -> int:
    """Release every questionnaire waiting in ``pending_response``, as closing its round does."""
    from surveys.services.submissions import release_pending

    with app.app_context():
        s = db.session()
        rounds = [r for (r,) in s.execute(text("SELECT DISTINCT round_id FROM pending_response"))]
        return release_pending(s, min_batch=1, round_ids=rounds)


def count_rows(app, table: str) -> int:
    """Rows in a table; for the answers, after releasing what waits (see ``release_all``)."""
    if table in ("response", "answer"):
        release_all(app)
    with app.app_context():
        return db.session().execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608


def second_waits_for_first(
    app, first: Callable[[Session], T], second: Callable[[Session], str]
) -> tuple[T, str]:
    """Two requests at the same moment, made deterministic: ``first(session)`` runs and
    is not committed yet; ``second`` runs in a thread of its own (its own session) and
    must still be waiting a second later (``locks.in_turn``: a lock of the first's
    transaction); once the first commits, the second ends. Returns what ``first``
    returned and what ``second`` said (it commits or rolls back itself)."""
    said: list[str] = []

    def run_second() -> None:
        with app.app_context():
            said.append(second(db.session()))

    with app.app_context():
        session = db.session()
        result = first(session)
        waiting = threading.Thread(target=run_second)
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive()  # it waits for the first's transaction
        session.commit()
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert len(said) == 1
    return result, said[0]


def scalar(app, sql: str, **params):
    """One value from the test's database (``SELECT COUNT(*) …``)."""
    with app.app_context():
        return db.session().execute(text(sql), params).scalar_one()


def round_row(app, round_id: str) -> Round:
    """The round as stored now, detached: its fields read outside the app context."""
    with app.app_context():
        s = db.session()
        found = s.get(Round, round_id)
        assert found is not None
        s.expunge(found)
        return found


STRONG_KEY = "k7Qm2Zp9Xr4Lw8Nd3Vb6Hs1Tf5Jc0Gy-a"  # a production secret: 34 characters, 33 different


def production_config(**extra: str | None) -> dict:
    """What production loads (``config.load_config`` from the environment): a strong key,
    an https address, a database never opened, changed by ``extra`` (None: left out)."""
    env: dict[str, str | None] = {
        "SURVEYS_ENV": "production",
        "SECRET_KEY": STRONG_KEY,
        "PUBLIC_URL": "https://enkat.example.se",
        "DATABASE_URL": "sqlite:////nonexistent/never-opened.sqlite",
    }
    env.update(extra)
    return load_config(env={k: v for k, v in env.items() if v is not None})


def sql_session(url: str) -> Session:
    return Session(create_engine(url))


PASSWORD = factories.PASSWORD


@pytest.fixture
def make_user(app):
    """Create a user (role, interventions by name) and return its e-mail."""

    def factory(role="administratör", *, email=None, insatser=()):
        with app.app_context():
            s = db.session()
            created = factories.user(s, role, email=email, insatser=insatser)
            s.commit()
            return created.email

    return factory


def login(client, email, password=PASSWORD):
    page = client.get("/logga-in")
    return client.post(
        "/logga-in",
        data={"csrf_token": form_token(page.text), "email": email, "password": password},
    )


@pytest.fixture
def admin_client(client, make_user):
    assert login(client, make_user("administratör")).status_code == 302
    return client


def table_rows(html: str) -> list[tuple[str, ...]]:
    """Every <tr> of a page as a tuple of its cells' text."""
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, flags=re.S)
        rows.append(tuple(re.sub(r"<[^>]+>", "", c).strip() for c in cells))
    return rows


# --- the browser tests' server and Chromium ---------------------------------------------


@pytest.fixture
def live_server(app):
    """The test's app on a free loopback port, in a thread of the test process (so the
    test's fake clock and database are the server's)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page (injected: open the page's
    context with ``bypass_csp=True``, its CSP allows only its own scripts)."""
    assert AXE.exists(), "axe-core saknas: kör `npm ci --prefix tests/js` (make browsers)"
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}}))
            .violations.map(v => ({id: v.id, impact: v.impact,
                                   nodes: v.nodes.map(n => n.target.join(" "))}))""",
        WCAG21_AA,
    )


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by Playwright (one per test module)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium saknas (installeras av make test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def tablet_page(browser, **options) -> Iterator:
    """A tablet-sized (800 × 1280) Swedish page in a context of its own, with the
    browser tests' 15 s timeout; ``options`` add to the context's (no JavaScript …)."""
    context = browser.new_context(viewport=TABLET, locale="sv-SE", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def tablet(browser):
    """A touch tablet's page."""
    yield from tablet_page(browser, has_touch=True)


# --- requests as the pages make them (shared by test modules) ------------------------


def csrf(client):
    """A CSRF token for the staff pages (from the sign-in page)."""
    return form_token(client.get("/logga-in").text)


def paper_key(page_html: str) -> str:
    """The paper form's one-time key in its page."""
    return re.search(r'name="form_key"[^>]*value="([^"]+)"', page_html).group(1)


def answer_open(app, round_, code: int = 6):
    """One questionnaire through the round's open link (question 1 only)."""
    client = app.test_client()
    page = client.get(f"/s/{round_.code}")
    return client.post(f"/s/{round_.code}", data={"csrf_token": form_token(page.text), "q1": code})


def close_as_staff(app, round_) -> str:
    """Close the round as its staff do (Stäng, confirmed); the page shown after it."""
    client = app.test_client()
    with app.app_context():
        session = db.session()
        known = session.execute(
            text("SELECT 1 FROM app_user WHERE email = 'stang@example.invalid'")
        )
        if known.first() is None:
            factories.user(
                session, "personal", email="stang@example.invalid", insatser=["Steget", "Vägen"]
            )
            session.commit()
    assert login(client, "stang@example.invalid").status_code == 302
    shown = client.post(
        f"/personal/omgang/{round_.id}/stang",
        data={"csrf_token": csrf(client), "confirm": "y"},
        follow_redirects=True,
    )
    return shown.text


def answer_exit(client, url, *, q8="2", extra=None, conditional_shown="1"):
    """An exit questionnaire posted to ``url``: (the response, the posted fields)."""
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "csrf_token": form_token(page.text),
        "gender": "kvinna",
        "q1": "6",
        "q2": "5",
        "q8": q8,
        "conditional_shown": conditional_shown,
    }
    data.update(extra or {})
    return client.post(url, data=data), data


def report_rows(runner, year: int, insats: str | None = None) -> list[dict[str, str]]:
    """The year's report CSV (``surveys report --format csv``) as rows."""
    args = ["report", "--year", str(year), "--format", "csv"]
    if insats:
        args += ["--insats", insats]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))
