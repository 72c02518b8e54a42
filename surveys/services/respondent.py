"""The respondent path's reads (/s/, /k/): the round by its code, and the instrument.

What may change while tablets answer is read from the database on every request, in
one Core SELECT: the round's state, dates and kiosk settings and its insats's name
(``round_by_code``). Staff closing, reopening or changing a round in *any* worker or
instance is therefore honoured by the next GET and POST everywhere.

What changes only with a new catalogue is kept per worker (``instrument``): it is
compared with the database at most every ``TTL_SECONDS``, and at once when this
process loads one (``surveys instrument load``, ORM flush). A form shown from the old
catalogue for those seconds is still validated and stored by the version ids it shows.
``submissions.submit`` re-reads the round's state inside the INSERT transaction, so a
round closed between the GET and the POST still refuses answers (after the grace).
"""

from __future__ import annotations

import time
from datetime import date
from itertools import chain
from types import SimpleNamespace

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from indicators.instrument import Instrument
from surveys import db
from surveys.models import InstrumentInfo
from surveys.services.catalogue import instrument_from_db

TTL_SECONDS = 5.0  # how long a worker trusts its copy of the catalogue
monotonic = time.monotonic  # the cache's clock (tests move it instead of sleeping)
_generation = 0  # bumped whenever this process changes the catalogue


class RoundView(SimpleNamespace):
    """A round's columns as attributes (every column of ``round``, so columns added later
    are there too); duck-types ``Round`` on the respondent path, never written back."""


def _cache() -> dict:
    """This application's cache (per app, so each test's fresh app starts empty)."""
    return db.app_cache("respondent_cache")


def _fresh(entry: tuple | None) -> bool:
    return entry is not None and entry[0] == _generation and monotonic() - entry[1] < TTL_SECONDS


def round_by_code(code: str) -> RoundView | None:
    """The round with this open-link code as stored now, with its insats's name
    (``intervention_name``, None without one): one Core SELECT, never cached."""
    if not code or len(code) > 32:
        return None
    row = db.read_one(db.engine(), _ROUND_SQL, (code,))  # no ORM session: see db.py
    if row is None:
        return None
    view = RoundView(**row)
    for name in _DATE_COLUMNS:  # SQLite hands raw SQL's dates over as ISO text
        value = getattr(view, name)
        if isinstance(value, str):
            setattr(view, name, date.fromisoformat(value))
    return view


# Fixed SQL given to the driver as it is (no statement built per request); every
# column of ``round``, so columns added later are there too.
_ROUND_SQL = (
    "SELECT r.*, i.name AS intervention_name FROM round r "
    "LEFT JOIN intervention i ON i.id = r.intervention_id WHERE r.code = ?"
)
_DATE_COLUMNS = ("opens_on", "closes_on", "created_on")


def instrument() -> Instrument:
    """The loaded instrument, compared with the database at most every ``TTL_SECONDS``."""
    cache = _cache()
    entry = cache.get("instrument")
    if entry is not None and _fresh(entry):
        return entry[2]
    generation = _generation
    found = instrument_from_db(db.session())
    cache["instrument"] = (generation, monotonic(), found)
    return found


@event.listens_for(OrmSession, "after_flush")
def _invalidate(session: OrmSession, _context) -> None:
    global _generation
    if any(
        isinstance(obj, InstrumentInfo)
        for obj in chain(session.new, session.dirty, session.deleted)
    ):
        _generation += 1
