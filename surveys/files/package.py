"""Limits on an XLSX package, checked before openpyxl reads any of it (issue 18).

An XLSX file is a zip of XML parts. openpyxl (read-only mode) still reads some
parts whole when the workbook is opened: every shared string, and every declared
sheet that does not state its size (``<dimension>``) is parsed to its end. A file
of 89 kB could unpack to a sheet that took 23 s and 1.2 GB. So, from the zip's
directory and a streaming pass over the few parts that may be large, we refuse:

- more than ``MAX_PARTS`` parts, or more uncompressed bytes in total than the
  sheet, the shared strings and ``OTHER_BYTES`` together may have;
- any part larger than its own limit: a declared sheet ``max_rows ×
  SHEET_BYTES_PER_ROW``, the shared strings ``SHARED_STRINGS_BYTES``, any
  other part ``PART_BYTES``;
- a declared sheet larger than ``UNDECLARED_SHEET_BYTES`` without
  ``<dimension>`` before its data;
- in the sheet that is read (the first one), more rows than ``max_rows`` + 1
  or more cells than that many rows × ``MAX_COLUMNS``;
- more than ``MAX_SHARED_STRINGS`` shared strings;
- in the sheet that is read, a formula without its saved value. A spreadsheet saves
  each formula's last value beside it, and that value is what is read
  (``data_only``); a file a program wrote and no spreadsheet saved has formulas
  only, which openpyxl reads as empty cells — an answer or a figure silently gone.

Parts are found exactly as openpyxl finds them — the workbook through
``[Content_Types].xml``, its sheets through ``<sheets>`` and the workbook's
relationships (any path, not only ``xl/worksheets/``), the shared strings through
their content type — so the limits apply to what openpyxl will read. A zip entry
never unpacks to more than the size its directory states (zipfile stops there),
so the directory's sizes are a real bound. Reading the rows is bounded afterwards
by the row limit and a time limit (``surveys.files.reading``).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.packaging.workbook import WorkbookPackage
from openpyxl.reader.excel import _find_workbook_part
from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
from openpyxl.xml.functions import fromstring

MAX_COLUMNS = 50
SHEET_BYTES_PER_ROW = 1_000  # bound on a sheet's uncompressed XML per allowed row
# openpyxl scans a whole sheet that does not declare its size (<dimension>) when the
# workbook is opened: only small sheets may leave it out (Excel always writes it).
UNDECLARED_SHEET_BYTES = 4 * 1024 * 1024
MAX_PARTS = 1_000
PART_BYTES = 4 * 1024 * 1024  # styles, workbook, relationships, theme …
OTHER_BYTES = 32 * 1024 * 1024  # all parts but the sheets and shared strings together
SHARED_STRINGS_BYTES = 8 * 1024 * 1024
MAX_SHARED_STRINGS = 100_000  # distinct texts; a real answers file has a few hundred
CHUNK = 1024 * 1024
# A start tag of <dimension> or <sheetData>, with or without a namespace prefix.
TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(dimension|sheetData)[\s>/]")
TAG_TAIL = 64  # longer than any match of TAG

TOO_LARGE = "Bladet är för stort för att läsas in. Dela upp filen eller spara den som CSV."

# A formula's start tag (any namespace prefix) ...
FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
# ... and a formula whose cell ends, or whose <v> is empty, right after it.
VALUELESS_FORMULA = re.compile(
    rb"<(?P<p>(?:[A-Za-z_][\w.-]*:)?)f(?:\s[^>]*)?(?:/>|>[^<]*</(?P=p)f>)\s*"
    rb"(?:<(?P=p)v\s*/>|<(?P=p)v(?:\s[^>]*)?>\s*</(?P=p)v>|</(?P=p)c>)"
)
FORMULA_TAIL = 64 * 1024  # longer than any formula Excel writes (8,192 characters, escaped)
CELL_REFERENCE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')


class PackageRefused(ValueError):
    """The package breaks a limit; ``str()`` is the Swedish message."""


@dataclass(frozen=True)
class Sheet:
    """A sheet the workbook declares: its name, its part in the zip and its kind."""

    name: str
    part: str
    worksheet: bool


def check_package(package: zipfile.ZipFile, *, max_rows: int) -> None:
    """Raise PackageRefused when reading the package would exceed a limit."""
    sizes = _sizes(package.infolist())
    sheet_bytes = max_rows * SHEET_BYTES_PER_ROW
    if sum(sizes.values()) > sheet_bytes + SHARED_STRINGS_BYTES + OTHER_BYTES:
        raise PackageRefused(TOO_LARGE)
    small = _readable(package, sizes)
    manifest = Manifest.from_tree(fromstring(small(ARC_CONTENT_TYPES)))
    workbook_part = _find_workbook_part(manifest)
    if workbook_part is None or workbook_part.PartName[1:] not in sizes:
        raise PackageRefused("Filen är ingen Excel-arbetsbok (XLSX): arbetsboken saknas.")
    sheets = _declared_sheets(package, workbook_part.PartName[1:], small, sizes)
    strings = manifest.find(SHARED_STRINGS)
    strings_part = strings.PartName[1:] if strings is not None else None
    large = {s.part for s in sheets} | {strings_part}
    for name, size in sizes.items():
        if name not in large and size > PART_BYTES:
            raise PackageRefused(TOO_LARGE)
    for sheet in sheets:
        if sizes[sheet.part] > sheet_bytes:
            raise PackageRefused(TOO_LARGE)
        if sizes[sheet.part] > UNDECLARED_SHEET_BYTES and not _declares_dimension(
            package, sheet.part
        ):
            raise PackageRefused(TOO_LARGE)
    first = next((s for s in sheets if s.worksheet), None)
    if first is not None:
        _check_rows(package, first.part, max_rows=max_rows)
        _check_formulas(package, first.part)
    if strings_part is not None and strings_part in sizes:
        _check_strings(package, strings_part, sizes[strings_part])


def _sizes(infos: Iterable[zipfile.ZipInfo]) -> dict[str, int]:
    """Uncompressed size per part name (a name given twice counts with its largest)."""
    sizes: dict[str, int] = {}
    for count, info in enumerate(infos, start=1):
        if count > MAX_PARTS:
            raise PackageRefused("Filen innehåller för många delar för att vara en Excel-fil.")
        sizes[info.filename] = max(sizes.get(info.filename, 0), info.file_size)
    return sizes


def _readable(package: zipfile.ZipFile, sizes: dict[str, int]):
    """A reader of small parts (the manifest, the workbook, relationships)."""

    def read(name: str) -> bytes:
        if name not in sizes:
            raise PackageRefused("Filen är ingen Excel-arbetsbok (XLSX): en del saknas.")
        if sizes[name] > PART_BYTES:
            raise PackageRefused(TOO_LARGE)
        data = package.read(name)
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise PackageRefused("Filen kunde inte läsas som en Excel-fil (XLSX).")
        return data

    return read


def _declared_sheets(package: zipfile.ZipFile, workbook: str, small, sizes) -> list[Sheet]:
    """The workbook's sheets in order, resolved like openpyxl (any path in the package)."""
    declared = WorkbookPackage.from_tree(fromstring(small(workbook))).sheets
    relationships = get_rels_path(workbook)
    small(relationships)  # size-checked before openpyxl's helper reads it
    rels = get_dependents(package, relationships).to_dict()
    sheets = []
    for sheet in declared:
        if not sheet.id:
            continue  # openpyxl skips these too
        rel = rels.get(sheet.id)
        if rel is None:
            raise PackageRefused("Filen är skadad: ett blad saknar sin del.")
        if rel.target in sizes:  # openpyxl skips a sheet whose part is missing
            sheets.append(Sheet(sheet.name, rel.target, "chartsheet" not in rel.Type))
    return sheets


