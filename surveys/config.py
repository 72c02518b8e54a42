"""Configuration from the environment (DESIGN.md "Configuration by environment").

Settings are read once, when the application is created, into a typed
:class:`Settings`; anything unusable stops the start with a Swedish message
(:class:`ConfigError`) instead of surfacing later as a 500. Production refuses
to start without a real ``SECRET_KEY`` (the rule: :func:`secret_problem`), an
https ``PUBLIC_URL`` with a host and shared storage for the sign-in limiter (the
database, or Redis with the extra ``redis`` installed — never ``memory://``).
Development never uses a known key: a random one is kept in the instance folder,
readable by the owner only.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# app.extensions key of the application factory (see create_app in surveys/__init__.py).
APP_FACTORY = "surveys.create_app"

PLACEHOLDER_SECRETS = {
    "",
    "dev",
    "change-me",
    "changeme",
    "secret",
    "utveckling",
    "development",
    "test",
}
# Words that give a key away as a placeholder wherever they stand in it.
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "example",
    "password",
    "losenord",
    "lösenord",
    "placeholder",
    "utveckling",
    "development",
)
# A production key: at least MIN_SECRET_LENGTH characters, at least MIN_SECRET_DISTINCT
# different characters, no character in more than half of the key, not one pattern
# repeated ("abcabc…"), no placeholder word. Random keys pass: a key from
# secrets.token_hex(16) (32 hex digits, the shortest allowed) has fewer than 8 different
# characters with a probability of about 4e-8, and one character 17 times or more with
# about 1e-11. (A third, the rule before, refused one such key in 30,000: 11 of one digit.)
MIN_SECRET_LENGTH = 32
# The suppression threshold's one range: the environment's MIN_CELL, the administrator's
# setting (admin page and its stored value) all accept exactly these.
MIN_CELL_LOW, MIN_CELL_HIGH = 1, 100
MIN_SECRET_DISTINCT = 8
MAX_SECRET_SHARE = 1 / 2
# Rate-limit storages production accepts besides the database (""): Redis, whose client
# is the optional extra "redis" (uv sync --extra redis).
REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")
SECRET_FILE = "secret_key"  # noqa: S105 - the file name, not a secret
OWNER_ONLY = 0o600


FLAG_WORDS = ("0", "1", "true", "false", "ja", "nej", "")  # an on/off setting's values


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or unusable (message in Swedish)."""


