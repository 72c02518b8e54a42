"""Report outputs built from ``ReportData``: page context, CSV, XLSX, charts, standalone HTML.

Used by the web pages and by ``surveys report`` so both always agree.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
from dataclasses import dataclass

import pandas as pd

from indicators import RESULT_COLUMNS
from indicators.charts import current_year_chart, render, trend_chart
from indicators.report import IMPORTED, SUBGROUP_LABELS, format_share, indicator_table, summary
from surveys.services.reporting import ReportData

CHART_KINDS = {"ar": "Resultat", "tid": "Utveckling över tid"}


@dataclass
class TableRow:
    """One printed row of the seed-shaped table."""

    label: str
    negative: str
    neutral: str
    positive: str
    response_rate: str
    national: str
    suppressed: bool
    imported: bool


def _pct(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{int(value)}%"


def table_groups(data: ReportData, *, indicator: int, year: int) -> list[dict]:
    """Groups of rows "Fråga N – Respondentgrupp", each with its subgroup rows."""
    rows = indicator_table(data.results, data.national, indicator=indicator, year=year)
    groups: list[dict] = []
    for (qn_key, number), part in rows.groupby(["questionnaire", "question"], sort=False):
        qn = data.instrument.questionnaire(qn_key)
        question = data.instrument.question(qn_key, int(number))
        printed = []
        for _, r in part.iterrows():
            n = "–" if pd.isna(r["n"]) else int(r["n"])  # hidden under a suppressed gate
            label = f"(n={n})"
            if qn.participant:
                label = f"{SUBGROUP_LABELS[r['subgroup']]} (n={n})"
            printed.append(
                TableRow(
                    label=label,
                    negative=_pct(r["negative"]),
                    neutral=_pct(r["neutral"]),
                    positive=format_share(r["positive"], r["clearly_positive"]),
                    response_rate=_pct(r["response_rate"]),
                    national=_pct(r.get("national")),
                    suppressed=bool(r["suppressed"]),
                    imported=r.get("source") == IMPORTED,
                )
            )
        groups.append(
            {
                "question": int(number),
                "questionnaire": qn.name,
                "text": question.version_for(year).text
                if question and question.version_for(year)
                else "",
                "gate": bool(question and question.gate),
                "rows": printed,
            }
        )
    return groups


def page_context(data: ReportData, *, year: int) -> dict:
    """Everything the report template shows for one year."""
    instrument = data.instrument
    overview = summary(data.results, instrument, year=year)
    names = {qn.key: qn.short_name for qn in instrument.questionnaires}
    sections = []
    for number, title in instrument.indicators.items():
        measures = [
            {
                "text": (q.version_for(year) or q.current).text,
                "where": f"{names[q.questionnaire]}, fråga {q.number}",
                "gate": q.gate,
                "conditional": q.condition_question is not None,
            }
            for q in instrument.questions_for_indicator(number)
        ]
        groups = table_groups(data, indicator=number, year=year)
        sections.append(
            {
                "number": number,
                "title": title,
                "measures": measures,
                "groups": groups,
                "no_measure": number in instrument.no_national_measure and not measures,
                "has_current": any(not r.suppressed for g in groups for r in g["rows"]),
                "has_trend": _has_trend(data, number),
            }
        )
    return {
        "year": year,
        "overview": overview,
        "sections": sections,
        "names": names,
        "min_cell": data.min_cell,
        "intervention": data.intervention,
        "indicator_titles": instrument.indicators,
    }


def _has_trend(data: ReportData, indicator: int) -> bool:
    rows = data.results[(data.results["indicator"] == indicator) & data.results["question"].notna()]
    return bool((~rows["suppressed"].astype(bool)).any())


def chart(data: ReportData, *, year: int, indicator: int, kind: str):
    """The Altair chart for an indicator (None when nothing can be shown)."""
    if kind == "ar":
        return current_year_chart(data.results, data.instrument, indicator=indicator, year=year)
    results = data.results[data.results["year"] <= year]
    national = (
        data.national[data.national["year"] <= year] if not data.national.empty else data.national
    )
    return trend_chart(results, national, data.instrument, indicator=indicator)


@functools.lru_cache(maxsize=256)
def _render(spec_json: str, fmt: str) -> bytes:
    return render(spec_json, fmt)


def render_chart(chart_obj, fmt: str) -> bytes:
    """SVG or PNG bytes, cached by the chart's full specification."""
    return _render(chart_obj.to_json(), fmt)


