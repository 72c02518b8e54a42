"""Everything the report needs, read from the database into frames for ``indicators``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from indicators import ANSWER_COLUMNS, Instrument, score
from indicators.report import HISTORY_COLUMNS, NATIONAL_COLUMNS, combine, history_results
from surveys.models import (
    Answer,
    Intervention,
    Question,
    QuestionVersion,
    ReportComment,
    Response,
    Setting,
)
from surveys.services.figures import history_rows, national_rows
from surveys.services.tables import parse_int


@dataclass
class ReportData:
    """Result rows (computed + imported), national figures and the instrument."""

    instrument: Instrument
    results: pd.DataFrame
    national: pd.DataFrame
    min_cell: int
    intervention: str | None
    # questionnaires per respondent group and year (all years): year, questionnaire, n
    year_counts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["year", "questionnaire", "n"])
    )
    forbund_name: str | None = None  # the administrator's setting "forbund_name"
    preview: bool = False  # True: the administrator's live preview, not a publication
    publication: dict | None = None  # version, published_at, published_by, method_note
    cache_key: str = ""  # identifies the frozen figures; rendered charts are kept under it
    comments: dict[int, dict[int, str]] = field(default_factory=dict)  # year -> indicator -> text

    def years(self) -> list[int]:
        if self.results.empty:
            return []
        return sorted({int(y) for y in self.results["year"]})

    def has_year(self, year: int) -> bool:
        return not self.results.empty and bool((self.results["year"] == year).any())


def min_cell(db: Session, default: int) -> int:
    """The suppression threshold: the admin's setting, else MIN_CELL from the environment."""
    row = db.get(Setting, "min_cell")
    value = parse_int(row.value, low=1, high=1000) if row is not None else None
    if value is not None:
        return value
    return default


def answers_frame(db: Session, *, intervention_id: str | None = None) -> pd.DataFrame:
    """One row per question put to a respondent, in ``indicators.ANSWER_COLUMNS``."""
    query = (
        select(
            Response.id,
            Response.year,
            Response.questionnaire_key,
            Question.number,
            Answer.question_version_id,
            Intervention.name,
            Response.gender,
            Answer.code,
        )
        .join(Answer, Answer.response_id == Response.id)
        .join(QuestionVersion, QuestionVersion.id == Answer.question_version_id)
        .join(Question, Question.id == QuestionVersion.question_id)
        .outerjoin(Intervention, Intervention.id == Response.intervention_id)
    )
    if intervention_id is not None:
        query = query.where(Response.intervention_id == intervention_id)
    rows = db.execute(query).all()
    frame = pd.DataFrame(rows, columns=ANSWER_COLUMNS)
    frame["code"] = frame["code"].astype("Int64")
    return frame


def report_data(
    db: Session,
    instrument: Instrument,
    *,
    default_min_cell: int,
    intervention: Intervention | None = None,
) -> ReportData:
    """Score everything stored (optionally one intervention) and add imported history.

    History figures describe the whole förbund, so they are left out when the
    report is filtered to one intervention.
    """
    cell = min_cell(db, default_min_cell)
    answers = answers_frame(db, intervention_id=intervention.id if intervention else None)
    results = score(answers, instrument, min_cell=cell)
    history = pd.DataFrame(history_rows(db), columns=HISTORY_COLUMNS)
    if intervention is None and not history.empty:
        results = combine(results, history_results(history, instrument, min_cell=cell), instrument)
    else:
        results = results.assign(source="beräknad")
    national = pd.DataFrame(national_rows(db), columns=NATIONAL_COLUMNS)
    counts = year_counts(db, intervention_id=intervention.id if intervention else None)
    return ReportData(
        instrument=instrument,
        results=results,
        national=national,
        min_cell=cell,
        intervention=intervention.name if intervention else None,
        year_counts=counts,
        forbund_name=setting(db, "forbund_name"),
        # Live scoring is by definition not a publication (the publication code replaces this).
        preview=True,
        publication=None,
        cache_key=content_key(results, national, instrument.version, cell),
        comments=report_comments(db),
    )


def year_counts(db: Session, *, intervention_id: str | None = None) -> pd.DataFrame:
    """Number of stored questionnaires per year and respondent group."""
    query = select(Response.year, Response.questionnaire_key, func.count()).group_by(
        Response.year, Response.questionnaire_key
    )
    if intervention_id is not None:
        query = query.where(Response.intervention_id == intervention_id)
    frame = pd.DataFrame(db.execute(query).all(), columns=["year", "questionnaire", "n"])
    return frame.astype({"year": "int64", "n": "int64"})


def setting(db: Session, key: str) -> str | None:
    """A non-empty administrator setting, else None."""
    row = db.get(Setting, key)
    value = row.value.strip() if row is not None else ""
    return value or None


def report_comments(db: Session) -> dict[int, dict[int, str]]:
    """The förbundschef's texts: year -> indicator (0 = introduction) -> text."""
    out: dict[int, dict[int, str]] = {}
    for row in db.execute(select(ReportComment)).scalars():
        if row.text.strip():
            out.setdefault(row.year, {})[row.indicator] = row.text
    return out


def content_key(results: pd.DataFrame, national: pd.DataFrame, version: str, cell: int) -> str:
    """A key for live figures: a hash of everything a chart is drawn from."""
    digest = hashlib.sha256(f"{version}|{cell}|".encode())
    digest.update(pd.util.hash_pandas_object(results.astype(str), index=False).values.tobytes())
    digest.update(pd.util.hash_pandas_object(national.astype(str), index=False).values.tobytes())
    return "live-" + digest.hexdigest()[:40]
