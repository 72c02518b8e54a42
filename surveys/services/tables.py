"""Reading uploaded CSV/XLSX files into rows of text, with Swedish errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

MAX_ROWS = 200_000


class FileError(ValueError):
    """A file that cannot be used; ``errors`` lists Swedish messages (row, column)."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def read_table(
    data: bytes, *, filename: str, required: list[str], ignored: tuple[str, ...] = ()
) -> list[dict[str, object]]:
    """Parse CSV (comma or semicolon, UTF-8) or XLSX into dicts keyed by lower-case header."""
    suffix = Path(filename).suffix.lower()
    header: list[str]
    rows: Sequence[Sequence[object]]
    if suffix == ".xlsx":
        header, rows = _read_xlsx(data)
    elif suffix in (".csv", ".txt", ""):
        header, rows = _read_csv(data)
    else:
        raise FileError([f"Filtypen {suffix} stöds inte. Använd CSV eller XLSX."])
    if any(isinstance(v, str) and "\x00" in v for row in [header, *rows] for v in row):
        raise FileError(["Filen innehåller ogiltiga tecken (NUL)."])
    header = [str(h or "").strip().lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise FileError(
            [
                f"Rad 1: kolumnen {', '.join(missing)} saknas. Förväntade kolumner: "
                f"{','.join(required)}."
            ]
        )
    unknown = [h for h in header if h and h not in required and h not in ignored]
    if unknown:
        raise FileError([f"Rad 1: okänd kolumn {', '.join(unknown)}."])
    if len(rows) > MAX_ROWS:
        raise FileError([f"Filen har fler än {MAX_ROWS} rader."])
    out: list[dict[str, object]] = []
    for values in rows:
        if all(v is None or str(v).strip() == "" for v in values):
            out.append({})  # blank line: kept so row numbers match, skipped by callers
            continue
        out.append(
            {
                h: (values[i] if i < len(values) else None)
                for i, h in enumerate(header)
                if h and h not in ignored
            }
        )
    return out


def _read_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(["Filen är inte UTF-8-kodad. Spara den som CSV UTF-8."]) from None
    if not text.strip():
        raise FileError(["Filen är tom."])
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise FileError([f"Filen kunde inte läsas som CSV: {exc}"]) from None
    return rows[0], rows[1:]


def _read_xlsx(data: bytes) -> tuple[list[str], list[list[object]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a broken file
        raise FileError(["Filen kunde inte läsas som en Excel-fil (XLSX)."]) from None
    sheet = workbook.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    workbook.close()
    if not rows:
        raise FileError(["Filen är tom."])
    return [str(h) if h is not None else "" for h in rows[0]], rows[1:]


def parse_int(value: object, *, low: int, high: int) -> int | None:
    """An integer within bounds, or None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not is_ascii_integer(text) or len(text) > 9:
            return None
        number = int(text)
    return number if low <= number <= high else None


def is_ascii_integer(text: str) -> bool:
    """Digits 0-9 only (str.isdigit also accepts e.g. Arabic-Indic or full-width digits)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def text(value: object) -> str:
    return "" if value is None else str(value).strip()
