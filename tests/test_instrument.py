"""The instrument as data: verbatim against instrument.md, idempotent loading, versions."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete
from sqlmodel import select

from indicators import Instrument
from indicators.instrument import CatalogueError
from surveys import db
from surveys.models import Answer, QuestionVersion
from surveys.services.actor import CLI
from surveys.services.catalogue import DEFAULT_FILE, instrument_from_db, load_instrument_file
from tests import factories
from tests.conftest import IN_CI, empty_database

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
        if IN_CI:  # in CI a missing spec must not turn the verbatim checks silently green
            pytest.fail(f"{SPEC} saknas: instrumentet kan inte jämföras ordagrant (CI=true)")
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
    assert gate.gate
    assert gate.scale == "ja_nej"
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


def shipped() -> dict:
    return yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def write_catalogue(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "nns.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def question_spec(data: dict, questionnaire: str, number: int) -> dict:
    qn = next(qn for qn in data["questionnaires"] if qn["key"] == questionnaire)
    return next(q for q in qn["questions"] if q["number"] == number)


def stored_labels(session) -> dict[str, str]:
    """Every stored answer's question version id and the wording it is shown with."""
    rows = session.exec(
        select(Answer.response_id, Answer.question_version_id, QuestionVersion.text).join(
            QuestionVersion, QuestionVersion.id == Answer.question_version_id
        )
    ).all()
    return {f"{r[0]}/{r[1]}": r[2] for r in rows}


def catalogue_rows(session) -> list[tuple]:
    return sorted(
        (v.id, v.question_id, v.text, v.valid_from, v.valid_until, v.confirmed)
        for v in session.exec(select(QuestionVersion)).all()
    )


def test_every_version_has_an_explicit_id_equal_to_its_old_positional_id():
    # stored answers reference these ids: they must keep their values forever
    for qn in shipped()["questionnaires"]:
        for q in qn["questions"]:
            ids = [v["id"] for v in q["versions"]]
            assert ids == [f"{qn['key']}.{q['number']}.v{k}" for k in range(1, len(ids) + 1)]


def test_load_is_idempotent_and_may_edit_an_unanswered_version(session, tmp_path):
    assert load_instrument_file(session, CLI)["changed"] == 0
    data = shipped()
    remitter = question_spec(data, "remittent", 1)
    remitter["versions"][0] |= {"text": "Bekräftad formulering?", "confirmed": True}
    assert load_instrument_file(session, CLI, path=write_catalogue(tmp_path, data))["changed"] == 1
    reloaded = instrument_from_db(session).question("remittent", 1)
    assert reloaded.current.text == "Bekräftad formulering?"
    assert reloaded.current.id == "remittent.1.v1"  # same identity, matched by id
    load_instrument_file(session, CLI)  # back to the shipped file
    assert instrument_from_db(session).question("remittent", 1).current.confirmed is False


@pytest.fixture
def restore_catalogue(app, database_url):
    """The instrument tables outlive a test: drop what a test added and reload the shipped file."""
    yield
    empty_database(database_url)
    ids = {
        v["id"]
        for qn in shipped()["questionnaires"]
        for q in qn["questions"]
        for v in q["versions"]
    }
    with app.app_context():
        session = db.session()
        session.execute(delete(QuestionVersion).where(QuestionVersion.id.not_in(ids)))
        load_instrument_file(session, CLI)


@pytest.mark.usefixtures("restore_catalogue")
def test_reordered_versions_and_a_new_wording_on_top_relabel_no_stored_answer(session, tmp_path):
    old, new = "deltagare_avslut.4.v1", "deltagare_avslut.4.v2"
    for year, version in ((2020, old), (2021, new), (2022, new)):
        factories.response(session, {version: 6, "deltagare_avslut.1.v1": 5}, year=year)
    session.commit()
    before = stored_labels(session)
    assert before[next(k for k in before if k.endswith(old))].startswith("Äldre formulering")

    data = shipped()
    q4 = question_spec(data, "deltagare_avslut", 4)
    q4["versions"][1]["until"] = 2025
    # the 2026 wording added at the top, the two old ones in reverse order
    q4["versions"] = [
        {"id": "deltagare_avslut.4.v3", "from": 2026, "text": "Ny formulering 2026?"},
        *reversed(q4["versions"]),
    ]
    for qn in data["questionnaires"]:  # and every other question's versions reversed too
        for q in qn["questions"]:
            q["versions"].reverse()
    summary = load_instrument_file(session, CLI, path=write_catalogue(tmp_path, data))

    assert summary["changed"] == 2  # v3 added, v2 given an end year; nothing else
    assert stored_labels(session) == before
    q = instrument_from_db(session).question("deltagare_avslut", 4)
    assert [v.id for v in q.versions] == [old, new, "deltagare_avslut.4.v3"]  # by year
    assert (q.version_for(2020).id, q.version_for(2025).id, q.current.id) == (
        old,
        new,
        "deltagare_avslut.4.v3",
    )
    from_file = Instrument.load(write_catalogue(tmp_path, data)).question("deltagare_avslut", 4)
    assert from_file.current.text == "Ny formulering 2026?"


