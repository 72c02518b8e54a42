"""Who does an action: the signed-in person, or the operator at the command line.

Every application service that changes something takes an ``Actor``, checks that the
actor may do it (``Refused``, a Swedish message, before anything is written) and writes
its own audit entry with ``audit``. Web routes build the actor from the signed-in user
(``from_user``), CLI commands use ``CLI`` (the operator, with the administrator's
rights: whoever runs commands on the server can do anything anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

from surveys.models import Role
from surveys.services.audit import record

CLI_NAME = "kommandoraden"  # how the audit log names the operator at the command line
ADMIN_ONLY = "Det här får bara administratören göra. Ingenting har ändrats."
OWN_INSATSER_ONLY = "Du kan bara ändra mätomgångar för dina egna insatser. Ingenting har ändrats."


class Refused(PermissionError):
    """The actor may not do this; the message is Swedish and nothing was written."""


@dataclass(frozen=True)
class Actor:
    """Who acts: an e-mail for the audit log, a role, and (staff) their insatser."""

    email: str
    role: str
    interventions: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    def can_manage(self, intervention_id: str | None) -> bool:
        """The administrator manages everything; staff their own insatser's rounds."""
        if self.is_admin:
            return True
        return self.role == Role.staff.value and intervention_id in self.interventions


CLI = Actor(email=CLI_NAME, role=Role.admin.value)
DEMO_NAME = "demo"  # how the audit log names the demo data's own actions (förbund and NNS)
SYSTEM_NAMES = frozenset({CLI_NAME, DEMO_NAME})  # actors that are the system, not an account


def from_user(email: str, role: str, interventions: Iterable[str] = ()) -> Actor:
    """The actor for a signed-in user (the web adapters pass ``current_user``'s fields)."""
    return Actor(email=email, role=role, interventions=frozenset(interventions))


def require_admin(actor: Actor) -> None:
    """Refuse anyone but the administrator (and the operator at the command line)."""
    if not actor.is_admin:
        raise Refused(ADMIN_ONLY)


def require_manage(actor: Actor, intervention_id: str | None) -> None:
    """Refuse an actor who does not manage this insats (None: the whole förbund)."""
    if not actor.can_manage(intervention_id):
        raise Refused(OWN_INSATSER_ONLY)


def audit(db: Session, actor: Actor, action: str, detail: str = "") -> None:
    """The action's audit entry, in the same unit of work as the change it describes."""
    record(db, user_email=actor.email, action=action, detail=detail)
