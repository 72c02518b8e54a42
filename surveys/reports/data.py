"""What a report shows, read from publications (or, for the administrator, a live preview).

Nothing here scores answers at request time for readers and staff (DESIGN.md
principle 3): the year asked for, and every earlier year of its trend charts,
come from their latest publication; years before the system was used come from
the imported history figures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from flask import has_app_context
from sqlalchemy import select
from sqlmodel import Session, col

from indicators import RESULT_COLUMNS, Instrument
from indicators.disclosure import suppression_kind
from indicators.report import HISTORY_COLUMNS, NATIONAL_COLUMNS, combine, history_results
from indicators.scoring import order_results
from indicators.text import xml_text
from surveys.db import keep, kept
from surveys.files.history import history_rows, national_rows
from surveys.models import (
    Intervention,
    Publication,
    PublicationGroup,
    PublicationHistory,
    PublicationNational,
    PublicationRow,
    ReportComment,
    table_of,
)
from surveys.services import publications, settings

COMPUTED = "beräknad"
FORBUND = publications.FORBUND
RIKET_COLUMNS = [*NATIONAL_COLUMNS, "n"]  # Riket's (or a comparison group's) figures
NATIONAL_FRAME = [*RIKET_COLUMNS, "comparison_group"]  # both, as imported or frozen


@dataclass
class ReportData:
    """Result rows (published + imported), Riket's figures and what the pages say about them."""

    instrument: Instrument
    results: pd.DataFrame  # RESULT_COLUMNS + source (+ reason)
    national: pd.DataFrame  # NATIONAL_COLUMNS + n: Riket
    min_cell: int
    intervention: str | None  # the insats shown, None for the whole förbund
    year_counts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["year", "questionnaire", "n"])
    )  # questionnaires per respondent group and year
    forbund_name: str | None = None  # the administrator's setting
    preview: bool = False  # True: live figures, not published
    publication: dict | None = None  # version, published_at, method_note (never who)
    waiting_note: str = ""  # a preview: new questionnaires not counted in yet, and why
    cache_key: str = ""  # identifies the frozen figures (charts are cached by it)
    comments: dict[int, dict[int, str]] = field(default_factory=dict)  # year -> indicator -> text
    texts: dict[str, str] = field(default_factory=dict)  # standing texts: about, contact
    options: dict[str, bool] = field(default_factory=dict)  # report settings (bar chart in PDF)
    # the förbund's comparison group in NNS's Riket file (NATIONAL_COLUMNS + n) and its name
    group: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RIKET_COLUMNS))
    group_name: str = ""
    # Riket's and the group's figures by row key, built once by riket.lookups (not an input)
    riket_lookups: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.results = with_reasons(self.results)

    def years(self) -> list[int]:
        if self.results.empty:
            return []
        return sorted({int(y) for y in self.results["year"]})

    def has_year(self, year: int) -> bool:
        return not self.results.empty and bool((self.results["year"] == year).any())


def report_comments(db: Session, scope: str = publications.FORBUND) -> dict[int, dict[int, str]]:
    """The förbundschef's texts of one scope: year -> indicator (0 = introduction) -> text.

    The förbund and every insats have their own: an insats's report never shows the
    förbund's comments (they quote other figures)."""
    out: dict[int, dict[int, str]] = {}
    query = select(ReportComment).where(col(ReportComment.scope) == scope)
    for row in db.execute(query).scalars():
        if row.text.strip():
            # a text saved before comments refused what XML cannot hold: left out, so it
            # cannot make the report's Excel or Word file fail (indicators/text.py)
            out.setdefault(row.year, {})[row.indicator] = xml_text(row.text)
    return out


def report_texts(db: Session) -> dict[str, str]:
    """The standing texts of every report: "Om indikatorerna" and the contact details."""
    return {
        key: xml_text(settings.report_text(db, key))  # as report_comments
        for key in (settings.ABOUT_TEXT, settings.CONTACT_TEXT)
    }


def report_options(db: Session) -> dict[str, bool]:
    """The report settings: whether the PDF and Word file also draw the year's bar chart."""
    return {settings.BAR_CHART_PDF: settings.get(db, settings.BAR_CHART_PDF) == "1"}


def content_key(
    results: pd.DataFrame, national: pd.DataFrame, version: str, cell: int, *, prefix: str = "live-"
) -> str:
    """A hash of everything a chart is drawn from: the key rendered charts are kept under.

    Published reports use it too: a year's trend chart also shows earlier years'
    publications and imported history, which may change after the year is published.
    """
    digest = hashlib.sha256(f"{version}|{cell}|".encode())
    for frame in (results, national):
        # rows in a fixed order: a database returns them in whatever order it likes
        text = frame.astype(str)
        text = text.sort_values(list(text.columns), kind="stable") if len(text) else text
        digest.update(pd.util.hash_pandas_object(text, index=False).values.tobytes())
    return prefix + digest.hexdigest()[:40]


