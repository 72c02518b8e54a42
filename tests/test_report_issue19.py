"""Issue 19: the report as handed in — reasons for hidden rows, print-fit method note, compact
PDF, Word to type into, small-multiple charts, comments per scope, frozen history.

Real parts: pypdf, python-docx, openpyxl, vl-convert's PNG, SQLite/PostgreSQL.
"""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from docx import Document
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader
from sqlmodel import select

from indicators.disclosure import suppression_kind
from surveys import clock, db
from surveys.models import AuditEntry, Intervention, Publication, ReportComment
from surveys.reports.context import (
    COMPLEMENTARY_TEXT,
    change_text,
    hidden_text,
    left_out_notes,
    publication_line,
)
from tests.conftest import form_token, scalar, table_rows
from tests.factories import CHEF, chef, import_history, import_seed

REFERENCE = Path(__file__).parent / "data" / "trend_reference.png"
PUBLISHED = datetime(2026, 12, 5, 6, 4, 5, 707391, tzinfo=UTC)  # the timestamp


# --- words ------------------------------------------------------------------------------


def test_hidden_rows_say_which_reason_and_never_fewer_than_for_the_second():
    assert hidden_text("primary", 5) == "Färre än 5 svar"
    assert hidden_text("complementary", 5) == COMPLEMENTARY_TEXT
    assert "Färre" not in hidden_text("complementary", 5)
    # publications made before the revised rules: only "för få svar" was a small cell
    assert suppression_kind(True, "för få svar") == "primary"
    assert suppression_kind(True, "kan räknas fram (kön)") == "complementary"
    assert suppression_kind(True, "ändrad sedan förra publiceringen") == "complementary"
    assert suppression_kind("complementary", "") == "complementary"
    assert suppression_kind("", "") == suppression_kind(False, "") == ""
    groups = [
        {"question": 1, "short_name": "Deltagare avslut", "left_out": {"left_out_gender": 2}},
        {"question": 2, "short_name": "Deltagare avslut", "left_out": {"left_out_gender": 2}},
    ]
    assert left_out_notes(groups) == [
        "2 svar utan angivet kön ingår inte, för få för att redovisas."
    ]
    groups[1]["left_out"] = {"left_out_insats": 3}
    assert left_out_notes(groups) == [
        "Fråga 1, Deltagare avslut: 2 svar utan angivet kön ingår inte, för få för att redovisas.",
        "Fråga 2, Deltagare avslut: 3 svar utan insats ingår inte, för få för att redovisas.",
    ]


def test_publication_line_is_a_swedish_date_in_stockholm_and_names_nobody():
    line = publication_line(
        {"version": 1, "published_at": PUBLISHED, "published_by": "admin@demo.invalid"}
    )
    assert line == "Publicerad 5 december 2026, version 1"
    # 23:30 UTC on New Year's Eve is already 1 January in Stockholm
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert publication_line({"version": 2, "published_at": late}).startswith(
        "Publicerad 1 januari 2027"
    )
    assert change_text(-5, False) == "\u22125"  # a real minus sign
    assert change_text(0, False) == "±0"


# --- charts -----------------------------------------------------------------------------


