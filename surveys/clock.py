"""The one clock of the application: dates and times in Europe/Stockholm.

Every place that needs "today" or "now" asks this module, never ``date.today()``
or ``datetime.now()``: a server runs in UTC, but a förbund's day (a round's last
day, the year a form counts for) begins at midnight Swedish time. Tests replace
the source of the current instant with :func:`use_source` instead of relying on
the machine's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _system_utc() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_utc


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC (for stored timestamps)."""
    return _source().astimezone(UTC)


def now() -> datetime:
    """The current instant, timezone-aware in Europe/Stockholm."""
    return _source().astimezone(STOCKHOLM)


def today() -> date:
    """Today's date in Sweden, whatever the server's own zone."""
    return now().date()


def local(moment: datetime) -> datetime:
    """A stored instant (aware, or naive meaning UTC) shown in Swedish time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM)


@contextmanager
def use_source(source: Callable[[], datetime]) -> Iterator[None]:
    """Let ``source`` (returning an aware datetime) be the clock inside the block."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
