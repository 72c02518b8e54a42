"""Security headers, CSRF for signed-in forms, proxies, file permissions, sign-in throttling."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, abort, current_app, request, session
from flask_wtf.csrf import CSRFProtect
from limits.storage import Storage, storage_from_string
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from surveys import clock, lanes
from surveys.auth import login_manager
from surveys.config import ConfigError
from surveys.db import own_connection
from surveys.models import SignInDelay, SignInFailure, table_of

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
# Database, WAL/SHM, backups, mail files and the key are the owner's only.
PRIVATE_UMASK = 0o077
# Flash messages travel in the session cookie, and browsers drop cookies over 4 kB:
# at most this many messages, each cut to this many characters (issue 18).
MAX_FLASHES = 6
MAX_FLASH_CHARS = 200


# A request line in a log record of Werkzeug's development server ("GET /s/x HTTP/1.1",
# coloured: "\x1b[33mGET /s/x …", hence no word boundary before the method). An absolute
# target ("GET http://host/s/x") is routed by its path too.
_REQUEST_LINE = re.compile(r"[A-Z]+ (?:[A-Za-z][A-Za-z0-9+.-]*://[^/\s]*)?(/\S*)")


class RespondentRequestsUnlogged(logging.Filter):
    """The development server (``surveys run``, Werkzeug) writes a line per request with
    its path and the client's address; a respondent's request gets none, as under
    gunicorn (``lanes.RESPONDENT_PREFIXES``, DESIGN.md principle 1). Other lines stay:
    they help whoever develops."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a record that cannot be formatted: say nothing
            return False
        return not any(lanes.is_respondent(path) for path in _REQUEST_LINE.findall(text))


def _unlogged_respondents() -> None:
    """Put the filter on Werkzeug's logger once per process (every app shares it)."""
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RespondentRequestsUnlogged) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RespondentRequestsUnlogged())


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    _unlogged_respondents()

    login_manager.init_app(app)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # Only the given number of proxies are believed; with 0 a client's own
        # X-Forwarded-For header is ignored (it could otherwise pick its throttling key).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    app.extensions["signin_throttle"] = SignInThrottle(app)

    @app.before_request
    def _refuse_nul() -> None:
        # No text we store or look up may contain NUL (PostgreSQL refuses it): a 400
        # here instead of a database error deeper down. Every value of a repeated key, and
        # a multipart form's fields too (its files are not in request.form).
        values = [request.path, *(value for _, value in request.args.items(multi=True))]
        if request.method == "POST":
            values.extend(value for _, value in request.form.items(multi=True))
        if any("\x00" in value for value in values):
            abort(400)

    app.after_request(bound_flashes)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config["SURVEYS_ENV"] == "production":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint and not request.endpoint.startswith("static") and not _frozen(response):
            # Nothing a respondent or staff member saw may be kept by the browser.
            response.headers["Cache-Control"] = "no-store"
        return response


def bound_flashes(response: Response) -> Response:
    """Keep the flash messages waiting in the session small, whatever a view flashed.

    An import of a file with many long bad cells would otherwise put every cell
    into the cookie (1.9 MB was seen). The first messages are kept, then a line
    saying how many more there were, then the last one (the outcome, e.g.
    "Ingenting har importerats."); long messages are cut with "…".
    """
    if not session.modified:  # nothing flashed in this request (and no "Vary: Cookie" added)
        return response
    flashes = session.get("_flashes")
    if not flashes:
        return response
    bounded = [(category, _cut(str(message))) for category, message in flashes]
    if len(bounded) > MAX_FLASHES:
        hidden = len(bounded) - (MAX_FLASHES - 1)
        category = bounded[-1][0]
        bounded = [
            *bounded[: MAX_FLASHES - 2],
            (category, f"… och {hidden} meddelanden till."),
            bounded[-1],
        ]
    if bounded != flashes:
        session["_flashes"] = bounded
    return response


def _cut(message: str) -> str:
    return message if len(message) <= MAX_FLASH_CHARS else message[: MAX_FLASH_CHARS - 1] + "…"


def _frozen(response: Response) -> bool:
    """A staff response that may stay in this browser: a chart of published figures whose
    URL names them (``reports.chart_image`` with its ``v``), marked private and immutable."""
    cache = response.cache_control
    return request.endpoint == "reports.chart_image" and bool(cache.private and cache.immutable)


