"""Demo data: a förbund with two interventions, 2021–2024, all six groups.

Sizes and shapes follow the seed's 2023 report (about 118 exit questionnaires,
15 staff, 26 remitters, 12 managers, 8 board members a year).
"""

from __future__ import annotations

import random
from datetime import date

from sqlmodel import Session, select

from indicators.instrument import Instrument, Questionnaire
from surveys import clock
from surveys.db import own_transaction
from surveys.models import (
    NationalFigure,
    Response,
    Role,
    Round,
    RoundMode,
    RoundState,
    Setting,
    User,
)
from surveys.reports.downloads import prepare_year
from surveys.services import rounds as ops
from surveys.services import users
from surveys.services.actor import DEMO_NAME, Actor
from surveys.services.catalogue import instrument_from_db
from surveys.services.publications import publish
from surveys.services.settings import FORBUND_NAME, threshold
from surveys.services.submissions import count_week, insert_responses
from surveys.services.validation import CleanSubmission, clean_submission

INTERVENTIONS = ("Steget vidare", "Arbetsnära stöd")
SIZES = {"deltagare_avslut": 59, "deltagare_pagaende": 30, "personal": 8, "remittent": 13}
FORBUND_SIZES = {"chefsgrupp": 12, "styrelse": 8}
DEMO_YEARS = (2021, 2022, 2023, 2024)
DEMO_FORBUND = "Samordningsförbundet Demo"
DEMO_ACTOR = Actor(email=DEMO_NAME, role=Role.admin.value)  # the demo's own actions
DEMO_ADMIN = ("admin@demo.invalid", "demo-losenord-2024")
DEMO_STAFF = ("personal@demo.invalid", "demo-losenord-2024")
# Typical positive level per questionnaire (participants most positive, managers least).
LEVEL = {
    "deltagare_avslut": 0.86,
    "deltagare_pagaende": 0.82,
    "personal": 0.78,
    "remittent": 0.85,
    "chefsgrupp": 0.45,
    "styrelse": 0.62,
}


def _code(rng: random.Random, level: float) -> int | None:
    roll = rng.random()
    if roll < 0.04:
        return None if rng.random() < 0.5 else 0
    roll = rng.random()
    if roll < level:
        return rng.choices([6, 5, 4], weights=[5, 3, 2])[0]
    if roll < level + (1 - level) * 0.6:
        return 3
    return rng.choice([1, 2])


def demo_questionnaire(
    rng: random.Random,
    instrument: Instrument,
    qn: Questionnaire,
    year: int,
    *,
    level: float,
    gate_weights: tuple[int, int, int],
    gender_weights: tuple[int, int, int, int],
) -> CleanSubmission:
    """One made-up questionnaire: gate questions Ja/Nej/Vet ej by ``gate_weights``, scale
    answers about ``level`` positive, conditional questions only after their condition,
    a gender (kvinna, man, annat, none) by ``gender_weights`` on participants' forms.
    Shared by the förbund demo and the national demo's förbund."""
    answers: dict[int, int | None] = {}
    for q in qn.questions_in(year):
        if q.gate:
            answers[q.number] = rng.choices([1, 2, 0], weights=gate_weights)[0]
        elif q.condition_question is None or answers.get(q.condition_question) == q.condition_code:
            answers[q.number] = _code(rng, level)
    gender = (
        rng.choices(["kvinna", "man", "annat", ""], weights=gender_weights)[0]
        if qn.participant
        else None
    )
    return clean_submission(
        instrument, questionnaire=qn.key, year=year, answers=answers, gender=gender
    )


