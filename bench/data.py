"""Realistic synthetic answers for the report benchmarks, generated and loaded fast.

``generate(instrument, questionnaires=N)`` builds, with numpy, N stored questionnaires
as two column dicts (responses, answers) shaped like real data: the six questionnaires
in realistic proportions, ten years (questions introduced later, old wordings), up to
20 insatser, genders kvinna/man/annat/blank on the participant questionnaires, blanks
(NULL) and "vet ej" (code 0), exit question 8 as the gate with 9–10 stored only after
"Ja", and a slow drift in the positive share. ``load(engine, data)`` inserts them into
a migrated database with Core ``executemany`` in chunks, in one transaction.
``python -m bench.data --questionnaires 10000 --database-url URL`` does both, after
migrating the database and loading the instrument (both can run again on one in use).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from indicators.instrument import Instrument

FIRST_YEAR = 2018  # the instrument was first used in 2018; ten years run to 2027
YEARS = 10
# Share of stored questionnaires per group (participants dominate, as in the seed).
SHARES = {
    "deltagare_avslut": 0.46,
    "deltagare_pagaende": 0.24,
    "personal": 0.11,
    "remittent": 0.11,
    "chefsgrupp": 0.05,
    "styrelse": 0.03,
}
FORBUND_WIDE = {"chefsgrupp", "styrelse"}  # asked of the whole förbund, not per insats
LEVEL = {
    "deltagare_avslut": 0.84,
    "deltagare_pagaende": 0.80,
    "personal": 0.76,
    "remittent": 0.83,
    "chefsgrupp": 0.45,
    "styrelse": 0.60,
}
GENDERS = np.array(["kvinna", "man", "annat", None], dtype=object)
GENDER_WEIGHTS = [0.53, 0.42, 0.02, 0.03]
BLANK, VET_EJ = 0.03, 0.04
CHUNK = 50_000


@dataclass
class Synthetic:
    """Column-wise rows: ``responses`` and ``answers`` map column name → numpy array."""

    responses: dict[str, np.ndarray]
    answers: dict[str, np.ndarray]
    interventions: list[tuple[str, str]]  # (id, name)

    @property
    def questionnaires(self) -> int:
        return len(self.responses["id"])

    @property
    def answer_rows(self) -> int:
        return len(self.answers["response_id"])


def _ids(rng: np.random.Generator, count: int) -> np.ndarray:
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    return np.array([row.tobytes().hex() for row in raw], dtype=object)


def _scale_codes(rng: np.random.Generator, level: np.ndarray) -> np.ndarray:
    """Codes of the six-step scale (6..1), positive with probability ``level``."""
    roll = rng.random(len(level))
    positive = rng.choice([6, 5, 4], size=len(level), p=[0.5, 0.3, 0.2])
    negative = rng.choice([2, 1], size=len(level))
    return np.where(roll < level, positive, np.where(roll < level + (1 - level) * 0.6, 3, negative))


def generate(
    instrument: Instrument, *, questionnaires: int, interventions: int = 20, seed: int = 13
) -> Synthetic:
    """N questionnaires over ten years (vectorised per questionnaire and year)."""
    rng = np.random.default_rng(seed)
    insatser = [(f"{i:032x}", f"Insats {i + 1:02d}") for i in range(interventions)]
    keys = [qn.key for qn in instrument.questionnaires if qn.key in SHARES]
    shares = np.array([SHARES[k] for k in keys])
    per_group = rng.multinomial(questionnaires, shares / shares.sum())
    responses: dict[str, list[np.ndarray]] = {
        c: [] for c in ("id", "questionnaire_key", "year", "intervention_id", "gender")
    }
    answers: dict[str, list[np.ndarray]] = {
        c: [] for c in ("response_id", "question_version_id", "code")
    }
    insats_ids = np.array([i for i, _ in insatser], dtype=object)
    for key, count in zip(keys, per_group, strict=True):
        qn = instrument.questionnaire(key)
        first = max(FIRST_YEAR, qn.introduced or FIRST_YEAR)  # chefsgrupp from 2021
        years = rng.integers(first, FIRST_YEAR + YEARS, size=count)
        for year in np.unique(years):
            n = int((years == year).sum())
            ids = _ids(rng, n)
            responses["id"].append(ids)
            responses["questionnaire_key"].append(np.full(n, key, dtype=object))
            responses["year"].append(np.full(n, int(year)))
            responses["intervention_id"].append(
                np.full(n, None, dtype=object)
                if key in FORBUND_WIDE
                else insats_ids[rng.integers(0, len(insats_ids), size=n)]
            )
            responses["gender"].append(
                rng.choice(GENDERS, size=n, p=GENDER_WEIGHTS)
                if qn.participant
                else np.full(n, None, dtype=object)
            )
            level = np.clip(LEVEL[key] + (year - FIRST_YEAR) * 0.005 + rng.normal(0, 0.03, n), 0, 1)
            gate_codes: dict[int, np.ndarray] = {}
            for question in qn.questions_in(int(year)):
                version = question.version_for(int(year))
                if question.gate:
                    codes = rng.choice([1, 2, 0], size=n, p=[0.9, 0.07, 0.03]).astype(float)
                    gate_codes[question.number] = codes
                else:
                    codes = _scale_codes(rng, level).astype(float)
                    codes[rng.random(n) < VET_EJ] = 0
                asked = np.ones(n, dtype=bool)
                if question.condition_question is not None:
                    gate = gate_codes.get(question.condition_question)
                    asked = gate == question.condition_code if gate is not None else asked
                codes[rng.random(n) < BLANK] = np.nan  # left blank: stored as NULL
                answers["response_id"].append(ids[asked])
                answers["question_version_id"].append(
                    np.full(int(asked.sum()), version.id, dtype=object)
                )
                answers["code"].append(codes[asked])
    return Synthetic(
        responses={c: np.concatenate(v) for c, v in responses.items()},
        answers={c: np.concatenate(v) for c, v in answers.items()},
        interventions=insatser,
    )


def _records(columns: dict[str, np.ndarray], start: int, stop: int, extra: dict) -> list[dict]:
    names = list(columns)
    sliced = [columns[name][start:stop].tolist() for name in names]
    if "code" in columns:  # NaN → NULL, floats → int
        position = names.index("code")
        sliced[position] = [None if c != c else int(c) for c in sliced[position]]
    return [dict(zip(names, row, strict=True), **extra) for row in zip(*sliced, strict=True)]


def load(engine: Engine, data: Synthetic) -> float:
    """Insert everything in one transaction (Core executemany in chunks); seconds taken."""
    from surveys.models import Answer, Intervention, Response
    from surveys.names import name_key

    started = time.perf_counter()
    extra = {"round_id": None}  # imported answers belong to no round
    with engine.begin() as conn:
        conn.execute(
            insert(Intervention.__table__),
            [{"id": i, "name": name, "name_key": name_key(name)} for i, name in data.interventions],
        )
        total = data.questionnaires
        for start in range(0, total, CHUNK):
            conn.execute(
                insert(Response.__table__),
                _records(data.responses, start, start + CHUNK, extra),
            )
        total = data.answer_rows
        for start in range(0, total, CHUNK):
            conn.execute(insert(Answer.__table__), _records(data.answers, start, start + CHUNK, {}))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    from sqlmodel import select

    from surveys import create_app, db
    from surveys.models import Intervention
    from surveys.services.catalogue import instrument_from_db

    parser = argparse.ArgumentParser(description="Syntetiska svar för rapportmätningarna.")
    parser.add_argument("--questionnaires", type=int, default=10_000)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    if not 1 <= args.questionnaires <= 2_000_000:
        parser.error("--questionnaires 1–2000000")
    app = create_app({"DATABASE_URL": args.database_url})
    runner = app.test_cli_runner()
    for command in (["db", "upgrade"], ["instrument", "load"]):
        done = runner.invoke(args=command)
        if done.exit_code != 0:  # the command's own Swedish message, no traceback
            raise SystemExit(done.output.strip() or f"surveys {' '.join(command)} misslyckades.")
    with app.app_context():
        session = db.session()
        instrument = instrument_from_db(session)
        if session.exec(select(Intervention).limit(1)).first() is not None:
            raise SystemExit(  # its fixed insats ids would collide: refuse before writing
                "Databasen innehåller redan insatser och svar; ange en tom databas. "
                "Ingenting har lagts till."
            )
    started = time.perf_counter()
    data = generate(instrument, questionnaires=args.questionnaires)
    generated = time.perf_counter() - started
    seconds = load(app.extensions["engine"], data)
    print(
        f"questionnaires={data.questionnaires} answers={data.answer_rows} "
        f"generate_s={generated:.2f} load_s={seconds:.2f}"
    )


if __name__ == "__main__":
    main()
