"""CPU per submission in-process: ``python -m bench.submit [--iterations 2000] [--profile]``.

One submission is what a tablet costs the server: GET the exit questionnaire of an open
round, then POST it complete (with 9–10 shown). Both go through the whole application
(every before/after-request hook, the database, the commit) with Flask's test client,
so no network or HTTP parsing is counted. The baseline, measured in the same process
and interleaved with the submissions in blocks, is a hello route added to the same
application (it runs the same hooks); a bare Flask hello is printed for reference.
The last line is ``submission_ms=… app_hello_ms=… ratio_to_app_hello=…`` (CPU time,
median of the blocks); the goal is a ratio of at most 4.

The line before it prints the *floor*: the same two requests with no work at all (a GET
of the hello route, then a POST of the same fields to a route that only reads one and
answers 303), through the same application and test client. The submission's own work
is ``submission_ms - floor_ms``; ``floor_ratio`` is the least any submission can cost
here, as a ratio to the hello route.

The line before the last prints the *store*: ``submissions.submit`` called directly (no
HTTP, no form, no token), the questionnaire's INSERT transaction and its share of the
batch releases. ``floor_ms + store_ms`` is what a submission costs with everything else
free, so ``least_ratio`` is the lowest ratio to the hello route this design can print.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask

from bench.load import pattern, prepare
from bench.settings import PUBLIC_URL, SECRET

TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')
HELLO = "/__bench_hello"
NOOP_POST = "/__bench_noop_post"


def make_app(url: str) -> Flask:
    """The application as gunicorn runs it, plus a hello route with the same hooks."""
    from surveys import create_app
    from surveys.security import csrf

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "SURVEYS_ENV": "production",
            "PUBLIC_URL": PUBLIC_URL,
        }
    )
    app.add_url_rule(HELLO, "bench_hello", lambda: "Hej")
    # exempt from the staff pages' CSRF check as the questionnaire's routes are (they
    # check their own signed form token, which the submission's figure includes)
    app.add_url_rule(NOOP_POST, "bench_noop_post", csrf.exempt(_noop_post), methods=["POST"])
    return app


def _noop_post():
    """A POST that does nothing a submission must: reads one field, answers 303."""
    from flask import redirect, request

    return redirect("/tack" if request.form.get("q1") else "/", code=303)


def bare_hello() -> Flask:
    app = Flask("bare")
    app.add_url_rule("/", "hello", lambda: "Hej")
    return app


class Submitter:
    """Submits complete exit questionnaires, each with a unique answer pattern."""

    def __init__(self, app: Flask, code: str):
        self.client = app.test_client()
        self.path = f"/s/{code}"
        self.sequence = 0

    def one(self) -> None:
        self.sequence += 1
        page = self.client.get(self.path)
        token = TOKEN.search(page.data)
        if page.status_code != 200 or token is None:
            raise SystemExit(f"Formuläret kunde inte hämtas: {page.status_code}")
        posted = self.client.post(self.path, data=self.fields(token.group(1).decode()))
        if posted.status_code != 303:
            raise SystemExit(f"Svaren sparades inte: {posted.status_code}")

    def floor(self) -> None:
        """The same two requests doing nothing: hello, then the fields to a no-op POST."""
        self.sequence += 1
        page = self.client.get(HELLO)
        posted = self.client.post(NOOP_POST, data=self.fields(page.data.decode()))
        if posted.status_code != 303:
            raise SystemExit(f"Golvet: {posted.status_code}")

    def fields(self, token: str) -> dict[str, str]:
        """A complete exit questionnaire's fields, a unique answer pattern each time."""
        fields = {f"q{i + 1}": str(c) for i, c in enumerate(pattern(self.sequence))}
        fields.update(
            csrf_token=token,
            gender="kvinna",
            q8="1",
            q9="6",
            q10="5",
            conditional_shown="1",
        )
        return fields


