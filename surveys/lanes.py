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

from collections.abc import Callable, Iterable

from surveys.db import MachineLock

HEAVY_PREFIXES = ("/rapport", "/admin/publicera")


class ReportLane:
    """WSGI middleware: heavy staff pages take the machine's report lane first."""

    def __init__(self, app: Callable, lock_path: str, prefixes: Iterable[str] = HEAVY_PREFIXES):
        self.app = app
        self.lock = MachineLock(lock_path)
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
