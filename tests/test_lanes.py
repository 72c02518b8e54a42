"""The report lane and the report process (surveys/lanes.py): heavy report pages one at a
time, at a lower priority, and tablets never wait for them."""

from __future__ import annotations

import http.server
import socketserver
import sys
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client

from surveys import lanes
from surveys.lanes import FromWorkers, ReportLane, ReportProcess, StartedReportProcess
from tests.conftest import login


def test_a_report_waits_for_the_lane_and_a_tablet_does_not(app, make_round, tmp_path):
    r = make_round()
    lane = ReportLane(app.wsgi_app, str(tmp_path / "report-lane.lock"))
    client = Client(lane)
    finished = threading.Event()

    def report() -> None:
        client.get("/rapport/2020")  # any answer: what matters is when it comes
        finished.set()

    with lane.lock:  # another report is being computed
        waiting = threading.Thread(target=report)
        waiting.start()
        tablet = client.get(f"/s/{r.code}")  # not a report: goes straight through
        assert tablet.status_code == 200
        assert 'name="csrf_token"' in tablet.get_data(as_text=True)
        assert not finished.wait(0.5)  # the report waits for the lane
    waiting.join(timeout=30)
    assert finished.is_set()


def test_the_lane_is_shared_by_two_workers(app, tmp_path):
    """Two lanes on the same file (two gunicorn workers, each its own descriptor) exclude
    each other."""
    path = str(tmp_path / "report-lane.lock")
    first, second = ReportLane(app.wsgi_app, path), ReportLane(app.wsgi_app, path)
    taken = threading.Event()

    def take() -> None:
        with second.lock:
            taken.set()

    with first.lock:
        other = threading.Thread(target=take)
        other.start()
        assert not taken.wait(0.5)
    other.join(timeout=30)
    assert taken.is_set()


