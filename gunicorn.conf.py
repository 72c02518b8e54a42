"""gunicorn settings used by `make run` and the load benchmark."""

import multiprocessing
import os
import re
import sys

from gunicorn.glogging import Logger

from surveys import lanes
from surveys.lanes import FromWorkers, ReportLane, ReportProcess

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# The work per request is CPU-bound Python: one process per core, with a few threads each
# to overlap database waits (measured with bench.load: 2×CPU+1 sync-style workers only
# added context switches on 2 cores).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# gunicorn takes SCRIPT_NAME and PATH_INFO from request headers of a proxy on loopback by
# default; the app is served at the root, and a client's header must not move its path.
forwarder_headers = ""
# The application is imported once, in the master: a worker that is restarted (killed, or
# recycled after max_requests) is a fork ready in milliseconds instead of ~2 s of imports
# during which tablets waited (bench.load --max-requests measures both). Code changes
# therefore need a restart, not a HUP.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") == "1"
# No recycling by default: it bought nothing here (no leak is known) and cost tablets
# seconds while a worker re-imported; set GUNICORN_MAX_REQUESTS to guard against a leak
# (with preload a recycled worker is a fork, and the jitter spreads the restarts).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Access log without query strings or paths holding tokens/codes: method, status, size, time.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(t)s "%(m)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"

# gunicorn's own error-log lines about one request: a request it could not read ("Invalid
# request from ip=…: Invalid HTTP request line: 'GET /t/<token>?q1=6 HTTP/1.1'") and an
# error out of the application ("Error handling request GET /s/…").
INVALID_REQUEST = "Invalid request from ip="
FAILED_REQUEST = "Error handling request"


class RespondentSilentLogger(Logger):
    """gunicorn's logger, minus the access-log line for respondent (and static) requests,
    and minus the address, path and content of a request in its error-log lines."""

    def access(self, resp, req, environ, request_time):
        path = environ.get("PATH_INFO") or getattr(req, "path", "") or ""
        if lanes.is_respondent(path):  # no line at all (lanes.RESPONDENT_PREFIXES)
            return
        super().access(resp, req, environ, request_time)

    def warning(self, msg, *args, **kwargs):
        super().warning(*without_request(msg, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(*without_request(msg, args), **kwargs)


def without_request(msg, args: tuple) -> tuple:
    """A log line about one request without what the access log leaves out too: the
    client's address and the request line (a single-use link's token, a form's code,
    answers a broken client put in the query). The kind of error stays, for whoever runs
    the server: "Invalid request (adress och sökväg utelämnade): Invalid HTTP request
    line". Other lines pass unchanged."""
    text = str(msg)
    if text.startswith(INVALID_REQUEST):
        detail = (text % args if args else text).split(": ", 1)[-1]
        kind = re.split(r"[:'\"(]", detail, maxsplit=1)[0].strip()
        return (f"Invalid request (adress och sökväg utelämnade): {kind}",)
    if text.startswith(FAILED_REQUEST):
        return (f"{FAILED_REQUEST} (sökvägen utelämnad)",)
    return (msg, *args)


logger_class = RespondentSilentLogger


# How long a thread holding the GIL may keep it while another waits (Python's default:
# 5 ms). A staff report thread building a workbook is pure Python; a tablet's request in
# the other thread of the same worker waits for the GIL after each database call or
# socket read, up to this long each time. 1 ms keeps tablets near their quiet latency
# while reports run (bench.load --participants-first); the cost is a few more switches.
SWITCH_INTERVAL_SECONDS = float(os.environ.get("GUNICORN_SWITCH_INTERVAL", "0.001"))
# Staff's report pages one at a time on the machine (surveys/lanes.py); 0 turns it off.
REPORT_LANE = os.environ.get("GUNICORN_REPORT_LANE", "1") == "1"
# ... and computed by a gunicorn of their own at a lower priority, which the master starts
# on a Unix socket (surveys/lanes.py, "the report process"); 0: by the workers themselves.
REPORT_PROCESS = os.environ.get("GUNICORN_REPORT_PROCESS", "1") == "1"

# This file is also the report process's config: its master sets CHILD_ENV (its pid).
PARENT_PID = os.environ.get(lanes.CHILD_ENV)
if PARENT_PID is not None:
    # one request at a time (a sync worker), allowed as long as a report may take
    workers, threads, timeout = 1, 1, lanes.REPORT_TIMEOUT_SECONDS
    control_socket_disable = True  # gunicorn's control socket is the main master's
    preload_app = True  # post_fork below wraps the app: it must be loaded in the master
    secure_scheme_headers: dict = {}  # the scheme comes from the worker (lanes.FromWorkers)
    # The main server has held the request to its limits already; forwarded, its target is
    # quoted again (longer), it has two headers more and repeated fields come joined, which
    # these limits would refuse with gunicorn's English page.
    limit_request_line, limit_request_field_size = 0, 0  # 0: unlimited
    limit_request_fields = 32768  # gunicorn's largest
    lanes.become_report_process(int(PARENT_PID))


def _preloaded_surveys(server):
    """The application loaded in the master (preload_app), if it is this service's (the
    benchmarks also run a bare hello app under this file); else None."""
    app = getattr(server.app, "callable", None)
    config = getattr(app, "config", {})
    return app if "INSTANCE_DIR" in config and "engine" in app.extensions else None


def when_ready(server):
    """The main master, its sockets bound, before its workers: starts the report process
    (kept on the arbiter, which outlives a reload of this file)."""
    server.surveys_report_process = None
    if REPORT_PROCESS and PARENT_PID is None and _preloaded_surveys(server) is not None:
        server.surveys_report_process = lanes.start_report_process(
            os.path.abspath(__file__), server
        )


def on_exit(server):
    """The main master stopping: the report process stops with it."""
    report_process = getattr(server, "surveys_report_process", None)
    if report_process is not None:
        lanes.stop_report_process(report_process)


def post_fork(server, worker):
    """A forked worker must not share the master's database connections (preload_app),
    and hands the GIL over sooner (SWITCH_INTERVAL_SECONDS)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    app = _preloaded_surveys(server)
    if app is None:
        return  # no preload: the app is not loaded yet (no lane, no report process)
    app.extensions["engine"].dispose(close=False)
    if PARENT_PID is not None:
        lanes.follow_report_master(server.pid)  # not left serving when its master is killed
        app.wsgi_app = FromWorkers(app.wsgi_app)  # one request at a time already
        return
    inner = app.wsgi_app
    heavy = inner
    if REPORT_LANE:
        heavy = app.wsgi_app = ReportLane(
            inner, os.path.join(app.config["INSTANCE_DIR"], "report-lane.lock")
        )
    report_process = getattr(server, "surveys_report_process", None)
    if report_process is not None:
        app.wsgi_app = ReportProcess(inner, report_process.socket_path, heavy, app)
