"""The bounded attack on the demo: the published CSVs of the förbund and every insats.

An outside reader downloads ``surveys report --format csv`` for the förbund and
each insats of every demo year; the attacker (``tests/attacker.py``, linear
programming with bounds) is given the answers only to judge what it learns. On
the first publications it read off the one "annat" respondent of Arbetsnära stöd
in 2024 (indicator 4, pågående question 4) and 15 more such counts.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from surveys import create_app
from surveys.demo import DEMO_YEARS, INTERVENTIONS
from tests.attacker import answers_frame, attack, rule_breaks
from tests.conftest import LIGHT_HASHING, SECRET, empty_database, load_demo

# Runs in both passes: issue 17 asks that the attacks learn nothing on SQLite and on
# PostgreSQL, so the demo is published from each database and attacked.

MIN_CELL = 5


def _csv(runner, tmp_path, *args: str, sep: str = ",") -> pd.DataFrame:
    out = tmp_path / "out.csv"
    result = runner.invoke(args=[*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(
        out,
        sep=sep,
        encoding="utf-8-sig",
        keep_default_na=False,
        na_values=[""],
        dtype={"suppressed": str},
    )


def _answers(runner, tmp_path) -> pd.DataFrame:
    """The demo's answers as answer rows (from the answers export: no scoring code)."""
    export = _csv(runner, tmp_path, "export", "answers", "--format", "csv", sep=";")
    rows = []
    for i, record in enumerate(export.to_dict("records")):
        for column, code in record.items():
            if column.startswith("q") and column[1:].isdigit() and not pd.isna(code):
                rows.append(
                    {
                        "response": i,
                        "year": int(record["year"]),
                        "questionnaire": record["questionnaire"],
                        "question": int(column[1:]),
                        "intervention": "" if pd.isna(record["insats"]) else record["insats"],
                        "gender": "" if pd.isna(record["gender"]) else record["gender"],
                        "code": int(code),
                    }
                )
    return answers_frame(rows)


def _published(runner, tmp_path, year: int) -> pd.DataFrame:
    """Every published row of a year, as CSVs for the förbund and each insats."""
    parts = [_csv(runner, tmp_path, "report", "--year", str(year), "--format", "csv")]
    parts[0]["scope"] = ""
    for name in INTERVENTIONS:
        part = _csv(
            runner, tmp_path, "report", "--year", str(year), "--insats", name, "--format", "csv"
        )
        parts.append(part.assign(scope=name))
    rows = pd.concat(parts, ignore_index=True)
    rows["suppressed"] = rows["suppressed"].fillna("")
    rows["question"] = rows["question"].astype("Int64")
    return rows


@pytest.fixture(scope="module")
def published_demo(database_url, tmp_path_factory):
    """The demo published once for the module: each year's rows and the answers."""
    empty_database(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "TESTING": True,
            "PUBLIC_URL": "http://localhost",
            "MIN_CELL": MIN_CELL,
            **LIGHT_HASHING,
        }
    )
    runner = app.test_cli_runner()
    load_demo(runner)  # `surveys demo`, run once per test run on SQLite (see load_demo)
    folder = tmp_path_factory.mktemp("demo")
    answers = _answers(runner, folder)
    published = {year: (_published(runner, folder, year), answers) for year in DEMO_YEARS}
    app.extensions["engine"].dispose()
    return published


@pytest.mark.parametrize("year", DEMO_YEARS)
def test_a_bounded_attacker_learns_no_count_of_a_small_group_from_the_demo(published_demo, year):
    published, answers = published_demo[year]
    answers = answers[answers["year"] == year]
    assert len(published) > 100
    assert attack(published, answers, min_cell=MIN_CELL) == []
    assert rule_breaks(published, answers, min_cell=MIN_CELL) == []


def test_the_one_annat_respondent_of_2024_is_left_out_and_said_so(published_demo):
    published, _ = published_demo[2024]
    row = published[
        (published["scope"] == "Arbetsnära stöd")
        & (published["questionnaire"] == "deltagare_pagaende")
        & (published["question"] == 4)
        & (published["subgroup"] == "samtliga")
    ].iloc[0]
    assert row["left_out"] == 1
    assert row["suppressed"] == ""
    men = published[
        (published["scope"] == "Arbetsnära stöd")
        & (published["questionnaire"] == "deltagare_pagaende")
        & (published["question"] == 4)
    ]
    kvinnor = men[men["subgroup"] == "kvinnor"].iloc[0]
    man = men[men["subgroup"] == "man"].iloc[0]
    assert row["n"] == kvinnor["n"] + man["n"]  # nothing left to subtract


def test_the_demo_hides_at_most_8_percent_of_rows_only_to_protect_others(published_demo):
    for year in DEMO_YEARS:
        published, _ = published_demo[year]
        complementary = (published["suppressed"] == "complementary").sum()
        assert complementary <= 0.08 * len(published), (year, complementary, len(published))
        assert set(published["suppressed"]) <= {"", "primary", "complementary"}


def test_the_report_csv_has_left_out_after_suppressed(published_demo):
    published, _ = published_demo[2024]
    columns = [c for c in published.columns if c != "scope"]
    assert columns[-2:] == ["suppressed", "left_out"] or "left_out" in columns
    text = io.StringIO()
    published.to_csv(text)
    assert (published["left_out"] >= 0).all()
    assert (published["left_out"] > 0).any()
