"""gunicorn settings used by `make run` and the load benchmark."""

import multiprocessing
import os
import sys

from gunicorn.glogging import Logger

from surveys.lanes import ReportLane

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# The work per request is CPU-bound Python: one process per core, with a few threads each
# to overlap database waits (measured with bench.load: 2×CPU+1 sync-style workers only
# added context switches on 2 cores).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
graceful_timeout = 20
keepalive = 5
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

# Respondent requests leave no access-log line at all (DESIGN.md principle 1): even
# without a path, the time of a request would record when someone answered.
RESPONDENT_PREFIXES = (
    "/s/",
    "/k/",
    "/t/",
    "/surfplatta/",
    "/tack",
    "/static/",
    "/favicon.ico",
)


class RespondentSilentLogger(Logger):
    """gunicorn's logger, minus the access-log line for respondent (and static) requests."""

    def access(self, resp, req, environ, request_time):
        path = environ.get("PATH_INFO") or getattr(req, "path", "") or ""
        if path.startswith(RESPONDENT_PREFIXES):
            return
        super().access(resp, req, environ, request_time)


logger_class = RespondentSilentLogger


# How long a thread holding the GIL may keep it while another waits (Python's default:
# 5 ms). A staff report thread building a workbook is pure Python; a tablet's request in
# the other thread of the same worker waits for the GIL after each database call or
# socket read, up to this long each time. 1 ms keeps tablets near their quiet latency
# while reports run (bench.load --participants-first); the cost is a few more switches.
SWITCH_INTERVAL_SECONDS = float(os.environ.get("GUNICORN_SWITCH_INTERVAL", "0.001"))
# Staff's report pages one at a time on the machine (surveys/lanes.py); 0 turns it off.
REPORT_LANE = os.environ.get("GUNICORN_REPORT_LANE", "1") == "1"


def post_fork(server, worker):
    """A forked worker must not share the master's database connections (preload_app),
    and hands the GIL over sooner (SWITCH_INTERVAL_SECONDS)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    app = getattr(server.app, "callable", None)
    engine = getattr(app, "extensions", {}).get("engine") if app is not None else None
    if engine is not None:
        engine.dispose(close=False)
    if REPORT_LANE and app is not None and "INSTANCE_DIR" in getattr(app, "config", {}):
        lock = os.path.join(app.config["INSTANCE_DIR"], "report-lane.lock")
        app.wsgi_app = ReportLane(app.wsgi_app, lock)
