"""Reading uploaded CSV/XLSX files row by row, with Swedish errors and hard limits.

Files are read lazily (a 400,000-row answers file never sits in memory) and every
way a file can be broken ends in :class:`FileError` with a Swedish message —
also while rows are being read, which is where openpyxl meets a broken sheet.
XLSX packages are checked by :mod:`surveys.files.package` before openpyxl opens
them (sizes of the archive and of every part, declared sheets wherever they are,
shared strings, rows and cells); reading then stops at the row limit and after
``XLSX_SECONDS``.

Cells people type are normalised here too: the Swedish names of questionnaires,
genders and subgroups, decimal commas and percent signs. Text cells are otherwise
taken as they are: the apostrophe CSV exports put in front of text a spreadsheet
would run as a formula is NOT undone on import (``'=x`` stays ``'=x``).
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from openpyxl import load_workbook

from surveys.files.package import MAX_COLUMNS, PackageRefused, check_package

MAX_ROWS = 20_000  # web uploads (history, Riket): a förbund has a few thousand rows
# Reading an XLSX sheet's rows stops after this long (the package limits come first).
XLSX_SECONDS = 120
# Encrypted workbooks and old .xls files are OLE compound documents, not zip packages.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class FileError(ValueError):
    """A file that cannot be used; ``errors`` lists Swedish messages (row, column)."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Table:
    """A header and the rows after it, read lazily: iterate ``rows()`` once."""

    header: list[str]
    _rows: Iterator[list[object]]
    max_rows: int
    close: Callable[[], None]

    def rows(self) -> Iterator[tuple[int, dict[str, object]]]:
        """(line number, row by header) for every non-blank row; FileError on trouble."""
        line, checking = 1, False  # checking: the row is read; else the next is being read
        try:
            for values in self._rows:
                line, checking = line + 1, True
                if line - 1 > self.max_rows:
                    raise FileError(
                        [f"Filen har fler än {self.max_rows:,} rader.".replace(",", " ")]
                    )
                if len(values) > MAX_COLUMNS and any(
                    v not in (None, "") for v in values[MAX_COLUMNS:]
                ):
                    raise FileError([f"Rad {line}: fler än {MAX_COLUMNS} kolumner."])
                if all(v is None or str(v).strip() == "" for v in values):
                    checking = False
                    continue  # blank line: skipped, row numbers still match
                if any(v not in (None, "") for v in values[len(self.header) :]):
                    # more values than columns: a misaligned row (a decimal comma in a
                    # comma-separated file, a stray separator), never dropped silently
                    raise FileError(
                        [
                            f"Rad {line}: raden har fler värden ({len(values)}) än "
                            f"rubrikraden har kolumner ({len(self.header)}). Kontrollera "
                            "avgränsare och decimaltecken."
                        ]
                    )
                row = {}
                for i, name in enumerate(self.header):
                    if name:
                        row[name] = _clean_cell(values[i] if i < len(values) else None, line)
                checking = False
                yield line, row
        except FileError:
            raise
        except Exception:  # noqa: BLE001 - every parser error of a broken file ends here
            broken = line if checking else line + 1
            message = "filen är skadad och kunde inte läsas vidare. Ingenting har sparats."
            raise FileError([f"Rad {broken}: {message}"]) from None
        finally:
            self.close()


def _clean_cell(value: object, line: int) -> object:
    if isinstance(value, str):
        if "\x00" in value:
            raise FileError([f"Rad {line}: filen innehåller ogiltiga tecken (NUL)."])
        return value  # as it is: an apostrophe someone typed stays (no formula guard undone)
    return value


def open_table(
    source: bytes | str | Path,
    *,
    filename: str,
    required: list[str],
    optional: Iterable[str] = (),
    aliases: dict[str, str] | None = None,
    max_rows: int = MAX_ROWS,
) -> Table:
    """Open CSV (comma or semicolon, UTF-8) or XLSX: header checked, rows lazy.

    ``source`` is the file's bytes (uploads) or a path (the command line, read
    as a stream). Header names are lower-cased; Swedish ``aliases`` map to keys.
    """
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        header, rows, close = _open_xlsx(source, max_rows=max_rows)
    elif suffix in (".csv", ".txt", ""):
        header, rows, close = _open_csv(source)
    else:
        raise FileError([f"Filtypen {suffix} stöds inte. Använd CSV eller XLSX."])
    try:
        names = _check_header(header, required, optional, aliases)
    except FileError:
        close()
        raise
    return Table(header=names, _rows=rows, max_rows=max_rows, close=close)


