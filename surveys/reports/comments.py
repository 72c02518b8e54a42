"""The förbundschef's own words in the yearly report: an introduction and a comment per indicator.

/admin/kommentarer/<year>[?insats=<id>]   GET: the form; POST: save (all-or-nothing, audited)

Comments are plain text (paragraphs separated by a blank line). They belong to
the year and the scope (the whole förbund, or one insats: an insats's report
never shows the förbund's comments, which quote other figures), not to a
publication, so they can be written and corrected after the figures are
published. A suggested first line is shown beside each box and stored only
when she ticks "Använd förslaget". Text is stored exactly as written and escaped
where it is shown (the page's templates, the PDF's paragraphs, Word runs): "a < b"
or "<b>" appears as typed and can never become markup. The standing texts of every
report ("Om indikatorerna", the contact details) are edited on the förbund's page.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import Session, select

from surveys import clock, db
from surveys.admin.publish import COMMENTS, preview_computed
from surveys.auth import roles_required
from surveys.errors import error_page
from surveys.models import Intervention, ReportComment, Role
from surveys.reports.context import page_context
from surveys.reports.data import FORBUND, ReportData, preview_report, published_report
from surveys.services import settings
from surveys.services.audit import record
from surveys.services.catalogue import instrument_from_db

bp = Blueprint("comments", __name__, url_prefix="/admin/kommentarer")
MAX_LENGTH = 4000  # about a page of A4 per indicator
INTRODUCTION = 0


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
    if "\x00" in text or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise CommentError(f"{label} innehåller osynliga styrtecken. Skriv vanlig text.")
    return text


def save_comments(
    session: Session,
    *,
    year: int,
    texts: dict[int, str],
    user_email: str,
    scope: str = FORBUND,
) -> int:
    """Store changed comments for a year and scope; returns how many changed.

    Every text is checked before anything is written, so a refused field changes
    nothing. An empty box that was never saved stores nothing (a suggestion is
    only stored when she takes it: the form puts it in ``texts`` then).
    """
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
        record(
            session,
            user_email=user_email,
            action="kommentar.ändra" if text else "kommentar.tömma",
            detail=f"{year} {what}, {len(text)} tecken",
        )
    session.flush()  # the request commits the comments with their audit entries
    return changed


def _scope() -> tuple[Intervention | None, object]:
    """The insats asked for (``?insats=``), or None for the förbund; a 404 page if unknown."""
    insats_id = request.args.get("insats") or None
    if insats_id is None:
        return None, None
    intervention = db.session().get(Intervention, insats_id)
    if intervention is None:
        return None, error_page(
            404,
            "Insatsen finns inte. Välj en insats i listan på kommentarssidan.",
            title="Okänd insats",
        )
    return intervention, None


def _report(year: int, scope: str):
    session = db.session()
    instrument = instrument_from_db(session)
    # Comments are written for the published figures, or for the preview before publishing
    # (counted by the preview's background job, never in this request).
    data = published_report(session, instrument, year=year, scope=scope)
    if data is None:
        computed, waiting = preview_computed(year, page=COMMENTS)
        if waiting is not None:
            return None, waiting
        if scope:  # an insats is commented on its published figures only
            return None, error_page(
                404,
                f"{scope} har ingen publicering för {year} att kommentera. Publicera året först.",
                title=f"Inga resultat för {year}",
            )
        data = preview_report(
            session,
            instrument,
            year=year,
            default_min_cell=current_app.config["MIN_CELL"],
            computed=computed,
        )
    if not data.has_year(year):
        years = ", ".join(str(y) for y in data.years()) or "inga"
        where = f" för {scope}" if scope else ""
        return None, error_page(
            404,
            f"Det finns inga resultat för {year}{where} att kommentera. År med resultat: {years}.",
            title=f"Inga resultat för {year}",
        )
    return data, None


QUOTED = re.compile(r"(\d{1,3})\s?%")


def quoted_figure_warnings(data: ReportData, saved: dict[int, ReportComment]) -> list[str]:
    """Comments written before a republication that quote a figure the indicator no longer has.

    A percentage in a comment ("89 %") saved before the latest version was published,
    and found nowhere among the indicator's figures of the year (nor Riket's), is named.
    """
    publication = data.publication or {}
    published_at = publication.get("published_at")
    if int(publication.get("version") or 1) < 2 or published_at is None:
        return []
    year = int(publication.get("year") or 0) or max(data.years())
    rows = data.results[data.results["year"] == year]
    nat = data.national[data.national["year"] == year] if not data.national.empty else None
    warnings = []
    for indicator, comment in sorted(saved.items()):
        if indicator == INTRODUCTION or clock.local(comment.updated_at) >= clock.local(
            published_at
        ):
            continue
        mine = rows[rows["indicator"] == indicator]
        figures = {
            int(v)
            for c in ("negative", "neutral", "positive", "clearly_positive", "response_rate")
            for v in mine[c].dropna()
        }
        if nat is not None:
            figures |= {int(v) for v in nat["positive"].dropna()}
        gone = [q for q in dict.fromkeys(QUOTED.findall(comment.text)) if int(q) not in figures]
        if gone:
            listed = ", ".join(f"{q} %" for q in gone)
            warnings.append(
                f"Kommentaren till indikator {indicator} skrevs före version "
                f"{publication.get('version')} och nämner {listed}, som inte längre finns "
                "bland indikatorns siffror. Läs den igen."
            )
    return warnings


@bp.route("/<year:year>", methods=["GET", "POST"])
@roles_required(Role.admin)
def edit(year: int):
    """Write or correct the year's introduction and per-indicator comments of one scope."""
    intervention, missing = _scope()
    if missing is not None:
        return missing
    scope = intervention.name if intervention else FORBUND
    data, missing = _report(year, scope)
    if missing is not None:
        return missing
    context = page_context(data, year=year, suggestions=True)
    fields = [INTRODUCTION, *data.instrument.indicators]
    query = select(ReportComment).where(ReportComment.year == year, ReportComment.scope == scope)
    stored = {c.indicator: c for c in db.session().exec(query)}
    saved = {i: c.text for i, c in stored.items()}
    suggestions = {s["number"]: s["suggestion"] for s in context["sections"]}
    error = None
    if request.method == "POST":
        texts = _posted(fields, suggestions)
        try:
            changed = save_comments(
                db.session(), year=year, texts=texts, user_email=current_user.email, scope=scope
            )
            if not scope:
                changed += save_standing(db.session(), user_email=current_user.email)
        except CommentError as exc:
            db.session().rollback()
            error = str(exc)
            flash(f"{error} Ingenting har sparats.", "error")
        else:
            flash(f"{changed} kommentarer sparade för {year}." if changed else "Inga ändringar.")
            return redirect(
                url_for(".edit", year=year, insats=intervention.id if intervention else None)
            )
    values: dict = {i: saved.get(i, "") for i in fields}
    standing = {key: settings.report_text(db.session(), key) for key in STANDING}
    bar_chart = settings.get(db.session(), settings.BAR_CHART_PDF) == "1"
    if error is not None:  # show what she typed, so nothing is lost
        values.update({i: request.form.get(f"text-{i}", values.get(i, "")) for i in fields})
    return render_template(
        "reports/comments.html",
        year=year,
        sections=context["sections"],
        values=values,
        saved=saved,
        max_length=MAX_LENGTH,
        scope=scope,
        selected=intervention.id if intervention else "",
        interventions=db.session().exec(select(Intervention).order_by(Intervention.name)).all(),
        warnings=quoted_figure_warnings(data, stored),
        standing=standing,
        bar_chart=bar_chart,
    ), (400 if error else 200)


