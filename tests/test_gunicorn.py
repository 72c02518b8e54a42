"""The project's gunicorn.conf.py under a real gunicorn on loopback: respondent requests
leave no access-log line, staff requests do, and a killed worker comes back at once."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from surveys import db
from surveys.lanes import REPORT_NICENESS, is_report_process
from surveys.models import Round
from surveys.services.rounds import new_kiosk_link
from tests.conftest import PASSWORD, SECRET, form_token
from tests.servers import PID_METHOD_STATUS, gunicorn

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def server(app, database_url, tmp_path):
    """gunicorn with the project's config, its access log in a file; yields (url, log)."""
    env = {"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "WEB_CONCURRENCY": "2"}
    with gunicorn(tmp_path, env) as running:
        yield running


def _lines(log: Path, *, at_least: int = 0, seconds: float = 10) -> list[str]:
    """The access log's lines; waits for ``at_least`` of them, since a worker writes its
    line after sending the response."""
    deadline = time.monotonic() + seconds
    while True:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_respondent_requests_leave_no_access_log_line(app, server, make_round):
    url, log, process = server
    kiosk = make_round(mode="kiosk")
    before = len(_lines(log, at_least=1))  # the start-up probe of /logga-in

    page = requests.get(f"{url}/k/{kiosk.code}", timeout=10)
    assert page.status_code == 200
    token = TOKEN.search(page.text).group(1)
    fields = {f"q{n}": "5" for n in range(1, 8)}
    fields.update(csrf_token=token, gender="annat", q8="2", conditional_shown="1")
    posted = requests.post(f"{url}/k/{kiosk.code}", data=fields, timeout=10)
    assert posted.status_code == 200
    assert "Tack" in posted.text
    assert requests.get(f"{url}/s/{kiosk.code}", timeout=10).status_code == 200
    assert requests.get(f"{url}/s/finns-inte", timeout=10).status_code == 404
    assert requests.get(f"{url}/t/okand-lank", timeout=10).status_code == 404
    assert requests.get(f"{url}/tack", timeout=10).status_code == 200
    assert requests.get(f"{url}/static/css/app.css", timeout=10).status_code == 200
    assert requests.get(f"{url}/favicon.ico", timeout=10).status_code == 200
    # a tablet enrolled with the round's kiosk link: form, answers, Tack, queue report
    enrolled = f"{url}/surfplatta/{enrolment_link(app, kiosk)}"
    page = requests.get(enrolled, timeout=10)
    assert page.status_code == 200
    fields.update(csrf_token=TOKEN.search(page.text).group(1))
    posted = requests.post(enrolled, data=fields, timeout=10)
    assert "Tack" in posted.text
    assert requests.get(f"{enrolled}/tack", timeout=10).status_code == 200
    report = {"waiting": "0", "token": fields["csrf_token"]}  # signed with the tablet's form
    assert requests.post(f"{enrolled}/ko", data=report, timeout=10).status_code == 200
    assert requests.get(f"{url}/surfplatta/sw.js", timeout=10).status_code == 200
    # repeated slashes: the app answers "//s/…" as "/s/…", and so does the log
    assert requests.get(f"{url}//s/{kiosk.code}", timeout=10).status_code == 200
    # a SCRIPT_NAME header does not move the path ("/s/rapport" is a questionnaire code)
    moved = requests.get(f"{url}/s/rapport", headers={"SCRIPT_NAME": "/s"}, timeout=10)
    assert moved.status_code == 404
    assert len(_lines(log)) == before, _lines(log)[before:]

    # A staff page is logged, without its path or query string.
    assert requests.get(f"{url}/logga-in?x=hemlig", timeout=10).status_code == 200
    lines = _lines(log, at_least=before + 1)
    assert len(lines) == before + 1
    assert '"GET" 200' in lines[-1]
    assert "logga-in" not in lines[-1]
    assert "hemlig" not in lines[-1]
    # A request gunicorn cannot read itself (a broken or hostile client) is a 400 whose
    # error-log line had the address and the request line: a single-use link's token,
    # answers in the query. Now only its kind.
    for target in ("/t/hemligtoken\xff", f"/s/{kiosk.code}?q1=6&gender=kvinna\xff"):
        assert _latin1_get(url, target).startswith(b"HTTP/1.1 400")
    # Nothing of the respondents reached the error log either.
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)
    errors = (log.parent / "gunicorn.log").read_text()  # gunicorn's error log (stderr)
    kind_only = "Invalid request (adress och sökväg utelämnade): Invalid HTTP request line\n"
    assert errors.count(kind_only) == 2, errors
    assert "hemligtoken" not in errors
    assert "ip=" not in errors
    assert "q1=6" not in errors
    assert kiosk.code not in errors
    assert "/k/" not in errors
    assert "/s/" not in errors
    assert "/surfplatta/" not in errors


def _latin1_get(url: str, target: str) -> bytes:
    """The first bytes of gunicorn's answer to a GET of ``target`` sent byte for byte
    (Latin-1), as no HTTP client library sends it (http.client refuses a non-ASCII
    target: ``_raw_get`` below cannot)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"))
        return sock.recv(1024)


def enrolment_link(app, round_) -> str:
    """A fresh enrolment token for the round, as its round page makes one."""
    with app.app_context():
        session = db.session()
        token = new_kiosk_link(session, session.get(Round, round_.id))
        session.commit()
    return token


def test_killed_worker_is_replaced_and_serves(server):
    url, _log, process = server
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    deadline = time.monotonic() + 10  # the first worker may answer the start-up probe alone
    while len(workers := [int(p) for p in children.read_text().split()]) < 2:
        assert time.monotonic() < deadline, "gunicorn did not start two workers"
        time.sleep(0.05)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    started = time.monotonic()
    while True:
        now = [int(p) for p in children.read_text().split()]
        if len(now) == 2 and workers[0] not in now:
            break
        assert time.monotonic() - started < 5, "no replacement worker"
        time.sleep(0.05)
    # The new worker is a fork of the preloaded master: it serves without re-importing.
    for _ in range(4):  # both workers, whichever accepts
        assert "Logga in" in requests.get(url + "/logga-in", timeout=5).text
    assert time.monotonic() - started < 5


def _niceness(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command in brackets: state, parent pid, …"""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _parent(pid: int) -> int:
    return int(_stat(pid)[1])


