"""Disclosure control played by an attacker who sees only the published rows.

The attacker (``tests/attacker.py``) is written apart from ``indicators.disclosure``:
it knows every atom's n, reads the published figures and ``left_out``, and asks by
linear programming with bounds whether any count of a hidden row or a small
never-published part has only one possible value. Hypothesis draws small förbund
with insatser, genders incl. annat and blank, answers without insats, and a second
version with late answers.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from indicators.disclosure import SUPPRESSED_COMPLEMENTARY, protect
from tests.attacker import attack, rule_breaks, unhide
from tests.disclosure_play import (
    INSTRUMENT,
    cells_of,
    frame,
    learnt,
    play,
    respondents,
    typed_frame,
)


# --------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------
def _exit_answers(draw_code, ja: bool) -> dict[int, int | None]:
    answers = {q: draw_code() for q in range(1, 8)}
    answers[8] = 1 if ja else 2
    if ja:
        answers[9], answers[10] = draw_code(), draw_code()
    return answers


@st.composite
def datasets(draw):
    """A small förbund: 2–3 insatser, genders incl. annat and blank, answers without insats.

    Kept small so that every example's bounded audit runs in seconds (CI).
    """
    insatser = [f"Insats {i}" for i in range(draw(st.integers(2, 3)))]
    codes = st.sampled_from([6, 5, 4, 3, 2, 1, 0, None])
    rows: list[dict] = []
    for scope in [*insatser, ""]:
        for gender in ("kvinna", "man", "annat", ""):
            count = draw(st.sampled_from([0, 0, 1, 2, 3, 4, 6, 9]))
            for _ in range(count):
                ja = draw(st.booleans())
                answers = _exit_answers(lambda: draw(codes), ja)
                rows += respondents("deltagare_avslut", scope, gender, answers)
        count = draw(st.sampled_from([0, 1, 3, 6]))
        for _ in range(count):
            answers = {q: draw(codes) for q in (3, 4, 8, 9)}
            rows += respondents("personal", scope, "", answers)
    if not rows:
        rows += respondents("personal", insatser[0], "", {3: 5})
    return rows


def leaks(published: pd.DataFrame, answers: pd.DataFrame, min_cell: int, protect_other: bool):
    """What the bounded attacker learns, and which rules (a)/(b) break."""
    found = attack(published, answers, min_cell=min_cell, protect_other=protect_other)
    return found + rule_breaks(published, answers, min_cell=min_cell, protect_other=protect_other)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the answer rows
@settings(
    derandomize=True,
    max_examples=10,  # each example is a full bounded LP attack; CI stays under a minute
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking LPs takes minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=datasets(), min_cell=st.integers(3, 8), protect_other=st.booleans())
def test_attacker_learns_nothing_and_every_complementary_suppression_is_needed(
    rows, min_cell, protect_other
):
    truth = cells_of(rows)
    published = protect(truth, INSTRUMENT, min_cell=min_cell, protect_other=protect_other)
    answers = frame(rows)
    assert leaks(published, answers, min_cell, protect_other) == []
    # Conditional rows under a suppressed gate hide n as well.
    exit_rows = published[published["questionnaire"] == "deltagare_avslut"]
    gates = exit_rows[(exit_rows["question"] == 8) & (exit_rows["suppressed"] != "")]
    for _, gate in gates.iterrows():
        under = published[
            (published["indicator"] == 6)
            & (published["questionnaire"] == "deltagare_avslut")
            & (published["scope"] == gate["scope"])
            & (published["subgroup"] == gate["subgroup"])
            & (published["question"] != 8).fillna(True)
        ]
        assert (under["suppressed"] != "").all()
        assert under["n"].isna().all()
    # Minimality: un-hiding any one complementary suppression breaks a rule or leaks.
    complementary = published.index[
        (published["suppressed"] == SUPPRESSED_COMPLEMENTARY) & published["n"].notna()
    ]
    by_block = defaultdict(list)
    for i in complementary:
        by_block[tuple(published.loc[i, ["year", "indicator", "questionnaire"]])].append(i)
    for (year, indicator, questionnaire), indices in by_block.items():
        for i in indices[:1]:  # one per block keeps the run within seconds
            shown = unhide(published, answers, i)
            shown = shown[
                (shown["year"] == year)
                & (shown["indicator"] == indicator)
                & (shown["questionnaire"] == questionnaire)
            ]
            found = leaks(shown, answers, min_cell, protect_other)
            assert found, f"suppression of row {published.loc[i].to_dict()} was not needed"


# --------------------------------------------------------------------------
# A second version: late answers, annat, no insats, planted paper forms
# --------------------------------------------------------------------------
@st.composite
def two_versions(draw):
    """A small first version, then late answers (annat, no insats, kvinnor, män) and
    paper forms planted by one staff member of the first insats (known to the attacker).

    Kept to the exit questionnaire and two insatser: each example is two bounded LP
    attacks, and the whole test stays within seconds in CI."""

    codes = st.sampled_from([6, 5, 3, 1, None])
    insatser = ["Insats 0", "Insats 1"]

    def group(scope: str, gender: str, sizes) -> list[dict]:
        rows: list[dict] = []
        for _ in range(draw(sizes)):
            rows += respondents(
                "deltagare_avslut", scope, gender, _exit_answers(lambda: draw(codes), False)
            )
        return rows

    first: list[dict] = []
    for scope in [*insatser, ""]:
        for gender in ("kvinna", "man", "annat"):
            first += group(scope, gender, st.sampled_from([0, 1, 3, 5, 6]))
    late: list[dict] = []
    for scope in [*insatser, ""]:
        for gender in ("kvinna", "man", "annat", ""):
            late += group(scope, gender, st.sampled_from([0, 0, 1, 4, 5]))
    gender = draw(st.sampled_from(["kvinna", "annat"]))
    planted = group(insatser[0], gender, st.sampled_from([0, 2, 4]))
    typed = [
        typed_frame([]),
        typed_frame(
            [(insatser[0], gender, "personal@x.se", len({r["response"] for r in planted}))]
        ),
    ]
    if not first:
        first = respondents("deltagare_avslut", insatser[1], "man", {1: 5, 8: 2}, 6)
    return first, late + planted, planted, typed


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(
    derandomize=True,
    max_examples=6,  # two versions' bounded attacks per example: seconds, not minutes
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(versions=two_versions(), min_cell=st.integers(3, 6))
def test_two_versions_with_late_answers_and_planted_forms_tell_nothing(versions, min_cell):

    first, late, planted, typed = versions
    played = play([first, late], hold=True, typed=typed, min_cell=min_cell)
    assert learnt(played, planted, min_cell=min_cell) == []
