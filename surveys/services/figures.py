"""History (old annual reports) and national figures (Riket): validated, all-or-nothing."""

from __future__ import annotations

from sqlmodel import Session, delete, select

from indicators.instrument import Instrument
from indicators.report import HISTORY_COLUMNS, NATIONAL_COLUMNS
from surveys.models import HistoryFigure, NationalFigure
from surveys.services.tables import FileError, parse_int, read_table, text

SUBGROUPS = ("samtliga", "kvinnor", "man")
PERCENT_COLUMNS = ("negative", "neutral", "positive", "clearly_positive", "response_rate")


def _check_key(instrument: Instrument, row: dict, errors: list[str], line: int) -> tuple | None:
    year = parse_int(row.get("year"), low=2000, high=2100)
    if year is None:
        errors.append(f"Rad {line}, kolumn year: {text(row.get('year'))!r} är inget giltigt år.")
    qn_key = text(row.get("questionnaire"))
    if qn_key not in instrument.questionnaire_keys:
        errors.append(f"Rad {line}, kolumn questionnaire: okänd enkät {qn_key!r}.")
        return None
    number = parse_int(row.get("question"), low=1, high=99)
    if number is None or instrument.question(qn_key, number) is None:
        errors.append(
            f"Rad {line}, kolumn question: enkäten {qn_key} har ingen fråga "
            f"{text(row.get('question'))!r}."
        )
    subgroup = text(row.get("subgroup")).lower()
    allowed = SUBGROUPS if instrument.is_participant(qn_key) else ("samtliga",)
    if subgroup not in allowed:
        errors.append(
            f"Rad {line}, kolumn subgroup: {subgroup!r} är inte tillåtet här "
            f"({', '.join(allowed)})."
        )
    if year is None or number is None or subgroup not in allowed:
        return None
    return year, qn_key, number, subgroup


def _percent(row: dict, column: str, errors: list[str], line: int, *, required: bool) -> int | None:
    raw = text(row.get(column)).rstrip("%").strip()
    if raw == "":
        if required:
            errors.append(f"Rad {line}, kolumn {column}: värde saknas.")
        return None
    value = parse_int(raw, low=0, high=100)
    if value is None:
        errors.append(f"Rad {line}, kolumn {column}: {raw!r} är ingen procentsats 0–100.")
    return value


def _parse(instrument: Instrument, data: bytes, filename: str, columns: list[str], build) -> list:
    rows = read_table(data, filename=filename, required=columns)
    errors: list[str] = []
    objects, seen = [], set()
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        key = _check_key(instrument, row, errors, line)
        obj = build(row, errors, line)
        if key is not None and key in seen:
            errors.append(f"Rad {line}: samma år, enkät, fråga och undergrupp finns redan i filen.")
        if key is not None:
            seen.add(key)
            if obj is not None:
                objects.append((key, obj))
    if errors:
        raise FileError(errors[:50])
    if not objects:
        raise FileError(["Filen innehåller inga rader."])
    return objects


def import_history(db: Session, instrument: Instrument, *, data: bytes, filename: str) -> int:
    """Replace-or-add aggregated figures from old annual reports."""

    def build(row: dict, errors: list[str], line: int) -> dict | None:
        n = parse_int(row.get("n"), low=0, high=1_000_000)
        if n is None:
            errors.append(f"Rad {line}, kolumn n: {text(row.get('n'))!r} är inget antal.")
        values = {
            c: _percent(row, c, errors, line, required=c in ("positive", "response_rate"))
            for c in PERCENT_COLUMNS
        }
        if (
            values["clearly_positive"] is not None
            and values["positive"] is not None
            and values["clearly_positive"] > values["positive"]
        ):
            errors.append(f"Rad {line}: Klart positivt kan inte vara större än Positivt.")
        return None if n is None else {"n": n, **values}

    objects = _parse(instrument, data, filename, HISTORY_COLUMNS, build)
    return _replace(db, HistoryFigure, objects)


def import_national(db: Session, instrument: Instrument, *, data: bytes, filename: str) -> int:
    """Replace-or-add Riket's positive shares."""

    def build(row: dict, errors: list[str], line: int) -> dict | None:
        value = _percent(row, "positive", errors, line, required=True)
        return None if value is None else {"positive": value}

    objects = _parse(instrument, data, filename, NATIONAL_COLUMNS, build)
    return _replace(db, NationalFigure, objects)


def _replace(db: Session, model, objects: list) -> int:
    try:
        for (year, qn_key, number, subgroup), values in objects:
            db.exec(
                delete(model).where(
                    model.year == year,
                    model.questionnaire_key == qn_key,
                    model.question == number,
                    model.subgroup == subgroup,
                )
            )
            db.add(
                model(
                    year=year,
                    questionnaire_key=qn_key,
                    question=number,
                    subgroup=subgroup,
                    **values,
                )
            )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return len(objects)


def history_rows(db: Session) -> list[dict]:
    return [
        {
            "year": h.year,
            "questionnaire": h.questionnaire_key,
            "question": h.question,
            "subgroup": h.subgroup,
            "n": h.n,
            **{c: getattr(h, c) for c in PERCENT_COLUMNS},
        }
        for h in db.exec(select(HistoryFigure)).all()
    ]


def national_rows(db: Session) -> list[dict]:
    return [
        {
            "year": f.year,
            "questionnaire": f.questionnaire_key,
            "question": f.question,
            "subgroup": f.subgroup,
            "positive": f.positive,
        }
        for f in db.exec(select(NationalFigure)).all()
    ]
