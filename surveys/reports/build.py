"""Report outputs built from ``ReportData``: page context, CSV, XLSX, charts, standalone HTML.

Used by the web pages and by ``surveys report`` so both always agree. The
PDF and Word files (``surveys.reports.pdf`` / ``.word``) read the same
``page_context`` so every output shows the same figures and words.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from dataclasses import dataclass

import pandas as pd
from flask import render_template, url_for
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from indicators import RESULT_COLUMNS
from indicators.charts import current_year_chart, render, trend_chart
from indicators.report import (
    IMPORTED,
    SUBGROUP_LABELS,
    attach_national,
    collection_overview,
    format_share,
    indicator_table,
    starting_line,
    summary,
)
from surveys import clock
from surveys.files.reading import formula_safe, inert_formulas
from surveys.reports import riket
from surveys.reports.data import COMPLEMENTARY, PRIMARY, ReportData
from surveys.services import settings
from surveys.services.rounds import ADMIN_ONLY_QUESTIONNAIRES

CHART_KINDS = {"ar": "Resultat", "tid": "Förbundets utveckling över tid"}
NEUTRAL_TITLE = "Indikatorer för finansiell samordning"
CHANGE_NOTE = (
    "Förändringen i procentenheter jämförs med slumpens variation för grupper av den "
    "storleken (test av två andelar, 95 %): * betyder att förändringen är större än "
    "slumpen kan förklara; utan * kan skillnaden bero på slumpen."
)
N_NOTE = (
    "n är antalet respondenter: för en indikator med flera frågor det största antalet "
    "som fått någon av frågorna (inte summan av svar över frågorna)."
)


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
    values: dict  # numbers for XLSX/Word: n, negative, neutral, positive, clearly, rate, national
    hidden_text: str = ""  # why it is hidden (see hidden_text), empty when shown
    difference: str = ""  # the förbund's positive share minus Riket's, "+5" / "−3" / "±0"
    group: str = ""  # the comparison group's figure, "88% (n=1 200)" (surveys.reports.riket)


MINUS = "\u2212"  # a real minus sign, as in print ("−5", not "-5")
COMPLEMENTARY_TEXT = "Dold så att en mindre grupp inte kan räknas fram"
TABLE_N_NOTE = (
    "n är antalet enkäter där frågan ställdes; andelarna räknas på dem som svarat på "
    "skalan (Vet ej och obesvarat räknas inte)."
)
LEFT_OUT_TEXTS = {
    "left_out_gender": "{k} svar utan angivet kön ingår inte, för få för att redovisas",
    "left_out_insats": "{k} svar utan insats ingår inte, för få för att redovisas",
}
# Board and managers answer for the whole förbund: an insats never has these groups.
FORBUND_LEVEL = ADMIN_ONLY_QUESTIONNAIRES


def hidden_text(kind: str, min_cell: int) -> str:
    """The Swedish reason a hidden row shows: never "färre än" for the second reason."""
    if kind == PRIMARY:
        return f"Färre än {min_cell} svar"
    return COMPLEMENTARY_TEXT if kind else ""


def signed(value: int) -> str:
    """ "+7" / "−3" / "±0" with a real minus sign."""
    return f"+{value}" if value > 0 else (f"{MINUS}{-value}" if value < 0 else "±0")


def _pct(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{int(value)}%"


def _row_label(qn, subgroup: str, n: object) -> str:
    """ "kvinnor (n=63)"; the other groups' single row is "Samtliga (n=15)" (never unlabelled)."""
    shown = "–" if n is None or pd.isna(n) else int(n)  # hidden under a suppressed gate
    name = SUBGROUP_LABELS[subgroup] if qn.participant else "Samtliga"
    return f"{name} (n={shown})"


def _difference(positive: object, national: object) -> str:
    if positive is None or national is None or pd.isna(positive) or pd.isna(national):
        return ""
    return signed(int(positive) - int(national))


