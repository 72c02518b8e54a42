"""Disclosure control: each attack of issue 12 as a small example that now learns nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from indicators import protect, score
from indicators.disclosure import (
    PROTECTED_COLUMNS,
    REASON_CHANGED,
    REASON_CONDITIONAL,
    REASON_PRIMARY,
    REASON_RELATION,
    build_cells,
    count_frames,
)
from indicators.scoring import COUNT_COLUMNS
from tests import seedrows
from tests.test_disclosure_property import (
    INSTRUMENT,
    attack,
    cells_of,
    respondents,
    unhide,
)

MIN_CELL = 5
GENDER, SCOPE, QUESTION = REASON_RELATION["R1"], REASON_RELATION["R2"], REASON_RELATION["R3"]


def get(published, *, scope, question, subgroup="samtliga", questionnaire=None, indicator=None):
    """The one published row of a scope, question (None = pooled) and subgroup."""
    sel = published[(published["scope"] == scope) & (published["subgroup"] == subgroup)]
    if questionnaire is not None:
        sel = sel[sel["questionnaire"] == questionnaire]
    if indicator is not None:
        sel = sel[sel["indicator"] == indicator]
    sel = sel[sel["question"].isna()] if question is None else sel[sel["question"] == question]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def run(rows, *, min_cell=MIN_CELL, protect_other=True, previous=None):
    truth = cells_of(rows)
    published = protect(
        truth, INSTRUMENT, min_cell=min_cell, protect_other=protect_other, previous=previous
    )
    assert attack(published, truth, min_cell=min_cell, protect_other=protect_other) == []
    return truth, published


def gendered(counts: dict[str, int], *, scope="Insats A", answers=None) -> list[dict]:
    """Participants (ongoing questionnaire) per gender, all answering question 1 only."""
    rows: list[dict] = []
    for gender, count in counts.items():
        rows += respondents("deltagare_pagaende", scope, gender, answers or {1: 6}, count)
    return rows


def test_insats_difference_no_longer_gives_the_other_insats():
    rows = respondents("personal", "Insats A", "", {3: 1, 4: 1}, 3)
    rows += respondents("personal", "Insats B", "", {3: 6, 4: 5}, 20)
    truth, published = run(rows)
    small = get(published, scope="Insats A", question=3, questionnaire="personal")
    other = get(published, scope="Insats B", question=3, questionnaire="personal")
    forbund = get(published, scope="", question=3, questionnaire="personal")
    assert (small["suppression"], small["n"]) == (REASON_PRIMARY, 3)
    assert other["suppressed"]
    assert other["suppression"] == SCOPE
    assert pd.isna(other["answered"])
    assert pd.isna(other["negative_n"])
    assert not forbund["suppressed"]
    assert forbund["answered"] == 23
    # The attacker really would learn A's answers if B were shown.
    index = other.name
    assert attack(unhide(published, truth, index, MIN_CELL), truth, min_cell=MIN_CELL)


def test_samtliga_minus_kvinnor_minus_man_no_longer_gives_the_one_annat():
    rows = gendered({"kvinna": 12, "man": 9, "annat": 1})
    _, published = run(rows)
    samtliga = get(published, scope="Insats A", question=1)
    kvinnor = get(published, scope="Insats A", question=1, subgroup="kvinnor")
    man = get(published, scope="Insats A", question=1, subgroup="man")
    assert not samtliga["suppressed"]
    assert samtliga["answered"] == 22
    assert not kvinnor["suppressed"]
    assert kvinnor["answered"] == 12
    assert man["suppressed"]
    assert man["suppression"] == GENDER
    assert man["n"] == 9
    assert set(published["subgroup"]) == {"samtliga", "kvinnor", "man"}


def test_pooled_minus_question_no_longer_gives_the_suppressed_question():
    rows = respondents("personal", "Insats A", "", {3: 1, 4: 6}, 3)
    rows += respondents("personal", "Insats A", "", {3: None, 4: 6}, 7)
    _, published = run(rows)
    q3 = get(published, scope="Insats A", question=3, questionnaire="personal")
    q4 = get(published, scope="Insats A", question=4, questionnaire="personal")
    pooled = get(published, scope="Insats A", question=None, questionnaire="personal", indicator=8)
    assert q3["suppression"] == REASON_PRIMARY
    assert not q4["suppressed"]
    assert q4["answered"] == 10
    assert pooled["suppressed"]
    assert pooled["suppression"] == QUESTION
    assert pooled["n"] == 20
    assert pd.isna(pooled["answered"])


def test_two_women_answering_vet_ej_cannot_be_read_from_samtliga_and_man():
    rows = gendered({"kvinna": 2}, answers={1: 0}) + gendered({"man": 10})
    _, published = run(rows)
    kvinnor = get(published, scope="Insats A", question=1, subgroup="kvinnor")
    man = get(published, scope="Insats A", question=1, subgroup="man")
    samtliga = get(published, scope="Insats A", question=1)
    assert kvinnor["suppressed"]
    assert kvinnor["n"] == 2
    assert pd.isna(kvinnor["answered"])
    assert man["suppressed"]
    assert man["suppression"] == GENDER
    assert not samtliga["suppressed"]
    assert samtliga["answered"] == 10


def _exit(ja: bool, code: int) -> dict[int, int | None]:
    answers: dict[int, int | None] = {q: 6 for q in range(1, 8)}
    answers[8] = 1 if ja else 2
    if ja:
        answers[9], answers[10] = code, code
    return answers


def test_question_9_n_is_not_printed_under_a_suppressed_question_8():
    rows = respondents("deltagare_avslut", "Insats A", "", _exit(True, 1), 3)
    rows += respondents("deltagare_avslut", "Insats B", "", _exit(True, 6), 15)
    rows += respondents("deltagare_avslut", "Insats B", "", _exit(False, 6), 5)
    _, published = run(rows)
    exit_rows = published[published["questionnaire"] == "deltagare_avslut"]
    gate = get(exit_rows, scope="Insats A", question=8)
    assert gate["suppression"] == REASON_PRIMARY
    assert gate["n"] == 3
    for question in (9, 10, None):
        row = get(exit_rows, scope="Insats A", question=question, indicator=6)
        assert row["suppressed"]
        assert row["suppression"] == REASON_CONDITIONAL
        assert pd.isna(row["n"])
        assert pd.isna(row["answered"])
    # B's gate would give A's by subtraction from the förbund, so B's gate is hidden too,
    # and with it B's conditional rows and their n (= B's Ja count).
    other = get(exit_rows, scope="Insats B", question=8)
    assert other["suppression"] == SCOPE
    assert other["n"] == 20
    assert pd.isna(get(exit_rows, scope="Insats B", question=9)["n"])
    forbund = get(exit_rows, scope="", question=9)
    assert not forbund["suppressed"]
    assert forbund["n"] == 18


def test_design_example_113_is_63_plus_46_plus_4():
    rows = gendered({"kvinna": 63, "man": 46, "annat": 4})
    _, published = run(rows)
    kvinnor = get(published, scope="Insats A", question=1, subgroup="kvinnor")
    man = get(published, scope="Insats A", question=1, subgroup="man")
    samtliga = get(published, scope="Insats A", question=1)
    assert samtliga["answered"] == 113
    assert kvinnor["answered"] == 63
    assert man["suppressed"]
    assert man["suppression"] == GENDER
    assert man["n"] == 46


def test_design_example_large_ovriga_no_longer_forces_man_hidden():
    rows = gendered({"kvinna": 3, "man": 46, "annat": 6})
    _, published = run(rows)
    kvinnor = get(published, scope="Insats A", question=1, subgroup="kvinnor")
    man = get(published, scope="Insats A", question=1, subgroup="man")
    assert kvinnor["suppression"] == REASON_PRIMARY
    assert not man["suppressed"]
    assert man["answered"] == 46
    # The old twin rule hid män here.
    old = score(pd.DataFrame(rows).astype({"code": "Int64"}), INSTRUMENT, min_cell=MIN_CELL)
    assert old[(old["subgroup"] == "man") & (old["question"] == 1)]["suppressed"].all()


def test_pooled_size_is_questionnaires_not_answers():
    rows = respondents("personal", "Insats A", "", {3: 6, 4: 6}, 3)
    rows += respondents("personal", "Insats B", "", {3: 6, 4: 6}, 3)
    truth, published = run(rows)
    pooled = truth[(truth["indicator"] == 8) & truth["question"].isna() & (truth["scope"] == "")]
    assert list(pooled["size"]) == [6]
    assert list(pooled["answered"]) == [12]
    row = get(published, scope="Insats A", question=None, questionnaire="personal", indicator=8)
    assert row["suppression"] == REASON_PRIMARY  # 6 answers, but 3 questionnaires


@pytest.mark.parametrize(
    ("counts", "protect_other", "man_hidden"),
    [
        ({"kvinna": 12, "man": 9, "annat": 1}, False, False),
        ({"kvinna": 3, "man": 9, "annat": 2}, False, True),
        ({"kvinna": 3, "man": 9, "annat": 2}, True, False),
    ],
)
def test_protect_other_switched_off(counts, protect_other, man_hidden):
    _, published = run(gendered(counts), protect_other=protect_other)
    man = get(published, scope="Insats A", question=1, subgroup="man")
    assert bool(man["suppressed"]) is man_hidden
    if man_hidden:
        assert man["suppression"] == GENDER
    else:
        assert man["answered"] == 9


def test_republication_hides_every_cell_that_changed_by_less_than_min_cell():
    before = gendered({"kvinna": 10, "man": 12}) + gendered({"kvinna": 8}, scope="Insats B")
    late = respondents("deltagare_pagaende", "Insats A", "kvinna", {1: 1}, 2)
    previous = cells_of(before)
    truth, published = run(before + late, previous=previous)
    kvinnor = get(published, scope="Insats A", question=1, subgroup="kvinnor")
    assert kvinnor["suppression"] == REASON_CHANGED
    assert kvinnor["n"] == 12
    unchanged = get(published, scope="Insats A", question=1, subgroup="man")
    assert not unchanged["suppressed"]
    # No visible figure lets the two late answers be subtracted out.
    old = protect(previous, INSTRUMENT, min_cell=MIN_CELL)
    merged = published.merge(
        old, on=["scope", "indicator", "questionnaire", "question", "subgroup"], suffixes=("", "_0")
    )
    both_visible = merged[~merged["suppressed"] & ~merged["suppressed_0"]]
    delta = (both_visible["answered"] - both_visible["answered_0"]).abs()
    assert not ((delta >= 1) & (delta < MIN_CELL)).any()
    assert len(both_visible) > 0


def test_build_cells_agrees_with_score_for_the_forbund():
    answers = seedrows.answers_frame()
    cells = build_cells(*count_frames(answers, INSTRUMENT), INSTRUMENT)
    scored = score(answers, INSTRUMENT)
    forbund = cells[(cells["scope"] == "") & (cells["subgroup"] != "ovriga") & (cells["n"] > 0)]
    key = ["indicator", "questionnaire", "question", "subgroup"]
    merged = forbund.merge(scored, on=key, suffixes=("", "_s"), validate="one_to_one")
    assert len(merged) == len(scored) > 0
    for column in COUNT_COLUMNS:
        assert merged[column].astype("Int64").equals(merged[f"{column}_s"].astype("Int64"))


def test_published_rows_only_and_suppressed_rows_keep_only_n():
    rows = gendered({"kvinna": 12, "man": 9, "annat": 1})
    rows += respondents("deltagare_pagaende", "", "kvinna", {1: 3}, 2)
    _, published = run(rows)
    assert list(published.columns) == PROTECTED_COLUMNS
    assert set(published["scope"]) == {"", "Insats A"}
    assert "ovriga" not in set(published["subgroup"])
    hidden = published[published["suppressed"]]
    figures = [c for c in PROTECTED_COLUMNS[5:] if c not in ("n", "suppressed", "scope")]
    figures.remove("suppression")
    assert hidden[figures].isna().all().all()
    assert hidden["n"].notna().all()
    shown = published[~published["suppressed"]]
    assert shown["positive"].notna().all()
    assert (shown["suppression"] == "").all()


def test_joint_relations_no_longer_give_a_cell_that_every_single_relation_protects():
    """R2 over kvinnor gives the women without insats, R1 then all without insats, and
    R2 over samtliga the one person of Insats 0 — though each relation alone is fine."""
    rows = respondents("deltagare_avslut", "Insats 0", "", {3: 3})
    rows += respondents("deltagare_avslut", "Insats 1", "kvinna", {3: 6}, 5)
    rows += respondents("deltagare_avslut", "Insats 1", "man", {3: 1})
    rows += respondents("deltagare_avslut", "Insats 1", "", {3: 4}, 4)
    rows += respondents("deltagare_avslut", "", "kvinna", {3: 5}, 5)
    truth, published = run(rows)
    lonely = get(published, scope="Insats 0", question=3)
    assert lonely["suppression"] == REASON_PRIMARY
    assert lonely["n"] == 1
    women = get(published, scope="Insats 1", question=3, subgroup="kvinnor")
    assert women["suppressed"]
    assert women["suppression"] == SCOPE
    shown = unhide(published, truth, women.name, MIN_CELL)
    leaks = attack(shown, truth, min_cell=MIN_CELL)
    assert "3/deltagare_avslut: answered of ('Insats 0', 'samtliga', 3) (size 1) is determined" in (
        leaks
    )


def test_a_missing_question_9_row_does_not_tell_that_nobody_answered_ja():
    rows = respondents("deltagare_avslut", "Insats A", "", _exit(False, 6), 3)
    rows += respondents("deltagare_avslut", "Insats B", "", _exit(True, 6), 15)
    rows += respondents("deltagare_avslut", "Insats C", "", _exit(True, 5), 9)
    _, published = run(rows)
    exit_rows = published[published["questionnaire"] == "deltagare_avslut"]
    for question in (9, 10, None):
        row = get(exit_rows, scope="Insats A", question=question, indicator=6)
        assert row["suppression"] == REASON_CONDITIONAL
        assert pd.isna(row["n"])
    gate = get(exit_rows, scope="Insats A", question=8)
    assert gate["suppression"] == REASON_PRIMARY
    assert gate["n"] == 3
