"""Every URL of the report.

/rapport                               latest published year
/rapport/<year>                        "Indikatorerna <year>" (?insats=<id>), from its publication
/rapport/<year>/forhandsgranskning     the administrator's live preview (not published)
/rapport/<year>/utskrift               printable A4 version
/rapport/<year>/rapport.csv|.xlsx|.pdf|.docx  downloads
/rapport/<year>/diagram/<n>-<kind>.<fmt>  charts (kind ar|tid, fmt svg|png; ?v=<figures> is cached)
/admin/kommentarer/<year>              the förbundschef's comments (surveys.reports.comments)
"""

from __future__ import annotations

from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlmodel import select

from surveys import db
from surveys.admin.previews import preview_computed
from surveys.errors import error_page
from surveys.models import Intervention, Role
from surveys.names import by_name
from surveys.reports.assets import DOCUMENT_MIME, one_chart
from surveys.reports.chart_html import CHART_KINDS, chart_images, chart_version, inline_charts
from surveys.reports.context import page_context
from surveys.reports.data import ReportData, preview_report, published_report
from surveys.reports.downloads import publication_scopes, render_download
from surveys.reports.printable import render_printable
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import FORBUND, Computed, published_years
from surveys.web import ONE_YEAR

bp = Blueprint("reports", __name__, url_prefix="/rapport")
MIME = {"svg": "image/svg+xml", "png": "image/png"}


def _allowed_interventions() -> list[Intervention] | None:
    """None: everything (admin, reader); else the staff member's own interventions."""
    if current_user.role in (Role.admin.value, Role.reader.value):
        return None
    session = db.session()
    found = (session.get(Intervention, i) for i in current_user.interventions)
    # by name: the first is the one a staff member's report opens with
    return by_name((i for i in found if i is not None), lambda i: i.name)


def _scope(year: int | None = None):
    """The intervention asked for, enforcing the user's scope; None = the whole förbund.

    Staff who ask for none get their first insats (by name) with published results for
    ``year``, else their first: not a page saying "no results" for an insats they did
    not choose while another of theirs has them."""
    if not current_user.can_read_reports():
        abort(403)
    session = db.session()
    allowed = _allowed_interventions()
    insats_id = request.args.get("insats") or None
    intervention = None
    if insats_id:
        intervention = session.get(Intervention, insats_id)
        if intervention is None:
            abort(404)
    if allowed is not None:
        if not allowed:
            abort(403)
        if intervention is None:
            intervention = _first_with_results(allowed, year)
        if intervention.id not in {i.id for i in allowed}:
            abort(403)
    return intervention, allowed


def _first_with_results(allowed: list[Intervention], year: int | None) -> Intervention:
    """The first of ``allowed`` in the year's latest publication, else the first."""
    published = set(publication_scopes(db.session(), year)) if year is not None else set()
    return next((i for i in allowed if i.name in published), allowed[0])


def _data(year: int, *, preview: bool = False, computed: Computed | None = None):
    """The report of a year for the requested scope: its publication, or the live preview."""
    intervention, allowed = _scope(year)
    session = db.session()
    instrument = instrument_from_db(session)
    scope = intervention.name if intervention else ""
    if preview:
        if current_user.role != Role.admin.value:
            abort(403)
        data: ReportData | None = preview_report(
            session,
            instrument,
            year=year,
            scope=scope,
            computed=computed,
        )
    else:
        data = published_report(session, instrument, year=year, scope=scope)
    return data, intervention, allowed


def _not_published(year: int):
    """A year without publication: say so, and show the administrator the way to the preview."""
    years = ", ".join(str(y) for y in published_years(db.session())) or "inga ännu"
    message = f"Resultaten för {year} är inte publicerade. Publicerade år: {years}."
    link = None
    if current_user.role == Role.admin.value:
        link = (url_for(".preview", year=year), "Förhandsgranska resultaten för " + str(year))
    return error_page(404, message, title=f"Inga publicerade resultat för {year}", link=link)


@bp.route("")
@login_required
def latest():
    """Redirect to the latest published year."""
    years = published_years(db.session())
    intervention, _ = _scope(years[-1] if years else None)
    if not years:
        return error_page(
            404,
            "Inga resultat är publicerade ännu. När förbundschefen har publicerat ett år "
            "visas rapporten här.",
            title="Ingen rapport ännu",
        )
    return redirect(
        url_for(".report", year=years[-1], insats=intervention.id if intervention else None)
    )


def _year_or_message(data, year: int, allowed: list[Intervention] | None = None):
    """None when the year's results are there; else the page saying what is missing,
    with a way to results of the year the user may read (``allowed``: see ``_scope``)."""
    if data is None:
        return _not_published(year)
    if not data.has_year(year):
        where = f" för {data.intervention}" if data.intervention else ""
        return error_page(
            404,
            f"Det finns inga publicerade resultat för {year}{where}.",
            title=f"Inga resultat för {year}",
            link=_results_elsewhere(year, data.intervention, allowed),
        )
    return None