def seed_demo(db: Session, *, force: bool = False, seed: int = 2024) -> str | None:
    """Fill an empty database; returns a summary, or None if data already exists. Its
    years are published with the threshold in force (``settings.threshold``)."""
    in_use = any(db.exec(select(model).limit(1)).first() is not None for model in (Response, Round))
    if not force and in_use:
        return None
    rng = random.Random(seed)
    instrument = instrument_from_db(db)
    interventions = [ops.intervention_by_name(db, n, create=True) for n in INTERVENTIONS]
    total = 0
    for year in DEMO_YEARS:
        drift = (year - 2021) * 0.01
        for qn in instrument.questionnaires:
            groups = (
                [(i, SIZES[qn.key]) for i in interventions]
                if qn.key in SIZES
                else [(None, FORBUND_SIZES[qn.key])]
            )
            for intervention, size in groups:
                if qn.key == "deltagare_pagaende" and year == 2023:
                    continue  # like the seed: no "pågående" survey in 2023
                round_ = ops.create_round(
                    db,
                    questionnaire=qn.key,
                    year=year,
                    intervention_id=intervention.id if intervention else None,
                    expected=size + 2,
                )
                ops.open_round(db, round_, today=date(year, 3, 1))
                ops.close_round(db, round_)
                items = []
                for _ in range(size + rng.randint(-2, 2)):
                    clean = demo_questionnaire(
                        rng,
                        instrument,
                        qn,
                        year,
                        level=min(0.97, LEVEL[qn.key] + drift),
                        gate_weights=(92, 5, 3),
                        gender_weights=(53, 43, 2, 2),
                    )
                    day = date(year, rng.randint(2, 11), rng.randint(1, 28))
                    items.append((clean, round_.id, round_.intervention_id))
                    count_week(db, round_.id, day)
                total += insert_responses(db, items)
    for key, number, positive in [
        ("deltagare_avslut", 1, 91),
        ("deltagare_avslut", 2, 92),
        ("deltagare_avslut", 3, 90),
        ("personal", 1, 86),
        ("remittent", 1, 90),
        ("deltagare_avslut", 4, 83),
    ]:
        for year in DEMO_YEARS:
            db.add(
                NationalFigure(
                    year=year,
                    questionnaire_key=key,
                    question=number,
                    subgroup="samtliga",
                    positive=positive - (2024 - year),
                )
            )
    current = clock.today().year
    kiosk = ops.create_round(
        db,
        questionnaire="deltagare_avslut",
        year=current,
        intervention_id=interventions[0].id,
        mode=RoundMode.kiosk.value,
        expected=40,
    )
    ops.open_round(db, kiosk)
    board = ops.create_round(db, questionnaire="styrelse", year=current, expected=8)
    ops.open_round(db, board)
    demo_user(db, DEMO_ADMIN, "administratör", "Förbundschef (demo)", [])
    demo_user(db, DEMO_STAFF, "personal", "Personal (demo)", [interventions[0].id])
    with own_transaction(db):  # the förbund is stored before its years are published
        db.add(Setting(key=FORBUND_NAME, value=DEMO_FORBUND))
    demo_admin = Actor(email=DEMO_ADMIN[0], role=Role.admin.value)
    min_cell = threshold(db)
    for year in DEMO_YEARS:  # the demo's years are published, as a förbund would have done
        publish(db, demo_admin, instrument, year=year, min_cell=min_cell)

    # the report a förbundschef opens first: charts and files of every scope, built now
    prepare_year(db, year=DEMO_YEARS[-1])
    return (
        f"Demodata: {total} enkäter {DEMO_YEARS[0]}–{DEMO_YEARS[-1]} i {len(INTERVENTIONS)} "
        "insatser, publicerade.\n" + demo_hint(db)
    )


def demo_hint(db: Session) -> str:
    """How to open a demo questionnaire and sign in (printed by `make run`)."""
    lines = []
    open_rounds = db.exec(
        select(Round).where(Round.state == RoundState.open.value).order_by(Round.mode)
    ).all()
    for round_ in open_rounds:
        prefix = "/k/" if round_.mode == RoundMode.kiosk.value else "/s/"
        lines.append(f"Demoenkät {round_.questionnaire_key} {round_.year}: {prefix}{round_.code}")
    if db.exec(select(User).where(User.email == DEMO_ADMIN[0])).first():
        lines.append(
            f"Logga in: /logga-in med {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]} "
            f"(personal: {DEMO_STAFF[0]} / {DEMO_STAFF[1]})"
        )
    return "\n".join(lines)


def demo_user(
    db: Session, account: tuple[str, str], role: str, name: str, interventions: list[str]
) -> None:
    """A demo account, created as the administrator's page creates one (``users.add_user``:
    its checks and its ``användare.skapa`` entry, by "demo"); kept when it exists."""
    if users.by_email(db, account[0]) is not None:
        return
    users.add_user(
        db,
        DEMO_ACTOR,
        email=account[0],
        password=account[1],
        name=name,
        role=role,
        intervention_ids=interventions,
    )