def latest_publications(db: Session, *, up_to: int | None = None) -> dict[int, Publication]:
    """The newest publication of every year (up to a year)."""
    query = select(Publication)
    if up_to is not None:
        query = query.where(col(Publication.year) <= up_to)
    newest: dict[int, Publication] = {}
    for pub in db.execute(query).scalars():
        if pub.year not in newest or pub.version > newest[pub.year].version:
            newest[pub.year] = pub
    return newest


def _published_rows(db: Session, pubs: list[Publication], scope: str) -> pd.DataFrame:
    """A scope's rows of the given publications as a result table."""
    if not pubs:
        return pd.DataFrame(columns=[*RESULT_COLUMNS, *EXTRA_COLUMNS])
    year_of = {p.id: p.year for p in pubs}
    table = table_of(PublicationRow)
    rows = (
        db.execute(
            select(table).where(table.c.publication_id.in_(list(year_of)), table.c.scope == scope)
        )
        .mappings()
        .all()
    )
    frame = pd.DataFrame(rows, columns=[c.name for c in table.columns])
    frame["year"] = frame["publication_id"].map(year_of)
    frame["question"] = frame["question"].where(frame["question"] != publications.POOLED)
    return _typed(frame)


LEFT_OUT_COLUMNS = ["left_out", "left_out_gender", "left_out_insats"]
EXTRA_COLUMNS = ["reason", "hidden", *LEFT_OUT_COLUMNS]


def with_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """Result rows with ``hidden`` and the left-out counts (added where missing)."""
    if "hidden" in frame and all(c in frame for c in LEFT_OUT_COLUMNS):
        return frame
    frame = frame.copy()
    reasons = frame["reason"] if "reason" in frame else pd.Series("", index=frame.index)
    frame["hidden"] = [
        suppression_kind(s, r) for s, r in zip(frame["suppressed"], reasons, strict=True)
    ]
    for column in LEFT_OUT_COLUMNS:
        if column not in frame:
            frame[column] = 0
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Result rows with the report's column types (integers that may be empty).

    Adds ``hidden`` (see ``indicators.disclosure.suppression_kind``) and the left-out
    counts (0 where a publication made before they existed has none)."""
    frame = frame.copy()
    if "reason" not in frame:
        frame["reason"] = ""
    frame["reason"] = frame["reason"].fillna("").astype(str)
    frame["hidden"] = [
        suppression_kind(s, r) for s, r in zip(frame["suppressed"], frame["reason"], strict=True)
    ]
    for column in LEFT_OUT_COLUMNS:
        values = frame[column] if column in frame else pd.Series(0, index=frame.index)
        frame[column] = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64")
    frame = frame[[*RESULT_COLUMNS, *EXTRA_COLUMNS]]
    frame["year"] = frame["year"].astype("int64")
    frame["indicator"] = frame["indicator"].astype("int64")
    frame["question"] = frame["question"].astype("Int64")
    for column in publications.FIGURE_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    frame["suppressed"] = frame["hidden"] != ""
    return frame


def _year_counts(db: Session, pubs: list[Publication], scope: str) -> pd.DataFrame:
    if not pubs:
        return pd.DataFrame(columns=["year", "questionnaire", "n"])
    year_of = {p.id: p.year for p in pubs}
    rows = db.execute(
        select(
            col(PublicationGroup.publication_id),
            col(PublicationGroup.questionnaire),
            col(PublicationGroup.count),
        ).where(
            col(PublicationGroup.publication_id).in_(list(year_of)),
            col(PublicationGroup.scope) == scope,
        )
    ).all()
    return pd.DataFrame(
        [(year_of[p], q, n) for p, q, n in rows], columns=["year", "questionnaire", "n"]
    )


def _national(db: Session, publication: Publication | None) -> pd.DataFrame:
    """Riket's figures and the förbund's comparison group's (NATIONAL_FRAME): as the
    publication froze them, or (None) as imported now for the group set now."""
    if publication is None:
        group = settings.comparison_group(db)
        now = [r for r in national_rows(db) if r["comparison_group"] in ("", group)]
        return pd.DataFrame(now, columns=NATIONAL_FRAME)
    rows = db.execute(
        select(*(getattr(PublicationNational, c) for c in NATIONAL_FRAME)).where(
            col(PublicationNational.publication_id) == publication.id
        )
    ).all()
    return pd.DataFrame(rows, columns=NATIONAL_FRAME)


def split_national(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(Riket, the comparison group, the group's name) from a NATIONAL_FRAME."""
    riket = frame[frame["comparison_group"] == ""][RIKET_COLUMNS].reset_index(drop=True)
    others = frame[frame["comparison_group"] != ""]
    names = sorted({str(g) for g in others["comparison_group"]})
    name = names[0] if names else ""  # a publication freezes one group at most
    group = others[others["comparison_group"] == name][RIKET_COLUMNS].reset_index(drop=True)
    return riket, group, name


