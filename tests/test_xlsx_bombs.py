"""Issue 18 point 3: hostile XLSX packages are refused before openpyxl reads them.

Each file here is small on disk and huge (or slow) unpacked. The refusal must be a
Swedish message, must change nothing, and must come from the package checks
(surveys/files/package.py) — asserted by watching openpyxl's ``load_workbook``,
not by a wall clock. Memory is measured with tracemalloc.
"""

from __future__ import annotations

import functools
import io
import tracemalloc
import zipfile

import pytest

import surveys.files.reading as reading
from surveys.files.package import MAX_PARTS, MAX_SHARED_STRINGS
from tests.conftest import count_rows, form_token

# The PostgreSQL pass leaves these out (see conftest): hostile packages are refused before anything
# is read or stored.
pytestmark = pytest.mark.one_database

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
HEADER = (
    "year,questionnaire,question,subgroup,n,negative,neutral,positive,clearly_positive,"
    "response_rate"
)


def package(
    sheet_xml: str,
    *,
    sheet_path: str = "xl/worksheets/sheet1.xml",
    workbook_path: str = "xl/workbook.xml",
    strings: str | None = None,
    extra: dict[str, str] | None = None,
) -> bytes:
    """A workbook written by hand: the sheet may be anywhere the relationships say."""
    overrides = f'<Override PartName="/{workbook_path}" ContentType="{WORKBOOK_TYPE}"/>'
    if strings is not None:
        overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{STRINGS_TYPE}"/>'
    folder = workbook_path.rsplit("/", 1)[0]
    name = workbook_path.rsplit("/", 1)[1]
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
            f'Type="{DOC}/officeDocument" Target="{workbook_path}"/></Relationships>'
        ),
        workbook_path: (
            f'<workbook xmlns="{MAIN}" xmlns:r="{DOC}"><sheets>'
            '<sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        f"{folder}/_rels/{name}.rels": (
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
            f'Type="{DOC}/worksheet" Target="/{sheet_path}"/></Relationships>'
        ),
        sheet_path: sheet_xml,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    parts.update(extra or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for part, body in parts.items():
            archive.writestr(part, body)
    return out.getvalue()


def header_row() -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{n}</t></is></c>' for n in HEADER.split(","))
    return f"<row>{cells}</row>"


def sheet(rows: str, dimension: str | None = None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<worksheet xmlns="{MAIN}">{dim}<sheetData>{rows}</sheetData></worksheet>'


@functools.cache
def hostile_files() -> dict[str, bytes]:
    many_rows = header_row() + "<row><c><v>1</v></c></row>" * 300_000
    return {
        # the sheet outside xl/worksheets/, without <dimension>: openpyxl parsed it whole
        "sheet-outside-worksheets": package(sheet(many_rows), sheet_path="data/blad.xml"),
        # the same with a <dimension> that lies about its size
        "lying-dimension": package(
            sheet(many_rows, dimension="A1:J2"), sheet_path="xl/annat/blad.xml"
        ),
        # 500,000 empty shared strings (22 kB on disk; 12.9 s in openpyxl)
        "many-shared-strings": package(
            sheet(header_row()),
            strings=f'<sst xmlns="{MAIN}">' + "<si><t/></si>" * 500_000 + "</sst>",
        ),
        # one shared string of 40 MB
        "huge-shared-string": package(
            sheet(header_row()),
            strings=f'<sst xmlns="{MAIN}"><si><t>' + "a" * 40_000_000 + "</t></si></sst>",
        ),
        # the workbook named by [Content_Types].xml, not at xl/workbook.xml
        "workbook-elsewhere": package(
            sheet(many_rows),
            workbook_path="annan/bok.xml",
            sheet_path="annan/blad.xml",
            extra={"xl/workbook.xml": "<workbook/>"},
        ),
        # a part openpyxl reads whole (styles) of 40 MB
        "huge-styles": package(
            sheet(header_row()),
            extra={
                "xl/styles.xml": f'<styleSheet xmlns="{MAIN}">' + " " * 40_000_000 + "</styleSheet>"
            },
        ),
        # more parts than any workbook has
        "many-parts": package(
            sheet(header_row()), extra={f"xl/media/{i}.xml": "" for i in range(MAX_PARTS)}
        ),
    }


@pytest.fixture
def openpyxl_watch(monkeypatch):
    """Records every call of openpyxl's load_workbook; a hostile file must never get there."""
    calls: list[object] = []
    real = reading.load_workbook

    def watched(*args, **kwargs):
        calls.append(args)
        if watched.hostile:
            raise AssertionError("openpyxl was asked to read a hostile file")
        return real(*args, **kwargs)

    watched.hostile = True
    monkeypatch.setattr(reading, "load_workbook", watched)
    return calls, watched


def test_hostile_files_are_small_on_disk():
    for name, data in hostile_files().items():
        assert len(data) < 300_000, (name, len(data))


@pytest.mark.parametrize("name", list(hostile_files()))
def test_history_upload_refuses_before_openpyxl(app, admin_client, openpyxl_watch, name):
    calls, _ = openpyxl_watch
    data = hostile_files()[name]
    page = admin_client.get("/admin/importer")
    tracemalloc.start()
    response = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(data), f"{name}.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert calls == [], "openpyxl read the file"
    assert response.status_code == 200
    assert "Ingenting har importerats." in response.text
    assert any(
        m in response.text
        for m in ("för stort", "fler än", "för mycket text", "för många delar", "olika texter")
    ), response.text
    assert peak < 64 * 1024 * 1024, peak  # the file's size, not what it unpacks to
    assert count_rows(app, "history_figure") == 0
    assert count_rows(app, "import_batch") == 0


@pytest.mark.parametrize("name", ["sheet-outside-worksheets", "many-shared-strings"])
def test_answers_import_refuses_before_openpyxl(app, runner, tmp_path, openpyxl_watch, name):
    calls, _ = openpyxl_watch
    path = tmp_path / "svar.xlsx"
    path.write_bytes(hostile_files()[name])
    result = runner.invoke(args=["import", "answers", str(path)])
    assert calls == []
    assert result.exit_code == 1
    assert "Ingenting har importerats" in result.output
    assert "Traceback" not in result.output
    assert count_rows(app, "response") == 0


def test_shared_strings_within_the_limit_and_a_sheet_anywhere_are_read(
    app, admin_client, openpyxl_watch
):
    """The checks follow the relationships: a normal file with its sheet elsewhere works."""
    calls, watched = openpyxl_watch
    watched.hostile = False
    strings = [*HEADER.split(","), "Deltagare avslut", "Samtliga"]
    sst = f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>"
    head = "<row>" + "".join(f'<c t="s"><v>{i}</v></c>' for i in range(10)) + "</row>"
    values = [2019, 10, 1, 11, 120, 4, 6, 90, 70, 95]
    row = (
        "<row>"
        + "".join(
            f'<c t="s"><v>{v}</v></c>' if i in (1, 3) else f"<c><v>{v}</v></c>"
            for i, v in enumerate(values)
        )
        + "</row>"
    )
    data = package(
        sheet(head + row, dimension="A1:J2"), sheet_path="xl/annat/blad.xml", strings=sst
    )
    page = admin_client.get("/admin/importer")
    response = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(data), "h.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "1 rad importerad." in response.text, response.text
    assert len(calls) == 1
    assert count_rows(app, "history_figure") == 1


def test_shared_string_limit_is_a_count(monkeypatch):
    """One string over the count is refused, the count itself is taken."""
    body = sheet(header_row())
    ok = package(body, strings=f'<sst xmlns="{MAIN}">' + "<si><t/></si>" * 50 + "</sst>")
    over = package(body, strings=f'<sst xmlns="{MAIN}">' + "<si><t/></si>" * 51 + "</sst>")
    monkeypatch.setattr("surveys.files.package.MAX_SHARED_STRINGS", 50)
    reading.open_table(ok, filename="a.xlsx", required=HEADER.split(",")).close()
    with pytest.raises(reading.FileError, match="fler än 50 olika texter"):
        reading.open_table(over, filename="a.xlsx", required=["year"])
    assert MAX_SHARED_STRINGS == 100_000


def test_reading_rows_stops_after_the_time_limit(monkeypatch):
    body = sheet(header_row() + "<row><c><v>2019</v></c></row>" * 3, dimension="A1:J4")
    monkeypatch.setattr(reading, "XLSX_SECONDS", -1)  # the limit has passed at the first row
    with pytest.raises(reading.FileError, match="tog mer än -1 sekunder"):
        reading.open_table(package(body), filename="a.xlsx", required=["year"])


def test_tags_cut_by_a_chunk_boundary_are_counted_once(monkeypatch):
    from surveys.files import package as limits

    monkeypatch.setattr(limits, "CHUNK", 7)  # every tag crosses a boundary somewhere
    text = b"<row><c/><x:c r='1'/><c>1</c></row><row\n/>" * 50
    assert limits._count(io.BytesIO(text), b"c", stop_after=10**6) == 150  # noqa: SLF001
    assert limits._count(io.BytesIO(text), b"row", stop_after=10**6) == 100  # noqa: SLF001
    assert limits._count(io.BytesIO(b"<cols><col/></cols>"), b"c", stop_after=9) == 0  # noqa: SLF001
