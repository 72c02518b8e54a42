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

# Altair checks every part of a chart against the Vega-Lite schema as it is made (its
# "debug mode", on by default): 60 ms of a chart's 65 ms here, paid for every chart a
# publication draws. The whole chart is still checked once, when it is turned into a
# specification (``to_dict``/``to_json`` validate by default), so a wrong chart fails
# as before, only with a shorter traceback.
alt.utils.schemapi.disable_debug_mode()

CATEGORY_LABELS = {"negative": "Negativt", "neutral": "Varken eller", "positive": "Positivt"}
CATEGORY_COLORS = ["#b2182b", "#bababa", "#2166ac"]
FONT = "DejaVu Sans, Arial, sans-serif"


def _tooltip(*fields: str) -> list[alt.Tooltip]:
    """Tooltip channels made here, not from strings: Altair turns a string into a channel
    with ``from_dict``, which first indexes its whole schema again (about 20 ms each)."""
    return [alt.Tooltip(field) for field in fields]


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
                axis=alt.Axis(labelLimit=300),
            ),
            x=alt.X("andel:Q", stack="zero", title="Andel (%)", scale=alt.Scale(domain=[0, 102])),
            color=alt.Color(
                "kategori:N",
                scale=alt.Scale(domain=list(CATEGORY_LABELS.values()), range=CATEGORY_COLORS),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            order=alt.Order("kategoriordning:Q"),
            tooltip=_tooltip("rad", "kategori", "andel", "n"),
        )
        .properties(width=300, height=alt.Step(20))
        .configure(font=FONT)
        .configure_axis(labelFontSize=TEXT_PX, titleFontSize=TEXT_PX)
        .configure_legend(labelFontSize=TEXT_PX)
        .configure_title(fontSize=13)
    )


TREND_TITLE = "Förbundets utveckling över tid"
# The same four lines in every chart of the report: Samtliga strong, kvinnor and män thinner in
# two fixed colours, Riket dashed grey (what each line is, is also written at its end).
# The förbund's comparison group in NNS's Riket file (issue 21), when it has one: dashed too,
# in shorter dashes and brown, so it is never mistaken for Riket.
GROUP_ROLE = "Jämförelsegrupp"
ROLE_ORDER = ["Samtliga", "kvinnor", "män", "Riket", GROUP_ROLE]
ROLE_COLORS = ["#1f3a55", "#c0507a", "#2e8b57", "#808080", "#8a5a1c"]
ROLE_WIDTHS = [3.0, 1.6, 1.6, 1.6, 1.6]
ROLE_DASH = [[1, 0], [1, 0], [1, 0], [5, 3], [2, 2]]
PANEL_WIDTH, PANEL_HEIGHT, PANEL_COLUMNS = 150, 80, 3  # every panel of every chart alike
TEXT_PX = 11  # the smallest text in a chart (px at print size)
# the lines named at their ends
LABEL_PRIORITY = ["Samtliga", "Riket", GROUP_ROLE, "kvinnor", "män"]
LABEL_GAP = 14  # percentage points two end labels need between them (11 px in 80 px)


