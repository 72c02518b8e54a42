"""Versions are tables too: attacks that subtract two shown versions of a year.

Each attack is played twice by the bounded attacker (``tests/attacker.py``), which
reads every version and knows the answers of the forms it typed in itself: against
the old rule (each version protected on its own, a republication hiding only published
cells whose size changed by 1..MIN_CELL-1, previews not versions at all) it learns
something; with ``indicators.versions.hold_back`` (the new answers of an atom wait
until enough have come) it learns nothing.
"""

from __future__ import annotations

import pytest

from tests.disclosure_play import ANSWERS, EXIT, learnt, play, respondents, typed_frame

MIN_CELL = 5


def people(scope: str, gender: str, count: int, answers=None) -> list[dict]:
    return respondents(EXIT, scope, gender, answers or ANSWERS, count)


def base() -> list[dict]:
    return [
        *people("Insats A", "kvinna", 6),
        *people("Insats A", "man", 6),
        *people("Insats B", "kvinna", 6),
        *people("Insats B", "man", 7),
    ]


def test_a_late_annat_respondent_is_not_read_off_the_difference_of_two_versions():
    first = [*base(), *people("Insats A", "annat", 5)]
    late = [*people("Insats A", "kvinna", 5), *people("Insats A", "annat", 1, {**ANSWERS, 3: 1})]
    old = play([first, late], hold=False)
    assert any("ovriga" in leak for leak in learnt(old)), "the old rule should give it away"
    new = play([first, late], hold=True)
    assert learnt(new) == []
    assert new.held[1] == [(2024, EXIT, "Insats A", "ovriga")]
    assert new.waiting[1] == 1
    # the five late women are shown (their atom changed by MIN_CELL)
    kvinnor = new.published[1]
    row = kvinnor[
        (kvinnor["scope"] == "Insats A")
        & (kvinnor["subgroup"] == "kvinnor")
        & (kvinnor["question"] == 3)
    ].iloc[0]
    assert row["n"] == 11
    assert row["suppressed"] == ""


def test_a_late_form_without_insats_is_not_read_off_the_difference():
    first = [*base(), *people("", "kvinna", 5)]
    late = [*people("Insats A", "kvinna", 5), *people("", "kvinna", 1, {**ANSWERS, 3: 1})]
    old = play([first, late], hold=False)
    assert any("'-'" in leak for leak in learnt(old)), "the old rule should give it away"
    new = play([first, late], hold=True)
    assert learnt(new) == []
    assert new.held[1] == [(2024, EXIT, "-", "kvinnor")]


def test_preview_difference_attack_learns_nothing():
    """Preview, a release batch of five with one woman arrives, preview again."""
    batch = [*people("Insats A", "man", 4), *people("Insats A", "kvinna", 1, {**ANSWERS, 3: 1})]
    old = play([base(), batch], hold=False, republished=False)
    assert any("kvinnor" in leak for leak in learnt(old)), "previews used to give her away"
    new = play([base(), batch], hold=True)
    assert learnt(new) == []
    assert (2024, EXIT, "Insats A", "kvinnor") in new.held[1]
    assert new.waiting[1] == 5  # her, and the four men (their atom grew by 4 only)
    # Five more women later: enough has changed, everything is shown.
    more = people("Insats A", "kvinna", 4) + people("Insats A", "man", 1)
    third = play([base(), batch, more], hold=True)
    assert learnt(third) == []
    assert third.held[2] == []
    assert third.waiting[2] == 0


def test_administrator_typing_into_a_published_year_then_republishing_learns_nothing():
    """Four planted forms and one real woman: the typist knows four of the five."""
    planted = people("Insats A", "kvinna", 4, {**ANSWERS, 3: 6})
    real = people("Insats A", "kvinna", 1, {**ANSWERS, 3: 1})
    typed = [typed_frame([]), typed_frame([("Insats A", "kvinna", "admin@x.se", 4)])]
    old = play([base(), planted + real], hold=False, typed=typed)
    assert learnt(old, planted) != [], "the old rule should give her away"
    new = play([base(), planted + real], hold=True, typed=typed)
    assert learnt(new, planted) == []
    assert new.held[1] == [(2024, EXIT, "Insats A", "kvinnor")]


@pytest.mark.parametrize("gender", ["annat", "kvinna"])
def test_staff_planting_forms_before_the_first_publication_learn_nothing(gender):
    """Staff type four forms they chose; the one real respondent's answers stay unknown."""
    planted = people("Insats A", gender, 4, {**ANSWERS, 3: 6})
    real = people("Insats A", gender, 1, {**ANSWERS, 3: 1})
    typed = [typed_frame([("Insats A", gender, "personal@x.se", 4)])]
    played = play([base() + planted + real], hold=True, typed=typed)
    assert learnt(played, planted) == []


def test_five_late_forms_all_typed_by_the_administrator_are_shown_and_tell_nothing_more():
    """Who typed every new form learns nothing about anyone else; the others see five."""
    typed_in = people("Insats A", "kvinna", 5, {**ANSWERS, 3: 6})
    typed = [typed_frame([]), typed_frame([("Insats A", "kvinna", "admin@x.se", 5)])]
    played = play([base(), typed_in], hold=True, typed=typed)
    assert played.held[1] == []
    assert learnt(played, typed_in) == []
    assert learnt(played) == []
    shown = played.published[1]
    row = shown[(shown["scope"] == "Insats A") & (shown["subgroup"] == "kvinnor")]
    assert row[row["question"] == 3].iloc[0]["n"] == 11


def test_a_version_that_waits_keeps_the_forms_typed_behind_its_figures():
    """Four planted forms wait with the real one; later five real ones come: the planted
    four are still known to their typist, so the group waits until the rest is ≥ 5."""
    planted = people("Insats A", "kvinna", 4, {**ANSWERS, 3: 6})
    real = people("Insats A", "kvinna", 1, {**ANSWERS, 3: 1})
    later = people("Insats A", "kvinna", 4, {**ANSWERS, 3: 2})
    admin = ("Insats A", "kvinna", "admin@x.se", 4)
    typed = [typed_frame([]), typed_frame([admin]), typed_frame([admin])]
    played = play([base(), planted + real, later], hold=True, typed=typed)
    assert played.held[1] == [(2024, EXIT, "Insats A", "kvinnor")]
    assert played.held[2] == []  # 9 new, 4 of them typed by one person: 5 unknown to anyone
    assert learnt(played, planted) == []
