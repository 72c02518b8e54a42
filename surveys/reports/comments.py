"""The förbundschef's own words in the yearly report: an introduction and a comment per indicator.

/admin/kommentarer/<year>   GET: the form; POST: save (all-or-nothing, audited)

Comments are plain text (paragraphs separated by a blank line). They belong to
the year, not to a publication, so they can be written and corrected after
the figures are published. Text is stored exactly as written and escaped where it
is shown (the page's templates, the PDF's paragraphs, Word runs): "a < b" or "<b>"
appears as typed and can never become markup.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import Session, select

from surveys import clock, db
from surveys.admin.publish import COMMENTS, preview_computed
from surveys.auth import roles_required
from surveys.errors import error_page
from surveys.models import ReportComment, Role
from surveys.reports.build import page_context
from surveys.reports.data import preview_report, published_report
from surveys.services.audit import record
from surveys.services.catalogue import instrument_from_db

bp = Blueprint("comments", __name__, url_prefix="/admin/kommentarer")
MAX_LENGTH = 4000  # about a page of A4 per indicator
INTRODUCTION = 0


class CommentError(ValueError):
    """A comment that cannot be saved; the message is Swedish and names the field."""


def field_label(indicator: int) -> str:
    return "Inledningen" if indicator == INTRODUCTION else f"Kommentaren till indikator {indicator}"


def clean(indicator: int, text: str) -> str:
    """The text as stored: normalised line ends, trimmed; raises CommentError if refused."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    label = field_label(indicator)
    if len(text) > MAX_LENGTH:
        raise CommentError(
            f"{label} är {len(text)} tecken lång. Högst {MAX_LENGTH} tecken får plats."
        )
    if "\x00" in text or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise CommentError(f"{label} innehåller osynliga styrtecken. Skriv vanlig text.")
    return text


def save_comments(
    session: Session,
    *,
    year: int,
    texts: dict[int, str],
    user_email: str,
    offered: dict[int, str] | None = None,
) -> int:
    """Store changed comments for a year; returns how many changed.

    Every text is checked before anything is written, so a refused field changes
    nothing. ``offered``: the suggested starting lines the form showed; one
    that was emptied is kept as an empty row (she removed it on purpose, and
    it must not be offered again), one that was kept is stored as her text.
    """
    offered = offered or {}
    cleaned = {indicator: clean(indicator, text) for indicator, text in texts.items()}
    existing = {
        c.indicator: c
        for c in session.exec(select(ReportComment).where(ReportComment.year == year)).all()
    }
    changed = 0
    now = clock.utcnow()
    for indicator, text in sorted(cleaned.items()):
        row = existing.get(indicator)
        if row is not None and row.text == text:
            continue
        if row is None and not text and not offered.get(indicator):
            continue
        changed += 1
        what = "inledning" if indicator == INTRODUCTION else f"indikator {indicator}"
        if row is None:
            row = ReportComment(
                year=year, indicator=indicator, text=text, updated_at=now, updated_by=user_email
            )
        row.text, row.updated_at, row.updated_by = text, now, user_email
        session.add(row)
        record(
            session,
            user_email=user_email,
            action="kommentar.ändra" if text else "kommentar.tömma",
            detail=f"{year} {what}, {len(text)} tecken",
        )
    session.flush()  # the request commits the comments with their audit entries
    return changed


def _report(year: int):
    session = db.session()
    instrument = instrument_from_db(session)
    # Comments are written for the published figures, or for the preview before publishing
    # (counted by the preview's background job, never in this request).
    data = published_report(session, instrument, year=year)
    if data is None:
        computed, waiting = preview_computed(year, page=COMMENTS)
        if waiting is not None:
            return None, waiting
        data = preview_report(
            session,
            instrument,
            year=year,
            default_min_cell=current_app.config["MIN_CELL"],
            computed=computed,
        )
    if not data.has_year(year):
        years = ", ".join(str(y) for y in data.years()) or "inga"
        return None, error_page(
            404,
            f"Det finns inga resultat för {year} att kommentera. År med resultat: {years}.",
            title=f"Inga resultat för {year}",
        )
    return data, None


@bp.route("/<year:year>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit(year: int):
    """Write or correct the year's introduction and per-indicator comments."""
    data, missing = _report(year)
    if missing is not None:
        return missing
    context = page_context(data, year=year, suggestions=True)
    fields = [INTRODUCTION, *data.instrument.indicators]
    saved = {
        c.indicator: c.text
        for c in db.session().exec(select(ReportComment).where(ReportComment.year == year))
    }
    error = None
    if request.method == "POST":
        texts = {
            i: request.form.get(f"text-{i}", "") for i in fields if f"text-{i}" in request.form
        }
        offered = {
            s["number"]: s["suggestion"] for s in context["sections"] if s["number"] not in saved
        }
        try:
            changed = save_comments(
                db.session(),
                year=year,
                texts=texts,
                user_email=current_user.email,
                offered=offered,
            )
        except CommentError as exc:
            db.session().rollback()
            error = str(exc)
            flash(f"{error} Ingenting har sparats.", "error")
        else:
            flash(f"{changed} kommentarer sparade för {year}." if changed else "Inga ändringar.")
            return redirect(url_for(".edit", year=year))
    values = {}
    for section in context["sections"]:
        n = section["number"]
        values[n] = saved.get(n, section["suggestion"])
    values[INTRODUCTION] = saved.get(INTRODUCTION, "")
    if error is not None:  # show what she typed, so nothing is lost
        values.update({i: request.form.get(f"text-{i}", values.get(i, "")) for i in fields})
    return render_template(
        "reports/comments.html",
        year=year,
        sections=context["sections"],
        values=values,
        saved=saved,
        max_length=MAX_LENGTH,
    ), (400 if error else 200)
