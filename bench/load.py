"""Load and fault benchmark: ``python -m bench.load --seconds 20 --clients 50 [--kill-worker]
[--database sqlite|postgresql] [--max-requests N] [--no-preload] [--baseline app|bare]``;
``python -m bench.load --participants-first`` is the "participants first" run (bench.participants).

Starts the app under gunicorn (gunicorn.conf.py) on loopback with a fresh
database, runs C concurrent clients that each fetch and submit complete exit
questionnaires for S seconds (retrying the *same* form after a connection
error, as a browser would), optionally SIGKILLs one gunicorn worker half-way,
and then checks in the database that every acknowledged submission is stored
exactly once. Each submission carries a unique answer pattern (its sequence
number in base 7 over questions 1–7), which is how acknowledged submissions
are found again in anonymous storage. The same load is run against a hello route
added to the application itself (``--baseline bare``: a bare Flask hello) under
the same gunicorn settings and environment. ``--max-requests`` sets gunicorn's
worker recycling (0 = off) and ``--no-preload`` turns preload_app off, to measure
what recycling costs the tablets. The last line is ``submissions_per_s=… p95_ms=…
lost=… duplicates=… ratio_to_hello=… submissions_to_hello=…`` where p95 is the 95th
percentile of a whole submission (GET form + POST answers), ratio_to_hello compares
HTTP requests per second with the hello route and submissions_to_hello compares
whole submissions per second with hello requests per second (the goal is ≥ 0.25).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.settings import PUBLIC_URL, SECRET
from surveys import lanes

ROOT = Path(__file__).resolve().parent.parent
TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pattern(sequence: int) -> list[int]:
    """Seven scale codes (1–6, 0) encoding a sequence number (unique up to 7**7)."""
    digits = []
    for _ in range(7):
        sequence, digit = divmod(sequence, 7)
        digits.append(digit)
    return digits


# -- PostgreSQL: a throwaway cluster unless BENCH_DATABASE_URL is given ------------


@contextlib.contextmanager
def postgres_cluster():
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        yield url
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        raise SystemExit("PostgreSQL saknas: ange BENCH_DATABASE_URL")
    bin_dir = bins[-1]
    data = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    port = free_port()
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        shutil.chown(data, "postgres")
    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=300 "
        "-c shared_buffers=128MB"
    )
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(data / "log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                *run_as,
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "bench",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(
            [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(data, ignore_errors=True)


# -- gunicorn ----------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], port: int):
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
        app,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise SystemExit(process.stderr.read().decode()[-2000:]) from None
                time.sleep(0.2)
        time.sleep(1.0)  # let every worker boot
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def job_worker(env: dict[str, str]):
    """``surveys worker`` beside gunicorn (as ``make run`` starts it): publishing and
    previews at idle priority."""
    process = subprocess.Popen(
        [sys.executable, "-m", "surveys", "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def worker_pids(master: int) -> list[int]:
    """The master's workers: its children, minus the report process it starts."""
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid for pid in pids if not lanes.is_report_process(pid)]


def watch_workers(master: int, stop: float, seen: set[int]) -> None:
    """Collect every worker pid seen during the run (recycled workers are new pids)."""
    while time.monotonic() < stop:
        seen.update(worker_pids(master))
        time.sleep(0.05)


# -- clients -----------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.acknowledged: list[int] = []
        self.requests = 0
        self.errors = 0
        self.sequence = 0

    def next_sequence(self) -> int:
        with self.lock:
            self.sequence += 1
            return self.sequence


