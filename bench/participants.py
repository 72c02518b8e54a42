"""Participants first: ``python -m bench.load --participants-first [--questionnaires 400000]
[--data-url URL] [--seconds 60] [--tablets 20]``.

The app runs under gunicorn (gunicorn.conf.py) on loopback against a database holding
N realistic stored questionnaires (``bench.data``; or ``--data-url``, a database
prepared earlier with ``bench.report``'s administrator, reused as it is). Twenty
tablets submit complete exit questionnaires in a closed loop with a think time
(a participant reading and answering: 1 s by default). Two runs of the same length:

- ``quiet``: the tablets alone;
- ``reporting``: the tablets while an administrator publishes the latest year from the
  page (the background job, done by ``surveys worker`` beside gunicorn as ``make run``
  starts it, polled as the page does), opens the live preview and the
  year's publishing page, over and over, and two readers open the published report
  (page, XLSX, one chart) in turn.

Printed per run: submissions, failed submissions, whole-submission p50/p95/p99 (GET
form + POST answers); then the ratio of the reporting run's p95 and p99 to the quiet
run's (goal ≤ 2×, 0 failed) and how many publications and previews the administrator
completed.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.load import TOKEN, free_port, gunicorn, job_worker, pattern
from bench.settings import PUBLIC_URL, SECRET

YEAR_OFFSET = 9  # the latest year of the synthetic data: FIRST_YEAR + YEARS - 1
FORM_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """One HTTP/1.1 connection with its own cookies (Secure ones too: loopback is plain HTTP)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, fields: dict | None = None) -> tuple[int, str, bytes]:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = "&".join(f"{k}={v}" for k, v in fields.items())
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location") or "", data

    def sign_in(self, email: str, password: str) -> None:
        _, _, page = self.request("GET", "/logga-in")
        token = FORM_TOKEN.search(page.decode()).group(1)
        status, _, _ = self.request(
            "POST", "/logga-in", {"csrf_token": token, "email": email, "password": password}
        )
        if status != 302:
            raise SystemExit(f"Inloggningen misslyckades ({status})")


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.failed = 0
        self.done: dict[str, int] = {}

    def count(self, name: str) -> None:
        with self.lock:
            self.done[name] = self.done.get(name, 0) + 1


def tablet(port: int, code: str, think: float, tally: Tally, stop: float, seed: int) -> None:
    """A tablet in a closed loop: fetch the form, answer, submit, then the next participant."""
    browser = Browser(port)
    sequence = seed * 1_000_000
    # Participants do not all press "start" in the same millisecond: the tablets begin
    # spread over one think time (otherwise the first twenty forms queue together and
    # the quiet run's p99 is that start, not the service).
    time.sleep(think * ((seed * 0.6180339887) % 1.0))  # evenly spread for any count
    while time.monotonic() < stop:
        sequence += 1
        started = time.perf_counter()
        try:
            status, _, page = browser.request("GET", f"/s/{code}")
            token = TOKEN.search(page).group(1).decode() if status == 200 else None
            if token is None:
                raise OSError(f"formuläret: {status}")
            fields = {f"q{i + 1}": str(c) for i, c in enumerate(pattern(sequence))}
            fields.update(
                {"csrf_token": token, "gender": "kvinna", "q8": "1", "q9": "6", "q10": "5"}
            )
            fields["conditional_shown"] = "1"
            status, _, _ = browser.request("POST", f"/s/{code}", fields)
            if status != 303:
                raise OSError(f"svaret: {status}")
            with tally.lock:
                tally.latencies.append(time.perf_counter() - started)
        except (OSError, http.client.HTTPException):
            with tally.lock:
                tally.failed += 1
        time.sleep(think)


def visit(browser: Browser, path: str, stop: float) -> tuple[int, str, str]:
    """GET as a browser does: follow redirects, and ask again for a job's "pågår" page (its
    job.js does, every two seconds) until the job is no longer running."""
    while True:
        status, location, body = browser.request("GET", path)
        if status in (301, 302, 303) and location:
            path = location.split("://", 1)[-1].split("/", 1)[-1]
            path = "/" + path if not path.startswith("/") else path
            continue
        page = body.decode("utf-8", "replace")
        if "data-job-running" in page and time.monotonic() < stop + 300:
            time.sleep(2)
            continue
        return status, path, page


def administrator(port: int, year: int, tally: Tally, stop: float, admin: tuple[str, str]) -> None:
    """Open the year's publishing page, publish, wait for the job as the page does, then
    open the live preview (each waits for its background job like a browser would)."""
    browser = Browser(port)
    browser.sign_in(*admin)
    while time.monotonic() < stop:
        status, _, page = visit(browser, f"/admin/publicera/{year}", stop)
        match = FORM_TOKEN.search(page)
        if status != 200 or match is None:
            tally.count("publiceringssida_fel")
            time.sleep(1)
            continue
        status, location, _ = browser.request(
            "POST", f"/admin/publicera/{year}", {"csrf_token": match.group(1), "confirm": "y"}
        )
        job = "/" + location.split("://", 1)[-1].split("/", 1)[-1]
        status, landed, page = visit(browser, job, stop)
        # the job's page says so (or, publishing in the request, the report itself opens)
        published = "är publicerat" in page or landed.startswith(f"/rapport/{year}")
        tally.count("publicerat" if status == 200 and published else "publicering_fel")
        status, _, page = visit(browser, f"/rapport/{year}/forhandsgranskning", stop)
        ok = status == 200 and "inte publicerad" in page
        tally.count("förhandsgranskning" if ok else "förhandsgranskning_fel")


