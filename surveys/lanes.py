"""The report lane: staff's heavy report pages one at a time on this machine.

A report page, download or chart of a year at 400 000 questionnaires is a few hundred
milliseconds of pure Python; two at once in gunicorn's workers take both cores from the
tablets (whose requests then wait for the CPU and for the GIL). ``ReportLane`` wraps the
WSGI application (gunicorn.conf.py does, per worker): a request under ``HEAVY_PREFIXES``
first takes a lock shared by every worker on the machine (a thread lock inside the
process, ``flock`` between processes), so at most one is computed at a time and the
other core stays with the tablets. Respondent pages never wait for it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterable

HEAVY_PREFIXES = ("/rapport", "/admin/publicera")


class _MachineLock:
    """One holder at a time across the threads and processes of this machine."""

    def __init__(self, path: str):
        self.path = path
        self.threads = threading.Lock()
        self.fd: int | None = None
        self.pid = 0

    def __enter__(self) -> None:
        self.threads.acquire()
        try:
            if self.pid != os.getpid():  # a forked worker opens its own descriptor
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self.pid = os.getpid()
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # type: ignore[arg-type]  # opened above
        except BaseException:
            self.threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)  # type: ignore[arg-type]  # opened in __enter__
        self.threads.release()


class ReportLane:
    """WSGI middleware: heavy staff pages take the machine's report lane first."""

    def __init__(self, app: Callable, lock_path: str, prefixes: Iterable[str] = HEAVY_PREFIXES):
        self.app = app
        self.lock = _MachineLock(lock_path)
        self.prefixes = tuple(prefixes)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not (environ.get("PATH_INFO") or "").startswith(self.prefixes):
            return self.app(environ, start_response)
        with self.lock:
            # the body is read inside the lane (a generator would run after it)
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
