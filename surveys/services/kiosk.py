"""Tablets in kiosk mode: counts that staff see, never anything about a respondent.

A tablet reports how many answers wait in its offline queue; the round keeps one
counter for all its tablets (no device identity is stored). A queued submission
the server refuses is counted on its round; a form accepted after its round
closed (within the grace period) is counted in the audit log. The routes believe
only reports signed with a form token of the round, in steps of at most MAX_STEP,
and the counters are clamped to 0 … MAX_COUNT.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import case, or_, select, update
from sqlmodel import Session

from surveys.config import Settings, setting_range
from surveys.files.reading import parse_int
from surveys.models import AuditEntry, Round, table_of
from surveys.services.actor import Actor, audit, require_manage
from surveys.services.round_access import RoundLike
from surveys.services.rounds import label_of

# "Är du kvar?" after this long without touch or key: the setting's default and its one
# range (a round's own idle time takes the same range)
DEFAULT_IDLE_SECONDS = Settings.model_fields["KIOSK_IDLE_SECONDS"].default
MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = setting_range("KIOSK_IDLE_SECONDS")
MAX_STEP = 100  # a tablet reports at most this many queued answers (it sends min(n, 100))
MAX_COUNT = 1_000_000  # the counters stop here (far below int4's 2,147,483,647)
LATE_ACTION = "omgång.sena_svar"
LATE_USER = "(enkäten)"  # not a person: the questionnaire itself accepted the forms


def idle_seconds(round_: RoundLike, configured: int | None = None) -> int:
    """The round's idle time, else the app's (tests use seconds), else two minutes."""
    return round_.kiosk_idle_seconds or configured or DEFAULT_IDLE_SECONDS


def report_queue(db: Session, round_id: str, *, waiting: int, reported: int, full: bool) -> None:
    """Add one tablet's change in queue length (waiting − what it reported before).

    Each tablet sends its own previous figure, so several tablets add up without
    the server knowing which tablet is which. Both figures are at most MAX_STEP
    (the caller checks), and the counter stays within 0 … MAX_COUNT, so no report
    can overflow the column (PostgreSQL's int4) or make a page fail.
    """
    rounds = table_of(Round).c
    new = rounds.tablet_waiting + (waiting - reported)
    values: dict = {"tablet_waiting": case((new < 0, 0), (new > MAX_COUNT, MAX_COUNT), else_=new)}
    if full:
        values["tablet_storage_full"] = True
    db.execute(update(table_of(Round)).where(rounds.id == round_id).values(**values))
    db.flush()


def count_refused(db: Session, round_id: str) -> None:
    """A queued submission was refused: the tablet drops it; staff see the count."""
    rounds = table_of(Round).c
    refused = rounds.tablet_refused
    db.execute(
        update(table_of(Round))
        .where(rounds.id == round_id)
        .values(tablet_refused=case((refused < MAX_COUNT, refused + 1), else_=MAX_COUNT))
    )
    db.flush()  # the caller commits it apart: the refusal's answer is an error status


def record_late(db: Session, round_: RoundLike) -> int:
    """Count a form accepted within the grace period after its round closed.

    One audit entry per round holds the count: the round as staff name it
    (``rounds.label_of``) and, since two rounds may share that name, its id in brackets.
    Its time is when the round was closed (or its last day), never when a respondent
    answered.
    """
    marker = f"[{round_.id}]: "
    entries = table_of(AuditEntry).c
    found = db.execute(
        select(AuditEntry)
        .where(
            entries.action == LATE_ACTION,
            or_(  # an entry written before the round's name was in it began with its id
                entries.detail.contains(marker, autoescape=True),
                entries.detail.startswith(f"{round_.id} ", autoescape=True),
            ),
        )
        .with_for_update()
    ).first()
    label = label_of(db, round_)
    if found is not None:
        entry: AuditEntry = found[0]
        count = _late_count(entry.detail, marker) + 1
        entry.detail = _late_detail(label, marker, count)
    else:
        count = 1
        entry = AuditEntry(
            at=_closed_at(db, round_),
            user_email=LATE_USER,
            action=LATE_ACTION,
            detail=_late_detail(label, marker, count),
        )
    db.add(entry)
    db.flush()
    return count


def _late_detail(label: str, marker: str, count: int) -> str:
    return f"{label} {marker}{count} svar togs emot efter stängning (inom respittiden)"


def _late_count(detail: str, marker: str) -> int:
    """The count an entry holds (0 if it cannot be read: the next form starts it anew);
    an older entry reads "<round id> <count> svar …"."""
    words = detail.partition(marker)[2].split() if marker in detail else detail.split()[1:]
    return int(words[0]) if words and words[0].isdigit() else 0


def _closed_at(db: Session, round_: RoundLike) -> datetime:
    """When the round was closed (``round.closed_at``), else its last day, else the day
    it was created (a round closed before it was recorded): never a respondent's time."""
    rounds = table_of(Round).c
    closed = db.execute(select(rounds.closed_at).where(rounds.id == round_.id)).scalar()
    if closed is not None:
        return closed
    day: date = round_.closes_on or round_.created_on
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


class KioskSettingError(ValueError):
    """A tablet setting that cannot be used (Swedish; nothing changed)."""


def change_settings(
    db: Session, actor: Actor, round_: Round, *, idle_seconds: str, clear_full: bool
) -> None:
    """Staff set a round's idle time ("Är du kvar?") and acknowledge a full tablet
    (``omgång.surfplatta``): their own insatser's rounds only."""
    require_manage(actor, round_.intervention_id)
    seconds = parse_int(idle_seconds, low=MIN_IDLE_SECONDS, high=MAX_IDLE_SECONDS)
    if seconds is None:
        raise KioskSettingError(
            f"Ange antal sekunder mellan {MIN_IDLE_SECONDS} och {MAX_IDLE_SECONDS}. "
            "Ingenting har ändrats."
        )
    round_.kiosk_idle_seconds = seconds
    if clear_full:
        round_.tablet_storage_full = False
    db.add(round_)
    db.flush()
    audit(db, actor, "omgång.surfplatta", label_of(db, round_))
