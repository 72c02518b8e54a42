"""Security headers on every response, production refuses placeholder secrets, sign-in."""

from __future__ import annotations

import pytest

from surveys import create_app
from surveys.config import ConfigError
from surveys.security import throttle
from tests.conftest import LIGHT_HASHING, answer_exit, login
from tests.servers import PID_METHOD_STATUS, TWO_WORKERS, gunicorn


@pytest.fixture
def some_responses(client, make_round):
    r = make_round("styrelse", insats=None)
    responses = [
        client.get(f"/s/{r.code}"),
        client.get("/logga-in"),
        client.get("/finns-inte"),
        client.get("/static/css/app.css"),
    ]
    yield responses
    for response in responses:
        response.close()


def test_content_security_policy_without_inline_scripts(some_responses):
    for response in some_responses:
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp


def test_nosniff(some_responses):
    assert all(r.headers["X-Content-Type-Options"] == "nosniff" for r in some_responses)


def test_no_referrer(some_responses):
    assert all(r.headers["Referrer-Policy"] == "no-referrer" for r in some_responses)


def test_framing_forbidden(some_responses):
    assert all(r.headers["X-Frame-Options"] == "DENY" for r in some_responses)


def test_hsts_only_in_production(some_responses, database_url):
    assert all("Strict-Transport-Security" not in r.headers for r in some_responses)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SURVEYS_ENV": "production",
            "SECRET_KEY": STRONG_KEY,
            "PUBLIC_URL": "https://enkat.example.se",
        }
    )
    response = app.test_client().get("/logga-in")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["engine"].dispose()


@pytest.mark.parametrize("secret", ["", "utveckling", "change-me", "kort"])
def test_production_refuses_placeholder_secret(secret, database_url):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(
            {"DATABASE_URL": database_url, "SURVEYS_ENV": "production", "SECRET_KEY": secret}
        )


def test_templates_load_nothing_from_the_internet():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    text_files = {".html", ".css", ".js", ".json", ".svg", ".webmanifest"}  # not licence texts
    for path in list((root / "templates").rglob("*.html")) + list(
        (root / "surveys" / "static").rglob("*.*")
    ):
        if path.suffix not in text_files:
            continue  # fonts, licence texts: never loaded as a page or a script
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text, path
        assert "https://" not in text, path


def test_wrong_password_gets_the_same_message_whether_or_not_the_account_exists(client, make_user):
    email = make_user("läsare")
    wrong = login(client, email, "fel-losenord-123")
    unknown = login(client, "finns-inte@example.invalid", "fel-losenord-123")
    assert wrong.status_code == unknown.status_code == 200
    assert "Fel e-postadress eller lösenord." in wrong.text
    assert "Fel e-postadress eller lösenord." in unknown.text


def test_sign_in_is_throttled_per_account(client, make_user, fake_clock):
    # the clock stands still: counts are per fixed window, which must not turn mid-test
    email = make_user("läsare")
    statuses = [login(client, email, f"fel-{i}-losenord").status_code for i in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429
    page = login(client, email, "fel-igen-losenord")
    assert "För många" in page.text


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    response = login(client, make_user("läsare"))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_staff_form_without_csrf_is_refused(client, make_user):
    login(client, make_user("administratör"))
    response = client.post("/admin/insatser", data={"name": "Utan nyckel"})
    assert response.status_code == 400
    assert "säkerhetsnyckel" in response.text


# --- settings: production refuses unsafe ones, development never uses a known key ----

import logging  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime  # noqa: E402

from surveys import clock, db  # noqa: E402
from surveys.config import load_config  # noqa: E402
from tests.conftest import STRONG_KEY, production_config  # noqa: E402


def test_production_starts_with_a_real_configuration():
    config = production_config()
    assert config["SECRET_KEY"] == STRONG_KEY
    assert (config["KIOSK_IDLE_SECONDS"], config["CLOSED_GRACE_SECONDS"]) == (120, 86_400)
    tuned = production_config(
        KIOSK_IDLE_SECONDS="300",
        CLOSED_GRACE_SECONDS="3600",
        MAIL_SERVER="smtp.example.se",
        MAIL_SENDER="enkat@forbundet.se",
    )
    assert (tuned["KIOSK_IDLE_SECONDS"], tuned["CLOSED_GRACE_SECONDS"]) == (300, 3600)
    assert config["PUBLIC_URL"] == "https://enkat.example.se"
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 31}, "minst 32 tecken"),
        ({"SECRET_KEY": "x1y2" * 10}, "minst 8 olika tecken"),
        ({"SECRET_KEY": "utveckling"}, "platshållare"),
        ({"PUBLIC_URL": None}, "PUBLIC_URL saknas"),
        ({"PUBLIC_URL": "enkat.example.se"}, "PUBLIC_URL saknas"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "delad lagring"),
        ({"TRUSTED_PROXIES": "två"}, "TRUSTED_PROXIES ska vara ett heltal"),
        ({"MIN_CELL": "0"}, "MIN_CELL ska vara mellan 1 och 100"),
        ({"SURVEYS_ENV": "prod"}, "SURVEYS_ENV ska vara development eller production"),
        ({"MAIL_SERVER": "smtp.example.se"}, "MAIL_SENDER saknas"),
        ({"KIOSK_IDLE_SECONDS": "5"}, "KIOSK_IDLE_SECONDS ska vara mellan 30 och 3600"),
        ({"CLOSED_GRACE_SECONDS": "en dag"}, "CLOSED_GRACE_SECONDS ska vara ett heltal"),
    ],
)
def test_production_refuses_unsafe_or_unreadable_settings(change, message):
    with pytest.raises(ConfigError, match=message):
        production_config(**change)