def report_csv(data: ReportData, *, year: int) -> bytes:
    """The report CSV of DESIGN.md for one year."""
    rows = data.results[data.results["year"] == year][RESULT_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for record in rows.itertuples(index=False):
        writer.writerow([_csv_value(v) for v in record])
    return buffer.getvalue().encode("utf-8")


def _csv_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or pd.isna(value):
        return ""
    return str(value)


def report_xlsx(data: ReportData, *, year: int) -> bytes:
    """A workbook: "I korthet", one formatted sheet per indicator, and "Data"."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    context = page_context(data, year=year)
    workbook = Workbook()
    bold = Font(bold=True)
    head = PatternFill("solid", fgColor="DDE5EC")
    sheet = workbook.active
    sheet.title = "I korthet"
    sheet.append(
        [f"Indikatorerna {year}" + (f" – {data.intervention}" if data.intervention else "")]
    )
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(
        [
            "Indikator",
            "Respondentgrupp",
            "n",
            "Positivt",
            f"Positivt {year - 1}",
            "Förändring (procentenheter)",
        ]
    )
    for cell in sheet[2]:
        cell.font, cell.fill = bold, head
    for _, r in context["overview"].iterrows():
        sheet.append(
            [
                int(r["indicator"]),
                context["names"][r["questionnaire"]],
                int(r["n"]),
                _xl_pct(r["positive"]),
                _xl_pct(r["previous"]),
                _xl_int(r["change"]),
            ]
        )
    _widths(sheet, [10, 28, 8, 10, 14, 26])
    for section in context["sections"]:
        ws = workbook.create_sheet(f"Indikator {section['number']}")
        ws.append([f"Indikator {section['number']}"])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([section["title"]])
        ws["A2"].alignment = Alignment(wrap_text=True)
        ws.append([])
        if section["no_measure"]:
            ws.append(["Ingen nationell mätning ännu."])
            continue
        ws.append(
            [
                f"Resultat {year}",
                "Negativt",
                "Varken eller",
                "Positivt (Klart positivt)",
                "svarsfrekvens",
                "Riket",
            ]
        )
        for cell in ws[ws.max_row]:
            cell.font, cell.fill = bold, head
        if not section["groups"]:
            ws.append([f"Inga svar {year}."])
        for group in section["groups"]:
            ws.append([f"Fråga {group['question']} – {group['questionnaire']}"])
            ws.cell(ws.max_row, 1).font = bold
            for row in group["rows"]:
                if row.suppressed:
                    ws.append([row.label, "För få svar för att visas"])
                else:
                    ws.append(
                        [
                            row.label,
                            row.negative,
                            row.neutral,
                            row.positive,
                            row.response_rate,
                            row.national,
                        ]
                    )
        _widths(ws, [34, 12, 14, 24, 14, 10])
    data_sheet = workbook.create_sheet("Data")
    rows = data.results[data.results["year"] == year][RESULT_COLUMNS]
    data_sheet.append(RESULT_COLUMNS)
    for record in rows.itertuples(index=False):
        data_sheet.append([_xl_value(v) for v in record])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _widths(sheet, widths: list[int]) -> None:
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width


def _xl_value(value: object) -> object:
    if isinstance(value, bool):
        return value
    if value is None or pd.isna(value):
        return None
    return int(value) if hasattr(value, "__int__") and not isinstance(value, str) else value


def _xl_pct(value: object) -> str | None:
    return None if value is None or pd.isna(value) else f"{int(value)}%"


def _xl_int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def render_printable(
    data: ReportData, *, year: int, selected: str = "", standalone: bool = False
) -> str:
    """The printable report (A4). ``standalone``: charts and CSS inside the one file."""
    from flask import render_template

    from surveys import ROOT

    extra = {}
    if standalone:
        extra = {
            "embed": lambda n, kind: chart_data_uri(data, year=year, indicator=n, kind=kind),
            "inline_css": (ROOT / "surveys" / "static" / "css" / "app.css").read_text("utf-8"),
        }
    return render_template(
        "reports/report.html",
        **page_context(data, year=year),
        years=[],
        interventions=[],
        selected=selected,
        can_choose_all=False,
        printable=True,
        **{"embed": None, **extra},
    )


def chart_data_uri(data: ReportData, *, year: int, indicator: int, kind: str) -> str | None:
    """A chart as an inline SVG data URI for the standalone HTML report."""
    chart_obj = chart(data, year=year, indicator=indicator, kind=kind)
    if chart_obj is None:
        return None
    svg = render_chart(chart_obj, "svg")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