def _trend_fixture(instrument):
    from indicators import score

    rows = []
    for year, codes in ((2021, (6, 5, 2)), (2022, (6, 6, 3)), (2023, (5, 6, 6)), (2024, (6, 6, 4))):
        for i in range(30):
            gender = "kvinna" if i % 2 else "man"
            for question in (8, 9, 10):
                code = codes[(i // 2) % 3] if gender == "kvinna" else (6 if i % 6 else 3)
                if question == 8:
                    code = 1 if (i % 5 or gender == "man") else 2
                rows.append(
                    {
                        "response": f"r{year}{i}",
                        "year": year,
                        "questionnaire": "deltagare_avslut",
                        "question": question,
                        "question_version": "",
                        "intervention": "A",
                        "gender": gender,
                        "code": code,
                    }
                )
    frame = pd.DataFrame(rows).astype({"code": "Int64"})
    national = pd.DataFrame(
        [
            {"year": y, "questionnaire": "deltagare_avslut", "question": 9, "subgroup": "samtliga"}
            | {"positive": p}
            for y, p in ((2021, 80), (2022, 82), (2023, 84), (2024, 86))
        ]
    )
    return score(frame, instrument), national


def test_trend_chart_is_small_multiples_with_fixed_lines_and_text_size(instrument):
    from indicators.charts import PANEL_HEIGHT, PANEL_WIDTH, ROLE_COLORS, trend_chart

    results, national = _trend_fixture(instrument)
    spec = trend_chart(results, national, instrument, indicator=6).to_dict()
    values = [v for d in spec["datasets"].values() for v in d]
    panels = {v["panel"] for v in values}
    assert panels == {
        "Deltagare avslut|fråga 8, andel Ja",  # the gate question as a share of Ja
        "Deltagare avslut|fråga 9",
        "Deltagare avslut|fråga 10",
    }
    assert spec["spec"]["width"] == PANEL_WIDTH
    assert spec["spec"]["height"] == PANEL_HEIGHT
    layers = spec["spec"]["layer"]
    color = layers[0]["encoding"]["color"]["scale"]
    # no comparison group here: it has no place in the legend (tests/test_riket_report.py)
    assert color == {"domain": ["Samtliga", "kvinnor", "män", "Riket"], "range": ROLE_COLORS[:4]}
    widths = layers[0]["encoding"]["strokeWidth"]["scale"]["range"]
    assert widths[0] > widths[1] == widths[2]  # Samtliga strong, kvinnor and män thinner
    assert layers[0]["encoding"]["strokeDash"]["scale"]["range"][3] != [1, 0]  # Riket dashed
    assert any(v["roll"] == "Riket" and v["etikett"] == "Riket" for v in values)  # labelled
    assert spec["config"]["axis"]["labelFontSize"] >= 11
    assert spec["config"]["legend"]["labelFontSize"] >= 11
    assert layers[1]["transform"] == [{"filter": "datum.roll == 'Samtliga'"}]  # drawn on top
    assert layers[3]["mark"]["fontSize"] >= 11


def test_trend_chart_matches_its_reference_image(instrument):
    """Visual regression: the rendered PNG stays within a small tolerance of the stored one.

    After an intended change of the charts, delete tests/data/trend_reference.png and run
    this test once: it writes the new reference (check it by eye, then commit it)."""
    from indicators.charts import render, trend_chart

    results, national = _trend_fixture(instrument)
    png = render(trend_chart(results, national, instrument, indicator=6).to_json(), "png")
    if not REFERENCE.exists():
        REFERENCE.write_bytes(png)
        pytest.skip("reference image written; commit tests/data/trend_reference.png")
    now = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    then = np.asarray(Image.open(REFERENCE).convert("L"), dtype=float)
    assert now.shape == then.shape
    differing = (np.abs(now - then) > 40).mean()
    assert differing < 0.01, f"{differing:.2%} of the pixels differ from the reference"


def test_a_charts_png_is_its_svg_rasterised_pixel_for_pixel(instrument):
    """The report stores a chart's PNG made from its SVG (laid out once): the same pixels,
    at the same size, as Vega-Lite's own PNG of the chart."""
    from indicators.charts import png_from_svg, render, trend_chart

    results, national = _trend_fixture(instrument)
    spec = trend_chart(results, national, instrument, indicator=6).to_json()
    direct = Image.open(io.BytesIO(render(spec, "png"))).convert("RGBA")
    from_svg = Image.open(io.BytesIO(png_from_svg(render(spec, "svg")))).convert("RGBA")
    assert from_svg.size == direct.size
    assert np.array_equal(np.asarray(from_svg), np.asarray(direct))


def test_drawing_a_years_charts_builds_each_chart_once_for_both_formats(
    app, runner, tmp_path, monkeypatch
):
    """prerender (after publishing, in the job) needs every chart as SVG for the page and
    PNG for PDF and Word: each chart is built once, and both bodies are stored."""
    from surveys.models import ReportAsset
    from surveys.reports import assets
    from surveys.reports.data import published_report
    from surveys.services.catalogue import instrument_from_db

    import_seed(runner, tmp_path)  # 2023 published
    built: list[tuple[int, str]] = []
    chart = assets.chart

    def counted(data, *, year, indicator, kind):
        built.append((indicator, kind))
        return chart(data, year=year, indicator=indicator, kind=kind)

    monkeypatch.setattr(assets, "chart", counted)
    with app.app_context():
        s = db.session()
        s.execute(ReportAsset.__table__.delete())
        s.commit()
        assets.clear_memory()
        data = published_report(s, instrument_from_db(s), year=2023)
        assert data is not None
        drawn = assets.prerender(data, year=2023)
        names = {a.name: a.body for a in s.exec(select(ReportAsset)).all()}
    assert sorted(built) == sorted(set(built))  # once each
    assert len(built) == len(names) // 2 == 16 * len(assets.KINDS)
    svgs = {n[: -len(".svg")] for n, body in names.items() if n.endswith(".svg") and body}
    pngs = {n[: -len(".png")] for n, body in names.items() if n.endswith(".png") and body}
    assert svgs == pngs
    assert drawn == 2 * len(svgs) > 0
    for stem in pngs:
        assert Image.open(io.BytesIO(names[f"{stem}.png"])).format == "PNG"


# --- the demo as handed in ----------------------------------------------------------------


SWEDISH_MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]


@pytest.mark.one_database  # the demo's published figures in four files: rendering only
def test_demo_pdf_word_excel_csv_fit_for_print(demo, admin_client, app, runner):
    with app.app_context():
        s = db.session()
        insatser = [i.id for i in s.exec(select(Intervention)).all()]
        published = s.exec(select(Publication).where(Publication.year == 2024)).one()
    at = published.published_at
    texts = []
    for query in ["", *(f"?insats={i}" for i in insatser)]:
        for fmt in ("pdf", "docx"):  # built by the demo's publication: read, not built
            started = time.perf_counter()
            response = admin_client.get(f"/rapport/2024/rapport.{fmt}{query}")
            assert time.perf_counter() - started < 2.0, (fmt, query)
            assert response.status_code == 200
    pdf = admin_client.get("/rapport/2024/rapport.pdf").data
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) <= 20
    for page in reader.pages:
        lines = [x.strip() for x in page.extract_text().splitlines() if x.strip()]
        body = [x for x in lines if not x.startswith(("Sida ", "Samordningsförbundet Demo ·"))]
        if page.images:  # a chart never stands alone: its indicator's heading is with it
            assert any(re.fullmatch(r"Indikator \d+", x) for x in body), body[:5]
    pdf_text = "\n".join(p.extract_text() for p in reader.pages)
    at = clock.local(at)  # stored in UTC, printed in Swedish time (the day changes at 23 or 22 UTC)
    day = f"{at.day} {SWEDISH_MONTHS[at.month - 1]} {at.year}"
    assert f"Publicerad {day}, version 1" in " ".join(pdf_text.split())
    assert "Om indikatorerna" in pdf_text
    texts.append(pdf_text)
    doc = Document(io.BytesIO(admin_client.get("/rapport/2024/rapport.docx").data))
    paragraphs = doc.paragraphs
    kommentarer = [i for i, p in enumerate(paragraphs) if p.text == "Kommentarer"]
    assert len(kommentarer) == 16  # one per indicator, with a paragraph to type into
    assert all(paragraphs[i].style.name == "Heading 2" for i in kommentarer)
    assert all(i + 1 < len(paragraphs) for i in kommentarer)
    texts.append("\n".join(p.text for p in paragraphs))
    workbook = load_workbook(io.BytesIO(admin_client.get("/rapport/2024/rapport.xlsx").data))
    texts += [str(c) for ws in workbook for row in ws.iter_rows(values_only=True) for c in row]
    texts.append(admin_client.get("/rapport/2024/rapport.csv").text)
    page = admin_client.get("/rapport/2024").text
    texts.append(page)
    everything = "\n".join(texts)
    assert "@demo.invalid" not in everything  # who published stays in the audit log
    assert at.strftime("%H:%M:%S") not in everything
    assert "+00:00" not in everything
    assert "För få svar för att visas (färre än" not in everything
    rows = table_rows(page)
    assert not any(r and r[0].startswith("(n=") for r in rows)  # every row labelled
    assert not any("-" in c and re.fullmatch(r"-\d+\*?", c) for r in rows for c in r)