def test_surveys_command_refuses_to_start_with_a_swedish_message(tmp_path):
    import subprocess
    import sys

    env = {
        "PATH": os.environ["PATH"],
        "SURVEYS_ENV": "production",
        "SECRET_KEY": "utveckling",
        "SURVEYS_INSTANCE": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", "from surveys.console import main; main()", "rounds", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_development_key_is_random_per_instance_and_owner_only(tmp_path):
    first = load_config(env={"SURVEYS_INSTANCE": str(tmp_path / "a")})
    again = load_config(env={"SURVEYS_INSTANCE": str(tmp_path / "a")})
    other = load_config(env={"SURVEYS_INSTANCE": str(tmp_path / "b")})
    assert first["SECRET_KEY"] not in ("utveckling", "")
    assert len(first["SECRET_KEY"]) >= 32
    assert again["SECRET_KEY"] == first["SECRET_KEY"]  # sessions survive a restart
    assert other["SECRET_KEY"] != first["SECRET_KEY"]
    key_file = tmp_path / "a" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_text() == first["SECRET_KEY"]


def test_database_wal_backup_and_mail_files_are_owner_only(tmp_path):
    from surveys.services.mail import Letter, deliver

    os.umask(0o022)  # a typical login shell: world-readable unless the app says otherwise
    instance = tmp_path / "instance"
    url = f"sqlite:///{instance / 'data.sqlite'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(instance),
            "SECRET_KEY": STRONG_KEY,
            "MAIL_FOLDER": str(instance / "mail"),
        }
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["instrument", "load"]).exit_code == 0
    backup = tmp_path / "backup.sqlite"
    backup.write_bytes(b"")  # an old, world-readable file is overwritten and tightened
    os.chmod(backup, 0o644)
    with app.app_context():
        connection = db.engine().connect()  # keeps the WAL and SHM files in place
        assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
        letter = Letter(forbund="Förbundet", questionnaire="Personal", intervention=None)
        result = deliver(
            app.config, items=[("b@example.invalid", "http://localhost/s/x")], letter=letter
        )
        assert result.sent == 1
        assert result.to_folder
        files = [
            instance / "data.sqlite",
            instance / "data.sqlite-wal",
            instance / "data.sqlite-shm",
            backup,
            *(instance / "mail").glob("*.eml"),
        ]
        assert len(files) == 5
        assert all(f.exists() for f in files)
        modes = {f.name: stat.S_IMODE(os.stat(f).st_mode) for f in files}
        connection.close()
    app.extensions["engine"].dispose()
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700


# --- one clock in Europe/Stockholm ----------------------------------------------------


def utc(*args):
    return lambda: datetime(*args, tzinfo=UTC)


def test_half_past_midnight_in_stockholm_is_the_new_day_on_a_utc_host():
    with clock.use_source(utc(2026, 1, 1, 23, 30)):  # 00:30 on 2 January in Sweden
        assert clock.today() == date(2026, 1, 2)
        assert clock.now().hour == 0
        assert clock.now().minute == 30
    with clock.use_source(utc(2026, 6, 30, 22, 30)):  # summer time: 00:30 on 1 July
        assert clock.today() == date(2026, 7, 1)
    with clock.use_source(utc(2026, 1, 1, 22, 59)):  # 23:59 in Sweden: still 1 January
        assert clock.today() == date(2026, 1, 1)


