"""Per-worker caches for the respondent path (/s/, /k/): the round by its code and the instrument.

A tablet's form GET then needs no database at all, and its POST only the transaction
that stores the answers. Correctness never rests on these caches: ``submissions.submit``
re-reads the round's state inside the INSERT transaction, so a round closed a moment ago
in another worker still refuses answers. What a cache may show for at most
``TTL_SECONDS`` after a change made by *another* process is a form that will then say
"Enkäten är stängd". Changes made through the ORM in *this* process (staff opening or
closing a round, ``surveys instrument load``) invalidate every cache at once.
"""

from __future__ import annotations

import time
from itertools import chain
from types import SimpleNamespace

from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession

from indicators.instrument import Instrument
from surveys import db
from surveys.models import InstrumentInfo, Intervention, Round, table_of
from surveys.services.catalogue import instrument_from_db

TTL_SECONDS = 5.0
MAX_ROUNDS = 2000  # cached codes per worker; an unknown code is never cached
_generation = 0  # bumped whenever this process changes a round, an intervention or the catalogue


class RoundView(SimpleNamespace):
    """A round's columns as attributes (every column of ``round``, so columns added later
    are there too); duck-types ``Round`` on the respondent path, never written back."""


def _cache() -> dict:
    """This application's cache (per app, so each test's fresh app starts empty)."""
    return db.app_cache("respondent_cache")


def _fresh(entry: tuple | None) -> bool:
    return (
        entry is not None and entry[0] == _generation and time.monotonic() - entry[1] < TTL_SECONDS
    )


def round_by_code(code: str) -> RoundView | None:
    """The round with this open-link code, from the cache or one Core SELECT."""
    if not code or len(code) > 32:
        return None
    cache = _cache()
    entry = cache.get(("round", code))
    if entry is not None and _fresh(entry):
        return entry[2]
    generation = _generation
    rounds = table_of(Round)
    with db.engine().connect() as conn:
        row = conn.execute(select(rounds).where(rounds.c.code == code)).first()
    if row is None:
        return None
    view = RoundView(**row._mapping)
    if len(cache) > MAX_ROUNDS:
        cache.clear()
    cache[("round", code)] = (generation, time.monotonic(), view)
    return view


def instrument() -> Instrument:
    """The loaded instrument, compared with the database at most every ``TTL_SECONDS``."""
    cache = _cache()
    entry = cache.get("instrument")
    if entry is not None and _fresh(entry):
        return entry[2]
    generation = _generation
    found = instrument_from_db(db.session())
    cache["instrument"] = (generation, time.monotonic(), found)
    return found


@event.listens_for(OrmSession, "after_flush")
def _invalidate(session: OrmSession, _context) -> None:
    global _generation
    watched = (Round, Intervention, InstrumentInfo)
    if any(isinstance(obj, watched) for obj in chain(session.new, session.dirty, session.deleted)):
        _generation += 1
