"""The printable report (A4) as HTML: the print page and the standalone HTML file."""

from __future__ import annotations

from flask import render_template

from surveys import paths
from surveys.reports.chart_html import inline_charts
from surveys.reports.context import page_context
from surveys.reports.data import ReportData


def render_printable(
    data: ReportData,
    *,
    year: int,
    selected: str = "",
    standalone: bool = False,
    with_charts: bool = True,
) -> str:
    """The printable report (A4), charts inline. ``standalone``: the CSS inside the file too.

    ``with_charts=False`` leaves the charts out (property tests check their data directly).
    """

    extra = {}
    if standalone:
        extra["inline_css"] = (paths.STATIC / "css" / "app.css").read_text("utf-8")
    return render_template(
        "reports/report.html",
        **page_context(data, year=year),
        years=[],
        interventions=[],
        selected=selected,
        can_choose_all=False,
        printable=True,
        charts=inline_charts(data, year=year) if with_charts else {},
        **extra,
    )