class Store:
    """The store alone: ``submissions.submit`` of a cleaned questionnaire, as the POST
    calls it after the form and its token are checked."""

    def __init__(self, app: Flask, code: str):
        from surveys.services.respondent import instrument, round_by_code

        self.app = app
        self.sequence = 0
        with app.app_context():
            self.round, self.instrument = round_by_code(code), instrument()

    def one(self) -> None:
        from surveys.services.submissions import Outcome, submit
        from surveys.services.validation import clean_submission

        self.sequence += 1
        answers: dict[int, object] = dict(enumerate(pattern(self.sequence), start=1))
        answers.update({8: 1, 9: 6, 10: 5})
        with self.app.app_context():
            clean = clean_submission(
                self.instrument,
                questionnaire=self.round.questionnaire_key,
                year=self.round.year,
                answers=answers,
                gender="kvinna",
            )
            outcome = submit(
                None, round_=self.round, clean=clean, idempotency_key=f"store-{self.sequence}"
            )
        if outcome is not Outcome.stored:
            raise SystemExit(f"Lagringen: {outcome}")


def cpu_per_call(function, count: int) -> float:
    """CPU seconds per call (process time: includes SQLite, excludes waiting for fsync)."""
    started = time.process_time()
    for _ in range(count):
        function()
    return (time.process_time() - started) / count


def measure(app: Flask, code: str, iterations: int, blocks: int) -> dict[str, float]:
    submitter = Submitter(app, code)
    hello = app.test_client()
    bare = bare_hello().test_client()
    floor = Submitter(app, code)
    store = Store(app, code)
    for _ in range(50):  # warm caches, templates and the connection pool
        submitter.one()
        floor.floor()
        store.one()
        hello.get(HELLO)
        bare.get("/")
    per_block = max(1, iterations // blocks)
    figures: dict[str, list[float]] = {
        "submission": [],
        "app_hello": [],
        "bare_hello": [],
        "floor": [],
        "store": [],
    }
    for _ in range(blocks):
        figures["submission"].append(cpu_per_call(submitter.one, per_block))
        figures["floor"].append(cpu_per_call(floor.floor, per_block))
        figures["store"].append(cpu_per_call(store.one, per_block))
        figures["app_hello"].append(cpu_per_call(lambda: hello.get(HELLO), per_block))
        figures["bare_hello"].append(cpu_per_call(lambda: bare.get("/"), per_block))
    result = {name: statistics.median(values) for name, values in figures.items()}
    result["submissions"] = submitter.sequence
    return result


def profile(app: Flask, code: str, iterations: int) -> None:
    submitter = Submitter(app, code)
    for _ in range(50):
        submitter.one()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        submitter.one()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="CPU per inskickad enkät, i processen.")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--database-url", help="annars en ny SQLite-fil")
    parser.add_argument("--profile", action="store_true", help="skriv ut en cProfile-profil")
    args = parser.parse_args(argv)
    if not 10 <= args.iterations <= 100_000 or not 1 <= args.blocks <= 100:
        parser.error("--iterations 10–100000 och --blocks 1–100")
    workdir = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    try:
        url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite'}"
        code = prepare(url)
        app = make_app(url)
        if args.profile:
            profile(app, code, args.iterations)
            return
        result = measure(app, code, args.iterations, args.blocks)
        app.extensions["engine"].dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    submission, app_hello = result["submission"] * 1000, result["app_hello"] * 1000
    floor, store = result["floor"] * 1000, result["store"] * 1000
    sync = os.environ.get("SQLITE_SYNCHRONOUS", "FULL") if url.startswith("sqlite") else "-"
    print(
        f"database={url.split(':', 1)[0]} sqlite_synchronous={sync} "
        f"submissions={result['submissions']} "
        f"blocks={args.blocks} bare_hello_ms={result['bare_hello'] * 1000:.3f} "
        f"ratio_to_bare_hello={result['submission'] / result['bare_hello']:.1f}"
    )
    print(
        f"floor_ms={floor:.3f} floor_ratio={floor / app_hello:.2f} "
        f"own_work_ms={submission - floor:.3f} (GET hello + the same POST to a no-op route)"
    )
    print(
        f"store_ms={store:.3f} store_ratio={store / app_hello:.2f} "
        f"least_ratio={(floor + store) / app_hello:.2f} (submissions.submit alone; "
        "floor + store: the least this design can cost)"
    )
    print(
        f"submission_ms={submission:.3f} app_hello_ms={app_hello:.3f} "
        f"ratio_to_app_hello={submission / app_hello:.2f}"
    )


if __name__ == "__main__":
    main()
