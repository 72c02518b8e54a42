"""bench.data: the synthetic answers have the shape the report benchmarks rely on, and
load into the migrated database as the app reads them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import func, select

from bench.data import FIRST_YEAR, YEARS, generate, load
from indicators.instrument import Instrument

NNS = Path(__file__).resolve().parent.parent / "surveys" / "instrument" / "nns.yaml"


@pytest.fixture(scope="module")
def data():
    instrument = Instrument.from_dict(yaml.safe_load(NNS.read_text(encoding="utf-8")))
    return instrument, generate(instrument, questionnaires=6000, seed=7)


def test_six_questionnaires_ten_years_twenty_insatser(data):
    instrument, synthetic = data
    responses = synthetic.responses
    assert synthetic.questionnaires == 6000
    assert set(responses["questionnaire_key"]) == {qn.key for qn in instrument.questionnaires}
    assert set(responses["year"].tolist()) == set(range(FIRST_YEAR, FIRST_YEAR + YEARS))
    used = {i for i in responses["intervention_id"] if i is not None}
    assert len(used) == 20
    for qn in instrument.questionnaires:  # nothing before a group was first asked
        years = responses["year"][responses["questionnaire_key"] == qn.key]
        assert years.min() >= (qn.introduced or FIRST_YEAR)
    assert len(set(responses["id"])) == 6000


def test_genders_only_for_participants_including_annat_and_blank(data):
    instrument, synthetic = data
    participant = np.array(
        [instrument.is_participant(k) for k in synthetic.responses["questionnaire_key"]]
    )
    genders = synthetic.responses["gender"]
    assert all(g is None for g in genders[~participant])
    assert Counter(genders[participant].tolist()).keys() == {"kvinna", "man", "annat", None}


def test_blanks_vet_ej_and_the_gate_of_exit_question_8(data):
    instrument, synthetic = data
    answers = synthetic.answers
    codes = answers["code"]
    assert np.isnan(codes).mean() > 0.01  # blanks, stored as NULL
    assert (codes == 0).mean() > 0.01  # "vet ej"
    gate = {}
    conditional = Counter()
    for response_id, version_id, code in zip(*answers.values(), strict=True):
        number = int(version_id.split(".")[1])
        if version_id.startswith("deltagare_avslut.8."):
            gate[response_id] = code
        elif version_id.startswith("deltagare_avslut.") and number in (9, 10):
            conditional[response_id] += 1
    assert conditional
    assert all(gate[r] == 1 for r in conditional)
    assert sum(1 for code in gate.values() if code == 1) == len(conditional)
    assert set(conditional.values()) == {2}


def test_loads_into_the_migrated_database(app, data):
    from surveys import db
    from surveys.models import Answer, Response

    _instrument, synthetic = data
    load(app.extensions["engine"], synthetic)
    with app.app_context():
        session = db.session()
        assert session.scalar(select(func.count()).select_from(Response)) == 6000
        assert session.scalar(select(func.count()).select_from(Answer)) == synthetic.answer_rows
        blanks = session.scalar(select(func.count()).where(Answer.code.is_(None)))
        assert blanks == int(np.isnan(synthetic.answers["code"]).sum())


def test_the_command_prepares_a_fresh_database_and_refuses_a_filled_one(tmp_path, capsys):
    """``python -m bench.data`` migrates and loads the instrument itself (it stopped with a
    traceback on a fresh file), and refuses, changing nothing, a database with data."""
    from sqlalchemy import create_engine, text

    from bench.data import main

    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    main(["--questionnaires", "300", "--database-url", url])
    assert capsys.readouterr().out.startswith("questionnaires=300 answers=")
    engine = create_engine(url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT COUNT(*) FROM response")).scalar_one()
    with pytest.raises(SystemExit, match="Databasen innehåller redan insatser och svar"):
        main(["--questionnaires", "300", "--database-url", url])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM response")).scalar_one() == before == 300
    engine.dispose()