# --- comments per scope ------------------------------------------------------------------


def test_comments_belong_to_their_scope_and_suggestions_are_stored_only_when_taken(
    admin_client, app, runner, tmp_path
):
    import_seed(runner, tmp_path, as_nns=True)
    form = admin_client.get("/admin/kommentarer/2023")
    assert form.status_code == 200
    assert "Förslag: Förbundets resultat för Deltagare avslut (samtliga) är 96 %" in form.text
    assert re.search(r'name="text-1"[^>]*></textarea>', form.text)  # the box stays empty
    token = form_token(form.text)
    data = {"csrf_token": token, **{f"text-{i}": "" for i in range(0, 17)}}
    data |= {"text-1": "Ett.", "text-2": "Två.", "use-4": "1", "use-6": ""}
    saved = admin_client.post("/admin/kommentarer/2023", data=data, follow_redirects=True)
    assert "3 kommentarer sparade" in saved.text, re.findall(
        r"class=\"flash[^<]*<[^<]*", saved.text
    )
    with app.app_context():
        s = db.session()
        rows = {c.indicator: c for c in s.exec(select(ReportComment)).all()}
        steget = s.exec(select(Intervention)).first()
    assert set(rows) == {1, 2, 4}
    assert rows[4].text.startswith("Förbundets resultat för")
    assert {r.scope for r in rows.values()} == {""}
    # an insats has its own comments: the förbund's are never printed in its report
    insats = admin_client.get(f"/rapport/2023?insats={steget.id}").text
    assert "Ett." not in insats
    form = admin_client.get(f"/admin/kommentarer/2023?insats={steget.id}")
    assert form.status_code == 200
    admin_client.post(
        f"/admin/kommentarer/2023?insats={steget.id}",
        data={"csrf_token": form_token(form.text), "text-1": "Insatsens egen."},
    )
    assert "Insatsens egen." in admin_client.get(f"/rapport/2023?insats={steget.id}").text
    assert "Insatsens egen." not in admin_client.get("/rapport/2023").text
    unknown = admin_client.get("/admin/kommentarer/2023?insats=finnsinte")
    assert unknown.status_code == 404
    assert "Insatsen finns inte" in unknown.text


