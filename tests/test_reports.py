"""The report: seed rows printed exactly, downloads and CLI agree, nothing suppressed leaks."""

from __future__ import annotations

import csv
import io

import pandas as pd
from openpyxl import load_workbook

from surveys.reports.context import COMPLEMENTARY_TEXT
from tests import seedrows
from tests.conftest import table_rows
from tests.factories import import_history, import_seed


def test_report_prints_the_seed_rows_exactly(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)
    page = admin_client.get("/rapport/2023")
    assert page.status_code == 200
    rows = table_rows(page.text)
    for label, negative, neutral, positive, rate in seedrows.PRINTED:
        label = "Samtliga " + label if label.startswith("(n=") else label  # every row labelled
        assert (label, negative, neutral, positive, rate, "", "") in rows, label
    assert "Indikatorerna 2023" in page.text
    assert "Resultatet i korthet" in page.text
    assert "Ingen nationell mätning ännu" in page.text  # indicator 11
    # the gate row: Ja share as Positivt, no Klart positivt
    assert ("Samtliga (n=118)", "2%", "0%", "98%", "99%", "", "") in rows


def test_downloads_and_cli_agree(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)
    web_csv = admin_client.get("/rapport/2023/rapport.csv")
    assert web_csv.headers["Content-Type"].startswith("text/csv")
    cli_csv = runner.invoke(args=["report", "--year", "2023", "--format", "csv"]).output
    assert web_csv.text == cli_csv
    rows = list(csv.DictReader(io.StringIO(cli_csv)))
    assert list(rows[0]) == [
        "year",
        "indicator",
        "questionnaire",
        "question",
        "subgroup",
        "n",
        "answered",
        "negative_n",
        "neutral_n",
        "positive_n",
        "clearly_positive_n",
        "response_rate",
        "negative",
        "neutral",
        "positive",
        "clearly_positive",
        "suppressed",
        "left_out",  # DESIGN.md "Report CSV": questionnaires a row leaves out
    ]
    xlsx = admin_client.get("/rapport/2023/rapport.xlsx")
    workbook = load_workbook(io.BytesIO(xlsx.data))
    assert workbook.sheetnames == [
        "I korthet",
        "Enkäter",
        *[f"Indikator {i}" for i in range(1, 17)],
        "Data",
    ]
    data_rows = list(workbook["Data"].iter_rows(values_only=True))
    assert len(data_rows) == len(rows) + 2  # title and header rows
    assert data_rows[1][:5] == (
        "År",
        "Indikator",
        "Respondentgrupp",
        "Fråga (tom = sammanslagen)",
        "Grupp",
    )
    sheet1 = [tuple(r) for r in workbook["Indikator 1"].iter_rows(values_only=True)]
    assert (
        1,
        "Deltagare avslut",
        "Samtliga",
        118,
        0.02,
        0.03,
        0.96,
        0.81,
        0.96,
        None,  # Riket (positivt): no Riket file imported
        None,  # Riket n
        None,  # larger than chance: nothing to compare with
        None,  # no note
    ) in sheet1
    out = tmp_path / "r.xlsx"
    runner.invoke(args=["report", "--year", "2023", "--format", "xlsx", "--output", str(out)])
    cli_data = list(load_workbook(out)["Data"].iter_rows(values_only=True))
    assert cli_data == data_rows
    html = runner.invoke(args=["report", "--year", "2023", "--format", "html"]).output
    assert "<style>" in html
    assert '<svg role="img"' in html
    assert "loading=" not in html
    assert ("kvinnor (n=63)", "7%", "9%", "84% (77%)", "89%", "", "") in table_rows(html)


def test_charts_render_offline_as_svg_and_png(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)
    svg = admin_client.get("/rapport/2023/diagram/1-ar.svg")
    assert svg.status_code == 200
    assert svg.data.lstrip().startswith(b"<svg")
    png = admin_client.get("/rapport/2023/diagram/6-tid.png?ladda-ner=1")
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "attachment" in png.headers["Content-Disposition"]
    assert admin_client.get("/rapport/2023/diagram/11-ar.svg").status_code == 404
    assert admin_client.get("/rapport/2023/diagram/1-xx.svg").status_code == 404


