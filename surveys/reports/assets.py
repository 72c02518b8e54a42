"""Charts rendered once per set of frozen figures and reused by the page, PDF and Word.

A chart is identified by ``ReportData.cache_key`` (the publication and scope;
for the live preview a hash of the figures) and its name, e.g.
``2023-6-tid.svg``. Rendering one takes 0.2–0.6 s, so every chart is rendered
at most once: it is kept in the ``report_asset`` table (shared by all
workers) and in a small in-process LRU in front of it. "No chart" (nothing
visible) is stored as an empty body so it is not recomputed either.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from flask import has_app_context
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from indicators.charts import current_year_chart, png_from_svg, render, trend_chart
from surveys import db
from surveys.models import ReportAsset
from surveys.reports.data import ReportData, preview_report
from surveys.services.catalogue import instrument_from_db

LIVE_PREFIX = "live-"  # cache keys of live (unpublished) figures, see reporting.content_key
KINDS = ("tid", "ar")  # trend chart first, as in the seed
MIME = {"svg": "image/svg+xml", "png": "image/png"}
DOCUMENT_MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_MEMORY: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_MEMORY_BYTES = 24 * 1024 * 1024  # per worker: the SVGs of several reports; PNGs mostly from the DB
_memory_used = 0
_LOCK = threading.Lock()


def asset_name(year: int, indicator: int, kind: str, fmt: str) -> str:
    return f"{year}-{indicator}-{kind}.{fmt}"


def charts(data: ReportData, *, year: int, fmt: str) -> dict[tuple[int, str], bytes]:
    """Every chart of a year's report: (indicator, kind) -> bytes (b"" when there is none)."""
    return charts_in(data, year=year, fmts=(fmt,))[fmt]


def charts_in(
    data: ReportData,
    *,
    year: int,
    fmts: tuple[str, ...],
    pairs: list[tuple[int, str]] | None = None,
) -> dict[str, dict[tuple[int, str], bytes]]:
    """``charts`` in several formats at once: format -> (indicator, kind) -> bytes, for
    ``pairs`` (indicator, kind) or every chart of the report. Each is looked for in this
    process's memory, then in the database, and drawn (and stored) only when missing.

    A chart missing in more than one format is built and laid out once: its PNG is its
    SVG rasterised (pixel for pixel what Vega-Lite's own PNG gives, in a third of the time).
    """
    if pairs is None:
        pairs = [(number, kind) for number in data.instrument.indicators for kind in KINDS]
    wanted = {(pair, fmt): asset_name(year, *pair, fmt) for pair in pairs for fmt in fmts}
    found = _from_memory(data.cache_key, wanted.values())
    missing = [name for name in wanted.values() if name not in found]
    if missing and data.cache_key and has_app_context():
        stored = _from_database(data.cache_key, missing)
        found.update(stored)
        _remember(data.cache_key, stored)
    fresh: dict[str, dict[str, bytes]] = {fmt: {} for fmt in fmts}
    for number, kind in pairs:
        lacking = tuple(fmt for fmt in fmts if wanted[(number, kind), fmt] not in found)
        if lacking:
            drawn = _render(data, year=year, indicator=number, kind=kind, fmts=lacking)
            for fmt, body in drawn.items():
                fresh[fmt][wanted[(number, kind), fmt]] = body
    for fmt, bodies in fresh.items():
        if bodies and data.cache_key:
            _store(data.cache_key, bodies, fmt)
            _remember(data.cache_key, bodies)
        found.update(bodies)
    return {fmt: {pair: found[wanted[pair, fmt]] for pair in pairs} for fmt in fmts}


def one_chart(data: ReportData, *, year: int, indicator: int, kind: str, fmt: str) -> bytes:
    """One chart (b"" when nothing can be shown), through the same cache."""
    pair = (indicator, kind)
    return charts_in(data, year=year, fmts=(fmt,), pairs=[pair])[fmt][pair]


def document(data: ReportData, *, year: int, fmt: str, build: Callable[[], bytes]) -> bytes:
    """A whole download (CSV, Excel, PDF or Word), built once per figures *and* words.

    The key adds to ``cache_key`` everything else the file shows: the year's
    comments, the förbund's name, the preview mark and the publication note,
    so an edited comment gives a new file at once.
    """
    if not data.cache_key or not has_app_context():
        return build()
    words = repr(
        (
            sorted(data.comments.get(year, {}).items()),
            data.forbund_name,
            data.preview,
            sorted((data.publication or {}).items()),
            data.intervention,
            data.min_cell,
            sorted(data.texts.items()),
            sorted(data.options.items()),
        )
    )
    digest = hashlib.sha256(words.encode("utf-8")).hexdigest()[:24]
    name = f"{year}-rapport-{digest}.{fmt}"
    found = _from_memory(data.cache_key, [name]) or _from_database(data.cache_key, [name])
    if name in found:
        return found[name]
    body = build()
    _store(data.cache_key, {name: body}, fmt)
    return body