# --- file permissions --------------------------------------------------------


def private_files(app: Flask) -> None:
    """Owner-only permissions for everything the instance writes.

    The umask covers files created later by this process (SQLite's WAL and SHM,
    backups, mail files); chmod fixes what already exists from an older version.
    """
    os.umask(PRIVATE_UMASK)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    os.chmod(instance, 0o700)
    database = sqlite_path(app.config["DATABASE_URL"])
    keys = instance / "pending-keys"  # surveys/services/pending_keys.py
    if keys.is_dir():
        os.chmod(keys, 0o700)
    candidates = [instance / "secret_key", *keys.glob("*.key")]
    if database is not None:
        candidates += [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))]
    for path in candidates:
        # a regular file only: DATABASE_URL=sqlite:////dev/null made every process that
        # started (as root) take /dev/null away from everyone else on the machine
        if path.is_file():
            os.chmod(path, 0o600)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (PostgreSQL, in-memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


# --- sign-in throttling ------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in attempt may check its password, and if not, for how long."""

    allowed: bool
    reason: str = ""  # "address" or "account" when refused
    wait: int = 0  # seconds until the account's next attempt (account refusals)


class SignInThrottle:
    """Counts sign-in attempts per account and per client address, shared by all workers.

    Every attempt is counted atomically *before* its password is checked (an
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in the database, ``INCR`` in
    Redis), so however many arrive at once, no more than the limit are checked. A
    right password takes its attempt back: successful sign-ins are not failures.

    - Per client address: ``SIGNIN_LIMIT_ADDRESS`` attempts per window, then 429
      until the window ends (as before).
    - Per account: ``SIGNIN_LIMIT_ACCOUNT`` attempts per window, then a growing
      delay instead of a lock: one more attempt is let through after
      ``first_delay`` seconds, the next after twice that, and so on up to the
      window's length (5 minutes by default). So nobody can keep an account —
      the administrator's included — closed for good: at most ``max_delay``
      seconds pass before the next attempt is checked, and a guesser gets one
      guess per delay (a guesser who polls without pause competes with the owner
      for those slots, from addresses the per-address limit also holds). A right
      password clears the account's count and delay.

    Counts live in the database (tables ``signin_failure`` and ``signin_delay``)
    or, when RATELIMIT_STORAGE_URI is set, in that storage (Redis via ``limits``).
    Keys are HMACs of the e-mail address and of the client address: the address
    is a throttling key only, never stored in clear or logged.
    """

    def __init__(self, app: Flask):
        self.window = int(app.config["SIGNIN_WINDOW_SECONDS"])
        self.limits = {
            "account": int(app.config["SIGNIN_LIMIT_ACCOUNT"]),
            "address": int(app.config["SIGNIN_LIMIT_ADDRESS"]),
        }
        self.first_delay = max(1, self.window // 60)  # 5 s with the default window
        self.max_delay = self.window
        self._secret = app.config["SECRET_KEY"].encode("utf-8")
        uri = app.config["RATELIMIT_STORAGE_URI"]
        self._limits = _LimitsBackend(uri, self.window) if uri else None

    @property
    def shared(self) -> bool:
        """Counted in a shared limits storage (RATELIMIT_STORAGE_URI), not the database."""
        return self._limits is not None

    def _keys(self, email: str, address: str) -> dict[str, str]:
        return {
            "account": keyed_digest(self._secret, "account", email.strip().lower()[:254]),
            "address": keyed_digest(self._secret, "address", address),
        }

    def delay(self, strikes: int) -> int:
        """Seconds before the next attempt after ``strikes`` attempts over the limit."""
        return min(self.first_delay * 2 ** min(max(strikes - 1, 0), 30), self.max_delay)

    def begin(self, email: str, address: str) -> Verdict:
        """Count this attempt (before the password is checked); may it go on?"""
        keys = self._keys(email, address)
        backend = self._limits or _DatabaseBackend(self.window)
        return backend.attempt(keys, self.limits, self.delay)

    def succeeded(self, email: str, address: str) -> None:
        """The password was right: give the address its attempt back, clear the account."""
        keys = self._keys(email, address)
        backend = self._limits or _DatabaseBackend(self.window)
        backend.give_back(keys["address"])
        backend.clear(keys["account"])

    def failures(self, email: str, address: str) -> dict[str, int]:
        """Attempts counted in the current window (for tests and the admin's curiosity)."""
        keys = self._keys(email, address)
        backend = self._limits or _DatabaseBackend(self.window)
        return {kind: backend.current(key) for kind, key in keys.items()}


def _now() -> int:
    """Seconds since 1970 by the service's clock (tests move it instead of sleeping)."""
    return int(clock.utcnow().timestamp())


class _DatabaseBackend:
    """Counts in ``signin_failure`` (per window), delays in ``signin_delay``."""

    def __init__(self, window: int):
        self.window = window
        self.engine = _engine()
        self.now = _now()
        self.start = self.now // window * window

    def attempt(self, keys: dict[str, str], limits: dict[str, int], delay) -> Verdict:
        """Count the attempt for the address and the account in one transaction.

        The counter rows stay locked until the end of the transaction (SQLite: the
        write lock; PostgreSQL: the row lock), so the attempt that reaches the
        limit has started the delay before the next attempt can see its count.
        Always address first, then account: two attempts never wait on each other
        in a circle.
        """
        with own_connection(self.engine) as conn:
            if self._count(conn, keys["address"]) > limits["address"]:
                return Verdict(False, "address")
            attempts = self._count(conn, keys["account"])
            if attempts < limits["account"]:
                return Verdict(True)
            if attempts == limits["account"]:  # the last free attempt: later ones wait
                self._start_delay(conn, keys["account"], delay)
                return Verdict(True)
            wait = self._take_slot(conn, keys["account"], delay)
            return Verdict(True) if wait == 0 else Verdict(False, "account", wait)

    def _count(self, conn, key: str) -> int:
        """Add one attempt for ``key`` in this window and return the new count (atomic)."""
        table = SIGNIN_TABLE()
        statement = _upsert_insert(self.engine)(table).values(
            key_hash=key, window_start=self.start, failures=1
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key_hash", "window_start"],
            set_={"failures": table.c.failures + 1},
        ).returning(table.c.failures)
        count = conn.execute(statement).scalar_one()
        if count == 1:  # the first attempt of a window: old windows are useless
            conn.execute(delete(table).where(table.c.window_start < self.start))
            stale = self.now - 2 * self.window
            conn.execute(delete(DELAY_TABLE()).where(DELAY_TABLE().c.not_before < stale))
        return count

    def current(self, key: str) -> int:
        table = SIGNIN_TABLE()
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.coalesce(func.sum(table.c.failures), 0)).where(
                    table.c.key_hash == key, table.c.window_start == self.start
                )
            ).scalar_one()

    def _start_delay(self, conn, key: str, delay) -> None:
        """The limit is reached: the next attempt waits (longer after earlier strikes)."""
        table = DELAY_TABLE()
        row = conn.execute(
            select(table.c.strikes, table.c.not_before).where(table.c.key_hash == key)
        ).first()
        if row is None:
            conn.execute(
                _upsert_insert(self.engine)(table)
                .values(key_hash=key, strikes=1, not_before=self.now + delay(1))
                .on_conflict_do_nothing()
            )
            return
        strikes = row.strikes + 1
        conn.execute(
            update(table)
            .where(table.c.key_hash == key)
            .values(strikes=strikes, not_before=max(row.not_before, self.now + delay(strikes)))
        )

    def _take_slot(self, conn, key: str, delay) -> int:
        """0 when this attempt may go on (the delay has passed), else the seconds left.

        Compare-and-set on (strikes, not_before): of attempts arriving together,
        exactly one takes a free slot.
        """
        table = DELAY_TABLE()
        row = conn.execute(
            select(table.c.strikes, table.c.not_before).where(table.c.key_hash == key)
        ).first()
        if row is None:  # cleared meanwhile (a right password): start over
            self._start_delay(conn, key, delay)
            return delay(1)
        if row.not_before > self.now:
            return row.not_before - self.now
        taken = conn.execute(
            update(table)
            .where(
                table.c.key_hash == key,
                table.c.strikes == row.strikes,
                table.c.not_before == row.not_before,
            )
            .values(strikes=row.strikes + 1, not_before=self.now + delay(row.strikes + 1))
        ).rowcount
        return 0 if taken == 1 else delay(row.strikes + 1)

    def give_back(self, key: str) -> None:
        table = SIGNIN_TABLE()
        with own_connection(self.engine) as conn:
            conn.execute(
                update(table)
                .where(
                    table.c.key_hash == key,
                    table.c.window_start == self.start,
                    table.c.failures > 0,
                )
                .values(failures=table.c.failures - 1)
            )

    def clear(self, key: str) -> None:
        with own_connection(self.engine) as conn:
            conn.execute(delete(SIGNIN_TABLE()).where(SIGNIN_TABLE().c.key_hash == key))
            conn.execute(delete(DELAY_TABLE()).where(DELAY_TABLE().c.key_hash == key))