def test_small_cells_never_leak(admin_client, runner, tmp_path):
    header = "year,questionnaire,insats,gender,submitted_on," + ",".join(
        f"q{i}" for i in range(1, 12)
    )
    lines = [header]
    lines += ["2024,deltagare_avslut,A,kvinna,2024-05-01,1,,,,,,,,,," for _ in range(3)]
    lines += ["2024,deltagare_avslut,A,man,2024-05-01,6,,,,,,,,,," for _ in range(12)]
    path = tmp_path / "small.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2024"]).exit_code == 0
    text = runner.invoke(args=["report", "--year", "2024"]).output
    rows = {
        (r["question"], r["subgroup"]): r
        for r in csv.DictReader(io.StringIO(text))
        if r["indicator"] == "1"
    }
    # kvinnor small; everyone answered, so män's answered = n would give kvinnor from
    # samtliga: samtliga is hidden (the total, as the bounds audit needs), män shown
    for subgroup, kind in (("kvinnor", "primary"), ("samtliga", "complementary")):
        r = rows[("1", subgroup)]
        assert r["suppressed"] == kind
        assert r["answered"] == r["negative"] == r["positive"] == r["negative_n"] == ""
    assert rows[("1", "man")]["positive"] == "100"
    page = admin_client.get("/rapport/2024").text
    assert ("kvinnor (n=3)", "Färre än 5 svar") in table_rows(page)
    # samtliga is hidden only so that kvinnor cannot be derived: never "Färre än" for that
    assert ("Samtliga (n=15)", "Dold så att en mindre grupp inte kan räknas fram") in (
        table_rows(page)
    )
    from surveys import db
    from surveys.reports.assets import chart
    from surveys.reports.data import published_report
    from surveys.services.catalogue import instrument_from_db

    with admin_client.application.app_context():
        s = db.session()
        data = published_report(s, instrument_from_db(s), year=2024)
        for kind in ("ar", "tid"):
            spec = chart(data, year=2024, indicator=1, kind=kind).to_json()
            # no bar or line of kvinnor (the legend names the four lines in every chart)
            assert '"roll":"kvinnor"' not in spec.replace(" ", "")
            if kind == "ar":  # the year's bars: män, not the hidden kvinnor and samtliga
                assert "kvinnor" not in spec
                assert "samtliga" not in spec.lower()
                assert "fråga 1 – män" in spec
    workbook = load_workbook(io.BytesIO(admin_client.get("/rapport/2024/rapport.xlsx").data))
    sheet = [tuple(r) for r in workbook["Indikator 1"].iter_rows(values_only=True)]
    note = "Färre än 5 svar"
    assert (1, "Deltagare avslut", "Kvinnor", 3, *[None] * 8, note) in sheet
    other = "Dold så att en mindre grupp inte kan räknas fram"
    assert (1, "Deltagare avslut", "Samtliga", 15, *[None] * 8, other) in sheet