class Settings(BaseModel):
    """Every setting the application reads, typed, each with its one range; the field
    names are the environment's (and Flask config's) names. Validated by pydantic once,
    when the application is created (``read_settings``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SURVEYS_ENV: Literal["development", "production"] = "development"
    SECRET_KEY: str = ""  # production refuses a placeholder: see secret_problem
    DATABASE_URL: str  # default: the instance folder's SQLite file (read_settings)
    MIN_CELL: int = Field(5, ge=MIN_CELL_LOW, le=MIN_CELL_HIGH)  # the suppression threshold
    INSTANCE_DIR: str
    MAX_CONTENT_LENGTH: int = Field(5 * 1024 * 1024, ge=1024, le=1024**3)  # bytes per request
    MAIL_SERVER: str = ""  # "" = mail is written to MAIL_FOLDER instead of sent
    MAIL_PORT: int = Field(25, ge=1, le=65535)
    MAIL_SENDER: str = "enkat@example.invalid"  # production refuses .invalid with a server
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_STARTTLS: bool = False
    MAIL_TLS: bool = False  # implicit TLS (port 465)
    MAIL_FOLDER: str  # default: the instance folder's "mail"
    PUBLIC_URL: str = ""  # "" (development) = the address of the request (surveys/links.py)
    # "" = the database (shared by every worker); or e.g. redis://host:6379 for limits
    RATELIMIT_STORAGE_URI: str = ""
    # reverse proxies in front of the app; 0 = ignore X-Forwarded-*
    TRUSTED_PROXIES: int = Field(0, ge=0, le=5)
    SIGNIN_LIMIT_ACCOUNT: int = Field(10, ge=1, le=10_000)  # failed sign-ins per account
    SIGNIN_LIMIT_ADDRESS: int = Field(30, ge=1, le=100_000)  # failed sign-ins per address
    SIGNIN_WINDOW_SECONDS: int = Field(300, ge=10, le=86_400)  # the throttling window
    # a kiosk form untouched this long asks "Är du kvar?" (per round too)
    KIOSK_IDLE_SECONDS: int = Field(120, ge=30, le=3600)
    # forms open when their round closed are taken this long after
    CLOSED_GRACE_SECONDS: int = Field(86_400, ge=0, le=7 * 86_400)
    SURVEYS_MODE: Literal["forbund", "national"] = "forbund"  # national: NNS's (issue 21)
    # a kiosk's "Tack" is shown this long before the next form
    KIOSK_THANKS_SECONDS: int = Field(15, ge=1, le=600)
    # "Är du kvar?" counts down this long before a kiosk resets
    KIOSK_COUNTDOWN_SECONDS: int = Field(30, ge=1, le=600)
    PORT: int = Field(8000, ge=1, le=65535)  # the development server's (links outside a request)
    ARGON2_TIME_COST: int = Field(3, ge=1, le=20)  # argon2id passes per password hash
    ARGON2_MEMORY_KIB: int = Field(65_536, ge=1024, le=4 * 1024**2)  # memory per hash, KiB
    ARGON2_PARALLELISM: int = Field(4, ge=1, le=64)  # argon2id lanes per password hash
    # a tablet's queue reports and refused forms, per minute, address and round
    TABLET_REPORTS_PER_MINUTE: int = Field(30, ge=1, le=10_000)
    TABLET_REFUSALS_PER_MINUTE: int = Field(120, ge=1, le=10_000)
    # NNS's public key for Riket files when the administrator has set none (PEM or base64)
    NNS_PUBLIC_KEY: str = ""
    # SQLite's durability: FULL (default) syncs every commit; EXTRA also the folder
    SQLITE_SYNCHRONOUS: Literal["FULL", "EXTRA", "NORMAL"] = "FULL"

    @field_validator("SURVEYS_ENV", "RATELIMIT_STORAGE_URI", "NNS_PUBLIC_KEY", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        """A URL of a database the service runs on (SQLite or PostgreSQL)."""
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("url") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError("url")
        return value

    @field_validator("SQLITE_SYNCHRONOUS", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("SURVEYS_MODE", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return (value.strip().lower() or "forbund") if isinstance(value, str) else value

    @field_validator("MAIL_STARTTLS", "MAIL_TLS", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        """1/0, true/false or ja/nej; an empty value is off."""
        if not isinstance(value, str):
            return value
        folded = value.strip().lower()
        if folded not in FLAG_WORDS:
            raise ValueError("flag")
        return folded in ("1", "true", "ja")


# Password hashing in production: at least argon2-cffi's defaults, RFC 9106's second
# recommendation (argon2id, 3 passes, 64 MiB, 4 lanes). Lighter only in development and
# in the tests, which set lighter values in their configuration.
ARGON2_PRODUCTION = {"ARGON2_TIME_COST": 3, "ARGON2_MEMORY_KIB": 65_536, "ARGON2_PARALLELISM": 4}


def instance_dir(env: Mapping[str, str] | None = None) -> Path:
    """The instance folder: SURVEYS_INSTANCE (a relative one from the current folder, as
    the README's examples write it), else ./instance; ConfigError when it is set empty."""
    value = (os.environ if env is None else env).get("SURVEYS_INSTANCE")
    if value is None:
        return Path.cwd() / "instance"
    if not value.strip():
        raise ConfigError(
            "SURVEYS_INSTANCE är tom. Ange instansmappen, eller ta bort variabeln för ./instance."
        )
    return Path(value).expanduser().absolute()


def read_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """Parse the environment into typed settings (no file is touched here): the
    variables named like a setting, nothing else; ``overrides`` (``create_app``'s, the
    tests') win and are checked the same way. Raises ConfigError in Swedish."""
    env = os.environ if env is None else env
    instance = instance_dir(env)
    given: dict[str, object] = {name: env[name] for name in Settings.model_fields if name in env}
    given.setdefault("DATABASE_URL", f"sqlite:///{instance / 'indikatorenkater.sqlite'}")
    given.setdefault("MAIL_FOLDER", str(instance / "mail"))
    given["INSTANCE_DIR"] = str(instance)
    given.update(overrides or {})
    try:
        return Settings.model_validate(given)
    except ValidationError as exc:
        raise ConfigError(_in_swedish(exc.errors()[0])) from None


def _in_swedish(error: Any) -> str:
    """pydantic's first complaint as the message the start stops with."""
    name = str(error["loc"][0])
    if name == "DATABASE_URL":  # never shown: it may hold the database's password
        return (
            "DATABASE_URL är ingen databasadress som tjänsten kan använda. Skriv t.ex. "
            "sqlite:////sökväg/data.sqlite eller postgresql+psycopg://användare@värd/databas."
        )
    raw = error.get("input")
    shown = raw.strip() if isinstance(raw, str) else raw
    if error["type"] in ("greater_than_equal", "less_than_equal"):
        low, high = setting_range(name)
        return f"{name} ska vara mellan {low} och {high} (nu {shown})."
    if error["type"] == "literal_error":
        *first, last = get_args(Settings.model_fields[name].annotation)
        return f"{name} ska vara {', '.join(first)} eller {last} (nu {shown!r})."
    annotation = Settings.model_fields[name].annotation
    if annotation is bool:
        return f"{name} ska vara 1 eller 0 (nu {shown!r})."
    if annotation is int:
        return f"{name} ska vara ett heltal (nu {shown!r})."
    return f"{name} kan inte läsas (nu {shown!r})."


def setting_range(name: str) -> tuple[int, int]:
    """A whole-number setting's one range, as its field declares it."""
    metadata = Settings.model_fields[name].metadata
    low = next(m.ge for m in metadata if hasattr(m, "ge"))
    high = next(m.le for m in metadata if hasattr(m, "le"))
    return low, high


def load_config(overrides: dict | None = None, env: Mapping[str, str] | None = None) -> dict:
    """Settings as a Flask config dict; ``overrides`` (tests) win: those that are settings
    are validated with the environment (one range each), the rest (Flask's own, such
    as TESTING) are taken as they are. Raises ConfigError."""
    overrides = dict(overrides or {})
    settings = {
        name: overrides.pop(name) for name in list(overrides) if name in Settings.model_fields
    }
    config: dict = read_settings(env, settings).model_dump()
    config.update(
        {
            "FORM_TOKEN_MAX_AGE": 12 * 3600,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "WTF_CSRF_TIME_LIMIT": None,
        }
    )
    explicit_public_url = bool(config["PUBLIC_URL"]) or "PUBLIC_URL" in settings
    config.update(overrides)
    production = config["SURVEYS_ENV"] == "production"
    if production:
        _check_production(config, explicit_public_url=explicit_public_url)
    elif not config["SECRET_KEY"]:
        config["SECRET_KEY"] = development_secret(Path(config["INSTANCE_DIR"]))
    check_storage_client(config["RATELIMIT_STORAGE_URI"])
    # An empty PUBLIC_URL (development) means: the address of the request (surveys/links.py).
    config.setdefault("SESSION_COOKIE_SECURE", production)
    config.setdefault("REMEMBER_COOKIE_SECURE", config["SESSION_COOKIE_SECURE"])
    return config


def _check_production(config: dict, *, explicit_public_url: bool) -> None:
    problem = secret_problem(config["SECRET_KEY"])
    if problem:
        raise ConfigError(
            f"SECRET_KEY {problem}. Sätt en slumpmässig SECRET_KEY när SURVEYS_ENV=production: "
            f"minst {MIN_SECRET_LENGTH} tecken, minst {MIN_SECRET_DISTINCT} olika tecken, "
            "inget tecken i mer än halva nyckeln, inget upprepat mönster och "
            'ingen platshållare, till exempel: python -c "import secrets; '
            'print(secrets.token_hex(32))"'
        )
    url = config["PUBLIC_URL"]
    if not explicit_public_url or not _https_with_host(url):
        raise ConfigError(
            "PUBLIC_URL saknas eller är ingen https-adress med värdnamn (nu "
            f"{url[:100]!r}). Ange den adress deltagarna når tjänsten på, "
            "t.ex. PUBLIC_URL=https://enkat.example.se, när SURVEYS_ENV=production."
        )
    if config["MAIL_SERVER"] and config["MAIL_SENDER"].endswith(".invalid"):
        raise ConfigError(
            "MAIL_SENDER saknas. Ange den avsändaradress utskicken ska ha, "
            "t.ex. MAIL_SENDER=enkat@forbundet.se, när MAIL_SERVER är satt i produktion."
        )
    weaker = [name for name, least in ARGON2_PRODUCTION.items() if int(config[name]) < least]
    if weaker:
        raise ConfigError(
            f"{', '.join(weaker)} är lägre än vad som krävs i produktion "
            f"(minst {', '.join(f'{k}={v}' for k, v in ARGON2_PRODUCTION.items())})."
        )
    storage = config["RATELIMIT_STORAGE_URI"]
    scheme = storage_scheme(storage)
    if "memory" in scheme:
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI={storage[:60]} räknar inloggningsförsök per process. "
            "Lämna den tom (databasen används) eller ange en delad lagring som redis://… "
            "i produktion."
        )
    if storage and (scheme not in REDIS_SCHEMES or "://" not in storage):
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI={storage[:60]} stöds inte. Lämna den tom (databasen "
            "används) eller ange redis://värd:6379 (kräver tillägget redis)."
        )


