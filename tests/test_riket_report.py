"""Issue 21, förbund side: Riket's n and the comparison group in the förbund's report.

NNS's extended Riket file (``n``, ``comparison_group``) is imported, frozen with the
publication and shown on the page, in the PDF and in the Word file as "60% (n=3 970)",
with the förbund's comparison group in a column of its own (a short-dashed line in the
trend chart) and "*" on a difference from Riket larger than chance. The marker is
recomputed here with a plain two-proportion z-test. Bad input (a group the file lacks,
an altered file, a wrong key) is a Swedish message and changes nothing.
Real parts: SQLite/PostgreSQL, the CLI, pypdf, python-docx, Ed25519.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import func, select

from surveys import db
from surveys.models import AuditEntry, ImportBatch, NationalFigure, PublicationNational
from surveys.national import riket_file
from surveys.services import settings
from surveys.services.signing import create_key, load_private_key, public_key_text, sign
from tests import factories
from tests.conftest import table_rows

YEAR = 2023
# 40 participants at exit: question 1 is 90 % positive, question 2 50 %
PEOPLE = 40
RIKET = (
    "year,questionnaire,question,subgroup,positive,n,comparison_group\n"
    "2023,deltagare_avslut,1,samtliga,60,3970,\n"
    "2023,deltagare_avslut,2,samtliga,52,3970,\n"
    "2023,deltagare_avslut,1,samtliga,85,1200,storstad\n"
    "2023,deltagare_avslut,2,samtliga,49,1200,storstad\n"
    "2023,deltagare_avslut,1,samtliga,31,500,glesbygd\n"
)


def _seed(app, runner) -> None:
    with app.app_context():
        s = db.session()
        for i in range(PEOPLE):
            q1 = 6 if i % 10 else 1  # 36 of 40 positive
            q2 = 5 if i % 2 else 2  # 20 of 40 positive
            factories.response(
                s,
                {"deltagare_avslut.1.v1": q1, "deltagare_avslut.2.v1": q2},
                gender="kvinna" if i < PEOPLE // 2 else "man",
                year=YEAR,
            )
        s.commit()
    result = runner.invoke(args=["publish", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output


def _import(runner, tmp_path: Path, data: str, *args: str):
    path = tmp_path / "riket-2023.csv"
    path.write_text(data, encoding="utf-8")
    return runner.invoke(args=["import", "national", str(path), *args])


def _z_marked(p1: float, n1: int, p2: float, n2: int) -> bool:
    """Two-proportion z-test at 95 % with a pooled standard error, written out."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return abs((p1 - p2) / se) > 1.96


def _rows_by_question(html: str) -> dict[int, tuple[str, ...]]:
    """The Samtliga row under each "Fråga N – Deltagare – avslutsenkät" heading."""
    out: dict[int, tuple[str, ...]] = {}
    question = None
    for cells in table_rows(html):
        if len(cells) == 1 and cells[0].startswith("Fråga ") and "avslut" in cells[0]:
            question = int(cells[0].split()[1])
        elif question and cells and cells[0].startswith("Samtliga (n=") and question not in out:
            out[question] = cells
    return out