def _tags(stream: IO[bytes], names: set[bytes], *, stop: bytes | None = None):
    """Yield each start tag named in ``names`` while streaming; ends at ``stop``."""
    tail = b""
    while True:
        chunk = stream.read(CHUNK)
        buffer = tail + chunk
        limit = len(buffer) if not chunk else max(0, len(buffer) - TAG_TAIL)
        for match in TAG.finditer(buffer):
            if match.start() >= limit:
                break
            name = match.group(1)
            if name == stop:
                yield name
                return
            if name in names:
                yield name
        if not chunk:
            return
        tail = buffer[limit:]


def _declares_dimension(package: zipfile.ZipFile, part: str) -> bool:
    """True when <dimension> comes before <sheetData> (openpyxl stops looking there)."""
    with package.open(part) as stream:
        for name in _tags(stream, {b"dimension"}, stop=b"sheetData"):
            return name == b"dimension"
    return False


def _count(stream: IO[bytes], name: bytes, *, stop_after: int) -> int:
    """How many start tags ``<name …>`` (any namespace prefix) the stream has.

    Counted with bytes.count (a regex per tag took 10 s for 400,000 rows); stops
    early once ``stop_after`` is passed. A chunk's last bytes are carried over so
    a tag cut by a chunk boundary is counted once. (A tab or CR right after the
    name is not counted: such a file is still bounded by its part's size.)
    """
    plain = [b"<" + name + end for end in (b" ", b">", b"/", b"\n")]  # the usual spellings
    prefixed = re.compile(rb"<[A-Za-z_][\w.-]*:" + re.escape(name) + rb"[\s>/]")
    count, tail = 0, b""
    while True:
        chunk = stream.read(CHUNK)
        buffer = tail + chunk
        limit = len(buffer) if not chunk else max(0, len(buffer) - TAG_TAIL)
        # occurrences that start before ``limit`` (they end within the buffer)
        count += sum(buffer[: limit + len(tag) - 1].count(tag) for tag in plain)
        if b":" + name in buffer:  # rare: a namespace prefix
            count += sum(1 for m in prefixed.finditer(buffer) if m.start() < limit)
        if count > stop_after or not chunk:
            return count
        tail = buffer[limit:]