def test_history_and_national_show_in_tables_and_charts(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, publish=False, as_nns=True)
    import_history(runner, tmp_path, "2022,deltagare_avslut,1,samtliga,120,5,6,89,70,95")
    national = tmp_path / "n.csv"
    national.write_text(
        "year,questionnaire,question,subgroup,positive\n"
        "2023,deltagare_avslut,1,samtliga,91\n"
        "2022,deltagare_avslut,1,samtliga,90\n",
        encoding="utf-8",
    )
    assert runner.invoke(args=["import", "national", str(national)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0  # Riket frozen with it
    rows = table_rows(admin_client.get("/rapport/2023").text)
    assert ("Samtliga (n=118)", "2%", "3%", "96% (81%)", "96%", "91%", "+5") in rows
    # Resultatet i korthet: +7 since the imported 2022 figure (89 → 96); with about 114
    # respondents each year z ≈ 2.0 > 1.96, so it is marked as larger than chance (*)
    assert any(r[:5] == ("1", "Deltagare avslut", "118", "96%", "+7*") for r in rows)
    old = table_rows(admin_client.get("/rapport/2022").text)
    assert (
        "Samtliga (n=120) (importerad)",
        "5%",
        "6%",
        "89% (70%)",
        "95%",
        "90%",
        "\u22121",
    ) in old
    from surveys import db
    from surveys.reports.assets import chart
    from surveys.reports.data import published_report
    from surveys.services.catalogue import instrument_from_db

    with admin_client.application.app_context():
        s = db.session()
        data = published_report(s, instrument_from_db(s), year=2023)
        spec = chart(data, year=2023, indicator=1, kind="tid").to_dict()
        values = [v for d in spec["datasets"].values() for v in d]
    assert {"år": 2022, "källa": "Förbundet (importerad)", "positivt": 89}.items() <= next(
        v for v in values if v["år"] == 2022 and v["linje"] == "Förbundet"
    ).items()
    assert any(v["linje"] == "Riket" and v["positivt"] == 91 for v in values)


def test_comparability_break_separates_periods(instrument):
    from indicators import score
    from indicators.charts import trend_chart

    frame = pd.DataFrame(
        [
            {
                "response": f"r{y}{i}",
                "year": y,
                "questionnaire": "deltagare_avslut",
                "question": 4,
                "question_version": "",
                "intervention": "A",
                "gender": None,
                "code": 6,
            }
            for y in (2020, 2021)
            for i in range(6)
        ]
    ).astype({"code": "Int64"})
    chart_obj = trend_chart(score(frame, instrument), pd.DataFrame(), instrument, indicator=4)
    spec = chart_obj.to_dict()
    values = [v for d in spec["datasets"].values() for v in d]
    assert len({v["grupp"] for v in values}) == 2  # two lines, never joined
    assert spec["spec"]["layer"][0]["encoding"]["detail"]["field"] == "grupp"


def test_no_data_and_bad_filters_get_swedish_pages(admin_client, runner, tmp_path):
    empty = admin_client.get("/rapport")
    assert empty.status_code == 404
    assert "Inga resultat är publicerade ännu" in empty.text
    import_seed(runner, tmp_path, as_nns=True)
    assert admin_client.get("/rapport").headers["Location"].endswith("/rapport/2023")
    page = admin_client.get("/rapport/2019")
    assert page.status_code == 404
    assert "Resultaten för 2019 är inte publicerade" in page.text
    assert "Publicerade år: 2023" in page.text
    assert admin_client.get("/rapport/2023?insats=finnsinte").status_code == 404
    result = runner.invoke(args=["report", "--year", "2023", "--insats", "Okänd"])
    assert result.exit_code != 0
    assert "Kända insatser: Steget" in result.output
    result = runner.invoke(args=["report", "--year", "2019"])
    assert result.exit_code != 0
    assert "År 2019 är inte publicerat" in result.output


def test_filter_by_intervention(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, publish=False, as_nns=True)
    path = tmp_path / "b.csv"
    header = "year,questionnaire,insats,gender,submitted_on," + ",".join(
        f"q{i}" for i in range(1, 12)
    )
    path.write_text(
        header
        + "\n"
        + "\n".join("2023,deltagare_avslut,Annan,,2023-04-01,1,,,,,,,,,," for _ in range(10))
        + "\n",
        encoding="utf-8",
    )
    assert runner.invoke(args=["import", "answers", str(path)]).exit_code == 0
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    everyone = runner.invoke(args=["report", "--year", "2023"]).output
    only = runner.invoke(args=["report", "--year", "2023", "--insats", "Annan"]).output
    assert "2023,1,deltagare_avslut,1,samtliga,128," in everyone
    assert "2023,1,deltagare_avslut,1,samtliga,10,10,10,0,0,0,100,100,0,0,0,,0" in only
    from surveys import db
    from surveys.services.rounds import intervention_by_name

    with admin_client.application.app_context():
        annan = intervention_by_name(db.session(), "Annan").id
    page = admin_client.get(f"/rapport/2023?insats={annan}")
    assert "Indikatorerna 2023 – Annan" in page.text
    assert ("Samtliga (n=10)", "100%", "0%", "0% (0%)", "100%", "", "") in table_rows(page.text)


def test_printable_report_has_a4_page_breaks(admin_client, runner, tmp_path):
    import_seed(runner, tmp_path, as_nns=True)
    page = admin_client.get("/rapport/2023/utskrift")
    assert page.text.count('class="indicator"') == 16
    css = admin_client.get("/static/css/app.css")
    assert "size: A4" in css.text
    assert "break-before: page" in css.text
    css.close()


def test_a_year_without_answers_breaks_the_line(instrument):
    from indicators import score
    from indicators.charts import trend_chart

    frame = pd.DataFrame(
        [
            {
                "response": f"r{y}{i}",
                "year": y,
                "questionnaire": "deltagare_pagaende",
                "question": 1,
                "question_version": "",
                "intervention": "A",
                "gender": None,
                "code": 6,
            }
            for y in (2021, 2022, 2024)
            for i in range(6)
        ]
    ).astype({"code": "Int64"})
    spec = trend_chart(score(frame, instrument), pd.DataFrame(), instrument, indicator=1)
    values = [v for d in spec.to_dict()["datasets"].values() for v in d]
    groups = {v["år"]: v["grupp"] for v in values}
    assert groups[2021] == groups[2022] != groups[2024]  # 2023 was not measured


def test_a_history_only_year_is_protected_with_the_threshold_in_force(
    app, admin_client, runner, tmp_path
):
    """A year known only from imported history has no publication to take its threshold
    from: it is shown with the one in force (MIN_CELL here, 8), not a fixed 5."""
    app.config["MIN_CELL"] = 8
    import_seed(runner, tmp_path, publish=False, as_nns=True)
    import_history(
        runner,
        tmp_path,
        "2022,deltagare_avslut,1,samtliga,7,0,14,86,57,95",
        "2022,deltagare_avslut,2,samtliga,40,5,15,80,50,95",
    )
    rows = table_rows(admin_client.get("/rapport/2022").text)
    assert ("Samtliga (n=7) (importerad)", "Färre än 8 svar") in rows
    assert ("Samtliga (n=40) (importerad)", "5%", "15%", "80% (50%)", "95%", "", "") in rows
    assert not any("86%" in cell for r in rows for cell in r)


def test_an_imported_twin_hidden_for_the_small_one_says_so_not_fewer_than(
    app, admin_client, runner, tmp_path
):
    """Imported history: kvinnor 3 answers is hidden for its size, and män 17 with it (it
    would give kvinnor away from samtliga). The page says why each is hidden: "Färre än
    5 svar" only for kvinnor, never for the 17 of män."""
    import_seed(runner, tmp_path, publish=False, as_nns=True)
    import_history(
        runner,
        tmp_path,
        "2022,deltagare_avslut,1,samtliga,20,5,15,80,50,95",
        "2022,deltagare_avslut,1,kvinnor,3,0,0,100,67,95",
        "2022,deltagare_avslut,1,man,17,6,18,76,47,95",
    )
    rows = table_rows(admin_client.get("/rapport/2022").text)
    assert ("kvinnor (n=3) (importerad)", "Färre än 5 svar") in rows
    assert ("män (n=17) (importerad)", COMPLEMENTARY_TEXT) in rows
    assert ("Samtliga (n=20) (importerad)", "5%", "15%", "80% (50%)", "95%", "", "") in rows
