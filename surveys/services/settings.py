"""Named settings kept in the ``setting`` table (admin page), read where needed."""

from __future__ import annotations

from sqlmodel import Session

from surveys.config import MIN_CELL_HIGH, MIN_CELL_LOW
from surveys.files.reading import parse_int
from surveys.models import Setting

MIN_CELL = "min_cell"  # the suppression threshold; the environment's MIN_CELL when unset
FORBUND_NAME = "forbund_name"  # "Förbundets namn"; the appendix reads the same key
DEFAULT_FORBUND_NAME = "Samordningsförbundet"


def get(db: Session, key: str, default: str = "") -> str:
    row = db.get(Setting, key)
    return row.value if row and row.value else default


def put(db: Session, key: str, value: str) -> None:
    """Store a setting (flush only; the request commits)."""
    row = db.get(Setting, key) or Setting(key=key, value=value)
    row.value = value
    db.add(row)
    db.flush()


def forbund_name(db: Session) -> str:
    return get(db, FORBUND_NAME, DEFAULT_FORBUND_NAME)


def min_cell_value(raw: str | None, default: int) -> int:
    """The threshold a stored ``min_cell`` setting gives (in the one range), else ``default``."""
    value = parse_int(raw, low=MIN_CELL_LOW, high=MIN_CELL_HIGH) if raw is not None else None
    return default if value is None else value
