"""Report tables built from result rows: history, national figures, the seed's table shape.

All functions take and return data frames; nothing here renders HTML.
"""

from __future__ import annotations

import math

import pandas as pd

from indicators.disclosure import protect_history, suppression_kind
from indicators.instrument import Instrument
from indicators.scoring import RESULT_COLUMNS, SHARE_COLUMNS, order_results

HISTORY_COLUMNS = [
    "year",
    "questionnaire",
    "question",
    "subgroup",
    "n",
    "negative",
    "neutral",
    "positive",
    "clearly_positive",
    "response_rate",
]
NATIONAL_COLUMNS = ["year", "questionnaire", "question", "subgroup", "positive"]
SUBGROUP_LABELS = {"samtliga": "Samtliga", "kvinnor": "kvinnor", "man": "män"}
COMPUTED, IMPORTED = "beräknad", "importerad"


def history_results(
    history: pd.DataFrame, instrument: Instrument, *, min_cell: int
) -> pd.DataFrame:
    """Turn figures typed in from old annual reports into result rows.

    Only percentages and n are known; the number of scale answers is derived
    from n × svarsfrekvens so that the same suppression applies to them.
    """
    if history.empty:
        return pd.DataFrame(columns=[*RESULT_COLUMNS, "source"])
    questions = instrument.questions_frame()[["questionnaire", "question", "indicator"]]
    rows = history.merge(questions, on=["questionnaire", "question"], how="inner").copy()
    n = rows["n"].astype("Int64")
    rate = rows["response_rate"].astype("Int64")
    rows["answered"] = ((2 * n * rate + 100) // 200).astype("Int64")
    for column in ("negative_n", "neutral_n", "positive_n", "clearly_positive_n"):
        rows[column] = pd.Series(pd.NA, index=rows.index, dtype="Int64")
    for column in [*SHARE_COLUMNS, "response_rate"]:
        rows[column] = rows[column].astype("Int64")
    rows["question"] = rows["question"].astype("Int64")
    rows["suppressed"] = ""
    rows = protect_history(rows[RESULT_COLUMNS], min_cell)
    return order_results(rows, instrument).assign(source=IMPORTED)


def combine(results: pd.DataFrame, history: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Computed rows, plus imported rows for what was not computed (marked by ``source``)."""
    computed = results.assign(source=COMPUTED)
    if history.empty:
        return computed
    key = ["year", "questionnaire", "question", "subgroup"]

    def keys(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[key].astype(
            {"year": "int64", "question": "Int64", "questionnaire": str, "subgroup": str}
        )

    known = keys(computed).drop_duplicates()
    merged = keys(history).merge(known, on=key, how="left", indicator=True)
    fresh = history[(merged["_merge"] == "left_only").to_numpy()]
    both = pd.concat([computed, fresh], ignore_index=True)
    return order_results(both, instrument)


def attach_national(results: pd.DataFrame, national: pd.DataFrame) -> pd.DataFrame:
    """Add a ``national`` column (Riket's positive share) where it is known."""
    out = results.copy()
    if national.empty:
        out["national"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        return out
    nat = national[NATIONAL_COLUMNS].rename(columns={"positive": "national"})
    nat = nat.astype({"question": "Int64", "year": "int64", "national": "Int64"})
    return out.merge(nat, on=["year", "questionnaire", "question", "subgroup"], how="left")


def indicator_table(
    results: pd.DataFrame, national: pd.DataFrame, *, indicator: int, year: int
) -> pd.DataFrame:
    """The seed's "Resultat YEAR" table for one indicator: a row per question × subgroup."""
    rows = results[
        (results["year"] == year)
        & (results["indicator"] == indicator)
        & results["question"].notna()
    ]
    return attach_national(rows, national).reset_index(drop=True)


SUMMARY_COLUMNS = [
    "indicator",
    "questionnaire",
    "n",
    "positive",
    "previous",
    "change",
    "significant",
    "suppressed",
    "hidden",
]
Z_95 = 1.959963984540054  # two-sided 95 % critical value of the standard normal


def summary(results: pd.DataFrame, instrument: Instrument, *, year: int) -> pd.DataFrame:
    """ "Resultatet i korthet": positive share per indicator × questionnaire, Samtliga.

    Uses the pooled row (or the single question's row where only imported
    figures exist), with the change in percentage points from the year before
    when both years are shown and comparable. ``n`` is the number of
    respondents: the largest ``n`` among the indicator's scale questions of
    that questionnaire (a pooled row's own ``n`` adds answers up and would
    count a person once per question). ``significant`` says whether the
    change is larger than chance variation (two-proportion z-test at 95 %,
    each year's size taken as its respondents who answered on the scale).
    """
    rows = []
    samtliga = results[(results["subgroup"] == "samtliga") & results["year"].isin([year, year - 1])]
    # Split once into plain records per year × indicator × questionnaire: a pandas filter per
    # cell costs milliseconds each, and this runs on every page view.
    parts: dict[tuple[int, int, str], list[dict]] = {}
    for record in samtliga.to_dict("records"):
        key = (int(record["year"]), int(record["indicator"]), str(record["questionnaire"]))
        parts.setdefault(key, []).append(record)

    def part(y: int, indicator: int, questionnaire: str) -> list[dict]:
        return parts.get((y, indicator, questionnaire), [])

    def scale_rows(y: int, indicator: int, questionnaire: str, numbers: set[int]) -> list[dict]:
        """The rows of the indicator's pooled (non-gate) questions."""
        return [
            r
            for r in part(y, indicator, questionnaire)
            if not _missing(r["question"]) and int(r["question"]) in numbers
        ]

    for indicator in sorted(instrument.indicators):
        for qn in instrument.questionnaires:
            questions = [q for q in qn.questions if q.indicator == indicator and not q.gate]
            if not questions:
                continue
            now = _headline(part(year, indicator, qn.key), len(questions))
            before = _headline(part(year - 1, indicator, qn.key), len(questions))
            if now is None:
                continue
            numbers = {q.number for q in questions}
            broken = any(
                q.comparable_from is not None and year - 1 < q.comparable_from <= year
                for q in questions
            )
            positive = None if now["suppressed"] or _missing(now["positive"]) else now["positive"]
            previous = None
            if before is not None and not before["suppressed"] and not _missing(before["positive"]):
                previous = before["positive"]
            change = significant = None
            if positive is not None and previous is not None and not broken:
                change = int(positive) - int(previous)
                significant = change_is_significant(
                    int(positive),
                    _size(scale_rows(year, indicator, qn.key, numbers), "answered"),
                    int(previous),
                    _size(scale_rows(year - 1, indicator, qn.key, numbers), "answered"),
                )
            rows.append(
                {
                    "indicator": indicator,
                    "questionnaire": qn.key,
                    # n stays empty where it is hidden (questions asked only after Ja on 8)
                    "n": _size(scale_rows(year, indicator, qn.key, numbers), "n")
                    or (None if _missing(now["n"]) else int(now["n"])),
                    "positive": positive,
                    "previous": previous,
                    "change": change,
                    "significant": significant,
                    "suppressed": bool(now["suppressed"]),
                    "hidden": _hidden_kind(now),
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _hidden_kind(record: dict) -> str:
    """Why a row is hidden ("primary" / "complementary"); never "primary" on a guess."""
    kind = record.get("hidden")
    if isinstance(kind, str) and kind:
        return kind
    return suppression_kind(record["suppressed"], record.get("reason"))


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _size(records: list[dict], column: str) -> int | None:
    """Respondents behind an indicator in one questionnaire: the max over its questions."""
    values = [int(r[column]) for r in records if not _missing(r[column])]
    return max(values) if values else None


def two_proportion_z(p1: float, n1: int, p2: float, n2: int) -> float | None:
    """z statistic of the difference between two shares (pooled standard error)."""
    if not n1 or not n2:
        return None
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    return (p1 - p2) / se


def change_is_significant(
    positive: int, size: int | None, previous: int, previous_size: int | None
) -> bool | None:
    """True when a change of shares (percent) is larger than chance at 95 %; None: unknown."""
    if size is None or previous_size is None:
        return None
    z = two_proportion_z(positive / 100, size, previous / 100, previous_size)
    if z is None:  # both 0 % or both 100 %: no variation, so no change either
        return False
    return abs(z) > Z_95


def _headline(records: list[dict], n_questions: int) -> dict | None:
    """The pooled row of one year × indicator × questionnaire (or its only question's row)."""
    pooled = [r for r in records if _missing(r["question"])]
    if pooled:
        return pooled[0]
    if n_questions == 1 and len(records) == 1:
        return records[0]
    return None


def format_share(positive: float | None, clearly: float | None = None) -> str:
    """ "96% (81%)" as printed in the seed; empty for missing values."""
    if positive is None or pd.isna(positive):
        return ""
    text = f"{int(positive)}%"
    if clearly is not None and not pd.isna(clearly):
        text += f" ({int(clearly)}%)"
    return text


def starting_line(
    summary_rows: pd.DataFrame,
    national: pd.DataFrame,
    instrument: Instrument,
    *,
    indicator: int,
    year: int,
) -> str:
    """A factual first line for the förbundschef's comment: figures only, no interpretation.

    "Förbundets resultat för Deltagare avslut (samtliga) är 96 % positivt, riket 91 %."
    Riket is named only where the group answered a single question of the indicator.
    """
    parts = []
    rows = summary_rows[summary_rows["indicator"] == indicator]
    if national.empty:
        national = national.iloc[0:0]
    else:
        national = national[(national["year"] == year) & (national["subgroup"] == "samtliga")]
    for r in rows.itertuples():
        if r.suppressed or r.positive is None or pd.isna(r.positive):
            continue
        qn = instrument.questionnaire(r.questionnaire)
        who = f"{qn.short_name} (samtliga)" if qn.participant else qn.short_name
        text = f"{who} är {int(r.positive)} % positivt"
        riket = _national_single(national, instrument, qn.key, indicator, year)
        if riket is not None:
            text += f", riket {riket} %"
        parts.append(text)
    if not parts:
        return ""
    return "Förbundets resultat för " + "; för ".join(parts) + "."


def _national_single(
    national: pd.DataFrame, instrument: Instrument, questionnaire: str, indicator: int, year: int
) -> int | None:
    qn = instrument.questionnaire(questionnaire)
    questions = [q for q in qn.questions if q.indicator == indicator and not q.gate]
    if len(questions) != 1 or national.empty:
        return None
    sel = national[
        (national["year"] == year)
        & (national["questionnaire"] == questionnaire)
        & (national["question"] == questions[0].number)
        & (national["subgroup"] == "samtliga")
    ]["positive"].dropna()
    return int(sel.iloc[0]) if not sel.empty else None


def collection_overview(
    year_counts: pd.DataFrame, instrument: Instrument, *, year: int, back: int = 2
) -> dict:
    """Questionnaires per respondent group this year and ``back`` years before.

    Returns ``years`` (newest first), ``rows`` (group name and counts per year),
    ``totals`` per year, ``not_asked`` (groups in use that year with no
    questionnaires) and ``introduced`` (groups first asked in one of the years).
    """
    years = [year - i for i in range(back + 1)]
    counts = {(int(r.year), r.questionnaire): int(r.n) for r in year_counts.itertuples(index=False)}
    rows, not_asked, introduced = [], [], []
    for qn in instrument.questionnaires:
        per_year = [counts.get((y, qn.key), 0) for y in years]
        exists = qn.introduced is None or qn.introduced <= year
        if exists:
            rows.append({"name": qn.short_name, "counts": per_year})
            if per_year[0] == 0:
                not_asked.append(qn.short_name)
        if qn.introduced is not None and years[-1] < qn.introduced <= year:
            introduced.append((qn.short_name, qn.introduced))
    totals = [sum(counts.get((y, qn.key), 0) for qn in instrument.questionnaires) for y in years]
    return {
        "years": years,
        "rows": rows,
        "totals": totals,
        "not_asked": not_asked,
        "introduced": introduced,
    }
