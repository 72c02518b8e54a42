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


def trend_chart(
    results: pd.DataFrame, national: pd.DataFrame, instrument: Instrument, *, indicator: int
) -> alt.Chart | None:
    """ "Utveckling över tid": positive share per question and group, Riket dashed.

    Years on either side of a comparability break get different ``period``
    values, and lines are drawn per period, so they are never joined.
    """
    # Samtliga only: the kvinnor/män split per year is in the tables, and a line per
    # subgroup would make the chart unreadable for indicators with many questions.
    rows = _visible(
        results[(results["indicator"] == indicator) & (results["subgroup"] == "samtliga")]
    )
    if rows.empty:
        return None
    records = []
    for _, row in rows.iterrows():
        question = instrument.question(row["questionnaire"], int(row["question"]))
        records.append(
            {
                "år": int(row["year"]),
                "serie": _series_label(instrument, row),
                "period": question.segment(int(row["year"])) if question else "",
                "källa": "Förbundet" + (" (importerad)" if row.get("source") == IMPORTED else ""),
                "linje": "Förbundet",
                "positivt": int(row["positive"]),
            }
        )
    if not national.empty:
        nat = national.copy()
        keys = {(r["questionnaire"], int(r["question"])) for _, r in rows.iterrows()}
        for _, row in nat[nat["subgroup"] == "samtliga"].iterrows():
            if (row["questionnaire"], int(row["question"])) not in keys or pd.isna(row["positive"]):
                continue
            question = instrument.question(row["questionnaire"], int(row["question"]))
            records.append(
                {
                    "år": int(row["year"]),
                    "serie": _series_label(instrument, row),
                    "period": question.segment(int(row["year"])) if question else "",
                    "källa": "Riket",
                    "linje": "Riket",
                    "positivt": int(row["positive"]),
                }
            )
    data = pd.DataFrame(records)
    data["grupp"] = data["serie"] + " · " + data["linje"] + " · " + data["period"]
    data = _with_gaps(data)
    base = alt.Chart(data, title="Utveckling över tid").encode(
        x=alt.X("år:O", title="År", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("positivt:Q", title="Positivt (%)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color(
            "serie:N", legend=alt.Legend(title=None, orient="bottom", columns=1, labelLimit=360)
        ),
        strokeDash=alt.StrokeDash(
            "linje:N",
            scale=alt.Scale(domain=["Förbundet", "Riket"], range=[[1, 0], [6, 4]]),
            legend=None,
        ),
        detail="grupp:N",
        tooltip=["serie", "år", "positivt", "källa"],
    )
    lines = base.mark_line(strokeWidth=2)
    points = base.mark_point(filled=True, size=50).encode(
        shape=alt.Shape(
            "källa:N",
            scale=alt.Scale(
                domain=["Förbundet", "Förbundet (importerad)", "Riket"],
                range=["circle", "triangle-up", "square"],
            ),
            legend=alt.Legend(title="Källa", orient="bottom"),
        )
    )
    return (lines + points).properties(width=420, height=240).configure(font=FONT)


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
