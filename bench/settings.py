"""Settings the benchmarks start the application with.

The benchmarks that measure the service as it is deployed start it with
``SURVEYS_ENV=production``, so they must pass the same start-up checks as a real
instance (surveys/config.py): a key with enough variety and no placeholder word, and an
https ``PUBLIC_URL`` with a host. The key is fixed (a benchmark's processes - gunicorn's
workers, a fresh serving process - must share it) and never used outside the benchmarks;
the address is never contacted: the benchmarks speak plain HTTP to 127.0.0.1 and send the
Secure cookies themselves.
"""

from __future__ import annotations

# A throwaway benchmark key: 40 characters of varied hex, so secret_problem() accepts it.
SECRET = "bench-7f4e9a1c2d8b6e05f3a7c9d1e2b4f6a8c0d9"  # noqa: S105 - never a real key
# Printed links point here; nothing fetches it.
PUBLIC_URL = "https://bench.localhost"

# What a benchmark adds to create_app()'s settings (or to gunicorn's environment) to run
# the application as production does.
PRODUCTION = {
    "SECRET_KEY": SECRET,
    "SURVEYS_ENV": "production",
    "PUBLIC_URL": PUBLIC_URL,
}
