"""Users: one service for the web pages and the ``surveys users`` CLI.

Creation, editing (name, role, insatser), deactivation, password changes and the
per-user session version that signs every earlier session out. The actions at the end
(``add_user``, ``change_user``, ``change_active``, ``new_password``, ``sign_out``) take an
``Actor``, check it and write the audit entry; ``signed_in`` audits a sign-in (the user is
the actor: nobody was signed in before). The functions above are their building blocks.
Services only add and flush; the request or CLI command commits.
"""

from __future__ import annotations

from collections.abc import Iterable

import email_validator
from sqlalchemy import delete
from sqlmodel import Session, col, select

from surveys.models import Intervention, Role, SessionVersion, User, UserIntervention
from surveys.names import InvalidName, by_name, clean_person_name, name_key
from surveys.passwords import hash_password
from surveys.services.actor import Actor, Refused, audit, require_admin

# Demo and test accounts use the reserved .invalid domain (RFC 2606) on purpose: a
# sign-in name never receives mail, so it is accepted as an account name.
email_validator.SPECIAL_USE_DOMAIN_NAMES = [
    d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d != "invalid"
]
MIN_PASSWORD = 10
DEFAULT_ROLE = Role.reader  # least privilege: reports only until the admin decides more
ROLE_LABELS = {
    Role.admin.value: "Administratör",
    Role.staff.value: "Personal",
    Role.reader.value: "Läsare",
}


class UserError(ValueError):
    """A refused change; ``errors`` are Swedish messages."""

    def __init__(self, errors: list[str]):
        super().__init__(" ".join(errors))
        self.errors = errors