def reader(port: int, year: int, tally: Tally, stop: float, admin: tuple[str, str]) -> None:
    """A reader opening the published report: the page, the XLSX file and one chart."""
    browser = Browser(port)
    browser.sign_in(*admin)
    paths = [
        f"/rapport/{year}",
        f"/rapport/{year}/rapport.xlsx",
        f"/rapport/{year}/diagram/1-ar.svg",
    ]
    turn = 0
    while time.monotonic() < stop:
        status, _, _ = browser.request("GET", paths[turn % len(paths)])
        tally.count("rapport" if status == 200 else "rapport_fel")
        turn += 1
        time.sleep(1)


def run(port: int, code: str, args, *, reporting: bool, admin: tuple[str, str], year: int) -> Tally:
    tally = Tally()
    stop = time.monotonic() + args.seconds
    threads = [
        threading.Thread(target=tablet, args=(port, code, args.think, tally, stop, i), daemon=True)
        for i in range(args.tablets)
    ]
    if reporting:
        threads.append(
            threading.Thread(
                target=administrator, args=(port, year, tally, stop, admin), daemon=True
            )
        )
        threads += [
            threading.Thread(target=reader, args=(port, year, tally, stop, admin), daemon=True)
            for _ in range(args.readers)
        ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.seconds + 400)
    return tally


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))] * 1000 if ordered else float("nan")


def _line(name: str, tally: Tally, seconds: float) -> str:
    lat = tally.latencies
    extra = " ".join(f"{k}={v}" for k, v in sorted(tally.done.items()))
    median = statistics.median(lat) * 1000 if lat else 0.0
    return (
        f"run={name} submissions={len(lat)} failed={tally.failed} "
        f"per_s={len(lat) / seconds:.1f} p50_ms={median:.1f} "
        f"p95_ms={_percentile(lat, 0.95):.1f} p99_ms={_percentile(lat, 0.99):.1f} "
        f"max_ms={_percentile(lat, 1.0):.1f} {extra}".rstrip()
    )


def _database(args, workdir: Path) -> str:
    """The database with N stored questionnaires (built now, or the one given), with a year
    published once so readers have a report from the first second."""
    from bench import report
    from bench.data import generate, load
    from surveys import db
    from surveys.services.catalogue import instrument_from_db

    if args.data_url:
        url = args.data_url
    else:
        url = f"sqlite:///{workdir / 'participants.sqlite'}"
        app = report.prepare(url)
        with app.app_context():
            instrument = instrument_from_db(db.session())
        data = generate(instrument, questionnaires=args.questionnaires)
        load(app.extensions["engine"], data)
        del data
        app.extensions["engine"].dispose()
    return url


def _round_and_publication(url: str, year: int) -> str:
    """Open an exit-questionnaire round for the tablets; publish ``year`` if it is not yet,
    with its charts drawn."""
    from surveys import create_app, db
    from surveys.models import Role
    from surveys.reports.downloads import prepare_year
    from surveys.services import publications, rounds
    from surveys.services.actor import Actor
    from surveys.services.catalogue import instrument_from_db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    with app.app_context():
        session = db.session()
        round_ = rounds.create_round(
            session, questionnaire="deltagare_avslut", year=time.localtime().tm_year
        )
        rounds.open_round(session, round_)
        session.commit()
        code = round_.code
        if publications.latest(session, year) is None:
            bench = Actor(email="bench", role=Role.admin.value)
            publications.publish(session, bench, instrument_from_db(session), year=year, min_cell=5)
        prepare_year(session, year=year)  # as `surveys publish --diagram` and the job do
    app.extensions["engine"].dispose()
    return code


def main(argv: list[str] | None = None) -> None:
    from bench.data import FIRST_YEAR
    from bench.report import ADMIN

    parser = argparse.ArgumentParser(
        description="Deltagarna först: surfplattor medan rapporter tas fram."
    )
    parser.add_argument("--participants-first", action="store_true")
    parser.add_argument("--questionnaires", type=int, default=400_000)
    parser.add_argument("--data-url", help="en databas som redan har svaren (bench.report-admin)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tablets", type=int, default=20)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0, help="sekunder mellan två deltagare")
    args = parser.parse_args(argv)
    if not 5 <= args.seconds <= 900 or not 1 <= args.tablets <= 200:
        parser.error("--seconds 5–900 och --tablets 1–200")
    year = FIRST_YEAR + YEAR_OFFSET
    workdir = Path(tempfile.mkdtemp(prefix="bench-participants-"))
    try:
        url = _database(args, workdir)
        code = _round_and_publication(url, year)
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "SURVEYS_ENV": "production",
            "PUBLIC_URL": PUBLIC_URL,
            "SURVEYS_INSTANCE": str(workdir),
        }
        port = free_port()
        with gunicorn("wsgi:app", env, port), job_worker(env):
            quiet = run(port, code, args, reporting=False, admin=ADMIN, year=year)
            print(_line("quiet", quiet, args.seconds), flush=True)
            busy = run(port, code, args, reporting=True, admin=ADMIN, year=year)
            print(_line("reporting", busy, args.seconds), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    p95 = _percentile(busy.latencies, 0.95) / _percentile(quiet.latencies, 0.95)
    p99 = _percentile(busy.latencies, 0.99) / _percentile(quiet.latencies, 0.99)
    print(
        f"participants_first tablets={args.tablets} questionnaires="
        f"{'given' if args.data_url else args.questionnaires} p95_ratio={p95:.2f} "
        f"p99_ratio={p99:.2f} failed={quiet.failed + busy.failed} (goal: ≤ 2.00, 0 failed)"
    )