def _check_rows(package: zipfile.ZipFile, part: str, *, max_rows: int) -> None:
    with package.open(part) as stream:
        if _count(stream, b"row", stop_after=max_rows + 1) > max_rows + 1:
            raise PackageRefused(f"Filen har fler än {max_rows:,} rader.".replace(",", " "))
    max_cells = (max_rows + 1) * MAX_COLUMNS
    with package.open(part) as stream:
        if _count(stream, b"c", stop_after=max_cells) > max_cells:
            raise PackageRefused(TOO_LARGE)


def _check_strings(package: zipfile.ZipFile, part: str, size: int) -> None:
    if size > SHARED_STRINGS_BYTES:
        raise PackageRefused(
            "Filen innehåller för mycket text för att läsas in. Spara den som CSV."
        )
    with package.open(part) as stream:
        if _count(stream, b"si", stop_after=MAX_SHARED_STRINGS) > MAX_SHARED_STRINGS:
            raise PackageRefused(
                f"Filen innehåller fler än {MAX_SHARED_STRINGS:,} olika texter. ".replace(",", " ")
                + "Spara den som CSV."
            )


def _check_formulas(package: zipfile.ZipFile, part: str) -> None:
    """Refuse the first formula that has no saved value (read as empty otherwise).

    Streamed like ``_count``: a sheet without formulas costs a substring test per
    chunk. A chunk's last ``FORMULA_TAIL`` bytes are carried over, so a formula cut by
    a chunk boundary is looked at once, whole.
    """
    with package.open(part) as stream:
        tail = b""
        while True:
            chunk = stream.read(CHUNK)
            buffer = tail + chunk
            limit = len(buffer) if not chunk else max(0, len(buffer) - FORMULA_TAIL)
            if b"<f" in buffer or b":f" in buffer:
                for tag in FORMULA_TAG.finditer(buffer):
                    if tag.start() >= limit:
                        break
                    if VALUELESS_FORMULA.match(buffer, tag.start()):
                        raise PackageRefused(_valueless(buffer, tag.start()))
            if not chunk:
                return
            tail = buffer[limit:]


def _valueless(buffer: bytes, at: int) -> str:
    """The Swedish message for a formula without a saved value, naming its cell."""
    cells = list(CELL_REFERENCE.finditer(buffer, max(0, at - 1024), at))
    where = ""
    if cells:
        column, row = (part.decode() for part in cells[-1].groups())
        where = f"Rad {row}, cell {column}{row}: "
    return (
        f"{where}Cellen har en formel men inget sparat värde, så värdet går inte att "
        "läsa. Filen har skrivits av ett program och aldrig sparats i ett kalkylprogram: "
        "öppna den i Excel eller LibreOffice och spara den, eller skriv in värdena i "
        "stället för formlerna."
    )
