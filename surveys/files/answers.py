"""The answers file (DESIGN.md): streaming all-or-nothing import, Excel-friendly export.

Import reads and validates the file row by row and inserts valid rows in chunks
inside ONE transaction: memory does not grow with the file, and any invalid row
rolls everything back (nothing stored) with "Rad N, kolumn X" messages.

Export carries no date (anonymity) and is safe to open in a spreadsheet: CSV
text that would run as a formula gets a leading apostrophe, and XLSX cells are
written as text, never as formulas. Import takes every cell as it is (an insats
named ``'=x`` stays ``'=x``); insats names may not start like a formula
(surveys/names.py), so no cell of ours needs the apostrophe and export → import →
export gives the same bytes (CSV) or the same cells (XLSX).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select
from sqlmodel import Session, col

from indicators.instrument import Instrument
from surveys.files.reading import (
    EXCEL_ERRORS,
    FORMULA_START,
    FileError,
    formula_safe,
    gender_value,
    integral_text,
    open_table,
    parse_cell_int,
    questionnaire_key,
    shown,
    text,
)
from surveys.models import Answer, Intervention, Question, QuestionVersion, Response
from surveys.names import InvalidName
from surveys.services.actor import Actor
from surveys.services.rounds import insats_named
from surveys.services.submissions import insert_responses
from surveys.services.validation import CleanSubmission, InvalidSubmission, clean_submission

QUESTION_COLUMNS = [f"q{i}" for i in range(1, 12)]
ANSWER_FILE_COLUMNS = ["year", "questionnaire", "insats", "gender", *QUESTION_COLUMNS]
IGNORED_COLUMNS = ["submitted_on"]  # older exports had it; accepted and ignored
SWEDISH_HEADERS = {"år": "year", "enkät": "questionnaire", "kön": "gender"}
MAX_ERRORS = 50
MAX_ANSWER_ROWS = 2_000_000  # the command line: national scale with room to spare
CHUNK = 2_000  # questionnaires per INSERT batch
MAX_BLANK_SHOWN = 10  # row numbers of blank questionnaires named in the message


class Imported(int):
    """The number of questionnaires stored; ``blank_rows``: the file's row numbers of
    those without a single answer (stored like a web form sent empty after "Skicka ändå")."""

    blank_rows: list[int]

    def __new__(cls, count: int, blank_rows: list[int]) -> Imported:
        made = super().__new__(cls, count)
        made.blank_rows = blank_rows
        return made

    def blank_message(self) -> str:
        """Swedish: how many rows had no answer at all (empty string when none)."""
        if not self.blank_rows:
            return ""
        shown = ", ".join(map(str, self.blank_rows[:MAX_BLANK_SHOWN]))
        more = " …" if len(self.blank_rows) > MAX_BLANK_SHOWN else ""
        return (
            f"{len(self.blank_rows)} av dem är helt tomma enkäter utan ett enda svar (rad "
            f"{shown}{more}). De är importerade och räknas som inlämnade enkäter, som ett "
            "tomt formulär som skickats ändå; ta bort raderna och importera igen om de "
            "inte ska räknas."
        )


def import_answers(
    db: Session,
    actor: Actor,
    instrument: Instrument,
    *,
    data: bytes | None = None,
    path: str | Path | None = None,
    filename: str,
    chunk: int = CHUNK,
) -> Imported:
    """Validate and store every row in one transaction (or nothing); returns the count.

    A row without any answer is imported (a questionnaire handed in empty counts, and
    the export writes such rows), and reported: see ``Imported.blank_rows``.
    Cells are taken as they are: an insats named ``'=x`` is ``'=x``. An insats the
    file names and the app does not have is created as the actor's (``insats.skapa``,
    the administrator page's rules and audit entry)."""
    table = open_table(
        data if data is not None else Path(path or filename),
        filename=filename,
        required=ANSWER_FILE_COLUMNS,
        optional=IGNORED_COLUMNS,
        aliases=SWEDISH_HEADERS,
        max_rows=MAX_ANSWER_ROWS,
    )
    errors: list[str] = []
    interventions: dict[str, str | None] = {"": None}  # the file's names → ids
    batch: list[tuple[CleanSubmission, str | None, str | None]] = []
    blank_rows: list[int] = []
    count = 0
    try:
        for row_number, row in table.rows():
            try:
                clean, insats = _clean_row(instrument, row)
                if insats not in interventions:
                    interventions[insats] = _insats_id(db, actor, insats)
            except InvalidSubmission as exc:
                errors.extend(
                    f"Rad {row_number}, kolumn {column or '–'}: {message}"
                    for column, message in exc.errors
                )
                if len(errors) >= MAX_ERRORS:
                    errors.append("… fler fel visas inte. Rätta ovanstående och försök igen.")
                    break
                continue
            if errors:
                continue  # keep validating to report every error, store nothing more
            if all(code is None for _version, code in clean.answers):
                blank_rows.append(row_number)
            batch.append((clean, None, interventions[insats]))
            if len(batch) >= chunk:
                count += insert_responses(db, batch)
                batch.clear()
        if errors:
            raise FileError(errors)
        count += insert_responses(db, batch)
        if count == 0:
            raise FileError(["Filen innehåller inga enkätsvar."])
        db.flush()
    except BaseException:
        db.rollback()
        raise
    return Imported(count, blank_rows)