def frozen_history(db: Session, publication: Publication | None) -> list[dict]:
    """The imported history as the publication stored it (None: as it stands now)."""
    if publication is None:
        return history_rows(db)
    rows = db.execute(
        select(*(getattr(PublicationHistory, c) for c in HISTORY_COLUMNS)).where(
            col(PublicationHistory.publication_id) == publication.id
        )
    ).all()
    return [dict(zip(HISTORY_COLUMNS, row, strict=True)) for row in rows]


def frozen_changes(db: Session, publication: Publication) -> dict[str, int]:
    """How many Riket and history rows a republication of the year would change."""

    def keyed(rows: list[dict], value: list[str]) -> dict[tuple, tuple]:
        key = ["year", "questionnaire", "question", "subgroup", "comparison_group"]
        return {tuple(r.get(k, "") for k in key): tuple(_plain(r[v]) for v in value) for r in rows}

    group = settings.comparison_group(db)
    now_national = [
        r
        for r in national_rows(db)
        if r["year"] <= publication.year and r["comparison_group"] in ("", group)
    ]
    then_national = _national(db, publication).to_dict("records")
    now_history = [r for r in history_rows(db) if r["year"] <= publication.year]
    then_history = frozen_history(db, publication)
    return {
        "national": _count_differences(
            keyed(then_national, ["positive", "n"]), keyed(now_national, ["positive", "n"])
        ),
        "history": _count_differences(
            keyed(then_history, HISTORY_COLUMNS[4:]), keyed(now_history, HISTORY_COLUMNS[4:])
        ),
    }


