"""Altair charts per indicator, rendered offline to SVG/PNG with vl-convert.

Suppressed rows never reach a chart: both builders drop them before any data
is put into the chart specification.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert as vlc

from indicators.instrument import Instrument
from indicators.report import IMPORTED, SUBGROUP_LABELS

CATEGORY_LABELS = {"negative": "Negativt", "neutral": "Varken eller", "positive": "Positivt"}
CATEGORY_COLORS = ["#b2182b", "#bababa", "#2166ac"]
FONT = "DejaVu Sans, Arial, sans-serif"


def _visible(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[~rows["suppressed"].astype(bool) & rows["question"].notna()]


def _series_label(instrument: Instrument, row: pd.Series) -> str:
    qn = instrument.questionnaire(row["questionnaire"])
    label = f"{qn.short_name}, fråga {int(row['question'])}"
    if qn.participant:
        label += f" – {SUBGROUP_LABELS[row['subgroup']]}"
    return label


def current_year_chart(
    results: pd.DataFrame, instrument: Instrument, *, indicator: int, year: int
) -> alt.Chart | None:
    """Stacked horizontal bars Negativt / Varken eller / Positivt per question and subgroup."""
    rows = _visible(results[(results["indicator"] == indicator) & (results["year"] == year)])
    if rows.empty:
        return None
    labels = rows.apply(lambda r: _series_label(instrument, r), axis=1)
    long = pd.DataFrame(
        [
            {
                "rad": label,
                "ordning": i,
                "kategori": CATEGORY_LABELS[cat],
                "kategoriordning": k,
                "andel": int(row[cat]),
                "n": int(row["n"]),
            }
            for i, (label, (_, row)) in enumerate(zip(labels, rows.iterrows(), strict=True))
            for k, cat in enumerate(CATEGORY_LABELS)
        ]
    )
    return (
        alt.Chart(long, title=f"Resultat {year}")
        .mark_bar()
        .encode(
            y=alt.Y(
                "rad:N",
                sort=alt.EncodingSortField("ordning"),
                title=None,
                axis=alt.Axis(labelLimit=320),
            ),
            x=alt.X("andel:Q", stack="zero", title="Andel (%)", scale=alt.Scale(domain=[0, 102])),
            color=alt.Color(
                "kategori:N",
                scale=alt.Scale(domain=list(CATEGORY_LABELS.values()), range=CATEGORY_COLORS),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            order=alt.Order("kategoriordning:Q"),
            tooltip=["rad", "kategori", "andel", "n"],
        )
        .properties(width=420, height=alt.Step(22))
        .configure(font=FONT)
    )


TREND_TITLE = "Förbundets utveckling över tid"
LINE_DASH = {"Förbundet": [1, 0], "Riket": [6, 4]}


def trend_chart(
    results: pd.DataFrame, national: pd.DataFrame, instrument: Instrument, *, indicator: int
) -> alt.Chart | None:
    """ "Förbundets utveckling över tid": positive share per question and group.

    Participant questions get a line for Samtliga, kvinnor and män. Riket is
    dashed in the same colour as the förbund's line it belongs to, and named
    in the legend. Years on either side of a comparability break get
    different ``period`` values, and lines are drawn per period (and per run
    of measured years), so they are never joined across a break or a gap.
    """
    rows = _visible(results[results["indicator"] == indicator])
    if rows.empty:
        return None
    records = [_trend_record(instrument, row, "Förbundet") for _, row in rows.iterrows()]
    if not national.empty:
        shown = {
            (r["questionnaire"], int(r["question"]), r["subgroup"]) for _, r in rows.iterrows()
        }
        for _, row in national.iterrows():
            key = (row["questionnaire"], int(row["question"]), row["subgroup"])
            if key in shown and not pd.isna(row["positive"]):
                records.append(_trend_record(instrument, row, "Riket"))
    data = pd.DataFrame(records)
    data["grupp"] = data["serie"] + " · " + data["linje"] + " · " + data["period"]
    data = _with_gaps(data)
    title = alt.TitleParams(
        TREND_TITLE, subtitle=_wrap(_measure_title(instrument, rows, indicator)), anchor="start"
    )
    base = alt.Chart(data, title=title).encode(
        x=alt.X("år:O", title="År", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("positivt:Q", title="Andel positiva svar (%)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color(
            "serie:N",
            sort=list(dict.fromkeys(data.sort_values("ordning")["serie"])),
            legend=alt.Legend(title=None, orient="bottom", columns=1, labelLimit=360),
        ),
        detail="grupp:N",
        tooltip=["serie", "linje", "år", "positivt", "källa"],
    )
    lines = base.mark_line(strokeWidth=2).encode(
        strokeDash=alt.StrokeDash(
            "linje:N",
            scale=alt.Scale(domain=list(LINE_DASH), range=list(LINE_DASH.values())),
            legend=alt.Legend(
                title=None,
                orient="bottom",
                symbolType="stroke",
                symbolStrokeColor="#444",
                symbolStrokeWidth=2,
                symbolSize=500,
            ),
        )
    )
    # The marker legend matters only when some years were typed in from old reports.
    imported = bool((data["källa"] == "Förbundet (importerad)").any())
    marker_legend = alt.Legend(title=None, orient="bottom") if imported else None
    points = base.mark_point(filled=True, size=45).encode(
        shape=alt.Shape(
            "källa:N",
            scale=alt.Scale(
                domain=["Förbundet", "Förbundet (importerad)", "Riket"],
                range=["circle", "triangle-up", "square"],
            ),
            legend=marker_legend,
        )
    )
    return (lines + points).properties(width=420, height=240).configure(font=FONT)


def _trend_record(instrument: Instrument, row: pd.Series, line: str) -> dict:
    question = instrument.question(row["questionnaire"], int(row["question"]))
    subgroup_order = list(SUBGROUP_LABELS).index(row["subgroup"])
    qn_order = instrument.questionnaire_keys.index(row["questionnaire"])
    imported = line == "Förbundet" and row.get("source") == IMPORTED
    return {
        "år": int(row["year"]),
        "serie": _series_label(instrument, row),
        "ordning": qn_order * 1000 + int(row["question"]) * 10 + subgroup_order,
        "period": question.segment(int(row["year"])) if question else "",
        "källa": "Riket" if line != "Förbundet" else "Förbundet" + (" (importerad)" * imported),
        "linje": line,
        "positivt": int(row["positive"]),
    }


def _measure_title(instrument: Instrument, rows: pd.DataFrame, indicator: int) -> str:
    """What the chart measures: the question when there is one, else the indicator."""
    texts = {
        (q.current.text if q else "")
        for q in (
            instrument.question(qn, int(n))
            for qn, n in rows[["questionnaire", "question"]]
            .drop_duplicates()
            .itertuples(index=False)
        )
    }
    if len(texts) == 1 and "" not in texts:
        return texts.pop()
    return instrument.indicators.get(indicator, "")


def _wrap(text: str, width: int = 70) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _with_gaps(data: pd.DataFrame) -> pd.DataFrame:
    """Start a new line segment after every year a series skips, so no gap is bridged."""
    data = data.sort_values(["grupp", "år"]).reset_index(drop=True)
    jump = data.groupby("grupp", sort=False)["år"].diff().fillna(1) > 1
    segment = jump.astype(int).groupby(data["grupp"], sort=False).cumsum()
    data["grupp"] = data["grupp"] + " · " + segment.astype(str)
    return data


def render(spec_json: str, fmt: str) -> bytes:
    """Render a Vega-Lite specification to SVG or PNG bytes, without any network access."""
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec_json).encode("utf-8")
    if fmt == "png":
        return vlc.vegalite_to_png(spec_json, scale=2)
    raise ValueError(f"Okänt bildformat {fmt!r} (svg eller png).")


def chart_data(chart: alt.Chart) -> list[dict]:
    """The data rows embedded in a chart's specification (used to check suppression)."""
    spec = chart.to_dict()
    rows: list[dict] = []
    for dataset in spec.get("datasets", {}).values():
        rows.extend(dataset)
    return rows