def _request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def questionnaire_client(port: int, code: str, stats: Stats, stop: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop:
        sequence = stats.next_sequence()
        started = time.perf_counter()
        requests = 0
        try:
            status, page = _request(conn, "GET", f"/s/{code}")
            requests += 1
            if status != 200:
                stats.errors += 1
                continue
            token = TOKEN.search(page).group(1).decode()
            fields = {f"q{i + 1}": str(c) for i, c in enumerate(pattern(sequence))}
            fields.update(
                {
                    "csrf_token": token,
                    "gender": "kvinna",
                    "q8": "1",
                    "q9": "6",
                    "q10": "5",
                    "conditional_shown": "1",
                }
            )
            body = "&".join(f"{k}={v}" for k, v in fields.items())
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            for _attempt in range(5):  # the same form again after a broken connection
                try:
                    status, _ = _request(conn, "POST", f"/s/{code}", body, headers)
                    requests += 1
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    time.sleep(0.05)
            else:
                stats.errors += 1
                continue
            elapsed = time.perf_counter() - started
            with stats.lock:
                stats.requests += requests
                if status == 303:
                    stats.acknowledged.append(sequence)
                    stats.latencies.append(elapsed)
                else:
                    stats.errors += 1
        except (OSError, http.client.HTTPException, AttributeError):
            stats.errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


def hello_client(port: int, path: str, stats: Stats, stop: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop:
        try:
            status, _ = _request(conn, "GET", path)
            with stats.lock:
                stats.requests += status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def run_clients(target, clients: int, seconds: float, *args):
    stats = Stats()
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=target, args=(*args, stats, stop), daemon=True)
        for _ in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    return stats, started, threads


# -- the benchmark -----------------------------------------------------------------


def prepare(url: str) -> str:
    """Migrate, load the instrument, open one exit-questionnaire round; its code."""
    from surveys import create_app, db
    from surveys.services import rounds as ops

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["instrument", "load"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    with app.app_context():
        session = db.session()
        round_ = ops.create_round(
            session, questionnaire="deltagare_avslut", year=time.localtime().tm_year
        )
        ops.open_round(session, round_)
        session.commit()
        code = round_.code
    app.extensions["engine"].dispose()
    return code


def close_round(url: str, code: str, instance: Path) -> None:
    """Close the round and release what still waits for a batch, as publishing does.
    ``instance``: the servers' instance folder (the pending answers' keys are there)."""
    from sqlalchemy import select

    from surveys import create_app, db
    from surveys.models import Round
    from surveys.services import rounds as ops
    from surveys.services.submissions import release_pending

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_DIR": str(instance)})
    with app.app_context():
        session = db.session()
        round_ = session.execute(select(Round).where(Round.code == code)).scalar_one()
        ops.close_round(session, round_)
        session.commit()
        release_pending(session, min_batch=1, round_ids=[round_.id])
    app.extensions["engine"].dispose()


def stored_patterns(url: str, code: str, instance: Path) -> Counter:
    """Answer patterns stored in the benchmark's round (the database may hold others),
    after closing it so that the last, smaller than MIN_CELL batch is released too
    (with the servers' instance folder, where the waiting answers' keys are)."""
    from sqlalchemy import create_engine, text

    close_round(url, code, instance)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.response_id, a.question_version_id, a.code FROM answer a "
                "JOIN response r ON r.id = a.response_id "
                "JOIN round o ON o.id = r.round_id "
                "JOIN question_version v ON v.id = a.question_version_id "
                "JOIN question q ON q.id = v.question_id WHERE q.number <= 7 AND o.code = :code"
            ),
            {"code": code},
        ).all()
    engine.dispose()
    digits: dict[str, dict[int, int]] = {}
    for response_id, version_id, code in rows:
        number = int(version_id.split(".")[1])
        digits.setdefault(response_id, {})[number] = code
    counts: Counter = Counter()
    for per in digits.values():
        counts[sum(per[n] * 7 ** (n - 1) for n in range(1, 8))] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    if "--participants-first" in (sys.argv[1:] if argv is None else argv):
        from bench import participants

        participants.main(argv)
        return
    parser = argparse.ArgumentParser(description="Last- och feltest på loopback.")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--kill-worker", action="store_true")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--max-requests", type=int, help="gunicorn max_requests (0 = av)")
    parser.add_argument("--no-preload", action="store_true", help="gunicorn utan preload_app")
    parser.add_argument("--baseline", choices=["app", "bare"], default="app")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 600 or not 1 <= args.clients <= 500:
        parser.error("--seconds 1–600 och --clients 1–500")

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    with contextlib.ExitStack() as stack:
        if args.database == "postgresql":
            url = stack.enter_context(postgres_cluster())
        else:
            url = f"sqlite:///{workdir / 'bench.sqlite'}"
        code = prepare(url)
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "SURVEYS_ENV": "production",
            "PUBLIC_URL": PUBLIC_URL,
            "SURVEYS_INSTANCE": str(workdir),
            "GUNICORN_PRELOAD": "0" if args.no_preload else "1",
        }
        if args.max_requests is not None:
            env["GUNICORN_MAX_REQUESTS"] = str(args.max_requests)

        port = free_port()
        with gunicorn("wsgi:app", env, port) as master:
            stats, started, threads = run_clients(
                questionnaire_client, args.clients, args.seconds, port, code
            )
            pids: set[int] = set()
            watcher = threading.Thread(
                target=watch_workers,
                args=(master.pid, time.monotonic() + args.seconds, pids),
                daemon=True,
            )
            watcher.start()
            killed = None
            if args.kill_worker:
                time.sleep(args.seconds / 2)
                current = worker_pids(master.pid)
                if current:
                    killed = current[0]
                    os.kill(killed, signal.SIGKILL)
            for thread in threads:
                thread.join(timeout=args.seconds + 60)
            duration = time.monotonic() - started
        stored = stored_patterns(url, code, workdir)

        hello_port = free_port()
        hello_app, hello_path = (
            ("bench.hello:app_hello()", "/__bench_hello")
            if args.baseline == "app"
            else ("bench.hello:app", "/")
        )
        with gunicorn(hello_app, env, hello_port):
            hello, hello_started, hello_threads = run_clients(
                hello_client, args.clients, args.seconds, hello_port, hello_path
            )
            for thread in hello_threads:
                thread.join(timeout=args.seconds + 60)
            hello_duration = time.monotonic() - hello_started

    shutil.rmtree(workdir, ignore_errors=True)
    acknowledged = Counter(stats.acknowledged)
    lost = sum(1 for seq in acknowledged if stored.get(seq, 0) == 0)
    duplicates = sum(count - 1 for count in stored.values() if count > 1)
    latencies = sorted(stats.latencies)

    def percentile(share: float) -> float:
        return latencies[int(share * (len(latencies) - 1))] * 1000 if latencies else float("nan")

    submissions_per_s = len(stats.acknowledged) / duration
    hello_per_s = hello.requests / hello_duration
    ratio = (stats.requests / duration) / hello_per_s
    print(
        f"database={args.database} clients={args.clients} seconds={args.seconds:g} "
        f"max_requests={args.max_requests if args.max_requests is not None else 'config'} "
        f"preload={not args.no_preload} baseline={args.baseline} "
        f"killed_worker={killed} workers_seen={len(pids)} "
        f"acknowledged={len(stats.acknowledged)} stored={sum(stored.values())} "
        f"errors={stats.errors} requests_per_s={stats.requests / duration:.1f} "
        f"hello_requests_per_s={hello_per_s:.1f} p99_ms={percentile(0.99):.1f} "
        f"max_ms={percentile(1.0):.1f}"
    )
    print(
        f"submissions_per_s={submissions_per_s:.1f} p95_ms={percentile(0.95):.1f} lost={lost} "
        f"duplicates={duplicates} ratio_to_hello={ratio:.2f} "
        f"submissions_to_hello={submissions_per_s / hello_per_s:.2f}"
    )


if __name__ == "__main__":
    main()