def test_round_limits_are_compared_in_stockholm_time(app, client, make_round):
    from surveys.models import Round
    from surveys.services.round_access import accepts_answers

    created = make_round("deltagare_avslut", year=2026)
    with app.app_context():
        session = db.session()
        round_ = session.get(Round, created.id)
        round_.opens_on = date(2026, 1, 2)
        session.commit()
        with clock.use_source(utc(2026, 1, 1, 22, 30)):  # 23:30 on 1 January in Sweden
            assert not accepts_answers(round_)
        with clock.use_source(utc(2026, 1, 1, 23, 30)):  # 00:30 on 2 January in Sweden
            assert accepts_answers(round_)
    with clock.use_source(utc(2026, 1, 1, 23, 30)):
        response, _ = answer_exit(client, f"/s/{created.code}")
    assert response.status_code == 303
    with app.app_context():
        session = db.session()
        round_ = session.get(Round, created.id)
        round_.opens_on, round_.closes_on = None, date(2026, 1, 1)
        session.commit()
        with clock.use_source(utc(2026, 1, 1, 22, 59)):  # 23:59 in Sweden: last minute
            assert accepts_answers(round_)
        with clock.use_source(utc(2026, 1, 1, 23, 0)):  # midnight in Sweden: closed
            assert not accepts_answers(round_)


# --- sign-in throttling: failures only, per account and per address, shared ------------


def test_successful_sign_ins_are_not_counted(client, make_user, fake_clock):
    # the clock stands still: counts are per fixed window, which must not turn mid-test
    email = make_user("läsare")
    for _ in range(15):
        assert login(client, email).status_code == 302
        client.post("/logga-ut", data={"csrf_token": "x"})
        client.delete_cookie("session")
    statuses = [login(client, email, f"fel-{i}-losenord").status_code for i in range(11)]
    assert statuses == [200] * 10 + [429]


def test_the_address_limit_spans_accounts_and_stores_only_hashes(
    app, client, make_user, fake_clock
):
    # the clock stands still: counts are per fixed window, which must not turn mid-test
    from sqlalchemy import text

    for i in range(30):
        assert login(client, f"person{i}@example.invalid", "fel-losenord-1").status_code == 200
    refused = login(client, make_user("läsare"))  # even the right password, from here
    assert refused.status_code == 429
    assert "För många" in refused.text
    with app.app_context():
        stored = db.session().execute(text("SELECT key_hash FROM signin_failure")).scalars().all()
    assert len(stored) == 31  # 30 accounts + 1 address
    assert all(len(k) == 64 and "@" not in k and "127.0.0.1" not in k for k in stored)


def test_forwarded_for_is_ignored_without_trusted_proxies(client, make_user):
    email = make_user("läsare")
    for i in range(30):
        headers = {"X-Forwarded-For": f"10.0.0.{i}"}  # a client pretending to be many
        page = client.get("/logga-in")
        client.post(
            "/logga-in",
            data={"csrf_token": form_token_of(page), "email": f"p{i}@x.invalid", "password": "f"},
            headers=headers,
        )
    assert login(client, email).status_code == 429


def test_behind_one_trusted_proxy_each_client_has_its_own_address(database_url, make_user):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": STRONG_KEY,
            "TRUSTED_PROXIES": 1,
            **LIGHT_HASHING,
        }
    )
    client = app.test_client()
    email = make_user("läsare")

    def attempt(address, who, password="fel-losenord"):  # noqa: S107
        page = client.get("/logga-in", headers={"X-Forwarded-For": address})
        return client.post(
            "/logga-in",
            data={"csrf_token": form_token_of(page), "email": who, "password": password},
            headers={"X-Forwarded-For": address},
        ).status_code

    assert [attempt("198.51.100.7", f"p{i}@x.invalid") for i in range(31)][-1] == 429
    assert attempt("203.0.113.9", email, "ett-langt-losenord") == 302  # another client
    app.extensions["engine"].dispose()


def form_token_of(page):
    from tests.conftest import form_token

    return form_token(page.text)


# --- a 500 logs where it happened, never what was sent ---------------------------------


def test_unexpected_error_logs_frames_but_no_request_data(app, caplog):
    from flask import request

    from surveys.security import csrf

    @app.route("/prov-fel", methods=["POST"])
    @csrf.exempt
    def _boom():
        raise ValueError(f"svar {request.form['q1']} från {request.cookies.get('c')}")

    client = app.test_client()
    client.set_cookie("c", "kaka-hemlig")
    with caplog.at_level(logging.ERROR):
        response = client.post("/prov-fel?fraga=hemlig-fraga", data={"q1": "hemligt-svar"})
    assert response.status_code == 500
    assert "Ett fel uppstod" in response.text
    assert "hemlig" not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records) + "".join(
        str(r.exc_info) for r in caplog.records
    )
    assert "builtins.ValueError" in logged
    assert "_boom" in logged
    assert "test_security.py" in logged
    for secret in ("hemligt-svar", "kaka-hemlig", "hemlig-fraga"):
        assert secret not in logged


