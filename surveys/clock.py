"""Dates and times as the förbund lives them: Europe/Stockholm, whatever the server's zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Stockholm")


def now() -> datetime:
    """The current time in Stockholm (timezone-aware)."""
    return datetime.now(ZONE)


def today() -> date:
    """Today's date in Stockholm."""
    return now().date()


def local(moment: datetime) -> datetime:
    """A stored moment (UTC, or naive UTC) as Stockholm wall time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZONE)
