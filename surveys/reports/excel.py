"""The report as an Excel workbook (openpyxl): numbers as numbers, texts in Swedish."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from surveys.files.reading import inert_formulas
from surveys.reports.context import hidden_text, page_context, whole_number
from surveys.reports.csv_export import csv_columns
from surveys.reports.data import ReportData
from surveys.reports.riket import group_header

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
    "Riket n",
]
INDICATOR_WIDTHS = [8, 24, 12, 8, 11, 13, 11, 14, 14, 14, 10]
NOTE_HEADER, NOTE_WIDTH = "Anmärkning", 44
SIGNIFICANT_HEADER = "Skillnad mot riket större än slumpen"


def _indicator_columns(group_name: str) -> tuple[list[str], list[int]]:
    """The indicator sheet's headers and widths: Riket with n, the förbund's comparison
    group (when it has one), whether the difference from Riket is larger than chance,
    and the note last."""
    headers, widths = list(INDICATOR_HEADERS), list(INDICATOR_WIDTHS)
    if group_name:
        headers += [f"{group_header(group_name)} (positivt)", f"{group_header(group_name)} n"]
        widths += [16, 10]
    return headers + [SIGNIFICANT_HEADER, NOTE_HEADER], widths + [14, NOTE_WIDTH]


def _indicator_sheet(ws, section: dict, context: dict) -> None:
    group_name = context.get("comparison_group") or ""
    headers, widths = _indicator_columns(group_name)
    _title(ws, f"Indikator {section['number']}: {section['title']}", headers, widths)
    blank = [None] * (len(headers) - 1)
    if section["no_measure"]:
        ws.append([*blank, "Ingen nationell mätning ännu."])
        return
    if not section["groups"]:
        ws.append([*blank, f"Inga svar {context['year']}."])
    labels = {"samtliga": "Samtliga", "kvinnor": "Kvinnor", "man": "Män", "": "Samtliga"}
    percent = {c: PCT for c in range(5, 11)}
    if group_name:
        percent[12] = PCT
    for group in section["groups"]:
        for row in group["rows"]:
            _append(ws, _indicator_row(group, row, labels, bool(group_name)), percent)
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


def _indicator_row(group: dict, row, labels: dict[str, str], with_group: bool) -> list:
    """One result row: figures as numbers; a suppressed row keeps n and says why."""
    v = row.values
    hidden = row.suppressed
    note = row.hidden_text if hidden else None
    if not hidden and row.imported:
        note = "Importerad från tidigare årsrapport"
    shares = [
        None if hidden else _share(v[k])
        for k in ("negative", "neutral", "positive", "clearly_positive", "response_rate")
    ]
    # a hidden row shows n and why, nothing else (as on the page), not even Riket beside it
    riket = [None, None] if hidden else [_share(v["national"]), v.get("national_n")]
    comparison = [None, None] if hidden else [_share(v.get("group")), v.get("group_n")]
    significant = v.get("significant")
    marked = None if hidden or significant is None else ("Ja" if significant else "Nej")
    return [
        group["question"],
        group["short_name"],
        labels[v["subgroup"]],
        v["n"],
        *shares,
        *riket,
        *(comparison if with_group else []),
        marked,
        note,
    ]


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
                values.append(_share(whole_number(value)))
            else:
                values.append(whole_number(value))
        _append(ws, values, formats)