def _report_masters(master: int) -> list[int]:
    """The master's report processes: children of any of its threads (one started again
    is the child of the thread that watches it)."""
    tasks = Path(f"/proc/{master}/task").iterdir()
    children = [p for task in tasks for p in (task / "children").read_text().split()]
    return [int(p) for p in children if is_report_process(int(p))]


# Processes, priorities and sockets: the pages the report process answers are the app's
# own, whose database behaviour the other tests hold on both databases.
@pytest.mark.one_database
def test_report_pages_are_computed_by_the_report_process_at_a_lower_priority(
    app, database_url, make_user, tmp_path
):
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_REPORT_PROCESS": "1",
    }
    email = make_user("administratör")
    args = ("--access-logformat", PID_METHOD_STATUS)
    with gunicorn(tmp_path, env, *args) as (url, log, master):
        browser = requests.Session()
        page = browser.get(url + "/logga-in", timeout=10)
        fields = {"csrf_token": form_token(page.text), "email": email, "password": PASSWORD}
        assert browser.post(url + "/logga-in", data=fields, timeout=10).status_code == 200
        [report_master] = _report_masters(master.pid)
        # The report process starts beside the workers; until it answers they compute.
        report, pids, report_worker = _report_answered_by(browser, url, log, report_master)
        # the workers answered the rest, at the master's priority; the report, lower
        workers = pids - {report_worker}
        assert workers
        assert {_parent(pid) for pid in workers} == {master.pid}
        assert {_niceness(pid) for pid in workers} == {_niceness(master.pid)}
        lower = min(19, _niceness(master.pid) + REPORT_NICENESS)
        assert _niceness(report_master) == _niceness(report_worker) == lower
        # the signed-in administrator's page: the session cookie went through the socket
        assert report.status_code == 404  # signed in: nothing published yet, says the app
        assert "Ingen rapport ännu" in report.text
        assert "Logga ut" in report.text
        # What the main server takes is taken behind it too (not gunicorn's English 414
        # or 431): forwarded, the raw "{" come quoted (three times as long, past 4094
        # bytes), and the worker adds two headers to the 100 fields the main one allows.
        status, text = _raw_get(url, "/rapport/" + "{" * 1400, extra_headers=98)
        assert status == 404
        assert "Till startsidan" in text  # the app's own page, in Swedish
        command = Path(f"/proc/{report_master}/cmdline").read_text().split("\0")
        socket_folder = Path(next(a for a in command if a.startswith("unix:"))[5:]).parent
        assert socket_folder.exists()
        # Killed (out of memory, by hand), it is started again on the same socket, at the
        # same priority, and the workers hand the report to the new one. Its worker stops
        # with it, not at its next look at its parent (up to 120 s later).
        old_worker = report_worker
        os.kill(report_master, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(old_worker):
            assert time.monotonic() < deadline, "rapportprocessens arbetare lever kvar"
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        while (masters := _report_masters(master.pid)) in ([], [report_master]):
            assert time.monotonic() < deadline, "rapportprocessen startades inte igen"
            time.sleep(0.1)
        [report_master] = masters
        assert Path(f"/proc/{report_master}/cmdline").read_text().split("\0") == command
        report, _pids, report_worker = _report_answered_by(browser, url, log, report_master)
        assert "Ingen rapport ännu" in report.text
        assert _niceness(report_master) == _niceness(report_worker) == lower
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=60)
    # stopped with the main master, its private socket folder removed
    assert not _alive(report_master)
    assert not socket_folder.exists()


def _report_answered_by(browser, url: str, log, report_master: int):
    """GET /rapport until a worker of ``report_master`` answers it (the access log's pids):
    the last answer, every pid that answered so far, and that worker."""
    deadline = time.monotonic() + 60
    while True:
        report = browser.get(url + "/rapport", timeout=30)
        pids = {int(line.split()[0].strip("<>")) for line in _lines(log) if line.strip()}
        answered = [pid for pid in pids if _alive(pid) and _parent(pid) == report_master]
        if answered or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answered, "ingen rapportprocess svarade"
    [report_worker] = answered
    return report, pids, report_worker


def _raw_get(url: str, target: str, *, extra_headers: int) -> tuple[int, str]:
    """A GET sent as written (requests would quote the target itself): status and page."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.putrequest("GET", target)
        for number in range(extra_headers):
            connection.putheader(f"X-Extra-{number}", "1")
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@pytest.mark.one_database  # processes only (see above)
def test_the_report_process_stops_when_its_master_is_killed(app, database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "SECRET_KEY": SECRET, "GUNICORN_REPORT_PROCESS": "1"}
    with gunicorn(tmp_path, env, "--workers", "1") as (_url, _log, master):
        [report_master] = _report_masters(master.pid)
        master.kill()  # no on_exit: the kernel tells the report process (PR_SET_PDEATHSIG)
        master.wait()
        deadline = time.monotonic() + 30
        while _alive(report_master):
            assert time.monotonic() < deadline, "rapportprocessen blev kvar"
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that is gone."""
    try:
        return _stat(pid)[0] != "Z"
    except FileNotFoundError:
        return False
