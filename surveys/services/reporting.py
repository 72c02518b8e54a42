"""Everything the report needs, read from the database into frames for ``indicators``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from indicators import ANSWER_COLUMNS, Instrument, score
from indicators.report import HISTORY_COLUMNS, NATIONAL_COLUMNS, combine, history_results
from surveys.models import Answer, Intervention, Question, QuestionVersion, Response, Setting
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
        select(  # type: ignore[call-overload]  # sqlmodel.select stops at 4 columns
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
    return ReportData(
        instrument=instrument,
        results=results,
        national=national,
        min_cell=cell,
        intervention=intervention.name if intervention else None,
    )