def _check_header(
    header: list[str], required: list[str], optional: Iterable[str], aliases: dict[str, str] | None
) -> list[str]:
    names = [(aliases or {}).get(n, n) for n in (str(h or "").strip().lower() for h in header)]
    if any("\x00" in n for n in names):
        raise FileError(["Filen innehåller ogiltiga tecken (NUL)."])
    missing = [c for c in required if c not in names]
    if missing:
        raise FileError(
            [
                f"Rad 1: kolumnen {', '.join(missing)} saknas. Förväntade kolumner: "
                f"{','.join(required)}."
            ]
        )
    allowed = set(required) | set(optional)
    unknown = [n for n in names if n and n not in allowed]
    if unknown:
        raise FileError([f"Rad 1: okänd kolumn {', '.join(unknown)}."])
    twice = _twice(names)
    if twice:
        raise FileError(twice)
    return names


def _twice(names: list[str]) -> list[str]:
    """A column named twice (or once in Swedish and once in English): which value would
    count is no choice to make silently, so the file is refused naming both places."""
    places: dict[str, list[int]] = {}
    for place, name in enumerate(names, start=1):
        if name:
            places.setdefault(name, []).append(place)
    return [
        f"Rad 1: kolumnen {name} finns {len(found)} gånger (kolumn "
        f"{', '.join(map(str, found[:-1]))} och {found[-1]}). Behåll en av dem."
        for name, found in places.items()
        if len(found) > 1
    ]


def _open_csv(source: bytes | str | Path) -> tuple[list[str], Iterator[list[object]], Callable]:
    if isinstance(source, bytes):
        stream: IO[bytes] = io.BytesIO(source)
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed when the rows are exhausted
        except OSError as exc:
            raise FileError([f"Filen kunde inte öppnas: {exc.strerror}."]) from None
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError:
        text.close()
        raise FileError(["Filen är inte UTF-8-kodad. Spara den som CSV UTF-8."]) from None
    if not first.strip():
        more = any(line.strip() for line in _lines_or_none(text))
        text.close()
        if more:
            raise FileError(["Rad 1 är tom. Rubrikraden (kolumnnamnen) ska stå på första raden."])
        raise FileError(["Filen är tom."])
    delimiter = ";" if first.count(";") > first.count(",") else ","

    def lines() -> Iterator[str]:
        yield first
        yield from text

    # strict: a quoted field the file ends in (a file cut off) or a quote in the middle
    # of a quoted field is an error, never a row made up of what was there
    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        text.close()
        raise FileError([csv_problem(exc, 1)]) from None
    return list(header), _csv_rows(reader), text.close


def _lines_or_none(text: IO[str]) -> Iterator[str]:
    """The rest of the lines (none if they cannot be decoded: the caller says "tom")."""
    try:
        yield from text
    except UnicodeDecodeError:
        return


def _csv_rows(reader) -> Iterator[list[object]]:
    try:
        for values in reader:
            yield list(values)
    except csv.Error as exc:
        raise FileError([csv_problem(exc, reader.line_num)]) from None
    except UnicodeDecodeError:
        raise FileError(["Filen är inte UTF-8-kodad. Spara den som CSV UTF-8."]) from None


# The csv module's errors (English) as a person can act on them.
_CSV_PROBLEMS = (
    (
        "unexpected end of data",
        "filen slutar mitt i ett fält inom citattecken (ett "
        "avslutande citattecken saknas, eller filen är avkortad)",
    ),
    (
        "expected after",
        "ett citattecken står mitt i ett fält inom citattecken (skriv två "
        'citattecken, "", för ett citattecken i texten)',
    ),
    ("field larger than field limit", "ett fält är för långt (högst {limit} tecken)"),
    ("line contains nul", "filen innehåller ogiltiga tecken (NUL)"),
)


def csv_problem(exc: csv.Error, line: int) -> str:
    """A Swedish message for the csv module's error on ``line`` (1: the header)."""
    found = str(exc).lower()
    for needle, problem in _CSV_PROBLEMS:
        if needle in found:
            limit = f"{csv.field_size_limit():,}".replace(",", " ")
            return f"Rad {line}: {problem.format(limit=limit)}."
    return f"Rad {line}: filen kunde inte läsas som CSV."


