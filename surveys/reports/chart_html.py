"""Charts as HTML: inline SVG (print, standalone file, preview) or a sized ``<img>`` (page).

The chart bodies come from ``assets.charts`` (drawn once per set of frozen figures).
"""

from __future__ import annotations

import hashlib
import re

from flask import url_for
from markupsafe import Markup

from surveys.reports.assets import charts
from surveys.reports.data import ReportData

CHART_KINDS = {"ar": "Resultat", "tid": "Förbundets utveckling över tid"}


def inline_charts(data: ReportData, *, year: int) -> dict[tuple[int, str], Markup]:
    """Every chart as inline SVG markup: the printable page, the standalone HTML file and
    the live preview (whose figures the chart URLs, read from publications, do not serve)."""

    return {
        key: _inline_svg(body, *key)
        for key, body in charts(data, year=year, fmt="svg").items()
        if body
    }


def _inline_svg(body: bytes, number: int, kind: str) -> Markup:
    label = f"Diagram: {CHART_KINDS[kind]}, indikator {number}"
    svg = body.decode("utf-8").replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    return Markup(svg)  # noqa: S704 - our own rendered SVG, no user text


SVG_SIZE = re.compile(rb'<svg\b[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"')


def svg_size(body: bytes) -> tuple[int, int] | None:
    """The width and height (CSS pixels) a rendered chart declares on its <svg> element."""
    found = SVG_SIZE.search(body[:2000])
    if found is None:
        return None
    return round(float(found.group(1))), round(float(found.group(2)))


def chart_version(data: ReportData) -> str:
    """A short tag of the frozen figures: the ``v`` of a chart URL, new with every publication."""
    return hashlib.sha256(data.cache_key.encode("utf-8")).hexdigest()[:16]


def chart_images(
    data: ReportData, *, year: int, insats: str | None = None
) -> dict[tuple[int, str], Markup]:
    """Every chart as a sized, lazily loaded ``<img>`` of its SVG URL (the web page).

    The URL carries ``v`` (see ``chart_version``), so the browser may keep the image for as
    long as those figures are published; width and height reserve its place (no layout shift).
    The printable page, the standalone HTML file and the live preview use ``inline_charts``.
    """

    version = chart_version(data)
    out = {}
    for (number, kind), body in charts(data, year=year, fmt="svg").items():
        if not body:
            continue
        size = svg_size(body)
        if size is None:  # cannot reserve its place: drawn inline instead (never seen so far)
            out[(number, kind)] = _inline_svg(body, number, kind)
            continue
        src = url_for(
            "reports.chart_image",
            year=year,
            indicator=number,
            kind=kind,
            fmt="svg",
            insats=insats or None,
            v=version,
        )
        alt = f"Diagram: {CHART_KINDS[kind]}, indikator {number}. Samma siffror finns i tabellen."
        out[(number, kind)] = Markup(
            '<img src="{}" width="{}" height="{}" loading="lazy" decoding="async" alt="{}">'
        ).format(src, *size, alt)
    return out
