"""Report tables built from result rows: history, national figures, the seed's table shape.

All functions take and return data frames; nothing here renders HTML.
"""

from __future__ import annotations

import pandas as pd

from indicators.instrument import Instrument
from indicators.scoring import RESULT_COLUMNS, SHARE_COLUMNS, order_results, suppress

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
    rows["suppressed"] = False
    rows = suppress(rows[RESULT_COLUMNS], min_cell)
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
    out = order_results(both, instrument)
    return out


def attach_national(results: pd.DataFrame, national: pd.DataFrame) -> pd.DataFrame:
    """Add a ``national`` column (Riket's positive share) where it is known."""
    out = results.copy()
    if national.empty:
        out["national"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        return out
    nat = national[NATIONAL_COLUMNS].rename(columns={"positive": "national"})
    nat = nat.astype({"question": "Int64", "year": "int64", "national": "Int64"})
    out = out.merge(nat, on=["year", "questionnaire", "question", "subgroup"], how="left")
    return out


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


def summary(results: pd.DataFrame, instrument: Instrument, *, year: int) -> pd.DataFrame:
    """ "Resultatet i korthet": positive share per indicator × questionnaire, Samtliga.

    Uses the pooled row (or the single question's row where only imported
    figures exist), with the change in percentage points from the year before
    when both years are shown and comparable.
    """
    rows = []
    samtliga = results[results["subgroup"] == "samtliga"]
    for indicator in sorted(instrument.indicators):
        for qn in instrument.questionnaires:
            questions = [q for q in qn.questions if q.indicator == indicator and not q.gate]
            if not questions:
                continue
            now = _headline(samtliga, indicator, qn.key, year, len(questions))
            before = _headline(samtliga, indicator, qn.key, year - 1, len(questions))
            if now is None:
                continue
            broken = any(
                q.comparable_from is not None and year - 1 < q.comparable_from <= year
                for q in questions
            )
            positive = None if now["suppressed"] else now["positive"]
            previous = None if before is None or before["suppressed"] else before["positive"]
            change = None
            if positive is not None and previous is not None and not broken:
                change = int(positive) - int(previous)
            rows.append(
                {
                    "indicator": indicator,
                    "questionnaire": qn.key,
                    "n": int(now["n"]),
                    "positive": positive,
                    "previous": previous,
                    "change": change,
                    "suppressed": bool(now["suppressed"]),
                }
            )
    return pd.DataFrame(
        rows,
        columns=["indicator", "questionnaire", "n", "positive", "previous", "change", "suppressed"],
    )


def _headline(
    samtliga: pd.DataFrame, indicator: int, questionnaire: str, year: int, n_questions: int
) -> pd.Series | None:
    sel = samtliga[
        (samtliga["year"] == year)
        & (samtliga["indicator"] == indicator)
        & (samtliga["questionnaire"] == questionnaire)
    ]
    pooled = sel[sel["question"].isna()]
    if not pooled.empty:
        return pooled.iloc[0]
    if n_questions == 1 and len(sel) == 1:
        return sel.iloc[0]
    return None


def format_share(positive: float | None, clearly: float | None = None) -> str:
    """ "96% (81%)" as printed in the seed; empty for missing values."""
    if positive is None or pd.isna(positive):
        return ""
    text = f"{int(positive)}%"
    if clearly is not None and not pd.isna(clearly):
        text += f" ({int(clearly)}%)"
    return text