class _LimitsBackend:
    """The same counts and delays in a ``limits`` storage (Redis …): INCR is atomic.

    A counter per key and window expires with its window; the account's delay is a
    key whose first INCR takes the slot (``SET NX EX`` in effect), its strikes a
    counter that lives until a quiet stretch of two windows.
    """

    def __init__(self, uri: str, window: int):
        storage = storage_from_string(uri)
        if not isinstance(storage, Storage):  # the checks call it synchronously: no "async+…"
            raise ConfigError("RATELIMIT_STORAGE_URI måste vara en synkron lagring (inte async+…).")
        self.storage: Storage = storage
        self.window = window

    def _window_key(self, key: str) -> str:
        start = _now() // self.window * self.window
        return f"signin/{key}/{start}"

    def attempt(self, keys: dict[str, str], limits: dict[str, int], delay) -> Verdict:
        if self._count(keys["address"]) > limits["address"]:
            return Verdict(False, "address")
        key = keys["account"]
        attempts = self._count(key)
        if attempts < limits["account"]:
            return Verdict(True)
        slot, strikes_key = f"signin-slot/{key}", f"signin-strikes/{key}"
        if attempts == limits["account"]:
            # the slot first, then the strikes: an attempt that sees strikes has a slot
            # to compare with, and one that sees none waits (below)
            strikes = self.storage.get(strikes_key) + 1
            self.storage.incr(slot, delay(strikes))
            self.storage.incr(strikes_key, 2 * self.window)
            return Verdict(True)
        strikes = self.storage.get(strikes_key)
        if strikes and self.storage.incr(slot, delay(strikes + 1)) == 1:
            self.storage.incr(strikes_key, 2 * self.window)
            return Verdict(True)
        # the storage's expiry is on the system clock  (system clock: allowed)
        left = self.storage.get_expiry(slot) - time.time() if strikes else delay(1)
        return Verdict(False, "account", max(1, int(left + 0.999)))

    def _count(self, key: str) -> int:
        return self.storage.incr(self._window_key(key), self.window + 1)

    def current(self, key: str) -> int:
        return self.storage.get(self._window_key(key))

    def give_back(self, key: str) -> None:
        self.storage.incr(self._window_key(key), self.window + 1, amount=-1)

    def clear(self, key: str) -> None:
        for name in (self._window_key(key), f"signin-strikes/{key}", f"signin-slot/{key}"):
            self.storage.clear(name)


def SIGNIN_TABLE() -> Table:  # noqa: N802 - reads like the table it returns
    return table_of(SignInFailure)


def DELAY_TABLE() -> Table:  # noqa: N802 - reads like the table it returns
    return table_of(SignInDelay)


def _engine() -> Engine:
    return current_app.extensions["engine"]


def _upsert_insert(engine: Engine):
    """The dialect's INSERT with ON CONFLICT (PostgreSQL and SQLite both have it)."""
    return postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert


def throttle() -> SignInThrottle:
    return current_app.extensions["signin_throttle"]


def keyed_digest(secret: bytes, kind: str, value: str) -> str:
    """An HMAC of ``value`` under the app's secret: a throttling key that says nothing of
    the address or account it was made from to whoever reads the limiter's storage."""
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def client_address() -> str:
    """The client's address as seen through the trusted proxies (throttling key only)."""
    return request.remote_addr or "okänd"
