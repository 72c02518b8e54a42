"""Every download of a report (CSV, Excel, PDF, Word), built once per figures and words.

``render_download`` serves the web's downloads and ``surveys report``; ``prepare_year``
runs after a publication (in the publishing job, or ``surveys publish --diagram``) so
that readers' requests only read what was built off the participants' workers.
"""

from __future__ import annotations

from sqlmodel import Session

from surveys.reports.assets import document, prerender
from surveys.reports.build import report_csv, report_xlsx
from surveys.reports.data import ReportData, published_report
from surveys.reports.pdf import report_pdf
from surveys.reports.word import report_docx
from surveys.services.catalogue import instrument_from_db

BUILDERS = {"csv": report_csv, "xlsx": report_xlsx, "pdf": report_pdf, "docx": report_docx}


def render_download(data: ReportData, *, year: int, fmt: str) -> bytes:
    """One download's bytes, kept per figures and words (see assets.document)."""
    build = BUILDERS[fmt]
    return document(data, year=year, fmt=fmt, build=lambda: build(data, year=year))


def prepare_year(session: Session, *, year: int) -> tuple[int, int]:
    """Draw the förbund's charts of a published year and build its downloads now.

    Returns (charts, files). Insatser are drawn and built when first asked for.
    """
    data = published_report(session, instrument_from_db(session), year=year)
    if data is None:
        return 0, 0
    drawn = prerender(data, year=year)
    for fmt in BUILDERS:
        render_download(data, year=year, fmt=fmt)
    return drawn, len(BUILDERS)
