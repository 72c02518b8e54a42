"""Appendix benchmark: ``python -m bench.appendix [--year 2024] [--repeat 5]``.

Seeds the demo into a fresh SQLite database, signs in as administrator and
measures the server time (WSGI call through Flask's test client, no network)
of the report page, the printable page, the PDF and the Word file for the
demo's latest year: the first request (cold) and the median of the following
ones (warm). By default every chart is first rendered as a publication would
(``assets.prerender``, timed as ``prerender``), so "cold" is the first view
of a published year; ``--no-prerender`` leaves that to the first request.
The baseline is the minimal hello-world route of ``bench.hello`` measured the
same way; each figure is also printed as a ratio to it. Targets: page < 300 ms,
PDF and Word < 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

PASSWORD = "bench-losenord-2024"  # noqa: S105 - a throwaway benchmark account


def _timed(client, url: str) -> tuple[float, float, int, int]:
    """Wall time and CPU time of one request (CPU time is what the server itself spent;
    on a shared machine wall time also counts waiting for a core)."""
    cpu, start = time.process_time(), time.perf_counter()
    response = client.get(url)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = len(response.data)
    status = response.status_code
    response.close()
    return elapsed, cpu, status, size


def _app(instance: Path):
    os.environ["SURVEYS_INSTANCE"] = str(instance)
    from surveys import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite'}",
            "SECRET_KEY": "appendix-bench-secret-0123456789abcdef",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["instrument", "load"], ["demo"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    return app


def _login(app):
    from sqlmodel import select

    from surveys import db
    from surveys.auth import hash_password
    from surveys.models import User

    with app.app_context():
        session = db.session()
        if session.exec(select(User).where(User.email == "bench@example.invalid")).first() is None:
            session.add(
                User(
                    email="bench@example.invalid",
                    name="Bench",
                    password_hash=hash_password(PASSWORD),
                    role="administratör",
                )
            )
            session.commit()
    client = app.test_client()
    response = client.post(
        "/logga-in", data={"email": "bench@example.invalid", "password": PASSWORD}
    )
    if response.status_code != 302:
        raise SystemExit("Inloggningen misslyckades.")
    return client


def _prerender(app, year: int) -> str:
    from surveys import db
    from surveys.reports.assets import prerender
    from surveys.reports.data import published_report
    from surveys.services.catalogue import instrument_from_db

    with app.app_context():
        session = db.session()
        data = published_report(session, instrument_from_db(session), year=year)
        cpu, start = time.process_time(), time.perf_counter()
        count = prerender(data, year=year)
        return (
            f"charts={count} wall_ms={(time.perf_counter() - start) * 1000:.0f} "
            f"cpu_ms={(time.process_time() - cpu) * 1000:.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=None, help="år (standard: senaste)")
    parser.add_argument("--repeat", type=int, default=5, help="varma mätningar per adress")
    parser.add_argument("--no-prerender", action="store_true", help="rita inte diagrammen i förväg")
    args = parser.parse_args(argv)

    from bench.hello import app as hello_app

    hello = hello_app.test_client()
    for _ in range(50):
        hello.get("/").close()
    hello_s = statistics.median(_timed(hello, "/")[1] for _ in range(200))

    with tempfile.TemporaryDirectory(prefix="bench-appendix-") as tmp:
        app = _app(Path(tmp))
        client = _login(app)
        year = args.year or int(client.get("/rapport").headers["Location"].rsplit("/", 1)[-1])
        print(f"hello_cpu_ms={hello_s * 1000:.3f} year={year}")
        if not args.no_prerender:
            print(f"prerender: {_prerender(app, year)}")
        urls = {
            "page": f"/rapport/{year}",
            "print": f"/rapport/{year}/utskrift",
            "pdf": f"/rapport/{year}/rapport.pdf",
            "docx": f"/rapport/{year}/rapport.docx",
            "xlsx": f"/rapport/{year}/rapport.xlsx",
        }
        for name, url in urls.items():
            cold, cold_cpu, status, size = _timed(client, url)
            if status != 200:
                raise SystemExit(f"{url}: HTTP {status}")
            runs = [_timed(client, url) for _ in range(args.repeat)]
            warm = statistics.median(r[0] for r in runs)
            warm_cpu = statistics.median(r[1] for r in runs)
            print(
                f"{name}: cold_ms={cold * 1000:.0f} cold_cpu_ms={cold_cpu * 1000:.0f} "
                f"warm_ms={warm * 1000:.0f} warm_cpu_ms={warm_cpu * 1000:.0f} "
                f"bytes={size} ratio_to_hello={warm_cpu / hello_s:.0f}"
            )
        app.extensions["engine"].dispose()


if __name__ == "__main__":
    main()
