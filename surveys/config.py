"""Configuration from the environment (DESIGN.md "Configuration by environment")."""

from __future__ import annotations

import os
from pathlib import Path

PLACEHOLDER_SECRETS = {"", "dev", "change-me", "changeme", "secret", "utveckling"}
DEV_SECRET = "utveckling"  # noqa: S105 - development default, refused in production


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or unusable."""


def instance_dir() -> Path:
    return Path(os.environ.get("SURVEYS_INSTANCE", Path.cwd() / "instance"))


def load_config(overrides: dict | None = None) -> dict:
    """Read settings from the environment; ``overrides`` (tests) win."""
    env = os.environ.get("SURVEYS_ENV", "development")
    instance = instance_dir()
    config = {
        "SURVEYS_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET),
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance / 'indikatorenkater.sqlite'}"
        ),
        "MIN_CELL": int(os.environ.get("MIN_CELL", "5")),
        "INSTANCE_DIR": str(instance),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(5 * 1024 * 1024))),
        "FORM_TOKEN_MAX_AGE": 12 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_SENDER": os.environ.get("MAIL_SENDER", "enkat@example.invalid"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_STARTTLS": os.environ.get("MAIL_STARTTLS", "0") == "1",
        "MAIL_TLS": os.environ.get("MAIL_TLS", "0") == "1",  # implicit TLS (port 465)
        "MAIL_FOLDER": os.environ.get("MAIL_FOLDER", str(instance / "mail")),
        # Empty: links use the address of the request (surveys/links.py).
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", ""),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
    }
    config.update(overrides or {})
    config.setdefault("SESSION_COOKIE_SECURE", config["SURVEYS_ENV"] == "production")
    config.setdefault("REMEMBER_COOKIE_SECURE", config["SESSION_COOKIE_SECURE"])
    if config["SURVEYS_ENV"] == "production" and (
        config["SECRET_KEY"] in PLACEHOLDER_SECRETS or len(config["SECRET_KEY"]) < 16
    ):
        raise ConfigError(
            "SECRET_KEY saknas eller är en platshållare. Sätt en lång slumpmässig "
            "SECRET_KEY när SURVEYS_ENV=production."
        )
    if config["MIN_CELL"] < 1:
        raise ConfigError("MIN_CELL måste vara minst 1.")
    return config
