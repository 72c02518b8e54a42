"""Score answers into the report's result rows (DESIGN.md "Report CSV").

Input is one row per question put to a respondent (the code is empty when the
question was left blank); questions 9 and 10 of the exit questionnaire only
have rows when question 8 was answered Ja. Everything is vectorised: answers
are first counted per (year, questionnaire, question, gender, code), and all
further work happens on that small table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from indicators.instrument import Instrument

ANSWER_COLUMNS = [
    "response",  # random id of the filled-in questionnaire
    "year",
    "questionnaire",
    "question",  # number within the questionnaire
    "question_version",
    "intervention",
    "gender",  # kvinna / man / annat / empty
    "code",  # scale code, empty when left blank
]
COUNT_COLUMNS = [
    "n",
    "answered",
    "negative_n",
    "neutral_n",
    "positive_n",
    "clearly_positive_n",
]
SHARE_COLUMNS = ["negative", "neutral", "positive", "clearly_positive"]
RESULT_COLUMNS = [
    "year",
    "indicator",
    "questionnaire",
    "question",
    "subgroup",
    *COUNT_COLUMNS,
    "response_rate",
    *SHARE_COLUMNS,
    "suppressed",
]
SUBGROUPS = ("samtliga", "kvinnor", "man")
_GENDER_OF_SUBGROUP = {"kvinnor": "kvinna", "man": "man"}
_BLANK = -1  # stands for an empty code while counting


def percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """Whole percent rounded half up, exactly (integer arithmetic); empty when whole is 0."""
    part = part.astype("Int64")
    whole = whole.astype("Int64")
    result = (200 * part + whole) // (2 * whole)
    return result.where(whole > 0).astype("Int64")


def _factorize(values: pd.Series, *, missing: int | str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and their values; missing values get their own code (``missing``)."""
    codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques = np.append(uniques, missing)
    return codes, uniques


def count_codes(answers: pd.DataFrame) -> pd.DataFrame:
    """Count answers per year, questionnaire, question, gender and code.

    Each key column is factorised to small integers, combined into one flat
    index and counted with ``np.bincount`` — one pass over the answers, with
    no Python loop and no hash-based group-by on the large table.
    """
    columns = [
        _factorize(answers["year"].astype("int64"), missing=-1),
        _factorize(answers["questionnaire"], missing=""),
        _factorize(answers["question"].astype("int64"), missing=-1),
        _factorize(answers["gender"], missing=""),
        _factorize(answers["code"].astype("Int64"), missing=_BLANK),
    ]
    dims = tuple(len(uniques) for _, uniques in columns)
    flat = np.ravel_multi_index(tuple(codes for codes, _ in columns), dims)
    counts = np.bincount(flat, minlength=int(np.prod(dims)))
    present = np.flatnonzero(counts)
    positions = np.unravel_index(present, dims)
    names = ["year", "questionnaire", "question", "gender", "code"]
    frame = pd.DataFrame(
        {
            name: uniques[pos]
            for name, (_, uniques), pos in zip(names, columns, positions, strict=True)
        }
    )
    frame = frame.astype({"year": "int64", "question": "int64", "code": "int64"})
    frame["questionnaire"] = frame["questionnaire"].astype(str)
    frame["gender"] = frame["gender"].astype(str)
    frame["count"] = counts[present]
    return frame