def test_a_republication_that_changes_a_quoted_figure_warns(admin_client, app, runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)
    with app.app_context():
        s = db.session()
        s.add(
            ReportComment(
                year=2023,
                scope="",
                indicator=1,
                text="96 % positivt, mot 55 % förra året.",
                updated_at=datetime(2020, 1, 1, tzinfo=UTC),
                updated_by="test@example.invalid",
            )
        )
        s.commit()
    assert "nämner" not in admin_client.get("/admin/kommentarer/2023").text  # version 1
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    page = admin_client.get("/admin/kommentarer/2023").text
    assert "Kommentaren till indikator 1 skrevs före version 2 och nämner 55 %" in page
    assert "96 %" not in page.split("nämner", 1)[1].split(".", 1)[0]


# --- frozen history ----------------------------------------------------------------------


def test_history_imported_after_publishing_waits_for_the_republication(
    admin_client, runner, tmp_path
):
    import_seed(runner, tmp_path, as_nns=True)
    import_history(runner, tmp_path, "2022,deltagare_avslut,1,samtliga,120,5,6,89,70,95")
    national = tmp_path / "n.csv"
    national.write_text(
        "year,questionnaire,question,subgroup,positive\n2023,deltagare_avslut,1,samtliga,91\n",
        encoding="utf-8",
    )
    assert runner.invoke(args=["import", "national", str(national)]).exit_code == 0
    rows = table_rows(admin_client.get("/rapport/2023").text)
    assert not any(r[:5] == ("1", "Deltagare avslut", "118", "96%", "+7*") for r in rows)
    preview = admin_client.get("/admin/publicera/2023")
    if preview.status_code == 200 and "Riket ändras" in preview.text:
        assert "Riket ändras på 1 rader" in preview.text
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    rows = table_rows(admin_client.get("/rapport/2023").text)
    assert any(r[:5] == ("1", "Deltagare avslut", "118", "96%", "+7*") for r in rows)
    assert ("Samtliga (n=118)", "2%", "3%", "96% (81%)", "96%", "91%", "+5") in rows


