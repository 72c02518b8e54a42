"""Rate limits on what a tablet may send without signing in (queue reports, refusals).

Built on the ``limits`` library (as the sign-in throttle in Redis is), in the storage
RATELIMIT_STORAGE_URI names (e.g. Redis, shared by every worker and instance);
without one, each worker counts in its own memory, so N workers allow N times the
limit (the counters are clamped anyway). A limit is "per minute, address and round".
The address (as seen through the trusted proxies) and the round are kept in the
storage only as an HMAC under the app's secret, as the sign-in throttle keeps its
keys: Redis never holds "this address reported for this round at this minute". The
address is never stored in the database or logged.
"""

from __future__ import annotations

from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from surveys.security import client_address, keyed_digest

# Per minute, address and round (settings). A tablet reports only when its queue changes
# (a few a minute); refusals come one per queued form, so a tablet emptying a long queue
# of refused forms is still counted in full.
SETTINGS = {"ko": "TABLET_REPORTS_PER_MINUTE", "refused": "TABLET_REFUSALS_PER_MINUTE"}


def allow(kind: str, round_id: str) -> bool:
    """Count one ``kind`` request of this client for the round; False once over the limit."""
    limiter = _limiter()
    item = RateLimitItemPerMinute(int(current_app.config[SETTINGS[kind]]))
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    key = keyed_digest(secret, f"tablet-{kind}", f"{round_id}:{client_address()}")
    return limiter.hit(item, "tablet", kind, key)


def _limiter() -> MovingWindowRateLimiter:
    """One limiter per app, made on first use: in the shared storage when one is set
    (RATELIMIT_STORAGE_URI), else in this worker's memory. Unlike the sign-in throttle,
    a tablet's limit is no security boundary (the counters it guards are clamped, and
    only forms the service signed count), so per worker is enough: with W workers a
    tablet can at most send W times the limit before it is slowed down."""
    found = current_app.extensions.get("tablet_limiter")
    if found is None:
        uri = current_app.config["RATELIMIT_STORAGE_URI"] or "memory://"
        found = MovingWindowRateLimiter(storage_from_string(uri))
        current_app.extensions["tablet_limiter"] = found
    return found
