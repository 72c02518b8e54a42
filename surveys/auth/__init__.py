"""Sign-in (Flask-Login) and roles; throttling is surveys.security, hashing surveys.passwords."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import LoginManager, UserMixin, current_user
from sqlmodel import select

from surveys import db
from surveys.models import Role, SessionVersion, User, UserIntervention
from surveys.passwords import check_password as check_password  # re-exported
from surveys.passwords import hash_password as hash_password  # re-exported
from surveys.services.actor import Actor, from_user

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Logga in för att se sidan."
login_manager.session_protection = "strong"


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
    def actor(self) -> Actor:
        """This user as the services' actor (who, role, insatser)."""
        return from_user(self.email, self.role, self.interventions)

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin

    def can_read_reports(self) -> bool:
        return self.role in (Role.admin.value, Role.reader.value, Role.staff.value)

    def can_manage(self, intervention_id: str | None) -> bool:
        """The services' rule (``Actor.can_manage``), for what a page shows and offers."""
        return self.actor.can_manage(intervention_id)


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


def web_actor() -> Actor:
    """The signed-in user as the services' actor (who, role, insatser)."""
    return current_user.actor


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