def table_groups(
    data: ReportData, *, indicator: int, year: int, rows: list[dict] | None = None
) -> list[dict]:
    """Groups of rows "Fråga N – Respondentgrupp", each with its subgroup rows.

    ``rows``: the indicator's result rows of the year as records (page_context
    converts the whole year once; a pandas group-by per indicator cost more
    than the rest of the page). Rows come in instrument order (see data._with_history).
    """
    if rows is None:
        table = indicator_table(data.results, data.national, indicator=indicator, year=year)
        rows = table.to_dict("records")
    parts: dict[tuple[str, int], list[dict]] = {}
    for r in rows:  # keeps the report's order: questionnaire, question, subgroup
        parts.setdefault((r["questionnaire"], int(r["question"])), []).append(r)
    groups: list[dict] = []
    for (qn_key, number), part in parts.items():
        qn = data.instrument.questionnaire(qn_key)
        question = data.instrument.question(qn_key, int(number))
        printed = [riket.with_riket(_table_row(r, qn, data.min_cell), data, r) for r in part]
        samtliga = [r for r in part if r["subgroup"] == "samtliga"] or part[:1]
        groups.append(
            {
                "question": int(number),
                "questionnaire": qn.name,
                "short_name": qn.short_name,
                "text": question.version_for(year).text
                if question and question.version_for(year)
                else "",
                "gate": bool(question and question.gate),
                "rows": printed,
                "comparison_group": data.group_name,  # "" = none: no column for it
                "left_out": {k: int(samtliga[0].get(k) or 0) for k in LEFT_OUT_TEXTS},
            }
        )
    return groups


def _table_row(r: dict, qn, min_cell: int) -> TableRow:
    kind = str(r.get("hidden") or "")
    if not kind and bool(r["suppressed"]):  # rows without a kind: never claim "färre än"
        kind = COMPLEMENTARY
    return TableRow(
        label=_row_label(qn, r["subgroup"], r["n"]),
        negative=_pct(r["negative"]),
        neutral=_pct(r["neutral"]),
        positive=format_share(r["positive"], r["clearly_positive"]),
        response_rate=_pct(r["response_rate"]),
        national=_pct(r.get("national")),
        suppressed=bool(r["suppressed"]),
        imported=r.get("source") == IMPORTED,
        hidden_text=hidden_text(kind, min_cell),
        difference="" if r["suppressed"] else _difference(r["positive"], r.get("national")),
        values={
            "subgroup": r["subgroup"],
            "n": _num(r["n"]),
            **{
                k: _num(r.get(k))
                for k in (
                    "negative",
                    "neutral",
                    "positive",
                    "clearly_positive",
                    "response_rate",
                    "national",
                )
            },
        },
    )


def left_out_notes(groups: list[dict]) -> list[str]:
    """The plain notes under a table: what its rows leave out and why (one per reason).

    The same count for every question is said once; differing counts name the question.
    """
    notes = []
    for key, template in LEFT_OUT_TEXTS.items():
        counts = [(g, g["left_out"].get(key, 0)) for g in groups]
        shown = [(g, k) for g, k in counts if k]
        if not shown:
            continue
        if len({k for _, k in shown}) == 1 and len(shown) == len(counts):
            notes.append(template.format(k=shown[0][1]) + ".")
            continue
        for g, k in shown:
            notes.append(f"Fråga {g['question']}, {g['short_name']}: " + template.format(k=k) + ".")
    return notes


def year_rows(data: ReportData, *, year: int) -> list[dict]:
    """The year's question rows with Riket's figure, as plain records in report order."""
    rows = data.results[(data.results["year"] == year) & data.results["question"].notna()]
    return attach_national(rows, data.national).to_dict("records")


