"""Answers, history and national files: all-or-nothing imports with Swedish row/column messages."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from tests import seedrows
from tests.conftest import count_rows


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_then_export_then_import_reproduces_the_report(app, runner, tmp_path, database_url):
    path = write(tmp_path, "svar.csv", seedrows.csv_text())
    result = runner.invoke(args=["import", "answers", path])
    assert result.exit_code == 0, result.output
    assert "118 rader importerade" in result.output
    assert runner.invoke(args=["publish", "--year", "2023"]).exit_code == 0
    report_before = runner.invoke(args=["report", "--year", "2023", "--format", "csv"]).output
    exported = runner.invoke(args=["export", "answers"]).output
    # Exports carry no date: a stored questionnaire has none (DESIGN.md principle 1).
    assert exported.splitlines()[0] == (
        "year,questionnaire,insats,gender,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11"
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
        "2023,1,deltagare_avslut,1,samtliga,118,113,2,3,108,92,96,2,3,96,81,false" in report_after
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
        "2023,personal,A,,1.5.2023,6,,,,,,,,,,\n"  # an odd date: ignored like every date
        "2023,styrelse,,,2023-05-01,6,,,,,,,,,,6\n"  # q11 not in styrelse
    )
    result = runner.invoke(args=["import", "answers", write(tmp_path, "bad.csv", text)])
    assert result.exit_code != 0
    out = result.output
    assert "Rad 3, kolumn q1" in out
    assert "Rad 4, kolumn q9" in out and "besvaras bara om fråga 8 är Ja" in out
    assert "Rad 5, kolumn questionnaire" in out
    assert "Rad 6, kolumn gender" in out
    assert "Rad 7, kolumn year" in out
    assert "Rad 8" not in out and "submitted_on" not in out
    assert "Rad 9, kolumn q11" in out
    assert "Ingenting har importerats" in out
    assert "Rad 2" not in out
    assert count_rows(app, "response") == 0 and count_rows(app, "intervention") == 0


def test_missing_column_and_wrong_type_and_empty(app, runner, tmp_path):
    result = runner.invoke(
        args=["import", "answers", write(tmp_path, "a.csv", "year,questionnaire\n2023,styrelse\n")]
    )
    assert "kolumnen insats" in result.output and result.exit_code != 0
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


def test_semicolon_csv_from_swedish_excel(app, runner, tmp_path):
    text = HEADER.replace(",", ";") + "2024;styrelse;;;2024-03-01;6;5;4;3;2;;;;;;\n"
    result = runner.invoke(args=["import", "answers", write(tmp_path, "s.csv", "\ufeff" + text)])
    assert result.exit_code == 0, result.output
    assert count_rows(app, "response") == 1


def test_history_and_national_import_and_validation(app, runner, tmp_path):
    history = (
        "year,questionnaire,question,subgroup,n,negative,neutral,positive,"
        "clearly_positive,response_rate\n"
        "2019,deltagare_avslut,1,samtliga,120,4,6,90,70,95\n"
        "2019,deltagare_avslut,1,kvinnor,60,3,5,92,75,96\n"
    )
    result = runner.invoke(args=["import", "history", write(tmp_path, "h.csv", history)])
    assert result.exit_code == 0 and "2 rader" in result.output
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

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(
        [
            2024,
            "personal",
            "Insats A",
            None,
            datetime(2024, 4, 2),
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
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "p.xlsx"
    path.write_bytes(buffer.getvalue())
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 0, result.output
    assert count_rows(app, "answer") == 11