def secret_problem(secret: str) -> str | None:
    """What is wrong with a production key, in Swedish (None when it will do)."""
    folded = secret.strip().lower()
    if folded in PLACEHOLDER_SECRETS or any(word in folded for word in PLACEHOLDER_WORDS):
        return "saknas eller är en platshållare"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"är för kort ({len(secret)} tecken; minst {MIN_SECRET_LENGTH} tecken)"
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"har för få olika tecken ({len(set(secret))})"
    if max(secret.count(c) for c in set(secret)) > MAX_SECRET_SHARE * len(secret):
        return "består till stor del av ett och samma tecken"
    if secret in (secret + secret)[1:-1]:  # a shorter unit repeated: "abcabcabc…"
        return "är ett upprepat mönster"
    return None


def _https_with_host(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return False
    return (
        parts.scheme.lower() == "https"
        and bool(host)
        and not parts.username
        and not parts.password
        and not parts.query
        and not parts.fragment
    )


def storage_scheme(uri: str) -> str:
    """The scheme of a storage URI, lower case ("MEMORY://" → "memory")."""
    return uri.strip().partition("://")[0].strip().lower() if "://" in uri else uri.strip().lower()


def check_storage_client(uri: str) -> None:
    """A Redis storage needs the Redis client (the extra "redis"): a message, not a traceback."""
    if storage_scheme(uri) in REDIS_SCHEMES and "://" in uri:
        try:
            import redis  # noqa: F401, PLC0415 - only to see that it is installed
        except ImportError:
            raise ConfigError(
                "RATELIMIT_STORAGE_URI är en Redis-adress men Redis-klienten saknas. "
                "Installera tillägget redis: uv sync --extra redis "
                "(eller pip install 'indikatorenkater[redis]')."
            ) from None


def development_secret(instance: Path) -> str:
    """A random key for this instance, created once and readable by the owner only.

    Several workers may start at the same time: the key is written to a private
    temporary file and linked into place, so every worker reads the same key.
    """
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / SECRET_FILE
    if not path.exists():
        temporary = instance / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker was first: use its key
        finally:
            temporary.unlink()
    os.chmod(path, OWNER_ONLY)
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(f"Nyckelfilen {path} är skadad. Ta bort den så skapas en ny.")
    return key