def prerender(data: ReportData, *, year: int) -> int:
    """Render (or find) every chart of a year in SVG and PNG; returns how many exist.

    Meant to be called right after a publication is stored, so that the first
    page view, PDF and Word file are as fast as every later one.
    """
    drawn = charts_in(data, year=year, fmts=tuple(MIME))
    return sum(1 for bodies in drawn.values() for body in bodies.values() if body)


def prerender_preview(session, *, year: int, computed) -> int:
    """Draw the förbund's preview charts of a preview job's snapshot (in the job's process)."""
    data = preview_report(
        session,
        instrument_from_db(session),
        year=year,
        computed=computed,
    )
    return sum(1 for body in charts(data, year=year, fmt="svg").values() if body)


def _render(
    data: ReportData, *, year: int, indicator: int, kind: str, fmts: tuple[str, ...]
) -> dict[str, bytes]:
    """One chart in the formats asked for (b"" each when nothing can be shown), built and
    turned into a specification once."""
    chart_obj = chart(data, year=year, indicator=indicator, kind=kind)
    if chart_obj is None:
        return dict.fromkeys(fmts, b"")
    # not checked against the Vega-Lite schema again (a third of a chart's time): the
    # charts are made by indicators.charts alone, and its tests check every kind whole
    spec_json = chart_obj.to_json(validate=False)
    return {fmt: _render_spec(spec_json, fmt) for fmt in fmts}


def chart(data: ReportData, *, year: int, indicator: int, kind: str):
    """The Altair chart for an indicator (None when nothing can be shown)."""
    if kind == "ar":
        return current_year_chart(data.results, data.instrument, indicator=indicator, year=year)
    results = data.results[data.results["year"] <= year]
    national = (
        data.national[data.national["year"] <= year] if not data.national.empty else data.national
    )
    group = data.group[data.group["year"] <= year] if not data.group.empty else None
    return trend_chart(results, national, data.instrument, indicator=indicator, group=group)


@functools.lru_cache(maxsize=256)
def _render_spec(spec_json: str, fmt: str) -> bytes:
    if fmt == "png":  # from the SVG (cached here too): the layout is computed once
        return png_from_svg(_render_spec(spec_json, "svg"))
    return render(spec_json, fmt)


def _from_memory(key: str, names) -> dict[str, bytes]:
    if not key:
        return {}
    with _LOCK:
        out = {}
        for name in names:
            body = _MEMORY.get((key, name))
            if body is not None:
                _MEMORY.move_to_end((key, name))
                out[name] = body
        return out


def _remember(key: str, bodies: dict[str, bytes]) -> None:
    global _memory_used
    with _LOCK:
        for name, body in bodies.items():
            old = _MEMORY.pop((key, name), None)
            _memory_used += len(body) - (len(old) if old is not None else 0)
            _MEMORY[(key, name)] = body
        while _memory_used > _MEMORY_BYTES and _MEMORY:
            _memory_used -= len(_MEMORY.popitem(last=False)[1])


def _from_database(key: str, names: list[str]) -> dict[str, bytes]:
    query = select(col(ReportAsset.name), col(ReportAsset.body)).where(
        col(ReportAsset.cache_key) == key, col(ReportAsset.name).in_(names)
    )
    with db.own_transaction() as session:
        return {name: bytes(body) for name, body in session.execute(query).all()}


def _store(key: str, bodies: dict[str, bytes], fmt: str) -> None:
    """Keep rendered charts; another worker storing the same ones first is fine."""
    if not has_app_context():
        return
    try:
        # the writer lock: tablets' submissions wait their turn instead of sleep-polling
        with db.writer_lock(db.engine()), db.own_transaction() as session:
            if key.startswith(LIVE_PREFIX):
                # Live figures change with every answer: keep only the newest live set, so
                # previews do not pile up (published figures keep theirs for good).
                session.execute(
                    delete(ReportAsset).where(
                        col(ReportAsset.cache_key).startswith(LIVE_PREFIX),
                        col(ReportAsset.cache_key) != key,
                    )
                )
            present = set(
                session.execute(
                    select(col(ReportAsset.name)).where(
                        col(ReportAsset.cache_key) == key, col(ReportAsset.name).in_(list(bodies))
                    )
                ).scalars()
            )
            for name, body in bodies.items():
                if name not in present:
                    mime = MIME.get(fmt) or DOCUMENT_MIME[fmt]
                    session.add(ReportAsset(cache_key=key, name=name, content_type=mime, body=body))
    except SQLAlchemyError:
        # A concurrent worker inserted the same charts (same key, same bytes): nothing lost.
        pass


def clear_memory() -> None:
    """Forget the in-process copies of the charts' bodies (tests; the database table
    stays). The renderings of specifications (``_render_spec``) are kept: a rendering is
    a function of its specification alone, and a chart a test replaces is replaced in
    the table and in these copies, never there."""
    global _memory_used
    with _LOCK:
        _MEMORY.clear()
        _memory_used = 0