def trend_chart(
    results: pd.DataFrame,
    national: pd.DataFrame,
    instrument: Instrument,
    *,
    indicator: int,
    group: pd.DataFrame | None = None,
) -> alt.FacetChart | None:
    """ "Förbundets utveckling över tid": one small panel per question (small multiples).

    Each panel shows the positive share over the years: Samtliga as a strong line,
    kvinnor and män thinner (participant questions), Riket (Samtliga) dashed grey and
    ``group``, the förbund's comparison group (Samtliga), in short brown dashes. The
    lines are named at their ends, moved apart where they would overlap. A gate question (exit
    question 8) is drawn as "andel Ja". Years on either side of a comparability break get
    different ``period`` values, and lines are drawn per period (and per run of measured
    years), so they are never joined across a break or a gap. Every panel has the same
    size, so charts with as many questions have the same size.
    """
    rows = _visible(results[results["indicator"] == indicator])
    if rows.empty:
        return None
    records = [_trend_record(instrument, row, "Förbundet") for _, row in rows.iterrows()]
    shown = {(r["questionnaire"], int(r["question"])) for _, r in rows.iterrows()}
    for line, frame in (("Riket", national), (GROUP_ROLE, group)):
        if frame is None or frame.empty:
            continue
        for _, row in frame.iterrows():
            key = (row["questionnaire"], int(row["question"]))
            if key in shown and row["subgroup"] == "samtliga" and not pd.isna(row["positive"]):
                records.append(_trend_record(instrument, row, line))
    data = pd.DataFrame(records)
    # the comparison group is in the legend only where the förbund has one
    roles = [i for i, r in enumerate(ROLE_ORDER) if r != GROUP_ROLE or (data["roll"] == r).any()]
    data["grupp"] = data["serie"] + " · " + data["linje"] + " · " + data["period"]
    data = _with_gaps(data)
    data = _end_labels(data)
    years = sorted({int(y) for y in data["år"]})
    panels = list(dict.fromkeys(data.sort_values("ordning")["panel"]))
    x = alt.X(
        "år:Q",
        title=None,
        scale=alt.Scale(
            domain=[years[0] - 0.3, years[-1] + 0.3 + 0.3 * max(len(years), 3)],
            nice=False,
            zero=False,
        ),
        axis=alt.Axis(
            values=years, format="d", labelAngle=0, labelOverlap=True, labelSeparation=6, grid=False
        ),
    )
    y = alt.Y(
        "positivt:Q",
        title="Andel positiva (%)",
        scale=alt.Scale(domain=[0, 100]),
        axis=alt.Axis(values=[0, 25, 50, 75, 100], titleFontWeight="normal"),
    )
    color = alt.Color(
        "roll:N",
        scale=alt.Scale(
            domain=[ROLE_ORDER[i] for i in roles], range=[ROLE_COLORS[i] for i in roles]
        ),
        legend=alt.Legend(title=None, orient="bottom", direction="horizontal", symbolType="stroke"),
    )
    base = alt.Chart().encode(x=x, y=y, color=color)
    line = base.mark_line().encode(
        detail=alt.Detail("grupp:N"),
        strokeWidth=alt.StrokeWidth(
            "roll:N",
            scale=alt.Scale(
                domain=[ROLE_ORDER[i] for i in roles], range=[ROLE_WIDTHS[i] for i in roles]
            ),
            legend=None,
        ),
        strokeDash=alt.StrokeDash(
            "roll:N",
            scale=alt.Scale(
                domain=[ROLE_ORDER[i] for i in roles], range=[ROLE_DASH[i] for i in roles]
            ),
            legend=None,
        ),
    )
    # the thin lines first, Samtliga drawn last so it stays on top where lines cross
    thin = line.transform_filter("datum.roll != 'Samtliga'")
    strong = line.transform_filter("datum.roll == 'Samtliga'")
    points = base.mark_point(filled=True, size=22).encode(
        shape=alt.Shape(
            "källa:N",
            scale=alt.Scale(
                domain=["Förbundet", "Förbundet (importerad)", "Riket", GROUP_ROLE],
                range=["circle", "triangle-up", "square", "diamond"],
            ),
            legend=None,
        ),
        tooltip=_tooltip("serie", "linje", "år", "positivt", "källa"),
    )
    labels = (
        base.transform_filter("datum.etikett != ''")
        # drawn at the moved height, on the same y axis as the lines
        .transform_calculate(positivt="datum.etikett_y")
        .mark_text(align="left", dx=5, fontSize=TEXT_PX)
        .encode(text=alt.Text("etikett:N"))
    )
    measure = _measure_title(instrument, rows, indicator)
    title = alt.TitleParams(
        TREND_TITLE,
        # the indicator's own title stands right above the chart: only a question is said
        subtitle=_wrap(measure) if measure != instrument.indicators.get(indicator) else "",
        anchor="start",
        fontSize=13,
        subtitleFontSize=TEXT_PX,
    )
    return (
        alt.layer(thin, strong, points, labels, data=data)
        .properties(width=PANEL_WIDTH, height=PANEL_HEIGHT)
        .facet(
            facet=alt.Facet(
                "panel:N",
                sort=panels,
                title=None,
                header=alt.Header(
                    labelFontSize=TEXT_PX,
                    labelFontWeight="bold",
                    labelLimit=PANEL_WIDTH + 20,
                    labelExpr="split(datum.label, '|')",
                ),
            ),
            columns=PANEL_COLUMNS,
            title=title,
        )
        .configure(font=FONT)
        .configure_axis(labelFontSize=TEXT_PX, titleFontSize=TEXT_PX)
        .configure_legend(labelFontSize=TEXT_PX, symbolStrokeWidth=2.5)
        .configure_view(stroke="#cccccc")
    )