def _open_xlsx(
    source: bytes | str | Path, *, max_rows: int
) -> tuple[list[str], Iterator[list[object]], Callable]:
    """Open the first sheet read-only; refuse a sheet declared too large before any row."""

    if isinstance(source, bytes):
        handle: IO[bytes] = io.BytesIO(source)
    else:
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed by the returned close()
        except OSError as exc:
            raise FileError([f"Filen kunde inte öppnas: {exc.strerror}."]) from None
    workbook = None

    def close() -> None:
        if workbook is not None:
            workbook.close()
        handle.close()

    try:
        _check_zip(handle, max_rows=max_rows)
        # keep_links=False: external links' cached sheets are never read
        with _openpyxl_quiet():
            workbook = load_workbook(handle, read_only=True, data_only=True, keep_links=False)
        sheet = workbook.worksheets[0]
        declared_rows, declared_columns = sheet.max_row or 0, sheet.max_column or 0
        if declared_rows > max_rows + 1 or declared_columns > MAX_COLUMNS:
            raise FileError(
                [
                    f"Bladet är för stort ({declared_rows} rader × {declared_columns} "
                    f"kolumner). Högst {max_rows} rader och {MAX_COLUMNS} kolumner går att "
                    "läsa in."
                ]
            )
        rows = _xlsx_rows(sheet, deadline=time.monotonic() + XLSX_SECONDS)
        header = next(rows)
    except StopIteration:
        close()
        raise FileError(["Filen är tom."]) from None
    except FileError:
        close()
        raise
    except Exception:  # noqa: BLE001 - openpyxl raises many types for a broken file
        close()
        raise FileError(["Filen kunde inte läsas som en Excel-fil (XLSX)."]) from None
    return ["" if h is None else str(h) for h in header], rows, close


def _check_zip(handle: IO[bytes], *, max_rows: int) -> None:
    """Refuse what is not an XLSX package, or whose parts would unpack too large."""
    if _magic(handle) == OLE_MAGIC:
        raise FileError(
            [
                "Filen är en krypterad eller äldre Excel-fil (XLS). Ta bort lösenordet "
                "och spara som Excel-arbetsbok (XLSX) eller CSV UTF-8."
            ]
        )
    try:
        with zipfile.ZipFile(handle) as package:
            check_package(package, max_rows=max_rows)
    except PackageRefused as exc:
        raise FileError([str(exc)]) from None
    except Exception:  # noqa: BLE001 - a broken zip, XML or relationship (openpyxl fails alike)
        raise FileError(["Filen kunde inte läsas som en Excel-fil (XLSX)."]) from None
    finally:
        handle.seek(0)


def _magic(handle: IO[bytes]) -> bytes:
    start = handle.read(8)
    handle.seek(0)
    return start


@contextmanager
def _openpyxl_quiet() -> Iterator[None]:
    """openpyxl warns in English about what it leaves out (a drop-down list's extension, a
    date cell's serial number out of range): the command line would print it under the
    Swedish answer. What matters in a cell is checked by the import itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        yield


def _xlsx_rows(sheet, *, deadline: float) -> Iterator[list[object]]:
    rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1)
    while True:
        with _openpyxl_quiet():  # rows are read lazily: each one quietly, not the yield
            values = next(rows, None)
        if values is None:
            return
        if time.monotonic() > deadline:
            raise FileError(
                [
                    f"Filen tog mer än {XLSX_SECONDS} sekunder att läsa och lästes inte in. "
                    "Spara den som CSV UTF-8."
                ]
            )
        yield list(values)


# --- formula guard (exports) --------------------------------------------------


def formula_safe(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (CSV exports)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def inert_formulas(workbook) -> None:
    """Every text cell of a workbook (openpyxl, not write-only) stays text in Excel.

    openpyxl stores a string starting with "=" as a formula: a comment such as
    ``=HYPERLINK("http://…","Klicka här")`` would become a live link in every
    läsare's download. Such cells are written as plain strings with Excel's
    "quote prefix" (still text when someone edits the cell), and the value is
    kept exactly, so export → import gives back what was written.
    """
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and value.startswith(FORMULA_START):
                    cell.data_type = "s"
                    cell.quotePrefix = True


# --- values people type ---------------------------------------------------------


def parse_int(value: object, *, low: int, high: int) -> int | None:
    """An integer within bounds, or None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    number = value if isinstance(value, int) else whole_number(str(value).strip())
    return number if number is not None and low <= number <= high else None


def parse_cell_int(value: object, *, low: int, high: int) -> int | None:
    """``parse_int`` for a cell of a file: also a whole number written with zero
    decimals (``integral_text``). Forms' fields are taken only exactly (``parse_int``)."""
    return parse_int(integral_text(value) if isinstance(value, str) else value, low=low, high=high)


# One or two zero decimals: "1,000" or "1.000" may be a thousand, so three are no decimals.
_ZERO_DECIMALS = re.compile(r"(-?[0-9]{1,9})[.,]0{1,2}")


