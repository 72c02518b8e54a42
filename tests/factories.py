"""Shared test builders: interventions, rounds, users, stored responses and scoring frames.

Each builder writes real rows through the same services the application uses (or, for
answers, the same models), flushes, and returns what the test needs; the caller commits.
The fixtures in ``tests/conftest.py`` (``make_round``, ``make_user``) wrap these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd
from flask.testing import FlaskCliRunner
from sqlmodel import Session

from surveys import clock
from surveys.models import Answer, Intervention, Response, Round, User
from surveys.services import actor, users
from surveys.services import rounds as ops
from tests import seedrows

PASSWORD = "ett-langt-losenord"  # noqa: S105 - the test users' password


def intervention(db: Session, name: str = "Insats A") -> Intervention:
    """The intervention with this name, created when missing."""
    found = ops.intervention_by_name(db, name, create=True)
    assert found is not None
    return found


def round_(
    db: Session,
    questionnaire: str = "deltagare_avslut",
    *,
    year: int | None = None,
    insats: str | None = "Insats A",
    mode: str = "open_link",
    open_: bool = True,
    expected: int | None = None,
) -> Round:
    """A round (open by default) through the rounds service."""
    created = ops.create_round(
        db,
        questionnaire=questionnaire,
        year=year or clock.today().year,
        intervention_id=intervention(db, insats).id if insats else None,
        mode=mode,
        expected=expected,
    )
    if open_:
        ops.open_round(db, created)
    return created


def user(
    db: Session,
    role: str = "administratör",
    *,
    email: str | None = None,
    insatser: Iterable[str] = (),
    password: str = PASSWORD,
) -> User:
    """A user created by the users service (``users.create_user``, with its checks: a valid
    address, a password of at least 10 characters, staff with at least one insats), linked
    to the named interventions (created when missing). ``create_user`` is ``add_user``'s
    building block without the audit entry, so a test's audit log holds only what the test
    did. In an app context: the hash uses the app's ARGON2_* settings."""
    insatser = tuple(insatser)
    return users.create_user(
        db,
        email=email or f"{role}-{len(insatser)}@example.invalid",
        password=password,
        role=role,
        intervention_ids=[intervention(db, name).id for name in insatser],
    )


def response(
    db: Session,
    answers: Mapping[str, int | None],
    *,
    questionnaire: str = "deltagare_avslut",
    year: int = 2023,
    insats: str | None = "Insats A",
    gender: str | None = None,
    round_id: str | None = None,
) -> Response:
    """One stored questionnaire: ``answers`` maps question version ids to codes."""
    stored = Response(
        round_id=round_id,
        questionnaire_key=questionnaire,
        year=year,
        intervention_id=intervention(db, insats).id if insats else None,
        gender=gender,
    )
    db.add(stored)
    db.flush()
    for version_id, code in answers.items():
        db.add(Answer(response_id=stored.id, question_version_id=version_id, code=code))
    db.flush()
    return stored


def answers_frame(
    people: Sequence[tuple[str | None, Sequence[int | None]]],
    *,
    year: int = 2024,
    questionnaire: str = "deltagare_pagaende",
    insats: str = "A",
) -> pd.DataFrame:
    """Scoring input: one row per (respondent, question 1..n) from (gender, codes) pairs."""
    records = [
        {
            "response": f"r{i}",
            "year": year,
            "questionnaire": questionnaire,
            "question": q + 1,
            "question_version": "",
            "intervention": insats,
            "gender": gender,
            "code": code,
        }
        for i, (gender, codes) in enumerate(people)
        for q, code in enumerate(codes)
    ]
    return pd.DataFrame(records).astype({"code": "Int64"})


def import_seed(
    runner: FlaskCliRunner, tmp_path: Path, *, publish: bool = True, as_nns: bool = False
) -> None:
    """The seed's 2023 exit questionnaires (tests/seedrows.py) through `surveys import answers`,
    then (by default) `surveys publish --year 2023`: reports read publications only.

    ``as_nns``: the administrator's setting "redovisa samtliga som NNS" (övriga stay in
    samtliga), under which the seed's own report is reproduced to the figure."""
    if as_nns:
        from surveys import db
        from surveys.services.publications import set_protect_other

        with runner.app.app_context():
            set_protect_other(db.session(), actor.CLI, False)
            db.session().commit()
    path = tmp_path / "svar.csv"
    path.write_text(seedrows.csv_text(), encoding="utf-8")
    result = runner.invoke(args=["import", "answers", str(path)])
    assert result.exit_code == 0, result.output
    if publish:
        result = runner.invoke(args=["publish", "--year", str(seedrows.YEAR)])
        assert result.exit_code == 0, result.output


HISTORY_HEADER = (
    "year,questionnaire,question,subgroup,n,negative,neutral,positive,clearly_positive,"
    "response_rate"
)


def import_history(runner: FlaskCliRunner, tmp_path: Path, *rows: str) -> None:
    """Figures from earlier annual reports (one CSV line per row, after the header)
    through `surveys import history`."""
    path = tmp_path / "h.csv"
    path.write_text("\n".join([HISTORY_HEADER, *rows]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", "history", str(path)])
    assert result.exit_code == 0, result.output


# The administrator as services see her (jobs and publications requested in tests).
CHEF = actor.Actor(email="chef@example.invalid", role="administratör")


def chef(db: Session) -> actor.Actor:
    """CHEF with her account (a job runs only for a requester who is still an active
    administrator: ``jobs.requester``); the account is created once per database."""
    if users.by_email(db, CHEF.email) is None:
        user(db, CHEF.role, email=CHEF.email)
    return CHEF
