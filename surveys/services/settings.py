"""Named settings kept in the ``setting`` table (admin page), read where needed."""

from __future__ import annotations

from sqlmodel import Session

from surveys import clock
from surveys import db as surveys_db
from surveys.config import MIN_CELL_HIGH, MIN_CELL_LOW, Settings
from surveys.files.reading import parse_int
from surveys.models import ReportText, Setting
from surveys.names import MAX_NAME_LENGTH, InvalidName, clean_forbund_name
from surveys.services.actor import Actor, audit, require_admin

MIN_CELL = "min_cell"  # the suppression threshold; the environment's MIN_CELL when unset
DEFAULT_MIN_CELL: int = Settings.model_fields["MIN_CELL"].default  # MIN_CELL's own default
FORBUND_NAME = "forbund_name"  # "Förbundets namn"; the appendix reads the same key
DEFAULT_FORBUND_NAME = "Samordningsförbundet"
# The förbund's comparison group in NNS's Riket file (e.g. "storstad"); "" = none.
COMPARISON_GROUP = "comparison_group"
BAR_CHART_PDF = "report_bar_chart_pdf"  # "1": the PDF and Word file also draw the year's bars
ABOUT_TEXT = "om_indikatorerna"  # report_text: the standing text before "Resultatet i korthet"
CONTACT_TEXT = "kontakt"  # report_text: the förbund's contact details in the title block
REPORT_TEXT_MAX = 4000
FORBUND_NAME_MAX = MAX_NAME_LENGTH  # characters, the stored name (names.py's one limit)
THRESHOLD_RANGE = f"Gränsen ska vara ett heltal mellan {MIN_CELL_LOW} och {MIN_CELL_HIGH}."
FORBUND_NAME_EMPTY = "Ange förbundets namn."
UNCHANGED = "Ingenting har ändrats."
DEFAULT_ABOUT = (
    "Indikatorer för finansiell samordning är ett nationellt verktyg för att följa upp "
    'samordningsförbundens arbete. Indikatorerna är svar på frågan "Hur vet vi att det blir '
    'bättre?" och följer utvecklingen både inom och runt de insatser förbundet finansierar, '
    "och delar av den strukturella utvecklingen i samverkan mellan myndigheterna.\n\n"
    "Indikatorerna är 16 och för 15 av dem finns nationellt framtagna mått (indikator 11 är "
    "fortsatt under utveckling). Måtten är enkäter till sex respondentgrupper: deltagare i "
    "pågående insats, deltagare vid avslut, personal i insatserna, remittenter, parternas "
    "chefsgrupp och styrelsen."
)


class SettingError(ValueError):
    """A setting was refused; the message is Swedish and nothing was changed."""


def get(db: Session, key: str, default: str = "") -> str:
    row = db.get(Setting, key)
    return row.value if row and row.value else default


def put(db: Session, key: str, value: str) -> None:
    """Store a setting (flush only; the request commits)."""
    row = db.get(Setting, key) or Setting(key=key, value=value)
    row.value = value
    db.add(row)
    db.flush()


def comparison_group(db: Session) -> str:
    """The förbund's comparison group in NNS's Riket file ("" when none is chosen)."""
    return get(db, COMPARISON_GROUP).strip()


def forbund_name(db: Session) -> str:
    """The förbund's name for forms, letters and packages: the setting, else the default."""
    return get(db, FORBUND_NAME, DEFAULT_FORBUND_NAME)


def forbund_name_if_set(db: Session) -> str | None:
    """The name as the administrator wrote it, or None when unset (a report's neutral title)."""
    return get(db, FORBUND_NAME).strip() or None


def min_cell_value(raw: str | None) -> int:
    """The threshold a stored ``min_cell`` setting gives (in the one range), else the
    environment's (``configured_min_cell``)."""
    value = parse_int(raw, low=MIN_CELL_LOW, high=MIN_CELL_HIGH) if raw is not None else None
    return configured_min_cell() if value is None else value


def configured_min_cell() -> int:
    """The environment's MIN_CELL (config.Settings, checked in the one range at start)."""
    return int(surveys_db.configured("MIN_CELL", DEFAULT_MIN_CELL))


def threshold(db: Session) -> int:
    """The suppression threshold in force: the administrator's setting, else MIN_CELL
    from the environment. The one place the two are combined; every service that
    needs the threshold and is not given a frozen one (a job's) reads it here."""
    row = db.get(Setting, MIN_CELL)
    return min_cell_value(row.value if row is not None else None)


def checked_threshold(value: object, refusal: type[Exception] = SettingError) -> int:
    """A threshold handed to a service (a job's, a caller's) in the one range, else
    ``refusal`` (the caller's own error class) with the Swedish message; nothing changed."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise refusal(f"{THRESHOLD_RANGE} {UNCHANGED}")
    if not MIN_CELL_LOW <= value <= MIN_CELL_HIGH:
        raise refusal(f"{THRESHOLD_RANGE} {UNCHANGED}")
    return value


def report_text(db: Session, key: str) -> str:
    """A standing report text; "Om indikatorerna" has a default until she writes her own."""
    row = db.get(ReportText, key)
    if row is not None:
        return row.text
    return DEFAULT_ABOUT if key == ABOUT_TEXT else ""


def put_report_text(db: Session, key: str, text: str, *, user_email: str) -> None:
    """Store a standing report text (flush only; the request commits)."""
    row = db.get(ReportText, key) or ReportText(
        key=key, text=text, updated_at=clock.utcnow(), updated_by=user_email
    )
    row.text, row.updated_at, row.updated_by = text, clock.utcnow(), user_email
    db.add(row)
    db.flush()


def change_threshold(db: Session, actor: Actor, value: int) -> None:
    """The administrator sets the threshold for small numbers (``gräns.ändra``), a whole
    number in the one range; ``SettingError`` (nothing changed) otherwise."""
    require_admin(actor)
    put(db, MIN_CELL, str(checked_threshold(value)))
    audit(db, actor, "gräns.ändra", str(value))


def change_forbund_name(db: Session, actor: Actor, name: str) -> str:
    """The administrator sets "Förbundets namn" (``förbund.namn``); the name as stored.
    An empty name, one longer than ``FORBUND_NAME_MAX`` or one with control or invisible
    characters (a line break would reach every mail's subject) is a ``SettingError``."""
    require_admin(actor)
    try:
        name = clean_forbund_name(name)  # length, and no line breaks or control characters
    except InvalidName as exc:
        raise SettingError(f"{exc} {UNCHANGED}") from None
    if not name:
        raise SettingError(f"{FORBUND_NAME_EMPTY} {UNCHANGED}")
    put(db, FORBUND_NAME, name)
    audit(db, actor, "förbund.namn", name)
    return name