# --- the övriga setting: every year again, in one step ----------------------------------


def _two_published_years(runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)
    path = tmp_path / "2024.csv"
    header = "year,questionnaire,insats,gender,submitted_on," + ",".join(
        f"q{i}" for i in range(1, 12)
    )
    lines = [f"2024,deltagare_avslut,Steget,{g},,6,5,,,,,,,,," for g in ["kvinna"] * 8 + [""] * 2]
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2024"]).exit_code == 0


def test_changing_the_setting_offers_every_year_and_is_refused_while_publishing(
    admin_client, app, runner, tmp_path
):
    from surveys.models import Setting
    from surveys.services import locks

    def setting() -> str | None:
        with app.app_context():
            stored = db.session().get(Setting, "protect_other")
            return None if stored is None else stored.value

    _two_published_years(runner, tmp_path)
    before = setting()
    overview = admin_client.get("/admin/publicera")
    token = form_token(overview.text)
    with app.app_context():
        held = locks.take(db.session(), 2024)  # another process publishing 2024
    try:
        refused = admin_client.post(
            "/admin/publicera/installning",
            data={"csrf_token": token, "protect": "y"},  # the seed is published as NNS's
            follow_redirects=True,
        )
        assert "En publicering pågår. Inställningen är inte ändrad" in refused.text
        assert setting() == before  # unchanged
    finally:
        held.release()  # a failed assertion must not leave 2024 locked for later tests
    changed = admin_client.post(
        "/admin/publicera/installning", data={"csrf_token": token, "protect": "y"}
    )
    assert changed.headers["Location"].endswith("/admin/publicera/alla-ar")
    page = admin_client.get("/admin/publicera/alla-ar")
    rows = table_rows(page.text)
    assert [r[:2] for r in rows[1:]] == [("2023", "2"), ("2024", "2")]
    assert "Publicera alla 2 år igen" in page.text


def test_republishing_every_year_stops_at_the_first_that_fails(app, runner, tmp_path):
    from surveys.services import locks
    from surveys.services import publications as pubs
    from surveys.services.catalogue import instrument_from_db
    from surveys.services.republish import republish_all

    _two_published_years(runner, tmp_path)
    with app.app_context():
        s = db.session()
        held = locks.take(s, 2024)  # another process publishing 2024
        done, stopped = republish_all(s, CHEF, instrument_from_db(s), min_cell=5)
        assert done == [2023]
        assert stopped is not None
        assert stopped.startswith("Publiceringen stannade vid 2024")
        assert "2023 är publicerade på nytt och ligger kvar" in stopped
        assert pubs.latest(s, 2023).version == 2
        assert pubs.latest(s, 2024).version == 1  # unchanged
        held.release()


