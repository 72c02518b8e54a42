"""Rounds (mätomgångar): creation, state transitions, single-use links."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from typing import Literal, overload

from sqlalchemy.engine import Row
from sqlmodel import Session, select

from surveys import clock
from surveys.models import Intervention, LinkToken, Round, RoundMode, RoundState

MODE_LABELS = {
    RoundMode.open_link.value: "Öppen länk",
    RoundMode.kiosk.value: "Surfplatta (kioskläge)",
    RoundMode.single_use.value: "Engångslänkar",
}
STATE_LABELS = {
    RoundState.draft.value: "Ej öppnad",
    RoundState.open.value: "Öppen",
    RoundState.closed.value: "Stängd",
}


class RoundStateError(ValueError):
    """An invalid state transition (message in Swedish)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_round(
    db: Session,
    *,
    questionnaire: str,
    year: int,
    intervention_id: str | None = None,
    mode: str = RoundMode.open_link.value,
    expected: int | None = None,
    opens_on: date | None = None,
    closes_on: date | None = None,
) -> Round:
    """Create a round in state draft with a fresh random open-link code."""
    if mode not in MODE_LABELS:
        raise ValueError(f"Okänt läge {mode!r}.")
    if expected is not None and expected < 0:
        raise ValueError("Förväntat antal svarande kan inte vara negativt.")
    if opens_on and closes_on and closes_on < opens_on:
        raise ValueError("Slutdatum kan inte ligga före startdatum.")
    round_ = Round(
        code=secrets.token_urlsafe(9),
        questionnaire_key=questionnaire,
        year=year,
        intervention_id=intervention_id,
        mode=mode,
        expected=expected,
        opens_on=opens_on,
        closes_on=closes_on,
    )
    db.add(round_)
    db.flush()
    return round_


def open_round(db: Session, round_: Round, *, today: date | None = None) -> Round:
    """draft → open, or closed → open within the round's own year."""
    today = today or clock.today()
    if round_.state == RoundState.open.value:
        raise RoundStateError("Mätomgången är redan öppen.")
    if round_.state == RoundState.closed.value and today.year > round_.year:
        raise RoundStateError(
            f"Mätomgången för {round_.year} är stängd och kan inte öppnas igen efter året."
        )
    round_.state = RoundState.open.value
    db.add(round_)
    return round_


def close_round(db: Session, round_: Round) -> Round:
    """open → closed (a draft can also be closed: it is then never used)."""
    if round_.state == RoundState.closed.value:
        raise RoundStateError("Mätomgången är redan stängd.")
    round_.state = RoundState.closed.value
    db.add(round_)
    return round_


def accepts_answers(round_: Round | Row, *, today: date | None = None) -> bool:
    """Open, and today within its optional dates (a Round, or a row of those three columns)."""
    today = today or clock.today()
    if round_.state != RoundState.open.value:
        return False
    if round_.opens_on and today < round_.opens_on:
        return False
    return not (round_.closes_on and today > round_.closes_on)


def create_tokens(db: Session, round_: Round, *, count: int) -> list[str]:
    """Make ``count`` single-use tokens; only their hashes are stored."""
    if not 1 <= count <= 2000:
        raise ValueError("Antalet länkar måste vara mellan 1 och 2000.")
    tokens = [secrets.token_urlsafe(16) for _ in range(count)]
    for token in tokens:
        db.add(
            LinkToken(token_hash=hash_token(token), round_id=round_.id, created_on=clock.today())
        )
    db.flush()
    return tokens


def find_by_code(db: Session, code: str) -> Round | None:
    if not code or len(code) > 32:
        return None
    return db.exec(select(Round).where(Round.code == code)).first()


def find_by_token(db: Session, token: str) -> tuple[Round | None, LinkToken] | None:
    if not token or len(token) > 64:
        return None
    link = db.get(LinkToken, hash_token(token))
    if link is None:
        return None
    return db.get(Round, link.round_id), link


@overload
def intervention_by_name(db: Session, name: str, *, create: Literal[True]) -> Intervention: ...
@overload
def intervention_by_name(
    db: Session, name: str, *, create: bool = False
) -> Intervention | None: ...
def intervention_by_name(db: Session, name: str, *, create: bool = False) -> Intervention | None:
    row = db.exec(select(Intervention).where(Intervention.name == name)).first()
    if row is None and create:
        row = Intervention(name=name)
        db.add(row)
        db.flush()
    return row
