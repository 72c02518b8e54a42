"""The yearly appendix: page, PDF, Word and Excel checked against ReportData, figure by figure.

Real files, real parsers: the PDF is read with pypdf (text and images per page),
the Word file with python-docx, the workbook with openpyxl.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import select

from indicators.report import change_is_significant, two_proportion_z
from surveys import db
from surveys.models import AuditEntry, ReportAsset, ReportComment, Setting
from surveys.reports import assets
from surveys.reports.context import page_context
from surveys.reports.data import published_report
from surveys.services.catalogue import instrument_from_db
from tests import seedrows
from tests.conftest import form_token, table_rows

FORBUND = "Samordningsförbundet Väst"
YEAR = 2024  # the demo's latest year


def _demo(app, runner, *, name: str | None = FORBUND, comments: dict[int, str] | None = None):
    """The förbund's name and comments on top of the demo (the ``demo`` fixture loads it)."""
    with app.app_context():
        s = db.session()
        existing = s.get(Setting, "forbund_name")  # the demo names its förbund
        if existing is not None:
            s.delete(existing)
            s.flush()
        if name:
            s.add(Setting(key="forbund_name", value=name))
        for indicator, text in (comments or {}).items():
            s.add(
                ReportComment(
                    year=YEAR,
                    indicator=indicator,
                    text=text,
                    updated_at=datetime.now(UTC),
                    updated_by="test@example.invalid",
                )
            )
        s.commit()


def _context(app, year: int = YEAR) -> dict:
    with app.app_context():
        s = db.session()
        data = published_report(s, instrument_from_db(s), year=year)
        return page_context(data, year=year)


def _expected_rows(section: dict) -> list[tuple[str, list[str]]]:
    """Every printed table row of an indicator: label and its cells as the seed prints them."""
    out = []
    for group in section["groups"]:
        for r in group["rows"]:
            if r.suppressed:
                out.append((r.label, [r.hidden_text]))
            else:
                cells = [r.negative, r.neutral, r.positive, r.response_rate]
                out.append((r.label, cells + ([r.national] if r.national else [])))
    return out


def _pdf_pages(pdf: bytes) -> list[tuple[int, list[str], int]]:
    """(indicator or 0, text lines, number of images) per page."""
    pages, current = [], 0
    for page in PdfReader(io.BytesIO(pdf)).pages:
        lines = [line.strip() for line in page.extract_text().splitlines() if line.strip()]
        for line in lines:
            if match := re.fullmatch(r"Indikator (\d+)", line):
                current = int(match.group(1))
        pages.append((current, lines, len(page.images)))
    return pages


def test_pdf_has_every_figure_chart_and_page_number(demo, admin_client, app, runner):
    comment = "Resultatet är stabilt.\n\nKvinnor och män svarar lika."
    _demo(app, runner, comments={0: "Året i korthet.", 1: comment})
    response = admin_client.get(f"/rapport/{YEAR}/rapport.pdf")
    assert response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    assert all(round(float(p.mediabox.width)) == 595 for p in reader.pages)  # A4
    assert all(round(float(p.mediabox.height)) == 842 for p in reader.pages)
    pages = _pdf_pages(response.data)
    for number, (_, lines, _) in enumerate(pages, start=1):
        assert f"Sida {number}" in lines
    front = " ".join(pages[0][1])
    assert FORBUND in front
    assert f"Indikatorerna {YEAR}" in front
    assert "Förhandsgranskning" not in front  # the published figures, not a preview
    context = _context(app)
    text = "\n".join(line for _, lines, _ in pages for line in lines)
    assert f"Under {YEAR} har {context['collection']['totals'][0]} enkäter" in " ".join(
        text.split()
    )
    assert "Året i korthet." in text
    assert "Kvinnor och män svarar lika." in text
    # exit questions 9 and 10 are asked after Ja on 8: said as the instrument says it
    assert " ".join(text.split()).count("– besvaras om fråga 8 är Ja") == 2
    # one chart per measured indicator: its trend (the year's bars are off in print by default)
    assert sum(count for _, _, count in pages) == sum(s["has_trend"] for s in context["sections"])
    for section in context["sections"]:
        n = section["number"]
        lines = [line for _, ls, _ in pages for line in ls]
        lines = lines[lines.index(f"Indikator {n}") :]  # indicators may share a page
        if section["no_measure"]:
            assert n == 11
            assert not section["has_trend"]
            continue
        assert section["has_trend"]  # the demo has figures for every measured indicator
        for label, cells in _expected_rows(section):
            at = [i for i, line in enumerate(lines) if line == label]
            assert at, (n, label)
            assert any(lines[i + 1 : i + 1 + len(cells)] == cells for i in at), (n, label)
    # "Resultat YYYY" never stands alone: its table starts on the same page
    for indicator, lines, _ in pages:
        if f"Resultat {YEAR}" in lines:
            assert "Negativt" in lines[lines.index(f"Resultat {YEAR}") :], indicator