def normalise_email(text: str) -> str:
    """A valid address in lower case, or UserError (checked by email-validator)."""
    try:
        checked = email_validator.validate_email((text or "").strip(), check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise UserError(["Ange en giltig e-postadress, t.ex. namn@forbund.se."]) from None
    return checked.normalized.lower()


def _check_password(password: str) -> list[str]:
    if len(password or "") < MIN_PASSWORD:
        return [f"Lösenordet måste ha minst {MIN_PASSWORD} tecken."]
    if len(password) > 200:
        return ["Lösenordet får ha högst 200 tecken."]
    return []


def _check_role(role: str, intervention_ids: list[str], db: Session) -> list[str]:
    errors = []
    if role not in {r.value for r in Role}:
        errors.append("Välj en roll.")
    known = set(db.exec(select(Intervention.id)).all())
    if any(i not in known for i in intervention_ids):
        errors.append("Okänd insats.")
    if role == Role.staff.value and not intervention_ids:
        errors.append("Personal måste knytas till minst en insats.")
    return errors


def by_email(db: Session, email: str) -> User | None:
    return db.exec(select(User).where(User.email == email.strip().lower())).first()


def intervention_ids_by_name(db: Session, names: Iterable[str]) -> list[str]:
    """Insats names (CLI) → ids; UserError naming the unknown ones."""
    ids, unknown = [], []
    for name in names:
        row = db.exec(select(Intervention).where(Intervention.name_key == name_key(name))).first()
        if row is None:
            unknown.append(name)
        else:
            ids.append(row.id)
    if unknown:
        raise UserError([f"Okänd insats: {', '.join(unknown)}."])
    return ids


def create_user(
    db: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = DEFAULT_ROLE.value,
    intervention_ids: Iterable[str] = (),
) -> User:
    """Create a user (default role läsare); raises UserError with every problem."""
    chosen = list(dict.fromkeys(intervention_ids))
    errors: list[str] = []
    try:
        email = normalise_email(email)
    except UserError as exc:
        errors.extend(exc.errors)
    else:
        if by_email(db, email) is not None:
            errors.append(f"Det finns redan en användare med e-postadressen {email}.")
    errors += _check_password(password) + _check_role(role, chosen, db)
    name = _person_name(name, errors)
    if errors:
        raise UserError(errors)
    user = User(email=email, name=name, password_hash=hash_password(password), role=role)
    db.add(user)
    db.flush()
    _set_interventions(db, user, chosen)
    return user


def _set_interventions(db: Session, user: User, intervention_ids: list[str]) -> None:
    db.exec(delete(UserIntervention).where(col(UserIntervention.user_id) == user.id))
    for intervention_id in intervention_ids:
        db.add(UserIntervention(user_id=user.id, intervention_id=intervention_id))
    db.flush()


def interventions_of(db: Session, user: User) -> list[str]:
    """The user's insatser (ids) in Swedish alphabetical order of their names, as pages and
    the CLI list them."""
    rows = db.exec(
        select(UserIntervention.intervention_id, Intervention.name)
        .join(Intervention, col(Intervention.id) == col(UserIntervention.intervention_id))
        .where(UserIntervention.user_id == user.id)
    ).all()
    return [intervention_id for intervention_id, _ in by_name(rows, lambda row: row[1])]


def update_user(
    db: Session,
    user: User,
    *,
    name: str | None = None,
    role: str | None = None,
    intervention_ids: Iterable[str] | None = None,
    acting_user_id: str | None = None,
) -> None:
    """Change name, role and insatser; the last active administrator keeps the role."""
    role = role if role is not None else user.role
    chosen = (
        list(dict.fromkeys(intervention_ids))
        if intervention_ids is not None
        else interventions_of(db, user)
    )
    if role != Role.staff.value:
        chosen = []  # insatser limit staff only; admins and readers see everything
    errors = _check_role(role, chosen, db)
    if user.role == Role.admin.value and role != Role.admin.value and _last_admin(db, user):
        errors.append("Det måste finnas minst en aktiv administratör.")
    if name is not None:
        name = _person_name(name, errors)
    if errors:
        raise UserError(errors)
    role_changed = role != user.role
    if name is not None:
        user.name = name
    user.role = role
    db.add(user)
    _set_interventions(db, user, chosen)
    if role_changed and user.id != acting_user_id:
        bump_session_version(db, user.id)  # a new role starts with a new sign-in


def _person_name(raw: str, errors: list[str]) -> str:
    """The name as stored; its problem added to ``errors`` (then it is not stored)."""
    try:
        return clean_person_name(raw)
    except InvalidName as exc:
        errors.append(str(exc))
        return ""


def _last_admin(db: Session, user: User) -> bool:
    admins = db.exec(
        select(User.id).where(User.role == Role.admin.value, col(User.active).is_(True))
    ).all()
    return list(admins) == [user.id]


def set_active(db: Session, user: User, active: bool) -> None:
    """Deactivate (signs the user out everywhere) or reactivate an account."""
    if not active and user.role == Role.admin.value and user.active and _last_admin(db, user):
        raise UserError(["Det måste finnas minst en aktiv administratör."])
    user.active = active
    db.add(user)
    db.flush()
    if not active:
        bump_session_version(db, user.id)


def set_password(db: Session, user: User, password: str) -> None:
    """A new password; every existing session of the user ends."""
    errors = _check_password(password)
    if errors:
        raise UserError(errors)
    user.password_hash = hash_password(password)
    db.add(user)
    db.flush()
    bump_session_version(db, user.id)


def session_version(db: Session, user_id: str) -> int:
    row = db.get(SessionVersion, user_id)
    return row.version if row else 0


def bump_session_version(db: Session, user_id: str) -> int:
    """End every session made so far (logout, deactivation, password change)."""
    row = db.get(SessionVersion, user_id) or SessionVersion(user_id=user_id, version=0)
    row.version += 1
    db.add(row)
    db.flush()
    return row.version


# --- the actions (an actor, a permission check, an audit entry each) ------------------


def add_user(
    db: Session,
    actor: Actor,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = DEFAULT_ROLE.value,
    intervention_ids: Iterable[str] = (),
) -> User:
    """The administrator creates a user (``användare.skapa``); Refused or UserError."""
    require_admin(actor)
    user = create_user(
        db, email=email, password=password, name=name, role=role, intervention_ids=intervention_ids
    )
    audit(db, actor, "användare.skapa", f"{user.email} ({ROLE_LABELS[user.role]})")
    return user


def change_user(
    db: Session,
    actor: Actor,
    user: User,
    *,
    name: str | None = None,
    role: str | None = None,
    intervention_ids: Iterable[str] | None = None,
    acting_user_id: str | None = None,
) -> None:
    """The administrator changes name, role or insatser (``användare.ändra``)."""
    require_admin(actor)
    update_user(
        db,
        user,
        name=name,
        role=role,
        intervention_ids=intervention_ids,
        acting_user_id=acting_user_id,
    )
    names = dict(db.exec(select(Intervention.id, Intervention.name)).all())
    chosen = ", ".join(names[i] for i in interventions_of(db, user))  # in name order
    detail = f"{user.email}: {ROLE_LABELS[user.role]}" + (f", {chosen}" if chosen else "")
    audit(db, actor, "användare.ändra", detail)


def change_active(db: Session, actor: Actor, user: User, active: bool) -> None:
    """The administrator (de)activates an account (``användare.aktivera``/``inaktivera``)."""
    require_admin(actor)
    set_active(db, user, active)
    audit(db, actor, "användare.aktivera" if active else "användare.inaktivera", user.email)


def new_password(db: Session, actor: Actor, user: User, password: str) -> None:
    """The administrator sets a new password (``användare.lösenord``); sessions end."""
    require_admin(actor)
    set_password(db, user, password)
    audit(db, actor, "användare.lösenord", user.email)


def signed_in(db: Session, user: User) -> None:
    """A user has signed in with the right password (``inloggning``); the route checked it
    and started the session, so the user is their own actor."""
    audit(db, Actor(email=user.email, role=user.role), "inloggning")


def sign_out(db: Session, actor: Actor, user_id: str) -> None:
    """The actor signs out (``utloggning``): every session of theirs ends, also a cookie
    copied before, because the session version is bumped. Only one's own account."""
    user = db.get(User, user_id)
    if user is None or user.email != actor.email:
        raise Refused("Du kan bara logga ut dig själv. Ingenting har ändrats.")
    bump_session_version(db, user_id)
    audit(db, actor, "utloggning")
