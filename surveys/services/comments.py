"""Comments in the yearly report (the förbundschef's own words) and the standing report
texts: checked, stored and audited here; the page is ``surveys/reports/comments.py``.

Text is stored exactly as written (escaped where it is shown). Only flushes.
"""

from __future__ import annotations

import unicodedata

from sqlmodel import Session, select

from surveys import clock
from surveys.models import ReportComment
from surveys.names import BIDI_CONTROLS
from surveys.services import settings
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.publications import FORBUND

MAX_LENGTH = 4000  # about a page of A4 per indicator
INTRODUCTION = 0
STANDING = {settings.ABOUT_TEXT: "Om indikatorerna", settings.CONTACT_TEXT: "Kontaktuppgifterna"}


class CommentError(ValueError):
    """A comment that cannot be saved; the message is Swedish and names the field."""


def field_label(indicator: int) -> str:
    if indicator < INTRODUCTION:
        return "Den stående texten"
    return "Inledningen" if indicator == INTRODUCTION else f"Kommentaren till indikator {indicator}"


def clean(indicator: int, text: str) -> str:
    """The text as stored: normalised line ends, trimmed; raises CommentError if refused."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    label = field_label(indicator)
    if len(text) > MAX_LENGTH:
        raise CommentError(
            f"{label} är {len(text)} tecken lång. Högst {MAX_LENGTH} tecken får plats."
        )
    if any(_refused(c) for c in text):
        raise CommentError(f"{label} innehåller osynliga styrtecken. Skriv vanlig text.")
    odd = next((c for c in text if _not_text(c)), None)
    if odd is not None:
        raise CommentError(
            f"{label} innehåller ett tecken som inte är text (U+{ord(odd):04X}). "
            "Ta bort det och skriv vanlig text."
        )
    return text


def _refused(char: str) -> bool:
    """A control character other than line break and tab (C0 and C1), or one that turns
    the writing direction (it would show the förbundschef's words in another order)."""
    return (unicodedata.category(char) == "Cc" and char not in "\n\t") or char in BIDI_CONTROLS


def _not_text(char: str) -> bool:
    """A noncharacter (U+FFFE, U+FFFF, U+FDD0–U+FDEF and the last two of every plane) or
    a lone surrogate: no keyboard writes one, and the Excel and Word files cannot hold
    U+FFFE or U+FFFF (XML refuses them: their download failed). Characters merely unknown
    to this Python (a newer emoji) are text and stay."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE or 0xD800 <= code <= 0xDFFF


def save_comments(
    session: Session,
    actor: Actor,
    *,
    year: int,
    texts: dict[int, str],
    scope: str = FORBUND,
) -> int:
    """The administrator stores changed comments for a year and scope, each audited
    (``kommentar.ändra``/``kommentar.tömma``); returns how many changed.

    Every text is checked before anything is written, so a refused field changes
    nothing. An empty box that was never saved stores nothing (a suggestion is
    only stored when she takes it: the form puts it in ``texts`` then).
    """
    require_admin(actor)
    user_email = actor.email
    cleaned = {indicator: clean(indicator, text) for indicator, text in texts.items()}
    query = select(ReportComment).where(ReportComment.year == year, ReportComment.scope == scope)
    existing = {c.indicator: c for c in session.exec(query).all()}
    changed = 0
    now = clock.utcnow()
    where = f" {scope}" if scope else ""
    for indicator, text in sorted(cleaned.items()):
        row = existing.get(indicator)
        if row is not None and row.text == text:
            continue
        if row is None and not text:
            continue
        changed += 1
        what = "inledning" if indicator == INTRODUCTION else f"indikator {indicator}"
        what += where
        if row is None:
            row = ReportComment(
                year=year,
                scope=scope,
                indicator=indicator,
                text=text,
                updated_at=now,
                updated_by=user_email,
            )
        row.text, row.updated_at, row.updated_by = text, now, user_email
        session.add(row)
        audit(
            session,
            actor,
            "kommentar.ändra" if text else "kommentar.tömma",
            f"{year} {what}, {len(text)} tecken",
        )
    session.flush()  # the request commits the comments with their audit entries
    return changed


def save_standing(
    session: Session, actor: Actor, *, texts: dict[str, str], bar_chart: bool | None
) -> int:
    """The förbund's standing texts (those sent) and the bar-chart setting (None: not
    sent), each change audited; returns how many changed."""
    require_admin(actor)
    changed = 0
    for key, label in STANDING.items():
        if key not in texts:
            continue
        text = clean(-1, texts[key]) if texts[key].strip() else ""
        if text == settings.report_text(session, key):
            continue
        if len(text) > settings.REPORT_TEXT_MAX:
            raise CommentError(f"{label} är för lång. Högst {settings.REPORT_TEXT_MAX} tecken.")
        settings.put_report_text(session, key, text, user_email=actor.email)
        audit(session, actor, "rapporttext.ändra", label)
        changed += 1
    if bar_chart is not None:
        value = "1" if bar_chart else "0"
        if value != (settings.get(session, settings.BAR_CHART_PDF) or "0"):
            settings.put(session, settings.BAR_CHART_PDF, value)
            audit(session, actor, "inställning.stapeldiagram", "på" if bar_chart else "av")
            changed += 1
    return changed
