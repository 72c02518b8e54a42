"""Real gunicorn on a loopback port for the tests that need several workers.

One way to start it (with the project's gunicorn.conf.py), wait until it answers and stop
it, shared by the security, Redis and access-log tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
# Two worker processes, one thread each, and an access log whose lines are
# "<pid> <method> <status>" (so a test sees which worker answered).
TWO_WORKERS = ["--workers", "2", "--threads", "1"]
PID_METHOD_STATUS = "%(p)s %(m)s %(s)s"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    tmp_path: Path, env: dict[str, str], *args: str, seconds: float = 60, workers: int = 1
) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """Start ``gunicorn --config gunicorn.conf.py <args> wsgi:app`` on a free port with
    ``env`` on top of this process's environment; yield (base URL, access log, process).

    The access log is ``tmp_path / "access.log"``, the error log ``gunicorn.log`` there
    (shown when the server does not come up). ``workers`` above 1: yield only once that
    many workers have answered (the access log must start with the pid: PID_METHOD_STATUS).
    """
    port = free_port()
    access_log = tmp_path / "access.log"
    error_log = tmp_path / "gunicorn.log"
    full_env = {**os.environ, "SURVEYS_INSTANCE": str(tmp_path / "instance"), **env}
    # No report process unless a test asks for it (test_gunicorn does): it is a second
    # gunicorn importing the application, seconds of CPU these tests do not look at.
    full_env.setdefault("GUNICORN_REPORT_PROCESS", "0")
    full_env["PORT"] = str(port)
    with error_log.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn
            [str(Path(sys.executable).with_name("gunicorn")), "--config", "gunicorn.conf.py"]
            + ["--bind", f"127.0.0.1:{port}", "--access-logfile", str(access_log)]
            + [*args, "wsgi:app"],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, process, seconds, error_log)
            if workers > 1:
                _wait_for_workers(base, access_log, workers, process, seconds, error_log)
            yield base, access_log, process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_workers(
    base: str, access_log: Path, count: int, process: subprocess.Popen, seconds: float, log: Path
) -> None:
    """Until ``count`` different workers have answered a request (a new connection each).

    Without preload each worker imports the application itself: on a busy machine the
    first one could otherwise take every connection of a test's burst while the other was
    still starting, and a test that must see two workers answer would see one.
    """
    deadline = time.monotonic() + seconds
    while True:
        requests.get(base + "/logga-in", headers={"Connection": "close"}, timeout=10)
        lines = access_log.read_text().splitlines() if access_log.exists() else []
        if len({line.split()[0] for line in lines if line.strip()}) >= count:
            return
        if time.monotonic() > deadline or process.poll() is not None:
            pytest.fail(f"{count} gunicorn-processer svarade inte: " + log.read_text()[-2000:])
        time.sleep(0.05)


def _wait_until_up(base: str, process: subprocess.Popen, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(base + "/logga-in", timeout=10)
            return
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                pytest.fail("gunicorn startade inte: " + log.read_text()[-2000:])
            time.sleep(0.2)