@pytest.mark.parametrize("met_by", ["the flush", "the commit"])
def test_a_unique_row_written_twice_is_a_swedish_409_not_a_500(app, make_user, caplog, met_by):
    """What a check before a write cannot see (the same insats or e-mail address sent from
    two tabs at once: the other's row is not committed yet) the database refuses. The
    second request then said "Ett fel uppstod" (500). Both places it is met: a service's
    flush in the view, and the request's one commit after it."""
    from sqlmodel import select

    from surveys.models import User
    from surveys.security import csrf

    taken = make_user(email="upptagen@example.invalid")

    @app.route("/prov-dubbel", methods=["POST"])
    @csrf.exempt
    def _twice():
        session = db.session()
        session.add(User(email=taken, name="", password_hash="x", role="personal"))
        if met_by == "the flush":
            session.flush()
        return "sparad"

    # as in production: an error out of the request's end (its commit) goes to the error
    # handlers instead of out of the test client (TESTING propagates it)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.WARNING):
        response = app.test_client().post("/prov-dubbel")
    assert response.status_code == 409
    assert "Samma sak sparades nyss" in response.text
    assert "Ett fel uppstod" not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sqlalchemy.exc.IntegrityError" in logged
    assert "upptagen" not in logged  # the statement's parameters never reach the log
    with app.app_context():
        users = db.session().exec(select(User.email)).all()
    assert users.count(taken) == 1


def test_the_development_server_writes_no_line_for_a_respondent(
    app, live_server, make_round, caplog
):
    """`surveys run` (Werkzeug's server, the NNS demo's förbund) logged every request
    with its path and the client's address: a respondent's too, against principle 1.
    Now a respondent's request leaves no line there either, as under gunicorn, also an
    unreadable one and an absolute target; a staff page keeps its line."""
    import socket
    from urllib.parse import urlsplit

    import requests

    kiosk = make_round(mode="kiosk")
    where = urlsplit(live_server)

    def raw(line: str) -> bytes:
        with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
            sock.sendall(f"{line}\r\nHost: x\r\n\r\n".encode("latin-1"))
            return sock.recv(100)

    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert requests.get(f"{live_server}/s/{kiosk.code}", timeout=10).status_code == 200
        assert requests.get(f"{live_server}//k/{kiosk.code}", timeout=10).status_code == 200
        assert requests.get(f"{live_server}/t/hemlig-lank", timeout=10).status_code == 404
        assert raw(f"GET http://x/s/{kiosk.code}?q1=6 HTTP/1.1").startswith(b"HTTP/1.1")
        assert b"Error" in raw("GET /t/hemlig-lank\xff HTTP/1.1 x")  # http.server's 400 page
        assert requests.get(f"{live_server}/logga-in", timeout=10).status_code == 200
        deadline = time.monotonic() + 5  # the server thread writes its line after answering
        while "logga-in" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /logga-in" in line for line in lines), lines
    logged = "\n".join(lines)
    assert kiosk.code not in logged
    assert "hemlig-lank" not in logged
    assert "q1=6" not in logged


# --- the real limit under gunicorn: two workers behind a proxy --------------------------


@pytest.fixture
def gunicorn_two_workers(database_url, tmp_path):
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": STRONG_KEY,
        "TRUSTED_PROXIES": "1",
        # Two separately started workers: with preload the kernel tends to hand every new
        # connection to the same forked worker, and the test must see both answer.
        "GUNICORN_PRELOAD": "0",
    }
    args = (*TWO_WORKERS, "--access-logformat", PID_METHOD_STATUS)
    with gunicorn(tmp_path, env, *args, workers=2) as (base, access_log, _):
        yield base, access_log