# --- the opening -------------------------------------------------------------------------


def test_opening_has_standing_text_contact_details_and_an_insats_speaks_of_its_groups(
    admin_client, app, runner, tmp_path
):
    import_seed(runner, tmp_path, as_nns=True)
    page = admin_client.get("/rapport/2023").text
    assert page.index("Om indikatorerna") < page.index("Resultatet i korthet")
    assert "Hur vet vi att det blir bättre?" in page  # the default standing text
    form = admin_client.get("/admin/kommentarer/2023")
    saved = admin_client.post(
        "/admin/kommentarer/2023",
        data={
            "csrf_token": form_token(form.text),
            "om_indikatorerna": "Vår egen text om indikatorerna.",
            "kontakt": "www.sofvast.se\ninfo@sofvast.se tel. 0522 – 69 76 70",
        },
    )
    assert saved.status_code == 302
    page = admin_client.get("/rapport/2023").text
    assert "Vår egen text om indikatorerna." in page
    title_block = page.split('class="title-block"', 1)[1].split("</header>", 1)[0]
    assert "info@sofvast.se tel. 0522 – 69 76 70" in title_block
    pdf = PdfReader(io.BytesIO(admin_client.get("/rapport/2023/rapport.pdf").data))
    assert "www.sofvast.se" in pdf.pages[0].extract_text()
    with app.app_context():
        steget = db.session().exec(select(Intervention)).first()
    insats = admin_client.get(f"/rapport/2023?insats={steget.id}").text
    opening = insats.split('id="inledning"', 1)[1].split("</section>", 1)[0]
    assert "chefsgrupp" not in opening.lower()  # förbund-level groups: never an insats's
    assert "styrelse" not in opening.lower()
    assert "Deltagare avslut" in opening


def test_the_years_bar_chart_is_a_setting_off_in_print_by_default(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)

    def pdf_images() -> int:
        pdf = PdfReader(io.BytesIO(admin_client.get("/rapport/2023/rapport.pdf").data))
        return sum(len(page.images) for page in pdf.pages)

    trends = pdf_images()
    assert trends > 0
    assert admin_client.get("/rapport/2023").text.count("-ar.svg?v=") == trends  # page: always
    form = admin_client.get("/admin/kommentarer/2023")
    admin_client.post(
        "/admin/kommentarer/2023",
        data={"csrf_token": form_token(form.text), "installningar": "1", "bar_chart": "1"},
    )
    assert pdf_images() == 2 * trends  # every indicator's bars too, once asked for


def test_the_all_years_job_republishes_every_year_and_refuses_a_second(app, runner, tmp_path):
    from surveys import worker
    from surveys.services import jobs
    from surveys.services import publications as pubs

    _two_published_years(runner, tmp_path)
    with app.app_context():
        s = db.session()
        job = jobs.request_all_years(s, chef(s), min_cell=5)
        s.commit()
        with pytest.raises(jobs.JobError, match="En publicering pågår"):
            jobs.request_all_years(s, CHEF, min_cell=5)
        s.rollback()  # as the refused request ends (its check held the requests' turn)
        done = worker.run_inline(app, job.id)  # a worker does it
        assert done is not None
        assert done.status == jobs.DONE
        assert done.message == "2023, 2024 är publicerade på nytt."
        assert [pubs.latest(s, y).version for y in (2023, 2024)] == [2, 2]