def test_editing_an_answered_version_is_refused_and_changes_nothing(session, tmp_path):
    factories.response(session, {"deltagare_avslut.4.v2": 6}, year=2023)
    factories.response(session, {"deltagare_avslut.4.v2": 2}, year=2023)
    session.commit()
    before = (catalogue_rows(session), stored_labels(session))
    data = shipped()
    question_spec(data, "deltagare_avslut", 4)["versions"][1]["text"] = "Omskriven fråga?"
    question_spec(data, "remittent", 1)["versions"][0]["text"] = "Också ändrad?"  # unanswered

    with pytest.raises(CatalogueError) as refused:
        load_instrument_file(session, CLI, path=write_catalogue(tmp_path, data))
    message = str(refused.value)
    assert "ingenting har ändrats" in message
    assert "deltagare_avslut.4.v2 (2 sparade svar): texten ändras" in message
    assert "Omskriven fråga?" in message
    assert "lägg till en ny version" in message
    assert "remittent.1.v1" not in message  # no answers: that edit alone would be allowed
    session.rollback()
    assert (catalogue_rows(session), stored_labels(session)) == before


def test_changing_scale_or_grouping_under_answers_is_refused(session, tmp_path):
    factories.response(session, {"deltagare_avslut.8.v1": 1, "deltagare_avslut.1.v1": 3}, year=2023)
    session.commit()
    before = catalogue_rows(session)
    data = shipped()
    question_spec(data, "deltagare_avslut", 8)["scale"] = "frekvens"
    data["scales"]["frekvens"]["options"][3]["group"] = "positive"  # Ibland
    with pytest.raises(CatalogueError) as refused:
        load_instrument_file(session, CLI, path=write_catalogue(tmp_path, data))
    message = str(refused.value)
    assert "deltagare_avslut.8.v1 (1 sparade svar): skalan ändras från ja_nej till frekvens" in (
        message
    )
    assert "grupperingen av 3 ”Ibland” ändras från neutral till positive" in message
    session.rollback()
    assert catalogue_rows(session) == before
    assert instrument_from_db(session).question("deltagare_avslut", 8).scale == "ja_nej"


def test_a_schema_error_names_the_line(tmp_path):
    lines = DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if "personal.3.v1" in line)
    lines[target] = lines[target].replace("indicator: 8", "indicator: åtta")
    wrong = next(i for i, line in enumerate(lines) if "chefsgrupp.2.v1" in line)
    lines[wrong] = lines[wrong].replace("id: chefsgrupp.2.v1, ", "id: chefsgrupp.2.v1, färg: röd, ")
    path = tmp_path / "nns.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(CatalogueError) as refused:
        Instrument.load(path)
    problems = refused.value.problems
    assert f"nns.yaml, rad {target + 1}: " in problems[1]
    assert problems[1].endswith(".indicator: ska vara ett heltal")
    assert any(p.startswith(f"nns.yaml, rad {wrong + 1}: ") and "färg: okänt fält" in p
               for p in problems)  # fmt: skip


def test_a_text_no_report_file_can_hold_is_refused_with_its_line(tmp_path):
    """A YAML escape writes U+FFFF (the file's bytes never hold it): such a question text
    would make every Excel and Word file of the report fail, as a comment did."""
    lines = DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if "personal.3.v1" in line)
    assert 'text: "' in lines[target]
    lines[target] = lines[target].replace('text: "', 'text: "\\uffff', 1)
    path = tmp_path / "nns.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(CatalogueError) as refused:
        Instrument.load(path)
    [problem] = refused.value.problems[1:]
    assert problem.startswith(f"nns.yaml, rad {target + 1}: questionnaires[")
    assert problem.endswith(
        ".versions[0].text: tecknet U+FFFF kan inte stå i rapportens Excel- och Word-filer"
    )


