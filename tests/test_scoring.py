"""Pure scoring: conformance with the seed's 2023 table, rules, and properties."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators import RESULT_COLUMNS, Instrument, score
from indicators.disclosure import protect_history
from indicators.scoring import percent
from surveys.services.catalogue import DEFAULT_FILE
from tests import seedrows

INSTRUMENT = Instrument.load(DEFAULT_FILE)


def row(results, *, indicator, question, subgroup, questionnaire="deltagare_avslut"):
    sel = results[
        (results["indicator"] == indicator)
        & (results["subgroup"] == subgroup)
        & (results["questionnaire"] == questionnaire)
    ]
    sel = sel[sel["question"].isna()] if question is None else sel[sel["question"] == question]
    assert len(sel) == 1
    return sel.iloc[0]


@pytest.mark.parametrize("key", list(seedrows.EXPECTED))
def test_reproduces_seed_rows(key):
    results = score(seedrows.answers_frame(), INSTRUMENT)
    indicator, question, subgroup = key
    r = row(results, indicator=indicator, question=question, subgroup=subgroup)
    n, negative, neutral, positive, clearly, rate = seedrows.EXPECTED[key]
    assert (
        r["n"],
        r["negative"],
        r["neutral"],
        r["positive"],
        r["clearly_positive"],
        r["response_rate"],
    ) == (n, negative, neutral, positive, clearly, rate)
    assert not r["suppressed"]


def test_worked_example_counts():
    results = score(seedrows.answers_frame(), INSTRUMENT)
    r = row(results, indicator=4, question=4, subgroup="kvinnor")
    assert (
        r["answered"],
        r["negative_n"],
        r["neutral_n"],
        r["positive_n"],
        r["clearly_positive_n"],
    ) == (56, 4, 5, 47, 43)


def test_gate_row_is_ja_share_without_clearly_positive_and_not_pooled():
    results = score(seedrows.answers_frame(), INSTRUMENT)
    gate = row(results, indicator=6, question=8, subgroup="samtliga")
    assert (gate["n"], gate["answered"], gate["positive_n"], gate["negative_n"]) == (
        118,
        117,
        115,
        2,
    )
    assert gate["positive"] == 98
    assert gate["neutral"] == 0
    assert pd.isna(gate["clearly_positive"])
    assert pd.isna(gate["clearly_positive_n"])
    pooled = row(results, indicator=6, question=None, subgroup="samtliga")
    q9 = row(results, indicator=6, question=9, subgroup="samtliga")
    q10 = row(results, indicator=6, question=10, subgroup="samtliga")
    assert pooled["n"] == q9["n"] + q10["n"] == 230  # the gate is not pooled
    assert pooled["positive_n"] == q9["positive_n"] + q10["positive_n"]


def test_columns_and_order():
    results = score(seedrows.answers_frame(), INSTRUMENT)
    assert list(results.columns) == RESULT_COLUMNS
    first = results[results["indicator"] == 1]
    assert list(first["subgroup"])[:3] == ["samtliga", "kvinnor", "man"]
    assert first["question"].isna().tolist()[-1]  # pooled rows come last


def test_percent_rounds_half_up_exactly():
    part = pd.Series([1, 1, 5, 0, 3])
    whole = pd.Series([8, 200, 200, 5, 0])
    # 12.5 → 13, 0.5 → 1, 2.5 → 3 (banker's rounding would give 12, 0, 2)
    assert percent(part, whole).tolist()[:4] == [13, 1, 3, 0]
    assert pd.isna(percent(part, whole).iloc[4])


def _frame(items):
    """items: list of (gender, code) for one exit question 1 in 2024."""
    return pd.DataFrame(
        [
            {
                "response": f"r{i}",
                "year": 2024,
                "questionnaire": "deltagare_avslut",
                "question": 1,
                "question_version": "deltagare_avslut.1.v1",
                "intervention": "A",
                "gender": g,
                "code": c,
            }
            for i, (g, c) in enumerate(items)
        ]
    ).astype({"code": "Int64"})


def test_score_only_counts_and_hides_nothing():
    """One disclosure implementation (issue 20): ``score`` counts; ``protect`` hides."""
    results = score(_frame([("kvinna", 6)] * 3 + [("man", 6)] * 10), INSTRUMENT)
    women = row(results, indicator=1, question=1, subgroup="kvinnor")
    assert (women["n"], women["answered"], women["positive"]) == (3, 3, 100)
    assert (results["suppressed"] == "").all()


def test_imported_history_rows_go_through_protect_history():
    results = score(_frame([("kvinna", 6)] * 3 + [("man", 6)] * 10), INSTRUMENT)
    protected = protect_history(results, 5)
    women = row(protected, indicator=1, question=1, subgroup="kvinnor")
    men = row(protected, indicator=1, question=1, subgroup="man")
    everyone = row(protected, indicator=1, question=1, subgroup="samtliga")
    assert (women["suppressed"], women["n"]) == ("primary", 3)
    assert pd.isna(women["positive"])
    assert men["suppressed"] == "complementary"  # samtliga − män would give the women
    assert (everyone["suppressed"], everyone["positive"]) == ("", 100)


def test_non_participant_groups_have_only_samtliga():
    frame = _frame([("", 6)] * 6).assign(questionnaire="styrelse", question=1, gender=None)
    results = score(frame, INSTRUMENT)
    assert set(results["subgroup"]) == {"samtliga"}


def test_codes_outside_the_scale_are_refused():
    with pytest.raises(ValueError, match="utanför skalan"):
        score(_frame([("kvinna", 9)]), INSTRUMENT)


def test_empty_input_gives_empty_table():
    empty = pd.DataFrame(
        columns=[
            "response",
            "year",
            "questionnaire",
            "question",
            "question_version",
            "intervention",
            "gender",
            "code",
        ]
    )
    assert list(score(empty, INSTRUMENT).columns) == RESULT_COLUMNS


answers_strategy = st.lists(
    st.tuples(
        st.sampled_from(["kvinna", "man", "annat", None]),
        st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6]),
        st.sampled_from([1, 2, 3]),
        st.sampled_from([2023, 2024]),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers_strategy, st.integers(min_value=1, max_value=8))
def test_properties_of_every_result_table(items, min_cell):
    frame = pd.DataFrame(
        [
            {
                "response": f"r{i}",
                "year": y,
                "questionnaire": "deltagare_pagaende",
                "question": q,
                "question_version": "",
                "intervention": "A",
                "gender": g,
                "code": c,
            }
            for i, (g, c, q, y) in enumerate(items)
        ]
    ).astype({"code": "Int64"})
    results = protect_history(score(frame, INSTRUMENT), min_cell)
    visible = results[results["suppressed"] == ""]
    for share in ("negative", "neutral", "positive", "clearly_positive", "response_rate"):
        assert visible[share].between(0, 100).all()
    assert (visible["clearly_positive"] <= visible["positive"]).all()
    assert (
        visible["negative_n"] + visible["neutral_n"] + visible["positive_n"] == visible["answered"]
    ).all()
    assert (visible["answered"] <= visible["n"]).all()
    assert (visible["answered"] >= min_cell).all()
    hidden = results[results["suppressed"] != ""]
    assert hidden[["answered", "negative", "positive", "response_rate"]].isna().all().all()
    # the twin rule: no visible kvinnor/män row beside a twin hidden with 1..min_cell-1 answers
    raw = score(frame, INSTRUMENT)
    small = raw[raw["subgroup"].isin(["kvinnor", "man"]) & raw["answered"].between(1, min_cell - 1)]
    for _, s in small.iterrows():
        twins = results[
            (results["year"] == s["year"])
            & (results["indicator"] == s["indicator"])
            & (results["question"].fillna(-1) == (s["question"] if pd.notna(s["question"]) else -1))
            & results["subgroup"].isin(["kvinnor", "man"])
        ]
        assert (twins["suppressed"] != "").all()