def test_report_shows_riket_n_comparison_group_and_chance_marker(
    app, admin_client, runner, tmp_path
):
    _seed(app, runner)
    result = _import(runner, tmp_path, RIKET, "--jamforelsegrupp", "storstad")
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["publish", "--year", str(YEAR)]).exit_code == 0
    with app.app_context():
        frozen = db.session().exec(select(PublicationNational)).all()
    # the newest publication froze Riket with n and the förbund's own group, not glesbygd
    newest = {(f.comparison_group, f.question, f.positive, f.n) for f in frozen if f.n}
    assert ("", 1, 60, 3970) in newest
    assert ("storstad", 2, 49, 1200) in newest
    assert not any(f.comparison_group == "glesbygd" for f in frozen)

    html = admin_client.get(f"/rapport/{YEAR}").get_data(as_text=True)
    assert "Jämförelsegrupp storstad" in html
    assert "glesbygd" not in html
    assert "jämförelsegruppen (storstad)" in html  # the trend chart's caption
    rows = _rows_by_question(html)
    # columns: label, Negativt, Varken eller, Positivt, svarsfrekvens, Riket, Mot riket, grupp
    assert rows[1][5:] == ("60% (n=3 970)", "+30*", "85% (n=1 200)")
    assert rows[2][5:] == ("52% (n=3 970)", "\u22122", "49% (n=1 200)")
    # the marker is the plain z-test on the förbund's answers against Riket's n
    assert _z_marked(0.90, PEOPLE, 0.60, 3970)
    assert not _z_marked(0.50, PEOPLE, 0.52, 3970)
    assert "* betyder att skillnaden är större än slumpen" in html

    # the trend chart draws the group as its own short-dashed line
    svg = admin_client.get(f"/rapport/{YEAR}/diagram/1-tid.svg").get_data(as_text=True)
    assert "Jämförelsegrupp" in svg
    assert 'stroke-dasharray="2,2"' in svg

    for fmt in ("pdf", "docx"):
        out = tmp_path / f"rapport.{fmt}"
        result = runner.invoke(
            args=["report", "--year", str(YEAR), "--format", fmt, "--output", str(out)]
        )
        assert result.exit_code == 0, result.output
        if fmt == "pdf":
            text = " ".join(
                " ".join(
                    p.extract_text() for p in PdfReader(io.BytesIO(out.read_bytes())).pages
                ).split()
            )
            for shown in ("60% (n=3 970)", "+30*", "85% (n=1 200)", "Jämförelsegrupp storstad"):
                assert shown in text, shown
        else:
            cells = [
                tuple(c.text for c in row.cells)
                for table in Document(str(out)).tables
                for row in table.rows
            ]
            assert any(c[-3:] == ("60% (n=3 970)", "+30*", "85% (n=1 200)") for c in cells)
            assert any(c[-1] == "Jämförelsegrupp storstad" for c in cells)

    # Excel: the same figures as numbers, with Riket's n, the group and the marker
    out = tmp_path / "rapport.xlsx"
    result = runner.invoke(
        args=["report", "--year", str(YEAR), "--format", "xlsx", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    workbook = load_workbook(out)
    sheet = workbook["Indikator 1"]
    header = [c.value for c in sheet[2]]
    assert header[9:] == [
        "Riket (positivt)",
        "Riket n",
        "Jämförelsegrupp storstad (positivt)",
        "Jämförelsegrupp storstad n",
        "Skillnad mot riket större än slumpen",
        "Anmärkning",
    ]
    by_question = {}
    for name in workbook.sheetnames:
        if not name.startswith("Indikator"):
            continue
        for row in workbook[name].iter_rows(min_row=3, values_only=True):
            if row[1] and "avslut" in str(row[1]).lower() and row[2] == "Samtliga":
                by_question.setdefault(row[0], row)
    assert by_question[1][9:14] == (0.6, 3970, 0.85, 1200, "Ja")
    assert by_question[2][9:14] == (0.52, 3970, 0.49, 1200, "Nej")


def test_no_group_chosen_no_group_column(app, admin_client, runner, tmp_path):
    _seed(app, runner)
    assert _import(runner, tmp_path, RIKET).exit_code == 0
    assert runner.invoke(args=["publish", "--year", str(YEAR)]).exit_code == 0
    html = admin_client.get(f"/rapport/{YEAR}").get_data(as_text=True)
    assert "Jämförelsegrupp" not in html
    assert _rows_by_question(html)[1][5:] == ("60% (n=3 970)", "+30*")


def _state(app) -> tuple:
    with app.app_context():
        s = db.session()
        figures = sorted(
            (f.comparison_group, f.question, f.positive, f.n)
            for f in s.exec(select(NationalFigure)).all()
        )
        batches = s.exec(select(func.count()).select_from(ImportBatch)).one()
        return figures, batches, settings.get(s, settings.COMPARISON_GROUP)


def test_bad_riket_files_are_refused_in_swedish_and_change_nothing(app, runner, tmp_path):
    result = _import(runner, tmp_path, RIKET, "--jamforelsegrupp", "storstad")
    assert result.exit_code == 0
    # no NNS key set: taken, but nobody is told it was checked (the output, the log)
    assert "NNS publika nyckel är inte inställd, så filens ursprung kunde inte kontrolleras" in (
        result.output
    )
    assert _riket_audit(app) == [
        "5 rader från riket-2023.csv, signaturen inte kontrollerad, jämförelsegrupp storstad"
    ]
    before = _state(app)
    assert before[0]
    assert before[2] == "storstad"

    result = _import(
        runner, tmp_path, RIKET.replace("60,3970", "70,3970"), "--jamforelsegrupp", "okänd"
    )
    assert result.exit_code == 1
    assert "jämförelsegruppen 'okänd' finns inte i rikets filer" in result.output
    assert "finns: glesbygd, storstad" in result.output
    assert "Ingenting har importerats." in result.output
    assert _state(app) == before

    bad_name = RIKET + "2023,deltagare_avslut,2,samtliga,40,90,=HYPERLINK(1)\n"
    result = _import(runner, tmp_path, bad_name)
    assert result.exit_code == 1
    assert "Rad 7, kolumn comparison_group" in result.output
    assert _state(app) == before

    result = _import(runner, tmp_path, RIKET.replace(",3970,", ",många,", 1))
    assert result.exit_code == 1
    assert "Rad 2, kolumn n: 'många' är inget antal." in result.output
    assert _state(app) == before

    # NNS's key configured: an altered file and a file signed with another key are refused
    create_key(tmp_path / "nns")
    nns = load_private_key(tmp_path / "nns")
    with app.app_context():
        settings.put(db.session(), "nns_public_key", public_key_text(nns))
        db.session().commit()
    before = _state(app)
    signature = tmp_path / "riket-2023.csv.sig"
    signature.write_bytes(sign(nns, RIKET.encode()))
    altered = RIKET.replace("60,3970", "61,3970")
    result = _import(runner, tmp_path, altered)
    assert result.exit_code == 1
    assert "signaturen stämmer inte med NNS publika nyckel" in result.output
    assert _state(app) == before
    create_key(tmp_path / "other")
    signature.write_bytes(sign(load_private_key(tmp_path / "other"), altered.encode()))
    result = _import(runner, tmp_path, altered)
    assert result.exit_code == 1
    assert "kommer inte från NNS" in result.output
    assert _state(app) == before
    signature.write_bytes(sign(nns, altered.encode()))
    result = _import(runner, tmp_path, altered)
    assert result.exit_code == 0
    assert ("", 1, 61, 3970) in _state(app)[0]
    assert "inte inställd" not in result.output
    assert _riket_audit(app)[-1] == "5 rader från riket-2023.csv, NNS signatur kontrollerad"


def _riket_audit(app) -> list[str]:
    """The details of the Riket imports' audit entries, oldest first."""
    with app.app_context():
        entries = db.session().exec(
            select(AuditEntry).where(AuditEntry.action == "import.riket").order_by(AuditEntry.at)
        )
        return [entry.detail for entry in entries]


def test_upload_page_refuses_an_unknown_group_and_stores_nothing(app, admin_client, runner):
    from tests.conftest import form_token

    page = admin_client.get("/admin/importer").get_data(as_text=True)
    assert 'name="jamforelsegrupp"' in page
    before = _state(app)
    response = admin_client.post(
        "/admin/importer/riket",
        data={
            "csrf_token": form_token(page),
            "file": (io.BytesIO(RIKET.encode()), "riket-2023.csv"),
            "jamforelsegrupp": "okänd",
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "jämförelsegruppen &#39;okänd&#39; finns inte" in html
    assert "Ingenting har importerats." in html
    assert _state(app) == before
    response = admin_client.post(
        "/admin/importer/riket",
        data={
            "csrf_token": form_token(page),
            "file": (io.BytesIO(RIKET.encode()), "riket-2023.csv"),
            "jamforelsegrupp": "storstad",
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "5 rader importerade." in html
    assert '<p class="flash flash-warning" role="status">Obs: NNS publika nyckel är inte ' in html
    assert riket_file.UNVERIFIED_NOTICE in html  # whole: a flash message holds 200 characters
    assert _state(app)[2] == "storstad"