def test_missing_foreign_and_duplicate_ids_are_refused_with_their_lines(tmp_path):
    data = shipped()
    del question_spec(data, "styrelse", 2)["versions"][0]["id"]
    with pytest.raises(CatalogueError, match=r"rad \d+: .*versions\[0\]\.id: fältet saknas"):
        Instrument.load(write_catalogue(tmp_path, data))

    question_spec(data, "styrelse", 2)["versions"][0]["id"] = "styrelse.1.v1"  # not its own
    path = write_catalogue(tmp_path, data)
    with pytest.raises(CatalogueError) as refused:
        Instrument.load(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    second = [i + 1 for i, t in enumerate(lines) if t.strip().endswith("id: styrelse.1.v1")][1]
    assert refused.value.problems[1:] == [
        f"nns.yaml, rad {second}: questionnaires[5].questions[1].versions[0].id: "
        "id ska börja med styrelse.2."
    ]

    q2 = question_spec(data, "styrelse", 2)
    q2["versions"] = [
        {"id": "styrelse.2.v1", "until": 2020, "text": "Gammal?"},
        {"id": "styrelse.2.v1", "from": 2021, "text": "Ny?"},
    ]
    with pytest.raises(CatalogueError, match="id styrelse.2.v1 finns redan"):
        Instrument.load(write_catalogue(tmp_path, data))
    q2["versions"][1] |= {"id": "styrelse.2.v2", "from": 2020}
    with pytest.raises(CatalogueError, match="styrelse.2.v1 och styrelse.2.v2 gäller samma år"):
        Instrument.load(write_catalogue(tmp_path, data))


def test_cli_names_the_line_and_loads_nothing(app, runner, tmp_path):
    bad = tmp_path / "trasig.yaml"
    bad.write_text("instrument_version: '1'\nscales: [\n", encoding="utf-8")
    result = runner.invoke(args=["instrument", "load", "--file", str(bad)])
    assert result.exit_code == 1
    assert "Fel: Instrumentfilen är felaktig" in result.output
    assert "trasig.yaml, rad 3: YAML-fel" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert instrument_from_db(db.session()).version == "2021.1"


@pytest.mark.parametrize(
    ("content", "swedish"),
    [
        (
            "instrument_version: '1'\nscales: [\n",
            "rad 3: YAML-fel: en lista inom [ ] eller en tabell inom { } avslutas",
        ),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "trasig.yaml: filen är för djupt nästlad."),
        ("a: !!python/object:os.system x\n", "YAML-fel: en tagg (!…) som katalogen inte"),
        ("a:\n\t- 1\n", "YAML-fel: ett tecken som inte får inleda ett värde (tabb?"),
        ("a: 'öppen\n", "YAML-fel: ett citattecken avslutas inte."),
    ],
    ids=["open-list", "deep", "tag", "tab", "open-quote"],
)
def test_a_broken_catalogue_is_named_in_swedish_and_loads_nothing(
    app, runner, tmp_path, content, swedish
):
    bad = tmp_path / "trasig.yaml"
    bad.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["instrument", "load", "--file", str(bad)])
    assert result.exit_code == 1
    assert "Fel: Instrumentfilen är felaktig" in result.output
    assert swedish in result.output
    assert "Traceback" not in result.output
    for english in ("expected", "found", "while", "constructor"):
        assert english not in result.output
    with app.app_context():
        assert instrument_from_db(db.session()).version == "2021.1"


def test_a_device_a_pipe_or_a_huge_file_is_no_catalogue(app, runner, tmp_path):
    """`instrument load --file /dev/zero` read for ever (memory growing), as did a named
    pipe nobody writes to: only a regular file of at most 1 MB is read."""
    fifo = tmp_path / "ror.yaml"
    os.mkfifo(fifo)
    huge = tmp_path / "stor.yaml"
    huge.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    for path, swedish in (
        ("/dev/zero", "zero: är ingen vanlig fil."),
        (str(fifo), "ror.yaml: är ingen vanlig fil."),
        (str(huge), "stor.yaml: filen är för stor för en katalogfil (högst 1024 kB)."),
    ):
        result = runner.invoke(args=["instrument", "load", "--file", path])
        assert result.exit_code == 1
        assert swedish in result.output
    with app.app_context():
        assert instrument_from_db(db.session()).version == "2021.1"


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


def test_cli_refuses_to_rewrite_an_answered_version(app, runner, session, tmp_path):
    factories.response(session, {"personal.3.v1": 4}, questionnaire="personal", year=2024)
    session.commit()
    data = shipped()
    question_spec(data, "personal", 3)["versions"][0]["text"] = "Lyssnar de på dig?"
    result = runner.invoke(
        args=["instrument", "load", "--file", str(write_catalogue(tmp_path, data))]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Fel: Instrumentfilen lästes inte in – ingenting har ändrats.")
    assert "personal.3.v1 (1 sparade svar): texten ändras" in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        current = instrument_from_db(db.session()).question("personal", 3).current
    assert current.text.startswith("Upplever du att de du samverkar med")


def test_questions_of_a_year_are_worked_out_once_and_handed_out_as_new_lists():
    """questions_in and a scale's codes are kept on the (immutable) questionnaire and
    scale: a caller changing the list it got changes nothing for the next one, and a
    questionnaire built with other questions (a new catalogue) has its own answer."""
    from dataclasses import replace

    instrument = Instrument.load(DEFAULT_FILE)
    qn = instrument.questionnaire("deltagare_avslut")
    year = 2026
    expected = [q for q in qn.questions if q.asked_in(year)]
    first = qn.questions_in(year)
    assert first == expected
    first.clear()
    assert qn.questions_in(year) == expected
    assert qn.questions_in(year) is not qn.questions_in(year)
    fewer = replace(qn, questions=qn.questions[:3])
    assert fewer.questions_in(year) == expected[:3]
    assert qn.questions_in(year) == expected
    scale = instrument.scales[expected[0].scale]
    assert scale.codes == frozenset(o.code for o in scale.options)
    assert replace(scale, options=scale.options[:1]).codes == {scale.options[0].code}