def integral_text(text: str) -> str:
    """A whole number written with one or two zero decimals ("5.0", "5,00", as a tool
    writes a column of numbers to CSV) as its digits ("5"); any other text as it was.
    An XLSX cell of 5.0 is taken as 5: a CSV of the same figures should be too."""
    text = text.strip()
    written = _ZERO_DECIMALS.fullmatch(text) if "." in text or "," in text else None
    return written.group(1) if written else text


def parse_share(value: object) -> int | None:
    """A percentage 0–100 as typed: "86", "86%", "86 %", "3,5" (half up → 4), 85.5."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if abs(value) > 1000 or not math.isfinite(value):  # no share; Decimal cannot round 1e30
            return None
        number = Decimal(str(value))
    else:
        text = str(value).strip().rstrip("%").strip().replace("\u00a0", "").replace(" ", "")
        if not re.fullmatch(r"[0-9]{1,3}([.,][0-9]{1,6})?", text):  # \d: any script's digits
            return None
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return None
    rounded = int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return rounded if 0 <= rounded <= 100 else None


def whole_number(text: str) -> int | None:
    """``text`` as an int when it is written with the digits 0–9 (and a leading minus),
    at most 9 characters; Python's int also takes "0_6", "٥" and a thousand digits."""
    return int(text) if is_ascii_integer(text) and len(text) <= 9 else None


def is_ascii_integer(text: str) -> bool:
    """Digits 0-9 only (str.isdigit also accepts e.g. Arabic-Indic or full-width digits)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def text(value: object) -> str:
    return "" if value is None else str(value).strip()


def shown(value: object) -> str:
    """A cell's value in a Swedish message, quoted as it would look in the sheet: a date
    as 2024-01-01, a time as 05:00, a truth value as SANT or FALSKT, 6.0 as 6."""
    if value is None:
        value = ""
    elif isinstance(value, bool):
        value = "SANT" if value else "FALSKT"
    elif isinstance(value, datetime):
        value = value.date().isoformat() if value.time() == time_of_day() else value.isoformat(" ")
    elif isinstance(value, date | time_of_day):
        value = value.isoformat()
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)  # 1e308 stays 1e+308, not its 309 digits
    elif isinstance(value, str):
        value = value.strip()
    return f"'{value}'"


# What Excel writes in a cell whose formula failed: no name, number or answer.
EXCEL_ERRORS = frozenset(
    {"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}
)


def label_key(value: object) -> str:
    """Compare labels loosely: case, dashes, underscores and spaces do not matter."""
    return re.sub(r"[\s_\-–—]+", " ", text(value).lower()).strip()


GENDER_WORDS = {
    "kvinna": "kvinna",
    "kvinnor": "kvinna",
    "k": "kvinna",
    "man": "man",
    "män": "man",
    "m": "man",
    "annat": "annat",
    "annat eller vill inte svara": "annat",
    "vill inte svara": "annat",
}
SUBGROUP_WORDS = {
    "samtliga": "samtliga",
    "alla": "samtliga",
    "totalt": "samtliga",
    "kvinnor": "kvinnor",
    "kvinna": "kvinnor",
    "män": "man",
    "man": "man",
}


def gender_value(value: object) -> object:
    """The stored gender for what people type ("kvinnor", "Män" …), else the value as is."""
    if value is None or value == "":
        return value
    if isinstance(value, str) and value in GENDER_WORDS:
        return GENDER_WORDS[value]  # the common case without a regex
    return GENDER_WORDS.get(label_key(value), value)


def subgroup_value(value: object) -> str:
    """The stored subgroup ("samtliga", "kvinnor", "man") for what people type."""
    return SUBGROUP_WORDS.get(label_key(value), label_key(value))


def questionnaire_key(instrument, value: object) -> str | None:
    """The key of a questionnaire given as key, name or short name (any case/dash)."""
    labels = _QUESTIONNAIRE_LABELS.get(id(instrument))
    if labels is None or labels[0] is not instrument:
        names = {}
        for qn in instrument.questionnaires:
            for label in (qn.key, qn.name, qn.short_name):
                names[label_key(label)] = qn.key
        labels = _QUESTIONNAIRE_LABELS[id(instrument)] = (instrument, names, {})
    _, names, seen = labels
    raw = text(value)
    if raw not in seen:  # a file repeats a handful of spellings: normalise each once
        if len(seen) > 1000:
            seen.clear()
        seen[raw] = names.get(label_key(raw))
    return seen[raw]


_QUESTIONNAIRE_LABELS: dict[int, tuple[object, dict[str, str], dict[str, str | None]]] = {}