def test_no_year_is_published_beside_a_job_republishing_every_year(app, runner, tmp_path):
    """While the all-years job waits or runs, neither the command nor the page's request
    publishes one of its years (the job would then publish it once more after)."""
    from surveys.services import jobs

    _two_published_years(runner, tmp_path)
    with app.app_context():
        s = db.session()
        jobs.request_all_years(s, chef(s), min_cell=5)
        s.commit()
        for year in (2023, 2024):
            with pytest.raises(jobs.JobError, match=f"År {year} håller redan på att publiceras"):
                jobs.request_publish(s, CHEF, year=year, min_cell=5)
        s.rollback()
    for year in (2023, 2024):
        done = runner.invoke(args=["publish", "--year", str(year)])
        assert done.exit_code == 1
        assert done.output.startswith(f"Fel: År {year} håller redan på att publiceras")
    assert scalar(app, "SELECT COUNT(*) FROM publication") == 2  # the two first versions


def _all_years_job_claimed(s, *, worker: str):
    """The administrator asks for every year again; ``worker`` claims the job (committed)."""
    from surveys.services import jobs

    job = jobs.request_all_years(s, chef(s), min_cell=5)
    s.commit()
    claimed = jobs.claim(s, worker=worker, job_id=job.id)
    s.commit()
    assert claimed is not None
    return claimed


def test_an_all_years_job_taken_up_again_publishes_each_year_once(
    app, runner, tmp_path, fake_clock
):
    """Its worker republished 2023 and died: the next worker republishes 2024 only, and
    each year's new version names the job (the years were published again before)."""
    from surveys import worker
    from surveys.models import Publication
    from surveys.services import jobs
    from surveys.services import publications as pubs
    from surveys.services.catalogue import instrument_from_db

    _two_published_years(runner, tmp_path)
    with app.app_context():
        s = db.session()
        job = _all_years_job_claimed(s, worker="a")
        pubs.publish(s, CHEF, instrument_from_db(s), year=2023, min_cell=5, job_id=job.id)
        # worker a dies here, before 2024
    fake_clock.advance(seconds=jobs.LEASE.total_seconds() + 1)
    done = worker.run_next(app, worker="b")
    assert done is not None
    assert (done.status, done.attempts) == (jobs.DONE, 2)
    assert done.message == "2023, 2024 är publicerade på nytt."
    with app.app_context():
        s = db.session()
        versions = {(p.year, p.version): p.job_id for p in s.exec(select(Publication)).all()}
        assert versions == {(2023, 1): None, (2024, 1): None, (2023, 2): job.id, (2024, 2): job.id}
        republished = s.exec(
            select(AuditEntry).where(AuditEntry.action == "publicering.publicera")
        ).all()
        assert sorted(e.detail.split()[0] for e in republished) == ["2023", "2023", "2024", "2024"]


def test_a_worker_that_lost_its_lease_but_republished_every_year_marks_the_job_done(
    app, runner, tmp_path, fake_clock
):
    """Worker a hung past its lease; b took the job up and failed on the year a was still
    publishing; a then finished every year. The job is done, as it is for one year's job:
    the stored publications are the truth whoever holds the job (it said "failed")."""
    from surveys.services import jobs
    from surveys.services import publications as pubs
    from surveys.services.catalogue import instrument_from_db

    _two_published_years(runner, tmp_path)
    with app.app_context():
        s = db.session()
        first = _all_years_job_claimed(s, worker="a")
        fake_clock.advance(seconds=jobs.LEASE.total_seconds() + 1)
        second = jobs.claim(s, worker="b", job_id=first.id)
        s.commit()
        assert second is not None
        busy = "År 2023 håller redan på att publiceras."
        assert jobs.finish(s, second, worker="b", status=jobs.FAILED, message=busy)
        s.commit()
        status, message = jobs.publish_all_years(s, instrument_from_db(s), first)
        assert (status, message) == (jobs.DONE, "2023, 2024 är publicerade på nytt.")
        assert jobs.finish(s, first, worker="a", status=status, message=message)
        s.commit()
        s.refresh(first)
        assert (first.status, first.message) == (jobs.DONE, message)
        assert [pubs.latest(s, y).version for y in (2023, 2024)] == [2, 2]
        # b's failure never overwrites a done job
        assert not jobs.finish(s, second, worker="b", status=jobs.FAILED, message=busy)
