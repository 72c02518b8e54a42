"""Password hashing (argon2id), apart from sign-in so that services can hash without
the web layer (``services.users``)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

from surveys.models import User

# (time cost, memory KiB, parallelism) -> the hasher and a hash of no one's password
_HASHERS: dict[tuple[int, int, int], tuple[PasswordHasher, str]] = {}
_DEFAULT = (3, 65_536, 4)  # argon2-cffi's defaults (RFC 9106), outside an app


def _hasher() -> tuple[PasswordHasher, str]:
    """The argon2id hasher of the app's ARGON2_* settings (config.py; production refuses
    less than the library's defaults), with the hash checked when no account matches."""
    params = _DEFAULT
    if has_app_context():
        config = current_app.config
        params = (
            int(config["ARGON2_TIME_COST"]),
            int(config["ARGON2_MEMORY_KIB"]),
            int(config["ARGON2_PARALLELISM"]),
        )
    found = _HASHERS.get(params)
    if found is None:
        hasher = PasswordHasher(time_cost=params[0], memory_cost=params[1], parallelism=params[2])
        found = _HASHERS[params] = (hasher, hasher.hash("ingen-anvandare"))
    return found


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the account exists."""
    hasher, nobody = _hasher()
    try:
        return hasher.verify(user.password_hash if user else nobody, password) and (
            user is not None and user.active
        )
    except (VerificationError, InvalidHashError):
        return False