def classify(counts: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Attach indicator, scale grouping and per-group counts to the code counts.

    ``counts`` has questionnaire, question, code (-1 = blank) and count columns;
    any further columns (year, gender, intervention, ...) are carried along.
    Shared by ``score`` and ``indicators.disclosure.build_cells``.
    """
    questions = instrument.questions_frame()
    merged = counts.merge(questions, on=["questionnaire", "question"], how="left")
    unknown = merged["indicator"].isna()
    if unknown.any():
        bad = merged.loc[unknown, ["questionnaire", "question"]].drop_duplicates()
        raise ValueError(f"Okända frågor i svaren: {bad.to_dict('records')}")
    options = instrument.options_frame()
    merged = merged.merge(options, on=["scale", "code"], how="left")
    outside = (
        merged["group"].isna() & merged["clearly_positive"].isna() & (merged["code"] != _BLANK)
    )
    if outside.any():
        bad = merged.loc[outside, ["questionnaire", "question", "code"]].drop_duplicates()
        raise ValueError(f"Svarskoder utanför skalan: {bad.to_dict('records')}")
    c = merged["count"]
    group = merged["group"]
    merged["n"] = c
    merged["answered"] = c.where(group.notna(), 0)
    merged["negative_n"] = c.where(group == "negative", 0)
    merged["neutral_n"] = c.where(group == "neutral", 0)
    merged["positive_n"] = c.where(group == "positive", 0)
    merged["clearly_positive_n"] = c.where(merged["clearly_positive"].fillna(False).astype(bool), 0)
    merged["indicator"] = merged["indicator"].astype("int64")
    return merged


def _by_subgroup(classified: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Sum counts into Samtliga, and kvinnor / män for participant questionnaires."""
    keys = ["year", "indicator", "questionnaire", "question", "gate", "scale"]
    parts = []
    everyone = classified.groupby(keys, sort=False)[COUNT_COLUMNS].sum().reset_index()
    everyone["subgroup"] = "samtliga"
    parts.append(everyone)
    participant = {qn.key for qn in instrument.questionnaires if qn.participant}
    in_participant = classified["questionnaire"].isin(participant)
    for subgroup, gender in _GENDER_OF_SUBGROUP.items():
        rows = classified[in_participant & (classified["gender"] == gender)]
        part = rows.groupby(keys, sort=False)[COUNT_COLUMNS].sum().reset_index()
        part["subgroup"] = subgroup
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def blank_clearly_positive(per_question: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Make clearly_positive_n Int64 and empty it for scales without "Klart positivt"."""
    no_cp_scales = {s.key for s in instrument.scales.values() if not s.has_clearly_positive}
    per_question = per_question.astype({"clearly_positive_n": "Int64"})
    per_question.loc[per_question["scale"].isin(no_cp_scales), "clearly_positive_n"] = pd.NA
    return per_question


def pool(per_question: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Add up an indicator's scale questions per questionnaire; the gate is not pooled.

    ``by`` names further key columns to keep apart (e.g. the scope).
    """
    scale_rows = per_question[~per_question["gate"].astype(bool)]
    keys = ["year", "indicator", "questionnaire", *by, "subgroup"]
    pooled = scale_rows.groupby(keys, sort=False)[COUNT_COLUMNS].sum().reset_index()
    pooled["question"] = pd.NA
    pooled["gate"] = False
    return pooled


def score(answers: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Count a table of answers into result rows with DESIGN.md's report columns.

    Returns one row per year × indicator × questionnaire × question × subgroup,
    plus pooled rows (empty ``question``) per year × indicator × questionnaire ×
    subgroup. Percentages are whole numbers rounded half up. Only counts: nothing
    is suppressed here (``suppressed`` is ""); disclosure control is
    ``indicators.disclosure.protect`` alone.
    """
    if answers.empty:
        return empty_results()
    classified = classify(count_codes(answers), instrument)
    per_question = blank_clearly_positive(_by_subgroup(classified, instrument), instrument)
    results = pd.concat([per_question, pool(per_question)], ignore_index=True)
    results = results[results["n"] > 0]
    results["response_rate"] = percent(results["answered"], results["n"])
    for share in SHARE_COLUMNS:
        results[share] = percent(results[f"{share}_n"], results["answered"])
    results["question"] = results["question"].astype("Int64")
    results["suppressed"] = ""
    return order_results(results[RESULT_COLUMNS], instrument)


def empty_results() -> pd.DataFrame:
    """A result table with no rows and the right columns."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in RESULT_COLUMNS})


def order_results(results: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Sort like the report: year, indicator, questionnaire order, question, pooled last."""
    order = {key: i for i, key in enumerate(instrument.questionnaire_keys)}
    sub = {s: i for i, s in enumerate(SUBGROUPS)}
    sort_frame = pd.DataFrame(
        {
            "y": results["year"].astype(int),
            "i": results["indicator"].astype(int),
            "q": results["questionnaire"].map(order).fillna(99),
            "n": results["question"].astype("Int64").fillna(999),
            "s": results["subgroup"].map(sub),
        },
        index=results.index,
    )
    idx = sort_frame.sort_values(["y", "i", "q", "n", "s"], kind="stable").index
    out = results.loc[idx].reset_index(drop=True)
    for column in ("year", "indicator"):
        out[column] = out[column].astype("int64")
    return out
