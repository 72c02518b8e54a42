"""Whether a round takes answers, and how its link tokens are stored (only as hashes).

Apart from ``rounds`` because the submission path needs both and ``rounds`` (closing a
round releases its answers) needs the submission path: one module each way, no cycle.
"""

from __future__ import annotations

import hashlib
from datetime import date
from types import SimpleNamespace

from sqlalchemy.engine import Row

from surveys import clock
from surveys.models import Round, RoundState
from surveys.services.respondent import RoundView

# A round as the ORM gives it, or as the respondent path's per-worker cache gives it
# (the same columns as attributes): what the submission path reads.
RoundLike = Round | RoundView


def hash_token(token: str) -> str:
    """The stored form of a link token (SHA-256, hex): the token itself is never stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def accepts_answers(round_: Round | Row | SimpleNamespace, *, today: date | None = None) -> bool:
    """Open, and today within its optional dates (a Round, or anything with its state
    and the two dates: a row, the state a submission reads in its transaction)."""
    today = today or clock.today()
    if round_.state != RoundState.open.value:
        return False
    if round_.opens_on and today < round_.opens_on:
        return False
    return not (round_.closes_on and today > round_.closes_on)