def _insats_id(db: Session, actor: Actor, name: str) -> str:
    """The insats of a row: found without regard to case, else created (its name checked,
    audited as the actor's)."""
    try:
        return insats_named(db, actor, name).id
    except InvalidName as exc:
        raise InvalidSubmission([("insats", str(exc))]) from None


def _clean_row(instrument: Instrument, row: dict[str, object]) -> tuple[CleanSubmission, str]:
    errors: list[tuple[str | None, str]] = []
    year = parse_cell_int(row.get("year"), low=2000, high=2100)
    if year is None:
        errors.append(("year", f"{shown(row.get('year'))} är inget giltigt år."))
    questionnaire = questionnaire_key(instrument, row.get("questionnaire"))
    if questionnaire is None:
        names = ", ".join(qn.short_name for qn in instrument.questionnaires)
        errors.append(
            (
                "questionnaire",
                f"Okänd enkät {shown(row.get('questionnaire'))}. Giltiga: {names}.",
            )
        )
    raw_insats = row.get("insats")
    insats = text(raw_insats)
    if len(insats) > 200:
        errors.append(("insats", "Insatsens namn är för långt (högst 200 tecken)."))
    elif insats in EXCEL_ERRORS or not _a_name(raw_insats):
        errors.append(("insats", f"{shown(raw_insats)} är inget namn på en insats."))
    if errors or questionnaire is None or year is None:
        raise InvalidSubmission(errors)
    answers = {int(c[1:]): _cell(row.get(c)) for c in QUESTION_COLUMNS}
    clean = clean_submission(
        instrument,
        questionnaire=questionnaire,
        year=year,
        answers=answers,
        gender=gender_value(row.get("gender")),
    )
    return clean, insats


def _cell(value: object) -> object:
    """An answer cell: "6.0" in a CSV as 6.0 in an XLSX cell (a tool that writes a column
    with gaps writes its whole numbers so). A form's fields are taken only exactly."""
    if not isinstance(value, str):
        return value
    digits = integral_text(value)
    return digits if digits != value.strip() else value


def iter_export_rows(db: Session, *, year: int | None = None) -> Iterator[dict[str, object]]:
    """One row per filled-in questionnaire, in an order that reveals nothing.

    Sorted by content (year, questionnaire, insats, gender, answers), never by
    when it arrived; one questionnaire's answer rows are assembled at a time.
    """
    responses = select(
        col(Response.id),
        col(Response.year),
        col(Response.questionnaire_key),
        col(Intervention.name),
        col(Response.gender),
    ).outerjoin(Intervention, col(Intervention.id) == col(Response.intervention_id))
    answers = (
        select(col(Answer.response_id), col(Question.number), col(Answer.code))
        .join(QuestionVersion, col(QuestionVersion.id) == col(Answer.question_version_id))
        .join(Question, col(Question.id) == col(QuestionVersion.question_id))
        .join(Response, col(Response.id) == col(Answer.response_id))
    )
    if year is not None:
        responses = responses.where(col(Response.year) == year)
        answers = answers.where(col(Response.year) == year)
    rows: dict[str, dict[str, object]] = {}
    for rid, yr, qn, insats, gender in db.execute(responses):
        rows[rid] = {
            "year": yr,
            "questionnaire": qn,
            "insats": insats or "",
            "gender": gender or "",
            **{c: "" for c in QUESTION_COLUMNS},
        }
    for rid, number, code in db.execute(answers):
        rows[rid][f"q{number}"] = "" if code is None else code
    ordered = sorted(
        rows.values(),
        key=lambda r: (
            r["year"],
            r["questionnaire"],
            r["insats"],
            r["gender"],
            *[str(r[c]) for c in QUESTION_COLUMNS],
        ),
    )
    yield from ordered


def export_answers(db: Session, *, fmt: str = "csv", year: int | None = None) -> bytes:
    """The answers file as CSV (Swedish Excel: ';' and BOM) or XLSX bytes."""
    rows = iter_export_rows(db, year=year)
    if fmt == "csv":
        return excel_csv(ANSWER_FILE_COLUMNS, ([r[c] for c in ANSWER_FILE_COLUMNS] for r in rows))
    if fmt == "xlsx":
        return text_xlsx(
            "svar", ANSWER_FILE_COLUMNS, ([r[c] for c in ANSWER_FILE_COLUMNS] for r in rows)
        )
    raise ValueError(f"Okänt format {fmt!r} (csv eller xlsx).")


def excel_csv(header: list[str], rows) -> bytes:
    """CSV that Swedish Excel opens in columns: UTF-8 with BOM, ';', formulas made inert."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([formula_safe(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def _a_name(cell: object) -> bool:
    """An insats cell holds text, or a whole number ("1325"), never a date, a time, a truth
    value or a decimal number (Excel turned those into something else than was typed)."""
    return cell is None or isinstance(cell, str) or type(cell) is int


def text_xlsx(title: str, header: list[str], rows) -> bytes:
    """An XLSX whose text cells are strings, never formulas (numbers stay numbers)."""

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)

    def cell(value: object) -> WriteOnlyCell:
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"  # "=HYPERLINK(…)" stays the text it was
            written.quotePrefix = value.startswith(FORMULA_START)  # and text when edited
        return written

    sheet.append([cell(v) for v in header])
    for row in rows:
        sheet.append([cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
