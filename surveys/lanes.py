"""The report lane and the report process: staff's heavy report pages one at a time on
this machine, at a lower priority than the tablets.

A report page, download or chart of a year at 400 000 questionnaires is a few hundred
milliseconds of pure Python; two at once in gunicorn's workers take both cores from the
tablets (whose requests then wait for the CPU and for the GIL). ``ReportLane`` wraps the
WSGI application (gunicorn.conf.py does, per worker): a request under ``HEAVY_PREFIXES``
first takes a lock shared by every worker on the machine (a thread lock inside the
process, ``flock`` between processes), so at most one is computed at a time and the
other core stays with the tablets. Respondent pages never wait for it. The report
process (below) goes further: the pages are computed outside the workers, at a lower
priority, and the lane only answers when that process cannot be reached.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import http.client
import io
import logging
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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import is_hop_by_hop_header

from surveys.db import MachineLock
from surveys.errors import error_page

log = logging.getLogger(__name__)

# The report, its downloads and charts; publishing and its preview; the comments page
# (it shows the report's figures beside each comment).
HEAVY_PREFIXES = ("/rapport", "/admin/publicera", "/admin/kommentarer")
_REPEATED_SLASHES = re.compile("//+")

# Respondent requests leave no access-log line at all (DESIGN.md principle 1): even
# without a path, the time of a request would record when someone answered. Read by
# gunicorn.conf.py's logger and by the development server's filter (web.py).
RESPONDENT_PREFIXES = (
    "/s/",
    "/k/",
    "/t/",
    "/surfplatta/",
    "/tack",
    "/static/",
    "/favicon.ico",
)


def routed_path(path: str) -> str:
    """A request's path as the app's routing matches it: Werkzeug answers "//rapport/2024"
    as "/rapport/2024", so a prefix test on the raw path would let it by."""
    return _REPEATED_SLASHES.sub("/", path) if "//" in path else path  # every request: cheap


def is_respondent(path: str) -> bool:
    """Whether a request's path is a respondent's (or a file a respondent's page loads)."""
    return routed_path(path).startswith(RESPONDENT_PREFIXES)  # "//s/…" is "/s/…"


def is_heavy(environ: dict, prefixes: tuple[str, ...]) -> bool:
    """Whether the request is one of the heavy staff pages (a path under ``prefixes``)."""
    return routed_path(environ.get("PATH_INFO") or "").startswith(prefixes)


class ReportLane:
    """WSGI middleware: heavy staff pages take the machine's report lane first."""

    def __init__(self, app: Callable, lock_path: str, prefixes: Iterable[str] = HEAVY_PREFIXES):
        self.app = app
        self.lock = MachineLock(lock_path)
        self.prefixes = tuple(prefixes)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not is_heavy(environ, self.prefixes):
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


# -- the report process --------------------------------------------------------------
#
# The lane keeps one core for the tablets, but the report still runs inside a gunicorn
# worker at the tablets' priority, and a tablet's request in the same worker waits for
# the GIL behind it. The report process is a gunicorn of its own (one worker, one
# request at a time) on a Unix socket, started by the main gunicorn's master at a lower
# priority (nice REPORT_NICENESS): the workers hand heavy pages to it and wait on a
# socket, which holds no GIL and no CPU, and the operating system gives the tablets'
# processes the CPU first. When it is not there (still starting, or gone) a worker
# computes the page itself, in the lane, as before. A page it drops half-way (longer than
# its worker may take, or the process died) is not computed again in the worker: the
# administrator gets a Swedish page saying to try again.

REPORT_NICENESS = 10  # steps below the main server (os.nice adds to what it has)
REPORT_TIMEOUT_SECONDS = 120  # the report process's own worker timeout
CHILD_ENV = "SURVEYS_REPORT_PROCESS_OF"  # set, to the main master's pid, in the report process
SOCKET_NAME = "rapport.sock"
UNREACHABLE_WARNING_SECONDS = 60


# The worker's own view of the connection, in headers only a worker sets (FromWorkers).
ADDRESS_HEADER = "X-Rapport-Klient"
SCHEME_HEADER = "X-Rapport-Schema"
PR_SET_PDEATHSIG = 1  # linux/prctl.h: a signal for this process when its parent dies
UNAVAILABLE_TITLE = "Sidan kunde inte visas just nu"
UNAVAILABLE_MESSAGE = (
    "Rapportdelen svarade inte i tid. Ladda om sidan om en stund. Om du publicerade: se "
    "först efter på sidan Publicera om publiceringen har startat."
)


class ReportProcess:
    """WSGI middleware: heavy staff pages answered by the report process over its socket;
    ``fallback`` (the lane) answers them when the process cannot be reached, and those
    whose body is not read here (larger than MAX_CONTENT_LENGTH, or of unknown length)."""

    def __init__(
        self,
        app: Callable,
        socket_path: str,
        fallback: Callable,
        flask_app: Flask,
        prefixes: Iterable[str] = HEAVY_PREFIXES,
        timeout: float = REPORT_TIMEOUT_SECONDS + 30,
    ):
        self.app = app
        self.socket_path = socket_path
        self.fallback = fallback
        self.flask_app = flask_app
        self.prefixes = tuple(prefixes)
        self.timeout = timeout
        self.warned_at = -float(UNREACHABLE_WARNING_SECONDS)  # when _say_unreachable last wrote

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not is_heavy(environ, self.prefixes):
            return self.app(environ, start_response)
        length = _content_length(environ)
        if length is None or length > self.flask_app.config["MAX_CONTENT_LENGTH"]:
            # not read here: the lane answers (the app refuses the body, 413, if it reads it)
            return self.fallback(environ, start_response)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # read again if the fallback answers
        connection = UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            connection.connect()
        except OSError:  # not started yet, or gone: computed here
            connection.close()
            self._say_unreachable()
            return self.fallback(environ, start_response)
        try:
            try:
                connection.request(
                    environ["REQUEST_METHOD"],
                    request_target(environ),
                    body=body or None,
                    headers=forwarded_headers(environ),
                )
            except ValueError:  # a header http.client will not send: nothing left the worker
                return self.fallback(environ, start_response)
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            # It took longer than its worker may, or the process died: computing the page
            # again here would hold a tablets' core as long. A POST may have been done.
            log.error("Rapportprocessen svarade inte.")  # no path: it may name a year's page
            return self.unavailable(environ, start_response)
        finally:
            connection.close()
        headers = [
            (name, value)
            for name, value in response.getheaders()
            if not is_hop_by_hop_header(name) and name.lower() not in _SET_BY_THIS_SERVER
        ]
        start_response(f"{response.status} {response.reason}", headers)
        return [content]

    def _say_unreachable(self) -> None:
        """A warning for the operator, at most once a minute per worker."""
        now = time.monotonic()
        if now - self.warned_at >= UNREACHABLE_WARNING_SECONDS:
            self.warned_at = now
            log.warning("Rapportprocessen svarar inte; arbetsprocessen räknar rapportsidorna.")

    def unavailable(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """The app's own Swedish error page (503), with its top bar and way back, and the
        headers every response of the app has (security headers, no caching)."""
        app = self.flask_app
        with app.request_context(environ):
            page = error_page(503, UNAVAILABLE_MESSAGE, UNAVAILABLE_TITLE)
            response = app.process_response(app.make_response(page))
            return response(environ, start_response)


# Response headers the main gunicorn writes itself (a second copy would be sent).
_SET_BY_THIS_SERVER = {"date", "server"}


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket (the report process listens on one)."""

    def __init__(self, socket_path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _content_length(environ: dict) -> int | None:
    """The request body's length (0 without one), or None when it cannot be known here
    (a chunked upload, or a header that is not a number: the app refuses those)."""
    value = environ.get("CONTENT_LENGTH") or ""
    if not value:
        return None if environ.get("wsgi.input_terminated") and _chunked(environ) else 0
    return int(value) if value.isdigit() else None


def _chunked(environ: dict) -> bool:
    return "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()


def request_target(environ: dict) -> str:
    """The path and query string as the client sent them (WSGI gives the path decoded)."""
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    target = quote(path, safe="/;:@&=+$,!~*'()-._")
    query = environ.get("QUERY_STRING")
    return f"{target}?{query}" if query else target


def forwarded_headers(environ: dict) -> dict[str, str]:
    """The client's headers as the worker received them (the app behind the socket reads
    ``X-Forwarded-For`` as the worker's would, through the same ``TRUSTED_PROXIES``),
    minus hop-by-hop ones, plus the worker's own view of the connection in headers only
    a worker can set (a client's are replaced: see ``FromWorkers``)."""
    not_passed = {"Content-Length", ADDRESS_HEADER, SCHEME_HEADER}  # length: from the body
    headers = {
        name: value
        for name, value in EnvironHeaders(environ)
        if name not in not_passed and not is_hop_by_hop_header(name)
    }
    headers[ADDRESS_HEADER] = environ.get("REMOTE_ADDR") or ""
    headers[SCHEME_HEADER] = environ.get("wsgi.url_scheme", "http")
    return headers


def _environ_key(header: str) -> str:
    """A request header's key in the WSGI environ (X-Rapport-Klient: HTTP_X_RAPPORT_KLIENT)."""
    return "HTTP_" + header.upper().replace("-", "_")


class FromWorkers:
    """WSGI middleware in the report process: the client's address and scheme as the
    worker saw them, so the app sees the request as the worker's app would (Flask-Login's
    "strong" session protection compares the address; a Unix socket's peer has none).

    Only the workers reach the socket (its folder is this user's alone), and they
    replace whatever a client sent in these headers."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["REMOTE_ADDR"] = environ.pop(_environ_key(ADDRESS_HEADER), "")
        scheme = environ.pop(_environ_key(SCHEME_HEADER), "http")
        environ["wsgi.url_scheme"] = "https" if scheme == "https" else "http"
        return self.app(environ, start_response)


RESTART_DELAY_SECONDS = 1.0  # before the report process is started again after it ended
RESTART_DELAY_MAX_SECONDS = 60.0  # the delay doubles while it keeps ending soon, up to this
STABLE_SECONDS = 30.0  # a report process that ran this long starts the delays over


class StartedReportProcess:
    """The report process, and a thread of the main master that starts it again should
    it end unasked (killed, out of memory): on the same socket path, which the workers
    keep, so they hand pages to the new one as soon as it listens and compute them
    themselves until then. ``stop`` ends both.

    The thread lives until ``stop``: a process it started is told by the kernel when
    the *thread* that started it ends (PR_SET_PDEATHSIG, see become_report_process)."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        socket_path: str,
        warn: Callable[..., object] = log.warning,  # the master's own log (gunicorn's)
    ):
        self.command, self.env, self.socket_path = command, env, socket_path
        self.warn = warn
        self.restarts = 0  # how many times the process was started again
        self._stopping = threading.Event()
        self._guard = threading.Lock()  # a start against a stop
        self.process = self._start()
        self._watcher = threading.Thread(target=self._watch, name="rapportprocess", daemon=True)
        self._watcher.start()

    def _start(self) -> subprocess.Popen:
        # our own interpreter's gunicorn with our arguments (start_report_process)
        return subprocess.Popen(self.command, env=self.env)  # noqa: S603

    def _watch(self) -> None:
        delay = RESTART_DELAY_SECONDS
        while True:
            started = time.monotonic()
            self.process.wait()  # its code may be lost: gunicorn's master reaps any child
            if self._stopping.is_set():
                return
            delay = RESTART_DELAY_SECONDS if time.monotonic() - started >= STABLE_SECONDS else delay
            self.warn("Rapportprocessen avslutades oväntat; den startas igen om %.0f s.", delay)
            next_delay = self._start_again(delay)
            if next_delay is None:
                return
            delay = next_delay

    def _start_again(self, delay: float) -> float | None:
        """Start the process after ``delay``, and again, ever more slowly, while it cannot
        be started (no memory for a fork just after an out-of-memory kill, an interpreter
        replaced under the master); the next delay, or None once told to stop."""
        while not self._stopping.wait(delay):
            with self._guard:
                if self._stopping.is_set():
                    return None
                next_delay = min(delay * 2, RESTART_DELAY_MAX_SECONDS)
                try:
                    self.process = self._start()
                except Exception as exc:  # noqa: BLE001 - a watcher that died would never start it
                    self.warn(
                        "Rapportprocessen kunde inte startas (%s); nytt försök om %.0f s.",
                        type(exc).__name__,
                        next_delay,
                    )
                    delay = next_delay
                    continue
                self.restarts += 1
                return next_delay
        return None

    def stop(self) -> None:
        """Stop the report process, and the thread that would start it again."""
        with self._guard:
            self._stopping.set()
            process = self.process
        process.terminate()
        try:
            process.wait(timeout=REPORT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._watcher.join(timeout=5)


def start_report_process(config_file: str, server: Any) -> StartedReportProcess:
    """The report process, started by gunicorn's master (``when_ready``): the same
    config file and application on a Unix socket in a new private folder, with the
    master's logs; started again should it end (StartedReportProcess)."""
    folder = tempfile.mkdtemp(prefix="surveys-rapport-")  # mode 0700: only this user
    socket_path = os.path.join(folder, SOCKET_NAME)
    cfg = server.cfg
    command = [sys.executable, "-m", "gunicorn", "--config", config_file]
    command += ["--bind", f"unix:{socket_path}"]
    if cfg.accesslog:
        command += ["--access-logfile", cfg.accesslog, "--access-logformat", cfg.access_log_format]
    if cfg.errorlog:
        command += ["--error-logfile", cfg.errorlog]
    command.append(server.app.app_uri)
    env = {**os.environ, CHILD_ENV: str(os.getpid())}
    return StartedReportProcess(command, env, socket_path, warn=server.log.warning)


def stop_report_process(started: StartedReportProcess) -> None:
    """Stops the report process (gunicorn's ``on_exit``) and removes its folder."""
    started.stop()
    shutil.rmtree(os.path.dirname(started.socket_path), ignore_errors=True)


def is_report_process(pid: int) -> bool:
    """Whether a process (a child of gunicorn's master) is the report process: its
    environment has CHILD_ENV, which start_report_process sets."""
    try:
        return CHILD_ENV.encode() + b"=" in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone already
        return False


def become_report_process(parent_pid: int) -> None:
    """In the report process, as its config is read: REPORT_NICENESS steps lower
    priority than the main master's (its workers inherit it; the kernel stops at 19),
    and stop when the main master stops, even if it was killed."""
    os.nice(REPORT_NICENESS)
    if not _stop_with_parent(parent_pid):  # not Linux: on_exit still stops it
        log.info("Rapportprocessen kan inte följa huvudprocessen; den stoppas vid avslut.")


def follow_report_master(master_pid: int) -> None:
    """In a worker of the report process, as it is forked: stop when that master ends,
    even if it was killed. gunicorn's worker would otherwise notice only at its next
    check of its parent, up to REPORT_TIMEOUT_SECONDS later, and answer beside the new
    report process meanwhile. SIGTERM: a report it is computing is finished first."""
    _stop_with_parent(master_pid)  # not Linux: gunicorn's own check of its parent


def _stop_with_parent(parent_pid: int) -> bool:
    """SIGTERM for this process when its parent (the thread that forked it) ends; False
    where the system cannot say so (PR_SET_PDEATHSIG is Linux's)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
    return True
