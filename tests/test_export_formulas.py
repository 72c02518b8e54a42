"""Issue 18 point 6: text never becomes a formula in an export, and still round-trips.

A comment ``=HYPERLINK("http://…","Klicka här")`` used to become a live formula in the
report workbook every läsare downloads. Now every text cell of the report workbook is a
plain string with Excel's quote prefix (still text when someone edits it), holding
exactly what was written; the report CSV gets the apostrophe guard. (The answers file's
own guard and round trip: tests/test_files.py.)
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

from openpyxl import load_workbook
from sqlmodel import select

from surveys import db
from surveys.files.reading import FORMULA_START
from surveys.models import Intervention
from tests import seedrows
from tests.conftest import form_token, login

INSATS = "Steget"
INTRODUCTION = '=HYPERLINK("http://angripare.example/in","Klicka här")'
COMMENT = ["+SUM(1;2)", "@A1", "-2+3 är mer än noll", '=1+1 "x"']


def _answers_file(tmp_path):
    rows = seedrows.file_rows()
    for row in rows:
        row["insats"] = INSATS
    path = tmp_path / "svar.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _formulas(xlsx: bytes) -> list[str]:
    """Every <f> element of every sheet: what Excel would run."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as package:
        found = []
        for name in package.namelist():
            if name.endswith(".xml"):
                found += re.findall(rb"<(?:\w+:)?f[ >].*?</(?:\w+:)?f>", package.read(name))
        return [f.decode() for f in found]


def _texts(xlsx: bytes) -> list:
    workbook = load_workbook(io.BytesIO(xlsx))
    cells = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            cells += [c for c in row if isinstance(c.value, str)]
    return cells


def test_report_workbook_and_csv_have_no_formulas(app, runner, client, make_user, tmp_path):
    assert runner.invoke(args=["import", "answers", str(_answers_file(tmp_path))]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    admin = app.test_client()
    login(admin, make_user("administratör"))
    token = form_token(admin.get("/admin/kommentarer/2023").text)
    saved = admin.post(
        "/admin/kommentarer/2023",
        data={"csrf_token": token, "text-0": INTRODUCTION, "text-1": "\n\n".join(COMMENT)},
    )
    assert saved.status_code == 302
    login(client, make_user("läsare"))
    with app.app_context():
        insats_id = db.session().exec(select(Intervention.id)).one()
    for query in ("", f"?insats={insats_id}"):
        workbook = client.get(f"/rapport/2023/rapport.xlsx{query}")
        assert workbook.status_code == 200
        assert _formulas(workbook.data) == []
        texts = _texts(workbook.data)
        values = [c.value for c in texts]
        # the förbund's comments, exactly as written, and only in the förbund's report
        # (comments belong to their scope)
        shown = query == ""
        assert (INTRODUCTION in values) is shown
        for line in COMMENT:
            assert (line in values) is shown
        for cell in texts:
            if cell.value.startswith(FORMULA_START):
                assert cell.quotePrefix, cell.value  # stays text when someone edits it
    report_csv = client.get("/rapport/2023/rapport.csv").text
    for row in csv.reader(io.StringIO(report_csv)):
        assert not any(v.startswith(FORMULA_START) for v in row), row