def _plain(value: object) -> object:
    """A figure as compared: NaN/None alike, 91.0 as 91 (frames and rows differ in type)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _count_differences(before: dict, after: dict) -> int:
    return sum(1 for k in set(before) | set(after) if before.get(k) != after.get(k))


def _with_history(
    db: Session,
    instrument: Instrument,
    results: pd.DataFrame,
    *,
    scope: str,
    cell: int,
    publication: Publication | None = None,
) -> pd.DataFrame:
    """Add imported history for years without results (the förbund's own report only):
    as the publication stored it, or as it stands now for the live preview."""
    results = results.assign(source=COMPUTED)
    history = pd.DataFrame(frozen_history(db, publication), columns=HISTORY_COLUMNS)
    if scope != publications.FORBUND or history.empty:
        # instrument order everywhere (a database returns rows in any order it likes)
        return order_results(results, instrument) if len(results) else results
    both = combine(results, history_results(history, instrument, min_cell=cell), instrument)
    # imported rows: hidden for their own size (primary) or for their twin's (R1,
    # complementary), as protect_history decided; they leave nothing out
    imported = both["hidden"].isna()
    both.loc[imported, "hidden"] = both.loc[imported, "suppressed"].map(suppression_kind)
    both["reason"] = both["reason"].fillna("")
    for column in LEFT_OUT_COLUMNS:
        both[column] = both[column].fillna(0).astype("int64")
    return both


def _describe(publication: Publication) -> dict:
    return {
        "id": publication.id,
        "year": publication.year,
        "version": publication.version,
        "published_at": publication.published_at,  # who published is in the audit log only
        "method_note": publication.method_note,
        "min_cell": publication.min_cell,
        "protect_other": publication.protect_other,
        "instrument_version": publication.instrument_version,
    }


def published_report(
    db: Session, instrument: Instrument, *, year: int, scope: str = publications.FORBUND
) -> ReportData | None:
    """The report of a published year for one scope; None when the year is not published.

    A year from before the system, known only from figures typed in from an old
    annual report (published there), is shown from those figures.

    The figures of a published year are frozen by its publications, so a worker keeps
    them (``_frozen_figures``): a reader's page, download or chart then reads a few
    rows instead of rebuilding the tables (bench.participants). The words (comments,
    texts, the förbund's name, options) are read on every request.
    """
    newest = latest_publications(db, up_to=year)
    current = newest.get(year)
    pubs = list(newest.values())
    key = _frozen_key(db, pubs, current, scope, instrument)
    figures = _frozen_figures(key)
    if figures is None:
        figures = _figures(db, instrument, pubs, current, year=year, scope=scope)
        if figures is None:
            return None
        _keep_frozen(key, figures)
    return ReportData(
        instrument=instrument,
        intervention=scope or None,
        forbund_name=settings.forbund_name_if_set(db),
        publication=_describe(current) if current else None,
        comments=report_comments(db, scope),
        texts=report_texts(db),
        options=report_options(db),
        **figures,
    )


def _figures(
    db: Session,
    instrument: Instrument,
    pubs: list[Publication],
    current: Publication | None,
    *,
    year: int,
    scope: str,
) -> dict | None:
    """A published report's tables (ReportData's fields that publications freeze)."""
    results = _published_rows(db, pubs, scope)
    cell = current.min_cell if current else settings.threshold(db)
    results = _with_history(db, instrument, results, scope=scope, cell=cell, publication=current)
    if current is None and not _history_only_year(results, year):
        return None
    frame = _national(db, current)
    national, group, group_name = split_national(frame)
    return {
        "results": with_reasons(results),
        "national": national,
        "group": group,
        "group_name": group_name,
        "min_cell": cell,
        "year_counts": _year_counts(db, pubs, scope),
        "cache_key": content_key(results, frame, instrument.version, cell, prefix="pub-"),
    }


FROZEN_KEPT = 16  # a worker keeps the figures of this many (year, scope) reports


def _frozen_key(
    db: Session,
    pubs: list[Publication],
    current: Publication | None,
    scope: str,
    instrument: Instrument,
) -> tuple | None:
    """What a published report's figures are a function of, or None (not kept).

    Publications are never changed once made, except that an insats's rows follow its
    rename: the key therefore names the insats by id *and* name (a new insats given a
    renamed one's old name is another key). A year known only from imported history
    (no publication of its own) is read as the history stands now: not kept."""
    if current is None or not has_app_context():
        return None
    insats = ""
    if scope != FORBUND:
        found = db.execute(select(col(Intervention.id)).where(col(Intervention.name) == scope))
        insats = found.scalar() or ""
    return (tuple(sorted(p.id for p in pubs)), scope, insats, instrument.version)


def _frozen_figures(key: tuple | None) -> dict | None:
    """The kept figures (copies: a caller may change its frames), or None."""
    found = kept("published_figures", key) if key is not None else None
    return _copied(found) if found is not None else None


def _keep_frozen(key: tuple | None, figures: dict) -> None:
    if key is not None:
        keep("published_figures", key, _copied(figures), most=FROZEN_KEPT)


def _copied(figures: dict) -> dict:
    """The figures with their frames copied (the kept ones are never handed out)."""
    return {k: v.copy() if isinstance(v, pd.DataFrame) else v for k, v in figures.items()}


def _history_only_year(results: pd.DataFrame, year: int) -> bool:
    rows = results[results["year"] == year]
    return not rows.empty and bool((rows["source"] != COMPUTED).all())


def preview_report(
    db: Session,
    instrument: Instrument,
    *,
    year: int,
    scope: str = publications.FORBUND,
    computed: publications.Computed | None = None,
) -> ReportData:
    """The administrator's live preview of a year: same disclosure control, not stored.

    ``computed``: the year already counted (a preview job's snapshot, every scope)."""
    cell = computed.min_cell if computed is not None else settings.threshold(db)
    newest = latest_publications(db, up_to=year - 1)
    pubs = list(newest.values())
    if computed is None:
        computed = publications.compute(
            db, instrument, year=year, min_cell=cell, previous=publications.latest(db, year)
        )
    live = computed.rows[computed.rows["scope"] == scope].rename(columns={"suppression": "reason"})
    earlier = _published_rows(db, pubs, scope)
    parts = [part for part in (earlier, _typed(live)) if not part.empty]
    results = _typed(pd.concat(parts, ignore_index=True)) if parts else _typed(live)
    results = _with_history(db, instrument, results, scope=scope, cell=cell)
    groups = computed.groups[computed.groups["scope"] == scope]
    year_counts = pd.concat(
        [
            _year_counts(db, pubs, scope),
            pd.DataFrame(
                {"year": year, "questionnaire": groups["questionnaire"], "n": groups["count"]}
            ),
        ],
        ignore_index=True,
    )
    frame = _national(db, None)
    national, group, group_name = split_national(frame)
    return ReportData(
        instrument=instrument,
        results=results,
        national=national,
        group=group,
        group_name=group_name,
        min_cell=cell,
        intervention=scope or None,
        year_counts=year_counts,
        forbund_name=settings.forbund_name_if_set(db),
        preview=True,
        waiting_note=publications.waiting_note(computed.waiting, min_cell=cell, year=year),
        cache_key=content_key(results, frame, instrument.version, cell),
        comments=report_comments(db, scope),
        texts=report_texts(db),
        options=report_options(db),
    )
