"""gunicorn settings used by `make run` and the load benchmark."""

import multiprocessing
import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# The work per request is CPU-bound Python: one process per core, with a few threads each
# to overlap database waits (measured with bench.load: 2×CPU+1 sync-style workers only
# added context switches on 2 cores).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
# Access log without query strings or paths holding tokens/codes: method, status, size, time.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(t)s "%(m)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"