def _trend_record(instrument: Instrument, row: pd.Series, line: str) -> dict:
    question = instrument.question(row["questionnaire"], int(row["question"]))
    subgroup_order = list(SUBGROUP_LABELS).index(row["subgroup"])
    qn = instrument.questionnaire(row["questionnaire"])
    qn_order = instrument.questionnaire_keys.index(row["questionnaire"])
    imported = line == "Förbundet" and row.get("source") == IMPORTED
    # two header lines ("|" splits them): the group, then the question
    panel = f"{qn.short_name}|fråga {int(row['question'])}"
    if question is not None and question.gate:
        panel += f", andel {instrument.gate_answers(question)[0]}"
    role = line if line in ("Riket", GROUP_ROLE) else SUBGROUP_LABELS[row["subgroup"]]
    return {
        "år": int(row["year"]),
        "serie": _series_label(instrument, row),
        "panel": panel,
        "roll": role,
        "ordning": qn_order * 1000 + int(row["question"]) * 10 + subgroup_order,
        "period": question.segment(int(row["year"])) if question else "",
        "källa": line if line != "Förbundet" else "Förbundet" + (" (importerad)" * imported),
        "linje": line,
        "positivt": int(row["positive"]),
    }


def _end_labels(data: pd.DataFrame) -> pd.DataFrame:
    """Name each line at its last point, moved apart so that no two names overlap.

    Per panel, the lines ending in the last year get their name (``etikett``) at the
    height ``etikett_y``: their own value, pushed up or down just enough to keep
    ``LABEL_GAP`` points between neighbours (at most four lines fit in a panel).
    """
    data = data.assign(etikett="", etikett_y=data["positivt"].astype(float))
    for _, panel in data.groupby("panel", sort=False):
        last = int(panel["år"].max())
        ends = panel[panel["år"] == last].drop_duplicates("roll")
        ends = ends[ends["roll"].isin(LABEL_PRIORITY)].sort_values("positivt", ascending=False)
        heights = _spread([float(v) for v in ends["positivt"]])
        for index, role, height in zip(ends.index, ends["roll"], heights, strict=True):
            data.loc[index, "etikett"] = role
            data.loc[index, "etikett_y"] = height
    return data


def _spread(values: list[float], low: float = 0, high: float = 100) -> list[float]:
    """Heights (descending input) at least ``LABEL_GAP`` apart, as near their values as fits."""
    out: list[float] = []
    for value in values:  # push down below the one above
        out.append(min(value, out[-1] - LABEL_GAP) if out else min(value, high))
    for i in range(len(out) - 1, -1, -1):  # and up from the bottom when pushed below 0
        floor = low if i == len(out) - 1 else out[i + 1] + LABEL_GAP
        out[i] = max(out[i], floor)
    return out


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


def png_from_svg(svg: bytes) -> bytes:
    """A rendered SVG as PNG, at the scale ``render`` gives (the same pixels: Vega-Lite's
    own PNG is this SVG rasterised, so the chart is not laid out a second time)."""
    return vlc.svg_to_png(svg.decode("utf-8"), scale=2)


def chart_data(chart: alt.Chart) -> list[dict]:
    """The data rows embedded in a chart's specification (used to check suppression)."""
    spec = chart.to_dict()
    rows: list[dict] = []
    for dataset in spec.get("datasets", {}).values():
        rows.extend(dataset)
    return rows