def test_word_file_has_headings_tables_images_and_comments(
    demo, admin_client, app, runner, tmp_path
):
    _demo(app, runner, comments={7: "Första stycket.\n\nAndra stycket om kvinnor och män."})
    out = tmp_path / "r.docx"
    result = runner.invoke(
        args=["report", "--year", str(YEAR), "--format", "docx", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = Document(str(out))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings[:3] == [
        "Om indikatorerna",
        f"Indikatorer för finansiell samordning {YEAR}",
        "Resultatet i korthet",
    ]
    assert headings[3:] == [f"Indikator {n}" for n in range(1, 17)]
    assert doc.paragraphs[0].text == FORBUND
    assert doc.paragraphs[1].style.name == "Title"
    assert round(doc.sections[0].page_width.cm, 1) == 21.0  # A4 from the shipped template
    context = _context(app)
    tables: dict[int, list[tuple[str, ...]]] = {}
    current = 0
    for block in doc.iter_inner_content():
        if hasattr(block, "rows"):
            tables.setdefault(current, []).extend(
                tuple(c.text for c in row.cells) for row in block.rows
            )
        elif match := re.fullmatch(r"Indikator (\d+)", block.text):
            current = int(match.group(1))
    label = re.compile(r"^(Samtliga |kvinnor |män )?\(n=(\d+|–)\)")  # – : n hidden under 8
    for section in context["sections"]:
        printed = [r for r in tables.get(section["number"], []) if label.match(r[0])]
        expected = _expected_rows(section)
        assert [r[0] for r in printed] == [e[0] for e in expected], section["number"]
        for row, (_, cells) in zip(printed, expected, strict=True):
            if len(cells) == 1:  # hidden: the reason, then empty cells
                assert row[1] == cells[0]
                assert set(row[2:]) == {""}
            else:
                assert list(row[1 : 1 + len(cells)]) == cells, (section["number"], row)
    assert len(doc.inline_shapes) == 15  # the trend of each of the 15 measured indicators
    texts = [p.text for p in doc.paragraphs]
    assert sum(t.endswith("– besvaras om fråga 8 är Ja") for t in texts) == 2
    at = texts.index("Första stycket.")
    assert texts[at - 1] == "Kommentarer"
    assert texts[at + 1] == "Andra stycket om kvinnor och män."
    overview = [r for r in tables[0] if r[0] == "6" and r[1] == "Deltagare avslut"]
    expected = next(
        r
        for r in context["overview_rows"]
        if r["indicator"] == 6 and r["group"] == "Deltagare avslut"
    )
    assert overview == [
        (
            "6",
            "Deltagare avslut",
            str(expected["n"]),
            f"{expected['positive']}%",
            expected["change_text"] or "–",
        )
    ]


def test_xlsx_has_numbers_with_percentage_formats_in_swedish(demo, admin_client, app, runner):
    _demo(app, runner)
    workbook = load_workbook(io.BytesIO(admin_client.get(f"/rapport/{YEAR}/rapport.xlsx").data))
    context = _context(app)
    sheet = workbook["Indikator 1"]
    assert sheet.freeze_panes == "A3"
    header = [c.value for c in sheet[2]]
    assert header[:7] == [
        "Fråga",
        "Respondentgrupp",
        "Grupp",
        "n",
        "Negativt",
        "Varken eller",
        "Positivt",
    ]
    rows = list(sheet.iter_rows(min_row=3))
    rows = rows[: [r[0].value for r in rows].index(None)]  # the table, before its notes
    section = context["sections"][0]
    shown = [r for g in section["groups"] for r in g["rows"] if not r.suppressed]
    assert len(rows) == sum(len(g["rows"]) for g in section["groups"])
    for cells, expected in zip(
        rows, [r for g in section["groups"] for r in g["rows"]], strict=True
    ):
        assert cells[3].value == expected.values["n"]
        if expected.suppressed:
            continue
        assert isinstance(cells[6].value, float)
        assert round(cells[6].value * 100) == expected.values["positive"]
        assert cells[6].number_format == "0%"
        assert cells[8].number_format == "0%"
    assert shown
    overview = workbook["I korthet"]
    assert overview.freeze_panes == "A3"
    assert [c.value for c in overview[2]][:4] == [
        "Indikator",
        "Respondentgrupp",
        "n (respondenter)",
        f"Positivt {YEAR}",
    ]
    first = next(r for r in context["overview_rows"] if not r["empty"])
    row = [c for c in overview[3]]
    assert row[2].value == first["n"]
    assert row[3].number_format == "0%"
    assert round(row[3].value * 100) == first["positive"]
    assert workbook["Enkäter"]["A3"].value == "Deltagare pågående"


def test_trend_chart_has_a_panel_per_question_and_a_labelled_riket(demo, admin_client, app, runner):
    _demo(app, runner)
    svg = admin_client.get(f"/rapport/{YEAR}/diagram/1-tid.svg").text
    assert "Förbundets utveckling över tid" in svg
    for entry in (">kvinnor<", ">män<", ">Samtliga<", ">Riket<"):
        assert entry in svg, entry
    from surveys.reports.assets import chart

    with app.app_context():
        s = db.session()
        data = published_report(s, instrument_from_db(s), year=YEAR)
        spec = chart(data, year=YEAR, indicator=1, kind="tid").to_dict()
    values = [v for d in spec["datasets"].values() for v in d]
    riket = [v for v in values if v["linje"] == "Riket"]
    assert riket, "the demo has national figures for indicator 1"
    assert {v["roll"] for v in riket} == {"Riket"}
    panels = {v["panel"] for v in values}
    assert panels == {"Deltagare pågående|fråga 1", "Deltagare avslut|fråga 1"}
    assert spec["spec"]["layer"][0]["encoding"]["color"]["field"] == "roll"


def test_every_chart_of_the_year_is_valid_vega_lite(demo, app, runner):
    """The charts are drawn without Altair's schema check (a third of their time), so it
    is done here, whole, for every chart of every indicator in both kinds: ``to_dict``
    validates, and the drawn specification is the validated one."""
    import json

    from surveys.reports.assets import KINDS, chart

    _demo(app, runner)
    with app.app_context():
        s = db.session()
        data = published_report(s, instrument_from_db(s), year=YEAR)
        drawn = 0
        for indicator in data.instrument.indicators:
            for kind in KINDS:
                made = chart(data, year=YEAR, indicator=indicator, kind=kind)
                if made is None:
                    continue
                checked = made.to_dict()  # raises on a spec Vega-Lite's schema refuses
                assert json.loads(made.to_json(validate=False)) == checked
                drawn += 1
    assert drawn == 30  # every chart the year's page shows (15 indicators with figures)


def test_page_has_title_block_collection_and_sized_lazy_charts(demo, admin_client, app, runner):
    _demo(app, runner, name=None)
    page = admin_client.get(f"/rapport/{YEAR}").text
    assert 'class="forbund">Indikatorer för finansiell samordning<' in page  # neutral fallback
    assert "<svg" not in page  # charts are images of their own (tests/test_report_weight.py)
    assert page.count('loading="lazy"') == 30
    assert admin_client.get(f"/rapport/{YEAR}/utskrift").text.count('<svg role="img"') == 15
    context = _context(app)
    collection = context["collection"]
    assert collection["years"] == [YEAR, YEAR - 1, YEAR - 2]
    rows = table_rows(page)
    for row in collection["rows"]:
        assert (row["name"], *map(str, row["counts"])) in rows
    assert "Förhandsgranskning" not in page  # read from the publication
    assert page.count("– besvaras om fråga 8 är Ja</li>") == 2  # from the instrument
    # 2023 in the demo asks no participants during an intervention, as in the seed
    page_2023 = admin_client.get(f"/rapport/{YEAR - 1}").text
    assert "Förbundet har under 2023 inte tillfrågat deltagare pågående." in page_2023
    with app.app_context():
        s = db.session()
        s.add(Setting(key="forbund_name", value=FORBUND))
        s.commit()
    assert f'class="forbund">{FORBUND}<' in admin_client.get(f"/rapport/{YEAR}").text


def test_charts_are_rendered_once_and_read_back_from_the_cache(
    demo, admin_client, app, runner, tmp_path
):
    assets.clear_memory()  # earlier tests drew the same demo figures into this process
    _demo(app, runner)
    assets.clear_memory()
    admin_client.get(f"/rapport/{YEAR}")
    with app.app_context():
        s = db.session()
        key = published_report(s, instrument_from_db(s), year=YEAR).cache_key  # the förbund's
        stored = s.exec(
            select(ReportAsset).where(
                ReportAsset.name == f"{YEAR}-1-tid.svg", ReportAsset.cache_key == key
            )
        ).one()
        count = len(s.exec(select(ReportAsset)).all())
        mine = s.exec(select(ReportAsset).where(ReportAsset.cache_key == stored.cache_key)).all()
        # drawn when the demo published: 16 indicators × 2 kinds × SVG and PNG (11: "no chart")
        # and the four downloads, for the förbund (and likewise for each insats)
        assert len(mine) == 68
        # Replace the stored chart: the next page must show it, proving nothing is re-rendered.
        stored.body = (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="123" height="45">'
            b"<text>KONTROLL</text></svg>"
        )
        s.add(stored)
        s.commit()
    assets.clear_memory()
    page = admin_client.get(f"/rapport/{YEAR}").text
    assert re.search(
        r'<img src="/rapport/2024/diagram/1-tid\.svg\?v=\w+" width="123" height="45"', page
    )
    assert "KONTROLL" in admin_client.get(f"/rapport/{YEAR}/utskrift").text
    with app.app_context():
        assert len(db.session().exec(select(ReportAsset)).all()) == count
        first_key = stored.cache_key
    # five more answers (fewer would wait: DESIGN.md "Versions are tables too") and a new
    # publication: new figures, new charts; the published set stays
    path = tmp_path / "en.csv"
    path.write_text(
        "year,questionnaire,insats,gender,submitted_on,"
        + ",".join(f"q{i}" for i in range(1, 12))
        + f"\n{YEAR},styrelse,,,,6,6,6,6,6,,,,,," * 5
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 0, result.output
    printable = f"/rapport/{YEAR}/utskrift"
    assert "KONTROLL" in admin_client.get(printable).text  # frozen until republished
    assert runner.invoke(args=["publish", "--year", str(YEAR)]).exit_code == 0
    assert "KONTROLL" not in admin_client.get(printable).text
    with app.app_context():
        keys = {a.cache_key for a in db.session().exec(select(ReportAsset)).all()}
    assert len(keys) == 4  # förbund and both insatser as the demo published them, and the new
    assert first_key in keys


def test_comments_are_saved_audited_and_refused_with_control_characters_or_too_long(
    admin_client, app, runner, tmp_path
):
    from tests.factories import import_seed

    import_seed(runner, tmp_path, as_nns=True)  # the seed's own figures
    form = admin_client.get("/admin/kommentarer/2023")
    assert form.status_code == 200
    # the suggested starting line: figures only
    assert "Förbundets resultat för Deltagare avslut (samtliga) är 96 % positivt" in form.text
    token = form_token(form.text)
    bad = admin_client.post(
        "/admin/kommentarer/2023", data={"csrf_token": token, "text-1": "Ja\x07nej"}
    )
    assert bad.status_code == 400
    assert "styrtecken" in bad.text
    assert "Ingenting har sparats" in bad.text
    for turned in ("\u202eBättre", "Bättre\u2067än", "Ja\x85nej"):  # direction, C1 control
        refused = admin_client.post(
            "/admin/kommentarer/2023", data={"csrf_token": token, "text-1": turned}
        )
        assert refused.status_code == 400
        assert "styrtecken" in refused.text
    long = admin_client.post(
        "/admin/kommentarer/2023", data={"csrf_token": token, "text-1": "a" * 4001}
    )
    assert long.status_code == 400
    assert "Högst 4000 tecken" in long.text
    with app.app_context():
        assert db.session().exec(select(ReportComment)).all() == []
    good = "Bättre än i fjol: 96 % > 91 %.\n\nVi fortsätter arbetet & följer upp."
    saved = admin_client.post(
        "/admin/kommentarer/2023",
        data={"csrf_token": token, "text-0": "Inledning.", "text-1": good, "text-4": ""},
    )
    assert saved.status_code == 302
    with app.app_context():
        s = db.session()
        rows = {c.indicator: c for c in s.exec(select(ReportComment)).all()}
        assert rows[1].text == good
        assert rows[0].text == "Inledning."
        assert 4 not in rows  # an empty box that was never saved stores nothing
        assert rows[1].updated_by == "administratör-0@example.invalid"
        actions = [(a.action, a.detail) for a in s.exec(select(AuditEntry)).all()]
    assert ("kommentar.ändra", f"2023 indikator 1, {len(good)} tecken") in actions
    page = admin_client.get("/rapport/2023").text
    assert '<p class="comment">Bättre än i fjol: 96 % &gt; 91 %.</p>' in page
    # the introduction and the comment are in the Excel file too
    workbook = load_workbook(io.BytesIO(admin_client.get("/rapport/2023/rapport.xlsx").data))
    overview = [r[0] for r in workbook["I korthet"].iter_rows(values_only=True)]
    assert overview[overview.index("Inledning") + 1] == "Inledning."
    sheet = [r[0] for r in workbook["Indikator 1"].iter_rows(values_only=True)]
    assert sheet[sheet.index("Kommentarer") + 1 :] == [
        "Bättre än i fjol: 96 % > 91 %.",
        "Vi fortsätter arbetet & följer upp.",
    ]
    assert "Vi fortsätter arbetet &amp; följer upp." in page
    # an emptied comment stays empty: the suggestion is not offered again
    again = admin_client.get("/admin/kommentarer/2023").text
    assert re.search(r'name="text-4"[^>]*></textarea>', again)
    # a year without answers: no preview job, a Swedish message on the publishing page
    missing = admin_client.get("/admin/kommentarer/2019", follow_redirects=True)
    assert "Det finns inga svar för 2019 att förhandsgranska." in missing.text


def test_staff_cannot_edit_comments(client, make_user, app):
    from tests.conftest import login

    login(client, make_user("personal", insatser=("Steget",)))
    assert client.get("/admin/kommentarer/2023").status_code in (302, 403)
    with app.app_context():
        assert db.session().exec(select(ReportComment)).all() == []


def test_summary_counts_respondents_and_marks_chance_changes(admin_client, runner, tmp_path):
    path = tmp_path / "svar.csv"
    path.write_text(seedrows.csv_text(), encoding="utf-8")
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    rows = table_rows(admin_client.get("/rapport/2023").text)
    # indicator 6 pools questions 9 and 10: n is the 115 respondents, not 115 + 115 answers
    assert any(r[:3] == ("6", "Deltagare avslut", "115") for r in rows)


@pytest.mark.parametrize(
    ("now", "size", "before", "before_size", "expected"),
    [
        (63, 8, 75, 8, False),  # the board of eight: chance
        (96, 113, 89, 114, True),
        (80, 15, 80, 15, False),
        (100, 10, 100, 12, False),
    ],
)
def test_change_significance(now, size, before, before_size, expected):
    assert change_is_significant(now, size, before, before_size) is expected


def test_two_proportion_z_value():
    # p1 = 0.6, p2 = 0.4, n = 100 each: pooled 0.5, se = sqrt(0.25 · 0.02) = 0.0707
    assert two_proportion_z(0.6, 100, 0.4, 100) == pytest.approx(2.828, abs=0.001)
    assert change_is_significant(50, None, 40, 10) is None


def test_cli_pdf_and_missing_year(demo, app, runner, tmp_path):
    _demo(app, runner)
    out = tmp_path / "r.pdf"
    result = runner.invoke(
        args=["report", "--year", str(YEAR), "--format", "pdf", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"%PDF-"
    assert len(PdfReader(str(out)).pages) > 16
    result = runner.invoke(
        args=["report", "--year", "2019", "--format", "docx", "--output", str(out)]
    )
    assert result.exit_code != 0
    assert "År 2019 är inte publicerat" in result.output


def test_a_questions_condition_in_the_report_is_read_from_the_instrument():
    """Page, PDF and Word say when a question is asked from the instrument: renumber the
    gate and change the answer, and the words follow."""
    from dataclasses import replace

    from indicators import Instrument
    from surveys.paths import INSTRUMENT_FILE
    from surveys.reports.context import condition_text

    instrument = Instrument.load(INSTRUMENT_FILE)
    qn = instrument.questionnaire("deltagare_avslut")
    assert condition_text(instrument, qn.question(9)) == "besvaras om fråga 8 är Ja"
    assert condition_text(instrument, qn.question(8)) == ""
    moved = replace(qn.question(8), number=7)
    asked = replace(qn.question(9), condition_question=7, condition_code=2)
    changed = replace(instrument, questionnaires=(replace(qn, questions=(moved, asked)),))
    assert condition_text(changed, asked) == "besvaras om fråga 7 är Nej"


def test_a_gate_questions_share_is_named_by_its_scale_in_the_instrument():
    """The gate question is shown as the share of its positive answer: the words come
    from its scale's labels, so a relabelled scale is followed on the page, in PDF and
    Word (one text, made in context.py) and in the charts."""
    from dataclasses import replace

    from indicators import Instrument
    from surveys.paths import INSTRUMENT_FILE
    from surveys.reports.context import gate_kind_text, gate_share_text

    instrument = Instrument.load(INSTRUMENT_FILE)
    gate = instrument.question("deltagare_avslut", 8)
    assert gate is not None
    assert gate.gate
    assert gate_share_text(instrument, gate) == (
        ", andel Ja (Ja räknas som positivt, Nej som negativt)"
    )
    assert gate_kind_text(instrument, gate) == " – ja/nej-fråga, andel Ja"
    assert gate_share_text(instrument, instrument.question("deltagare_avslut", 1)) == ""
    scale = instrument.scales[gate.scale]
    relabelled = tuple(
        replace(o, label={"Ja": "Absolut", "Nej": "Inte alls"}.get(o.label, o.label))
        for o in scale.options
    )
    changed = replace(
        instrument, scales={**instrument.scales, gate.scale: replace(scale, options=relabelled)}
    )
    assert gate_share_text(changed, gate) == (
        ", andel Absolut (Absolut räknas som positivt, Inte alls som negativt)"
    )
    assert gate_kind_text(changed, gate) == " – absolut/inte alls-fråga, andel Absolut"