def _num(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def paragraphs(text: str | None) -> list[str]:
    """Plain text split into paragraphs at blank lines (single line breaks become spaces)."""
    if not text:
        return []
    parts = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return [" ".join(p.split()) for p in parts if p.strip()]


def page_context(data: ReportData, *, year: int, suggestions: bool = False) -> dict:
    """Everything the report shows for one year (page, PDF and Word alike).

    ``suggestions``: add each indicator's factual starting line (the comments form).
    """
    instrument = data.instrument
    overview = summary(data.results, instrument, year=year)
    names = {qn.key: qn.short_name for qn in instrument.questionnaires}
    comments = data.comments.get(year, {})
    tables: dict[int, list[dict]] = {}
    for record in year_rows(data, year=year):
        tables.setdefault(int(record["indicator"]), []).append(record)
    shown = data.results[
        data.results["question"].notna() & ~data.results["suppressed"].astype(bool)
    ]
    trend_indicators = {int(i) for i in shown["indicator"].unique()}
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
        groups = table_groups(data, indicator=number, year=year, rows=tables.get(number, []))
        has_rows = any(g["rows"] for g in groups)
        sections.append(
            {
                "number": number,
                "title": title,
                "measures": measures,
                "groups": groups,
                "no_measure": number in instrument.no_national_measure and not measures,
                "has_current": any(not r.suppressed for g in groups for r in g["rows"]),
                "has_trend": number in trend_indicators,
                "left_out_notes": left_out_notes(groups),
                "table_note": riket.table_note(TABLE_N_NOTE, groups) if has_rows else "",
                "comment": paragraphs(comments.get(number)),
                "suggestion": starting_line(
                    overview, data.national, instrument, indicator=number, year=year
                )
                if suggestions
                else "",
            }
        )
    collection = collection_overview(data.year_counts, instrument, year=year)
    if data.intervention:  # an insats only has the groups that answer about an insats
        collection = _insats_collection(collection, instrument)
    return {
        "year": year,
        "forbund_name": data.forbund_name,
        "neutral_title": NEUTRAL_TITLE,
        "preview": data.preview,
        "waiting_note": data.waiting_note,
        "publication": data.publication,
        "collection": collection,
        "collection_text": collection_sentence(
            collection, who="Insatsen" if data.intervention else "Förbundet"
        ),
        "introduction": paragraphs(comments.get(0)),
        "about": paragraphs(data.texts.get(settings.ABOUT_TEXT)),
        "contact": _lines(data.texts.get(settings.CONTACT_TEXT)),
        "publication_line": publication_line(data.publication),
        "bar_chart_print": bool(data.options.get(settings.BAR_CHART_PDF)),
        "overview": overview,
        "overview_rows": overview_rows(overview, instrument, names, data.min_cell),
        "sections": sections,
        "names": names,
        "min_cell": data.min_cell,
        "intervention": data.intervention,
        "indicator_titles": instrument.indicators,
        "change_note": CHANGE_NOTE,
        "comparison_group": data.group_name,
        "n_note": N_NOTE,
    }


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


def swedish_date(moment) -> str:
    """ "5 december 2026": a stored instant as a date in Stockholm."""
    local = clock.local(moment)
    return f"{local.day} {SWEDISH_MONTHS[local.month - 1]} {local.year}"


def publication_line(publication: dict | None) -> str:
    """ "Publicerad 5 december 2026, version 1" (who published is in the audit log only)."""
    if not publication:
        return ""
    line = "Publicerad"
    if publication.get("published_at") is not None:
        line += " " + swedish_date(publication["published_at"])
    return f"{line}, version {publication.get('version')}"


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _insats_collection(collection: dict, instrument) -> dict:
    names = {qn.short_name for qn in instrument.questionnaires if qn.key in FORBUND_LEVEL}
    return {
        **collection,
        "rows": [r for r in collection["rows"] if r["name"] not in names],
        "not_asked": [n for n in collection["not_asked"] if n not in names],
        "introduced": [(n, y) for n, y in collection["introduced"] if n not in names],
    }


def collection_sentence(collection: dict, who: str = "Förbundet") -> str:
    """ "Under 2023 har 184 enkäter samlats in …, att jämföra med 257 enkäter 2022 och …" """
    years, totals = collection["years"], collection["totals"]
    text = f"Under {years[0]} har {totals[0]} enkäter samlats in från respondentgrupperna"
    before = [f"{t} enkäter {y}" for y, t in zip(years[1:], totals[1:], strict=True) if t]
    if before:
        text += ", att jämföra med " + " och ".join(before)
    text += "."
    for name, first in collection["introduced"]:
        text += f" {name} tillkom som respondentgrupp {first}."
    if collection["not_asked"]:
        text += (
            f" {who} har under {years[0]} inte tillfrågat "
            + _join_sv([n.lower() for n in collection["not_asked"]])
            + "."
        )
    return text


def _join_sv(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " och " + items[-1]


def overview_rows(
    overview: pd.DataFrame, instrument, names: dict[str, str], min_cell: int = 5
) -> list[dict]:
    """ "Resultatet i korthet" rows in print order, with indicators that have no rows."""
    out = []
    by_indicator: dict[int, list] = {}
    for record in overview.itertuples():
        by_indicator.setdefault(int(record.indicator), []).append(record)
    for number in instrument.indicators:
        rows = by_indicator.get(number, [])
        if not rows:
            empty = (
                "Ingen nationell mätning ännu"
                if number in instrument.no_national_measure
                else "Inga svar"
            )
            out.append({"indicator": number, "empty": empty})
        for r in rows:
            change = None if r.change is None or pd.isna(r.change) else int(r.change)
            out.append(
                {
                    "indicator": number,
                    "empty": None,
                    "group": names[r.questionnaire],
                    "n": "–" if r.n is None or pd.isna(r.n) else int(r.n),  # hidden: see summary
                    "suppressed": bool(r.suppressed),
                    "hidden_text": hidden_text(
                        getattr(r, "hidden", "") or (COMPLEMENTARY if r.suppressed else ""),
                        min_cell,
                    ),
                    "positive": _num(r.positive),
                    "previous": _num(r.previous),
                    "change": change,
                    "change_text": change_text(change, r.significant),
                    "significant": bool(r.significant) if change is not None else None,
                }
            )
    return out


def change_text(change: int | None, significant: object) -> str:
    """ "+7*" / "−3" / "±0"; empty when there is no comparable figure for last year."""
    if change is None:
        return ""
    return signed(change) + ("*" if significant is True else "")


def chart(data: ReportData, *, year: int, indicator: int, kind: str):
    """The Altair chart for an indicator (None when nothing can be shown)."""
    if kind == "ar":
        return current_year_chart(data.results, data.instrument, indicator=indicator, year=year)
    results = data.results[data.results["year"] <= year]
    national = (
        data.national[data.national["year"] <= year] if not data.national.empty else data.national
    )
    group = data.group[data.group["year"] <= year] if not data.group.empty else None
    return trend_chart(results, national, data.instrument, indicator=indicator, group=group)


@functools.lru_cache(maxsize=256)
def _render(spec_json: str, fmt: str) -> bytes:
    return render(spec_json, fmt)


def render_chart(chart_obj, fmt: str) -> bytes:
    """SVG or PNG bytes, cached by the chart's full specification."""
    return _render(chart_obj.to_json(), fmt)


def report_csv(data: ReportData, *, year: int) -> bytes:
    """The report CSV of DESIGN.md for one year: ``suppressed`` is empty, ``primary`` or
    ``complementary``; ``left_out`` the questionnaires a row leaves out."""
    columns = csv_columns()
    rows = data.results[data.results["year"] == year].assign(suppressed=lambda f: f["hidden"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in rows[columns].itertuples(index=False):
        writer.writerow([_csv_value(v) for v in record])
    return buffer.getvalue().encode("utf-8")


def csv_columns() -> list[str]:
    return [*RESULT_COLUMNS, *(c for c in ("left_out",) if c not in RESULT_COLUMNS)]


def _csv_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or pd.isna(value):
        return ""
    return str(formula_safe(value))


PCT = "0%"
CHANGE_FORMAT = "+0;-0;0"


def report_xlsx(data: ReportData, *, year: int) -> bytes:
    """A workbook for Excel: numbers as numbers (shares with percentage formats), in Swedish.

    Sheets: "I korthet" (overview), "Enkäter" (questionnaires per group and
    year), one "Indikator N" per indicator and "Data" (every row of the year).
    Header rows are frozen; a suppressed row keeps n and says why it is empty.
    """

    context = page_context(data, year=year)
    workbook = Workbook()
    _overview_sheet(workbook.active, context, year)
    _collection_sheet(workbook.create_sheet("Enkäter"), context)
    for section in context["sections"]:
        _indicator_sheet(workbook.create_sheet(f"Indikator {section['number']}"), section, context)
    _data_sheet(workbook.create_sheet("Data"), data, year)
    inert_formulas(workbook)  # comments, insats names, introduction: never a formula
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _title(ws, text: str, headers: list[str], widths: list[int]) -> None:

    ws.append([text])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE5EC")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A3"  # title and header stay in view while scrolling
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width


def _append(ws, values: list, formats: dict[int, str]) -> None:
    ws.append(values)
    for column, fmt in formats.items():
        ws.cell(ws.max_row, column).number_format = fmt


def _share(value: int | None) -> float | None:
    return None if value is None else value / 100


def _overview_sheet(ws, context: dict, year: int) -> None:
    ws.title = "I korthet"
    head = f"Resultatet i korthet {year}" + (
        f" – {context['intervention']}" if context["intervention"] else ""
    )
    _title(
        ws,
        head,
        [
            "Indikator",
            "Respondentgrupp",
            "n (respondenter)",
            f"Positivt {year}",
            f"Positivt {year - 1}",
            "Förändring (procentenheter)",
            "Större än slumpen (95 %)",
            "Anmärkning",
        ],
        [10, 26, 16, 14, 14, 16, 16, 40],
    )
    for r in context["overview_rows"]:
        if r["empty"]:
            ws.append([r["indicator"], None, None, None, None, None, None, r["empty"]])
            continue
        note = r["hidden_text"] if r["suppressed"] else None
        significant = None if r["significant"] is None else ("ja" if r["significant"] else "nej")
        _append(
            ws,
            [
                r["indicator"],
                r["group"],
                r["n"],
                _share(r["positive"]),
                _share(r["previous"]),
                r["change"],
                significant,
                note,
            ],
            {4: PCT, 5: PCT, 6: CHANGE_FORMAT},
        )
    ws.append([])
    ws.append([context["n_note"]])
    ws.append([context["change_note"]])
    if context["publication_line"]:
        ws.append([context["publication_line"] + "."])
    if context["introduction"]:  # the förbundschef's introduction, as on the page
        ws.append([])
        ws.append(["Inledning"])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        for text in context["introduction"]:
            ws.append([text])


def _collection_sheet(ws, context: dict) -> None:
    collection = context["collection"]
    _title(
        ws,
        "Antal insamlade enkäter per respondentgrupp",
        ["Respondentgrupp", *[str(y) for y in collection["years"]]],
        [28, 10, 10, 10],
    )
    for row in collection["rows"]:
        ws.append([row["name"], *row["counts"]])
    ws.append(["Samtliga grupper", *collection["totals"]])
    ws.append([])
    ws.append([context["collection_text"]])


INDICATOR_HEADERS = [
    "Fråga",
    "Respondentgrupp",
    "Grupp",
    "n",
    "Negativt",
    "Varken eller",
    "Positivt",
    "Klart positivt",
    "Svarsfrekvens",
    "Riket (positivt)",
    "Anmärkning",
]


def _indicator_sheet(ws, section: dict, context: dict) -> None:
    _title(
        ws,
        f"Indikator {section['number']}: {section['title']}",
        INDICATOR_HEADERS,
        [8, 24, 12, 8, 11, 13, 11, 14, 14, 14, 44],
    )
    if section["no_measure"]:
        ws.append(
            [
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                "Ingen nationell mätning ännu.",
            ]
        )
        return
    if not section["groups"]:
        ws.append([None] * 10 + [f"Inga svar {context['year']}."])
    labels = {"samtliga": "Samtliga", "kvinnor": "Kvinnor", "man": "Män", "": "Samtliga"}
    for group in section["groups"]:
        for row in group["rows"]:
            v = row.values
            note = None
            if row.suppressed:
                note = row.hidden_text
            elif row.imported:
                note = "Importerad från tidigare årsrapport"
            shares = [
                None if row.suppressed else _share(v[k])
                for k in ("negative", "neutral", "positive", "clearly_positive", "response_rate")
            ]
            _append(
                ws,
                [
                    group["question"],
                    group["short_name"],
                    labels[v["subgroup"]],
                    v["n"],
                    *shares,
                    None if row.suppressed else _share(v["national"]),
                    note,
                ],
                {c: PCT for c in range(5, 11)},
            )
    ws.append([])
    for note in [section["table_note"], *section["left_out_notes"]]:
        if note:
            ws.append([note])
    comment = section["comment"]
    if comment:
        ws.append([])
        ws.append(["Kommentarer"])
        for text in comment:
            ws.append([text])


DATA_HEADERS = {
    "year": "År",
    "indicator": "Indikator",
    "questionnaire": "Respondentgrupp",
    "question": "Fråga (tom = sammanslagen)",
    "subgroup": "Grupp",
    "n": "n",
    "answered": "Svar på skalan",
    "negative_n": "Negativt (antal)",
    "neutral_n": "Varken eller (antal)",
    "positive_n": "Positivt (antal)",
    "clearly_positive_n": "Klart positivt (antal)",
    "response_rate": "Svarsfrekvens",
    "negative": "Negativt",
    "neutral": "Varken eller",
    "positive": "Positivt",
    "clearly_positive": "Klart positivt",
    "suppressed": "Dold",
    "left_out": "Utelämnade svar",
}
DATA_SHARES = {"response_rate", "negative", "neutral", "positive", "clearly_positive"}


def _data_sheet(ws, data: ReportData, year: int) -> None:
    _title(
        ws,
        f"Alla resultatrader {year}",
        [DATA_HEADERS[c] for c in csv_columns()],
        [6, 10, 22, 12, 10, 8, 10] + [12] * 10 + [44, 12],
    )
    columns = csv_columns()
    names = {qn.key: qn.short_name for qn in data.instrument.questionnaires}
    groups = {"samtliga": "Samtliga", "kvinnor": "Kvinnor", "man": "Män"}
    rows = data.results[data.results["year"] == year].assign(suppressed=lambda f: f["hidden"])
    formats = {i + 1: PCT for i, c in enumerate(columns) if c in DATA_SHARES}
    for record in rows[columns].itertuples(index=False):
        values = []
        for column, value in zip(columns, record, strict=True):
            if column == "questionnaire":
                values.append(names.get(value, value))
            elif column == "subgroup":
                values.append(groups.get(value, value))
            elif column == "suppressed":
                values.append(hidden_text(str(value or ""), data.min_cell) or None)
            elif column in DATA_SHARES:
                values.append(_share(_num(value)))
            else:
                values.append(_num(value))
        _append(ws, values, formats)


def render_printable(
    data: ReportData,
    *,
    year: int,
    selected: str = "",
    standalone: bool = False,
    with_charts: bool = True,
) -> str:
    """The printable report (A4), charts inline. ``standalone``: the CSS inside the file too.

    ``with_charts=False`` leaves the charts out (property tests check their data directly).
    """

    from surveys import ROOT  # noqa: PLC0415 - surveys/__init__ builds the app from this package

    extra = {}
    if standalone:
        extra["inline_css"] = (ROOT / "surveys" / "static" / "css" / "app.css").read_text("utf-8")
    return render_template(
        "reports/report.html",
        **page_context(data, year=year),
        years=[],
        interventions=[],
        selected=selected,
        can_choose_all=False,
        printable=True,
        charts=inline_charts(data, year=year) if with_charts else {},
        **extra,
    )


def inline_charts(data: ReportData, *, year: int) -> dict[tuple[int, str], Markup]:
    """Every chart as inline SVG markup: the printable page, the standalone HTML file and
    the live preview (whose figures the chart URLs, read from publications, do not serve)."""

    from surveys.reports.assets import charts  # noqa: PLC0415 - assets imports build

    return {
        key: _inline_svg(body, *key)
        for key, body in charts(data, year=year, fmt="svg").items()
        if body
    }


def _inline_svg(body: bytes, number: int, kind: str) -> Markup:
    label = f"Diagram: {CHART_KINDS[kind]}, indikator {number}"
    svg = body.decode("utf-8").replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    return Markup(svg)  # noqa: S704 - our own rendered SVG, no user text


SVG_SIZE = re.compile(rb'<svg\b[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"')


def svg_size(body: bytes) -> tuple[int, int] | None:
    """The width and height (CSS pixels) a rendered chart declares on its <svg> element."""
    found = SVG_SIZE.search(body[:2000])
    if found is None:
        return None
    return round(float(found.group(1))), round(float(found.group(2)))


def chart_version(data: ReportData) -> str:
    """A short tag of the frozen figures: the ``v`` of a chart URL, new with every publication."""
    return hashlib.sha256(data.cache_key.encode("utf-8")).hexdigest()[:16]


def chart_images(
    data: ReportData, *, year: int, insats: str | None = None
) -> dict[tuple[int, str], Markup]:
    """Every chart as a sized, lazily loaded ``<img>`` of its SVG URL (the web page).

    The URL carries ``v`` (see ``chart_version``), so the browser may keep the image for as
    long as those figures are published; width and height reserve its place (no layout shift).
    The printable page, the standalone HTML file and the live preview use ``inline_charts``.
    """

    from surveys.reports.assets import charts  # noqa: PLC0415 - assets imports build

    version = chart_version(data)
    out = {}
    for (number, kind), body in charts(data, year=year, fmt="svg").items():
        if not body:
            continue
        size = svg_size(body)
        if size is None:  # cannot reserve its place: drawn inline instead (never seen so far)
            out[(number, kind)] = _inline_svg(body, number, kind)
            continue
        src = url_for(
            "reports.chart_image",
            year=year,
            indicator=number,
            kind=kind,
            fmt="svg",
            insats=insats or None,
            v=version,
        )
        alt = f"Diagram: {CHART_KINDS[kind]}, indikator {number}. Samma siffror finns i tabellen."
        out[(number, kind)] = Markup(
            '<img src="{}" width="{}" height="{}" loading="lazy" decoding="async" alt="{}">'
        ).format(src, *size, alt)
    return out


def overview_table(context: dict) -> list[list[str]]:
    """ "Resultatet i korthet" as printed rows (header first), for the PDF and Word files."""
    year = context["year"]
    rows = [["Indikator", "Respondentgrupp", "n", "Positivt", f"Förändring sedan {year - 1}"]]
    for r in context["overview_rows"]:
        if r["empty"]:
            rows.append([str(r["indicator"]), r["empty"], "", "", ""])
        elif r["suppressed"]:
            rows.append([str(r["indicator"]), r["group"], str(r["n"]), r["hidden_text"], ""])
        else:
            rows.append(
                [
                    str(r["indicator"]),
                    r["group"],
                    str(r["n"]),
                    f"{r['positive']}%",
                    r["change_text"] or "–",
                ]
            )
    return rows


def result_table(groups: list[dict]) -> tuple[list[list[str]], list[int]]:
    """The seed's "Resultat YYYY" table as printed rows (header first) for the PDF and Word
    files, and the indexes of the "Fråga N – grupp" heading rows that span the table."""
    group_name = next((g["comparison_group"] for g in groups if g.get("comparison_group")), "")
    rows = [riket.header(RESULT_HEADER, group_name)]
    headings = []
    for g in groups:
        headings.append(len(rows))
        rows.append([group_heading(g)] + [""] * (len(rows[0]) - 1))
        for r in g["rows"]:
            label = r.label + (" (importerad)" if r.imported else "")
            if r.suppressed:
                rows.append([label, r.hidden_text] + [""] * (len(rows[0]) - 2))
            else:
                rows.append(
                    [
                        label,
                        r.negative,
                        r.neutral,
                        r.positive,
                        r.response_rate,
                        r.national,
                        r.difference,
                        *([r.group] if group_name else []),
                    ]
                )
    return rows, headings


RESULT_HEADER = [
    "",
    "Negativt",
    "Varken eller",
    "Positivt (Klart positivt)",
    "svarsfrekvens",
    "Riket",
    "Mot riket",
]


def group_heading(group: dict) -> str:
    """ "Fråga 8 – Deltagare avslut, andel Ja" (a gate question is a share of Ja)."""
    gate = ", andel Ja (Ja räknas som positivt, Nej som negativt)" if group["gate"] else ""
    return f"Fråga {group['question']} – {group['questionnaire']}{gate}"
