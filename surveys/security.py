"""Security headers, CSRF for signed-in forms, proxies, file permissions, sign-in throttling."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from flask import Flask, Response, abort, current_app, request
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from surveys import clock
from surveys.auth import login_manager
from surveys.models import SignInFailure

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
# Database, WAL/SHM, backups, mail files and the key are the owner's only.
PRIVATE_UMASK = 0o077


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    login_manager.init_app(app)
    proxies = int(app.config.get("TRUSTED_PROXIES", 0))
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
        # here instead of a database error deeper down.
        values = [request.path, *request.args.values()]
        if request.method == "POST" and request.mimetype != "multipart/form-data":
            values.extend(request.form.values())
        if any("\x00" in value for value in values):
            abort(400)

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
    candidates = [instance / "secret_key"]
    if database is not None:
        candidates += [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))]
    for path in candidates:
        if path.exists():
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


class SignInThrottle:
    """Counts FAILED sign-ins per account and per client address, shared by all workers.

    Counts live in the database (table ``signin_failure``) or, when
    RATELIMIT_STORAGE_URI is set, in that storage (e.g. Redis via ``limits``).
    Keys are HMACs of the e-mail address and of the client address: the address
    is a throttling key only, never stored in clear or logged. Successful sign-ins
    are not counted, so a busy office behind one address is not locked out by
    its own colleagues signing in.
    """

    def __init__(self, app: Flask):
        self.window = int(app.config.get("SIGNIN_WINDOW_SECONDS", 300))
        self.limits = {
            "account": int(app.config.get("SIGNIN_LIMIT_ACCOUNT", 10)),
            "address": int(app.config.get("SIGNIN_LIMIT_ADDRESS", 30)),
        }
        self._secret = app.config["SECRET_KEY"].encode("utf-8")
        uri = app.config.get("RATELIMIT_STORAGE_URI", "")
        self._limits = _LimitsBackend(uri, self.window) if uri else None

    def _keys(self, email: str, address: str) -> dict[str, str]:
        def digest(kind: str, value: str) -> str:
            message = f"{kind}:{value}".encode()
            return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

        return {
            "account": digest("account", email.strip().lower()[:254]),
            "address": digest("address", address),
        }

    def blocked(self, email: str, address: str) -> bool:
        """True when the account or the address has used up its failed attempts."""
        keys = self._keys(email, address)
        if self._limits is not None:
            return any(self._limits.count(keys[k]) >= self.limits[k] for k in keys)
        window = self._current_window()
        with _engine().connect() as conn:
            rows = conn.execute(
                select(SIGNIN_TABLE().c.key_hash, SIGNIN_TABLE().c.failures).where(
                    SIGNIN_TABLE().c.key_hash.in_(keys.values()),
                    SIGNIN_TABLE().c.window_start == window,
                )
            ).all()
        counts = dict(rows)
        return any(counts.get(keys[k], 0) >= self.limits[k] for k in keys)

    def failed(self, email: str, address: str) -> None:
        """Count one failed sign-in for the account and the address."""
        keys = self._keys(email, address)
        if self._limits is not None:
            for key in keys.values():
                self._limits.hit(key)
            return
        window = self._current_window()
        table = SIGNIN_TABLE()
        engine = _engine()
        insert = _upsert_insert(engine)
        with engine.begin() as conn:
            for key in keys.values():
                statement = insert(table).values(key_hash=key, window_start=window, failures=1)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["key_hash", "window_start"],
                        set_={"failures": table.c.failures + 1},
                    )
                )
            # Old windows are useless: keep the table small.
            conn.execute(delete(table).where(table.c.window_start < window))

    def _current_window(self) -> int:
        return int(clock.utcnow().timestamp()) // self.window * self.window

    def failures(self, email: str, address: str) -> dict[str, int]:
        """Current counts (for tests and the admin's curiosity)."""
        keys = self._keys(email, address)
        window = self._current_window()
        with _engine().connect() as conn:
            return {
                kind: conn.execute(
                    select(func.coalesce(func.sum(SIGNIN_TABLE().c.failures), 0)).where(
                        SIGNIN_TABLE().c.key_hash == key,
                        SIGNIN_TABLE().c.window_start == window,
                    )
                ).scalar_one()
                for kind, key in keys.items()
            }


class _LimitsBackend:
    """Fixed windows in a ``limits`` storage (Redis, Memcached, MongoDB …)."""

    def __init__(self, uri: str, window: int):

        self.storage = storage_from_string(uri)
        self.strategy = FixedWindowRateLimiter(self.storage)
        # a very high amount: we only use the counter, the decision is ours
        self.item = RateLimitItemPerSecond(1_000_000, window)

    def hit(self, key: str) -> None:
        self.strategy.hit(self.item, "signin", key)

    def count(self, key: str) -> int:
        remaining = self.strategy.get_window_stats(self.item, "signin", key)
        return self.item.amount - remaining[1]


def SIGNIN_TABLE():  # noqa: N802 - reads like the table it returns

    return SignInFailure.__table__


def _engine() -> Engine:
    return current_app.extensions["engine"]


def _upsert_insert(engine: Engine):
    """The dialect's INSERT with ON CONFLICT (PostgreSQL and SQLite both have it)."""
    return postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert


def throttle() -> SignInThrottle:
    return current_app.extensions["signin_throttle"]


def client_address() -> str:
    """The client's address as seen through the trusted proxies (throttling key only)."""
    return request.remote_addr or "okänd"