def test_two_gunicorn_workers_share_the_real_limit(gunicorn_two_workers, make_user, database_url):
    import requests

    base, access_log = gunicorn_two_workers
    email = make_user("läsare")

    def attempt(address: str, who: str, password: str) -> int:
        # a new connection every time, so either worker may answer
        with requests.Session() as browser:
            headers = {"X-Forwarded-For": address, "Connection": "close"}
            page = browser.get(base + "/logga-in", headers=headers, timeout=30)
            from tests.conftest import form_token

            return browser.post(
                base + "/logga-in",
                data={"csrf_token": form_token(page.text), "email": who, "password": password},
                headers=headers,
                allow_redirects=False,
                timeout=30,
            ).status_code

    from concurrent.futures import ThreadPoolExecutor

    # Two attempts at a time: while one worker checks a password (argon2), the other
    # worker takes the second connection, so both workers count failures.
    with ThreadPoolExecutor(max_workers=2) as pool:
        wrong = list(
            pool.map(lambda i: attempt("198.51.100.1", email, f"fel-losenord-{i}"), range(10))
        )
    wrong.append(attempt("198.51.100.1", email, "fel-losenord-10"))
    assert wrong == [200] * 10 + [429]  # the 11th, not the 21st (10 per worker)
    # the account waits its delay (5 s) from any address, even with the right password
    assert attempt("198.51.100.2", email, PASSWORD_OF_FIXTURE) == 429
    # another client and account is not locked out by the first client's failures
    other = make_user("administratör", email="annan@example.invalid")
    assert attempt("203.0.113.5", other, PASSWORD_OF_FIXTURE) == 302
    assert len(access_log_posts(access_log, expected=13)) == 13
    # Which worker takes a connection is the kernel's choice (usually both, see the pairs
    # above); what makes the limit real is that every failure is counted in the storage
    # all workers share, not in a worker's memory:
    same_keys = create_app({"DATABASE_URL": database_url, "SECRET_KEY": STRONG_KEY})
    with same_keys.app_context():
        # attempts are counted before the password is checked, refused ones too: the
        # account's 10 + 1 from .1 + 1 from .2, the address's 10 + 1
        assert throttle().failures(email, "198.51.100.1") == {"account": 12, "address": 11}
    same_keys.extensions["engine"].dispose()


PASSWORD_OF_FIXTURE = "ett-langt-losenord"


def access_log_posts(access_log, *, expected: int, seconds: float = 10) -> list[str]:
    """The access log's POST lines; a worker writes its line after sending the response,
    so the last one may come a moment after the client has its answer."""
    deadline = time.monotonic() + seconds
    while True:
        posts = [line for line in access_log.read_text().splitlines() if " POST " in line]
        if len(posts) >= expected or time.monotonic() > deadline:
            return posts
        time.sleep(0.1)


def test_a_configured_limits_storage_counts_failures_only(database_url, make_user):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": STRONG_KEY,
            "RATELIMIT_STORAGE_URI": "memory://",  # development: the limits library's storage
            "SIGNIN_LIMIT_ACCOUNT": 3,
            **LIGHT_HASHING,
        }
    )
    client = app.test_client()
    email = make_user("läsare")
    assert login(client, email).status_code == 302
    client.delete_cookie("session")
    statuses = [login(client, email, f"fel-{i}-losenord").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert app.extensions["signin_throttle"].shared
    assert count_rows_of(app, "signin_failure") == 0  # counted in that storage instead
    app.extensions["engine"].dispose()


def count_rows_of(app, table):
    from tests.conftest import count_rows

    return count_rows(app, table)


def test_nul_is_refused_in_every_form_and_every_repeated_value(app, client, make_user):
    """PostgreSQL cannot store or look up text with NUL: a 400 before any view, whether
    the form is urlencoded or multipart, and in any value of a repeated key."""
    from werkzeug.datastructures import MultiDict

    from tests.conftest import form_token

    email = make_user("administratör")
    token = form_token(client.get("/logga-in").text)
    fields = {"csrf_token": token, "email": email + "\x00", "password": "x"}
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        assert client.post("/logga-in", data=fields, content_type=content_type).status_code == 400
    # the first value clean, the second not (.values() gives only the first)
    assert client.get("/logga-in?x=ok&x=%00").status_code == 400
    repeated = MultiDict([("csrf_token", token), ("email", email), ("email", "b\x00")])
    assert client.post("/logga-in", data=repeated).status_code == 400
    # nothing of it reached the sign-in: the account is not throttled, and signs in
    assert login(client, email).status_code == 302


def test_a_database_url_naming_a_device_or_pipe_leaves_its_mode_alone(tmp_path):
    """DATABASE_URL=sqlite:////dev/null made each process that started as root chmod
    /dev/null to 0600, and every other user's shell on the machine broke. Only the
    instance's regular files are made owner-only (tried here on a named pipe)."""
    from types import SimpleNamespace

    from surveys.security import private_files

    pipe = tmp_path / "ror"
    os.mkfifo(pipe)
    os.chmod(pipe, 0o644)
    database = tmp_path / "riktig.sqlite"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    for url, path, mode in (
        (f"sqlite:///{pipe}", pipe, 0o644),
        (f"sqlite:///{database}", database, 0o600),
    ):
        app = SimpleNamespace(instance_path=str(tmp_path / "instans"), config={"DATABASE_URL": url})
        private_files(app)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
