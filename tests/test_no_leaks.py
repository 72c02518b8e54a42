"""Property: no suppressed figure reaches any output (CSV, XLSX, HTML, PDF, Word, chart data)."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from indicators import protect
from indicators.charts import chart_data
from indicators.disclosure import build_cells, count_frames
from surveys.reports.assets import chart
from surveys.reports.csv_export import report_csv
from surveys.reports.data import ReportData
from surveys.reports.excel import report_xlsx
from surveys.reports.pdf import report_pdf
from surveys.reports.printable import render_printable
from surveys.reports.word import report_docx
from tests.conftest import table_rows
from tests.factories import answers_frame

# The PostgreSQL pass leaves these out (see conftest): the property is over figures built in memory
# and the outputs made from them.
pytestmark = pytest.mark.one_database

respondents = st.lists(
    st.tuples(
        st.sampled_from(["kvinna", "man", "annat", None]),
        st.lists(st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6]), min_size=3, max_size=3),
    ),
    min_size=1,
    max_size=25,
)


@given(respondents, st.integers(min_value=2, max_value=7))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_suppressed_rows_leak_nowhere(app, instrument, people, min_cell):
    answers = answers_frame(people, year=2024, questionnaire="deltagare_pagaende", insats="A")
    # suppressed as a publication suppresses them (primary and complementary cells)
    cells = build_cells(*count_frames(answers, instrument), instrument)
    protected = protect(cells, instrument, min_cell=min_cell)
    results = (
        protected[protected["scope"] == ""]
        .rename(columns={"suppression": "reason"})
        .assign(source="beräknad")
        .reset_index(drop=True)
    )
    data = ReportData(
        instrument=instrument,
        results=results,
        national=pd.DataFrame(
            columns=["year", "questionnaire", "question", "subgroup", "positive"]
        ),
        min_cell=min_cell,
        intervention=None,
    )
    reasons = {"Dold så att en mindre grupp inte kan räknas fram", f"Färre än {min_cell} svar"}
    hidden = results[results["suppressed"].fillna("").astype(str) != ""]
    hidden_keys = {
        (int(r.indicator), r.subgroup, None if pd.isna(r.question) else int(r.question))
        for r in hidden.itertuples()
    }

    for row in csv.DictReader(io.StringIO(report_csv(data, year=2024).decode())):
        if row["suppressed"]:  # primary or complementary
            assert all(
                row[c] == ""
                for c in (
                    "answered",
                    "negative",
                    "neutral",
                    "positive",
                    "clearly_positive",
                    "response_rate",
                    "negative_n",
                    "positive_n",
                )
            )

    labels = {"samtliga": "Samtliga", "kvinnor": "kvinnor", "man": "män"}
    workbook = load_workbook(io.BytesIO(report_xlsx(data, year=2024)))
    # Page, PDF and Word without the chart images: the charts' data are checked below.
    with app.test_request_context():
        html = render_printable(data, year=2024, with_charts=False)
    sections = {
        int(part.split('"', 1)[0]): table_rows(part) for part in html.split('id="indikator-')[1:]
    }
    pdf_rows = _pdf_rows(report_pdf(data, year=2024, with_charts=False))
    word_rows = _word_rows(report_docx(data, year=2024, with_charts=False))
    words = {"kvinnor": "Kvinnor", "man": "Män", "samtliga": "Samtliga"}
    for indicator, subgroup, question in hidden_keys:
        if question is None:
            continue
        n = int(
            results[
                (results["indicator"] == indicator)
                & (results["subgroup"] == subgroup)
                & (results["question"] == question)
            ]["n"].iloc[0]
        )
        label = f"{labels[subgroup]} (n={n})"
        sheet = [
            r
            for r in workbook[f"Indikator {indicator}"].iter_rows(values_only=True)
            if r[0] == question and r[2] == words[subgroup]
        ]
        assert sheet
        # n, then every figure column empty (shares, Riket, its n, the marker), the reason last
        assert all(r[3] == n and set(r[4:-1]) == {None} and len(r) == 13 for r in sheet)
        assert all(r[-1] in reasons for r in sheet)
        shown = [r for r in sections[indicator] if r[0] == label]
        assert shown
        assert all(len(r) == 2 and r[1] in reasons for r in shown)
        printed = [r for r in pdf_rows[indicator] if r[0] == label]
        assert printed
        assert all(r[1] in reasons for r in printed)
        typed = [r for r in word_rows[indicator] if r[0] == label]
        assert typed
        assert all(r[1] in reasons and set(r[2:]) == {""} for r in typed)
    for indicator in {k[0] for k in hidden_keys}:
        for kind in ("ar", "tid"):
            chart_obj = chart(data, year=2024, indicator=indicator, kind=kind)
            if chart_obj is None:
                continue
            for point in chart_data(chart_obj):
                series = point.get("rad") or point.get("serie")
                for ind, subgroup, question in hidden_keys:
                    if ind == indicator and question is not None:
                        assert series != (
                            f"Deltagare pågående, fråga {question} – {labels[subgroup]}"
                        )


def _pdf_rows(pdf: bytes) -> dict[int, list[tuple[str, str]]]:
    """Per indicator: each text line of the PDF with the line after it (label, first cell)."""
    rows: dict[int, list[tuple[str, str]]] = {}
    current = 0
    for page in PdfReader(io.BytesIO(pdf)).pages:
        lines = [line.strip() for line in page.extract_text().splitlines()]
        for i, line in enumerate(lines):
            if match := re.fullmatch(r"Indikator (\d+)", line):
                current = int(match.group(1))
            rows.setdefault(current, []).append((line, lines[i + 1] if i + 1 < len(lines) else ""))
    return rows


def _word_rows(docx: bytes) -> dict[int, list[tuple[str, ...]]]:
    """Per indicator: the cell texts of every table row under its "Indikator N" heading."""
    rows: dict[int, list[tuple[str, ...]]] = {}
    current = 0
    for block in Document(io.BytesIO(docx)).iter_inner_content():
        if hasattr(block, "rows"):
            for row in block.rows:
                rows.setdefault(current, []).append(tuple(c.text for c in row.cells))
        elif match := re.fullmatch(r"Indikator (\d+)", block.text):
            current = int(match.group(1))
    return rows
