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

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlmodel import select

from surveys import clock, db
from surveys.admin.previews import COMMENTS, preview_computed
from surveys.auth import roles_required, web_actor
from surveys.errors import error_page
from surveys.models import Intervention, ReportComment, Role
from surveys.reports.context import page_context
from surveys.reports.data import FORBUND, ReportData, preview_report, published_report
from surveys.services import comments, settings
from surveys.services.catalogue import instrument_from_db
from surveys.services.comments import INTRODUCTION, MAX_LENGTH

bp = Blueprint("comments", __name__, url_prefix="/admin/kommentarer")


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
            changed = comments.save_comments(
                db.session(), web_actor(), year=year, texts=texts, scope=scope
            )
            if not scope:
                standing_texts, bar_chart = _standing_posted()
                changed += comments.save_standing(
                    db.session(), web_actor(), texts=standing_texts, bar_chart=bar_chart
                )
        except comments.CommentError as exc:
            db.session().rollback()
            error = str(exc)
            flash(f"{error} Ingenting har sparats.", "error")
        else:
            told = "1 kommentar sparad" if changed == 1 else f"{changed} kommentarer sparade"
            flash(f"{told} för {year}." if changed else "Inga ändringar.")
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


STANDING = comments.STANDING


def _standing_posted() -> tuple[dict[str, str], bool | None]:
    """The standing texts sent with the form, and the bar-chart box (None: not sent)."""
    texts = {key: request.form[key] for key in STANDING if key in request.form}
    bar_chart = bool(request.form.get("bar_chart")) if "installningar" in request.form else None
    return texts, bar_chart


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
