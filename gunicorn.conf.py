"""gunicorn settings used by `make run` and the load benchmark."""

import multiprocessing
import os

from gunicorn.glogging import Logger

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


def post_fork(server, worker):
    """A forked worker must not share the master's database connections (preload_app)."""
    app = getattr(server.app, "callable", None)
    engine = getattr(app, "extensions", {}).get("engine") if app is not None else None
    if engine is not None:
        engine.dispose(close=False)