STANDING = {settings.ABOUT_TEXT: "Om indikatorerna", settings.CONTACT_TEXT: "Kontaktuppgifterna"}


def save_standing(session: Session, *, user_email: str) -> int:
    """The förbund's standing texts and the bar-chart setting, from the form (audited)."""
    changed = 0
    for key, label in STANDING.items():
        if key not in request.form:
            continue
        text = clean(-1, request.form[key]) if request.form[key].strip() else ""
        if text == settings.report_text(session, key):
            continue
        if len(text) > settings.REPORT_TEXT_MAX:
            raise CommentError(f"{label} är för lång. Högst {settings.REPORT_TEXT_MAX} tecken.")
        settings.put_report_text(session, key, text, user_email=user_email)
        record(session, user_email=user_email, action="rapporttext.ändra", detail=label)
        changed += 1
    if "installningar" in request.form:
        value = "1" if request.form.get("bar_chart") else "0"
        if value != (settings.get(session, settings.BAR_CHART_PDF) or "0"):
            settings.put(session, settings.BAR_CHART_PDF, value)
            record(
                session,
                user_email=user_email,
                action="inställning.stapeldiagram",
                detail="på" if value == "1" else "av",
            )
            changed += 1
    return changed


def _posted(fields: list[int], suggestions: dict[int, str]) -> dict[int, str]:
    """The boxes as sent; a ticked "Använd förslaget" beside an empty box takes the suggestion."""
    texts = {}
    for i in fields:
        if f"text-{i}" not in request.form:
            continue
        text = request.form.get(f"text-{i}", "")
        if not text.strip() and request.form.get(f"use-{i}") and suggestions.get(i):
            text = suggestions[i]
        texts[i] = text
    return texts