class _Recorder(http.server.BaseHTTPRequestHandler):
    """The report process's side of the socket: records each request, answers 201 with
    two cookies (or drops the connection when ``server.drop`` is set)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        if self.server.drop:
            self.close_connection = True
            return  # no answer at all: as a report process that dies mid-request
        answer = "Räknat i rapportprocessen".encode()
        self.send_response(201)
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2; Path=/")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args) -> None:
        """Quiet (a Unix socket's peer has no address to print)."""


@pytest.fixture
def report_socket(tmp_path):
    """A recording HTTP server on a Unix socket, as the report process would listen."""
    path = str(tmp_path / "rapport.sock")
    server = socketserver.ThreadingUnixStreamServer(path, _Recorder)
    server.seen, server.drop = [], False
    # a short poll: shutdown() at the end waits up to one poll for the loop to notice
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield path, server
    server.shutdown()
    server.server_close()


def _proxied(app, socket_path: str, noted: str = "REQUEST_METHOD") -> tuple[Client, list[str]]:
    """A client through ReportProcess, and what reached its fallback (the lane): each
    request's ``noted`` environ value; the app answers those."""
    reached: list[str] = []

    def lane(environ, start_response):
        reached.append(environ[noted])
        return app.wsgi_app(environ, start_response)

    return Client(ReportProcess(app.wsgi_app, socket_path, lane, app)), reached


def test_a_heavy_page_is_answered_by_the_report_process_as_the_client_asked(app, report_socket):
    path, server = report_socket
    client = Client(ReportProcess(app.wsgi_app, path, app.wsgi_app, app))
    client.set_cookie("session", "s1", domain="localhost")
    answer = client.post(
        "/admin/publicera/2023?steg=2",
        data={"confirm": "y", "namn": "Åsa"},
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "Connection": "close",
            "X-Rapport-Klient": "198.51.100.7",  # a client posing as a worker
        },
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert answer.status_code == 201
    assert answer.get_data(as_text=True) == "Räknat i rapportprocessen"
    assert answer.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    # the report process's server wrote Date and Server: the worker's gunicorn writes its own
    assert "Date" not in answer.headers
    assert "Server" not in answer.headers
    [(method, target, headers, body)] = server.seen
    assert (method, target) == ("POST", "/admin/publicera/2023?steg=2")
    assert body == b"confirm=y&namn=%C3%85sa"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["Cookie"] == "session=s1"
    # the request as the worker received it: the app there reads X-Forwarded-For itself
    assert headers["X-Forwarded-For"] == "203.0.113.9"
    # the worker's own view of the connection, never the client's claim
    assert headers["X-Rapport-Klient"] == "127.0.0.1"
    assert headers["X-Rapport-Schema"] == "http"
    assert headers.get("Connection") != "close"


def test_a_signed_in_user_stays_signed_in_through_the_report_process(app, make_user, tmp_path):
    """The real app behind a real server on a Unix socket, as in the report process:
    Flask-Login's strong session protection sees the same client address there."""
    path = str(tmp_path / "rapport.sock")
    inner = app.wsgi_app
    behind = make_server(f"unix://{path}", 0, FromWorkers(inner), threaded=True)
    thread = threading.Thread(target=behind.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        app.wsgi_app = ReportProcess(inner, path, inner, app)
        client = app.test_client()
        assert login(client, make_user("administratör")).status_code == 302
        page = client.get("/rapport", environ_base={"REMOTE_ADDR": "192.0.2.4"})
        assert page.status_code == 302  # signed out: another address, strong protection
        assert login(client, make_user(email="andra@example.invalid")).status_code == 302
        page = client.get("/rapport")  # signed in: nothing published yet, says the app
        assert page.status_code == 404
        assert "Ingen rapport ännu" in page.get_data(as_text=True)
        assert "Logga ut" in page.get_data(as_text=True)
    finally:
        behind.shutdown()
        behind.server_close()


def test_respondent_and_other_pages_never_reach_the_report_process(app, make_round, report_socket):
    path, server = report_socket
    client = Client(ReportProcess(app.wsgi_app, path, app.wsgi_app, app))
    code = make_round().code
    form = client.get(f"/s/{code}")
    assert 'name="csrf_token"' in form.get_data(as_text=True)
    repeated = client.get("/", environ_overrides={"PATH_INFO": f"//s/{code}"})
    assert 'name="csrf_token"' in repeated.get_data(as_text=True)
    assert "E-post" in client.get("/logga-in").get_data(as_text=True)
    assert server.seen == []


def test_every_spelling_of_a_heavy_page_reaches_the_report_process(app, report_socket):
    """The app routes "//rapport/2024" as "/rapport/2024": so must the proxy, or repeated
    slashes would compute reports at the tablets' priority, several at once."""
    path, server = report_socket
    client, computed_here = _proxied(app, path, noted="PATH_INFO")
    targets = ["//rapport/2024/rapport.xlsx", "///rapport", "//admin/publicera/2024"]
    targets.append("/admin/kommentarer/2024")  # the comments page shows the report's figures
    for target in targets:  # as gunicorn gives them (a test client reads "//h/" as a host)
        assert client.get("/", environ_overrides={"PATH_INFO": target}).status_code == 201
    # forwarded as sent; the recording server (http.server) merges a leading "//" itself
    assert [seen[1] for seen in server.seen] == [
        "/rapport/2024/rapport.xlsx",
        "/rapport",
        "/admin/publicera/2024",
        "/admin/kommentarer/2024",
    ]
    assert computed_here == []


def test_without_the_report_process_the_lane_computes_the_page(app, tmp_path, caplog):
    lane = ReportLane(app.wsgi_app, str(tmp_path / "report-lane.lock"))
    missing = str(tmp_path / "ingen.sock")  # not started yet, or gone
    client = Client(ReportProcess(app.wsgi_app, missing, lane, app))
    answers: list = []
    with lane.lock:  # the fallback is the lane: it waits while another report is computed
        waiting = threading.Thread(target=lambda: answers.append(client.get("/rapport")))
        waiting.start()
        waiting.join(0.5)
        assert answers == []
    waiting.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 302  # the app's own answer: sign in first
    assert "/logga-in" in answer.headers["Location"]
    assert client.get("/rapport").status_code == 302
    # the operator is told, once a minute, not once a page
    told = [r for r in caplog.records if "Rapportprocessen svarar inte" in r.getMessage()]
    assert len(told) == 1
    assert told[0].levelname == "WARNING"


def test_a_dropped_page_is_not_computed_again_here(app, report_socket):
    """A page the report process drops half-way took longer than its worker may, or the
    process died: the worker does not take a tablets' core as long again (a GET), nor
    publish twice (a POST). The administrator gets the app's Swedish page, with every
    header the app's responses have."""
    path, server = report_socket
    server.drop = True
    client, computed_here = _proxied(app, path)
    for answer in (client.get("/rapport"), client.post("/admin/publicera/2023", data={"a": "y"})):
        assert answer.status_code == 503
        text = answer.get_data(as_text=True)
        assert "Sidan kunde inte visas just nu" in text
        assert "Publicera" in text
        assert answer.headers["Content-Security-Policy"].startswith("default-src")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
    assert computed_here == []
    assert [seen[0] for seen in server.seen] == ["GET", "POST"]


def test_a_body_not_read_here_goes_to_the_lane_not_to_the_workers_app(app, report_socket):
    """A body larger than the app takes, or of unknown length (chunked), is not read and
    forwarded: the lane answers, one report at a time, and the app refuses what is too
    large without reading it."""
    path, server = report_socket
    client, in_the_lane = _proxied(app, path)
    too_large = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    answer = client.post("/admin/publicera/2023", data=too_large)
    assert answer.status_code == 413
    assert "för stort" in answer.get_data(as_text=True)
    chunked = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    answer = client.get("/rapport/2024/rapport.xlsx", environ_overrides=chunked)
    assert answer.status_code == 302  # the app's answer (sign in first), from the lane
    assert in_the_lane == ["POST", "GET"]
    assert server.seen == []


def test_a_header_the_socket_cannot_carry_is_answered_in_the_lane(app, report_socket):
    """http.client refuses a header value with a line break (gunicorn refuses it first):
    nothing was sent, so the lane answers rather than an English 500."""
    path, server = report_socket
    client, in_the_lane = _proxied(app, path, noted="PATH_INFO")
    answer = client.get("/rapport", environ_overrides={"HTTP_X_NOTE": "a\r\nInjected: 1"})
    assert answer.status_code == 302
    assert in_the_lane == ["/rapport"]
    assert server.seen == []


def _watched(code: str) -> tuple[StartedReportProcess, list[float]]:
    """A watched stand-in for the report process (Python running ``code``), and the
    delays its watcher said it would wait before starting it again."""
    said: list[float] = []
    started = StartedReportProcess(
        [sys.executable, "-c", code],
        {},
        "/nowhere.sock",
        warn=lambda _, *args: said.append(args[-1]),
    )
    return started, said


def test_a_report_process_that_keeps_ending_is_started_again_ever_more_slowly(monkeypatch):
    """The master's watcher starts an ended report process again, after a delay that
    doubles while it keeps ending soon (up to the most), saying so in the master's log;
    after ``stop`` nothing is started again."""
    monkeypatch.setattr(lanes, "RESTART_DELAY_SECONDS", 0.05)
    monkeypatch.setattr(lanes, "RESTART_DELAY_MAX_SECONDS", 0.2)
    started, said = _watched("pass")
    deadline = time.monotonic() + 30
    while started.restarts < 5:
        assert time.monotonic() < deadline, said
        time.sleep(0.02)
    started.stop()
    assert said[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
    restarts = started.restarts
    time.sleep(0.3)
    assert started.restarts == restarts
    assert started.process.poll() is not None


def test_a_report_process_that_cannot_be_started_is_tried_again(monkeypatch):
    """A start that fails (no memory to fork after an out-of-memory kill, an interpreter
    replaced under the master) is said and tried again, ever more slowly: the watcher
    never dies of it, and starts the process once it can."""
    monkeypatch.setattr(lanes, "RESTART_DELAY_SECONDS", 0.05)
    monkeypatch.setattr(lanes, "RESTART_DELAY_MAX_SECONDS", 0.2)
    notes: list[str] = []
    started = StartedReportProcess(
        [sys.executable, "-c", "pass"],
        {},
        "/nowhere.sock",
        warn=lambda text, *args: notes.append(text % args),
    )
    command = started.command
    started.command = ["/finns-inte/python"]  # before the first restart (0.05 s after exit)
    deadline = time.monotonic() + 30
    while len(notes) < 4:
        assert time.monotonic() < deadline, notes
        time.sleep(0.02)
    started.command = command
    while started.restarts < 1:
        assert time.monotonic() < deadline, notes
        time.sleep(0.02)
    started.stop()
    assert notes[:4] == [
        "Rapportprocessen avslutades oväntat; den startas igen om 0 s.",
        "Rapportprocessen kunde inte startas (FileNotFoundError); nytt försök om 0 s.",
        "Rapportprocessen kunde inte startas (FileNotFoundError); nytt försök om 0 s.",
        "Rapportprocessen kunde inte startas (FileNotFoundError); nytt försök om 0 s.",
    ]


def test_a_stopped_report_process_is_not_started_again(monkeypatch):
    """``stop`` while the report process runs: it is ended and stays ended."""
    monkeypatch.setattr(lanes, "RESTART_DELAY_SECONDS", 0.01)
    started, said = _watched("import time; time.sleep(60)")
    first = started.process
    started.stop()
    time.sleep(0.2)
    assert first.poll() is not None
    assert started.process is first
    assert (started.restarts, said) == (0, [])
