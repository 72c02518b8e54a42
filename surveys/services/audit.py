"""Audit log of administrative actions: who, what, when — never answers."""

from __future__ import annotations

from sqlmodel import Session

from surveys import clock
from surveys.models import AuditEntry


def record(db: Session, *, user_email: str, action: str, detail: str = "") -> None:
    db.add(
        AuditEntry(
            at=clock.utcnow(),
            user_email=user_email,
            action=action,
            detail=detail[:1000],
        )
    )
