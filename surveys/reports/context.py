"""The report's page context: every figure and word one year's report shows.

The web page, the printable HTML, the PDF, the Word file and the XLSX all read
``page_context`` so every output shows the same figures and words. The outputs
themselves live beside this module: ``csv_export``, ``excel``, ``printable``,
``chart_html`` (charts as HTML) and ``tables`` (printed tables for PDF and Word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from indicators.disclosure import SUPPRESSED_PRIMARY, suppression_kind
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
from surveys.reports import riket
from surveys.reports.data import ReportData
from surveys.services import settings
from surveys.services.rounds import ADMIN_ONLY_QUESTIONNAIRES

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


# A number read from a results frame: an int or a float, NaN or None when there is none.
Cell = int | float | None


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
    if kind == SUPPRESSED_PRIMARY:
        return f"Färre än {min_cell} svar"
    return COMPLEMENTARY_TEXT if kind else ""


def signed(value: int) -> str:
    """ "+7" / "−3" / "±0" with a real minus sign."""
    return f"+{value}" if value > 0 else (f"{MINUS}{-value}" if value < 0 else "±0")


def _pct(value: Cell) -> str:
    return "" if value is None or pd.isna(value) else f"{int(value)}%"


def _row_label(qn, subgroup: str, n: Cell) -> str:
    """ "kvinnor (n=63)"; the other groups' single row is "Samtliga (n=15)" (never unlabelled)."""
    shown = "–" if n is None or pd.isna(n) else int(n)  # hidden under a suppressed gate
    name = SUBGROUP_LABELS[subgroup] if qn.participant else "Samtliga"
    return f"{name} (n={shown})"


def _difference(positive: Cell, national: Cell) -> str:
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
        version = question.version_for(year) if question else None
        printed = [riket.with_riket(_table_row(r, qn, data.min_cell), data, r) for r in part]
        samtliga = [r for r in part if r["subgroup"] == "samtliga"] or part[:1]
        groups.append(
            {
                "question": int(number),
                "questionnaire": qn.name,
                "short_name": qn.short_name,
                "text": version.text if version else "",
                "gate": bool(question and question.gate),
                "gate_text": gate_share_text(data.instrument, question),
                "rows": printed,
                "comparison_group": data.group_name,  # "" = none: no column for it
                "left_out": {k: int(samtliga[0].get(k) or 0) for k in LEFT_OUT_TEXTS},
            }
        )
    return groups


def _table_row(r: dict, qn, min_cell: int) -> TableRow:
    # rows without a kind: the one rule (never claim "färre än" on a guess)
    kind = str(r.get("hidden") or "") or suppression_kind(r["suppressed"], r.get("reason"))
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
            "n": whole_number(r["n"]),
            **{
                k: whole_number(r.get(k))
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


def whole_number(value: Cell) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def paragraphs(text: str | None) -> list[str]:
    """Plain text split into paragraphs at blank lines (single line breaks become spaces)."""
    if not text:
        return []
    parts = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return [" ".join(p.split()) for p in parts if p.strip()]


def gate_share_text(instrument, question) -> str:
    """What a gate question's row shows, from its scale: ", andel Ja (Ja räknas som
    positivt, Nej som negativt)"; empty for any other question."""
    if question is None or not question.gate:
        return ""
    yes, no = instrument.gate_answers(question)
    return f", andel {yes} ({yes} räknas som positivt, {no} som negativt)"


def gate_kind_text(instrument, question) -> str:
    """A gate question in the list of measures: " – ja/nej-fråga, andel Ja"."""
    if not question.gate:
        return ""
    yes, no = instrument.gate_answers(question)
    return f" – {yes.lower()}/{no.lower()}-fråga, andel {yes}"


def condition_text(instrument, question) -> str:
    """When a question is asked, from the instrument: "besvaras om fråga 8 är Ja" (empty
    for a question everyone is asked)."""
    if question.condition_question is None:
        return ""
    gate = instrument.question(question.questionnaire, question.condition_question)
    options = instrument.scales[gate.scale].options if gate is not None else ()
    label = next((o.label for o in options if o.code == question.condition_code), "")
    answer = label or f"svar {question.condition_code}"
    return f"besvaras om fråga {question.condition_question} är {answer}"


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
                "gate_text": gate_kind_text(instrument, q),
                "condition": condition_text(instrument, q),
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
    overview: pd.DataFrame, instrument, names: dict[str, str], min_cell: int
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
                        getattr(r, "hidden", "")
                        or suppression_kind(r.suppressed, getattr(r, "reason", None)),
                        min_cell,
                    ),
                    "positive": whole_number(r.positive),
                    "previous": whole_number(r.previous),
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
