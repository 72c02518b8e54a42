"""Every download of a report (CSV, Excel, PDF, Word), built once per figures and words.

``render_download`` serves the web's downloads and ``surveys report``; ``prepare_year``
runs after a publication (in the publishing job, or ``surveys publish --diagram``) so
that readers' requests only read what was built off the participants' workers.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from surveys.models import PublicationRow
from surveys.names import sort_key
from surveys.reports.assets import document, prerender
from surveys.reports.csv_export import report_csv
from surveys.reports.data import ReportData, published_report
from surveys.reports.excel import report_xlsx
from surveys.reports.pdf import report_pdf
from surveys.reports.word import report_docx
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import FORBUND, latest

BUILDERS = {"csv": report_csv, "xlsx": report_xlsx, "pdf": report_pdf, "docx": report_docx}


def render_download(data: ReportData, *, year: int, fmt: str) -> bytes:
    """One download's bytes, kept per figures and words (see assets.document)."""
    build = BUILDERS[fmt]
    return document(data, year=year, fmt=fmt, build=lambda: build(data, year=year))


def prepare_year(session: Session, *, year: int) -> tuple[int, int]:
    """Draw the charts of a published year and build its downloads now, for the förbund
    and every insats in the publication: the first PDF or Word file of any scope is then
    read, not built (in the publishing job, off the participants' workers).

    Returns (charts, files).
    """
    instrument = instrument_from_db(session)
    drawn = files = 0
    for scope in publication_scopes(session, year):
        data = published_report(session, instrument, year=year, scope=scope)
        if data is None or not data.has_year(year):
            continue
        drawn += prerender(data, year=year)
        for fmt in BUILDERS:
            render_download(data, year=year, fmt=fmt)
            files += 1
    return drawn, files


def publication_scopes(session: Session, year: int) -> list[str]:
    """The förbund ("") and every insats with rows in the year's latest publication."""
    publication = latest(session, year)
    if publication is None:
        return []
    query = (
        select(col(PublicationRow.scope))
        .where(col(PublicationRow.publication_id) == publication.id)
        .distinct()
    )
    scopes = {str(s) for s in session.execute(query).scalars()}
    return [FORBUND, *sorted(scopes - {FORBUND}, key=sort_key)]
