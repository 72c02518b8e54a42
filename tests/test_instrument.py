"""The instrument as data: verbatim against instrument.md, idempotent loading, versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from indicators import Instrument
from surveys.services.catalogue import DEFAULT_FILE, instrument_from_db, load_instrument_file

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "instrument.md"
GROUPS = {
    "Deltagare pågående": "deltagare_pagaende",
    "Deltagare avslut": "deltagare_avslut",
    "Personal": "personal",
    "Remittent": "remittent",
    "Remittenter": "remittent",
    "Chefsgrupp": "chefsgrupp",
    "Styrelse": "styrelse",
}
MEASURE = re.compile(r"^\s+- (?P<text>.+\?) \((?P<group>[^,]+), (?P<number>\d+)")
HEADING = re.compile(r"^(?P<number>\d+)\. \*\*")


def spec_questions() -> list[tuple[int, str, int, str]]:
    """(indicator, questionnaire, number, text) for every measure listed in instrument.md."""
    if not SPEC.exists():
        pytest.skip("shared/spec/instrument.md saknas bredvid projektet")
    found, indicator = [], None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        if m := HEADING.match(line):
            indicator = int(m.group("number"))
        elif (m := MEASURE.match(line)) and indicator is not None:
            found.append(
                (indicator, GROUPS[m.group("group")], int(m.group("number")), m.group("text"))
            )
    return found


def test_spec_lists_all_measures():
    questions = spec_questions()
    assert len(questions) == 44  # 45 questions in the catalogue; remitters' 1 has no wording
    assert {q[1] for q in questions} == set(GROUPS.values())


def test_every_question_matches_instrument_md_character_for_character(instrument):
    for indicator, questionnaire, number, text in spec_questions():
        question = instrument.question(questionnaire, number)
        assert question is not None, f"{questionnaire}.{number} saknas"
        assert question.current.text == text, f"{questionnaire}.{number}"
        assert question.indicator == indicator, f"{questionnaire}.{number}"


def test_catalogue_has_nothing_beyond_instrument_md_except_unconfirmed(instrument):
    listed = {(q[1], q[2]) for q in spec_questions()}
    extra = [q for q in instrument.all_questions() if (q.questionnaire, q.number) not in listed]
    assert [q.key for q in extra] == ["remittent.1"]
    assert extra[0].current.confirmed is False
    assert extra[0].indicator == 3


def test_sixteen_indicators_and_eleven_without_national_measure(instrument):
    assert sorted(instrument.indicators) == list(range(1, 17))
    assert instrument.no_national_measure == {11}
    assert instrument.questions_for_indicator(11) == []


def test_gate_and_conditions(instrument):
    gate = instrument.question("deltagare_avslut", 8)
    assert gate.gate and gate.scale == "ja_nej"
    for number in (9, 10):
        q = instrument.question("deltagare_avslut", number)
        assert (q.condition_question, q.condition_code) == (8, 1)
    assert {o.code: o.label for o in instrument.scales["ja_nej"].options} == {
        1: "Ja",
        2: "Nej",
        0: "Vet ej",
    }


def test_scale_codes_and_grouping(instrument):
    options = {o.code: o for o in instrument.scales["frekvens"].options}
    assert [options[c].group for c in (6, 5, 4, 3, 2, 1, 0)] == [
        "positive",
        "positive",
        "positive",
        "neutral",
        "negative",
        "negative",
        None,
    ]
    assert {c for c, o in options.items() if o.clearly_positive} == {5, 6}


def test_versions_and_comparability_breaks(instrument):
    q4 = instrument.question("deltagare_avslut", 4)
    assert q4.comparable_from == 2021
    assert q4.version_for(2020).id != q4.version_for(2021).id
    assert q4.segment(2020) != q4.segment(2021)
    assert instrument.questionnaire("remittent").questions_in(2020) == []
    assert instrument.question("chefsgrupp", 2).asked_in(2020) is False
    assert instrument.question("chefsgrupp", 5).asked_in(2021) is True
    assert not any(
        q.indicator == 16 for q in instrument.questionnaire("personal").questions_in(2020)
    )


def test_load_is_idempotent_and_picks_up_edits(session, tmp_path):
    assert load_instrument_file(session)["changed"] == 0
    data = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    remitter = next(qn for qn in data["questionnaires"] if qn["key"] == "remittent")
    remitter["questions"][0]["versions"][0] = {"text": "Bekräftad formulering?", "confirmed": True}
    edited = tmp_path / "nns.yaml"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_instrument_file(session, path=edited)["changed"] == 1
    reloaded = instrument_from_db(session)
    assert reloaded.question("remittent", 1).current.text == "Bekräftad formulering?"
    assert reloaded.question("remittent", 1).current.id == "remittent.1.v1"  # same identity
    load_instrument_file(session)  # back to the shipped file
    assert instrument_from_db(session).question("remittent", 1).current.confirmed is False


def test_database_catalogue_equals_file(instrument):
    from_file = Instrument.load(DEFAULT_FILE)
    assert len(list(from_file.all_questions())) == 45
    assert instrument.questionnaires == from_file.questionnaires
    assert instrument.indicators == from_file.indicators


def test_invalid_catalogue_is_refused(tmp_path):
    data = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    data["questionnaires"][0]["questions"][0]["scale"] = "finns_inte"
    with pytest.raises(ValueError, match="Okänd skala"):
        Instrument.from_dict(data)
