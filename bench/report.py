"""Report cost as the stored answers grow:
``python -m bench.report [--questionnaires 1000,10000] [--database-url URL]``.

For each size: a fresh migrated database (SQLite file, or the PostgreSQL database given,
emptied first) is loaded with ``bench.data`` (realistic synthetic answers), then
measured, each against a baseline taken in the same run:

- ``duckdb_s``: DuckDB counting the same answers in memory (loading excluded) — the
  floor for any aggregation;
- ``publish_s`` / ``preview_s``: publishing a year and building the administrator's
  live preview, each as a ratio to DuckDB (``publish_year`` and ``build_preview``:
  both count where the data lives, then apply disclosure control to every scope);
- page, XLSX, PDF, Word and one chart served from the publication in a separate worker
  process (the app in-process, signed in as an administrator), each as a ratio to the
  app's own hello route, and the worker's peak RSS.

The closing lines give each figure's growth from the smallest to the largest size
(goal: serving a published report ≤ 1.3×; publishing and preview ≤ 10× DuckDB at
400,000; a worker under 500 MB). Loading 400,000 questionnaires (~2.6 M answer rows)
takes a few minutes on SQLite; the defaults run in well under two minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
from flask import Flask

from bench.data import FIRST_YEAR, YEARS, Synthetic, generate, load
from bench.settings import PUBLIC_URL, SECRET

ADMIN = ("admin@bench.invalid", "bench-losenord-123")
YEAR = FIRST_YEAR + YEARS - 1  # the latest year of the synthetic data
SERVED = {
    "page": f"/rapport/{YEAR}",
    "xlsx": f"/rapport/{YEAR}/rapport.xlsx",
    "pdf": f"/rapport/{YEAR}/rapport.pdf",
    "docx": f"/rapport/{YEAR}/rapport.docx",
    "chart": f"/rapport/{YEAR}/diagram/1-ar.svg",
}
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# -- the two operations the lead points at publications --------------------------


def publish_year(app: Flask, year: int) -> float:
    """Seconds to publish ``year``: count in the database, disclosure control, store."""
    from surveys import db
    from surveys.models import Role
    from surveys.services.actor import Actor
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.publications import publish

    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        admin = Actor(email=ADMIN[0], role=Role.admin.value)
        started = time.perf_counter()
        publish(session, admin, instrument, year=year, min_cell=5)
        return time.perf_counter() - started


def build_preview(app: Flask, year: int) -> float:
    """Seconds to build the administrator's live preview of ``year`` (the förbund)."""
    from surveys import db
    from surveys.reports.data import preview_report
    from surveys.services.catalogue import instrument_from_db

    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        started = time.perf_counter()
        data = preview_report(session, instrument, year=year)
        seconds = time.perf_counter() - started
        if data.results.empty:
            raise SystemExit("Förhandsvisningen blev tom")
    return seconds


# -- baselines ---------------------------------------------------------------------


def duckdb_count(data: Synthetic) -> float:
    """DuckDB counting answers per year, questionnaire, question, gender and code."""
    responses = pd.DataFrame(
        {k: data.responses[k] for k in ("id", "year", "questionnaire_key", "gender")}
    )
    answers = pd.DataFrame(data.answers).merge(
        responses, left_on="response_id", right_on="id", how="left"
    )
    answers = answers[["year", "questionnaire_key", "question_version_id", "gender", "code"]]
    con = duckdb.connect()
    con.register("answers", answers)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        con.execute(
            "SELECT year, questionnaire_key, question_version_id, gender, code, count(*) "
            "FROM answers GROUP BY ALL"
        ).fetchall()
        timings.append(time.perf_counter() - started)
    con.close()
    return min(timings)


# -- the serving worker (a separate process, so its RSS is its own) ----------------


