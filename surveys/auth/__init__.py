"""Sign-in (Flask-Login), password hashing (argon2), throttling (Flask-Limiter), roles."""

from __future__ import annotations

from functools import wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, has_app_context
from flask_limiter import Limiter
from flask_login import LoginManager, UserMixin, current_user
from sqlmodel import select

from surveys import db
from surveys.models import Role, SessionVersion, User, UserIntervention

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Logga in för att se sidan."
login_manager.session_protection = "strong"
limiter = Limiter(key_func=lambda: "global", default_limits=[])
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
            int(config.get("ARGON2_TIME_COST", _DEFAULT[0])),
            int(config.get("ARGON2_MEMORY_KIB", _DEFAULT[1])),
            int(config.get("ARGON2_PARALLELISM", _DEFAULT[2])),
        )
    found = _HASHERS.get(params)
    if found is None:
        hasher = PasswordHasher(time_cost=params[0], memory_cost=params[1], parallelism=params[2])
        found = _HASHERS[params] = (hasher, hasher.hash("ingen-anvandare"))
    return found


class SignedIn(UserMixin):
    """The signed-in user as seen by views (no ORM object kept across requests)."""

    def __init__(self, user: User, interventions: set[str], version: int = 0):
        self.id = user.id
        self.version = version
        self.email = user.email
        self.name = user.name or user.email
        self.role = user.role
        self.interventions = interventions

    def get_id(self) -> str:
        # The session carries the user's session version: bumping it in the database
        # (logout, deactivation, password change) ends every earlier session, also a
        # cookie copied before "Logga ut".
        return f"{self.id}.{self.version}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    def can_read_reports(self) -> bool:
        return self.role in (Role.admin.value, Role.reader.value, Role.staff.value)

    def can_manage(self, intervention_id: str | None) -> bool:
        if self.is_admin:
            return True
        return self.role == Role.staff.value and intervention_id in self.interventions


def load_user(user_id: str) -> SignedIn | None:
    """The active user with their current session version (used at sign-in)."""
    session = db.session()
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    links = session.exec(select(UserIntervention).where(UserIntervention.user_id == user.id)).all()
    version = session.get(SessionVersion, user.id)
    return SignedIn(
        user, {link.intervention_id for link in links}, version.version if version else 0
    )


@login_manager.user_loader
def _load(session_id: str) -> SignedIn | None:
    """A session is valid only while its version is the user's current one."""
    user_id, _, version = session_id.partition(".")
    signed_in = load_user(user_id)
    if signed_in is None or str(signed_in.version) != version:
        return None
    return signed_in


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


def roles_required(*roles: Role):
    """Allow only signed-in users with one of ``roles`` (403 otherwise)."""
    allowed = {r.value for r in roles}

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
