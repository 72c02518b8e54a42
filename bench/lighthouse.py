"""Lighthouse scores of the participant page and the report page:
``python -m bench.lighthouse [--runs 1]``.

Seeds the demo into a fresh SQLite database, serves it with the project's gunicorn
config on a free loopback port, signs in as the demo administrator (the report needs
a session) and runs Lighthouse from npm (mobile profile, the default) against Debian's
Chromium (``CHROME_PATH``, default /usr/bin/chromium, ``--headless=new --no-sandbox``).
Lighthouse is looked up in ``LIGHTHOUSE`` (a path to its CLI), then in
``tests/js/node_modules/.bin/lighthouse`` (a devDependency pinned in tests/js/package-lock.json,
installed by ``make browsers``), and is otherwise installed there with
``npm ci --prefix tests/js`` (node and npm must be on PATH). Prints one line per page
with the performance and accessibility scores and the main metrics; goal: participant
page 100, report page ≥ 90 performance. ``--json DIR`` keeps the full reports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import requests

from bench.load import SECRET, free_port, gunicorn

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "js"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
METRICS = {
    "first-contentful-paint": "fcp_ms",
    "largest-contentful-paint": "lcp_ms",
    "total-blocking-time": "tbt_ms",
    "cumulative-layout-shift": "cls",
    "server-response-time": "server_ms",
    "total-byte-weight": "bytes",
    "dom-size": "dom_nodes",
}


def lighthouse_cli() -> list[str]:
    """The command that runs Lighthouse, installing tests/js's locked packages on first use."""
    given = os.environ.get("LIGHTHOUSE")
    if given:
        return [given]
    local = JS / "node_modules" / ".bin" / "lighthouse"
    if not local.exists():
        if shutil.which("npm") is None:
            raise SystemExit(
                "npm saknas: installera Node.js eller ange LIGHTHOUSE=/sökväg/lighthouse"
            )
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(JS)],
            check=True,
            capture_output=True,
        )
    return [str(local)]


def seed(url: str) -> tuple[str, int]:
    """Migrate, load the instrument and the demo; an open round's code and the latest year."""
    from sqlmodel import func, select

    from surveys import create_app, db
    from surveys.models import Response, Round, RoundMode, RoundState

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["instrument", "load"], ["demo"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    with app.app_context():
        session = db.session()
        code = session.exec(
            select(Round.code).where(
                Round.state == RoundState.open.value,
                Round.mode != RoundMode.single_use.value,
                Round.questionnaire_key == "deltagare_avslut",
            )
        ).first()
        year = session.exec(select(func.max(Response.year))).one()
    app.extensions["engine"].dispose()
    if code is None:
        raise SystemExit("Demodata saknar en öppen avslutsenkät")
    return code, year


def session_cookie(base: str, user_agent: str) -> str:
    """Sign in as the demo administrator with Lighthouse's user agent (Flask-Login's
    strong session protection binds the session to it)."""
    from surveys.demo import DEMO_ADMIN

    with requests.Session() as browser:
        browser.headers["User-Agent"] = user_agent
        page = browser.get(f"{base}/logga-in", timeout=30)
        token = TOKEN.search(page.text).group(1)
        browser.post(
            f"{base}/logga-in",
            data={"csrf_token": token, "email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]},
            timeout=30,
        )
        if "session" not in browser.cookies:
            raise SystemExit("Inloggningen som demoadministratör misslyckades")
        return f"session={browser.cookies['session']}"


def audit(
    cli: list[str], url: str, cookie: str | None, keep: Path | None, name: str
) -> tuple[dict, str]:
    """Run Lighthouse once; its figures and the user agent it emulated."""
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as tmp:
        output = Path(tmp) / "report.json"
        command = [
            *cli,
            url,
            "--quiet",
            "--output=json",
            f"--output-path={output}",
            "--only-categories=performance,accessibility",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        ]
        if cookie:
            command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
        env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not output.exists():
            raise SystemExit(f"Lighthouse misslyckades för {name}:\n{result.stderr[-2000:]}")
        report = json.loads(output.read_text())
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(output, keep / f"{name}.json")
    if report["finalDisplayedUrl"] != url:
        raise SystemExit(f"Lighthouse hamnade på {report['finalDisplayedUrl']} i stället för {url}")
    figures = {
        "performance": round(report["categories"]["performance"]["score"] * 100),
        "accessibility": round(report["categories"]["accessibility"]["score"] * 100),
    }
    for audit_id, label in METRICS.items():
        value = report["audits"].get(audit_id, {}).get("numericValue")
        if value is not None:
            figures[label] = round(value, 3) if label == "cls" else round(value)
    return figures, report["environment"]["networkUserAgent"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Lighthouse för deltagarsidan och rapporten.")
    parser.add_argument("--runs", type=int, default=1, help="körningar per sida (median)")
    parser.add_argument("--json", type=Path, help="spara Lighthouse-rapporterna här")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 5:
        parser.error("--runs 1–5")
    cli = lighthouse_cli()
    workdir = Path(tempfile.mkdtemp(prefix="bench-lighthouse-"))
    try:
        url = f"sqlite:///{workdir / 'demo.sqlite'}"
        code, year = seed(url)
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "SURVEYS_INSTANCE": str(workdir),
            "GUNICORN_ACCESS_LOG": "/dev/null",
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with gunicorn("wsgi:app", env, port):
            user_agent = ""
            for name, path in (("deltagarsidan", f"/s/{code}"), ("rapporten", f"/rapport/{year}")):
                cookie = session_cookie(base, user_agent) if name == "rapporten" else None
                runs = []
                for _ in range(args.runs):
                    figures, user_agent = audit(cli, base + path, cookie, args.json, name)
                    runs.append(figures)
                median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                print(f"page={name} " + " ".join(f"{k}={v:g}" for k, v in median.items()))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