def serve(url: str, repeats: int) -> dict:
    """In a fresh process: sign in, time each served item and the hello route."""
    from surveys import create_app

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "SURVEYS_ENV": "production",
            "PUBLIC_URL": PUBLIC_URL,
        }
    )
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain HTTP
    app.add_url_rule("/__bench_hello", "bench_hello", lambda: "Hej")
    client = app.test_client()
    page = client.get("/logga-in")
    token = TOKEN.search(page.text).group(1)
    signed_in = client.post(
        "/logga-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]}
    )
    if signed_in.status_code != 302:
        raise SystemExit("Inloggningen misslyckades")
    hello = []
    for _ in range(300):
        started = time.perf_counter()
        client.get("/__bench_hello")
        hello.append(time.perf_counter() - started)
    figures = {"hello_s": statistics.median(hello)}
    for name, path in SERVED.items():
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(path)
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code}")
        figures[f"{name}_s"] = statistics.median(timings)
    figures["worker_peak_mb"] = _peak_rss_mb()
    return figures


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: Linux keeps that across
    ``execve``, so a worker started from the benchmark (which holds the generated data)
    would report the benchmark's memory instead of its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # noqa: PLC0415 - not Linux: the best there is

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve_in_worker(url: str, repeats: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench.report", "--serve", url, "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- one size ----------------------------------------------------------------------


def _fresh_database(url: str | None, workdir: Path, size: int) -> str:
    from sqlalchemy import create_engine, text

    if url is None:
        return f"sqlite:///{workdir / f'report-{size}.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def prepare(url: str) -> Flask:
    """Migrate, load the instrument and add the administrator the worker signs in as."""
    from surveys import create_app, db
    from surveys.auth import hash_password
    from surveys.models import User

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["instrument", "load"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    with app.app_context():
        session = db.session()
        session.add(
            User(email=ADMIN[0], password_hash=hash_password(ADMIN[1]), role="administratör")
        )
        session.commit()
    return app


def measure(size: int, url: str, repeats: int) -> dict:
    from surveys import db
    from surveys.services.catalogue import instrument_from_db

    app = prepare(url)
    with app.app_context():
        instrument = instrument_from_db(db.session())
    data = generate(instrument, questionnaires=size)
    figures: dict = {"questionnaires": size, "answers": data.answer_rows}
    figures["load_s"] = load(app.extensions["engine"], data)
    figures["duckdb_s"] = duckdb_count(data)
    del data
    figures["publish_s"] = publish_year(app, YEAR)
    figures["preview_s"] = build_preview(app, YEAR)
    app.extensions["engine"].dispose()
    figures.update(_serve_in_worker(url, repeats))
    return figures


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rapportens kostnad när svaren växer.")
    parser.add_argument("--questionnaires", default="1000,10000")
    parser.add_argument("--database-url", help="PostgreSQL (töms!); annars nya SQLite-filer")
    parser.add_argument("--repeats", type=int, default=3, help="mätningar per serverad del")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve(args.serve, args.repeats)))
        return
    try:
        sizes = [int(s) for s in args.questionnaires.split(",")]
    except ValueError:
        parser.error("--questionnaires: heltal med komma emellan, t.ex. 1000,10000")
    if not sizes or any(not 100 <= s <= 2_000_000 for s in sizes) or not 1 <= args.repeats <= 20:
        parser.error("--questionnaires 100–2000000 och --repeats 1–20")
    workdir = Path(tempfile.mkdtemp(prefix="bench-report-"))
    rows = []
    try:
        for size in sorted(sizes):
            url = _fresh_database(args.database_url, workdir, size)
            figures = measure(size, url, args.repeats)
            for name in ("publish", "preview"):
                seconds = figures[f"{name}_s"]
                figures[f"{name}_to_duckdb"] = (
                    None if seconds is None else seconds / figures["duckdb_s"]
                )
            for name in SERVED:
                figures[f"{name}_to_hello"] = figures[f"{name}_s"] / figures["hello_s"]
            rows.append(figures)
            print(" ".join(f"{k}={_fmt(v)}" for k, v in figures.items()), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    first, last = rows[0], rows[-1]
    growth = {}
    for key in ("publish_s", "preview_s", *(f"{n}_s" for n in SERVED), "worker_peak_mb"):
        if first.get(key) and last.get(key) is not None:
            growth[key.removesuffix("_s")] = last[key] / first[key]
    print(
        f"growth {first['questionnaires']}→{last['questionnaires']}: "
        + " ".join(f"{k}={v:.2f}x" for k, v in growth.items())
    )


if __name__ == "__main__":
    main()
