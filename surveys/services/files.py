"""The answers file (DESIGN.md): import all-or-nothing, export for Excel and round trips."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from indicators.instrument import Instrument
from surveys.models import Answer, Intervention, Question, QuestionVersion, Response
from surveys.services.rounds import intervention_by_name
from surveys.services.submissions import insert_responses
from surveys.services.tables import FileError, parse_date, parse_int, read_table, text
from surveys.services.validation import CleanSubmission, InvalidSubmission, clean_submission

QUESTION_COLUMNS = [f"q{i}" for i in range(1, 12)]
ANSWER_FILE_COLUMNS = [
    "year",
    "questionnaire",
    "insats",
    "gender",
    "submitted_on",
    *QUESTION_COLUMNS,
]
MAX_ERRORS = 50


def import_answers(db: Session, instrument: Instrument, *, data: bytes, filename: str) -> int:
    """Validate every row, then store all of them in one transaction (or nothing)."""
    rows = read_table(data, filename=filename, required=ANSWER_FILE_COLUMNS)
    errors: list[str] = []
    valid: list[tuple[CleanSubmission, str, date]] = []
    for row_number, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            valid.append(_clean_row(instrument, row))
        except InvalidSubmission as exc:
            for column, message in exc.errors:
                errors.append(f"Rad {row_number}, kolumn {column or '–'}: {message}")
        if len(errors) >= MAX_ERRORS:
            errors.append("… fler fel visas inte. Rätta ovanstående och försök igen.")
            break
    if errors:
        raise FileError(errors)
    if not valid:
        raise FileError(["Filen innehåller inga enkätsvar."])
    try:
        interventions: dict[str, str | None] = {"": None}
        items = []
        for clean, insats, submitted_on in valid:
            if insats not in interventions:
                interventions[insats] = intervention_by_name(db, insats, create=True).id
            items.append((clean, None, interventions[insats], submitted_on))
        count = insert_responses(db, items)
        db.commit()
    except Exception:
        db.rollback()
        raise
    return count


def _clean_row(instrument: Instrument, row: dict[str, object]) -> tuple[CleanSubmission, str, date]:
    errors: list[tuple[str | None, str]] = []
    year = parse_int(row.get("year"), low=2000, high=2100)
    if year is None:
        errors.append(("year", f"{text(row.get('year'))!r} är inget giltigt år."))
    questionnaire = text(row.get("questionnaire"))
    if questionnaire not in instrument.questionnaire_keys:
        errors.append(
            (
                "questionnaire",
                f"Okänd enkät {questionnaire!r}. Giltiga: "
                f"{', '.join(instrument.questionnaire_keys)}.",
            )
        )
    raw_date = row.get("submitted_on")
    submitted_on = (
        parse_date(raw_date) if text(raw_date) else (date(year, 12, 31) if year else None)
    )
    if submitted_on is None:
        errors.append(("submitted_on", f"{text(raw_date)!r} är inget datum (ÅÅÅÅ-MM-DD)."))
    elif year is not None and submitted_on.year not in (year, year + 1):
        errors.append(("submitted_on", f"Datumet {submitted_on} hör inte till år {year}."))
    insats = text(row.get("insats"))
    if len(insats) > 200:
        errors.append(("insats", "Insatsens namn är för långt (högst 200 tecken)."))
    if errors:
        raise InvalidSubmission(errors)
    answers = {int(c[1:]): row.get(c) for c in QUESTION_COLUMNS}
    clean = clean_submission(
        instrument,
        questionnaire=questionnaire,
        year=year,  # type: ignore[arg-type]  # errors raised above when None
        answers=answers,
        gender=row.get("gender"),
    )
    return clean, insats, submitted_on  # type: ignore[return-value]  # errors raised above when None


def export_rows(db: Session, *, year: int | None = None) -> list[dict[str, object]]:
    """One row per filled-in questionnaire, sorted so that order reveals nothing."""
    query = (
        select(  # type: ignore[call-overload]  # sqlmodel.select stops at 4 columns
            Response.id,
            Response.year,
            Response.questionnaire_key,
            Intervention.name,
            Response.gender,
            Response.submitted_on,
            Question.number,
            Answer.code,
        )
        .join(Answer, Answer.response_id == Response.id)
        .join(QuestionVersion, QuestionVersion.id == Answer.question_version_id)
        .join(Question, Question.id == QuestionVersion.question_id)
        .outerjoin(Intervention, Intervention.id == Response.intervention_id)
    )
    if year is not None:
        query = query.where(Response.year == year)
    by_response: dict[str, dict[str, object]] = {}
    for rid, yr, qn, insats, gender, submitted, number, code in db.execute(query):
        row = by_response.setdefault(
            rid,
            {
                "year": yr,
                "questionnaire": qn,
                "insats": insats or "",
                "gender": gender or "",
                "submitted_on": submitted.isoformat(),
                **{c: "" for c in QUESTION_COLUMNS},
            },
        )
        row[f"q{number}"] = "" if code is None else code
    rows = list(by_response.values())
    rows.sort(
        key=lambda r: (
            r["year"],
            r["questionnaire"],
            r["insats"],
            r["submitted_on"],
            r["gender"],
            *[str(r[c]) for c in QUESTION_COLUMNS],
        )
    )
    return rows


def export_answers(db: Session, *, fmt: str = "csv", year: int | None = None) -> bytes:
    """The answers file as CSV (UTF-8) or XLSX bytes."""
    rows = export_rows(db, year=year)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=ANSWER_FILE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8")
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "svar"
        sheet.append(ANSWER_FILE_COLUMNS)
        for row in rows:
            sheet.append([row[c] for c in ANSWER_FILE_COLUMNS])
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    raise ValueError(f"Okänt format {fmt!r} (csv eller xlsx).")