def _results_elsewhere(
    year: int, shown: str | None, allowed: list[Intervention] | None
) -> tuple[str, str] | None:
    """(url, text) of results of ``year`` the user may read instead of ``shown``: staff's
    first other insats (by name) with results, else the whole förbund's for the others."""
    published = set(publication_scopes(db.session(), year))
    if allowed is not None:
        other = next((i for i in allowed if i.name in published and i.name != shown), None)
        if other is None:
            return None
        return url_for(".report", year=year, insats=other.id), f"Visa resultaten för {other.name}"
    if shown and FORBUND in published:
        return url_for(".report", year=year), "Visa resultaten för hela förbundet"
    return None


def _page(data, year: int, intervention, allowed):
    session = db.session()
    choices = (
        allowed
        if allowed is not None
        else by_name(session.exec(select(Intervention)).all(), lambda i: i.name)
    )
    return render_template(
        "reports/report.html",
        **page_context(data, year=year),
        years=published_years(session),
        interventions=choices,
        selected=intervention.id if intervention else "",
        can_choose_all=allowed is None,
        printable=False,
        charts=_page_charts(data, year, intervention),
    )


def _page_charts(data: ReportData, year: int, intervention) -> dict:
    """Published figures: sized, lazily loaded images; the live preview: inline SVG."""
    if data.preview:
        return inline_charts(data, year=year)
    return chart_images(data, year=year, insats=intervention.id if intervention else None)


@bp.route("/<year:year>")
@login_required
def report(year: int):
    """ "Indikatorerna <year>" as published: Resultatet i korthet, then each indicator."""
    data, intervention, allowed = _data(year)
    if (missing := _year_or_message(data, year, allowed)) is not None:
        return missing
    return _page(data, year, intervention, allowed)


@bp.route("/<year:year>/forhandsgranskning")
@login_required
def preview(year: int):
    """The administrator's live preview: the same disclosure control, marked as not published.

    Counted and drawn by a background job (``services.jobs``): while it runs the job's
    page is shown; its snapshot is then shown for a few minutes (``?omrakna=1`` recounts).
    """
    if current_user.role != Role.admin.value:
        abort(403)
    computed, waiting = preview_computed(year, again=bool(request.args.get("omrakna")))
    if waiting is not None:
        return waiting
    data, intervention, allowed = _data(year, preview=True, computed=computed)
    if not data.has_year(year):
        return error_page(
            404, f"Det finns inga svar för {year} ännu.", title=f"Inga svar för {year}"
        )
    return _page(data, year, intervention, allowed)


@bp.route("/<year:year>/utskrift")
@login_required
def printable(year: int):
    """The same report laid out for A4 printing (page break per indicator)."""
    data, intervention, _ = _data(year)
    if (missing := _year_or_message(data, year)) is not None:
        return missing
    return render_printable(data, year=year, selected=intervention.id if intervention else "")


@bp.route("/<year:year>/rapport.<fmt>")
@login_required
def download(year: int, fmt: str):
    """The report as CSV (DESIGN.md columns), XLSX workbook, PDF or Word document."""
    if fmt not in DOCUMENT_MIME:
        abort(404)
    data, intervention, _ = _data(year)
    if (missing := _year_or_message(data, year)) is not None:
        return missing
    suffix = f"-{intervention.name}" if intervention else ""
    name = f"indikatorerna-{year}{suffix}.{fmt}"
    body = render_download(data, year=year, fmt=fmt)
    return Response(
        body,
        mimetype=DOCUMENT_MIME[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"},
    )


@bp.route("/<year:year>/diagram/<int:indicator>-<kind>.<fmt>")
@login_required
def chart_image(year: int, indicator: int, kind: str, fmt: str):
    """One chart as SVG or PNG (suppressed figures are never in it)."""
    if kind not in CHART_KINDS or fmt not in MIME:
        abort(404)
    data, _, _ = _data(year)
    if data is None or indicator not in data.instrument.indicators:
        abort(404)
    body = one_chart(data, year=year, indicator=indicator, kind=kind, fmt=fmt)
    if not body:
        abort(404)
    response = Response(body, mimetype=MIME[fmt])
    if request.args.get("ladda-ner"):
        response.headers["Content-Disposition"] = (
            f"attachment; filename=indikator-{indicator}-{kind}-{year}.{fmt}"
        )
    elif request.args.get("v") == chart_version(data):
        # The URL names the published figures: it shows the same image for as long as they
        # stay published (a new publication gives the page a new URL). Kept by this
        # browser only (private), never by a shared cache; any other URL is not kept.
        response.cache_control.private = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    return response


def _quote(name: str) -> str:

    return quote(name)
